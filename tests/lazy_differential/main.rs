//! Differential tests of the lazy front end: random op sequences on `LazyTensor`, built
//! from a seed, run under the Cranelift backend and under the reference backend (the
//! ndarray interpreter, op by op); every value they produce must agree.
//!
//! # What a case is
//!
//! A seeded generator builds 1–3 input tensors (f32 mostly; i32, i64, f64 and bool too;
//! shapes are broadcast variants of one base shape, so binary ops between inputs are mostly
//! valid; the base shape has rank 0–3 and dims 1–4, or in 15% of cases rank 1–2 and dims up
//! to 70, for the vectorised loops, their remainders and the GEMM path; 30% of cases put
//! NaN, ±inf, ±0 and subnormals into float inputs) and a DAG of 1–12 ops over them (plus the helper ops some ops need, such
//! as the transpose that makes a matmul valid). It only builds valid ops: shapes, dtypes,
//! axes and indices are chosen from the operands' types, never left to errors. Ops:
//! unary (every `UnaryOp`), binary with broadcasting, ops with a Rust scalar (both sides,
//! with 0 and 1, which are inlined as constants, and other values, which are parameters),
//! `where`, `cast`, reductions (sum/mean/max/min/prod over axis lists with negative axes
//! and keepdim, argmax/argmin, whole-tensor reductions), `logsumexp`, `softmax`,
//! `log_softmax`, reshape/permute/transpose/expand/slice/narrow/concat/pad/flatten/
//! squeeze/unsqueeze, `index_select`/`gather` (with in-range index tensors), `matmul`
//! (batched and broadcast), `clamp`, and constants (`full`, `zeros`, `ones`, `arange`).
//! Between ops it inserts syncs of 1–3 values (multi-output syncs, sometimes naming one
//! tensor twice), reads of a value, and `mark_step`. At the end it syncs the last value
//! with up to two others in one multi-output sync, then every still-pending value in one
//! more sync, and reads every value. So values computed by an earlier sync are reused by
//! later graphs that still reference their nodes.
//!
//! The same case (same seed) runs once per backend (`config::with`, a thread-local
//! override); every value is compared. Each case also picks `special_scalars` (on in 80%)
//! and the Cranelift opt level (`none` in 25%), the same for both runs.
//!
//! # Tolerances
//!
//! Like `lowering/tests/differential` (whose bounds for the single ops this relies
//! on): integer and bool values are compared exactly; float values computed only by
//! exactly rounded ops (`add sub mul div sqrt rsqrt reciprocal`, `max min`, comparisons,
//! casts, layout ops, ...) from exact values are *exact* and compared bit for bit, except
//! that any NaN equals any NaN. Values depending on an approximate op (transcendentals,
//! `pow`, float sums/means/products over more than one element, every float matmul (even
//! with `k = 1`: see `matmul_k1_sign_of_zero`), softmax and friends) are *tainted*: the generator tracks for every float value a bound `mag` on its
//! finite elements and, for tainted values, an error bound `|j - r| <= err + rel·|r|`
//! (plus an absolute floor of 4 × the dtype's smallest normal number), propagated with the
//! rules of forward error analysis: transcendentals 4–6 ulp relative to their result
//! (sin/cos 2e-7 absolute) in f32 and 1e-12 relative in f64 on top of their operand's error
//! times the function's Lipschitz bound; sums `n·err + 2γ(n-1)·n·mag`; matmul
//! `k·(|a|·err_b + |b|·err_a) + 2γ(k)·k·|a|·|b|`; softmax `e^(4·err) - 1 + 2γ(n) + 16u`.
//! Ops that are discontinuous or ill-conditioned in their operand (comparisons,
//! floor/ceil/round/sign, casts to integers or bool, argmax/argmin, div, log, sqrt, rsqrt,
//! reciprocal, pow) are never applied to tainted values, and a product of a tainted value
//! with one that may hold infinities is not checked (`0·inf` vs `tiny·inf`). A tainted value
//! whose bound is not finite (e.g. `exp` of a value of unknown magnitude) is counted as
//! unchecked: only its type is compared. Checked: NaN in one result ⇔ NaN in the other, and
//! infinities must be equal.
//!
//! # Running
//!
//! `LAZYJIT_DIFF_CASES=N` sets the number of random cases (default 1000, a few seconds in a
//! debug build); `LAZYJIT_DIFF_SEED=S` the first seed (cases use `S, S+1, ...`). A failure
//! prints the seed, the inputs, the op sequence and the command that replays just that case.
//!
//! # Layout
//!
//! This file holds the case description, the value bookkeeping and the tests; `gen/` the
//! generator, `info.rs` its error analysis per op, `execution.rs` the runs on both backends,
//! `compare.rs` the comparison.

