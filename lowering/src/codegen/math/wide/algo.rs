//! The f32 algorithms of `poly.rs`, written once over [`Lanes`].
//!
//! Each function is a line-by-line port of its `poly.rs` counterpart: the same constants
//! (shared, so their bits cannot drift), the same operations in the same order with the same
//! operands in the same positions, the same clamps, bit tricks and selects. Keep the two in
//! step: a change to one without the other fails the bit-identity tests
//! (`lowering/tests/math_accuracy/wide.rs`).

use super::super::poly::{
    ERF_P, ERF_Q, ERF_SPLIT, EXP_P, LN2_HI, LN2_LO, LOG_LG, MAGIC, MIN_NORMAL, TANH_P,
};
use super::lanes::Lanes;

/// Operation codes of the instantiated functions (const generic parameters).
pub(super) const EXP: u8 = 0;
/// `log`.
pub(super) const LOG: u8 = 1;
/// `tanh`.
pub(super) const TANH: u8 = 2;
/// `sigmoid`.
pub(super) const SIGMOID: u8 = 3;
/// `erf`.
pub(super) const ERF: u8 = 4;

/// The function `OP` of `x` (the match is resolved at compile time).
#[inline(always)]
pub(super) fn apply<L: Lanes, const OP: u8>(l: L, x: L::F) -> L::F {
    match OP {
        EXP => exp(l, x, true),
        LOG => log(l, x),
        TANH => tanh(l, x),
        SIGMOID => sigmoid(l, x),
        ERF => erf(l, x),
        _ => unreachable!("lazyjit math: no wide function {OP}"),
    }
}

/// `poly::exp`: `e^x`, with `full` the input clamped to [-110, 100] and `2^k` applied in two
/// halves.
#[inline(always)]
fn exp<L: Lanes>(l: L, x: L::F, full: bool) -> L::F {
    let x = if full {
        let t = l.max_keep_nan(x, -110.0);
        l.min_keep_nan(t, 100.0)
    } else {
        x
    };
    let magic = l.c(MAGIC);
    let l2e = l.c(std::f32::consts::LOG2_E);
    let big = l.mul_add(x, l2e, magic);
    let kf = l.sub(big, magic);
    let kb = l.bits(big);
    let r = l.mul_addc(kf, -LN2_HI, x);
    let r = l.mul_addc(kf, -LN2_LO, r);
    let z = l.mul(r, r);
    let p = l.horner(r, &EXP_P);
    let p = l.mul_add(p, z, r);
    let one = l.c(1.0);
    let p = l.add(p, one);
    // 2^e from integer bits whose low bits hold e: (e << 23) + bits(1.0)
    let one_bits = l.bits(one);
    let pow2 = |e: L::I| {
        let t = l.shl23(e);
        let t = l.iadd(t, one_bits);
        l.float(t)
    };
    if full {
        l.scale_pow2(p, kf, kb)
    } else {
        let s = pow2(kb);
        l.mul(p, s)
    }
}

