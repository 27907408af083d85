//! Indexing ops: `gather` (torch `gather` / NumPy `take_along_axis`) and `index_select`
//! (NumPy `take` along an axis). Index values are checked when the graph runs: one out of
//! range is an execution error, never an out-of-bounds read.

use super::shape::resolve_axis;
use crate::error::{Result, SourceLoc};
use crate::tensor::LazyTensor;
use lazyjit_lowering::Op;

impl LazyTensor {
    /// `out[..i..] = self[..index[..i..]..]` with the index value at position `axis`:
    /// `index` is `i32`/`i64` of this tensor's rank, its dims other than `axis` no larger
    /// than this tensor's; the result has the index's shape.
    #[track_caller]
    pub fn gather(&self, axis: isize, index: &LazyTensor) -> Result<LazyTensor> {
        let loc = SourceLoc::caller();
        let a = resolve_axis("gather", axis, self.shape(), loc)?;
        LazyTensor::apply(Op::Gather { axis: a }, &[self, index], None)
    }

    /// Selects entries along `axis` by an `i32`/`i64` index of any rank; the result shape
    /// is `shape[..axis] ++ index.shape ++ shape[axis + 1..]`.
    #[track_caller]
    pub fn index_select(&self, axis: isize, index: &LazyTensor) -> Result<LazyTensor> {
        let loc = SourceLoc::caller();
        let a = resolve_axis("index_select", axis, self.shape(), loc)?;
        LazyTensor::apply(Op::IndexSelect { axis: a }, &[self, index], None)
    }
}
