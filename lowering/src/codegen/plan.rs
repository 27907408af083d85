//! Fusion planning: which values get a buffer, and which instructions each kernel inlines.
//!
//! Everything is fused into its consumers except:
//! - parameters (they are buffers) and program outputs;
//! - reductions and matmuls (each is the root of its own kernel; a reduction inlines the
//!   elementwise and layout producers that feed it);
//! - the base of a matmul operand's view chain (matmul reads strided buffers, so permute /
//!   expand / slice views of a buffer cost nothing, but computed operands need a buffer);
//! - an expensive expression (e.g. one holding `exp`) that is used more than once or is
//!   broadcast to more elements than it has, which would otherwise be recomputed;
//! - an operand whose consumer's expression would read more than `MAX_LEAVES` distinct
//!   buffers and constants (and a concat of more operands than that), which keeps the
//!   Cranelift function of every kernel, and so its compile time, bounded.
//!
//! Kernels with nothing to write, and kernels whose results only such kernels read, are then
//! dropped (`prune.rs`), before kernels are grouped into row loops.
//!
//! Every `gather` / `index_select` also gets a *check* kernel, placed as early as its index
//! allows (`hoist_checks`; so before any kernel that reads through it), that validates all its index values in row-major order. The gather
//! itself stays fused (it only clamps indices for memory safety); checking separately is what
//! makes every out-of-range index an error — also in a gather that is dead, only partly read
//! (e.g. through a slice) or whose result is empty — and makes the reported index the first
//! bad one of the first failing instruction, as in the reference interpreter.

use super::kernel::{checked_axis, inst_vectorizes};
pub use super::kernel::{Kernel, KernelKind};
use super::matmul;
use super::prune::prune;
use crate::op::Op;
use crate::program::{Program, ValueId};
use std::fmt;

/// Inline cost at which a multi-use or broadcast expression gets its own buffer.
const MATERIALIZE_COST: u32 = 8;

/// Most distinct buffers and constants one kernel's expression reads before an operand gets
/// its own buffer. Cranelift computes an expression's pure ops where their result is used, so
/// all of a kernel's loads (and its constants, which it hoists out of the loop) are live at
/// once, and its register allocator takes time quadratic in how many are (8,000 scalar
/// parameters multiplied into a tensor: 1.2 s). Bounding them per kernel makes compile time
/// linear; a kernel reading more than this spills anyway, so the extra buffer costs little.
const MAX_LEAVES: usize = 64;

/// Where a value lives when it has a buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Storage {
    /// Computed inside its consumers.
    Inline,
    /// Parameter `i`'s buffer.
    Param(usize),
    /// A buffer produced by a kernel.
    Buffer,
    /// A buffer produced and consumed only inside one row group: it holds a single row
    /// (the dims after the group's `outer` leading dims) and is reused for every row. In a
    /// fused group `outer` is the rank: the value stays in a register and is never stored.
    Scratch {
        /// Number of leading dims (the group's outer loops) the scratch row does not hold.
        outer: usize,
    },
}

/// Kernels that share an outer loop nest over `outer` leading dims: for every outer index,
/// each kernel runs its inner loops in turn, so intermediate rows stay in L1 between them
/// (softmax becomes one pass over memory). A group of one kernel has `outer` empty.
///
/// A *fused* group (`fused`, `outer` empty) is a run of elementwise loop kernels of one type
/// emitted as a single loop that, per element, computes every kernel's root and only then
/// stores them all (see [`fused_runs`]): an optimizer step's `m'`, `v'` and `p'` read `m`,
/// `v`, `p` and the gradient once, and each parameter is read only at the element written.
#[derive(Clone, Debug)]
pub struct Group {
    /// Indices into [`FusionPlan::kernels`], in the order they run for each outer index.
    pub kernels: Vec<usize>,
    /// Extents of the shared outer dims (the leading dims of every kernel in the group).
    pub outer: Vec<usize>,
    /// Whether the group is one fused elementwise loop (see above).
    pub fused: bool,
}

