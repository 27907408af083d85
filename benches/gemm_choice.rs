//! Which GEMM crate backs `MatMulPlan` for f32/f64: measured, single-threaded.
//!
//! Baseline set at 1024^3 f32 (and f64): `matrixmultiply::sgemm` / `dgemm` (no "threading"
//! feature, so one thread; AVX-512 kernels on by default), `gemm::gemm` with
//! `Parallelism::None` (built with its `x86-v4` feature so that it, too, may use AVX-512),
//! ndarray's `a.dot(&b)` (ndarray is built without a BLAS feature, so it calls matrixmultiply
//! and allocates the result), and `lazyjit_lowering::kernels::MatMulPlan` itself (to show that
//! the wrapper costs nothing). Smaller and transposed cases show the picture where compiled
//! programs usually live; the i32/i64 group measures the integer loop.
//!
//! Run: `cargo bench --bench gemm_choice`. Throughput is reported as elements/s where one
//! "element" is one FLOP (2*m*k*n per product), so `Gelem/s` reads as GFLOP/s.
//! Results and the decision: `docs/matmul.md`.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use lazyjit_lowering::kernels::{
    set_matmul_parallel_work, set_threads, FloatKernel, MatMulPlan, PARALLEL_WORK,
};
use lazyjit_lowering::DType;
use ndarray::Array2;
use std::hint::black_box;
use std::time::Duration;

mod common;
use common::fma::fma_flops;

/// One float type and its two candidate kernels, both called as `c = a x b` on strided
/// operands with a dense row-major `c`.
trait Float: Copy + Default + Into<f64> + 'static {
    const DTYPE: DType;
    const NAME: &'static str;
    fn from_f64(x: f64) -> Self;
    /// # Safety: the strided views are in bounds, c is m x n row-major and separate.
    #[allow(clippy::too_many_arguments)]
    unsafe fn matrixmultiply(
        m: usize,
        k: usize,
        n: usize,
        a: *const Self,
        rsa: isize,
        csa: isize,
        b: *const Self,
        rsb: isize,
        csb: isize,
        c: *mut Self,
    );
}

impl Float for f32 {
    const DTYPE: DType = DType::F32;
    const NAME: &'static str = "f32";
    fn from_f64(x: f64) -> f32 {
        x as f32
    }
    unsafe fn matrixmultiply(
        m: usize,
        k: usize,
        n: usize,
        a: *const f32,
        rsa: isize,
        csa: isize,
        b: *const f32,
        rsb: isize,
        csb: isize,
        c: *mut f32,
    ) {
        // SAFETY: forwarded contract.
        unsafe {
            matrixmultiply::sgemm(
                m, k, n, 1.0, a, rsa, csa, b, rsb, csb, 0.0, c, n as isize, 1,
            )
        }
    }
}

impl Float for f64 {
    const DTYPE: DType = DType::F64;
    const NAME: &'static str = "f64";
    fn from_f64(x: f64) -> f64 {
        x
    }
    unsafe fn matrixmultiply(
        m: usize,
        k: usize,
        n: usize,
        a: *const f64,
        rsa: isize,
        csa: isize,
        b: *const f64,
        rsb: isize,
        csb: isize,
        c: *mut f64,
    ) {
        // SAFETY: forwarded contract.
        unsafe {
            matrixmultiply::dgemm(
                m, k, n, 1.0, a, rsa, csa, b, rsb, csb, 0.0, c, n as isize, 1,
            )
        }
    }
}

/// `c = a x b` with the `gemm` crate, single-threaded.
///
/// # Safety: as [`Float::matrixmultiply`].
#[allow(clippy::too_many_arguments)]
unsafe fn gemm_crate<T: Float>(
    m: usize,
    k: usize,
    n: usize,
    a: *const T,
    rsa: isize,
    csa: isize,
    b: *const T,
    rsb: isize,
    csb: isize,
    c: *mut T,
) {
    // SAFETY: forwarded contract. gemm computes dst = alpha*dst + beta*lhs*rhs and takes
    // (column, row) strides; with read_dst = false, dst is only written.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            c,
            1,
            n as isize,
            false,
            a,
            csa,
            rsa,
            b,
            csb,
            rsb,
            T::from_f64(0.0),
            T::from_f64(1.0),
            false,
            false,
            false,
            gemm::Parallelism::None,
        )
    }
}

