//! lazyjit: lazy tensors for Rust with a Cranelift native-code JIT.
//!
//! The lazy tensor front end is under construction; today this crate re-exports the
//! backend, [`lowering`], which parses, verifies, compiles and runs post-ordered programs.
//!
//! The README follows (its Rust example is compiled and run as a doctest).
#![doc = include_str!("../README.md")]

pub use lazyjit_lowering as lowering;
