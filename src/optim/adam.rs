//! [`Adam`] and [`AdamW`].

use super::{check_non_negative, check_params, check_range, zeros_like_data, Optimizer, StepValue};
use crate::autograd::NoGradGuard;
use crate::error::{Result, SourceLoc};
use crate::tensor::LazyTensor;

/// The hyperparameters of [`Adam`] and [`AdamW`] (PyTorch's defaults; `weight_decay`
/// defaults to 0 for Adam and 0.01 for AdamW, see [`AdamConfig::adamw`]).
#[derive(Copy, Clone, Debug, PartialEq)]
pub struct AdamConfig {
    /// Learning rate (>= 0; default 1e-3).
    pub lr: f64,
    /// Decay rates (β1, β2) of the moment estimates (each in [0, 1); default (0.9, 0.999)).
    pub betas: (f64, f64),
    /// ε added to the denominator (>= 0; default 1e-8).
    pub eps: f64,
    /// Weight decay (>= 0): added to the gradient by Adam, applied to the parameter
    /// directly by AdamW.
    pub weight_decay: f64,
}

impl Default for AdamConfig {
    fn default() -> AdamConfig {
        AdamConfig {
            lr: 1e-3,
            betas: (0.9, 0.999),
            eps: 1e-8,
            weight_decay: 0.0,
        }
    }
}

impl AdamConfig {
    /// PyTorch's AdamW defaults: those of Adam with `weight_decay` 0.01.
    pub fn adamw() -> AdamConfig {
        AdamConfig {
            weight_decay: 0.01,
            ..AdamConfig::default()
        }
    }
}

/// The shared implementation: `decoupled` is AdamW.
struct AdamImpl {
    params: Vec<LazyTensor>,
    config: AdamConfig,
    decoupled: bool,
    /// Per parameter: (m, v) and its step count t (steps it had a gradient for).
    state: Vec<Option<(LazyTensor, LazyTensor)>>,
    steps: Vec<u64>,
}

impl AdamImpl {
    fn new(
        op: &'static str,
        params: Vec<LazyTensor>,
        config: AdamConfig,
        decoupled: bool,
        loc: SourceLoc,
    ) -> Result<AdamImpl> {
        check_non_negative(
            op,
            &[
                ("lr", config.lr),
                ("eps", config.eps),
                ("weight_decay", config.weight_decay),
            ],
            loc,
        )?;
        check_range(op, "beta1", config.betas.0, 0.0, 1.0, true, loc)?;
        check_range(op, "beta2", config.betas.1, 0.0, 1.0, true, loc)?;
        let params = check_params(op, params, loc)?;
        let n = params.len();
        Ok(AdamImpl {
            params,
            config,
            decoupled,
            state: vec![None; n],
            steps: vec![0; n],
        })
    }

    fn step(&mut self) -> Result<()> {
        let _no_grad = NoGradGuard::new();
        let c = self.config;
        let (b1, b2) = c.betas;
        // Per-step values as data, shared by the parameters at the same step count.
        let mut decay = StepValue::new(1.0 - c.lr * c.weight_decay);
        let mut per_t: Vec<(u64, StepValue, StepValue)> = Vec::new();
        for i in 0..self.params.len() {
            let p = &self.params[i];
            let Some(mut g) = p.grad() else { continue };
            self.steps[i] += 1;
            let t = self.steps[i];
            if c.weight_decay != 0.0 {
                if self.decoupled {
                    p.assign(&p.mul(decay.get(p.dtype())?)?)?;
                } else {
                    g = g.add(&p.mul_scalar(c.weight_decay)?)?;
                }
            }
            let (m, v) = match self.state[i].take() {
                Some(s) => s,
                None => (zeros_like_data(p)?, zeros_like_data(p)?),
            };
            let m = m.mul_scalar(b1)?.add(&g.mul_scalar(1.0 - b1)?)?;
            let v = v.mul_scalar(b2)?.add(&g.square()?.mul_scalar(1.0 - b2)?)?;
            let k = match per_t.iter().position(|(s, _, _)| *s == t) {
                Some(k) => k,
                None => {
                    let bc1 = 1.0 - b1.powf(t as f64);
                    let bc2 = 1.0 - b2.powf(t as f64);
                    per_t.push((
                        t,
                        StepValue::new(c.lr / bc1),
                        StepValue::new(1.0 / bc2.sqrt()),
                    ));
                    per_t.len() - 1
                }
            };
            let (_, step_size, inv_sqrt_bc2) = &mut per_t[k];
            // θ ← θ − lr/(1−β1^t) · m / (sqrt(v)/sqrt(1−β2^t) + ε), which is
            // θ − lr·m̂/(sqrt(v̂) + ε) with m̂ = m/(1−β1^t), v̂ = v/(1−β2^t).
            let denom = v
                .sqrt()?
                .mul(inv_sqrt_bc2.get(p.dtype())?)?
                .add_scalar(c.eps)?;
            let update = m.div(&denom)?.mul(step_size.get(p.dtype())?)?;
            p.assign(&p.sub(&update)?)?;
            self.state[i] = Some((m, v));
        }
        Ok(())
    }

