//! The random valid program generator of the differential test
//! (`lowering/tests/differential/random.rs`) and the `compile_run` fuzz target.
//!
//! A program is described by small numbers (a [`Spec`]: a base shape, parameter choices and
//! [`StepSpec`]s) that a [`Builder`] turns into parameters and instructions. Every spec builds
//! a valid program, so proptest's shrinking (fewer steps, smaller numbers) minimises well, and
//! so does libFuzzer's mutation. While building, the generator runs a forward error analysis
//! ([`Meta`], in `meta.rs`): each value gets a bound on its magnitude and on |JIT − reference|,
//! and ops that are discontinuous in an approximate operand are not generated, so every output
//! gets a tolerance ([`Tol::Exact`] or an absolute bound).
//!
//! # Adding an op
//!
//! * A unary or binary op is picked up from `UnaryOp::ALL` / `BinaryOp::ALL` by the
//!   [`StepKind::Unary`] / [`StepKind::Binary`] steps. It is only generated once `meta_of`
//!   (`meta.rs`) gives it an error rule: a float op it does not know is rejected (`None`).
//!   A new transcendental op also needs its class in `testing::ops::is_transcendental`
//!   (an exhaustive match) and its f32 bound in `testing::tolerance::unary_tol`.
//! * A structured op (own operands and attributes, e.g. `scatter_add(input, index, updates)`
//!   with an `axis`): add a [`StepKind`] variant, append it to the END of [`STEP_KINDS`]
//!   (appending keeps every existing kind number, so seeds and corpora keep their meaning),
//!   write its arm in `Builder::step` (`step.rs`; `Builder::index_tensor` makes in-range
//!   index tensors, `Builder::find` finds operands of a given type), and its arm in
//!   `Builder::meta_of` (`meta.rs`, an exhaustive match on `Op`, so the compiler points
//!   there). If its indices can be out of range, the fuzz target's `spoil_an_index` can
//!   learn it too.

mod meta;
mod params;
mod step;

pub use meta::Meta;
pub use params::{param_dtype, param_shape, tame_tensor, tame_value, ParamFill, BASES};

use super::inputs::tt;
use super::rng::Rng;
use super::tolerance::{min_normal, unit_roundoff, Tol};
use crate::{DType, Op, Program, Tensor, TensorType, ValueId};

/// Largest value the generator creates, in elements.
pub const MAX_NUMEL: usize = 2048;

/// A random program before interpretation: small numbers that [`Builder`] turns into
/// parameters and instructions. Proptest shrinks these (fewer steps, smaller numbers), and
/// every shrunk spec still builds a valid program, so failures minimise well.
#[derive(Clone, Debug)]
pub struct Spec {
    /// Index into [`BASES`]: most parameter shapes derive from this one, so that binary ops
    /// between them usually broadcast.
    pub base: u8,
    /// Per parameter: (dtype choice, shape choice, magnitude choice).
    pub params: Vec<(u8, u8, u8)>,
    /// The instructions (and output marks), in order.
    pub steps: Vec<StepSpec>,
    /// Seed of the input values.
    pub seed: u64,
}

impl Spec {
    /// A random spec: 1 to 4 parameters and 1 to 17 steps, every choice uniform (how the
    /// thread, donation and wide-math tests draw their random programs).
    pub fn random(rng: &mut Rng) -> Spec {
        Spec {
            base: rng.below(BASES.len()) as u8,
            params: (0..1 + rng.below(4))
                .map(|_| {
                    (
                        rng.below(256) as u8,
                        rng.below(256) as u8,
                        rng.below(256) as u8,
                    )
                })
                .collect(),
            steps: (0..1 + rng.below(17))
                .map(|_| StepSpec {
                    kind: rng.below(STEP_KINDS.len()) as u8,
                    x: rng.below(1 << 16) as u16,
                    y: rng.below(1 << 16) as u16,
                    z: rng.below(1 << 16) as u16,
                    w: rng.below(1 << 16) as u16,
                })
                .collect(),
            seed: rng.next_u64(),
        }
    }
}

