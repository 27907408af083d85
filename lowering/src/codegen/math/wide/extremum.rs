//! The maximum or minimum of a contiguous row of f32, 16 (AVX-512F) or 8 (AVX2) lanes at a
//! time: what a reduction kernel's four-lane `reduce_max` / `reduce_min` loop computes, for
//! the rows it reads contiguously (softmax's first pass).
//!
//! The four-lane loop accumulates with `maxps` (which skips NaN), tracks NaN in a mask and the
//! bits of every element in an AND (max) / OR (min) to give a zero result its sign
//! (`emit/reduce.rs`). Its result is therefore a function of the row's *set* of values:
//! canonical NaN (`0x7fc0_0000`) if any element is NaN; otherwise the IEEE maximum (minimum)
//! with `+0 > -0`; the identity (`-inf` / `+inf`) for an empty row. The order elements are
//! combined in does not matter, so these loops use four independent accumulators of full
//! width and give the same bits.

#[cfg(target_arch = "x86_64")]
use std::arch::x86_64::*;

/// The maximum (`MAX`) or minimum of the `n` f32 at `src`, as described in the module
/// comment.
///
/// # Safety (for callers)
/// `src` must be valid for reads of `n` f32 (aligned to 4 bytes); any `n`, including 0.
/// Obtained from [`super::wide_extremum_fn`], which only returns functions the host can run.
pub type ExtremumFn = unsafe extern "C" fn(src: *const f32, n: usize) -> f32;

/// The canonical NaN a reduction kernel stores.
const NAN: f32 = f32::from_bits(0x7fc0_0000);

/// The scalar part shared by both widths: folds the lanes `acc` (never NaN), the NaN flag and
/// the bits (AND for max, OR for min) of the elements not yet seen into a result, after
/// taking `tail` elements one by one.
fn finish<const MAX: bool>(acc: &[f32], mut nan: bool, lane_bits: &[u32], tail: &[f32]) -> f32 {
    let better = |x: f32, r: f32| if MAX { x > r } else { x < r };
    let mut r = if MAX {
        f32::NEG_INFINITY
    } else {
        f32::INFINITY
    };
    for &x in acc {
        if better(x, r) {
            r = x;
        }
    }
    let mut bits = if MAX { u32::MAX } else { 0 };
    for &b in lane_bits {
        bits = if MAX { bits & b } else { bits | b };
    }
    for &x in tail {
        nan |= x.is_nan();
        if better(x, r) {
            r = x;
        }
        bits = if MAX {
            bits & x.to_bits()
        } else {
            bits | x.to_bits()
        };
    }
    if nan {
        NAN
    } else if r == 0.0 {
        // Every element is <= 0 (max) or >= 0 (min): the sign of `bits` says whether a +0
        // (max) or -0 (min) was among them.
        f32::from_bits(bits & 0x8000_0000)
    } else {
        r
    }
}