    fn moments(&self, i: usize) -> Option<(&LazyTensor, &LazyTensor)> {
        self.state
            .get(i)
            .and_then(|s| s.as_ref().map(|(m, v)| (m, v)))
    }
}

macro_rules! adam_like {
    ($name:ident, $op:literal, $decoupled:expr) => {
        impl $name {
            #[doc = concat!("`", stringify!($name), "` over `params` (float leaves, each once), checking the hyperparameters.")]
            #[track_caller]
            pub fn new(params: Vec<LazyTensor>, config: AdamConfig) -> Result<$name> {
                AdamImpl::new($op, params, config, $decoupled, SourceLoc::caller())
                    .map($name)
            }

            /// The hyperparameters (with the current learning rate).
            pub fn config(&self) -> AdamConfig {
                self.0.config
            }

            /// The moment estimates `(m, v)` of parameter `i` (`None` before its first
            /// step).
            pub fn moments(&self, i: usize) -> Option<(&LazyTensor, &LazyTensor)> {
                self.0.moments(i)
            }

            /// The number of steps parameter `i` has taken (its `t`).
            pub fn step_count(&self, i: usize) -> u64 {
                self.0.steps.get(i).copied().unwrap_or(0)
            }
        }

        impl Optimizer for $name {
            fn step(&mut self) -> Result<()> {
                self.0.step()
            }
            fn parameters(&self) -> &[LazyTensor] {
                &self.0.params
            }
            fn lr(&self) -> f64 {
                self.0.config.lr
            }
            fn set_lr(&mut self, lr: f64) {
                self.0.config.lr = lr;
            }
        }
    };
}

/// Adam (Kingma & Ba), PyTorch's `torch.optim.Adam`. Per parameter θ with gradient g,
/// step count t (from 1), m and v starting at 0:
///
/// ```text
/// g ← g + wd·θ
/// m ← β1·m + (1−β1)·g
/// v ← β2·v + (1−β2)·g²
/// θ ← θ − lr · m̂ / (sqrt(v̂) + ε),  m̂ = m/(1−β1^t), v̂ = v/(1−β2^t)
/// ```
///
/// The bias corrections are computed on the host each step and enter the graph as data
/// with the learning rate, so the step count does not recompile.
///
/// ```
/// use lazyjit::optim::{Adam, AdamConfig, Optimizer};
/// use lazyjit::LazyTensor;
/// let w = LazyTensor::from_vec(vec![1.0f64, -1.0], &[2])?;
/// w.set_requires_grad(true)?;
/// let mut opt = Adam::new(vec![w.clone()], AdamConfig { lr: 0.1, ..Default::default() })?;
/// opt.zero_grad();
/// w.square()?.sum_all()?.backward()?;
/// opt.step()?;
/// lazyjit::mark_step()?;
/// // The first step moves each weight by about lr against the sign of its gradient.
/// let v = w.to_vec::<f64>()?;
/// assert!((v[0] - 0.9).abs() < 1e-6 && (v[1] + 0.9).abs() < 1e-6);
/// # Ok::<(), lazyjit::Error>(())
/// ```
pub struct Adam(AdamImpl);
adam_like!(Adam, "Adam::new", false);

/// AdamW (Loshchilov & Hutter), PyTorch's `torch.optim.AdamW`: [`Adam`] with decoupled
/// weight decay, `θ ← θ·(1 − lr·wd)` before the Adam update instead of adding `wd·θ` to
/// the gradient. `1 − lr·wd` enters the graph as data, like the learning rate.
pub struct AdamW(AdamImpl);
adam_like!(AdamW, "AdamW::new", true);