#[path = "../support/mod.rs"]
mod support;

mod compare;
mod execution;
mod gen;
mod info;

use compare::*;
use execution::*;
use gen::*;
use info::*;
use lazyjit::config::OptLevel;
use lazyjit::lowering::{BinaryOp, ReduceOp, Tensor, UnaryOp};
use lazyjit::{config, BackendKind, DType, LazyTensor};
use lazyjit_lowering::testing::rng::Rng;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::panic::{catch_unwind, AssertUnwindSafe};
use support::{env_or, serial_lock as serial};

/// Signed axes: `axis` of a rank-`rank` tensor given as a negative index half of the time.
trait AxisOf {
    fn axis_of(&mut self, axis: usize, rank: usize) -> isize;
}

impl AxisOf for Rng {
    fn axis_of(&mut self, axis: usize, rank: usize) -> isize {
        if self.chance(0.5) {
            axis as isize - rank as isize
        } else {
            axis as isize
        }
    }
}

// ======================================================================= case description

/// A Rust scalar given to a `*_scalar` method (or `full`, `pad`, `clamp`).
#[derive(Clone, Copy, Debug, PartialEq)]
enum Sc {
    F(f64),
    I(i64),
    B(bool),
}

impl Sc {
    fn mag(self) -> f64 {
        match self {
            Sc::F(v) => v.abs(),
            Sc::I(v) => v.unsigned_abs() as f64,
            Sc::B(_) => 1.0,
        }
    }
}

impl std::fmt::Display for Sc {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Sc::F(v) => write!(f, "{v:?}f64"),
            Sc::I(v) => write!(f, "{v}i64"),
            Sc::B(v) => write!(f, "{v}"),
        }
    }
}

/// Host data of a leaf tensor.
#[derive(Clone, Debug)]
enum Data {
    F32(Vec<f32>),
    F64(Vec<f64>),
    I32(Vec<i32>),
    I64(Vec<i64>),
    Bool(Vec<bool>),
}

#[derive(Clone, Debug)]
struct Leaf {
    shape: Vec<usize>,
    data: Data,
}

impl Leaf {
    fn dtype(&self) -> DType {
        match self.data {
            Data::F32(_) => DType::F32,
            Data::F64(_) => DType::F64,
            Data::I32(_) => DType::I32,
            Data::I64(_) => DType::I64,
            Data::Bool(_) => DType::Bool,
        }
    }

    fn make(&self) -> lazyjit::Result<LazyTensor> {
        let s = &self.shape;
        match &self.data {
            Data::F32(v) => LazyTensor::from_slice(v.as_slice(), s),
            Data::F64(v) => LazyTensor::from_slice(v.as_slice(), s),
            Data::I32(v) => LazyTensor::from_slice(v.as_slice(), s),
            Data::I64(v) => LazyTensor::from_slice(v.as_slice(), s),
            Data::Bool(v) => LazyTensor::from_slice(v.as_slice(), s),
        }
    }
}

