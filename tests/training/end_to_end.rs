//! A small end-to-end run: a 2-layer MLP with dropout on a synthetic separable problem,
//! trained with one `mark_step` per step (forward, backward and update in one graph).

use crate::support::{self, Counters};
use crate::R;
use lazyjit::metrics::Counter;
use lazyjit::nn::{self, Dropout, Linear, Module};
use lazyjit::optim::{Adadelta, AdadeltaConfig, Adam, AdamConfig, Optimizer, StepLr};
use lazyjit::{autograd, LazyTensor, Result};
use lazyjit_lowering::testing::rng::Rng;

struct Mlp {
    fc1: Linear,
    drop: Dropout,
    fc2: Linear,
    training: bool,
}

impl Mlp {
    fn new(seed: u64) -> R<Mlp> {
        Ok(Mlp {
            fc1: Linear::new(2, 16, seed)?,
            drop: Dropout::with_seed(0.1, seed)?,
            fc2: Linear::new(16, 2, seed + 1)?,
            training: true,
        })
    }
}

impl Module for Mlp {
    fn forward(&self, x: &LazyTensor) -> Result<LazyTensor> {
        let h = self.fc1.forward(x)?.relu()?;
        self.fc2.forward(&self.drop.forward(&h)?)?.log_softmax(1)
    }
    fn visit(&self, prefix: &str, f: &mut dyn FnMut(&str, &LazyTensor)) {
        self.fc1.visit(&nn::join(prefix, "fc1"), f);
        self.fc2.visit(&nn::join(prefix, "fc2"), f);
    }
    fn visit_mut(&mut self, prefix: &str, f: &mut dyn FnMut(&str, &mut LazyTensor)) {
        self.fc1.visit_mut(&nn::join(prefix, "fc1"), f);
        self.fc2.visit_mut(&nn::join(prefix, "fc2"), f);
    }
    fn train(&mut self, on: bool) {
        self.training = on;
        self.drop.train(on);
    }
    fn is_training(&self) -> bool {
        self.training
    }
}

/// Points in [-1, 1]² labelled by the side of the line x + 2y = 0.3 they are on.
fn dataset(n: usize, seed: u64) -> (Vec<f32>, Vec<i64>) {
    let mut rng = Rng::new(seed);
    let mut xs = Vec::with_capacity(2 * n);
    let mut ys = Vec::with_capacity(n);
    for _ in 0..n {
        let (a, b) = (rng.unit() * 2.0 - 1.0, rng.unit() * 2.0 - 1.0);
        xs.extend([a as f32, b as f32]);
        ys.push(i64::from(a + 2.0 * b > 0.3));
    }
    (xs, ys)
}

/// Trains for `steps` steps (one batch, a new dropout mask each step); returns the loss
/// per step, the compiles per step and the final accuracy in eval mode.
fn train(
    model: &mut Mlp,
    opt: &mut dyn Optimizer,
    sched: Option<&mut StepLr>,
    steps: usize,
    batch: usize,
) -> R<(Vec<f32>, Vec<u64>, f64)> {
    let (xs, ys) = dataset(batch, 5);
    let x = LazyTensor::from_vec(xs, &[batch, 2])?;
    let y = LazyTensor::from_vec(ys.clone(), &[batch])?;
    let mut losses = Vec::new();
    let mut compiles = Vec::new();
    let mut sched = sched;
    let mut live = Vec::new();
    for step in 0..steps {
        let before = Counters::now();
        opt.zero_grad();
        let loss = model.forward(&x)?.nll_loss(&y)?;
        loss.backward()?;
        opt.step()?;
        lazyjit::mark_step()?;
        compiles.push(before.delta(Counter::Compile));
        if step > 0 {
            assert!(
                lazyjit::last_sync().unwrap().cache_hit,
                "step {step} missed the cache"
            );
        }
        losses.push(loss.item::<f32>()?); // computed by the step: no sync
        drop(loss);
        live.push(lazyjit::live_tensors());
        if let Some(s) = sched.as_deref_mut() {
            if step % 10 == 9 {
                s.step(opt);
            }
        }
    }
    // Nothing accumulates from step to step (gradients, state, saved activations).
    assert!(
        live.windows(2).skip(1).all(|w| w[0] == w[1]),
        "live tensors per step: {live:?}"
    );
    model.eval();
    let pred = autograd::no_grad(|| model.forward(&x)?.argmax(1, false))?.to_vec::<i64>()?;
    model.train(true);
    let correct = pred.iter().zip(&ys).filter(|(p, y)| p == y).count();
    Ok((losses, compiles, correct as f64 / ys.len() as f64))
}

