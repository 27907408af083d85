//! Constructors: host data, scalars, constants, ranges and random tensors.
//!
//! One rule for all of them: the shape comes first, as anything that converts into a
//! [`Shape`] (`(2, 3)`, `[2, 3]`, `&[2, 3]`, `vec![2, 3]`, a `&Vec<usize>`, `5` for rank 1,
//! `()` for a scalar), then the dtype or the fill value, then the distribution's
//! parameters, then a seed (only the `_seeded` constructors take one); host data comes
//! before its shape (`from_vec(data, shape)`, as in candle and
//! [`lazyjit_lowering::Tensor::from_vec`]). Every constructor returns
//! `Result<LazyTensor>` (a shape beyond the size limit, a wrong element count or a bad
//! distribution parameter is an error) except [`LazyTensor::scalar`] and
//! [`LazyTensor::from_tensor`], which cannot fail.
//!
//! The unseeded random constructors (`rand`, `rand_uniform`, `randn`, `normal`) draw a seed
//! from the process-wide default generator ([`crate::manual_seed`]); the `_seeded` ones take
//! their own and give the same tensor for the same seed.

use super::generator::next_seed;
use super::LazyTensor;
use crate::error::{Error, Result, SourceLoc};
use crate::executor;
use crate::ir::DataSource;
use lazyjit_lowering::{DType, Element, Op, Scalar, Shape, Tensor, TensorType};
use ndarray::{ArrayBase, Data, Dimension};
use rand::SeedableRng;
use rand_distr::{Distribution, Normal, Uniform};

/// Rust element types a [`LazyTensor`] can hold: `f32`, `f64`, `i32`, `i64`, `bool`.
pub trait NativeType: Element {
    /// The value as a program-format scalar of this type's kind.
    fn to_scalar(self) -> Scalar;
    /// Converts a value read from a tensor of this type back (for `item`).
    fn from_scalar(s: Scalar) -> Self;
}

macro_rules! native {
    ($($t:ty => $to:expr, $from:expr;)*) => {$(
        impl NativeType for $t {
            fn to_scalar(self) -> Scalar {
                #[allow(clippy::redundant_closure_call)]
                ($to)(self)
            }
            fn from_scalar(s: Scalar) -> Self {
                #[allow(clippy::redundant_closure_call)]
                ($from)(s)
            }
        }
    )*};
}
native! {
    f32 => |v: f32| Scalar::Float(v as f64), |s: Scalar| s.as_f64() as f32;
    f64 => Scalar::Float, |s: Scalar| s.as_f64();
    i32 => |v: i32| Scalar::Int(v as i64), |s: Scalar| s.as_i64() as i32;
    i64 => Scalar::Int, |s: Scalar| s.as_i64();
    bool => Scalar::Bool, |s: Scalar| s.as_bool();
}

/// The scalar `v` in the canonical form for `dtype` (floats as `Float`, integers as
/// `Int`, bools as `Bool`), so equal values always give equal IR; `None` if `v` cannot be
/// represented (a fractional value for an integer dtype, an out-of-range i32).
pub(crate) fn canonical_scalar(dtype: DType, v: Scalar) -> Option<Scalar> {
    let s = match dtype {
        DType::F32 => Scalar::Float(v.as_f64() as f32 as f64),
        DType::F64 => Scalar::Float(v.as_f64()),
        DType::I32 | DType::I64 => match v {
            Scalar::Float(f) if f.fract() != 0.0 || !f.is_finite() => return None,
            Scalar::Float(f) if f.abs() > 9.0e15 => return None,
            _ => Scalar::Int(v.as_i64()),
        },
        DType::Bool => match v {
            Scalar::Bool(b) => Scalar::Bool(b),
            _ => return None,
        },
    };
    s.fits(dtype).then_some(s)
}

fn is_special(s: Scalar) -> bool {
    match s {
        Scalar::Float(v) => v == 0.0 && v.is_sign_positive() || v == 1.0,
        Scalar::Int(v) => v == 0 || v == 1,
        Scalar::Bool(_) => true,
    }
}

