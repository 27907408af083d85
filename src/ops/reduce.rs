//! Reductions: sum, mean, max, min, prod over axes, argmax/argmin, whole-tensor
//! reductions, and the composites var, std and logsumexp.
//!
//! Axes count from the end when negative (`-1` is the last axis); out-of-range or repeated
//! axes are an [`Error::Op`]. An empty axis list reduces nothing (the result equals the
//! operand).
//!
//! Three forms of each of `sum`, `mean`, `max`, `min` and `prod`, all taking one axis or
//! several (anything [`Axes`]: `-1`, `[0, 1]`, `&[0, 1]`, a `Vec<isize>`):
//! `sum_axis(axes)` drops the reduced axes (NumPy's `sum(axis=...)`, candle's `sum`),
//! `sum_keepdim(axes)` keeps them as size 1 (torch's `keepdim=True`, candle's
//! `sum_keepdim`), and `sum(axes, keepdim)` takes the choice as a value; `sum_all()` reduces
//! everything to a scalar.

use super::shape::{resolve_axes, resolve_axis};
use crate::error::{Error, Result, SourceLoc};
use crate::tensor::LazyTensor;
use lazyjit_lowering::{Op, ReduceOp, Scalar};

/// The axes a reduction runs over: one axis (`-1`, `0usize`) or a list of them (`[0, 1]`,
/// `&[0, -1]`, `vec![1]`, a `&[isize]`). Negative axes count from the end.
///
/// ```
/// use lazyjit::LazyTensor;
/// let t = LazyTensor::from_vec(vec![1.0f32, 2.0, 3.0, 4.0], (2, 2))?;
/// assert_eq!(t.sum_axis(-1)?.to_vec::<f32>()?, vec![3.0, 7.0]);
/// assert_eq!(t.sum_axis([0, 1])?.item::<f32>()?, 10.0);
/// let axes: Vec<isize> = vec![0];
/// assert_eq!(t.sum_keepdim(&axes)?.shape(), &[1, 2]);
/// # Ok::<(), lazyjit::Error>(())
/// ```
pub trait Axes {
    /// The axes as a list, in the order given.
    fn to_axes(&self) -> Vec<isize>;
}

macro_rules! one_axis {
    ($($t:ty),*) => {$(
        impl Axes for $t {
            fn to_axes(&self) -> Vec<isize> {
                // An axis beyond isize::MAX is out of range for every shape; saturating
                // keeps it out of range (a wrap could make it a valid negative axis).
                vec![isize::try_from(*self).unwrap_or(isize::MAX)]
            }
        }
    )*};
}
one_axis!(i32, isize, usize);

impl Axes for [isize] {
    fn to_axes(&self) -> Vec<isize> {
        self.to_vec()
    }
}

impl<const N: usize> Axes for [isize; N] {
    fn to_axes(&self) -> Vec<isize> {
        self.to_vec()
    }
}

impl Axes for Vec<isize> {
    fn to_axes(&self) -> Vec<isize> {
        self.clone()
    }
}

impl<A: Axes + ?Sized> Axes for &A {
    fn to_axes(&self) -> Vec<isize> {
        (**self).to_axes()
    }
}

/// `$name(axes, keepdim)`, `${name}_axis(axes)` and `${name}_keepdim(axes)` for one op.
macro_rules! reduction {
    ($op:ident, $name:ident, $axis:ident, $keep:ident, $what:literal, $example:literal) => {
        #[doc = concat!($what, " over `axes` (one axis or several, see [`Axes`]); `keepdim` keeps them as size 1.")]
        #[doc = ""]
        #[doc = concat!("[`LazyTensor::", stringify!($axis), "`] and [`LazyTensor::", stringify!($keep), "`] fix `keepdim`.")]
        #[doc = ""]
        #[doc = "```"]
        #[doc = "use lazyjit::LazyTensor;"]
        #[doc = "let t = LazyTensor::from_vec(vec![1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0], (2, 3))?;"]
        #[doc = $example]
        #[doc = concat!("assert!(t.", stringify!($name), "(2, false).is_err()); // no axis 2 in a rank-2 tensor")]
        #[doc = "# Ok::<(), lazyjit::Error>(())"]
        #[doc = "```"]
        #[track_caller]
        pub fn $name(&self, axes: impl Axes, keepdim: bool) -> Result<LazyTensor> {
            self.reduce(ReduceOp::$op, &axes.to_axes(), keepdim)
        }

        #[doc = concat!($what, " over `axes`, which are dropped from the shape (NumPy's `axis=`).")]
        #[doc = ""]
        #[doc = "```"]
        #[doc = "use lazyjit::LazyTensor;"]
        #[doc = "let t = LazyTensor::from_vec(vec![1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0], (2, 3))?;"]
        #[doc = concat!("assert_eq!(t.", stringify!($axis), "(-1)?.shape(), &[2]);")]
        #[doc = concat!("assert_eq!(t.", stringify!($axis), "([0, 1])?.shape(), &[] as &[usize]);")]
        #[doc = "# Ok::<(), lazyjit::Error>(())"]
        #[doc = "```"]
        #[track_caller]
        pub fn $axis(&self, axes: impl Axes) -> Result<LazyTensor> {
            self.reduce(ReduceOp::$op, &axes.to_axes(), false)
        }

        #[doc = concat!($what, " over `axes`, which stay in the shape with size 1 (torch's `keepdim=True`), ready to broadcast against the operand.")]
        #[doc = ""]
        #[doc = "```"]
        #[doc = "use lazyjit::LazyTensor;"]
        #[doc = "let t = LazyTensor::from_vec(vec![1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0], (2, 3))?;"]
        #[doc = concat!("assert_eq!(t.", stringify!($keep), "(-1)?.shape(), &[2, 1]);")]
        #[doc = concat!("assert_eq!(t.", stringify!($keep), "([0, 1])?.shape(), &[1, 1]);")]
        #[doc = "# Ok::<(), lazyjit::Error>(())"]
        #[doc = "```"]
        #[track_caller]
        pub fn $keep(&self, axes: impl Axes) -> Result<LazyTensor> {
            self.reduce(ReduceOp::$op, &axes.to_axes(), true)
        }
    };
}

