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
}

/// The fusion plan of a program.
#[derive(Clone, Debug)]
pub struct FusionPlan {
    pub kernels: Vec<Kernel>,
    pub storage: Vec<Storage>,
}

fn op_cost(op: &Op) -> u32 {
    use crate::op::{BinaryOp as B, UnaryOp as U};
    match op {
        Op::Unary(U::Exp | U::Log | U::Tanh | U::Sigmoid | U::Erf | U::Sin | U::Cos) => 10,
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
        FusionPlan { kernels, storage }
    }

    pub fn is_buffer(&self, v: ValueId) -> bool {
        self.storage[v.index()] != Storage::Inline
    }
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
    /// One line per kernel: `kernel k (loop) -> %root: fuses %a %b ...; reads %x %y`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (k, kern) in self.kernels.iter().enumerate() {
            let kind = match kern.kind {
                KernelKind::Loop => "loop",
                KernelKind::Reduce => "reduce",
                KernelKind::MatMul => "matmul",
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
