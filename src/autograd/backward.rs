//! The backward pass: walk the provenance graph from the output in reverse topological
//! order, apply each op's vector-Jacobian product (`vjp.rs`) and accumulate gradients.
//! Everything it builds is lazy: the gradients are pending IR that lands in the same graph
//! as the forward pass and the optimizer update.

use super::vjp::vjp;
use crate::error::{Error, Result, SourceLoc};
use crate::tensor::provenance::set_grad_enabled;
use crate::tensor::LazyTensor;
use rustc_hash::{FxHashMap, FxHashSet};
use smallvec::SmallVec;
use std::sync::atomic::Ordering;

/// Where the gradients that reach tensors go.
pub(crate) enum Sink<'a> {
    /// Accumulate into every leaf that requires a gradient ([`LazyTensor::grad`]).
    Leaves,
    /// Collect the gradients of these tensors (leaves or not); leaves are not touched.
    Collect(&'a [&'a LazyTensor], &'a mut Vec<Option<LazyTensor>>),
}

/// Restores the thread's gradient mode when dropped (also on error and unwinding).
struct ModeGuard(bool);

impl Drop for ModeGuard {
    fn drop(&mut self) {
        set_grad_enabled(self.0);
    }
}

/// Backpropagates `seed` (the gradient of `root`) through `root`'s provenance graph.
pub(crate) fn run(
    root: &LazyTensor,
    seed: LazyTensor,
    retain_graph: bool,
    mut sink: Sink<'_>,
    loc: SourceLoc,
) -> Result<()> {
    if !root.requires_grad() {
        return Err(Error::op(
            "backward",
            format!(
                "the tensor ({}) does not require a gradient: no leaf it depends on has set_requires_grad(true), or it was computed under no_grad",
                root.ty()
            ),
            loc,
        ));
    }
    if seed.ty() != root.ty() {
        return Err(Error::op(
            "backward",
            format!(
                "the gradient is {} but the tensor is {}",
                seed.ty(),
                root.ty()
            ),
            loc,
        ));
    }
    let _mode = ModeGuard(set_grad_enabled(false));
    let order = topological_order(root, loc)?;
    let wanted: FxHashSet<u64> = match &sink {
        Sink::Leaves => FxHashSet::default(),
        Sink::Collect(ts, _) => ts.iter().map(|t| t.id()).collect(),
    };
    let mut grads: FxHashMap<u64, LazyTensor> = FxHashMap::default();
    grads.insert(root.id(), seed);
    for (t, inputs) in order.iter().rev() {
        let Some(g) = grads.remove(&t.id()) else {
            continue;
        };
        if let Sink::Collect(ts, out) = &mut sink {
            if wanted.contains(&t.id()) {
                for (i, w) in ts.iter().enumerate() {
                    if w.id() == t.id() {
                        out[i] = Some(g.clone());
                    }
                }
            }
        }
        let Some(prov) = &t.inner.provenance else {
            if matches!(sink, Sink::Leaves) && t.inner.requires_grad.load(Ordering::Relaxed) {
                let mut slot = t.inner.grad.lock();
                *slot = Some(match slot.take() {
                    Some(old) => old.add(&g)?,
                    None => g,
                });
            }
            continue;
        };
        for (i, input) in inputs.iter().enumerate() {
            if input.inner.version.load(Ordering::Acquire) != prov.versions[i] {
                return Err(Error::op(
                    "backward",
                    format!(
                        "input {i} ({}) of the {} that made a {} was assigned a new value after it was used; the gradient needs the old one",
                        input.ty(),
                        prov.op.name(),
                        t.ty()
                    ),
                    loc,
                ));
            }
        }
        let input_grads = vjp(&prov.op, inputs, t, &g).map_err(|e| match e {
            Error::Op { op, message, .. } => Error::op(
                "backward",
                format!("gradient of {}: {op}: {message}", prov.op.name()),
                loc,
            ),
            other => other,
        })?;
        for (input, ig) in inputs.iter().zip(input_grads) {
            let Some(ig) = ig else { continue };
            if !input.requires_grad() {
                continue;
            }
            let acc = match grads.remove(&input.id()) {
                Some(prev) => prev.add(&ig)?,
                None => ig,
            };
            grads.insert(input.id(), acc);
        }
    }
    if !retain_graph {
        for (t, _) in &order {
            if let Some(p) = &t.inner.provenance {
                *p.saved.lock() = None;
            }
        }
    }
    Ok(())
}

type Visit = (LazyTensor, SmallVec<[LazyTensor; 3]>);

/// Tensors of `root`'s provenance graph that require gradients, each with its saved
/// inputs, inputs before the tensors made from them. Iterative: a chain of a million ops
/// must not overflow the stack.
fn topological_order(root: &LazyTensor, loc: SourceLoc) -> Result<Vec<Visit>> {
    let mut order: Vec<Visit> = Vec::new();
    let mut seen: FxHashSet<u64> = FxHashSet::default();
    // (tensor, its inputs, next input to visit)
    let mut stack: Vec<(LazyTensor, SmallVec<[LazyTensor; 3]>, usize)> = Vec::new();
    seen.insert(root.id());
    stack.push((root.clone(), saved_inputs(root, loc)?, 0));
    while let Some((t, inputs, next)) = stack.last_mut() {
        if let Some(input) = inputs.get(*next).cloned() {
            *next += 1;
            if input.requires_grad() && seen.insert(input.id()) {
                let inner_inputs = saved_inputs(&input, loc)?;
                stack.push((input, inner_inputs, 0));
            }
            continue;
        }
        let done = (t.clone(), std::mem::take(inputs));
        stack.pop();
        order.push(done);
    }
    Ok(order)
}

fn saved_inputs(t: &LazyTensor, loc: SourceLoc) -> Result<SmallVec<[LazyTensor; 3]>> {
    let Some(p) = &t.inner.provenance else {
        return Ok(SmallVec::new());
    };
    p.saved.lock().clone().ok_or_else(|| {
        Error::op(
            "backward",
            format!(
                "the graph through the {} that made a {} was already released by an earlier backward pass; pass retain_graph to keep it",
                p.op.name(),
                t.ty()
            ),
            loc,
        )
    })
}
