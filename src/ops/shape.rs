//! Shape ops: reshape, permute/transpose, expand, slice/narrow, concat, pad, flatten,
//! squeeze/unsqueeze. Axes given as `isize` count from the end when negative (Python
//! style: `-1` is the last axis).

use super::elementwise::ScalarArg;
use crate::error::{Error, Result, SourceLoc};
use crate::tensor::{canonical_scalar, LazyTensor};
use lazyjit_lowering::{Op, Shape};

/// Resolves a Python-style axis against `n` positions (`n` = rank for most ops, rank + 1
/// for `unsqueeze`): `-n..n` maps to `0..n`; anything else is an [`Error::Op`] naming the
/// op, the axis and the shape.
pub(crate) fn resolve_axis_in(
    op: &'static str,
    axis: isize,
    n: usize,
    shape: &[usize],
    loc: SourceLoc,
) -> Result<usize> {
    let n_i = n as isize;
    let a = if axis < 0 { axis + n_i } else { axis };
    if (0..n_i).contains(&a) {
        Ok(a as usize)
    } else if n == 0 {
        Err(Error::op(
            op,
            format!("axis {axis} is out of range for shape {shape:?}: a rank-0 tensor has no axes"),
            loc,
        ))
    } else {
        Err(Error::op(
            op,
            format!(
                "axis {axis} is out of range for shape {shape:?} (expected an axis in {}..={})",
                -n_i,
                n_i - 1
            ),
            loc,
        ))
    }
}

/// Resolves one axis of a tensor of shape `shape` (see [`resolve_axis_in`]).
pub(crate) fn resolve_axis(
    op: &'static str,
    axis: isize,
    shape: &[usize],
    loc: SourceLoc,
) -> Result<usize> {
    resolve_axis_in(op, axis, shape.len(), shape, loc)
}

/// Resolves a list of axes: each as [`resolve_axis`], no axis twice; returned sorted.
pub(crate) fn resolve_axes(
    op: &'static str,
    axes: &[isize],
    shape: &[usize],
    loc: SourceLoc,
) -> Result<Vec<usize>> {
    let mut out = Vec::with_capacity(axes.len());
    for &a in axes {
        let r = resolve_axis(op, a, shape, loc)?;
        if out.contains(&r) {
            return Err(Error::op(
                op,
                format!(
                    "axis {a} (= {r}) appears more than once in axes {axes:?} for shape {shape:?}"
                ),
                loc,
            ));
        }
        out.push(r);
    }
    out.sort_unstable();
    Ok(out)
}

impl LazyTensor {
    /// The same elements in row-major order with a new shape of the same element count.
    ///
    /// Reshaping to the current shape returns the tensor itself.
    ///
    /// ```
    /// use lazyjit::LazyTensor;
    /// let t = LazyTensor::from_vec(vec![1, 2, 3, 4, 5, 6], &[2, 3])?;
    /// let r = t.reshape((3, 2))?;
    /// assert_eq!(r.to_ndarray::<i32>()?, ndarray::array![[1, 2], [3, 4], [5, 6]].into_dyn());
    /// assert!(t.reshape(&[4, 2]).is_err()); // 6 elements do not make 8
    /// # Ok::<(), lazyjit::Error>(())
    /// ```
    #[track_caller]
    pub fn reshape(&self, shape: impl Into<Shape>) -> Result<LazyTensor> {
        let shape = shape.into();
        if shape.dims() == self.shape() {
            return Ok(self.clone());
        }
        LazyTensor::apply(Op::Reshape { shape }, &[self], None)
    }

    /// Reorders the axes: output axis `i` is input axis `perm[i]` (NumPy `transpose`).
    ///
    /// ```
    /// use lazyjit::LazyTensor;
    /// let t = LazyTensor::arange(0i32, 6, 1)?.reshape(&[1, 2, 3])?;
    /// let p = t.permute(&[2, 0, 1])?;
    /// assert_eq!(p.shape(), &[3, 1, 2]);
    /// assert_eq!(p.to_vec::<i32>()?, vec![0, 3, 1, 4, 2, 5]);
    /// assert_eq!(t.transpose(-1, -2)?.shape(), &[1, 3, 2]);
    /// assert!(t.permute(&[0, 0, 1]).is_err()); // not a permutation
    /// # Ok::<(), lazyjit::Error>(())
    /// ```
    #[track_caller]
    pub fn permute(&self, perm: &[usize]) -> Result<LazyTensor> {
        if perm.len() == self.rank() && perm.iter().enumerate().all(|(i, &p)| i == p) {
            return Ok(self.clone());
        }
        LazyTensor::apply(
            Op::Permute {
                perm: perm.to_vec(),
            },
            &[self],
            None,
        )
    }

