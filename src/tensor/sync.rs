//! Syncing tensors: [`sync`], [`mark_step`] and [`graph_hash`], and the sync every read and
//! every automatic trim runs.
//!
//! The tensor side of a sync: collect the distinct pending IR nodes of the tensors (the
//! roots), hand them to the executor, which computes them and returns one device buffer
//! per root, and replace each tensor's pending IR by a data leaf holding its buffer. Only
//! the tensor's node changes; everything else the tensor holds survives the sync.

use super::registry;
use super::LazyTensor;
use crate::error::{Result, SourceLoc};
use crate::executor;
use crate::ir::{DataSource, Node, NodeKind};
use crate::metrics::{self, Counter};
use smallvec::SmallVec;
use std::sync::Arc;

/// Computes `tensors` (those with pending IR) as one computation.
///
/// ```
/// use lazyjit::LazyTensor;
/// let a = LazyTensor::from_vec(vec![1.0f32, 2.0], &[2])?;
/// let (b, c) = (a.exp()?, a.neg()?);
/// lazyjit::sync(&[&b, &c])?; // one compiled graph computes both
/// assert!(!b.is_pending() && !c.is_pending());
/// # Ok::<(), lazyjit::Error>(())
/// ```
#[track_caller]
pub fn sync(tensors: &[&LazyTensor]) -> Result<()> {
    sync_at(tensors, SourceLoc::caller())
}

/// Computes every live tensor that holds pending IR, as one computation, and ends the
/// step (LTC's `mark_step`).
#[track_caller]
pub fn mark_step() -> Result<()> {
    metrics::inc(Counter::MarkStep);
    let loc = SourceLoc::caller();
    let live = registry::live_handles();
    let pending: Vec<&LazyTensor> = live.iter().filter(|t| t.is_pending()).collect();
    sync_at(&pending, loc)
}

/// Hash of the graph that syncing `tensors` would compile or reuse, without running it
/// (`None` if nothing is pending). Equal hashes mean one cached computation serves both.
pub fn graph_hash(tensors: &[&LazyTensor]) -> Option<u64> {
    let roots = pending_roots(tensors)?;
    Some(executor::roots_hash(&roots))
}

/// The distinct pending nodes of `tensors`; `None` if nothing is pending.
pub(crate) fn pending_roots(tensors: &[&LazyTensor]) -> Option<Vec<Arc<Node>>> {
    let mut roots: Vec<Arc<Node>> = Vec::new();
    for t in tensors {
        let n = t.node();
        if !n.is_computed() && !roots.iter().any(|r| Arc::ptr_eq(r, &n)) {
            roots.push(n);
        }
    }
    (!roots.is_empty()).then_some(roots)
}

/// Computes the pending tensors among `tensors`; `loc` is where the sync was asked for.
pub(crate) fn sync_at(tensors: &[&LazyTensor], loc: SourceLoc) -> Result<()> {
    super::tracing::forbid_read("sync", loc)?;
    let mut roots: SmallVec<[Arc<Node>; 4]> = SmallVec::new();
    // Each pending tensor and the index of its root (tensors may share a node).
    let mut owners: SmallVec<[(&LazyTensor, usize); 4]> = SmallVec::new();
    for t in tensors {
        let n = t.node();
        if n.is_computed() {
            if !matches!(n.kind, NodeKind::Data(..)) {
                cut_ir(t, &n);
            }
            continue;
        }
        let i = match roots.iter().position(|r| Arc::ptr_eq(r, &n)) {
            Some(i) => i,
            None => {
                roots.push(n);
                roots.len() - 1
            }
        };
        owners.push((t, i));
    }
    if roots.is_empty() {
        return Ok(());
    }
    let outs = executor::compute(&roots, loc)?;
    for (t, i) in owners {
        t.set_node(Arc::new(Node::new_data(
            outs[i].clone(),
            DataSource::Tensor,
            roots[i].loc,
        )));
    }
    Ok(())
}

/// Replaces a computed op node held by a tensor with a data leaf, so the tensor stops
/// keeping the graph that produced it alive.
fn cut_ir(t: &LazyTensor, n: &Arc<Node>) {
    if let Some(d) = n.materialized.get() {
        t.set_node(Arc::new(Node::new_data(
            d.clone(),
            DataSource::Tensor,
            n.loc,
        )));
    }
}