#[test]
fn mlp_trains_and_compiles_once() -> R {
    let _g = support::serial();
    let mut model = Mlp::new(11)?;
    let mut opt = Adam::new(
        model.parameters(),
        AdamConfig {
            lr: 0.05,
            ..Default::default()
        },
    )?;
    let mut sched = StepLr::new(&opt, 1, 0.9)?;
    let (losses, compiles, acc) = train(&mut model, &mut opt, Some(&mut sched), 50, 128)?;
    eprintln!(
        "adam: loss {} → {}, accuracy {acc}, compiles per step {compiles:?}",
        losses[0], losses[49]
    );
    assert!(
        losses[49] < 0.5 * losses[0],
        "loss did not fall: {losses:?}"
    );
    assert!(losses[49] < 0.25, "{losses:?}");
    assert!(acc >= 0.95, "accuracy {acc}");
    // Forward, backward and update are one graph, the same at every step: the first step
    // compiles it (its optimizer state starts as zero data, and the dropout seed and offset,
    // the learning rate and Adam's bias corrections are data), later steps — with new
    // dropout masks, StepLr's new learning rates and new step counts — reuse it.
    assert_eq!(compiles[0], 1, "{compiles:?}");
    assert!(compiles[1..].iter().all(|&c| c == 0), "{compiles:?}");
    Ok(())
}

/// The tutorial's optimizer and schedule (Adadelta lr 1.0, StepLr γ 0.7).
#[test]
fn mlp_trains_with_adadelta() -> R {
    let _g = support::serial();
    let mut model = Mlp::new(21)?;
    let mut opt = Adadelta::new(model.parameters(), AdadeltaConfig::default())?;
    let mut sched = StepLr::new(&opt, 1, 0.7)?;
    let (losses, compiles, acc) = train(&mut model, &mut opt, Some(&mut sched), 50, 96)?;
    eprintln!(
        "adadelta: loss {} → {}, accuracy {acc}, compiles per step {compiles:?}",
        losses[0], losses[49]
    );
    // Adadelta starts slowly (its first updates are about sqrt(eps)·g/|g|).
    assert!(
        losses[49] < 0.85 * losses[0],
        "loss did not fall: {losses:?}"
    );
    assert!(acc >= 0.9, "accuracy {acc}");
    assert_eq!(compiles[0], 1, "{compiles:?}");
    assert!(compiles[1..].iter().all(|&c| c == 0), "{compiles:?}");
    Ok(())
}

/// The same seeds give the same run, bit for bit (initialisation and dropout masks).
#[test]
fn runs_are_reproducible() -> R {
    let _g = support::serial();
    let run = || -> R<Vec<f32>> {
        let mut model = Mlp::new(31)?;
        let mut opt = Adam::new(model.parameters(), AdamConfig::default())?;
        Ok(train(&mut model, &mut opt, None, 8, 64)?.0)
    };
    let (a, b) = (run()?, run()?);
    assert_eq!(
        a.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
        b.iter().map(|v| v.to_bits()).collect::<Vec<_>>()
    );
    Ok(())
}

/// The reference interpreter runs the same training steps to the same values (dropout
/// masks included: Philox is computed identically by both backends).
#[test]
fn backends_agree_on_training_steps() -> R {
    let _g = support::serial();
    let run = |backend: lazyjit::BackendKind| -> R<Vec<f32>> {
        lazyjit::config::with(
            |c| c.backend = backend,
            || {
                let mut model = Mlp::new(41)?;
                let mut opt = Adam::new(model.parameters(), AdamConfig::default())?;
                Ok(train(&mut model, &mut opt, None, 6, 40)?.0)
            },
        )
    };
    let jit = run(lazyjit::BackendKind::Cranelift)?;
    let reference = run(lazyjit::BackendKind::Reference)?;
    for (a, b) in jit.iter().zip(&reference) {
        assert!(
            (a - b).abs() <= 1e-5 * b.abs().max(1.0),
            "{jit:?} vs {reference:?}"
        );
    }
    Ok(())
}

/// Reading the loss in the middle of a step (for logging, before backward) syncs the
/// forward pass as a graph of its own: two graphs per step, both compiled once.
#[test]
fn logging_mid_step_compiles_two_graphs_once() -> R {
    let _g = support::serial();
    let mut model = Mlp::new(51)?;
    let mut opt = Adam::new(
        model.parameters(),
        AdamConfig {
            lr: 0.05,
            ..Default::default()
        },
    )?;
    let (xs, ys) = dataset(48, 6);
    let x = LazyTensor::from_vec(xs, &[48, 2])?;
    let y = LazyTensor::from_vec(ys, &[48])?;
    let mut compiles = Vec::new();
    let mut losses = Vec::new();
    for _ in 0..6 {
        let before = Counters::now();
        opt.zero_grad();
        let loss = model.forward(&x)?.nll_loss(&y)?;
        losses.push(loss.item::<f32>()?);
        loss.backward()?;
        opt.step()?;
        lazyjit::mark_step()?;
        compiles.push(before.delta(Counter::Compile));
    }
    model.eval();
    eprintln!("mid-step logging: compiles per step {compiles:?}, losses {losses:?}");
    assert_eq!(compiles, [2, 0, 0, 0, 0, 0]);
    assert!(losses[5] < 0.9 * losses[0], "{losses:?}");
    Ok(())
}
