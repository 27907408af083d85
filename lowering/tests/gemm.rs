//! MatMulPlan against a naive triple loop: many small shapes, transposed / padded / zero
//! strides, broadcast batch dims, all four numeric dtypes, and validation errors.

use lazyjit_lowering::kernels::{matmul_plan_run, FloatKernel, MatMulPlan};
use lazyjit_lowering::{DType, Shape};

const DIMS: [usize; 7] = [0, 1, 2, 3, 5, 17, 33];

/// Deterministic xorshift generator.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    /// Uniform in -4..=4.
    fn small(&mut self) -> i64 {
        (self.next() % 9) as i64 - 4
    }
}

trait Elem: Copy + PartialEq + std::fmt::Debug {
    const DTYPE: DType;
    /// A value with an exact product/sum behaviour: small integers (quarters for floats, so
    /// float sums stay exact and can be compared bit for bit).
    fn small(r: &mut Rng) -> Self;
    /// Any value (full range for ints; moderate random reals for floats).
    fn any(r: &mut Rng) -> Self;
    /// A value the kernel must overwrite (NaN / a pattern).
    fn sentinel() -> Self;
    fn zero() -> Self;
    /// acc + x * y, wrapping for ints.
    fn mul_add(acc: Self, x: Self, y: Self) -> Self;
    fn to_f64(self) -> f64;
}

impl Elem for f32 {
    const DTYPE: DType = DType::F32;
    fn small(r: &mut Rng) -> f32 {
        r.small() as f32 * 0.25
    }
    fn any(r: &mut Rng) -> f32 {
        (r.next() % 2_000_001) as f32 / 1_000_000.0 - 1.0
    }
    fn sentinel() -> f32 {
        f32::NAN
    }
    fn zero() -> f32 {
        0.0
    }
    fn mul_add(acc: f32, x: f32, y: f32) -> f32 {
        acc + x * y
    }
    fn to_f64(self) -> f64 {
        self as f64
    }
}

impl Elem for f64 {
    const DTYPE: DType = DType::F64;
    fn small(r: &mut Rng) -> f64 {
        r.small() as f64 * 0.25
    }
    fn any(r: &mut Rng) -> f64 {
        (r.next() % 2_000_001) as f64 / 1_000_000.0 - 1.0
    }
    fn sentinel() -> f64 {
        f64::NAN
    }
    fn zero() -> f64 {
        0.0
    }
    fn mul_add(acc: f64, x: f64, y: f64) -> f64 {
        acc + x * y
    }
    fn to_f64(self) -> f64 {
        self
    }
}

impl Elem for i32 {
    const DTYPE: DType = DType::I32;
    fn small(r: &mut Rng) -> i32 {
        r.small() as i32
    }
    fn any(r: &mut Rng) -> i32 {
        r.next() as i32
    }
    fn sentinel() -> i32 {
        0x5555_5555
    }
    fn zero() -> i32 {
        0
    }
    fn mul_add(acc: i32, x: i32, y: i32) -> i32 {
        acc.wrapping_add(x.wrapping_mul(y))
    }
    fn to_f64(self) -> f64 {
        self as f64
    }
}

impl Elem for i64 {
    const DTYPE: DType = DType::I64;
    fn small(r: &mut Rng) -> i64 {
        r.small()
    }
    fn any(r: &mut Rng) -> i64 {
        r.next() as i64
    }
    fn sentinel() -> i64 {
        0x5555_5555_5555_5555
    }
    fn zero() -> i64 {
        0
    }
    fn mul_add(acc: i64, x: i64, y: i64) -> i64 {
        acc.wrapping_add(x.wrapping_mul(y))
    }
    fn to_f64(self) -> f64 {
        self as f64
    }
}

/// Offset of logical element `idx` of an operand.
fn offset(idx: &[usize], strides: &[usize]) -> usize {
    idx.iter().zip(strides).map(|(i, s)| i * s).sum()
}

