//! Arithmetic on computed values: unary and binary ops (transcendentals through
//! `codegen::math`), casts, constants, and selects, for scalars and four-lane vectors.

use super::{cg, lane_ty, scalar_ty, KernelEmitter, Mode, R};
use crate::codegen::math::MathFn;
use crate::op::{BinaryOp, UnaryOp};
use crate::types::{DType, Scalar};
use cranelift_codegen::ir::condcodes::{FloatCC, IntCC};
use cranelift_codegen::ir::{types, InstBuilder, MemFlagsData, Type, Value};
use cranelift_module::Module;

impl<'a, 'f, 'm, M: Module> KernelEmitter<'a, 'f, 'm, M> {
    /// Converts a scalar of dtype `d` to its four-lane form (bools become 0/-1 masks).
    pub(super) fn splat(&mut self, d: DType, x: Value) -> Value {
        let x = if d == DType::Bool {
            self.bool_to_mask_lane(x)
        } else {
            x
        };
        self.b.ins().splat(lane_ty(d), x)
    }

    pub(super) fn bool_to_mask_lane(&mut self, x: Value) -> Value {
        let w = self.b.ins().uextend(types::I32, x);
        self.b.ins().ineg(w)
    }

    pub(super) fn constant(&mut self, d: DType, s: Scalar, mode: Mode) -> Value {
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

    pub(super) fn cast_index(&mut self, i: Value, d: DType) -> Value {
        match d {
            DType::F32 => self.b.ins().fcvt_from_sint(types::F32, i),
            DType::F64 => self.b.ins().fcvt_from_sint(types::F64, i),
            DType::I32 => self.b.ins().ireduce(types::I32, i),
            DType::I64 => i,
            DType::Bool => self.b.ins().icmp_imm_s(IntCC::NotEqual, i, 0),
        }
    }

    pub(super) fn fconst(&mut self, d: DType, v: f64, mode: Mode) -> Value {
        self.constant(d, Scalar::Float(v), mode)
    }

    /// Float mask (vector) or i8 condition (scalar) to a value selector.
    pub(super) fn fselect(&mut self, mode: Mode, m: Value, a: Value, b: Value) -> Value {
        match mode {
            Mode::Scalar => self.b.ins().select(m, a, b),
            Mode::Vector => {
                let m = self.b.ins().bitcast(types::F32X4, MemFlagsData::new(), m);
                self.b.ins().bitselect(m, a, b)
            }
        }
    }

    /// `where(c, a, b)`: a scalar `select` on the i8 condition, or a `bitselect` on the
    /// four-lane mask.
    pub(super) fn where_select(
        &mut self,
        d: DType,
        mode: Mode,
        c: Value,
        a: Value,
        b: Value,
    ) -> Value {
        match mode {
            Mode::Scalar => self.b.ins().select(c, a, b),
            Mode::Vector => {
                let m = if d == DType::F32 {
                    self.b.ins().bitcast(types::F32X4, MemFlagsData::new(), c)
                } else {
                    c
                };
                self.b.ins().bitselect(m, a, b)
            }
        }
    }

    /// `u(x)` for operands of dtype `d`.
    pub(super) fn unary(&mut self, u: UnaryOp, d: DType, x: Value, mode: Mode) -> R<Value> {
        use UnaryOp as U;
        let ty = match mode {
            Mode::Scalar => scalar_ty(d),
            Mode::Vector => lane_ty(d),
        };
        // The verifier only lets through the dtypes `UnaryOp::accepts`.
        let rejected = || cg(format!("{} of {d} has no lowering", u.name()));
        if d == DType::Bool {
            return match u {
                U::Not => Ok(match mode {
                    Mode::Scalar => self.b.ins().bxor_imm_s(x, 1),
                    Mode::Vector => self.b.ins().bnot(x),
                }),
                U::Neg | U::Abs | U::Relu | U::Sign | U::Floor | U::Ceil | U::Round => {
                    Err(rejected())
                }
                U::Exp | U::Log | U::Sqrt | U::Rsqrt | U::Reciprocal => Err(rejected()),
                U::Tanh | U::Sigmoid | U::Erf | U::Sin | U::Cos | U::Softplus => Err(rejected()),
            };
        }
        if d.is_int() {
            return Ok(match u {
                U::Neg => self.b.ins().ineg(x),
                U::Abs => self.b.ins().iabs(x),
                U::Relu => {
                    let z = self.constant(d, Scalar::Int(0), mode);
                    self.b.ins().smax(x, z)
                }
                U::Sign => {
                    let one = self.constant(d, Scalar::Int(1), mode);
                    let m1 = self.constant(d, Scalar::Int(-1), mode);
                    let t = self.b.ins().smax(x, m1);
                    self.b.ins().smin(t, one)
                }
                // Integers are whole already.
                U::Floor | U::Ceil | U::Round => x,
                U::Not | U::Exp | U::Log | U::Sqrt | U::Rsqrt | U::Reciprocal => {
                    return Err(rejected())
                }
                U::Tanh | U::Sigmoid | U::Erf | U::Sin | U::Cos | U::Softplus => {
                    return Err(rejected())
                }
            });
        }
        Ok(match u {
            U::Neg => self.b.ins().fneg(x),
            U::Abs => self.b.ins().fabs(x),
            U::Sqrt => self.b.ins().sqrt(x),
            U::Rsqrt => {
                let s = self.b.ins().sqrt(x);
                let one = self.fconst(d, 1.0, mode);
                self.b.ins().fdiv(one, s)
            }
            U::Reciprocal => {
                let one = self.fconst(d, 1.0, mode);
                self.b.ins().fdiv(one, x)
            }
            U::Relu => {
                // x <= 0 ? +0 : x — keeps NaN (the compare is false), and lowers to a compare
                // and a blend. `<=`, not `<`: relu(-0.0) must be +0.0 (max(-0.0, +0.0)).
                let z = self.fconst(d, 0.0, mode);
                let m = self.b.ins().fcmp(FloatCC::LessThanOrEqual, x, z);
                self.fselect(mode, m, z, x)
            }
            U::Floor => self.b.ins().floor(x),
            U::Ceil => self.b.ins().ceil(x),
            U::Round => self.b.ins().nearest(x),
            U::Sign => {
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
            U::Exp => self.math.unary(&mut self.b, MathFn::Exp, ty, x),
            U::Log => self.math.unary(&mut self.b, MathFn::Log, ty, x),
            U::Tanh => self.math.unary(&mut self.b, MathFn::Tanh, ty, x),
            U::Sigmoid => self.math.unary(&mut self.b, MathFn::Sigmoid, ty, x),
            U::Erf => self.math.unary(&mut self.b, MathFn::Erf, ty, x),
            U::Sin => self.math.unary(&mut self.b, MathFn::Sin, ty, x),
            U::Cos => self.math.unary(&mut self.b, MathFn::Cos, ty, x),
            U::Softplus => self.softplus(d, ty, x, mode),
            U::Not => return Err(rejected()),
        })
    }

    /// `softplus(x) = max(x, 0) + log1p(exp(-|x|))`. `exp(-|x|)` is in `[0, 1]`, so nothing
    /// overflows; `log1p(e)` is `e` where `1 + e` rounds to 1, and otherwise
    /// `log(1 + e) * e / ((1 + e) - 1)`, which cancels the rounding of `1 + e` (Goldberg) and
    /// keeps full relative accuracy for very negative `x`. `max` keeps NaN.
    fn softplus(&mut self, d: DType, ty: Type, x: Value, mode: Mode) -> Value {
        let a = self.b.ins().fabs(x);
        let na = self.b.ins().fneg(a);
        let e = self.math.unary(&mut self.b, MathFn::Exp, ty, na);
        let one = self.fconst(d, 1.0, mode);
        let u = self.b.ins().fadd(one, e);
        let log_u = self.math.unary(&mut self.b, MathFn::Log, ty, u);
        let u1 = self.b.ins().fsub(u, one);
        let t = self.b.ins().fmul(log_u, e);
        let q = self.b.ins().fdiv(t, u1);
        let rounds_to_one = self.b.ins().fcmp(FloatCC::Equal, u, one);
        let log1p = self.fselect(mode, rounds_to_one, e, q);
        // x <= 0 ? +0 : x, as relu: NaN stays NaN.
        let z = self.fconst(d, 0.0, mode);
        let m = self.b.ins().fcmp(FloatCC::LessThanOrEqual, x, z);
        let pos = self.fselect(mode, m, z, x);
        self.b.ins().fadd(pos, log1p)
    }

    /// `op(x, y)` for operands of dtype `d`.
    pub(super) fn binary(
        &mut self,
        op: BinaryOp,
        d: DType,
        x: Value,
        y: Value,
        mode: Mode,
    ) -> R<Value> {
        use BinaryOp as B;
        // The verifier only lets through the dtypes `BinaryOp::accepts`.
        let rejected = || cg(format!("{} of {d} has no lowering", op.name()));
        if d.is_float() {
            let ty = match mode {
                Mode::Scalar => scalar_ty(d),
                Mode::Vector => lane_ty(d),
            };
            let ins = self.b.ins();
            return Ok(match op {
                B::Eq => ins.fcmp(FloatCC::Equal, x, y),
                B::Ne => ins.fcmp(FloatCC::NotEqual, x, y),
                B::Lt => ins.fcmp(FloatCC::LessThan, x, y),
                B::Le => ins.fcmp(FloatCC::LessThanOrEqual, x, y),
                B::Gt => ins.fcmp(FloatCC::GreaterThan, x, y),
                B::Ge => ins.fcmp(FloatCC::GreaterThanOrEqual, x, y),
                B::Add => ins.fadd(x, y),
                B::Sub => ins.fsub(x, y),
                B::Mul => ins.fmul(x, y),
                B::Div => ins.fdiv(x, y),
                B::Max => ins.fmax(x, y),
                B::Min => ins.fmin(x, y),
                B::Pow => self.math.pow(&mut self.b, ty, x, y),
                B::And | B::Or => return Err(rejected()),
            });
        }
        let ins = self.b.ins();
        Ok(match op {
            B::Eq => ins.icmp(IntCC::Equal, x, y),
            B::Ne => ins.icmp(IntCC::NotEqual, x, y),
            B::Lt => ins.icmp(IntCC::SignedLessThan, x, y),
            B::Le => ins.icmp(IntCC::SignedLessThanOrEqual, x, y),
            B::Gt => ins.icmp(IntCC::SignedGreaterThan, x, y),
            B::Ge => ins.icmp(IntCC::SignedGreaterThanOrEqual, x, y),
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
            B::Pow => return Err(rejected()),
        })
    }

    pub(super) fn cast(&mut self, from: DType, to: DType, x: Value, mode: Mode) -> Value {
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
