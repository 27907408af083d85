//! Loop-invariant values computed once before the innermost loop.
//!
//! A value reached from a loop's roots at an index that does not mention the loop's
//! variable (a row's max or `1 / sum` read through a broadcast, a scalar parameter, a
//! per-channel scale) is the same in every iteration. The expression walker would load or
//! compute it again in each one: Cranelift hoists pure arithmetic but never a load, and a
//! division by a row value costs a `divps` per vector. So before the loop, [`hoist`] walks the
//! roots as the loop body will, computes each maximal invariant subtree in every mode the
//! loop uses, and keeps the results in [`KernelEmitter::inv`], which the walker consults
//! before computing (and which [`KernelEmitter::clear_memo`] leaves alone).
//!
//! Only subtrees that are loads and total arithmetic are hoisted: views, elementwise ops,
//! casts and constants. Gathers, pads and random numbers stay in the loop, so runtime index
//! errors are still found in row-major order, and nothing runs before the loop that the loop
//! would not run itself: a hoisted load reads an element the first iteration reads (the
//! index uses only variables bound outside the loop), at a point where no iteration has yet
//! stored anything.
//!
//! [`hoist`]: KernelEmitter::hoist

use super::memory::{permute_idx, slice_idx};
use super::{KernelEmitter, Mode, R};
use crate::codegen::index::{Idx, Var};
use crate::codegen::kernel::vec_dtype;
use crate::codegen::plan::op_cost;
use crate::op::Op;
use crate::program::ValueId;
use cranelift_module::Module;
use std::collections::{HashMap, HashSet};

/// What a hoisted value replaces: the walker's memo key.
pub(super) type Invariants = HashMap<(ValueId, Vec<Idx>, Mode), cranelift_codegen::ir::Value>;

impl<'a, 'f, 'm, M: Module> KernelEmitter<'a, 'f, 'm, M> {
    /// Computes, at the current position (just before a loop over `inner`), the invariant
    /// subtrees of `roots` at `idx`, in scalar mode and, when `vector`, in vector mode, and
    /// makes them visible to the walker until [`Self::end_hoist`]. Returns the invariants
    /// that were visible before (an enclosing loop's), for `end_hoist` to restore.
    pub(super) fn hoist(
        &mut self,
        roots: &[ValueId],
        idx: &[Idx],
        inner: Var,
        vector: bool,
    ) -> R<Invariants> {
        let outer = std::mem::take(&mut self.inv);
        let mut found = Vec::new();
        let mut seen = HashSet::new();
        for &r in roots {
            self.invariant_walk(roots, r, idx, inner, &mut seen, &mut found);
        }
        let modes: &[Mode] = if vector {
            &[Mode::Scalar, Mode::Vector]
        } else {
            &[Mode::Scalar]
        };
        self.clear_memo();
        for (v, at) in found {
            // The walker asks for four lanes of a vector dtype only (a 64-bit operand is
            // computed once per lane, in scalar mode).
            let lanes = vec_dtype(self.p.value_type(v).dtype);
            for &mode in modes.iter().filter(|&&m| lanes || m == Mode::Scalar) {
                self.lane = (mode == Mode::Vector).then_some(inner);
                let x = self.compute_or_load(v, &at, mode);
                self.lane = None;
                self.inv.insert((v, at.clone(), mode), x?);
            }
        }
        self.clear_memo();
        Ok(outer)
    }

    /// Forgets the invariants of the loop just emitted; `outer` is what [`Self::hoist`]
    /// returned.
    pub(super) fn end_hoist(&mut self, outer: Invariants) {
        self.inv = outer;
    }

