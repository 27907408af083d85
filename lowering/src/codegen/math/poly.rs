//! The inline `F32` / `F32X4` approximations.
//!
//! Every function here is written once, over a [`K`] that says whether it is emitting `F32` or
//! `F32X4`: the two instantiations execute the same IEEE operations in the same order on each
//! lane, so a vector lane and a scalar element give bit-identical results on one machine
//! (including NaN payloads). Only the primitives differ: constants are splatted for vectors,
//! and a condition is an `I32X4` mask (`bitcast` + `bitselect`) for vectors and an `I8` flag
//! (`select`) for scalars; both pick exactly one of the two values.
//!
//! Comparisons that clamp an input use the operand order that Cranelift's x64 backend matches
//! to a single `maxps`/`minps` (`maxss`/`minss`), and in that order a NaN input passes through
//! the clamp (see [`K::max_keep_nan`]).

use cranelift_codegen::ir::{condcodes::FloatCC, types, InstBuilder, MemFlagsData, Type, Value};
use cranelift_frontend::FunctionBuilder;

/// What is being emitted: `F32` or `F32X4`, with or without `fma`.
#[derive(Clone, Copy, Debug)]
pub(crate) struct K {
    pub ty: Type,
    /// `I32` or `I32X4`: the integer view of `ty`.
    ity: Type,
    fma: bool,
}

/// Smallest positive normal f32, 2^-126.
pub(super) const MIN_NORMAL: f32 = f32::MIN_POSITIVE;
/// `1.5 * 2^23`: adding it rounds an f32 in (-2^22, 2^22) to an integer held in the low
/// mantissa bits (round to nearest even), so no float-to-int instruction is needed.
pub(super) const MAGIC: f32 = 12_582_912.0;
// The bit pattern of `MAGIC + k` is `0x4B40_0000 + k`; since the low 9 bits of 0x4B40_0000
// (and of its half) are zero, `bits << 23 == k << 23` and `(bits >> 1) << 23 == (k >> 1) << 23`
// (mod 2^32): the integer `k` never has to be materialized, and the exponent bias is added as
// the bits of 1.0, which the polynomials already hold in a register.

impl K {
    pub fn new(ty: Type, fma: bool) -> K {
        assert!(
            ty == types::F32 || ty == types::F32X4,
            "lazyjit math: inline approximations are for F32 and F32X4, not {ty}"
        );
        let ity = if ty.is_vector() {
            types::I32X4
        } else {
            types::I32
        };
        K { ty, ity, fma }
    }

    fn vec(self) -> bool {
        self.ty.is_vector()
    }

    /// An f32 constant of type `ty` (splatted for vectors).
    pub fn c(self, b: &mut FunctionBuilder, v: f32) -> Value {
        let s = b.ins().f32const(v);
        if self.vec() {
            b.ins().splat(self.ty, s)
        } else {
            s
        }
    }

    /// An i32 constant of the integer view `ity` (splatted for vectors).
    fn ic(self, b: &mut FunctionBuilder, v: i32) -> Value {
        let s = b.ins().iconst(types::I32, v as u32 as i64);
        if self.vec() {
            b.ins().splat(self.ity, s)
        } else {
            s
        }
    }

    /// Reinterprets floats as i32 bits.
    fn bits(self, b: &mut FunctionBuilder, x: Value) -> Value {
        b.ins().bitcast(self.ity, MemFlagsData::new(), x)
    }

    /// Reinterprets i32 bits as floats.
    fn float(self, b: &mut FunctionBuilder, i: Value) -> Value {
        b.ins().bitcast(self.ty, MemFlagsData::new(), i)
    }

    /// `a * x + c`: one `fma` when the ISA has it, else `fmul` + `fadd`.
    pub fn mul_add(self, b: &mut FunctionBuilder, a: Value, x: Value, c: Value) -> Value {
        if self.fma {
            b.ins().fma(a, x, c)
        } else {
            let t = b.ins().fmul(a, x);
            b.ins().fadd(t, c)
        }
    }

    /// `a * m + c` with a constant multiplier `m`.
    fn mul_addc(self, b: &mut FunctionBuilder, a: Value, m: f32, c: Value) -> Value {
        let m = self.c(b, m);
        self.mul_add(b, a, m, c)
    }

    /// Horner evaluation of `cs[0] x^n + ... + cs[n]` (highest degree first).
    fn horner(self, b: &mut FunctionBuilder, x: Value, cs: &[f32]) -> Value {
        let mut p = self.c(b, cs[0]);
        for &c in &cs[1..] {
            let c = self.c(b, c);
            p = self.mul_add(b, p, x, c);
        }
        p
    }

