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

#[cfg(target_arch = "x86_64")]
mod f32_avx512;
#[cfg(target_arch = "x86_64")]
mod f32_pack;
pub mod gemm;

use crate::error::Error;
use crate::op::Op;
use crate::program::{Inst, Program, ValueId};
use gemm::MatMulPlan;
use std::collections::HashMap;

/// The buffer a matmul operand reads: `v` seen through its view chain, stopping early at a
/// value for which `has_buffer` holds. A reshape in the chain is a view only when the strides
/// under it allow one ([`reshape_strides`]); otherwise the reshape itself is the buffer.
pub(super) fn operand_base(
    p: &Program,
    v: ValueId,
    has_buffer: impl Fn(ValueId) -> bool,
) -> ValueId {
    let mut chain = vec![v];
    let mut b = v;
    while !has_buffer(b) {
        match p.inst(b) {
            Some(inst) if is_view(&inst.op) => {
                b = inst.args[0];
                chain.push(b);
            }
            _ => break,
        }
    }
    // Whether a reshape is a view depends on the strides of its input, so walk back up
    // from the bottom of the chain.
    let mut base = b;
    let mut st = p.value_type(b).shape.strides();
    for &u in chain.iter().rev().skip(1) {
        match p.inst(u).and_then(|inst| view_step(p, inst, &st)) {
            Some((s, _)) => st = s,
            None => {
                base = u;
                st = p.value_type(u).shape.strides();
            }
        }
    }
    base
}

/// Ops a matmul may read through as strides (see [`view_strides`]; a reshape only when
/// [`reshape_strides`] finds strides for it).
fn is_view(op: &Op) -> bool {
    matches!(
        op,
        Op::Permute { .. } | Op::Expand { .. } | Op::Slice { .. } | Op::Reshape { .. }
    )
}

/// The element strides of view `inst` given its input's strides `st`, and the element
/// offset it adds; `None` for a reshape those strides cannot express, and for non-views.
fn view_step(p: &Program, inst: &Inst, st: &[usize]) -> Option<(Vec<usize>, usize)> {
    let in_dims = p.value_type(inst.args[0]).shape.dims();
    match &inst.op {
        Op::Permute { perm } => Some((perm.iter().map(|&i| st[i]).collect(), 0)),
        Op::Expand { shape } => {
            let lead = shape.rank() - in_dims.len();
            let mut s = vec![0; lead];
            s.extend(
                in_dims
                    .iter()
                    .zip(st)
                    .map(|(&n, &x)| if n == 1 { 0 } else { x }),
            );
            Some((s, 0))
        }
        Op::Slice { starts, steps, .. } => {
            let off = starts.iter().zip(st).map(|(a, s)| a * s).sum::<usize>();
            Some((st.iter().zip(steps).map(|(s, k)| s * k).collect(), off))
        }
        Op::Reshape { shape } => reshape_strides(in_dims, st, shape.dims()).map(|s| (s, 0)),
        Op::Unary(_)
        | Op::Binary(_)
        | Op::Where
        | Op::Cast
        | Op::Constant { .. }
        | Op::Iota { .. }
        | Op::Reduce { .. }
        | Op::Concat { .. }
        | Op::Pad { .. }
        | Op::Gather { .. }
        | Op::IndexSelect { .. }
        | Op::ScatterAdd { .. }
        | Op::RandomUniform
        | Op::MatMul => None,
    }
}

