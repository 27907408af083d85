//! Reading values: each read syncs the tensor first (compile or cache hit, then run).

use super::create::NativeType;
use super::sync::sync_at;
use super::LazyTensor;
use crate::error::{Error, Result, SourceLoc};
use lazyjit_lowering::Tensor;
use ndarray::{Array, ArrayD, Dimension, IxDyn};
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

    /// The value as an ndarray array of a fixed dimensionality (`Ix2` for an `Array2<T>`):
    /// an error naming the shape if the tensor's rank is not `D`'s.
    ///
    /// ```
    /// use lazyjit::LazyTensor;
    /// use ndarray::{array, Ix1, Ix2};
    /// let t = LazyTensor::arange(0i64, 6, 1)?.reshape(&[2, 3])?;
    /// let a: ndarray::Array2<i64> = t.to_array::<i64, Ix2>()?;
    /// assert_eq!(a, array![[0, 1, 2], [3, 4, 5]]);
    /// assert!(t.to_array::<i64, Ix1>().is_err());
    /// # Ok::<(), lazyjit::Error>(())
    /// ```
    #[track_caller]
    pub fn to_array<T: NativeType, D: Dimension>(&self) -> Result<Array<T, D>> {
        let loc = SourceLoc::caller();
        self.check_rank("to_array", D::NDIM, loc)?;
        self.to_ndarray::<T>()?
            .into_dimensionality::<D>()
            .map_err(|e| Error::data("to_array", e.to_string(), loc))
    }

    /// The elements of a rank-1 tensor.
    #[track_caller]
    pub fn to_vec1<T: NativeType>(&self) -> Result<Vec<T>> {
        self.check_rank("to_vec1", Some(1), SourceLoc::caller())?;
        self.to_vec::<T>()
    }

    /// The rows of a rank-2 tensor.
    ///
    /// ```
    /// use lazyjit::LazyTensor;
    /// let t = LazyTensor::from_vec(vec![1.0f32, 2.0, 3.0, 4.0], &[2, 2])?;
    /// assert_eq!(t.to_vec2::<f32>()?, vec![vec![1.0, 2.0], vec![3.0, 4.0]]);
    /// assert!(t.to_vec3::<f32>().is_err());
    /// # Ok::<(), lazyjit::Error>(())
    /// ```
    #[track_caller]
    pub fn to_vec2<T: NativeType>(&self) -> Result<Vec<Vec<T>>> {
        self.check_rank("to_vec2", Some(2), SourceLoc::caller())?;
        let (rows, cols) = (self.shape()[0], self.shape()[1]);
        Ok(split(&self.to_vec::<T>()?, rows, cols))
    }

    /// The matrices of a rank-3 tensor, as rows.
    #[track_caller]
    pub fn to_vec3<T: NativeType>(&self) -> Result<Vec<Vec<Vec<T>>>> {
        self.check_rank("to_vec3", Some(3), SourceLoc::caller())?;
        let (n, rows, cols) = (self.shape()[0], self.shape()[1], self.shape()[2]);
        let flat = self.to_vec::<T>()?;
        Ok(split(&flat, n, rows * cols)
            .iter()
            .map(|m| split(m, rows, cols))
            .collect())
    }

    fn check_rank(&self, op: &'static str, rank: Option<usize>, loc: SourceLoc) -> Result<()> {
        match rank {
            Some(r) if r != self.rank() => Err(Error::data(
                op,
                format!("needs a tensor of rank {r}, got {}", self.ty()),
                loc,
            )),
            _ => Ok(()),
        }
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

/// `v` as `count` consecutive pieces of `n` (zero-width pieces included: a `[3, 0]` tensor
/// has three empty rows).
fn split<T: Clone>(v: &[T], count: usize, n: usize) -> Vec<Vec<T>> {
    (0..count).map(|i| v[i * n..(i + 1) * n].to_vec()).collect()
}
