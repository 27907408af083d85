//! The in-house AVX-512 f32 GEMM (`FloatKernel::Avx512`, and `Auto` where it picks it)
//! against a naive reference accumulated in f64: every tile and block edge (rows 1..=MR+1
//! around the 8-row tile, columns around the 16-lane vectors and the 48-column panels, depth
//! around the 512 block, columns around the 768 block), all four transpositions, general
//! strides, batches with broadcasting, NaN/Inf propagation, an output pre-filled with NaN
//! (never read), and products split over two threads. On a CPU without AVX-512F the same
//! plans run the `gemm` crate, and the tests check that instead.

use lazyjit_lowering::kernels::{
    set_matmul_parallel_work, set_threads, FloatKernel, MatMulPlan, PARALLEL_WORK,
};
use lazyjit_lowering::DType;
use proptest::prelude::*;

/// Deterministic values in [-1, 1) with 12 significant bits.
fn values(len: usize, seed: u64) -> Vec<f32> {
    let mut s = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            ((s >> 40) % 4096) as f32 / 2048.0 - 1.0
        })
        .collect()
}

/// An operand layout of a logical `[rows, cols]` matrix.
#[derive(Copy, Clone, Debug)]
enum Layout {
    RowMajor,
    ColMajor,
    /// Row stride `3 * cols + 1`, column stride 2: neither axis contiguous.
    Strided,
}

impl Layout {
    fn strides(self, rows: usize, cols: usize) -> [usize; 2] {
        match self {
            Layout::RowMajor => [cols, 1],
            Layout::ColMajor => [1, rows],
            Layout::Strided => [3 * cols + 1, 2],
        }
    }
}

const LAYOUTS: [Layout; 3] = [Layout::RowMajor, Layout::ColMajor, Layout::Strided];

/// Runs `kernel` on the strided operands (buffers of exactly `a_min_len` / `b_min_len`, the
/// output pre-filled with NaN) and compares every element with the f64 reference within
/// `4 * eps * sum |a_ip * b_pj|` (a bound on any summation order's rounding error).
#[allow(clippy::too_many_arguments)]
fn check(
    kernel: FloatKernel,
    a_shape: &[usize],
    a_strides: &[usize],
    b_shape: &[usize],
    b_strides: &[usize],
    a: &[f32],
    b: &[f32],
) {
    let what = format!("{kernel:?} {a_shape:?}/{a_strides:?} x {b_shape:?}/{b_strides:?}");
    let plan = MatMulPlan::new(DType::F32, a_shape, a_strides, b_shape, b_strides)
        .unwrap()
        .with_float_kernel(kernel);
    assert!(
        a.len() >= plan.a_min_len() && b.len() >= plan.b_min_len(),
        "{what}"
    );
    let (a, b) = (&a[..plan.a_min_len()], &b[..plan.b_min_len()]);
    let mut c = vec![f32::NAN; plan.out_numel()];
    // SAFETY: f32 buffers of at least the plan's lengths; c is separate and out_numel long.
    unsafe { plan.run(a.as_ptr().cast(), b.as_ptr().cast(), c.as_mut_ptr().cast()) };

    let (ra, rb) = (a_shape.len(), b_shape.len());
    let (m, k, n) = (a_shape[ra - 2], a_shape[ra - 1], b_shape[rb - 1]);
    // The tests' batches: a has rank 2 or 3 (batch dim 0), b rank 2 or 3; broadcast size 1.
    let (ba, bb) = (
        if ra == 3 { a_shape[0] } else { 1 },
        if rb == 3 { b_shape[0] } else { 1 },
    );
    let batch = ba.max(bb);
    assert_eq!(c.len(), batch * m * n, "{what}");
    for t in 0..batch {
        let ao = if ba == 1 { 0 } else { t * a_strides[0] };
        let bo = if bb == 1 { 0 } else { t * b_strides[0] };
        let (ars, acs) = (a_strides[ra - 2], a_strides[ra - 1]);
        let (brs, bcs) = (b_strides[rb - 2], b_strides[rb - 1]);
        for i in 0..m {
            for j in 0..n {
                let (mut s, mut mag) = (0f64, 0f64);
                for p in 0..k {
                    let x = a[ao + i * ars + p * acs] as f64 * b[bo + p * brs + j * bcs] as f64;
                    s += x;
                    mag += x.abs();
                }
                let got = c[(t * m + i) * n + j];
                let tol = 4.0 * f32::EPSILON as f64 * mag + f32::MIN_POSITIVE as f64;
                let ok = if s.is_finite() {
                    (got as f64 - s).abs() <= tol
                } else {
                    got.is_nan() == s.is_nan() && (s.is_nan() || got as f64 == s)
                };
                assert!(ok, "{what}: batch {t} ({i}, {j}): got {got}, want {s}");
            }
        }
    }
}