impl LazyTensor {
    /// A tensor holding a copy of `data` with the given `shape` (row-major).
    ///
    /// ```
    /// use lazyjit::LazyTensor;
    /// let t = LazyTensor::from_vec(vec![1i64, 2, 3, 4, 5, 6], (2, 3))?;
    /// assert_eq!(t.shape(), &[2, 3]);
    /// assert!(LazyTensor::from_vec(vec![1.0f32; 5], &[2, 3]).is_err());
    /// assert_eq!(LazyTensor::from_vec(vec![7i32], ())?.shape(), &[] as &[usize]);
    /// # Ok::<(), lazyjit::Error>(())
    /// ```
    #[track_caller]
    pub fn from_vec<T: NativeType>(data: Vec<T>, shape: impl Into<Shape>) -> Result<LazyTensor> {
        LazyTensor::from_slice(&data, shape)
    }

    /// A tensor holding a copy of `data` with the given `shape` (row-major).
    #[track_caller]
    pub fn from_slice<T: NativeType>(data: &[T], shape: impl Into<Shape>) -> Result<LazyTensor> {
        let loc = SourceLoc::caller();
        let t = Tensor::from_slice(data, shape)
            .map_err(|e| Error::data("from_vec", strip_data(&e), loc))?;
        Ok(LazyTensor::from_data(t, DataSource::Tensor, loc))
    }

    /// A tensor holding a copy of an ndarray array (any dimensionality and layout).
    ///
    /// ```
    /// use lazyjit::LazyTensor;
    /// let a = ndarray::array![[1.0f64, 2.0], [3.0, 4.0]];
    /// let t = LazyTensor::from_ndarray(&a.t())?; // a transposed view is fine
    /// assert_eq!(t.to_vec::<f64>()?, vec![1.0, 3.0, 2.0, 4.0]);
    /// # Ok::<(), lazyjit::Error>(())
    /// ```
    #[track_caller]
    pub fn from_ndarray<T, S, D>(a: &ArrayBase<S, D>) -> Result<LazyTensor>
    where
        T: NativeType,
        S: Data<Elem = T>,
        D: Dimension,
    {
        let loc = SourceLoc::caller();
        let op = "from_ndarray";
        // A broadcast view of a few bytes can describe a huge array: check the limit and
        // reserve fallibly before copying it element by element.
        let n = checked_numel(op, a.shape(), T::DTYPE, loc)?;
        let t = match a.as_slice() {
            Some(s) => Tensor::from_slice(s, a.shape().to_vec()),
            None => {
                let mut v = Vec::new();
                v.try_reserve_exact(n).map_err(|_| {
                    Error::data(
                        op,
                        format!("{n} elements of {} cannot be allocated", T::DTYPE),
                        loc,
                    )
                })?;
                v.extend(a.iter().copied());
                Tensor::from_vec(v, a.shape().to_vec())
            }
        }
        .map_err(|e| Error::data(op, strip_data(&e), loc))?;
        Ok(LazyTensor::from_data(t, DataSource::Tensor, loc))
    }

    /// Wraps a host tensor of the lowering crate (no copy).
    #[track_caller]
    pub fn from_tensor(t: Tensor) -> LazyTensor {
        LazyTensor::from_data(t, DataSource::Tensor, SourceLoc::caller())
    }

    /// A rank-0 tensor holding `v`.
    ///
    /// Scalars from Rust numbers become read-only parameters shared through the
    /// device-data cache, so a value that changes every step (a learning rate) does not
    /// recompile the graph. With [`crate::Config::special_scalars`] on (the default), 0 and
    /// 1 are inlined as constants instead.
    ///
    /// ```
    /// use lazyjit::LazyTensor;
    /// let lr = LazyTensor::scalar(0.01f32);
    /// assert_eq!(lr.shape(), &[] as &[usize]);
    /// assert_eq!(lr.item::<f32>()?, 0.01);
    /// # Ok::<(), lazyjit::Error>(())
    /// ```
    #[track_caller]
    pub fn scalar<T: NativeType>(v: T) -> LazyTensor {
        let loc = SourceLoc::caller();
        let s = v.to_scalar();
        // A value of T's own kind is always canonical for T's dtype.
        let s = canonical_scalar(T::DTYPE, s).unwrap_or(s);
        LazyTensor::scalar_value(T::DTYPE, s, loc)
    }

