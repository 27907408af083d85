//! [`Adadelta`].

use super::{check_non_negative, check_params, check_range, zeros_like_data, Optimizer, StepValue};
use crate::autograd::NoGradGuard;
use crate::error::{Result, SourceLoc};
use crate::tensor::LazyTensor;

/// The hyperparameters of [`Adadelta`] (PyTorch's defaults).
#[derive(Copy, Clone, Debug, PartialEq)]
pub struct AdadeltaConfig {
    /// Learning rate, scaling the update (>= 0; default 1.0).
    pub lr: f64,
    /// Decay ρ of the running averages (in [0, 1]; default 0.9).
    pub rho: f64,
    /// ε inside the square roots (>= 0; default 1e-6).
    pub eps: f64,
    /// L2 penalty added to the gradient (>= 0; default 0).
    pub weight_decay: f64,
}

impl Default for AdadeltaConfig {
    fn default() -> AdadeltaConfig {
        AdadeltaConfig {
            lr: 1.0,
            rho: 0.9,
            eps: 1e-6,
            weight_decay: 0.0,
        }
    }
}

/// Adadelta (Zeiler 2012), PyTorch's `torch.optim.Adadelta`, the optimizer of the LTC
/// MNIST tutorial. Per parameter θ with gradient g, with v and u starting at 0:
///
/// ```text
/// g ← g + wd·θ
/// v ← ρ·v + (1−ρ)·g²
/// Δ ← sqrt(u + ε) / sqrt(v + ε) · g
/// u ← ρ·u + (1−ρ)·Δ²
/// θ ← θ − lr·Δ
/// ```
///
/// ```
/// use lazyjit::optim::{Adadelta, AdadeltaConfig, Optimizer};
/// use lazyjit::LazyTensor;
/// let w = LazyTensor::from_vec(vec![3.0f64], &[1])?;
/// w.set_requires_grad(true)?;
/// let mut opt = Adadelta::new(vec![w.clone()], AdadeltaConfig::default())?;
/// opt.zero_grad();
/// w.square()?.sum_all()?.backward()?; // g = 2w = 6
/// opt.step()?;
/// lazyjit::mark_step()?;
/// // v = 0.1·36, Δ = sqrt(1e-6) / sqrt(3.6 + 1e-6) · 6
/// let delta = (1e-6f64).sqrt() / (3.6f64 + 1e-6).sqrt() * 6.0;
/// assert!((w.to_vec::<f64>()?[0] - (3.0 - delta)).abs() < 1e-12);
/// # Ok::<(), lazyjit::Error>(())
/// ```
pub struct Adadelta {
    params: Vec<LazyTensor>,
    config: AdadeltaConfig,
    /// Running averages of g² (v) and of Δ² (u).
    state: Vec<Option<(LazyTensor, LazyTensor)>>,
}

impl Adadelta {
    /// Adadelta over `params` (float leaves, each once), checking the hyperparameters.
    #[track_caller]
    pub fn new(params: Vec<LazyTensor>, config: AdadeltaConfig) -> Result<Adadelta> {
        let loc = SourceLoc::caller();
        let op = "Adadelta::new";
        check_non_negative(
            op,
            &[
                ("lr", config.lr),
                ("eps", config.eps),
                ("weight_decay", config.weight_decay),
            ],
            loc,
        )?;
        check_range(op, "rho", config.rho, 0.0, 1.0, false, loc)?;
        let params = check_params(op, params, loc)?;
        let state = vec![None; params.len()];
        Ok(Adadelta {
            params,
            config,
            state,
        })
    }

    /// The hyperparameters (with the current learning rate).
    pub fn config(&self) -> AdadeltaConfig {
        self.config
    }

    /// The running averages `(v, u)` of parameter `i` (`None` before its first step).
    pub fn state(&self, i: usize) -> Option<(&LazyTensor, &LazyTensor)> {
        self.state
            .get(i)
            .and_then(|s| s.as_ref().map(|(v, u)| (v, u)))
    }
}

impl Optimizer for Adadelta {
    fn step(&mut self) -> Result<()> {
        let _no_grad = NoGradGuard::new();
        let c = self.config;
        let mut lr = StepValue::new(c.lr);
        for (p, state) in self.params.iter().zip(&mut self.state) {
            let Some(mut g) = p.grad() else { continue };
            if c.weight_decay != 0.0 {
                g = g.add(&p.mul_scalar(c.weight_decay)?)?;
            }
            let (v, u) = match state.take() {
                Some(s) => s,
                None => (zeros_like_data(p)?, zeros_like_data(p)?),
            };
            let v = v
                .mul_scalar(c.rho)?
                .add(&g.square()?.mul_scalar(1.0 - c.rho)?)?;
            let std = v.add_scalar(c.eps)?.sqrt()?;
            let delta = u.add_scalar(c.eps)?.sqrt()?.div(&std)?.mul(&g)?;
            let u = u
                .mul_scalar(c.rho)?
                .add(&delta.square()?.mul_scalar(1.0 - c.rho)?)?;
            p.assign(&p.sub(&delta.mul(lr.get(p.dtype())?)?)?)?;
            *state = Some((v, u));
        }
        Ok(())
    }

    fn parameters(&self) -> &[LazyTensor] {
        &self.params
    }

    fn lr(&self) -> f64 {
        self.config.lr
    }

    fn set_lr(&mut self, lr: f64) {
        self.config.lr = lr;
    }
}
