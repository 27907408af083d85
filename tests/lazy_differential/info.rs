//! The error analysis of each op: what is known about its result (magnitude, error bound,
//! exactness) from what is known about its operands.

use super::*;

pub(crate) fn reduced_shape(shape: &[usize], axes: &[usize], keep: bool) -> Vec<usize> {
    let mut out = Vec::new();
    for (k, &d) in shape.iter().enumerate() {
        if axes.contains(&k) {
            if keep {
                out.push(1);
            }
        } else {
            out.push(d);
        }
    }
    out
}

pub(crate) fn unary_info(u: UnaryOp, x: &Info) -> Info {
    let d = x.dtype;
    let s = x.shape.clone();
    if !x.is_float() {
        let mag = match u {
            UnaryOp::Sign => 1.0,
            _ => x.mag,
        };
        return Info::exact(d, s, mag, false);
    }
    let e = x.aerr();
    let tr = tr_rel(u, d);
    match u {
        UnaryOp::Neg | UnaryOp::Abs => x.clone(),
        UnaryOp::Relu => {
            let mut i = x.clone();
            if !i.exact {
                i.err = e;
                i.rel = 0.0;
            }
            i
        }
        UnaryOp::Floor | UnaryOp::Ceil | UnaryOp::Round => {
            Info::exact(d, s, x.mag + 1.0, x.nonfinite)
        }
        UnaryOp::Sign => Info::exact(d, s, 1.0, x.nonfinite),
        UnaryOp::Sqrt => Info::exact(d, s, x.mag.sqrt(), true),
        UnaryOp::Rsqrt | UnaryOp::Reciprocal => Info::exact(d, s, INF, true),
        UnaryOp::Log => {
            let mag = if d == DType::F32 { 104.0 } else { 745.0 };
            x.tainted(s, mag, 0.0, tr, true)
        }
        UnaryOp::Exp => {
            let mag = x.mag.exp();
            let err = if x.exact { 0.0 } else { mag * (e.exp() - 1.0) };
            let err = if mag > max_finite(d) / 4.0 && !x.exact {
                INF
            } else {
                err
            };
            x.tainted(s, mag, err, tr, x.nonfinite || mag > max_finite(d) / 4.0)
        }
        UnaryOp::Tanh => x.tainted(s, x.mag.min(1.0), e, tr, x.nonfinite),
        UnaryOp::Sigmoid => x.tainted(s, 1.0, 0.25 * e, tr, x.nonfinite),
        UnaryOp::Erf => x.tainted(s, 1.0, 1.13 * e, tr, x.nonfinite),
        UnaryOp::Sin | UnaryOp::Cos => {
            let abs = if d == DType::F32 {
                2e-7 + 8.0 * U32
            } else {
                1e-12
            };
            x.tainted(s, 1.0, e + abs, 0.0, x.nonfinite)
        }
        // Lipschitz 1 (its derivative is the sigmoid); softplus(x) <= max(x, 0) + ln 2.
        UnaryOp::Softplus => x.tainted(s, x.mag + 1.0, e, tr, x.nonfinite),
        UnaryOp::Not => unreachable!("not is for bool"),
    }
}

pub(crate) fn binary_info(op: BinaryOp, x: &Info, y: &Info, shape: Vec<usize>) -> Info {
    let d = x.dtype;
    let nf = x.nonfinite || y.nonfinite;
    if op.is_comparison() {
        return Info::exact(DType::Bool, shape, 1.0, false);
    }
    if !x.is_float() {
        let mag = match op {
            BinaryOp::Add | BinaryOp::Sub => x.mag + y.mag,
            BinaryOp::Mul => x.mag * y.mag,
            BinaryOp::Max | BinaryOp::Min | BinaryOp::Div => x.mag.max(y.mag),
            _ => 1.0,
        };
        return Info::exact(d, shape, mag, false);
    }
    let u = unit_roundoff(d);
    let (ex, ey) = (x.aerr(), y.aerr());
    let (mx, my) = (x.mag, y.mag);
    let exact = x.exact && y.exact;
    let over = |m: f64| m > max_finite(d) / 4.0;
    match op {
        BinaryOp::Add | BinaryOp::Sub => {
            let mag = mx + my;
            if exact {
                return Info::exact(d, shape, mag, nf || over(mag));
            }
            let err = if over(mag) {
                INF
            } else {
                ex + ey + 2.0 * u * mag
            };
            x.tainted(shape, mag, err, 0.0, nf || over(mag))
        }
        BinaryOp::Mul => {
            let mag = mx * my;
            if exact {
                return Info::exact(d, shape, mag, nf || over(mag));
            }
            let mixes_inf = (!x.exact && y.nonfinite) || (!y.exact && x.nonfinite);
            let err = if over(mag) || mixes_inf {
                INF
            } else {
                mx * ey + my * ex + ex * ey + 2.0 * u * mag
            };
            x.tainted(shape, mag, err, 0.0, nf || over(mag))
        }
        BinaryOp::Div => {
            if exact {
                return Info::exact(d, shape, INF, true);
            }
            // Only by an exact scalar of magnitude >= 0.5 (see `Gen::scalar`).
            let m = my.max(0.5);
            let mag = mx / m;
            let err = if x.exact { 0.0 } else { ex / m + 2.0 * u * mag };
            x.tainted(shape, mag, err, 0.0, nf)
        }
        BinaryOp::Pow => x.tainted(shape, INF, 0.0, tr_rel(UnaryOp::Exp, d), true),
        BinaryOp::Max | BinaryOp::Min => {
            let mag = mx.max(my);
            if exact {
                return Info::exact(d, shape, mag, nf);
            }
            x.tainted(shape, mag, ex.max(ey), 0.0, nf)
        }
        _ => unreachable!("{op:?} on floats"),
    }
}