    /// `fcmp`: an `I32X4` lane mask for vectors, an `I8` flag for scalars.
    fn cmp(self, b: &mut FunctionBuilder, cc: FloatCC, x: Value, y: Value) -> Value {
        b.ins().fcmp(cc, x, y)
    }

    /// `m ? t : f` for a mask/flag made by [`K::cmp`].
    fn sel(self, b: &mut FunctionBuilder, m: Value, t: Value, f: Value) -> Value {
        if self.vec() {
            let m = b.ins().bitcast(self.ty, MemFlagsData::new(), m);
            b.ins().bitselect(m, t, f)
        } else {
            b.ins().select(m, t, f)
        }
    }

    /// `m ? t : f` for an integer all-ones/all-zeros mask of type `ity` (branch-free for
    /// scalars too: scalar float `bitselect` is and/andn/or).
    fn sel_bits(self, b: &mut FunctionBuilder, m: Value, t: Value, f: Value) -> Value {
        let m = self.float(b, m);
        b.ins().bitselect(m, t, f)
    }

    /// `x < lo ? lo : x`: one `maxps lo, x` (`maxss`); NaN `x` passes through.
    pub fn max_keep_nan(self, b: &mut FunctionBuilder, x: Value, lo: f32) -> Value {
        let lo = self.c(b, lo);
        let m = self.cmp(b, FloatCC::LessThan, x, lo);
        self.sel(b, m, lo, x)
    }

    /// `hi < x ? hi : x`: one `minps hi, x` (`minss`); NaN `x` passes through.
    pub fn min_keep_nan(self, b: &mut FunctionBuilder, x: Value, hi: f32) -> Value {
        let hi = self.c(b, hi);
        let m = self.cmp(b, FloatCC::LessThan, hi, x);
        self.sel(b, m, hi, x)
    }

    /// The sign bit of `x` (as a float: `-0.0` or `+0.0`; NaN keeps its sign too).
    fn sign_of(self, b: &mut FunctionBuilder, x: Value) -> Value {
        let s = self.c(b, -0.0);
        b.ins().band(x, s)
    }
}

// ---------------------------------------------------------------------------------------------
// exp

/// `e^r = 1 + r + r^2 P(r)` for |r| <= 1.01 ln2/2: minimax for the relative error of `e^r`
/// (fit error 3.3e-9), one degree below Cephes `expf`.
pub(super) const EXP_P: [f32; 5] = [
    1.381_312_4e-3,
    8.369_425e-3,
    4.166_845_6e-2,
    1.666_651_5e-1,
    4.999_999_4e-1,
];
/// `ln 2` split: `LN2_HI` has 9 significant bits, so `k * LN2_HI` is exact for |k| < 2^15.
pub(super) const LN2_HI: f32 = 0.693_359_4; // exactly 355/512
const _: () = assert!(LN2_HI == 355.0 / 512.0);
pub(super) const LN2_LO: f32 = -2.121_944_4e-4;

/// `e^x`. `x = k ln2 + r`; `2^k` is built in the exponent field. With `full`, the input is
/// clamped to [-110, 100] (NaN passes) and `2^k` is applied as `2^(k>>1) * 2^(k - (k>>1))`,
/// so results overflow to +inf above ln(f32::MAX) and round correctly into the subnormal range
/// (down to 0 below ln(2^-150)). Without `full` the caller guarantees `x` in [-87, 88].
pub(crate) fn exp(k: K, b: &mut FunctionBuilder, x: Value, full: bool) -> Value {
    let x = if full {
        let t = k.max_keep_nan(b, x, -110.0);
        k.min_keep_nan(b, t, 100.0)
    } else {
        x
    };
    let magic = k.c(b, MAGIC);
    let l2e = k.c(b, std::f32::consts::LOG2_E);
    let big = k.mul_add(b, x, l2e, magic);
    let kf = b.ins().fsub(big, magic);
    let kb = k.bits(b, big);
    let r = k.mul_addc(b, kf, -LN2_HI, x);
    let r = k.mul_addc(b, kf, -LN2_LO, r);
    let z = b.ins().fmul(r, r);
    let p = k.horner(b, r, &EXP_P);
    let p = k.mul_add(b, p, z, r);
    let one = k.c(b, 1.0);
    let p = b.ins().fadd(p, one);
    // 2^e from integer bits whose low bits hold e: (e << 23) + bits(1.0)
    let one_bits = k.bits(b, one);
    let pow2 = |b: &mut FunctionBuilder, e: Value| {
        let t = b.ins().ishl_imm_u(e, 23);
        let t = b.ins().iadd(t, one_bits);
        k.float(b, t)
    };
    if full {
        let h = b.ins().sshr_imm_u(kb, 1);
        let rest = b.ins().isub(kb, h);
        let s1 = pow2(b, h);
        let s2 = pow2(b, rest);
        let t = b.ins().fmul(p, s1);
        b.ins().fmul(t, s2)
    } else {
        let s = pow2(b, kb);
        b.ins().fmul(p, s)
    }
}