/// Naive matmul from the logical description (independent of the plan's offset arithmetic).
fn naive<T: Elem>(
    a: &[T],
    a_shape: &[usize],
    a_strides: &[usize],
    b: &[T],
    b_shape: &[usize],
    b_strides: &[usize],
) -> (Vec<usize>, Vec<T>) {
    let (ra, rb) = (a_shape.len(), b_shape.len());
    let (m, k, n) = (a_shape[ra - 2], a_shape[ra - 1], b_shape[rb - 1]);
    let br = (ra - 2).max(rb - 2);
    let mut batch = vec![1usize; br];
    for (shape, r) in [(a_shape, ra - 2), (b_shape, rb - 2)] {
        for i in 0..r {
            let d = shape[i];
            let o = &mut batch[br - r + i];
            if *o == 1 {
                *o = d;
            }
        }
    }
    let nbatch: usize = batch.iter().product();
    let mut out = Vec::with_capacity(nbatch * m * n);
    let bstrides = Shape::from(&batch[..]).strides();
    for bi in 0..nbatch {
        let bidx: Vec<usize> = (0..br).map(|d| bi / bstrides[d] % batch[d]).collect();
        // Right-aligned batch index of an operand; size-1 dims broadcast (index 0).
        let op_idx = |shape: &[usize], r: usize| -> Vec<usize> {
            (0..r)
                .map(|i| if shape[i] == 1 { 0 } else { bidx[br - r + i] })
                .collect()
        };
        let a_base = offset(&op_idx(a_shape, ra - 2), a_strides);
        let b_base = offset(&op_idx(b_shape, rb - 2), b_strides);
        let (a_rs, a_cs) = (a_strides[ra - 2], a_strides[ra - 1]);
        let (b_rs, b_cs) = (b_strides[rb - 2], b_strides[rb - 1]);
        for i in 0..m {
            for j in 0..n {
                let mut acc = T::zero();
                for p in 0..k {
                    let x = a[a_base + i * a_rs + p * a_cs];
                    let y = b[b_base + p * b_rs + j * b_cs];
                    acc = T::mul_add(acc, x, y);
                }
                out.push(acc);
            }
        }
    }
    let mut shape = batch;
    shape.extend([m, n]);
    (shape, out)
}

/// How operand values are drawn.
#[derive(Copy, Clone)]
enum Values {
    /// Exactly representable sums: results must match bit for bit (ints and floats).
    Exact,
    /// Random reals (floats compared with a tolerance) / full-range ints (wrapping).
    Any,
}

/// Runs the plan on buffers of exactly a_min_len / b_min_len elements and compares.
fn check<T: Elem>(
    a_shape: &[usize],
    a_strides: &[usize],
    b_shape: &[usize],
    b_strides: &[usize],
    values: Values,
    seed: u64,
) {
    let what = format!(
        "{} {a_shape:?}/{a_strides:?} x {b_shape:?}/{b_strides:?}",
        T::DTYPE
    );
    let plan = MatMulPlan::new(T::DTYPE, a_shape, a_strides, b_shape, b_strides)
        .unwrap_or_else(|e| panic!("{what}: {e}"));
    let mut r = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
    let mut gen = |len: usize| -> Vec<T> {
        (0..len)
            .map(|_| match values {
                Values::Exact => T::small(&mut r),
                Values::Any => T::any(&mut r),
            })
            .collect()
    };
    let a = gen(plan.a_min_len());
    let b = gen(plan.b_min_len());
    let (shape, want) = naive(&a, a_shape, a_strides, &b, b_shape, b_strides);
    assert_eq!(plan.out_shape(), &shape[..], "{what}: out shape");
    let kernels: &[FloatKernel] = if T::DTYPE.is_float() {
        &[
            FloatKernel::Auto,
            FloatKernel::Gemm,
            FloatKernel::Loop,
            FloatKernel::Avx512,
        ]
    } else {
        &[FloatKernel::Auto]
    };
    let k = a_shape[a_shape.len() - 1];
    for &kernel in kernels {
        let plan = plan.clone().with_float_kernel(kernel);
        let mut c = vec![T::sentinel(); plan.out_numel()];
        // SAFETY: buffers of the plan's dtype with exactly the required lengths; c is separate.
        unsafe { plan.run(a.as_ptr().cast(), b.as_ptr().cast(), c.as_mut_ptr().cast()) };
        assert_eq!(c.len(), want.len(), "{what}: out len");
        for (idx, (&got, &exp)) in c.iter().zip(&want).enumerate() {
            let ok = match (values, T::DTYPE.is_float()) {
                (Values::Any, true) => {
                    let eps = if T::DTYPE == DType::F32 { 1e-6 } else { 1e-14 };
                    (got.to_f64() - exp.to_f64()).abs() <= eps * 4.0 * (k as f64 + 1.0)
                }
                _ => got == exp,
            };
            assert!(
                ok,
                "{what} ({kernel:?}): element {idx}: got {got:?}, want {exp:?}"
            );
        }
    }
}

