//! Loop nests: counted loops, the split loop (a loop over the sub-range a call is given,
//! `split.rs`), loop kernels (flat, cut at concat seams, vectorised over the innermost dim)
//! and check kernels.

use super::{cg, row_major_offset, vec_dtype, KernelEmitter, Mode, LANES, R};
use crate::codegen::index::{Idx, Var};
use crate::codegen::kernel::checked_axis;
use crate::codegen::plan::Storage;
use crate::codegen::segments::{concat_cuts, Cuts};
use crate::op::Op;
use crate::program::ValueId;
use crate::types::{DType, Shape};
use cranelift_codegen::ir::condcodes::IntCC;
use cranelift_codegen::ir::{types, InstBuilder, Value};
use cranelift_module::Module;
use std::ops::Range;

impl<'a, 'f, 'm, M: Module> KernelEmitter<'a, 'f, 'm, M> {
    /// `for i in (start..end).step_by(step) { body(i) }` with static bounds; bottom-tested.
    pub(super) fn counted_loop(
        &mut self,
        start: i64,
        end: i64,
        step: i64,
        body: &mut dyn FnMut(&mut Self, Value) -> R<()>,
    ) -> R<()> {
        if start >= end {
            return Ok(());
        }
        let lp = self.b.create_block();
        let exit = self.b.create_block();
        let i = self.b.append_block_param(lp, types::I64);
        let s = self.b.ins().iconst(types::I64, start);
        self.b.ins().jump(lp, &[s.into()]);
        self.b.switch_to_block(lp);
        body(self, i)?;
        let next = self.b.ins().iadd_imm_s(i, step);
        let more = self.b.ins().icmp_imm_s(IntCC::SignedLessThan, next, end);
        self.b.ins().brif(more, lp, &[next.into()], exit, &[]);
        self.b.switch_to_block(exit);
        Ok(())
    }

    /// `for (i = start; i + step <= end; i += step) { body(i) }` with bounds known only at
    /// run time: a guard, then a bottom-tested loop (one branch per iteration, as
    /// [`Self::counted_loop`]). Returns the first `i` not run (where a tail loop starts).
    pub(super) fn dyn_loop(
        &mut self,
        start: Value,
        end: Value,
        step: i64,
        body: &mut dyn FnMut(&mut Self, Value) -> R<()>,
    ) -> R<Value> {
        let lp = self.b.create_block();
        let i = self.b.append_block_param(lp, types::I64);
        let exit = self.b.create_block();
        let out = self.b.append_block_param(exit, types::I64);
        // Into the loop at `from` while a whole step still fits before `end`, else out.
        let go = |e: &mut Self, from: Value| {
            let step_end = e.b.ins().iadd_imm_s(from, step);
            let fits = e.b.ins().icmp(IntCC::SignedLessThanOrEqual, step_end, end);
            e.b.ins()
                .brif(fits, lp, &[from.into()], exit, &[from.into()]);
        };
        go(self, start);
        self.b.switch_to_block(lp);
        body(self, i)?;
        let next = self.b.ins().iadd_imm_s(i, step);
        go(self, next);
        self.b.switch_to_block(exit);
        Ok(out)
    }

    /// The range of the split loop this call runs: the status words' `[lo, hi)` clamped to
    /// `0 <= lo <= hi <= n`, so that whatever a caller passes, the loop stays inside the
    /// extent every access was derived from.
    pub(super) fn split_range(&mut self, n: i64) -> R<(Value, Value)> {
        let (lo, hi) = self
            .split
            .bounds
            .ok_or_else(|| cg("a split loop in a function that loads no range"))?;
        self.split.loops += 1;
        let zero = self.b.ins().iconst(types::I64, 0);
        let n = self.b.ins().iconst(types::I64, n);
        let clamp = |e: &mut Self, v: Value, min: Value| {
            let below = e.b.ins().icmp(IntCC::SignedLessThan, v, min);
            let v = e.b.ins().select(below, min, v);
            let above = e.b.ins().icmp(IntCC::SignedGreaterThan, v, n);
            e.b.ins().select(above, n, v)
        };
        let lo = clamp(self, lo, zero);
        let hi = clamp(self, hi, lo);
        Ok((lo, hi))
    }

