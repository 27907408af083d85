//! The generator's forward error analysis: for each new value, a bound on the magnitude of
//! its finite elements and on |JIT − reference| (the rules are in the docs of
//! `lowering/tests/differential/main.rs`, "Random programs").

use super::{consts, Builder};
use crate::testing::tolerance::gamma;
use crate::{BinaryOp, DType, Op, ReduceOp, Scalar, TensorType, UnaryOp, ValueId};

/// What the generator knows about a value: `mag` bounds the magnitude of its finite elements
/// (`inf` when unknown), `err` bounds |JIT - reference| on them (0: the value must match
/// exactly).
#[derive(Clone, Copy, Debug)]
pub struct Meta {
    /// Bound of the magnitude of the finite elements.
    pub mag: f64,
    /// Bound of |JIT − reference| on them; 0 when the value is exact.
    pub err: f64,
}

impl Meta {
    /// A bool value (always exact).
    pub const EXACT_BOOL: Meta = Meta { mag: 1.0, err: 0.0 };

    /// An exactly computed value of magnitude at most `mag`.
    pub fn exact(mag: f64) -> Meta {
        Meta { mag, err: 0.0 }
    }

    /// Whether the value depends on an approximate op (and so may differ from the reference).
    pub fn tainted(&self) -> bool {
        self.err > 0.0
    }
}

