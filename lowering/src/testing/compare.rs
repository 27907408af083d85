//! Comparing the JIT's outputs with the reference interpreter's under a [`Tol`], with failure
//! messages that show the mismatching elements, the program and its inputs.

use super::inputs::garbage;
use super::tolerance::{ulp, Tol};
use crate::codegen::{compile, CompileOptions, Compiled};
use crate::{reference, text, DType, Program, Shape, Tensor};

/// The bytes of element `i` of `t`.
pub fn elem_bytes(t: &Tensor, i: usize) -> &[u8] {
    let s = t.dtype().size_bytes();
    &t.buffer().as_bytes()[i * s..(i + 1) * s]
}

/// Element `i` of `t` for a failure message (floats with their bits).
pub fn show_elem(t: &Tensor, i: usize) -> String {
    match t.dtype() {
        DType::F32 => {
            let v = t.get_f64(i).unwrap_or(f64::NAN) as f32;
            format!("{v:e} ({:#010x})", v.to_bits())
        }
        DType::F64 => {
            let v = t.get_f64(i).unwrap_or(f64::NAN);
            format!("{v:e} ({:#018x})", v.to_bits())
        }
        DType::I64 => {
            let b: [u8; 8] = elem_bytes(t, i).try_into().unwrap();
            i64::from_ne_bytes(b).to_string()
        }
        _ => format!("{}", t.get_f64(i).unwrap_or(f64::NAN)),
    }
}

/// The first element where `a` and `b` (of one type) differ other than as two NaNs, or
/// `None` when they are the same values: identical bits, except that NaN payloads and signs
/// (which no op specifies) may differ. For comparing two compilations of one program, such as
/// with and without wide math, where x86's choice of which NaN operand to propagate follows
/// the operand order instruction selection picked.
pub fn first_difference(a: &Tensor, b: &Tensor) -> Option<usize> {
    let nan = |t: &Tensor, i: usize| t.get_f64(i).is_some_and(f64::is_nan);
    let float = matches!(a.dtype(), DType::F32 | DType::F64);
    (0..a.numel().min(b.numel()))
        .find(|&i| elem_bytes(a, i) != elem_bytes(b, i) && !(float && nan(a, i) && nan(b, i)))
}

/// Whether element `i` of the JIT's `j` agrees with the reference's `r` under `tol`.
pub fn elem_ok(j: &Tensor, r: &Tensor, i: usize, tol: &Tol) -> bool {
    let d = r.dtype();
    if !d.is_float() {
        return elem_bytes(j, i) == elem_bytes(r, i);
    }
    if matches!(tol, Tol::Bits) {
        return elem_bytes(j, i) == elem_bytes(r, i);
    }
    let (jv, rv) = (j.get_f64(i).unwrap(), r.get_f64(i).unwrap());
    if rv.is_nan() || jv.is_nan() {
        return rv.is_nan() && jv.is_nan();
    }
    let bound = match tol {
        Tol::Exact | Tol::Bits => return elem_bytes(j, i) == elem_bytes(r, i),
        Tol::Ulps { ulps, abs } => ulps * ulp(rv, d) + abs,
        Tol::Rel { rel, abs } => rel * rv.abs() + abs,
        Tol::Bound(b) => b[i],
    };
    if rv.is_infinite() || jv.is_infinite() {
        return jv == rv;
    }
    // A NaN bound (from an infinite Σ|x|) means "anything finite": the reference is then
    // non-finite anyway, which was handled above.
    (jv - rv).abs() <= bound || bound.is_nan()
}

/// Compares one output; lists up to 6 mismatching elements.
pub fn compare(j: &Tensor, r: &Tensor, tol: &Tol) -> Result<(), String> {
    if j.ty() != r.ty() {
        return Err(format!("type {} but the reference has {}", j.ty(), r.ty()));
    }
    let bad: Vec<usize> = (0..r.numel()).filter(|&i| !elem_ok(j, r, i, tol)).collect();
    if bad.is_empty() {
        return Ok(());
    }
    let mut s = format!(
        "{} of {} elements differ ({tol_name}):",
        bad.len(),
        r.numel(),
        tol_name = match tol {
            Tol::Exact => "exact".to_string(),
            Tol::Bits => "bitwise, NaN payloads included".to_string(),
            Tol::Ulps { ulps, abs } => format!("{ulps} ulp + {abs:e}"),
            Tol::Rel { rel, abs } => format!("rel {rel:e} + {abs:e}"),
            Tol::Bound(_) => "per-element bound".to_string(),
        }
    );
    for &i in bad.iter().take(6) {
        let b = match tol {
            Tol::Bound(b) => format!(" (bound {:e})", b[i]),
            _ => String::new(),
        };
        s += &format!(
            "\n    [{}] jit {} ref {}{b}",
            unravel(i, r.shape()),
            show_elem(j, i),
            show_elem(r, i)
        );
    }
    Err(s)
}

