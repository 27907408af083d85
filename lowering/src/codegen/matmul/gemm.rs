//! Batched matrix multiplication with arbitrary element strides and NumPy batch broadcasting.
//!
//! `[batch_a..., m, k] x [batch_b..., k, n] -> [broadcast(batch_a, batch_b)..., m, n]`, the
//! semantics of `Op::MatMul`. A [`MatMulPlan`] is built once per operand layout (validation and
//! all offset arithmetic happen there) and run many times on raw buffers, which is what compiled
//! programs do: the plan is created at compile time and [`matmul_plan_run`] is called from the
//! generated code.
//!
//! - f32 / f64: the `gemm` crate (`gemm::gemm`, single-threaded, AVX-512 kernels when the CPU
//!   has them), once per batch element, with the operands' own row and column strides
//!   (transposed and broadcast views need no copy). It was chosen by measurement against
//!   `matrixmultiply` and ndarray's `dot`; see `docs/matmul.md` and `benches/gemm_choice.rs`.
//!   Tiny products (`m * k * n <= 768`) use the loop kernel below, which beats any packing
//!   GEMM's per-call overhead there. f32 products with a column-major B (a linear layer's
//!   `x · w^T`) of up to 2^23 multiply-adds use the in-house AVX-512 kernel
//!   (`f32_avx512.rs`) on CPUs that have AVX-512F, where it measured faster than the crate.
//! - Products of at least `matmul_parallel_work()` multiply-adds (all batch elements
//!   together) are split over `threads()` parts on the persistent pool (`codegen/threads.rs`): whole batch elements
//!   per thread, or column blocks of one matrix.
//! - i32 / i64: a blocked i-k-j loop with wrapping arithmetic (the result of an integer matmul
//!   is the exact product modulo 2^32 / 2^64, whatever the summation order).

use crate::codegen::threads::{matmul_parallel_work, partition, run_parts, threads};
use crate::op::broadcast_shapes;
use crate::types::{DType, Shape};

/// f32/f64 products with at most this many multiply-adds (`m * k * n`) use the loop kernel:
/// below it the per-call overhead of the `gemm` crate (packing, dispatch; 0.2-0.3 us per
/// call) dominates. Measured per product: 8^3 loop 160 ns vs gemm 255 ns, 12^3 loop 690 ns vs
/// gemm 345 ns; the crossover is around 700-900 multiply-adds (`docs/matmul.md`).
const SMALL_FLOAT_WORK: usize = 768;

/// `FloatKernel::Auto` uses the in-house AVX-512 kernel for f32 products with a
/// column-major B of at most this many multiply-adds (the MLP's 64 x 784 x 128 forward product
/// is 6.4M; conv2's weight gradient, 10.6M per image, was no faster than the crate).
const OWN_AUTO_WORK: usize = 1 << 23;

/// Columns of C (and of the B panel) handled per block by the loop kernel.
const LOOP_NB: usize = 512;
/// Depth (rows of the B panel) handled per block by the loop kernel. A 256 x 512 panel is
/// 512 KiB of i32 or 1 MiB of i64, which stays in L2 while every row of A streams past it.
const LOOP_KB: usize = 256;

