//! [`LazyTensor`]: a cheap handle to device data or to pending IR.

mod create;
mod read;

pub use create::NativeType;
pub(crate) use create::{canonical_scalar, scalar_tensor};

use crate::error::{Error, Result, SourceLoc};
use crate::executor;
use crate::ir::{DataSource, Node, Operands};
use lazyjit_lowering::{DType, Op, Shape, Tensor, TensorType};
use parking_lot::Mutex;
use smallvec::SmallVec;
use std::fmt;
use std::sync::atomic::Ordering;
use std::sync::Arc;

/// A tensor whose value is computed lazily.
///
/// A `LazyTensor` is a reference-counted handle (cloning it is cheap and shares the
/// tensor) that holds either device data or a pending IR node. Ops on it record IR;
/// reading its value ([`LazyTensor::to_vec`], [`LazyTensor::to_ndarray`],
/// [`LazyTensor::item`]) or calling [`crate::sync`] / [`crate::mark_step`] compiles the
/// pending graph (or reuses a cached compilation) and runs it.
///
/// It is `Send + Sync`: handles may move between threads; syncs are serialised.
///
/// ```
/// use lazyjit::LazyTensor;
/// let a = LazyTensor::from_vec(vec![1.0f32, 2.0, 3.0], &[3])?;
/// let b = a.exp()?.add(&a)?; // recorded, not run
/// let v = b.to_vec::<f32>()?; // compiled and run here
/// assert!((v[0] - (1f32.exp() + 1.0)).abs() < 1e-5);
/// # Ok::<(), lazyjit::Error>(())
/// ```
#[derive(Clone)]
pub struct LazyTensor {
    pub(crate) inner: Arc<TensorInner>,
}

pub(crate) struct TensorInner {
    pub(crate) id: u64,
    /// Slot in the live-tensor registry.
    pub(crate) slot: u32,
    pub(crate) ty: TensorType,
    /// A device-data leaf, an op node with pending IR, or (briefly, inside a sync) an op
    /// node whose data has just been computed.
    pub(crate) node: Mutex<Arc<Node>>,
}

// The node cell is only ever read (an Arc clone) or replaced whole under its lock, so a
// panic cannot leave a tensor half-updated: handles stay usable after `catch_unwind`, as
// they were with std's (poisoning) mutex.
impl std::panic::RefUnwindSafe for TensorInner {}
impl std::panic::UnwindSafe for TensorInner {}

impl Drop for TensorInner {
    fn drop(&mut self) {
        executor::unregister(self.slot);
    }
}

impl LazyTensor {
    pub(crate) fn from_node(node: Arc<Node>) -> LazyTensor {
        let ty = node.ty.clone();
        let inner = executor::register_new(|id, slot| TensorInner {
            id,
            slot,
            ty,
            node: Mutex::new(node),
        });
        LazyTensor { inner }
    }

    pub(crate) fn from_data(t: Tensor, source: DataSource, loc: SourceLoc) -> LazyTensor {
        LazyTensor::from_node(Arc::new(Node::new_data(Arc::new(t), source, loc)))
    }

    /// The current node: a data leaf or pending IR.
    pub(crate) fn node(&self) -> Arc<Node> {
        // An uncontended parking_lot mutex measured cheaper here than arc-swap's debt
        // lists and than std's mutex.
        self.inner.node.lock().clone()
    }

    pub(crate) fn set_node(&self, n: Arc<Node>) {
        *self.inner.node.lock() = n;
    }

    /// Element type.
    pub fn dtype(&self) -> DType {
        self.inner.ty.dtype
    }

    /// Dimensions.
    pub fn shape(&self) -> &[usize] {
        self.inner.ty.shape.dims()
    }

    /// Dtype and shape.
    pub fn ty(&self) -> &TensorType {
        &self.inner.ty
    }

    /// Number of dimensions.
    pub fn rank(&self) -> usize {
        self.inner.ty.shape.rank()
    }

    /// Number of elements.
    pub fn numel(&self) -> usize {
        self.inner.ty.shape.numel()
    }

    /// A process-unique id (like LTC's `get_tensor_id`).
    pub fn id(&self) -> u64 {
        self.inner.id
    }

    /// Whether the tensor holds pending IR (reading it would run a computation).
    pub fn is_pending(&self) -> bool {
        let n = self.node();
        !n.is_computed()
    }

    /// The IR node the tensor currently holds (a device-data leaf once computed).
    pub fn ir_node(&self) -> Arc<Node> {
        self.node()
    }

    /// Records `op` applied to `operands`. `declared` is the result type for ops whose
    /// type is not implied by the operands (cast, constant, iota). Checks the op's shape
    /// and dtype rules now, so mistakes surface at the call that made them.
    #[track_caller]
    pub fn apply(
        op: Op,
        operands: &[&LazyTensor],
        declared: Option<TensorType>,
    ) -> Result<LazyTensor> {
        let loc = SourceLoc::caller();
        let declared = declared.unwrap_or_else(|| TensorType::new(DType::F32, Shape::scalar()));
        let mut tys: SmallVec<[&TensorType; 4]> = SmallVec::new();
        for t in operands {
            tys.push(t.ty());
        }
        let ty = op
            .infer(&tys, &declared)
            .map_err(|m| Error::op(op.name(), strip_op_prefix(op.name(), &m), loc))?;
        let cfg = crate::config::hot();
        if executor::falls_back(&op, cfg) {
            return executor::eager_fallback(op, operands, ty, loc);
        }
        let mut nodes = Operands::new();
        for t in operands {
            nodes.push(t.node());
        }
        let node = Arc::new(Node::new_op(op, nodes, ty, loc));
        let (depth, bound) = (node.depth, node.pending_bound.load(Ordering::Relaxed));
        let t = LazyTensor::from_node(node);
        executor::check_trim(&t, depth, bound, cfg);
        Ok(t)
    }
}

/// `infer` messages often start with the op name; the error already names the op.
fn strip_op_prefix(name: &str, m: &str) -> String {
    let rest = m
        .strip_prefix(name)
        .and_then(|r| r.strip_prefix(": ").or_else(|| r.strip_prefix(' ')));
    match rest {
        Some(r) if !r.is_empty() => r.to_string(),
        _ => m.to_string(),
    }
}

impl fmt::Debug for LazyTensor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = if self.is_pending() { "pending" } else { "data" };
        write!(f, "LazyTensor#{}({}, {state})", self.id(), self.ty())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_stripping() {
        assert_eq!(
            strip_op_prefix("add", "add needs operands of one dtype"),
            "needs operands of one dtype"
        );
        assert_eq!(strip_op_prefix("add", "add: bad"), "bad");
        assert_eq!(strip_op_prefix("add", "addition"), "addition");
        assert_eq!(strip_op_prefix("add", "x"), "x");
    }
}