    /// Swaps axes `d0` and `d1` (negative axes count from the end).
    #[track_caller]
    pub fn transpose(&self, d0: isize, d1: isize) -> Result<LazyTensor> {
        let loc = SourceLoc::caller();
        let a = resolve_axis("transpose", d0, self.shape(), loc)?;
        let b = resolve_axis("transpose", d1, self.shape(), loc)?;
        let mut perm: Vec<usize> = (0..self.rank()).collect();
        perm.swap(a, b);
        self.permute(&perm)
    }

    /// The transpose of a rank-2 tensor (an error for any other rank).
    #[track_caller]
    pub fn t(&self) -> Result<LazyTensor> {
        if self.rank() != 2 {
            return Err(Error::op(
                "t",
                format!(
                    "expects a rank-2 tensor, got {} (use transpose or permute)",
                    self.ty()
                ),
                SourceLoc::caller(),
            ));
        }
        self.permute(&[1, 0])
    }

    /// NumPy `broadcast_to`: new leading axes may be added and size-1 axes stretched.
    /// Expanding to the current shape returns the tensor itself.
    ///
    /// ```
    /// use lazyjit::LazyTensor;
    /// let v = LazyTensor::from_vec(vec![1.0f32, 2.0], &[2, 1])?;
    /// assert_eq!(v.expand(&[2, 3])?.to_vec::<f32>()?, vec![1.0, 1.0, 1.0, 2.0, 2.0, 2.0]);
    /// assert_eq!(v.expand(&[4, 2, 3])?.shape(), &[4, 2, 3]); // a new leading axis
    /// assert!(v.expand(&[3, 3]).is_err()); // 2 rows do not stretch to 3
    /// let row = LazyTensor::from_vec(vec![1i32, 2, 3], (1, 3))?; // any shape form
    /// assert_eq!(row.expand((2, 3))?.to_vec::<i32>()?, vec![1, 2, 3, 1, 2, 3]);
    /// # Ok::<(), lazyjit::Error>(())
    /// ```
    #[track_caller]
    pub fn expand(&self, shape: impl Into<Shape>) -> Result<LazyTensor> {
        let shape = shape.into();
        if shape.dims() == self.shape() {
            return Ok(self.clone());
        }
        LazyTensor::apply(Op::Expand { shape }, &[self], None)
    }

    /// Alias of [`LazyTensor::expand`].
    #[track_caller]
    pub fn broadcast_to(&self, shape: impl Into<Shape>) -> Result<LazyTensor> {
        self.expand(shape)
    }

    /// Python `x[start:stop:step]` on every axis: one start, stop and step per axis, with
    /// `start <= stop <= dim` and `step >= 1`.
    ///
    /// ```
    /// use lazyjit::LazyTensor;
    /// let t = LazyTensor::arange(0i64, 12, 1)?.reshape(&[3, 4])?;
    /// // t[1:3, 0:4:2]: rows 1 and 2, every other column.
    /// let s = t.slice(&[1, 0], &[3, 4], &[1, 2])?;
    /// assert_eq!(s.to_vec::<i64>()?, vec![4, 6, 8, 10]);
    /// assert_eq!(t.narrow(-1, 1, 2)?.to_vec::<i64>()?, vec![1, 2, 5, 6, 9, 10]);
    /// assert!(t.slice(&[0, 0], &[4, 4], &[1, 1]).is_err()); // stop 4 is past the 3 rows
    /// # Ok::<(), lazyjit::Error>(())
    /// ```
    #[track_caller]
    pub fn slice(&self, starts: &[usize], stops: &[usize], steps: &[usize]) -> Result<LazyTensor> {
        LazyTensor::apply(
            Op::Slice {
                starts: starts.to_vec(),
                stops: stops.to_vec(),
                steps: steps.to_vec(),
            },
            &[self],
            None,
        )
    }

    /// The `len` elements starting at `start` along `axis` (torch `narrow`).
    #[track_caller]
    pub fn narrow(&self, axis: isize, start: usize, len: usize) -> Result<LazyTensor> {
        let loc = SourceLoc::caller();
        let a = resolve_axis("narrow", axis, self.shape(), loc)?;
        let dim = self.shape()[a];
        let stop = start
            .checked_add(len)
            .filter(|&s| s <= dim)
            .ok_or_else(|| {
                Error::op(
                    "narrow",
                    format!(
                    "start {start} + length {len} exceeds dim {dim} of axis {axis} in shape {:?}",
                    self.shape()
                ),
                    loc,
                )
            })?;
        let mut starts = vec![0; self.rank()];
        let mut stops = self.shape().to_vec();
        starts[a] = start;
        stops[a] = stop;
        self.slice(&starts, &stops, &vec![1; self.rank()])
    }