    /// Nested scalar loops over `vars` (outermost first), then `inner`. The split loop's
    /// variable runs over the range the call passed.
    pub(super) fn nest(
        &mut self,
        vars: &[Var],
        inner: &mut dyn FnMut(&mut Self) -> R<()>,
    ) -> R<()> {
        match vars.split_first() {
            None => inner(self),
            Some((&v, rest)) if self.is_split(v) => {
                let n = self.ext[v as usize] as i64;
                let (lo, hi) = self.split_range(n)?;
                self.dyn_loop(lo, hi, 1, &mut |e, i| {
                    e.bind_split(v, i);
                    e.nest(rest, inner)
                })?;
                Ok(())
            }
            Some((&v, rest)) => {
                let n = self.ext[v as usize] as i64;
                self.counted_loop(0, n, 1, &mut |e, i| {
                    e.bind(v, i);
                    e.nest(rest, inner)
                })
            }
        }
    }

    /// [`Self::nest`], emitted as straight-line code (each variable bound to a constant,
    /// in row-major order) when the nest has at most `max` iterations: loops of two or
    /// three trips cost more in counter updates and branches than their bodies.
    pub(super) fn unrolled_nest(
        &mut self,
        vars: &[Var],
        max: usize,
        body: &mut dyn FnMut(&mut Self) -> R<()>,
    ) -> R<()> {
        let trips = vars
            .iter()
            .try_fold(1usize, |acc, &v| acc.checked_mul(self.ext[v as usize]));
        if trips.is_none_or(|t| t > max) {
            return self.nest(vars, body);
        }
        let mut at = vec![0usize; vars.len()];
        loop {
            for (&v, &i) in vars.iter().zip(&at) {
                let c = self.b.ins().iconst(types::I64, i as i64);
                self.bind(v, c);
            }
            body(self)?;
            // Odometer step, innermost variable fastest.
            let mut d = vars.len();
            loop {
                if d == 0 {
                    return Ok(());
                }
                d -= 1;
                at[d] += 1;
                if at[d] < self.ext[vars[d] as usize] {
                    break;
                }
                at[d] = 0;
            }
        }
    }

    /// The innermost loop over `inner`: four lanes at a time when `vectorize`, then a scalar
    /// tail; `body` gets the mode, with `inner` bound (and, for vectors, the lane variable
    /// set). As the split loop, it runs the range the call passed: vectors while four lanes
    /// fit, then the rest one by one.
    pub(super) fn inner_loop(
        &mut self,
        inner: Var,
        vectorize: bool,
        body: &mut dyn FnMut(&mut Self, Mode) -> R<()>,
    ) -> R<()> {
        self.unrolled_inner_loop(inner, vectorize, 1, body)
    }

    /// [`Self::inner_loop`] running `unroll` vectors per iteration while they fit, then
    /// single vectors (a small body's counter update and branch cost as much as its work).
    pub(super) fn unrolled_inner_loop(
        &mut self,
        inner: Var,
        vectorize: bool,
        unroll: i64,
        body: &mut dyn FnMut(&mut Self, Mode) -> R<()>,
    ) -> R<()> {
        let n = self.ext[inner as usize] as i64;
        let split = self.is_split(inner);
        let vector = |e: &mut Self, i: Value, body: &mut dyn FnMut(&mut Self, Mode) -> R<()>| {
            if split {
                e.bind_split(inner, i);
            } else {
                e.bind(inner, i);
            }
            e.lane = Some(inner);
            body(e, Mode::Vector)?;
            e.lane = None;
            Ok(())
        };
        let step = LANES * unroll;
        let unrolled = |e: &mut Self, i: Value, body: &mut dyn FnMut(&mut Self, Mode) -> R<()>| {
            for k in 0..unroll {
                let ik = if k == 0 {
                    i
                } else {
                    e.b.ins().iadd_imm_s(i, k * LANES)
                };
                vector(e, ik, body)?;
            }
            Ok(())
        };
        if split {
            let (lo, hi) = self.split_range(n)?;
            let tail = if vectorize {
                let rest = if unroll > 1 {
                    self.dyn_loop(lo, hi, step, &mut |e, i| unrolled(e, i, body))?
                } else {
                    lo
                };
                self.dyn_loop(rest, hi, LANES, &mut |e, i| vector(e, i, body))?
            } else {
                lo
            };
            // With an extent of whole vectors, the ranges the runtime passes (starts on
            // `SplitLoop::align`, a multiple of four, ends on the next start or the extent)
            // are whole vectors too: no scalar copy of the body, which would double the code
            // and the compile time. A range off those seams would leave elements unwritten,
            // never touch memory outside the extent.
            if !vectorize || n % LANES != 0 {
                self.dyn_loop(tail, hi, 1, &mut |e, i| {
                    e.bind_split(inner, i);
                    body(e, Mode::Scalar)
                })?;
            }
            return Ok(());
        }
        let nv = if vectorize { n - n % LANES } else { 0 };
        let nu = if unroll > 1 { nv - nv % step } else { 0 };
        self.counted_loop(0, nu, step, &mut |e, i| unrolled(e, i, body))?;
        self.counted_loop(nu, nv, LANES, &mut |e, i| vector(e, i, body))?;
        self.counted_loop(nv, n, 1, &mut |e, i| {
            e.bind(inner, i);
            body(e, Mode::Scalar)
        })
    }

