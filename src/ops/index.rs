//! Indexing ops: `gather` (torch `gather` / NumPy `take_along_axis`), `index_select`
//! (NumPy `take` along an axis) and `scatter_add` (torch `scatter_add`, the gradient of
//! `gather`). Index values are checked when the graph runs: one out of range is an execution
//! error, never an out-of-bounds read or write.

use super::shape::resolve_axis;
use crate::error::{Result, SourceLoc};
use crate::tensor::LazyTensor;
use lazyjit_lowering::Op;

impl LazyTensor {
    /// `out[..i..] = self[..index[..i..]..]` with the index value at position `axis`:
    /// `index` is `i32`/`i64` of this tensor's rank, its dims other than `axis` no larger
    /// than this tensor's; the result has the index's shape.
    ///
    /// ```
    /// use lazyjit::LazyTensor;
    /// let x = LazyTensor::from_vec(vec![1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0], &[2, 3])?;
    /// // One column per row: x[0, 2] and x[1, 0].
    /// let idx = LazyTensor::from_vec(vec![2i64, 0], &[2, 1])?;
    /// let g = x.gather(1, &idx)?;
    /// assert_eq!(g.shape(), &[2, 1]);
    /// assert_eq!(g.to_vec::<f32>()?, vec![3.0, 4.0]);
    /// // An index out of range is found when the graph runs, not when the op is recorded.
    /// let bad = x.gather(1, &LazyTensor::from_vec(vec![3i64, 0], &[2, 1])?)?;
    /// assert!(bad.to_vec::<f32>().is_err());
    /// # Ok::<(), lazyjit::Error>(())
    /// ```
    #[track_caller]
    pub fn gather(&self, axis: isize, index: &LazyTensor) -> Result<LazyTensor> {
        let loc = SourceLoc::caller();
        let a = resolve_axis("gather", axis, self.shape(), loc)?;
        LazyTensor::apply(Op::Gather { axis: a }, &[self, index], None)
    }

    /// Selects entries along `axis` by an `i32`/`i64` index of any rank; the result shape
    /// is `shape[..axis] ++ index.shape ++ shape[axis + 1..]`.
    ///
    /// ```
    /// use lazyjit::LazyTensor;
    /// // An embedding lookup: rows of a [3, 2] table picked by a [2, 2] index.
    /// let table = LazyTensor::from_vec(vec![0.0f32, 0.5, 1.0, 1.5, 2.0, 2.5], &[3, 2])?;
    /// let ids = LazyTensor::from_vec(vec![2i64, 0, 2, 1], &[2, 2])?;
    /// let e = table.index_select(0, &ids)?;
    /// assert_eq!(e.shape(), &[2, 2, 2]);
    /// assert_eq!(e.to_vec::<f32>()?, vec![2.0, 2.5, 0.0, 0.5, 2.0, 2.5, 1.0, 1.5]);
    /// # Ok::<(), lazyjit::Error>(())
    /// ```
    #[track_caller]
    pub fn index_select(&self, axis: isize, index: &LazyTensor) -> Result<LazyTensor> {
        let loc = SourceLoc::caller();
        let a = resolve_axis("index_select", axis, self.shape(), loc)?;
        LazyTensor::apply(Op::IndexSelect { axis: a }, &[self, index], None)
    }

    /// `torch.scatter_add`: this tensor with `updates[p]` added at `p` with `p[axis]`
    /// replaced by `index[p]`, for every position `p` of `index` (row-major order, so float
    /// sums are deterministic). `index` is `i32`/`i64`; all three have one rank; `updates`
    /// has this tensor's dtype; the index's dims are no larger than the updates' and, except
    /// on `axis`, than this tensor's. The result has this tensor's shape and dtype.
    ///
    /// ```
    /// use lazyjit::LazyTensor;
    /// let zeros = LazyTensor::zeros(&[3], lazyjit::DType::F32)?;
    /// let index = LazyTensor::from_vec(vec![0i64, 2, 0], &[3])?;
    /// let updates = LazyTensor::from_vec(vec![1.0f32, 2.0, 3.0], &[3])?;
    /// let out = zeros.scatter_add(0, &index, &updates)?;
    /// assert_eq!(out.to_vec::<f32>()?, [4.0, 0.0, 2.0]);
    /// # Ok::<(), lazyjit::Error>(())
    /// ```
    #[track_caller]
    pub fn scatter_add(
        &self,
        axis: isize,
        index: &LazyTensor,
        updates: &LazyTensor,
    ) -> Result<LazyTensor> {
        let loc = SourceLoc::caller();
        let a = resolve_axis("scatter_add", axis, self.shape(), loc)?;
        LazyTensor::apply(Op::ScatterAdd { axis: a }, &[self, index, updates], None)
    }
}