/// One step: `kind` selects the op ([`StepKind::of`]), the other numbers its operands and
/// attributes.
#[derive(Clone, Debug)]
pub struct StepSpec {
    /// Index into [`STEP_KINDS`] (modulo its length).
    pub kind: u8,
    /// Picks the main operand ([`Builder::pick`]).
    pub x: u16,
    /// Op choice, other operands, attributes: each kind says.
    pub y: u16,
    /// See `y`.
    pub z: u16,
    /// See `y`.
    pub w: u16,
}

/// What a step does. Several [`STEP_KINDS`] entries map to one kind to weight it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StepKind {
    /// A unary op of `UnaryOp::ALL` that accepts the operand's dtype.
    Unary,
    /// A binary op of `BinaryOp::ALL`, with a broadcast-compatible second operand.
    Binary,
    /// `where(c, a, b)` with a bool condition.
    Where,
    /// A cast to any dtype.
    Cast,
    /// A constant (added to the operand when the dtypes fit).
    Constant,
    /// An iota (multiplied into the operand when the dtypes fit).
    Iota,
    /// A reduction of `ReduceOp::ALL` over a subset of the axes.
    Reduce,
    /// A reshape to a random factorisation of the element count.
    Reshape,
    /// A permutation of the axes.
    Permute,
    /// An expand of size-1 dims, maybe with a new leading dim.
    Expand,
    /// A slice with steps.
    Slice,
    /// A concat of values of matching shape.
    Concat,
    /// A pad with a constant.
    Pad,
    /// A gather with an in-range, data-dependent index.
    Gather,
    /// An index_select with an in-range, data-dependent index.
    IndexSelect,
    /// A transcendental op on a float value (the most error-prone path).
    Transcendental,
    /// A matmul with a transposed partner.
    MatMul,
    /// Marks a value as an output (parameters and repeats included).
    Output,
    /// reduce → elementwise → reduce → elementwise over trailing axes (row groups).
    RowChain,
    /// A scatter_add with an in-range, data-dependent index and updates of the index's shape.
    ScatterAdd,
}

/// Kind of each `StepSpec::kind` value; the number of entries of a kind is its weight.
/// Append new kinds at the end (see the module docs).
pub const STEP_KINDS: [StepKind; 26] = {
    use StepKind::*;
    [
        Unary,
        Unary,
        Binary,
        Binary,
        Binary,
        Where,
        Cast,
        Constant,
        Iota,
        Reduce,
        Reduce,
        Reshape,
        Permute,
        Expand,
        Slice,
        Concat,
        Pad,
        Gather,
        IndexSelect,
        Transcendental,
        Transcendental,
        MatMul,
        Output,
        RowChain,
        RowChain,
        ScatterAdd,
    ]
};

impl StepKind {
    /// The kind of `StepSpec::kind` value `kind` (any `u8`: taken modulo the table).
    pub fn of(kind: u8) -> StepKind {
        STEP_KINDS[kind as usize % STEP_KINDS.len()]
    }
}

/// A program under construction, with what the generator knows about each value.
pub struct Builder {
    /// The program so far (outputs are added by [`Builder::finish`]).
    pub p: Program,
    /// Per value (parameters first): magnitude and error bounds.
    pub meta: Vec<Meta>,
    /// Values marked as outputs so far.
    pub outputs: Vec<ValueId>,
    /// Per parameter: how its input is filled.
    pub fills: Vec<ParamFill>,
}

/// Error-bound constants of a float dtype: unit roundoff `u`, machine epsilon (ulp of 1)
/// and the absolute floor for underflow.
pub fn consts(d: DType) -> (f64, f64, f64) {
    let u = unit_roundoff(d);
    (u, 2.0 * u, 4.0 * min_normal(d))
}

impl Default for Builder {
    fn default() -> Self {
        Builder::new()
    }
}

impl Builder {
    /// An empty program.
    pub fn new() -> Builder {
        Builder {
            p: Program::new(),
            meta: Vec::new(),
            outputs: Vec::new(),
            fills: Vec::new(),
        }
    }

