//! Fusion planning: which values get a buffer, and which instructions each kernel inlines.
//!
//! Everything is fused into its consumers except:
//! - parameters (they are buffers) and program outputs;
//! - reductions and matmuls (each is the root of its own kernel; a reduction inlines the
//!   elementwise and layout producers that feed it);
//! - the base of a matmul operand's view chain (matmul reads strided buffers, so permute /
//!   expand / slice views of a buffer cost nothing, but computed operands need a buffer);
//! - an expensive expression (e.g. one holding `exp`) that is used more than once or is
//!   broadcast to more elements than it has, which would otherwise be recomputed.
//!
//! Every `gather` / `index_select` also gets a *check* kernel, placed before any kernel that
//! reads through it, that validates all its index values in row-major order. The gather
//! itself stays fused (it only clamps indices for memory safety); checking separately is what
//! makes every out-of-range index an error — also in a gather that is dead, only partly read
//! (e.g. through a slice) or whose result is empty — and makes the reported index the first
//! bad one of the first failing instruction, as in the reference interpreter.

use crate::op::Op;
use crate::program::{Program, ValueId};
use std::fmt;

/// Inline cost at which a multi-use or broadcast expression gets its own buffer.
const MATERIALIZE_COST: u32 = 8;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KernelKind {
    /// A loop nest over the root's shape computing the inlined expression.
    Loop,
    /// A loop nest over the reduction's output with inner reduction loops.
    Reduce,
    /// A call to the GEMM runtime kernel on strided views of two buffers.
    MatMul,
    /// A loop over the index operand of the root (a gather or index_select) that reports the
    /// first out-of-range value; it writes nothing (the root need not have a buffer).
    Check,
}

/// One kernel of the plan.
#[derive(Clone, Debug)]
pub struct Kernel {
    pub kind: KernelKind,
    /// The value this kernel writes.
    pub root: ValueId,
    /// Instructions computed inside the kernel (post order, root last).
    pub fused: Vec<ValueId>,
    /// Buffers the kernel reads (parameters or earlier kernels' roots).
    pub inputs: Vec<ValueId>,
}

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
    /// (the dims after the group's `outer` leading dims) and is reused for every row.
    Scratch { outer: usize },
}

/// Kernels that share an outer loop nest over `outer` leading dims: for every outer index,
/// each kernel runs its inner loops in turn, so intermediate rows stay in L1 between them
/// (softmax becomes one pass over memory). A group of one kernel has `outer` empty.
#[derive(Clone, Debug)]
pub struct Group {
    pub kernels: Vec<usize>,
    pub outer: Vec<usize>,
}

/// The fusion plan of a program.
#[derive(Clone, Debug)]
pub struct FusionPlan {
    pub kernels: Vec<Kernel>,
    pub groups: Vec<Group>,
    pub storage: Vec<Storage>,
}

fn op_cost(op: &Op) -> u32 {
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
        _ => 1,
    }
}

/// The operand of a matmul seen through its view chain: the buffer it reads.
pub fn view_base(p: &Program, mut v: ValueId, storage: Option<&[Storage]>) -> ValueId {
    loop {
        if let Some(s) = storage {
            if s[v.index()] != Storage::Inline {
                return v;
            }
        }
        match p.inst(v) {
            Some(inst)
                if matches!(
                    inst.op,
                    Op::Permute { .. } | Op::Expand { .. } | Op::Slice { .. }
                ) =>
            {
                v = inst.args[0]
            }
            _ => return v,
        }
    }
}

