//! Reductions: sum, mean, max, min, prod over axes, argmax/argmin, whole-tensor
//! reductions, and the composites var, std and logsumexp.
//!
//! Axes count from the end when negative (`-1` is the last axis); out-of-range or repeated
//! axes are an [`Error::Op`]. An empty axis list reduces nothing (the result equals the
//! operand).

use super::shape::{resolve_axes, resolve_axis};
use crate::error::{Error, Result, SourceLoc};
use crate::tensor::LazyTensor;
use lazyjit_lowering::{Op, ReduceOp, Scalar};

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

    /// Sum over `axes` (numeric dtypes; integers wrap); `keepdim` keeps them as size 1.
    ///
    /// ```
    /// use lazyjit::LazyTensor;
    /// let t = LazyTensor::from_vec(vec![1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0], &[2, 3])?;
    /// assert_eq!(t.sum(&[-1], false)?.to_vec::<f32>()?, vec![6.0, 15.0]);
    /// assert_eq!(t.sum(&[0], true)?.shape(), &[1, 3]);
    /// assert_eq!(t.sum(&[0, 1], false)?.item::<f32>()?, 21.0);
    /// assert!(t.sum(&[2], false).is_err()); // no axis 2 in a rank-2 tensor
    /// # Ok::<(), lazyjit::Error>(())
    /// ```
    #[track_caller]
    pub fn sum(&self, axes: &[isize], keepdim: bool) -> Result<LazyTensor> {
        self.reduce(ReduceOp::Sum, axes, keepdim)
    }

    /// Mean over `axes` (float dtypes).
    #[track_caller]
    pub fn mean(&self, axes: &[isize], keepdim: bool) -> Result<LazyTensor> {
        self.reduce(ReduceOp::Mean, axes, keepdim)
    }

    /// Maximum over `axes` (NaN-propagating for floats).
    #[track_caller]
    pub fn max(&self, axes: &[isize], keepdim: bool) -> Result<LazyTensor> {
        self.reduce(ReduceOp::Max, axes, keepdim)
    }

    /// Minimum over `axes` (NaN-propagating for floats).
    #[track_caller]
    pub fn min(&self, axes: &[isize], keepdim: bool) -> Result<LazyTensor> {
        self.reduce(ReduceOp::Min, axes, keepdim)
    }

    /// Product over `axes` (integers wrap).
    #[track_caller]
    pub fn prod(&self, axes: &[isize], keepdim: bool) -> Result<LazyTensor> {
        self.reduce(ReduceOp::Prod, axes, keepdim)
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
    pub fn var(&self, axes: &[isize], keepdim: bool, correction: usize) -> Result<LazyTensor> {
        self.var_impl("var", axes, keepdim, correction)
    }

    /// Standard deviation over `axes`: the square root of [`LazyTensor::var`].
    #[track_caller]
    pub fn std(&self, axes: &[isize], keepdim: bool, correction: usize) -> Result<LazyTensor> {
        let v = self.var_impl("std", axes, keepdim, correction)?;
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
    pub fn logsumexp(&self, axes: &[isize], keepdim: bool) -> Result<LazyTensor> {
        let loc = SourceLoc::caller();
        require_float("logsumexp", self, loc)?;
        let resolved = resolve_axes("logsumexp", axes, self.shape(), loc)?;
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
