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
//!   2u·mag a·mag b`, `err(exp x) = e^mag·err x + 4 ulp`, sums as above, ...), and compares
//!   tainted outputs with `|j - r| <= err`. Ops whose result is discontinuous or ill-conditioned
//!   in their operand (comparisons, floor/ceil/round/sign, casts to int/bool, argmax/argmin,
//!   div, log, sqrt, pow, ...) are never applied to tainted values, so one rounding difference
//!   can never flip a comparison.
//!
//! No sign-of-zero exception was needed: the JIT's max/min (binary, reductions, relu) and sign
//! agree with the reference bit for bit on `±0.0`.
//!
//! Every compile uses `CompileOptions { verify_clif: true, .. }`. Each program is run twice: by
//! `run`, and by `run_into` with output tensors pre-filled with garbage, which must give the
//! same bytes (every output element is written; cached intermediate buffers are reused).
//!
//! The regression tests at the end (`regression_*`) are the minimised programs of bugs these
//! tests found; each names the bug it guards.

use lazyjit_lowering::codegen::{compile, CompileOptions};
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
        f32::from_bits(1),           // smallest subnormal
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
            (0..n).map(|_| gen_float(DType::F32, fill, rng) as f32).collect(),
        ),
        DType::F64 => {
            Tensor::from_vec(shape, (0..n).map(|_| gen_float(DType::F64, fill, rng)).collect())
        }
        DType::I32 => Tensor::from_vec(
            shape,
            (0..n)
                .map(|_| gen_int(DType::I32, fill, rng) as i32)
                .collect(),
        ),
        DType::I64 => {
            Tensor::from_vec(shape, (0..n).map(|_| gen_int(DType::I64, fill, rng)).collect())
        }
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
    /// `|j - r| <= ulps · ulp(r) + abs`.
    Ulps { ulps: f64, abs: f64 },
    /// `|j - r| <= rel · |r| + abs`.
    Rel { rel: f64, abs: f64 },
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
    let (jv, rv) = (j.get_f64(i).unwrap(), r.get_f64(i).unwrap());
    if rv.is_nan() || jv.is_nan() {
        return rv.is_nan() && jv.is_nan();
    }
    let bound = match tol {
        Tol::Exact => return elem_bytes(j, i) == elem_bytes(r, i),
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
    let bad: Vec<usize> = (0..r.numel())
        .filter(|&i| !elem_ok(j, r, i, tol))
        .collect();
    if bad.is_empty() {
        return Ok(());
    }
    let mut s = format!("{} of {} elements differ ({tol_name}):", bad.len(), r.numel(), tol_name = match tol {
        Tol::Exact => "exact".to_string(),
        Tol::Ulps { ulps, abs } => format!("{ulps} ulp + {abs:e}"),
        Tol::Rel { rel, abs } => format!("rel {rel:e} + {abs:e}"),
        Tol::Bound(_) => "per-element bound".to_string(),
    });
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
    idx.iter().map(|x| x.to_string()).collect::<Vec<_>>().join(", ")
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
    let mut t = Tensor::zeros(ty.clone());
    let byte = if ty.dtype == DType::Bool { 1 } else { 0xA5 };
    t.buffer_mut().as_bytes_mut().fill(byte);
    t
}

