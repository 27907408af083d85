//! Text form of programs: printer and parser (see docs/program-format.md).
