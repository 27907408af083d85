//! The scatter kernel (`scatter_add`): copy the input into the root's buffer, then walk the
//! index in row-major order adding each update at its position.
//!
//! Every index value was validated by the check kernel the plan puts before this one, so
//! here the index is only clamped (`checked_index` without reporting): no value can make the
//! read-modify-write leave the root's buffer. The position's other coordinates are the index
//! position's, which the verifier bounds by the root's dims (except on the axis) and the
//! updates' dims, so every address is in bounds by construction.

use super::loops::flat_dims;
use super::{cg, row_strides, KernelEmitter, Mode, R};
use crate::codegen::index::Idx;
use crate::op::{BinaryOp, Op};
use crate::program::ValueId;
use cranelift_module::Module;

impl<'a, 'f, 'm, M: Module> KernelEmitter<'a, 'f, 'm, M> {
    /// Emits the scatter_add `root`: the input copied (or computed) into the root's buffer,
    /// then one scalar read-modify-write per index element, in row-major order, so float sums
    /// come out as in the reference interpreter.
    pub(super) fn scatter_kernel(&mut self, root: ValueId) -> R<()> {
        let p = self.p;
        let inst = p
            .inst(root)
            .ok_or_else(|| cg("scatter root is not an instruction"))?;
        let Op::ScatterAdd { axis } = inst.op else {
            return Err(cg(format!(
                "scatter kernel root {root} is a {}",
                inst.op.name()
            )));
        };
        let (input, index, updates) = (inst.args[0], inst.args[1], inst.args[2]);
        let dims = inst.ty.shape.dims().to_vec();
        if dims.contains(&0) {
            return Ok(());
        }
        // The copy is one flat loop when the input reads contiguously (a buffer of the
        // root's shape, or a flattenable expression).
        let flat =
            flat_dims(&dims, 0) && (self.plan.is_buffer(input) || self.flattenable(input, 0));
        let (idx, looped) = self.loop_index(&dims, &[], flat);
        self.loop_nest_of(root, input, &idx, &looped)?;

        let index_dims = p.value_type(index).shape.dims().to_vec();
        if index_dims.contains(&0) {
            return Ok(());
        }
        let (at, vars) = self.full_nest(&index_dims);
        let strides = row_strides(&inst.ty.shape);
        let dt = inst.ty.dtype;
        self.nest(&vars, &mut |e| {
            e.clear_memo();
            let iv = e.compute_or_load(index, &at, Mode::Scalar)?;
            let Some(w) = e.checked_index(root, iv, root, axis, false)? else {
                return Ok(());
            };
            let mut pos = at.clone();
            pos[axis] = Idx::var(w);
            let u = e.compute_or_load(updates, &at, Mode::Scalar)?;
            let old = e.load(root, &pos, Mode::Scalar)?;
            let new = e.binary(BinaryOp::Add, dt, old, u, Mode::Scalar)?;
            let off = pos
                .iter()
                .zip(&strides)
                .fold(Idx::konst(0), |acc, (i, s)| acc.add(&i.scale(*s)));
            e.store(root, &off, new, Mode::Scalar)
        })
    }
}
