//! Cranelift code generation: fusion planning, loop-nest emission and the JIT module.
//!
//! [`compile`] is a short list of passes (`compile.rs`):
//!
//! 1. **verify** the program (`Program::verify`);
//! 2. **plan** its kernels ([`FusionPlan::new`], `plan.rs`): choose which values get a buffer
//!    and fuse everything else into its consumers, add a check kernel per gather /
//!    index_select / scatter_add, **prune**
//!    kernels with nothing to do (`prune.rs`), group kernels into row loops; then lay out the
//!    buffer table the kernels share (`slots.rs`);
//! 3. **lower** each kernel group: emit one Cranelift function per group (`emit/`; a loop
//!    cut at concat seams may become several, `segments.rs`), or a GEMM step per matmul
//!    (`matmul/`);
//! 4. **finalize** the JIT module into the steps a [`Compiled`] runs; `Compiled::run` checks
//!    every input before calling the machine code (`run.rs`), and runs a large kernel's
//!    split loop over threads (`split.rs`, `threads.rs`).
//!
//! Module map (an arrow is "uses"; there are no cycles):
//!
//! | module | what it is for | uses |
//! |---|---|---|
//! | `compile` | the passes above, the JIT module | everything below |
//! | `run` | [`Compiled`]: run, run_into, run_donating, runtime errors | `kernel`, `matmul`, `options`, `plan`, `slots`, `split` |
//! | `split` | a kernel function's split loop: calling it over threads, the work estimate | `threads` |
//! | `threads` | the thread count, the split thresholds | `pool` |
//! | `pool` | the persistent worker pool (spin, then park) | — |
//! | `options` | [`CompileOptions`], [`CompileStats`], [`KernelText`] | — |
//! | [`plan`] | fusion planning, row groups, fused loops, kernel order | `kernel`, `matmul`, `prune` |
//! | `kernel` | [`Kernel`], [`KernelKind`], which ops get check kernels, which have a four-lane form | — |
//! | `prune` | dropping empty and dead kernels | `kernel` |
//! | `slots` | the buffer table layout | `plan` |
//! | `alias` | which parameter each output may be written into when donated | `plan`, `slots` |
//! | `matmul` | matmul operand layout, the GEMM step and kernel (`matmul::gemm`, public as `crate::kernels::gemm`), the AVX-512 f32 kernel (`f32_avx512`, `f32_pack`) | `threads` |
//! | `segments` | cutting a loop at concat seams | `plan` |
//! | `bases` | buffer base pointers of one function | `plan` |
//! | `emit` | one kernel group as a Cranelift function (`emit/mod.rs` maps its parts) | `bases`, [`index`], `kernel`, [`math`], `plan`, `segments`, `split` |
//! | [`index`] | symbolic affine indices | — |
//! | [`math`] | transcendental functions (inline polynomials, their out-of-line copies, shims) | `isa` |
//! | `isa` | the host ISA, built once per setting and shared by every compile | `options` |
//!
//! Where codegen matches on the op enums (adding an op variant makes the compiler point at
//! each): `emit/expr.rs` (`compute_inst`), `emit/arith.rs` (`unary`, `binary`),
//! `kernel.rs` (`inst_vectorizes`, `unary_vectorizes`, `binary_vectorizes`), `emit/reduce.rs` (`identity`, `combine`,
//! `reduce_kernel`), `emit/loops.rs` (`flattenable`), `plan.rs` (`op_cost`, `own_kernel`),
//! `kernel.rs` (`checked_axis`), `matmul/mod.rs` (`view_strides`). [`math`] knows only its
//! own [`math::MathFn`]s, not the ops.

mod alias;
mod bases;
mod compile;
mod emit;
pub mod index;
mod isa;
mod kernel;
pub mod math;
pub(crate) mod matmul;
mod options;
pub mod plan;
mod pool;
mod prune;
mod run;
mod segments;
mod slots;
mod split;
pub(crate) mod threads;

pub use compile::compile;
pub use options::{CompileOptions, CompileStats, KernelText, OptLevel};
pub use plan::{FusionPlan, Kernel, KernelKind, Storage};
pub use run::{Compiled, Input};