    /// A rank-0 scalar of `dtype` (already canonical): an inlined constant when special,
    /// else a cached device-data parameter.
    pub(crate) fn scalar_value(dtype: DType, s: Scalar, loc: SourceLoc) -> LazyTensor {
        if crate::config::get().special_scalars && is_special(s) {
            crate::metrics::inc(crate::metrics::Counter::InlinedScalar);
            return LazyTensor::rank0_constant(dtype, s, loc);
        }
        let data = executor::cached_scalar(dtype, s);
        LazyTensor::from_node(std::sync::Arc::new(crate::ir::Node::new_data(
            data,
            DataSource::Scalar,
            loc,
        )))
    }

    /// The scalar `v` converted to this tensor's dtype, for mixing with a Rust number.
    #[track_caller]
    pub(crate) fn scalar_like(&self, op: &'static str, v: Scalar) -> Result<LazyTensor> {
        let loc = SourceLoc::caller();
        let s = canonical_scalar(self.dtype(), v).ok_or_else(|| {
            Error::op(
                op,
                format!(
                    "the scalar {v} cannot be used with a tensor of type {}",
                    self.ty()
                ),
                loc,
            )
        })?;
        Ok(LazyTensor::scalar_value(self.dtype(), s, loc))
    }

    /// A rank-0 constant of this tensor's dtype for values fixed by the op itself (gelu's
    /// 1/sqrt(2), a variance correction factor): inlined, so the compiler can fold it.
    /// Values from the user go through [`LazyTensor::scalar_like`] instead.
    #[track_caller]
    pub(crate) fn constant_like(&self, op: &'static str, v: Scalar) -> Result<LazyTensor> {
        let loc = SourceLoc::caller();
        let s = canonical_scalar(self.dtype(), v).ok_or_else(|| {
            Error::op(
                op,
                format!(
                    "the constant {v} cannot be used with a tensor of type {}",
                    self.ty()
                ),
                loc,
            )
        })?;
        Ok(LazyTensor::rank0_constant(self.dtype(), s, loc))
    }

    /// A rank-0 constant (always within the size limit; `s` already fits `dtype`).
    fn rank0_constant(dtype: DType, s: Scalar, loc: SourceLoc) -> LazyTensor {
        let ty = TensorType::new(dtype, Shape::scalar());
        let node = crate::ir::Node::new_op(Op::Constant { value: s }, Default::default(), ty, loc);
        LazyTensor::from_node(std::sync::Arc::new(node))
    }

    /// Records a constant of type `dtype[shape]`, checked by the constant op's shape rule
    /// (which enforces the size limit).
    fn constant_node(dtype: DType, s: Scalar, shape: Shape, loc: SourceLoc) -> Result<LazyTensor> {
        let op = Op::Constant { value: s };
        let ty = op
            .infer(&[], &TensorType::new(dtype, shape))
            .map_err(|m| Error::op("constant", m, loc))?;
        let node = crate::ir::Node::new_op(op, Default::default(), ty, loc);
        Ok(LazyTensor::from_node(std::sync::Arc::new(node)))
    }

