//! Emission of one fused kernel as a Cranelift function.
//!
//! Kernel ABI: `extern "C" fn(bufs: *const *mut u8, status: *mut i64)`. `bufs` is the
//! executor's buffer table (parameters, outputs, temporaries), checked against the program
//! before the call; `status` receives the first runtime error (an out-of-range gather index).
//!
//! Values are computed by walking the expression tree from the kernel root down to buffers,
//! carrying a symbolic index ([`Idx`]) per dimension. In vector mode the innermost loop
//! variable (the *lane* variable) stands for four consecutive indices; a subtree that cannot
//! be computed four lanes at a time (a gather, a 64-bit dtype, a pad whose bound depends on the
//! lane) is computed once per lane in scalar mode and packed, so vectorisation never changes
//! results, only speed.

use super::bases::Bases;
use super::index::{Atom, Idx, Var};
use super::math::MathEmitter;
use super::plan::{FusionPlan, Kernel, KernelKind, Storage};
use super::segments::{concat_cuts, operand_starts, overlapping, Cuts, Part};
use crate::error::Error;
use crate::op::{BinaryOp, Op, ReduceOp, UnaryOp};
use crate::program::{Program, ValueId};
use crate::types::{DType, Scalar, Shape};
use cranelift_codegen::ir::condcodes::{FloatCC, IntCC};
use cranelift_codegen::ir::{types, InstBuilder, MemFlagsData, Type, Value};
use cranelift_frontend::{FunctionBuilder, Variable};
use cranelift_module::Module;
use std::collections::HashMap;
use std::ops::Range;

pub(crate) const LANES: i64 = 4;

#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
enum Mode {
    Scalar,
    Vector,
}

type R<T> = Result<T, Error>;

/// Side state of a float max/min reduction accumulated with compare-and-select: `nan`, a mask
/// of "a NaN was seen", and `zero`, the bitwise AND (max) / OR (min) of every element's bits,
/// whose sign bit gives the sign of a zero result (see `fix_zero`).
#[derive(Copy, Clone)]
struct Track {
    nan: Variable,
    zero: Variable,
}

fn cg(msg: impl Into<String>) -> Error {
    Error::Codegen(msg.into())
}

fn vec_dtype(d: DType) -> bool {
    matches!(d, DType::F32 | DType::I32 | DType::Bool)
}

fn scalar_ty(d: DType) -> Type {
    match d {
        DType::F32 => types::F32,
        DType::F64 => types::F64,
        DType::I32 => types::I32,
        DType::I64 => types::I64,
        DType::Bool => types::I8,
    }
}

fn lane_ty(d: DType) -> Type {
    match d {
        DType::F32 => types::F32X4,
        _ => types::I32X4,
    }
}

fn row_strides(s: &Shape) -> Vec<i64> {
    s.strides().into_iter().map(|x| x as i64).collect()
}

pub(crate) struct KernelEmitter<'a, 'f, 'm, M: Module> {
    p: &'a Program,
    plan: &'a FusionPlan,
    b: FunctionBuilder<'f>,
    math: MathEmitter<'m, M>,
    ptr_ty: Type,
    bases: Bases<'a>,
    status: Value,
    ext: Vec<usize>,
    env: Vec<Option<Value>>,
    lane: Option<Var>,
    memo: HashMap<(ValueId, Vec<Idx>, Mode), Value>,
    /// Per concat: where each operand starts along the axis, and the total.
    concat_starts: &'a mut HashMap<ValueId, Vec<i64>>,
    /// The pieces of a cut loop this function runs (`segments::parts`), when the
    /// group's one kernel is split over several functions.
    part: Option<Part<'a>>,
}

