//! Reduction kernels: the loop structure of a reduction (scalar, vectorised over an output
//! dim, or vectorised and unrolled over the innermost reduced dim), identities, combining,
//! NaN and signed-zero tracking for float max/min, mean, and arg reductions.

use super::{cg, lane_ty, row_strides, scalar_ty, vec_dtype, KernelEmitter, Mode, LANES, R};
use crate::codegen::index::{Idx, Var};
use crate::codegen::plan::Storage;
use crate::op::{Op, ReduceOp};
use crate::program::ValueId;
use crate::types::{DType, Scalar, Shape};
use cranelift_codegen::ir::condcodes::{FloatCC, IntCC};
use cranelift_codegen::ir::{types, InstBuilder, MemFlagsData, StackSlot, Type, Value};
use cranelift_frontend::Variable;
use cranelift_module::Module;

/// The shortest row whose max / min is worth a call to the wide function: 8 vectors of the
/// four-lane loop cost about as much as the call.
const WIDE_EXTREMUM_MIN: usize = 64;

/// Side state of a float max/min reduction accumulated with compare-and-select: `nan`, a mask
/// of "a NaN was seen", and `zero`, the bitwise AND (max) / OR (min) of every element's bits,
/// whose sign bit gives the sign of a zero result (see `fix_zero`).
#[derive(Copy, Clone)]
struct Track {
    nan: Variable,
    zero: Variable,
}

/// Most elements a reduction's inner loops may have to be emitted unrolled (and to let the
/// reduction vectorise across outputs with strided loads): a 2x2 or 3x3 pooling window.
const MAX_UNROLLED_REDUCTION: usize = 16;