/// A value whose every element is one operand's element (where, concat).
pub(crate) fn join_info(parts: &[&Info], shape: Vec<usize>) -> Info {
    let first = parts[0];
    let exact = parts.iter().all(|i| i.exact);
    let mag = parts.iter().map(|i| i.mag).fold(0.0, f64::max);
    let nf = parts.iter().any(|i| i.nonfinite);
    if exact || !first.is_float() {
        return Info::exact(first.dtype, shape, mag, nf);
    }
    let err = parts
        .iter()
        .map(|i| if i.exact { 0.0 } else { i.err })
        .fold(0.0, f64::max);
    let rel = parts
        .iter()
        .map(|i| if i.exact { 0.0 } else { i.rel })
        .fold(0.0, f64::max);
    first.tainted(shape, mag, err, rel, nf)
}

pub(crate) fn cast_info(x: &Info, d: DType) -> Info {
    let s = x.shape.clone();
    match d {
        DType::F32 | DType::F64 => {
            let mag = x.mag;
            if x.exact {
                let nf = x.nonfinite || (d == DType::F32 && mag > f32::MAX as f64);
                return Info::exact(d, s, mag, nf);
            }
            let mut i = x.clone();
            i.dtype = d;
            if d == DType::F32 {
                // f64 -> f32 rounds both results once more (and may overflow).
                i.err = if mag > f32::MAX as f64 / 4.0 {
                    INF
                } else {
                    i.err + 2.0 * U32 * mag
                };
                i.rel += 2.0 * U32;
            }
            i
        }
        DType::Bool => Info::exact(d, s, 1.0, false),
        _ => Info::exact(d, s, INF, false),
    }
}

pub(crate) fn reduce_info(op: ReduceOp, x: &Info, axes: &[usize], keep: bool) -> Info {
    let shape = reduced_shape(&x.shape, axes, keep);
    let n: usize = axes.iter().map(|&a| x.shape[a]).product();
    let d = x.dtype;
    if !x.is_float() {
        return Info::exact(d, shape, INF, false);
    }
    let u = unit_roundoff(d);
    let e = x.aerr();
    // NaN bounds count as overflowing.
    let over = |m: f64| m.is_nan() || m > max_finite(d) / 4.0;
    match op {
        ReduceOp::Max | ReduceOp::Min => {
            if x.exact {
                Info::exact(d, shape, x.mag, x.nonfinite || n == 0)
            } else {
                x.tainted(shape, x.mag, e, 0.0, x.nonfinite)
            }
        }
        ReduceOp::Sum | ReduceOp::Mean => {
            let nf = n as f64;
            let mag_sum = nf * x.mag;
            if x.exact && n <= 1 {
                let nonfinite = x.nonfinite || (op == ReduceOp::Mean && n == 0);
                return Info::exact(d, shape, x.mag, nonfinite);
            }
            let sum_err = nf * e + 2.0 * gamma(n.saturating_sub(1), u) * mag_sum;
            let sum_err = if over(mag_sum) { INF } else { sum_err };
            if op == ReduceOp::Sum {
                x.tainted(shape, mag_sum, sum_err, 0.0, x.nonfinite || over(mag_sum))
            } else {
                let err = sum_err / nf + 6.0 * u * x.mag;
                x.tainted(shape, x.mag, err, 0.0, x.nonfinite || over(mag_sum))
            }
        }
        ReduceOp::Prod => {
            if x.exact && n <= 2 {
                let mag = x.mag.powi(n as i32);
                return Info::exact(d, shape, mag, x.nonfinite || over(mag));
            }
            let m = x.mag.max(1.0);
            let mn = m.powi(n as i32);
            let tiny = if d == DType::F32 {
                2f64.powi(-149)
            } else {
                2f64.powi(-1074)
            };
            let err = n as f64 * m.powi(n as i32 - 1) * e
                + 2.0 * ((1.0 + 2.0 * u).powi(n as i32) - 1.0) * mn
                + n as f64 * tiny * mn;
            let err = if over(mn) || (!x.exact && x.nonfinite) {
                INF
            } else {
                err
            };
            x.tainted(shape, mn, err, 0.0, x.nonfinite || over(mn))
        }
        ReduceOp::ArgMax | ReduceOp::ArgMin => unreachable!("handled by the caller"),
    }
}

pub(crate) fn matmul_info(x: &Info, y: &Info, k: usize, shape: Vec<usize>) -> Info {
    let d = x.dtype;
    if !x.is_float() {
        return Info::exact(d, shape, INF, false);
    }
    let u = unit_roundoff(d);
    let kf = k as f64;
    let (mx, my, ex, ey) = (x.mag, y.mag, x.aerr(), y.aerr());
    let mag = kf * mx * my;
    let nf = x.nonfinite || y.nonfinite;
    let over = mag.is_nan() || mag > max_finite(d) / 4.0;
    if x.exact && y.exact && k <= 1 {
        // One product, exactly rounded: equal values, but not always equal bits — the GEMM
        // path gives `-0.0` where the reference (and the small-product loop) give `+0.0`
        // (see `matmul_k1_sign_of_zero`), which the format allows (accumulation order
        // unspecified). Compared numerically, like every float matmul.
        return x.tainted(shape, mag, 0.0, 0.0, nf || over);
    }
    let mixes_inf = (!x.exact && y.nonfinite) || (!y.exact && x.nonfinite);
    let err = if over || mixes_inf {
        INF
    } else {
        kf * (mx * ey + my * ex + ex * ey) + 2.0 * gamma(k, u) * mag
    };
    x.tainted(shape, mag, err, 0.0, nf || over)
}
