//! IR nodes: what a lazy tensor records instead of computing.
//!
//! A node is an op of the program format ([`Op`]) applied to operand nodes, or a leaf
//! holding device data. Its result type, its node hash (op, attributes, type) and its DAG
//! hash (node hash folded with the operands' DAG hashes) are computed once, when the node
//! is created. Hashes never look at tensor contents.

use crate::error::{Hex, SourceLoc};
use lazyjit_lowering::{Op, Tensor, TensorType};
use smallvec::SmallVec;
use std::hash::{Hash, Hasher};
use std::sync::atomic::{AtomicU32, AtomicU64, AtomicU8, Ordering};
use std::sync::{Arc, OnceLock};

/// Operand list: inline for up to three operands (every op but concat), no allocation.
pub type Operands = SmallVec<[Arc<Node>; 3]>;

/// Where a device-data leaf came from (shown in dumps).
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum DataSource {
    /// A tensor created from host data or produced by an earlier computation.
    Tensor,
    /// A scalar from a Rust number, shared through the device-data cache.
    Scalar,
}

/// What a node is.
#[derive(Debug)]
pub enum NodeKind {
    /// An op applied to the operands.
    Op(Op),
    /// A device-data leaf: becomes a program parameter.
    Data(Arc<Tensor>, DataSource),
}

/// One IR node. Shared through `Arc`; immutable except for the executor's bookkeeping.
/// Its `Debug` prints the hashes in hex.
pub struct Node {
    pub(crate) kind: NodeKind,
    pub(crate) operands: Operands,
    pub(crate) ty: TensorType,
    pub(crate) node_hash: u64,
    pub(crate) dag_hash: u64,
    pub(crate) loc: SourceLoc,
    /// Longest chain of pending ops ending here (0 for leaves and computed operands).
    pub(crate) depth: u32,
    /// An upper bound of the pending nodes in this node's graph (itself included): 1 plus
    /// the operands' bounds, so shared subgraphs are counted once per use. Tightened to the
    /// exact count when the trim check walks the graph (see `check_trim` in
    /// `src/tensor/record.rs`).
    pub(crate) pending_bound: AtomicU32,
    /// Set when a sync computed this node's value: later graphs that still reference the
    /// node read the data as a parameter instead of recomputing it.
    pub(crate) materialized: OnceLock<Arc<Tensor>>,
    /// Post-order walk bookkeeping (the walk runs under the executor's sync lock):
    /// the walk epoch that last visited the node, and the value index it got.
    pub(crate) visit_epoch: AtomicU64,
    pub(crate) visit_index: AtomicU64,
    /// Buffer donation state of a device-data leaf ([`Donation`]): set by the executor
    /// under its sync lock when a computation is about to write an output into this leaf's
    /// buffer (`docs/executor.md`, "Buffer donation").
    pub(crate) donation: AtomicU8,
}

impl std::fmt::Debug for Node {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Node")
            .field("kind", &self.kind)
            .field("operands", &self.operands)
            .field("ty", &self.ty)
            .field("node_hash", &Hex(self.node_hash))
            .field("dag_hash", &Hex(self.dag_hash))
            .field("loc", &self.loc)
            .field("depth", &self.depth)
            .field("pending_bound", &self.pending_bound)
            .field("materialized", &self.materialized)
            .field("visit_epoch", &self.visit_epoch)
            .field("visit_index", &self.visit_index)
            .field("donation", &self.donation)
            .finish()
    }
}

/// The donation state of a device-data leaf (`Node::donation`).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
#[repr(u8)]
pub(crate) enum Donation {
    /// The leaf holds its value.
    None = 0,
    /// A running computation is writing an output into the leaf's buffer: a walk that
    /// meets the leaf waits until it is done (the roots above it are then computed).
    InFlight = 1,
    /// The buffer now holds the output of the computation it was donated to.
    Done = 2,
}

pub(crate) fn fx_hash<T: Hash + ?Sized>(v: &T) -> u64 {
    let mut h = rustc_hash::FxHasher::default();
    v.hash(&mut h);
    h.finish()
}