impl std::fmt::Display for Leaf {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (d, s) = (self.dtype(), &self.shape);
        match &self.data {
            Data::F32(v) => write!(f, "{d}{s:?} {v:?}"),
            Data::F64(v) => write!(f, "{d}{s:?} {v:?}"),
            Data::I32(v) => write!(f, "{d}{s:?} {v:?}"),
            Data::I64(v) => write!(f, "{d}{s:?} {v:?}"),
            Data::Bool(v) => write!(f, "{d}{s:?} {v:?}"),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum ConstKind {
    Zeros,
    Ones,
}

/// One step of a case. Steps that produce a value append it to the value list (`v0`,
/// `v1`, ... in order; the inputs come first).
#[derive(Clone, Debug)]
enum Step {
    Unary(UnaryOp, usize),
    Binary(BinaryOp, usize, usize),
    /// `x op s`, or `s op x` when the flag is set (`rsub_scalar`, `rdiv_scalar`).
    Scalar(BinaryOp, usize, Sc, bool),
    Where(usize, usize, usize),
    Cast(usize, DType),
    Reduce(ReduceOp, usize, Vec<isize>, bool),
    ReduceAll(ReduceOp, usize),
    ArgReduce(ReduceOp, usize, isize, bool),
    LogSumExp(usize, Vec<isize>, bool),
    Softmax(usize, isize),
    LogSoftmax(usize, isize),
    Reshape(usize, Vec<usize>),
    Permute(usize, Vec<usize>),
    Transpose(usize, isize, isize),
    Expand(usize, Vec<usize>),
    Slice(usize, Vec<usize>, Vec<usize>, Vec<usize>),
    Narrow(usize, isize, usize, usize),
    Concat(Vec<usize>, isize),
    Pad(usize, Vec<usize>, Vec<usize>, Sc),
    Flatten(usize, isize, isize),
    Squeeze(usize, isize),
    Unsqueeze(usize, isize),
    MatMul(usize, usize),
    IndexSelect(usize, isize, Leaf),
    Gather(usize, isize, Leaf),
    Clamp(usize, Sc, Sc),
    Full(Vec<usize>, Sc),
    Const(ConstKind, Vec<usize>, DType),
    ArangeF32(f32, f32, f32),
    ArangeI32(i32, i32, i32),
    /// `lazyjit::sync` of these values (possibly naming one twice).
    Sync(Vec<usize>),
    /// Reads one value (`to_tensor`), which syncs it.
    Read(usize),
    /// `lazyjit::mark_step()`.
    Mark,
}

impl Step {
    fn produces_value(&self) -> bool {
        !matches!(self, Step::Sync(_) | Step::Read(_) | Step::Mark)
    }

    /// Short kind name for coverage statistics.
    fn kind(&self) -> String {
        match self {
            Step::Unary(u, _) => u.name().to_string(),
            Step::Binary(b, ..) => b.name().to_string(),
            Step::Scalar(b, _, _, rev) => {
                format!("{}{}_scalar", if *rev { "r" } else { "" }, b.name())
            }
            Step::Where(..) => "where".into(),
            Step::Cast(..) => "cast".into(),
            Step::Reduce(op, ..) => op.name().into(),
            Step::ReduceAll(op, ..) => format!("{}_all", op.name()),
            Step::ArgReduce(op, ..) => op.name().into(),
            Step::LogSumExp(..) => "logsumexp".into(),
            Step::Softmax(..) => "softmax".into(),
            Step::LogSoftmax(..) => "log_softmax".into(),
            Step::Reshape(..) => "reshape".into(),
            Step::Permute(..) => "permute".into(),
            Step::Transpose(..) => "transpose".into(),
            Step::Expand(..) => "expand".into(),
            Step::Slice(..) => "slice".into(),
            Step::Narrow(..) => "narrow".into(),
            Step::Concat(..) => "concat".into(),
            Step::Pad(..) => "pad".into(),
            Step::Flatten(..) => "flatten".into(),
            Step::Squeeze(..) => "squeeze".into(),
            Step::Unsqueeze(..) => "unsqueeze".into(),
            Step::MatMul(..) => "matmul".into(),
            Step::IndexSelect(..) => "index_select".into(),
            Step::Gather(..) => "gather".into(),
            Step::Clamp(..) => "clamp".into(),
            Step::Full(..) => "full".into(),
            Step::Const(ConstKind::Zeros, ..) => "zeros".into(),
            Step::Const(ConstKind::Ones, ..) => "ones".into(),
            Step::ArangeF32(..) | Step::ArangeI32(..) => "arange".into(),
            Step::Sync(v) if v.len() > 1 => "sync(multi)".into(),
            Step::Sync(_) => "sync".into(),
            Step::Read(_) => "read".into(),
            Step::Mark => "mark_step".into(),
        }
    }

    /// The step as Rust-like code; `out` is the index of the value it produces.
    fn describe(&self, out: usize) -> String {
        let v = |i: &usize| format!("v{i}");
        let lhs = format!("v{out} = ");
        match self {
            Step::Unary(u, x) => format!("{lhs}v{x}.{}()", unary_method(*u)),
            Step::Binary(b, x, y) => format!("{lhs}v{x}.{}(&v{y})", binary_method(*b)),
            Step::Scalar(BinaryOp::Sub, x, s, true) => format!("{lhs}v{x}.rsub_scalar({s})"),
            Step::Scalar(BinaryOp::Div, x, s, true) => format!("{lhs}v{x}.rdiv_scalar({s})"),
            Step::Scalar(b, x, s, _) => format!("{lhs}v{x}.{}_scalar({s})", binary_method(*b)),
            Step::Where(c, x, y) => format!("{lhs}LazyTensor::where_(&v{c}, &v{x}, &v{y})"),
            Step::Cast(x, d) => format!("{lhs}v{x}.cast(DType::{d:?})"),
            Step::Reduce(op, x, axes, k) => {
                format!("{lhs}v{x}.{}(&{axes:?}, {k})", reduce_method(*op))
            }
            Step::ReduceAll(op, x) => format!("{lhs}v{x}.{}_all()", reduce_method(*op)),
            Step::ArgReduce(op, x, a, k) => {
                format!("{lhs}v{x}.{}({a}, {k})", reduce_method(*op))
            }
            Step::LogSumExp(x, axes, k) => format!("{lhs}v{x}.logsumexp(&{axes:?}, {k})"),
            Step::Softmax(x, a) => format!("{lhs}v{x}.softmax({a})"),
            Step::LogSoftmax(x, a) => format!("{lhs}v{x}.log_softmax({a})"),
            Step::Reshape(x, s) => format!("{lhs}v{x}.reshape(&{s:?})"),
            Step::Permute(x, p) => format!("{lhs}v{x}.permute(&{p:?})"),
            Step::Transpose(x, a, b) => format!("{lhs}v{x}.transpose({a}, {b})"),
            Step::Expand(x, s) => format!("{lhs}v{x}.expand(&{s:?})"),
            Step::Slice(x, a, b, c) => format!("{lhs}v{x}.slice(&{a:?}, &{b:?}, &{c:?})"),
            Step::Narrow(x, a, s, l) => format!("{lhs}v{x}.narrow({a}, {s}, {l})"),
            Step::Concat(xs, a) => {
                let xs: Vec<String> = xs.iter().map(|i| format!("&v{i}")).collect();
                format!("{lhs}LazyTensor::concat(&[{}], {a})", xs.join(", "))
            }
            Step::Pad(x, lo, hi, s) => format!("{lhs}v{x}.pad(&{lo:?}, &{hi:?}, {s})"),
            Step::Flatten(x, a, b) => format!("{lhs}v{x}.flatten({a}, {b})"),
            Step::Squeeze(x, a) => format!("{lhs}v{x}.squeeze({a})"),
            Step::Unsqueeze(x, a) => format!("{lhs}v{x}.unsqueeze({a})"),
            Step::MatMul(x, y) => format!("{lhs}v{x}.matmul(&v{y})"),
            Step::IndexSelect(x, a, l) => format!("{lhs}v{x}.index_select({a}, &[{l}])"),
            Step::Gather(x, a, l) => format!("{lhs}v{x}.gather({a}, &[{l}])"),
            Step::Clamp(x, lo, hi) => format!("{lhs}v{x}.clamp({lo}, {hi})"),
            Step::Full(s, sc) => format!("{lhs}LazyTensor::full(&{s:?}, {})", full_arg(*sc)),
            Step::Const(k, s, d) => format!(
                "{lhs}LazyTensor::{}(&{s:?}, DType::{d:?})",
                if *k == ConstKind::Zeros {
                    "zeros"
                } else {
                    "ones"
                }
            ),
            Step::ArangeF32(a, b, c) => format!("{lhs}LazyTensor::arange({a:?}f32, {b:?}, {c:?})"),
            Step::ArangeI32(a, b, c) => format!("{lhs}LazyTensor::arange({a}i32, {b}, {c})"),
            Step::Sync(xs) => {
                let xs: Vec<String> = xs.iter().map(|i| format!("&{}", v(i))).collect();
                format!("lazyjit::sync(&[{}])", xs.join(", "))
            }
            Step::Read(x) => format!("v{x}.to_tensor()"),
            Step::Mark => "lazyjit::mark_step()".into(),
        }
    }
}

fn full_arg(s: Sc) -> String {
    match s {
        Sc::F(v) => format!("{:?}f32", v as f32),
        Sc::I(v) => format!("{v}i32"),
        Sc::B(b) => format!("{b}"),
    }
}

fn unary_method(u: UnaryOp) -> &'static str {
    match u {
        UnaryOp::Not => "logical_not",
        other => other.name(),
    }
}

fn binary_method(b: BinaryOp) -> &'static str {
    match b {
        BinaryOp::Add => "add",
        BinaryOp::Sub => "sub",
        BinaryOp::Mul => "mul",
        BinaryOp::Div => "div",
        BinaryOp::Pow => "pow",
        BinaryOp::Max => "maximum",
        BinaryOp::Min => "minimum",
        BinaryOp::Eq => "eq",
        BinaryOp::Ne => "ne",
        BinaryOp::Lt => "lt",
        BinaryOp::Le => "le",
        BinaryOp::Gt => "gt",
        BinaryOp::Ge => "ge",
        BinaryOp::And => "logical_and",
        BinaryOp::Or => "logical_or",
    }
}

