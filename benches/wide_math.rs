//! The wide (AVX2 / AVX-512) math functions against the JIT's four-lane code: ns/element of
//! `exp`, `log`, `tanh`, `sigmoid`, `erf` on 4096 cache-resident f32, in the same run.
//!
//! Every variant reads the same 4096 inputs and writes another 4096-float buffer:
//! `jit_f32x4` is the program `y = f(x)` compiled with `wide_math: false` and every site
//! inline, run by `Compiled::run_into` (whose input checks add about 70 ns, 1–3% here);
//! `wide_avx2` / `wide_avx512` are `wide_fn_at` at that level with the host's fma.
//! Run: `cargo bench --bench wide_math` (figures in docs/math.md, "Wide functions").

use criterion::{black_box, criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use lazyjit::lowering::codegen::math::{wide_fn_at, MathFn, WideLevel};
use lazyjit::lowering::codegen::{compile, CompileOptions};
use lazyjit::lowering::{text, Tensor};
use std::time::Duration;

const N: usize = 4096;

/// Whether Cranelift's native ISA emits `fma` here (what it detects, too).
fn host_fma() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("fma")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

fn inputs(f: MathFn) -> Vec<f32> {
    let (lo, hi) = match f {
        MathFn::Exp => (-80.0f32, 80.0f32),
        MathFn::Log => (1e-6, 1e6),
        _ => (-8.0, 8.0),
    };
    (0..N)
        .map(|i| lo + (hi - lo) * (i as f32 / (N - 1) as f32))
        .collect()
}

fn wide_math(c: &mut Criterion) {
    let fma = host_fma();
    let mut g = c.benchmark_group("wide_math");
    g.throughput(Throughput::Elements(N as u64));
    g.warm_up_time(Duration::from_millis(500));
    g.measurement_time(Duration::from_secs(2));
    let mut buf = vec![0f32; N];
    for f in [
        MathFn::Exp,
        MathFn::Log,
        MathFn::Tanh,
        MathFn::Sigmoid,
        MathFn::Erf,
    ] {
        let xs = inputs(f);
        let src = format!(
            "param %x: f32[{N}]\n%1: f32[{N}] = {} %x\nreturn %1\n",
            f.name()
        );
        let opts = CompileOptions {
            wide_math: false,
            inline_math: usize::MAX,
            ..CompileOptions::default()
        };
        let jit = compile(&text::parse(&src).unwrap(), &opts).unwrap();
        let x = Tensor::from_slice(&xs, [N]).unwrap();
        let mut outs = jit.run(&[&x]).unwrap();
        g.bench_function(BenchmarkId::new(f.name(), "jit_f32x4"), |bch| {
            bch.iter(|| jit.run_into(&[black_box(&x)], &mut outs).unwrap());
        });
        for (name, level) in [
            ("wide_avx2", WideLevel::Avx2),
            ("wide_avx512", WideLevel::Avx512),
        ] {
            let Some(k) = wide_fn_at(f, fma, level) else {
                continue;
            };
            g.bench_function(BenchmarkId::new(f.name(), name), |bch| {
                bch.iter(|| {
                    // SAFETY: xs and buf hold N floats each and do not overlap; the host
                    // supports `k`.
                    unsafe {
                        k(
                            black_box(xs.as_ptr()),
                            buf.as_mut_ptr(),
                            N,
                            1.0,
                            -0.0,
                            std::ptr::null(),
                            std::ptr::null(),
                            std::ptr::null_mut(),
                        )
                    };
                    black_box(&buf);
                });
            });
        }
    }
    g.finish();
}

criterion_group!(benches, wide_math);
criterion_main!(benches);
