//! 16 lanes: [`Lanes`] on `__m512` with AVX-512F only, and the in-place loop.

use std::arch::x86_64::*;

use super::algo::apply;
use super::lanes::Lanes;

/// Token: a value exists only on a host with AVX-512F. `FMA` picks fused multiply-adds
/// (AVX-512F has them on `zmm` registers, no separate `fma` feature needed).
#[derive(Clone, Copy)]
pub(super) struct Avx512<const FMA: bool>(());

impl<const FMA: bool> Avx512<FMA> {
    /// # Safety
    /// The host supports AVX-512F.
    #[inline(always)]
    unsafe fn new() -> Self {
        Avx512(())
    }
}

/// An AVX-512F intrinsic that does not touch memory, called from a token method.
macro_rules! avx512 {
    ($e:expr) => {
        // SAFETY: the intrinsic needs AVX-512F only, and an `Avx512` token (`self`) exists
        // only on a host that has it (`Avx512::new`); it reads and writes no memory.
        unsafe { $e }
    };
}

impl<const FMA: bool> Lanes for Avx512<FMA> {
    type F = __m512;
    type I = __m512i;
    type M = __mmask16;

    #[inline(always)]
    fn c(self, v: f32) -> __m512 {
        avx512!(_mm512_set1_ps(v))
    }
    #[inline(always)]
    fn ic(self, v: i32) -> __m512i {
        avx512!(_mm512_set1_epi32(v))
    }
    #[inline(always)]
    fn bits(self, x: __m512) -> __m512i {
        avx512!(_mm512_castps_si512(x))
    }
    #[inline(always)]
    fn float(self, i: __m512i) -> __m512 {
        avx512!(_mm512_castsi512_ps(i))
    }
    #[inline(always)]
    fn add(self, a: __m512, b: __m512) -> __m512 {
        avx512!(_mm512_add_ps(a, b))
    }
    #[inline(always)]
    fn sub(self, a: __m512, b: __m512) -> __m512 {
        avx512!(_mm512_sub_ps(a, b))
    }
    #[inline(always)]
    fn mul(self, a: __m512, b: __m512) -> __m512 {
        avx512!(_mm512_mul_ps(a, b))
    }
    #[inline(always)]
    fn div(self, a: __m512, b: __m512) -> __m512 {
        avx512!(_mm512_div_ps(a, b))
    }
    #[inline(always)]
    fn mul_add(self, a: __m512, x: __m512, c: __m512) -> __m512 {
        if FMA {
            avx512!(_mm512_fmadd_ps(a, x, c))
        } else {
            let t = self.mul(a, x);
            self.add(t, c)
        }
    }
    #[inline(always)]
    fn abs(self, x: __m512) -> __m512 {
        let m = self.ic(i32::MAX);
        self.float(self.iand(self.bits(x), m))
    }
    #[inline(always)]
    fn and(self, a: __m512, b: __m512) -> __m512 {
        self.float(self.iand(self.bits(a), self.bits(b)))
    }
    #[inline(always)]
    fn or(self, a: __m512, b: __m512) -> __m512 {
        self.float(avx512!(_mm512_or_si512(self.bits(a), self.bits(b))))
    }
    #[inline(always)]
    fn max_first(self, lo: __m512, x: __m512) -> __m512 {
        // `vmaxps`: lo > x ? lo : x, the second operand when either is NaN.
        avx512!(_mm512_max_ps(lo, x))
    }
    #[inline(always)]
    fn min_first(self, hi: __m512, x: __m512) -> __m512 {
        // `vminps`: hi < x ? hi : x, the second operand when either is NaN.
        avx512!(_mm512_min_ps(hi, x))
    }
    #[inline(always)]
    fn iadd(self, a: __m512i, b: __m512i) -> __m512i {
        avx512!(_mm512_add_epi32(a, b))
    }
    #[inline(always)]
    fn isub(self, a: __m512i, b: __m512i) -> __m512i {
        avx512!(_mm512_sub_epi32(a, b))
    }
    #[inline(always)]
    fn iand(self, a: __m512i, b: __m512i) -> __m512i {
        avx512!(_mm512_and_si512(a, b))
    }
    #[inline(always)]
    fn shl23(self, a: __m512i) -> __m512i {
        avx512!(_mm512_slli_epi32::<23>(a))
    }
    #[inline(always)]
    fn sar1(self, a: __m512i) -> __m512i {
        avx512!(_mm512_srai_epi32::<1>(a))
    }
    #[inline(always)]
    fn sar23(self, a: __m512i) -> __m512i {
        avx512!(_mm512_srai_epi32::<23>(a))
    }
    #[inline(always)]
    fn cvt(self, i: __m512i) -> __m512 {
        avx512!(_mm512_cvtepi32_ps(i))
    }
    #[inline(always)]
    fn lt(self, a: __m512, b: __m512) -> __mmask16 {
        avx512!(_mm512_cmp_ps_mask::<_CMP_LT_OQ>(a, b))
    }
    #[inline(always)]
    fn eq(self, a: __m512, b: __m512) -> __mmask16 {
        avx512!(_mm512_cmp_ps_mask::<_CMP_EQ_OQ>(a, b))
    }
    #[inline(always)]
    fn ult(self, a: __m512, b: __m512) -> __mmask16 {
        // not (a >= b): a < b or unordered
        avx512!(_mm512_cmp_ps_mask::<_CMP_NGE_UQ>(a, b))
    }
    #[inline(always)]
    fn scale_pow2(self, p: __m512, kf: __m512, _kb: __m512i) -> __m512 {
        // `vscalefps`: p · 2^⌊kf⌋ rounded once, one instruction for the default's eight. The
        // same value: in the default, the first multiply is exact and only the second
        // rounds (and a NaN `p` comes out of both as itself, quieted).
        avx512!(_mm512_scalef_ps(p, kf))
    }
    #[inline(always)]
    fn sel(self, m: __mmask16, t: __m512, f: __m512) -> __m512 {
        // lanes of the second operand where the mask bit is set
        avx512!(_mm512_mask_blend_ps(m, f, t))
    }
}

