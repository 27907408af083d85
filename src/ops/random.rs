//! Random numbers inside the graph: `random_uniform` (Philox4x32-10, counter-based). Seed and
//! offset are tensors, so a training loop passes a new offset each step as a new parameter
//! value — a new draw without a new graph — and a fixed pair reproduces a run bit for bit.

use crate::error::{Error, Result, SourceLoc};
use crate::tensor::LazyTensor;
use lazyjit_lowering::{DType, Op, Shape, TensorType};

impl LazyTensor {
    /// Uniform floats in `[0, 1)` of `shape` and a float `dtype`, drawn in the graph from
    /// Philox4x32-10: element `i` (row-major) from counter `(i, offset)` under key `seed`,
    /// both `i64` scalars (for example [`LazyTensor::scalar`]). Scalars 0 and 1 are inlined
    /// as constants like every special scalar, so a step counter from 0 compiles three graphs:
    /// one for 0, one for 1, and one every later value reuses.
    ///
    /// ```
    /// use lazyjit::{DType, LazyTensor};
    /// let seed = LazyTensor::scalar(42i64);
    /// let draw = |step: i64| {
    ///     LazyTensor::random_uniform(&[4], DType::F32, &seed, &LazyTensor::scalar(step))?
    ///         .to_vec::<f32>()
    /// };
    /// let (a, b) = (draw(10)?, draw(11)?);
    /// assert_ne!(a, b); // a new offset is a new draw ...
    /// assert!(lazyjit::last_sync().unwrap().cache_hit); // ... from the same graph
    /// assert_eq!(a, draw(10)?); // and one pair is one draw
    /// assert!(a.iter().all(|x| (0.0..1.0).contains(x)));
    /// # Ok::<(), lazyjit::Error>(())
    /// ```
    #[track_caller]
    pub fn random_uniform(
        shape: impl Into<Shape>,
        dtype: DType,
        seed: &LazyTensor,
        offset: &LazyTensor,
    ) -> Result<LazyTensor> {
        if !dtype.is_float() {
            return Err(Error::op(
                "random_uniform",
                format!("expects a float dtype, got {dtype}"),
                SourceLoc::caller(),
            ));
        }
        let ty = TensorType::new(dtype, shape);
        LazyTensor::apply(Op::RandomUniform, &[seed, offset], Some(ty))
    }
}
