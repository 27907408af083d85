//! Tracing a compiled function: run the closure once on placeholder tensors, then work out
//! where each parameter of the resulting graph and each output comes from.
//!
//! A placeholder is a fresh device-data leaf per input position (never shared between
//! positions, so the same tensor passed twice traces a graph that also serves two
//! different tensors). Every other leaf the graph reads is either a tensor captured from
//! outside (a live tensor that existed before the trace: bound to its value at each call)
//! or a constant (a scalar literal, or a tensor made inside the closure: fixed at trace
//! time).

use super::version::{Binding, Output, Version};
use crate::error::{Error, Result, SourceLoc};
use crate::executor;
use crate::ir::{DataSource, Node, NodeKind};
use crate::tensor::{self, tracing::Tracing, LazyTensor};
use lazyjit_lowering::{Tensor, TensorType};
use rustc_hash::FxHashMap;
use std::sync::Arc;

/// The closure of a compiled function.
pub(crate) type Closure = dyn Fn(&[LazyTensor]) -> Result<Vec<LazyTensor>> + Send + Sync;

/// Traces `f` on inputs of these types and prepares (compiles, or finds in the executor's
/// cache) the computation of its outputs.
pub(crate) fn trace<'t>(
    f: &Closure,
    types: impl Iterator<Item = &'t TensorType>,
    function_calls: Arc<std::sync::atomic::AtomicU64>,
    loc: SourceLoc,
) -> Result<Version> {
    let types: Vec<TensorType> = types.cloned().collect();
    let first_new_id = tensor::next_id();
    let placeholders: Vec<LazyTensor> = types
        .iter()
        .map(|ty| placeholder(ty, loc))
        .collect::<Result<_>>()?;
    let nodes: Vec<Arc<Node>> = placeholders.iter().map(|p| p.ir_node()).collect();
    let outputs = {
        let _tracing = Tracing::enter();
        f(&placeholders)?
    };

    // Distinct pending nodes of the outputs are the computation's roots, in first-use order.
    let mut roots: Vec<Arc<Node>> = Vec::new();
    let mut output_nodes: Vec<Arc<Node>> = Vec::with_capacity(outputs.len());
    for o in &outputs {
        let n = o.ir_node();
        if !n.is_computed() && !roots.iter().any(|r| Arc::ptr_eq(r, &n)) {
            roots.push(n.clone());
        }
        output_nodes.push(n);
    }
    let sources = Sources::new(&nodes, first_new_id);
    let (params, computation, graph_hash) = if roots.is_empty() {
        (Vec::new(), None, None)
    } else {
        let prepared = executor::prepare(&roots, loc)?;
        let params = prepared
            .params
            .iter()
            .map(|p| sources.binding(p, loc))
            .collect::<Result<Vec<_>>>()?;
        (params, Some(prepared.computation), Some(prepared.hash))
    };
    let outs = output_nodes
        .iter()
        .map(|n| match roots.iter().position(|r| Arc::ptr_eq(r, n)) {
            Some(k) => Ok(Output::Computed(k)),
            None => Ok(match sources.binding(n, loc)? {
                Binding::Input(i) => Output::Input(i),
                Binding::Captured(t) => Output::Captured(t),
                Binding::Const(d) => Output::Const(d),
            }),
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(Version::new(
        types,
        params,
        outs,
        outputs.iter().map(|o| o.ty().clone()).collect(),
        computation,
        graph_hash,
        function_calls,
    ))
}

/// A fresh leaf of this type holding zeros (nothing reads it: a trace reads no value; a
/// large buffer is mapped lazily, so this costs no memory traffic).
fn placeholder(ty: &TensorType, loc: SourceLoc) -> Result<LazyTensor> {
    let data = Tensor::zeros(ty.clone())
        .map_err(|e| Error::data("call", format!("a placeholder of type {ty}: {e}"), loc))?;
    Ok(LazyTensor::from_node(Arc::new(Node::new_data(
        Arc::new(data),
        DataSource::Tensor,
        loc,
    ))))
}

/// Where the computed leaves of a traced graph come from.
struct Sources<'a> {
    placeholders: &'a [Arc<Node>],
    /// Tensors that existed before the trace, by the node they hold (the oldest tensor
    /// holding a node wins: a later `detach` or clone of it does not own the value).
    captured: FxHashMap<*const Node, LazyTensor>,
}

impl<'a> Sources<'a> {
    fn new(placeholders: &'a [Arc<Node>], first_new_id: u64) -> Sources<'a> {
        let mut captured = FxHashMap::default();
        for t in tensor::live_handles() {
            if t.id() < first_new_id {
                // Handles come in creation order: keep the first.
                captured.entry(Arc::as_ptr(&t.ir_node())).or_insert(t);
            }
        }
        Sources {
            placeholders,
            captured,
        }
    }

    /// Where computed node `n` (a leaf of the graph, or an output that is no computation)
    /// gets its value on each call.
    fn binding(&self, n: &Arc<Node>, loc: SourceLoc) -> Result<Binding> {
        if let Some(i) = self.placeholders.iter().position(|p| Arc::ptr_eq(p, n)) {
            return Ok(Binding::Input(i));
        }
        if let NodeKind::Data(t, DataSource::Scalar) = &n.kind {
            return Ok(Binding::Const(t.clone()));
        }
        if let Some(t) = self.captured.get(&Arc::as_ptr(n)) {
            return Ok(Binding::Captured(t.clone()));
        }
        if matches!(n.kind, NodeKind::Op(_)) && reaches(n, self.placeholders) {
            // Another thread synced a value computed from the inputs (a `mark_step`) in
            // the middle of the trace: binding it would freeze this call's inputs.
            return Err(Error::data(
                "call",
                "another thread synced a value of the function while it was traced \
                 (mark_step during the trace); call the function again",
                loc,
            ));
        }
        n.data().map(|d| Binding::Const(d.clone())).ok_or_else(|| {
            Error::data(
                "call",
                "a leaf of the traced graph has no data (please report this)",
                loc,
            )
        })
    }
}

/// Whether the graph below `n` reads one of `leaves`.
fn reaches(n: &Arc<Node>, leaves: &[Arc<Node>]) -> bool {
    let mut seen: rustc_hash::FxHashSet<*const Node> = Default::default();
    let mut stack = vec![n];
    while let Some(x) = stack.pop() {
        if leaves.iter().any(|l| Arc::ptr_eq(l, x)) {
            return true;
        }
        for o in x.operands() {
            if seen.insert(Arc::as_ptr(o)) {
                stack.push(o);
            }
        }
    }
    false
}
