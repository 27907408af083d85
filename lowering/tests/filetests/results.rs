//! Formatting results as expectation text, parsing them back, comparing with a tolerance,
//! and the line diff of a failing section.

use super::*;

// ---------------------------------------------------------------------------------------------
// Results: printing and comparison
// ---------------------------------------------------------------------------------------------

/// `%g`-style: `sig` significant digits, trailing zeros removed, exponent form outside
/// `1e-5 ..= 10^sig`.
pub(crate) fn fmt_float(v: f64, sig: usize) -> String {
    if v.is_nan() {
        return "nan".into();
    }
    if v.is_infinite() {
        return if v > 0.0 { "inf".into() } else { "-inf".into() };
    }
    if v == 0.0 {
        return if v.is_sign_negative() {
            "-0".into()
        } else {
            "0".into()
        };
    }
    let e = format!("{:.*e}", sig - 1, v);
    let (mant, exp) = e.split_once('e').expect("exponent form");
    let exp: i32 = exp.parse().expect("exponent");
    let trim = |s: &str| -> String {
        if s.contains('.') {
            s.trim_end_matches('0').trim_end_matches('.').to_string()
        } else {
            s.to_string()
        }
    };
    if exp < -5 || exp >= sig as i32 {
        format!("{}e{exp}", trim(mant))
    } else {
        let decimals = (sig as i32 - 1 - exp).max(0) as usize;
        trim(&format!("{v:.decimals$}"))
    }
}

pub(crate) fn fmt_elem(t: &Tensor, i: usize) -> String {
    let b = &t.buffer().as_bytes()[i * t.dtype().size_bytes()..];
    match t.dtype() {
        DType::F32 => fmt_float(f32::from_ne_bytes(b[..4].try_into().unwrap()) as f64, 7),
        DType::F64 => fmt_float(f64::from_ne_bytes(b[..8].try_into().unwrap()), 15),
        DType::I32 => i32::from_ne_bytes(b[..4].try_into().unwrap()).to_string(),
        DType::I64 => i64::from_ne_bytes(b[..8].try_into().unwrap()).to_string(),
        DType::Bool => (b[0] != 0).to_string(),
    }
}

pub(crate) fn multi_index(mut i: usize, dims: &[usize]) -> Vec<usize> {
    let mut idx = vec![0; dims.len()];
    for (k, &d) in dims.iter().enumerate().rev() {
        if d > 0 {
            idx[k] = i % d;
            i /= d;
        }
    }
    idx
}

pub(crate) fn fmt_index(idx: &[usize]) -> String {
    let parts: Vec<String> = idx.iter().map(|x| x.to_string()).collect();
    format!("[{}]", parts.join(", "))
}

