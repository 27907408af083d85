//! Linear algebra: `matmul` (with batch broadcasting) and the `linear` layer.

use crate::error::{Error, Result, SourceLoc};
use crate::tensor::LazyTensor;
use lazyjit_lowering::Op;

impl LazyTensor {
    /// Matrix product `[..., m, k] x [..., k, n] -> [..., m, n]`: both operands of rank at
    /// least 2 and one numeric dtype; the batch dims broadcast numpy-style. (No implicit
    /// vector promotion: reshape a vector to `[1, k]` or `[k, 1]`.)
    ///
    /// ```
    /// use lazyjit::LazyTensor;
    /// let a = LazyTensor::from_vec(vec![1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0], &[2, 3])?;
    /// let b = LazyTensor::from_vec(vec![1.0f32, 0.0, 0.0, 1.0, 1.0, 1.0], &[3, 2])?;
    /// let c = a.matmul(&b)?;
    /// assert_eq!(c.to_ndarray::<f32>()?, ndarray::array![[4.0, 5.0], [10.0, 11.0]].into_dyn());
    /// // A batch of 4 matrices times one shared matrix.
    /// let batch = LazyTensor::from_vec(vec![1.0f32; 24], &[4, 2, 3])?;
    /// assert_eq!(batch.matmul(&b)?.shape(), &[4, 2, 2]);
    /// assert!(a.matmul(&a).is_err()); // inner dims 3 and 2 differ
    /// # Ok::<(), lazyjit::Error>(())
    /// ```
    #[track_caller]
    pub fn matmul(&self, other: &LazyTensor) -> Result<LazyTensor> {
        LazyTensor::apply(Op::MatMul, &[self, other], None)
    }

    /// A fully connected layer, PyTorch convention: `self.matmul(weight.t()) + bias` with
    /// `weight: [out_features, in_features]`, `bias: [out_features]`, and `self`'s last dim
    /// `in_features` (a vector `[in_features]` gives `[out_features]`).
    ///
    /// ```
    /// use lazyjit::LazyTensor;
    /// let x = LazyTensor::from_vec(vec![1.0f32, 2.0], &[1, 2])?;
    /// let w = LazyTensor::from_vec(vec![1.0f32, 1.0, 0.0, -1.0, 2.0, 0.5], &[3, 2])?;
    /// let b = LazyTensor::from_vec(vec![0.5f32, 0.0, -1.0], &[3])?;
    /// let y = x.linear(&w, Some(&b))?;
    /// assert_eq!(y.to_vec::<f32>()?, vec![3.5, -2.0, 2.0]);
    /// # Ok::<(), lazyjit::Error>(())
    /// ```
    #[track_caller]
    pub fn linear(&self, weight: &LazyTensor, bias: Option<&LazyTensor>) -> Result<LazyTensor> {
        let loc = SourceLoc::caller();
        let fail = |m: String| Err(Error::op("linear", m, loc));
        if weight.rank() != 2 {
            return fail(format!(
                "weight must have shape [out_features, in_features], got {}",
                weight.ty()
            ));
        }
        let (out_f, in_f) = (weight.shape()[0], weight.shape()[1]);
        if self.dtype() != weight.dtype() {
            return fail(format!(
                "input {} and weight {} need one dtype",
                self.ty(),
                weight.ty()
            ));
        }
        if self.shape().last() != Some(&in_f) {
            return fail(format!(
                "input {} must have last dim in_features = {in_f} to match weight {}",
                self.ty(),
                weight.ty()
            ));
        }
        if let Some(b) = bias {
            if b.dtype() != self.dtype() || b.shape() != [out_f] {
                return fail(format!(
                    "bias must be {}[{out_f}] (out_features of weight {}), got {}",
                    self.dtype(),
                    weight.ty(),
                    b.ty()
                ));
            }
        }
        let wt = weight.t()?;
        let y = if self.rank() == 1 {
            let row = self.reshape(&[1, in_f])?;
            let y = row.matmul(&wt)?;
            y.reshape(&[out_f])?
        } else {
            self.matmul(&wt)?
        };
        match bias {
            Some(b) => y.add(b),
            None => Ok(y),
        }
    }
}
