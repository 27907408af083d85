//! Composite ops built from the primitive ones: softmax and log-softmax, clamp,
//! activations (silu, gelu, leaky relu), squares and losses (mse, nll, cross-entropy).
//!
//! Each node a composite records carries the user's call site (they call the primitives
//! directly, all `#[track_caller]`).

use super::elementwise::ScalarArg;
use super::reduce::require_float;
use super::shape::resolve_axis;
use crate::error::{Error, Result, SourceLoc};
use crate::tensor::LazyTensor;
use lazyjit_lowering::{BinaryOp, DType, Op, ReduceOp, Scalar};

/// `a > b` for two scalars (exact for two integers).
fn scalar_gt(a: Scalar, b: Scalar) -> bool {
    match (a, b) {
        (Scalar::Int(x), Scalar::Int(y)) => x > y,
        _ => a.as_f64() > b.as_f64(),
    }
}

fn is_nan(s: Scalar) -> bool {
    matches!(s, Scalar::Float(v) if v.is_nan())
}

fn require_numeric(op: &'static str, t: &LazyTensor, loc: SourceLoc) -> Result<()> {
    if t.dtype().is_numeric() {
        Ok(())
    } else {
        Err(Error::op(
            op,
            format!(
                "expects a numeric dtype (f32, f64, i32, i64), got {}",
                t.ty()
            ),
            loc,
        ))
    }
}

/// The operands of a classification loss: float `scores` `[n, classes]` and `i32`/`i64`
/// class indices `[n]`.
fn check_class_targets(
    op: &'static str,
    what: &str,
    scores: &LazyTensor,
    targets: &LazyTensor,
    loc: SourceLoc,
) -> Result<()> {
    require_float(op, scores, loc)?;
    let ok = scores.rank() == 2
        && targets.rank() == 1
        && targets.shape()[0] == scores.shape()[0]
        && matches!(targets.dtype(), DType::I32 | DType::I64);
    if ok {
        return Ok(());
    }
    Err(Error::op(
        op,
        format!(
            "expects {what} [n, classes] and i32/i64 class indices [n], got {} and {}",
            scores.ty(),
            targets.ty()
        ),
        loc,
    ))
}

impl LazyTensor {
    #[track_caller]
    fn reduce_keep(&self, op: ReduceOp, axis: usize) -> Result<LazyTensor> {
        LazyTensor::apply(
            Op::Reduce {
                op,
                axes: vec![axis],
                keepdim: true,
            },
            &[self],
            None,
        )
    }

    /// `exp(x - max(x)) / sum(exp(x - max(x)))` along `axis` (float dtypes): entries along
    /// the axis are positive and sum to 1. The backend fuses it into one pass over rows.
    ///
    /// As PyTorch's CPU kernel does, it multiplies each `e = exp(x - max)` by the
    /// reciprocal of the row's sum `s`, one division per row instead of one per element
    /// (a `divps` per four elements was a third of softmax's time): each entry is
    /// `e · (1 / s)` rounded twice, within 2 ulp of `e / s` rounded once.
    ///
    /// ```
    /// use lazyjit::LazyTensor;
    /// let x = LazyTensor::from_vec(vec![1.0f32, 2.0, 3.0, 1000.0, 1000.0, 1000.0], &[2, 3])?;
    /// let p = x.softmax(-1)?.to_vec::<f32>()?;
    /// assert!((p[0..3].iter().sum::<f32>() - 1.0).abs() < 1e-6);
    /// assert!(p[2] > p[1] && p[1] > p[0]);
    /// assert!((p[3] - 1.0 / 3.0).abs() < 1e-6); // no overflow for large inputs
    /// # Ok::<(), lazyjit::Error>(())
    /// ```
    #[track_caller]
    pub fn softmax(&self, axis: isize) -> Result<LazyTensor> {
        let loc = SourceLoc::caller();
        require_float("softmax", self, loc)?;
        let a = resolve_axis("softmax", axis, self.shape(), loc)?;
        // The shift cancels in the result, so it carries no gradient: detached, the
        // backward pass does not differentiate through the maximum.
        let m = self.reduce_keep(ReduceOp::Max, a)?.detach();
        let e = self.sub(&m)?.exp()?;
        let s = e.reduce_keep(ReduceOp::Sum, a)?;
        e.mul(&s.reciprocal()?)
    }