    /// A tensor of zeros (`false` for bool), recorded as a constant: no data is
    /// allocated until it is computed, and it fuses into its consumers. Errors if the shape
    /// is beyond the size limit ([`lazyjit_lowering::MAX_ELEMENTS`]).
    ///
    /// ```
    /// use lazyjit::{DType, LazyTensor};
    /// let z = LazyTensor::zeros((2, 3), DType::F32)?;
    /// assert_eq!(z.to_vec::<f32>()?, vec![0.0; 6]);
    /// assert!(LazyTensor::zeros(&[usize::MAX, 2], DType::F32).is_err());
    /// # Ok::<(), lazyjit::Error>(())
    /// ```
    #[track_caller]
    pub fn zeros(shape: impl Into<Shape>, dtype: DType) -> Result<LazyTensor> {
        let s = canonical_scalar(dtype, Scalar::Int(0)).unwrap_or(Scalar::Bool(false));
        LazyTensor::constant_node(dtype, s, shape.into(), SourceLoc::caller())
    }

    /// A tensor of ones (`true` for bool), recorded as a constant. Errors if the shape is
    /// beyond the size limit.
    ///
    /// ```
    /// use lazyjit::{DType, LazyTensor};
    /// assert_eq!(LazyTensor::ones(3, DType::I64)?.to_vec::<i64>()?, vec![1; 3]);
    /// assert_eq!(LazyTensor::ones((), DType::Bool)?.item::<bool>()?, true);
    /// # Ok::<(), lazyjit::Error>(())
    /// ```
    #[track_caller]
    pub fn ones(shape: impl Into<Shape>, dtype: DType) -> Result<LazyTensor> {
        let s = canonical_scalar(dtype, Scalar::Int(1)).unwrap_or(Scalar::Bool(true));
        LazyTensor::constant_node(dtype, s, shape.into(), SourceLoc::caller())
    }

    /// A tensor filled with `value`, of `value`'s type. The value follows the scalar rule
    /// of [`LazyTensor::scalar`]: a parameter broadcast to `shape` (changing it does not
    /// recompile), or an inlined constant for 0 and 1.
    ///
    /// ```
    /// use lazyjit::LazyTensor;
    /// let t = LazyTensor::full([2, 2], 7i32)?;
    /// assert_eq!(t.to_vec::<i32>()?, vec![7; 4]);
    /// # Ok::<(), lazyjit::Error>(())
    /// ```
    #[track_caller]
    pub fn full<T: NativeType>(shape: impl Into<Shape>, value: T) -> Result<LazyTensor> {
        let loc = SourceLoc::caller();
        let shape = shape.into();
        let s = value.to_scalar();
        let s = canonical_scalar(T::DTYPE, s).unwrap_or(s);
        if crate::config::get().special_scalars && is_special(s) {
            return LazyTensor::constant_node(T::DTYPE, s, shape, loc);
        }
        let sc = LazyTensor::scalar_value(T::DTYPE, s, loc);
        // `full` and `apply` are both #[track_caller]: the node records the user's call.
        LazyTensor::apply(Op::Expand { shape }, &[&sc], None)
    }

    /// A tensor of `shape` whose elements are their index along `axis` (numeric `dtype`),
    /// recorded as an `iota` op: no data, fused into its consumers.
    ///
    /// ```
    /// use lazyjit::{DType, LazyTensor};
    /// let t = LazyTensor::iota(&[2, 3], 1, DType::I32)?;
    /// assert_eq!(t.to_vec::<i32>()?, vec![0, 1, 2, 0, 1, 2]);
    /// assert!(LazyTensor::iota(&[2, 3], 2, DType::I32).is_err()); // no axis 2
    /// # Ok::<(), lazyjit::Error>(())
    /// ```
    #[track_caller]
    pub fn iota(shape: impl Into<Shape>, axis: usize, dtype: DType) -> Result<LazyTensor> {
        LazyTensor::apply(Op::Iota { axis }, &[], Some(TensorType::new(dtype, shape)))
    }