/// One 2-D product in the given layouts, with both `Avx512` and `Auto`.
fn check_2d(m: usize, k: usize, n: usize, la: Layout, lb: Layout, seed: u64) {
    let (sa, sb) = (la.strides(m, k), lb.strides(k, n));
    let a = values((m * k * 4 + 8).max(1), seed);
    let b = values((k * n * 4 + 8).max(1), seed + 1);
    for kernel in [FloatKernel::Avx512, FloatKernel::Auto] {
        check(kernel, &[m, k], &sa, &[k, n], &sb, &a, &b);
    }
}

#[test]
fn every_row_and_column_edge_in_all_layouts() {
    let ms: Vec<usize> = (1..=9).chain([15, 16, 17]).collect();
    let ns: Vec<usize> = (1..=17).chain([31, 32, 33, 47, 48, 49, 95, 97]).collect();
    for &m in &ms {
        for &n in &ns {
            for k in [1, 2, 17] {
                for la in LAYOUTS {
                    for lb in LAYOUTS {
                        check_2d(m, k, n, la, lb, (m * 1000 + n * 10 + k) as u64);
                    }
                }
            }
        }
    }
}

#[test]
fn depth_block_edges() {
    for k in [15, 16, 33, 511, 512, 513, 1024, 1025, 1537] {
        for (m, n) in [(1, 1), (9, 17), (8, 49)] {
            for (la, lb) in [
                (Layout::RowMajor, Layout::RowMajor),
                (Layout::RowMajor, Layout::ColMajor),
                (Layout::ColMajor, Layout::RowMajor),
                (Layout::ColMajor, Layout::ColMajor),
            ] {
                check_2d(m, k, n, la, lb, k as u64);
            }
        }
    }
}

#[test]
fn column_block_edges() {
    for n in [767, 768, 769, 1537] {
        for la in LAYOUTS {
            for lb in [Layout::RowMajor, Layout::ColMajor] {
                check_2d(3, 5, n, la, lb, n as u64);
                check_2d(9, 20, n, la, lb, n as u64 + 1);
            }
        }
    }
}

#[test]
fn training_shapes() {
    // The MLP step's products as the autograd rules issue them, and a conv GEMM's shape.
    check_2d(64, 784, 128, Layout::RowMajor, Layout::ColMajor, 1);
    check_2d(128, 64, 784, Layout::ColMajor, Layout::RowMajor, 2);
    check_2d(64, 128, 10, Layout::RowMajor, Layout::ColMajor, 3);
    check_2d(10, 64, 128, Layout::ColMajor, Layout::RowMajor, 4);
    check_2d(64, 10, 128, Layout::RowMajor, Layout::RowMajor, 5);
    check_2d(64, 288, 100, Layout::RowMajor, Layout::RowMajor, 6);
}

