//! Runtime kernels called by compiled programs.
//!
//! - [`gemm`]: batched, strided, broadcasting matrix multiplication ([`MatMulPlan`]), the
//!   kernel behind `Op::MatMul`. f32/f64 go to the `gemm` crate (chosen by measurement over
//!   `matrixmultiply`, see `docs/matmul.md`) except tiny products and the f32 shapes where
//!   the in-house AVX-512 kernel measured faster; large products use
//!   [`threads`] threads ([`set_threads`]); i32/i64 to a blocked
//!   wrapping-arithmetic loop. It lives with the rest of the matmul lowering in
//!   `codegen/matmul/`; this module keeps its public path.

pub use crate::codegen::matmul::gemm;

pub use crate::codegen::threads::{
    kernel_parallel_work, matmul_parallel_work, set_kernel_parallel_work, set_matmul_parallel_work,
    set_threads, threads, KERNEL_PARALLEL_WORK, PARALLEL_WORK,
};
pub use gemm::{matmul_plan_run, FloatKernel, MatMulPlan};
