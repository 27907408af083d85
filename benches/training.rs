//! Training-step benchmarks (issue 9), steady state, one thread.
//!
//! `mlp_step`: 784 → 128 (ReLU) → 10, log_softmax + nll_loss (mean), batch 64, backward,
//! SGD lr 0.01 on weights and biases: about 26.2 MFLOP (two 64x784x128 products dominate).
//! Same-run baselines:
//! - `fma_limit`: the FMA loop doing the step's FLOPs (the compute limit);
//! - `ndarray_hand`: the step written by hand with ndarray (`dot` is matrixmultiply);
//! - `lazyjit_hand_traced`: the backward pass written as lazy ops, no autograd;
//! - `lazyjit_autograd`: the step as a user writes it (`loss.backward()`, assign updates);
//! - `reference_backend`: the autograd step on the reference interpreter.
//!
//! `cnn_step`: the LTC tutorial's network (`examples/train_mnist/model.rs`) on 28x28 inputs,
//! batch 64, one full training step (forward, backward, Adadelta, `mark_step`), one
//! thread: about 4.58 GFLOP (conv2's forward, weight and input gradients dominate).
//! Same-run baselines: `fma_limit` for those FLOPs, `ndarray_im2col_hand` (the step written by
//! hand with ndarray: im2col + `dot`, col2im, argmax pooling, Adadelta;
//! `benches/common/cnn_ndarray.rs`), and the reference backend (with
//! `TRAINING_BENCH_REFERENCE=1`; opt-in because an interpreted step is slow).
//!
//! Run: `cargo bench --bench training` (figures in BENCHMARKS.md).

use criterion::{black_box, criterion_group, criterion_main, Criterion};
use lazyjit::{autograd, config, BackendKind, LazyTensor, Result};
use ndarray::{Array1, Array2, Axis};
use std::time::Duration;

#[path = "common/cnn_ndarray.rs"]
mod cnn_ndarray;
mod common;
use cnn_ndarray::NdCnn;
use common::fma::{fma_flops, fma_isa};

#[path = "../examples/train_mnist/model.rs"]
#[allow(dead_code)] // the bench uses the model and one step, not the loops
mod model;
use common::seq;

const BATCH: usize = 64;
const IN: usize = 784;
const HIDDEN: usize = 128;
const CLASSES: usize = 10;
const LR: f32 = 0.01;

/// FLOPs of one step: forward (2 products), weight gradients (2), the hidden gradient (1).
fn mlp_flops() -> u64 {
    let (b, i, h, c) = (BATCH as u64, IN as u64, HIDDEN as u64, CLASSES as u64);
    2 * b * i * h * 2 + 2 * b * h * c * 3
}

fn scaled(n: usize, seed: u32, scale: f32) -> Vec<f32> {
    seq(n, seed).into_iter().map(|v| v * scale).collect()
}

fn labels() -> Vec<i64> {
    (0..BATCH).map(|i| ((i * 7 + 3) % CLASSES) as i64).collect()
}

struct Mlp {
    w1: LazyTensor,
    b1: LazyTensor,
    w2: LazyTensor,
    b2: LazyTensor,
    x: LazyTensor,
    y: LazyTensor,
    lr: LazyTensor,
}

impl Mlp {
    fn new() -> Mlp {
        let k1 = 1.0 / (IN as f32).sqrt() / 2.0;
        let k2 = 1.0 / (HIDDEN as f32).sqrt() / 2.0;
        let leaf = |v: Vec<f32>, s: &[usize]| {
            let t = LazyTensor::from_vec(v, s).unwrap();
            t.set_requires_grad(true).unwrap();
            t
        };
        Mlp {
            w1: leaf(scaled(HIDDEN * IN, 1, k1), &[HIDDEN, IN]),
            b1: leaf(scaled(HIDDEN, 2, k1), &[HIDDEN]),
            w2: leaf(scaled(CLASSES * HIDDEN, 3, k2), &[CLASSES, HIDDEN]),
            b2: leaf(scaled(CLASSES, 4, k2), &[CLASSES]),
            x: LazyTensor::from_vec(scaled(BATCH * IN, 5, 0.5), &[BATCH, IN]).unwrap(),
            y: LazyTensor::from_vec(labels(), &[BATCH]).unwrap(),
            lr: LazyTensor::from_vec(vec![LR], &[]).unwrap(),
        }
    }