/// `dst[i] = OP(src[i])` (with `AFFINE`, `OP(a·src[i] + b)`; with a non-null `m`, that
/// times `m[i]`) for `i < n`: 16 lanes at a time, the last `n % 16` with masked loads and
/// stores (lanes past `n` are neither read nor written). Each group of lanes is read before it
/// is written, so `dst` may be `src` or `m` (in place). With a non-null `pf`, the line at
/// `pf + i` is prefetched with each group (a hint: `pf` is never dereferenced). With a
/// non-null `acc`, the results are also summed into it ([`super::accumulate`]).
///
/// # Safety
/// The host supports AVX-512F; `src` (and `m` unless null) is valid for reads and `dst` for
/// reads and writes of `n` f32 (any pointers if `n == 0`), each read range is `dst`'s range
/// or does not overlap it, and `acc`, unless null, is valid for reads and writes of 17 f32
/// outside those ranges.
#[target_feature(enable = "avx512f")]
#[allow(clippy::too_many_arguments)]
pub(super) unsafe extern "C" fn run<const OP: u8, const FMA: bool, const AFFINE: bool>(
    src: *const f32,
    dst: *mut f32,
    n: usize,
    a: f32,
    b: f32,
    m: *const f32,
    pf: *const f32,
    acc: *mut f32,
) {
    // SAFETY: the caller's guarantees, with `m` non-null only when MUL, `acc` only when ACC.
    unsafe { by_pointers!(body::<OP, FMA, AFFINE>(src, dst, n, a, b, m, pf, acc)) }
}

/// [`run`] with `m` non-null exactly when `MUL`, `acc` exactly when `ACC`.
///
/// # Safety
/// As [`run`].
#[target_feature(enable = "avx512f")]
#[inline]
#[allow(clippy::too_many_arguments)]
unsafe fn body<
    const OP: u8,
    const FMA: bool,
    const AFFINE: bool,
    const MUL: bool,
    const ACC: bool,
>(
    src: *const f32,
    dst: *mut f32,
    n: usize,
    a: f32,
    b: f32,
    m: *const f32,
    pf: *const f32,
    acc: *mut f32,
) {
    // SAFETY: the caller guarantees AVX-512F.
    let l = unsafe { Avx512::<FMA>::new() };
    let (va, vb) = (l.c(a), l.c(b));
    let pre = |v| if AFFINE { l.mul_add(v, va, vb) } else { v };
    // SAFETY: with ACC, acc holds 17 f32 (the caller's guarantee).
    let mut sum = if ACC {
        unsafe { _mm512_loadu_ps(acc) }
    } else {
        _mm512_setzero_ps()
    };
    let mut i = 0;
    while n - i >= 16 {
        // SAFETY: i + 16 <= n, so the 16 floats at src + i, m + i (when MUL) and dst + i are
        // inside the caller's ranges.
        unsafe {
            let v = _mm512_loadu_ps(src.add(i));
            if !pf.is_null() {
                // A hint: never faults, whatever the address.
                _mm_prefetch::<_MM_HINT_T0>(pf.wrapping_add(i).cast());
            }
            let mut r = apply::<_, OP>(l, pre(v));
            if MUL {
                r = _mm512_mul_ps(r, _mm512_loadu_ps(m.add(i)));
            }
            if ACC {
                sum = _mm512_add_ps(sum, r);
            }
            _mm512_storeu_ps(dst.add(i), r);
        }
        i += 16;
    }
    let rest = n - i;
    if rest > 0 {
        let k = ((1u32 << rest) - 1) as __mmask16;
        // SAFETY: i < n, so src + i, m + i and dst + i are inside the ranges; only the `rest`
        // lanes under the mask (i .. n) are accessed, masked-off lanes are not (no fault, no
        // write).
        unsafe {
            let v = _mm512_maskz_loadu_ps(k, src.add(i));
            let mut r = apply::<_, OP>(l, pre(v));
            if MUL {
                r = _mm512_mul_ps(r, _mm512_maskz_loadu_ps(k, m.add(i)));
            }
            _mm512_mask_storeu_ps(dst.add(i), k, r);
        }
    }
    if ACC {
        // SAFETY: acc holds 17 f32; dst[i..n] was written above and is the caller's.
        unsafe {
            _mm512_storeu_ps(acc, sum);
            super::accumulate_tail(acc, dst.add(i), rest);
        }
    }
}