impl LazyTensor {
    reduction!(Sum, sum, sum_axis, sum_keepdim,
        "Sum (numeric dtypes; integers wrap)",
        "assert_eq!(t.sum(-1, false)?.to_vec::<f32>()?, vec![6.0, 15.0]);\nassert_eq!(t.sum(&[0], true)?.shape(), &[1, 3]);\nassert_eq!(t.sum([0, 1], false)?.item::<f32>()?, 21.0);");
    reduction!(
        Mean,
        mean,
        mean_axis,
        mean_keepdim,
        "Mean (float dtypes)",
        "assert_eq!(t.mean(-1, false)?.to_vec::<f32>()?, vec![2.0, 5.0]);"
    );
    reduction!(
        Max,
        max,
        max_axis,
        max_keepdim,
        "Maximum (NaN-propagating for floats)",
        "assert_eq!(t.max(0, true)?.to_vec::<f32>()?, vec![4.0, 5.0, 6.0]);"
    );
    reduction!(
        Min,
        min,
        min_axis,
        min_keepdim,
        "Minimum (NaN-propagating for floats)",
        "assert_eq!(t.min([0, 1], false)?.item::<f32>()?, 1.0);"
    );
    reduction!(
        Prod,
        prod,
        prod_axis,
        prod_keepdim,
        "Product (integers wrap)",
        "assert_eq!(t.prod(-1, false)?.to_vec::<f32>()?, vec![6.0, 120.0]);"
    );
}

impl LazyTensor {
    #[track_caller]
    fn reduce(&self, op: ReduceOp, axes: &[isize], keepdim: bool) -> Result<LazyTensor> {
        let loc = SourceLoc::caller();
        let axes = resolve_axes(op.name(), axes, self.shape(), loc)?;
        LazyTensor::apply(Op::Reduce { op, axes, keepdim }, &[self], None)
    }

    #[track_caller]
    fn reduce_all(&self, op: ReduceOp) -> Result<LazyTensor> {
        let axes = (0..self.rank()).collect();
        LazyTensor::apply(
            Op::Reduce {
                op,
                axes,
                keepdim: false,
            },
            &[self],
            None,
        )
    }

    #[track_caller]
    fn arg_reduce(&self, op: ReduceOp, axis: isize, keepdim: bool) -> Result<LazyTensor> {
        let loc = SourceLoc::caller();
        let a = resolve_axis(op.name(), axis, self.shape(), loc)?;
        LazyTensor::apply(
            Op::Reduce {
                op,
                axes: vec![a],
                keepdim,
            },
            &[self],
            None,
        )
    }

    /// Index (`i64`) of the first maximum along `axis` (a NaN counts as the maximum).
    ///
    /// ```
    /// use lazyjit::LazyTensor;
    /// let t = LazyTensor::from_vec(vec![3.0f32, 7.0, 5.0, 9.0, 1.0, 2.0], &[2, 3])?;
    /// assert_eq!(t.argmax(-1, false)?.to_vec::<i64>()?, vec![1, 0]);
    /// assert_eq!(t.max(&[-1], true)?.to_vec::<f32>()?, vec![7.0, 9.0]);
    /// let per_column = t.argmax(0, true)?;
    /// assert_eq!(per_column.shape(), &[1, 3]);
    /// assert_eq!(per_column.to_vec::<i64>()?, vec![1, 0, 0]);
    /// # Ok::<(), lazyjit::Error>(())
    /// ```
    #[track_caller]
    pub fn argmax(&self, axis: isize, keepdim: bool) -> Result<LazyTensor> {
        self.arg_reduce(ReduceOp::ArgMax, axis, keepdim)
    }

    /// Index (`i64`) of the first minimum along `axis` (a NaN counts as the minimum).
    #[track_caller]
    pub fn argmin(&self, axis: isize, keepdim: bool) -> Result<LazyTensor> {
        self.arg_reduce(ReduceOp::ArgMin, axis, keepdim)
    }

