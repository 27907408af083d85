//! What a compiled function accepts as an input: lazy tensors, lowering-crate tensors and
//! ndarray arrays ([`FnArg`]), each resolved to device data before the call.

use crate::error::{Error, Result, SourceLoc};
use crate::tensor::{LazyTensor, NativeType};
use lazyjit_lowering::Tensor;
use ndarray::{ArrayBase, Data, Dimension};
use std::sync::Arc;

/// A value a [`crate::CompiledFn`] accepts as an input: a [`LazyTensor`] (computed first
/// if pending; returned as itself when the function returns that input), a
/// lowering-crate [`Tensor`] (borrowed, no copy), an ndarray array of a [`NativeType`]
/// element (copied into device data), or a reference to any of these.
///
/// Mix kinds in one call with `&dyn FnArg`:
///
/// ```
/// use lazyjit::{FnArg, LazyTensor};
/// let f = lazyjit::compile(|x: &[LazyTensor]| Ok(vec![x[0].add(&x[1])?]));
/// let a = LazyTensor::from_vec(vec![1.0f32, 2.0], &[2])?;
/// let b = ndarray::array![10.0f32, 20.0];
/// let y = f.call(&[&a as &dyn FnArg, &b])?;
/// assert_eq!(y[0].to_vec::<f32>()?, vec![11.0, 22.0]);
/// # Ok::<(), lazyjit::Error>(())
/// ```
pub trait FnArg: sealed::Sealed {
    /// The input as device data (internal: the type is opaque).
    #[doc(hidden)]
    fn resolve(&self, loc: SourceLoc) -> Result<ArgValue<'_>>;

    /// The input as a lazy tensor (itself, pending or not, when it is one), for a call
    /// traced through.
    #[doc(hidden)]
    fn to_lazy(&self, loc: SourceLoc) -> Result<LazyTensor> {
        Ok(self.resolve(loc)?.to_lazy())
    }

    /// The input itself when it is a lent [`Tensor`] (the fast path of a call).
    #[doc(hidden)]
    #[inline]
    fn borrowed(&self) -> Option<&Tensor> {
        None
    }
}

/// An input resolved to device data (opaque; see [`FnArg`]).
#[doc(hidden)]
pub struct ArgValue<'a> {
    pub(crate) data: ArgData<'a>,
    /// The tensor the value came from, returned as itself when an output is this input.
    pub(crate) lazy: Option<&'a LazyTensor>,
}

// Small (two words), so resolving the inputs of a call moves little: boxed when owned.
pub(crate) enum ArgData<'a> {
    Borrowed(&'a Tensor),
    Shared(Arc<Tensor>),
    Owned(Box<Tensor>),
}

impl ArgValue<'_> {
    pub(crate) fn tensor(&self) -> &Tensor {
        match &self.data {
            ArgData::Borrowed(t) => t,
            ArgData::Shared(t) => t,
            ArgData::Owned(t) => t,
        }
    }

    /// The value as a shared buffer (a copy unless it already is one).
    pub(crate) fn shared(&self) -> Arc<Tensor> {
        match &self.data {
            ArgData::Shared(t) => t.clone(),
            ArgData::Borrowed(t) => Arc::new((*t).clone()),
            ArgData::Owned(t) => Arc::new((**t).clone()),
        }
    }

    /// The value as a lazy tensor: the caller's own tensor when it passed one.
    pub(crate) fn to_lazy(&self) -> LazyTensor {
        match self.lazy {
            Some(t) => t.clone(),
            None => LazyTensor::from_shared(self.shared()),
        }
    }
}

mod sealed {
    pub trait Sealed {}
    impl Sealed for crate::LazyTensor {}
    impl Sealed for lazyjit_lowering::Tensor {}
    impl<S: ndarray::Data, D: ndarray::Dimension> Sealed for ndarray::ArrayBase<S, D> {}
    impl<T: Sealed + ?Sized> Sealed for &T {}
}

impl FnArg for LazyTensor {
    fn to_lazy(&self, _loc: SourceLoc) -> Result<LazyTensor> {
        Ok(self.clone())
    }

    fn resolve(&self, loc: SourceLoc) -> Result<ArgValue<'_>> {
        let node = self.ir_node();
        let data = match node.data() {
            Some(d) => d.clone(),
            None => {
                crate::tensor::sync_at(&[self], loc)?;
                self.ir_node().data().cloned().ok_or_else(|| {
                    Error::data(
                        "call",
                        "an input has no data after sync (please report this)",
                        loc,
                    )
                })?
            }
        };
        Ok(ArgValue {
            data: ArgData::Shared(data),
            lazy: Some(self),
        })
    }
}

impl FnArg for Tensor {
    #[inline]
    fn borrowed(&self) -> Option<&Tensor> {
        Some(self)
    }

    fn resolve(&self, _loc: SourceLoc) -> Result<ArgValue<'_>> {
        Ok(ArgValue {
            data: ArgData::Borrowed(self),
            lazy: None,
        })
    }
}

impl<S, D> FnArg for ArrayBase<S, D>
where
    S: Data,
    S::Elem: NativeType,
    D: Dimension,
{
    fn resolve(&self, loc: SourceLoc) -> Result<ArgValue<'_>> {
        let shape = self.shape().to_vec();
        let t = match self.as_slice() {
            Some(s) => Tensor::from_slice(s, shape),
            None => Tensor::from_vec(self.iter().copied().collect(), shape),
        }
        .map_err(|e| Error::data("call", e.to_string(), loc))?;
        Ok(ArgValue {
            data: ArgData::Owned(Box::new(t)),
            lazy: None,
        })
    }
}

impl<T: FnArg + ?Sized> FnArg for &T {
    fn resolve(&self, loc: SourceLoc) -> Result<ArgValue<'_>> {
        (**self).resolve(loc)
    }

    #[inline]
    fn borrowed(&self) -> Option<&Tensor> {
        (**self).borrowed()
    }

    fn to_lazy(&self, loc: SourceLoc) -> Result<LazyTensor> {
        (**self).to_lazy(loc)
    }
}
