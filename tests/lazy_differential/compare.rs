//! Comparing the values of the two backends with each value's tolerance.

use super::*;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Checked {
    Exact,
    Tolerance,
    Unchecked,
}

pub(crate) fn floats(t: &Tensor) -> Vec<f64> {
    t.to_f64_vec()
}

pub(crate) fn compare(info: &Info, j: &Tensor, r: &Tensor) -> Result<Checked, String> {
    if j.ty() != r.ty() {
        return Err(format!(
            "types differ: cranelift {} vs reference {}",
            j.ty(),
            r.ty()
        ));
    }
    match j.dtype() {
        DType::Bool | DType::I32 | DType::I64 => {
            if j == r {
                return Ok(Checked::Exact);
            }
            let (a, b) = (floats(j), floats(r));
            let i = (0..a.len()).find(|&i| a[i] != b[i]).unwrap_or(0);
            Err(format!(
                "element {i}: cranelift {} vs reference {} (exact comparison)",
                a[i], b[i]
            ))
        }
        DType::F32 | DType::F64 => {
            let f32s = j.dtype() == DType::F32;
            let bits = |t: &Tensor, i: usize| -> (u64, f64) {
                if f32s {
                    let v = t.as_slice::<f32>().unwrap()[i];
                    (v.to_bits() as u64, v as f64)
                } else {
                    let v = t.as_slice::<f64>().unwrap()[i];
                    (v.to_bits(), v)
                }
            };
            let n = j.numel();
            if info.exact {
                for i in 0..n {
                    let ((bj, vj), (br, vr)) = (bits(j, i), bits(r, i));
                    if bj != br && !(vj.is_nan() && vr.is_nan()) {
                        return Err(format!(
                            "element {i}: cranelift {vj:e} ({bj:#x}) vs reference {vr:e} ({br:#x}) \
                             (exact comparison)"
                        ));
                    }
                }
                return Ok(Checked::Exact);
            }
            let limit = if f32s { 1e30 } else { 1e300 };
            let bounded = |v: f64, max: f64| v.partial_cmp(&max).is_some_and(|o| o.is_le());
            if !bounded(info.err, limit) || !bounded(info.rel, 1e-3) {
                return Ok(Checked::Unchecked);
            }
            let floor = 4.0
                * if f32s {
                    f32::MIN_POSITIVE as f64
                } else {
                    f64::MIN_POSITIVE
                };
            for i in 0..n {
                let (vj, vr) = (bits(j, i).1, bits(r, i).1);
                let tol = info.err + info.rel * vr.abs() + floor;
                let ok = if vj.is_nan() || vr.is_nan() {
                    vj.is_nan() && vr.is_nan()
                } else if vj.is_infinite() || vr.is_infinite() {
                    vj == vr
                } else {
                    (vj - vr).abs() <= tol
                };
                if !ok {
                    return Err(format!(
                        "element {i}: cranelift {vj:e} vs reference {vr:e}, |diff| {:e} > \
                         tolerance {tol:e} (err {:e}, rel {:e}, mag {:e})",
                        (vj - vr).abs(),
                        info.err,
                        info.rel,
                        info.mag
                    ));
                }
            }
            Ok(Checked::Tolerance)
        }
    }
}

/// Runs one case on both backends; `Err` is the full failure report.
pub(crate) fn check_case(case: &Case, stats: &mut Stats) -> Result<(), String> {
    let report = |what: String| {
        format!(
            "{what}\n{case}\nreplay: LAZYJIT_DIFF_SEED={} LAZYJIT_DIFF_CASES=1 cargo test --test \
             lazy_differential random_op_sequences -- --nocapture",
            case.seed
        )
    };
    let r = execute_caught(case, BackendKind::Reference)
        .map_err(|e| report(format!("reference backend failed: {e}")))?;
    let j = execute_caught(case, BackendKind::Cranelift)
        .map_err(|e| report(format!("cranelift backend failed: {e}")))?;
    assert_eq!(r.len(), j.len());
    let mut failures = Vec::new();
    for (i, (jt, rt)) in j.iter().zip(&r).enumerate() {
        match compare(&case.infos[i], jt, rt) {
            Ok(c) => *stats.checks.entry(c).or_default() += 1,
            Err(e) => failures.push(format!("v{i} ({}): {e}", jt.ty())),
        }
    }
    for s in &case.steps {
        *stats.kinds.entry(s.kind()).or_default() += 1;
    }
    if failures.is_empty() {
        Ok(())
    } else {
        Err(report(format!(
            "cranelift and reference disagree:\n  {}",
            failures.join("\n  ")
        )))
    }
}

#[derive(Default)]
pub(crate) struct Stats {
    pub(crate) kinds: BTreeMap<String, usize>,
    pub(crate) checks: BTreeMap<Checked, usize>,
}