    /// Adds parameter `p<i>` of type `d[shape]`, whose input will be filled by `fill`.
    pub fn param(&mut self, d: DType, shape: &[usize], fill: ParamFill) -> ValueId {
        let i = self.p.params.len();
        let v = self.p.param(format!("p{i}"), tt(d, shape));
        self.meta.push(match d {
            DType::Bool => Meta::EXACT_BOOL,
            _ if fill.wild => Meta::exact(f64::INFINITY),
            // The tame specials include -2.5 and 0.5.
            _ => Meta::exact(fill.mag.max(2.5)),
        });
        self.fills.push(fill);
        v
    }

    /// The type of value `v`.
    pub fn ty(&self, v: ValueId) -> &TensorType {
        self.p.value_type(v)
    }

    /// What the generator knows about value `v`.
    pub fn m(&self, v: ValueId) -> Meta {
        self.meta[v.index()]
    }

    /// Picks a value: usually one of the last few (so chains form), sometimes any.
    pub fn pick(&self, x: u16) -> ValueId {
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
    pub fn find(&self, x: u16, f: impl Fn(ValueId) -> bool) -> Option<ValueId> {
        let all: Vec<ValueId> = (0..self.meta.len() as u32)
            .map(ValueId)
            .filter(|v| f(*v))
            .collect();
        (!all.is_empty()).then(|| all[x as usize % all.len()])
    }

    /// Appends `op` if it is valid, small enough and its error bound is finite.
    pub fn add(
        &mut self,
        op: Op,
        args: &[ValueId],
        declared: Option<TensorType>,
    ) -> Option<ValueId> {
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

    /// Applies one step: marks an output, or appends the step's op, retrying with perturbed
    /// numbers (up to four times) when the op does not apply.
    pub fn apply(&mut self, s: &StepSpec) {
        if StepKind::of(s.kind) == StepKind::Output {
            let v = self.pick(s.x);
            self.outputs.push(v);
            return;
        }
        for attempt in 0..4u16 {
            let t = StepSpec {
                kind: s.kind,
                x: s.x.wrapping_add(attempt.wrapping_mul(7)),
                y: s.y.wrapping_add(attempt),
                z: s.z.wrapping_add(attempt.wrapping_mul(3)),
                w: s.w,
            };
            if self.step(&t).is_some() {
                break;
            }
        }
    }

    /// The finished program (the marked outputs, then the last value, as outputs) and the
    /// tolerance of each output: exact, or the error bound of a value that depends on an
    /// approximate op.
    pub fn finish(self) -> (Program, Vec<ParamFill>, Vec<Tol>) {
        let last = ValueId(self.meta.len() as u32 - 1);
        let mut p = self.p;
        for &o in self.outputs.iter().chain(std::iter::once(&last)) {
            p.output(o);
        }
        let tols = p
            .outputs
            .iter()
            .map(|o| {
                let m = self.meta[o.index()];
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
        (p, self.fills, tols)
    }
}

/// A random shape with `n` elements (rank 1 to 4), splitting `n`'s prime factors.
pub fn random_factorisation(n: usize, rng: &mut Rng) -> Vec<usize> {
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
        while m.is_multiple_of(f) {
            let i = rng.below(rank);
            shape[i] *= f;
            m /= f;
        }
        f += 1;
    }
    shape
}

/// Every permutation of `0..n`.
pub fn permutations(n: usize) -> Vec<Vec<usize>> {
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

/// Builds the program, its inputs and the tolerance of each output from a spec.
pub fn build(spec: &Spec) -> (Program, Vec<Tensor>, Vec<Tol>) {
    let base = BASES[spec.base as usize % BASES.len()];
    let mut b = Builder::new();
    for &(dsel, ssel, msel) in &spec.params {
        let d = param_dtype(dsel);
        b.param(d, &param_shape(base, ssel), ParamFill::choose(d, msel));
    }
    for s in &spec.steps {
        b.apply(s);
    }
    let (p, fills, tols) = b.finish();
    let mut rng = Rng::new(spec.seed);
    let inputs: Vec<Tensor> = p
        .params
        .iter()
        .zip(&fills)
        .map(|(q, f)| tame_tensor(&q.ty, *f, &mut rng))
        .collect();
    (p, inputs, tols)
}
