//! Reading values: each read syncs the tensor first (compile or cache hit, then run).

use super::create::NativeType;
use super::sync::sync_at;
use super::LazyTensor;
use crate::error::{Error, Result, SourceLoc};
use lazyjit_lowering::Tensor;
use ndarray::{ArrayD, IxDyn};
use std::sync::Arc;

impl LazyTensor {
    /// Computes the tensor if it is pending and returns its device data (shared, no copy).
    #[track_caller]
    pub fn data(&self) -> Result<Arc<Tensor>> {
        let loc = SourceLoc::caller();
        super::tracing::forbid_read("data", loc)?;
        sync_at(&[self], loc)?;
        let node = self.node();
        node.data().cloned().ok_or_else(|| {
            Error::data(
                "read",
                format!(
                    "tensor #{} has no data after sync (please report this)",
                    self.id()
                ),
                loc,
            )
        })
    }

    /// The elements in row-major order. `T` must be the tensor's element type.
    ///
    /// ```
    /// use lazyjit::LazyTensor;
    /// let t = LazyTensor::from_vec(vec![1.0f32, -2.0], &[2])?.abs()?;
    /// assert_eq!(t.to_vec::<f32>()?, vec![1.0, 2.0]);
    /// assert!(t.to_vec::<i32>().is_err()); // wrong element type
    /// # Ok::<(), lazyjit::Error>(())
    /// ```
    #[track_caller]
    pub fn to_vec<T: NativeType>(&self) -> Result<Vec<T>> {
        let loc = SourceLoc::caller();
        self.check_read::<T>("to_vec", loc)?;
        let d = self.data()?;
        Ok(d.as_slice::<T>()
            .map_err(|e| Error::data("to_vec", e.to_string(), loc))?
            .to_vec())
    }

    /// The value as an ndarray array of the tensor's shape.
    ///
    /// ```
    /// use lazyjit::LazyTensor;
    /// let t = LazyTensor::arange(0i32, 6, 1)?.reshape(&[2, 3])?;
    /// assert_eq!(t.to_ndarray::<i32>()?, ndarray::array![[0, 1, 2], [3, 4, 5]].into_dyn());
    /// # Ok::<(), lazyjit::Error>(())
    /// ```
    #[track_caller]
    pub fn to_ndarray<T: NativeType>(&self) -> Result<ArrayD<T>> {
        let loc = SourceLoc::caller();
        let v = self.to_vec::<T>()?;
        ArrayD::from_shape_vec(IxDyn(self.shape()), v)
            .map_err(|e| Error::data("to_ndarray", e.to_string(), loc))
    }

    /// The single element of a one-element tensor (any rank).
    ///
    /// ```
    /// use lazyjit::LazyTensor;
    /// let s = LazyTensor::from_vec(vec![1.5f64, 2.5], &[2])?.sum_all()?;
    /// assert_eq!(s.item::<f64>()?, 4.0);
    /// # Ok::<(), lazyjit::Error>(())
    /// ```
    #[track_caller]
    pub fn item<T: NativeType>(&self) -> Result<T> {
        let loc = SourceLoc::caller();
        if self.numel() != 1 {
            return Err(Error::data(
                "item",
                format!("needs a tensor with one element, got {}", self.ty()),
                loc,
            ));
        }
        self.check_read::<T>("item", loc)?;
        Ok(self.to_vec::<T>()?[0])
    }

    /// A host copy of the value as a lowering-crate [`Tensor`].
    #[track_caller]
    pub fn to_tensor(&self) -> Result<Tensor> {
        Ok((*self.data()?).clone())
    }

    fn check_read<T: NativeType>(&self, op: &'static str, loc: SourceLoc) -> Result<()> {
        super::tracing::forbid_read(op, loc)?;
        if T::DTYPE != self.dtype() {
            return Err(Error::data(
                op,
                format!("the tensor is {} but was read as {}", self.ty(), T::DTYPE),
                loc,
            ));
        }
        Ok(())
    }
}
