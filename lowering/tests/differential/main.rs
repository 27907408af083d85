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
//! * **Random programs** (`random_programs_match_reference`; the generator is
//!   `lazyjit_lowering::testing::generator`): values computed only by exact
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
//! The regression tests (`regressions.rs`, `regression_*`) are the minimised programs of bugs these
//! tests found; each names the bug it guards.
//!
//! The test support (random inputs, tolerances, comparison, the program generator) is
//! `lazyjit_lowering::testing`; the tests are grouped by area in the modules below, all in
//! one test binary.

mod elementwise;
mod errors;
mod indexing;
mod layout;
mod matmul;
mod random;
mod reductions;
mod regressions;
mod whole_programs;

use lazyjit_lowering::codegen::{compile, CompileOptions, OptLevel};
use lazyjit_lowering::testing::compare::{check, check_with, compare, opts, report, summary};
use lazyjit_lowering::testing::generator::permutations;
use lazyjit_lowering::testing::inputs::{random_inputs, random_tensor, reduce, tt, Fill, MIXED};
use lazyjit_lowering::testing::rng::Rng;
use lazyjit_lowering::testing::tolerance::{
    binary_tol, gamma, moves_bitwise, sum_tol, unary_tol, Tol,
};
use lazyjit_lowering::{
    reference, text, BinaryOp, DType, Error, Op, Program, ReduceOp, Scalar, Shape, Tensor,
    TensorType, UnaryOp, ValueId,
};

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