/// The fusion plan of a program.
#[derive(Clone, Debug)]
pub struct FusionPlan {
    /// The kernels, in the order they run (every kernel after the kernels writing its inputs).
    pub kernels: Vec<Kernel>,
    /// Kernel groups, covering every kernel once, in run order.
    pub groups: Vec<Group>,
    /// Where each value lives, indexed by [`ValueId::index`](crate::ValueId::index).
    pub storage: Vec<Storage>,
}

pub(crate) fn op_cost(op: &Op) -> u32 {
    use crate::op::{BinaryOp as B, UnaryOp as U};
    match op {
        Op::Unary(u) if u.is_transcendental() => 10,
        Op::Binary(B::Pow) => 20,
        Op::Unary(U::Sqrt | U::Rsqrt | U::Reciprocal) | Op::Binary(B::Div) => 2,
        Op::Gather { .. } | Op::IndexSelect { .. } => 2,
        Op::Reshape { .. }
        | Op::Permute { .. }
        | Op::Expand { .. }
        | Op::Slice { .. }
        | Op::Constant { .. } => 0,
        Op::Unary(_) | Op::Binary(_) | Op::Where | Op::Cast | Op::Iota { .. } => 1,
        Op::Concat { .. } | Op::Pad { .. } | Op::Reduce { .. } | Op::MatMul => 1,
        Op::ScatterAdd { .. } => 1,
        // Ten rounds of 32-bit multiplies per element: worth a buffer when reused.
        Op::RandomUniform => 10,
    }
}

/// The operand of a matmul seen through its view chain: the buffer it reads (with `storage`,
/// the first value of the chain that has one). See `matmul.rs`.
pub fn view_base(p: &Program, v: ValueId, storage: Option<&[Storage]>) -> ValueId {
    matmul::operand_base(p, v, |v| {
        storage.is_some_and(|s| s[v.index()] != Storage::Inline)
    })
}

/// The kernel kind of an instruction that always roots its own kernel, `None` for those
/// fused into their consumers unless they need a buffer (then a loop kernel computes them).
fn own_kernel(op: &Op) -> Option<KernelKind> {
    match op {
        Op::Reduce { .. } => Some(KernelKind::Reduce),
        Op::MatMul => Some(KernelKind::MatMul),
        Op::ScatterAdd { .. } => Some(KernelKind::Scatter),
        Op::Unary(_)
        | Op::Binary(_)
        | Op::Where
        | Op::Cast
        | Op::Constant { .. }
        | Op::Iota { .. }
        | Op::Reshape { .. }
        | Op::Permute { .. }
        | Op::Expand { .. }
        | Op::Slice { .. }
        | Op::Concat { .. }
        | Op::Pad { .. }
        | Op::Gather { .. }
        | Op::IndexSelect { .. }
        | Op::RandomUniform => None,
    }
}

impl FusionPlan {
    /// Plans a verified program: choose which values get a buffer, build a kernel per
    /// buffer (and a check kernel per gather), prune the kernels with nothing to do, then
    /// group kernels into row loops (which turns some buffers into row scratch).
    pub fn new(p: &Program) -> FusionPlan {
        let mut storage = choose_storage(p);
        let kernels = hoist_param_readers(p, hoist_checks(prune(p, form_kernels(p, &storage))));
        let groups = form_groups(p, &kernels, &mut storage);
        FusionPlan {
            kernels,
            groups,
            storage,
        }
    }

    /// Whether `v` gets a buffer (a parameter's, a kernel's or a row scratch), i.e. is not inline.
    pub fn is_buffer(&self, v: ValueId) -> bool {
        self.storage[v.index()] != Storage::Inline
    }
}

