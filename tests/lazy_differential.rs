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
//! Like `lowering/tests/differential.rs` (whose bounds for the single ops this relies
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

use lazyjit::config::OptLevel;
use lazyjit::lowering::{BinaryOp, ReduceOp, Tensor, UnaryOp};
use lazyjit::{config, BackendKind, DType, LazyTensor};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{Mutex, MutexGuard};

/// `mark_step` syncs every live tensor of the process under the calling thread's backend;
/// the tests of this file take turns so one test's `mark_step` never computes another's.
static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

// ======================================================================= random numbers

/// SplitMix64 (the same generator as the lowering crate's differential tests).
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

    /// `axis` of a rank-`rank` tensor, negative half of the time.
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

// ======================================================================= generator

/// Element cap of generated values (small cases; large cases use `LARGE_NUMEL`).
const MAX_NUMEL: usize = 256;
const LARGE_NUMEL: usize = 8192;

struct Gen {
    rng: Rng,
    infos: Vec<Info>,
    steps: Vec<Step>,
    specials: bool,
    /// Element cap of new values.
    cap: usize,
}

impl Gen {
    fn push(&mut self, step: Step, info: Info) -> usize {
        debug_assert!(step.produces_value());
        self.steps.push(step);
        self.infos.push(info);
        self.infos.len() - 1
    }

    /// A value satisfying `pred`, biased towards recent ones (deeper graphs).
    fn pick(&mut self, pred: impl Fn(&Info) -> bool) -> Option<usize> {
        let ok: Vec<usize> = (0..self.infos.len())
            .filter(|&i| pred(&self.infos[i]))
            .collect();
        if ok.is_empty() {
            return None;
        }
        if self.rng.chance(0.5) {
            let tail = &ok[ok.len().saturating_sub(3)..];
            return Some(self.rng.pick(tail));
        }
        Some(self.rng.pick(&ok))
    }

    fn float_data(&mut self, n: usize) -> Vec<f64> {
        let specials = [
            f64::NAN,
            f64::INFINITY,
            f64::NEG_INFINITY,
            0.0,
            -0.0,
            0.5,
            -1.5,
            1e-40,
        ];
        (0..n)
            .map(|_| {
                if self.specials && self.rng.chance(0.1) {
                    self.rng.pick(&specials)
                } else if self.rng.chance(0.1) {
                    // Ties and small integers (round, floor, comparisons).
                    self.rng.below(9) as f64 * 0.5 - 2.0
                } else {
                    self.rng.unit() * 4.0 - 2.0
                }
            })
            .collect()
    }

    fn leaf(&mut self, dtype: DType, shape: Vec<usize>) -> (Leaf, Info) {
        let n: usize = shape.iter().product();
        let (data, mag, nonfinite) = match dtype {
            DType::F32 => {
                let v = self.float_data(n);
                let nf = v.iter().any(|x| !x.is_finite());
                (
                    Data::F32(v.into_iter().map(|x| x as f32).collect()),
                    2.0,
                    nf,
                )
            }
            DType::F64 => {
                let v = self.float_data(n);
                let nf = v.iter().any(|x| !x.is_finite());
                (Data::F64(v), 2.0, nf)
            }
            DType::I32 => (
                Data::I32((0..n).map(|_| self.rng.below(11) as i32 - 5).collect()),
                5.0,
                false,
            ),
            DType::I64 => (
                Data::I64((0..n).map(|_| self.rng.below(11) as i64 - 5).collect()),
                5.0,
                false,
            ),
            DType::Bool => (
                Data::Bool((0..n).map(|_| self.rng.chance(0.5)).collect()),
                1.0,
                false,
            ),
        };
        let info = Info::exact(dtype, shape.clone(), mag, nonfinite);
        (Leaf { shape, data }, info)
    }

    fn variant(&mut self, base: &[usize]) -> Vec<usize> {
        let mut s = base.to_vec();
        if !s.is_empty() && self.rng.chance(0.2) {
            let k = 1 + self.rng.below(s.len());
            s.drain(..k);
        }
        for d in s.iter_mut() {
            if self.rng.chance(0.25) {
                *d = 1;
            }
        }
        s
    }

    fn random_shape(&mut self) -> Vec<usize> {
        let rank = self.rng.below(4);
        (0..rank).map(|_| 1 + self.rng.below(4)).collect()
    }

    /// One value-producing op (and any helper ops it needs); `false` if the chosen kind
    /// does not apply to the current values.
    fn op(&mut self) -> bool {
        match self.rng.below(100) {
            0..=13 => self.unary(),
            14..=29 => self.binary(),
            30..=39 => self.scalar(),
            40..=43 => self.where_(),
            44..=47 => self.cast(),
            48..=59 => self.reduce(),
            60..=65 => self.softmax_like(),
            66..=83 => self.layout(),
            84..=88 => self.matmul(),
            89..=92 => self.index(),
            93..=95 => self.clamp(),
            _ => self.constant(),
        }
    }

    fn unary(&mut self) -> bool {
        let Some(x) = self.pick(|_| true) else {
            return false;
        };
        let xi = self.infos[x].clone();
        if xi.dtype == DType::Bool {
            let info = xi.clone();
            self.push(Step::Unary(UnaryOp::Not, x), info);
            return true;
        }
        let mut choices = vec![UnaryOp::Neg, UnaryOp::Abs, UnaryOp::Relu];
        if xi.exact {
            choices.extend([UnaryOp::Floor, UnaryOp::Ceil, UnaryOp::Round, UnaryOp::Sign]);
        }
        if xi.is_float() {
            choices.extend([
                UnaryOp::Exp,
                UnaryOp::Tanh,
                UnaryOp::Sigmoid,
                UnaryOp::Erf,
                UnaryOp::Sin,
                UnaryOp::Cos,
                UnaryOp::Exp,
                UnaryOp::Tanh,
            ]);
            if xi.exact {
                choices.extend([
                    UnaryOp::Log,
                    UnaryOp::Sqrt,
                    UnaryOp::Rsqrt,
                    UnaryOp::Reciprocal,
                ]);
            }
        }
        let u = self.rng.pick(&choices);
        let info = unary_info(u, &xi);
        self.push(Step::Unary(u, x), info);
        true
    }