#[test]
fn batches_broadcast() {
    let (m, k, n) = (9, 20, 33);
    let a = values(4 * m * k, 7);
    let b = values(4 * k * n, 8);
    for kernel in [FloatKernel::Avx512, FloatKernel::Auto] {
        // Batched a, b broadcast (stride 0 and rank 2); batched b, a broadcast; both batched,
        // b transposed per matrix.
        check(kernel, &[3, m, k], &[m * k, k, 1], &[k, n], &[n, 1], &a, &b);
        check(
            kernel,
            &[3, m, k],
            &[m * k, k, 1],
            &[3, k, n],
            &[0, n, 1],
            &a,
            &b,
        );
        check(
            kernel,
            &[1, m, k],
            &[0, 1, m],
            &[3, k, n],
            &[k * n, n, 1],
            &a,
            &b,
        );
        check(
            kernel,
            &[3, m, k],
            &[m * k, k, 1],
            &[3, k, n],
            &[k * n, 1, k],
            &a,
            &b,
        );
    }
}

#[test]
fn nan_and_inf_propagate() {
    let (m, k, n) = (9, 20, 50);
    let mut a = values(m * k, 9);
    let mut b = values(k * n, 10);
    a[3 * k + 5] = f32::NAN; // row 3 of C becomes NaN
    b[7 * n + 40] = f32::INFINITY; // column 40 becomes +-inf, or NaN where it meets row 3
    a[6 * k + 7] = 0.0; // 0 * inf = NaN at (6, 40)
    for kernel in [FloatKernel::Avx512, FloatKernel::Auto] {
        check(kernel, &[m, k], &[k, 1], &[k, n], &[n, 1], &a, &b);
        let mut c = vec![0f32; m * n];
        let plan = MatMulPlan::contiguous(DType::F32, &[m, k], &[k, n])
            .unwrap()
            .with_float_kernel(kernel);
        // SAFETY: buffers of exactly the plan's lengths; c is separate.
        unsafe { plan.run(a.as_ptr().cast(), b.as_ptr().cast(), c.as_mut_ptr().cast()) };
        assert!((0..n).all(|j| c[3 * n + j].is_nan()), "{kernel:?}: NaN row");
        assert!(c[6 * n + 40].is_nan(), "{kernel:?}: 0 * inf");
        assert!(c[n + 40].is_infinite(), "{kernel:?}: inf column");
        assert!(c[n + 39].is_finite(), "{kernel:?}: finite elsewhere");
    }
}

#[test]
fn split_over_two_threads() {
    // Every product here has at least 2^24 multiply-adds, above the threshold set here, so
    // each is split: one matrix by column blocks, a batch by batch elements. (Process-wide
    // settings: other tests running meanwhile may be split too, which must not change results.)
    set_threads(2);
    set_matmul_parallel_work(1 << 24);
    check_2d(256, 256, 257, Layout::RowMajor, Layout::RowMajor, 11);
    check_2d(256, 257, 256, Layout::ColMajor, Layout::ColMajor, 12);
    let (m, k, n) = (128, 128, 257);
    let a = values(4 * m * k, 13);
    let b = values(4 * k * n, 14);
    for kernel in [FloatKernel::Avx512, FloatKernel::Gemm] {
        check(
            kernel,
            &[4, m, k],
            &[m * k, k, 1],
            &[4, k, n],
            &[k * n, n, 1],
            &a,
            &b,
        );
    }
    let a = values(1024 * 130, 15);
    let b = values(130 * 129, 16);
    check(
        FloatKernel::Gemm,
        &[1024, 130],
        &[130, 1],
        &[130, 129],
        &[129, 1],
        &a,
        &b,
    );
    set_threads(0);
    set_matmul_parallel_work(PARALLEL_WORK);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn random_shapes_and_layouts(
        m in 1usize..40,
        k in 1usize..80,
        n in 1usize..120,
        la in 0usize..3,
        lb in 0usize..3,
        seed in 0u64..1000,
    ) {
        check_2d(m, k, n, LAYOUTS[la], LAYOUTS[lb], seed);
    }
}