/// A planned matmul for fixed operand layouts. Strides are in elements and may be any
/// non-negative values (0 for broadcast dims, so transposed/broadcast views need no copy).
///
/// ```
/// use lazyjit_lowering::kernels::MatMulPlan;
/// use lazyjit_lowering::DType;
/// // [2, 3] x [3, 2], both row-major.
/// let plan = MatMulPlan::new(DType::F32, &[2, 3], &[3, 1], &[3, 2], &[2, 1]).unwrap();
/// assert_eq!(plan.out_shape(), &[2, 2]);
/// let a = [1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0];
/// let b = [1.0f32, 0.0, 0.0, 1.0, 1.0, 1.0];
/// let mut c = [0.0f32; 4];
/// assert!(a.len() >= plan.a_min_len() && b.len() >= plan.b_min_len());
/// // SAFETY: the buffers are f32, large enough (checked above) and do not overlap.
/// unsafe { plan.run(a.as_ptr().cast(), b.as_ptr().cast(), c.as_mut_ptr().cast()) };
/// assert_eq!(c, [4.0, 5.0, 10.0, 11.0]);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MatMulPlan {
    dtype: DType,
    m: usize,
    k: usize,
    n: usize,
    out_shape: Vec<usize>,
    /// Broadcast batch dims (the output shape without its last two dims).
    batch_dims: Vec<usize>,
    /// Per broadcast batch dim, the operand's stride (0 where the operand is broadcast).
    a_batch_strides: Vec<usize>,
    b_batch_strides: Vec<usize>,
    /// Row / column strides of one matrix (0 when the dim has size 1).
    a_rs: usize,
    a_cs: usize,
    b_rs: usize,
    b_cs: usize,
    out_numel: usize,
    a_min_len: usize,
    b_min_len: usize,
    float_kernel: FloatKernel,
}

/// Which kernel runs f32/f64 products (integers always use the loop kernel).
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, Hash)]
pub enum FloatKernel {
    /// The loop kernel for tiny products (`m * k * n <= 768`); for f32 with a column-major B
    /// (a transposed view) up to 2^23 multiply-adds, the AVX-512 kernel when the CPU has it;
    /// the `gemm` crate otherwise (see `docs/matmul.md` for the measurements behind this).
    #[default]
    Auto,
    /// Always the `gemm` crate.
    Gemm,
    /// Always the blocked loop kernel.
    Loop,
    /// The in-house AVX-512 f32 kernel (`codegen/matmul/f32_avx512.rs`) for f32 when the CPU
    /// has AVX-512F; the `gemm` crate for f64 or on other CPUs.
    Avx512,
}

/// The kernel [`MatMulPlan::run_float`] picked.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
enum Chosen {
    Loop,
    Crate,
    Own,
}

/// The operand and output pointers, shared with the helper threads of a split product.
struct Ptrs<T> {
    a: *const T,
    b: *const T,
    c: *mut T,
}

// SAFETY: the pointers are only dereferenced under `MatMulPlan::run`'s contract, which holds
// for the whole call (`run_parts` returns only when every part is done), and the parts write
// disjoint parts of `c`.
unsafe impl<T: Sync> Sync for Ptrs<T> {}

/// Column blocks handed to threads start on a multiple of this (the register tile's width).
const COLUMN_ALIGN: usize = 48;

/// Whether this CPU runs the in-house f32 kernel.
fn own_f32_available() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        super::f32_avx512::available()
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

