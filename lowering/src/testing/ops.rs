//! Op lists for tests, derived from `UnaryOp::ALL`, `BinaryOp::ALL` and `ReduceOp::ALL`, so
//! that a new op is picked up by every test and generator that uses them. The classifications
//! below are exhaustive matches on purpose: a new op does not compile until someone decides
//! which class it belongs to (and so which tolerance and generator rules apply to it).

use crate::{BinaryOp, DType, UnaryOp};

/// Whether `u` is computed approximately (a polynomial or a libm call, not exactly rounded):
/// its result gets an ulp tolerance and the generator tracks an error bound for it.
pub fn is_transcendental(u: UnaryOp) -> bool {
    match u {
        UnaryOp::Exp
        | UnaryOp::Log
        | UnaryOp::Tanh
        | UnaryOp::Sigmoid
        | UnaryOp::Erf
        | UnaryOp::Sin
        | UnaryOp::Cos => true,
        UnaryOp::Neg
        | UnaryOp::Abs
        | UnaryOp::Sqrt
        | UnaryOp::Rsqrt
        | UnaryOp::Reciprocal
        | UnaryOp::Relu
        | UnaryOp::Floor
        | UnaryOp::Ceil
        | UnaryOp::Round
        | UnaryOp::Sign
        | UnaryOp::Not => false,
    }
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
