//! Op lists for tests, derived from `UnaryOp::ALL`, `BinaryOp::ALL` and `ReduceOp::ALL`, so
//! that a new op is picked up by every test and generator that uses them. The classifications
//! come from each op's declaration (`op/table.rs`); a new approximate op then needs its
//! tolerance (`tolerance.rs`) and its error rule (`generator/meta.rs`).

use crate::{BinaryOp, DType, UnaryOp};

/// Whether `u` is computed approximately (a polynomial or a libm call, not exactly rounded):
/// its result gets an ulp tolerance and the generator tracks an error bound for it. This is
/// the op's declared cost class (`Cost::Transcendental` in `op/table.rs`); `unary_tol` and the
/// generator's `meta_of` refuse to guess a bound for a new one.
pub fn is_transcendental(u: UnaryOp) -> bool {
    u.is_transcendental()
}

/// The transcendental unary ops, in `UnaryOp::ALL` order.
pub fn transcendental_ops() -> Vec<UnaryOp> {
    UnaryOp::ALL
        .into_iter()
        .filter(|&u| is_transcendental(u))
        .collect()
}

/// The unary ops that accept dtype `d`, in `UnaryOp::ALL` order.
pub fn unary_ops_for(d: DType) -> Vec<UnaryOp> {
    UnaryOp::ALL.into_iter().filter(|u| u.accepts(d)).collect()
}

/// The binary ops that accept dtype `d`, in `BinaryOp::ALL` order.
pub fn binary_ops_for(d: DType) -> Vec<BinaryOp> {
    BinaryOp::ALL.into_iter().filter(|b| b.accepts(d)).collect()
}