/// Where every value lives: parameters, outputs, reductions, matmuls and the bases of matmul
/// operands get a buffer, and so do expensive expressions that would be recomputed and
/// operands of expressions reading too many leaves (see the module doc); the rest is inline.
fn choose_storage(p: &Program) -> Vec<Storage> {
    let np = p.params.len();
    let n = p.num_values();
    let mut mat = vec![false; n];
    mat[..np].iter_mut().for_each(|m| *m = true);
    for o in &p.outputs {
        mat[o.index()] = true;
    }
    for (i, inst) in p.insts.iter().enumerate() {
        if own_kernel(&inst.op).is_some() {
            mat[np + i] = true;
        }
        if inst.op == Op::MatMul {
            for a in &inst.args {
                mat[view_base(p, *a, None).index()] = true;
            }
        }
    }
    // Uses and the largest consumer of every value.
    let uses = p.use_counts();
    let mut max_consumer = vec![0usize; n];
    for inst in &p.insts {
        let numel = inst.ty.shape.numel();
        for a in &inst.args {
            max_consumer[a.index()] = max_consumer[a.index()].max(numel);
        }
    }
    let mut cost = vec![0u32; n];
    // Distinct leaves (buffers and constants) each inline value's expression reads.
    let mut leaves: Vec<Vec<ValueId>> = vec![Vec::new(); n];
    for (v, l) in leaves.iter_mut().enumerate() {
        *l = vec![ValueId(v as u32)];
    }
    for (i, inst) in p.insts.iter().enumerate() {
        let v = np + i;
        let reads = |mat: &[bool]| {
            let mut l: Vec<ValueId> = inst
                .args
                .iter()
                .flat_map(|a| {
                    if mat[a.index()] {
                        std::slice::from_ref(a)
                    } else {
                        &leaves[a.index()][..]
                    }
                })
                .copied()
                .collect();
            l.sort_unstable();
            l.dedup();
            l
        };
        let mut l = reads(&mat);
        if l.len() > MAX_LEAVES {
            for a in &inst.args {
                if leaves[a.index()].len() > 1 {
                    mat[a.index()] = true;
                }
            }
            l = reads(&mat);
            if l.len() > MAX_LEAVES {
                mat[v] = true;
            }
        }
        if inst.args.is_empty() {
            l = vec![ValueId(v as u32)];
        }
        let c = op_cost(&inst.op)
            + inst
                .args
                .iter()
                .filter(|a| !mat[a.index()])
                .map(|a| cost[a.index()])
                .sum::<u32>();
        cost[v] = c;
        let broadcast = max_consumer[v] > inst.ty.shape.numel();
        if c >= MATERIALIZE_COST && (uses[v] > 1 || broadcast) {
            mat[v] = true;
        }
        leaves[v] = if mat[v] { vec![ValueId(v as u32)] } else { l };
    }
    (0..n)
        .map(|v| {
            if v < np {
                Storage::Param(v)
            } else if mat[v] {
                Storage::Buffer
            } else {
                Storage::Inline
            }
        })
        .collect()
}

/// The kernels of `storage`, in program order: a check kernel before each gather, and a
/// kernel computing every buffer that is not a parameter.
fn form_kernels(p: &Program, storage: &[Storage]) -> Vec<Kernel> {
    let n = p.num_values();
    let np = p.params.len();
    let mut kernels = Vec::new();
    let mut seen = Visited::new(n);
    for (i, inst) in p.insts.iter().enumerate() {
        let v = ValueId((np + i) as u32);
        if checked_axis(&inst.op).is_some() {
            // Before v's own kernel and every kernel that inlines v (their roots are > v),
            // after the kernels that produce the index (roots < v).
            let mut fused = Vec::new();
            let mut inputs = Vec::new();
            seen.next();
            collect(p, storage, inst.args[1], &mut seen, &mut fused, &mut inputs);
            kernels.push(Kernel {
                kind: KernelKind::Check,
                root: v,
                fused,
                inputs,
            });
        }
        if storage[v.index()] != Storage::Buffer {
            continue;
        }
        let kind = own_kernel(&inst.op).unwrap_or(KernelKind::Loop);
        let mut fused = Vec::new();
        let mut inputs = Vec::new();
        if kind == KernelKind::MatMul {
            (fused, inputs) =
                matmul::operand_reads(p, inst, |v| storage[v.index()] != Storage::Inline);
        } else {
            seen.next();
            for a in &inst.args {
                collect(p, storage, *a, &mut seen, &mut fused, &mut inputs);
            }
        }
        fused.push(v);
        kernels.push(Kernel {
            kind,
            root: v,
            fused,
            inputs,
        });
    }
    kernels
}