    /// `log(softmax(x))` along `axis`, computed stably as `(x - max) - log(sum(exp(x - max)))`.
    #[track_caller]
    pub fn log_softmax(&self, axis: isize) -> Result<LazyTensor> {
        let loc = SourceLoc::caller();
        require_float("log_softmax", self, loc)?;
        let a = resolve_axis("log_softmax", axis, self.shape(), loc)?;
        let m = self.reduce_keep(ReduceOp::Max, a)?.detach(); // as in softmax
        let shifted = self.sub(&m)?;
        let e = shifted.exp()?;
        let s = e.reduce_keep(ReduceOp::Sum, a)?;
        let l = s.log()?;
        shifted.sub(&l)
    }

    /// Limits every element to `[min, max]` (numeric dtypes; the bounds are converted to
    /// this tensor's dtype). An error if `min > max` or a bound is NaN; NaN elements stay
    /// NaN.
    ///
    /// ```
    /// use lazyjit::LazyTensor;
    /// let x = LazyTensor::from_vec(vec![-2.0f32, 0.5, 3.0], &[3])?;
    /// assert_eq!(x.clamp(-1.0, 1.0)?.to_vec::<f32>()?, vec![-1.0, 0.5, 1.0]);
    /// assert!(x.clamp(1.0, -1.0).is_err());
    /// let i = LazyTensor::from_vec(vec![-5i64, 5, 50], &[3])?;
    /// assert_eq!(i.clamp(0, 10)?.to_vec::<i64>()?, vec![0, 5, 10]);
    /// # Ok::<(), lazyjit::Error>(())
    /// ```
    #[track_caller]
    pub fn clamp(&self, min: impl ScalarArg, max: impl ScalarArg) -> Result<LazyTensor> {
        let loc = SourceLoc::caller();
        let (lo, hi) = (min.to_scalar(), max.to_scalar());
        require_numeric("clamp", self, loc)?;
        if is_nan(lo) || is_nan(hi) || scalar_gt(lo, hi) {
            return Err(Error::op(
                "clamp",
                format!(
                    "needs min <= max (and neither NaN), got min {lo} and max {hi} for {}",
                    self.ty()
                ),
                loc,
            ));
        }
        let lo = self.scalar_like("clamp", lo)?;
        let hi = self.scalar_like("clamp", hi)?;
        let y = LazyTensor::apply(Op::Binary(BinaryOp::Max), &[self, &lo], None)?;
        LazyTensor::apply(Op::Binary(BinaryOp::Min), &[&y, &hi], None)
    }

    /// `max(x, min)` elementwise (numeric dtypes; NaN bound rejected, NaN elements stay NaN).
    #[track_caller]
    pub fn clamp_min(&self, min: impl ScalarArg) -> Result<LazyTensor> {
        let loc = SourceLoc::caller();
        self.clamp_one("clamp_min", BinaryOp::Max, min.to_scalar(), loc)
    }

    /// `min(x, max)` elementwise (numeric dtypes; NaN bound rejected, NaN elements stay NaN).
    #[track_caller]
    pub fn clamp_max(&self, max: impl ScalarArg) -> Result<LazyTensor> {
        let loc = SourceLoc::caller();
        self.clamp_one("clamp_max", BinaryOp::Min, max.to_scalar(), loc)
    }

    #[track_caller]
    fn clamp_one(
        &self,
        op: &'static str,
        bop: BinaryOp,
        v: Scalar,
        loc: SourceLoc,
    ) -> Result<LazyTensor> {
        require_numeric(op, self, loc)?;
        if is_nan(v) {
            return Err(Error::op(
                op,
                format!("the bound must not be NaN (tensor {})", self.ty()),
                loc,
            ));
        }
        let s = self.scalar_like(op, v)?;
        LazyTensor::apply(Op::Binary(bop), &[self, &s], None)
    }

    /// `x * x` elementwise (numeric dtypes).
    #[track_caller]
    pub fn square(&self) -> Result<LazyTensor> {
        self.mul(self)
    }

    /// SiLU / swish: `x * sigmoid(x)` (float dtypes).
    #[track_caller]
    pub fn silu(&self) -> Result<LazyTensor> {
        require_float("silu", self, SourceLoc::caller())?;
        let s = self.sigmoid()?;
        self.mul(&s)
    }

