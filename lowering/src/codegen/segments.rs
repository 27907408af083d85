//! Cutting a loop kernel's loop over a concat axis into one loop per operand.
//!
//! A concat fused into a loop picks its operand per element: a bounds check and a select per
//! operand, and a load from every operand, so both the code and the work per element grow
//! with the operand count (a concat of 3,000 operands compiled for 16 s and read every operand
//! for every element). When the concat's axis index is a loop variable of the kernel (the
//! concat is the root, or sits under elementwise ops of the root's shape), the loop over that
//! axis is cut at the operand boundaries instead: inside each piece the index range covers one
//! operand only, so the emitter's range pruning in `concat` reads that operand directly.
//! Code and work become linear in the operand count.

use super::plan::{FusionPlan, Kernel, KernelKind};
use crate::op::Op;
use crate::program::{Program, ValueId};
use std::collections::HashSet;
use std::ops::Range;

/// Operands a concat needs before its loop is cut. Below this the per-element select chain is
/// short, stays one vectorised loop, and a seam inside a vector is handled per lane.
const MIN_OPERANDS: usize = 8;

/// Most inline nodes outside the cut concats' operands. Every piece repeats them, so this
/// bounds the code to a constant per piece.
const MAX_SHARED: usize = 16;

/// Most pieces emitted into one function. Every piece is a loop with its own blocks, and
/// Cranelift's register allocator is superlinear in the loops of one function (cut into 8,000
/// pieces in one function a concat took 1.0 s to compile, 16,000 took 3.5 s, most of it in
/// regalloc2's `apply_allocations_and_insert_moves`), so a loop cut into more pieces is
/// compiled as several functions run one after the other.
const PIECES_PER_FUNCTION: usize = 128;

/// Where to cut: dimension `dim` of the root runs as one loop per `(start, len)` piece.
pub(super) struct Cuts {
    pub dim: usize,
    pub pieces: Vec<(i64, usize)>,
}

/// The cuts for loop kernel `root`, whose first `outer` dims are row-group dims (not cut).
pub(super) fn concat_cuts(
    p: &Program,
    plan: &FusionPlan,
    root: ValueId,
    outer: usize,
) -> Option<Cuts> {
    let shape = &p.value_type(root).shape;
    let mut dim = None;
    let mut bounds = Vec::new();
    let mut shared = 0;
    let mut seen = HashSet::new();
    // (value, reached from the root through elementwise ops of the root's shape only, so its
    // index is the root's)
    let mut stack = vec![(root, true)];
    while let Some((v, direct)) = stack.pop() {
        if !seen.insert(v) || (v != root && plan.is_buffer(v)) {
            continue;
        }
        let Some(inst) = p.inst(v) else { continue };
        let direct = direct && inst.ty.shape == *shape;
        if let Op::Concat { axis } = inst.op {
            let fits = direct
                && axis >= outer
                && shape.dims()[axis] > 1
                && inst.args.len() >= MIN_OPERANDS
                && dim.is_none_or(|d| d == axis);
            if fits {
                dim = Some(axis);
                let mut at = 0;
                for a in &inst.args {
                    bounds.push(at);
                    at += p.value_type(*a).shape.dims()[axis];
                }
                bounds.push(at);
                continue;
            }
        }
        shared += 1;
        if shared > MAX_SHARED {
            return None;
        }
        let passes = inst.op.is_elementwise();
        stack.extend(inst.args.iter().map(|&a| (a, direct && passes)));
    }
    let dim = dim?;
    bounds.sort_unstable();
    bounds.dedup();
    let pieces: Vec<(i64, usize)> = bounds
        .windows(2)
        .map(|w| (w[0] as i64, w[1] - w[0]))
        .collect();
    (pieces.len() >= 2).then_some(Cuts { dim, pieces })
}

/// The pieces of a cut loop one function runs.
#[derive(Clone)]
pub(super) struct Part<'c> {
    pub cuts: &'c Cuts,
    pub range: Range<usize>,
}

/// The cuts of a group that is one loop kernel cut into more than `PIECES_PER_FUNCTION`
/// pieces, which is then compiled as one function per `parts` item; `None` for every
/// other group (one function doing everything).
pub(super) fn split_group(
    p: &Program,
    plan: &FusionPlan,
    kernels: &[&Kernel],
    outer: &[usize],
) -> Option<Cuts> {
    let cuts = match kernels {
        [k] if k.kind == KernelKind::Loop && outer.is_empty() => concat_cuts(p, plan, k.root, 0),
        _ => None,
    }?;
    (cuts.pieces.len() > PIECES_PER_FUNCTION).then_some(cuts)
}

/// The functions' shares of `cuts`.
pub(super) fn parts(cuts: &Cuts) -> impl Iterator<Item = Part<'_>> {
    let n = cuts.pieces.len();
    (0..n).step_by(PIECES_PER_FUNCTION).map(move |s| Part {
        cuts,
        range: s..(s + PIECES_PER_FUNCTION).min(n),
    })
}

/// Where each operand of a concat starts along `axis`, then the total length.
pub(super) fn operand_starts(p: &Program, args: &[ValueId], axis: usize) -> Vec<i64> {
    let mut at = 0i64;
    let mut starts = Vec::with_capacity(args.len() + 1);
    for a in args {
        starts.push(at);
        at += p.value_type(*a).shape.dims()[axis] as i64;
    }
    starts.push(at);
    starts
}

/// The non-empty operands holding positions `lo..=hi` of the concat axis, as
/// `(operand, start, length)`. A binary search, so that a piece of a cut loop costs the
/// operands it touches, not all of them.
pub(super) fn overlapping(
    args: &[ValueId],
    starts: &[i64],
    lo: i64,
    hi: i64,
) -> Vec<(ValueId, i64, i64)> {
    // The last operand starting at or before `lo` (empty operands share their successor's start).
    let first = starts[..args.len()]
        .partition_point(|&s| s <= lo)
        .saturating_sub(1);
    (first..args.len())
        .take_while(|&i| starts[i] <= hi)
        .map(|i| (args[i], starts[i], starts[i + 1] - starts[i]))
        .filter(|&(_, s, n)| n > 0 && s + n > lo)
        .collect()
}
