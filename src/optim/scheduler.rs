//! [`StepLr`].

use super::Optimizer;
use crate::error::{Error, Result, SourceLoc};

/// Decays the learning rate by `gamma` every `step_size` epochs (PyTorch's
/// `torch.optim.lr_scheduler.StepLR`): after [`StepLr::step`] has been called `epoch`
/// times, the optimizer's learning rate is `lr₀ · γ^⌊epoch / step_size⌋`, with `lr₀` the
/// optimizer's learning rate when the scheduler was made. The learning rate is data in the
/// graph, so a new value does not recompile the training step.
///
/// ```
/// use lazyjit::optim::{Adadelta, AdadeltaConfig, Optimizer, StepLr};
/// use lazyjit::LazyTensor;
/// let w = LazyTensor::from_vec(vec![1.0f32], &[1])?;
/// w.set_requires_grad(true)?;
/// let mut opt = Adadelta::new(vec![w], AdadeltaConfig { lr: 1.0, ..Default::default() })?;
/// let mut sched = StepLr::new(&opt, 1, 0.7)?; // the tutorial's schedule
/// for _epoch in 0..3 {
///     // ... train one epoch ...
///     sched.step(&mut opt);
/// }
/// assert!((opt.lr() - 0.7f64.powi(3)).abs() < 1e-15);
/// assert_eq!(sched.epoch(), 3);
/// # Ok::<(), lazyjit::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct StepLr {
    base_lr: f64,
    step_size: u64,
    gamma: f64,
    epoch: u64,
}

impl StepLr {
    /// A schedule starting from `optimizer`'s current learning rate, decaying by `gamma`
    /// (finite, >= 0) every `step_size` (>= 1) epochs.
    #[track_caller]
    pub fn new<O: Optimizer + ?Sized>(optimizer: &O, step_size: u64, gamma: f64) -> Result<StepLr> {
        if step_size == 0 || !gamma.is_finite() || gamma < 0.0 {
            return Err(Error::op(
                "StepLr::new",
                format!(
                    "needs step_size >= 1 and a finite gamma >= 0, got {step_size} and {gamma}"
                ),
                SourceLoc::caller(),
            ));
        }
        Ok(StepLr {
            base_lr: optimizer.lr(),
            step_size,
            gamma,
            epoch: 0,
        })
    }

    /// Ends an epoch: advances the epoch count and sets the optimizer's learning rate.
    pub fn step<O: Optimizer + ?Sized>(&mut self, optimizer: &mut O) {
        self.epoch += 1;
        optimizer.set_lr(self.lr_at(self.epoch));
    }

    /// The learning rate of epoch `epoch`: `lr₀ · γ^⌊epoch / step_size⌋`.
    pub fn lr_at(&self, epoch: u64) -> f64 {
        let k = epoch / self.step_size;
        self.base_lr * self.gamma.powf(k as f64)
    }

    /// The learning rate of the current epoch.
    pub fn lr(&self) -> f64 {
        self.lr_at(self.epoch)
    }

    /// The number of [`StepLr::step`] calls so far.
    pub fn epoch(&self) -> u64 {
        self.epoch
    }
}
