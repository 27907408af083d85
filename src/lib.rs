//! lazyjit: lazy tensors for Rust with a Cranelift native-code JIT.
//!
//! Ops on a [`LazyTensor`] are recorded as IR; reading a value, [`sync`] or [`mark_step`]
//! hands the pending graph to the executor, which compiles it once (fused, vectorised
//! native code through [`lowering`]) and reuses the compiled computation whenever the same
//! graph comes back.
//!
//! The README follows (its Rust examples are compiled and run as doctests).
#![doc = include_str!("../README.md")]
#![warn(missing_docs)]

pub mod autograd;
pub mod backend;
pub mod config;
pub mod data;
pub mod dump;
pub mod error;
pub mod executor;
mod function;
pub mod io;
pub mod ir;
pub mod logging;
pub mod metrics;
pub mod nn;
mod ops;
pub mod optim;
mod tensor;

pub use config::{BackendKind, Config};
pub use error::{Error, FileErrorKind, Result, SourceLoc};
pub use executor::{
    cache_len, cached_computations, clear_caches, data_cache_len, is_cached, last_recompile,
    last_sync, recompile_explanations, wait_device_ops, CachedComputation, Difference,
    RecompileExplanation, SyncInfo,
};
pub use function::{compile, ArgValue, CompiledFn, CompiledFnStats, FnArg, InputType, VersionInfo};
pub use lazyjit_lowering as lowering;
pub use lazyjit_lowering::{DType, Scalar, Shape};
pub use ops::{Axes, Idx, IndexOp, ScalarArg};
pub use tensor::{
    graph_hash, initial_seed, live_tensors, manual_seed, mark_step, next_seed, sync, LazyTensor,
    NativeType,
};
