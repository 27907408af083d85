//! `nn` modules: parameter names and counts, train/eval mode, initialisation, dropout,
//! the layers' values.

use crate::support::{self, Counters};
use crate::{assert_close, R};
use lazyjit::metrics::Counter;
use lazyjit::nn::{
    self, Dropout, Embedding, Flatten, LayerNorm, LeakyReLU, Linear, Module, ReLU, Sequential,
    SiLU, Sigmoid, Tanh, GELU,
};
use lazyjit::{DType, LazyTensor};

#[test]
fn parameter_names_and_counts_nested() -> R {
    let _g = support::serial();
    let inner = Sequential::new()
        .add(Linear::new(3, 4, 1)?)
        .add(Tanh::new())
        .add_named("norm", LayerNorm::new(&[4])?);
    let net = Sequential::new()
        .add_named("embed", Embedding::new(10, 3, 2)?)
        .add(inner)
        .add(Linear::with_options(4, 2, false, DType::F32, 3)?);
    let named = net.named_parameters();
    let names: Vec<&str> = named.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        [
            "embed.weight",
            "1.0.weight",
            "1.0.bias",
            "1.norm.weight",
            "1.norm.bias",
            "2.weight"
        ]
    );
    assert_eq!(net.parameters().len(), 6);
    assert_eq!(net.num_parameters(), 30 + 12 + 4 + 4 + 4 + 8);
    assert!(named.iter().all(|(_, p)| p.requires_grad() && p.is_leaf()));
    // The handles are the module's tensors: a visitor's assign changes the module.
    let mut visited = 0;
    net.visit("model", &mut |name, p| {
        assert!(name.starts_with("model."));
        visited += 1;
        if name == "model.2.weight" {
            p.assign(&LazyTensor::zeros(&[2, 4], DType::F32).unwrap())
                .unwrap();
        }
    });
    assert_eq!(visited, 6);
    let idx = LazyTensor::from_vec(vec![1i64, 2], &[2])?;
    assert_eq!(net.forward(&idx)?.to_vec::<f32>()?, vec![0.0; 4]);
    Ok(())
}

#[test]
fn visit_mut_replaces_handles() -> R {
    let _g = support::serial();
    let mut fc = Linear::new(2, 2, 5)?;
    fc.visit_mut("", &mut |name, p| {
        if name == "bias" {
            *p = LazyTensor::from_vec(vec![10.0f32, 20.0], &[2]).unwrap();
        }
    });
    assert_eq!(fc.bias().unwrap().to_vec::<f32>()?, vec![10.0, 20.0]);
    Ok(())
}

#[test]
fn train_and_eval_propagate() -> R {
    let _g = support::serial();
    let mut net = Sequential::new().add(Linear::new(2, 2, 1)?).add(
        Sequential::new()
            .add(Dropout::with_seed(0.5, 1)?)
            .add(ReLU::new()),
    );
    assert!(net.is_training());
    net.eval();
    assert!(!net.is_training());
    let (_, inner) = net.get(1).unwrap();
    assert!(!inner.is_training());
    net.train(true);
    assert!(net.get(1).unwrap().1.is_training());
    // A module added to a sequence in eval mode takes its mode.
    let mut seq = Sequential::new();
    seq.eval();
    let seq = seq.add(Dropout::with_seed(0.5, 1)?);
    assert!(!seq.get(0).unwrap().1.is_training());
    Ok(())
}

#[test]
fn linear_init_bounds_and_determinism() -> R {
    let _g = support::serial();
    for (fan_in, out) in [(1usize, 5usize), (9, 300), (100, 50)] {
        let fc = Linear::new(fan_in, out, 77)?;
        let bound = 1.0 / (fan_in as f32).sqrt();
        let w = fc.weight().to_vec::<f32>()?;
        let b = fc.bias().unwrap().to_vec::<f32>()?;
        for v in w.iter().chain(&b) {
            assert!(v.abs() <= bound, "{v} outside ±{bound}");
        }
        // Uniform over the whole interval, not a narrower one.
        let max = w.iter().fold(0.0f32, |m, v| m.max(v.abs()));
        if w.len() >= 100 {
            assert!(max > 0.9 * bound, "max |w| {max} vs bound {bound}");
            let mean = w.iter().sum::<f32>() / w.len() as f32;
            assert!(mean.abs() < 0.1 * bound);
        }
        let again = Linear::new(fan_in, out, 77)?;
        assert_eq!(again.weight().to_vec::<f32>()?, w);
        assert_eq!(again.bias().unwrap().to_vec::<f32>()?, b);
        let other = Linear::new(fan_in, out, 78)?;
        assert_ne!(other.weight().to_vec::<f32>()?, w);
    }
    // Weight and bias come from distinct streams.
    let fc = Linear::new(4, 4, 3)?;
    let w = fc.weight().to_vec::<f32>()?;
    assert_ne!(&w[..4], &fc.bias().unwrap().to_vec::<f32>()?[..]);
    let f64_layer = Linear::with_options(4, 2, true, DType::F64, 3)?;
    assert_eq!(f64_layer.weight().dtype(), DType::F64);
    assert!(Linear::new(0, 3, 1).is_err());
    Ok(())
}

