//! Cranelift code generation: fusion planning, loop-nest emission and the JIT module.

pub mod math;