// ---------------------------------------------------------------------------------------------
// log

/// FreeBSD `logf` (`e_logf.c`) coefficients: `R(z) = Lg1 z + Lg2 z^2 + Lg3 z^3 + Lg4 z^4`
/// approximates `log((1+s)/(1-s)) / s - 2` with `z = s^2`, |s| <= 0.1716.
pub(super) const LOG_LG: [f32; 4] = [
    f32::from_bits(0x3f2a_aaaa), // 0.666_666_63
    f32::from_bits(0x3ecc_ce13), // 0.400_009_72
    f32::from_bits(0x3e91_e9ee), // 0.284_987_87
    f32::from_bits(0x3e78_9e26), // 0.242_790_79
];
/// Natural log. Subnormal inputs are scaled by 2^23 first. `x = 2^e z` with `z` in
/// [sqrt(1/2), sqrt(2)) from integer arithmetic on the bits; `log x = e ln2 + log(z)`.
/// Specials: `log(±0) = -inf`, `log(+inf) = +inf`, `log(x<0) = log(-inf) = NaN`, NaN -> NaN
/// (the default quiet NaN, not the input's payload).
pub(crate) fn log(k: K, b: &mut FunctionBuilder, x: Value) -> Value {
    let minn = k.c(b, MIN_NORMAL);
    let tiny = k.cmp(b, FloatCC::LessThan, x, minn);
    let xs = {
        let s = k.c(b, 8_388_608.0);
        let t = b.ins().fmul(x, s);
        k.sel(b, tiny, t, x)
    };
    let eadj = {
        let a = k.c(b, 23.0);
        let z = k.c(b, 0.0);
        k.sel(b, tiny, a, z)
    };
    let bits = k.bits(b, xs);
    let off = k.ic(b, 0x3f35_04f3); // bits of sqrt(1/2)
    let t = b.ins().isub(bits, off);
    let ei = b.ins().sshr_imm_u(t, 23);
    let emask = k.ic(b, 0xff80_0000_u32 as i32);
    let hi = b.ins().band(t, emask);
    let iz = b.ins().isub(bits, hi);
    let z = k.float(b, iz);
    let one = k.c(b, 1.0);
    let f = b.ins().fsub(z, one);
    let e = b.ins().fcvt_from_sint(k.ty, ei);
    let e = b.ins().fsub(e, eadj);

    // log(1+f) = f - hfsq + s (hfsq + R(s^2)), s = f / (2 + f), hfsq = f^2/2 (FreeBSD logf)
    let two = k.c(b, 2.0);
    let d = b.ins().fadd(f, two);
    let s = b.ins().fdiv(f, d);
    let z = b.ins().fmul(s, s);
    let w = b.ins().fmul(z, z);
    let t1 = {
        let c4 = k.c(b, LOG_LG[3]);
        let c2 = k.c(b, LOG_LG[1]);
        let t = k.mul_add(b, w, c4, c2);
        b.ins().fmul(w, t)
    };
    let t2 = {
        let c3 = k.c(b, LOG_LG[2]);
        let c1 = k.c(b, LOG_LG[0]);
        let t = k.mul_add(b, w, c3, c1);
        b.ins().fmul(z, t)
    };
    let rr = b.ins().fadd(t2, t1);
    let half = k.c(b, 0.5);
    let hf = b.ins().fmul(half, f);
    let hfsq = b.ins().fmul(hf, f);
    let u = b.ins().fadd(hfsq, rr);
    let t = b.ins().fmul(s, u);
    let t = k.mul_addc(b, e, LN2_LO, t);
    let t = b.ins().fsub(t, hfsq);
    let t = b.ins().fadd(t, f);
    let r = k.mul_addc(b, e, LN2_HI, t);

    let inf = k.c(b, f32::INFINITY);
    let m = k.cmp(b, FloatCC::Equal, x, inf);
    let r = k.sel(b, m, inf, r);
    let zero = k.c(b, 0.0);
    let ninf = k.c(b, f32::NEG_INFINITY);
    let m = k.cmp(b, FloatCC::Equal, x, zero);
    let r = k.sel(b, m, ninf, r);
    let nan = k.c(b, f32::NAN);
    let m = k.cmp(b, FloatCC::UnorderedOrLessThan, x, zero);
    k.sel(b, m, nan, r)
}