    /// A partner for `x` of dtype `d` broadcastable with it (maybe `x` itself).
    fn partner(&mut self, x: usize, need_exact: bool) -> Option<usize> {
        let cap = self.cap;
        let xi = self.infos[x].clone();
        self.pick(|i| {
            i.dtype == xi.dtype
                && (!need_exact || i.exact)
                && broadcast(&xi.shape, &i.shape)
                    .is_some_and(|s| s.iter().product::<usize>() <= cap)
        })
    }

    fn binary(&mut self) -> bool {
        let Some(x) = self.pick(|_| true) else {
            return false;
        };
        let xi = self.infos[x].clone();
        let op = if xi.dtype == DType::Bool {
            self.rng
                .pick(&[BinaryOp::And, BinaryOp::Or, BinaryOp::Eq, BinaryOp::Ne])
        } else {
            let mut ops = vec![
                BinaryOp::Add,
                BinaryOp::Sub,
                BinaryOp::Mul,
                BinaryOp::Max,
                BinaryOp::Min,
                BinaryOp::Add,
                BinaryOp::Mul,
            ];
            if xi.exact {
                ops.extend([
                    BinaryOp::Div,
                    BinaryOp::Eq,
                    BinaryOp::Ne,
                    BinaryOp::Lt,
                    BinaryOp::Le,
                    BinaryOp::Gt,
                    BinaryOp::Ge,
                ]);
                if xi.is_float() {
                    ops.push(BinaryOp::Pow);
                }
            }
            self.rng.pick(&ops)
        };
        let need_exact = matches!(
            op,
            BinaryOp::Div
                | BinaryOp::Pow
                | BinaryOp::Eq
                | BinaryOp::Ne
                | BinaryOp::Lt
                | BinaryOp::Le
                | BinaryOp::Gt
                | BinaryOp::Ge
        );
        let Some(y) = self.partner(x, need_exact) else {
            return false;
        };
        let yi = self.infos[y].clone();
        let shape = broadcast(&xi.shape, &yi.shape).unwrap();
        let info = binary_info(op, &xi, &yi, shape);
        self.push(Step::Binary(op, x, y), info);
        true
    }

    fn scalar(&mut self) -> bool {
        let Some(x) = self.pick(|_| true) else {
            return false;
        };
        let xi = self.infos[x].clone();
        let (op, s, rev) = match xi.dtype {
            DType::Bool => (
                self.rng
                    .pick(&[BinaryOp::And, BinaryOp::Or, BinaryOp::Eq, BinaryOp::Ne]),
                Sc::B(self.rng.chance(0.5)),
                false,
            ),
            d => {
                let mut ops = vec![
                    (BinaryOp::Add, false),
                    (BinaryOp::Sub, false),
                    (BinaryOp::Mul, false),
                    (BinaryOp::Div, false),
                    (BinaryOp::Max, false),
                    (BinaryOp::Min, false),
                    (BinaryOp::Sub, true),
                ];
                if xi.exact {
                    ops.extend([
                        (BinaryOp::Div, true),
                        (BinaryOp::Lt, false),
                        (BinaryOp::Ge, false),
                        (BinaryOp::Eq, false),
                        (BinaryOp::Ne, false),
                    ]);
                    if d.is_float() {
                        ops.push((BinaryOp::Pow, false));
                    }
                }
                let (op, rev) = self.rng.pick(&ops);
                let s = if d.is_float() && self.rng.chance(0.7) {
                    let vals: &[f64] = if op == BinaryOp::Pow {
                        &[2.0, 0.5, 3.0, 1.0, 0.0]
                    } else if op == BinaryOp::Div && !rev && !xi.exact {
                        &[2.0, -0.5, 4.0, 1.0, 0.75]
                    } else {
                        &[0.0, 1.0, 0.5, -1.5, 2.0, 3.0, -0.25, 0.1]
                    };
                    Sc::F(self.rng.pick(vals))
                } else {
                    let vals: &[i64] = if op == BinaryOp::Div && !rev && !xi.exact {
                        &[2, -4, 1]
                    } else {
                        &[0, 1, 2, -3, 7]
                    };
                    Sc::I(self.rng.pick(vals))
                };
                (op, s, rev)
            }
        };
        let si = Info::exact(xi.dtype, Vec::new(), s.mag(), false);
        let info = if rev {
            binary_info(op, &si, &xi, xi.shape.clone())
        } else {
            binary_info(op, &xi, &si, xi.shape.clone())
        };
        self.push(Step::Scalar(op, x, s, rev), info);
        true
    }

