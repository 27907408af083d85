//! The compute-limit baseline: a loop of independent fused multiply-adds at the widest
//! vector width this CPU has (AVX-512, else AVX2+FMA, else scalar `mul_add`), one thread.
//! It stands for the FLOP rate a perfectly efficient kernel reaches, as the stream loop
//! stands for memory bandwidth: `fma_flops(n)` does `n` floating-point operations (an FMA
//! counts two) with no memory traffic.

/// Accumulator chains: enough independent FMAs to cover latency x ports on current cores.
const CHAINS: usize = 16;

/// Runs about `flops` floating-point operations; returns a value depending on all of them.
pub fn fma_flops(flops: u64) -> f32 {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx512f") {
            let iters = flops / (2 * 16 * CHAINS as u64);
            // SAFETY: the CPU has AVX-512F (checked above).
            return unsafe { x86::avx512(iters) };
        }
        if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
        {
            let iters = flops / (2 * 8 * CHAINS as u64);
            // SAFETY: the CPU has AVX2 and FMA (checked above).
            return unsafe { x86::avx2(iters) };
        }
    }
    scalar(flops / (2 * CHAINS as u64))
}

/// The instruction set [`fma_flops`] uses here.
pub fn fma_isa() -> &'static str {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx512f") {
            return "avx512";
        }
        if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
        {
            return "avx2+fma";
        }
    }
    "scalar"
}

fn scalar(iters: u64) -> f32 {
    let mut acc = [0.0f32; CHAINS];
    let (a, b) = (
        std::hint::black_box(0.999_f32),
        std::hint::black_box(0.001_f32),
    );
    for _ in 0..iters {
        for x in &mut acc {
            *x = x.mul_add(a, b);
        }
    }
    acc.iter().sum()
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use super::CHAINS;
    use std::arch::x86_64::*;

    #[target_feature(enable = "avx512f")]
    pub unsafe fn avx512(iters: u64) -> f32 {
        let a = _mm512_set1_ps(std::hint::black_box(0.999));
        let b = _mm512_set1_ps(std::hint::black_box(0.001));
        let mut acc = [_mm512_setzero_ps(); CHAINS];
        for _ in 0..iters {
            for x in &mut acc {
                *x = _mm512_fmadd_ps(*x, a, b);
            }
        }
        let mut s = _mm512_setzero_ps();
        for x in acc {
            s = _mm512_add_ps(s, x);
        }
        _mm512_reduce_add_ps(s)
    }

    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn avx2(iters: u64) -> f32 {
        let a = _mm256_set1_ps(std::hint::black_box(0.999));
        let b = _mm256_set1_ps(std::hint::black_box(0.001));
        let mut acc = [_mm256_setzero_ps(); CHAINS];
        for _ in 0..iters {
            for x in &mut acc {
                *x = _mm256_fmadd_ps(*x, a, b);
            }
        }
        let mut s = _mm256_setzero_ps();
        for x in acc {
            s = _mm256_add_ps(s, x);
        }
        let mut out = [0.0f32; 8];
        _mm256_storeu_ps(out.as_mut_ptr(), s);
        out.iter().sum()
    }
}
