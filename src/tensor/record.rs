//! Recording an op: [`LazyTensor::apply`] checks the op's shape and dtype rules, then
//! either records an IR node or, for an op the backend cannot compile, runs it eagerly
//! (fallback); a recorded op that makes its pending graph too deep or too large syncs it
//! (trim). Under gradient tracking it also gives the new tensor its provenance
//! (`provenance.rs`).

use super::provenance::{provenance_for, Provenance};
use super::sync::sync_at;
use super::LazyTensor;
use crate::backend;
use crate::config;
use crate::error::{Error, Result, SourceLoc};
use crate::ir::{DataSource, Node, Operands};
use crate::logging::{self, log_at};
use crate::metrics::{self, Counter};
use lazyjit_lowering::reference::{self, Value};
use lazyjit_lowering::{DType, Inst, Op, Shape, TensorType, ValueId};
use log::Level;
use smallvec::SmallVec;
use std::sync::atomic::Ordering;
use std::sync::Arc;

impl LazyTensor {
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
        let cfg = config::hot();
        let provenance = provenance_for(&op, operands, ty.dtype.is_float());
        if falls_back(&op, cfg) {
            if super::tracing::active() {
                return Err(Error::op(
                    op.name(),
                    "runs eagerly (it falls back to the reference interpreter on this \
                     backend), so it cannot be compiled into a function",
                    loc,
                ));
            }
            log_at!(
                logging::FALLBACK,
                Level::Debug,
                cfg.debug,
                "{} at {loc} runs eagerly on the reference interpreter ({})",
                op.name(),
                fallback_reason(&op, cfg)
            );
            return eager_fallback(op, operands, ty, loc, provenance);
        }
        let mut nodes = Operands::new();
        for t in operands {
            nodes.push(t.node());
        }
        let node = Arc::new(Node::new_op(op, nodes, ty, loc));
        let (depth, bound) = (node.depth, node.pending_bound.load(Ordering::Relaxed));
        let t = LazyTensor::from_node_with(node, provenance);
        check_trim(&t, depth, bound, cfg);
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

/// Called after each recorded op: syncs `t` when its pending graph is deeper than
/// [`Config::trim_graph_depth`] or holds more than [`Config::trim_graph_nodes`] nodes.
///
/// [`Config::trim_graph_depth`]: crate::Config::trim_graph_depth
/// [`Config::trim_graph_nodes`]: crate::Config::trim_graph_nodes
fn check_trim(t: &LazyTensor, depth: u32, bound: u32, cfg: config::Hot) {
    if super::tracing::active() {
        // A trim would sync in the middle of a compiled function's trace.
        return;
    }
    let too_many =
        bound as usize > cfg.trim_graph_nodes && too_many_pending(&t.node(), cfg.trim_graph_nodes);
    if depth as usize > cfg.trim_graph_depth || too_many {
        metrics::inc(Counter::Trim);
        let loc = t.node().loc;
        log_at!(
            logging::TRIM,
            Level::Debug,
            cfg.debug,
            "trimming the pending graph at {loc}: {}",
            if depth as usize > cfg.trim_graph_depth {
                format!("depth {depth} > trim_graph_depth {}", cfg.trim_graph_depth)
            } else {
                format!(
                    "more than trim_graph_nodes {} pending nodes",
                    cfg.trim_graph_nodes
                )
            }
        );
        if let Err(e) = sync_at(&[t], loc) {
            // The tensor stays pending; the error reappears when it is read.
            log_at!(
                logging::TRIM,
                Level::Debug,
                cfg.debug,
                "automatic graph trim at {loc} failed: {}",
                e.chain()
            );
        }
    }
}

/// Whether `node`'s pending graph holds more than `limit` distinct nodes. The node's bound
/// (a sum over operands, so an overcount where subgraphs are shared) decides in O(1) in the
/// common case; only when it exceeds the limit is the graph walked, and the exact count
/// replaces the bound, so ops recorded on top start from a tight figure and the next walk
/// waits until the graph has grown past the limit again.
fn too_many_pending(node: &Node, limit: usize) -> bool {
    let exact = node.count_pending(limit);
    if exact > limit {
        return true;
    }
    node.pending_bound.store(exact as u32, Ordering::Relaxed);
    false
}

/// Why `op` falls back (for the log).
fn fallback_reason(op: &Op, cfg: config::Hot) -> String {
    if cfg.any_forced_fallback && config::get().force_fallback.contains(op.name()) {
        "forced by force_fallback".to_string()
    } else {
        format!("the {} backend cannot compile it", cfg.backend.name())
    }
}

/// Whether `op` runs eagerly on the reference fallback instead of being recorded.
fn falls_back(op: &Op, cfg: config::Hot) -> bool {
    (cfg.any_forced_fallback && config::get().force_fallback.contains(op.name()))
        || !backend::get_ref(cfg.backend).supports(op)
}

/// Runs `op` now on the reference interpreter (after computing its operands).
fn eager_fallback(
    op: Op,
    operands: &[&LazyTensor],
    ty: TensorType,
    loc: SourceLoc,
    provenance: Option<Arc<Provenance>>,
) -> Result<LazyTensor> {
    let name = op.name();
    sync_at(operands, loc)?;
    let mut values = Vec::with_capacity(operands.len());
    for t in operands {
        let node = t.node();
        let data = node.data().ok_or_else(|| {
            Error::data(
                name,
                "operand has no data after sync (please report this)",
                loc,
            )
        })?;
        values.push(Value::from_tensor(data).map_err(|e| Error::data(name, e.to_string(), loc))?);
    }
    let n = operands.len();
    let inst = Inst {
        op,
        args: (0..n as u32).map(ValueId).collect(),
        ty,
    };
    let refs: Vec<&Value> = values.iter().collect();
    let v = reference::eval_inst(&inst, ValueId(n as u32), &refs)
        .map_err(|e| Error::data(name, format!("eager fallback failed: {e}"), loc))?;
    let data = v
        .to_tensor()
        .map_err(|e| Error::data(name, format!("eager fallback failed: {e}"), loc))?;
    metrics::inc(Counter::Fallback);
    metrics::inc_named(&format!("fallback::{name}"));
    let node = Node::new_data(Arc::new(data), DataSource::Tensor, loc);
    Ok(LazyTensor::from_node_with(Arc::new(node), provenance))
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
