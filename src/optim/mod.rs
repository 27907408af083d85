//! Optimizers and learning-rate schedules, traced into the training step.
//!
//! An optimizer's [`Optimizer::step`] records the update of every parameter that has a
//! gradient as lazy ops, under [`crate::autograd::no_grad`], and writes it in place with
//! [`LazyTensor::assign`] (the parameter keeps its identity; the executor may compute the
//! new value into the old buffer). Its state (momentum buffers, Adam's moments) is lazy
//! tensors replaced each step. Nothing runs until [`crate::mark_step`]: forward, backward
//! and update are one graph.
//!
//! Values that change between steps — the learning rate, Adam's bias corrections
//! `1 - β^t` — enter the graph as rank-0 **data** tensors, never as constants, so changing
//! the learning rate ([`StepLr`]) or counting steps does not compile a new graph. State
//! starts as zero-filled data tensors (not constants), so the first step's graph is the
//! same as every later one's.
//!
//! | module | what it holds |
//! |---|---|
//! | `sgd` | [`Sgd`]: momentum, Nesterov, weight decay |
//! | `adam` | [`Adam`] and [`AdamW`] |
//! | `adadelta` | [`Adadelta`] |
//! | `scheduler` | [`StepLr`] |
//!
//! [`LazyTensor::assign`]: crate::LazyTensor::assign

mod adadelta;
mod adam;
mod scheduler;
mod sgd;

pub use adadelta::{Adadelta, AdadeltaConfig};
pub use adam::{Adam, AdamConfig, AdamW};
pub use scheduler::StepLr;
pub use sgd::{Sgd, SgdConfig};

use crate::error::{Error, Result, SourceLoc};
use crate::nn::data_scalar;
use crate::tensor::LazyTensor;
use lazyjit_lowering::DType;

/// An optimizer over a fixed list of parameters.
pub trait Optimizer {
    /// Records one update of every parameter whose gradient is set (parameters without a
    /// gradient are skipped, as in PyTorch) and assigns it in place. Lazy: the update runs
    /// at the next sync, normally [`crate::mark_step`].
    fn step(&mut self) -> Result<()>;

    /// The parameters, in the order given at construction.
    fn parameters(&self) -> &[LazyTensor];

    /// Clears the gradient of every parameter (PyTorch's `zero_grad(set_to_none=True)`).
    fn zero_grad(&self) {
        for p in self.parameters() {
            p.zero_grad();
        }
    }

    /// The learning rate of the next step.
    fn lr(&self) -> f64;

    /// Sets the learning rate of the next steps. It enters the graph as data: a new value
    /// does not recompile.
    fn set_lr(&mut self, lr: f64);
}

/// Checks the parameters given to an optimizer: float leaves, each once.
fn check_params(
    op: &'static str,
    params: Vec<LazyTensor>,
    loc: SourceLoc,
) -> Result<Vec<LazyTensor>> {
    for (i, p) in params.iter().enumerate() {
        if !p.dtype().is_float() || !p.is_leaf() {
            return Err(Error::op(
                op,
                format!(
                    "parameter {i} ({}) must be a float leaf tensor (not computed by a tracked op)",
                    p.ty()
                ),
                loc,
            ));
        }
        if params[..i].iter().any(|q| q.id() == p.id()) {
            return Err(Error::op(
                op,
                format!("parameter {i} ({}) appears more than once", p.ty()),
                loc,
            ));
        }
    }
    Ok(params)
}

/// Checks that a hyperparameter is finite and within `[lo, hi]` (or `[lo, hi)`).
fn check_range(
    op: &'static str,
    name: &str,
    v: f64,
    lo: f64,
    hi: f64,
    hi_open: bool,
    loc: SourceLoc,
) -> Result<()> {
    let ok = v.is_finite() && v >= lo && if hi_open { v < hi } else { v <= hi };
    if ok {
        Ok(())
    } else {
        let close = if hi_open { ')' } else { ']' };
        Err(Error::op(
            op,
            format!("{name} must be in [{lo}, {hi}{close}, got {v}"),
            loc,
        ))
    }
}

/// Checks hyperparameters that must be finite and non-negative (`[0, ∞)`).
fn check_non_negative(op: &'static str, values: &[(&str, f64)], loc: SourceLoc) -> Result<()> {
    for &(name, v) in values {
        check_range(op, name, v, 0.0, f64::INFINITY, true, loc)?;
    }
    Ok(())
}

/// A zero-filled data tensor of `p`'s type: the initial optimizer state. Data rather than a
/// constant, so the first step records the same graph as the later ones.
fn zeros_like_data(p: &LazyTensor) -> Result<LazyTensor> {
    match p.dtype() {
        DType::F64 => LazyTensor::from_vec(vec![0.0f64; p.numel()], p.shape()),
        _ => LazyTensor::from_vec(vec![0.0f32; p.numel()], p.shape()),
    }
}

/// One step's value of a per-step hyperparameter as rank-0 data tensors, made at most once
/// per float dtype.
struct StepValue {
    value: f64,
    f32: Option<LazyTensor>,
    f64: Option<LazyTensor>,
}

impl StepValue {
    fn new(value: f64) -> StepValue {
        StepValue {
            value,
            f32: None,
            f64: None,
        }
    }

    fn get(&mut self, dtype: DType) -> Result<&LazyTensor> {
        let slot = if dtype == DType::F64 {
            &mut self.f64
        } else {
            &mut self.f32
        };
        if slot.is_none() {
            *slot = Some(data_scalar(dtype, self.value)?);
        }
        Ok(slot.as_ref().expect("just set"))
    }
}