/// Moves every check kernel as early as it can go: right after the kernels producing the
/// buffers it reads, and after the previous check kernel. Checks keep their program order, so
/// the first failing one is still the first failing instruction's; they still precede every
/// reader of their gather (they only move earlier). Checking up front means an
/// out-of-range index fails the run before any kernel writes into a donated buffer, so the
/// updates after a training step's loss (whose cross-entropy gathers the labels) may alias
/// their parameters (`alias.rs`, rule 6).
fn hoist_checks(kernels: Vec<Kernel>) -> Vec<Kernel> {
    let mut out: Vec<Kernel> = Vec::with_capacity(kernels.len());
    let mut after_check = 0;
    for k in kernels {
        if k.kind != KernelKind::Check {
            out.push(k);
            continue;
        }
        let after_inputs = out
            .iter()
            .rposition(|o| o.kind != KernelKind::Check && k.inputs.contains(&o.root))
            .map_or(0, |j| j + 1);
        let at = after_inputs.max(after_check);
        out.insert(at, k);
        after_check = at + 1;
    }
    out
}

/// Moves a kernel reading a parameter (other than a loop writing an output) before the first earlier loop kernel that writes a
/// program output of that parameter's type (which could otherwise not be written into the
/// parameter's donated buffer, `alias.rs` rule 4), together with the kernels after that point
/// it depends on. A training step's loss, computed after the updates but reading a parameter
/// (the last layer's bias, fused into the loss reduction), then runs before them. Skipped
/// when a check kernel lies in the way (checks keep their place before their readers) or the
/// kernel depends on the writer itself.
fn hoist_param_readers(p: &Program, kernels: Vec<Kernel>) -> Vec<Kernel> {
    let np = p.params.len();
    let mut is_output = vec![false; p.num_values()];
    for o in &p.outputs {
        is_output[o.index()] = true;
    }
    let mut out: Vec<Kernel> = Vec::with_capacity(kernels.len());
    for k in kernels {
        // Updates (loops writing an output) stay in place: they are what may alias.
        let update = k.kind == KernelKind::Loop && is_output[k.root.index()];
        let target = (k.kind != KernelKind::Check && !update)
            .then(|| {
                out.iter().position(|o| {
                    o.kind == KernelKind::Loop
                        && is_output[o.root.index()]
                        && k.inputs
                            .iter()
                            .any(|q| q.index() < np && p.value_type(*q) == p.value_type(o.root))
                })
            })
            .flatten();
        let Some(t) = target else {
            out.push(k);
            continue;
        };
        if out[t..].iter().any(|o| o.kind == KernelKind::Check) {
            out.push(k);
            continue;
        }
        // The kernels from `t` on that `k` depends on, transitively.
        let mut need: Vec<ValueId> = k.inputs.clone();
        let mut moved = vec![false; out.len()];
        for j in (t..out.len()).rev() {
            if need.contains(&out[j].root) {
                moved[j] = true;
                need.extend(out[j].inputs.iter().copied());
            }
        }
        if moved[t] {
            out.push(k);
            continue;
        }
        let tail: Vec<Kernel> = out.drain(t..).collect();
        let (mut stay, mut go) = (Vec::new(), Vec::new());
        for (j, kern) in tail.into_iter().enumerate() {
            if moved[t + j] {
                go.push(kern);
            } else {
                stay.push(kern);
            }
        }
        out.extend(go);
        out.push(k);
        out.extend(stay);
    }
    out
}