impl FusionPlan {
    /// Plans a verified program.
    pub fn new(p: &Program) -> FusionPlan {
        let np = p.params.len();
        let n = p.num_values();
        let mut mat = vec![false; n];
        mat[..np].iter_mut().for_each(|m| *m = true);
        for o in &p.outputs {
            mat[o.index()] = true;
        }
        for (i, inst) in p.insts.iter().enumerate() {
            if matches!(inst.op, Op::Reduce { .. } | Op::MatMul) {
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
        for (i, inst) in p.insts.iter().enumerate() {
            let v = np + i;
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
        }
        let storage = (0..n)
            .map(|v| {
                if v < np {
                    Storage::Param(v)
                } else if mat[v] {
                    Storage::Buffer
                } else {
                    Storage::Inline
                }
            })
            .collect::<Vec<_>>();
        let mut kernels = Vec::new();
        for (i, inst) in p.insts.iter().enumerate() {
            let v = ValueId((np + i) as u32);
            if matches!(inst.op, Op::Gather { .. } | Op::IndexSelect { .. }) {
                // Before v's own kernel and every kernel that inlines v (their roots are > v),
                // after the kernels that produce the index (roots < v).
                let mut fused = Vec::new();
                let mut inputs = Vec::new();
                let mut seen = vec![false; n];
                collect(
                    p,
                    &storage,
                    inst.args[1],
                    &mut seen,
                    &mut fused,
                    &mut inputs,
                );
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
            let kind = match inst.op {
                Op::Reduce { .. } => KernelKind::Reduce,
                Op::MatMul => KernelKind::MatMul,
                _ => KernelKind::Loop,
            };
            let mut fused = Vec::new();
            let mut inputs = Vec::new();
            if kind == KernelKind::MatMul {
                for a in &inst.args {
                    let base = view_base(p, *a, Some(&storage));
                    collect_views(p, *a, base, &mut fused);
                    if !inputs.contains(&base) {
                        inputs.push(base);
                    }
                }
                fused.sort();
                fused.dedup();
            } else {
                let mut seen = vec![false; n];
                for a in &inst.args {
                    collect(p, &storage, *a, &mut seen, &mut fused, &mut inputs);
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
        let mut storage = storage;
        let groups = form_groups(p, &kernels, &mut storage);
        FusionPlan {
            kernels,
            groups,
            storage,
        }
    }

    pub fn is_buffer(&self, v: ValueId) -> bool {
        self.storage[v.index()] != Storage::Inline
    }
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
        _ => None,
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
        _ => 0,
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
    internal: &[ValueId],
    is_root: bool,
) -> bool {
    if !is_root && storage[v.index()] != Storage::Inline {
        return aligned || !internal.contains(&v);
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
    for (i, kern) in kernels.iter().enumerate() {
        if let Some(g) = cur.as_mut().filter(|g| !g.outer.is_empty()) {
            let internal: Vec<ValueId> = g.kernels.iter().map(|&j| kernels[j].root).collect();
            let fits = outer_of(p, kern, g.outer.len()).as_deref() == Some(&g.outer[..])
                && aligned_reads(p, storage, kern.root, &g.outer, true, &internal, true);
            if fits {
                g.kernels.push(i);
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
        });
    }
    groups.extend(cur);
    // A group is worth its loop nest only with several kernels and several rows; split the
    // others into one group per kernel.
    let groups: Vec<Group> = groups
        .into_iter()
        .flat_map(|g| {
            if g.kernels.len() >= 2 && g.outer.iter().product::<usize>() > 1 {
                vec![g]
            } else {
                g.kernels
                    .into_iter()
                    .map(|k| Group {
                        kernels: vec![k],
                        outer: Vec::new(),
                    })
                    .collect()
            }
        })
        .collect();
    let outputs: Vec<ValueId> = p.outputs.clone();
    for g in &groups {
        if g.outer.is_empty() {
            continue;
        }
        for &j in &g.kernels {
            let r = kernels[j].root;
            let local = !outputs.contains(&r)
                && kernels
                    .iter()
                    .enumerate()
                    .all(|(m, kk)| g.kernels.contains(&m) || !kk.inputs.contains(&r));
            if local {
                storage[r.index()] = Storage::Scratch {
                    outer: g.outer.len(),
                };
            }
        }
    }
    groups
}

fn collect_views(p: &Program, mut v: ValueId, base: ValueId, out: &mut Vec<ValueId>) {
    while v != base {
        out.push(v);
        v = p.inst(v).map(|i| i.args[0]).unwrap_or(base);
    }
}

fn collect(
    p: &Program,
    storage: &[Storage],
    v: ValueId,
    seen: &mut [bool],
    fused: &mut Vec<ValueId>,
    inputs: &mut Vec<ValueId>,
) {
    if std::mem::replace(&mut seen[v.index()], true) {
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

impl fmt::Display for FusionPlan {
    /// One line per kernel: `kernel k (loop) -> %root: fuses %a %b ...; reads %x %y`, with
    /// a `group` line before kernels that share an outer loop nest.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for g in &self.groups {
            if g.kernels.len() > 1 && !g.outer.is_empty() {
                let rows: Vec<String> = g.outer.iter().map(|d| d.to_string()).collect();
                let scratch: Vec<String> = g
                    .kernels
                    .iter()
                    .map(|&k| self.kernels[k].root)
                    .filter(|r| matches!(self.storage[r.index()], Storage::Scratch { .. }))
                    .map(|r| r.to_string())
                    .collect();
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