    /// `[start, start + step, ...]` up to but excluding `end`, of `T`'s dtype (numeric).
    ///
    /// ```
    /// use lazyjit::LazyTensor;
    /// assert_eq!(LazyTensor::arange(0i64, 5, 2)?.to_vec::<i64>()?, vec![0, 2, 4]);
    /// assert_eq!(LazyTensor::arange(1.0f32, 2.0, 0.25)?.to_vec::<f32>()?, vec![1.0, 1.25, 1.5, 1.75]);
    /// # Ok::<(), lazyjit::Error>(())
    /// ```
    #[track_caller]
    pub fn arange<T: NativeType>(start: T, end: T, step: T) -> Result<LazyTensor> {
        let loc = SourceLoc::caller();
        let dtype = T::DTYPE;
        let (a, b, s) = (
            start.to_scalar().as_f64(),
            end.to_scalar().as_f64(),
            step.to_scalar().as_f64(),
        );
        if !dtype.is_numeric() {
            return Err(Error::op(
                "arange",
                format!("expects a numeric type, got {dtype}"),
                loc,
            ));
        }
        if s == 0.0 || !s.is_finite() || !a.is_finite() || !b.is_finite() {
            return Err(Error::op(
                "arange",
                format!(
                    "needs finite bounds and a non-zero step, got start {a}, end {b}, step {s}"
                ),
                loc,
            ));
        }
        let n = ((b - a) / s).ceil().max(0.0);
        if n > (isize::MAX as f64) / 8.0 {
            return Err(Error::op(
                "arange",
                format!("{n} elements do not fit in memory"),
                loc,
            ));
        }
        let n = n as usize;
        let iota = LazyTensor::apply(Op::Iota { axis: 0 }, &[], Some(TensorType::new(dtype, [n])))?;
        let scaled = if s == 1.0 {
            iota
        } else {
            iota.mul(&LazyTensor::scalar(step))?
        };
        if a == 0.0 {
            Ok(scaled)
        } else {
            scaled.add(&LazyTensor::scalar(start))
        }
    }

    /// Uniform random values in `[0, 1)` of a float `dtype`, drawn from the default
    /// generator ([`crate::manual_seed`]; torch `rand`).
    ///
    /// ```
    /// use lazyjit::{DType, LazyTensor};
    /// let u = LazyTensor::rand((2, 500), DType::F64)?.to_vec::<f64>()?;
    /// assert!(u.iter().all(|v| (0.0..1.0).contains(v)));
    /// # Ok::<(), lazyjit::Error>(())
    /// ```
    #[track_caller]
    pub fn rand(shape: impl Into<Shape>, dtype: DType) -> Result<LazyTensor> {
        uniform(
            "rand",
            shape.into(),
            dtype,
            0.0,
            1.0,
            None,
            SourceLoc::caller(),
        )
    }

    /// Uniform random values in `[low, high)` of a float `dtype`, drawn from the default
    /// generator ([`crate::manual_seed`]). [`LazyTensor::rand_uniform_seeded`] takes a seed
    /// of its own instead.
    ///
    /// ```
    /// use lazyjit::{DType, LazyTensor};
    /// let a = LazyTensor::rand_uniform([1000], DType::F32, -1.0, 1.0)?.to_vec::<f32>()?;
    /// assert!(a.iter().all(|v| (-1.0..1.0).contains(v)));
    /// assert!(LazyTensor::rand_uniform([2], DType::F32, 1.0, 1.0).is_err()); // empty range
    /// # Ok::<(), lazyjit::Error>(())
    /// ```
    #[track_caller]
    pub fn rand_uniform(
        shape: impl Into<Shape>,
        dtype: DType,
        low: f64,
        high: f64,
    ) -> Result<LazyTensor> {
        let loc = SourceLoc::caller();
        uniform("rand_uniform", shape.into(), dtype, low, high, None, loc)
    }

