//! Reverse-mode automatic differentiation on lazy tensors.
//!
//! Mark leaves with [`LazyTensor::set_requires_grad`]; ops on them record *provenance*
//! beside each result (the op and the input tensors it saved, `src/tensor/provenance.rs`),
//! not in the lazy IR, so a sync in the middle of a step (`loss.item()` for logging) does
//! not break the backward pass. [`LazyTensor::backward`] walks that provenance in reverse
//! topological order and applies one vector-Jacobian rule per op of the program format
//! (`vjp.rs`, one exhaustive `match`); composite ops get their gradients from the
//! primitives they record. Gradients are lazy tensors: forward pass, backward pass and
//! optimizer update land in one graph, compiled once per step shape.
//!
//! ```
//! use lazyjit::{autograd, LazyTensor};
//! let w = LazyTensor::from_vec(vec![0.5f32, -1.0, 2.0], &[3])?;
//! w.set_requires_grad(true)?;
//! let x = LazyTensor::from_vec(vec![1.0f32, 2.0, 3.0], &[3])?;
//! let loss = w.mul(&x)?.sum_all()?.square()?; // (w·x)²
//! println!("loss {}", loss.item::<f32>()?);    // a sync mid-step is fine
//! loss.backward()?;
//! // d/dw (w·x)² = 2 (w·x) x, with w·x = 4.5
//! assert_eq!(w.grad().unwrap().to_vec::<f32>()?, vec![9.0, 18.0, 27.0]);
//! // An update without gradient tracking, in place.
//! autograd::no_grad(|| w.assign(&w.sub(&w.grad().unwrap().mul_scalar(0.1)?)?))?;
//! w.zero_grad();
//! # Ok::<(), lazyjit::Error>(())
//! ```
//!
//! Gradients flow only into float tensors. Backward passes accumulate into leaves (call
//! [`LazyTensor::zero_grad`] between steps) and release the saved inputs of the graph
//! they walked unless asked to retain it. How ties split gradients is documented on
//! `vjp`: `maximum`/`minimum` halve it between equal operands, `reduce_max`/`reduce_min`
//! share it equally between all elements attaining the extreme.

mod backward;
mod vjp;

use crate::error::{Error, Result, SourceLoc};
use crate::tensor::provenance::{grad_enabled, set_grad_enabled};
use crate::tensor::LazyTensor;
use backward::Sink;

/// Runs `f` with gradient tracking off on this thread: ops record no provenance (their
/// results do not require gradients). Optimizer updates and evaluation run this way.
///
/// ```
/// use lazyjit::{autograd, LazyTensor};
/// let w = LazyTensor::from_vec(vec![1.0f32], &[1])?;
/// w.set_requires_grad(true)?;
/// let y = autograd::no_grad(|| w.mul_scalar(2.0))?;
/// assert!(!y.requires_grad());
/// assert!(w.mul_scalar(2.0)?.requires_grad());
/// # Ok::<(), lazyjit::Error>(())
/// ```
pub fn no_grad<R>(f: impl FnOnce() -> R) -> R {
    let _guard = NoGradGuard::new();
    f()
}

/// Gradient tracking off on this thread until the guard is dropped (the RAII form of
/// [`no_grad`]).
pub struct NoGradGuard {
    previous: bool,
}

impl NoGradGuard {
    /// Turns gradient tracking off; dropping the guard restores the previous mode.
    #[allow(clippy::new_without_default)]
    pub fn new() -> NoGradGuard {
        NoGradGuard {
            previous: set_grad_enabled(false),
        }
    }
}

impl Drop for NoGradGuard {
    fn drop(&mut self) {
        set_grad_enabled(self.previous);
    }
}

/// Whether ops on this thread record gradient provenance now.
pub fn is_grad_enabled() -> bool {
    grad_enabled()
}

/// The gradients of `output` with respect to `inputs` (any tensors of its graph, leaves
/// or not), given the gradient `grad_output` of `output` (`None`: ones, for a one-element
/// output). Unlike [`LazyTensor::backward`] it does not touch any leaf's
/// [`LazyTensor::grad`]; an input the output does not depend on gets `None`.
///
/// ```
/// use lazyjit::{autograd, LazyTensor};
/// let x = LazyTensor::from_vec(vec![2.0f64], &[1])?;
/// x.set_requires_grad(true)?;
/// let y = x.mul(&x)?.mul(&x)?; // x³
/// let g = autograd::grad(&y, &[&x], None, false)?;
/// assert_eq!(g[0].as_ref().unwrap().to_vec::<f64>()?, vec![12.0]);
/// assert!(x.grad().is_none());
/// # Ok::<(), lazyjit::Error>(())
/// ```
#[track_caller]
pub fn grad(
    output: &LazyTensor,
    inputs: &[&LazyTensor],
    grad_output: Option<&LazyTensor>,
    retain_graph: bool,
) -> Result<Vec<Option<LazyTensor>>> {
    let loc = SourceLoc::caller();
    let seed = seed_for(output, grad_output, loc)?;
    let mut out = vec![None; inputs.len()];
    backward::run(
        output,
        seed,
        retain_graph,
        Sink::Collect(inputs, &mut out),
        loc,
    )?;
    Ok(out)
}

fn seed_for(
    output: &LazyTensor,
    grad_output: Option<&LazyTensor>,
    loc: SourceLoc,
) -> Result<LazyTensor> {
    match grad_output {
        Some(g) => Ok(g.clone()),
        None if output.numel() == 1 => LazyTensor::ones(output.shape(), output.dtype()),
        None => Err(Error::op(
            "backward",
            format!(
                "the tensor is {}: an implicit gradient (ones) needs a one-element tensor; pass the output gradient explicitly",
                output.ty()
            ),
            loc,
        )),
    }
}

impl LazyTensor {
    /// Backpropagates from this one-element tensor (a loss): accumulates `d self / d leaf`
    /// into [`LazyTensor::grad`] of every leaf that requires a gradient, then releases the
    /// saved inputs of the graph (a second backward through it is an error).
    #[track_caller]
    pub fn backward(&self) -> Result<()> {
        self.backward_with_options(None, false)
    }

    /// [`LazyTensor::backward`] from a tensor of any shape, with `grad` (the same type) as
    /// its gradient.
    #[track_caller]
    pub fn backward_with(&self, grad: &LazyTensor) -> Result<()> {
        self.backward_with_options(Some(grad), false)
    }

    /// [`LazyTensor::backward`] with an explicit output gradient (`None`: ones, for a
    /// one-element tensor) and the choice to keep the graph for another backward pass.
    #[track_caller]
    pub fn backward_with_options(
        &self,
        grad: Option<&LazyTensor>,
        retain_graph: bool,
    ) -> Result<()> {
        let loc = SourceLoc::caller();
        let seed = seed_for(self, grad, loc)?;
        backward::run(self, seed, retain_graph, Sink::Leaves, loc)
    }
}