impl<'a, 'f, 'm, M: Module> KernelEmitter<'a, 'f, 'm, M> {
    /// Emits a group of kernels (one kernel, or several sharing an outer loop nest over the
    /// `outer` leading dims) into the function behind `b` and finalizes it.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn emit(
        p: &'a Program,
        plan: &'a FusionPlan,
        slot_of: &'a HashMap<ValueId, usize>,
        kernels: &[&Kernel],
        outer: &[usize],
        part: Option<Part<'a>>,
        concat_starts: &'a mut HashMap<ValueId, Vec<i64>>,
        mut b: FunctionBuilder<'f>,
        math: MathEmitter<'m, M>,
        ptr_ty: Type,
        tcfg: cranelift_codegen::isa::TargetFrontendConfig,
    ) -> R<()> {
        let entry = b.create_block();
        b.append_block_params_for_function_params(entry);
        b.switch_to_block(entry);
        let bufs = b.block_params(entry)[0];
        let status = b.block_params(entry)[1];
        let bases = Bases::new(&mut b, bufs, ptr_ty, slot_of, kernels)?;
        let mut e = KernelEmitter {
            p,
            plan,
            b,
            math,
            ptr_ty,
            bases,
            status,
            ext: Vec::new(),
            env: Vec::new(),
            lane: None,
            memo: HashMap::new(),
            concat_starts,
            part,
        };
        let mut outer_idx = Vec::with_capacity(outer.len());
        let mut outer_vars = Vec::new();
        for &n in outer {
            if n > 1 {
                let v = e.new_var(n);
                outer_vars.push(v);
                outer_idx.push(Idx::var(v));
            } else {
                outer_idx.push(Idx::konst(0));
            }
        }
        if outer.iter().product::<usize>() > 0 {
            e.nest(&outer_vars, &mut |e| {
                for kernel in kernels {
                    match kernel.kind {
                        KernelKind::Loop => e.loop_kernel(kernel.root, &outer_idx)?,
                        KernelKind::Reduce => e.reduce_kernel(kernel.root, &outer_idx)?,
                        KernelKind::Check => e.check_kernel(kernel.root)?,
                        KernelKind::MatMul => {
                            return Err(cg("matmul kernels are not emitted as code"))
                        }
                    }
                }
                Ok(())
            })?;
        }
        e.b.ins().return_(&[]);
        e.b.seal_all_blocks();
        e.b.finalize(tcfg);
        Ok(())
    }

    /// `idx` with the leading row dims zeroed when `v` lives in a row scratch buffer.
    fn strip(&self, v: ValueId, idx: &[Idx]) -> Vec<Idx> {
        match self.plan.storage[v.index()] {
            Storage::Scratch { outer } => idx
                .iter()
                .enumerate()
                .map(|(d, i)| if d < outer { Idx::konst(0) } else { i.clone() })
                .collect(),
            _ => idx.to_vec(),
        }
    }

    /// Forgets values computed in the current loop body before starting another.
    fn clear_memo(&mut self) {
        self.memo.clear();
        self.bases.clear_local();
    }

    fn new_var(&mut self, extent: usize) -> Var {
        self.ext.push(extent);
        self.env.push(None);
        (self.ext.len() - 1) as Var
    }

    fn bind(&mut self, v: Var, val: Value) {
        self.env[v as usize] = Some(val);
    }

    // ---------------------------------------------------------------- loops

    /// `for i in (start..end).step_by(step) { body(i) }` with static bounds; bottom-tested.
    fn counted_loop(
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

    /// Nested scalar loops over `vars` (outermost first), then `inner`.
    fn nest(&mut self, vars: &[Var], inner: &mut dyn FnMut(&mut Self) -> R<()>) -> R<()> {
        match vars.split_first() {
            None => inner(self),
            Some((&v, rest)) => {
                let n = self.ext[v as usize] as i64;
                self.counted_loop(0, n, 1, &mut |e, i| {
                    e.bind(v, i);
                    e.nest(rest, inner)
                })
            }
        }
    }

    // ---------------------------------------------------------------- kernels

    fn loop_kernel(&mut self, root: ValueId, outer: &[Idx]) -> R<()> {
        let ty = self.p.value_type(root).clone();
        if ty.shape.numel() == 0 {
            return Ok(());
        }
        let dims = ty.shape.dims().to_vec();
        let mut idx = Vec::with_capacity(dims.len());
        let mut looped = Vec::new();
        let inner: usize = dims[outer.len()..].iter().product();
        // The flat index lives in the last dim, so that dim must not have size 1: operands of
        // the root's shape would then see a size-1 dim, which `broadcast_idx` maps to index 0
        // (found by the differential tests: `exp` of an f32[4, 1] read element 0 four times).
        let flat = dims.len() - outer.len() >= 2
            && inner > 1
            && dims.last().is_some_and(|&n| n > 1)
            && self.flattenable(root, outer.len());
        if flat {
            // All reads are contiguous over the inner dims: one loop over their product,
            // expressed as an index in the last dim (every read's offset is then that index).
            idx.extend(outer.iter().cloned());
            idx.extend((outer.len()..dims.len() - 1).map(|_| Idx::konst(0)));
            let v = self.new_var(inner);
            looped.push(v);
            idx.push(Idx::var(v));
        }
        for (d, &n) in dims.iter().enumerate().filter(|_| !flat) {
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
        if let Some(part) = self.part.clone() {
            return self.cut_loops(root, &idx, &looped, part.cuts, part.range);
        }
        if !flat {
            if let Some(cuts) = concat_cuts(self.p, self.plan, root, outer.len()) {
                let all = 0..cuts.pieces.len();
                return self.cut_loops(root, &idx, &looped, &cuts, all);
            }
        }
        self.loop_nest(root, &idx, &looped)
    }

    /// Loops over `looped` (outermost first; the innermost vectorised when long enough),
    /// computing and storing `root` at `idx`.
    fn loop_nest(&mut self, root: ValueId, idx: &[Idx], looped: &[Var]) -> R<()> {
        let ty = self.p.value_type(root);
        let out_off = self
            .strip(root, idx)
            .iter()
            .zip(&row_strides(&ty.shape))
            .fold(Idx::konst(0), |acc, (i, s)| acc.add(&i.scale(*s)));
        let vectorize = vec_dtype(ty.dtype)
            && looped
                .last()
                .is_some_and(|&v| self.ext[v as usize] >= LANES as usize);
        let Some((&inner, outer)) = looped.split_last() else {
            self.clear_memo();
            let val = self.compute(root, idx, Mode::Scalar)?;
            return self.store(root, &out_off, val, Mode::Scalar);
        };
        let n = self.ext[inner as usize] as i64;
        self.nest(outer, &mut |e| {
            let nv = if vectorize { n - n % LANES } else { 0 };
            e.counted_loop(0, nv, LANES, &mut |e, i| {
                e.bind(inner, i);
                e.lane = Some(inner);
                e.clear_memo();
                let val = e.compute(root, idx, Mode::Vector)?;
                e.store(root, &out_off, val, Mode::Vector)?;
                e.lane = None;
                Ok(())
            })?;
            e.counted_loop(nv, n, 1, &mut |e, i| {
                e.bind(inner, i);
                e.clear_memo();
                let val = e.compute(root, idx, Mode::Scalar)?;
                e.store(root, &out_off, val, Mode::Scalar)
            })
        })
    }

    /// [`Self::loop_nest`] with the loop over dim `cuts.dim` replaced by one loop per piece
    /// in `range` (see `segments.rs`).
    fn cut_loops(
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
            return self.loop_nest(root, idx, looped);
        };
        let (before, after) = (&looped[..pos], &looped[pos + 1..]);
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
    fn flattenable(&self, root: ValueId, k: usize) -> bool {
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
                _ => return false,
            }
            if &inst.ty.shape != shape {
                return false;
            }
            stack.extend(inst.args.iter().copied());
        }
        true
    }

    /// Validates every index value of gather / index_select `root` in row-major order; on the
    /// first out-of-range one, records it in the status word and returns from the function.
    fn check_kernel(&mut self, root: ValueId) -> R<()> {
        let inst = self
            .p
            .inst(root)
            .ok_or_else(|| cg("check root is not an instruction"))?;
        let (Op::Gather { axis } | Op::IndexSelect { axis }) = inst.op else {
            return Err(cg("check kernel root is not a gather or index_select"));
        };
        let (data, index) = (inst.args[0], inst.args[1]);
        let dims = self.p.value_type(index).shape.dims().to_vec();
        if dims.contains(&0) {
            return Ok(());
        }
        let mut idx = Vec::with_capacity(dims.len());
        let mut vars = Vec::new();
        for &n in &dims {
            if n > 1 {
                let v = self.new_var(n);
                vars.push(v);
                idx.push(Idx::var(v));
            } else {
                idx.push(Idx::konst(0));
            }
        }
        self.nest(&vars, &mut |e| {
            e.clear_memo();
            let iv = e.compute_or_load(index, &idx, Mode::Scalar)?;
            e.checked_index(root, iv, data, axis, true)?;
            Ok(())
        })
    }

    fn reduce_kernel(&mut self, root: ValueId, outer: &[Idx]) -> R<()> {
        let inst = self
            .p
            .inst(root)
            .ok_or_else(|| cg("reduce root is not an instruction"))?;
        let Op::Reduce { op, axes, .. } = &inst.op else {
            return Err(cg("reduce kernel root is not a reduction"));
        };
        let op = *op;
        let arg = inst.args[0];
        let in_ty = self.p.value_type(arg).clone();
        let dt = in_ty.dtype;
        let dims = in_ty.shape.dims().to_vec();
        let r = dims.len();
        let out_numel: usize = dims
            .iter()
            .enumerate()
            .filter(|(d, _)| !axes.contains(d))
            .map(|(_, n)| *n)
            .product();
        if out_numel == 0 {
            return Ok(());
        }
        // keepdim strides of the output
        let kd: Vec<usize> = (0..r)
            .map(|d| if axes.contains(&d) { 1 } else { dims[d] })
            .collect();
        let ors = row_strides(&Shape::from(kd));
        let mut in_idx = Vec::with_capacity(r);
        let mut out_off = Idx::konst(0);
        let mut out_vars = Vec::new();
        let mut red_vars = Vec::new();
        let scratch_rows = match self.plan.storage[root.index()] {
            Storage::Scratch { outer } => outer,
            _ => 0,
        };
        for d in 0..r {
            if d < outer.len() {
                in_idx.push(outer[d].clone());
                if d >= scratch_rows {
                    out_off = out_off.add(&outer[d].scale(ors[d]));
                }
            } else if dims[d] > 1 {
                let v = self.new_var(dims[d]);
                in_idx.push(Idx::var(v));
                if axes.contains(&d) {
                    red_vars.push(v);
                } else {
                    out_vars.push(v);
                    out_off = out_off.add(&Idx::var(v).scale(ors[d]));
                }
            } else {
                in_idx.push(Idx::konst(0));
            }
        }
        let count: usize = axes.iter().map(|&a| dims[a]).product();
        if count == 0 {
            // A reduced axis has size 0 (the output is not empty): every output element is
            // the empty fold. The loops below would not iterate a size-0 axis (only dims > 1
            // get a loop variable) and would read element 0 of an empty buffer instead.
            return self.nest(&out_vars.clone(), &mut |e| {
                let v = match op {
                    ReduceOp::Mean => e.constant(dt, Scalar::Float(f64::NAN), Mode::Scalar),
                    ReduceOp::Sum => e.constant(dt, Scalar::Int(0), Mode::Scalar),
                    _ => e.identity(op, dt, Mode::Scalar),
                };
                e.store(root, &out_off, v, Mode::Scalar)
            });
        }
        let last_looped = (outer.len()..r).rev().find(|&d| dims[d] > 1);
        let simple = !op.is_arg() && vec_dtype(dt) && dt != DType::Bool;
        let inner_vec =
            simple && last_looped.is_some_and(|d| axes.contains(&d) && dims[d] >= LANES as usize);
        let outer_vec =
            simple && last_looped.is_some_and(|d| !axes.contains(&d) && dims[d] >= LANES as usize);

        if op.is_arg() {
            let axis = axes[0];
            return self.nest(&out_vars.clone(), &mut |e| {
                e.clear_memo();
                e.arg_reduce(root, op, arg, &in_idx, axis, &red_vars, &out_off)
            });
        }
        if inner_vec {
            let (&lane, outer_red) = red_vars.split_last().expect("a reduced looped dim");
            let outer_red = outer_red.to_vec();
            return self.nest(&out_vars.clone(), &mut |e| {
                e.inner_vector_reduce(root, op, arg, &in_idx, lane, &outer_red, &out_off, count)
            });
        }
        if outer_vec {
            let (&lane, outer_out) = out_vars.split_last().expect("an output looped dim");
            let outer_out = outer_out.to_vec();
            let n = self.ext[lane as usize] as i64;
            let red = red_vars.clone();
            return self.nest(&outer_out, &mut |e| {
                let nv = n - n % LANES;
                e.counted_loop(0, nv, LANES, &mut |e, i| {
                    e.bind(lane, i);
                    e.lane = Some(lane);
                    e.simple_reduce(root, op, arg, &in_idx, &red, &out_off, count, Mode::Vector)?;
                    e.lane = None;
                    Ok(())
                })?;
                e.counted_loop(nv, n, 1, &mut |e, i| {
                    e.bind(lane, i);
                    e.simple_reduce(root, op, arg, &in_idx, &red, &out_off, count, Mode::Scalar)
                })
            });
        }
        let red = red_vars.clone();
        self.nest(&out_vars.clone(), &mut |e| {
            e.simple_reduce(root, op, arg, &in_idx, &red, &out_off, count, Mode::Scalar)
        })
    }

    fn identity(&mut self, op: ReduceOp, dt: DType, mode: Mode) -> Value {
        let s = match (op, dt.is_float()) {
            // -0.0, not +0.0: it is the exact additive identity (-0.0 + x == x for every x,
            // also x = -0.0), so a sum over one element, or over only -0.0s, keeps -0.0 as the
            // reference's fold from the first element does. (Empty sums store +0.0 directly.)
            (ReduceOp::Sum | ReduceOp::Mean, true) => Scalar::Float(-0.0),
            (ReduceOp::Prod, true) => Scalar::Float(1.0),
            (ReduceOp::Max | ReduceOp::ArgMax, true) => Scalar::Float(f64::NEG_INFINITY),
            (ReduceOp::Min | ReduceOp::ArgMin, true) => Scalar::Float(f64::INFINITY),
            (ReduceOp::Sum | ReduceOp::Mean, false) => Scalar::Int(0),
            (ReduceOp::Prod, false) => Scalar::Int(1),
            (ReduceOp::Max | ReduceOp::ArgMax, false) => Scalar::Int(int_min(dt)),
            (ReduceOp::Min | ReduceOp::ArgMin, false) => Scalar::Int(int_max(dt)),
        };
        self.constant(dt, s, mode)
    }

    fn combine(&mut self, op: ReduceOp, dt: DType, acc: Value, x: Value) -> Value {
        let f = dt.is_float();
        let ins = self.b.ins();
        match op {
            ReduceOp::Sum | ReduceOp::Mean if f => ins.fadd(acc, x),
            ReduceOp::Sum | ReduceOp::Mean => ins.iadd(acc, x),
            ReduceOp::Prod if f => ins.fmul(acc, x),
            ReduceOp::Prod => ins.imul(acc, x),
            ReduceOp::Max if f => ins.fmax(acc, x),
            ReduceOp::Max => ins.smax(acc, x),
            ReduceOp::Min if f => ins.fmin(acc, x),
            ReduceOp::Min => ins.smin(acc, x),
            ReduceOp::ArgMax | ReduceOp::ArgMin => acc,
        }
    }

    /// Float max/min reductions accumulate with the one-instruction x86 `maxps`/`minps`
    /// pattern (which drops NaN) and track NaN in a separate mask, instead of IEEE
    /// `fmax`/`fmin` (about 8 instructions per vector); the mask restores NaN at the end.
    fn tracks_nan(op: ReduceOp, dt: DType) -> bool {
        dt.is_float() && matches!(op, ReduceOp::Max | ReduceOp::Min)
    }

    fn nan_var(&mut self, op: ReduceOp, dt: DType, mode: Mode) -> Option<Track> {
        if !Self::tracks_nan(op, dt) {
            return None;
        }
        let (ty, zero) = match mode {
            Mode::Vector => {
                let z = self.b.ins().iconst(types::I32, 0);
                (types::I32X4, self.b.ins().splat(types::I32X4, z))
            }
            Mode::Scalar => (types::I8, self.b.ins().iconst(types::I8, 0)),
        };
        let nan = self.b.declare_var(ty);
        self.b.def_var(nan, zero);
        // All ones for the AND of max, zero for the OR of min.
        let init = if op == ReduceOp::Max { -1 } else { 0 };
        let (ty, bits) = match (mode, dt) {
            (Mode::Vector, _) => {
                let c = self.b.ins().iconst(types::I32, init);
                (types::I32X4, self.b.ins().splat(types::I32X4, c))
            }
            (Mode::Scalar, DType::F64) => (types::I64, self.b.ins().iconst(types::I64, init)),
            (Mode::Scalar, _) => (types::I32, self.b.ins().iconst(types::I32, init)),
        };
        let zero = self.b.declare_var(ty);
        self.b.def_var(zero, bits);
        Some(Track { nan, zero })
    }

    /// The integer type of the same width as `v`'s float type (`I32X4` for `F32X4`).
    fn bits_ty(&self, v: Value) -> Type {
        match self.b.func.dfg.value_type(v) {
            types::F32X4 => types::I32X4,
            types::F64 => types::I64,
            _ => types::I32,
        }
    }

    /// The sign bit of `dt` as an integer of the same width.
    fn sign_bit(&mut self, dt: DType, mode: Mode) -> Value {
        let (ity, bit) = if dt == DType::F64 {
            (types::I64, i64::MIN)
        } else {
            (types::I32, i32::MIN as i64)
        };
        let c = self.b.ins().iconst(ity, bit);
        match mode {
            Mode::Scalar => c,
            Mode::Vector => self.b.ins().splat(types::I32X4, c),
        }
    }

    /// Fixes the sign of a zero result of a select-accumulated max / min. `acc` is the IEEE
    /// combination of the accumulators of one lane (or one scalar) and `bits` the AND (max) /
    /// OR (min) of the bits of all the elements it covers. If the maximum is a zero, every
    /// element is <= 0, so the AND has its sign bit clear iff some element is +0.0 — exactly
    /// when the result must be +0.0; likewise for the minimum, the OR has its sign bit set iff
    /// some element is -0.0. So a zero result becomes the zero with the sign bit of `bits`.
    fn fix_zero(&mut self, dt: DType, acc: Value, bits: Option<Value>) -> Value {
        let Some(bits) = bits else { return acc };
        let vector = self.b.func.dfg.value_type(acc).is_vector();
        let mode = if vector { Mode::Vector } else { Mode::Scalar };
        let fty = self.b.func.dfg.value_type(acc);
        let sign = self.sign_bit(dt, mode);
        let zero_bits = self.b.ins().band(bits, sign);
        let signed_zero = self.b.ins().bitcast(fty, MemFlagsData::new(), zero_bits);
        let z = self.fconst(dt, 0.0, mode);
        let is_zero = self.b.ins().fcmp(FloatCC::Equal, acc, z);
        self.fselect(mode, is_zero, signed_zero, acc)
    }

    /// `acc = op(acc, x)`, with NaN and signed-zero tracking when `nan` is given.
    fn accumulate(&mut self, op: ReduceOp, dt: DType, acc: Variable, nan: Option<Track>, x: Value) {
        let cur = self.b.use_var(acc);
        let next = match nan {
            Some(Track { nan: nv, zero: zv }) => {
                let vector = self.b.func.dfg.value_type(x).is_vector();
                let mode = if vector { Mode::Vector } else { Mode::Scalar };
                // max: acc < x ? x : acc   min: x < acc ? x : acc  (NaN x keeps acc)
                let m = if op == ReduceOp::Max {
                    self.b.ins().fcmp(FloatCC::LessThan, cur, x)
                } else {
                    self.b.ins().fcmp(FloatCC::LessThan, x, cur)
                };
                let u = self.b.ins().fcmp(FloatCC::Unordered, x, x);
                let f = self.b.use_var(nv);
                let f = self.b.ins().bor(f, u);
                self.b.def_var(nv, f);
                // On a tie the select keeps acc, but max(-0.0, +0.0) must be +0.0 and
                // min(+0.0, -0.0) must be -0.0 in either order (IEEE maximum/minimum). Fold the
                // element's bits into `zero` (one AND / OR, off the accumulator's dependency
                // chain); `fix_zero` gives a zero result its sign at the end.
                let ity = self.bits_ty(x);
                let bits = self.b.ins().bitcast(ity, MemFlagsData::new(), x);
                let z = self.b.use_var(zv);
                let z = if op == ReduceOp::Max {
                    self.b.ins().band(z, bits)
                } else {
                    self.b.ins().bor(z, bits)
                };
                self.b.def_var(zv, z);
                self.fselect(mode, m, x, cur)
            }
            None => self.combine(op, dt, cur, x),
        };
        self.b.def_var(acc, next);
    }

    /// Replaces `total` by NaN where the NaN masks are set. `total` is scalar unless `vector`
    /// is the only mask, in which case lanes are kept apart.
    fn restore_nan(
        &mut self,
        dt: DType,
        total: Value,
        vmask: Option<Value>,
        smask: Option<Value>,
    ) -> Value {
        let total_vec = self.b.func.dfg.value_type(total).is_vector();
        if total_vec {
            let Some(m) = vmask else { return total };
            let nan = self.fconst(dt, f64::NAN, Mode::Vector);
            return self.fselect(Mode::Vector, m, nan, total);
        }
        let mut flag = smask;
        if let Some(m) = vmask {
            let mut any = self.b.ins().extractlane(m, 0);
            for l in 1..LANES as u8 {
                let x = self.b.ins().extractlane(m, l);
                any = self.b.ins().bor(any, x);
            }
            let any = self.b.ins().icmp_imm_s(IntCC::NotEqual, any, 0);
            flag = Some(match flag {
                Some(f) => self.b.ins().bor(f, any),
                None => any,
            });
        }
        let Some(flag) = flag else { return total };
        let nan = self.fconst(dt, f64::NAN, Mode::Scalar);
        self.b.ins().select(flag, nan, total)
    }

    fn horizontal(&mut self, op: ReduceOp, dt: DType, v: Value) -> Value {
        let mut acc = self.b.ins().extractlane(v, 0);
        for l in 1..LANES as u8 {
            let x = self.b.ins().extractlane(v, l);
            acc = self.combine(op, dt, acc, x);
        }
        acc
    }

    fn finish_mean(
        &mut self,
        op: ReduceOp,
        dt: DType,
        v: Value,
        count: usize,
        mode: Mode,
    ) -> Value {
        if op != ReduceOp::Mean {
            return v;
        }
        let inv = self.constant(dt, Scalar::Float(1.0 / count as f64), mode);
        self.b.ins().fmul(v, inv)
    }

    #[allow(clippy::too_many_arguments)]
    fn simple_reduce(
        &mut self,
        root: ValueId,
        op: ReduceOp,
        arg: ValueId,
        in_idx: &[Idx],
        red: &[Var],
        out_off: &Idx,
        count: usize,
        mode: Mode,
    ) -> R<()> {
        let dt = self.p.value_type(arg).dtype;
        let ty = if mode == Mode::Vector {
            lane_ty(dt)
        } else {
            scalar_ty(dt)
        };
        let acc = self.b.declare_var(ty);
        let init = self.identity(op, dt, mode);
        self.b.def_var(acc, init);
        let nan = self.nan_var(op, dt, mode);
        self.nest(red, &mut |e| {
            e.clear_memo();
            let x = e.compute_or_load(arg, in_idx, mode)?;
            e.accumulate(op, dt, acc, nan, x);
            Ok(())
        })?;
        let a = self.b.use_var(acc);
        let bits = nan.map(|t| self.b.use_var(t.zero));
        let a = self.fix_zero(dt, a, bits);
        let a = self.finish_mean(op, dt, a, count, mode);
        let a = match (nan, mode) {
            (Some(t), Mode::Vector) => {
                let m = self.b.use_var(t.nan);
                self.restore_nan(dt, a, Some(m), None)
            }
            (Some(t), Mode::Scalar) => {
                let m = self.b.use_var(t.nan);
                self.restore_nan(dt, a, None, Some(m))
            }
            (None, _) => a,
        };
        self.store(root, out_off, a, mode)
    }

    #[allow(clippy::too_many_arguments)]
    fn inner_vector_reduce(
        &mut self,
        root: ValueId,
        op: ReduceOp,
        arg: ValueId,
        in_idx: &[Idx],
        lane: Var,
        outer_red: &[Var],
        out_off: &Idx,
        count: usize,
    ) -> R<()> {
        const UNROLL: i64 = 4;
        let dt = self.p.value_type(arg).dtype;
        let n = self.ext[lane as usize] as i64;
        let accs: Vec<Variable> = (0..UNROLL)
            .map(|_| self.b.declare_var(lane_ty(dt)))
            .collect();
        let sacc = self.b.declare_var(scalar_ty(dt));
        for &a in &accs {
            let init = self.identity(op, dt, Mode::Vector);
            self.b.def_var(a, init);
        }
        let init = self.identity(op, dt, Mode::Scalar);
        self.b.def_var(sacc, init);
        let vnan = self.nan_var(op, dt, Mode::Vector);
        let snan = self.nan_var(op, dt, Mode::Scalar);
        let n16 = n - n % (LANES * UNROLL);
        let n4 = n - n % LANES;
        self.nest(outer_red, &mut |e| {
            e.counted_loop(0, n16, LANES * UNROLL, &mut |e, i| {
                e.bind(lane, i);
                e.lane = Some(lane);
                e.clear_memo();
                for (u, &a) in accs.iter().enumerate() {
                    let idx: Vec<Idx> = in_idx
                        .iter()
                        .map(|x| x.shift(lane, u as i64 * LANES, &e.ext))
                        .collect();
                    let x = e.compute_or_load(arg, &idx, Mode::Vector)?;
                    e.accumulate(op, dt, a, vnan, x);
                }
                e.lane = None;
                Ok(())
            })?;
            e.counted_loop(n16, n4, LANES, &mut |e, i| {
                e.bind(lane, i);
                e.lane = Some(lane);
                e.clear_memo();
                let x = e.compute_or_load(arg, in_idx, Mode::Vector)?;
                e.accumulate(op, dt, accs[0], vnan, x);
                e.lane = None;
                Ok(())
            })?;
            e.counted_loop(n4, n, 1, &mut |e, i| {
                e.bind(lane, i);
                e.clear_memo();
                let x = e.compute_or_load(arg, in_idx, Mode::Scalar)?;
                e.accumulate(op, dt, sacc, snan, x);
                Ok(())
            })
        })?;
        let mut v = self.b.use_var(accs[0]);
        for &a in &accs[1..] {
            let x = self.b.use_var(a);
            v = self.combine(op, dt, v, x);
        }
        // Accumulators are combined with IEEE fmax/fmin first: a lane's `zero` bits are shared
        // by the four accumulators, so they describe only their combination.
        let bits = vnan.map(|t| self.b.use_var(t.zero));
        let v = self.fix_zero(dt, v, bits);
        let h = self.horizontal(op, dt, v);
        let s = self.b.use_var(sacc);
        let bits = snan.map(|t| self.b.use_var(t.zero));
        let s = self.fix_zero(dt, s, bits);
        let total = self.combine(op, dt, h, s);
        let total = self.finish_mean(op, dt, total, count, Mode::Scalar);
        let vm = vnan.map(|t| self.b.use_var(t.nan));
        let sm = snan.map(|t| self.b.use_var(t.nan));
        let total = self.restore_nan(dt, total, vm, sm);
        self.store(root, out_off, total, Mode::Scalar)
    }

    #[allow(clippy::too_many_arguments)]
    fn arg_reduce(
        &mut self,
        root: ValueId,
        op: ReduceOp,
        arg: ValueId,
        in_idx: &[Idx],
        axis: usize,
        red: &[Var],
        out_off: &Idx,
    ) -> R<()> {
        let dt = self.p.value_type(arg).dtype;
        let best = self.b.declare_var(scalar_ty(dt));
        let best_i = self.b.declare_var(types::I64);
        let init = self.identity(op, dt, Mode::Scalar);
        self.b.def_var(best, init);
        let zero = self.b.ins().iconst(types::I64, 0);
        self.b.def_var(best_i, zero);
        self.nest(red, &mut |e| {
            e.clear_memo();
            let x = e.compute_or_load(arg, in_idx, Mode::Scalar)?;
            let cur = e.b.use_var(best);
            let better = if dt.is_float() {
                let cc = if op == ReduceOp::ArgMax {
                    FloatCC::GreaterThan
                } else {
                    FloatCC::LessThan
                };
                let gt = e.b.ins().fcmp(cc, x, cur);
                let xnan = e.b.ins().fcmp(FloatCC::Unordered, x, x);
                let cur_ok = e.b.ins().fcmp(FloatCC::Ordered, cur, cur);
                let nan_wins = e.b.ins().band(xnan, cur_ok);
                e.b.ins().bor(gt, nan_wins)
            } else {
                let cc = if op == ReduceOp::ArgMax {
                    IntCC::SignedGreaterThan
                } else {
                    IntCC::SignedLessThan
                };
                e.b.ins().icmp(cc, x, cur)
            };
            let i = e.idx_value(&in_idx[axis]);
            let nb = e.b.ins().select(better, x, cur);
            e.b.def_var(best, nb);
            let bi = e.b.use_var(best_i);
            let nbi = e.b.ins().select(better, i, bi);
            e.b.def_var(best_i, nbi);
            Ok(())
        })?;
        let bi = self.b.use_var(best_i);
        self.store(root, out_off, bi, Mode::Scalar)
    }

    // ---------------------------------------------------------------- memory

    /// Address of element `off` as (pointer, immediate byte offset). The constant part of the
    /// index goes into the immediate, so unrolled copies and neighbouring accesses share one
    /// address computation and fold into x86 addressing modes.
    fn elem_addr(&mut self, base: Value, off: &Idx, size: i64) -> (Value, i32) {
        let imm = off.c.checked_mul(size).and_then(|x| i32::try_from(x).ok());
        if let (Some(imm), true) = (imm, off.terms.is_empty()) {
            return (base, imm);
        }
        let (var, imm) = match imm {
            Some(imm) if !off.terms.is_empty() => (
                Idx {
                    c: 0,
                    terms: off.terms.clone(),
                },
                imm,
            ),
            _ => (off.clone(), 0),
        };
        let o = self.idx_value(&var);
        let bytes = self.b.ins().imul_imm_s(o, size);
        let bytes = if self.ptr_ty == types::I64 {
            bytes
        } else {
            self.b.ins().ireduce(self.ptr_ty, bytes)
        };
        (self.b.ins().iadd(base, bytes), imm)
    }

    fn store(&mut self, root: ValueId, off: &Idx, val: Value, mode: Mode) -> R<()> {
        let dt = self.p.value_type(root).dtype;
        let base = self.bases.get(&mut self.b, root)?;
        let size = dt.size_bytes() as i64;
        let flags = MemFlagsData::new().with_notrap();
        match (mode, dt) {
            (Mode::Vector, DType::Bool) => {
                let lane = self.lane.ok_or_else(|| cg("vector store without a lane"))?;
                for l in 0..LANES {
                    let o = off.shift(lane, l, &self.ext);
                    let (addr, imm) = self.elem_addr(base, &o, 1);
                    let x = self.b.ins().extractlane(val, l as u8);
                    let x = self.b.ins().ireduce(types::I8, x);
                    let x = self.b.ins().band_imm_s(x, 1);
                    self.b.ins().store(flags, x, addr, imm);
                }
            }
            _ => {
                let (addr, imm) = self.elem_addr(base, off, size);
                self.b.ins().store(flags, val, addr, imm);
            }
        }
        Ok(())
    }

    fn load(&mut self, v: ValueId, idx: &[Idx], mode: Mode) -> R<Value> {
        let ty = self.p.value_type(v).clone();
        let base = self.bases.get(&mut self.b, v)?;
        let st = row_strides(&ty.shape);
        let off = self
            .strip(v, idx)
            .iter()
            .zip(&st)
            .fold(Idx::konst(0), |acc, (i, s)| acc.add(&i.scale(*s)));
        let size = ty.dtype.size_bytes() as i64;
        let flags = MemFlagsData::new().with_notrap();
        match mode {
            Mode::Scalar => {
                let (addr, imm) = self.elem_addr(base, &off, size);
                Ok(self.b.ins().load(scalar_ty(ty.dtype), flags, addr, imm))
            }
            Mode::Vector => {
                let lane = self.lane.ok_or_else(|| cg("vector load without a lane"))?;
                match off.affine_coef(lane) {
                    Some(1) if ty.dtype != DType::Bool => {
                        let (addr, imm) = self.elem_addr(base, &off, size);
                        Ok(self.b.ins().load(lane_ty(ty.dtype), flags, addr, imm))
                    }
                    Some(0) => {
                        let (addr, imm) = self.elem_addr(base, &off, size);
                        let x = self.b.ins().load(scalar_ty(ty.dtype), flags, addr, imm);
                        Ok(self.splat(ty.dtype, x))
                    }
                    _ => self.per_lane(v, idx, true),
                }
            }
        }
    }

    // ---------------------------------------------------------------- values

    fn idx_value(&mut self, i: &Idx) -> Value {
        let mut acc: Option<Value> = None;
        for (a, k) in &i.terms {
            let av = match a {
                Atom::Var(v) => self.env[*v as usize].expect("index variable bound before use"),
                Atom::Div(e, q) => {
                    let x = self.idx_value(e);
                    let q = self.b.ins().iconst(types::I64, *q);
                    self.b.ins().udiv(x, q)
                }
                Atom::Rem(e, q) => {
                    let x = self.idx_value(e);
                    let q = self.b.ins().iconst(types::I64, *q);
                    self.b.ins().urem(x, q)
                }
            };
            let t = if *k == 1 {
                av
            } else {
                self.b.ins().imul_imm_s(av, *k)
            };
            acc = Some(match acc {
                None => t,
                Some(a) => self.b.ins().iadd(a, t),
            });
        }
        match acc {
            None => self.b.ins().iconst(types::I64, i.c),
            Some(a) if i.c == 0 => a,
            Some(a) => self.b.ins().iadd_imm_s(a, i.c),
        }
    }

    /// Converts a scalar of dtype `d` to its four-lane form (bools become 0/-1 masks).
    fn splat(&mut self, d: DType, x: Value) -> Value {
        let x = if d == DType::Bool {
            self.bool_to_mask_lane(x)
        } else {
            x
        };
        self.b.ins().splat(lane_ty(d), x)
    }

    fn bool_to_mask_lane(&mut self, x: Value) -> Value {
        let w = self.b.ins().uextend(types::I32, x);
        self.b.ins().ineg(w)
    }

    fn constant(&mut self, d: DType, s: Scalar, mode: Mode) -> Value {
        let x = match d {
            // An integer literal converts to f32 directly (`as`); going through f64 first
            // would round twice (2^60 + 2^36 + 1 would become 2^60, not 2^60 + 2^37).
            DType::F32 => self.b.ins().f32const(match s {
                Scalar::Int(i) => i as f32,
                _ => s.as_f64() as f32,
            }),
            DType::F64 => self.b.ins().f64const(s.as_f64()),
            DType::I32 => self.b.ins().iconst(types::I32, s.as_i64() as i32 as i64),
            DType::I64 => self.b.ins().iconst(types::I64, s.as_i64()),
            DType::Bool => self.b.ins().iconst(types::I8, s.as_bool() as i64),
        };
        match mode {
            Mode::Scalar => x,
            Mode::Vector => self.splat(d, x),
        }
    }

    /// Evaluates `v` at `idx` once per lane in scalar mode and packs the lanes.
    fn per_lane(&mut self, v: ValueId, idx: &[Idx], from_buffer: bool) -> R<Value> {
        let lane = self
            .lane
            .ok_or_else(|| cg("per-lane evaluation without a lane"))?;
        let d = self.p.value_type(v).dtype;
        let mut out: Option<Value> = None;
        for l in 0..LANES {
            let li: Vec<Idx> = idx.iter().map(|i| i.shift(lane, l, &self.ext)).collect();
            // Not `compute_or_load`: `v` may be the kernel root, which has a buffer (the one
            // this kernel is writing), so that would load the output instead of computing it.
            let x = if from_buffer {
                self.load(v, &li, Mode::Scalar)?
            } else {
                self.compute(v, &li, Mode::Scalar)?
            };
            let x = if d == DType::Bool {
                self.bool_to_mask_lane(x)
            } else {
                x
            };
            out = Some(match out {
                None => self.b.ins().splat(lane_ty(d), x),
                Some(acc) => self.b.ins().insertlane(acc, x, l as u8),
            });
        }
        out.ok_or_else(|| cg("no lanes"))
    }

    /// The value of `v` at `idx`: loaded if `v` has a buffer, computed otherwise.
    fn compute_or_load(&mut self, v: ValueId, idx: &[Idx], mode: Mode) -> R<Value> {
        if self.plan.is_buffer(v) {
            let key = (v, idx.to_vec(), mode);
            if let Some(x) = self.memo.get(&key) {
                return Ok(*x);
            }
            let x = self.load(v, idx, mode)?;
            self.memo.insert(key, x);
            return Ok(x);
        }
        self.compute(v, idx, mode)
    }

    fn vec_ok(&self, v: ValueId) -> bool {
        let Some(inst) = self.p.inst(v) else {
            return true;
        };
        let d = inst.ty.dtype;
        // A concat's operands all have its dtype; checking one keeps a cut concat of many
        // operands from costing all of them in every piece.
        let args = match inst.op {
            Op::Concat { .. } => &inst.args[..1],
            _ => &inst.args[..],
        };
        if !vec_dtype(d) || !args.iter().all(|a| vec_dtype(self.p.value_type(*a).dtype)) {
            return false;
        }
        match &inst.op {
            Op::Unary(u) => match d {
                DType::F32 => true,
                DType::I32 => !matches!(u, UnaryOp::Not),
                _ => *u == UnaryOp::Not,
            },
            Op::Binary(bop) => {
                let ad = self.p.value_type(inst.args[0]).dtype;
                !(ad == DType::I32 && *bop == BinaryOp::Div)
            }
            Op::Iota { .. } | Op::Gather { .. } | Op::IndexSelect { .. } => false,
            Op::Reduce { .. } | Op::MatMul => false,
            _ => true,
        }
    }

    /// Computes instruction `v` at `idx` from its operands.
    fn compute(&mut self, v: ValueId, idx: &[Idx], mode: Mode) -> R<Value> {
        let key = (v, idx.to_vec(), mode);
        if let Some(x) = self.memo.get(&key) {
            return Ok(*x);
        }
        let x = if mode == Mode::Vector && !self.vec_ok(v) {
            self.per_lane(v, idx, false)?
        } else {
            self.compute_inst(v, idx, mode)?
        };
        self.memo.insert(key, x);
        Ok(x)
    }

    fn broadcast_idx(&self, out: &[Idx], arg: ValueId) -> Vec<Idx> {
        let s = self.p.value_type(arg).shape.dims();
        let off = out.len() - s.len();
        s.iter()
            .enumerate()
            .map(|(j, &n)| {
                if n == 1 {
                    Idx::konst(0)
                } else {
                    out[j + off].clone()
                }
            })
            .collect()
    }

    fn compute_inst(&mut self, v: ValueId, idx: &[Idx], mode: Mode) -> R<Value> {
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
                Ok(self.unary(*u, d, x, mode))
            }
            Op::Binary(bop) => {
                let ad = p.value_type(args[0]).dtype;
                let i0 = self.broadcast_idx(idx, args[0]);
                let i1 = self.broadcast_idx(idx, args[1]);
                let x = self.compute_or_load(args[0], &i0, mode)?;
                let y = self.compute_or_load(args[1], &i1, mode)?;
                Ok(self.binary(*bop, ad, x, y, mode))
            }
            Op::Where => {
                let ic = self.broadcast_idx(idx, args[0]);
                let ia = self.broadcast_idx(idx, args[1]);
                let ib = self.broadcast_idx(idx, args[2]);
                let c = self.compute_or_load(args[0], &ic, mode)?;
                let a = self.compute_or_load(args[1], &ia, mode)?;
                let b = self.compute_or_load(args[2], &ib, mode)?;
                Ok(match mode {
                    Mode::Scalar => self.b.ins().select(c, a, b),
                    Mode::Vector => {
                        let m = if d == DType::F32 {
                            self.b.ins().bitcast(types::F32X4, MemFlagsData::new(), c)
                        } else {
                            c
                        };
                        self.b.ins().bitselect(m, a, b)
                    }
                })
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
                let out_rs = row_strides(&inst.ty.shape);
                let in_shape = &p.value_type(args[0]).shape;
                let in_rs = row_strides(in_shape);
                let lin = idx
                    .iter()
                    .zip(&out_rs)
                    .fold(Idx::konst(0), |acc, (i, s)| acc.add(&i.scale(*s)));
                let ext = &self.ext;
                let ai: Vec<Idx> = in_shape
                    .dims()
                    .iter()
                    .zip(&in_rs)
                    .map(|(&n, &s)| {
                        if n == 1 {
                            Idx::konst(0)
                        } else {
                            lin.div(s, ext).rem(n as i64, ext)
                        }
                    })
                    .collect();
                self.compute_or_load(args[0], &ai, mode)
            }
            Op::Permute { perm } => {
                let mut ai = vec![Idx::konst(0); perm.len()];
                for (i, &pi) in perm.iter().enumerate() {
                    ai[pi] = idx[i].clone();
                }
                self.compute_or_load(args[0], &ai, mode)
            }
            Op::Expand { .. } => {
                let ai = self.broadcast_idx(idx, args[0]);
                self.compute_or_load(args[0], &ai, mode)
            }
            Op::Slice { starts, steps, .. } => {
                let ai: Vec<Idx> = idx
                    .iter()
                    .enumerate()
                    .map(|(k, i)| i.scale(steps[k] as i64).add_const(starts[k] as i64))
                    .collect();
                self.compute_or_load(args[0], &ai, mode)
            }
            Op::Pad { lo, value, .. } => self.pad(v, args[0], lo, *value, idx, mode),
            Op::Concat { axis } => self.concat(v, args, *axis, idx, mode),
            Op::Gather { axis } => {
                let ii = idx.to_vec();
                let iv = self.compute_or_load(args[1], &ii, Mode::Scalar)?;
                let w = self.checked_index(v, iv, args[0], *axis, false)?;
                let Some(w) = w else {
                    return Ok(self.constant(d, Scalar::Int(0), Mode::Scalar));
                };
                let mut di = idx.to_vec();
                di[*axis] = Idx::var(w);
                self.compute_or_load(args[0], &di, Mode::Scalar)
            }
            Op::IndexSelect { axis } => {
                let ri = p.value_type(args[1]).shape.rank();
                let ii = idx[*axis..*axis + ri].to_vec();
                let iv = self.compute_or_load(args[1], &ii, Mode::Scalar)?;
                let w = self.checked_index(v, iv, args[0], *axis, false)?;
                let Some(w) = w else {
                    return Ok(self.constant(d, Scalar::Int(0), Mode::Scalar));
                };
                let mut di = idx[..*axis].to_vec();
                di.push(Idx::var(w));
                di.extend_from_slice(&idx[*axis + ri..]);
                self.compute_or_load(args[0], &di, Mode::Scalar)
            }
            Op::Reduce { .. } | Op::MatMul => Err(cg(format!(
                "{} {v} must have a buffer but was inlined",
                inst.op.name()
            ))),
        }
    }

    /// Bounds-checks a runtime index against `data`'s `axis`. With `report` (check kernels),
    /// an out-of-range index is recorded in the status word and the kernel returns at once, so
    /// the first bad index in row-major order is the one reported; check kernels run in
    /// program order and the runner stops at the first failing one. Without `report` (a
    /// gather computed inside another kernel, whose indices its check kernel has validated
    /// before), the index is only clamped, so that no value can ever cause an out-of-bounds
    /// read. Returns a variable bound to the safe index, or `None` when the axis is empty.
    fn checked_index(
        &mut self,
        v: ValueId,
        iv: Value,
        data: ValueId,
        axis: usize,
        report: bool,
    ) -> R<Option<Var>> {
        let n = self.p.value_type(data).shape.dims()[axis];
        let iv = if self.b.func.dfg.value_type(iv) == types::I64 {
            iv
        } else {
            self.b.ins().sextend(types::I64, iv)
        };
        let bad = self
            .b
            .ins()
            .icmp_imm_s(IntCC::UnsignedGreaterThanOrEqual, iv, n as i64);
        if report {
            let err = self.b.create_block();
            let cont = self.b.create_block();
            self.b.ins().brif(bad, err, &[], cont, &[]);
            self.b.set_cold_block(err);
            self.b.switch_to_block(err);
            let code = self.b.ins().iconst(types::I64, v.0 as i64 + 1);
            let flags = MemFlagsData::new().with_notrap();
            self.b.ins().store(flags, code, self.status, 0);
            self.b.ins().store(flags, iv, self.status, 8);
            self.b.ins().return_(&[]);
            self.b.switch_to_block(cont);
        }
        if n == 0 {
            return Ok(None);
        }
        let zero = self.b.ins().iconst(types::I64, 0);
        let safe = self.b.ins().select(bad, zero, iv);
        let w = self.new_var(n);
        self.bind(w, safe);
        Ok(Some(w))
    }

    fn pad(
        &mut self,
        v: ValueId,
        arg: ValueId,
        lo: &[usize],
        value: Scalar,
        idx: &[Idx],
        mode: Mode,
    ) -> R<Value> {
        let in_dims = self.p.value_type(arg).shape.dims().to_vec();
        let d = self.p.value_type(v).dtype;
        let mut ai = Vec::with_capacity(idx.len());
        let mut guarded = Vec::new();
        for (k, i) in idx.iter().enumerate() {
            let j = i.add_const(-(lo[k] as i64));
            let (mn, mx) = j.range(&self.ext);
            if mn >= 0 && mx < in_dims[k] as i64 {
                ai.push(j);
            } else {
                if in_dims[k] == 0 {
                    return Ok(self.constant(d, value, mode));
                }
                guarded.push((k, j));
                ai.push(Idx::konst(0));
            }
        }
        if mode == Mode::Vector {
            let lane = self.lane.ok_or_else(|| cg("vector pad without a lane"))?;
            if guarded.iter().any(|(_, j)| j.mentions(lane)) {
                return self.per_lane(v, idx, false);
            }
        }
        let mut cond: Option<Value> = None;
        for (k, j) in guarded {
            let jv = self.idx_value(&j);
            let n = in_dims[k] as i64;
            let inb = self.b.ins().icmp_imm_s(IntCC::UnsignedLessThan, jv, n);
            let zero = self.b.ins().iconst(types::I64, 0);
            let safe = self.b.ins().select(inb, jv, zero);
            let w = self.new_var(in_dims[k]);
            self.bind(w, safe);
            ai[k] = Idx::var(w);
            cond = Some(match cond {
                None => inb,
                Some(c) => self.b.ins().band(c, inb),
            });
        }
        let x = self.compute_or_load(arg, &ai, mode)?;
        let Some(c) = cond else { return Ok(x) };
        let pv = self.constant(d, value, mode);
        Ok(self.b.ins().select(c, x, pv))
    }

    fn concat(
        &mut self,
        v: ValueId,
        args: &[ValueId],
        axis: usize,
        idx: &[Idx],
        mode: Mode,
    ) -> R<Value> {
        let (lo, hi) = idx[axis].range(&self.ext);
        let p = self.p;
        let starts = self
            .concat_starts
            .entry(v)
            .or_insert_with(|| operand_starts(p, args, axis));
        let parts = overlapping(args, starts, lo, hi);
        if let [(a, o, n)] = parts[..] {
            if lo >= o && hi < o + n {
                let mut ai = idx.to_vec();
                ai[axis] = idx[axis].add_const(-o);
                return self.compute_or_load(a, &ai, mode);
            }
        }
        if mode == Mode::Vector {
            let lane = self
                .lane
                .ok_or_else(|| cg("vector concat without a lane"))?;
            if idx[axis].mentions(lane) {
                return self.per_lane(v, idx, false);
            }
        }
        let pos = self.idx_value(&idx[axis]);
        let mut result: Option<Value> = None;
        for &(a, o, n) in parts.iter().rev() {
            let rel = self.b.ins().iadd_imm_s(pos, -o);
            let inb = self.b.ins().icmp_imm_s(IntCC::UnsignedLessThan, rel, n);
            let zero = self.b.ins().iconst(types::I64, 0);
            let safe = self.b.ins().select(inb, rel, zero);
            let w = self.new_var(n as usize);
            self.bind(w, safe);
            let mut ai = idx.to_vec();
            ai[axis] = Idx::var(w);
            let x = self.compute_or_load(a, &ai, mode)?;
            result = Some(match result {
                None => x,
                Some(r) => self.b.ins().select(inb, x, r),
            });
        }
        result.ok_or_else(|| cg("concat of nothing"))
    }

    fn cast_index(&mut self, i: Value, d: DType) -> Value {
        match d {
            DType::F32 => self.b.ins().fcvt_from_sint(types::F32, i),
            DType::F64 => self.b.ins().fcvt_from_sint(types::F64, i),
            DType::I32 => self.b.ins().ireduce(types::I32, i),
            DType::I64 => i,
            DType::Bool => self.b.ins().icmp_imm_s(IntCC::NotEqual, i, 0),
        }
    }

    fn fconst(&mut self, d: DType, v: f64, mode: Mode) -> Value {
        self.constant(d, Scalar::Float(v), mode)
    }

    /// Float mask (vector) or i8 condition (scalar) to a value selector.
    fn fselect(&mut self, mode: Mode, m: Value, a: Value, b: Value) -> Value {
        match mode {
            Mode::Scalar => self.b.ins().select(m, a, b),
            Mode::Vector => {
                let m = self.b.ins().bitcast(types::F32X4, MemFlagsData::new(), m);
                self.b.ins().bitselect(m, a, b)
            }
        }
    }

    fn unary(&mut self, u: UnaryOp, d: DType, x: Value, mode: Mode) -> Value {
        let ty = match mode {
            Mode::Scalar => scalar_ty(d),
            Mode::Vector => lane_ty(d),
        };
        if d == DType::Bool {
            return match mode {
                Mode::Scalar => self.b.ins().bxor_imm_s(x, 1),
                Mode::Vector => self.b.ins().bnot(x),
            };
        }
        if d.is_int() {
            let ins = self.b.ins();
            return match u {
                UnaryOp::Neg => ins.ineg(x),
                UnaryOp::Abs => ins.iabs(x),
                UnaryOp::Relu => {
                    let z = self.constant(d, Scalar::Int(0), mode);
                    self.b.ins().smax(x, z)
                }
                UnaryOp::Sign => {
                    let one = self.constant(d, Scalar::Int(1), mode);
                    let m1 = self.constant(d, Scalar::Int(-1), mode);
                    let t = self.b.ins().smax(x, m1);
                    self.b.ins().smin(t, one)
                }
                _ => x,
            };
        }
        match u {
            UnaryOp::Neg => self.b.ins().fneg(x),
            UnaryOp::Abs => self.b.ins().fabs(x),
            UnaryOp::Sqrt => self.b.ins().sqrt(x),
            UnaryOp::Rsqrt => {
                let s = self.b.ins().sqrt(x);
                let one = self.fconst(d, 1.0, mode);
                self.b.ins().fdiv(one, s)
            }
            UnaryOp::Reciprocal => {
                let one = self.fconst(d, 1.0, mode);
                self.b.ins().fdiv(one, x)
            }
            UnaryOp::Relu => {
                // x <= 0 ? +0 : x — keeps NaN (the compare is false), and lowers to a compare
                // and a blend. `<=`, not `<`: relu(-0.0) must be +0.0 (max(-0.0, +0.0)).
                let z = self.fconst(d, 0.0, mode);
                let m = self.b.ins().fcmp(FloatCC::LessThanOrEqual, x, z);
                self.fselect(mode, m, z, x)
            }
            UnaryOp::Floor => self.b.ins().floor(x),
            UnaryOp::Ceil => self.b.ins().ceil(x),
            UnaryOp::Round => self.b.ins().nearest(x),
            UnaryOp::Sign => {
                let z = self.fconst(d, 0.0, mode);
                let one = self.fconst(d, 1.0, mode);
                let m1 = self.fconst(d, -1.0, mode);
                let pos = self.b.ins().fcmp(FloatCC::GreaterThan, x, z);
                let neg = self.b.ins().fcmp(FloatCC::LessThan, x, z);
                // What is left is ±0 or NaN: x + 0.0 turns -0.0 into +0.0 (sign(-0.0) = +0.0)
                // and keeps NaN.
                let zx = self.b.ins().fadd(x, z);
                let t = self.fselect(mode, neg, m1, zx);
                self.fselect(mode, pos, one, t)
            }
            UnaryOp::Not => x,
            _ if u.is_transcendental() => self.math.unary(&mut self.b, u, ty, x),
            _ => x,
        }
    }

    fn binary(&mut self, op: BinaryOp, d: DType, x: Value, y: Value, mode: Mode) -> Value {
        use BinaryOp as B;
        if d.is_float() {
            let ty = match mode {
                Mode::Scalar => scalar_ty(d),
                Mode::Vector => lane_ty(d),
            };
            let cc = |c| Some(c);
            let fcc = match op {
                B::Eq => cc(FloatCC::Equal),
                B::Ne => cc(FloatCC::NotEqual),
                B::Lt => cc(FloatCC::LessThan),
                B::Le => cc(FloatCC::LessThanOrEqual),
                B::Gt => cc(FloatCC::GreaterThan),
                B::Ge => cc(FloatCC::GreaterThanOrEqual),
                _ => None,
            };
            if let Some(c) = fcc {
                return self.b.ins().fcmp(c, x, y);
            }
            let ins = self.b.ins();
            return match op {
                B::Add => ins.fadd(x, y),
                B::Sub => ins.fsub(x, y),
                B::Mul => ins.fmul(x, y),
                B::Div => ins.fdiv(x, y),
                B::Max => ins.fmax(x, y),
                B::Min => ins.fmin(x, y),
                B::Pow => self.math.pow(&mut self.b, ty, x, y),
                _ => x,
            };
        }
        let icc = match op {
            B::Eq => Some(IntCC::Equal),
            B::Ne => Some(IntCC::NotEqual),
            B::Lt => Some(IntCC::SignedLessThan),
            B::Le => Some(IntCC::SignedLessThanOrEqual),
            B::Gt => Some(IntCC::SignedGreaterThan),
            B::Ge => Some(IntCC::SignedGreaterThanOrEqual),
            _ => None,
        };
        if let Some(c) = icc {
            return self.b.ins().icmp(c, x, y);
        }
        let ins = self.b.ins();
        match op {
            B::Add => ins.iadd(x, y),
            B::Sub => ins.isub(x, y),
            B::Mul => ins.imul(x, y),
            B::Max => ins.smax(x, y),
            B::Min => ins.smin(x, y),
            B::And => ins.band(x, y),
            B::Or => ins.bor(x, y),
            B::Div => {
                // Truncating division with x / 0 = 0 and MIN / -1 = MIN (no trap).
                let ty = scalar_ty(d);
                let is0 = self.b.ins().icmp_imm_s(IntCC::Equal, y, 0);
                let ism1 = self.b.ins().icmp_imm_s(IntCC::Equal, y, -1);
                let special = self.b.ins().bor(is0, ism1);
                let one = self.b.ins().iconst(ty, 1);
                let safe = self.b.ins().select(special, one, y);
                let q = self.b.ins().sdiv(x, safe);
                let nx = self.b.ins().ineg(x);
                let q = self.b.ins().select(ism1, nx, q);
                let zero = self.b.ins().iconst(ty, 0);
                self.b.ins().select(is0, zero, q)
            }
            _ => x,
        }
    }

    fn cast(&mut self, from: DType, to: DType, x: Value, mode: Mode) -> Value {
        if from == to {
            return x;
        }
        if mode == Mode::Vector {
            return match (from, to) {
                (DType::F32, DType::I32) => self.b.ins().fcvt_to_sint_sat(types::I32X4, x),
                (DType::I32, DType::F32) => self.b.ins().fcvt_from_sint(types::F32X4, x),
                (DType::F32, DType::Bool) => {
                    let z = self.fconst(DType::F32, 0.0, mode);
                    self.b.ins().fcmp(FloatCC::NotEqual, x, z)
                }
                (DType::I32, DType::Bool) => {
                    let z = self.constant(DType::I32, Scalar::Int(0), mode);
                    self.b.ins().icmp(IntCC::NotEqual, x, z)
                }
                (DType::Bool, DType::F32) => {
                    let one = self.b.ins().iconst(types::I32, 1.0f32.to_bits() as i64);
                    let one = self.b.ins().splat(types::I32X4, one);
                    let m = self.b.ins().band(x, one);
                    self.b.ins().bitcast(types::F32X4, MemFlagsData::new(), m)
                }
                // (Bool, I32) is the only pair left among vector dtypes.
                _ => {
                    let one = self.constant(DType::I32, Scalar::Int(1), mode);
                    self.b.ins().band(x, one)
                }
            };
        }
        let ty = scalar_ty(to);
        let ins = self.b.ins();
        match (from.is_float(), to) {
            (true, DType::Bool) => {
                let z = if from == DType::F32 {
                    ins.f32const(0.0)
                } else {
                    ins.f64const(0.0)
                };
                self.b.ins().fcmp(FloatCC::NotEqual, x, z)
            }
            (true, DType::F32) => ins.fdemote(types::F32, x),
            (true, DType::F64) => ins.fpromote(types::F64, x),
            (true, _) => ins.fcvt_to_sint_sat(ty, x),
            (false, DType::Bool) => ins.icmp_imm_s(IntCC::NotEqual, x, 0),
            (false, DType::F32 | DType::F64) => {
                if from == DType::Bool {
                    let w = ins.uextend(types::I32, x);
                    self.b.ins().fcvt_from_uint(ty, w)
                } else {
                    ins.fcvt_from_sint(ty, x)
                }
            }
            (false, _) => {
                if from == DType::Bool {
                    ins.uextend(ty, x)
                } else if from.size_bytes() < to.size_bytes() {
                    ins.sextend(ty, x)
                } else {
                    ins.ireduce(ty, x)
                }
            }
        }
    }
}

fn int_min(d: DType) -> i64 {
    if d == DType::I32 {
        i32::MIN as i64
    } else {
        i64::MIN
    }
}

fn int_max(d: DType) -> i64 {
    if d == DType::I32 {
        i32::MAX as i64
    } else {
        i64::MAX
    }
}
