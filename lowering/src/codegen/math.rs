//! Vector polynomial math (exp, log, tanh, ...) emitted as Cranelift IR.
