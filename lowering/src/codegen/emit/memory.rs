//! Memory access and index arithmetic: element addresses, loads and stores, index values,
//! per-lane evaluation, views (reshape, permute, expand, slice), pad, concat, and the
//! bounds-checked addressing of gather and index_select.

use super::{cg, lane_ty, row_strides, scalar_ty, KernelEmitter, Mode, LANES, R};
use crate::codegen::index::{Atom, Idx, Var};
use crate::codegen::segments::{operand_starts, overlapping};
use crate::program::ValueId;
use crate::types::{DType, Scalar, Shape};
use cranelift_codegen::ir::condcodes::IntCC;
use cranelift_codegen::ir::{types, InstBuilder, MemFlagsData, Value};
use cranelift_module::Module;

impl<'a, 'f, 'm, M: Module> KernelEmitter<'a, 'f, 'm, M> {
    /// Address of element `off` as (pointer, immediate byte offset). The constant part of the
    /// index goes into the immediate, so unrolled copies and neighbouring accesses share one
    /// address computation and fold into x86 addressing modes.
    pub(super) fn elem_addr(&mut self, base: Value, off: &Idx, size: i64) -> (Value, i32) {
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

    pub(super) fn store(&mut self, root: ValueId, off: &Idx, val: Value, mode: Mode) -> R<()> {
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

    pub(super) fn load(&mut self, v: ValueId, idx: &[Idx], mode: Mode) -> R<Value> {
        if self.pending.contains(&v) {
            return Err(cg(format!(
                "fused loop reads {v} before storing it (not at the element computed)"
            )));
        }
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

    pub(super) fn idx_value(&mut self, i: &Idx) -> Value {
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

    /// Evaluates `v` at `idx` once per lane in scalar mode and packs the lanes.
    pub(super) fn per_lane(&mut self, v: ValueId, idx: &[Idx], from_buffer: bool) -> R<Value> {
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

    pub(super) fn broadcast_idx(&self, out: &[Idx], arg: ValueId) -> Vec<Idx> {
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

    /// The operand index of a reshape: the row-major position of `idx` in `out`, split
    /// into the dims of `input`.
    pub(super) fn reshape_idx(&self, out: &Shape, input: &Shape, idx: &[Idx]) -> Vec<Idx> {
        let out_rs = row_strides(out);
        let in_rs = row_strides(input);
        let lin = idx
            .iter()
            .zip(&out_rs)
            .fold(Idx::konst(0), |acc, (i, s)| acc.add(&i.scale(*s)));
        let ext = &self.ext;
        input
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
            .collect()
    }

    /// Gather `v` of `data` along `axis` at `idx`: the index operand at the same position
    /// picks the data element (scalar mode only).
    pub(super) fn gather(
        &mut self,
        v: ValueId,
        data: ValueId,
        index: ValueId,
        axis: usize,
        idx: &[Idx],
    ) -> R<Value> {
        let ii = idx.to_vec();
        let iv = self.compute_or_load(index, &ii, Mode::Scalar)?;
        let w = self.checked_index(v, iv, data, axis, false)?;
        let Some(w) = w else {
            let d = self.p.value_type(v).dtype;
            return Ok(self.constant(d, Scalar::Int(0), Mode::Scalar));
        };
        let mut di = idx.to_vec();
        di[axis] = Idx::var(w);
        self.compute_or_load(data, &di, Mode::Scalar)
    }

    /// Index_select `v` of `data` along `axis` at `idx`: the index operand's dims replace
    /// `axis` (scalar mode only).
    pub(super) fn index_select(
        &mut self,
        v: ValueId,
        data: ValueId,
        index: ValueId,
        axis: usize,
        idx: &[Idx],
    ) -> R<Value> {
        let ri = self.p.value_type(index).shape.rank();
        let ii = idx[axis..axis + ri].to_vec();
        let iv = self.compute_or_load(index, &ii, Mode::Scalar)?;
        let w = self.checked_index(v, iv, data, axis, false)?;
        let Some(w) = w else {
            let d = self.p.value_type(v).dtype;
            return Ok(self.constant(d, Scalar::Int(0), Mode::Scalar));
        };
        let mut di = idx[..axis].to_vec();
        di.push(Idx::var(w));
        di.extend_from_slice(&idx[axis + ri..]);
        self.compute_or_load(data, &di, Mode::Scalar)
    }

    /// Bounds-checks a runtime index against `data`'s `axis`. With `report` (check kernels),
    /// an out-of-range index is recorded in the status word and the kernel returns at once, so
    /// the first bad index in row-major order is the one reported; check kernels run in
    /// program order and the runner stops at the first failing one. Without `report` (a
    /// gather computed inside another kernel, whose indices its check kernel has validated
    /// before), the index is only clamped, so that no value can ever cause an out-of-bounds
    /// read. Returns a variable bound to the safe index, or `None` when the axis is empty.
    pub(super) fn checked_index(
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

    pub(super) fn pad(
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

    pub(super) fn concat(
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
}

/// The operand index of a permute: output axis `i` is operand axis `perm[i]`.
pub(super) fn permute_idx(perm: &[usize], idx: &[Idx]) -> Vec<Idx> {
    let mut ai = vec![Idx::konst(0); perm.len()];
    for (i, &pi) in perm.iter().enumerate() {
        ai[pi] = idx[i].clone();
    }
    ai
}

/// The operand index of a slice.
pub(super) fn slice_idx(starts: &[usize], steps: &[usize], idx: &[Idx]) -> Vec<Idx> {
    idx.iter()
        .enumerate()
        .map(|(k, i)| i.scale(steps[k] as i64).add_const(starts[k] as i64))
        .collect()
}