/// Dropout masks: fraction dropped ≈ p, kept values scaled by 1/(1-p), a new mask each
/// call, the same masks from the same seed, identity in eval mode, and no new graph per
/// step.
#[test]
fn dropout_statistics_and_scaling() -> R {
    let _g = support::serial();
    let n = 20_000;
    let x: Vec<f32> = (0..n).map(|i| 1.0 + (i % 7) as f32).collect();
    let xt = LazyTensor::from_vec(x.clone(), &[100, 200])?;
    for p in [0.1, 0.25, 0.5, 0.9] {
        let drop = Dropout::with_seed(p, 1234)?;
        let y = drop.forward(&xt)?.to_vec::<f32>()?;
        let scale = (1.0 / (1.0 - p)) as f32;
        let mut dropped = 0;
        for (xi, yi) in x.iter().zip(&y) {
            if *yi == 0.0 {
                dropped += 1;
            } else {
                assert_eq!(*yi, xi * scale, "kept values are scaled by 1/(1-p)");
            }
        }
        let frac = dropped as f64 / n as f64;
        let sigma = (p * (1.0 - p) / n as f64).sqrt();
        assert!(
            (frac - p).abs() < 5.0 * sigma,
            "p {p}: dropped fraction {frac}"
        );
    }
    Ok(())
}

#[test]
fn dropout_masks_per_step_seed_and_eval() -> R {
    let _g = support::serial();
    let x = LazyTensor::from_vec(vec![1.0f32; 333], &[333])?;
    let drop = Dropout::with_seed(0.5, 42)?;
    let mut masks = Vec::new();
    let mut compiles = Vec::new();
    for _ in 0..5 {
        let before = Counters::now();
        let y = drop.forward(&x)?;
        lazyjit::mark_step()?;
        compiles.push(before.delta(Counter::Compile));
        masks.push(y.to_vec::<f32>()?);
    }
    for i in 0..masks.len() {
        for j in 0..i {
            assert_ne!(masks[i], masks[j], "steps {i} and {j} drew the same mask");
        }
    }
    // One graph for every step: seed and offset are data, not constants.
    assert_eq!(compiles, [1, 0, 0, 0, 0]);
    assert_eq!(drop.offset(), 5);
    // The same seed replays the same masks, in order.
    let replay = Dropout::with_seed(0.5, 42)?;
    for m in &masks {
        assert_eq!(&replay.forward(&x)?.to_vec::<f32>()?, m);
    }
    // Resuming at an offset replays from there.
    let resumed = Dropout::with_seed(0.5, 42)?;
    resumed.set_offset(3);
    assert_eq!(resumed.forward(&x)?.to_vec::<f32>()?, masks[3]);
    // Another seed, other masks.
    let other = Dropout::with_seed(0.5, 43)?;
    assert_ne!(other.forward(&x)?.to_vec::<f32>()?, masks[0]);
    // Eval mode is the identity (the same tensor), and draws nothing.
    let mut drop = drop;
    drop.eval();
    let y = drop.forward(&x)?;
    assert_eq!(y.id(), x.id());
    assert_eq!(drop.offset(), 5);
    // p = 0 is the identity, p = 1 zeroes everything.
    assert_eq!(Dropout::with_seed(0.0, 1)?.forward(&x)?.id(), x.id());
    assert_eq!(
        Dropout::with_seed(1.0, 1)?.forward(&x)?.to_vec::<f32>()?,
        vec![0.0; 333]
    );
    assert!(Dropout::new(1.5).is_err());
    assert!(Dropout::new(-0.1).is_err());
    assert!(Dropout::new(f64::NAN).is_err());
    Ok(())
}

/// The gradient through dropout is the scaled mask.
#[test]
fn dropout_gradient_is_the_scaled_mask() -> R {
    let _g = support::serial();
    let x = LazyTensor::from_vec(vec![3.0f32; 64], &[64])?;
    x.set_requires_grad(true)?;
    let y = Dropout::with_seed(0.25, 9)?.forward(&x)?;
    y.sum_all()?.backward()?;
    let g = x.grad().unwrap().to_vec::<f32>()?;
    let y = y.to_vec::<f32>()?;
    let scale = (1.0f64 / 0.75) as f32;
    for (gi, yi) in g.iter().zip(&y) {
        assert_eq!(*gi, if *yi == 0.0 { 0.0 } else { scale });
    }
    Ok(())
}