fn reduce_method(op: ReduceOp) -> &'static str {
    match op {
        ReduceOp::Sum => "sum",
        ReduceOp::Mean => "mean",
        ReduceOp::Max => "max",
        ReduceOp::Min => "min",
        ReduceOp::Prod => "prod",
        ReduceOp::ArgMax => "argmax",
        ReduceOp::ArgMin => "argmin",
    }
}

/// A generated case.
#[derive(Clone, Debug)]
struct Case {
    seed: u64,
    inputs: Vec<Leaf>,
    steps: Vec<Step>,
    /// The final multi-output sync (the last value first).
    outputs: Vec<usize>,
    /// What the generator knows about every value (inputs first).
    infos: Vec<Info>,
    /// `Config::special_scalars` (0 and 1 inlined as constants, or parameters).
    special_scalars: bool,
    /// Cranelift at `OptLevel::None` instead of `Speed`.
    opt_none: bool,
}

impl std::fmt::Display for Case {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "seed {} (special_scalars = {}, opt_level = {}):",
            self.seed,
            self.special_scalars,
            if self.opt_none { "none" } else { "speed" }
        )?;
        for (i, l) in self.inputs.iter().enumerate() {
            writeln!(f, "  v{i} = input {l}")?;
        }
        let mut next = self.inputs.len();
        for s in &self.steps {
            writeln!(f, "  {}", s.describe(next))?;
            if s.produces_value() {
                next += 1;
            }
        }
        let xs: Vec<String> = self.outputs.iter().map(|i| format!("&v{i}")).collect();
        writeln!(f, "  lazyjit::sync(&[{}])  // final outputs", xs.join(", "))?;
        write!(f, "  then: sync every pending value, read every value")
    }
}