fn row_major(shape: &[usize]) -> Vec<usize> {
    Shape::from(shape).strides()
}

fn for_all_dtypes(f: impl Fn(&dyn Fn(&[usize], &[usize], &[usize], &[usize], Values, u64))) {
    f(&check::<f32>);
    f(&check::<f64>);
    f(&check::<i32>);
    f(&check::<i64>);
}

#[test]
fn small_shapes_row_major_all_dtypes() {
    for_all_dtypes(|chk| {
        for &m in &DIMS {
            for &k in &DIMS {
                for &n in &DIMS {
                    let (sa, sb) = ([m, k], [k, n]);
                    chk(&sa, &row_major(&sa), &sb, &row_major(&sb), Values::Exact, 1);
                }
            }
        }
    });
}

#[test]
fn small_shapes_transposed_all_dtypes() {
    // a is stored as a row-major [k, m] (a^T), b as a row-major [n, k] (b^T), in all
    // combinations with the plain layout.
    for_all_dtypes(|chk| {
        for &m in &DIMS {
            for &k in &DIMS {
                for &n in &DIMS {
                    let a_t = [1, m];
                    let b_t = [1, k];
                    let a_n = [k, 1];
                    let b_n = [n, 1];
                    for (sa, sb) in [(a_t, b_n), (a_n, b_t), (a_t, b_t)] {
                        chk(&[m, k], &sa, &[k, n], &sb, Values::Exact, 2);
                    }
                }
            }
        }
    });
}

#[test]
fn padded_and_zero_strides() {
    for_all_dtypes(|chk| {
        for &(m, k, n) in &[(3, 5, 2), (17, 3, 33), (1, 33, 5), (33, 17, 1)] {
            // Row strides larger than the row (a view into a wider matrix).
            chk(&[m, k], &[k + 7, 1], &[k, n], &[n + 3, 1], Values::Exact, 3);
            // Column-major with padding.
            chk(&[m, k], &[1, m + 2], &[k, n], &[1, k + 5], Values::Exact, 4);
            // A row broadcast along m (stride 0) and B broadcast along n.
            chk(&[m, k], &[0, 1], &[k, n], &[1, 0], Values::Exact, 5);
            // Everything broadcast from one element.
            chk(&[m, k], &[0, 0], &[k, n], &[0, 0], Values::Exact, 6);
        }
    });
}

#[test]
fn broadcast_batch_dims() {
    for_all_dtypes(|chk| {
        for &(m, k, n) in &[
            (0, 2, 3),
            (2, 0, 3),
            (1, 1, 1),
            (2, 3, 5),
            (5, 17, 3),
            (3, 33, 17),
        ] {
            // [2, 1, m, k] x [3, k, n] -> [2, 3, m, n]
            let (sa, sb) = ([2, 1, m, k], [3, k, n]);
            chk(&sa, &row_major(&sa), &sb, &row_major(&sb), Values::Exact, 7);
            // The other way round, and a rank-2 operand against a batched one.
            let (sa, sb) = ([3, m, k], [2, 1, k, n]);
            chk(&sa, &row_major(&sa), &sb, &row_major(&sb), Values::Exact, 8);
            let (sa, sb) = ([m, k], [4, k, n]);
            chk(&sa, &row_major(&sa), &sb, &row_major(&sb), Values::Exact, 9);
            // Batch broadcast through an explicit 0 stride, with transposed matrices.
            chk(
                &[4, m, k],
                &[0, 1, m],
                &[4, k, n],
                &[k * n, 1, k],
                Values::Exact,
                10,
            );
            // A batch of size 1 with a nonsense stride must be ignored.
            chk(
                &[1, m, k],
                &[usize::MAX / 64, k, 1],
                &[2, k, n],
                &[k * n, n, 1],
                Values::Exact,
                11,
            );
            // Permuted batch dims ([2, 3] batch stored as [3, 2]).
            let mk = m * k;
            chk(
                &[2, 3, m, k],
                &[mk, 2 * mk, k, 1],
                &[3, k, n],
                &row_major(&[3, k, n]),
                Values::Exact,
                12,
            );
        }
        // Zero-sized batch dims.
        chk(
            &[0, 2, 3],
            &[6, 3, 1],
            &[1, 3, 4],
            &[12, 4, 1],
            Values::Exact,
            13,
        );
        chk(
            &[2, 1, 2, 3],
            &[6, 6, 3, 1],
            &[0, 3, 4],
            &[12, 4, 1],
            Values::Exact,
            14,
        );
    });
}