    /// Collects in `found` the maximal subtrees of `v` at `idx` whose index does not mention
    /// `inner` and that are worth hoisting, walking operands as the expression walker does.
    fn invariant_walk(
        &self,
        roots: &[ValueId],
        v: ValueId,
        idx: &[Idx],
        inner: Var,
        seen: &mut HashSet<(ValueId, Vec<Idx>)>,
        found: &mut Vec<(ValueId, Vec<Idx>)>,
    ) {
        if !seen.insert((v, idx.to_vec())) {
            return;
        }
        let is_root = roots.contains(&v);
        if !is_root && !idx.iter().any(|i| i.mentions(inner)) {
            if self.hoistable(v) {
                found.push((v, idx.to_vec()));
            }
            return;
        }
        if !is_root && self.plan.is_buffer(v) {
            return;
        }
        let Some(inst) = self.p.inst(v) else {
            return;
        };
        let args = &inst.args;
        let operands: Vec<(ValueId, Vec<Idx>)> = match &inst.op {
            Op::Unary(_) | Op::Binary(_) | Op::Where | Op::Expand { .. } => args
                .iter()
                .map(|&a| (a, self.broadcast_idx(idx, a)))
                .collect(),
            Op::Cast => vec![(args[0], idx.to_vec())],
            Op::Reshape { .. } => {
                let from = &self.p.value_type(args[0]).shape;
                vec![(args[0], self.reshape_idx(&inst.ty.shape, from, idx))]
            }
            Op::Permute { perm } => vec![(args[0], permute_idx(perm, idx))],
            Op::Slice { starts, steps, .. } => vec![(args[0], slice_idx(starts, steps, idx))],
            _ => return,
        };
        for (a, ai) in operands {
            self.invariant_walk(roots, a, &ai, inner, seen, found);
        }
    }

    /// Whether computing `v` once before the loop pays and is safe: a load, or arithmetic on
    /// loads and constants through views (not a lone constant, which costs nothing in the
    /// loop; not a gather, pad or random draw, see the module comment).
    fn hoistable(&self, v: ValueId) -> bool {
        if self.plan.is_buffer(v) {
            return true;
        }
        let mut any_work = false;
        let mut stack = vec![v];
        while let Some(x) = stack.pop() {
            if x != v && self.plan.is_buffer(x) {
                any_work = true;
                continue;
            }
            let Some(inst) = self.p.inst(x) else {
                return false;
            };
            match inst.op {
                Op::Constant { .. } => continue,
                Op::Unary(_) | Op::Binary(_) | Op::Where | Op::Cast => any_work = true,
                Op::Reshape { .. } | Op::Permute { .. } | Op::Expand { .. } | Op::Slice { .. } => {}
                Op::Iota { .. }
                | Op::Reduce { .. }
                | Op::Concat { .. }
                | Op::Pad { .. }
                | Op::Gather { .. }
                | Op::IndexSelect { .. }
                | Op::ScatterAdd { .. }
                | Op::RandomUniform
                | Op::MatMul => return false,
            }
            stack.extend(inst.args.iter().copied());
        }
        any_work
    }

    /// Whether the values of `roots` are a few cheap vector operations (by
    /// [`op_cost`](crate::codegen::plan::op_cost), at most [`SMALL_BODY`]): a loop over them
    /// is worth unrolling, for their loop counter and branch cost as much as their work,
    /// and four copies of them compile fast.
    pub(super) fn small_body(&self, roots: &[ValueId]) -> bool {
        let mut cost = 0;
        let mut seen = HashSet::new();
        let mut stack = roots.to_vec();
        while let Some(v) = stack.pop() {
            if !seen.insert(v) || (!roots.contains(&v) && self.plan.is_buffer(v)) {
                continue;
            }
            let Some(inst) = self.p.inst(v) else {
                continue;
            };
            if !self.vec_ok(v) {
                return false;
            }
            cost += op_cost(&inst.op);
            if cost > SMALL_BODY {
                return false;
            }
            stack.extend(inst.args.iter().copied());
        }
        true
    }
}

/// The most [`op_cost`] a loop body may have to be unrolled.
const SMALL_BODY: u32 = 8;
