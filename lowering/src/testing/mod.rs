//! Test support, behind the `testing` cargo feature: what the crate's own tests, the root
//! crate's tests and benches, and the fuzz targets share, so that there is one copy of each.
//!
//! * [`rng`]: a seedable SplitMix64 generator (the tests must not depend on `rand`, and their
//!   inputs must be the same on every host);
//! * [`inputs`]: random input tensors with special values (NaN, ±inf, ±0, subnormals, integer
//!   MIN/MAX), and garbage-filled output tensors for `run_into`;
//! * [`tolerance`]: how closely a JIT result must agree with the reference interpreter's, per
//!   op (the rules are in `lowering/tests/differential/main.rs`);
//! * [`compare`](mod@compare): element-wise comparison under a tolerance, readable mismatch reports, and
//!   [`compare::check_with`], which runs a program through the JIT and the reference;
//! * [`ops`]: op lists taken from `UnaryOp::ALL`, `BinaryOp::ALL` and `ReduceOp::ALL`, so a new
//!   op is covered without editing a retyped list;
//! * [`generator`]: the random valid program generator (with a forward error analysis giving
//!   each output its tolerance) of the differential test and the `compile_run` fuzz target;
//! * [`programs`]: large programs of a given size (long chains, many parameters, big concats)
//!   shared by the scaling tests and `benches/compile_scaling.rs`.
//!
//! Not part of the library's API: it exists for tests, may change with them, and panics on
//! test bugs instead of returning errors. Enable it with
//! `lazyjit-lowering = { ..., features = ["testing"] }` in `[dev-dependencies]`.

pub mod compare;
pub mod generator;
pub mod inputs;
pub mod ops;
pub mod programs;
pub mod rng;
pub mod tolerance;

pub use compare::{check, check_with, compare, report, summary};
pub use inputs::{garbage, random_inputs, random_tensor, reduce, tt, Fill, MIXED};
pub use rng::Rng;
pub use tolerance::Tol;

/// How many random programs a random-program test runs: `LAZYJIT_DIFF_CASES`, else 300.
pub fn diff_cases() -> u32 {
    std::env::var("LAZYJIT_DIFF_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(300)
}
