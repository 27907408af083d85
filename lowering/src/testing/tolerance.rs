//! Tolerances: how closely the JIT must agree with the reference interpreter, per op, and
//! the floating-point quantities (ulp, unit roundoff, γ(k)) the bounds are made of. The
//! reasoning behind each bound is in the docs of `lowering/tests/differential/main.rs`.

use super::ops::is_transcendental;
use crate::{BinaryOp, DType, Op, Program, ReduceOp, Tensor, UnaryOp};

/// How closely one output must agree (the rules: the docs of `lowering/tests/differential`).
/// Every variant first requires NaN ⇔ NaN and, for an infinite reference, equality.
#[derive(Clone, Debug)]
pub enum Tol {
    /// The same bytes, except that any NaN equals any NaN.
    Exact,
    /// The same bytes, NaN payloads and signs included (data movement, `neg`, `abs`).
    Bits,
    /// `|j - r| <= ulps · ulp(r) + abs`.
    Ulps {
        /// Allowed error in units in the last place of the reference value (its dtype's).
        ulps: f64,
        /// Allowed absolute error on top (for results near zero).
        abs: f64,
    },
    /// `|j - r| <= rel · |r| + abs`.
    Rel {
        /// Allowed error relative to the reference value's magnitude.
        rel: f64,
        /// Allowed absolute error on top (for results near zero).
        abs: f64,
    },
    /// `|j - r| <= bound[i]` for element `i`.
    Bound(Vec<f64>),
}

/// Distance between `x` and the next representable number of dtype `d` away from zero.
pub fn ulp(x: f64, d: DType) -> f64 {
    let (mant, min_exp) = if d == DType::F32 {
        (23, -149)
    } else {
        (52, -1074)
    };
    let a = x.abs();
    if !a.is_finite() || a < f64::MIN_POSITIVE {
        return 2f64.powi(min_exp);
    }
    let e = ((a.to_bits() >> 52) & 0x7ff) as i32 - 1023;
    2f64.powi((e - mant).max(min_exp))
}

/// Unit roundoff.
pub fn unit_roundoff(d: DType) -> f64 {
    if d == DType::F32 {
        2f64.powi(-24)
    } else {
        2f64.powi(-53)
    }
}

/// `γ(k) = k·u / (1 - k·u)`.
pub fn gamma(k: usize, d: DType) -> f64 {
    let ku = k as f64 * unit_roundoff(d);
    if ku >= 1.0 {
        f64::INFINITY
    } else {
        ku / (1.0 - ku)
    }
}

/// The smallest positive normal number of `d`.
pub fn min_normal(d: DType) -> f64 {
    if d == DType::F32 {
        f32::MIN_POSITIVE as f64
    } else {
        f64::MIN_POSITIVE
    }
}

/// The tolerance of a float sum or mean (see the module docs); `r` is the reference result.
pub fn sum_tol(op: ReduceOp, d: DType, n: usize, abs: &[f64], r: &Tensor) -> Tol {
    let g = 2.0 * gamma(n.saturating_sub(1), d) * (1.0 + 1e-9);
    Tol::Bound(
        abs.iter()
            .enumerate()
            .map(|(i, s)| {
                let b = g * s;
                if op == ReduceOp::Mean {
                    b / n as f64 + 3.0 * ulp(r.get_f64(i).unwrap(), d)
                } else {
                    b
                }
            })
            .collect(),
    )
}

/// Tolerance of a unary op's result (module docs).
pub fn unary_tol(u: UnaryOp, d: DType) -> Tol {
    let floor = min_normal(d);
    if d == DType::F64 {
        return match u {
            _ if is_transcendental(u) => Tol::Rel {
                rel: 1e-12,
                abs: floor,
            },
            UnaryOp::Neg | UnaryOp::Abs => Tol::Bits,
            _ => Tol::Exact,
        };
    }
    if d != DType::F32 {
        return Tol::Exact;
    }
    let ulps = |ulps: f64| Tol::Ulps { ulps, abs: floor };
    match u {
        UnaryOp::Exp | UnaryOp::Log | UnaryOp::Softplus => ulps(4.0),
        UnaryOp::Tanh | UnaryOp::Erf => ulps(5.0),
        UnaryOp::Sigmoid => ulps(6.0),
        UnaryOp::Sin | UnaryOp::Cos => Tol::Ulps {
            ulps: 2.0,
            abs: 2e-7,
        },
        UnaryOp::Neg | UnaryOp::Abs => Tol::Bits,
        _ if is_transcendental(u) => panic!("no f32 error bound for {u:?} yet: add it here"),
        _ => Tol::Exact,
    }
}

/// Tolerance of a binary op's result (only `pow` is not exact).
pub fn binary_tol(b: BinaryOp, d: DType) -> Tol {
    match (b, d) {
        (BinaryOp::Pow, DType::F32) => Tol::Ulps {
            ulps: 2.0,
            abs: min_normal(d),
        },
        (BinaryOp::Pow, DType::F64) => Tol::Rel {
            rel: 1e-12,
            abs: min_normal(d),
        },
        _ => Tol::Exact,
    }
}

/// Per output: [`Tol::Bits`] for data movement (layout ops, where, gather, index_select, neg,
/// abs: NaN payloads must survive them), [`Tol::Exact`] for everything else.
pub fn moves_bitwise(p: &Program) -> Vec<Tol> {
    p.outputs
        .iter()
        .map(|&o| match p.inst(o).map(|i| &i.op) {
            None
            | Some(
                Op::Reshape { .. }
                | Op::Permute { .. }
                | Op::Expand { .. }
                | Op::Slice { .. }
                | Op::Concat { .. }
                | Op::Pad { .. }
                | Op::Gather { .. }
                | Op::IndexSelect { .. }
                | Op::Where
                | Op::Unary(UnaryOp::Neg | UnaryOp::Abs),
            ) => Tol::Bits,
            _ => Tol::Exact,
        })
        .collect()
}