    fn where_(&mut self) -> bool {
        let cap = self.cap;
        let cond = match self.pick(|i| i.dtype == DType::Bool) {
            Some(c) => c,
            None => {
                let Some(x) = self.pick(|i| i.is_numeric() && i.exact) else {
                    return false;
                };
                let xi = self.infos[x].clone();
                let si = Info::exact(xi.dtype, Vec::new(), 0.0, false);
                let info = binary_info(BinaryOp::Gt, &xi, &si, xi.shape.clone());
                self.push(Step::Scalar(BinaryOp::Gt, x, Sc::I(0), false), info)
            }
        };
        let ci = self.infos[cond].clone();
        let Some(x) = self.pick(|i| {
            broadcast(&ci.shape, &i.shape).is_some_and(|s| s.iter().product::<usize>() <= cap)
        }) else {
            return false;
        };
        let xi = self.infos[x].clone();
        let Some(y) = self.pick(|i| {
            i.dtype == xi.dtype
                && broadcast(&ci.shape, &i.shape)
                    .and_then(|s| broadcast(&s, &xi.shape))
                    .is_some_and(|s| s.iter().product::<usize>() <= cap)
        }) else {
            return false;
        };
        let yi = self.infos[y].clone();
        let shape = broadcast(&broadcast(&ci.shape, &xi.shape).unwrap(), &yi.shape).unwrap();
        let info = join_info(&[&xi, &yi], shape);
        self.push(Step::Where(cond, x, y), info);
        true
    }

    fn cast(&mut self) -> bool {
        let Some(x) = self.pick(|_| true) else {
            return false;
        };
        let xi = self.infos[x].clone();
        let targets: Vec<DType> = if xi.exact {
            vec![DType::F32, DType::F64, DType::I32, DType::I64, DType::Bool]
        } else {
            vec![DType::F32, DType::F64]
        };
        let targets: Vec<DType> = targets.into_iter().filter(|&d| d != xi.dtype).collect();
        if targets.is_empty() {
            return false;
        }
        let d = self.rng.pick(&targets);
        let info = cast_info(&xi, d);
        self.push(Step::Cast(x, d), info);
        true
    }

    fn reduce(&mut self) -> bool {
        let Some(x) = self.pick(|i| i.is_numeric() && i.rank() >= 1) else {
            return false;
        };
        let xi = self.infos[x].clone();
        let r = xi.rank();
        let mut ops = vec![ReduceOp::Sum, ReduceOp::Max, ReduceOp::Min, ReduceOp::Sum];
        if xi.is_float() {
            ops.push(ReduceOp::Mean);
        }
        if xi.exact {
            ops.extend([ReduceOp::ArgMax, ReduceOp::ArgMin]);
        }
        if !xi.is_float() || xi.numel() <= 64 {
            ops.push(ReduceOp::Prod);
        }
        let op = self.rng.pick(&ops);
        if op.is_arg() {
            let nonzero: Vec<usize> = (0..r).filter(|&a| xi.shape[a] > 0).collect();
            if nonzero.is_empty() {
                return false;
            }
            let a = self.rng.pick(&nonzero);
            let keep = self.rng.chance(0.5);
            let mut shape = xi.shape.clone();
            if keep {
                shape[a] = 1;
            } else {
                shape.remove(a);
            }
            let info = Info::exact(DType::I64, shape, INF, false);
            let axis = self.rng.axis_of(a, r);
            self.push(Step::ArgReduce(op, x, axis, keep), info);
            return true;
        }
        if op != ReduceOp::Prod && self.rng.chance(0.15) {
            let all: Vec<usize> = (0..r).collect();
            let info = reduce_info(op, &xi, &all, false);
            self.push(Step::ReduceAll(op, x), info);
            return true;
        }
        let mut axes: Vec<usize> = (0..r).filter(|_| self.rng.chance(0.5)).collect();
        if axes.is_empty() && self.rng.chance(0.8) {
            axes.push(self.rng.below(r));
        }
        // Shuffle the order (the method sorts them).
        if axes.len() > 1 && self.rng.chance(0.5) {
            axes.reverse();
        }
        let keep = self.rng.chance(0.5);
        let info = reduce_info(op, &xi, &axes, keep);
        let axes_i: Vec<isize> = axes.iter().map(|&a| self.rng.axis_of(a, r)).collect();
        self.push(Step::Reduce(op, x, axes_i, keep), info);
        true
    }

    fn softmax_like(&mut self) -> bool {
        let Some(x) = self.pick(|i| i.is_float() && i.rank() >= 1) else {
            return false;
        };
        let xi = self.infos[x].clone();
        let r = xi.rank();
        let u = unit_roundoff(xi.dtype);
        let te = tr_rel(UnaryOp::Exp, xi.dtype);
        let tl = tr_rel(UnaryOp::Log, xi.dtype);
        let ax = self.rng.below(r);
        let axis = self.rng.axis_of(ax, r);
        match self.rng.below(3) {
            0 => {
                let n = xi.shape[ax];
                let err = ((4.0 * xi.aerr()).exp() - 1.0) + 2.0 * te + 4.0 * gamma(n, u) + 16.0 * u;
                // Softmax values lie in [0, 1]; an operand without a finite bound may differ
                // in where its NaNs are, so it stays unchecked.
                let err = if xi.aerr().is_finite() {
                    err.min(1.0)
                } else {
                    INF
                };
                let info = xi.tainted(xi.shape.clone(), 1.0, err, 0.0, xi.nonfinite);
                self.push(Step::Softmax(x, axis), info);
            }
            1 => {
                let n = xi.shape[ax];
                let ln = (n.max(1) as f64).ln();
                let err = 3.0 * xi.aerr() + te + 2.0 * gamma(n, u) + tl * ln + 16.0 * u;
                let mag = 2.0 * xi.mag + ln;
                let info = xi.tainted(xi.shape.clone(), mag, err, 4.0 * u, true);
                self.push(Step::LogSoftmax(x, axis), info);
            }
            _ => {
                let mut axes: Vec<usize> = (0..r).filter(|_| self.rng.chance(0.5)).collect();
                if axes.is_empty() {
                    axes.push(ax);
                }
                let keep = self.rng.chance(0.5);
                let n: usize = axes.iter().map(|&a| xi.shape[a]).product();
                let ln = (n.max(1) as f64).ln();
                let err = 3.0 * xi.aerr() + te + 2.0 * gamma(n, u) + tl * ln + 16.0 * u;
                let shape = reduced_shape(&xi.shape, &axes, keep);
                let info = xi.tainted(shape, xi.mag + ln, err, 4.0 * u, true);
                let axes_i: Vec<isize> = axes.iter().map(|&a| self.rng.axis_of(a, r)).collect();
                self.push(Step::LogSumExp(x, axes_i, keep), info);
            }
        }
        true
    }