#[test]
fn larger_shapes_random_values() {
    // Past matrixmultiply's and the integer kernel's block sizes (KB = 256, NB = 512), with
    // full-range ints (wrapping) and random reals (tolerance).
    for_all_dtypes(|chk| {
        for &(m, k, n) in &[(3, 300, 530), (70, 130, 90), (1, 513, 2)] {
            chk(
                &[m, k],
                &row_major(&[m, k]),
                &[k, n],
                &row_major(&[k, n]),
                Values::Any,
                15,
            );
            chk(&[m, k], &[1, m], &[k, n], &[1, k], Values::Any, 16);
            chk(&[m, k], &[k, 1], &[k, n], &[1, k], Values::Any, 17);
            chk(&[m, k], &[k, 1], &[k, n], &[2 * n, 2], Values::Any, 18);
        }
    });
}

#[test]
fn integer_wrapping() {
    let a = [i32::MAX, 2, i32::MIN, -1];
    let b = [2, i32::MAX, 3, i32::MIN];
    let plan = MatMulPlan::contiguous(DType::I32, &[2, 2], &[2, 2]).unwrap();
    let mut c = [0i32; 4];
    // SAFETY: i32 buffers of 4 elements each, c separate.
    unsafe { plan.run(a.as_ptr().cast(), b.as_ptr().cast(), c.as_mut_ptr().cast()) };
    let w = |x: i32, y: i32, z: i32, t: i32| x.wrapping_mul(y).wrapping_add(z.wrapping_mul(t));
    assert_eq!(
        c,
        [
            w(a[0], b[0], a[1], b[2]),
            w(a[0], b[1], a[1], b[3]),
            w(a[2], b[0], a[3], b[2]),
            w(a[2], b[1], a[3], b[3]),
        ]
    );
}

#[test]
fn k_zero_writes_zeros_and_reads_nothing() {
    for dtype in [DType::F32, DType::F64, DType::I32, DType::I64] {
        let plan = MatMulPlan::contiguous(dtype, &[2, 3, 0], &[0, 4]).unwrap();
        assert_eq!(plan.out_shape(), &[2, 3, 4]);
        assert_eq!((plan.a_min_len(), plan.b_min_len()), (0, 0));
        // u64 storage is aligned for every dtype; 24 elements of at most 8 bytes fit.
        let mut c = vec![u64::MAX; 24];
        let dangling = std::ptr::NonNull::<u64>::dangling().as_ptr() as *const u8;
        // SAFETY: a and b have zero required elements and are not read; c holds 24 aligned
        // elements of dtype.
        unsafe { plan.run(dangling, dangling, c.as_mut_ptr().cast()) };
        let used = 24 * dtype.size_bytes() / 8;
        assert!(c[..used].iter().all(|&x| x == 0), "{dtype}: {c:?}");
        assert!(
            c[used..].iter().all(|&x| x == u64::MAX),
            "{dtype}: wrote past the end"
        );
    }
    let plan = MatMulPlan::contiguous(DType::F32, &[3, 0], &[0, 5]).unwrap();
    let mut c = vec![f32::NAN; 15];
    let dangling = std::ptr::NonNull::<f32>::dangling().as_ptr() as *const u8;
    // SAFETY: as above, with an aligned f32 output.
    unsafe { plan.run(dangling, dangling, c.as_mut_ptr().cast()) };
    assert!(c.iter().all(|&x| x == 0.0 && x.is_sign_positive()));
}

