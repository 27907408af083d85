//! 8 lanes: [`Lanes`] on `__m256` with AVX2 (and FMA for the fused variant), and the
//! in-place loops.

use std::arch::x86_64::*;

use super::algo::apply;
use super::lanes::Lanes;

/// Token: a value exists only on a host with AVX2, and with FMA too when `FMA` (which picks
/// fused multiply-adds).
#[derive(Clone, Copy)]
pub(super) struct Avx2<const FMA: bool>(());

impl<const FMA: bool> Avx2<FMA> {
    /// # Safety
    /// The host supports AVX2, and FMA if `FMA`.
    #[inline(always)]
    unsafe fn new() -> Self {
        Avx2(())
    }
}

/// An AVX/AVX2 intrinsic that does not touch memory, called from a token method.
macro_rules! avx2 {
    ($e:expr) => {
        // SAFETY: the intrinsic needs AVX or AVX2 (AVX2 implies AVX), and an `Avx2` token
        // (`self`) exists only on a host with AVX2 (`Avx2::new`); it reads and writes no
        // memory.
        unsafe { $e }
    };
}

impl<const FMA: bool> Lanes for Avx2<FMA> {
    type F = __m256;
    type I = __m256i;
    type M = __m256;

    #[inline(always)]
    fn c(self, v: f32) -> __m256 {
        avx2!(_mm256_set1_ps(v))
    }
    #[inline(always)]
    fn ic(self, v: i32) -> __m256i {
        avx2!(_mm256_set1_epi32(v))
    }
    #[inline(always)]
    fn bits(self, x: __m256) -> __m256i {
        avx2!(_mm256_castps_si256(x))
    }
    #[inline(always)]
    fn float(self, i: __m256i) -> __m256 {
        avx2!(_mm256_castsi256_ps(i))
    }
    #[inline(always)]
    fn add(self, a: __m256, b: __m256) -> __m256 {
        avx2!(_mm256_add_ps(a, b))
    }
    #[inline(always)]
    fn sub(self, a: __m256, b: __m256) -> __m256 {
        avx2!(_mm256_sub_ps(a, b))
    }
    #[inline(always)]
    fn mul(self, a: __m256, b: __m256) -> __m256 {
        avx2!(_mm256_mul_ps(a, b))
    }
    #[inline(always)]
    fn div(self, a: __m256, b: __m256) -> __m256 {
        avx2!(_mm256_div_ps(a, b))
    }
    #[inline(always)]
    fn mul_add(self, a: __m256, x: __m256, c: __m256) -> __m256 {
        if FMA {
            // SAFETY: an `Avx2<true>` token exists only on a host with FMA (`Avx2::new`);
            // no memory is accessed.
            unsafe { _mm256_fmadd_ps(a, x, c) }
        } else {
            let t = self.mul(a, x);
            self.add(t, c)
        }
    }
    #[inline(always)]
    fn abs(self, x: __m256) -> __m256 {
        let m = self.ic(i32::MAX);
        self.float(self.iand(self.bits(x), m))
    }
    #[inline(always)]
    fn and(self, a: __m256, b: __m256) -> __m256 {
        avx2!(_mm256_and_ps(a, b))
    }
    #[inline(always)]
    fn or(self, a: __m256, b: __m256) -> __m256 {
        avx2!(_mm256_or_ps(a, b))
    }
    #[inline(always)]
    fn max_first(self, lo: __m256, x: __m256) -> __m256 {
        // `vmaxps`: lo > x ? lo : x, the second operand when either is NaN.
        avx2!(_mm256_max_ps(lo, x))
    }
    #[inline(always)]
    fn min_first(self, hi: __m256, x: __m256) -> __m256 {
        // `vminps`: hi < x ? hi : x, the second operand when either is NaN.
        avx2!(_mm256_min_ps(hi, x))
    }
    #[inline(always)]
    fn iadd(self, a: __m256i, b: __m256i) -> __m256i {
        avx2!(_mm256_add_epi32(a, b))
    }
    #[inline(always)]
    fn isub(self, a: __m256i, b: __m256i) -> __m256i {
        avx2!(_mm256_sub_epi32(a, b))
    }
    #[inline(always)]
    fn iand(self, a: __m256i, b: __m256i) -> __m256i {
        avx2!(_mm256_and_si256(a, b))
    }
    #[inline(always)]
    fn shl23(self, a: __m256i) -> __m256i {
        avx2!(_mm256_slli_epi32::<23>(a))
    }
    #[inline(always)]
    fn sar1(self, a: __m256i) -> __m256i {
        avx2!(_mm256_srai_epi32::<1>(a))
    }
    #[inline(always)]
    fn sar23(self, a: __m256i) -> __m256i {
        avx2!(_mm256_srai_epi32::<23>(a))
    }
    #[inline(always)]
    fn cvt(self, i: __m256i) -> __m256 {
        avx2!(_mm256_cvtepi32_ps(i))
    }
    #[inline(always)]
    fn lt(self, a: __m256, b: __m256) -> __m256 {
        avx2!(_mm256_cmp_ps::<_CMP_LT_OQ>(a, b))
    }
    #[inline(always)]
    fn eq(self, a: __m256, b: __m256) -> __m256 {
        avx2!(_mm256_cmp_ps::<_CMP_EQ_OQ>(a, b))
    }
    #[inline(always)]
    fn ult(self, a: __m256, b: __m256) -> __m256 {
        // not (a >= b): a < b or unordered
        avx2!(_mm256_cmp_ps::<_CMP_NGE_UQ>(a, b))
    }
    #[inline(always)]
    fn sel(self, m: __m256, t: __m256, f: __m256) -> __m256 {
        // the second operand where the mask lane's sign bit is set (masks are all-ones/zeros)
        avx2!(_mm256_blendv_ps(f, t, m))
    }
}