/// The multi-index of flat element `i` of shape `s`, as `"i, j, k"`.
pub fn unravel(mut i: usize, s: &Shape) -> String {
    let mut idx = vec![0; s.rank()];
    for (d, &n) in s.dims().iter().enumerate().rev() {
        if n > 0 {
            idx[d] = i % n;
            i /= n;
        }
    }
    idx.iter()
        .map(|x| x.to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

/// The inputs of a failing case: types, and the elements of the small ones.
pub fn summary(inputs: &[Tensor]) -> String {
    inputs
        .iter()
        .enumerate()
        .map(|(k, t)| {
            if t.numel() <= 24 {
                let v: Vec<String> = (0..t.numel()).map(|i| show_elem(t, i)).collect();
                format!("  input {k}: {} = [{}]", t.ty(), v.join(", "))
            } else {
                format!("  input {k}: {} (not shown)", t.ty())
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Compile options of the differential tests: CLIF verified, the default optimiser.
pub fn opts() -> CompileOptions {
    CompileOptions {
        verify_clif: true,
        ..Default::default()
    }
}

/// Runs `p` through the reference and the JIT (twice: `run` and `run_into` over garbage) and
/// compares output `i` with `tols[i]` (or `tols[0]` for every output when there is one).
pub fn check(p: &Program, inputs: &[Tensor], tols: &[Tol]) -> Result<(), String> {
    check_with(p, inputs, tols, &opts())
}

/// [`check`] with explicit compile options.
pub fn check_with(
    p: &Program,
    inputs: &[Tensor],
    tols: &[Tol],
    options: &CompileOptions,
) -> Result<(), String> {
    let ins: Vec<&Tensor> = inputs.iter().collect();
    let fail = |m: String| -> String {
        format!(
            "{m}\nprogram:\n{}inputs:\n{}",
            text::print(p),
            summary(inputs)
        )
    };
    let refs = reference::run(p, &ins).map_err(|e| fail(format!("reference failed: {e}")))?;
    let c = compile(p, options).map_err(|e| fail(format!("compile failed: {e}")))?;
    let jit = c
        .run(&ins)
        .map_err(|e| fail(format!("JIT run failed: {e}")))?;
    let mut errs = compare_outputs(p, &jit, &refs, tols);
    if errs.is_empty() {
        errs = check_run_into(&c, &ins, &jit);
    }
    if errs.is_empty() {
        Ok(())
    } else {
        Err(fail(errs.join("\n")))
    }
}

/// Compares every output of `p`, the JIT's `jit` with the reference's `refs`, with `tols[i]`
/// (or `tols[0]` for every output when there is one); one message per failing output.
pub fn compare_outputs(p: &Program, jit: &[Tensor], refs: &[Tensor], tols: &[Tol]) -> Vec<String> {
    let mut errs = Vec::new();
    for (i, (j, r)) in jit.iter().zip(refs).enumerate() {
        let tol = if tols.len() == 1 { &tols[0] } else { &tols[i] };
        if let Err(m) = compare(j, r, tol) {
            errs.push(format!("output {i} ({}): {m}", p.outputs[i]));
        }
    }
    errs
}

/// Runs `c` again with `run_into` over output tensors full of garbage: every output element
/// must be written, and cached intermediate buffers must not go stale, so the bytes must be
/// those of `jit` (the result of `run`).
pub fn check_run_into(c: &Compiled, ins: &[&Tensor], jit: &[Tensor]) -> Vec<String> {
    let mut errs = Vec::new();
    let mut again: Vec<Tensor> = jit.iter().map(|t| garbage(t.ty())).collect();
    match c.run_into(ins, &mut again) {
        Err(e) => errs.push(format!("run_into failed: {e}")),
        Ok(()) => {
            for (i, (a, b)) in again.iter().zip(jit).enumerate() {
                if a.buffer().as_bytes() != b.buffer().as_bytes() {
                    errs.push(format!(
                        "output {i}: run_into over garbage differs from run (an element is \
                         not written, or a cached buffer is stale)"
                    ));
                }
            }
        }
    }
    errs
}

/// Panics with every failure message, if there are any.
pub fn report(fails: Vec<String>) {
    if fails.is_empty() {
        return;
    }
    let n = fails.len();
    let shown: Vec<String> = fails.into_iter().take(8).collect();
    panic!(
        "{n} failing cases; the first ones:\n\n{}",
        shown.join("\n\n")
    );
}