/// The leading dims a kernel could share with a group, given the group's outer rank `k`:
/// `Some(dims[..k])` if the kernel can iterate its first `k` dims outermost.
fn outer_of(p: &Program, kern: &Kernel, k: usize) -> Option<Vec<usize>> {
    let inst = p.inst(kern.root)?;
    match (&kern.kind, &inst.op) {
        (KernelKind::Loop, _) => {
            let d = inst.ty.shape.dims();
            (d.len() > k).then(|| d[..k].to_vec())
        }
        (KernelKind::Reduce, Op::Reduce { axes, .. }) => {
            let d = p.value_type(inst.args[0]).shape.dims();
            (axes.first().is_some_and(|&a| a >= k)).then(|| d[..k].to_vec())
        }
        // A reduce kernel always roots a reduction (`own_kernel`).
        (KernelKind::Reduce, _) => None,
        // Matmuls are GEMM calls, check kernels run before their readers, scatter kernels
        // write across rows: none shares an outer loop nest.
        (KernelKind::MatMul | KernelKind::Check | KernelKind::Scatter, _) => None,
    }
}

/// The outer rank a kernel proposes when it starts a group.
fn proposed_outer(p: &Program, kern: &Kernel) -> usize {
    let Some(inst) = p.inst(kern.root) else {
        return 0;
    };
    match (&kern.kind, &inst.op) {
        (KernelKind::Loop, _) => inst.ty.shape.rank().saturating_sub(1),
        (KernelKind::Reduce, Op::Reduce { axes, .. }) => axes.first().copied().unwrap_or(0),
        (KernelKind::Reduce, _) => 0,
        (KernelKind::MatMul | KernelKind::Check | KernelKind::Scatter, _) => 0,
    }
}

/// Whether every read of a value in `internal` from `v` (inside one kernel) happens at the
/// current outer index: the path keeps the leading `k` dims aligned with the outer loops.
fn aligned_reads(
    p: &Program,
    storage: &[Storage],
    v: ValueId,
    outer: &[usize],
    aligned: bool,
    internal: &Visited,
    is_root: bool,
) -> bool {
    if !is_root && storage[v.index()] != Storage::Inline {
        return aligned || !internal.contains(v);
    }
    let Some(inst) = p.inst(v) else { return true };
    let k = outer.len();
    inst.args.iter().all(|a| {
        let at = p.value_type(*a);
        let same_rank = at.shape.rank() == inst.ty.shape.rank();
        let keeps = aligned
            && (matches!(inst.op, Op::Reduce { .. }) || (inst.op.is_elementwise() && same_rank))
            && at.shape.rank() >= k
            && at.shape.dims()[..k] == *outer;
        aligned_reads(p, storage, *a, outer, keeps, internal, false)
    })
}

fn form_groups(p: &Program, kernels: &[Kernel], storage: &mut [Storage]) -> Vec<Group> {
    let mut groups: Vec<Group> = Vec::new();
    let mut cur: Option<Group> = None;
    // Roots of the current group's kernels.
    let mut internal = Visited::new(p.num_values());
    let run_end = fused_runs(p, kernels);
    let mut skip_to = 0;
    for (i, kern) in kernels.iter().enumerate() {
        if i < skip_to {
            continue;
        }
        if run_end[i] > i + 1 {
            groups.extend(cur.take());
            groups.push(Group {
                kernels: (i..run_end[i]).collect(),
                outer: Vec::new(),
                fused: true,
            });
            skip_to = run_end[i];
            continue;
        }
        if let Some(g) = cur.as_mut().filter(|g| !g.outer.is_empty()) {
            let fits = outer_of(p, kern, g.outer.len()).as_deref() == Some(&g.outer[..])
                && aligned_reads(p, storage, kern.root, &g.outer, true, &internal, true);
            if fits {
                g.kernels.push(i);
                internal.insert(kern.root);
                continue;
            }
        }
        if let Some(g) = cur.take() {
            groups.push(g);
        }
        let k = proposed_outer(p, kern);
        let outer = if k > 0 { outer_of(p, kern, k) } else { None };
        cur = Some(Group {
            kernels: vec![i],
            outer: outer.unwrap_or_default(),
            fused: false,
        });
        internal.next();
        internal.insert(kern.root);
    }
    groups.extend(cur);
    // A group is worth its loop nest only with several kernels and several rows; split the
    // others into one group per kernel.
    let groups: Vec<Group> = groups
        .into_iter()
        .flat_map(|g| {
            if g.fused || (g.kernels.len() >= 2 && g.outer.iter().product::<usize>() > 1) {
                vec![g]
            } else {
                g.kernels
                    .into_iter()
                    .map(|k| Group {
                        kernels: vec![k],
                        outer: Vec::new(),
                        fused: false,
                    })
                    .collect()
            }
        })
        .collect();
    // A result is row scratch when it is not an output and only kernels of its own group
    // read it.
    let mut group_of = vec![0; kernels.len()];
    for (gi, g) in groups.iter().enumerate() {
        for &j in &g.kernels {
            group_of[j] = gi;
        }
    }
    let mut producer = vec![None; p.num_values()];
    for (j, k) in kernels.iter().enumerate() {
        if k.kind != KernelKind::Check {
            producer[k.root.index()] = Some(group_of[j]);
        }
    }
    let mut escapes = vec![false; p.num_values()];
    for o in &p.outputs {
        escapes[o.index()] = true;
    }
    for (j, k) in kernels.iter().enumerate() {
        for r in &k.inputs {
            if producer[r.index()] != Some(group_of[j]) {
                escapes[r.index()] = true;
            }
        }
    }
    for g in &groups {
        if g.outer.is_empty() && !g.fused {
            continue;
        }
        for &j in &g.kernels {
            let r = kernels[j].root;
            if !escapes[r.index()] {
                // A fused loop keeps such a root in a register (it is read only at the
                // element computed): row scratch over every dim, one element, never stored.
                let outer = if g.fused {
                    p.value_type(r).shape.rank()
                } else {
                    g.outer.len()
                };
                storage[r.index()] = Storage::Scratch { outer };
            }
        }
    }
    groups
}