    /// Offers the first of `looped` as the function's split loop (`SplitState`); a lone
    /// vectorised loop splits on whole groups of vectors.
    fn offer_split(&mut self, looped: &[Var], vectorize: bool) {
        if let Some(&v) = looped.first() {
            let align = if looped.len() == 1 && vectorize {
                4 * LANES as usize
            } else {
                1
            };
            self.choose_split(v, align);
        }
    }

    pub(super) fn loop_kernel(&mut self, root: ValueId, outer: &[Idx]) -> R<()> {
        let ty = self.p.value_type(root).clone();
        if ty.shape.numel() == 0 {
            return Ok(());
        }
        let dims = ty.shape.dims().to_vec();
        let flat = flat_dims(&dims, outer.len()) && self.flattenable(root, outer.len());
        let (idx, looped) = self.loop_index(&dims, outer, flat);
        if let Some(part) = self.part.clone() {
            return self.cut_loops(root, &idx, &looped, part.cuts, part.range);
        }
        if !flat {
            if let Some(cuts) = concat_cuts(self.p, self.plan, root, outer.len()) {
                let all = 0..cuts.pieces.len();
                return self.cut_loops(root, &idx, &looped, &cuts, all);
            }
        }
        let vectorize = self.vectorizes(ty.dtype, &looped);
        self.offer_split(&looped, vectorize);
        self.loop_nest(root, &idx, &looped)
    }

    /// A fused group (`plan::Group::fused`): elementwise loop kernels whose `roots` share one
    /// type, as one loop (flat when every root allows it, vectorised as a loop kernel) whose
    /// body computes every root at the element, then stores them all. A root read by a later
    /// one is found memoised at the same index (the plan allows only such reads), and every
    /// buffer the group reads is loaded before any store of the element, so an output may be
    /// written into the buffer of a parameter any member reads at that element.
    pub(super) fn fused_loop(&mut self, roots: &[ValueId]) -> R<()> {
        let Some(&first) = roots.first() else {
            return Ok(());
        };
        let ty = self.p.value_type(first).clone();
        if ty.shape.numel() == 0 {
            return Ok(());
        }
        let dims = ty.shape.dims().to_vec();
        let flat = flat_dims(&dims, 0) && roots.iter().all(|&r| self.flattenable(r, 0));
        let (idx, looped) = self.loop_index(&dims, &[], flat);
        let out_off = row_major_offset(&idx, &ty.shape);
        let vectorize = self.vectorizes(ty.dtype, &looped);
        let body = |e: &mut Self, mode: Mode| -> R<()> {
            e.clear_memo();
            e.pending = roots.to_vec();
            let mut vals = Vec::with_capacity(roots.len());
            for &r in roots {
                vals.push(e.compute(r, &idx, mode)?);
            }
            e.pending.clear();
            for (&r, v) in roots.iter().zip(vals) {
                // A root read only inside the loop lives in a register (`Storage::Scratch`).
                if !matches!(e.plan.storage[r.index()], Storage::Scratch { .. }) {
                    e.store(r, &out_off, v, mode)?;
                }
            }
            Ok(())
        };
        let Some((&inner, outer)) = looped.split_last() else {
            return body(self, Mode::Scalar);
        };
        self.offer_split(&looped, vectorize);
        // One root stored (not kept in a register): the wide call may write it.
        let store = match roots {
            [r] if !matches!(self.plan.storage[r.index()], Storage::Scratch { .. }) => {
                Some(&out_off)
            }
            _ => None,
        };
        self.nest(outer, &mut |e| {
            e.math_loop(inner, vectorize, roots, &idx, store, &mut |e, mode| {
                body(e, mode)
            })
        })
    }