#[test]
fn extern_entry_point() {
    let plan = MatMulPlan::contiguous(DType::F64, &[2, 2], &[2, 2]).unwrap();
    let a = [1.0f64, 2.0, 3.0, 4.0];
    let b = [5.0f64, 6.0, 7.0, 8.0];
    let mut c = [0.0f64; 4];
    let f: unsafe extern "C" fn(*const MatMulPlan, *const u8, *const u8, *mut u8) = matmul_plan_run;
    // SAFETY: live plan; f64 buffers of the required sizes; c separate.
    unsafe {
        f(
            &plan,
            a.as_ptr().cast(),
            b.as_ptr().cast(),
            c.as_mut_ptr().cast(),
        )
    };
    assert_eq!(c, [19.0, 22.0, 43.0, 50.0]);
}

#[test]
fn min_len_is_max_offset_plus_one() {
    let plan = MatMulPlan::new(DType::F32, &[2, 3, 4], &[100, 10, 1], &[4, 5], &[1, 4]).unwrap();
    assert_eq!(plan.a_min_len(), 100 + 2 * 10 + 3 + 1);
    assert_eq!(plan.b_min_len(), 3 + 4 * 4 + 1);
    assert_eq!(plan.out_shape(), &[2, 3, 5]);
    assert_eq!(plan.out_numel(), 30);
    assert_eq!(plan.mkn(), (3, 4, 5));
    let plan = MatMulPlan::new(DType::F32, &[3, 4], &[0, 0], &[4, 5], &[0, 0]).unwrap();
    assert_eq!((plan.a_min_len(), plan.b_min_len()), (1, 1));
}

fn err(dtype: DType, a: &[usize], sa: &[usize], b: &[usize], sb: &[usize]) -> String {
    MatMulPlan::new(dtype, a, sa, b, sb).expect_err("should be rejected")
}

#[test]
fn validation_errors() {
    let e = err(DType::F32, &[2, 3], &[3, 1], &[4, 5], &[5, 1]);
    assert!(e.contains("inner dims 3 and 4"), "{e}");
    assert!(e.contains("[2, 3]") && e.contains("[4, 5]"), "{e}");

    let e = err(DType::F32, &[3], &[1], &[3, 5], &[5, 1]);
    assert!(e.contains("rank >= 2") && e.contains("[3]"), "{e}");
    let e = err(DType::I64, &[2, 3], &[3, 1], &[3], &[1]);
    assert!(e.contains("rank >= 2"), "{e}");

    let e = err(DType::F64, &[2, 2, 3], &[6, 3, 1], &[3, 3, 4], &[12, 4, 1]);
    assert!(e.contains("batch dims") && e.contains("2 vs 3"), "{e}");

    let e = err(DType::Bool, &[2, 3], &[3, 1], &[3, 4], &[4, 1]);
    assert!(e.contains("bool") && e.contains("not numeric"), "{e}");

    let e = err(DType::F32, &[2, 3], &[3], &[3, 4], &[4, 1]);
    assert!(
        e.contains("lhs") && e.contains("rank 2 but 1 strides"),
        "{e}"
    );
    let e = err(DType::F32, &[2, 3], &[3, 1], &[3, 4], &[4, 1, 1]);
    assert!(
        e.contains("rhs") && e.contains("rank 2 but 3 strides"),
        "{e}"
    );

    let e = err(DType::F32, &[2, 3], &[usize::MAX / 2, 1], &[3, 4], &[4, 1]);
    assert!(e.contains("lhs") && e.contains("isize::MAX bytes"), "{e}");
    let e = err(
        DType::F64,
        &[2, 3],
        &[3, 1],
        &[3, 4],
        &[isize::MAX as usize / 8, 1],
    );
    assert!(e.contains("rhs") && e.contains("isize::MAX bytes"), "{e}");

    let big = 1usize << 40;
    let e = err(DType::F32, &[big, big, 1], &[0, 0, 0], &[1, 1], &[0, 0]);
    assert!(e.contains("too large"), "{e}");
}
