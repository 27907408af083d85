//! Differential tests: every op, and random valid programs, run through the JIT
//! (`codegen::compile` + `Compiled::run` / `run_into`) and through the reference interpreter
//! (`reference::run`, the oracle); the results must agree within the tolerances below.
//!
//! # Tolerances
//!
//! `j` is the JIT's element, `r` the reference's. Every comparison first requires: `r` is NaN
//! ⇔ `j` is NaN (NaN payloads and signs are not compared: the reference returns the first NaN
//! operand, Cranelift's `fmin`/`fmax` a canonical NaN), and if `r` is ±inf then `j == r`.
//!
//! * **Exact** (`Tol::Exact`): the same bytes, except that any NaN equals any NaN. Used for every
//!   integer and bool result, and for float ops that are exactly rounded (or exact) in both
//!   implementations: `add sub mul div sqrt rsqrt reciprocal neg abs floor ceil round sign relu
//!   max min`, comparisons, `where`, every `cast`, `constant`, `iota`, all layout ops (reshape,
//!   permute, expand, slice, concat, pad), `gather`, `index_select`, `reduce_max`/`reduce_min`,
//!   `argmax`/`argmin`, integer reductions and integer `matmul` (wrapping arithmetic is
//!   associative), and float reductions over at most one element. The sign of zero is compared
//!   too: `max(-0.0, +0.0)`, `relu(-0.0)` and `sign(-0.0)` must be `+0.0` as documented.
//! * **Bitwise** (`Tol::Bits`): the same bytes, NaN payloads and signs included, for data
//!   movement (layout ops, `where`, `gather`, `index_select`) and `neg`/`abs`, which the format
//!   defines to move or flip only bits.
//! * **Transcendental ops** (`exp log tanh sigmoid erf sin cos`, and `pow`): `f32` uses the
//!   bounds documented in `lowering/src/codegen/math/mod.rs` (the table `docs/math.md`
//!   expands): exp/log 2 ulp, tanh/sigmoid/erf 3 ulp, sin/cos 2e-7 absolute, all against the
//!   exact function. The reference (Rust `std`/`libm` in `f32`) is itself off by up to 1 ulp,
//!   and its `sigmoid = 1 / (1 + exp(-x))` rounds three times, so the allowed distance is the
//!   bound + 2 ulp (sigmoid + 3 ulp): exp/log 4 ulp, tanh/erf 5 ulp, sigmoid 6 ulp, sin/cos
//!   2e-7 + 2 ulp, pow 2 ulp (today a call of the same `powf`, so in fact exact). `f64`
//!   (calls of Rust shims): relative 1e-12. Both with an absolute floor of the dtype's smallest
//!   normal number, because results that underflow may legitimately differ (the reference's
//!   sigmoid gives 0 where the JIT's gives a subnormal).
//! * **Float sum and mean.** The JIT reassociates (4 × 4 vector accumulators, then a scalar
//!   tail), the reference folds left to right. Any order of summing `n` terms in floating point
//!   satisfies `|ŝ - s| <= γ(n-1) · Σ|x_i|` with `γ(k) = k·u / (1 - k·u)` and `u` the unit
//!   roundoff (2^-24 for f32, 2^-53 for f64) (Higham, *Accuracy and Stability of Numerical
//!   Algorithms*, §4.2). Both results obey it, so `|j - r| <= 2·γ(n-1)·Σ|x_i|`, with `Σ|x_i|`
//!   computed per output element by the reference in f64. The JIT's mean is
//!   `sum · fl(1/n)`, the reference's `sum / n`: `|j - r| <= (sum bound)/n + 3 ulp(r)`.
//! * **Float prod** is tested with inputs in `{±0.5, ±1, ±2}` plus `0, -0, ±inf, NaN`, whose
//!   products are exact in every order (no rounding, no overflow at these sizes), and then
//!   compared exactly. The same inputs make sums exact (all partial sums are multiples of 0.5
//!   far below 2^24), so sums are compared exactly there too, `-0.0` included.
//! * **Float matmul** (FMA, blocked): `|j - r| <= 2·γ(k)·Σ_p |a_ip|·|b_pj|`, same argument.
//! * **Random programs** (`random_programs_match_reference`): values computed only by exact
//!   ops are compared exactly. Values depending on an approximate op (f32/f64 transcendental,
//!   float sum/mean/prod over several elements, float matmul) are *tainted*; the generator
//!   tracks for every float value a bound `mag` on its finite elements and, for tainted values,
//!   an absolute error bound `err` with the rules of forward error analysis (`err(a+b) =
//!   err(a) + err(b) + 2u(mag a + mag b)`, `err(a·b) = mag a·err b + mag b·err a + err a·err b +
//!   2u·mag a·mag b`, `err(exp x) = e^mag·err x + 5 ulp`, sums as above, ...), and compares
//!   tainted outputs with `|j - r| <= err`. Float reductions over at most two elements are
//!   order-free, hence exact; `reduce_prod` over more than two float elements is not generated
//!   (underflow makes products order-dependent beyond any useful bound), the per-op tests cover
//!   it. Ops whose result is discontinuous or ill-conditioned
//!   in their operand (comparisons, floor/ceil/round/sign, casts to int/bool, argmax/argmin,
//!   div, log, sqrt, pow, ...) are never applied to tainted values, so one rounding difference
//!   can never flip a comparison.
//!
//! No sign-of-zero exception was needed: the JIT's max/min (binary, reductions, relu) and sign
//! agree with the reference bit for bit on `±0.0`.
//!
//! Every compile uses `CompileOptions { verify_clif: true, .. }` (the random programs use
//! `OptLevel::None` for half the cases, `Speed` for the others). Each program is run twice: by
//! `run`, and by `run_into` with output tensors pre-filled with garbage, which must give the
//! same bytes (every output element is written; cached intermediate buffers are reused).
//! `LAZYJIT_DIFF_CASES=N` sets the number of random programs (default 300, about a second).
//!
//! # Errors
//!
//! Out-of-range `gather` / `index_select` indices (negative, `== size`, huge, of i32 and i64
//! index tensors; in a gather that is an output, fused into an elementwise op, fused into a
//! reduction, dead, read only through a slice, or with an empty result) must give the same
//! `Error::IndexOutOfRange` (op, value, index, axis, size) as the reference — the first bad
//! index in row-major order — and never crash; the compiled program must keep working
//! afterwards. Wrong input count, dtype or shape is `Error::Input`, and so are wrong output
//! tensors for `run_into`.
//!
//! The regression tests at the end (`regression_*`) are the minimised programs of bugs these
//! tests found; each names the bug it guards.

use lazyjit_lowering::codegen::{compile, CompileOptions, OptLevel};
use lazyjit_lowering::{
    reference, text, BinaryOp, DType, Error, Op, Program, ReduceOp, Scalar, Shape, Tensor,
    TensorType, UnaryOp, ValueId,
};
use proptest::prelude::*;

// ======================================================================= random numbers

/// SplitMix64: deterministic inputs from a seed (the tests must not depend on `rand`).
#[derive(Clone, Debug)]
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        Rng(seed ^ 0x2545_F491_4F6C_DD1D)
    }

    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (0 when `n == 0`).
    fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next() % n as u64) as usize
        }
    }

    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }

    fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }

    fn pick<T: Clone>(&mut self, xs: &[T]) -> T {
        xs[self.below(xs.len())].clone()
    }

    /// Uniform integer in `lo..=hi`.
    fn int_in(&mut self, lo: i64, hi: i64) -> i64 {
        let span = (hi as i128 - lo as i128 + 1) as u128;
        (lo as i128 + (self.next() as u128 % span) as i128) as i64
    }
}

// ======================================================================= inputs

/// How to fill an input tensor.
#[derive(Clone, Copy, Debug)]
enum Fill {
    /// Floats uniform in `±mag`, integers uniform in `±max(mag, 5)`; a fraction `special` of
    /// the elements are special values (NaN, ±inf, ±0, subnormals, ties, integer MIN/MAX, ...).
    /// `extreme` adds the largest finite values and 1e30 to the specials.
    Mixed {
        mag: f64,
        special: f64,
        extreme: bool,
    },
    /// Uniform in `lo..hi` (integers: `lo..=hi`).
    Range(f64, f64),
    /// Elements of `{±0.5, ±1, ±2}` (integers `{±1, ±2}`); a fraction `special` of them `0`,
    /// `-0.0`, `±inf` or NaN (integers: 0).
    Pow2 { special: f64 },
}

const MIXED: Fill = Fill::Mixed {
    mag: 4.0,
    special: 0.15,
    extreme: true,
};

fn f32_specials(extreme: bool) -> Vec<f32> {
    let mut v = vec![
        f32::NAN,
        f32::from_bits(0xffc0_0000), // negative NaN
        f32::from_bits(0x7fc0_1234), // NaN with a payload
        f32::INFINITY,
        f32::NEG_INFINITY,
        0.0,
        -0.0,
        f32::from_bits(1),            // smallest subnormal
        -f32::from_bits(0x007f_ffff), // largest subnormal
        f32::MIN_POSITIVE,
        0.5,
        -0.5,
        1.5,
        2.5,
        -2.5,
        1.0,
        -1.0,
        16_777_217.0,
        -123_456.78, // beyond the inline sin/cos range
        1e-30,
    ];
    if extreme {
        v.extend([f32::MAX, f32::MIN, 1e30, -3e38, 2.2e9, -9.3e18]);
    }
    v
}

fn f64_specials(extreme: bool) -> Vec<f64> {
    let mut v = vec![
        f64::NAN,
        f64::from_bits(0xfff8_0000_0000_0000),
        f64::from_bits(0x7ff8_0000_0000_1234),
        f64::INFINITY,
        f64::NEG_INFINITY,
        0.0,
        -0.0,
        f64::from_bits(1),
        -f64::from_bits(0x000f_ffff_ffff_ffff),
        f64::MIN_POSITIVE,
        0.5,
        -0.5,
        1.5,
        2.5,
        -2.5,
        1.0,
        -1.0,
        9_007_199_254_740_993.0,
        -123_456.78,
        1e-300,
        1e-40, // subnormal once cast to f32
    ];
    if extreme {
        v.extend([f64::MAX, f64::MIN, 1e300, 3.5e38, -2.2e9, 9.3e18]);
    }
    v
}

fn int_specials(d: DType) -> Vec<i64> {
    if d == DType::I32 {
        vec![
            i32::MIN as i64,
            i32::MAX as i64,
            i32::MIN as i64 + 1,
            -1,
            0,
            1,
            2,
            -2,
        ]
    } else {
        vec![i64::MIN, i64::MAX, i64::MIN + 1, -1, 0, 1, 2, -2, 1 << 40]
    }
}

fn gen_float(d: DType, fill: Fill, rng: &mut Rng) -> f64 {
    match fill {
        Fill::Mixed {
            mag,
            special,
            extreme,
        } => {
            if rng.chance(special) {
                if d == DType::F32 {
                    rng.pick(&f32_specials(extreme)) as f64
                } else {
                    rng.pick(&f64_specials(extreme))
                }
            } else {
                (rng.unit() * 2.0 - 1.0) * mag
            }
        }
        Fill::Range(lo, hi) => lo + rng.unit() * (hi - lo),
        Fill::Pow2 { special } => {
            if rng.chance(special) {
                rng.pick(&[0.0, -0.0, f64::INFINITY, f64::NEG_INFINITY, f64::NAN])
            } else {
                rng.pick(&[0.5, -0.5, 1.0, -1.0, 2.0, -2.0])
            }
        }
    }
}

fn gen_int(d: DType, fill: Fill, rng: &mut Rng) -> i64 {
    let (min, max) = if d == DType::I32 {
        (i32::MIN as i64, i32::MAX as i64)
    } else {
        (i64::MIN, i64::MAX)
    };
    match fill {
        Fill::Mixed { mag, special, .. } => {
            if rng.chance(special) {
                rng.pick(&int_specials(d))
            } else if rng.chance(0.05) {
                rng.int_in(min, max)
            } else {
                let m = mag.max(5.0) as i64;
                rng.int_in(-m, m)
            }
        }
        Fill::Range(lo, hi) => rng.int_in(lo as i64, hi as i64),
        Fill::Pow2 { special } => {
            if rng.chance(special) {
                0
            } else {
                rng.pick(&[-2, -1, 1, 2])
            }
        }
    }
}

fn random_tensor(ty: &TensorType, fill: Fill, rng: &mut Rng) -> Tensor {
    let n = ty.shape.numel();
    let shape = ty.shape.clone();
    match ty.dtype {
        DType::F32 => Tensor::from_vec(
            shape,
            (0..n)
                .map(|_| gen_float(DType::F32, fill, rng) as f32)
                .collect(),
        ),
        DType::F64 => Tensor::from_vec(
            shape,
            (0..n).map(|_| gen_float(DType::F64, fill, rng)).collect(),
        ),
        DType::I32 => Tensor::from_vec(
            shape,
            (0..n)
                .map(|_| gen_int(DType::I32, fill, rng) as i32)
                .collect(),
        ),
        DType::I64 => Tensor::from_vec(
            shape,
            (0..n).map(|_| gen_int(DType::I64, fill, rng)).collect(),
        ),
        DType::Bool => Tensor::from_vec(shape, (0..n).map(|_| rng.chance(0.5)).collect()),
    }
    .expect("element count matches the shape")
}

/// One random input per parameter of `p`, all filled with `fill`.
fn random_inputs(p: &Program, fill: Fill, rng: &mut Rng) -> Vec<Tensor> {
    p.params
        .iter()
        .map(|q| random_tensor(&q.ty, fill, rng))
        .collect()
}

// ======================================================================= comparison

/// How closely one output must agree; see the module docs.
#[derive(Clone, Debug)]
enum Tol {
    Exact,
    /// The same bytes, NaN payloads and signs included (data movement, `neg`, `abs`).
    Bits,
    /// `|j - r| <= ulps · ulp(r) + abs`.
    Ulps {
        ulps: f64,
        abs: f64,
    },
    /// `|j - r| <= rel · |r| + abs`.
    Rel {
        rel: f64,
        abs: f64,
    },
    /// `|j - r| <= bound[i]` for element `i`.
    Bound(Vec<f64>),
}

