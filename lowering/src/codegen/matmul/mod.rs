//! Matmul in one place: how a matmul's operands are laid out, the step a compiled program
//! runs for it, and the GEMM kernel behind it ([`gemm`]).
//!
//! A matmul is not emitted as Cranelift code. Its operands are read as strided views of
//! buffers: a chain of permute / expand / slice over a buffer costs nothing, so the planner
//! gives a buffer only to the base of each operand's view chain ([`operand_base`],
//! [`operand_reads`]); at compile time the chain is folded into element strides and an offset
//! ([`view_strides`]) and validated once into a [`gemm::MatMulPlan`] ([`MatMulStep::new`]);
//! at run time the step calls the plan on the buffer table ([`MatMulStep::run`]).
//!
//! This module depends on no other codegen module: callers pass which values have buffers.

pub mod gemm;

use crate::error::Error;
use crate::op::Op;
use crate::program::{Inst, Program, ValueId};
use gemm::MatMulPlan;
use std::collections::HashMap;

/// The buffer a matmul operand reads: `v` seen through its view chain, stopping early at a
/// value for which `has_buffer` holds.
pub(super) fn operand_base(
    p: &Program,
    mut v: ValueId,
    has_buffer: impl Fn(ValueId) -> bool,
) -> ValueId {
    loop {
        if has_buffer(v) {
            return v;
        }
        match p.inst(v) {
            Some(inst) if is_view(&inst.op) => v = inst.args[0],
            _ => return v,
        }
    }
}

/// Ops a matmul reads through as strides (see [`view_strides`]).
fn is_view(op: &Op) -> bool {
    matches!(
        op,
        Op::Permute { .. } | Op::Expand { .. } | Op::Slice { .. }
    )
}

/// What the matmul kernel of `inst` reads: the views it folds into strides (sorted, without
/// duplicates) and the buffers under them.
pub(super) fn operand_reads(
    p: &Program,
    inst: &Inst,
    has_buffer: impl Fn(ValueId) -> bool,
) -> (Vec<ValueId>, Vec<ValueId>) {
    let mut fused = Vec::new();
    let mut inputs = Vec::new();
    for a in &inst.args {
        let base = operand_base(p, *a, &has_buffer);
        let mut v = *a;
        while v != base {
            fused.push(v);
            v = p.inst(v).map(|i| i.args[0]).unwrap_or(base);
        }
        if !inputs.contains(&base) {
            inputs.push(base);
        }
    }
    fused.sort();
    fused.dedup();
    (fused, inputs)
}

/// Strides (in elements) and element offset of the view chain from buffer `base` to `v`.
pub(super) fn view_strides(
    p: &Program,
    v: ValueId,
    base: ValueId,
) -> Result<(Vec<usize>, usize), Error> {
    if v == base {
        return Ok((p.value_type(v).shape.strides(), 0));
    }
    let inst = p
        .inst(v)
        .ok_or_else(|| Error::Codegen(format!("matmul operand view {v} is a parameter")))?;
    let (st, off) = view_strides(p, inst.args[0], base)?;
    let in_dims = p.value_type(inst.args[0]).shape.dims();
    match &inst.op {
        Op::Permute { perm } => Ok((perm.iter().map(|&i| st[i]).collect(), off)),
        Op::Expand { shape } => {
            let lead = shape.rank() - in_dims.len();
            let mut s = vec![0; lead];
            s.extend(
                in_dims
                    .iter()
                    .zip(&st)
                    .map(|(&n, &x)| if n == 1 { 0 } else { x }),
            );
            Ok((s, off))
        }
        Op::Slice { starts, steps, .. } => {
            let off = off + starts.iter().zip(&st).map(|(a, s)| a * s).sum::<usize>();
            Ok((st.iter().zip(steps).map(|(s, k)| s * k).collect(), off))
        }
        // `operand_base` stops at every other op: they are computed into a buffer.
        Op::Unary(_)
        | Op::Binary(_)
        | Op::Where
        | Op::Cast
        | Op::Constant { .. }
        | Op::Iota { .. }
        | Op::Reduce { .. }
        | Op::Reshape { .. }
        | Op::Concat { .. }
        | Op::Pad { .. }
        | Op::Gather { .. }
        | Op::IndexSelect { .. }
        | Op::ScatterAdd { .. }
        | Op::RandomUniform
        | Op::MatMul => Err(Error::Codegen(format!(
            "matmul operand {v}: {} is not a strided view",
            inst.op.name()
        ))),
    }
}

/// One matmul of a compiled program: the validated plan and where its operands and result
/// are in the buffer table (slot, and byte offset into the slot's buffer).
pub(super) struct MatMulStep {
    plan: Box<MatMulPlan>,
    a: usize,
    a_off: usize,
    b: usize,
    b_off: usize,
    out: usize,
}

impl MatMulStep {
    /// The step computing matmul `root`, whose operands' view chains stop at values for
    /// which `has_buffer` holds; `slot_of` maps buffers to table slots.
    pub(super) fn new(
        p: &Program,
        root: ValueId,
        has_buffer: impl Fn(ValueId) -> bool,
        slot_of: &HashMap<ValueId, usize>,
    ) -> Result<MatMulStep, Error> {
        let inst = p
            .inst(root)
            .ok_or_else(|| Error::Codegen("matmul root".into()))?;
        let (a, b) = (inst.args[0], inst.args[1]);
        let (ab, bb) = (
            operand_base(p, a, &has_buffer),
            operand_base(p, b, &has_buffer),
        );
        let (ast, aoff) = view_strides(p, a, ab)?;
        let (bst, boff) = view_strides(p, b, bb)?;
        let mp = MatMulPlan::new(
            inst.ty.dtype,
            p.value_type(a).shape.dims(),
            &ast,
            p.value_type(b).shape.dims(),
            &bst,
        )
        .map_err(|e| Error::Codegen(format!("matmul {root}: {e}")))?;
        let size = inst.ty.dtype.size_bytes();
        let slot = |v: ValueId| {
            slot_of
                .get(&v)
                .copied()
                .ok_or_else(|| Error::Codegen(format!("no buffer for {v}")))
        };
        Ok(MatMulStep {
            a: slot(ab)?,
            a_off: aoff * size,
            b: slot(bb)?,
            b_off: boff * size,
            out: slot(root)?,
            plan: Box::new(mp),
        })
    }

    /// Runs the matmul on the buffer table.
    ///
    /// # Safety
    /// Every slot of `table` points to a live buffer of its value's full byte size, and the
    /// output slot's buffer is distinct from both operands'.
    #[inline]
    pub(super) unsafe fn run(&self, table: &[*mut u8]) {
        // SAFETY: MatMulPlan::new validated the strided views against the operand types,
        // whose buffers are in the table with their full sizes (the caller's contract).
        unsafe {
            self.plan.run(
                table[self.a].add(self.a_off),
                table[self.b].add(self.b_off),
                table[self.out],
            )
        }
    }
}