#[test]
fn layer_norm_matches_host() -> R {
    let _g = support::serial();
    let rows = [[1.0f64, 2.0, 4.0, 8.0], [-1.0, 0.5, 0.25, 3.0]];
    let ln = LayerNorm::with_options(&[4], 1e-5, true, DType::F64)?;
    ln.weight()
        .unwrap()
        .assign(&LazyTensor::from_vec(vec![1.0f64, 2.0, 0.5, -1.0], &[4])?)?;
    ln.bias()
        .unwrap()
        .assign(&LazyTensor::from_vec(vec![0.0f64, 1.0, 0.0, 0.5], &[4])?)?;
    let x = LazyTensor::from_vec(rows.concat(), &[2, 4])?;
    let got = ln.forward(&x)?.to_vec::<f64>()?;
    let mut want = Vec::new();
    for r in rows {
        let mean = r.iter().sum::<f64>() / 4.0;
        let var = r.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / 4.0;
        for (i, v) in r.iter().enumerate() {
            let w = [1.0, 2.0, 0.5, -1.0][i];
            let b = [0.0, 1.0, 0.0, 0.5][i];
            want.push((v - mean) / (var + 1e-5).sqrt() * w + b);
        }
    }
    assert_close(&got, &want, 1e-12);
    // Over two dims.
    let ln2 = LayerNorm::new(&[2, 3])?;
    let y = ln2.forward(&LazyTensor::from_vec(
        (0..12).map(|v| v as f32).collect(),
        &[2, 2, 3],
    )?)?;
    assert_eq!(y.shape(), &[2, 2, 3]);
    let y = y.to_vec::<f32>()?;
    assert!(y[..6].iter().sum::<f32>().abs() < 1e-5);
    assert!(ln2
        .forward(&LazyTensor::zeros(&[2, 3, 2], DType::F32)?)
        .is_err());
    assert_eq!(ln2.named_parameters().len(), 2);
    assert!(LayerNorm::with_options(&[3], 1e-5, false, DType::F32)?
        .named_parameters()
        .is_empty());
    Ok(())
}

#[test]
fn embedding_and_flatten() -> R {
    let _g = support::serial();
    let table = LazyTensor::from_vec((0..12).map(|v| v as f32).collect(), &[4, 3])?;
    let emb = Embedding::from_weight(table)?;
    let idx = LazyTensor::from_vec(vec![3i64, 0, 3, 1], &[2, 2])?;
    let y = emb.forward(&idx)?;
    assert_eq!(y.shape(), &[2, 2, 3]);
    assert_eq!(
        y.to_vec::<f32>()?,
        vec![9.0, 10.0, 11.0, 0.0, 1.0, 2.0, 9.0, 10.0, 11.0, 3.0, 4.0, 5.0]
    );
    // Gradients scatter back into the rows used.
    y.sum_all()?.backward()?;
    assert_eq!(
        emb.weight().grad().unwrap().to_vec::<f32>()?,
        vec![1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 0.0, 0.0, 0.0, 2.0, 2.0, 2.0]
    );
    let seeded = Embedding::new(5, 2, 8)?;
    assert_eq!(
        seeded.weight().to_vec::<f32>()?,
        Embedding::new(5, 2, 8)?.weight().to_vec::<f32>()?
    );
    let x = LazyTensor::zeros(&[2, 3, 4, 5], DType::F32)?;
    assert_eq!(Flatten::new().forward(&x)?.shape(), &[2, 60]);
    assert_eq!(Flatten::with_dims(1, 2).forward(&x)?.shape(), &[2, 12, 5]);
    Ok(())
}

#[test]
fn activations() -> R {
    let _g = support::serial();
    let v = [-2.0f64, -0.5, 0.0, 0.7, 3.0];
    let x = LazyTensor::from_vec(v.to_vec(), &[5])?;
    type Case = (Box<dyn Module>, fn(f64) -> f64);
    let cases: [Case; 6] = [
        (Box::new(ReLU::new()), |x| x.max(0.0)),
        (Box::new(Sigmoid::new()), |x| 1.0 / (1.0 + (-x).exp())),
        (Box::new(Tanh::new()), f64::tanh),
        (Box::new(SiLU::new()), |x| x / (1.0 + (-x).exp())),
        (Box::new(LeakyReLU::new(0.1)), |x| {
            if x > 0.0 {
                x
            } else {
                0.1 * x
            }
        }),
        // GELU checked against tabulated values of x·Φ(x) below.
        (Box::new(GELU::new()), |x| x),
    ];
    for (i, (m, f)) in cases.iter().enumerate() {
        let got = m.forward(&x)?.to_vec::<f64>()?;
        if i == 5 {
            let want = [
                -0.04550026389635842,
                -0.15426876936299344,
                0.0,
                0.5306254434438489,
                2.99595030590511,
            ];
            assert_close(&got, &want, 1e-8);
        } else {
            let want: Vec<f64> = v.iter().map(|&x| f(x)).collect();
            assert_close(&got, &want, 1e-12);
        }
        assert!(m.named_parameters().is_empty());
    }
    let _ = nn::join("a", "b");
    Ok(())
}
