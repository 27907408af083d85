//! Loops with wide math (`codegen/emit/wide.rs`): a vectorised loop whose values hold f32
//! `exp`, `log`, `tanh`, `sigmoid` or `erf` runs in chunks whose sites are computed by the
//! host's AVX2 / AVX-512 functions. Those are bit-identical to the four-lane inline code, so
//! every program here must give exactly the values it gives with `wide_math: false` (bit for
//! bit, except the payload of a NaN, which x86 takes from whichever NaN operand comes first
//! in the instruction that instruction selection chose; no op specifies it), whatever
//! the extent (chunk seams, vector tails), the nesting of sites, the fusion (a root read by
//! another root), views and broadcasts around the sites, and thread splits.
//!
//! The filetests compare every snapshot program the same way; the math_wide tests compare the
//! wide functions themselves with the JIT's code over the accuracy sweeps.

use lazyjit_lowering::codegen::{compile, CompileOptions, Compiled, Input};
use lazyjit_lowering::kernels::{set_kernel_parallel_work, set_threads, KERNEL_PARALLEL_WORK};
use lazyjit_lowering::testing::compare::{first_difference, show_elem};
use lazyjit_lowering::testing::generator::{build, Spec};
use lazyjit_lowering::testing::inputs::{random_inputs, MIXED};
use lazyjit_lowering::testing::rng::Rng;
use lazyjit_lowering::{text, Program, Tensor};

fn with(p: &Program, wide: bool) -> Compiled {
    let opts = CompileOptions {
        wide_math: wide,
        keep_clif: true,
        ..CompileOptions::default()
    };
    compile(p, &opts).unwrap()
}

fn bytes(t: &Tensor) -> &[u8] {
    &t.buffer().as_bytes()[..t.ty().size_bytes()]
}

/// Whether the host has wide functions at all (x86-64 with AVX2, not capped off).
fn host_wide() -> bool {
    let p = text::parse("param %a: f32[64]\n%1: f32[64] = exp %a\nreturn %1\n").unwrap();
    uses_wide(&with(&p, true))
}

/// Whether a compiled program calls wide functions: a chunk buffer in some kernel.
fn uses_wide(c: &Compiled) -> bool {
    c.clif().contains("explicit_slot 1024")
}

/// Runs `p` with and without wide math on `inputs`; the bytes must agree.
fn same_bytes(p: &Program, inputs: &[Tensor]) -> Result<bool, String> {
    let ins: Vec<&Tensor> = inputs.iter().collect();
    let four = with(p, false)
        .run(&ins)
        .map_err(|e| format!("four lanes: {e}"))?;
    let wide = with(p, true);
    let got = wide.run(&ins).map_err(|e| format!("wide: {e}"))?;
    for (i, (a, b)) in four.iter().zip(&got).enumerate() {
        if let Some(k) = first_difference(a, b) {
            return Err(format!(
                "output {i} differs at element {k}: {} vs {}",
                show_elem(a, k),
                show_elem(b, k)
            ));
        }
    }
    Ok(uses_wide(&wide))
}