    fn params(&self) -> [&LazyTensor; 4] {
        [&self.w1, &self.b1, &self.w2, &self.b2]
    }

    fn forward(&self) -> Result<LazyTensor> {
        let h = self.x.linear(&self.w1, Some(&self.b1))?.relu()?;
        h.linear(&self.w2, Some(&self.b2))
    }

    /// The step as a user writes it: forward, `backward`, SGD by `assign`, `mark_step`.
    fn autograd_step(&self) -> Result<()> {
        // Only the loss leaves the forward pass (as in a model's `forward`), so no
        // activation is kept as an output of the step.
        let loss = self.forward()?.log_softmax(1)?.nll_loss(&self.y)?;
        loss.backward()?;
        autograd::no_grad(|| -> Result<()> {
            for p in self.params() {
                if let Some(g) = p.grad() {
                    p.assign(&p.sub(&g.mul(&self.lr)?)?)?;
                }
                p.zero_grad();
            }
            Ok(())
        })?;
        drop(loss);
        lazyjit::mark_step()
    }

    /// The same step with the backward pass written out as lazy ops.
    fn hand_traced_step(&self) -> Result<()> {
        autograd::no_grad(|| -> Result<()> {
            let pre = self.x.linear(&self.w1, Some(&self.b1))?;
            let h = pre.relu()?;
            let logits = h.linear(&self.w2, Some(&self.b2))?;
            let p = logits.softmax(1)?;
            let classes = LazyTensor::iota(&[BATCH, CLASSES], 1, lazyjit::DType::I64)?;
            let onehot = classes
                .eq(&self.y.reshape(&[BATCH, 1])?)?
                .cast(lazyjit::DType::F32)?;
            let dlogits = p.sub(&onehot)?.div_scalar(BATCH as f64)?;
            let dw2 = dlogits.t()?.matmul(&h)?;
            let db2 = dlogits.sum(&[0], false)?;
            let dh = dlogits.matmul(&self.w2)?;
            let zero = LazyTensor::zeros(&[BATCH, HIDDEN], lazyjit::DType::F32)?;
            let dpre = LazyTensor::where_(&pre.gt_scalar(0.0)?, &dh, &zero)?;
            let dw1 = dpre.t()?.matmul(&self.x)?;
            let db1 = dpre.sum(&[0], false)?;
            for (p, g) in self.params().into_iter().zip([dw1, db1, dw2, db2]) {
                p.assign(&p.sub(&g.mul(&self.lr)?)?)?;
            }
            Ok(())
        })?;
        lazyjit::mark_step()
    }
}

/// The step by hand with ndarray.
struct NdMlp {
    w1: Array2<f32>,
    b1: Array1<f32>,
    w2: Array2<f32>,
    b2: Array1<f32>,
    x: Array2<f32>,
    y: Vec<i64>,
}

impl NdMlp {
    fn new() -> NdMlp {
        let k1 = 1.0 / (IN as f32).sqrt() / 2.0;
        let k2 = 1.0 / (HIDDEN as f32).sqrt() / 2.0;
        NdMlp {
            w1: Array2::from_shape_vec((HIDDEN, IN), scaled(HIDDEN * IN, 1, k1)).unwrap(),
            b1: Array1::from(scaled(HIDDEN, 2, k1)),
            w2: Array2::from_shape_vec((CLASSES, HIDDEN), scaled(CLASSES * HIDDEN, 3, k2)).unwrap(),
            b2: Array1::from(scaled(CLASSES, 4, k2)),
            x: Array2::from_shape_vec((BATCH, IN), scaled(BATCH * IN, 5, 0.5)).unwrap(),
            y: labels(),
        }
    }

    fn step(&mut self) -> f32 {
        let pre = self.x.dot(&self.w1.t()) + &self.b1;
        let h = pre.mapv(|v| v.max(0.0));
        let logits = h.dot(&self.w2.t()) + &self.b2;
        let mut d = logits;
        let mut loss = 0.0;
        for (i, mut row) in d.axis_iter_mut(Axis(0)).enumerate() {
            let m = row.fold(f32::NEG_INFINITY, |a, &b| a.max(b));
            row.mapv_inplace(|v| (v - m).exp());
            let s = row.sum();
            row.mapv_inplace(|v| v / s);
            let y = self.y[i] as usize;
            loss -= row[y].ln();
            row[y] -= 1.0;
            row.mapv_inplace(|v| v / BATCH as f32);
        }
        let dw2 = d.t().dot(&h);
        let db2 = d.sum_axis(Axis(0));
        let mut dh = d.dot(&self.w2);
        dh.zip_mut_with(&pre, |g, &p| {
            if p <= 0.0 {
                *g = 0.0
            }
        });
        let dw1 = dh.t().dot(&self.x);
        let db1 = dh.sum_axis(Axis(0));
        self.w1.scaled_add(-LR, &dw1);
        self.b1.scaled_add(-LR, &db1);
        self.w2.scaled_add(-LR, &dw2);
        self.b2.scaled_add(-LR, &db2);
        loss / BATCH as f32
    }
}