impl MatMulPlan {
    /// a: logical shape `[batch..., m, k]` with element strides `a_strides` (same rank);
    /// b: `[batch..., k, n]` with strides; out is dense row-major `[broadcast batch..., m, n]`.
    /// Validates ranks, the inner dim, batch broadcasting and that every offset fits in
    /// `isize` bytes; returns `Err` describing the mismatch.
    pub fn new(
        dtype: DType,
        a_shape: &[usize],
        a_strides: &[usize],
        b_shape: &[usize],
        b_strides: &[usize],
    ) -> Result<MatMulPlan, String> {
        let shp = |s: &[usize]| Shape::from(s).to_string();
        if !dtype.is_numeric() {
            return Err(format!(
                "matmul of {} and {}: dtype {dtype} is not numeric (need f32, f64, i32 or i64)",
                shp(a_shape),
                shp(b_shape)
            ));
        }
        for (name, shape, strides) in [("lhs", a_shape, a_strides), ("rhs", b_shape, b_strides)] {
            if shape.len() != strides.len() {
                return Err(format!(
                    "matmul {name} of shape {} has rank {} but {} strides {:?}",
                    shp(shape),
                    shape.len(),
                    strides.len(),
                    strides
                ));
            }
        }
        let (ra, rb) = (a_shape.len(), b_shape.len());
        if ra < 2 || rb < 2 {
            return Err(format!(
                "matmul needs operands of rank >= 2, got {} and {}",
                shp(a_shape),
                shp(b_shape)
            ));
        }
        let (m, k) = (a_shape[ra - 2], a_shape[ra - 1]);
        let (k2, n) = (b_shape[rb - 2], b_shape[rb - 1]);
        if k != k2 {
            return Err(format!(
                "matmul of {} and {}: inner dims {k} and {k2} differ",
                shp(a_shape),
                shp(b_shape)
            ));
        }
        let batch = broadcast_shapes(&[
            &Shape::from(&a_shape[..ra - 2]),
            &Shape::from(&b_shape[..rb - 2]),
        ])
        .map_err(|e| {
            format!(
                "matmul batch dims of {} and {}: {e}",
                shp(a_shape),
                shp(b_shape)
            )
        })?;
        let batch_dims = batch.0.to_vec();
        let mut out_shape = batch_dims.clone();
        out_shape.push(m);
        out_shape.push(n);
        let esize = dtype.size_bytes();
        let out_numel = Shape::from(&out_shape[..])
            .checked_numel()
            .filter(|&e| fits_isize_bytes(e, esize))
            .ok_or_else(|| format!("matmul result {} is too large", shp(&out_shape)))?;
        let a_min_len = min_len("lhs", a_shape, a_strides, esize)?;
        let b_min_len = min_len("rhs", b_shape, b_strides, esize)?;

        // A stride only matters when its dim has more than one element; zeroing the others
        // keeps every stride we use within the checked extent (and so within isize).
        let eff = |shape: &[usize], strides: &[usize], i: usize| {
            if shape[i] > 1 {
                strides[i]
            } else {
                0
            }
        };
        let bstrides = |shape: &[usize], strides: &[usize]| -> Vec<usize> {
            let r = shape.len() - 2;
            let off = batch_dims.len() - r;
            (0..batch_dims.len())
                .map(|i| {
                    if i < off {
                        0
                    } else {
                        eff(shape, strides, i - off)
                    }
                })
                .collect()
        };
        Ok(MatMulPlan {
            dtype,
            m,
            k,
            n,
            a_batch_strides: bstrides(a_shape, a_strides),
            b_batch_strides: bstrides(b_shape, b_strides),
            batch_dims,
            out_shape,
            a_rs: eff(a_shape, a_strides, ra - 2),
            a_cs: eff(a_shape, a_strides, ra - 1),
            b_rs: eff(b_shape, b_strides, rb - 2),
            b_cs: eff(b_shape, b_strides, rb - 1),
            out_numel,
            a_min_len,
            b_min_len,
            float_kernel: FloatKernel::Auto,
        })
    }

    /// Forces the f32/f64 kernel (for tests and benchmarks; the default, [`FloatKernel::Auto`],
    /// picks the faster one by size).
    pub fn with_float_kernel(mut self, kernel: FloatKernel) -> MatMulPlan {
        self.float_kernel = kernel;
        self
    }

    /// Plan for dense row-major operands (strides from the shapes).
    pub fn contiguous(dtype: DType, a_shape: &[usize], b_shape: &[usize]) -> Result<Self, String> {
        let a_strides = Shape::from(a_shape).strides();
        let b_strides = Shape::from(b_shape).strides();
        MatMulPlan::new(dtype, a_shape, &a_strides, b_shape, &b_strides)
    }

    /// `[broadcast batch..., m, n]`.
    pub fn out_shape(&self) -> &[usize] {
        &self.out_shape
    }

    /// Number of output elements (the product of [`MatMulPlan::out_shape`]).
    pub fn out_numel(&self) -> usize {
        self.out_numel
    }

    /// Element type of both operands and the result.
    pub fn dtype(&self) -> DType {
        self.dtype
    }

    /// `(m, k, n)` of one matrix product.
    pub fn mkn(&self) -> (usize, usize, usize) {
        (self.m, self.k, self.n)
    }

    /// Number of elements the lhs buffer must hold at least (max offset + 1; 0 when the
    /// operand has no elements), so callers can check buffers.
    pub fn a_min_len(&self) -> usize {
        self.a_min_len
    }

