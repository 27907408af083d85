//! `random_uniform`: Philox4x32-10 of each element's counter `(flat index, offset)` under the
//! key `seed`, in 32-bit integer arithmetic, then scaled to `[0, 1)`. The same steps as the
//! reference interpreter (`reference/random.rs`), so results agree bit for bit. Scalar only:
//! vector mode computes it once per lane.

use super::{cg, row_major_offset, KernelEmitter, Mode, R};
use crate::codegen::index::Idx;
use crate::program::ValueId;
use crate::reference::random::{M0, M1, W0, W1};
use crate::types::DType;
use cranelift_codegen::ir::{types, InstBuilder, Value};
use cranelift_module::Module;

impl<'a, 'f, 'm, M: Module> KernelEmitter<'a, 'f, 'm, M> {
    /// Element `idx` of the `random_uniform` value `v` drawn under `seed` and `offset`.
    pub(super) fn random_uniform(
        &mut self,
        v: ValueId,
        seed: ValueId,
        offset: ValueId,
        idx: &[Idx],
    ) -> R<Value> {
        let ty = self.p.value_type(v).clone();
        let flat = row_major_offset(idx, &ty.shape);
        let i = self.idx_value(&flat);
        let s = self.compute_or_load(seed, &[], Mode::Scalar)?;
        let o = self.compute_or_load(offset, &[], Mode::Scalar)?;
        let (i0, i1) = self.halves(i);
        let (o0, o1) = self.halves(o);
        let (s0, s1) = self.halves(s);
        let mut c = [i0, i1, o0, o1];
        let mut k = [s0, s1];
        let b = &mut self.b;
        for r in 0..10 {
            if r > 0 {
                let w0 = b.ins().iconst(types::I32, i64::from(W0));
                let w1 = b.ins().iconst(types::I32, i64::from(W1));
                k[0] = b.ins().iadd(k[0], w0);
                k[1] = b.ins().iadd(k[1], w1);
            }
            let m0 = b.ins().iconst(types::I32, i64::from(M0));
            let m1 = b.ins().iconst(types::I32, i64::from(M1));
            let hi0 = b.ins().umulhi(m0, c[0]);
            let lo0 = b.ins().imul(m0, c[0]);
            let hi1 = b.ins().umulhi(m1, c[2]);
            let lo1 = b.ins().imul(m1, c[2]);
            let x0 = b.ins().bxor(hi1, c[1]);
            let x0 = b.ins().bxor(x0, k[0]);
            let x2 = b.ins().bxor(hi0, c[3]);
            let x2 = b.ins().bxor(x2, k[1]);
            c = [x0, lo1, x2, lo0];
        }
        Ok(match ty.dtype {
            DType::F32 => {
                let w = b.ins().ushr_imm_u(c[0], 8);
                let f = b.ins().fcvt_from_uint(types::F32, w);
                let scale = b.ins().f32const(1.0 / (1u32 << 24) as f32);
                b.ins().fmul(f, scale)
            }
            DType::F64 => {
                let a = b.ins().uextend(types::I64, c[0]);
                let a = b.ins().ishl_imm_u(a, 21);
                let w1 = b.ins().ushr_imm_u(c[1], 11);
                let w1 = b.ins().uextend(types::I64, w1);
                let bits = b.ins().bor(a, w1);
                let f = b.ins().fcvt_from_uint(types::F64, bits);
                let scale = b.ins().f64const(1.0 / (1u64 << 53) as f64);
                b.ins().fmul(f, scale)
            }
            other => return Err(cg(format!("random_uniform of {other}"))),
        })
    }

    /// The low and high 32-bit words of an i64.
    fn halves(&mut self, x: Value) -> (Value, Value) {
        let lo = self.b.ins().ireduce(types::I32, x);
        let hi = self.b.ins().ushr_imm_u(x, 32);
        let hi = self.b.ins().ireduce(types::I32, hi);
        (lo, hi)
    }
}