    /// Sum of all elements, as a rank-0 tensor.
    #[track_caller]
    pub fn sum_all(&self) -> Result<LazyTensor> {
        self.reduce_all(ReduceOp::Sum)
    }

    /// Mean of all elements (float dtypes), as a rank-0 tensor.
    #[track_caller]
    pub fn mean_all(&self) -> Result<LazyTensor> {
        self.reduce_all(ReduceOp::Mean)
    }

    /// Maximum of all elements, as a rank-0 tensor.
    #[track_caller]
    pub fn max_all(&self) -> Result<LazyTensor> {
        self.reduce_all(ReduceOp::Max)
    }

    /// Minimum of all elements, as a rank-0 tensor.
    #[track_caller]
    pub fn min_all(&self) -> Result<LazyTensor> {
        self.reduce_all(ReduceOp::Min)
    }

    /// Variance over `axes` (float dtypes): the mean of squared deviations from the mean
    /// times `n / (n - correction)`, `n` the number of reduced elements (`correction = 1`
    /// is the unbiased sample variance, `0` the population variance). An error if
    /// `n <= correction`.
    #[track_caller]
    pub fn var(&self, axes: impl Axes, keepdim: bool, correction: usize) -> Result<LazyTensor> {
        self.var_impl("var", &axes.to_axes(), keepdim, correction)
    }

    /// Standard deviation over `axes`: the square root of [`LazyTensor::var`].
    #[track_caller]
    pub fn std(&self, axes: impl Axes, keepdim: bool, correction: usize) -> Result<LazyTensor> {
        let v = self.var_impl("std", &axes.to_axes(), keepdim, correction)?;
        v.sqrt()
    }

    #[track_caller]
    fn var_impl(
        &self,
        op: &'static str,
        axes: &[isize],
        keepdim: bool,
        correction: usize,
    ) -> Result<LazyTensor> {
        let loc = SourceLoc::caller();
        require_float(op, self, loc)?;
        let resolved = resolve_axes(op, axes, self.shape(), loc)?;
        let n: usize = resolved.iter().map(|&a| self.shape()[a]).product();
        if n <= correction {
            return Err(Error::op(
                op,
                format!(
                    "reducing axes {axes:?} of shape {:?} covers {n} element(s), which must be more than the correction {correction}",
                    self.shape()
                ),
                loc,
            ));
        }
        let mean = LazyTensor::apply(
            Op::Reduce {
                op: ReduceOp::Mean,
                axes: resolved.clone(),
                keepdim: true,
            },
            &[self],
            None,
        )?;
        let dev = self.sub(&mean)?;
        let sq = dev.mul(&dev)?;
        let m = LazyTensor::apply(
            Op::Reduce {
                op: ReduceOp::Mean,
                axes: resolved,
                keepdim,
            },
            &[&sq],
            None,
        )?;
        if correction == 0 {
            return Ok(m);
        }
        let factor = self.constant_like(op, Scalar::Float(n as f64 / (n - correction) as f64))?;
        m.mul(&factor)
    }

    /// `log(sum(exp(x)))` over `axes` (float dtypes), computed stably as
    /// `m + log(sum(exp(x - m)))` with `m` the maximum (taken as 0 where it is infinite,
    /// so rows of `-inf` give `-inf`).
    #[track_caller]
    pub fn logsumexp(&self, axes: impl Axes, keepdim: bool) -> Result<LazyTensor> {
        let loc = SourceLoc::caller();
        require_float("logsumexp", self, loc)?;
        let resolved = resolve_axes("logsumexp", &axes.to_axes(), self.shape(), loc)?;
        let m = LazyTensor::apply(
            Op::Reduce {
                op: ReduceOp::Max,
                axes: resolved.clone(),
                keepdim: true,
            },
            &[self],
            None,
        )?
        .detach(); // the shift cancels: no gradient through the maximum
        let inf = self.constant_like("logsumexp", Scalar::Float(f64::INFINITY))?;
        let zero = self.constant_like("logsumexp", Scalar::Float(0.0))?;
        let is_inf = m.abs()?.eq(&inf)?;
        let m = LazyTensor::where_(&is_inf, &zero, &m)?;
        let e = self.sub(&m)?.exp()?;
        let s = LazyTensor::apply(
            Op::Reduce {
                op: ReduceOp::Sum,
                axes: resolved,
                keepdim,
            },
            &[&e],
            None,
        )?;
        let l = s.log()?;
        let m = if keepdim { m } else { m.reshape(l.shape())? };
        l.add(&m)
    }
}

/// An [`Error::Op`] unless `t` has a float dtype.
pub(crate) fn require_float(op: &'static str, t: &LazyTensor, loc: SourceLoc) -> Result<()> {
    if t.dtype().is_float() {
        Ok(())
    } else {
        Err(Error::op(
            op,
            format!("expects a float dtype (f32, f64), got {}", t.ty()),
            loc,
        ))
    }
}
