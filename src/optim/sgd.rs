//! [`Sgd`]: stochastic gradient descent with momentum, Nesterov momentum and weight decay.

use super::{check_non_negative, check_params, zeros_like_data, Optimizer, StepValue};
use crate::autograd::NoGradGuard;
use crate::error::{Error, Result, SourceLoc};
use crate::tensor::LazyTensor;

/// The hyperparameters of [`Sgd`] (PyTorch's defaults except `lr`, which has none there).
#[derive(Copy, Clone, Debug, PartialEq)]
pub struct SgdConfig {
    /// Learning rate (>= 0).
    pub lr: f64,
    /// Momentum factor μ (>= 0; 0 is plain SGD).
    pub momentum: f64,
    /// Nesterov momentum (needs `momentum > 0`).
    pub nesterov: bool,
    /// L2 penalty added to the gradient: `g + weight_decay · θ` (>= 0).
    pub weight_decay: f64,
}

impl Default for SgdConfig {
    fn default() -> SgdConfig {
        SgdConfig {
            lr: 0.01,
            momentum: 0.0,
            nesterov: false,
            weight_decay: 0.0,
        }
    }
}

/// Stochastic gradient descent, PyTorch's `torch.optim.SGD` with dampening 0. Per
/// parameter θ with gradient g:
///
/// ```text
/// g ← g + wd·θ                      (weight decay, if wd > 0)
/// b ← μ·b + g                       (momentum, if μ > 0; b starts at 0, so b = g first)
/// g ← g + μ·b  (Nesterov)  or  b
/// θ ← θ − lr·g
/// ```
///
/// ```
/// use lazyjit::optim::{Optimizer, Sgd, SgdConfig};
/// use lazyjit::LazyTensor;
/// let w = LazyTensor::from_vec(vec![1.0f64, -2.0], &[2])?;
/// w.set_requires_grad(true)?;
/// let mut opt = Sgd::new(vec![w.clone()], SgdConfig { lr: 0.1, momentum: 0.9, ..Default::default() })?;
/// for _ in 0..2 {
///     opt.zero_grad();
///     w.square()?.sum_all()?.backward()?; // g = 2w
///     opt.step()?;
///     lazyjit::mark_step()?;
/// }
/// // step 1: b = 2w₀, w₁ = w₀ − 0.1·2w₀ = 0.8 w₀
/// // step 2: b = 0.9·2w₀ + 2w₁ = 3.4 w₀, w₂ = w₁ − 0.34 w₀ = 0.46 w₀
/// let v = w.to_vec::<f64>()?;
/// assert!((v[0] - 0.46).abs() < 1e-12 && (v[1] + 0.92).abs() < 1e-12);
/// # Ok::<(), lazyjit::Error>(())
/// ```
pub struct Sgd {
    params: Vec<LazyTensor>,
    config: SgdConfig,
    momentum: Vec<Option<LazyTensor>>,
}

impl Sgd {
    /// SGD over `params` (float leaves, each once), checking the hyperparameters.
    #[track_caller]
    pub fn new(params: Vec<LazyTensor>, config: SgdConfig) -> Result<Sgd> {
        let loc = SourceLoc::caller();
        let op = "Sgd::new";
        check_non_negative(
            op,
            &[
                ("lr", config.lr),
                ("momentum", config.momentum),
                ("weight_decay", config.weight_decay),
            ],
            loc,
        )?;
        if config.nesterov && config.momentum == 0.0 {
            return Err(Error::op(op, "Nesterov momentum needs momentum > 0", loc));
        }
        let params = check_params(op, params, loc)?;
        let momentum = vec![None; params.len()];
        Ok(Sgd {
            params,
            config,
            momentum,
        })
    }

    /// The hyperparameters (with the current learning rate).
    pub fn config(&self) -> SgdConfig {
        self.config
    }

    /// The momentum buffer of parameter `i` (`None` before its first step, or without
    /// momentum).
    pub fn momentum_buffer(&self, i: usize) -> Option<&LazyTensor> {
        self.momentum.get(i).and_then(Option::as_ref)
    }
}

impl Optimizer for Sgd {
    fn step(&mut self) -> Result<()> {
        let _no_grad = NoGradGuard::new();
        let c = self.config;
        let mut lr = StepValue::new(c.lr);
        for (p, buf) in self.params.iter().zip(&mut self.momentum) {
            let Some(mut g) = p.grad() else { continue };
            if c.weight_decay != 0.0 {
                g = g.add(&p.mul_scalar(c.weight_decay)?)?;
            }
            if c.momentum != 0.0 {
                let b = match buf.take() {
                    Some(b) => b,
                    None => zeros_like_data(p)?,
                };
                let b = b.mul_scalar(c.momentum)?.add(&g)?;
                g = if c.nesterov {
                    g.add(&b.mul_scalar(c.momentum)?)?
                } else {
                    b.clone()
                };
                *buf = Some(b);
            }
            p.assign(&p.sub(&g.mul(lr.get(p.dtype())?)?)?)?;
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