/// 16 lanes. `_mm512_max_ps(x, acc)` is `x > acc ? x : acc`: a NaN `x` keeps `acc`.
///
/// # Safety
/// The host supports AVX-512F; `src` is valid for reads of `n` f32.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
pub(super) unsafe extern "C" fn avx512<const MAX: bool>(src: *const f32, n: usize) -> f32 {
    let ident = _mm512_set1_ps(if MAX {
        f32::NEG_INFINITY
    } else {
        f32::INFINITY
    });
    let step = |acc: __m512, x: __m512| {
        if MAX {
            _mm512_max_ps(x, acc)
        } else {
            _mm512_min_ps(x, acc)
        }
    };
    let fold = |bits: __m512i, x: __m512| {
        if MAX {
            _mm512_and_si512(bits, _mm512_castps_si512(x))
        } else {
            _mm512_or_si512(bits, _mm512_castps_si512(x))
        }
    };
    let mut acc = [ident; 4];
    let mut nan: __mmask16 = 0;
    let mut bits = _mm512_set1_epi32(if MAX { -1 } else { 0 });
    let mut i = 0;
    while n - i >= 64 {
        for (k, a) in acc.iter_mut().enumerate() {
            // SAFETY: i + 64 <= n, so the 16 floats at src + i + 16k are in the caller's range.
            let x = unsafe { _mm512_loadu_ps(src.add(i + 16 * k)) };
            *a = step(*a, x);
            nan |= _mm512_cmp_ps_mask::<_CMP_UNORD_Q>(x, x);
            bits = fold(bits, x);
        }
        i += 64;
    }
    while n - i >= 16 {
        // SAFETY: i + 16 <= n.
        let x = unsafe { _mm512_loadu_ps(src.add(i)) };
        acc[0] = step(acc[0], x);
        nan |= _mm512_cmp_ps_mask::<_CMP_UNORD_Q>(x, x);
        bits = fold(bits, x);
        i += 16;
    }
    let m = step(step(acc[0], acc[1]), step(acc[2], acc[3]));
    let mut lanes = [0f32; 16];
    let mut lane_bits = [0u32; 16];
    // SAFETY: both arrays hold 16 lanes; unaligned stores.
    unsafe {
        _mm512_storeu_ps(lanes.as_mut_ptr(), m);
        _mm512_storeu_si512(lane_bits.as_mut_ptr().cast(), bits);
    }
    // SAFETY: i <= n, so the n - i floats at src + i are in the caller's range.
    let tail = unsafe { std::slice::from_raw_parts(src.add(i), n - i) };
    finish::<MAX>(&lanes, nan != 0, &lane_bits, tail)
}

/// 8 lanes, as [`avx512`].
///
/// # Safety
/// The host supports AVX2; `src` is valid for reads of `n` f32.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
pub(super) unsafe extern "C" fn avx2<const MAX: bool>(src: *const f32, n: usize) -> f32 {
    let ident = _mm256_set1_ps(if MAX {
        f32::NEG_INFINITY
    } else {
        f32::INFINITY
    });
    let step = |acc: __m256, x: __m256| {
        if MAX {
            _mm256_max_ps(x, acc)
        } else {
            _mm256_min_ps(x, acc)
        }
    };
    let fold = |bits: __m256, x: __m256| {
        if MAX {
            _mm256_and_ps(bits, x)
        } else {
            _mm256_or_ps(bits, x)
        }
    };
    let mut acc = [ident; 4];
    let mut nan = _mm256_setzero_ps();
    let mut bits = _mm256_castsi256_ps(_mm256_set1_epi32(if MAX { -1 } else { 0 }));
    let mut i = 0;
    while n - i >= 32 {
        for (k, a) in acc.iter_mut().enumerate() {
            // SAFETY: i + 32 <= n, so the 8 floats at src + i + 8k are in the caller's range.
            let x = unsafe { _mm256_loadu_ps(src.add(i + 8 * k)) };
            *a = step(*a, x);
            nan = _mm256_or_ps(nan, _mm256_cmp_ps::<_CMP_UNORD_Q>(x, x));
            bits = fold(bits, x);
        }
        i += 32;
    }
    while n - i >= 8 {
        // SAFETY: i + 8 <= n.
        let x = unsafe { _mm256_loadu_ps(src.add(i)) };
        acc[0] = step(acc[0], x);
        nan = _mm256_or_ps(nan, _mm256_cmp_ps::<_CMP_UNORD_Q>(x, x));
        bits = fold(bits, x);
        i += 8;
    }
    let m = step(step(acc[0], acc[1]), step(acc[2], acc[3]));
    let mut lanes = [0f32; 8];
    let mut lane_bits = [0u32; 8];
    // SAFETY: both arrays hold 8 lanes; unaligned stores.
    unsafe {
        _mm256_storeu_ps(lanes.as_mut_ptr(), m);
        _mm256_storeu_ps(lane_bits.as_mut_ptr().cast(), bits);
    }
    // SAFETY: i <= n, so the n - i floats at src + i are in the caller's range.
    let tail = unsafe { std::slice::from_raw_parts(src.add(i), n - i) };
    finish::<MAX>(&lanes, _mm256_movemask_ps(nan) != 0, &lane_bits, tail)
}