/// Operand layouts.
#[derive(Copy, Clone, PartialEq)]
enum Layout {
    /// Both row-major.
    Nn,
    /// `a` stored transposed (column-major), as in the weight gradient `x^T · dy`.
    Tn,
}

/// Benchmarks one float matmul shape with every candidate.
fn float_case<T: Float>(c: &mut Criterion, m: usize, k: usize, n: usize, layout: Layout) {
    let a: Vec<T> = (0..m * k)
        .map(|i| T::from_f64(((i * 7919 + 13) % 2003) as f64 / 1001.5 - 1.0))
        .collect();
    let b: Vec<T> = (0..k * n)
        .map(|i| T::from_f64(((i * 104_729 + 7) % 1999) as f64 / 999.5 - 1.0))
        .collect();
    let mut out: Vec<T> = vec![T::default(); m * n];
    let (rsa, csa) = match layout {
        Layout::Nn => (k, 1),
        Layout::Tn => (1, m),
    };
    let (rsb, csb) = (n, 1);
    let lay = match layout {
        Layout::Nn => "",
        Layout::Tn => "_aT",
    };
    let name = format!("{}_{m}x{k}x{n}{lay}", T::NAME);
    let mut g = c.benchmark_group(&name);
    // Modest times keep the whole bench under two minutes on the 2-core machine.
    let (warm, meas) = if m * k * n >= 1 << 27 {
        (1000, 2000)
    } else {
        (500, 1000)
    };
    g.sample_size(10)
        .warm_up_time(Duration::from_millis(warm))
        .measurement_time(Duration::from_millis(meas))
        .throughput(Throughput::Elements(2 * (m * k * n) as u64));

    let (ap, bp) = (a.as_ptr(), b.as_ptr());
    let (ra, ca, rb, cb) = (rsa as isize, csa as isize, rsb as isize, csb as isize);
    g.bench_function("matrixmultiply", |bch| {
        bch.iter(|| {
            // SAFETY: the views match the buffers built above; out is separate.
            unsafe { T::matrixmultiply(m, k, n, ap, ra, ca, bp, rb, cb, out.as_mut_ptr()) };
            black_box(&mut out);
        })
    });
    g.bench_function("gemm", |bch| {
        bch.iter(|| {
            // SAFETY: as above.
            unsafe { gemm_crate(m, k, n, ap, ra, ca, bp, rb, cb, out.as_mut_ptr()) };
            black_box(&mut out);
        })
    });
    if T::DTYPE == DType::F32 && layout == Layout::Nn && m == 1024 {
        let aa = Array2::from_shape_fn((m, k), |(i, p)| a[i * k + p].into() as f32);
        let bb = Array2::from_shape_fn((k, n), |(p, j)| b[p * n + j].into() as f32);
        g.bench_function("ndarray_dot", |bch| bch.iter(|| black_box(aa.dot(&bb))));
    }
    let plan = MatMulPlan::new(T::DTYPE, &[m, k], &[rsa, csa], &[k, n], &[rsb, csb]).unwrap();
    g.bench_function("MatMulPlan", |bch| {
        bch.iter(|| {
            // SAFETY: buffers of the plan's dtype, at least a_min_len / b_min_len / out_numel
            // long; out is separate.
            unsafe { plan.run(ap.cast(), bp.cast(), out.as_mut_ptr().cast()) };
            black_box(&mut out);
        })
    });
    g.finish();

    // Cross-check outside the timed loops: MatMulPlan and the gemm crate agree.
    let mut want: Vec<T> = vec![T::default(); m * n];
    // SAFETY: as above.
    unsafe {
        plan.run(ap.cast(), bp.cast(), out.as_mut_ptr().cast());
        gemm_crate(m, k, n, ap, ra, ca, bp, rb, cb, want.as_mut_ptr());
    }
    let worst = out
        .iter()
        .zip(&want)
        .map(|(&x, &y)| (x.into() - y.into()).abs())
        .fold(0.0, f64::max);
    assert!(
        worst < 1e-2,
        "{name}: MatMulPlan and gemm disagree by {worst}"
    );
}

