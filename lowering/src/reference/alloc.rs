//! Fallible allocation: the only way the reference interpreter obtains memory for tensor data.
//!
//! # The rule
//!
//! Every buffer whose size depends on an element count — op results, copies of operands
//! (from a [`Tensor`](crate::tensor::Tensor) into a value, or into a contiguous layout), and
//! temporaries such as the rows of a reduction — is reserved here with
//! [`Vec::try_reserve_exact`] and then filled in place. A request the allocator refuses
//! becomes an [`AllocFailure`], which [`super::eval_unchecked`] reports as
//! [`Error::Data`](crate::error::Error::Data) naming the op, its result type and the byte count.
//! The one buffer obtained elsewhere, the tensor a value is copied into at the end
//! ([`super::Value::to_tensor`]), comes from the equally fallible
//! [`Tensor::try_zeros`](crate::tensor::Tensor::try_zeros).
//!
//! ndarray's own allocating methods (`mapv`, `to_owned`, `clone`, `Zip::map_collect`,
//! `from_elem`, `from_shape_fn`, `concatenate`, `dot`, the arithmetic operators) abort the
//! process when the allocator fails, so the interpreter does not call them on tensor data:
//! kernels build results with [`collect`], [`full`] or [`copy`], or write into an array from
//! [`full`] (`Zip::from(&mut out)...for_each`, `assign`). Small allocations whose size is bounded
//! by the program rather than by the data (shapes, index tuples, per-op bookkeeping) are not
//! covered.

use crate::error::Error;
use crate::tensor::Element;
use crate::types::DType;
use ndarray::{ArrayD, ArrayViewD, IxDyn};
use std::collections::TryReserveError;
use std::fmt;

/// A buffer for tensor data that could not be allocated.
#[derive(Debug)]
pub(super) struct AllocFailure {
    /// What the buffer was for: "the result", "a contiguous copy of the lhs", ...
    pub what: &'static str,
    pub dtype: DType,
    /// Element count; `None` if it overflows `usize`.
    pub elems: Option<usize>,
    /// Why the allocator refused.
    pub reason: String,
}

impl fmt::Display for AllocFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (what, dt) = (self.what, self.dtype);
        match self.elems {
            Some(n) => match n.checked_mul(dt.size_bytes()) {
                Some(b) => write!(
                    f,
                    "cannot allocate {what}: {n} {dt} elements ({b} bytes): {}",
                    self.reason
                ),
                None => write!(
                    f,
                    "cannot allocate {what}: {n} {dt} elements (more than {} bytes): {}",
                    usize::MAX,
                    self.reason
                ),
            },
            None => write!(
                f,
                "cannot allocate {what}: more than {} {dt} elements",
                usize::MAX
            ),
        }
    }
}

/// Why a kernel failed.
#[derive(Debug)]
pub(super) enum Fail {
    /// A broken internal invariant (unreachable for verified programs).
    Bug(String),
    /// Memory for tensor data could not be allocated.
    Alloc(AllocFailure),
    /// A complete error (an index out of range).
    Error(Error),
}

impl From<String> for Fail {
    fn from(m: String) -> Fail {
        Fail::Bug(m)
    }
}

impl From<&str> for Fail {
    fn from(m: &str) -> Fail {
        Fail::Bug(m.to_string())
    }
}

impl From<AllocFailure> for Fail {
    fn from(a: AllocFailure) -> Fail {
        Fail::Alloc(a)
    }
}

impl From<Error> for Fail {
    fn from(e: Error) -> Fail {
        Fail::Error(e)
    }
}

/// The element count of `dims`, or `None` if it overflows.
pub(super) fn numel(dims: &[usize]) -> Option<usize> {
    dims.iter().try_fold(1usize, |acc, &d| acc.checked_mul(d))
}

fn failure<T: Element>(
    what: &'static str,
    elems: Option<usize>,
    e: TryReserveError,
) -> AllocFailure {
    AllocFailure {
        what,
        dtype: T::DTYPE,
        elems,
        reason: e.to_string(),
    }
}

/// An empty vector with room for exactly `n` elements (`what` names the buffer in errors).
pub(super) fn vec<T: Element>(n: usize, what: &'static str) -> Result<Vec<T>, AllocFailure> {
    let mut v = Vec::new();
    v.try_reserve_exact(n)
        .map_err(|e| failure::<T>(what, Some(n), e))?;
    Ok(v)
}