    fn layout(&mut self) -> bool {
        let cap = self.cap;
        let Some(x) = self.pick(|_| true) else {
            return false;
        };
        let xi = self.infos[x].clone();
        let r = xi.rank();
        let s = xi.shape.clone();
        match self.rng.below(11) {
            0 => {
                let shape = self.reshape_target(xi.numel());
                self.push(Step::Reshape(x, shape.clone()), xi.with_shape(shape));
            }
            1 => {
                if r < 2 {
                    return false;
                }
                let mut perm: Vec<usize> = (0..r).collect();
                for i in (1..r).rev() {
                    perm.swap(i, self.rng.below(i + 1));
                }
                let shape = perm.iter().map(|&p| s[p]).collect();
                self.push(Step::Permute(x, perm), xi.with_shape(shape));
            }
            2 => {
                if r < 1 {
                    return false;
                }
                let (a, b) = (self.rng.below(r), self.rng.below(r));
                let mut shape = s.clone();
                shape.swap(a, b);
                let (ai, bi) = (self.rng.axis_of(a, r), self.rng.axis_of(b, r));
                self.push(Step::Transpose(x, ai, bi), xi.with_shape(shape));
            }
            3 => {
                let mut shape: Vec<usize> = s
                    .iter()
                    .map(|&d| {
                        if d == 1 && self.rng.chance(0.7) {
                            1 + self.rng.below(3)
                        } else {
                            d
                        }
                    })
                    .collect();
                if shape.len() < 4 && self.rng.chance(0.5) {
                    shape.insert(0, 1 + self.rng.below(3));
                }
                if shape.iter().product::<usize>() > cap {
                    return false;
                }
                self.push(Step::Expand(x, shape.clone()), xi.with_shape(shape));
            }
            4 => {
                if r < 1 {
                    return false;
                }
                let (mut starts, mut stops, mut steps, mut shape) =
                    (Vec::new(), Vec::new(), Vec::new(), Vec::new());
                for &d in &s {
                    let (a, b) = if d > 0 && self.rng.chance(0.95) {
                        let a = self.rng.below(d);
                        (a, a + 1 + self.rng.below(d - a))
                    } else {
                        let a = self.rng.below(d + 1);
                        (a, a)
                    };
                    let st = 1 + self.rng.below(3);
                    starts.push(a);
                    stops.push(b);
                    steps.push(st);
                    shape.push((b - a).div_ceil(st));
                }
                self.push(Step::Slice(x, starts, stops, steps), xi.with_shape(shape));
            }
            5 => {
                let axes: Vec<usize> = (0..r).filter(|&a| s[a] > 0).collect();
                if axes.is_empty() {
                    return false;
                }
                let a = self.rng.pick(&axes);
                let start = self.rng.below(s[a]);
                let len = 1 + self.rng.below(s[a] - start);
                let mut shape = s.clone();
                shape[a] = len;
                let ai = self.rng.axis_of(a, r);
                self.push(Step::Narrow(x, ai, start, len), xi.with_shape(shape));
            }
            6 => {
                if r < 1 {
                    return false;
                }
                let a = self.rng.below(r);
                let mut parts = vec![x];
                let mut shape = s.clone();
                for _ in 0..1 + self.rng.below(2) {
                    let Some(y) = self.pick(|i| {
                        i.dtype == xi.dtype
                            && i.rank() == r
                            && (0..r).all(|k| k == a || i.shape[k] == s[k])
                    }) else {
                        break;
                    };
                    shape[a] += self.infos[y].shape[a];
                    parts.push(y);
                }
                if shape.iter().product::<usize>() > cap {
                    return false;
                }
                let infos: Vec<Info> = parts.iter().map(|&p| self.infos[p].clone()).collect();
                let refs: Vec<&Info> = infos.iter().collect();
                let info = join_info(&refs, shape);
                let ai = self.rng.axis_of(a, r);
                self.push(Step::Concat(parts, ai), info);
            }
            7 => {
                let lo: Vec<usize> = (0..r).map(|_| self.rng.below(3)).collect();
                let hi: Vec<usize> = (0..r).map(|_| self.rng.below(3)).collect();
                let shape: Vec<usize> = (0..r).map(|k| s[k] + lo[k] + hi[k]).collect();
                if shape.iter().product::<usize>() > cap {
                    return false;
                }
                let v = match xi.dtype {
                    DType::Bool => Sc::B(self.rng.chance(0.5)),
                    d if d.is_float() => Sc::F(self.rng.pick(&[0.0, 1.0, -1.5])),
                    _ => Sc::I(self.rng.pick(&[0, 1, -2])),
                };
                let mut info = xi.with_shape(shape);
                info.mag = info.mag.max(v.mag());
                self.push(Step::Pad(x, lo, hi, v), info);
            }
            8 => {
                let (a, b) = if r == 0 {
                    (0, 0)
                } else {
                    let a = self.rng.below(r);
                    (a, a + self.rng.below(r - a))
                };
                let shape = if r == 0 {
                    vec![1]
                } else {
                    let mut sh = s[..a].to_vec();
                    sh.push(s[a..=b].iter().product());
                    sh.extend_from_slice(&s[b + 1..]);
                    sh
                };
                let (ai, bi) = (self.rng.axis_of(a, r.max(1)), self.rng.axis_of(b, r.max(1)));
                self.push(Step::Flatten(x, ai, bi), xi.with_shape(shape));
            }
            9 => {
                let ones: Vec<usize> = (0..r).filter(|&a| s[a] == 1).collect();
                if ones.is_empty() {
                    return false;
                }
                let a = self.rng.pick(&ones);
                let mut shape = s.clone();
                shape.remove(a);
                let ai = self.rng.axis_of(a, r);
                self.push(Step::Squeeze(x, ai), xi.with_shape(shape));
            }
            _ => {
                if r >= 4 {
                    return false;
                }
                let a = self.rng.below(r + 1);
                let mut shape = s.clone();
                shape.insert(a, 1);
                let ai = self.rng.axis_of(a, r + 1);
                self.push(Step::Unsqueeze(x, ai), xi.with_shape(shape));
            }
        }
        true
    }