fn floats(c: &mut Criterion) {
    float_case::<f32>(c, 1024, 1024, 1024, Layout::Nn);
    float_case::<f64>(c, 1024, 1024, 1024, Layout::Nn);
    float_case::<f32>(c, 256, 256, 256, Layout::Nn);
    float_case::<f32>(c, 64, 64, 64, Layout::Nn);
    // An MLP layer (batch 64, 784 -> 128) and its weight gradient (x^T · dy).
    float_case::<f32>(c, 64, 784, 128, Layout::Nn);
    float_case::<f32>(c, 784, 64, 128, Layout::Tn);
}

/// Many tiny products (per-call overhead): `batch` independent `s x s x s` f32 matmuls, through
/// MatMulPlan with each float kernel forced (the loop/gemm crossover that sets
/// `SMALL_FLOAT_WORK`) and, with `crates`, through both crates called directly.
fn tiny_batched(c: &mut Criterion, s: usize, crates: bool) {
    let batch = (262_144 / (s * s * s)).max(1);
    let a: Vec<f32> = (0..batch * s * s).map(|i| (i % 7) as f32 - 3.0).collect();
    let b: Vec<f32> = (0..batch * s * s).map(|i| (i % 5) as f32 - 2.0).collect();
    let mut out = vec![0f32; batch * s * s];
    let mut g = c.benchmark_group(format!("f32_{batch}x[{s}x{s}x{s}]"));
    g.sample_size(10)
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_millis(700))
        .throughput(Throughput::Elements(2 * (batch * s * s * s) as u64));
    let ss = s * s;
    let si = s as isize;
    if crates {
        g.bench_function("matrixmultiply", |bch| {
            bch.iter(|| {
                for i in 0..batch {
                    // SAFETY: matrix i of each buffer is s x s row-major; out is separate.
                    unsafe {
                        f32::matrixmultiply(
                            s,
                            s,
                            s,
                            a.as_ptr().add(i * ss),
                            si,
                            1,
                            b.as_ptr().add(i * ss),
                            si,
                            1,
                            out.as_mut_ptr().add(i * ss),
                        )
                    };
                }
                black_box(&mut out);
            })
        });
        g.bench_function("gemm", |bch| {
            bch.iter(|| {
                for i in 0..batch {
                    // SAFETY: as above.
                    unsafe {
                        gemm_crate(
                            s,
                            s,
                            s,
                            a.as_ptr().add(i * ss),
                            si,
                            1,
                            b.as_ptr().add(i * ss),
                            si,
                            1,
                            out.as_mut_ptr().add(i * ss),
                        )
                    };
                }
                black_box(&mut out);
            })
        });
    }
    let plan = MatMulPlan::contiguous(DType::F32, &[batch, s, s], &[batch, s, s]).unwrap();
    for (name, kernel) in [
        ("MatMulPlan_loop", FloatKernel::Loop),
        ("MatMulPlan_gemm", FloatKernel::Gemm),
    ] {
        let plan = plan.clone().with_float_kernel(kernel);
        g.bench_function(name, |bch| {
            bch.iter(|| {
                // SAFETY: buffers of batch*s*s f32 each; out is separate.
                unsafe {
                    plan.run(
                        a.as_ptr().cast(),
                        b.as_ptr().cast(),
                        out.as_mut_ptr().cast(),
                    )
                };
                black_box(&mut out);
            })
        });
    }
    g.finish();
}

fn tiny(c: &mut Criterion) {
    for s in [4, 8, 12, 16, 20, 24, 32] {
        tiny_batched(c, s, s == 4 || s == 16);
    }
}