/// The first `n` items of `items` in a vector allocated for exactly `n` elements; a bug if
/// there are fewer.
pub(super) fn collect_vec<T: Element>(
    n: usize,
    items: impl IntoIterator<Item = T>,
    what: &'static str,
) -> Result<Vec<T>, Fail> {
    let mut v = vec(n, what)?;
    // `take(n)` never yields more than the reserved capacity, so `extend` never reallocates.
    v.extend(items.into_iter().take(n));
    if v.len() != n {
        return Err(Fail::Bug(format!(
            "{what}: expected {n} elements, got {}",
            v.len()
        )));
    }
    Ok(v)
}

/// The elements of `items` (row-major) as an array of shape `dims`.
pub(super) fn collect<T: Element>(
    dims: &[usize],
    items: impl IntoIterator<Item = T>,
    what: &'static str,
) -> Result<ArrayD<T>, Fail> {
    let n = numel(dims).ok_or_else(|| AllocFailure {
        what,
        dtype: T::DTYPE,
        elems: None,
        reason: String::new(),
    })?;
    let v = collect_vec(n, items, what)?;
    ArrayD::from_shape_vec(IxDyn(dims), v)
        .map_err(|e| Fail::Bug(format!("{what}: building shape {dims:?}: {e}")))
}

/// An array of shape `dims` with every element `x`: the output buffer of kernels that write
/// their result in place.
pub(super) fn full<T: Element>(
    dims: &[usize],
    x: T,
    what: &'static str,
) -> Result<ArrayD<T>, Fail> {
    collect(dims, std::iter::repeat(x), what)
}

/// A row-major copy of `a` (any strides, broadcast views included).
pub(super) fn copy<T: Element>(
    a: ArrayViewD<'_, T>,
    what: &'static str,
) -> Result<ArrayD<T>, Fail> {
    collect(a.shape(), a.iter().copied(), what)
}

/// `f` applied to every element of `a`, as a row-major array of `a`'s shape.
pub(super) fn map<A: Copy, R: Element>(
    a: ArrayViewD<'_, A>,
    mut f: impl FnMut(A) -> R,
    what: &'static str,
) -> Result<ArrayD<R>, Fail> {
    collect(a.shape(), a.iter().map(|&x| f(x)), what)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::{arr0, arr2};

    /// 2^48 elements: at least 2^48 bytes, more than a 48-bit (4-level paging) address space
    /// gives a process, so the request fails whatever the overcommit policy.
    const HUGE: usize = 1 << 48;

    fn expect_alloc<T>(r: Result<T, Fail>, what: &str) {
        match r {
            Err(Fail::Alloc(a)) => {
                assert_eq!(a.what, what);
                let msg = a.to_string();
                assert!(msg.contains(&HUGE.to_string()), "{msg}");
            }
            Err(other) => panic!("expected an allocation failure, got {other:?}"),
            Ok(_) => panic!("allocating {HUGE} elements succeeded"),
        }
    }

    #[test]
    fn huge_requests_fail_without_aborting() {
        let one = arr0(1.0f32).into_dyn();
        let big = one.broadcast(IxDyn(&[HUGE])).unwrap();
        expect_alloc(copy(big.view(), "the result"), "the result");
        expect_alloc(map(big.view(), |x| x > 0.0, "the result"), "the result");
        expect_alloc(full(&[HUGE], 0i64, "the result"), "the result");
        expect_alloc(collect_vec::<f64>(HUGE, [], "rows"), "rows");
        assert!(vec::<i32>(HUGE, "x").is_err());
    }

    #[test]
    fn overflowing_counts_fail() {
        let r = full(&[usize::MAX, 2], 0.0f32, "the result");
        match r {
            Err(Fail::Alloc(a)) => assert!(a.elems.is_none(), "{a}"),
            other => panic!("{other:?}"),
        }
        match vec::<f64>(usize::MAX / 4, "x") {
            Err(a) => assert!(a.to_string().contains("more than"), "{a}"),
            Ok(_) => panic!("allocated"),
        }
    }

    #[test]
    fn copies_are_row_major() {
        let a = arr2(&[[1, 2, 3], [4, 5, 6]]).into_dyn();
        let t = copy(a.view().reversed_axes(), "t").unwrap();
        assert_eq!(t, arr2(&[[1, 4], [2, 5], [3, 6]]).into_dyn());
        assert!(t.is_standard_layout());
        assert!(collect_vec(3, [1i32, 2], "short").is_err());
    }
}
