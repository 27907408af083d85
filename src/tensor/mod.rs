//! [`LazyTensor`]: a cheap handle to device data or to pending IR, and everything on the
//! tensor side of the executor: creating tensors (`create`), recording ops onto IR nodes
//! with the fallback and trim policies (`record`), the live-tensor registry (`registry`),
//! syncing tensors (`sync`: [`sync`], [`mark_step`]) and reading values (`read`).
//!
//! The executor ([`crate::executor`]) knows nothing of tensors: it takes IR roots and
//! returns device buffers, and `sync` writes them back into the tensors.

mod create;
mod generator;
mod grad_state;
pub(crate) mod provenance;
mod read;
mod record;
mod registry;
mod sync;
pub(crate) mod tracing;

pub(crate) use create::canonical_scalar;
pub use create::NativeType;
pub use generator::{initial_seed, manual_seed, next_seed};
pub use registry::live_tensors;
pub(crate) use registry::{live_handles, next_id};
pub use sync::{graph_hash, mark_step, sync};
pub(crate) use sync::{pending_roots, sync_at};

use crate::error::SourceLoc;
use crate::ir::{DataSource, Node};
use lazyjit_lowering::{DType, Tensor, TensorType};
use parking_lot::Mutex;
use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU32};
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

/// The shared record behind a [`LazyTensor`] handle (and its clones).
///
/// Two kinds of state live here, and the difference matters:
///
/// - `node` is the tensor's value: pending IR, or a device-data leaf once computed. It is
///   the only field a sync writes (replacing pending IR by the computed data, see
///   `sync.rs`), and it is replaced whole.
/// - Identity (`id`, `slot`), type (`ty`) and `provenance` are fixed when the tensor is
///   created and no sync touches them. `provenance` is what a backward pass needs (the op
///   that made the tensor and the input tensors it saved), set by [`LazyTensor::apply`] in
///   `record.rs`: once a sync has cut the IR, `node` no longer says how the value was made.
/// - Autograd's mutable state sits in its own cells: `requires_grad` (a leaf's flag),
///   `grad` (the accumulated gradient of a leaf) and `version` (bumped when
///   [`LazyTensor::assign`] gives the tensor a new value, so a backward pass can tell that
///   a saved input changed).
pub(crate) struct TensorInner {
    pub(crate) id: u64,
    /// Slot in the live-tensor registry.
    pub(crate) slot: u32,
    pub(crate) ty: TensorType,
    /// A device-data leaf, an op node with pending IR, or (briefly, inside a sync) an op
    /// node whose data has just been computed.
    node: Mutex<Arc<Node>>,
    pub(crate) provenance: Option<Arc<provenance::Provenance>>,
    pub(crate) requires_grad: AtomicBool,
    pub(crate) grad: Mutex<Option<LazyTensor>>,
    pub(crate) version: AtomicU32,
}

// Every cell is only ever read (a clone or a load) or replaced whole under its lock, so a
// panic cannot leave a tensor half-updated: handles stay usable after `catch_unwind`, as
// they were with std's (poisoning) mutex.
impl std::panic::RefUnwindSafe for TensorInner {}
impl std::panic::UnwindSafe for TensorInner {}

impl Drop for TensorInner {
    fn drop(&mut self) {
        registry::unregister(self.slot);
    }
}

impl LazyTensor {
    pub(crate) fn from_node(node: Arc<Node>) -> LazyTensor {
        LazyTensor::from_node_with(node, None)
    }

    pub(crate) fn from_node_with(
        node: Arc<Node>,
        provenance: Option<Arc<provenance::Provenance>>,
    ) -> LazyTensor {
        let ty = node.ty.clone();
        let inner = registry::register_new(|id, slot| TensorInner {
            id,
            slot,
            ty,
            node: Mutex::new(node),
            provenance,
            requires_grad: AtomicBool::new(false),
            grad: Mutex::new(None),
            version: AtomicU32::new(0),
        });
        LazyTensor { inner }
    }

    pub(crate) fn from_data(t: Tensor, source: DataSource, loc: SourceLoc) -> LazyTensor {
        LazyTensor::from_node(Arc::new(Node::new_data(Arc::new(t), source, loc)))
    }

    /// A tensor holding `data` (shared, not copied), created at the caller's location.
    #[track_caller]
    pub(crate) fn from_shared(data: Arc<Tensor>) -> LazyTensor {
        LazyTensor::from_node(Arc::new(Node::new_data(
            data,
            DataSource::Tensor,
            SourceLoc::caller(),
        )))
    }

    /// The current node: a data leaf or pending IR.
    pub(crate) fn node(&self) -> Arc<Node> {
        // An uncontended parking_lot mutex measured cheaper here than arc-swap's debt
        // lists and than std's mutex.
        self.inner.node.lock().clone()
    }

    /// Replaces the tensor's value: a sync, with computed data, or [`LazyTensor::assign`].
    fn set_node(&self, n: Arc<Node>) {
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
}

/// The values, NumPy/PyTorch style (large tensors summarised by their edge items), then the
/// type. **Displaying a pending tensor syncs it** (compiles or reuses its graph and runs it),
/// like any read; an error is printed in place of the values. `Debug` stays cheap: it never
/// syncs.
///
/// ```
/// use lazyjit::LazyTensor;
/// let t = LazyTensor::from_vec(vec![1.0f32, 2.0, 3.0, 4.0], &[2, 2])?.mul_scalar(0.5f32)?;
/// assert_eq!(t.to_string(), "[[0.5000, 1.0000],\n [1.5000, 2.0000]] f32[2, 2]");
/// assert!(format!("{t:?}").starts_with("LazyTensor#"));
/// # Ok::<(), lazyjit::Error>(())
/// ```
impl fmt::Display for LazyTensor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.data() {
            Ok(d) => fmt::Display::fmt(&*d, f),
            Err(e) => write!(f, "<{}: {e}>", self.ty()),
        }
    }
}

impl fmt::Debug for LazyTensor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = if self.is_pending() { "pending" } else { "data" };
        write!(f, "LazyTensor#{}({}, {state})", self.id(), self.ty())
    }
}