/// Whether a kernel is a loop computing an elementwise expression of its root's shape: every
/// inlined instruction is `unary`, `binary`, `where`, `cast` of that shape (or a constant),
/// and every buffer it reads has that shape or one element. Each buffer of the root's shape is
/// then read exactly at the element being written.
fn elementwise_loop(p: &Program, kern: &Kernel) -> bool {
    if kern.kind != KernelKind::Loop {
        return false;
    }
    let shape = &p.value_type(kern.root).shape;
    let nodes_ok = kern.fused.iter().all(|&v| match p.inst(v) {
        Some(inst) => match inst.op {
            Op::Constant { .. } => true,
            Op::Unary(_) | Op::Binary(_) | Op::Where | Op::Cast => inst.ty.shape == *shape,
            _ => false,
        },
        None => false,
    });
    nodes_ok
        && kern.inputs.iter().all(|&b| {
            let s = &p.value_type(b).shape;
            s == shape || s.numel() == 1
        })
}

/// Per kernel, the end of the fused run it starts (`i + 1` when it starts none): maximal runs
/// of consecutive elementwise loop kernels (`elementwise_loop`) whose roots have one type,
/// each joining kernel reading a buffer of the root's shape that the run already reads or
/// writes (so unrelated kernels stay apart), the run reading at most `MAX_LEAVES` buffers.
/// A kernel reading an earlier member's root reads it at the element being computed, where the
/// fused loop has the value in a register (it is stored only after every root is computed).
fn fused_runs(p: &Program, kernels: &[Kernel]) -> Vec<usize> {
    let n = kernels.len();
    let mut end: Vec<usize> = (1..=n).collect();
    let mut i = 0;
    while i < n {
        if !elementwise_loop(p, &kernels[i]) {
            i += 1;
            continue;
        }
        let ty = p.value_type(kernels[i].root);
        let mut touched: Vec<ValueId> = kernels[i].inputs.clone();
        touched.push(kernels[i].root);
        let mut j = i + 1;
        while j < n {
            let k = &kernels[j];
            if !elementwise_loop(p, k) || p.value_type(k.root) != ty {
                break;
            }
            let shares = k
                .inputs
                .iter()
                .any(|b| p.value_type(*b).shape == ty.shape && touched.contains(b));
            // A member root read in vector mode by an op computed per lane would be read at
            // other indices than the memoised one: keep such kernels apart.
            let reads_member = k
                .inputs
                .iter()
                .any(|b| kernels[i..j].iter().any(|m| m.root == *b));
            if reads_member && !k.fused.iter().all(|&v| inst_vectorizes(p, v)) {
                break;
            }
            let mut t = touched.clone();
            t.extend(k.inputs.iter().copied());
            t.push(k.root);
            t.sort_unstable();
            t.dedup();
            if !shares || t.len() > MAX_LEAVES {
                break;
            }
            touched = t;
            j += 1;
        }
        end[i] = j;
        i = j;
    }
    end
}