// ======================================================================= value bookkeeping

const U32: f64 = 1.0 / (1u64 << 24) as f64;
const U64: f64 = 1.0 / (1u64 << 53) as f64;
const INF: f64 = f64::INFINITY;

/// What the generator knows about a value: type, and for floats whether it is exact, a
/// bound on its finite elements and (tainted values) its error bound `err + rel·|r|`.
#[derive(Clone, Debug)]
struct Info {
    dtype: DType,
    shape: Vec<usize>,
    exact: bool,
    mag: f64,
    err: f64,
    rel: f64,
    /// May hold infinities or NaN.
    nonfinite: bool,
}

impl Info {
    fn exact(dtype: DType, shape: Vec<usize>, mag: f64, nonfinite: bool) -> Info {
        Info {
            dtype,
            shape,
            exact: true,
            mag,
            err: 0.0,
            rel: 0.0,
            nonfinite,
        }
    }

    fn numel(&self) -> usize {
        self.shape.iter().product()
    }

    fn rank(&self) -> usize {
        self.shape.len()
    }

    fn is_float(&self) -> bool {
        matches!(self.dtype, DType::F32 | DType::F64)
    }

    fn is_numeric(&self) -> bool {
        self.dtype != DType::Bool
    }

    /// Absolute error bound (0 for exact values).
    fn aerr(&self) -> f64 {
        if self.exact {
            0.0
        } else if self.rel > 0.0 {
            self.err + self.rel * self.mag
        } else {
            self.err
        }
    }