/// `poly::log`: natural log, subnormals scaled by 2^23 first, specials by three selects.
#[inline(always)]
fn log<L: Lanes>(l: L, x: L::F) -> L::F {
    let minn = l.c(MIN_NORMAL);
    let tiny = l.lt(x, minn);
    let xs = {
        let s = l.c(8_388_608.0);
        let t = l.mul(x, s);
        l.sel(tiny, t, x)
    };
    let eadj = {
        let a = l.c(23.0);
        let z = l.c(0.0);
        l.sel(tiny, a, z)
    };
    let bits = l.bits(xs);
    let off = l.ic(0x3f35_04f3); // bits of sqrt(1/2)
    let t = l.isub(bits, off);
    let ei = l.sar23(t);
    let emask = l.ic(0xff80_0000_u32 as i32);
    let hi = l.iand(t, emask);
    let iz = l.isub(bits, hi);
    let z = l.float(iz);
    let one = l.c(1.0);
    let f = l.sub(z, one);
    let e = l.cvt(ei);
    let e = l.sub(e, eadj);

    // log(1+f) = f - hfsq + s (hfsq + R(s^2)), s = f / (2 + f), hfsq = f^2/2 (FreeBSD logf)
    let two = l.c(2.0);
    let d = l.add(f, two);
    let s = l.div(f, d);
    let z = l.mul(s, s);
    let w = l.mul(z, z);
    let t1 = {
        let c4 = l.c(LOG_LG[3]);
        let c2 = l.c(LOG_LG[1]);
        let t = l.mul_add(w, c4, c2);
        l.mul(w, t)
    };
    let t2 = {
        let c3 = l.c(LOG_LG[2]);
        let c1 = l.c(LOG_LG[0]);
        let t = l.mul_add(w, c3, c1);
        l.mul(z, t)
    };
    let rr = l.add(t2, t1);
    let half = l.c(0.5);
    let hf = l.mul(half, f);
    let hfsq = l.mul(hf, f);
    let u = l.add(hfsq, rr);
    let t = l.mul(s, u);
    let t = l.mul_addc(e, LN2_LO, t);
    let t = l.sub(t, hfsq);
    let t = l.add(t, f);
    let r = l.mul_addc(e, LN2_HI, t);

    let inf = l.c(f32::INFINITY);
    let m = l.eq(x, inf);
    let r = l.sel(m, inf, r);
    let zero = l.c(0.0);
    let ninf = l.c(f32::NEG_INFINITY);
    let m = l.eq(x, zero);
    let r = l.sel(m, ninf, r);
    let nan = l.c(f32::NAN);
    let m = l.ult(x, zero);
    l.sel(m, nan, r)
}

/// `poly::tanh`: on `a = |x|`, polynomial below 0.625, else `1 - 2 / (e^(2a) + 1)`; the sign
/// of `x` or-ed back.
#[inline(always)]
fn tanh<L: Lanes>(l: L, x: L::F) -> L::F {
    let a = l.abs(x);
    let z = l.mul(a, a);
    let p = l.horner(z, &TANH_P);
    let p = l.mul(p, z);
    let small = l.mul_add(p, a, a);
    let a2 = l.add(a, a);
    let e = exp(l, a2, true);
    let one = l.c(1.0);
    let two = l.c(2.0);
    let d = l.add(e, one);
    let q = l.div(two, d);
    let large = l.sub(one, q);
    let th = l.c(0.625);
    let m = l.lt(a, th);
    let r = l.sel(m, small, large);
    let s = l.sign_of(x);
    l.or(r, s)
}

/// `poly::sigmoid`: `num / (1 + e)` with `e = e^-|x|`, `num = x < 0 ? e : 1`.
#[inline(always)]
fn sigmoid<L: Lanes>(l: L, x: L::F) -> L::F {
    let s = l.c(-0.0);
    let na = l.or(x, s); // -|x|
    let e = exp(l, na, true);
    let one = l.c(1.0);
    let zero = l.c(0.0);
    let neg = l.lt(x, zero);
    let num = l.sel(neg, e, one);
    let d = l.add(e, one);
    l.div(num, d)
}

/// `poly::erf`: on `a = |x|`, `a + a P(a^2)` below 0.84375, else `1 - exp(Q(min(a, 4)))`; the
/// sign of `x` or-ed back.
#[inline(always)]
fn erf<L: Lanes>(l: L, x: L::F) -> L::F {
    let a = l.abs(x);
    let z = l.mul(a, a);
    let p = l.horner(z, &ERF_P);
    let small = l.mul_add(a, p, a);
    let ac = l.min_keep_nan(a, 4.0);
    let q = l.horner(ac, &ERF_Q);
    let e = exp(l, q, false);
    let one = l.c(1.0);
    let large = l.sub(one, e);
    let th = l.c(ERF_SPLIT);
    let m = l.lt(a, th);
    let r = l.sel(m, small, large);
    let s = l.sign_of(x);
    l.or(r, s)
}