fn ints(c: &mut Criterion) {
    let n = 512usize;
    let mut g = c.benchmark_group(format!("int_{n}x{n}x{n}"));
    g.sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .throughput(Throughput::Elements(2 * (n as u64).pow(3)));
    let a32: Vec<i32> = (0..n * n).map(|i| (i % 17) as i32 - 8).collect();
    let b32: Vec<i32> = (0..n * n).map(|i| (i % 13) as i32 - 6).collect();
    let mut c32 = vec![0i32; n * n];
    let a64: Vec<i64> = a32.iter().map(|&x| x as i64).collect();
    let b64: Vec<i64> = b32.iter().map(|&x| x as i64).collect();
    let mut c64 = vec![0i64; n * n];
    let p32 = MatMulPlan::contiguous(DType::I32, &[n, n], &[n, n]).unwrap();
    let p64 = MatMulPlan::contiguous(DType::I64, &[n, n], &[n, n]).unwrap();
    g.bench_function("MatMulPlan_i32", |bch| {
        bch.iter(|| {
            // SAFETY: i32 buffers of n*n elements, c separate.
            unsafe {
                p32.run(
                    a32.as_ptr().cast(),
                    b32.as_ptr().cast(),
                    c32.as_mut_ptr().cast(),
                )
            };
            black_box(&mut c32);
        })
    });
    g.bench_function("MatMulPlan_i64", |bch| {
        bch.iter(|| {
            // SAFETY: i64 buffers of n*n elements, c separate.
            unsafe {
                p64.run(
                    a64.as_ptr().cast(),
                    b64.as_ptr().cast(),
                    c64.as_mut_ptr().cast(),
                )
            };
            black_box(&mut c64);
        })
    });
    g.finish();
}

/// One product shape of a training step, in the orientation the step issues it, single
/// threaded: the `gemm` crate called directly, `MatMulPlan` forced to the crate and to the
/// in-house AVX-512 kernel, `MatMulPlan` with `Auto`, and the FMA loop doing the same FLOPs
/// (the compute limit). `batch > 1` is one plan over `batch` matrices with `a` broadcast (the
/// convolutions' weight) unless `a_batched`.
#[allow(clippy::too_many_arguments)]
fn training_case(
    c: &mut Criterion,
    name: &str,
    batch: usize,
    m: usize,
    k: usize,
    n: usize,
    a_t: bool,
    b_t: bool,
    a_batched: bool,
) {
    set_threads(1);
    let a_len = if a_batched { batch * m * k } else { m * k };
    let a: Vec<f32> = common::seq(a_len, 1);
    let b: Vec<f32> = common::seq(batch * k * n, 2);
    let mut out = vec![0f32; batch * m * n];
    let (rsa, csa) = if a_t { (1, m) } else { (k, 1) };
    let (rsb, csb) = if b_t { (1, k) } else { (n, 1) };
    let flops = 2 * (batch * m * k * n) as u64;
    let mut g = c.benchmark_group(format!("train_{name}_{batch}x{m}x{k}x{n}"));
    let big = batch * m * k * n >= 1 << 26;
    g.sample_size(if big { 10 } else { 30 })
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_millis(if big { 2000 } else { 1000 }))
        .throughput(Throughput::Elements(flops));
    g.bench_function("fma_limit", |bch| bch.iter(|| black_box(fma_flops(flops))));
    let (ap, bp) = (a.as_ptr(), b.as_ptr());
    g.bench_function("gemm", |bch| {
        bch.iter(|| {
            for t in 0..batch {
                let ao = if a_batched { t * m * k } else { 0 };
                // SAFETY: matrix t of each buffer in the layouts above; out is separate.
                unsafe {
                    gemm_crate(
                        m,
                        k,
                        n,
                        ap.add(ao),
                        rsa as isize,
                        csa as isize,
                        bp.add(t * k * n),
                        rsb as isize,
                        csb as isize,
                        out.as_mut_ptr().add(t * m * n),
                    )
                };
            }
            black_box(&mut out);
        })
    });
    let (a_shape, a_strides) = if batch > 1 && a_batched {
        (vec![batch, m, k], vec![m * k, rsa, csa])
    } else {
        (vec![m, k], vec![rsa, csa])
    };
    let (b_shape, b_strides) = if batch > 1 {
        (vec![batch, k, n], vec![k * n, rsb, csb])
    } else {
        (vec![k, n], vec![rsb, csb])
    };
    let plan = MatMulPlan::new(DType::F32, &a_shape, &a_strides, &b_shape, &b_strides).unwrap();
    let mut results = Vec::new();
    for (label, kernel) in [
        ("MatMulPlan_gemm", FloatKernel::Gemm),
        ("MatMulPlan_avx512", FloatKernel::Avx512),
        ("MatMulPlan_auto", FloatKernel::Auto),
    ] {
        let plan = plan.clone().with_float_kernel(kernel);
        g.bench_function(label, |bch| {
            bch.iter(|| {
                // SAFETY: buffers of at least a_min_len / b_min_len / out_numel f32; out is
                // separate.
                unsafe { plan.run(ap.cast(), bp.cast(), out.as_mut_ptr().cast()) };
                black_box(&mut out);
            })
        });
        results.push(out.clone());
    }
    g.finish();
    // Outside the timed loops: the kernels agree.
    let worst = results[0]
        .iter()
        .zip(&results[1])
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max);
    assert!(worst < 1e-2, "{name}: avx512 and gemm disagree by {worst}");
}