fn mlp_step(c: &mut Criterion) {
    let flops = mlp_flops();
    eprintln!(
        "mlp_step: {:.1} MFLOP per step; FMA baseline uses {}",
        flops as f64 / 1e6,
        fma_isa()
    );
    let mut g = c.benchmark_group("mlp_step");
    g.bench_function("fma_limit", |b| b.iter(|| black_box(fma_flops(flops))));
    let mut nd = NdMlp::new();
    g.bench_function("ndarray_hand", |b| b.iter(|| black_box(nd.step())));
    let m = Mlp::new();
    g.bench_function("lazyjit_hand_traced", |b| {
        b.iter(|| m.hand_traced_step().unwrap())
    });
    let m = Mlp::new();
    g.bench_function("lazyjit_autograd", |b| {
        b.iter(|| m.autograd_step().unwrap())
    });
    config::with(
        |c| c.backend = BackendKind::Reference,
        || {
            let m = Mlp::new();
            g.sample_size(10);
            g.bench_function("reference_backend", |b| {
                b.iter(|| m.autograd_step().unwrap())
            });
        },
    );
    g.finish();
}

/// FLOPs of one tutorial-network step on 28x28 inputs, batch 64: the GEMMs of the two
/// convolutions (forward, weight gradient; input gradient for conv2 only) and two linear
/// layers (forward, weight gradient, input gradient for fc2's input).
fn cnn_flops() -> u64 {
    let b = 64u64;
    let conv1 = 2 * b * 26 * 26 * 32 * 9;
    let conv2 = 2 * b * 24 * 24 * 64 * (32 * 9);
    let fc1 = 2 * b * 9216 * 128;
    let fc2 = 2 * b * 128 * 10;
    conv1 * 2 + conv2 * 3 + fc1 * 2 + fc2 * 3
}

fn cnn_step(c: &mut Criterion) {
    use model::{optimizer, train_step, ModelKind, Net};
    let flops = cnn_flops();
    eprintln!("cnn_step: {:.2} GFLOP per step", flops as f64 / 1e9);
    let x = LazyTensor::from_vec(scaled(64 * 28 * 28, 7, 0.5), &[64, 1, 28, 28]).unwrap();
    let y = LazyTensor::from_vec((0..64).map(|i| (i % 10) as i64).collect(), &[64]).unwrap();
    let mut g = c.benchmark_group("cnn_step");
    g.sample_size(10);
    g.bench_function("fma_limit", |b| b.iter(|| black_box(fma_flops(flops))));
    let mut nd = NdCnn::new(
        scaled(64 * 28 * 28, 7, 0.5),
        (0..64).map(|i| i % 10).collect(),
        |n, k| scaled(n, n as u32, k / 2.0),
    );
    g.bench_function("ndarray_im2col_hand", |b| b.iter(|| black_box(nd.step())));
    let net = Net::new(ModelKind::Cnn, 28, 28, 1).unwrap();
    let (mut opt, _) = optimizer(&net, 1.0, 0.7).unwrap();
    g.bench_function("lazyjit_autograd", |b| {
        b.iter(|| train_step(&net, &mut opt, &x, &y).unwrap())
    });
    if std::env::var_os("TRAINING_BENCH_REFERENCE").is_some() {
        config::with(
            |c| c.backend = BackendKind::Reference,
            || {
                let net = Net::new(ModelKind::Cnn, 28, 28, 1).unwrap();
                let (mut opt, _) = optimizer(&net, 1.0, 0.7).unwrap();
                g.bench_function("reference_backend", |b| {
                    b.iter(|| train_step(&net, &mut opt, &x, &y).unwrap())
                });
            },
        );
    }
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(30)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3));
    targets = mlp_step, cnn_step
}
criterion_main!(benches);