fn check(cases: &[(String, String, bool)]) {
    let wide_host = host_wide();
    let mut failures = Vec::new();
    for (k, (name, src, wide)) in cases.iter().enumerate() {
        let p = text::parse(src).unwrap_or_else(|e| panic!("{name}: {e}\n{src}"));
        let inputs = random_inputs(&p, MIXED, &mut Rng::new(k as u64));
        match same_bytes(&p, &inputs) {
            Ok(used) if used != (*wide && wide_host) => failures.push(format!(
                "{name}: wide math used: {used}, expected {}\n{src}",
                *wide && wide_host
            )),
            Ok(_) => {}
            Err(m) => failures.push(format!("{name}: {m}\n{src}")),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

/// Each function alone, at extents around the chunk (256) and vector (4) seams, flat and 2-d.
#[test]
fn every_function_at_every_seam() {
    let mut cases = Vec::new();
    for f in ["exp", "log", "tanh", "sigmoid", "erf"] {
        for n in [15, 16, 17, 19, 64, 255, 256, 257, 260, 511, 513, 1000, 1027] {
            cases.push((
                format!("{f} f32[{n}]"),
                format!("param %a: f32[{n}]\n%1: f32[{n}] = {f} %a\nreturn %1\n"),
                n >= 16,
            ));
        }
        // Rows of 37 with a broadcast column: a 2-d loop, one chunk per row.
        cases.push((
            format!("{f} of a 2-d broadcast sum"),
            format!(
                "param %a: f32[5, 37]\nparam %b: f32[37]\n%2: f32[5, 37] = add %a, %b\n\
                 %3: f32[5, 37] = {f} %2\nreturn %3\n"
            ),
            true,
        ));
    }
    // Rows too short to be worth a call, and a dtype or function without wide functions.
    cases.push((
        "exp over rows of 9".into(),
        "param %a: f32[3, 9]\nparam %b: f32[3, 1]\n%2: f32[3, 9] = add %a, %b\n%3: f32[3, 9] = exp %2\nreturn %3\n".into(),
        false,
    ));
    cases.push((
        "exp f32[40, 5] over rows of 5".into(),
        "param %a: f32[40, 5]\nparam %b: f32[40, 1]\n%2: f32[40, 5] = add %a, %b\n%3: f32[40, 5] = exp %2\nreturn %3\n".into(),
        false,
    ));
    cases.push((
        "exp f64[300]".into(),
        "param %a: f64[300]\n%1: f64[300] = exp %a\nreturn %1\n".into(),
        false,
    ));
    cases.push((
        "sin f32[300]".into(),
        "param %a: f32[300]\n%1: f32[300] = sin %a\nreturn %1\n".into(),
        false,
    ));
    check(&cases);
}

/// Sites nested, shared, fused with other roots, under views and broadcasts.
#[test]
fn sites_in_every_position() {
    let n = 300;
    let p2 = |body: &str| format!("param %a: f32[{n}]\nparam %b: f32[{n}]\n{body}");
    let cases: Vec<(String, String, bool)> = vec![
        (
            "sigmoid(a) * b".into(),
            p2(&format!("%2: f32[{n}] = sigmoid %a\n%3: f32[{n}] = mul %2, %b\nreturn %3\n")),
            true,
        ),
        (
            "tanh(exp(a) + b): two levels".into(),
            p2(&format!(
                "%2: f32[{n}] = exp %a\n%3: f32[{n}] = add %2, %b\n%4: f32[{n}] = tanh %3\nreturn %4\n"
            )),
            true,
        ),
        (
            "exp(a) used twice, log(exp(a) * b) and erf(exp(a))".into(),
            p2(&format!(
                "%2: f32[{n}] = exp %a\n%3: f32[{n}] = mul %2, %b\n%4: f32[{n}] = log %3\n\
                 %5: f32[{n}] = erf %2\n%6: f32[{n}] = add %4, %5\n%7: f32[{n}] = sub %6, %2\nreturn %7\n"
            )),
            true,
        ),
        (
            "two outputs, one reading the other (fused roots)".into(),
            p2(&format!(
                "%2: f32[{n}] = sigmoid %a\n%3: f32[{n}] = mul %2, %b\n%4: f32[{n}] = tanh %3\n\
                 %5: f32[{n}] = add %4, %a\nreturn %5, %3\n"
            )),
            true,
        ),
        (
            "a site under a slice (another index) next to a wide one".into(),
            format!(
                "param %a: f32[{}]\n%1: f32[{}] = exp %a\n%2: f32[{n}] = slice %1, starts=[1], stops=[{}], steps=[1]\n\
                 %3: f32[{n}] = slice %a, starts=[0], stops=[{n}], steps=[1]\n%4: f32[{n}] = tanh %3\n\
                 %5: f32[{n}] = mul %2, %4\nreturn %5\n",
                n + 1,
                n + 1,
                n + 1
            ),
            true,
        ),
        (
            "a transposed argument".into(),
            "param %a: f32[40, 30]\n%1: f32[30, 40] = permute %a, perm=[1, 0]\n%2: f32[30, 40] = sigmoid %1\nreturn %2\n".into(),
            true,
        ),
        (
            "a broadcast site (exp of a row vector, used by every row)".into(),
            "param %a: f32[20, 64]\nparam %b: f32[64]\n%2: f32[64] = exp %b\n%3: f32[20, 64] = mul %a, %2\n%4: f32[20, 64] = tanh %3\nreturn %4\n".into(),
            true,
        ),
        (
            "where with a transcendental compare".into(),
            p2(&format!(
                "%2: f32[{n}] = exp %a\n%3: f32[] = constant 1.5\n%4: bool[{n}] = gt %2, %3\n\
                 %5: f32[{n}] = log %b\n%6: f32[{n}] = where %4, %2, %5\nreturn %6\n"
            )),
            true,
        ),
        (
            "softmax rows of 1000".into(),
            "param %x: f32[7, 1000]\n%1: f32[7, 1] = reduce_max %x, axes=[1], keepdim=true\n\
             %2: f32[7, 1000] = sub %x, %1\n%3: f32[7, 1000] = exp %2\n\
             %4: f32[7, 1] = reduce_sum %3, axes=[1], keepdim=true\n\
             %5: f32[7, 1000] = div %3, %4\nreturn %5\n"
                .into(),
            true,
        ),
        (
            // Two wide loops in one row group, the second after a reduction: each saves only
            // the row index (the loops before leave theirs bound, from blocks that do not
            // dominate it; found by `tests/executor`).
            "softmax rows then tanh of the result".into(),
            "param %x: f32[3, 300]\n%1: f32[3, 1] = reduce_max %x, axes=[1], keepdim=true\n\
             %2: f32[3, 300] = sub %x, %1\n%3: f32[3, 300] = exp %2\n\
             %4: f32[3, 1] = reduce_sum %3, axes=[1], keepdim=true\n\
             %5: f32[3, 300] = div %3, %4\n%6: f32[3, 300] = tanh %5\n\
             %7: f32[3, 300] = mul %6, %x\nreturn %7\n"
                .into(),
            true,
        ),
        (
            // A row group of two loops with sites; the rows are a split loop whose index the
            // second loop must not take from the first (`tests/executor`'s model).
            "two wide loops over rows".into(),
            "param %x: f32[2, 71]\nparam %w: f32[71]\n%2: f32[2, 71] = mul %x, %w\n%3: f32[] = constant 0.5\n%4: f32[2, 71] = add %2, %3\n%5: f32[2, 71] = tanh %4\n%6: f32[] = constant 3.0\n%7: f32[2, 71] = mul %5, %6\n%8: f32[2, 71] = sigmoid %7\n%9: f32[2, 71] = abs %x\n%10: f32[2, 71] = sqrt %9\n%11: f32[2, 71] = add %8, %10\n%12: f32[] = constant -0.5\n%13: f32[2, 71] = mul %x, %12\n%14: f32[2, 71] = exp %13\n%15: f32[] = constant 1.0\n%16: f32[2, 71] = add %11, %15\n%17: f32[2, 71] = div %14, %16\n%18: f32[] = constant 0.0\n%19: bool[2, 71] = gt %x, %18\n%20: f32[2, 71] = where %19, %11, %17\nreturn %20\n".into(),
            true,
        ),
        (
            // The exp is computed inside the sum's loop (only the sum reads it).
            "log_softmax rows of 130".into(),
            "param %x: f32[9, 130]\n%1: f32[9, 1] = reduce_max %x, axes=[1], keepdim=true\n\
             %2: f32[9, 130] = sub %x, %1\n%3: f32[9, 130] = exp %2\n\
             %4: f32[9, 1] = reduce_sum %3, axes=[1], keepdim=true\n%5: f32[9, 1] = log %4\n\
             %6: f32[9, 130] = sub %2, %5\nreturn %6\n"
                .into(),
            true,
        ),
        (
            "a reduction of a transcendental (inside the reduce loop: not wide)".into(),
            "param %x: f32[300, 40]\n%1: f32[300, 40] = exp %x\n%2: f32[40] = reduce_sum %1, axes=[0], keepdim=false\nreturn %2\n".into(),
            false,
        ),
    ];
    let mut cases = cases;
    // Five levels: wide over a large loop (one vector per phase iteration), not over a small
    // one (the compile would cost more than the runs save).
    for (n, wide) in [(1000, false), (40_003, true), (40_000, true)] {
        let mut src = format!("param %a: f32[{n}]\n%c: f32[] = constant 0.5\n");
        let mut last = "%a".to_string();
        for (i, f) in ["tanh", "exp", "sigmoid", "log", "erf"].iter().enumerate() {
            src.push_str(&format!(
                "%s{i}: f32[{n}] = {f} {last}\n%m{i}: f32[{n}] = mul %s{i}, %c\n"
            ));
            last = format!("%m{i}");
        }
        src.push_str(&format!("return {last}\n"));
        cases.push((format!("five levels over {n}"), src, wide));
    }
    check(&cases);
}

/// Reductions over the innermost dim of a value with sites: the same elements into the same
/// accumulators in the same order, for every reduction and row length (chunk and step seams).
#[test]
fn inner_reductions() {
    let mut cases = Vec::new();
    for op in [
        "reduce_sum",
        "reduce_max",
        "reduce_min",
        "reduce_mean",
        "reduce_prod",
    ] {
        for n in [15, 16, 17, 31, 255, 256, 257, 271, 512, 1000, 1027] {
            cases.push((
                format!("{op} of tanh(exp(x) * 0.5) over rows of {n}"),
                format!(
                    "param %x: f32[3, {n}]\n%1: f32[3, {n}] = exp %x\n%2: f32[] = constant 0.5\n\
                     %3: f32[3, {n}] = mul %1, %2\n%4: f32[3, {n}] = tanh %3\n\
                     %5: f32[3] = {op} %4, axes=[1], keepdim=false\nreturn %5\n"
                ),
                n >= 16,
            ));
        }
    }
    // A full reduction of a flat tensor, and one of a stored value (loaded, not computed).
    cases.push((
        "sum of sigmoid over 5000".into(),
        "param %x: f32[5000]\n%1: f32[5000] = sigmoid %x\n%2: f32[] = reduce_sum %1, axes=[0], keepdim=false\nreturn %2\n".into(),
        true,
    ));
    cases.push((
        "sum of a stored exp".into(),
        "param %x: f32[700]\n%1: f32[700] = exp %x\n%2: f32[] = reduce_sum %1, axes=[0], keepdim=false\nreturn %2, %1\n".into(),
        true,
    ));
    check(&cases);
}

/// A donated input whose buffer the wide call writes in place (the root is the top site and
/// its argument the donated parameter, at the same elements), and one a later phase reads.
#[test]
fn donated_inputs_updated_in_place() {
    let cases = [
        "param %a: f32[1000]\n%1: f32[1000] = tanh %a\nreturn %1\n",
        "param %a: f32[3, 300]\nparam %b: f32[3, 300]\n%2: f32[3, 300] = sigmoid %a\n\
         %3: f32[3, 300] = mul %2, %b\n%4: f32[3, 300] = exp %3\nreturn %4\n",
        "param %a: f32[777]\nparam %b: f32[777]\n%2: f32[777] = log %a\n\
         %3: f32[777] = mul %2, %b\n%4: f32[777] = add %3, %a\nreturn %4\n",
    ];
    for src in cases {
        let p = text::parse(src).unwrap();
        let inputs = random_inputs(&p, MIXED, &mut Rng::new(3));
        let ins: Vec<&Tensor> = inputs.iter().collect();
        let four = with(&p, false).run(&ins).unwrap();
        let wide = with(&p, true);
        assert!(uses_wide(&wide) || !host_wide(), "{src}");
        if src.contains("tanh") && host_wide() {
            // One call per chunk from the parameter's buffer into the output's: no phase.
            assert!(!wide.clif().contains("store"), "{}", wide.clif());
        }
        let q = wide.aliasable()[0].expect("the output may take an input's buffer");
        let addr = inputs[q].buffer().as_ptr();
        let got = wide
            .run_donating(inputs.into_iter().map(Input::Donated).collect())
            .unwrap();
        assert_eq!(got[0].buffer().as_ptr(), addr, "not in place: {src}");
        assert_eq!(bytes(&got[0]), bytes(&four[0]), "{src}");
    }
}

/// Arguments `x ± k`, `k - x`, `x · k` of a contiguous buffer `x` and a value `k` that is the
/// same for the whole chunk (a constant, a row's max) go to the affine functions directly: no
/// phase copies them into the chunk buffer (such a copy is the only aligned store a kernel
/// emits), and the results are the four-lane ones.
#[test]
fn affine_arguments_need_no_phase() {
    if !host_wide() {
        return;
    }
    let softmax = "param %x: f32[6, 700]\n%1: f32[6, 1] = reduce_max %x, axes=[1], keepdim=true\n\
                   %2: f32[6, 700] = sub %x, %1\n%3: f32[6, 700] = exp %2\n\
                   %4: f32[6, 1] = reduce_sum %3, axes=[1], keepdim=true\n\
                   %5: f32[6, 700] = div %3, %4\nreturn %5\n";
    let mut cases = vec![softmax.to_string()];
    for (f, body) in [
        ("erf", "%2: f32[900] = mul %x, %c\n"),
        ("tanh", "%2: f32[900] = mul %c, %x\n"),
        ("exp", "%2: f32[900] = sub %c, %x\n"),
        ("log", "%2: f32[900] = add %x, %c\n"),
        ("sigmoid", "%2: f32[900] = sub %x, %s\n"),
    ] {
        cases.push(format!(
            "param %x: f32[900]\nparam %s: f32[]\n%c: f32[] = constant 0.7071068\n{body}\
             %3: f32[900] = {f} %2\nreturn %3\n"
        ));
    }
    for (i, src) in cases.iter().enumerate() {
        let p = text::parse(src).unwrap();
        let c = with(&p, true);
        assert!(
            !c.clif().contains("store notrap aligned"),
            "{src}\n{}",
            c.clif()
        );
        let inputs = random_inputs(&p, MIXED, &mut Rng::new(i as u64));
        assert!(same_bytes(&p, &inputs).unwrap(), "{src}");
    }
}

/// A root that is the top site times a buffer read contiguously (`sigmoid(a) · b`, either
/// operand order, `b` broadcast along rows) is written by the call itself, which multiplies
/// after the function: no phase (no four-lane load), the four-lane bytes, also with the output
/// written into a donated input's buffer (the first parameter's: in the first case `b`, the
/// multiplier, which the call reads in each group of lanes before writing it). A transposed
/// `b` is not contiguous and takes the last phase.
#[test]
fn product_with_a_buffer_needs_no_phase() {
    if !host_wide() {
        return;
    }
    let direct = [
        "param %b: f32[1001]\nparam %a: f32[1001]\n%2: f32[1001] = sigmoid %a\n\
         %3: f32[1001] = mul %2, %b\nreturn %3\n",
        "param %a: f32[5, 300]\nparam %b: f32[5, 300]\n%c: f32[] = constant 0.5\n\
         %1: f32[5, 300] = mul %a, %c\n%2: f32[5, 300] = tanh %1\n\
         %3: f32[5, 300] = mul %b, %2\nreturn %3\n",
        "param %a: f32[4, 257]\nparam %b: f32[1, 257]\n%2: f32[4, 257] = exp %a\n\
         %3: f32[4, 257] = mul %2, %b\nreturn %3\n",
    ];
    for (i, src) in direct.iter().enumerate() {
        let p = text::parse(src).unwrap();
        let c = with(&p, true);
        assert!(!c.clif().contains("load.f32x4"), "{src}\n{}", c.clif());
        let inputs = random_inputs(&p, MIXED, &mut Rng::new(40 + i as u64));
        assert!(same_bytes(&p, &inputs).unwrap(), "{src}");
        let four = with(&p, false)
            .run(&inputs.iter().collect::<Vec<_>>())
            .unwrap();
        assert_eq!(c.aliasable(), &[Some(0)], "{src}");
        // A copy of its own: a tensor sharing its buffer cannot be written.
        let own = Tensor::from_slice(
            inputs[0].as_slice::<f32>().unwrap(),
            inputs[0].shape().clone(),
        )
        .unwrap();
        let addr = own.buffer().as_ptr();
        let mut given = vec![Input::Donated(own)];
        given.extend(inputs[1..].iter().map(Input::Borrowed));
        let got = c.run_donating(given).unwrap();
        assert_eq!(got[0].buffer().as_ptr(), addr, "not in place: {src}");
        assert_eq!(bytes(&got[0]), bytes(&four[0]), "in place: {src}");
    }
    let transposed = "param %a: f32[64, 64]\nparam %b: f32[64, 64]\n\
                      %1: f32[64, 64] = permute %b, perm=[1, 0]\n%2: f32[64, 64] = sigmoid %a\n\
                      %3: f32[64, 64] = mul %2, %1\nreturn %3\n";
    let p = text::parse(transposed).unwrap();
    assert!(with(&p, true).clif().contains("load.f32x4"), "{transposed}");
    let inputs = random_inputs(&p, MIXED, &mut Rng::new(9));
    assert!(same_bytes(&p, &inputs).unwrap(), "{transposed}");
}

/// The instruction in `clif` that defines the prefetch hint of each wide call (the seventh
/// argument of each `call_indirect` with eight), as text.
fn prefetch_hints(clif: &str) -> Vec<String> {
    let defs: std::collections::HashMap<&str, &str> = clif
        .lines()
        .filter_map(|l| {
            let (lhs, rhs) = l.trim().split_once(" = ")?;
            Some((lhs.trim(), rhs))
        })
        .collect();
    clif.lines()
        .filter_map(|l| {
            let args = l
                .split_once("call_indirect")?
                .1
                .split_once('(')?
                .1
                .split_once(')')?
                .0;
            let args: Vec<&str> = args.split(", ").collect();
            (args.len() == 8).then(|| defs.get(args[6]).unwrap_or(&"?").to_string())
        })
        .collect()
}

/// A wide call that reads rows of a parameter inside a row loop prefetches the next row's
/// columns (a `select` between that address and null for the last row); one over a flat
/// tensor, or over a row scratch, passes null. The values do not change (the hint is never
/// read): every case also runs against the four-lane bytes.
#[test]
fn next_rows_prefetched_by_row_loops() {
    if !host_wide() {
        return;
    }
    let softmax = "param %x: f32[6, 700]\n%1: f32[6, 1] = reduce_max %x, axes=[1], keepdim=true\n\
                   %2: f32[6, 700] = sub %x, %1\n%3: f32[6, 700] = exp %2\n\
                   %4: f32[6, 1] = reduce_sum %3, axes=[1], keepdim=true\n\
                   %5: f32[6, 1] = reciprocal %4\n%6: f32[6, 700] = mul %3, %5\nreturn %6\n";
    let flat = "param %x: f32[5000]\n%1: f32[5000] = tanh %x\nreturn %1\n";
    for (src, hinted) in [(softmax, true), (flat, false)] {
        let p = text::parse(src).unwrap();
        let c = with(&p, true);
        let hints = prefetch_hints(&c.clif());
        assert!(!hints.is_empty(), "{src}\n{}", c.clif());
        let selects = hints.iter().filter(|h| h.starts_with("select")).count();
        let nulls = hints
            .iter()
            .filter(|h| h.starts_with("iconst.i64 0"))
            .count();
        if hinted {
            assert!(selects > 0, "{hints:?}\n{}", c.clif());
        } else {
            assert_eq!(nulls, hints.len(), "{hints:?}\n{}", c.clif());
        }
        let inputs = random_inputs(&p, MIXED, &mut Rng::new(5));
        assert!(same_bytes(&p, &inputs).unwrap(), "{src}");
    }
}

/// A row group whose loop kernel's wide calls write a row (`exp(x - max)` into its scratch)
/// and whose next kernel sums that row over its last dim (softmax, a mean of `sigmoid`), or
/// an inner sum whose argument is one wide site (log-softmax's `sum(exp(x - max))`): the
/// calls sum as they write (into a 68-byte state slot), and the sum kernel only combines
/// their state. Every row length
/// around the chunk, 16 and 4 seams gives the four-lane bytes, serial and split over rows.
#[test]
fn sums_of_a_written_row_come_from_the_calls() {
    if !host_wide() {
        return;
    }
    let mut cases = Vec::new();
    for n in [
        16, 17, 19, 20, 31, 32, 33, 255, 256, 257, 260, 271, 512, 700, 1024, 1031,
    ] {
        cases.push(format!(
            "param %x: f32[5, {n}]\n%1: f32[5, 1] = reduce_max %x, axes=[1], keepdim=true\n\
             %2: f32[5, {n}] = sub %x, %1\n%3: f32[5, {n}] = exp %2\n\
             %4: f32[5, 1] = reduce_sum %3, axes=[1], keepdim=true\n\
             %5: f32[5, 1] = reciprocal %4\n%6: f32[5, {n}] = mul %3, %5\nreturn %6, %4\n"
        ));
        cases.push(format!(
            "param %x: f32[3, {n}]\n%1: f32[3, {n}] = sigmoid %x\n\
             %2: f32[3, 1] = reduce_mean %1, axes=[1], keepdim=true\n\
             %3: f32[3, {n}] = sub %1, %2\nreturn %3, %2\n"
        ));
        // The site inside the sum's own loop (log-softmax's row sum): no phase accumulates.
        cases.push(format!(
            "param %x: f32[4, {n}]\n%1: f32[4, 1] = reduce_max %x, axes=[1], keepdim=true\n\
             %2: f32[4, {n}] = sub %x, %1\n%3: f32[4, {n}] = exp %2\n\
             %4: f32[4] = reduce_sum %3, axes=[1], keepdim=false\nreturn %4\n"
        ));
        cases.push(format!(
            "param %x: f32[2, {n}]\n%1: f32[2, {n}] = tanh %x\n\
             %2: f32[2] = reduce_mean %1, axes=[1], keepdim=false\nreturn %2\n"
        ));
        // Rows of rank 3: the group runs over [2, 3] (one chunked loop per row).
        cases.push(format!(
            "param %x: f32[2, 3, {n}]\n%1: f32[2, 3, 1] = reduce_max %x, axes=[2], keepdim=true\n\
             %2: f32[2, 3, {n}] = sub %x, %1\n%3: f32[2, 3, {n}] = exp %2\n\
             %4: f32[2, 3, 1] = reduce_sum %3, axes=[2], keepdim=true\n\
             %5: f32[2, 3, 1] = reciprocal %4\n%6: f32[2, 3, {n}] = mul %3, %5\nreturn %6, %4\n"
        ));
    }
    for (i, src) in cases.iter().enumerate() {
        let p = text::parse(src).unwrap();
        let c = with(&p, true);
        assert!(
            c.clif().contains("explicit_slot 68"),
            "the sum does not read the calls' state:\n{src}\n{}",
            c.clif()
        );
        for threads in [1, 2] {
            set_threads(threads);
            set_kernel_parallel_work(if threads == 1 {
                KERNEL_PARALLEL_WORK
            } else {
                0
            });
            let inputs = random_inputs(&p, MIXED, &mut Rng::new(60 + i as u64));
            let r = same_bytes(&p, &inputs);
            set_threads(1);
            set_kernel_parallel_work(KERNEL_PARALLEL_WORK);
            assert!(r.unwrap(), "{src}");
        }
    }
}

/// Split over threads, every chunk of every part gives the serial bytes.
#[test]
fn split_over_threads() {
    let src = "param %a: f32[4099]\nparam %b: f32[4099]\n%2: f32[4099] = sigmoid %a\n\
               %3: f32[4099] = mul %2, %b\n%4: f32[4099] = tanh %3\nreturn %4\n";
    let p = text::parse(src).unwrap();
    let inputs = random_inputs(&p, MIXED, &mut Rng::new(7));
    let ins: Vec<&Tensor> = inputs.iter().collect();
    let four = with(&p, false).run(&ins).unwrap();
    let wide = with(&p, true);
    let mut failures = Vec::new();
    for t in 1..=3 {
        set_threads(t);
        set_kernel_parallel_work(0);
        let got = wide.run(&ins);
        set_threads(0);
        set_kernel_parallel_work(KERNEL_PARALLEL_WORK);
        if bytes(&got.unwrap()[0]) != bytes(&four[0]) {
            failures.push(t);
        }
    }
    assert!(failures.is_empty(), "differs with {failures:?} threads");
}

/// A random program of elementwise ops over one shape large enough to go wide (sites nested
/// up to a few levels, shared, several outputs so that fused roots read each other, a
/// broadcast operand, and sometimes a row reduction or a transpose between them).
fn random_wide_program(rng: &mut Rng) -> String {
    let rows = 1 + rng.below(4);
    let n = 16 + rng.below(600);
    let full = format!("f32[{rows}, {n}]");
    let mut src = format!(
        "param %a: {full}\nparam %b: {full}\nparam %r: f32[{n}]\n%h: f32[] = constant 0.5\n"
    );
    let mut vals = vec!["%a".to_string(), "%b".to_string()];
    let unary = [
        "exp", "log", "tanh", "sigmoid", "erf", "sin", "abs", "neg", "sqrt",
    ];
    let binary = ["add", "mul", "sub", "div", "max"];
    for i in 0..3 + rng.below(8) {
        let v = format!("%v{i}");
        let x = rng.pick(&vals);
        let line = match rng.below(10) {
            0..=4 => format!("{v}: {full} = {} {x}\n", rng.pick(&unary)),
            5..=6 => format!(
                "{v}: {full} = {} {x}, {}\n",
                rng.pick(&binary),
                rng.pick(&vals)
            ),
            7 => format!("{v}: {full} = {} {x}, %r\n", rng.pick(&binary)),
            8 => format!("{v}: {full} = mul {x}, %h\n"),
            _ if rows > 1 => format!(
                "{v}_m: f32[{rows}, 1] = reduce_max {x}, axes=[1], keepdim=true\n\
                 {v}: {full} = sub {x}, {v}_m\n"
            ),
            _ => format!("{v}: {full} = tanh {x}\n"),
        };
        src.push_str(&line);
        vals.push(v);
    }
    let outs: Vec<String> = (0..1 + rng.below(3))
        .map(|_| rng.pick(&vals[2..]))
        .collect();
    src.push_str(&format!("return {}\n", outs.join(", ")));
    src
}

/// Programs of [`random_wide_program`]: the same bytes either way.
#[test]
fn random_wide_programs() {
    let cases: u64 = u64::from(lazyjit_lowering::testing::diff_cases());
    let mut rng = Rng::new(0x5749_4445);
    let mut failures = Vec::new();
    let mut wide = 0;
    for case in 0..cases {
        let src = random_wide_program(&mut rng);
        let p = text::parse(&src).unwrap_or_else(|e| panic!("case {case}: {e}\n{src}"));
        let inputs = random_inputs(&p, MIXED, &mut Rng::new(case));
        match same_bytes(&p, &inputs) {
            Ok(used) => wide += used as usize,
            Err(m) => failures.push(format!("case {case}: {m}\n{src}")),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
    // Nearly every program has a site in a loop of 16 or more.
    assert!(
        wide as u64 >= cases / 2,
        "{wide} of {cases} programs used wide math"
    );
}

/// Random programs of the differential tests' generator: the same bytes either way.
#[test]
fn random_programs() {
    let cases: u64 = u64::from(lazyjit_lowering::testing::diff_cases());
    let mut rng = Rng::new(0x7769_6465);
    let mut failures = Vec::new();
    let mut wide = 0;
    for case in 0..cases {
        let spec = Spec::random(&mut rng);
        let (p, inputs, _) = build(&spec);
        match same_bytes(&p, &inputs) {
            Ok(used) => wide += used as usize,
            Err(m) => failures.push(format!("case {case}: {m}\n{}", text::print(&p))),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
    eprintln!("{wide} of {cases} programs used wide math");
}

/// Rows of special patterns for the max / min of a contiguous row: NaN anywhere (the vector
/// part or the tail), zeros of both signs (the result's sign), infinities, subnormals, ties.
fn extremum_rows(n: usize, rng: &mut Rng) -> Vec<Vec<f32>> {
    let uniform = |rng: &mut Rng, lo: f64, hi: f64| (lo + (hi - lo) * rng.unit()) as f32;
    let plain = |rng: &mut Rng| -> Vec<f32> { (0..n).map(|_| uniform(rng, -8.0, 8.0)).collect() };
    let mut rows = vec![
        plain(rng),
        vec![f32::NEG_INFINITY; n],
        vec![f32::INFINITY; n],
    ];
    for at in [0, n / 2, n - 1] {
        let mut r = plain(rng);
        r[at] = f32::from_bits(0x7fc0_1234);
        rows.push(r);
        let mut r = plain(rng);
        r[at] = f32::INFINITY;
        rows.push(r);
        let mut r = plain(rng);
        r[at] = f32::NEG_INFINITY;
        rows.push(r);
    }
    // Zeros: all -0, all +0, mixed with negatives (max is a zero) and positives (min is).
    rows.push(vec![-0.0; n]);
    rows.push(vec![0.0; n]);
    for at in [0, n / 3, n - 1] {
        let mut neg: Vec<f32> = (0..n).map(|_| -uniform(rng, 0.5, 4.0)).collect();
        neg[at] = -0.0;
        rows.push(neg.clone());
        neg[(at + 1) % n] = 0.0;
        rows.push(neg);
        let mut pos: Vec<f32> = (0..n).map(|_| uniform(rng, 0.5, 4.0)).collect();
        pos[at] = 0.0;
        rows.push(pos.clone());
        pos[(at + 1) % n] = -0.0;
        rows.push(pos);
    }
    rows.push((0..n).map(|i| f32::from_bits(1 + i as u32)).collect()); // subnormals
    rows.push((0..n).map(|i| (i % 3) as f32).collect()); // ties
    rows
}

/// A row's max / min read contiguously is one call to the host's wide function
/// (`math/wide/extremum.rs`), which must give the four-lane loop's bits (and the reference's
/// values).
#[test]
fn row_extremum_by_one_call() {
    let mut rng = Rng::new(77);
    let wide_host = host_wide();
    for n in [63, 64, 65, 79, 80, 100, 127, 128, 129, 200, 1000, 1031] {
        let rows = extremum_rows(n, &mut rng);
        let r = rows.len();
        let data: Vec<f32> = rows.concat();
        let x = Tensor::from_vec(data, vec![r, n]).unwrap();
        for op in ["reduce_max", "reduce_min"] {
            let src = format!(
                "param %x: f32[{r}, {n}]\n%1: f32[{r}] = {op} %x, axes=[1], keepdim=false\nreturn %1\n"
            );
            let p = text::parse(&src).unwrap();
            let four = with(&p, false).run(&[&x]).unwrap();
            let wide = with(&p, true);
            assert_eq!(
                wide.clif().contains("call_indirect"),
                wide_host && n >= 64,
                "{op} over {n}: one call per row"
            );
            let got = wide.run(&[&x]).unwrap();
            let want = lazyjit_lowering::reference::run(&p, &[&x]).unwrap();
            assert_eq!(
                bytes(&got[0]),
                bytes(&four[0]),
                "{op} over {n}: wide vs four lanes"
            );
            // The reference keeps a NaN's payload, the kernels store the canonical NaN.
            assert_eq!(
                first_difference(&got[0], &want[0]),
                None,
                "{op} over {n}: wide vs reference"
            );
        }
    }
}