impl Builder {
    /// The forward error analysis of the module docs: `None` rejects the op (it would apply a
    /// discontinuous or ill-conditioned op to an approximate value, or could overflow).
    pub fn meta_of(&self, op: &Op, args: &[ValueId], ty: &TensorType) -> Option<Meta> {
        let d = ty.dtype;
        let a: Vec<Meta> = args.iter().map(|v| self.m(*v)).collect();
        let any_tainted = a.iter().any(|m| m.tainted());
        let max_mag = a.iter().map(|m| m.mag).fold(0.0, f64::max);
        let max_err = a.iter().map(|m| m.err).fold(0.0, f64::max);
        let int_mag = |m: f64| {
            let lim = if d == DType::I32 {
                2f64.powi(31)
            } else {
                2f64.powi(63)
            };
            if m < lim {
                m
            } else {
                f64::INFINITY
            }
        };
        if d == DType::Bool {
            // Comparisons, casts to bool, where/layout of bools: exact, and they must not see
            // approximate values (a rounding difference could flip them).
            return (!any_tainted).then_some(Meta::EXACT_BOOL);
        }
        let (u, eps, floor) = if d.is_float() {
            consts(d)
        } else {
            (0.0, 0.0, 0.0)
        };
        let f64_math = d == DType::F64;
        // |f_jit(x') - f_ref(x)| <= lip·err + tol·M + floor, M bounding |f|.
        let transcendental = |lip: f64, ulps: f64, abs32: f64, m_out: f64, e_in: f64| {
            let tol = if f64_math {
                1e-12 * m_out
            } else {
                ulps * eps * m_out + abs32
            };
            Meta {
                mag: m_out,
                err: lip * e_in + tol + floor,
            }
        };
        Some(match op {
            Op::Unary(un) => {
                let m = a[0];
                if !d.is_float() {
                    let mag = match un {
                        UnaryOp::Sign => 1.0,
                        _ => m.mag,
                    };
                    return Some(Meta::exact(mag));
                }
                match un {
                    UnaryOp::Neg | UnaryOp::Abs | UnaryOp::Relu => m,
                    UnaryOp::Floor | UnaryOp::Ceil | UnaryOp::Round if !m.tainted() => {
                        Meta::exact(m.mag + 1.0)
                    }
                    UnaryOp::Sign if !m.tainted() => Meta::exact(1.0),
                    UnaryOp::Sqrt if !m.tainted() => Meta::exact(m.mag.sqrt().max(1.0)),
                    UnaryOp::Rsqrt | UnaryOp::Reciprocal if !m.tainted() => {
                        Meta::exact(f64::INFINITY)
                    }
                    UnaryOp::Exp => {
                        let lim = if f64_math { 700.0 } else { 80.0 };
                        if m.mag + m.err > lim {
                            return None;
                        }
                        let big = (m.mag + m.err).exp();
                        transcendental(big, 5.0, 0.0, big, m.err)
                    }
                    UnaryOp::Log if !m.tainted() => {
                        let big = if f64_math { 745.0 } else { 104.0 };
                        transcendental(0.0, 5.0, 0.0, big, 0.0)
                    }
                    UnaryOp::Tanh => transcendental(1.0, 6.0, 0.0, 1.0, m.err),
                    UnaryOp::Sigmoid => transcendental(0.25, 7.0, 0.0, 1.0, m.err),
                    UnaryOp::Erf => transcendental(1.13, 6.0, 0.0, 1.0, m.err),
                    UnaryOp::Sin | UnaryOp::Cos => transcendental(1.0, 3.0, 2e-7, 1.0, m.err),
                    // Lipschitz 1 (its derivative is the sigmoid); |softplus(x)| <= |x| + ln 2.
                    UnaryOp::Softplus => transcendental(1.0, 5.0, 0.0, m.mag + 1.0, m.err),
                    _ => return None,
                }
            }
            Op::Binary(b) => {
                let (x, y) = (a[0], a[1]);
                if !d.is_float() {
                    let mag = match b {
                        BinaryOp::Add | BinaryOp::Sub => x.mag + y.mag,
                        BinaryOp::Mul => x.mag * y.mag,
                        _ => x.mag.max(y.mag),
                    };
                    return Some(Meta::exact(int_mag(mag)));
                }
                let (ex, ey) = (x.err, y.err);
                match b {
                    BinaryOp::Add | BinaryOp::Sub => {
                        let mag = x.mag + y.mag;
                        if !any_tainted {
                            Meta::exact(mag)
                        } else {
                            Meta {
                                mag,
                                err: (ex + ey) * (1.0 + eps) + eps * (mag + ex + ey),
                            }
                        }
                    }
                    BinaryOp::Mul => {
                        let mag = x.mag * y.mag;
                        if !any_tainted {
                            Meta::exact(mag)
                        } else {
                            let err = x.mag * ey
                                + y.mag * ex
                                + ex * ey
                                + eps * (x.mag + ex) * (y.mag + ey)
                                + floor;
                            Meta { mag, err }
                        }
                    }
                    BinaryOp::Max | BinaryOp::Min => Meta {
                        mag: max_mag,
                        err: max_err,
                    },
                    BinaryOp::Div | BinaryOp::Pow if !any_tainted => Meta::exact(f64::INFINITY),
                    _ => return None,
                }
            }
            Op::Where => Meta {
                mag: a[1].mag.max(a[2].mag),
                err: a[1].err.max(a[2].err),
            },
            Op::Cast => {
                let from = self.ty(args[0]).dtype;
                let m = a[0];
                if m.tainted() && !d.is_float() {
                    return None;
                }
                match (from, d) {
                    (DType::F64, DType::F32) if m.tainted() => {
                        if m.mag > 1e38 {
                            return None;
                        }
                        Meta {
                            mag: m.mag,
                            err: m.err * (1.0 + u) + 2.0 * u * m.mag + floor,
                        }
                    }
                    (DType::F64, DType::F32) if m.mag > f32::MAX as f64 => {
                        Meta::exact(f64::INFINITY)
                    }
                    // ±inf saturates to MAX / MIN: finite, but not bounded by `mag`.
                    (f, t) if f.is_float() && t.is_int() => Meta::exact(f64::INFINITY),
                    _ => m,
                }
            }
            Op::Constant { value } => Meta::exact(match value {
                Scalar::Float(f) if f.is_finite() => f.abs(),
                Scalar::Float(_) => 0.0,
                Scalar::Int(i) => (*i as f64).abs(),
                Scalar::Bool(_) => 1.0,
            }),
            Op::Iota { axis } => Meta::exact(ty.shape.dims()[*axis] as f64),
            Op::Reduce { op: r, axes, .. } => {
                let m = a[0];
                let dims = self.ty(args[0]).shape.dims();
                let n: usize = axes.iter().map(|&ax| dims[ax]).product();
                let nf = n as f64;
                if r.is_arg() {
                    return (!m.tainted()).then_some(Meta::exact(dims[axes[0]] as f64));
                }
                if !d.is_float() {
                    return Some(Meta::exact(match r {
                        ReduceOp::Sum => int_mag(m.mag * nf),
                        ReduceOp::Prod => int_mag(m.mag.powf(nf)),
                        _ => m.mag,
                    }));
                }
                let exact_fold = n <= 2 && !m.tainted();
                match r {
                    ReduceOp::Max | ReduceOp::Min => m,
                    ReduceOp::Prod if exact_fold => Meta::exact(m.mag.powf(nf)),
                    ReduceOp::Prod => return None,
                    ReduceOp::Sum | ReduceOp::Mean if exact_fold => {
                        Meta::exact(if *r == ReduceOp::Sum {
                            m.mag * nf
                        } else {
                            m.mag
                        })
                    }
                    ReduceOp::Sum | ReduceOp::Mean => {
                        let lim = if d == DType::F32 { 1e30 } else { 1e300 };
                        if (m.mag + m.err) * nf > lim {
                            return None;
                        }
                        let sum_err = nf * m.err * (1.0 + gamma(n, d))
                            + 2.0 * gamma(n, d) * nf * (m.mag + m.err)
                            + nf * floor;
                        if *r == ReduceOp::Sum {
                            Meta {
                                mag: m.mag * nf,
                                err: sum_err,
                            }
                        } else {
                            Meta {
                                mag: m.mag,
                                err: sum_err / nf.max(1.0) + 3.0 * eps * m.mag + floor,
                            }
                        }
                    }
                    ReduceOp::ArgMax | ReduceOp::ArgMin => unreachable!(),
                }
            }
            Op::Reshape { .. }
            | Op::Permute { .. }
            | Op::Expand { .. }
            | Op::Slice { .. }
            | Op::Concat { .. } => Meta {
                mag: max_mag,
                err: max_err,
            },
            Op::Pad { value, .. } => Meta {
                mag: max_mag
                    .max(value.as_f64().abs())
                    .max(if value.as_f64().is_finite() {
                        0.0
                    } else {
                        max_mag
                    }),
                err: max_err,
            },
            Op::Gather { .. } | Op::IndexSelect { .. } => a[0],
            // The same bits in both backends, in [0, 1).
            Op::RandomUniform => Meta::exact(1.0),
            Op::ScatterAdd { axis } => {
                // At most `k` updates land on one element, added in the same order by both
                // backends: only input differences propagate, plus one rounding per add.
                let (x, u) = (a[0], a[2]);
                let k = self.ty(args[1]).shape.dims()[*axis] as f64;
                let mag = x.mag + k * u.mag;
                if !d.is_float() {
                    return Some(Meta::exact(int_mag(mag)));
                }
                if !any_tainted {
                    Meta::exact(mag)
                } else {
                    let e = x.err + k * u.err;
                    Meta {
                        mag,
                        err: e * (1.0 + k * eps) + k * eps * (mag + e),
                    }
                }
            }
            Op::MatMul => {
                let (x, y) = (a[0], a[1]);
                let k = *self.ty(args[0]).shape.dims().last().unwrap();
                let kf = k as f64;
                let mag = kf * x.mag * y.mag;
                if !d.is_float() {
                    return Some(Meta::exact(int_mag(mag)));
                }
                if k == 0 {
                    return Some(Meta::exact(0.0));
                }
                let lim = if d == DType::F32 { 1e30 } else { 1e300 };
                if mag.is_nan() || mag >= lim {
                    return None;
                }
                let err = kf * (x.mag * y.err + y.mag * x.err + x.err * y.err)
                    + 2.0 * gamma(k, d) * kf * (x.mag + x.err) * (y.mag + y.err)
                    + kf * floor;
                Meta { mag, err }
            }
        })
    }
}
