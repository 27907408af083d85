//! Basic indexing: [`IndexOp::i`] selects by an integer or a range on each leading axis
//! (candle's `i`, NumPy's `x[1, 2:5]`), [`LazyTensor::get`] picks one element.
//!
//! Why a trait over tuples rather than a macro: `t.i((1, ..))` is ordinary Rust, checked
//! and inferred like any call, works on a tensor of any dtype, and needs nothing imported
//! but the trait; a slice of [`Idx`] covers a rank only known at run time. Each position is
//! anything that converts into an [`Idx`]: an integer (`i32`, `i64`, `isize`, `usize`,
//! `u32`) or a range of one (`a..b`, `a..`, `..b`, `..`, `a..=b`, `..=b`), with
//! [`Idx::step_by`] for a stride.
//!
//! Rules, as in Python except for bounds: an integer selects one entry and drops the axis;
//! a range keeps the axis; negative values count from the end (`-1` is the last entry);
//! axes after the last index are kept whole. Out-of-range values are an [`Error::Op`]
//! naming the op, the axis, the index and the shape (Python clamps a range, Rust's slices
//! reject it: lazyjit rejects it, so a typo cannot silently select less). An empty range
//! (`2..2`) is fine and gives a size-0 axis.
//!
//! The selection is recorded as the existing `slice` and `reshape` ops, so it is lazy,
//! fuses into its consumers and has their gradients.

use crate::error::{Error, Result, SourceLoc};
use crate::tensor::LazyTensor;
use std::fmt;
use std::ops::{Range, RangeFrom, RangeFull, RangeInclusive, RangeTo, RangeToInclusive};

/// One position of an index: an integer, which drops the axis, or a range with a step,
/// which keeps it. Built by `From` from integers and ranges (see the [module
/// docs](self)).
///
/// ```
/// use lazyjit::{Idx, IndexOp, LazyTensor};
/// let t = LazyTensor::arange(0i32, 10, 1)?;
/// assert_eq!(t.i(Idx::from(1..8).step_by(3))?.to_vec::<i32>()?, vec![1, 4, 7]);
/// assert_eq!(t.i(Idx::from(..).step_by(4))?.to_vec::<i32>()?, vec![0, 4, 8]);
/// # Ok::<(), lazyjit::Error>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Idx(Kind);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Index(isize),
    Range {
        start: Option<isize>,
        end: End,
        step: usize,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum End {
    Excluded(isize),
    Included(isize),
    Unbounded,
}

impl Idx {
    /// The whole axis (`..`).
    pub fn full() -> Idx {
        Idx::from(..)
    }

    /// This range taking every `step`-th entry from its start (Python's `a:b:step`; step
    /// must be at least 1, checked when the index is used). An integer index becomes the
    /// one-entry range it selects, so the axis is kept.
    ///
    /// ```
    /// use lazyjit::{Idx, IndexOp, LazyTensor};
    /// let t = LazyTensor::arange(0i64, 6, 1)?.reshape((2, 3))?;
    /// let evens = t.i((.., Idx::from(..).step_by(2)))?;
    /// assert_eq!(evens.to_vec::<i64>()?, vec![0, 2, 3, 5]);
    /// assert!(t.i(Idx::from(..).step_by(0)).is_err());
    /// # Ok::<(), lazyjit::Error>(())
    /// ```
    pub fn step_by(self, step: usize) -> Idx {
        match self.0 {
            Kind::Range { start, end, .. } => Idx(Kind::Range { start, end, step }),
            Kind::Index(i) => Idx(Kind::Range {
                start: Some(i),
                end: End::Included(i),
                step,
            }),
        }
    }
}

impl fmt::Display for Idx {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Kind::Index(i) => write!(f, "{i}"),
            Kind::Range { start, end, step } => {
                if let Some(s) = start {
                    write!(f, "{s}")?;
                }
                match end {
                    End::Excluded(e) => write!(f, "..{e}")?,
                    End::Included(e) => write!(f, "..={e}")?,
                    End::Unbounded => f.write_str("..")?,
                }
                if step != 1 {
                    write!(f, " step {step}")?;
                }
                Ok(())
            }
        }
    }
}

/// An integer too large for `isize` is out of range for every axis; `isize::MAX` says so
/// in the error without wrapping around to a valid negative index.
fn saturate<T: TryInto<isize>>(i: T) -> isize {
    i.try_into().unwrap_or(isize::MAX)
}

