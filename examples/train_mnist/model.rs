//! The LTC tutorial's MNIST network and an MLP, and the training and evaluation loops of
//! `train_mnist` (shared with `tests/train_mnist.rs`, which includes this file).

use lazyjit::data::Dataset;
use lazyjit::nn::{self, Conv2d, Dropout, Linear, Module};
use lazyjit::optim::{Adadelta, AdadeltaConfig, Optimizer, StepLr};
use lazyjit::{autograd, LazyTensor, Result};

/// Which network to train.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum ModelKind {
    /// The tutorial's: conv 3x3 (32) → ReLU → conv 3x3 (64) → ReLU → max-pool 2 →
    /// dropout 0.25 → flatten → linear (128) → ReLU → dropout 0.5 → linear (10).
    Cnn,
    /// flatten → linear (128) → ReLU → linear (10).
    Mlp,
}

/// The tutorial's network; `fc1`'s input size follows the image size (9216 for 28x28
/// MNIST, 256 for the 8x8 digits).
pub struct Net {
    kind: ModelKind,
    conv1: Option<Conv2d>,
    conv2: Option<Conv2d>,
    dropout1: Dropout,
    dropout2: Dropout,
    fc1: Linear,
    fc2: Linear,
    training: bool,
}

impl Net {
    /// A freshly initialised network for `rows x cols` images (PyTorch's default
    /// initialisation, seeded).
    pub fn new(kind: ModelKind, rows: usize, cols: usize, seed: u64) -> Result<Net> {
        let (conv1, conv2, fc1_in) = match kind {
            ModelKind::Cnn => {
                let (h, w) = ((rows - 4) / 2, (cols - 4) / 2);
                (
                    Some(Conv2d::new(1, 32, [3, 3], seed)?),
                    Some(Conv2d::new(32, 64, [3, 3], seed + 1)?),
                    64 * h * w,
                )
            }
            ModelKind::Mlp => (None, None, rows * cols),
        };
        Ok(Net {
            kind,
            conv1,
            conv2,
            dropout1: Dropout::with_seed(0.25, seed + 2)?,
            dropout2: Dropout::with_seed(0.5, seed + 3)?,
            fc1: Linear::new(fc1_in, 128, seed + 4)?,
            fc2: Linear::new(128, 10, seed + 5)?,
            training: true,
        })
    }
}

impl Module for Net {
    /// Log-probabilities `[batch, 10]` of images `[batch, 1, rows, cols]`.
    fn forward(&self, x: &LazyTensor) -> Result<LazyTensor> {
        let h = match (&self.conv1, &self.conv2) {
            (Some(c1), Some(c2)) => {
                let h = c1.forward(x)?.relu()?;
                let h = c2.forward(&h)?.relu()?;
                let h = h.max_pool2d([2, 2], [2, 2])?;
                self.dropout1.forward(&h)?.flatten(1, -1)?
            }
            _ => x.flatten(1, -1)?,
        };
        let h = self.fc1.forward(&h)?.relu()?;
        let h = match self.kind {
            ModelKind::Cnn => self.dropout2.forward(&h)?,
            ModelKind::Mlp => h,
        };
        self.fc2.forward(&h)?.log_softmax(1)
    }

    fn visit(&self, prefix: &str, f: &mut dyn FnMut(&str, &LazyTensor)) {
        if let Some(c) = &self.conv1 {
            c.visit(&nn::join(prefix, "conv1"), f);
        }
        if let Some(c) = &self.conv2 {
            c.visit(&nn::join(prefix, "conv2"), f);
        }
        self.fc1.visit(&nn::join(prefix, "fc1"), f);
        self.fc2.visit(&nn::join(prefix, "fc2"), f);
    }

    fn visit_mut(&mut self, prefix: &str, f: &mut dyn FnMut(&str, &mut LazyTensor)) {
        if let Some(c) = &mut self.conv1 {
            c.visit_mut(&nn::join(prefix, "conv1"), f);
        }
        if let Some(c) = &mut self.conv2 {
            c.visit_mut(&nn::join(prefix, "conv2"), f);
        }
        self.fc1.visit_mut(&nn::join(prefix, "fc1"), f);
        self.fc2.visit_mut(&nn::join(prefix, "fc2"), f);
    }

    fn train(&mut self, on: bool) {
        self.training = on;
        self.dropout1.train(on);
        self.dropout2.train(on);
    }

    fn is_training(&self) -> bool {
        self.training
    }
}

/// The tutorial's optimizer and schedule: Adadelta(lr) stepped by StepLR(1, gamma).
pub fn optimizer(net: &Net, lr: f64, gamma: f64) -> Result<(Adadelta, StepLr)> {
    let opt = Adadelta::new(
        net.parameters(),
        AdadeltaConfig {
            lr,
            ..AdadeltaConfig::default()
        },
    )?;
    let sched = StepLr::new(&opt, 1, gamma)?;
    Ok((opt, sched))
}

/// One training step on a batch: forward, nll_loss, backward, optimizer update, all
/// recorded lazily and run by `mark_step` as one graph. Returns the loss (computed by
/// that same graph: reading it costs nothing more).
pub fn train_step(
    net: &Net,
    opt: &mut Adadelta,
    x: &LazyTensor,
    y: &LazyTensor,
) -> Result<LazyTensor> {
    let loss = net.forward(x)?.nll_loss(y)?;
    loss.backward()?;
    opt.step()?;
    // The gradients have been used: clearing them now keeps them out of the step's
    // outputs (nothing reads them after the update).
    opt.zero_grad();
    lazyjit::mark_step()?;
    Ok(loss)
}

/// One epoch over `data` in shuffled batches, each image shifted by up to `shift` pixels
/// ([`Dataset::batch_shifted`]); calls `on_batch(index, batches, loss)` after
/// each step with the loss tensor (already computed).
pub fn train_epoch(
    net: &mut Net,
    opt: &mut Adadelta,
    data: &Dataset,
    batch_size: usize,
    shift: usize,
    seed: u64,
    mut on_batch: impl FnMut(usize, usize, &LazyTensor) -> Result<()>,
) -> Result<()> {
    net.train(true);
    let batches = data.batch_indices(batch_size, Some(seed));
    let n = batches.len();
    for (i, idx) in batches.iter().enumerate() {
        let batch_seed = seed.wrapping_mul(1_000_003).wrapping_add(i as u64);
        let (x, y) = data.batch_shifted(idx, shift, batch_seed)?;
        let loss = train_step(net, opt, &x, &y)?;
        on_batch(i, n, &loss)?;
    }
    Ok(())
}

/// Mean loss and accuracy on `data` in eval mode, without gradients.
pub fn evaluate(net: &mut Net, data: &Dataset, batch_size: usize) -> Result<(f64, f64)> {
    net.eval();
    let _no_grad = autograd::NoGradGuard::new();
    let (mut loss_sum, mut correct) = (0.0f64, 0usize);
    for idx in data.batch_indices(batch_size, None) {
        let (x, y) = data.batch(&idx)?;
        let logp = net.forward(&x)?;
        let loss = logp.nll_loss(&y)?;
        let hits = logp
            .argmax(1, false)?
            .eq(&y)?
            .cast(lazyjit::DType::I64)?
            .sum_all()?;
        lazyjit::sync(&[&loss, &hits])?;
        loss_sum += loss.item::<f32>()? as f64 * idx.len() as f64;
        correct += hits.item::<i64>()? as usize;
    }
    let n = data.len().max(1) as f64;
    Ok((loss_sum / n, correct as f64 / n))
}
