//! Runtime kernels called by compiled programs.