    /// As [`MatMulPlan::a_min_len`], for the rhs.
    pub fn b_min_len(&self) -> usize {
        self.b_min_len
    }

    /// Computes `c = a x b`, overwriting every element of `c` (its previous contents are never
    /// read, so NaN or garbage there does not leak into the result).
    ///
    /// # Safety
    /// `a` and `b` point to buffers of the plan's dtype, aligned for it, with at least
    /// [`MatMulPlan::a_min_len`] / [`MatMulPlan::b_min_len`] elements; `c` points to an aligned
    /// buffer of [`MatMulPlan::out_numel`] elements that does not overlap `a` or `b`.
    /// Nothing is dereferenced when `out_numel` is 0, and `a` / `b` are not read when `k` is 0,
    /// so pointers for empty buffers may be dangling (but aligned) then.
    pub unsafe fn run(&self, a: *const u8, b: *const u8, c: *mut u8) {
        if self.out_numel == 0 {
            return;
        }
        if self.k == 0 {
            // An empty sum is zero. Handled here, for every dtype, so that no kernel sees k = 0
            // (matrixmultiply would write beta*C = 0 for it; the gemm crate is not relied on)
            // and so that `a` / `b` are provably never read.
            // SAFETY: c holds out_numel elements of dtype (caller contract); all-zero bytes are
            // 0 / 0.0 for every numeric dtype.
            unsafe { std::ptr::write_bytes(c, 0, self.out_numel * self.dtype.size_bytes()) };
            return;
        }
        // SAFETY: forwarded caller contract; the dtype selects the element type the buffers
        // hold, and here out_numel > 0 and k > 0 as the typed kernels require.
        unsafe {
            match self.dtype {
                DType::F32 => self.run_float::<f32>(a.cast(), b.cast(), c.cast()),
                DType::F64 => self.run_float::<f64>(a.cast(), b.cast(), c.cast()),
                DType::I32 => self.run_loop::<i32>(a.cast(), b.cast(), c.cast()),
                DType::I64 => self.run_loop::<i64>(a.cast(), b.cast(), c.cast()),
                // `new` rejects non-numeric dtypes and the fields are private.
                DType::Bool => unreachable!("MatMulPlan::new rejects bool"),
            }
        }
    }

    /// Calls `f(a_offset, b_offset, c_offset)` (in elements) for every batch element.
    fn for_each_batch(&self, mut f: impl FnMut(usize, usize, usize)) {
        let mn = self.m * self.n;
        let nb = self.out_numel / mn; // out_numel > 0 here, so mn > 0.
        let mut idx = vec![0usize; self.batch_dims.len()];
        let (mut ao, mut bo) = (0usize, 0usize);
        for bi in 0..nb {
            f(ao, bo, bi * mn);
            // Odometer step over the batch dims, updating the offsets incrementally.
            for d in (0..idx.len()).rev() {
                idx[d] += 1;
                ao += self.a_batch_strides[d];
                bo += self.b_batch_strides[d];
                if idx[d] < self.batch_dims[d] {
                    break;
                }
                ao -= self.a_batch_strides[d] * idx[d];
                bo -= self.b_batch_strides[d] * idx[d];
                idx[d] = 0;
            }
        }
    }

    /// Which kernel runs this plan's f32/f64 products.
    fn float_choice<T: LoopElem>(&self) -> Chosen {
        let work = self.m.saturating_mul(self.k).saturating_mul(self.n);
        let own = T::IS_F32 && own_f32_available();
        // Where the in-house kernel measurably beat the crate (docs/matmul.md): a B stored
        // column-major (a linear layer's `w.t()`, packed by in-register transposes), up to
        // OWN_AUTO_WORK multiply-adds. Row-major B and larger products stay with the crate.
        let b_col_major = self.b_rs == 1 && self.b_cs != 1;
        let own_auto = own && b_col_major && work <= OWN_AUTO_WORK;
        match self.float_kernel {
            FloatKernel::Auto if work <= SMALL_FLOAT_WORK => Chosen::Loop,
            FloatKernel::Auto if own_auto => Chosen::Own,
            FloatKernel::Avx512 if own => Chosen::Own,
            FloatKernel::Auto | FloatKernel::Avx512 | FloatKernel::Gemm => Chosen::Crate,
            FloatKernel::Loop => Chosen::Loop,
        }
    }