/// Distance between `x` and the next representable number of dtype `d` away from zero.
fn ulp(x: f64, d: DType) -> f64 {
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
fn unit_roundoff(d: DType) -> f64 {
    if d == DType::F32 {
        2f64.powi(-24)
    } else {
        2f64.powi(-53)
    }
}

/// `γ(k) = k·u / (1 - k·u)`.
fn gamma(k: usize, d: DType) -> f64 {
    let ku = k as f64 * unit_roundoff(d);
    if ku >= 1.0 {
        f64::INFINITY
    } else {
        ku / (1.0 - ku)
    }
}

fn min_normal(d: DType) -> f64 {
    if d == DType::F32 {
        f32::MIN_POSITIVE as f64
    } else {
        f64::MIN_POSITIVE
    }
}

fn elem_bytes(t: &Tensor, i: usize) -> &[u8] {
    let s = t.dtype().size_bytes();
    &t.buffer().as_bytes()[i * s..(i + 1) * s]
}

fn show_elem(t: &Tensor, i: usize) -> String {
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

fn elem_ok(j: &Tensor, r: &Tensor, i: usize, tol: &Tol) -> bool {
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
fn compare(j: &Tensor, r: &Tensor, tol: &Tol) -> Result<(), String> {
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

fn unravel(mut i: usize, s: &Shape) -> String {
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

fn summary(inputs: &[Tensor]) -> String {
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

fn opts() -> CompileOptions {
    CompileOptions {
        verify_clif: true,
        ..Default::default()
    }
}

/// Fills a tensor's bytes with a pattern no correct output has everywhere (bools get 1, so
/// every byte stays a valid bool).
fn garbage(ty: &TensorType) -> Tensor {
    let mut t = Tensor::zeros(ty.clone()).unwrap();
    match ty.dtype {
        DType::F32 => t
            .as_mut_slice::<f32>()
            .unwrap()
            .fill(f32::from_bits(0xA5A5_A5A5)),
        DType::F64 => t
            .as_mut_slice::<f64>()
            .unwrap()
            .fill(f64::from_bits(0xA5A5_A5A5_A5A5_A5A5)),
        DType::I32 => t.as_mut_slice::<i32>().unwrap().fill(0xA5A5_A5A5u32 as i32),
        DType::I64 => t
            .as_mut_slice::<i64>()
            .unwrap()
            .fill(0xA5A5_A5A5_A5A5_A5A5u64 as i64),
        DType::Bool => t.as_mut_slice::<bool>().unwrap().fill(true),
    }
    t
}

/// Runs `p` through the reference and the JIT (twice: `run` and `run_into` over garbage) and
/// compares output `i` with `tols[i]` (or `tols[0]` for every output when there is one).
fn check(p: &Program, inputs: &[Tensor], tols: &[Tol]) -> Result<(), String> {
    check_with(p, inputs, tols, &opts())
}

/// [`check`] with explicit compile options.
fn check_with(
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
    let mut errs = Vec::new();
    for (i, (j, r)) in jit.iter().zip(&refs).enumerate() {
        let tol = if tols.len() == 1 { &tols[0] } else { &tols[i] };
        if let Err(m) = compare(j, r, tol) {
            errs.push(format!("output {i} ({}): {m}", p.outputs[i]));
        }
    }
    if errs.is_empty() {
        let mut again: Vec<Tensor> = jit.iter().map(|t| garbage(t.ty())).collect();
        match c.run_into(&ins, &mut again) {
            Err(e) => errs.push(format!("run_into failed: {e}")),
            Ok(()) => {
                for (i, (a, b)) in again.iter().zip(&jit).enumerate() {
                    if a.buffer().as_bytes() != b.buffer().as_bytes() {
                        errs.push(format!(
                            "output {i}: run_into over garbage differs from run (an element is \
                             not written, or a cached buffer is stale)"
                        ));
                    }
                }
            }
        }
    }
    if errs.is_empty() {
        Ok(())
    } else {
        Err(fail(errs.join("\n")))
    }
}

/// Panics with every failure message, if there are any.
fn report(fails: Vec<String>) {
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

/// Per output: [`Tol::Bits`] for data movement (layout ops, where, gather, index_select, neg,
/// abs: NaN payloads must survive them), [`Tol::Exact`] for everything else.
fn moves_bitwise(p: &Program) -> Vec<Tol> {
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

// ======================================================================= building programs

fn tt(d: DType, shape: &[usize]) -> TensorType {
    TensorType::new(d, shape.to_vec())
}

/// A program with one parameter per `(dtype, shape)`, named `x0, x1, ...`.
fn with_params(params: &[(DType, &[usize])]) -> (Program, Vec<ValueId>) {
    let mut p = Program::new();
    let vs = params
        .iter()
        .enumerate()
        .map(|(i, (d, s))| p.param(format!("x{i}"), tt(*d, s)))
        .collect();
    (p, vs)
}

fn push(p: &mut Program, op: Op, args: &[ValueId]) -> ValueId {
    let name = op.name();
    p.push(op, args)
        .unwrap_or_else(|e| panic!("test bug: {name}: {e}\n{}", text::print(p)))
}

fn push_typed(p: &mut Program, op: Op, args: &[ValueId], ty: TensorType) -> ValueId {
    let name = op.name();
    p.push_typed(op, args, ty)
        .unwrap_or_else(|e| panic!("test bug: {name}: {e}\n{}", text::print(p)))
}

fn reduce(op: ReduceOp, axes: &[usize], keepdim: bool) -> Op {
    Op::Reduce {
        op,
        axes: axes.to_vec(),
        keepdim,
    }
}

/// Per output element, `Σ|x|` over the elements reduced into it by
/// `reduce(axes, keepdim)` of value `v`, computed by the reference in f64.
fn abs_sum(p: &Program, inputs: &[Tensor], v: ValueId, axes: &[usize], keepdim: bool) -> Vec<f64> {
    let mut q = p.clone();
    q.outputs.clear();
    let shape = q.value_type(v).shape.clone();
    let c = push_typed(&mut q, Op::Cast, &[v], TensorType::new(DType::F64, shape));
    let a = push(&mut q, Op::Unary(UnaryOp::Abs), &[c]);
    let s = push(&mut q, reduce(ReduceOp::Sum, axes, keepdim), &[a]);
    q.output(s);
    let ins: Vec<&Tensor> = inputs.iter().collect();
    reference::run(&q, &ins).expect("Σ|x| program runs")[0].to_f64_vec()
}

/// The tolerance of a float sum or mean (see the module docs); `r` is the reference result.
fn sum_tol(op: ReduceOp, d: DType, n: usize, abs: &[f64], r: &Tensor) -> Tol {
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
fn unary_tol(u: UnaryOp, d: DType) -> Tol {
    let floor = min_normal(d);
    if d == DType::F64 {
        return match u {
            UnaryOp::Exp
            | UnaryOp::Log
            | UnaryOp::Tanh
            | UnaryOp::Sigmoid
            | UnaryOp::Erf
            | UnaryOp::Sin
            | UnaryOp::Cos => Tol::Rel {
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
        UnaryOp::Exp | UnaryOp::Log => ulps(4.0),
        UnaryOp::Tanh | UnaryOp::Erf => ulps(5.0),
        UnaryOp::Sigmoid => ulps(6.0),
        UnaryOp::Sin | UnaryOp::Cos => Tol::Ulps {
            ulps: 2.0,
            abs: 2e-7,
        },
        UnaryOp::Neg | UnaryOp::Abs => Tol::Bits,
        _ => Tol::Exact,
    }
}

fn binary_tol(b: BinaryOp, d: DType) -> Tol {
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

/// Lengths that exercise vector bodies and scalar tails, and shapes with size-0 / size-1 dims.
const SHAPES: &[&[usize]] = &[
    &[],
    &[1],
    &[3],
    &[4],
    &[5],
    &[7],
    &[13],
    &[17],
    &[33],
    &[1023],
    &[0],
    &[2, 0, 3],
    &[3, 5],
    &[4, 1, 7],
    &[2, 3, 8],
];

// ======================================================================= elementwise ops

#[test]
fn unary_ops_every_dtype() {
    let mut fails = Vec::new();
    let mut rng = Rng::new(1);
    for d in DType::ALL {
        for shape in SHAPES {
            let (mut p, x) = with_params(&[(d, shape)]);
            let mut tols = Vec::new();
            for u in UnaryOp::ALL.into_iter().filter(|u| u.accepts(d)) {
                let y = push(&mut p, Op::Unary(u), &[x[0]]);
                p.output(y);
                tols.push(unary_tol(u, d));
            }
            for fill in [
                MIXED,
                Fill::Mixed {
                    mag: 100.0,
                    special: 0.05,
                    extreme: false,
                },
            ] {
                let inputs = random_inputs(&p, fill, &mut rng);
                fails.extend(check(&p, &inputs, &tols).err());
            }
        }
    }
    report(fails);
}

/// Shape pairs for broadcasting: `[3,1]` vs `[1,4]`, rank 0 with rank 3, size-0 and size-1
/// dims, odd lengths.
const BCAST: &[(&[usize], &[usize])] = &[
    (&[3, 1], &[1, 4]),
    (&[], &[2, 3, 4]),
    (&[2, 3, 4], &[]),
    (&[], &[]),
    (&[5], &[5]),
    (&[7], &[1]),
    (&[1], &[13]),
    (&[17], &[17]),
    (&[33], &[33]),
    (&[1023], &[1023]),
    (&[0], &[3, 1]),
    (&[3, 1], &[0]),
    (&[2, 0, 3], &[1, 3]),
    (&[4, 1, 6], &[5, 1]),
    (&[2, 3, 5], &[3, 5]),
    (&[6, 1], &[1, 9]),
    (&[1, 1, 8], &[8]),
    (&[3, 4], &[2, 1, 4]),
];

#[test]
fn binary_ops_every_dtype_with_broadcasting() {
    let mut fails = Vec::new();
    let mut rng = Rng::new(2);
    for d in DType::ALL {
        for (sa, sb) in BCAST {
            let (mut p, x) = with_params(&[(d, sa), (d, sb)]);
            let mut tols = Vec::new();
            for b in BinaryOp::ALL.into_iter().filter(|b| b.accepts(d)) {
                let y = push(&mut p, Op::Binary(b), &[x[0], x[1]]);
                p.output(y);
                tols.push(binary_tol(b, d));
            }
            for fill in [
                MIXED,
                Fill::Mixed {
                    mag: 3.0,
                    special: 0.4,
                    extreme: false,
                },
            ] {
                let inputs = random_inputs(&p, fill, &mut rng);
                fails.extend(check(&p, &inputs, &tols).err());
            }
        }
    }
    report(fails);
}

#[test]
fn binary_ops_with_equal_operands_and_signed_zeros() {
    // max/min/comparisons on ±0.0 and NaN pairs, every combination, vector and scalar paths.
    let vals32 = [0.0f32, -0.0, f32::NAN, 1.0, -1.0, f32::INFINITY];
    let mut a = Vec::new();
    let mut b = Vec::new();
    for &x in &vals32 {
        for &y in &vals32 {
            a.push(x);
            b.push(y);
        }
    }
    let n = a.len();
    let mut fails = Vec::new();
    for d in [DType::F32, DType::F64] {
        let (mut p, x) = with_params(&[(d, &[n]), (d, &[n])]);
        for b in BinaryOp::ALL.into_iter().filter(|b| b.accepts(d)) {
            let y = push(&mut p, Op::Binary(b), &[x[0], x[1]]);
            p.output(y);
        }
        for u in [UnaryOp::Relu, UnaryOp::Sign, UnaryOp::Abs, UnaryOp::Neg] {
            let y = push(&mut p, Op::Unary(u), &[x[0]]);
            p.output(y);
        }
        let inputs = if d == DType::F32 {
            vec![
                Tensor::from_slice(vec![n], &a).unwrap(),
                Tensor::from_slice(vec![n], &b).unwrap(),
            ]
        } else {
            let f = |v: &[f32]| v.iter().map(|&x| x as f64).collect::<Vec<_>>();
            vec![
                Tensor::from_vec(vec![n], f(&a)).unwrap(),
                Tensor::from_vec(vec![n], f(&b)).unwrap(),
            ]
        };
        fails.extend(check(&p, &inputs, &[Tol::Exact]).err());
    }
    report(fails);
}

#[test]
fn where_every_dtype_with_broadcasting() {
    const SHAPES3: &[(&[usize], &[usize], &[usize])] = &[
        (&[3, 1], &[1, 4], &[3, 4]),
        (&[], &[5], &[5]),
        (&[7], &[], &[]),
        (&[2, 1, 3], &[4, 1], &[1]),
        (&[0, 1], &[1, 5], &[1]),
        (&[17], &[17], &[1]),
        (&[1023], &[1023], &[1023]),
        (&[2, 3, 5], &[5], &[3, 1]),
    ];
    let mut fails = Vec::new();
    let mut rng = Rng::new(3);
    for d in DType::ALL {
        for (sc, sa, sb) in SHAPES3 {
            let (mut p, x) = with_params(&[(DType::Bool, sc), (d, sa), (d, sb)]);
            let y = push(&mut p, Op::Where, &[x[0], x[1], x[2]]);
            p.output(y);
            let inputs = random_inputs(&p, MIXED, &mut rng);
            fails.extend(check(&p, &inputs, &moves_bitwise(&p)).err());
        }
    }
    report(fails);
}

#[test]
fn cast_every_dtype_pair() {
    let mut fails = Vec::new();
    let mut rng = Rng::new(4);
    for from in DType::ALL {
        for shape in [&[][..], &[7], &[1023], &[3, 5], &[0, 2]] {
            let (mut p, x) = with_params(&[(from, shape)]);
            for to in DType::ALL {
                let y = push_typed(&mut p, Op::Cast, &[x[0]], tt(to, shape));
                p.output(y);
            }
            for fill in [
                MIXED,
                Fill::Mixed {
                    mag: 3e9,
                    special: 0.3,
                    extreme: true,
                },
            ] {
                let inputs = random_inputs(&p, fill, &mut rng);
                fails.extend(check(&p, &inputs, &[Tol::Exact]).err());
            }
        }
    }
    report(fails);
}

#[test]
fn constants_every_dtype() {
    let scalars = [
        Scalar::Float(0.5),
        Scalar::Float(-0.0),
        Scalar::Float(f64::NAN),
        Scalar::Float(f64::NEG_INFINITY),
        Scalar::Float(1e300),
        Scalar::Float(1e-40),
        Scalar::Float(3.3),
        Scalar::Int(0),
        Scalar::Int(-7),
        Scalar::Int(i32::MIN as i64),
        Scalar::Int(i64::MAX),
        Scalar::Int(16_777_217),
        // 2^60 + 2^36 + 1: rounding it to f64 first and then to f32 gives 2^60 (a tie rounded
        // to even), rounding it to f32 directly gives 2^60 + 2^37.
        Scalar::Int((1 << 60) + (1 << 36) + 1),
        Scalar::Bool(true),
        Scalar::Bool(false),
    ];
    let mut fails = Vec::new();
    let mut rng = Rng::new(5);
    for d in DType::ALL {
        for shape in [&[][..], &[1], &[7], &[2, 3], &[0], &[1023]] {
            // Alone, and fused into an elementwise op with a parameter.
            let (mut p, x) = with_params(&[(d, shape)]);
            for s in scalars {
                let Ok(c) = p.push_typed(Op::Constant { value: s }, &[], tt(d, shape)) else {
                    continue;
                };
                p.output(c);
                let c0 = push_typed(&mut p, Op::Constant { value: s }, &[], tt(d, &[]));
                let cond = push(&mut p, Op::Binary(BinaryOp::Eq), &[x[0], x[0]]);
                let w = push(&mut p, Op::Where, &[cond, c0, x[0]]);
                p.output(w);
            }
            let inputs = random_inputs(&p, MIXED, &mut rng);
            fails.extend(check(&p, &inputs, &[Tol::Exact]).err());
        }
    }
    report(fails);
}

#[test]
fn iota_every_numeric_dtype() {
    let cases: &[(&[usize], usize)] = &[
        (&[5], 0),
        (&[1023], 0),
        (&[3, 4], 0),
        (&[3, 4], 1),
        (&[2, 3, 17], 0),
        (&[2, 3, 17], 1),
        (&[2, 3, 17], 2),
        (&[1, 5], 0),
        (&[0, 4], 1),
        (&[7, 1], 1),
    ];
    let mut fails = Vec::new();
    for d in [DType::F32, DType::F64, DType::I32, DType::I64] {
        for &(shape, axis) in cases {
            let (mut p, x) = with_params(&[(d, shape)]);
            let i = push_typed(&mut p, Op::Iota { axis }, &[], tt(d, shape));
            p.output(i);
            // Fused: iota + x.
            let s = push(&mut p, Op::Binary(BinaryOp::Add), &[i, x[0]]);
            p.output(s);
            let inputs = random_inputs(&p, Fill::Range(-3.0, 3.0), &mut Rng::new(6));
            fails.extend(check(&p, &inputs, &[Tol::Exact]).err());
        }
    }
    report(fails);
}

// ======================================================================= reductions

/// Every subset of `0..rank`, as sorted axis lists.
fn axis_sets(rank: usize) -> Vec<Vec<usize>> {
    (0..1usize << rank)
        .map(|m| (0..rank).filter(|a| m >> a & 1 == 1).collect())
        .collect()
}

const RED_SHAPES: &[&[usize]] = &[
    &[5],
    &[1023],
    &[3, 7],
    &[4, 1, 6],
    &[2, 3, 17],
    &[33, 4],
    &[0, 3],
    &[3, 0],
    &[2, 5, 1, 3],
    &[1, 1],
];

/// Every reduction op over every axis set, keepdim both ways, for one dtype and input regime.
/// `pow2` selects the `{±0.5, ±1, ±2}` inputs, for which sums and products are exact.
fn check_reductions(d: DType, pow2: bool, seed: u64) -> Vec<String> {
    let mut fails = Vec::new();
    let mut rng = Rng::new(seed);
    for shape in RED_SHAPES {
        for axes in axis_sets(shape.len()) {
            let (mut p, x) = with_params(&[(d, shape)]);
            let n: usize = axes.iter().map(|&a| shape[a]).product();
            let mut red = Vec::new();
            for op in ReduceOp::ALL {
                if op == ReduceOp::Mean && !d.is_float() {
                    continue;
                }
                if op == ReduceOp::Prod && d.is_float() && !pow2 {
                    continue;
                }
                if op.is_arg() && (axes.len() != 1 || shape[axes[0]] == 0) {
                    continue;
                }
                for keepdim in [false, true] {
                    let y = push(&mut p, reduce(op, &axes, keepdim), &[x[0]]);
                    p.output(y);
                    red.push((op, keepdim));
                }
            }
            let fill = if pow2 {
                Fill::Pow2 { special: 0.1 }
            } else {
                Fill::Mixed {
                    mag: 4.0,
                    special: 0.1,
                    extreme: false,
                }
            };
            let inputs = random_inputs(&p, fill, &mut rng);
            let refs = match reference::run(&p, &[&inputs[0]]) {
                Ok(r) => r,
                Err(e) => {
                    fails.push(format!("reference failed: {e}\n{}", text::print(&p)));
                    continue;
                }
            };
            let mut tols = Vec::new();
            for (k, &(op, keepdim)) in red.iter().enumerate() {
                let exact_fold = n <= 1 || pow2;
                let tol = match op {
                    ReduceOp::Sum | ReduceOp::Mean if d.is_float() && !exact_fold => {
                        let s = abs_sum(&p, &inputs, x[0], &axes, keepdim);
                        sum_tol(op, d, n, &s, &refs[k])
                    }
                    ReduceOp::Mean if d.is_float() && n > 1 => Tol::Ulps {
                        ulps: 3.0,
                        abs: 0.0,
                    },
                    _ => Tol::Exact,
                };
                tols.push(tol);
            }
            fails.extend(check(&p, &inputs, &tols).err());
        }
    }
    fails
}

#[test]
fn reductions_f32() {
    let mut fails = check_reductions(DType::F32, false, 10);
    fails.extend(check_reductions(DType::F32, true, 11));
    report(fails);
}

#[test]
fn reductions_f64() {
    let mut fails = check_reductions(DType::F64, false, 12);
    fails.extend(check_reductions(DType::F64, true, 13));
    report(fails);
}

#[test]
fn reductions_integers() {
    let mut fails = check_reductions(DType::I32, false, 14);
    fails.extend(check_reductions(DType::I64, false, 15));
    report(fails);
}

#[test]
fn reductions_of_single_elements_are_exact_copies() {
    // -0.0, NaN payloads and subnormals survive a reduction over one element and `axes=[]`.
    let vals = [
        -0.0f32,
        0.0,
        f32::from_bits(1),
        -3.5,
        f32::NAN,
        f32::NEG_INFINITY,
        7.0,
    ];
    let mut fails = Vec::new();
    for (shape, axes) in [(&[7, 1][..], &[1][..]), (&[7], &[]), (&[1, 7], &[0])] {
        let (mut p, x) = with_params(&[(DType::F32, shape)]);
        for op in [
            ReduceOp::Sum,
            ReduceOp::Mean,
            ReduceOp::Prod,
            ReduceOp::Max,
            ReduceOp::Min,
        ] {
            for keepdim in [false, true] {
                let y = push(&mut p, reduce(op, axes, keepdim), &[x[0]]);
                p.output(y);
            }
        }
        let inputs = vec![Tensor::from_slice(shape.to_vec(), &vals).unwrap()];
        fails.extend(check(&p, &inputs, &[Tol::Exact]).err());
    }
    report(fails);
}

#[test]
fn reductions_of_non_contiguous_views_and_expressions() {
    // Views and elementwise expressions feeding reductions: permute, slice with steps,
    // expand, reshape of a permute, pad, concat, gather.
    let mut fails = Vec::new();
    let mut rng = Rng::new(16);
    for (r, c) in [(5, 7), (3, 17), (8, 33), (1, 13), (6, 4)] {
        for axes in [vec![0], vec![1], vec![0, 1]] {
            let (mut p, x) = with_params(&[(DType::F32, &[r, c]), (DType::F32, &[c])]);
            let t = push(&mut p, Op::Permute { perm: vec![1, 0] }, &[x[0]]);
            let e = push(
                &mut p,
                Op::Expand {
                    shape: Shape::new([r, c]),
                },
                &[x[1]],
            );
            let et = push(&mut p, Op::Permute { perm: vec![1, 0] }, &[e]);
            let m = push(&mut p, Op::Binary(BinaryOp::Mul), &[t, et]); // [c, r]
            let sl = push(
                &mut p,
                Op::Slice {
                    starts: vec![0, 0],
                    stops: vec![c, r],
                    steps: vec![2, 1],
                },
                &[m],
            );
            let pd = push(
                &mut p,
                Op::Pad {
                    lo: vec![1, 0],
                    hi: vec![0, 2],
                    value: Scalar::Float(-1.5),
                },
                &[sl],
            );
            let sl2 = push(
                &mut p,
                Op::Slice {
                    starts: vec![1, 0],
                    stops: vec![c, r],
                    steps: vec![2, 1],
                },
                &[m],
            );
            let cc = push(&mut p, Op::Concat { axis: 0 }, &[sl2, sl, sl2]);
            let rs = push(
                &mut p,
                Op::Reshape {
                    shape: Shape::new([r, c]),
                },
                &[t],
            );
            let ex = push(&mut p, Op::Unary(UnaryOp::Exp), &[rs]);
            let mut tols = Vec::new();
            let inputs = random_inputs(
                &p,
                Fill::Mixed {
                    mag: 2.0,
                    special: 0.0,
                    extreme: false,
                },
                &mut rng,
            );
            for v in [m, sl, pd, cc, rs, ex] {
                for op in [ReduceOp::Sum, ReduceOp::Max, ReduceOp::Min, ReduceOp::Mean] {
                    let y = push(&mut p, reduce(op, &axes, false), &[v]);
                    p.output(y);
                    tols.push((op, v));
                }
                if axes.len() == 1 {
                    let y = push(&mut p, reduce(ReduceOp::ArgMax, &axes, true), &[v]);
                    p.output(y);
                    tols.push((ReduceOp::ArgMax, v));
                }
            }
            let ins: Vec<&Tensor> = inputs.iter().collect();
            let refs = reference::run(&p, &ins).unwrap();
            let tols: Vec<Tol> = tols
                .iter()
                .enumerate()
                .map(|(k, &(op, v))| {
                    let shape = p.value_type(v).shape.clone();
                    let n: usize = axes.iter().map(|&a| shape.dims()[a]).product();
                    match op {
                        ReduceOp::Sum | ReduceOp::Mean => {
                            let s = abs_sum(&p, &inputs, v, &axes, false);
                            let mut t = sum_tol(op, DType::F32, n, &s, &refs[k]);
                            if v == ex {
                                // exp adds its own error (4 ulp each) to every term.
                                if let Tol::Bound(b) = &mut t {
                                    for (bi, si) in b.iter_mut().zip(&s) {
                                        *bi += 4.0 * f32::EPSILON as f64 * si;
                                    }
                                }
                            }
                            t
                        }
                        _ if v == ex => Tol::Ulps {
                            ulps: 4.0,
                            abs: 0.0,
                        },
                        _ => Tol::Exact,
                    }
                })
                .collect();
            fails.extend(check(&p, &inputs, &tols).err());
        }
    }
    report(fails);
}

#[test]
fn softmax_and_layernorm_rows() {
    // Row groups: reductions feeding elementwise ops feeding reductions over the same rows.
    let mut fails = Vec::new();
    let mut rng = Rng::new(17);
    for (r, c) in [
        (1, 1),
        (3, 1),
        (4, 3),
        (5, 5),
        (2, 17),
        (7, 33),
        (3, 1023),
        (64, 7),
    ] {
        let (mut p, x) = with_params(&[(DType::F32, &[r, c])]);
        let mx = push(&mut p, reduce(ReduceOp::Max, &[1], true), &[x[0]]);
        let sh = push(&mut p, Op::Binary(BinaryOp::Sub), &[x[0], mx]);
        let e = push(&mut p, Op::Unary(UnaryOp::Exp), &[sh]);
        let s = push(&mut p, reduce(ReduceOp::Sum, &[1], true), &[e]);
        let sm = push(&mut p, Op::Binary(BinaryOp::Div), &[e, s]);
        p.output(sm);
        // layernorm without the affine part: (x - mean) * rsqrt(var + eps)
        let mean = push(&mut p, reduce(ReduceOp::Mean, &[1], true), &[x[0]]);
        let xc = push(&mut p, Op::Binary(BinaryOp::Sub), &[x[0], mean]);
        let sq = push(&mut p, Op::Binary(BinaryOp::Mul), &[xc, xc]);
        let var = push(&mut p, reduce(ReduceOp::Mean, &[1], true), &[sq]);
        let eps = push_typed(
            &mut p,
            Op::Constant {
                value: Scalar::Float(1e-5),
            },
            &[],
            tt(DType::F32, &[]),
        );
        let ve = push(&mut p, Op::Binary(BinaryOp::Add), &[var, eps]);
        let rs = push(&mut p, Op::Unary(UnaryOp::Rsqrt), &[ve]);
        let ln = push(&mut p, Op::Binary(BinaryOp::Mul), &[xc, rs]);
        p.output(ln);
        let inputs = random_inputs(&p, Fill::Range(-3.0, 3.0), &mut rng);
        // softmax: each term of the sum is off by <= 4 ulp (exp), the sum by γ(c); the
        // quotient's relative error is below (8 + 2c) ulp. layernorm: centred values are
        // O(3), the variance is a mean of squares; relative 1e-4 covers γ(c) for c <= 1023
        // (6e-5) with the rsqrt rounding; the absolute part covers cancellation in x - mean.
        let tols = [
            Tol::Rel {
                rel: (8.0 + 2.0 * c as f64) * f32::EPSILON as f64,
                abs: 1e-30,
            },
            Tol::Rel {
                rel: 2e-4,
                abs: 2e-4,
            },
        ];
        fails.extend(check(&p, &inputs, &tols).err());
    }
    report(fails);
}

// ======================================================================= layout ops

#[test]
fn reshape_of_contiguous_and_strided_values() {
    let targets: &[&[usize]] = &[
        &[6, 4],
        &[4, 6],
        &[24],
        &[3, 8],
        &[2, 12],
        &[1, 24, 1],
        &[2, 2, 2, 3],
        &[4, 3, 2],
    ];
    let mut fails = Vec::new();
    let mut rng = Rng::new(20);
    for d in [DType::F32, DType::I64, DType::Bool, DType::I32, DType::F64] {
        let (mut p, x) = with_params(&[(d, &[2, 3, 4]), (d, &[4])]);
        let views = [
            x[0],
            push(
                &mut p,
                Op::Permute {
                    perm: vec![2, 0, 1],
                },
                &[x[0]],
            ),
            push(
                &mut p,
                Op::Permute {
                    perm: vec![1, 2, 0],
                },
                &[x[0]],
            ),
            push(
                &mut p,
                Op::Expand {
                    shape: Shape::new([2, 3, 4]),
                },
                &[x[1]],
            ),
            {
                let e = push(
                    &mut p,
                    Op::Expand {
                        shape: Shape::new([3, 2, 4]),
                    },
                    &[x[1]],
                );
                push(
                    &mut p,
                    Op::Permute {
                        perm: vec![1, 0, 2],
                    },
                    &[e],
                )
            },
        ];
        for v in views {
            for t in targets {
                let y = push(
                    &mut p,
                    Op::Reshape {
                        shape: Shape::new(t.to_vec()),
                    },
                    &[v],
                );
                p.output(y);
                // And fused into an elementwise op with a reshaped parameter.
                if d.is_numeric() {
                    let z = push(
                        &mut p,
                        Op::Reshape {
                            shape: Shape::new(t.to_vec()),
                        },
                        &[x[0]],
                    );
                    let s = push(&mut p, Op::Binary(BinaryOp::Max), &[y, z]);
                    p.output(s);
                }
            }
        }
        // Reshape of an empty tensor and of a rank-0 tensor.
        let e = push_typed(
            &mut p,
            Op::Constant {
                value: Scalar::Int(1).fit(d),
            },
            &[],
            tt(d, &[0, 3]),
        );
        let er = push(
            &mut p,
            Op::Reshape {
                shape: Shape::new([5, 0]),
            },
            &[e],
        );
        p.output(er);
        let s = push(
            &mut p,
            Op::Slice {
                starts: vec![1],
                stops: vec![2],
                steps: vec![1],
            },
            &[x[1]],
        );
        let s0 = push(
            &mut p,
            Op::Reshape {
                shape: Shape::new([]),
            },
            &[s],
        );
        let s1 = push(
            &mut p,
            Op::Reshape {
                shape: Shape::new([1, 1, 1]),
            },
            &[s0],
        );
        p.output(s0);
        p.output(s1);
        let inputs = random_inputs(&p, MIXED, &mut rng);
        fails.extend(check(&p, &inputs, &moves_bitwise(&p)).err());
    }
    report(fails);
}

/// A scalar literal that fits `d` (for tests that need "some constant").
trait Fit {
    fn fit(self, d: DType) -> Scalar;
}

impl Fit for Scalar {
    fn fit(self, d: DType) -> Scalar {
        match d {
            DType::Bool => Scalar::Bool(self.as_bool()),
            DType::F32 | DType::F64 => Scalar::Float(self.as_f64()),
            _ => Scalar::Int(self.as_i64()),
        }
    }
}

fn permutations(n: usize) -> Vec<Vec<usize>> {
    if n == 0 {
        return vec![vec![]];
    }
    let mut out = Vec::new();
    for p in permutations(n - 1) {
        for i in 0..=p.len() {
            let mut q = p.clone();
            q.insert(i, n - 1);
            out.push(q);
        }
    }
    out
}

#[test]
fn permute_every_axis_order() {
    let mut fails = Vec::new();
    let mut rng = Rng::new(21);
    for d in DType::ALL {
        for shape in [
            &[2, 3, 5][..],
            &[7, 13],
            &[2, 1, 3, 4],
            &[5, 0, 2],
            &[9, 4, 1],
        ] {
            let (mut p, x) = with_params(&[(d, shape)]);
            for perm in permutations(shape.len()) {
                let y = push(&mut p, Op::Permute { perm: perm.clone() }, &[x[0]]);
                p.output(y);
                // Permute feeding an elementwise op (strided, per-lane loads).
                if d.is_numeric() {
                    let z = push(&mut p, Op::Unary(UnaryOp::Neg), &[y]);
                    p.output(z);
                }
            }
            let inputs = random_inputs(&p, MIXED, &mut rng);
            fails.extend(check(&p, &inputs, &moves_bitwise(&p)).err());
        }
    }
    report(fails);
}

#[test]
fn expand_to_larger_shapes() {
    let cases: &[(&[usize], &[usize])] = &[
        (&[3, 1], &[2, 3, 5]),
        (&[], &[4, 7]),
        (&[1], &[0]),
        (&[1, 1], &[5, 1023]),
        (&[4], &[3, 4]),
        (&[2, 1, 3], &[2, 5, 3]),
        (&[1, 6], &[0, 6]),
        (&[5], &[5]),
        (&[1], &[17]),
    ];
    let mut fails = Vec::new();
    let mut rng = Rng::new(22);
    for d in DType::ALL {
        for (from, to) in cases {
            let (mut p, x) = with_params(&[(d, from), (d, to)]);
            let y = push(
                &mut p,
                Op::Expand {
                    shape: Shape::new(to.to_vec()),
                },
                &[x[0]],
            );
            p.output(y);
            let w = push(&mut p, Op::Binary(BinaryOp::Eq), &[y, x[1]]);
            p.output(w);
            let inputs = random_inputs(&p, MIXED, &mut rng);
            fails.extend(check(&p, &inputs, &moves_bitwise(&p)).err());
        }
    }
    report(fails);
}

#[test]
fn slice_with_steps() {
    #[allow(clippy::type_complexity)]
    let cases: &[(&[usize], &[usize], &[usize], &[usize])] = &[
        (&[10, 17], &[0, 0], &[10, 17], &[1, 1]),
        (&[10, 17], &[1, 2], &[9, 17], &[2, 3]),
        (&[10, 17], &[0, 16], &[10, 17], &[3, 1]),
        (&[10, 17], &[3, 5], &[3, 9], &[1, 1]),
        (&[10, 17], &[0, 0], &[10, 17], &[20, 100]),
        (&[10, 17], &[9, 0], &[10, 13], &[1, 4]),
        (&[1023], &[1], &[1022], &[1]),
        (&[1023], &[0], &[1023], &[7]),
        (&[2, 5, 9], &[1, 0, 2], &[2, 5, 9], &[1, 2, 2]),
        (&[4, 0, 3], &[1, 0, 0], &[3, 0, 3], &[1, 1, 2]),
        (&[6], &[2], &[2], &[1]),
    ];
    let mut fails = Vec::new();
    let mut rng = Rng::new(23);
    for d in DType::ALL {
        for (shape, starts, stops, steps) in cases {
            let (mut p, x) = with_params(&[(d, shape)]);
            let op = Op::Slice {
                starts: starts.to_vec(),
                stops: stops.to_vec(),
                steps: steps.to_vec(),
            };
            let y = push(&mut p, op, &[x[0]]);
            p.output(y);
            if d.is_numeric() {
                let z = push(&mut p, Op::Binary(BinaryOp::Add), &[y, y]);
                p.output(z);
            }
            let inputs = random_inputs(&p, MIXED, &mut rng);
            fails.extend(check(&p, &inputs, &moves_bitwise(&p)).err());
        }
    }
    report(fails);
}

#[test]
fn concat_including_empty_operands() {
    #[allow(clippy::type_complexity)]
    let cases: &[(&[&[usize]], usize)] = &[
        (&[&[2, 3], &[2, 0], &[2, 5]], 1),
        (&[&[0, 3], &[4, 3]], 0),
        (&[&[4, 3], &[0, 3]], 0),
        (&[&[7]], 0),
        (&[&[3], &[5], &[1], &[13]], 0),
        (&[&[1023], &[1]], 0),
        (&[&[2, 3, 4], &[2, 1, 4], &[2, 2, 4]], 1),
        (&[&[2, 3, 1], &[2, 3, 3]], 2),
        (&[&[0], &[0]], 0),
        (&[&[3, 0], &[3, 0]], 0),
        (&[&[1, 5], &[3, 5], &[0, 5]], 0),
    ];
    let mut fails = Vec::new();
    let mut rng = Rng::new(24);
    for d in DType::ALL {
        for (shapes, axis) in cases {
            let params: Vec<(DType, &[usize])> = shapes.iter().map(|s| (d, *s)).collect();
            let (mut p, x) = with_params(&params);
            let y = push(&mut p, Op::Concat { axis: *axis }, &x);
            p.output(y);
            // Concat of the operands with themselves, feeding a unary op.
            let mut twice = x.clone();
            twice.extend(x.iter().rev());
            let z = push(&mut p, Op::Concat { axis: *axis }, &twice);
            if d.is_numeric() {
                let z = push(&mut p, Op::Unary(UnaryOp::Abs), &[z]);
                p.output(z);
            } else {
                p.output(z);
            }
            let inputs = random_inputs(&p, MIXED, &mut rng);
            fails.extend(check(&p, &inputs, &moves_bitwise(&p)).err());
        }
    }
    report(fails);
}

#[test]
fn pad_every_dtype() {
    #[allow(clippy::type_complexity)]
    let cases: &[(&[usize], &[usize], &[usize])] = &[
        (&[3, 4], &[1, 2], &[2, 1]),
        (&[3, 4], &[0, 0], &[0, 0]),
        (&[0, 3], &[1, 1], &[1, 1]),
        (&[1023], &[1], &[3]),
        (&[5], &[4], &[0]),
        (&[2, 3, 5], &[0, 1, 3], &[1, 0, 2]),
        (&[], &[], &[]),
        (&[1], &[5], &[6]),
        (&[4, 0], &[0, 2], &[0, 1]),
    ];
    let mut fails = Vec::new();
    let mut rng = Rng::new(25);
    for d in DType::ALL {
        let values = match d {
            DType::Bool => vec![Scalar::Bool(true), Scalar::Bool(false)],
            DType::F32 | DType::F64 => vec![
                Scalar::Float(-0.0),
                Scalar::Float(f64::NAN),
                Scalar::Float(2.5),
                Scalar::Int(3),
            ],
            _ => vec![Scalar::Int(-9), Scalar::Int(0)],
        };
        for (shape, lo, hi) in cases {
            for &value in &values {
                let (mut p, x) = with_params(&[(d, shape)]);
                let op = Op::Pad {
                    lo: lo.to_vec(),
                    hi: hi.to_vec(),
                    value,
                };
                let y = push(&mut p, op, &[x[0]]);
                p.output(y);
                if d.is_numeric() {
                    let z = push(&mut p, Op::Binary(BinaryOp::Mul), &[y, y]);
                    p.output(z);
                }
                let inputs = random_inputs(&p, MIXED, &mut rng);
                fails.extend(check(&p, &inputs, &moves_bitwise(&p)).err());
            }
        }
    }
    report(fails);
}

// ======================================================================= indexing

#[test]
fn gather_every_dtype_and_axis() {
    #[allow(clippy::type_complexity)]
    let cases: &[(&[usize], &[usize], usize)] = &[
        (&[4, 5], &[3, 5], 0),
        (&[4, 5], &[4, 2], 1),
        (&[4, 5], &[2, 3], 1),
        (&[7], &[13], 0),
        (&[1023], &[1023], 0),
        (&[2, 3, 9], &[2, 2, 17], 2),
        (&[2, 3, 9], &[1, 5, 4], 1),
        (&[3, 4], &[0, 4], 0),
        (&[1], &[6], 0),
    ];
    let mut fails = Vec::new();
    let mut rng = Rng::new(26);
    for d in DType::ALL {
        for id in [DType::I32, DType::I64] {
            for (ds, is, axis) in cases {
                let (mut p, x) = with_params(&[(d, ds), (id, is)]);
                let y = push(&mut p, Op::Gather { axis: *axis }, &[x[0], x[1]]);
                p.output(y);
                if d.is_numeric() {
                    let z = push(&mut p, Op::Unary(UnaryOp::Neg), &[y]);
                    p.output(z);
                }
                let data = random_tensor(&tt(d, ds), MIXED, &mut rng);
                let hi = ds[*axis] as f64 - 1.0;
                let index = random_tensor(&tt(id, is), Fill::Range(0.0, hi), &mut rng);
                fails.extend(check(&p, &[data, index], &moves_bitwise(&p)).err());
            }
        }
    }
    report(fails);
}

#[test]
fn index_select_every_dtype_axis_and_index_rank() {
    #[allow(clippy::type_complexity)]
    let cases: &[(&[usize], &[usize], usize)] = &[
        (&[5, 7], &[], 0),
        (&[5, 7], &[], 1),
        (&[5, 7], &[3], 0),
        (&[5, 7], &[9], 1),
        (&[5, 7], &[2, 4], 1),
        (&[5, 7], &[2, 4], 0),
        (&[1023], &[17], 0),
        (&[3, 4, 6], &[2, 2], 1),
        (&[3, 4, 6], &[5], 2),
        (&[0, 4], &[3], 1),
        (&[3, 4], &[0], 1),
    ];
    let mut fails = Vec::new();
    let mut rng = Rng::new(27);
    for d in DType::ALL {
        for id in [DType::I32, DType::I64] {
            for (ds, is, axis) in cases {
                let (mut p, x) = with_params(&[(d, ds), (id, is)]);
                let y = push(&mut p, Op::IndexSelect { axis: *axis }, &[x[0], x[1]]);
                p.output(y);
                if d.is_numeric() {
                    let z = push(&mut p, Op::Unary(UnaryOp::Abs), &[y]);
                    p.output(z);
                }
                let data = random_tensor(&tt(d, ds), MIXED, &mut rng);
                let hi = ds[*axis] as f64 - 1.0;
                let index = random_tensor(&tt(id, is), Fill::Range(0.0, hi.max(0.0)), &mut rng);
                fails.extend(check(&p, &[data, index], &moves_bitwise(&p)).err());
            }
        }
    }
    report(fails);
}

// ======================================================================= matmul

/// Per output element, `Σ_p |a_ip|·|b_pj|` (in f64, by the reference).
fn abs_matmul(p: &Program, inputs: &[Tensor], a: ValueId, b: ValueId) -> Vec<f64> {
    let mut q = p.clone();
    q.outputs.clear();
    let mut abs = |v: ValueId| {
        let shape = q.value_type(v).shape.clone();
        let c = push_typed(&mut q, Op::Cast, &[v], TensorType::new(DType::F64, shape));
        push(&mut q, Op::Unary(UnaryOp::Abs), &[c])
    };
    let (aa, ab) = (abs(a), abs(b));
    let m = push(&mut q, Op::MatMul, &[aa, ab]);
    q.output(m);
    let ins: Vec<&Tensor> = inputs.iter().collect();
    reference::run(&q, &ins).expect("|a|·|b| program runs")[0].to_f64_vec()
}

#[test]
fn matmul_shapes_dtypes_and_views() {
    // (a shape, b shape, transpose a, transpose b, expand b's batch dims to this)
    #[allow(clippy::type_complexity)]
    let cases: &[(&[usize], &[usize], bool, bool)] = &[
        (&[3, 4], &[4, 5], false, false),
        (&[1, 1], &[1, 1], false, false),
        (&[7, 13], &[13, 5], false, false),
        (&[2, 3, 4], &[2, 4, 5], false, false),
        (&[2, 1, 3, 4], &[5, 4, 6], false, false),
        (&[3, 4], &[2, 4, 5], false, false),
        (&[4, 3], &[4, 5], true, false),
        (&[3, 4], &[5, 4], false, true),
        (&[2, 4, 3], &[2, 5, 4], true, true),
        (&[3, 0], &[0, 4], false, false),
        (&[0, 3], &[3, 4], false, false),
        (&[3, 5], &[5, 0], false, false),
        (&[17, 33], &[33, 9], false, false),
        (&[1, 64], &[64, 1], false, false),
    ];
    let mut fails = Vec::new();
    let mut rng = Rng::new(30);
    for d in [DType::F32, DType::F64, DType::I32, DType::I64] {
        for (sa, sb, ta, tb) in cases {
            let (mut p, x) = with_params(&[(d, sa), (d, sb)]);
            let tr = |p: &mut Program, v: ValueId, t: bool| {
                if !t {
                    return v;
                }
                let r = p.value_type(v).shape.rank();
                let mut perm: Vec<usize> = (0..r).collect();
                perm.swap(r - 1, r - 2);
                push(p, Op::Permute { perm }, &[v])
            };
            let a = tr(&mut p, x[0], *ta);
            let b = tr(&mut p, x[1], *tb);
            let m = push(&mut p, Op::MatMul, &[a, b]);
            p.output(m);
            let mut pairs = vec![(a, b)];
            // A broadcast batch view of b (expand) and a slice of a feeding matmul, and the
            // matmul result feeding an elementwise op.
            let bs = p.value_type(b).shape.dims().to_vec();
            let mut eshape = vec![2];
            eshape.extend_from_slice(&bs);
            let be = push(
                &mut p,
                Op::Expand {
                    shape: Shape::new(eshape),
                },
                &[b],
            );
            let m2 = push(&mut p, Op::MatMul, &[a, be]);
            p.output(m2);
            pairs.push((a, be));
            let neg = push(&mut p, Op::Unary(UnaryOp::Neg), &[m]);
            p.output(neg);
            pairs.push((a, b));
            let fill = if d.is_float() {
                Fill::Mixed {
                    mag: 3.0,
                    special: 0.02,
                    extreme: false,
                }
            } else {
                MIXED
            };
            let inputs = random_inputs(&p, fill, &mut rng);
            let tols: Vec<Tol> = pairs
                .iter()
                .map(|&(a, b)| {
                    if !d.is_float() {
                        return Tol::Exact;
                    }
                    let k = p.value_type(a).shape.dims().last().copied().unwrap();
                    let s = abs_matmul(&p, &inputs, a, b);
                    let g = 2.0 * gamma(k, d) * (1.0 + 1e-9);
                    Tol::Bound(s.iter().map(|s| g * s).collect())
                })
                .collect();
            fails.extend(check(&p, &inputs, &tols).err());
        }
    }
    report(fails);
}

#[test]
fn matmul_of_strided_views_and_chains() {
    // Operands that are slices with steps, double permutes, reshapes, expands of slices, and
    // matmul results (chained, transposed).
    let mut fails = Vec::new();
    let mut rng = Rng::new(32);
    for d in [DType::F32, DType::F64, DType::I32, DType::I64] {
        let (mut p, x) = with_params(&[(d, &[6, 10]), (d, &[9, 7]), (d, &[30]), (d, &[1, 3, 8])]);
        let sl = |p: &mut Program, v, starts: &[usize], stops: &[usize], steps: &[usize]| {
            let op = Op::Slice {
                starts: starts.to_vec(),
                stops: stops.to_vec(),
                steps: steps.to_vec(),
            };
            push(p, op, &[v])
        };
        let a = sl(&mut p, x[0], &[0, 1], &[6, 10], &[2, 3]); // [3, 3]
        let b = sl(&mut p, x[1], &[1, 0], &[7, 7], &[2, 2]); // [3, 4]
        let m1 = push(&mut p, Op::MatMul, &[a, b]); // [3, 4]
        let t = push(&mut p, Op::Permute { perm: vec![1, 0] }, &[x[0]]);
        let a2 = push(&mut p, Op::Permute { perm: vec![1, 0] }, &[t]); // [6, 10]
        let c = push(
            &mut p,
            Op::Reshape {
                shape: Shape::new([10, 3]),
            },
            &[x[2]],
        );
        let m2 = push(&mut p, Op::MatMul, &[a2, c]); // [6, 3]
        let e = push(
            &mut p,
            Op::Expand {
                shape: Shape::new([5, 3, 8]),
            },
            &[x[3]],
        );
        let es = sl(&mut p, e, &[1, 0, 1], &[5, 3, 8], &[2, 1, 2]); // [2, 3, 4]
        let m1t = push(&mut p, Op::Permute { perm: vec![1, 0] }, &[m1]); // [4, 3]
        let m4 = push(&mut p, Op::MatMul, &[m1t, m1]); // [4, 4]
        let m5 = push(&mut p, Op::MatMul, &[m2, m1]); // [6, 4]
        let est = push(
            &mut p,
            Op::Permute {
                perm: vec![0, 2, 1],
            },
            &[es],
        ); // [2, 4, 3]
        let m6 = push(&mut p, Op::MatMul, &[est, m1]); // [2, 4, 4]
        for v in [m1, m2, m4, m5, m6] {
            p.output(v);
        }
        let fill = if d.is_float() {
            Fill::Pow2 { special: 0.0 }
        } else {
            MIXED
        };
        // {±0.5, ±1, ±2} inputs keep every product and sum exact (chains included).
        let inputs = random_inputs(&p, fill, &mut rng);
        fails.extend(check(&p, &inputs, &[Tol::Exact]).err());
    }
    report(fails);
}

#[test]
fn one_compiled_program_runs_on_several_threads() {
    // Each thread runs the program many times on its own inputs; cached intermediate buffers
    // are taken by one run at a time, so concurrent runs must not interfere.
    let src = "param %x: f32[37, 33]\nparam %b: f32[33]\n\
               %2: f32[37, 1] = reduce_max %x, axes=[1], keepdim=true\n\
               %3: f32[37, 33] = sub %x, %2\n%4: f32[37, 33] = mul %3, %b\n\
               %5: f32[37, 1] = reduce_sum %4, axes=[1], keepdim=true\n\
               %6: f32[37, 33] = sub %4, %5\nreturn %6, %5\n";
    let p = text::parse(src).unwrap();
    let c = compile(&p, &opts()).unwrap();
    std::thread::scope(|scope| {
        for t in 0..4u64 {
            let (c, p) = (&c, &p);
            scope.spawn(move || {
                let mut rng = Rng::new(100 + t);
                for _ in 0..25 {
                    let inputs = random_inputs(p, Fill::Pow2 { special: 0.0 }, &mut rng);
                    let ins: Vec<&Tensor> = inputs.iter().collect();
                    let want = reference::run(p, &ins).unwrap();
                    assert_eq!(c.run(&ins).unwrap(), want);
                }
            });
        }
    });
}

// ======================================================================= programs shapes

#[test]
fn multi_use_values_repeated_outputs_and_parameter_outputs() {
    let mut fails = Vec::new();
    let mut rng = Rng::new(31);
    for n in [1, 5, 17, 1023] {
        let (mut p, x) = with_params(&[(DType::F32, &[n]), (DType::F32, &[n])]);
        let e = push(&mut p, Op::Unary(UnaryOp::Exp), &[x[0]]); // expensive, used 3 times
        let a = push(&mut p, Op::Binary(BinaryOp::Add), &[e, x[1]]);
        let b = push(&mut p, Op::Binary(BinaryOp::Mul), &[e, e]);
        let s = push(&mut p, reduce(ReduceOp::Max, &[0], true), &[b]);
        let c = push(&mut p, Op::Binary(BinaryOp::Sub), &[a, s]);
        p.output(c);
        p.output(x[1]);
        p.output(c);
        p.output(e);
        p.output(x[1]);
        let inputs = random_inputs(&p, Fill::Range(-2.0, 2.0), &mut rng);
        // c = (e + x1) - max(e²): |errors| <= 4 ulp of e (≤ e^2) + its square's.
        let bound = 16.0 * f32::EPSILON as f64 * 2f64.exp().powi(2);
        let tols = [
            Tol::Rel {
                rel: 0.0,
                abs: bound,
            },
            Tol::Exact,
            Tol::Rel {
                rel: 0.0,
                abs: bound,
            },
            Tol::Ulps {
                ulps: 4.0,
                abs: 0.0,
            },
            Tol::Exact,
        ];
        fails.extend(check(&p, &inputs, &tols).err());
    }
    // A program with no instructions and no outputs, and one returning only a parameter.
    let (p, _) = with_params(&[(DType::I32, &[3])]);
    let inputs = random_inputs(&p, MIXED, &mut rng);
    fails.extend(check(&p, &inputs, &[Tol::Exact]).err());
    let (mut p, x) = with_params(&[(DType::Bool, &[3, 2])]);
    p.output(x[0]);
    let inputs = random_inputs(&p, MIXED, &mut rng);
    fails.extend(check(&p, &inputs, &[Tol::Exact]).err());
    report(fails);
}

// ======================================================================= error paths

/// Runs `p` on `inputs` through both; both must fail with the same error, and the JIT must
/// then still run correctly on `good` inputs (its cached buffers survive the error).
fn check_same_error(p: &Program, inputs: &[Tensor], good: &[Tensor]) -> Result<Error, String> {
    let ins: Vec<&Tensor> = inputs.iter().collect();
    let fail = |m: String| {
        format!(
            "{m}\nprogram:\n{}inputs:\n{}",
            text::print(p),
            summary(inputs)
        )
    };
    let r = reference::run(p, &ins);
    let c = compile(p, &opts()).map_err(|e| fail(format!("compile failed: {e}")))?;
    let j = c.run(&ins);
    let e = match (r, j) {
        (Err(re), Err(je)) if re == je => re,
        (r, j) => {
            return Err(fail(format!(
                "expected the same error, got reference {:?} and JIT {:?}",
                r.err(),
                j.err()
            )))
        }
    };
    let good_ins: Vec<&Tensor> = good.iter().collect();
    let rg = reference::run(p, &good_ins).map_err(|e| fail(format!("good inputs: {e}")))?;
    let jg = c
        .run(&good_ins)
        .map_err(|e| fail(format!("JIT after an error: {e}")))?;
    for (a, b) in jg.iter().zip(&rg) {
        compare(a, b, &Tol::Exact).map_err(|m| fail(format!("after an error: {m}")))?;
    }
    Ok(e)
}

/// Index values that are out of range for an axis of size `n`, for index dtype `id`.
fn bad_indices(n: usize, id: DType) -> Vec<i64> {
    let mut v = vec![-1, n as i64, n as i64 + 1, i32::MIN as i64, i32::MAX as i64];
    if id == DType::I64 {
        v.extend([i64::MIN, i64::MAX, 1 << 32, -(1 << 32)]);
    }
    v
}

fn set_index(t: &mut Tensor, i: usize, v: i64) {
    match t.dtype() {
        DType::I32 => t.as_mut_slice::<i32>().unwrap()[i] = v as i32,
        _ => t.as_mut_slice::<i64>().unwrap()[i] = v,
    }
}

/// Programs using a gather / index_select of `x0` by `x1` in various kernels: directly, fused
/// into an elementwise op (vector loop, per-lane fallback), and fused into a reduction.
fn indexing_programs(
    d: DType,
    id: DType,
    ds: &[usize],
    is: &[usize],
    axis: usize,
    select: bool,
) -> Vec<Program> {
    let op = || {
        if select {
            Op::IndexSelect { axis }
        } else {
            Op::Gather { axis }
        }
    };
    let mut out = Vec::new();
    let (mut p, x) = with_params(&[(d, ds), (id, is)]);
    let g = push(&mut p, op(), &[x[0], x[1]]);
    p.output(g);
    out.push(p);
    let (mut p, x) = with_params(&[(d, ds), (id, is)]);
    let g = push(&mut p, op(), &[x[0], x[1]]);
    let y = push(&mut p, Op::Unary(UnaryOp::Neg), &[g]);
    p.output(y);
    out.push(p);
    let (mut p, x) = with_params(&[(d, ds), (id, is)]);
    let g = push(&mut p, op(), &[x[0], x[1]]);
    let r = p.value_type(g).shape.rank();
    let y = push(
        &mut p,
        reduce(ReduceOp::Sum, &(0..r).collect::<Vec<_>>(), false),
        &[g],
    );
    p.output(y);
    out.push(p);
    out
}

#[test]
fn out_of_range_indices_are_errors_naming_op_value_and_index() {
    #[allow(clippy::type_complexity)]
    let cases: &[(&[usize], &[usize], usize, bool)] = &[
        (&[4, 5], &[3, 5], 0, false),
        (&[4, 5], &[4, 9], 1, false),
        (&[1023], &[17], 0, false),
        (&[5, 7], &[6], 1, true),
        (&[5, 7], &[2, 3], 0, true),
        (&[5, 7], &[], 1, true),
        (&[33], &[3], 0, true),
    ];
    let mut fails = Vec::new();
    let mut rng = Rng::new(40);
    for id in [DType::I32, DType::I64] {
        for &(ds, is, axis, select) in cases {
            for p in indexing_programs(DType::F32, id, ds, is, axis, select) {
                let n = ds[axis];
                let data =
                    random_tensor(&tt(DType::F32, ds), Fill::Pow2 { special: 0.0 }, &mut rng);
                let good = random_tensor(&tt(id, is), Fill::Range(0.0, n as f64 - 1.0), &mut rng);
                let numel = good.numel();
                for bad in bad_indices(n, id) {
                    let pos = rng.below(numel);
                    let mut index = good.clone();
                    set_index(&mut index, pos, bad);
                    let inputs = [data.clone(), index];
                    match check_same_error(&p, &inputs, &[data.clone(), good.clone()]) {
                        Ok(Error::IndexOutOfRange {
                            op,
                            value,
                            index,
                            axis: a,
                            size,
                        }) => {
                            let want_op = if select { "index_select" } else { "gather" };
                            let ok = op == want_op
                                && value == 2
                                && index == bad
                                && a == axis
                                && size == n;
                            if !ok {
                                fails.push(format!(
                                    "wrong error fields: {op} %{value} index {index} axis {a} size {size}\n{}",
                                    text::print(&p)
                                ));
                            }
                        }
                        Ok(e) => fails.push(format!("unexpected error {e}")),
                        Err(m) => fails.push(m),
                    }
                }
            }
        }
    }
    report(fails);
}

#[test]
fn first_out_of_range_index_is_reported() {
    // Several bad indices: the error names the first in row-major order of the index
    // (as the reference does), whichever kernel evaluates it.
    let mut fails = Vec::new();
    let mut rng = Rng::new(41);
    for id in [DType::I32, DType::I64] {
        for select in [false, true] {
            let (ds, is): (&[usize], &[usize]) = if select {
                (&[5, 7], &[13])
            } else {
                (&[9, 5], &[9, 5])
            };
            for p in indexing_programs(DType::F32, id, ds, is, if select { 1 } else { 0 }, select) {
                let axis = if select { 1 } else { 0 };
                let n = ds[axis];
                let data =
                    random_tensor(&tt(DType::F32, ds), Fill::Pow2 { special: 0.0 }, &mut rng);
                let good = random_tensor(&tt(id, is), Fill::Range(0.0, n as f64 - 1.0), &mut rng);
                let mut index = good.clone();
                set_index(&mut index, 3, -5);
                set_index(&mut index, 7, n as i64 + 2);
                set_index(&mut index, 11, -1);
                let inputs = [data.clone(), index];
                if let Err(m) = check_same_error(&p, &inputs, &[data, good]) {
                    fails.push(m);
                }
            }
        }
    }
    report(fails);
}

#[test]
fn out_of_range_index_in_a_gather_that_is_not_an_output() {
    // The gather's result feeds only a slice that reads part of it, or nothing at all; the
    // reference evaluates every instruction and checks every index, so it reports the error.
    let mut fails = Vec::new();
    let mut rng = Rng::new(42);
    let data = random_tensor(&tt(DType::F32, &[4, 5]), MIXED, &mut rng);
    let good = random_tensor(&tt(DType::I64, &[4, 5]), Fill::Range(0.0, 3.0), &mut rng);
    let mut bad = good.clone();
    set_index(&mut bad, 19, 4);
    // (a) dead gather
    let (mut p, x) = with_params(&[(DType::F32, &[4, 5]), (DType::I64, &[4, 5])]);
    let _g = push(&mut p, Op::Gather { axis: 0 }, &[x[0], x[1]]);
    let y = push(&mut p, Op::Unary(UnaryOp::Neg), &[x[0]]);
    p.output(y);
    fails.extend(
        check_same_error(
            &p,
            &[data.clone(), bad.clone()],
            &[data.clone(), good.clone()],
        )
        .err(),
    );
    // (b) only the first row of the gather is used
    let (mut p, x) = with_params(&[(DType::F32, &[4, 5]), (DType::I64, &[4, 5])]);
    let g = push(&mut p, Op::Gather { axis: 0 }, &[x[0], x[1]]);
    let s = push(
        &mut p,
        Op::Slice {
            starts: vec![0, 0],
            stops: vec![1, 5],
            steps: vec![1, 1],
        },
        &[g],
    );
    p.output(s);
    fails.extend(
        check_same_error(
            &p,
            &[data.clone(), bad.clone()],
            &[data.clone(), good.clone()],
        )
        .err(),
    );
    // (c) index_select whose result is empty (data has a size-0 dim) but whose index is bad
    let (mut p, x) = with_params(&[(DType::F32, &[0, 5]), (DType::I32, &[3])]);
    let g = push(&mut p, Op::IndexSelect { axis: 1 }, &[x[0], x[1]]);
    p.output(g);
    let d0 = Tensor::zeros(tt(DType::F32, &[0, 5])).unwrap();
    let i_bad = Tensor::from_vec(vec![3], vec![1i32, 5, 2]).unwrap();
    let i_good = Tensor::from_vec(vec![3], vec![1i32, 4, 2]).unwrap();
    fails.extend(check_same_error(&p, &[d0.clone(), i_bad], &[d0, i_good]).err());
    report(fails);
}

#[test]
fn wrong_inputs_and_outputs_are_input_errors() {
    let (mut p, x) = with_params(&[(DType::F32, &[3, 4]), (DType::I32, &[4])]);
    let c = push_typed(&mut p, Op::Cast, &[x[1]], tt(DType::F32, &[4]));
    let y = push(&mut p, Op::Binary(BinaryOp::Add), &[x[0], c]);
    p.output(y);
    p.output(x[1]);
    let comp = compile(&p, &opts()).unwrap();
    let a = Tensor::zeros(tt(DType::F32, &[3, 4])).unwrap();
    let b = Tensor::zeros(tt(DType::I32, &[4])).unwrap();
    let is_input = |r: Result<Vec<Tensor>, Error>| matches!(r, Err(Error::Input(_)));
    assert!(is_input(comp.run(&[&a])), "too few inputs");
    assert!(is_input(comp.run(&[&a, &b, &b])), "too many inputs");
    assert!(is_input(comp.run(&[&b, &a])), "swapped inputs");
    let wrong_dtype = Tensor::zeros(tt(DType::I64, &[4])).unwrap();
    assert!(is_input(comp.run(&[&a, &wrong_dtype])), "wrong dtype");
    let wrong_shape = Tensor::zeros(tt(DType::F32, &[4, 3])).unwrap();
    assert!(is_input(comp.run(&[&wrong_shape, &b])), "wrong shape");
    let same_numel = Tensor::zeros(tt(DType::F32, &[12])).unwrap();
    assert!(
        is_input(comp.run(&[&same_numel, &b])),
        "wrong rank, same element count"
    );
    // The reference agrees on each of these.
    assert!(matches!(reference::run(&p, &[&a]), Err(Error::Input(_))));
    assert!(matches!(
        reference::run(&p, &[&a, &wrong_dtype]),
        Err(Error::Input(_))
    ));

    let ok = || {
        vec![
            Tensor::zeros(tt(DType::F32, &[3, 4])).unwrap(),
            Tensor::zeros(tt(DType::I32, &[4])).unwrap(),
        ]
    };
    let mut outs = ok();
    assert!(comp.run_into(&[&a, &b], &mut outs).is_ok());
    let mut few = vec![Tensor::zeros(tt(DType::F32, &[3, 4])).unwrap()];
    assert!(
        matches!(comp.run_into(&[&a, &b], &mut few), Err(Error::Input(_))),
        "too few outputs"
    );
    let mut many = ok();
    many.push(Tensor::zeros(tt(DType::F32, &[3, 4])).unwrap());
    assert!(
        matches!(comp.run_into(&[&a, &b], &mut many), Err(Error::Input(_))),
        "too many outputs"
    );
    let mut dt = ok();
    dt[1] = Tensor::zeros(tt(DType::I64, &[4])).unwrap();
    assert!(
        matches!(comp.run_into(&[&a, &b], &mut dt), Err(Error::Input(_))),
        "wrong output dtype"
    );
    let mut sh = ok();
    sh[0] = Tensor::zeros(tt(DType::F32, &[12])).unwrap();
    assert!(
        matches!(comp.run_into(&[&a, &b], &mut sh), Err(Error::Input(_))),
        "wrong output shape"
    );
    let mut swapped = ok();
    swapped.reverse();
    assert!(
        matches!(comp.run_into(&[&a, &b], &mut swapped), Err(Error::Input(_))),
        "swapped outputs"
    );
    // Bad inputs with good outputs are input errors too, and nothing is written.
    let mut outs = ok();
    assert!(matches!(
        comp.run_into(&[&a], &mut outs),
        Err(Error::Input(_))
    ));
    // And after all that, a good run still works.
    let a = Tensor::from_vec(vec![3, 4], (0..12).map(|i| i as f32).collect()).unwrap();
    let b = Tensor::from_vec(vec![4], vec![1i32, 2, 3, 4]).unwrap();
    let r = comp.run(&[&a, &b]).unwrap();
    assert_eq!(r, reference::run(&p, &[&a, &b]).unwrap());
}

// ======================================================================= random programs

/// A random program before interpretation: small numbers that [`Builder`] turns into
/// parameters and instructions. Proptest shrinks these (fewer steps, smaller numbers), and
/// every shrunk spec still builds a valid program, so failures minimise well.
#[derive(Clone, Debug)]
struct Spec {
    /// Index into [`BASES`]: most parameter shapes derive from this one, so that binary ops
    /// between them usually broadcast.
    base: u8,
    /// Per parameter: (dtype choice, shape choice, magnitude choice).
    params: Vec<(u8, u8, u8)>,
    steps: Vec<StepSpec>,
    seed: u64,
}

/// One step: `kind` selects the op, the other numbers its operands and attributes.
#[derive(Clone, Debug)]
struct StepSpec {
    kind: u8,
    x: u16,
    y: u16,
    z: u16,
    w: u16,
}

const BASES: &[&[usize]] = &[
    &[5],
    &[7],
    &[17],
    &[4, 3],
    &[3, 5],
    &[2, 3, 4],
    &[2, 1, 5],
    &[6, 9],
    &[1, 9],
    &[3, 0],
    &[33],
    &[2, 2, 2, 3],
    &[1],
    &[8, 4],
    &[3, 37],
    &[2, 3, 70],
];

/// Largest value the generator creates, in elements.
const MAX_NUMEL: usize = 2048;

fn spec_strategy() -> impl Strategy<Value = Spec> {
    let step = (
        0u8..25,
        any::<u16>(),
        any::<u16>(),
        any::<u16>(),
        any::<u16>(),
    )
        .prop_map(|(kind, x, y, z, w)| StepSpec { kind, x, y, z, w });
    (
        0..BASES.len() as u8,
        prop::collection::vec((any::<u8>(), any::<u8>(), any::<u8>()), 1..5),
        prop::collection::vec(step, 1..18),
        any::<u64>(),
    )
        .prop_map(|(base, params, steps, seed)| Spec {
            base,
            params,
            steps,
            seed,
        })
}

/// What the generator knows about a value: `mag` bounds the magnitude of its finite elements
/// (`inf` when unknown), `err` bounds |JIT - reference| on them (0: the value must match
/// exactly). See "Random programs" in the module docs.
#[derive(Clone, Copy, Debug)]
struct Meta {
    mag: f64,
    err: f64,
}

impl Meta {
    const EXACT_BOOL: Meta = Meta { mag: 1.0, err: 0.0 };

    fn exact(mag: f64) -> Meta {
        Meta { mag, err: 0.0 }
    }

    fn tainted(&self) -> bool {
        self.err > 0.0
    }
}

/// How an input parameter is filled (random programs use a tame set of special values whose
/// finite ones stay within the magnitude, so that `mag` holds).
#[derive(Clone, Copy, Debug)]
struct ParamFill {
    mag: f64,
    /// Integers: also MIN, MAX and full-range values (then `mag` is infinite).
    wild: bool,
}

fn tame_value(d: DType, f: ParamFill, rng: &mut Rng) -> f64 {
    if d.is_float() && rng.chance(0.06) {
        let tiny = if d == DType::F32 {
            f32::from_bits(3) as f64
        } else {
            f64::from_bits(3)
        };
        return rng.pick(&[
            f64::NAN,
            f64::INFINITY,
            f64::NEG_INFINITY,
            0.0,
            -0.0,
            tiny,
            -min_normal(d),
            0.5,
            -2.5,
        ]);
    }
    if d.is_float() {
        (rng.unit() * 2.0 - 1.0) * f.mag
    } else {
        rng.int_in(-(f.mag as i64), f.mag as i64) as f64
    }
}

fn tame_tensor(ty: &TensorType, f: ParamFill, rng: &mut Rng) -> Tensor {
    if ty.dtype.is_int() && f.wild {
        return random_tensor(ty, MIXED, rng);
    }
    let n = ty.shape.numel();
    let v: Vec<f64> = (0..n).map(|_| tame_value(ty.dtype, f, rng)).collect();
    let shape = ty.shape.clone();
    match ty.dtype {
        DType::F32 => Tensor::from_vec(shape, v.iter().map(|&x| x as f32).collect()),
        DType::F64 => Tensor::from_vec(shape, v),
        DType::I32 => Tensor::from_vec(shape, v.iter().map(|&x| x as i32).collect()),
        DType::I64 => Tensor::from_vec(shape, v.iter().map(|&x| x as i64).collect()),
        DType::Bool => Tensor::from_vec(shape, (0..n).map(|_| rng.chance(0.5)).collect()),
    }
    .unwrap()
}

struct Builder {
    p: Program,
    meta: Vec<Meta>,
    outputs: Vec<ValueId>,
}

/// Error-bound constants of a float dtype: unit roundoff `u`, machine epsilon (ulp of 1)
/// and the absolute floor for underflow.
fn consts(d: DType) -> (f64, f64, f64) {
    let u = unit_roundoff(d);
    (u, 2.0 * u, 4.0 * min_normal(d))
}

impl Builder {
    fn ty(&self, v: ValueId) -> &TensorType {
        self.p.value_type(v)
    }

    fn m(&self, v: ValueId) -> Meta {
        self.meta[v.index()]
    }

    /// Picks a value: usually one of the last few (so chains form), sometimes any.
    fn pick(&self, x: u16) -> ValueId {
        let n = self.meta.len();
        let k = (x >> 1) as usize;
        let i = if x & 1 == 0 {
            n - 1 - k % n.min(4)
        } else {
            k % n
        };
        ValueId(i as u32)
    }

    /// Values satisfying `f`, the `x`-th of them (cyclically), if any.
    fn find(&self, x: u16, f: impl Fn(ValueId) -> bool) -> Option<ValueId> {
        let all: Vec<ValueId> = (0..self.meta.len() as u32)
            .map(ValueId)
            .filter(|v| f(*v))
            .collect();
        (!all.is_empty()).then(|| all[x as usize % all.len()])
    }

    /// Appends `op` if it is valid, small enough and its error bound is finite.
    fn add(&mut self, op: Op, args: &[ValueId], declared: Option<TensorType>) -> Option<ValueId> {
        let decl = declared.unwrap_or_else(|| tt(DType::F32, &[]));
        let tys: Vec<&TensorType> = args.iter().map(|a| self.ty(*a)).collect();
        let ty = op.infer(&tys, &decl).ok()?;
        if ty.shape.numel() > MAX_NUMEL {
            return None;
        }
        let meta = self.meta_of(&op, args, &ty)?;
        if !(meta.err.is_finite() && (meta.err == 0.0 || meta.mag.is_finite())) {
            return None;
        }
        let v = self.p.push_typed(op, args, decl).ok()?;
        self.meta.push(meta);
        Some(v)
    }

    /// The forward error analysis of the module docs: `None` rejects the op (it would apply a
    /// discontinuous or ill-conditioned op to an approximate value, or could overflow).
    fn meta_of(&self, op: &Op, args: &[ValueId], ty: &TensorType) -> Option<Meta> {
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

    /// An index tensor of `shape` (dtype i32 or i64 by `sel`) whose values are in `0..n`:
    /// an iota plus, when one broadcasts, an integer value of the program, clamped with
    /// max/min — so the indices are data-dependent but always valid.
    fn index_tensor(&mut self, shape: &[usize], n: usize, sel: u16) -> Option<ValueId> {
        let id = if sel & 1 == 0 { DType::I32 } else { DType::I64 };
        let axis = (sel as usize >> 1) % shape.len().max(1);
        let base = if shape.is_empty() {
            self.add(
                Op::Constant {
                    value: Scalar::Int(sel as i64 % n as i64),
                },
                &[],
                Some(tt(id, &[])),
            )?
        } else {
            self.add(Op::Iota { axis }, &[], Some(tt(id, shape)))?
        };
        let target = Shape::new(shape.to_vec());
        let other = self.find(sel >> 3, |v| {
            self.ty(v).dtype.is_int()
                && lazyjit_lowering::op::broadcast_shapes(&[&self.ty(v).shape, &target])
                    .is_ok_and(|s| s == target)
        });
        let mut x = base;
        if let Some(o) = other {
            let o = if self.ty(o).dtype == id {
                o
            } else {
                let s = self.ty(o).shape.clone();
                self.add(Op::Cast, &[o], Some(TensorType::new(id, s)))?
            };
            x = self.add(Op::Binary(BinaryOp::Add), &[x, o], None)?;
        }
        let zero = self.add(
            Op::Constant {
                value: Scalar::Int(0),
            },
            &[],
            Some(tt(id, &[])),
        )?;
        let top = self.add(
            Op::Constant {
                value: Scalar::Int(n as i64 - 1),
            },
            &[],
            Some(tt(id, &[])),
        )?;
        let x = self.add(Op::Binary(BinaryOp::Max), &[x, zero], None)?;
        self.add(Op::Binary(BinaryOp::Min), &[x, top], None)
    }

    /// Interprets one step; `None` when the chosen op does not apply (the caller retries with
    /// other numbers).
    fn step(&mut self, s: &StepSpec) -> Option<ValueId> {
        let a = self.pick(s.x);
        let at = self.ty(a).clone();
        let rank = at.shape.rank();
        let dims = at.shape.dims().to_vec();
        let mut rng = Rng::new(((s.y as u64) << 32) ^ ((s.z as u64) << 16) ^ s.w as u64);
        match s.kind {
            0 | 1 => {
                let ops: Vec<UnaryOp> = UnaryOp::ALL
                    .into_iter()
                    .filter(|u| u.accepts(at.dtype))
                    .collect();
                let u = ops[s.y as usize % ops.len()];
                self.add(Op::Unary(u), &[a], None)
            }
            2..=4 => {
                let ops: Vec<BinaryOp> = BinaryOp::ALL
                    .into_iter()
                    .filter(|b| b.accepts(at.dtype))
                    .collect();
                let bop = ops[s.y as usize % ops.len()];
                let b = self.find(s.z, |v| {
                    let t = self.ty(v);
                    (t.dtype == at.dtype || (t.dtype.is_numeric() == at.dtype.is_numeric()))
                        && lazyjit_lowering::op::broadcast_shapes(&[&t.shape, &at.shape]).is_ok()
                })?;
                let b = if self.ty(b).dtype == at.dtype {
                    b
                } else {
                    let sh = self.ty(b).shape.clone();
                    self.add(Op::Cast, &[b], Some(TensorType::new(at.dtype, sh)))?
                };
                let (l, r) = if s.w & 1 == 0 { (a, b) } else { (b, a) };
                self.add(Op::Binary(bop), &[l, r], None)
            }
            5 => {
                let c = self.find(s.y, |v| {
                    self.ty(v).dtype == DType::Bool
                        && lazyjit_lowering::op::broadcast_shapes(&[&self.ty(v).shape, &at.shape])
                            .is_ok()
                })?;
                let b = self.find(s.z, |v| {
                    self.ty(v).dtype == at.dtype
                        && lazyjit_lowering::op::broadcast_shapes(&[
                            &self.ty(v).shape,
                            &at.shape,
                            &self.ty(c).shape,
                        ])
                        .is_ok()
                })?;
                let (l, r) = if s.w & 1 == 0 { (a, b) } else { (b, a) };
                self.add(Op::Where, &[c, l, r], None)
            }
            6 => {
                let to = DType::ALL[s.y as usize % 5];
                self.add(Op::Cast, &[a], Some(TensorType::new(to, at.shape.clone())))
            }
            7 => {
                let d = DType::ALL[s.y as usize % 5];
                let value = match d {
                    DType::Bool => Scalar::Bool(s.z & 1 == 1),
                    DType::F32 | DType::F64 if s.w % 3 == 0 => {
                        Scalar::Float(rng.pick(&[0.5, -0.0, 2.5, f64::NAN, f64::INFINITY, 1e-3]))
                    }
                    _ => Scalar::Int(s.z as i64 % 7 - 3),
                };
                let shape = if s.w & 4 == 0 {
                    Vec::new()
                } else {
                    dims.clone()
                };
                let c = self.add(Op::Constant { value }, &[], Some(tt(d, &shape)))?;
                if d == at.dtype && d.is_numeric() {
                    self.add(Op::Binary(BinaryOp::Add), &[a, c], None)
                } else {
                    Some(c)
                }
            }
            8 => {
                if rank == 0 {
                    return None;
                }
                let d = [DType::F32, DType::I32, DType::I64, DType::F64][s.y as usize % 4];
                let axis = s.z as usize % rank;
                let i = self.add(Op::Iota { axis }, &[], Some(tt(d, &dims)))?;
                if d == at.dtype {
                    self.add(Op::Binary(BinaryOp::Mul), &[a, i], None)
                } else {
                    Some(i)
                }
            }
            9 | 10 => {
                let op = ReduceOp::ALL[s.y as usize % 7];
                let keepdim = s.w & 1 == 1;
                let axes: Vec<usize> = if op.is_arg() {
                    if rank == 0 {
                        return None;
                    }
                    vec![s.z as usize % rank]
                } else {
                    (0..rank).filter(|&ax| s.z >> ax & 1 == 1).collect()
                };
                self.add(reduce(op, &axes, keepdim), &[a], None)
            }
            11 => {
                let n = at.shape.numel();
                let shape = random_factorisation(n, &mut rng);
                self.add(
                    Op::Reshape {
                        shape: Shape::new(shape),
                    },
                    &[a],
                    None,
                )
            }
            12 => {
                let perms = permutations(rank);
                let perm = perms[s.y as usize % perms.len()].clone();
                self.add(Op::Permute { perm }, &[a], None)
            }
            13 => {
                let mut shape: Vec<usize> = dims
                    .iter()
                    .map(|&d| if d == 1 { rng.pick(&[1, 2, 3, 5]) } else { d })
                    .collect();
                if s.w & 1 == 1 || rank == 0 {
                    shape.insert(0, rng.pick(&[1, 2, 3, 4]));
                }
                self.add(
                    Op::Expand {
                        shape: Shape::new(shape),
                    },
                    &[a],
                    None,
                )
            }
            14 => {
                let mut starts = Vec::new();
                let mut stops = Vec::new();
                let mut steps = Vec::new();
                for &d in &dims {
                    let start = rng.below(d + 1).min(d / 2 + 1).min(d);
                    let stop = start + rng.below(d - start + 1).max((d - start) / 2);
                    starts.push(start);
                    stops.push(stop.min(d));
                    steps.push(1 + rng.below(3));
                }
                self.add(
                    Op::Slice {
                        starts,
                        stops,
                        steps,
                    },
                    &[a],
                    None,
                )
            }
            15 => {
                if rank == 0 {
                    return None;
                }
                let axis = s.z as usize % rank;
                let same = |v: ValueId| {
                    let t = self.ty(v);
                    t.dtype == at.dtype
                        && t.shape.rank() == rank
                        && (0..rank).all(|k| k == axis || t.shape.dims()[k] == dims[k])
                };
                let b = self.find(s.y, same)?;
                let c = self.find(s.w, same)?;
                let args = match s.w % 3 {
                    0 => vec![a, b],
                    1 => vec![b, a, c],
                    _ => vec![a],
                };
                self.add(Op::Concat { axis }, &args, None)
            }
            16 => {
                let lo: Vec<usize> = dims.iter().map(|_| rng.below(3)).collect();
                let hi: Vec<usize> = dims.iter().map(|_| rng.below(3)).collect();
                let value = match at.dtype {
                    DType::Bool => Scalar::Bool(rng.chance(0.5)),
                    DType::F32 | DType::F64 => {
                        Scalar::Float(rng.pick(&[0.0, -1.5, f64::NAN, -0.0]))
                    }
                    _ => Scalar::Int(rng.int_in(-3, 3)),
                };
                self.add(Op::Pad { lo, hi, value }, &[a], None)
            }
            17 => {
                // gather: an index of a's rank, dims <= a's except on the axis.
                if rank == 0 {
                    return None;
                }
                let axis = s.z as usize % rank;
                if dims[axis] == 0 {
                    return None;
                }
                let shape: Vec<usize> = (0..rank)
                    .map(|k| {
                        if k == axis {
                            1 + rng.below(6)
                        } else if rng.chance(0.7) {
                            dims[k]
                        } else {
                            rng.below(dims[k] + 1)
                        }
                    })
                    .collect();
                let index = self.index_tensor(&shape, dims[axis], s.w)?;
                self.add(Op::Gather { axis }, &[a, index], None)
            }
            18 => {
                if rank == 0 {
                    return None;
                }
                let axis = s.z as usize % rank;
                if dims[axis] == 0 {
                    return None;
                }
                let irank = rng.below(3);
                let shape: Vec<usize> = (0..irank).map(|_| 1 + rng.below(5)).collect();
                let index = self.index_tensor(&shape, dims[axis], s.w)?;
                self.add(Op::IndexSelect { axis }, &[a, index], None)
            }
            23 | 24 => {
                // Row chain (what row groups are for): r = reduce(a, trailing axes, keepdim),
                // b = a ∘ r, c = reduce(b, same axes, keepdim), d = b ∘ c.
                if rank == 0 || !at.dtype.is_numeric() {
                    return None;
                }
                let first = (s.z as usize % rank).max(usize::from(rank > 1));
                let axes: Vec<usize> = (first..rank).collect();
                let ops = [ReduceOp::Max, ReduceOp::Sum, ReduceOp::Min, ReduceOp::Mean];
                let bins = [BinaryOp::Sub, BinaryOp::Add, BinaryOp::Mul, BinaryOp::Max];
                let r = self.add(reduce(ops[s.y as usize % 4], &axes, true), &[a], None)?;
                let b = self.add(Op::Binary(bins[s.w as usize % 4]), &[a, r], None)?;
                let b = if s.w & 4 == 4 && at.dtype.is_float() {
                    self.add(Op::Unary(UnaryOp::Exp), &[b], None).unwrap_or(b)
                } else {
                    b
                };
                let c = self.add(
                    reduce(ops[(s.y as usize >> 2) % 4], &axes, true),
                    &[b],
                    None,
                )?;
                self.add(Op::Binary(bins[(s.w as usize >> 3) % 4]), &[b, c], None)
            }
            19 | 20 => {
                // A transcendental op on a float value (the most error-prone path).
                let a = self.find(s.x, |v| self.ty(v).dtype.is_float())?;
                let u = [
                    UnaryOp::Exp,
                    UnaryOp::Log,
                    UnaryOp::Tanh,
                    UnaryOp::Sigmoid,
                    UnaryOp::Erf,
                    UnaryOp::Sin,
                    UnaryOp::Cos,
                ][s.y as usize % 7];
                self.add(Op::Unary(u), &[a], None)
            }
            _ => {
                // matmul with b = (a value whose last dim is a's last dim) transposed
                if rank < 2 || !at.dtype.is_numeric() {
                    return None;
                }
                let k = dims[rank - 1];
                let c = self.find(s.y, |v| {
                    let t = self.ty(v);
                    t.dtype == at.dtype && t.shape.rank() >= 2 && t.shape.dims().last() == Some(&k)
                })?;
                let cr = self.ty(c).shape.rank();
                let mut perm: Vec<usize> = (0..cr).collect();
                perm.swap(cr - 1, cr - 2);
                let b = self.add(Op::Permute { perm }, &[c], None)?;
                self.add(Op::MatMul, &[a, b], None)
            }
        }
    }
}

/// A random shape with `n` elements (rank 1 to 4), splitting `n`'s prime factors.
fn random_factorisation(n: usize, rng: &mut Rng) -> Vec<usize> {
    let rank = 1 + rng.below(4);
    if n == 0 {
        let mut s: Vec<usize> = (0..rank).map(|_| 1 + rng.below(3)).collect();
        s[rng.below(rank)] = 0;
        return s;
    }
    let mut shape = vec![1usize; rank];
    let mut m = n;
    let mut f = 2;
    while m > 1 {
        while m % f == 0 {
            let i = rng.below(rank);
            shape[i] *= f;
            m /= f;
        }
        f += 1;
    }
    shape
}

/// Builds the program, its inputs and the tolerance of each output from a spec.
fn build(spec: &Spec) -> (Program, Vec<Tensor>, Vec<Tol>) {
    let base = BASES[spec.base as usize % BASES.len()];
    let mut b = Builder {
        p: Program::new(),
        meta: Vec::new(),
        outputs: Vec::new(),
    };
    let mut fills = Vec::new();
    for (i, &(dsel, ssel, msel)) in spec.params.iter().enumerate() {
        let d = [
            DType::F32,
            DType::F32,
            DType::F32,
            DType::F64,
            DType::I32,
            DType::I64,
            DType::Bool,
            DType::Bool,
        ][dsel as usize % 8];
        let r = base.len();
        let shape: Vec<usize> = match ssel % 5 {
            0 | 1 => base.to_vec(),
            2 => base
                .iter()
                .enumerate()
                .map(|(k, &n)| if ssel >> (3 + k) & 1 == 1 { 1 } else { n })
                .collect(),
            3 => base[(ssel as usize >> 3) % (r + 1)..].to_vec(),
            _ => Vec::new(),
        };
        let fill = ParamFill {
            mag: [1.0, 3.0, 3.0, 20.0][msel as usize % 4],
            wild: d.is_int() && msel & 0x30 == 0x30,
        };
        b.p.param(format!("p{i}"), tt(d, &shape));
        b.meta.push(match d {
            DType::Bool => Meta::EXACT_BOOL,
            _ if fill.wild => Meta::exact(f64::INFINITY),
            // The tame specials include -2.5 and 0.5.
            _ => Meta::exact(fill.mag.max(2.5)),
        });
        fills.push(fill);
    }
    for s in &spec.steps {
        if s.kind == 22 {
            // Mark a value as an output (parameters and repeats included).
            let v = b.pick(s.x);
            b.outputs.push(v);
            continue;
        }
        // Retry with perturbed numbers when the op does not apply.
        for attempt in 0..4u16 {
            let t = StepSpec {
                kind: s.kind,
                x: s.x.wrapping_add(attempt.wrapping_mul(7)),
                y: s.y.wrapping_add(attempt),
                z: s.z.wrapping_add(attempt.wrapping_mul(3)),
                w: s.w,
            };
            if b.step(&t).is_some() {
                break;
            }
        }
    }
    let last = ValueId(b.meta.len() as u32 - 1);
    let mut p = b.p;
    for &o in b.outputs.iter().chain(std::iter::once(&last)) {
        p.output(o);
    }
    let mut rng = Rng::new(spec.seed);
    let inputs: Vec<Tensor> = p
        .params
        .iter()
        .zip(&fills)
        .map(|(q, f)| tame_tensor(&q.ty, *f, &mut rng))
        .collect();
    let tols = p
        .outputs
        .iter()
        .map(|o| {
            let m = b.meta[o.index()];
            if m.tainted() {
                Tol::Rel {
                    rel: 0.0,
                    abs: m.err,
                }
            } else {
                Tol::Exact
            }
        })
        .collect();
    (p, inputs, tols)
}

fn random_program_cases() -> u32 {
    std::env::var("LAZYJIT_DIFF_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(300)
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: random_program_cases(),
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    /// Random valid programs (random parameters, then random ops on existing values: views,
    /// reductions feeding elementwise ops, multi-use values, several outputs) agree with the
    /// reference. `LAZYJIT_DIFF_CASES=N` runs N cases.
    #[test]
    fn random_programs_match_reference(spec in spec_strategy()) {
        let (p, inputs, tols) = build(&spec);
        // Half the cases without Cranelift's optimiser (a different lowering of the same CLIF).
        let options = CompileOptions {
            opt_level: if spec.seed & 1 == 1 { OptLevel::None } else { OptLevel::Speed },
            ..opts()
        };
        if let Err(m) = check_with(&p, &inputs, &tols, &options) {
            prop_assert!(false, "{}", m);
        }
    }
}

/// Statistics of the generator (run with `--ignored --nocapture`): which ops the random
/// programs contain, so that a change that starves an op is noticed.
#[test]
#[ignore]
fn random_program_op_histogram() {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;
    let mut runner = TestRunner::deterministic();
    let mut hist = std::collections::BTreeMap::new();
    let (mut insts, mut tainted_outs, mut outs) = (0, 0, 0);
    for _ in 0..500 {
        let spec = spec_strategy().new_tree(&mut runner).unwrap().current();
        let (p, _, tols) = build(&spec);
        for i in &p.insts {
            *hist.entry(i.op.name()).or_insert(0) += 1;
        }
        let plan = compile(&p, &opts()).unwrap().plan().clone();
        for k in &plan.kernels {
            *hist
                .entry(match k.kind {
                    lazyjit_lowering::codegen::KernelKind::Loop => "[loop kernel]",
                    lazyjit_lowering::codegen::KernelKind::Reduce => "[reduce kernel]",
                    lazyjit_lowering::codegen::KernelKind::MatMul => "[matmul kernel]",
                    lazyjit_lowering::codegen::KernelKind::Check => "[check kernel]",
                })
                .or_insert(0) += 1;
        }
        for g in &plan.groups {
            if g.kernels.len() > 1 {
                *hist.entry("[row group]").or_insert(0) += 1;
            }
        }
        for st in &plan.storage {
            if matches!(st, lazyjit_lowering::codegen::Storage::Scratch { .. }) {
                *hist.entry("[row scratch]").or_insert(0) += 1;
            }
        }
        insts += p.insts.len();
        outs += tols.len();
        tainted_outs += tols.iter().filter(|t| !matches!(t, Tol::Exact)).count();
    }
    println!("{insts} instructions, {outs} outputs ({tainted_outs} with a tolerance)");
    for (k, v) in hist {
        println!("{k:>14} {v}");
    }
}

#[test]
fn max_min_reductions_of_signed_zeros() {
    // Rows of ±0.0 mixed with values below (max) / above (min) zero, in every lane position
    // and order, so that the maximum / minimum is a zero reached by ties in both orders.
    let mut fails = Vec::new();
    let mut rng = Rng::new(43);
    for n in [1, 2, 3, 4, 5, 8, 9, 16, 17, 33] {
        for d in [DType::F32, DType::F64] {
            let rows = 6;
            let (mut p, x) = with_params(&[(d, &[rows, n]), (d, &[rows, n])]);
            for (v, op) in [(x[0], ReduceOp::Max), (x[1], ReduceOp::Min)] {
                for axes in [vec![1], vec![0], vec![0, 1]] {
                    let y = push(&mut p, reduce(op, &axes, false), &[v]);
                    p.output(y);
                }
            }
            let mut gen = |sign: f64| -> Vec<f64> {
                (0..rows * n)
                    .map(|_| match rng.below(4) {
                        0 => 0.0,
                        1 => -0.0,
                        2 => sign * 1.5,
                        _ => rng.pick(&[0.0, -0.0]),
                    })
                    .collect()
            };
            let (lo, hi) = (gen(-1.0), gen(1.0));
            let t = |v: Vec<f64>| {
                if d == DType::F32 {
                    Tensor::from_vec(vec![rows, n], v.iter().map(|&x| x as f32).collect()).unwrap()
                } else {
                    Tensor::from_vec(vec![rows, n], v).unwrap()
                }
            };
            fails.extend(check(&p, &[t(lo), t(hi)], &[Tol::Exact]).err());
        }
    }
    report(fails);
}

// ======================================================================= regressions
//
// The minimised programs of the bugs these tests found, each checked exactly against the
// reference on the inputs that showed it.

/// Parses `src`, runs it on `inputs` through both, and requires exact agreement.
fn regression(src: &str, inputs: &[Tensor]) {
    let p = text::parse(src).expect("regression program parses");
    if let Err(m) = check(&p, inputs, &[Tol::Exact]) {
        panic!("{m}");
    }
}

/// A loop kernel whose root cannot be computed four lanes at a time (here: an f64 compare
/// giving bool) fell back to per-lane evaluation, which *loaded the root's own output buffer*
/// instead of computing it (emit.rs `per_lane` used `compute_or_load`).
#[test]
fn regression_per_lane_root_is_computed_not_loaded() {
    regression(
        "param %a: f64[6]\nparam %b: f64[6]\n%2: bool[6] = eq %a, %b\nreturn %2\n",
        &[
            Tensor::from_vec(vec![6], vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0]).unwrap(),
            Tensor::from_vec(vec![6], vec![1.0, 0.0, 3.0, 4.0, 0.0, 6.0]).unwrap(),
        ],
    );
}

/// relu(-0.0) and sign(-0.0) must be +0.0; the JIT returned -0.0 (`x < 0 ? 0 : x` and a
/// sign that passed zeros through).
#[test]
fn regression_relu_and_sign_of_negative_zero() {
    regression(
        "param %x: f32[5]\n%1: f32[5] = relu %x\n%2: f32[5] = sign %x\nreturn %1, %2\n",
        &[Tensor::from_vec(vec![5], vec![-0.0f32, 0.0, -0.0, -0.0, f32::NAN]).unwrap()],
    );
    regression(
        "param %x: f64[2]\n%1: f64[2] = relu %x\n%2: f64[2] = sign %x\nreturn %1, %2\n",
        &[Tensor::from_vec(vec![2], vec![-0.0f64, 0.0]).unwrap()],
    );
}

/// An integer literal for an f32 constant was rounded to f64 first and then to f32 (double
/// rounding): 2^60 + 2^36 + 1 gave 2^60 instead of 2^60 + 2^37.
#[test]
fn regression_f32_constant_from_an_integer_literal_rounds_once() {
    regression(
        "param %x: f32[5]\n%1: f32[5] = constant 1152921573326323713\n%2: f32[5] = add %x, %1\nreturn %1, %2\n",
        &[Tensor::from_vec(vec![5], vec![0.0f32; 5]).unwrap()],
    );
}

/// Float sums started from +0.0, so a sum over one element (or `axes=[]`, or only -0.0s)
/// turned -0.0 into +0.0; the reference folds from the first element.
#[test]
fn regression_sum_keeps_negative_zero() {
    regression(
        "param %x: f32[3, 1]\n%1: f32[3] = reduce_sum %x, axes=[1], keepdim=false\n\
         %2: f32[3, 1] = reduce_mean %x, axes=[], keepdim=false\n\
         %3: f32[] = reduce_sum %1, axes=[0], keepdim=false\nreturn %1, %2, %3\n",
        &[Tensor::from_vec(vec![3, 1], vec![-0.0f32, -0.0, -0.0]).unwrap()],
    );
}

/// A reduction over an axis of size 0 with a non-empty result read element 0 of the empty
/// operand (an out-of-bounds read) instead of storing the empty fold (max: -inf, min: +inf,
/// mean: NaN).
#[test]
fn regression_reduction_over_an_empty_axis() {
    regression(
        "param %x: f32[3, 0]\n%1: f32[3] = reduce_max %x, axes=[1], keepdim=false\n\
         %2: f32[3, 1] = reduce_min %x, axes=[1], keepdim=true\n\
         %3: f32[3] = reduce_mean %x, axes=[1], keepdim=false\n\
         %4: f32[3] = reduce_sum %x, axes=[1], keepdim=false\n\
         %5: f32[3] = reduce_prod %x, axes=[1], keepdim=false\nreturn %1, %2, %3, %4, %5\n",
        &[Tensor::zeros(tt(DType::F32, &[3, 0])).unwrap()],
    );
    regression(
        "param %x: i64[0, 2]\n%1: i64[2] = reduce_max %x, axes=[0], keepdim=false\nreturn %1\n",
        &[Tensor::zeros(tt(DType::I64, &[0, 2])).unwrap()],
    );
}

/// Out-of-range indices were only noticed where the gathered value was computed: a dead
/// gather, a gather read only through a slice, or an index_select with an empty result never
/// reported them, and with several bad indices the last one evaluated was named. Each gather
/// now has a check kernel (plan.rs `KernelKind::Check`).
#[test]
fn regression_index_errors_of_unread_gathers() {
    let p = text::parse(
        "param %d: f32[4]\nparam %i: i32[3]\n%2: f32[3] = gather %d, %i, axis=0\n\
         %3: f32[1] = slice %2, starts=[0], stops=[1], steps=[1]\n%4: f32[4] = neg %d\nreturn %3, %4\n",
    )
    .unwrap();
    let d = Tensor::from_vec(vec![4], vec![1.0f32, 2.0, 3.0, 4.0]).unwrap();
    let i = Tensor::from_vec(vec![3], vec![0i32, -3, 9]).unwrap();
    let c = compile(&p, &opts()).unwrap();
    let want = Error::IndexOutOfRange {
        op: "gather",
        value: 2,
        index: -3,
        axis: 0,
        size: 4,
    };
    assert_eq!(reference::run(&p, &[&d, &i]).unwrap_err(), want);
    assert_eq!(c.run(&[&d, &i]).unwrap_err(), want);
}

/// Loop kernels over several dims run as one flat loop whose index lives in the last dim; with
/// a last dim of size 1 the operands' size-1 dim was read as a broadcast dim (index 0), so
/// `exp` of an f32[4, 1] returned exp(x[0]) four times.
#[test]
fn regression_flat_loop_with_a_last_dim_of_size_one() {
    regression(
        "param %x: f32[4, 1]\nparam %y: f32[4, 1]\n%2: f32[4, 1] = exp %x\n%3: f32[4, 1] = add %x, %y\n\
         %4: f32[2, 4, 1] = expand %3, shape=[2, 4, 1]\n%5: f32[2, 4, 1] = neg %4\nreturn %3, %5\n",
        &[
            Tensor::from_vec(vec![4, 1], vec![0.5f32, -1.0, 2.0, 3.0]).unwrap(),
            Tensor::from_vec(vec![4, 1], vec![1.0f32, 2.0, 3.0, 4.0]).unwrap(),
        ],
    );
    let p = text::parse("param %x: f32[4, 1]\n%1: f32[4, 1] = exp %x\nreturn %1\n").unwrap();
    let x = Tensor::from_vec(vec![4, 1], vec![0.5f32, -1.0, 2.0, 3.0]).unwrap();
    let tol = unary_tol(UnaryOp::Exp, DType::F32);
    if let Err(m) = check(&p, &[x], &[tol]) {
        panic!("{m}");
    }
}

/// Float max/min reductions accumulate with compare-and-select, which keeps the accumulator
/// on ties, so `reduce_min [+0.0, -0.0]` gave +0.0 (and max of [-0.0, +0.0] gave -0.0).
#[test]
fn regression_max_min_reduction_ties_of_signed_zeros() {
    regression(
        "param %x: f64[2]\n%1: f64[] = reduce_min %x, axes=[0], keepdim=false\n\
         %2: f64[] = reduce_max %x, axes=[0], keepdim=false\nreturn %1, %2\n",
        &[Tensor::from_vec(vec![2], vec![0.0f64, -0.0]).unwrap()],
    );
    regression(
        "param %x: f32[9]\n%1: f32[] = reduce_min %x, axes=[0], keepdim=false\n\
         %2: f32[] = reduce_max %x, axes=[0], keepdim=false\nreturn %1, %2\n",
        &[Tensor::from_vec(
            vec![9],
            vec![0.0f32, -0.0, 0.0, -0.0, -0.0, 0.0, 0.0, -0.0, 0.0],
        )
        .unwrap()],
    );
}

/// Debugging aid for a failing case: prints the plan, the CLIF and the comparison of the
/// program in file `$LAZYJIT_DIFF_PROGRAM` on random inputs (exact tolerance):
/// `LAZYJIT_DIFF_PROGRAM=case.lj cargo test -p lazyjit-lowering --test differential
/// debug_one_program -- --ignored --nocapture`.
#[test]
#[ignore]
fn debug_one_program() {
    let src = std::fs::read_to_string(std::env::var("LAZYJIT_DIFF_PROGRAM").unwrap()).unwrap();
    let p = text::parse(&src).unwrap();
    let c = compile(
        &p,
        &CompileOptions {
            keep_clif: true,
            ..opts()
        },
    )
    .unwrap();
    println!("{}\n{}", c.plan(), c.clif());
    let inputs = random_inputs(&p, MIXED, &mut Rng::new(0));
    match check(&p, &inputs, &[Tol::Exact]) {
        Ok(()) => println!("JIT and reference agree exactly"),
        Err(m) => println!("{m}"),
    }
}
