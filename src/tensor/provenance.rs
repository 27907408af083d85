//! Autograd provenance: what a tensor computed under gradient tracking remembers about how
//! it was made (the op and the input tensors it saved), and the thread's gradient mode.
//!
//! It lives beside the tensor's IR node, not in it: a sync replaces the node by computed
//! data, and the backward pass must still find the op and its inputs afterwards. The
//! backward pass itself (`crate::autograd`) reads it; recording (`record.rs`) creates it.

use super::LazyTensor;
use lazyjit_lowering::Op;
use parking_lot::Mutex;
use smallvec::SmallVec;
use std::cell::Cell;
use std::sync::atomic::Ordering;
use std::sync::Arc;

/// How a tensor was made: `op` applied to `inputs`, whose versions (see
/// [`LazyTensor::assign`]) were `versions` at the time.
pub(crate) struct Provenance {
    pub(crate) op: Op,
    /// The inputs, until a backward pass releases them (`None` afterwards unless it was
    /// asked to retain the graph).
    pub(crate) saved: Mutex<Option<SmallVec<[LazyTensor; 3]>>>,
    pub(crate) versions: SmallVec<[u32; 3]>,
}

thread_local! {
    static GRAD_ENABLED: Cell<bool> = const { Cell::new(true) };
}

/// Whether ops on this thread record provenance (false inside [`crate::autograd::no_grad`]).
pub(crate) fn grad_enabled() -> bool {
    GRAD_ENABLED.with(|g| g.get())
}

/// Sets the thread's gradient mode, returning the previous one.
pub(crate) fn set_grad_enabled(on: bool) -> bool {
    GRAD_ENABLED.with(|g| g.replace(on))
}

/// The provenance of `op` applied to `operands` with a result of a float dtype, when
/// gradients are tracked and some operand needs one; `None` otherwise.
pub(crate) fn provenance_for(
    op: &Op,
    operands: &[&LazyTensor],
    result_is_float: bool,
) -> Option<Arc<Provenance>> {
    if !result_is_float || !operands.iter().any(|t| t.requires_grad()) || !grad_enabled() {
        return None;
    }
    Some(Arc::new(Provenance {
        op: op.clone(),
        saved: Mutex::new(Some(operands.iter().map(|t| (*t).clone()).collect())),
        versions: operands
            .iter()
            .map(|t| t.inner.version.load(Ordering::Acquire))
            .collect(),
    }))
}