impl<'a, 'f, 'm, M: Module> KernelEmitter<'a, 'f, 'm, M> {
    pub(super) fn reduce_kernel(&mut self, root: ValueId, outer: &[Idx]) -> R<()> {
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
        // Every path below loops over the output's kept dims outermost (`out_vars`; the
        // across-outputs form vectorises the last of them): a lone reduction splits its first.
        if count == 0 {
            if let Some(&v) = out_vars.first() {
                self.choose_split(v, 1);
            }
            // A reduced axis has size 0 (the output is not empty): every output element is
            // the empty fold. The loops below would not iterate a size-0 axis (only dims > 1
            // get a loop variable) and would read element 0 of an empty buffer instead.
            return self.nest(&out_vars.clone(), &mut |e| {
                let v = match op {
                    ReduceOp::Mean => e.constant(dt, Scalar::Float(f64::NAN), Mode::Scalar),
                    ReduceOp::Sum => e.constant(dt, Scalar::Int(0), Mode::Scalar),
                    ReduceOp::Max
                    | ReduceOp::Min
                    | ReduceOp::Prod
                    | ReduceOp::ArgMax
                    | ReduceOp::ArgMin => e.identity(op, dt, Mode::Scalar),
                };
                e.store(root, &out_off, v, Mode::Scalar)
            });
        }
        let last_looped = (outer.len()..r).rev().find(|&d| dims[d] > 1);
        let simple = !op.is_arg() && vec_dtype(dt) && dt != DType::Bool;
        let inner_vec =
            simple && last_looped.is_some_and(|d| axes.contains(&d) && dims[d] >= LANES as usize);
        // Across outputs: four outputs of the innermost kept dim per vector, the reduced
        // dims looped inside. Reduced dims inside that kept dim (a pooling window,
        // `[.., OH, kh, OW, kw]` reduced over kh and kw) make its loads strided, so each
        // lane loads separately; that still beats one scalar reduction per output, whose
        // accumulation and NaN tracking cost more than the loads, while the window is small.
        let last_kept = (outer.len()..r)
            .rev()
            .find(|&d| dims[d] > 1 && !axes.contains(&d));
        let outer_vec = simple
            && last_kept.is_some_and(|d| {
                dims[d] >= LANES as usize
                    && dims[d + 1..].iter().product::<usize>() <= MAX_UNROLLED_REDUCTION
            });

        if let Some(&v) = out_vars.first() {
            let lane_only = !inner_vec && outer_vec && out_vars.len() == 1;
            self.choose_split(v, if lane_only { 4 * LANES as usize } else { 1 });
        }
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
            let red = red_vars.clone();
            return self.nest(&outer_out, &mut |e| {
                e.inner_loop(lane, true, &mut |e, mode| {
                    e.simple_reduce(root, op, arg, &in_idx, &red, &out_off, count, mode)
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
        self.unrolled_nest(red, MAX_UNROLLED_REDUCTION, &mut |e| {
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
        if outer_red.is_empty() && self.wide_extremum(root, op, arg, in_idx, lane, out_off)? {
            return Ok(());
        }
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
        // The previous kernel's wide calls already summed `arg` (softmax's `exp` pass): the
        // accumulators are in their state, in this loop's order (`math::accumulate`).
        let summed = match self.wide.summed {
            Some((v, slot))
                if v == arg
                    && outer_red.is_empty()
                    && dt == DType::F32
                    && matches!(op, ReduceOp::Sum | ReduceOp::Mean) =>
            {
                self.wide.summed = None;
                self.load_sum_state(slot, &accs, sacc);
                true
            }
            _ => false,
        };
        // With wide math the same elements go into the same accumulators in the same order
        // (chunks start on multiples of 16), so the sum is bit-identical. A sum whose argument
        // is one wide site is summed by the calls themselves, into a state read below.
        let sum_state = !summed && dt == DType::F32 && matches!(op, ReduceOp::Sum | ReduceOp::Mean);
        if sum_state {
            self.wide.sum_into = Some(arg);
        }
        let wide = !summed
            && outer_red.is_empty()
            && self.math_reduce(lane, arg, in_idx, &mut |e, mode| {
                let x = e.compute_or_load(arg, in_idx, mode)?;
                match mode {
                    Mode::Vector => e.accumulate(op, dt, accs[e.wide_sub()], vnan, x),
                    Mode::Scalar => e.accumulate(op, dt, sacc, snan, x),
                }
                Ok(())
            })?;
        let plain = |e: &mut Self| -> R<()> {
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
        };
        if sum_state {
            self.wide.sum_into = None;
            if let Some((_, slot)) = self.wide.summed.take_if(|(v, _)| *v == arg) {
                self.load_sum_state(slot, &accs, sacc);
            }
        }
        if !wide && !summed {
            self.nest(outer_red, &mut |e| plain(e))?;
        }
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

    /// Sets the four vector accumulators and the scalar one of an inner sum from the state
    /// wide calls summed into (`math::accumulate`: `[acc0 | acc1 | acc2 | acc3 | tail]`).
    fn load_sum_state(&mut self, slot: StackSlot, accs: &[Variable], sacc: Variable) {
        for (u, &a) in accs.iter().enumerate() {
            let x = self
                .b
                .ins()
                .stack_load(self.ptr_ty, types::F32X4, slot, 16 * u as i32);
            self.b.def_var(a, x);
        }
        let x = self.b.ins().stack_load(self.ptr_ty, types::F32, slot, 64);
        self.b.def_var(sacc, x);
    }

    /// The max / min of a row the reduction reads contiguously, by one call to the host's
    /// wide function ([`MathEmitter::wide_extremum`](crate::codegen::math::MathEmitter)),
    /// which gives what the four-lane loop would, bit for bit. Returns false, having emitted
    /// nothing, when the reduction is not such a one or the row is short.
    fn wide_extremum(
        &mut self,
        root: ValueId,
        op: ReduceOp,
        arg: ValueId,
        in_idx: &[Idx],
        lane: Var,
        out_off: &Idx,
    ) -> R<bool> {
        let n = self.ext[lane as usize];
        if !matches!(op, ReduceOp::Max | ReduceOp::Min) || n < WIDE_EXTREMUM_MIN {
            return Ok(false);
        }
        let (Some(addr), Some(off)) = (
            self.math.wide_extremum(op == ReduceOp::Max),
            self.contiguous(arg, &[], in_idx, lane),
        ) else {
            return Ok(false);
        };
        let zero = self.b.ins().iconst(types::I64, 0);
        self.bind(lane, zero);
        self.clear_memo();
        let src = self.chunk_addr(arg, &off)?;
        let count = self.b.ins().iconst(types::I64, n as i64);
        let total = self.math.call_extremum(&mut self.b, addr, src, count);
        self.store(root, out_off, total, Mode::Scalar)?;
        Ok(true)
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
