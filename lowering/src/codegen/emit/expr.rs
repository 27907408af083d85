//! The expression walker: computes an inlined value at a symbolic index by recursing into its
//! operands, memoised per loop body. [`KernelEmitter::compute_inst`] is the one match over
//! [`Op`] that lowers each instruction; the per-op work is in the sibling modules.

use super::memory::{permute_idx, slice_idx};
use super::{cg, KernelEmitter, Mode, R};
use crate::codegen::index::Idx;
use crate::codegen::kernel::inst_vectorizes;
use crate::op::Op;
use crate::program::ValueId;
use cranelift_codegen::ir::Value;
use cranelift_module::Module;

impl<'a, 'f, 'm, M: Module> KernelEmitter<'a, 'f, 'm, M> {
    /// The value of `v` at `idx`: loaded if `v` has a buffer, computed otherwise.
    pub(super) fn compute_or_load(&mut self, v: ValueId, idx: &[Idx], mode: Mode) -> R<Value> {
        if self.plan.is_buffer(v) {
            let key = (v, idx.to_vec(), mode);
            if let Some(x) = self.memo.get(&key).or_else(|| self.inv.get(&key)) {
                return Ok(*x);
            }
            let x = self.load(v, idx, mode)?;
            self.memo.insert(key, x);
            return Ok(x);
        }
        self.compute(v, idx, mode)
    }

    /// Whether instruction `v` has a four-lane lowering (otherwise vector mode computes it
    /// once per lane).
    pub(super) fn vec_ok(&self, v: ValueId) -> bool {
        inst_vectorizes(self.p, v)
    }

    /// Computes instruction `v` at `idx` from its operands.
    pub(super) fn compute(&mut self, v: ValueId, idx: &[Idx], mode: Mode) -> R<Value> {
        let key = (v, idx.to_vec(), mode);
        if let Some(x) = self.memo.get(&key).or_else(|| self.inv.get(&key)) {
            return Ok(*x);
        }
        if let Some(x) = self.wide_value(v, idx, mode) {
            self.memo.insert(key, x);
            return Ok(x);
        }
        let x = if mode == Mode::Vector && !self.vec_ok(v) {
            self.per_lane(v, idx, false)?
        } else {
            self.compute_inst(v, idx, mode)?
        };
        self.memo.insert(key, x);
        Ok(x)
    }

    /// Lowers instruction `v` at `idx`: every op the emitter can inline is handled here.
    pub(super) fn compute_inst(&mut self, v: ValueId, idx: &[Idx], mode: Mode) -> R<Value> {
        let p = self.p;
        let inst = p
            .inst(v)
            .ok_or_else(|| cg(format!("{v} is a parameter without a buffer")))?;
        let d = inst.ty.dtype;
        let args = &inst.args;
        match &inst.op {
            Op::Unary(u) => {
                let ai = self.broadcast_idx(idx, args[0]);
                let x = self.compute_or_load(args[0], &ai, mode)?;
                self.unary(*u, d, x, mode)
            }
            Op::Binary(bop) => {
                let ad = p.value_type(args[0]).dtype;
                let i0 = self.broadcast_idx(idx, args[0]);
                let i1 = self.broadcast_idx(idx, args[1]);
                let x = self.compute_or_load(args[0], &i0, mode)?;
                let y = self.compute_or_load(args[1], &i1, mode)?;
                self.binary(*bop, ad, x, y, mode)
            }
            Op::Where => {
                let ic = self.broadcast_idx(idx, args[0]);
                let ia = self.broadcast_idx(idx, args[1]);
                let ib = self.broadcast_idx(idx, args[2]);
                let c = self.compute_or_load(args[0], &ic, mode)?;
                let a = self.compute_or_load(args[1], &ia, mode)?;
                let b = self.compute_or_load(args[2], &ib, mode)?;
                Ok(self.where_select(d, mode, c, a, b))
            }
            Op::Cast => {
                let from = p.value_type(args[0]).dtype;
                let x = self.compute_or_load(args[0], idx, mode)?;
                Ok(self.cast(from, d, x, mode))
            }
            Op::Constant { value } => Ok(self.constant(d, *value, mode)),
            Op::Iota { axis } => {
                let i = self.idx_value(&idx[*axis]);
                Ok(self.cast_index(i, d))
            }
            Op::Reshape { .. } => {
                let ai = self.reshape_idx(&inst.ty.shape, &p.value_type(args[0]).shape, idx);
                self.compute_or_load(args[0], &ai, mode)
            }
            Op::Permute { perm } => {
                let ai = permute_idx(perm, idx);
                self.compute_or_load(args[0], &ai, mode)
            }
            Op::Expand { .. } => {
                let ai = self.broadcast_idx(idx, args[0]);
                self.compute_or_load(args[0], &ai, mode)
            }
            Op::Slice { starts, steps, .. } => {
                let ai = slice_idx(starts, steps, idx);
                self.compute_or_load(args[0], &ai, mode)
            }
            Op::Pad { lo, value, .. } => self.pad(v, args[0], lo, *value, idx, mode),
            Op::Concat { axis } => self.concat(v, args, *axis, idx, mode),
            Op::Gather { axis } => self.gather(v, args[0], args[1], *axis, idx),
            Op::IndexSelect { axis } => self.index_select(v, args[0], args[1], *axis, idx),
            Op::RandomUniform => self.random_uniform(v, args[0], args[1], idx),
            Op::Reduce { .. } | Op::MatMul | Op::ScatterAdd { .. } => Err(cg(format!(
                "{} {v} must have a buffer but was inlined",
                inst.op.name()
            ))),
        }
    }
}