/// Mixes two 64-bit hashes (order-sensitive).
pub(crate) fn mix(a: u64, b: u64) -> u64 {
    // splitmix64 finaliser of a rotated combination: cheap and well distributed.
    let mut z = a.rotate_left(5) ^ b.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

impl Node {
    pub(crate) fn new_op(op: Op, operands: Operands, ty: TensorType, loc: SourceLoc) -> Node {
        let node_hash = mix(fx_hash(&op), fx_hash(&ty));
        let mut dag_hash = node_hash;
        let mut depth = 0u32;
        let mut bound = 1u32;
        for o in &operands {
            dag_hash = mix(dag_hash, o.dag_hash);
            if o.materialized.get().is_none() {
                depth = depth.max(o.depth);
                bound = bound.saturating_add(o.pending_bound.load(Ordering::Relaxed));
            }
        }
        crate::metrics::inc(crate::metrics::Counter::NodeCreate);
        Node {
            kind: NodeKind::Op(op),
            operands,
            ty,
            node_hash,
            dag_hash,
            loc,
            depth: depth.saturating_add(1),
            pending_bound: AtomicU32::new(bound),
            materialized: OnceLock::new(),
            visit_epoch: AtomicU64::new(0),
            visit_index: AtomicU64::new(0),
            donation: AtomicU8::new(Donation::None as u8),
        }
    }

    pub(crate) fn new_data(data: Arc<Tensor>, source: DataSource, loc: SourceLoc) -> Node {
        let ty = data.ty().clone();
        let node_hash = mix(0xda7a, fx_hash(&ty));
        Node {
            kind: NodeKind::Data(data, source),
            operands: Operands::new(),
            ty,
            node_hash,
            dag_hash: node_hash,
            loc,
            depth: 0,
            pending_bound: AtomicU32::new(0),
            materialized: OnceLock::new(),
            visit_epoch: AtomicU64::new(0),
            visit_index: AtomicU64::new(0),
            donation: AtomicU8::new(Donation::None as u8),
        }
    }

    /// The op, or `None` for a device-data leaf.
    pub fn op(&self) -> Option<&Op> {
        match &self.kind {
            NodeKind::Op(op) => Some(op),
            NodeKind::Data(..) => None,
        }
    }

    /// Whether the node is an op or a device-data leaf.
    pub fn kind(&self) -> &NodeKind {
        &self.kind
    }

    /// The operand nodes, in the op's operand order (none for a leaf).
    pub fn operands(&self) -> &[Arc<Node>] {
        &self.operands
    }

    /// Result dtype and shape.
    pub fn ty(&self) -> &TensorType {
        &self.ty
    }

    /// Hash of the op, its attributes and the result type.
    pub fn node_hash(&self) -> u64 {
        self.node_hash
    }

    /// Hash of the whole DAG below this node (structure, ops, shapes, dtypes; no data).
    pub fn dag_hash(&self) -> u64 {
        self.dag_hash
    }

    /// Longest chain of pending ops ending at this node, when it was created.
    pub fn depth(&self) -> u32 {
        self.depth
    }

    /// The number of distinct pending (not yet computed) nodes in this node's graph,
    /// itself included, counting at most `limit + 1` of them (the walk stops there).
    pub fn count_pending(&self, limit: usize) -> usize {
        if self.is_computed() {
            return 0;
        }
        let mut seen = rustc_hash::FxHashSet::default();
        let mut stack: Vec<&Node> = vec![self];
        seen.insert(self as *const Node);
        while let Some(n) = stack.pop() {
            if seen.len() > limit {
                break;
            }
            for o in &n.operands {
                if !o.is_computed() && seen.insert(Arc::as_ptr(o)) {
                    stack.push(o);
                }
            }
        }
        seen.len()
    }

    /// The user source location whose call created the node.
    pub fn location(&self) -> SourceLoc {
        self.loc
    }

    /// The data this node stands for when it is a leaf or has been computed by a sync.
    /// `None` for a leaf whose buffer was donated to a computation (its value is gone; only
    /// the computation's graph could reach it, see `docs/executor.md`).
    pub fn data(&self) -> Option<&Arc<Tensor>> {
        match &self.kind {
            NodeKind::Data(_, _) if self.donation() != Donation::None => None,
            NodeKind::Data(t, _) => Some(t),
            NodeKind::Op(_) => self.materialized.get(),
        }
    }

    /// Whether the node's value is known: a data leaf, or an op a sync has computed. The
    /// walk makes such nodes parameters.
    pub fn is_computed(&self) -> bool {
        matches!(self.kind, NodeKind::Data(..)) || self.materialized.get().is_some()
    }

    pub(crate) fn name(&self) -> &'static str {
        match &self.kind {
            NodeKind::Op(op) => op.name(),
            NodeKind::Data(..) => "device_data",
        }
    }

    pub(crate) fn donation(&self) -> Donation {
        match self.donation.load(Ordering::Acquire) {
            0 => Donation::None,
            1 => Donation::InFlight,
            _ => Donation::Done,
        }
    }

    pub(crate) fn set_donation(&self, d: Donation) {
        self.donation.store(d as u8, Ordering::Release);
    }

    pub(crate) fn visited_in(&self, epoch: u64) -> Option<u32> {
        (self.visit_epoch.load(Ordering::Relaxed) == epoch)
            .then(|| self.visit_index.load(Ordering::Relaxed) as u32)
    }

    pub(crate) fn mark_visited(&self, epoch: u64, index: u32) {
        self.visit_index.store(index as u64, Ordering::Relaxed);
        self.visit_epoch.store(epoch, Ordering::Relaxed);
    }
}

impl Drop for Node {
    /// Drops long operand chains iteratively: a graph of 100,000 chained nodes must not
    /// overflow the stack when its last tensor goes away.
    fn drop(&mut self) {
        if self.operands.iter().all(|o| Arc::strong_count(o) > 1) {
            return; // nothing is freed below this node (the common case)
        }
        let mut stack: Vec<Arc<Node>> = self.operands.drain(..).collect();
        while let Some(mut n) = stack.pop() {
            // Unique: take its operands in place (no move of the node out of the Arc); the
            // node itself is then freed with an empty operand list.
            if let Some(inner) = Arc::get_mut(&mut n) {
                stack.extend(inner.operands.drain(..));
            }
        }
    }
}