    /// Uniform random values in `[low, high)` of a float `dtype`, from `seed` (the same seed
    /// gives the same tensor; the default generator is not touched). Generated on the host
    /// as device data.
    ///
    /// ```
    /// use lazyjit::{DType, LazyTensor};
    /// let a = LazyTensor::rand_uniform_seeded(&[1000], DType::F32, -1.0, 1.0, 42)?;
    /// let b = LazyTensor::rand_uniform_seeded(&[1000], DType::F32, -1.0, 1.0, 42)?;
    /// assert_eq!(a.to_vec::<f32>()?, b.to_vec::<f32>()?);
    /// assert!(a.to_vec::<f32>()?.iter().all(|v| (-1.0..1.0).contains(v)));
    /// # Ok::<(), lazyjit::Error>(())
    /// ```
    #[track_caller]
    pub fn rand_uniform_seeded(
        shape: impl Into<Shape>,
        dtype: DType,
        low: f64,
        high: f64,
        seed: u64,
    ) -> Result<LazyTensor> {
        let loc = SourceLoc::caller();
        uniform(
            "rand_uniform",
            shape.into(),
            dtype,
            low,
            high,
            Some(seed),
            loc,
        )
    }

    /// Standard normal random values (mean 0, std 1) of a float `dtype`, drawn from the
    /// default generator ([`crate::manual_seed`]; torch `randn`).
    ///
    /// ```
    /// use lazyjit::{manual_seed, DType, LazyTensor};
    /// manual_seed(3);
    /// let x = LazyTensor::randn(10000, DType::F64)?;
    /// assert!(x.mean_all()?.item::<f64>()?.abs() < 0.05);
    /// # Ok::<(), lazyjit::Error>(())
    /// ```
    #[track_caller]
    pub fn randn(shape: impl Into<Shape>, dtype: DType) -> Result<LazyTensor> {
        normal(
            "randn",
            shape.into(),
            dtype,
            0.0,
            1.0,
            None,
            SourceLoc::caller(),
        )
    }

    /// Normally distributed random values (`mean`, `std`) of a float `dtype`, drawn from
    /// the default generator ([`crate::manual_seed`]; torch `normal`).
    ///
    /// ```
    /// use lazyjit::{DType, LazyTensor};
    /// let x = LazyTensor::normal([10000], DType::F64, 2.0, 0.5)?;
    /// assert!((x.mean_all()?.item::<f64>()? - 2.0).abs() < 0.05);
    /// assert!(LazyTensor::normal([2], DType::F64, 0.0, -1.0).is_err());
    /// # Ok::<(), lazyjit::Error>(())
    /// ```
    #[track_caller]
    pub fn normal(
        shape: impl Into<Shape>,
        dtype: DType,
        mean: f64,
        std: f64,
    ) -> Result<LazyTensor> {
        normal(
            "normal",
            shape.into(),
            dtype,
            mean,
            std,
            None,
            SourceLoc::caller(),
        )
    }

    /// Normally distributed random values (`mean`, `std`) of a float `dtype`, from `seed`
    /// (the same seed gives the same tensor; the default generator is not touched).
    ///
    /// ```
    /// use lazyjit::{DType, LazyTensor};
    /// let x = LazyTensor::randn_seeded(&[10000], DType::F64, 2.0, 0.5, 7)?;
    /// let m = x.mean_all()?.item::<f64>()?;
    /// assert!((m - 2.0).abs() < 0.05);
    /// # Ok::<(), lazyjit::Error>(())
    /// ```
    #[track_caller]
    pub fn randn_seeded(
        shape: impl Into<Shape>,
        dtype: DType,
        mean: f64,
        std: f64,
        seed: u64,
    ) -> Result<LazyTensor> {
        normal(
            "randn",
            shape.into(),
            dtype,
            mean,
            std,
            Some(seed),
            SourceLoc::caller(),
        )
    }
}

