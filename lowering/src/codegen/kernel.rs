//! What a kernel is: the unit the planner produces and the emitter lowers. Shared by the
//! planning passes (`plan`, `prune`), the lowering (`bases`, `segments`, `emit`) and the
//! runner (`run`, which reports a check kernel's error).

use crate::op::{BinaryOp, Op, UnaryOp};
use crate::program::{Program, ValueId};
use crate::types::DType;

#[derive(Clone, Debug, PartialEq, Eq)]
/// How a [`Kernel`] computes its root: the loop structure the emitter generates for it.
pub enum KernelKind {
    /// A loop nest over the root's shape computing the inlined expression.
    Loop,
    /// A loop nest over the reduction's output with inner reduction loops.
    Reduce,
    /// A call to the GEMM runtime kernel on strided views of two buffers.
    MatMul,
    /// A loop over the index operand of the root (a gather, index_select or scatter_add)
    /// that reports the first out-of-range value; it writes nothing (the root need not have a
    /// buffer).
    Check,
    /// A scatter_add: a loop nest copying the input into the root's buffer, then a loop over
    /// the index adding each update at its (checked) position, in row-major order.
    Scatter,
}

/// One kernel of the plan.
#[derive(Clone, Debug)]
pub struct Kernel {
    /// How the kernel computes its root.
    pub kind: KernelKind,
    /// The value this kernel writes.
    pub root: ValueId,
    /// Instructions computed inside the kernel (post order, root last).
    pub fused: Vec<ValueId>,
    /// Buffers the kernel reads (parameters or earlier kernels' roots).
    pub inputs: Vec<ValueId>,
}

/// The data axis whose runtime indices a check kernel validates before any kernel reads
/// through `op` (gather, index_select, scatter_add), `None` for ops without runtime indices.
/// Operand 0 is the indexed data and operand 1 the index in each of them.
pub(crate) fn checked_axis(op: &Op) -> Option<usize> {
    match op {
        Op::Gather { axis } | Op::IndexSelect { axis } | Op::ScatterAdd { axis } => Some(*axis),
        Op::Unary(_)
        | Op::Binary(_)
        | Op::Where
        | Op::Cast
        | Op::Constant { .. }
        | Op::Iota { .. }
        | Op::Reduce { .. }
        | Op::Reshape { .. }
        | Op::Permute { .. }
        | Op::Expand { .. }
        | Op::Slice { .. }
        | Op::Concat { .. }
        | Op::Pad { .. }
        | Op::RandomUniform
        | Op::MatMul => None,
    }
}

/// Whether values of dtype `d` are computed four lanes at a time in vector mode.
pub(crate) fn vec_dtype(d: DType) -> bool {
    matches!(d, DType::F32 | DType::I32 | DType::Bool)
}

/// Whether instruction `v` has a four-lane lowering (otherwise vector mode computes it once
/// per lane); parameters trivially do.
pub(crate) fn inst_vectorizes(p: &Program, v: ValueId) -> bool {
    let Some(inst) = p.inst(v) else {
        return true;
    };
    let d = inst.ty.dtype;
    // A concat's operands all have its dtype; checking one keeps a cut concat of many
    // operands from costing all of them in every piece.
    let args = if let Op::Concat { .. } = inst.op {
        &inst.args[..1]
    } else {
        &inst.args[..]
    };
    if !vec_dtype(d) || !args.iter().all(|a| vec_dtype(p.value_type(*a).dtype)) {
        return false;
    }
    match &inst.op {
        Op::Unary(u) => unary_vectorizes(*u, d),
        Op::Binary(bop) => binary_vectorizes(*bop, p.value_type(inst.args[0]).dtype),
        Op::Where
        | Op::Cast
        | Op::Constant { .. }
        | Op::Reshape { .. }
        | Op::Permute { .. }
        | Op::Expand { .. }
        | Op::Slice { .. }
        | Op::Concat { .. }
        | Op::Pad { .. } => true,
        Op::Iota { .. } | Op::Gather { .. } | Op::IndexSelect { .. } => false,
        Op::RandomUniform => false,
        Op::Reduce { .. } | Op::MatMul | Op::ScatterAdd { .. } => false,
    }
}

/// Whether `u` on operands of dtype `d` (one of the vector dtypes) has a four-lane lowering.
pub(crate) fn unary_vectorizes(u: UnaryOp, d: DType) -> bool {
    use UnaryOp as U;
    match u {
        U::Not => d == DType::Bool,
        U::Neg | U::Abs | U::Relu | U::Sign | U::Floor | U::Ceil | U::Round => {
            matches!(d, DType::F32 | DType::I32)
        }
        U::Exp | U::Log | U::Sqrt | U::Rsqrt | U::Reciprocal => d == DType::F32,
        U::Tanh | U::Sigmoid | U::Erf | U::Sin | U::Cos | U::Softplus => d == DType::F32,
    }
}

/// Whether `op` on operands of dtype `d` (one of the vector dtypes) has a four-lane lowering.
pub(crate) fn binary_vectorizes(op: BinaryOp, d: DType) -> bool {
    use BinaryOp as B;
    match op {
        // x86 has no vector integer division.
        B::Div => d != DType::I32,
        B::Add | B::Sub | B::Mul | B::Pow | B::Max | B::Min => true,
        B::Eq | B::Ne | B::Lt | B::Le | B::Gt | B::Ge | B::And | B::Or => true,
    }
}