    fn with_shape(&self, shape: Vec<usize>) -> Info {
        Info {
            shape,
            ..self.clone()
        }
    }

    /// A tainted value with the given bounds (non-finite bounds make it unchecked).
    fn tainted(&self, shape: Vec<usize>, mag: f64, err: f64, rel: f64, nonfinite: bool) -> Info {
        Info {
            dtype: self.dtype,
            shape,
            exact: false,
            mag,
            err: if err.is_nan() { INF } else { err },
            rel: if rel.is_nan() { INF } else { rel },
            nonfinite,
        }
    }
}

fn unit_roundoff(d: DType) -> f64 {
    if d == DType::F32 {
        U32
    } else {
        U64
    }
}

/// `γ(k) = k·u / (1 - k·u)` (Higham).
fn gamma(k: usize, u: f64) -> f64 {
    let ku = k as f64 * u;
    if ku >= 0.5 {
        INF
    } else {
        ku / (1.0 - ku)
    }
}

fn max_finite(d: DType) -> f64 {
    if d == DType::F32 {
        f32::MAX as f64
    } else {
        f64::MAX
    }
}

/// Allowed error of a transcendental relative to its result, against the reference:
/// the lowering crate's documented bound plus the reference's own 1–3 ulp, with margin.
fn tr_rel(u: UnaryOp, d: DType) -> f64 {
    if d == DType::F64 {
        return 1e-12;
    }
    // 1 ulp <= 2u·|x| for normal numbers.
    let ulps = match u {
        UnaryOp::Exp | UnaryOp::Log => 4.0,
        UnaryOp::Tanh | UnaryOp::Erf => 5.0,
        UnaryOp::Sigmoid => 6.0,
        _ => 4.0,
    };
    (ulps + 1.0) * 2.0 * U32
}

fn broadcast(a: &[usize], b: &[usize]) -> Option<Vec<usize>> {
    let n = a.len().max(b.len());
    let mut out = vec![0; n];
    for (i, o) in out.iter_mut().enumerate() {
        let da = if i + a.len() >= n {
            a[i + a.len() - n]
        } else {
            1
        };
        let db = if i + b.len() >= n {
            b[i + b.len() - n]
        } else {
            1
        };
        *o = if da == db || db == 1 {
            da
        } else if da == 1 {
            db
        } else {
            return None;
        };
    }
    Some(out)
}

#[test]
fn random_op_sequences() {
    let _g = serial();
    let cases = env_or::<u64>("LAZYJIT_DIFF_CASES", 1000);
    let first = env_or::<u64>("LAZYJIT_DIFF_SEED", 0x1a2b_0000);
    let mut stats = Stats::default();
    let mut failures = Vec::new();
    let t0 = std::time::Instant::now();
    for seed in first..first + cases {
        let case = gen_case(seed);
        if let Err(e) = check_case(&case, &mut stats) {
            eprintln!("FAILED {e}\n");
            failures.push(e);
        }
    }
    let mut summary = String::new();
    let _ = writeln!(
        summary,
        "{cases} cases (seeds {first}..{}) in {:.1} s; values compared: {:?}",
        first + cases,
        t0.elapsed().as_secs_f64(),
        stats.checks
    );
    let kinds: Vec<String> = stats
        .kinds
        .iter()
        .map(|(k, n)| format!("{k} {n}"))
        .collect();
    let _ = writeln!(summary, "steps: {}", kinds.join(", "));
    eprintln!("{summary}");
    assert!(
        failures.is_empty(),
        "{} of {cases} cases failed; the first:\n{}",
        failures.len(),
        failures[0]
    );
}

// ======================================================================= directed cases

/// Runs a hand-written case (its value bookkeeping built with the generator's rules).
fn run_directed(case: Case) {
    let mut stats = Stats::default();
    if let Err(e) = check_case(&case, &mut stats) {
        panic!("{e}");
    }
}