    /// Joins tensors of one dtype and rank end to end along `axis`; all other dims must
    /// be equal.
    ///
    /// ```
    /// use lazyjit::LazyTensor;
    /// let a = LazyTensor::from_vec(vec![1.0f32, 2.0], &[1, 2])?;
    /// let b = LazyTensor::from_vec(vec![3.0f32, 4.0, 5.0, 6.0], &[2, 2])?;
    /// let c = LazyTensor::concat(&[&a, &b], 0)?;
    /// assert_eq!(c.shape(), &[3, 2]);
    /// assert_eq!(c.to_vec::<f32>()?, vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
    /// assert!(LazyTensor::concat(&[&a, &b], -1).is_err()); // 1 row vs 2 rows
    /// # Ok::<(), lazyjit::Error>(())
    /// ```
    #[track_caller]
    pub fn concat(tensors: &[&LazyTensor], axis: isize) -> Result<LazyTensor> {
        let loc = SourceLoc::caller();
        let Some(first) = tensors.first() else {
            return Err(Error::op(
                "concat",
                "needs at least one tensor, got none",
                loc,
            ));
        };
        let a = resolve_axis("concat", axis, first.shape(), loc)?;
        LazyTensor::apply(Op::Concat { axis: a }, tensors, None)
    }

    /// Pads each axis `i` with `lo[i]` elements before and `hi[i]` after, filled with
    /// `value` (converted to this tensor's dtype).
    #[track_caller]
    pub fn pad(&self, lo: &[usize], hi: &[usize], value: impl ScalarArg) -> Result<LazyTensor> {
        let loc = SourceLoc::caller();
        let v = value.to_scalar();
        let Some(value) = canonical_scalar(self.dtype(), v) else {
            return Err(Error::op(
                "pad",
                format!(
                    "the value {v} cannot be used with a tensor of type {}",
                    self.ty()
                ),
                loc,
            ));
        };
        LazyTensor::apply(
            Op::Pad {
                lo: lo.to_vec(),
                hi: hi.to_vec(),
                value,
            },
            &[self],
            None,
        )
    }

    /// Merges axes `start..=end` (inclusive, negative counting from the end) into one, as
    /// torch `flatten`; `flatten(0, -1)` gives a vector (a rank-0 tensor becomes `[1]`).
    #[track_caller]
    pub fn flatten(&self, start: isize, end: isize) -> Result<LazyTensor> {
        let loc = SourceLoc::caller();
        if self.rank() == 0 {
            // torch: a scalar flattens to one element; its only "axes" are 0 and -1.
            resolve_axis_in("flatten", start, 1, self.shape(), loc)?;
            resolve_axis_in("flatten", end, 1, self.shape(), loc)?;
            return self.reshape(&[1]);
        }
        let s = resolve_axis("flatten", start, self.shape(), loc)?;
        let e = resolve_axis("flatten", end, self.shape(), loc)?;
        if s > e {
            return Err(Error::op(
                "flatten",
                format!(
                    "start axis {start} (= {s}) comes after end axis {end} (= {e}) in shape {:?}",
                    self.shape()
                ),
                loc,
            ));
        }
        let dims = self.shape();
        let mut out = dims[..s].to_vec();
        out.push(dims[s..=e].iter().product());
        out.extend_from_slice(&dims[e + 1..]);
        self.reshape(&out)
    }

    /// Removes `axis`, which must have size 1.
    #[track_caller]
    pub fn squeeze(&self, axis: isize) -> Result<LazyTensor> {
        let loc = SourceLoc::caller();
        let a = resolve_axis("squeeze", axis, self.shape(), loc)?;
        if self.shape()[a] != 1 {
            return Err(Error::op(
                "squeeze",
                format!(
                    "axis {axis} has size {}, not 1, in shape {:?}",
                    self.shape()[a],
                    self.shape()
                ),
                loc,
            ));
        }
        let mut dims = self.shape().to_vec();
        dims.remove(a);
        self.reshape(&dims)
    }

    /// Removes every axis of size 1.
    #[track_caller]
    pub fn squeeze_all(&self) -> Result<LazyTensor> {
        let dims: Vec<usize> = self.shape().iter().copied().filter(|&d| d != 1).collect();
        self.reshape(&dims)
    }

    /// Inserts an axis of size 1 at position `axis` of the result (`-(rank + 1)..=rank`;
    /// `-1` appends).
    #[track_caller]
    pub fn unsqueeze(&self, axis: isize) -> Result<LazyTensor> {
        let loc = SourceLoc::caller();
        let a = resolve_axis_in("unsqueeze", axis, self.rank() + 1, self.shape(), loc)?;
        let mut dims = self.shape().to_vec();
        dims.insert(a, 1);
        self.reshape(&dims)
    }
}
