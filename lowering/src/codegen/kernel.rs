//! What a kernel is: the unit the planner produces and the emitter lowers. Shared by the
//! planning passes (`plan`, `prune`) and the lowering (`bases`, `segments`, `emit`).

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