fn f32_leaf(shape: &[usize], seed: u64) -> (Leaf, Info) {
    let mut g = Gen {
        rng: Rng::new(seed),
        infos: Vec::new(),
        steps: Vec::new(),
        specials: false,
        cap: MAX_NUMEL,
    };
    g.leaf(DType::F32, shape.to_vec())
}

/// Multi-output sync of values sharing a subgraph, then syncing an intermediate first and
/// a tensor built on it before that sync (its graph reads the computed node), then
/// `mark_step` computing the rest.
#[test]
fn multi_output_sync_reuse_and_mark_step() {
    let _g = serial();
    let (a, ai) = f32_leaf(&[3, 4], 1);
    let (b, bi) = f32_leaf(&[4], 2);
    let mut g = Gen {
        rng: Rng::new(0),
        infos: vec![ai, bi],
        steps: Vec::new(),
        specials: false,
        cap: MAX_NUMEL,
    };
    let x = {
        let info = binary_info(BinaryOp::Mul, &g.infos[0], &g.infos[1], vec![3, 4]);
        g.push(Step::Binary(BinaryOp::Mul, 0, 1), info)
    }; // v2 = a * b
    let e = {
        let info = unary_info(UnaryOp::Exp, &g.infos[x]);
        g.push(Step::Unary(UnaryOp::Exp, x), info)
    }; // v3 = exp(v2)
    let s = {
        let info = reduce_info(ReduceOp::Sum, &g.infos[e], &[1], true);
        g.push(Step::Reduce(ReduceOp::Sum, e, vec![-1], true), info)
    }; // v4 = v3.sum([-1], keepdim)
    let y = {
        let info = binary_info(BinaryOp::Add, &g.infos[e], &g.infos[s], vec![3, 4]);
        g.push(Step::Binary(BinaryOp::Add, e, s), info)
    }; // v5 = v3 + v4 (built before v3 is synced)
    g.steps.push(Step::Sync(vec![x, s, x])); // multi-output, one tensor named twice
    g.steps.push(Step::Read(e)); // an intermediate computed on its own
    let z = {
        let info = unary_info(UnaryOp::Tanh, &g.infos[y]);
        g.push(Step::Unary(UnaryOp::Tanh, y), info)
    }; // v6 = tanh(v5): its graph reads the computed v3 and v4
    let w = {
        let info = binary_info(BinaryOp::Mul, &g.infos[z], &g.infos[x], vec![3, 4]);
        g.push(Step::Binary(BinaryOp::Mul, z, x), info)
    };
    g.steps.push(Step::Mark); // computes v5, v6, v7
    let m = {
        let info = reduce_info(ReduceOp::Max, &g.infos[w], &[0], false);
        g.push(Step::Reduce(ReduceOp::Max, w, vec![0], false), info)
    };
    run_directed(Case {
        seed: 0,
        inputs: vec![a, b],
        steps: g.steps,
        outputs: vec![m, y],
        infos: g.infos,
        special_scalars: true,
        opt_none: false,
    });
}

/// Found by `random_op_sequences`: `matmul` with `k = 1` of `-1.0` and `0.0` gives `-0.0` on
/// the Cranelift backend once `m·k·n > 768` (the GEMM path), `+0.0` below that (the
/// small-product loop) and `+0.0` on the reference, which accumulates from `0.0`. The
/// program format leaves the accumulation order of float matmul unspecified, so this is
/// allowed; ignored until the backends settle on one behaviour.
#[test]
#[ignore = "sign of zero of float matmul with k = 1 differs between the GEMM path and the reference"]
fn matmul_k1_sign_of_zero() {
    let _g = serial();
    for m in [4usize, 27, 28, 64] {
        let run = |backend: BackendKind| {
            config::with(
                |c| c.backend = backend,
                || {
                    let a = LazyTensor::from_vec(vec![-1.0f32; m], &[m, 1]).unwrap();
                    let b = LazyTensor::from_vec(vec![0.0f32; m], &[1, m]).unwrap();
                    a.matmul(&b).unwrap().to_vec::<f32>().unwrap()[0].to_bits()
                },
            )
        };
        let (j, r) = (run(BackendKind::Cranelift), run(BackendKind::Reference));
        assert_eq!(
            j, r,
            "m = n = {m}, k = 1: cranelift {j:#x}, reference {r:#x}"
        );
    }
}