/// The results section text: per output a header line and rows of values, each row prefixed by
/// the index of its first element; a new line starts at every innermost row and every
/// `VALUES_PER_LINE` values.
pub(crate) fn format_results(r: &Result<Vec<Tensor>, lazyjit_lowering::Error>) -> String {
    let mut s = String::new();
    match r {
        Err(e) => {
            for (k, line) in e.to_string().lines().enumerate() {
                let _ = writeln!(s, "{}{line}", if k == 0 { "error: " } else { "  " });
            }
        }
        Ok(outs) => {
            for (o, t) in outs.iter().enumerate() {
                let _ = writeln!(s, "output {o}: {}", t.ty());
                let dims = t.shape().dims();
                let inner = dims.last().copied().unwrap_or(1).max(1);
                let n = t.numel();
                let mut i = 0;
                while i < n {
                    let end = (i + VALUES_PER_LINE - (i % inner) % VALUES_PER_LINE)
                        .min(i - i % inner + inner)
                        .min(n);
                    let vals: Vec<String> = (i..end).map(|j| fmt_elem(t, j)).collect();
                    let _ = writeln!(
                        s,
                        "  {} {}",
                        fmt_index(&multi_index(i, dims)),
                        vals.join(" ")
                    );
                    i = end;
                }
            }
        }
    }
    s
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Expected {
    Error(String),
    Outputs(Vec<(String, Vec<String>)>),
}

pub(crate) fn parse_results(text: &str) -> Result<Expected, String> {
    if let Some(e) = text.strip_prefix("error: ") {
        let msg: Vec<&str> = e
            .lines()
            .enumerate()
            .map(|(k, l)| {
                if k == 0 {
                    l
                } else {
                    l.strip_prefix("  ").unwrap_or(l)
                }
            })
            .collect();
        return Ok(Expected::Error(msg.join("\n")));
    }
    let mut outs: Vec<(String, Vec<String>)> = Vec::new();
    for line in text.lines() {
        if let Some(h) = line.strip_prefix("output ") {
            let (_, ty) = h
                .split_once(": ")
                .ok_or_else(|| format!("bad output header '{line}'"))?;
            outs.push((ty.to_string(), Vec::new()));
        } else {
            let (_, vals) = line
                .trim_start()
                .split_once(']')
                .ok_or_else(|| format!("bad results line '{line}'"))?;
            let cur = outs
                .last_mut()
                .ok_or_else(|| format!("values before any 'output' header: '{line}'"))?;
            cur.1.extend(vals.split_whitespace().map(str::to_string));
        }
    }
    Ok(Expected::Outputs(outs))
}

pub(crate) fn default_tolerance(dtype: DType) -> Tolerance {
    match dtype {
        DType::F32 => Tolerance {
            rtol: 1e-5,
            atol: 1e-6,
        },
        _ => Tolerance {
            rtol: 1e-12,
            atol: 1e-12,
        },
    }
}

/// Compares actual outputs with expected ones; floats within the tolerance (NaN matches NaN,
/// infinities must match exactly), everything else exactly. Returns mismatch descriptions.
pub(crate) fn compare_results(
    who: &str,
    actual: &Result<Vec<Tensor>, lazyjit_lowering::Error>,
    want: &Expected,
    tol: Option<&Tolerance>,
) -> Vec<String> {
    let mut errs = Vec::new();
    match (actual, want) {
        (Err(e), Expected::Error(w)) => {
            if e.to_string() != *w {
                errs.push(format!("{who} error:\n    {e}\n  expected error:\n    {w}"));
            }
        }
        (Err(e), Expected::Outputs(_)) => errs.push(format!("{who} failed: {e}")),
        (Ok(_), Expected::Error(w)) => errs.push(format!("{who} succeeded, expected error: {w}")),
        (Ok(outs), Expected::Outputs(w)) => {
            if outs.len() != w.len() {
                errs.push(format!(
                    "{who} returned {} outputs, expected {}",
                    outs.len(),
                    w.len()
                ));
                return errs;
            }
            for (o, (t, (wty, wvals))) in outs.iter().zip(w).enumerate() {
                if t.ty().to_string() != *wty {
                    errs.push(format!("{who} output {o} is {}, expected {wty}", t.ty()));
                    continue;
                }
                if t.numel() != wvals.len() {
                    errs.push(format!(
                        "output {o}: expectation has {} values for {wty}",
                        wvals.len()
                    ));
                    continue;
                }
                let def = default_tolerance(t.dtype());
                let tol = tol.unwrap_or(&def);
                let mut bad = 0;
                for (i, w) in wvals.iter().enumerate() {
                    let got = fmt_elem(t, i);
                    let ok = if t.dtype().is_float() {
                        let g = t.get_f64(i).unwrap();
                        match parse_literal(w, t.dtype()) {
                            Err(_) => false,
                            Ok(x) if x.is_nan() || g.is_nan() => x.is_nan() && g.is_nan(),
                            Ok(x) if x.is_infinite() || g.is_infinite() => x == g,
                            Ok(x) => (g - x).abs() <= tol.atol + tol.rtol * x.abs(),
                        }
                    } else {
                        got == *w
                    };
                    if !ok {
                        bad += 1;
                        if bad <= 8 {
                            errs.push(format!(
                                "{who} output {o} {}: got {got}, expected {w}",
                                fmt_index(&multi_index(i, t.shape().dims()))
                            ));
                        }
                    }
                }
                if bad > 8 {
                    errs.push(format!("{who} output {o}: ... {} mismatches in all", bad));
                }
            }
        }
    }
    errs
}

// ---------------------------------------------------------------------------------------------
// Line diff
// ---------------------------------------------------------------------------------------------

/// A unified-style line diff (`-` expected, `+` actual) with 3 lines of context.
pub(crate) fn diff(expected: &str, actual: &str) -> String {
    let a: Vec<&str> = expected.lines().collect();
    let b: Vec<&str> = actual.lines().collect();
    // Trim the common prefix and suffix, then LCS on the middle.
    let pre = a.iter().zip(&b).take_while(|(x, y)| x == y).count();
    let suf = a[pre..]
        .iter()
        .rev()
        .zip(b[pre..].iter().rev())
        .take_while(|(x, y)| x == y)
        .count();
    let (am, bm) = (&a[pre..a.len() - suf], &b[pre..b.len() - suf]);
    let (n, m) = (am.len(), bm.len());
    let mut lcs = vec![0u32; (n + 1) * (m + 1)];
    for i in (0..n).rev() {
        for j in (0..m).rev() {
            lcs[i * (m + 1) + j] = if am[i] == bm[j] {
                lcs[(i + 1) * (m + 1) + j + 1] + 1
            } else {
                lcs[(i + 1) * (m + 1) + j].max(lcs[i * (m + 1) + j + 1])
            };
        }
    }
    // Edit script over whole files: (tag, line), tag ' ', '-', '+'.
    let mut ops: Vec<(char, &str)> = a[..pre].iter().map(|l| (' ', *l)).collect();
    let (mut i, mut j) = (0, 0);
    while i < n || j < m {
        if i < n && j < m && am[i] == bm[j] {
            ops.push((' ', am[i]));
            i += 1;
            j += 1;
        } else if i < n && (j == m || lcs[(i + 1) * (m + 1) + j] >= lcs[i * (m + 1) + j + 1]) {
            ops.push(('-', am[i]));
            i += 1;
        } else {
            ops.push(('+', bm[j]));
            j += 1;
        }
    }
    ops.extend(a[a.len() - suf..].iter().map(|l| (' ', *l)));
    // Hunks with 3 lines of context.
    let changed: Vec<usize> = (0..ops.len()).filter(|&k| ops[k].0 != ' ').collect();
    let mut out = String::new();
    let mut k = 0;
    while k < changed.len() {
        let start = changed[k].saturating_sub(3);
        let mut end = changed[k] + 1;
        while k < changed.len() && changed[k] <= end + 6 {
            end = changed[k] + 1;
            k += 1;
        }
        let end = (end + 3).min(ops.len());
        let old_line = ops[..start].iter().filter(|o| o.0 != '+').count() + 1;
        let new_line = ops[..start].iter().filter(|o| o.0 != '-').count() + 1;
        let _ = writeln!(out, "@@ -{old_line} +{new_line} @@");
        for (tag, line) in &ops[start..end] {
            let _ = writeln!(out, "{tag}{line}");
        }
    }
    out
}