    fn reshape_target(&mut self, numel: usize) -> Vec<usize> {
        if numel == 0 {
            return vec![0, 1 + self.rng.below(3)];
        }
        let mut left = numel;
        let mut out = Vec::new();
        while left > 1 && out.len() < 3 {
            let divs: Vec<usize> = (2..=left).filter(|d| left % d == 0).collect();
            let d = self.rng.pick(&divs);
            out.push(d);
            left /= d;
            if self.rng.chance(0.2) {
                out.push(1);
            }
        }
        if left > 1 {
            out.push(left);
        }
        if self.rng.chance(0.2) {
            out.insert(0, 1);
        }
        out
    }

    fn matmul(&mut self) -> bool {
        let cap = self.cap;
        let x = match self.pick(|i| i.is_numeric() && i.rank() >= 2 && i.numel() > 0) {
            Some(x) => x,
            None => {
                let Some(v) = self.pick(|i| i.is_numeric() && i.rank() == 1 && i.numel() > 0)
                else {
                    return false;
                };
                let vi = self.infos[v].clone();
                let info = vi.with_shape(vec![1, vi.shape[0]]);
                self.push(Step::Unsqueeze(v, 0), info)
            }
        };
        let xi = self.infos[x].clone();
        let r = xi.rank();
        let k = xi.shape[r - 1];
        let batch_x = &xi.shape[..r - 2];
        let y = self.pick(|i| {
            i.dtype == xi.dtype
                && i.rank() >= 2
                && i.shape[i.rank() - 2] == k
                && broadcast(batch_x, &i.shape[..i.rank() - 2]).is_some_and(|b| {
                    b.iter().product::<usize>() * xi.shape[r - 2] * i.shape[i.rank() - 1] <= cap
                })
        });
        let batch: usize = batch_x.iter().product();
        let y = match y {
            Some(y) if self.rng.chance(0.6) => y,
            _ if batch * xi.shape[r - 2] * xi.shape[r - 2] > cap => match y {
                Some(y) => y,
                None => return false,
            },
            _ => {
                let info = xi.with_shape({
                    let mut s = xi.shape.clone();
                    s.swap(r - 1, r - 2);
                    s
                });
                self.push(Step::Transpose(x, -1, -2), info)
            }
        };
        let yi = self.infos[y].clone();
        let ry = yi.rank();
        let mut shape = broadcast(batch_x, &yi.shape[..ry - 2]).unwrap();
        shape.push(xi.shape[r - 2]);
        shape.push(yi.shape[ry - 1]);
        let info = matmul_info(&xi, &yi, k, shape);
        self.push(Step::MatMul(x, y), info);
        true
    }

    fn index(&mut self) -> bool {
        let cap = self.cap;
        let Some(x) = self.pick(|i| i.rank() >= 1 && i.shape.iter().all(|&d| d > 0)) else {
            return false;
        };
        let xi = self.infos[x].clone();
        let r = xi.rank();
        let a = self.rng.below(r);
        let dim = xi.shape[a];
        let idt = if self.rng.chance(0.5) {
            DType::I32
        } else {
            DType::I64
        };
        let gather = self.rng.chance(0.5);
        let ishape: Vec<usize> = if gather {
            (0..r)
                .map(|k| {
                    if k == a {
                        1 + self.rng.below(3)
                    } else {
                        1 + self.rng.below(xi.shape[k])
                    }
                })
                .collect()
        } else {
            let ir = self.rng.below(3);
            (0..ir).map(|_| 1 + self.rng.below(3)).collect()
        };
        let n: usize = ishape.iter().product();
        let vals: Vec<i64> = (0..n).map(|_| self.rng.below(dim) as i64).collect();
        let data = if idt == DType::I32 {
            Data::I32(vals.iter().map(|&v| v as i32).collect())
        } else {
            Data::I64(vals)
        };
        let leaf = Leaf {
            shape: ishape.clone(),
            data,
        };
        let shape = if gather {
            ishape
        } else {
            let mut s = xi.shape[..a].to_vec();
            s.extend_from_slice(&ishape);
            s.extend_from_slice(&xi.shape[a + 1..]);
            s
        };
        if shape.iter().product::<usize>() > cap {
            return false;
        }
        let ai = self.rng.axis_of(a, r);
        let info = xi.with_shape(shape);
        if gather {
            self.push(Step::Gather(x, ai, leaf), info);
        } else {
            self.push(Step::IndexSelect(x, ai, leaf), info);
        }
        true
    }

    fn clamp(&mut self) -> bool {
        let Some(x) = self.pick(|i| i.is_numeric()) else {
            return false;
        };
        let xi = self.infos[x].clone();
        let (lo, hi) = if xi.is_float() && self.rng.chance(0.7) {
            (Sc::F(-0.5), Sc::F(self.rng.pick(&[-0.5, 0.75, 1.0])))
        } else {
            (Sc::I(-1), Sc::I(self.rng.pick(&[-1, 0, 2])))
        };
        let mut info = xi.clone();
        if !info.exact {
            // max/min of a perturbed value: the absolute error carries over.
            info.err = xi.aerr();
            info.rel = 0.0;
        }
        info.mag = xi.mag.min(lo.mag().max(hi.mag()));
        self.push(Step::Clamp(x, lo, hi), info);
        true
    }