    /// The index and loop variables of a loop nest over `dims` whose leading dims are
    /// `outer`: one loop over the product of the inner dims when `flat` (expressed as an index
    /// in the last dim, so every contiguous read's offset is that index), else one loop per
    /// inner dim longer than 1.
    pub(super) fn loop_index(
        &mut self,
        dims: &[usize],
        outer: &[Idx],
        flat: bool,
    ) -> (Vec<Idx>, Vec<Var>) {
        let mut idx = Vec::with_capacity(dims.len());
        let mut looped = Vec::new();
        if flat {
            let inner: usize = dims[outer.len()..].iter().product();
            idx.extend(outer.iter().cloned());
            idx.extend((outer.len()..dims.len() - 1).map(|_| Idx::konst(0)));
            let v = self.new_var(inner);
            looped.push(v);
            idx.push(Idx::var(v));
            return (idx, looped);
        }
        for (d, &n) in dims.iter().enumerate() {
            if d < outer.len() {
                idx.push(outer[d].clone());
            } else if n > 1 {
                let v = self.new_var(n);
                looped.push(v);
                idx.push(Idx::var(v));
            } else {
                idx.push(Idx::konst(0));
            }
        }
        (idx, looped)
    }

    /// Loops over `looped` (outermost first; the innermost vectorised when long enough),
    /// computing and storing `root` at `idx`.
    /// Whether a loop nest over `looped` storing `dtype` runs its innermost loop in vectors:
    /// a vector dtype and an innermost extent of at least one vector.
    fn vectorizes(&self, dtype: DType, looped: &[Var]) -> bool {
        vec_dtype(dtype)
            && looped
                .last()
                .is_some_and(|&v| self.ext[v as usize] >= LANES as usize)
    }

    pub(super) fn loop_nest(&mut self, root: ValueId, idx: &[Idx], looped: &[Var]) -> R<()> {
        self.loop_nest_of(root, root, idx, looped)
    }

    /// [`Self::loop_nest`] storing into `root` the value of `src` at each index: `root`
    /// itself (computed), or another value of its shape (computed or loaded; the input a
    /// scatter kernel starts from).
    pub(super) fn loop_nest_of(
        &mut self,
        root: ValueId,
        src: ValueId,
        idx: &[Idx],
        looped: &[Var],
    ) -> R<()> {
        let ty = self.p.value_type(root);
        let out_off = row_major_offset(&self.strip(root, idx), &ty.shape);
        let vectorize = self.vectorizes(ty.dtype, looped);
        let Some((&inner, outer)) = looped.split_last() else {
            self.clear_memo();
            let val = self.value_at(root, src, idx, Mode::Scalar)?;
            return self.store(root, &out_off, val, Mode::Scalar);
        };
        // A scatter kernel's copy of its input has no math to speak of.
        let roots: &[ValueId] = if src == root { &[root] } else { &[] };
        self.nest(outer, &mut |e| {
            e.math_loop(
                inner,
                vectorize,
                roots,
                idx,
                roots.first().map(|_| &out_off),
                &mut |e, mode| {
                    e.clear_memo();
                    let val = e.value_at(root, src, idx, mode)?;
                    e.store(root, &out_off, val, mode)
                },
            )
        })
    }

    /// What [`Self::loop_nest_of`] stores: the root computed (it has a buffer, but this is
    /// the kernel that fills it), or `src` computed or loaded.
    fn value_at(&mut self, root: ValueId, src: ValueId, idx: &[Idx], mode: Mode) -> R<Value> {
        if src == root {
            self.compute(root, idx, mode)
        } else {
            self.compute_or_load(src, idx, mode)
        }
    }

    /// [`Self::loop_nest`] with the loop over dim `cuts.dim` replaced by one loop per piece
    /// in `range` (see `segments.rs`).
    pub(super) fn cut_loops(
        &mut self,
        root: ValueId,
        idx: &[Idx],
        looped: &[Var],
        cuts: &Cuts,
        range: Range<usize>,
    ) -> R<()> {
        let d = cuts.dim;
        let Some(pos) = looped.iter().position(|&v| idx[d] == Idx::var(v)) else {
            // Not cut after all: the function with the first pieces does all the work.
            if range.start > 0 {
                return Ok(());
            }
            let vectorize = self.vectorizes(self.p.value_type(root).dtype, looped);
            self.offer_split(looped, vectorize);
            return self.loop_nest(root, idx, looped);
        };
        let (before, after) = (&looped[..pos], &looped[pos + 1..]);
        // The loops outside the cut one run every piece per iteration: an image of an im2col
        // concat along channels, split over the batch.
        if let Some(&v) = before.first() {
            self.choose_split(v, 1);
        }
        let pieces = &cuts.pieces[range];
        self.nest(before, &mut |e| {
            for &(start, len) in pieces {
                let mut pi = idx.to_vec();
                let mut pl = Vec::with_capacity(after.len() + 1);
                if len > 1 {
                    let w = e.new_var(len);
                    pi[d] = Idx::var(w).add_const(start);
                    pl.push(w);
                } else {
                    pi[d] = Idx::konst(start);
                }
                pl.extend_from_slice(after);
                e.loop_nest(root, &pi, &pl)?;
            }
            Ok(())
        })
    }