    /// GELU, exact (erf) form: `0.5 * x * (1 + erf(x / sqrt(2)))` (float dtypes).
    #[track_caller]
    pub fn gelu(&self) -> Result<LazyTensor> {
        require_float("gelu", self, SourceLoc::caller())?;
        let z =
            self.mul(&self.constant_like("gelu", Scalar::Float(std::f64::consts::FRAC_1_SQRT_2))?)?;
        let e = z.erf()?;
        let one_plus = e.add(&self.constant_like("gelu", Scalar::Float(1.0))?)?;
        let y = self.mul(&one_plus)?;
        y.mul(&self.constant_like("gelu", Scalar::Float(0.5))?)
    }

    /// `x` where `x > 0`, else `slope * x` (float dtypes).
    #[track_caller]
    pub fn leaky_relu(&self, slope: f64) -> Result<LazyTensor> {
        require_float("leaky_relu", self, SourceLoc::caller())?;
        let pos = self.gt_scalar(0.0)?;
        let neg = self.mul_scalar(slope)?;
        LazyTensor::where_(&pos, self, &neg)
    }

    /// Mean squared error `mean((self - target)^2)` over all elements, as a rank-0 tensor;
    /// `self` and `target` must have one float dtype and one shape.
    #[track_caller]
    pub fn mse_loss(&self, target: &LazyTensor) -> Result<LazyTensor> {
        let loc = SourceLoc::caller();
        require_float("mse_loss", self, loc)?;
        if self.ty() != target.ty() {
            return Err(Error::op(
                "mse_loss",
                format!(
                    "input {} and target {} need one dtype and shape",
                    self.ty(),
                    target.ty()
                ),
                loc,
            ));
        }
        let d = self.sub(target)?;
        let sq = d.mul(&d)?;
        sq.mean_all()
    }

    /// Cross-entropy of logits `[n, classes]` (float) against class indices `[n]`
    /// (`i32`/`i64`): `-mean(log_softmax(self, 1)[i, target[i]])`, as a rank-0 tensor.
    /// Indices out of `0..classes` are an execution error.
    ///
    /// ```
    /// use lazyjit::{DType, LazyTensor};
    /// // Equal logits: the loss is log(classes).
    /// let logits = LazyTensor::zeros(&[2, 4], DType::F32)?;
    /// let y = LazyTensor::from_vec(vec![3i64, 0], &[2])?;
    /// assert!((logits.cross_entropy(&y)?.item::<f32>()? - 4f32.ln()).abs() < 1e-6);
    /// // Confident and right: almost no loss.
    /// let sure = LazyTensor::from_vec(vec![20.0f32, 0.0, 0.0, 20.0], &[2, 2])?;
    /// let right = LazyTensor::from_vec(vec![0i64, 1], &[2])?;
    /// assert!(sure.cross_entropy(&right)?.item::<f32>()? < 1e-6);
    /// // One target for two rows.
    /// assert!(logits.cross_entropy(&LazyTensor::from_vec(vec![0i64], &[1])?).is_err());
    /// # Ok::<(), lazyjit::Error>(())
    /// ```
    #[track_caller]
    pub fn cross_entropy(&self, target_index: &LazyTensor) -> Result<LazyTensor> {
        let loc = SourceLoc::caller();
        check_class_targets("cross_entropy", "logits", self, target_index, loc)?;
        self.log_softmax(1)?.nll_loss(target_index)
    }

    /// Negative log-likelihood of log-probabilities `[n, classes]` (float, e.g. from
    /// [`LazyTensor::log_softmax`]) against class indices `[n]` (`i32`/`i64`):
    /// `-mean(self[i, target[i]])`, as a rank-0 tensor (PyTorch's `nll_loss` with mean
    /// reduction). Indices out of `0..classes` are an execution error.
    ///
    /// ```
    /// use lazyjit::LazyTensor;
    /// let logp = LazyTensor::from_vec(vec![-0.1f32, -2.3, -1.2, -0.4], &[2, 2])?;
    /// let y = LazyTensor::from_vec(vec![0i64, 1], &[2])?;
    /// assert!((logp.nll_loss(&y)?.item::<f32>()? - 0.25).abs() < 1e-6);
    /// # Ok::<(), lazyjit::Error>(())
    /// ```
    #[track_caller]
    pub fn nll_loss(&self, target_index: &LazyTensor) -> Result<LazyTensor> {
        let loc = SourceLoc::caller();
        check_class_targets("nll_loss", "log-probabilities", self, target_index, loc)?;
        let idx = target_index.reshape(&[self.shape()[0], 1])?;
        let picked = self.gather(1, &idx)?;
        picked.mean_all()?.neg()
    }
}