/// A set of values cleared in O(1), so that visiting one kernel's expression costs its own
/// size, not the program's.
struct Visited {
    stamp: u32,
    marks: Vec<u32>,
}

impl Visited {
    fn new(n: usize) -> Visited {
        Visited {
            stamp: 0,
            marks: vec![0; n],
        }
    }

    /// Empties the set.
    fn next(&mut self) {
        self.stamp += 1;
    }

    fn contains(&self, v: ValueId) -> bool {
        self.marks[v.index()] == self.stamp
    }

    /// Adds `v`; false if it was already there.
    fn insert(&mut self, v: ValueId) -> bool {
        let m = &mut self.marks[v.index()];
        let fresh = *m != self.stamp;
        *m = self.stamp;
        fresh
    }
}

fn collect(
    p: &Program,
    storage: &[Storage],
    v: ValueId,
    seen: &mut Visited,
    fused: &mut Vec<ValueId>,
    inputs: &mut Vec<ValueId>,
) {
    if !seen.insert(v) {
        return;
    }
    if storage[v.index()] != Storage::Inline {
        inputs.push(v);
        return;
    }
    if let Some(inst) = p.inst(v) {
        for a in &inst.args {
            collect(p, storage, *a, seen, fused, inputs);
        }
    }
    fused.push(v);
}

impl FusionPlan {
    /// The roots of `g`'s kernels that live in row scratch or registers, as text.
    fn scratch_roots(&self, g: &Group) -> Vec<String> {
        g.kernels
            .iter()
            .map(|&k| self.kernels[k].root)
            .filter(|r| matches!(self.storage[r.index()], Storage::Scratch { .. }))
            .map(|r| r.to_string())
            .collect()
    }
}

impl fmt::Display for FusionPlan {
    /// One line per kernel: `kernel k (loop) -> %root: fuses %a %b ...; reads %x %y`, with
    /// a `group` line before kernels that share an outer loop nest.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for g in &self.groups {
            if g.fused {
                write!(f, "fused kernels")?;
                for k in &g.kernels {
                    write!(f, " {k}")?;
                }
                write!(f, " in one loop")?;
                let kept = self.scratch_roots(g);
                if !kept.is_empty() {
                    write!(f, "; in registers {}", kept.join(" "))?;
                }
                writeln!(f)?;
            }
            if g.kernels.len() > 1 && !g.outer.is_empty() {
                let rows: Vec<String> = g.outer.iter().map(|d| d.to_string()).collect();
                let scratch = self.scratch_roots(g);
                write!(f, "group of kernels")?;
                for k in &g.kernels {
                    write!(f, " {k}")?;
                }
                write!(f, " over rows [{}]", rows.join(", "))?;
                if !scratch.is_empty() {
                    write!(f, "; row scratch {}", scratch.join(" "))?;
                }
                writeln!(f)?;
            }
        }
        for (k, kern) in self.kernels.iter().enumerate() {
            let kind = match kern.kind {
                KernelKind::Loop => "loop",
                KernelKind::Reduce => "reduce",
                KernelKind::MatMul => "matmul",
                KernelKind::Check => "check",
                KernelKind::Scatter => "scatter",
            };
            write!(f, "kernel {k} ({kind}) -> {}: fuses", kern.root)?;
            for v in &kern.fused {
                write!(f, " {v}")?;
            }
            f.write_str("; reads")?;
            if kern.inputs.is_empty() {
                f.write_str(" nothing")?;
            }
            for v in &kern.inputs {
                write!(f, " {v}")?;
            }
            writeln!(f)?;
        }
        Ok(())
    }
}