// ---------------------------------------------------------------------------------------------
// tanh, sigmoid

/// Cephes `tanhf` for |x| < 0.625: `tanh x = x + x^3 P(x^2)`.
pub(super) const TANH_P: [f32; 5] = [
    -5.704_988_7e-3,
    2.063_908_8e-2,
    -5.373_971_5e-2,
    1.333_144_2e-1,
    -3.333_328e-1,
];

/// `tanh`, computed on `a = |x|` and given the sign of `x` (so `tanh(-0) = -0`, odd exactly):
/// `a < 0.625`: `a + a^3 P(a^2)`; else `1 - 2 / (e^(2a) + 1)` (`e^(2a) = inf` gives 1).
pub(crate) fn tanh(k: K, b: &mut FunctionBuilder, x: Value) -> Value {
    let a = b.ins().fabs(x);
    let z = b.ins().fmul(a, a);
    let p = k.horner(b, z, &TANH_P);
    let p = b.ins().fmul(p, z);
    let small = k.mul_add(b, p, a, a);
    let a2 = b.ins().fadd(a, a);
    let e = exp(k, b, a2, true);
    let one = k.c(b, 1.0);
    let two = k.c(b, 2.0);
    let d = b.ins().fadd(e, one);
    let q = b.ins().fdiv(two, d);
    let large = b.ins().fsub(one, q);
    let th = k.c(b, 0.625);
    let m = k.cmp(b, FloatCC::LessThan, a, th);
    let r = k.sel(b, m, small, large);
    let s = k.sign_of(b, x);
    b.ins().bor(r, s)
}

/// `sigmoid(x) = 1 / (1 + e^-x)`, as `num / (1 + e)` with `e = e^-|x|` (never overflows) and
/// `num = e` for `x < 0`, else 1: relative accuracy for large negative `x` and correct
/// subnormal results down to `sigmoid(-103.9) ~ 2^-150`.
pub(crate) fn sigmoid(k: K, b: &mut FunctionBuilder, x: Value) -> Value {
    let s = k.c(b, -0.0);
    let na = b.ins().bor(x, s); // -|x|
    let e = exp(k, b, na, true);
    let one = k.c(b, 1.0);
    let zero = k.c(b, 0.0);
    let neg = k.cmp(b, FloatCC::LessThan, x, zero);
    let num = k.sel(b, neg, e, one);
    let d = b.ins().fadd(e, one);
    b.ins().fdiv(num, d)
}

// ---------------------------------------------------------------------------------------------
// erf

/// Below this |x|, erf uses the odd polynomial; above, `1 - exp(Q(|x|))`.
pub(super) const ERF_SPLIT: f32 = 0.843_75;
/// `erf(x) = x + x P(x^2)` on [0, 0.84375]: minimax for relative error (fit error 5.6e-9),
/// `P(t) = erf(sqrt t)/sqrt t - 1`.
pub(super) const ERF_P: [f32; 6] = [
    -6.342_914e-4,
    5.055_621_3e-3,
    -2.680_510_3e-2,
    1.128_277_56e-1,
    -3.761_257_5e-1,
    1.283_791_7e-1,
];
/// `log(erfc(x)) = Q(x)` on [0.84375, 4]: minimax weighted by erfc, i.e. for the absolute
/// error of `erf = 1 - exp(Q)` (fit error 1.5e-9).
pub(super) const ERF_Q: [f32; 7] = [
    2.031_725e-4,
    -3.113_317_5e-3,
    2.250_264_8e-2,
    -1.044_954_1e-1,
    -6.365_497e-1,
    -1.128_045_1,
    -1.078_542_2e-4,
];

/// `erf`, computed on `a = |x|` and given the sign of `x`. `|x| >= 4` gives ±1 (erfc(4) =
/// 1.5e-8 is below half an ulp of 1).
pub(crate) fn erf(k: K, b: &mut FunctionBuilder, x: Value) -> Value {
    let a = b.ins().fabs(x);
    let z = b.ins().fmul(a, a);
    let p = k.horner(b, z, &ERF_P);
    let small = k.mul_add(b, a, p, a);
    let ac = k.min_keep_nan(b, a, 4.0);
    let q = k.horner(b, ac, &ERF_Q);
    let e = exp(k, b, q, false);
    let one = k.c(b, 1.0);
    let large = b.ins().fsub(one, e);
    let th = k.c(b, ERF_SPLIT);
    let m = k.cmp(b, FloatCC::LessThan, a, th);
    let r = k.sel(b, m, small, large);
    let s = k.sign_of(b, x);
    b.ins().bor(r, s)
}