/// The products of `benches/training.rs`' steps, as their autograd rules issue them
/// (`src/autograd/vjp.rs`: a linear layer's weight is a transposed view, so its gradient is
/// computed as `(g^T x)^T` and comes out as a plain product of a transposed `g` and `x`).
fn training_shapes(c: &mut Criterion) {
    // mlp_step: forward x·w1^T, h·w2^T; dW1 = g1^T·x, dW2 = g2^T·h; dh = g2·w2.
    training_case(c, "mlp_fwd1", 1, 64, 784, 128, false, true, false);
    training_case(c, "mlp_dw1", 1, 128, 64, 784, true, false, false);
    training_case(c, "mlp_fwd2", 1, 64, 128, 10, false, true, false);
    training_case(c, "mlp_dw2", 1, 10, 64, 128, true, false, false);
    training_case(c, "mlp_dh", 1, 64, 10, 128, false, false, false);
    // cnn_step's conv2 (per image: weight [64, 288] x cols [288, 576], batch 64): forward,
    // weight gradient dY·cols^T, input gradient W^T·dY; conv1's forward (k = 9).
    training_case(c, "conv2_fwd", 64, 64, 288, 576, false, false, false);
    training_case(c, "conv2_dw", 64, 64, 576, 288, false, true, true);
    training_case(c, "conv2_dcols", 64, 288, 64, 576, true, false, false);
    training_case(c, "conv1_fwd", 64, 32, 9, 676, false, false, false);
    training_case(c, "square", 1, 1024, 1024, 1024, false, false, false);
    set_threads(0);
}

/// 1024^3 f32 through `MatMulPlan` (`Auto`) with 1 and 2 threads, and the region of the
/// thread split's threshold (products of 2^21 to 2^25 multiply-adds; the threshold is
/// lowered to 0 here so that every size can be split).
fn threads(c: &mut Criterion) {
    set_matmul_parallel_work(0);
    for (m, k, n) in [
        (1024, 1024, 1024),
        (128, 128, 128),
        (128, 256, 128),
        (256, 256, 128),
        (256, 256, 256),
        (256, 256, 512),
    ] {
        let a: Vec<f32> = common::seq(m * k, 3);
        let b: Vec<f32> = common::seq(k * n, 4);
        let mut out = vec![0f32; m * n];
        let plan = MatMulPlan::contiguous(DType::F32, &[m, k], &[k, n]).unwrap();
        let mut g = c.benchmark_group(format!("threads_{m}x{k}x{n}"));
        g.sample_size(10)
            .warm_up_time(Duration::from_millis(300))
            .measurement_time(Duration::from_millis(1500))
            .throughput(Throughput::Elements(2 * (m * k * n) as u64));
        for threads in [1, 2] {
            set_threads(threads);
            g.bench_function(format!("MatMulPlan_{threads}_threads"), |bch| {
                bch.iter(|| {
                    // SAFETY: row-major buffers of the plan's lengths; out is separate.
                    unsafe {
                        plan.run(
                            a.as_ptr().cast(),
                            b.as_ptr().cast(),
                            out.as_mut_ptr().cast(),
                        )
                    };
                    black_box(&mut out);
                })
            });
        }
        g.finish();
    }
    set_threads(0);
    set_matmul_parallel_work(PARALLEL_WORK);
}

criterion_group!(benches, training_shapes, threads, floats, tiny, ints);
criterion_main!(benches);