    /// Whether a loop kernel may run its dims from `k` on as one flat loop: every inlined
    /// node is elementwise with the root's exact shape, and every buffer or constant it reads
    /// has the root's shape, a single element, or size 1 in all dims from `k` on.
    pub(super) fn flattenable(&self, root: ValueId, k: usize) -> bool {
        let shape = &self.p.value_type(root).shape;
        let leaf_ok = |s: &Shape| {
            s == shape
                || s.numel() == 1
                || (s.rank() == shape.rank() && s.dims()[k..].iter().all(|&d| d == 1))
        };
        let mut stack = vec![root];
        while let Some(v) = stack.pop() {
            let is_root = v == root;
            if !is_root && self.plan.is_buffer(v) {
                if !leaf_ok(&self.p.value_type(v).shape) {
                    return false;
                }
                continue;
            }
            let Some(inst) = self.p.inst(v) else {
                return false;
            };
            match inst.op {
                Op::Constant { .. } => continue,
                Op::Unary(_) | Op::Binary(_) | Op::Where | Op::Cast => {}
                // Ops that move elements or read other positions: the flat index is not
                // theirs.
                Op::Iota { .. }
                | Op::Reduce { .. }
                | Op::Reshape { .. }
                | Op::Permute { .. }
                | Op::Expand { .. }
                | Op::Slice { .. }
                | Op::Concat { .. }
                | Op::Pad { .. }
                | Op::Gather { .. }
                | Op::IndexSelect { .. }
                | Op::ScatterAdd { .. }
                | Op::RandomUniform
                | Op::MatMul => return false,
            }
            if &inst.ty.shape != shape {
                return false;
            }
            stack.extend(inst.args.iter().copied());
        }
        true
    }

    /// An index over all of `dims` (one loop variable per dim longer than 1, the constant
    /// 0 for the others) and the loop variables, outermost first, for [`Self::nest`].
    pub(super) fn full_nest(&mut self, dims: &[usize]) -> (Vec<Idx>, Vec<Var>) {
        let mut idx = Vec::with_capacity(dims.len());
        let mut vars = Vec::new();
        for &n in dims {
            if n > 1 {
                let v = self.new_var(n);
                vars.push(v);
                idx.push(Idx::var(v));
            } else {
                idx.push(Idx::konst(0));
            }
        }
        (idx, vars)
    }

    /// Validates every index value of gather / index_select `root` in row-major order; on the
    /// first out-of-range one, records it in the status word and returns from the function.
    pub(super) fn check_kernel(&mut self, root: ValueId) -> R<()> {
        let inst = self
            .p
            .inst(root)
            .ok_or_else(|| cg("check root is not an instruction"))?;
        let Some(axis) = checked_axis(&inst.op) else {
            return Err(cg(format!(
                "check kernel root {root} ({}) has no runtime indices",
                inst.op.name()
            )));
        };
        let (data, index) = (inst.args[0], inst.args[1]);
        let dims = self.p.value_type(index).shape.dims().to_vec();
        if dims.contains(&0) {
            return Ok(());
        }
        let (idx, vars) = self.full_nest(&dims);
        self.nest(&vars, &mut |e| {
            e.clear_memo();
            let iv = e.compute_or_load(index, &idx, Mode::Scalar)?;
            e.checked_index(root, iv, data, axis, true)?;
            Ok(())
        })
    }
}

/// Whether a loop nest over `dims` (the first `outer` of them looped outside) has the shape a
/// flat loop needs: at least two inner dims, more than one element, and a last dim longer than
/// 1 (the flat index lives in the last dim; operands of the root's shape would see a size-1
/// dim there, which `broadcast_idx` maps to index 0 — found by the differential tests: `exp`
/// of an f32[4, 1] read element 0 four times). Whether the reads allow it is `flattenable`.
pub(super) fn flat_dims(dims: &[usize], outer: usize) -> bool {
    let inner: usize = dims[outer..].iter().product();
    dims.len() - outer >= 2 && inner > 1 && dims.last().is_some_and(|&n| n > 1)
}
