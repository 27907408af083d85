//! Cranelift code generation: fusion planning, loop-nest emission and the JIT module.
//!
//! [`compile`] verifies a program, plans its kernels ([`FusionPlan`]), emits one Cranelift
//! function per loop or reduction kernel, and returns a [`Compiled`] whose `run` checks every
//! input before calling the machine code.

mod bases;
mod compile;
mod emit;
pub mod index;
pub mod math;
pub mod plan;
mod prune;
mod segments;

pub use compile::{compile, CompileOptions, CompileStats, Compiled, KernelText, OptLevel};
pub use plan::{FusionPlan, Kernel, KernelKind, Storage};