    /// # Safety: as [`MatMulPlan::run`], with `k > 0` and a non-empty output.
    unsafe fn run_float<T: LoopElem>(&self, a: *const T, b: *const T, c: *mut T) {
        let chosen = self.float_choice::<T>();
        if chosen == Chosen::Loop {
            // SAFETY: forwarded contract.
            return unsafe { self.run_loop(a, b, c) };
        }
        let mut jobs = Vec::new();
        self.for_each_batch(|ao, bo, co| jobs.push((ao, bo, co)));
        let work = (self.m * self.n)
            .saturating_mul(self.k)
            .saturating_mul(jobs.len());
        let threads = if work >= matmul_parallel_work() {
            threads()
        } else {
            1
        };
        let ptrs = Ptrs { a, b, c };
        let part = |jobs: &[(usize, usize, usize)], j0: usize, j1: usize| {
            let ptrs = &ptrs;
            for &(ao, bo, co) in jobs {
                // SAFETY: forwarded contract; the batch offsets come from `for_each_batch` and
                // every column range from `partition(n, ..)`, and the parts handed to threads
                // below are disjoint batch elements or disjoint columns, so no two threads
                // write the same element.
                unsafe { self.float_product(chosen, ptrs, ao, bo, co, j0, j1) };
            }
        };
        if threads <= 1 {
            return part(&jobs, 0, self.n);
        }
        // Whole batch elements per thread when there are enough of them, else column blocks
        // (on the register tile's width, so no thread gets a sliver).
        let (by_batch, ranges) = if jobs.len() >= threads {
            (true, partition(jobs.len(), threads, 1))
        } else {
            // Narrow outputs (a linear layer's 128 columns) split on AVX-512 vectors, so the
            // parts stay even; wide ones on whole register tiles.
            let align = if self.n >= 2 * COLUMN_ALIGN * threads {
                COLUMN_ALIGN
            } else {
                16
            };
            (false, partition(self.n, threads, align))
        };
        let run_range = |&(s, e): &(usize, usize)| {
            if by_batch {
                part(&jobs[s..e], 0, self.n)
            } else {
                part(&jobs, s, e)
            }
        };
        run_parts(ranges.len(), &|i| run_range(&ranges[i]));
    }

    /// Columns `j0..j1` of one product: batch element offsets `ao`, `bo`, `co`.
    ///
    /// # Safety
    /// As [`MatMulPlan::run`]; the offsets are one batch element's, `j0 < j1 <= n`, and no
    /// other thread writes these columns of this output matrix meanwhile.
    #[allow(clippy::too_many_arguments)]
    unsafe fn float_product<T: LoopElem>(
        &self,
        chosen: Chosen,
        p: &Ptrs<T>,
        ao: usize,
        bo: usize,
        co: usize,
        j0: usize,
        j1: usize,
    ) {
        let (m, k, n) = (self.m, self.k, self.n);
        // SAFETY: inside the views (the plan's offsets, columns j0..j1 < n).
        let (a, b, c) = unsafe { (p.a.add(ao), p.b.add(bo + j0 * self.b_cs), p.c.add(co + j0)) };
        #[cfg(target_arch = "x86_64")]
        if chosen == Chosen::Own && T::IS_F32 {
            // SAFETY: T is f32 (IS_F32), the CPU has AVX-512F (`float_choice` checked it),
            // m, k, n > 0, the views are in bounds and c's rows (stride n) are ours.
            unsafe {
                return super::f32_avx512::sgemm(
                    m,
                    k,
                    j1 - j0,
                    a.cast(),
                    self.a_rs,
                    self.a_cs,
                    b.cast(),
                    self.b_rs,
                    self.b_cs,
                    c.cast(),
                    n,
                );
            }
        }
        // Casts cannot wrap: `new` checked that every used stride times its extent fits isize.
        let (rsa, csa) = (self.a_rs as isize, self.a_cs as isize);
        let (rsb, csb) = (self.b_rs as isize, self.b_cs as isize);
        // SAFETY: the strided m x k / k x (j1 - j0) / m x (j1 - j0) views stay within
        // a_min_len / b_min_len / out_numel elements (computed by `new` from the same shapes
        // and strides); c does not overlap a or b. gemm computes dst = alpha*dst +
        // beta*lhs*rhs with (column, row) strides; read_dst = false means dst is only written,
        // never read. T is f32 or f64, which gemm supports.
        unsafe {
            gemm::gemm(
                m,
                j1 - j0,
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
                T::ZERO,
                T::ONE,
                false,
                false,
                false,
                gemm::Parallelism::None,
            )
        }
    }

