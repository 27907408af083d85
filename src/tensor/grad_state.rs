//! A tensor's autograd state: whether it needs a gradient, its accumulated gradient, and
//! [`LazyTensor::assign`] / [`LazyTensor::detach`], the two ways to get a value without
//! gradient history.

use super::provenance::grad_enabled;
use super::LazyTensor;
use crate::error::{Error, Result, SourceLoc};
use std::sync::atomic::Ordering;

impl LazyTensor {
    /// Whether a backward pass computes a gradient for this tensor: a leaf marked with
    /// [`LazyTensor::set_requires_grad`], or a tensor computed from one while gradients were
    /// tracked (not inside [`crate::autograd::no_grad`]).
    pub fn requires_grad(&self) -> bool {
        self.inner.provenance.is_some() || self.inner.requires_grad.load(Ordering::Relaxed)
    }

    /// Whether the tensor is a leaf of the autograd graph: it was not computed by a tracked
    /// op (created from data, a constant, [`LazyTensor::detach`], or computed under
    /// `no_grad`). Backward passes store gradients only in leaves ([`LazyTensor::grad`]).
    pub fn is_leaf(&self) -> bool {
        self.inner.provenance.is_none()
    }

    /// Marks a leaf tensor as needing a gradient (`torch`'s `requires_grad_`): ops on it
    /// record provenance, and [`LazyTensor::backward`] accumulates its gradient into
    /// [`LazyTensor::grad`]. Only float leaves can require a gradient.
    ///
    /// ```
    /// use lazyjit::LazyTensor;
    /// let w = LazyTensor::from_vec(vec![1.0f32, 2.0], &[2])?;
    /// w.set_requires_grad(true)?;
    /// let y = w.mul(&w)?.sum_all()?; // y = Σ w²
    /// y.backward()?;
    /// assert_eq!(w.grad().unwrap().to_vec::<f32>()?, vec![2.0, 4.0]);
    /// assert!(LazyTensor::from_vec(vec![1i64], &[1])?.set_requires_grad(true).is_err());
    /// # Ok::<(), lazyjit::Error>(())
    /// ```
    #[track_caller]
    pub fn set_requires_grad(&self, on: bool) -> Result<()> {
        let loc = SourceLoc::caller();
        if !self.is_leaf() {
            return Err(Error::op(
                "set_requires_grad",
                format!(
                    "{} was computed by a tracked op and always requires a gradient; only leaves can be marked (use detach() for a leaf copy)",
                    self.ty()
                ),
                loc,
            ));
        }
        if on && !self.dtype().is_float() {
            return Err(Error::op(
                "set_requires_grad",
                format!(
                    "only float tensors can require gradients, this one is {}",
                    self.ty()
                ),
                loc,
            ));
        }
        self.inner.requires_grad.store(on, Ordering::Relaxed);
        Ok(())
    }

    /// The gradient accumulated in this leaf by backward passes (`None` before the first, or
    /// after [`LazyTensor::zero_grad`]). It is a lazy tensor like any other: reading it
    /// computes it, and an optimizer step built from it lands in the same graph.
    pub fn grad(&self) -> Option<LazyTensor> {
        self.inner.grad.lock().clone()
    }

    /// Replaces the accumulated gradient (`None` clears it).
    #[track_caller]
    pub fn set_grad(&self, grad: Option<LazyTensor>) -> Result<()> {
        if let Some(g) = &grad {
            if g.ty() != self.ty() {
                return Err(Error::op(
                    "set_grad",
                    format!("the gradient is {} but the tensor is {}", g.ty(), self.ty()),
                    SourceLoc::caller(),
                ));
            }
        }
        *self.inner.grad.lock() = grad;
        Ok(())
    }

    /// Clears the accumulated gradient (PyTorch's `zero_grad(set_to_none=True)`): the next
    /// backward pass starts from nothing, and no zeros are computed or stored.
    pub fn zero_grad(&self) {
        *self.inner.grad.lock() = None;
    }

    /// A new leaf sharing this tensor's value (pending IR or data) without its gradient
    /// history: gradients do not flow through it, and it does not require one.
    ///
    /// ```
    /// use lazyjit::LazyTensor;
    /// let w = LazyTensor::from_vec(vec![3.0f32], &[1])?;
    /// w.set_requires_grad(true)?;
    /// let y = w.mul(&w.detach())?; // d/dw (w · const) = const
    /// y.backward_with(&LazyTensor::ones(&[1], lazyjit::DType::F32)?)?;
    /// assert_eq!(w.grad().unwrap().to_vec::<f32>()?, vec![3.0]);
    /// # Ok::<(), lazyjit::Error>(())
    /// ```
    pub fn detach(&self) -> LazyTensor {
        LazyTensor::from_node(self.node())
    }

    /// Gives this tensor the value of `value` in place (same dtype and shape): every handle
    /// of this tensor sees the new value, which stays lazy until the next sync. This is how
    /// optimizers update parameters: `p.assign(&p_new)` keeps `p`'s identity, its
    /// `requires_grad` flag and its gradient, and when nothing else holds `p`'s old buffer
    /// the executor may compute the new value into it (buffer donation).
    ///
    /// Only leaves can be assigned, and with gradients tracked the value must not carry
    /// gradient history (assign inside [`crate::autograd::no_grad`], as optimizers do).
    /// Tensors recorded from the old value keep the old value; a backward pass that needs a
    /// value assigned since it was saved fails with an error instead of using the new one.
    ///
    /// ```
    /// use lazyjit::LazyTensor;
    /// let p = LazyTensor::from_vec(vec![1.0f32, 2.0], &[2])?;
    /// let q = p.clone(); // another handle of the same tensor
    /// p.assign(&p.mul_scalar(10.0)?)?;
    /// assert_eq!(q.to_vec::<f32>()?, vec![10.0, 20.0]);
    /// # Ok::<(), lazyjit::Error>(())
    /// ```
    #[track_caller]
    pub fn assign(&self, value: &LazyTensor) -> Result<()> {
        let loc = SourceLoc::caller();
        if value.ty() != self.ty() {
            return Err(Error::op(
                "assign",
                format!(
                    "the value is {} but the tensor is {}: assign keeps the tensor's dtype and shape",
                    value.ty(),
                    self.ty()
                ),
                loc,
            ));
        }
        if !self.is_leaf() {
            return Err(Error::op(
                "assign",
                format!(
                    "the tensor ({}) was computed by a tracked op; only leaves can be assigned",
                    self.ty()
                ),
                loc,
            ));
        }
        if value.inner.provenance.is_some() && grad_enabled() {
            return Err(Error::op(
                "assign",
                format!(
                    "the value ({}) has gradient history, which assign would drop; assign inside autograd::no_grad or assign value.detach()",
                    value.ty()
                ),
                loc,
            ));
        }
        if std::sync::Arc::ptr_eq(&self.inner, &value.inner) {
            return Ok(());
        }
        self.set_node(value.node());
        self.inner.version.fetch_add(1, Ordering::AcqRel);
        Ok(())
    }
}