// ---------------------------------------------------------------------------------------------
// sin, cos

/// Cephes `sinf` on [-pi/4, pi/4]: `sin r = r + r^3 S(r^2)`.
const SIN_P: [f32; 3] = [-1.951_529_6e-4, 8.332_161e-3, -1.666_665_5e-1];
/// Cephes `cosf` on [-pi/4, pi/4]: `cos r = 1 - r^2/2 + r^4 C(r^2)`.
const COS_P: [f32; 3] = [2.443_315_7e-5, -1.388_731_6e-3, 4.166_664_6e-2];
/// pi/2 = PIO2_1 + PIO2_2 + PIO2_3 + PIO2_4 (+ 5e-17). The first three have 8 significant
/// bits, so `j * PIO2_i` is exact for j < 2^16, i.e. |x| < 102_943 (Cody–Waite).
const PIO2_1: f32 = 1.570_312_5;
const PIO2_2: f32 = 4.844_665_5e-4; // exactly 254/2^19
const _: () = assert!(PIO2_2 == 254.0 / 524_288.0);
const PIO2_3: f32 = -6.407_499_3e-7;
const PIO2_4: f32 = 9.920_936e-10;
/// Above this |x| the inline reduction is not used: the caller replaces those lanes.
pub const SINCOS_INLINE_MAX: f32 = 100_000.0;

/// `sin x` (`cos == false`) or `cos x`, inline, accurate for |x| <= [`SINCOS_INLINE_MAX`].
/// Returns `(value, huge)`: `huge` is the mask/flag of |x| > SINCOS_INLINE_MAX (including
/// ±inf), whose lanes the caller must replace. NaN is not huge, and gives NaN.
///
/// Computed on `a = |x|`: `j = round(a * 2/pi)`, `r = a - j pi/2` (4-part Cody–Waite),
/// then the quadrant `q = j (+1 for cos)` picks `±sin r` / `±cos r` with integer bit ops; sin
/// gets the sign of `x` (so `sin(-0) = -0`).
pub(crate) fn sincos(k: K, b: &mut FunctionBuilder, x: Value, cos: bool) -> (Value, Value) {
    let a = b.ins().fabs(x);
    let magic = k.c(b, MAGIC);
    let tpi = k.c(b, std::f32::consts::FRAC_2_PI);
    let big = k.mul_add(b, a, tpi, magic);
    let jf = b.ins().fsub(big, magic);
    // the low bits of bits(big) are those of j (see MAGIC)
    let j = k.bits(b, big);
    let mut r = a;
    for c in [PIO2_1, PIO2_2, PIO2_3, PIO2_4] {
        r = k.mul_addc(b, jf, -c, r);
    }
    let z = b.ins().fmul(r, r);
    // sin r
    let ps = k.horner(b, z, &SIN_P);
    let ps = b.ins().fmul(ps, z);
    let s = k.mul_add(b, ps, r, r);
    // cos r
    let pc = k.horner(b, z, &COS_P);
    let pc = b.ins().fmul(pc, z);
    let pc = b.ins().fmul(pc, z);
    let h = k.mul_addc(b, z, -0.5, pc);
    let one = k.c(b, 1.0);
    let c = b.ins().fadd(h, one);
    // quadrant
    let q = if cos {
        let one = k.ic(b, 1);
        b.ins().iadd(j, one)
    } else {
        j
    };
    let odd = b.ins().ishl_imm_u(q, 31);
    let odd = b.ins().sshr_imm_u(odd, 31);
    let v = k.sel_bits(b, odd, c, s);
    let sign = b.ins().ishl_imm_u(q, 30);
    let sm = k.ic(b, i32::MIN);
    let mut sign = b.ins().band(sign, sm);
    if !cos {
        let xb = k.bits(b, x);
        let xs = b.ins().band(xb, sm);
        sign = b.ins().bxor(sign, xs);
    }
    let vb = k.bits(b, v);
    let vb = b.ins().bxor(vb, sign);
    let v = k.float(b, vb);
    let lim = k.c(b, SINCOS_INLINE_MAX);
    let huge = k.cmp(b, FloatCC::GreaterThan, a, lim);
    (v, huge)
}