    fn constant(&mut self) -> bool {
        let shape = self.random_shape();
        match self.rng.below(4) {
            0 => {
                let (s, d) = match self.rng.below(3) {
                    0 => (Sc::F(self.rng.pick(&[0.0, 1.0, 2.5, -0.75])), DType::F32),
                    1 => (Sc::I(self.rng.pick(&[0, 1, 3])), DType::I32),
                    _ => (Sc::B(self.rng.chance(0.5)), DType::Bool),
                };
                let info = Info::exact(d, shape.clone(), s.mag(), false);
                self.push(Step::Full(shape, s), info);
            }
            1 => {
                let d = self
                    .rng
                    .pick(&[DType::F32, DType::I32, DType::Bool, DType::F64]);
                let k = if self.rng.chance(0.5) {
                    ConstKind::Zeros
                } else {
                    ConstKind::Ones
                };
                let info = Info::exact(d, shape.clone(), 1.0, false);
                self.push(Step::Const(k, shape, d), info);
            }
            2 => {
                let start = self.rng.pick(&[0.0f32, -1.0, 0.5]);
                let step = self.rng.pick(&[1.0f32, 0.25, 0.5]);
                let n = 1 + self.rng.below(8);
                let end = start + step * n as f32;
                let info = Info::exact(DType::F32, vec![n], 4.0, false);
                self.push(Step::ArangeF32(start, end, step), info);
            }
            _ => {
                let start = self.rng.pick(&[0i32, -3, 2]);
                let step = self.rng.pick(&[1i32, 2, 3]);
                let end = start + step * (1 + self.rng.below(6)) as i32 - self.rng.below(2) as i32;
                let n = ((end - start) as f64 / step as f64).ceil().max(0.0) as usize;
                let info = Info::exact(DType::I32, vec![n], INF, false);
                self.push(Step::ArangeI32(start, end, step), info);
            }
        }
        true
    }

    /// A sync, read or mark_step.
    fn sync_step(&mut self) {
        let n = self.infos.len();
        match self.rng.below(10) {
            0..=5 => {
                let k = 1 + self.rng.below(3);
                let mut xs: Vec<usize> = (0..k).map(|_| n - 1 - self.rng.below(n.min(4))).collect();
                if self.rng.chance(0.1) {
                    xs.push(xs[0]);
                }
                self.steps.push(Step::Sync(xs));
            }
            6..=8 => {
                let x = n - 1 - self.rng.below(n.min(3));
                self.steps.push(Step::Read(x));
            }
            _ => self.steps.push(Step::Mark),
        }
    }
}

fn reduced_shape(shape: &[usize], axes: &[usize], keep: bool) -> Vec<usize> {
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

fn unary_info(u: UnaryOp, x: &Info) -> Info {
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
        UnaryOp::Not => unreachable!("not is for bool"),
    }
}