    /// # Safety: as [`MatMulPlan::run`], with `k > 0` and a non-empty output.
    unsafe fn run_loop<T: LoopElem>(&self, a: *const T, b: *const T, c: *mut T) {
        self.for_each_batch(|ao, bo, co| {
            // SAFETY: as in `run_float`; `loop_gemm` reads only inside the strided views.
            unsafe {
                loop_gemm(
                    self.m,
                    self.k,
                    self.n,
                    a.add(ao),
                    self.a_rs,
                    self.a_cs,
                    b.add(bo),
                    self.b_rs,
                    self.b_cs,
                    c.add(co),
                )
            }
        });
    }
}

/// Entry point for generated code: `plan.run(a, b, c)` with the C ABI. The compiler keeps the
/// plan alive (it owns it next to the compiled code) and embeds its address as a constant.
///
/// # Safety
/// `plan` points to a live [`MatMulPlan`]; `a`, `b`, `c` satisfy [`MatMulPlan::run`]'s contract.
pub unsafe extern "C" fn matmul_plan_run(
    plan: *const MatMulPlan,
    a: *const u8,
    b: *const u8,
    c: *mut u8,
) {
    // SAFETY: forwarded caller contract.
    unsafe { (*plan).run(a, b, c) }
}

/// `len * esize` bytes fit in `isize`.
fn fits_isize_bytes(len: usize, esize: usize) -> bool {
    len.checked_mul(esize)
        .is_some_and(|bytes| bytes <= isize::MAX as usize)
}

/// Elements an operand buffer must hold: max offset + 1, or 0 if the operand is empty.
fn min_len(name: &str, shape: &[usize], strides: &[usize], esize: usize) -> Result<usize, String> {
    if shape.contains(&0) {
        return Ok(0);
    }
    let too_big = || {
        format!(
            "matmul {name} of shape {} with strides {strides:?} spans more than isize::MAX bytes",
            Shape::from(shape)
        )
    };
    let mut max_off = 0usize;
    for (&d, &s) in shape.iter().zip(strides) {
        let span = (d - 1).checked_mul(s).ok_or_else(too_big)?;
        max_off = max_off.checked_add(span).ok_or_else(too_big)?;
    }
    let len = max_off.checked_add(1).ok_or_else(too_big)?;
    if !fits_isize_bytes(len, esize) {
        return Err(too_big());
    }
    Ok(len)
}

/// Element types of the loop kernel: `acc + x * y`, wrapping for integers.
trait LoopElem: Copy + Send + Sync + 'static {
    /// f32: the element type of the AVX-512 kernel.
    const IS_F32: bool = false;
    const ZERO: Self;
    const ONE: Self;
    fn mul_add(self, x: Self, y: Self) -> Self;
}

impl LoopElem for i32 {
    const ZERO: i32 = 0;
    const ONE: i32 = 1;
    #[inline(always)]
    fn mul_add(self, x: i32, y: i32) -> i32 {
        self.wrapping_add(x.wrapping_mul(y))
    }
}

