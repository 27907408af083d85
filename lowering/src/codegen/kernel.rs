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