fn binary_info(op: BinaryOp, x: &Info, y: &Info, shape: Vec<usize>) -> Info {
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
fn join_info(parts: &[&Info], shape: Vec<usize>) -> Info {
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

fn cast_info(x: &Info, d: DType) -> Info {
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

fn reduce_info(op: ReduceOp, x: &Info, axes: &[usize], keep: bool) -> Info {
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

fn matmul_info(x: &Info, y: &Info, k: usize, shape: Vec<usize>) -> Info {
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

fn gen_case(seed: u64) -> Case {
    let mut g = Gen {
        rng: Rng::new(seed),
        infos: Vec::new(),
        steps: Vec::new(),
        specials: false,
        cap: MAX_NUMEL,
    };
    g.specials = g.rng.chance(0.3);
    // Most cases are tiny; some have rows long enough for the vectorised loops, their
    // remainders and the 4 x 4 accumulators of reductions.
    let large = g.rng.chance(0.15);
    let (rank, dim) = if large {
        (1 + g.rng.below(2), 70)
    } else {
        (g.rng.below(4), 4)
    };
    if large {
        g.cap = LARGE_NUMEL;
    }
    let mut base: Vec<usize> = (0..rank).map(|_| 1 + g.rng.below(dim)).collect();
    if rank > 0 && g.rng.chance(0.03) {
        let k = g.rng.below(rank);
        base[k] = 0;
    }
    let n_inputs = 1 + g.rng.below(3);
    let mut inputs = Vec::new();
    for i in 0..n_inputs {
        let dtype = if i == 0 && g.rng.chance(0.85) {
            DType::F32
        } else {
            match g.rng.below(20) {
                0..=12 => DType::F32,
                13..=15 => DType::I32,
                16..=17 => DType::Bool,
                18 => DType::F64,
                _ => DType::I64,
            }
        };
        let shape = if i == 0 {
            base.clone()
        } else {
            g.variant(&base)
        };
        let (leaf, info) = g.leaf(dtype, shape);
        inputs.push(leaf);
        g.infos.push(info);
    }
    let n_ops = 1 + g.rng.below(12);
    let mut made = 0;
    let mut tries = 0;
    while made < n_ops && tries < 200 {
        tries += 1;
        if made > 0 && g.rng.chance(0.15) {
            g.sync_step();
        }
        let before = g.infos.len();
        if g.op() {
            made += g.infos.len() - before;
        }
    }
    let n = g.infos.len();
    let mut outputs = vec![n - 1];
    for _ in 0..g.rng.below(3) {
        outputs.push(g.rng.below(n));
    }
    let special_scalars = g.rng.chance(0.8);
    let opt_none = g.rng.chance(0.25);
    Case {
        seed,
        inputs,
        steps: g.steps,
        outputs,
        infos: g.infos,
        special_scalars,
        opt_none,
    }
}

// ======================================================================= execution

fn apply(step: &Step, v: &[LazyTensor]) -> lazyjit::Result<Option<LazyTensor>> {
    macro_rules! sc {
        ($s:expr, |$a:ident| $e:expr) => {
            match $s {
                Sc::F($a) => $e,
                Sc::I($a) => $e,
                Sc::B($a) => $e,
            }
        };
    }
    let t = match step {
        Step::Unary(u, x) => {
            let x = &v[*x];
            match u {
                UnaryOp::Neg => x.neg(),
                UnaryOp::Abs => x.abs(),
                UnaryOp::Exp => x.exp(),
                UnaryOp::Log => x.log(),
                UnaryOp::Sqrt => x.sqrt(),
                UnaryOp::Rsqrt => x.rsqrt(),
                UnaryOp::Reciprocal => x.reciprocal(),
                UnaryOp::Tanh => x.tanh(),
                UnaryOp::Sigmoid => x.sigmoid(),
                UnaryOp::Relu => x.relu(),
                UnaryOp::Erf => x.erf(),
                UnaryOp::Sin => x.sin(),
                UnaryOp::Cos => x.cos(),
                UnaryOp::Floor => x.floor(),
                UnaryOp::Ceil => x.ceil(),
                UnaryOp::Round => x.round(),
                UnaryOp::Sign => x.sign(),
                UnaryOp::Not => x.logical_not(),
            }?
        }
        Step::Binary(b, x, y) => {
            let (x, y) = (&v[*x], &v[*y]);
            match b {
                BinaryOp::Add => x.add(y),
                BinaryOp::Sub => x.sub(y),
                BinaryOp::Mul => x.mul(y),
                BinaryOp::Div => x.div(y),
                BinaryOp::Pow => x.pow(y),
                BinaryOp::Max => x.maximum(y),
                BinaryOp::Min => x.minimum(y),
                BinaryOp::Eq => x.eq(y),
                BinaryOp::Ne => x.ne(y),
                BinaryOp::Lt => x.lt(y),
                BinaryOp::Le => x.le(y),
                BinaryOp::Gt => x.gt(y),
                BinaryOp::Ge => x.ge(y),
                BinaryOp::And => x.logical_and(y),
                BinaryOp::Or => x.logical_or(y),
            }?
        }
        Step::Scalar(b, x, s, rev) => {
            let x = &v[*x];
            match (b, rev) {
                (BinaryOp::Sub, true) => sc!(*s, |a| x.rsub_scalar(a)),
                (BinaryOp::Div, true) => sc!(*s, |a| x.rdiv_scalar(a)),
                (BinaryOp::Add, _) => sc!(*s, |a| x.add_scalar(a)),
                (BinaryOp::Sub, _) => sc!(*s, |a| x.sub_scalar(a)),
                (BinaryOp::Mul, _) => sc!(*s, |a| x.mul_scalar(a)),
                (BinaryOp::Div, _) => sc!(*s, |a| x.div_scalar(a)),
                (BinaryOp::Pow, _) => sc!(*s, |a| x.pow_scalar(a)),
                (BinaryOp::Max, _) => sc!(*s, |a| x.maximum_scalar(a)),
                (BinaryOp::Min, _) => sc!(*s, |a| x.minimum_scalar(a)),
                (BinaryOp::Eq, _) => sc!(*s, |a| x.eq_scalar(a)),
                (BinaryOp::Ne, _) => sc!(*s, |a| x.ne_scalar(a)),
                (BinaryOp::Lt, _) => sc!(*s, |a| x.lt_scalar(a)),
                (BinaryOp::Le, _) => sc!(*s, |a| x.le_scalar(a)),
                (BinaryOp::Gt, _) => sc!(*s, |a| x.gt_scalar(a)),
                (BinaryOp::Ge, _) => sc!(*s, |a| x.ge_scalar(a)),
                (BinaryOp::And, _) => sc!(*s, |a| x.logical_and_scalar(a)),
                (BinaryOp::Or, _) => sc!(*s, |a| x.logical_or_scalar(a)),
            }?
        }
        Step::Where(c, x, y) => LazyTensor::where_(&v[*c], &v[*x], &v[*y])?,
        Step::Cast(x, d) => v[*x].cast(*d)?,
        Step::Reduce(op, x, axes, k) => {
            let x = &v[*x];
            match op {
                ReduceOp::Sum => x.sum(axes, *k),
                ReduceOp::Mean => x.mean(axes, *k),
                ReduceOp::Max => x.max(axes, *k),
                ReduceOp::Min => x.min(axes, *k),
                ReduceOp::Prod => x.prod(axes, *k),
                ReduceOp::ArgMax | ReduceOp::ArgMin => unreachable!(),
            }?
        }
        Step::ReduceAll(op, x) => {
            let x = &v[*x];
            match op {
                ReduceOp::Sum => x.sum_all(),
                ReduceOp::Mean => x.mean_all(),
                ReduceOp::Max => x.max_all(),
                ReduceOp::Min => x.min_all(),
                _ => unreachable!(),
            }?
        }
        Step::ArgReduce(op, x, a, k) => {
            if *op == ReduceOp::ArgMax {
                v[*x].argmax(*a, *k)?
            } else {
                v[*x].argmin(*a, *k)?
            }
        }
        Step::LogSumExp(x, axes, k) => v[*x].logsumexp(axes, *k)?,
        Step::Softmax(x, a) => v[*x].softmax(*a)?,
        Step::LogSoftmax(x, a) => v[*x].log_softmax(*a)?,
        Step::Reshape(x, s) => v[*x].reshape(s)?,
        Step::Permute(x, p) => v[*x].permute(p)?,
        Step::Transpose(x, a, b) => v[*x].transpose(*a, *b)?,
        Step::Expand(x, s) => v[*x].expand(s)?,
        Step::Slice(x, a, b, c) => v[*x].slice(a, b, c)?,
        Step::Narrow(x, a, s, l) => v[*x].narrow(*a, *s, *l)?,
        Step::Concat(xs, a) => {
            let ts: Vec<&LazyTensor> = xs.iter().map(|&i| &v[i]).collect();
            LazyTensor::concat(&ts, *a)?
        }
        Step::Pad(x, lo, hi, s) => sc!(*s, |a| v[*x].pad(lo, hi, a))?,
        Step::Flatten(x, a, b) => v[*x].flatten(*a, *b)?,
        Step::Squeeze(x, a) => v[*x].squeeze(*a)?,
        Step::Unsqueeze(x, a) => v[*x].unsqueeze(*a)?,
        Step::MatMul(x, y) => v[*x].matmul(&v[*y])?,
        Step::IndexSelect(x, a, l) => v[*x].index_select(*a, &l.make()?)?,
        Step::Gather(x, a, l) => v[*x].gather(*a, &l.make()?)?,
        Step::Clamp(x, lo, hi) => match (lo, hi) {
            (Sc::F(a), Sc::F(b)) => v[*x].clamp(*a, *b)?,
            (Sc::I(a), Sc::I(b)) => v[*x].clamp(*a, *b)?,
            _ => unreachable!("clamp bounds of one kind"),
        },
        Step::Full(s, sc) => match sc {
            Sc::F(a) => LazyTensor::full(s, *a as f32)?,
            Sc::I(a) => LazyTensor::full(s, *a as i32)?,
            Sc::B(a) => LazyTensor::full(s, *a)?,
        },
        Step::Const(ConstKind::Zeros, s, d) => LazyTensor::zeros(s, *d)?,
        Step::Const(ConstKind::Ones, s, d) => LazyTensor::ones(s, *d)?,
        Step::ArangeF32(a, b, c) => LazyTensor::arange(*a, *b, *c)?,
        Step::ArangeI32(a, b, c) => LazyTensor::arange(*a, *b, *c)?,
        Step::Sync(xs) => {
            let ts: Vec<&LazyTensor> = xs.iter().map(|&i| &v[i]).collect();
            lazyjit::sync(&ts)?;
            return Ok(None);
        }
        Step::Read(x) => {
            v[*x].to_tensor()?;
            return Ok(None);
        }
        Step::Mark => {
            lazyjit::mark_step()?;
            return Ok(None);
        }
    };
    Ok(Some(t))
}

/// Runs `case` on `backend` and returns every value, read after the final syncs.
fn execute(case: &Case, backend: BackendKind) -> Result<Vec<Tensor>, String> {
    config::with(
        |c| {
            c.backend = backend;
            c.special_scalars = case.special_scalars;
            c.opt_level = if case.opt_none {
                OptLevel::None
            } else {
                OptLevel::Speed
            };
        },
        || {
            let mut v: Vec<LazyTensor> = Vec::new();
            for (i, l) in case.inputs.iter().enumerate() {
                v.push(l.make().map_err(|e| format!("input v{i}: {e}"))?);
            }
            for (k, step) in case.steps.iter().enumerate() {
                let out = v.len();
                match apply(step, &v) {
                    Ok(Some(t)) => {
                        let want = &case.infos[out];
                        if t.dtype() != want.dtype || t.shape() != want.shape.as_slice() {
                            return Err(format!(
                                "step {k} `{}` gave {:?}{:?}, the generator expected {:?}{:?} \
                                 (a generator bug or an op bug)",
                                step.describe(out),
                                t.dtype(),
                                t.shape(),
                                want.dtype,
                                want.shape
                            ));
                        }
                        v.push(t);
                    }
                    Ok(None) => {}
                    Err(e) => return Err(format!("step {k} `{}`: {e}", step.describe(out))),
                }
            }
            let outs: Vec<&LazyTensor> = case.outputs.iter().map(|&i| &v[i]).collect();
            lazyjit::sync(&outs).map_err(|e| format!("final sync: {e}"))?;
            let pending: Vec<&LazyTensor> = v.iter().filter(|t| t.is_pending()).collect();
            lazyjit::sync(&pending).map_err(|e| format!("sync of the pending rest: {e}"))?;
            v.iter()
                .enumerate()
                .map(|(i, t)| t.to_tensor().map_err(|e| format!("reading v{i}: {e}")))
                .collect()
        },
    )
}

fn execute_caught(case: &Case, backend: BackendKind) -> Result<Vec<Tensor>, String> {
    match catch_unwind(AssertUnwindSafe(|| execute(case, backend))) {
        Ok(r) => r,
        Err(p) => {
            let msg = p
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_else(|| "(non-string panic)".into());
            Err(format!("panicked: {msg}"))
        }
    }
}

// ======================================================================= comparison

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Checked {
    Exact,
    Tolerance,
    Unchecked,
}

fn floats(t: &Tensor) -> Vec<f64> {
    t.to_f64_vec()
}

fn compare(info: &Info, j: &Tensor, r: &Tensor) -> Result<Checked, String> {
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
fn check_case(case: &Case, stats: &mut Stats) -> Result<(), String> {
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
struct Stats {
    kinds: BTreeMap<String, usize>,
    checks: BTreeMap<Checked, usize>,
}

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(default)
}

#[test]
fn random_op_sequences() {
    let _g = serial();
    let cases = env_u64("LAZYJIT_DIFF_CASES", 1000);
    let first = env_u64("LAZYJIT_DIFF_SEED", 0x1a2b_0000);
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
