//! [`Lanes`]: the primitives the wide algorithms are written over, mirroring `poly::K`.
//!
//! An implementation is a zero-sized *token*: a value of it exists only when the host has the
//! CPU features its methods use (its constructor is `unsafe` and says so), which is what makes
//! its methods safe to call. Every method is `#[inline(always)]`, so an algorithm
//! instantiated inside a `#[target_feature]` function becomes one branch-free block of vector
//! instructions.

/// The operations of `poly::K`, on `Self::F` (f32 lanes) and `Self::I` (their i32 view).
///
/// Each method performs exactly the IEEE operation (or bit operation) the Cranelift
/// instruction of the same role performs per lane, so a generic algorithm written with them
/// executes the same operations as its `poly.rs` counterpart and gives the same bits.
pub(super) trait Lanes: Copy {
    /// f32 lanes.
    type F: Copy;
    /// The i32 view of [`Lanes::F`].
    type I: Copy;
    /// A lane condition made by a comparison.
    type M: Copy;

    /// Every lane `v` (`K::c`).
    fn c(self, v: f32) -> Self::F;
    /// Every lane `v` (`K::ic`).
    fn ic(self, v: i32) -> Self::I;
    /// Floats as i32 bits (`bitcast`).
    fn bits(self, x: Self::F) -> Self::I;
    /// i32 bits as floats (`bitcast`).
    fn float(self, i: Self::I) -> Self::F;

    /// `a + b` (`fadd`).
    fn add(self, a: Self::F, b: Self::F) -> Self::F;
    /// `a - b` (`fsub`).
    fn sub(self, a: Self::F, b: Self::F) -> Self::F;
    /// `a * b` (`fmul`).
    fn mul(self, a: Self::F, b: Self::F) -> Self::F;
    /// `a / b` (`fdiv`).
    fn div(self, a: Self::F, b: Self::F) -> Self::F;
    /// `a * x + c`: one fused multiply-add (`fma`) if the token is for fma, else `a * x`
    /// rounded, then `+ c` (`fmul`, `fadd`) (`K::mul_add`).
    fn mul_add(self, a: Self::F, x: Self::F, c: Self::F) -> Self::F;
    /// `|x|`: the sign bit cleared (`fabs`).
    fn abs(self, x: Self::F) -> Self::F;
    /// Bitwise and of floats (`band`).
    fn and(self, a: Self::F, b: Self::F) -> Self::F;
    /// Bitwise or of floats (`bor`).
    fn or(self, a: Self::F, b: Self::F) -> Self::F;
    /// `x < lo ? lo : x` (`maxps lo, x`): NaN `x` passes.
    fn max_first(self, lo: Self::F, x: Self::F) -> Self::F;
    /// `hi < x ? hi : x` (`minps hi, x`): NaN `x` passes.
    fn min_first(self, hi: Self::F, x: Self::F) -> Self::F;

    /// Wrapping `a + b` (`iadd`).
    fn iadd(self, a: Self::I, b: Self::I) -> Self::I;
    /// Wrapping `a - b` (`isub`).
    fn isub(self, a: Self::I, b: Self::I) -> Self::I;
    /// `a & b` (`band`).
    fn iand(self, a: Self::I, b: Self::I) -> Self::I;
    /// `a << 23` (`ishl_imm 23`).
    fn shl23(self, a: Self::I) -> Self::I;
    /// Arithmetic `a >> 1` (`sshr_imm 1`).
    fn sar1(self, a: Self::I) -> Self::I;
    /// Arithmetic `a >> 23` (`sshr_imm 23`).
    fn sar23(self, a: Self::I) -> Self::I;
    /// i32 to f32, rounded to nearest (`fcvt_from_sint`).
    fn cvt(self, i: Self::I) -> Self::F;

    /// `a < b`, ordered (`fcmp lt`: false if either is NaN).
    fn lt(self, a: Self::F, b: Self::F) -> Self::M;
    /// `a == b`, ordered (`fcmp eq`).
    fn eq(self, a: Self::F, b: Self::F) -> Self::M;
    /// `a < b` or unordered (`fcmp ult`).
    fn ult(self, a: Self::F, b: Self::F) -> Self::M;
    /// `m ? t : f` per lane (`bitselect` of a full mask).
    fn sel(self, m: Self::M, t: Self::F, f: Self::F) -> Self::F;

    /// `a * m + c` with a constant multiplier (`K::mul_addc`).
    #[inline(always)]
    fn mul_addc(self, a: Self::F, m: f32, c: Self::F) -> Self::F {
        let m = self.c(m);
        self.mul_add(a, m, c)
    }

    /// Horner evaluation of `cs[0] x^n + ... + cs[n]` (`K::horner`).
    #[inline(always)]
    fn horner<const N: usize>(self, x: Self::F, cs: &[f32; N]) -> Self::F {
        let mut p = self.c(cs[0]);
        for &c in &cs[1..] {
            let c = self.c(c);
            p = self.mul_add(p, x, c);
        }
        p
    }

    /// `x < lo ? lo : x`; NaN `x` passes through (`K::max_keep_nan`).
    #[inline(always)]
    fn max_keep_nan(self, x: Self::F, lo: f32) -> Self::F {
        self.max_first(self.c(lo), x)
    }

    /// `hi < x ? hi : x`; NaN `x` passes through (`K::min_keep_nan`).
    #[inline(always)]
    fn min_keep_nan(self, x: Self::F, hi: f32) -> Self::F {
        self.min_first(self.c(hi), x)
    }

    /// `p · 2^k` rounded once, as `poly::exp` computes it: two exact multiplies by powers of
    /// two built from the bits of `kb` (whose low 9 bits hold `k`), so that only the second
    /// can round. `kf` is `k` as a float. For `k` in `[-159, 145]` and `p` in `[0.5, 2)`
    /// (what `exp`'s clamped input gives), `p · 2^⌊k/2⌋` is a normal number, exactly.
    #[inline(always)]
    fn scale_pow2(self, p: Self::F, kf: Self::F, kb: Self::I) -> Self::F {
        let _ = kf;
        let one_bits = self.bits(self.c(1.0));
        let pow2 = |e: Self::I| {
            let t = self.shl23(e);
            let t = self.iadd(t, one_bits);
            self.float(t)
        };
        let h = self.sar1(kb);
        let rest = self.isub(kb, h);
        let t = self.mul(p, pow2(h));
        self.mul(t, pow2(rest))
    }

    /// The sign bit of `x` as a float (`K::sign_of`).
    #[inline(always)]
    fn sign_of(self, x: Self::F) -> Self::F {
        let s = self.c(-0.0);
        self.and(x, s)
    }
}