/// The loop of [`run_fma`] / [`run_nofma`]: `dst[i] = OP(src[i])` (with `AFFINE`,
/// `OP(a·src[i] + b)`; with `MUL`, that times `m[i]`), 8 lanes at a time, the last `n % 8`
/// with masked loads and stores (lanes past `n` are neither read nor written). Each group of
/// lanes is read before it is written, so `dst` may be `src` or `m` (in place). With a
/// non-null `pf`, the line at `pf + i` is prefetched with every other group (a hint: never
/// dereferenced). With `ACC`, the results are also summed into `acc`
/// ([`super::accumulate`]): each whole group of 16 as two halves of the 16 lanes.
///
/// # Safety
/// The host supports AVX2 (and FMA if `FMA`); `src` (and `m` if `MUL`) is valid for reads
/// and `dst` for reads and writes of `n` f32, each read range is `dst`'s range or does not
/// overlap it, and with `ACC`, `acc` is valid for reads and writes of 17 f32 outside them.
#[inline(always)]
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
    // SAFETY: the caller guarantees AVX2, and FMA if FMA.
    let l = unsafe { Avx2::<FMA>::new() };
    let (va, vb) = (l.c(a), l.c(b));
    let pre = |v| if AFFINE { l.mul_add(v, va, vb) } else { v };
    let whole = n - n % 16;
    // SAFETY: AVX; with ACC, acc holds 17 f32 (the caller's guarantee).
    let mut sums = if ACC {
        unsafe { [_mm256_loadu_ps(acc), _mm256_loadu_ps(acc.add(8))] }
    } else {
        unsafe { [_mm256_setzero_ps(); 2] }
    };
    let mut i = 0;
    while n - i >= 8 {
        // SAFETY: AVX (implied by AVX2); i + 8 <= n, so the 8 floats at src + i, m + i (when
        // MUL) and dst + i are inside the caller's ranges.
        unsafe {
            let v = _mm256_loadu_ps(src.add(i));
            if !pf.is_null() && i % 16 == 0 {
                // A hint: never faults, whatever the address.
                _mm_prefetch::<_MM_HINT_T0>(pf.wrapping_add(i).cast());
            }
            let mut r = apply::<_, OP>(l, pre(v));
            if MUL {
                r = _mm256_mul_ps(r, _mm256_loadu_ps(m.add(i)));
            }
            if ACC && i < whole {
                let h = (i / 8) % 2;
                sums[h] = _mm256_add_ps(sums[h], r);
            }
            _mm256_storeu_ps(dst.add(i), r);
        }
        i += 8;
    }
    let rest = n - i;
    if rest > 0 {
        // SAFETY: AVX2; i < n, so src + i, m + i and dst + i are inside the ranges;
        // `vmaskmovps` accesses only the `rest` lanes whose mask is set (i .. n): masked-off
        // lanes never fault and are not written.
        unsafe {
            let lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
            let k = _mm256_cmpgt_epi32(_mm256_set1_epi32(rest as i32), lane);
            let v = _mm256_maskload_ps(src.add(i), k);
            let mut r = apply::<_, OP>(l, pre(v));
            if MUL {
                r = _mm256_mul_ps(r, _mm256_maskload_ps(m.add(i), k));
            }
            _mm256_maskstore_ps(dst.add(i), k, r);
        }
    }
    if ACC {
        // SAFETY: acc holds 17 f32; dst[whole..n] was written above and is the caller's.
        unsafe {
            _mm256_storeu_ps(acc, sums[0]);
            _mm256_storeu_ps(acc.add(8), sums[1]);
            super::accumulate_tail(acc, dst.add(whole), n - whole);
        }
    }
}

/// [`body`] for null or non-null `m` and `acc`.
///
/// # Safety
/// As [`body`], with `MUL` = `m` is not null, `ACC` = `acc` is not null.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
unsafe fn run<const OP: u8, const FMA: bool, const AFFINE: bool>(
    src: *const f32,
    dst: *mut f32,
    n: usize,
    a: f32,
    b: f32,
    m: *const f32,
    pf: *const f32,
    acc: *mut f32,
) {
    // SAFETY: the caller's guarantees, with MUL / ACC exactly when m / acc is not null.
    unsafe { by_pointers!(body::<OP, FMA, AFFINE>(src, dst, n, a, b, m, pf, acc)) }
}

/// [`run`] with fused multiply-adds.
///
/// # Safety
/// The host supports AVX2 and FMA; the ranges are as for `run`.
#[target_feature(enable = "avx2,fma")]
#[allow(clippy::too_many_arguments)]
pub(super) unsafe extern "C" fn run_fma<const OP: u8, const AFFINE: bool>(
    src: *const f32,
    dst: *mut f32,
    n: usize,
    a: f32,
    b: f32,
    m: *const f32,
    pf: *const f32,
    acc: *mut f32,
) {
    // SAFETY: the caller's guarantees are `run`'s.
    unsafe { run::<OP, true, AFFINE>(src, dst, n, a, b, m, pf, acc) }
}

/// [`run`], multiply then add.
///
/// # Safety
/// The host supports AVX2; the ranges are as for `run`.
#[target_feature(enable = "avx2")]
#[allow(clippy::too_many_arguments)]
pub(super) unsafe extern "C" fn run_nofma<const OP: u8, const AFFINE: bool>(
    src: *const f32,
    dst: *mut f32,
    n: usize,
    a: f32,
    b: f32,
    m: *const f32,
    pf: *const f32,
    acc: *mut f32,
) {
    // SAFETY: the caller's guarantees are `run`'s.
    unsafe { run::<OP, false, AFFINE>(src, dst, n, a, b, m, pf, acc) }
}