/// Strides of the row-major reshape of a strided `in_dims` view (strides `st`) to
/// `out_dims`, when one exists: every run of input dims merged into (or split from) output
/// dims must be contiguous relative to each other (`st[i] == st[i + 1] * in_dims[i + 1]`,
/// size-1 dims aside). A reshape of `[N, C, H, W]` windows to `[N, C, H*W]` qualifies; a
/// merge across a permuted or sliced dim does not. Empty shapes get `None` (they are cheap
/// to materialise and have no meaningful strides). Size-1 output dims get stride 0.
pub(super) fn reshape_strides(
    in_dims: &[usize],
    st: &[usize],
    out_dims: &[usize],
) -> Option<Vec<usize>> {
    if in_dims.contains(&0) || out_dims.contains(&0) {
        return None;
    }
    let old: Vec<(usize, usize)> = in_dims
        .iter()
        .zip(st)
        .filter(|(&n, _)| n != 1)
        .map(|(&n, &s)| (n, s))
        .collect();
    let mut out = vec![0usize; out_dims.len()];
    let (mut oi, mut ni) = (0, 0);
    while oi < old.len() {
        // Skip size-1 output dims (stride 0).
        while ni < out_dims.len() && out_dims[ni] == 1 {
            ni += 1;
        }
        if ni == out_dims.len() {
            return None;
        }
        // Grow a group of input dims [oi, oj) and output dims [ni, nj) of equal product.
        let (mut oj, mut nj) = (oi + 1, ni + 1);
        let (mut op, mut np) = (old[oi].0, out_dims[ni]);
        while op != np {
            if np < op {
                np = np.checked_mul(*out_dims.get(nj)?)?;
                nj += 1;
            } else {
                op = op.checked_mul(old.get(oj)?.0)?;
                oj += 1;
            }
        }
        for k in oi..oj - 1 {
            if old[k].1 != old[k + 1].1.checked_mul(old[k + 1].0)? {
                return None;
            }
        }
        // Row-major strides inside the group, from its innermost input stride.
        let mut acc = old[oj - 1].1;
        for k in (ni..nj).rev() {
            if out_dims[k] != 1 {
                out[k] = acc;
                acc = acc.checked_mul(out_dims[k])?;
            }
        }
        oi = oj;
        ni = nj;
    }
    // Whatever output dims remain have size 1 (the products are equal).
    out_dims[ni..].iter().all(|&d| d == 1).then_some(out)
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
    // `operand_base` stops at every other op, and at a reshape these strides cannot express:
    // they are computed into a buffer.
    let (st, add) = view_step(p, inst, &st).ok_or_else(|| {
        Error::Codegen(format!(
            "matmul operand {v}: {} is not a strided view",
            inst.op.name()
        ))
    })?;
    Ok((st, off + add))
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
        // The folded views must stay inside their buffers: the GEMM reads `min_len`
        // elements from the offset. A view chain always does; checked once here so that a
        // wrong stride can only be a compile error, never an out-of-bounds read.
        for (base, off, len) in [(ab, aoff, mp.a_min_len()), (bb, boff, mp.b_min_len())] {
            let numel = p.value_type(base).shape.numel();
            if len > 0 && off.checked_add(len).is_none_or(|end| end > numel) {
                return Err(Error::Codegen(format!(
                    "matmul {root}: operand view of {base} reads {len} elements from offset \
                     {off}, past its {numel} elements"
                )));
            }
        }
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

#[cfg(test)]
mod tests {
    use super::reshape_strides;

    #[test]
    fn reshape_strides_of_merges_splits_and_size_one_dims() {
        // Contiguous: the row-major strides of the new shape.
        assert_eq!(
            reshape_strides(&[2, 3, 4, 5], &[60, 20, 5, 1], &[2, 3, 20]),
            Some(vec![60, 20, 1])
        );
        assert_eq!(
            reshape_strides(&[6, 20], &[20, 1], &[2, 3, 4, 5]),
            Some(vec![60, 20, 5, 1])
        );
        // Windows of a wider buffer: H and W merge only when W's row is the whole row; the
        // outer dims still merge with each other.
        assert_eq!(
            reshape_strides(&[2, 3, 4, 5], &[120, 40, 10, 1], &[2, 3, 20]),
            None
        );
        assert_eq!(
            reshape_strides(&[2, 3, 4, 5], &[120, 40, 10, 1], &[6, 4, 5]),
            Some(vec![40, 10, 1])
        );
        assert_eq!(
            reshape_strides(&[2, 3, 4, 5], &[120, 40, 5, 1], &[6, 20]),
            Some(vec![40, 1])
        );
        assert_eq!(
            reshape_strides(&[2, 3, 4, 5], &[120, 30, 5, 1], &[6, 20]),
            None
        );
        assert_eq!(
            reshape_strides(&[2, 3, 4, 5], &[120, 40, 5, 1], &[2, 3, 20]),
            Some(vec![120, 40, 1])
        );
        // A transposed view merges only along its own contiguous runs.
        assert_eq!(reshape_strides(&[4, 3], &[1, 4], &[12]), None);
        assert_eq!(
            reshape_strides(&[4, 3], &[1, 4], &[2, 2, 3]),
            Some(vec![2, 1, 4])
        );
        // Size-1 dims anywhere, in and out; their strides are 0 on the way out.
        assert_eq!(
            reshape_strides(&[3, 1, 7], &[7, 7, 1], &[1, 3, 7, 1]),
            Some(vec![0, 7, 1, 0])
        );
        assert_eq!(reshape_strides(&[1, 1], &[5, 9], &[1]), Some(vec![0]));
        assert_eq!(reshape_strides(&[1], &[3], &[]), Some(vec![]));
        // Broadcast (stride 0) dims merge with each other, not with a real dim.
        assert_eq!(
            reshape_strides(&[2, 3, 4], &[0, 0, 1], &[6, 4]),
            Some(vec![0, 1])
        );
        assert_eq!(reshape_strides(&[3, 4], &[0, 1], &[12]), None);
        // Empty shapes are materialised.
        assert_eq!(reshape_strides(&[0, 3], &[3, 1], &[3, 0]), None);
    }
}