/// Uniform values in `[low, high)`, from `seed` or else the default generator.
fn uniform(
    op: &'static str,
    shape: Shape,
    dtype: DType,
    low: f64,
    high: f64,
    seed: Option<u64>,
    loc: SourceLoc,
) -> Result<LazyTensor> {
    if low >= high || !low.is_finite() || !high.is_finite() {
        return Err(Error::op(
            op,
            format!("needs finite low < high, got [{low}, {high})"),
            loc,
        ));
    }
    random(
        op,
        shape,
        dtype,
        seed,
        loc,
        || {
            Uniform::new(low as f32, high as f32)
                .map_err(|e| format!("[{low}, {high}) as f32: {e}"))
        },
        || Uniform::new(low, high).map_err(|e| format!("[{low}, {high}): {e}")),
    )
}

/// Normal values (`mean`, `std`), from `seed` or else the default generator.
fn normal(
    op: &'static str,
    shape: Shape,
    dtype: DType,
    mean: f64,
    std: f64,
    seed: Option<u64>,
    loc: SourceLoc,
) -> Result<LazyTensor> {
    if std.is_nan() || std < 0.0 || !std.is_finite() || !mean.is_finite() {
        return Err(Error::op(
            op,
            format!("needs a finite mean and std >= 0, got mean {mean}, std {std}"),
            loc,
        ));
    }
    random(
        op,
        shape,
        dtype,
        seed,
        loc,
        || Normal::new(mean as f32, std as f32).map_err(|e| e.to_string()),
        || Normal::new(mean, std).map_err(|e| e.to_string()),
    )
}

/// A random tensor of a float `dtype`, sampled from the distribution `f32_dist` or
/// `f64_dist` builds with a generator seeded by `seed`, or else by a seed drawn from the
/// default generator.
#[allow(clippy::too_many_arguments)]
fn random<D32, D64>(
    op: &'static str,
    shape: Shape,
    dtype: DType,
    seed: Option<u64>,
    loc: SourceLoc,
    f32_dist: impl FnOnce() -> std::result::Result<D32, String>,
    f64_dist: impl FnOnce() -> std::result::Result<D64, String>,
) -> Result<LazyTensor>
where
    D32: Distribution<f32>,
    D64: Distribution<f64>,
{
    fn sample<T: NativeType>(
        shape: Shape,
        n: usize,
        seed: u64,
        d: impl Distribution<T>,
    ) -> std::result::Result<Tensor, lazyjit_lowering::Error> {
        let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
        let mut v = Vec::new();
        v.try_reserve_exact(n).map_err(|_| {
            lazyjit_lowering::Error::Data(format!(
                "{n} elements of {} cannot be allocated",
                T::DTYPE
            ))
        })?;
        v.extend((0..n).map(|_| d.sample(&mut rng)));
        Tensor::from_vec(v, shape)
    }
    let n = checked_numel(op, shape.dims(), dtype, loc)?;
    // The seed is drawn last, so a rejected call leaves the default generator as it was.
    let seed = || seed.unwrap_or_else(next_seed);
    let t = match dtype {
        DType::F32 => {
            let d = f32_dist().map_err(|e| Error::op(op, e, loc))?;
            sample(shape, n, seed(), d)
        }
        DType::F64 => {
            let d = f64_dist().map_err(|e| Error::op(op, e, loc))?;
            sample(shape, n, seed(), d)
        }
        _ => {
            return Err(Error::op(
                op,
                format!("expects a float dtype, got {dtype}"),
                loc,
            ));
        }
    }
    .map_err(|e| Error::data(op, strip_data(&e), loc))?;
    Ok(LazyTensor::from_data(t, DataSource::Tensor, loc))
}

/// The element count of `dtype[shape]`, or an error if the type is beyond the size limit.
fn checked_numel(op: &'static str, shape: &[usize], dtype: DType, loc: SourceLoc) -> Result<usize> {
    let ty = TensorType::new(dtype, shape);
    ty.check_limit().map_err(|m| Error::op(op, m, loc))?;
    Ok(ty.shape.numel())
}

/// The lowering crate's data errors start with "bad tensor data: "; ours name the op.
fn strip_data(e: &lazyjit_lowering::Error) -> String {
    match e {
        lazyjit_lowering::Error::Data(m) => m.clone(),
        other => other.to_string(),
    }
}
