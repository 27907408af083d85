//! What a kernel is: the unit the planner produces and the emitter lowers. Shared by the
//! planning passes (`plan`, `prune`), the lowering (`bases`, `segments`, `emit`) and the
//! runner (`run`, which reports a check kernel's error).

use crate::op::Op;
use crate::program::ValueId;

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

/// The data axis whose runtime indices a check kernel validates before any kernel reads
/// through `op` (gather, index_select), `None` for ops without runtime indices.
pub(crate) fn checked_axis(op: &Op) -> Option<usize> {
    match op {
        Op::Gather { axis } | Op::IndexSelect { axis } => Some(*axis),
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
        | Op::MatMul => None,
    }
}