/// Runs `p` through the reference and the JIT (twice: `run` and `run_into` over garbage) and
/// compares output `i` with `tols[i]` (or `tols[0]` for every output when there is one).
fn check(p: &Program, inputs: &[Tensor], tols: &[Tol]) -> Result<(), String> {
    let ins: Vec<&Tensor> = inputs.iter().collect();
    let fail = |m: String| -> String {
        format!(
            "{m}\nprogram:\n{}inputs:\n{}",
            text::print(p),
            summary(inputs)
        )
    };
    let refs = reference::run(p, &ins).map_err(|e| fail(format!("reference failed: {e}")))?;
    let c = compile(p, &opts()).map_err(|e| fail(format!("compile failed: {e}")))?;
    let jit = c.run(&ins).map_err(|e| fail(format!("JIT run failed: {e}")))?;
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
    panic!("{n} failing cases; the first ones:\n\n{}", shown.join("\n\n"));
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
            fails.extend(check(&p, &inputs, &[Tol::Exact]).err());
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
    let vals = [-0.0f32, 0.0, f32::from_bits(1), -3.5, f32::NAN, f32::NEG_INFINITY, 7.0];
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
            let e = push(&mut p, Op::Expand { shape: Shape::new([r, c]) }, &[x[1]]);
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
            let rs = push(&mut p, Op::Reshape { shape: Shape::new([r, c]) }, &[t]);
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
    for (r, c) in [(1, 1), (3, 1), (4, 3), (5, 5), (2, 17), (7, 33), (3, 1023), (64, 7)] {
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
            push(&mut p, Op::Permute { perm: vec![2, 0, 1] }, &[x[0]]),
            push(&mut p, Op::Permute { perm: vec![1, 2, 0] }, &[x[0]]),
            push(&mut p, Op::Expand { shape: Shape::new([2, 3, 4]) }, &[x[1]]),
            {
                let e = push(&mut p, Op::Expand { shape: Shape::new([3, 2, 4]) }, &[x[1]]);
                push(&mut p, Op::Permute { perm: vec![1, 0, 2] }, &[e])
            },
        ];
        for v in views {
            for t in targets {
                let y = push(&mut p, Op::Reshape { shape: Shape::new(t.to_vec()) }, &[v]);
                p.output(y);
                // And fused into an elementwise op with a reshaped parameter.
                if d.is_numeric() {
                    let z = push(&mut p, Op::Reshape { shape: Shape::new(t.to_vec()) }, &[x[0]]);
                    let s = push(&mut p, Op::Binary(BinaryOp::Max), &[y, z]);
                    p.output(s);
                }
            }
        }
        // Reshape of an empty tensor and of a rank-0 tensor.
        let e = push_typed(&mut p, Op::Constant { value: Scalar::Int(1).fit(d) }, &[], tt(d, &[0, 3]));
        let er = push(&mut p, Op::Reshape { shape: Shape::new([5, 0]) }, &[e]);
        p.output(er);
        let s = push(&mut p, Op::Slice { starts: vec![1], stops: vec![2], steps: vec![1] }, &[x[1]]);
        let s0 = push(&mut p, Op::Reshape { shape: Shape::new([]) }, &[s]);
        let s1 = push(&mut p, Op::Reshape { shape: Shape::new([1, 1, 1]) }, &[s0]);
        p.output(s0);
        p.output(s1);
        let inputs = random_inputs(&p, MIXED, &mut rng);
        fails.extend(check(&p, &inputs, &[Tol::Exact]).err());
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
        for shape in [&[2, 3, 5][..], &[7, 13], &[2, 1, 3, 4], &[5, 0, 2], &[9, 4, 1]] {
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
            fails.extend(check(&p, &inputs, &[Tol::Exact]).err());
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
            let y = push(&mut p, Op::Expand { shape: Shape::new(to.to_vec()) }, &[x[0]]);
            p.output(y);
            let w = push(&mut p, Op::Binary(BinaryOp::Eq), &[y, x[1]]);
            p.output(w);
            let inputs = random_inputs(&p, MIXED, &mut rng);
            fails.extend(check(&p, &inputs, &[Tol::Exact]).err());
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
            fails.extend(check(&p, &inputs, &[Tol::Exact]).err());
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
            fails.extend(check(&p, &inputs, &[Tol::Exact]).err());
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
                fails.extend(check(&p, &inputs, &[Tol::Exact]).err());
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
                fails.extend(check(&p, &[data, index], &[Tol::Exact]).err());
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
                fails.extend(check(&p, &[data, index], &[Tol::Exact]).err());
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
            let be = push(&mut p, Op::Expand { shape: Shape::new(eshape) }, &[b]);
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
            Tol::Rel { rel: 0.0, abs: bound },
            Tol::Exact,
            Tol::Rel { rel: 0.0, abs: bound },
            Tol::Ulps { ulps: 4.0, abs: 0.0 },
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
    let fail = |m: String| format!("{m}\nprogram:\n{}inputs:\n{}", text::print(p), summary(inputs));
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
    let jg = c.run(&good_ins).map_err(|e| fail(format!("JIT after an error: {e}")))?;
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
    let y = push(&mut p, reduce(ReduceOp::Sum, &(0..r).collect::<Vec<_>>(), false), &[g]);
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
                let data = random_tensor(&tt(DType::F32, ds), Fill::Pow2 { special: 0.0 }, &mut rng);
                let good = random_tensor(&tt(id, is), Fill::Range(0.0, n as f64 - 1.0), &mut rng);
                let numel = good.numel();
                for bad in bad_indices(n, id) {
                    let pos = rng.below(numel);
                    let mut index = good.clone();
                    set_index(&mut index, pos, bad);
                    let inputs = [data.clone(), index];
                    match check_same_error(&p, &inputs, &[data.clone(), good.clone()]) {
                        Ok(Error::IndexOutOfRange { op, value, index, axis: a, size }) => {
                            let want_op = if select { "index_select" } else { "gather" };
                            let ok = op == want_op && value == 2 && index == bad && a == axis && size == n;
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
            let (ds, is): (&[usize], &[usize]) = if select { (&[5, 7], &[13]) } else { (&[9, 5], &[9, 5]) };
            for p in indexing_programs(DType::F32, id, ds, is, if select { 1 } else { 0 }, select) {
                let axis = if select { 1 } else { 0 };
                let n = ds[axis];
                let data = random_tensor(&tt(DType::F32, ds), Fill::Pow2 { special: 0.0 }, &mut rng);
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
    fails.extend(check_same_error(&p, &[data.clone(), bad.clone()], &[data.clone(), good.clone()]).err());
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
    fails.extend(check_same_error(&p, &[data.clone(), bad.clone()], &[data.clone(), good.clone()]).err());
    // (c) index_select whose result is empty (data has a size-0 dim) but whose index is bad
    let (mut p, x) = with_params(&[(DType::F32, &[0, 5]), (DType::I32, &[3])]);
    let g = push(&mut p, Op::IndexSelect { axis: 1 }, &[x[0], x[1]]);
    p.output(g);
    let d0 = Tensor::zeros(tt(DType::F32, &[0, 5]));
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
    let a = Tensor::zeros(tt(DType::F32, &[3, 4]));
    let b = Tensor::zeros(tt(DType::I32, &[4]));
    let is_input = |r: Result<Vec<Tensor>, Error>| matches!(r, Err(Error::Input(_)));
    assert!(is_input(comp.run(&[&a])), "too few inputs");
    assert!(is_input(comp.run(&[&a, &b, &b])), "too many inputs");
    assert!(is_input(comp.run(&[&b, &a])), "swapped inputs");
    let wrong_dtype = Tensor::zeros(tt(DType::I64, &[4]));
    assert!(is_input(comp.run(&[&a, &wrong_dtype])), "wrong dtype");
    let wrong_shape = Tensor::zeros(tt(DType::F32, &[4, 3]));
    assert!(is_input(comp.run(&[&wrong_shape, &b])), "wrong shape");
    let same_numel = Tensor::zeros(tt(DType::F32, &[12]));
    assert!(is_input(comp.run(&[&same_numel, &b])), "wrong rank, same element count");
    // The reference agrees on each of these.
    assert!(matches!(reference::run(&p, &[&a]), Err(Error::Input(_))));
    assert!(matches!(reference::run(&p, &[&a, &wrong_dtype]), Err(Error::Input(_))));

    let ok = || vec![Tensor::zeros(tt(DType::F32, &[3, 4])), Tensor::zeros(tt(DType::I32, &[4]))];
    let mut outs = ok();
    assert!(comp.run_into(&[&a, &b], &mut outs).is_ok());
    let mut few = vec![Tensor::zeros(tt(DType::F32, &[3, 4]))];
    assert!(matches!(comp.run_into(&[&a, &b], &mut few), Err(Error::Input(_))), "too few outputs");
    let mut many = ok();
    many.push(Tensor::zeros(tt(DType::F32, &[3, 4])));
    assert!(matches!(comp.run_into(&[&a, &b], &mut many), Err(Error::Input(_))), "too many outputs");
    let mut dt = ok();
    dt[1] = Tensor::zeros(tt(DType::I64, &[4]));
    assert!(matches!(comp.run_into(&[&a, &b], &mut dt), Err(Error::Input(_))), "wrong output dtype");
    let mut sh = ok();
    sh[0] = Tensor::zeros(tt(DType::F32, &[12]));
    assert!(matches!(comp.run_into(&[&a, &b], &mut sh), Err(Error::Input(_))), "wrong output shape");
    let mut swapped = ok();
    swapped.reverse();
    assert!(matches!(comp.run_into(&[&a, &b], &mut swapped), Err(Error::Input(_))), "swapped outputs");
    // Bad inputs with good outputs are input errors too, and nothing is written.
    let mut outs = ok();
    assert!(matches!(comp.run_into(&[&a], &mut outs), Err(Error::Input(_))));
    // And after all that, a good run still works.
    let a = Tensor::from_vec(vec![3, 4], (0..12).map(|i| i as f32).collect()).unwrap();
    let b = Tensor::from_vec(vec![4], vec![1i32, 2, 3, 4]).unwrap();
    let r = comp.run(&[&a, &b]).unwrap();
    assert_eq!(r, reference::run(&p, &[&a, &b]).unwrap());
}

/// Scratch: `LJ_PROG=file cargo test --test differential scratch -- --ignored --nocapture`.
#[test]
#[ignore]
fn scratch() {
    let src = std::fs::read_to_string(std::env::var("LJ_PROG").unwrap()).unwrap();
    let p = text::parse(&src).unwrap();
    let c = compile(&p, &CompileOptions { keep_clif: true, ..opts() }).unwrap();
    println!("{}\n{}", c.plan(), c.clif());
    let inputs = random_inputs(&p, MIXED, &mut Rng::new(0));
    println!("{:?}", check(&p, &inputs, &[Tol::Exact]));
}