macro_rules! idx_from_int {
    ($($t:ty),*) => {$(
        impl From<$t> for Idx {
            fn from(i: $t) -> Idx {
                Idx(Kind::Index(saturate(i)))
            }
        }
        impl From<Range<$t>> for Idx {
            fn from(r: Range<$t>) -> Idx {
                Idx(Kind::Range {
                    start: Some(saturate(r.start)),
                    end: End::Excluded(saturate(r.end)),
                    step: 1,
                })
            }
        }
        impl From<RangeFrom<$t>> for Idx {
            fn from(r: RangeFrom<$t>) -> Idx {
                Idx(Kind::Range { start: Some(saturate(r.start)), end: End::Unbounded, step: 1 })
            }
        }
        impl From<RangeTo<$t>> for Idx {
            fn from(r: RangeTo<$t>) -> Idx {
                Idx(Kind::Range { start: None, end: End::Excluded(saturate(r.end)), step: 1 })
            }
        }
        impl From<RangeInclusive<$t>> for Idx {
            fn from(r: RangeInclusive<$t>) -> Idx {
                let (s, e) = r.into_inner();
                Idx(Kind::Range {
                    start: Some(saturate(s)),
                    end: End::Included(saturate(e)),
                    step: 1,
                })
            }
        }
        impl From<RangeToInclusive<$t>> for Idx {
            fn from(r: RangeToInclusive<$t>) -> Idx {
                Idx(Kind::Range { start: None, end: End::Included(saturate(r.end)), step: 1 })
            }
        }
    )*};
}
idx_from_int!(i32, i64, isize, usize, u32);

impl From<RangeFull> for Idx {
    fn from(_: RangeFull) -> Idx {
        Idx(Kind::Range {
            start: None,
            end: End::Unbounded,
            step: 1,
        })
    }
}

/// Indexing with `.i(..)`: one [`Idx`]-convertible value selects on the first axis, a tuple
/// of up to five on the leading axes, a slice or vector of [`Idx`] on as many axes as it
/// has entries.
///
/// ```
/// use lazyjit::{Idx, IndexOp, LazyTensor};
/// let t = LazyTensor::arange(0i32, 24, 1)?.reshape((2, 3, 4))?;
/// assert_eq!(t.i(1)?.shape(), &[3, 4]);                 // t[1]
/// assert_eq!(t.i((.., -1))?.shape(), &[2, 4]);          // t[:, -1]
/// assert_eq!(t.i((0, 1..3, ..=1))?.to_vec::<i32>()?, vec![4, 5, 8, 9]); // t[0, 1:3, :2]
/// assert_eq!(t.i((1, 2, 3))?.item::<i32>()?, 23);       // one element, rank 0
/// let dynamic: Vec<Idx> = vec![Idx::from(1), Idx::full(), Idx::from(-2..)];
/// assert_eq!(t.i(dynamic)?.to_vec::<i32>()?, vec![14, 15, 18, 19, 22, 23]);
/// assert!(t.i((2, 0)).is_err());                        // axis 0 has 2 entries
/// # Ok::<(), lazyjit::Error>(())
/// ```
pub trait IndexOp<I> {
    /// The selection `index` describes (see the [trait docs](IndexOp)).
    fn i(&self, index: I) -> Result<LazyTensor>;
}

impl<A: Into<Idx>> IndexOp<A> for LazyTensor {
    #[track_caller]
    fn i(&self, index: A) -> Result<LazyTensor> {
        self.select("i", &[index.into()])
    }
}

impl IndexOp<&[Idx]> for LazyTensor {
    #[track_caller]
    fn i(&self, index: &[Idx]) -> Result<LazyTensor> {
        self.select("i", index)
    }
}

impl IndexOp<Vec<Idx>> for LazyTensor {
    #[track_caller]
    fn i(&self, index: Vec<Idx>) -> Result<LazyTensor> {
        self.select("i", &index)
    }
}

macro_rules! index_tuple {
    ($($t:ident $v:ident),+) => {
        impl<$($t: Into<Idx>),+> IndexOp<($($t,)+)> for LazyTensor {
            #[track_caller]
            fn i(&self, ($($v,)+): ($($t,)+)) -> Result<LazyTensor> {
                self.select("i", &[$($v.into()),+])
            }
        }
    };
}
index_tuple!(A a);
index_tuple!(A a, B b);
index_tuple!(A a, B b, C c);
index_tuple!(A a, B b, C c, D d);
index_tuple!(A a, B b, C c, D d, E e);