impl LoopElem for i64 {
    const ZERO: i64 = 0;
    const ONE: i64 = 1;
    #[inline(always)]
    fn mul_add(self, x: i64, y: i64) -> i64 {
        self.wrapping_add(x.wrapping_mul(y))
    }
}

impl LoopElem for f32 {
    const IS_F32: bool = true;
    const ZERO: f32 = 0.0;
    const ONE: f32 = 1.0;
    #[inline(always)]
    fn mul_add(self, x: f32, y: f32) -> f32 {
        self + x * y
    }
}

impl LoopElem for f64 {
    const ZERO: f64 = 0.0;
    const ONE: f64 = 1.0;
    #[inline(always)]
    fn mul_add(self, x: f64, y: f64) -> f64 {
        self + x * y
    }
}

/// Dense row-major `c[m, n] = a[m, k] x b[k, n]` (`a`, `b` strided); wrapping for integers.
///
/// - B contiguous along n (`csb == 1`): i-k-j order over blocks of `LOOP_KB x LOOP_NB` of B, so
///   the inner loop is a contiguous, vectorisable axpy into a row of C.
/// - B contiguous along k (`rsb == 1`, e.g. a transposed row-major matrix): i-j-k dot products,
///   streaming B's columns contiguously.
/// - Otherwise: the same blocked i-k-j order with strided reads.
///
/// # Safety
/// Every `a + i*rsa + p*csa` (`i < m`, `p < k`) and `b + p*rsb + j*csb` (`j < n`) is readable,
/// `c` is writable for `m * n` elements and does not overlap `a` or `b`.
#[allow(clippy::too_many_arguments)]
unsafe fn loop_gemm<T: LoopElem>(
    m: usize,
    k: usize,
    n: usize,
    a: *const T,
    rsa: usize,
    csa: usize,
    b: *const T,
    rsb: usize,
    csb: usize,
    c: *mut T,
) {
    // SAFETY: c is writable for m*n elements, exclusively ours (no overlap with a, b).
    let c = unsafe { std::slice::from_raw_parts_mut(c, m * n) };
    let at = |i: usize, p: usize| {
        // SAFETY: callers pass i < m, p < k, which are in range by the function's contract.
        unsafe { *a.add(i * rsa + p * csa) }
    };
    if csb != 1 && rsb == 1 {
        for i in 0..m {
            for j in 0..n {
                // SAFETY: column j of B is k contiguous elements starting at b + j*csb.
                let col = unsafe { std::slice::from_raw_parts(b.add(j * csb), k) };
                let mut s = T::ZERO;
                if csa == 1 {
                    // SAFETY: row i of A is k contiguous elements.
                    let row = unsafe { std::slice::from_raw_parts(a.add(i * rsa), k) };
                    for (&x, &y) in row.iter().zip(col) {
                        s = s.mul_add(x, y);
                    }
                } else {
                    for (p, &y) in col.iter().enumerate() {
                        s = s.mul_add(at(i, p), y);
                    }
                }
                c[i * n + j] = s;
            }
        }
        return;
    }
    c.fill(T::ZERO);
    for j0 in (0..n).step_by(LOOP_NB) {
        let nb = LOOP_NB.min(n - j0);
        for p0 in (0..k).step_by(LOOP_KB) {
            let p1 = (p0 + LOOP_KB).min(k);
            for i in 0..m {
                let crow = &mut c[i * n + j0..i * n + j0 + nb];
                for p in p0..p1 {
                    let x = at(i, p);
                    if csb == 1 {
                        // SAFETY: row p of B holds nb contiguous elements from column j0.
                        let brow = unsafe { std::slice::from_raw_parts(b.add(p * rsb + j0), nb) };
                        for (cj, &y) in crow.iter_mut().zip(brow) {
                            *cj = cj.mul_add(x, y);
                        }
                    } else {
                        for (jj, cj) in crow.iter_mut().enumerate() {
                            // SAFETY: element (p, j0 + jj) of B is in range.
                            let y = unsafe { *b.add(p * rsb + (j0 + jj) * csb) };
                            *cj = cj.mul_add(x, y);
                        }
                    }
                }
            }
        }
    }
}