impl LazyTensor {
    /// The element at `index`, one integer per axis (negative counting from the end), as a
    /// rank-0 tensor: ndarray's `get(&[i, j])`, lazy. An index of the wrong length or out of
    /// range is an error naming the axis.
    ///
    /// ```
    /// use lazyjit::LazyTensor;
    /// let t = LazyTensor::from_vec(vec![1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0], (2, 3))?;
    /// assert_eq!(t.get(&[1, -1])?.item::<f32>()?, 6.0);
    /// assert!(t.get(&[1]).is_err());     // one index per axis
    /// assert!(t.get(&[0, 3]).is_err());  // axis 1 has 3 entries
    /// # Ok::<(), lazyjit::Error>(())
    /// ```
    #[track_caller]
    pub fn get<I>(&self, index: &[I]) -> Result<LazyTensor>
    where
        I: Copy + TryInto<isize>,
    {
        if index.len() != self.rank() {
            return Err(Error::op(
                "get",
                format!(
                    "expects one index per axis, got {} for shape {:?}",
                    index.len(),
                    self.shape()
                ),
                SourceLoc::caller(),
            ));
        }
        let idx: Vec<Idx> = index
            .iter()
            .map(|&i| Idx(Kind::Index(saturate(i))))
            .collect();
        self.select("get", &idx)
    }

    /// Applies `index` to the leading axes: one `slice` (skipped when it selects
    /// everything), then a `reshape` dropping the integer-indexed axes.
    #[track_caller]
    fn select(&self, op: &'static str, index: &[Idx]) -> Result<LazyTensor> {
        let loc = SourceLoc::caller();
        let shape = self.shape();
        if index.len() > shape.len() {
            return Err(Error::op(
                op,
                format!(
                    "{} indices for a rank-{} tensor of shape {shape:?}",
                    index.len(),
                    shape.len()
                ),
                loc,
            ));
        }
        let rank = shape.len();
        let (mut starts, mut stops, mut steps) = (vec![0; rank], shape.to_vec(), vec![1; rank]);
        let mut out = Vec::with_capacity(rank);
        for (axis, ix) in index.iter().enumerate() {
            let (start, stop, step, keep) = resolve(op, *ix, axis, shape, loc)?;
            (starts[axis], stops[axis], steps[axis]) = (start, stop, step);
            if keep {
                out.push((stop - start).div_ceil(step));
            }
        }
        out.extend_from_slice(&shape[index.len()..]);
        let whole =
            starts.iter().all(|&s| s == 0) && stops == shape && steps.iter().all(|&s| s == 1);
        let sliced = if whole {
            self.clone()
        } else {
            self.slice(&starts, &stops, &steps)?
        };
        sliced.reshape(out)
    }
}

/// `(start, stop, step, keeps the axis)` of `ix` on `axis`, checked against its size.
fn resolve(
    op: &'static str,
    ix: Idx,
    axis: usize,
    shape: &[usize],
    loc: SourceLoc,
) -> Result<(usize, usize, usize, bool)> {
    let dim = shape[axis];
    // Shapes are within the size limit (2^56 elements), so dims fit in isize.
    let d = dim as isize;
    let from_end = |v: isize| if v < 0 { v.saturating_add(d) } else { v };
    match ix.0 {
        Kind::Index(i) => {
            let r = from_end(i);
            if (0..d).contains(&r) {
                Ok((r as usize, r as usize + 1, 1, false))
            } else {
                let expected = if dim == 0 {
                    "the axis is empty".to_string()
                } else {
                    format!("expected {}..={}", -d, d - 1)
                };
                Err(Error::op(
                    op,
                    format!("index {i} is out of range for axis {axis} of size {dim} in shape {shape:?} ({expected})"),
                    loc,
                ))
            }
        }
        Kind::Range { start, end, step } => {
            if step == 0 {
                return Err(Error::op(
                    op,
                    format!("range {ix} on axis {axis} of shape {shape:?} has step 0 (expected a step of at least 1)"),
                    loc,
                ));
            }
            let s = start.map_or(0, from_end);
            let e = match end {
                End::Excluded(e) => from_end(e),
                End::Included(e) => from_end(e).saturating_add(1),
                End::Unbounded => d,
            };
            if 0 <= s && s <= e && e <= d {
                Ok((s as usize, e as usize, step, true))
            } else {
                Err(Error::op(
                    op,
                    format!(
                        "range {ix} is out of range for axis {axis} of size {dim} in shape {shape:?} (expected start <= end <= {dim} once negative bounds count from the end)"
                    ),
                    loc,
                ))
            }
        }
    }
}
