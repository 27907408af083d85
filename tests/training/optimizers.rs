//! Each optimizer against its formula computed by hand on the host in f64, on
//! `loss = Σ c·p²` (gradient `2·c·p`), for several steps; parameters without a gradient;
//! the compile count of a step whose learning rate and step count change; `StepLr`.

use crate::support::{self, Counters};
use crate::{assert_close, param64, R};
use lazyjit::metrics::Counter;
use lazyjit::optim::{
    Adadelta, AdadeltaConfig, Adam, AdamConfig, AdamW, Optimizer, Sgd, SgdConfig, StepLr,
};
use lazyjit::LazyTensor;

const P0: [f64; 4] = [1.0, -2.0, 0.5, 3.0];
const C: [f64; 4] = [0.5, 1.0, 2.0, 0.25];
const STEPS: usize = 4;

fn host_grad(p: &[f64]) -> Vec<f64> {
    p.iter().zip(C).map(|(p, c)| 2.0 * c * p).collect()
}

/// Runs `steps` lazy steps of `opt` on `loss = Σ c·p²` (one mark_step each), calling
/// `before_step(step, opt)` first; returns the parameter after every step and the number
/// of compiles each step caused.
fn lazy_run(
    p: &LazyTensor,
    opt: &mut dyn Optimizer,
    steps: usize,
    mut before_step: impl FnMut(usize, &mut dyn Optimizer),
) -> R<(Vec<Vec<f64>>, Vec<u64>)> {
    let c = LazyTensor::from_vec(C.to_vec(), &[C.len()])?;
    let mut traj = Vec::new();
    let mut compiles = Vec::new();
    for step in 0..steps {
        before_step(step, opt);
        let before = Counters::now();
        opt.zero_grad();
        p.mul(p)?.mul(&c)?.sum_all()?.backward()?;
        opt.step()?;
        lazyjit::mark_step()?;
        compiles.push(before.delta(Counter::Compile));
        traj.push(p.to_vec::<f64>()?);
    }
    Ok((traj, compiles))
}

/// The host reference: `update(step, p, g)` changes `p` in place given the gradient.
fn host_run(steps: usize, mut update: impl FnMut(usize, &mut [f64], &[f64])) -> Vec<Vec<f64>> {
    let mut p = P0.to_vec();
    (0..steps)
        .map(|s| {
            let g = host_grad(&p);
            update(s, &mut p, &g);
            p.clone()
        })
        .collect()
}

fn check_sgd(cfg: SgdConfig) -> R {
    let _g = support::serial();
    let p = param64(&P0);
    let mut opt = Sgd::new(vec![p.clone()], cfg)?;
    let (got, _) = lazy_run(&p, &mut opt, STEPS, |_, _| {})?;
    let mut b: Option<Vec<f64>> = None;
    let want = host_run(STEPS, |_, p, g| {
        let mut g: Vec<f64> = g
            .iter()
            .zip(p.iter())
            .map(|(g, p)| g + cfg.weight_decay * p)
            .collect();
        if cfg.momentum != 0.0 {
            let nb: Vec<f64> = match &b {
                None => g.clone(), // PyTorch: b = g on the first step
                Some(b) => b
                    .iter()
                    .zip(&g)
                    .map(|(b, g)| cfg.momentum * b + g)
                    .collect(),
            };
            g = if cfg.nesterov {
                g.iter()
                    .zip(&nb)
                    .map(|(g, b)| g + cfg.momentum * b)
                    .collect()
            } else {
                nb.clone()
            };
            b = Some(nb);
        }
        for (p, g) in p.iter_mut().zip(&g) {
            *p -= cfg.lr * g;
        }
    });
    assert_close(&got.concat(), &want.concat(), 1e-13);
    Ok(())
}

#[test]
fn sgd_plain() -> R {
    check_sgd(SgdConfig {
        lr: 0.1,
        ..Default::default()
    })
}

#[test]
fn sgd_momentum() -> R {
    check_sgd(SgdConfig {
        lr: 0.05,
        momentum: 0.9,
        ..Default::default()
    })
}

#[test]
fn sgd_nesterov_weight_decay() -> R {
    check_sgd(SgdConfig {
        lr: 0.05,
        momentum: 0.8,
        nesterov: true,
        weight_decay: 0.1,
    })
}

#[test]
fn sgd_weight_decay_without_momentum() -> R {
    check_sgd(SgdConfig {
        lr: 0.1,
        weight_decay: 0.3,
        ..Default::default()
    })
}

fn check_adam(cfg: AdamConfig, decoupled: bool) -> R {
    let _g = support::serial();
    let p = param64(&P0);
    let mut opt: Box<dyn Optimizer> = if decoupled {
        Box::new(AdamW::new(vec![p.clone()], cfg)?)
    } else {
        Box::new(Adam::new(vec![p.clone()], cfg)?)
    };
    let (got, _) = lazy_run(&p, opt.as_mut(), STEPS, |_, _| {})?;
    let (b1, b2) = cfg.betas;
    let (mut m, mut v) = (vec![0.0; 4], vec![0.0; 4]);
    let want = host_run(STEPS, |s, p, g| {
        let t = (s + 1) as i32;
        let mut g = g.to_vec();
        for i in 0..4 {
            if decoupled {
                p[i] -= cfg.lr * cfg.weight_decay * p[i];
            } else {
                g[i] += cfg.weight_decay * p[i];
            }
            m[i] = b1 * m[i] + (1.0 - b1) * g[i];
            v[i] = b2 * v[i] + (1.0 - b2) * g[i] * g[i];
            let m_hat = m[i] / (1.0 - b1.powi(t));
            let v_hat = v[i] / (1.0 - b2.powi(t));
            p[i] -= cfg.lr * m_hat / (v_hat.sqrt() + cfg.eps);
        }
    });
    assert_close(&got.concat(), &want.concat(), 1e-12);
    Ok(())
}

#[test]
fn adam_defaults() -> R {
    check_adam(
        AdamConfig {
            lr: 0.1,
            ..Default::default()
        },
        false,
    )
}

#[test]
fn adam_weight_decay_and_betas() -> R {
    check_adam(
        AdamConfig {
            lr: 0.05,
            betas: (0.8, 0.99),
            eps: 1e-3,
            weight_decay: 0.2,
        },
        false,
    )
}

#[test]
fn adamw() -> R {
    check_adam(
        AdamConfig {
            lr: 0.05,
            weight_decay: 0.1,
            ..AdamConfig::adamw()
        },
        true,
    )
}

/// With bias correction the first Adam step is `lr·g/(|g| + ε)` (about lr per element);
/// without it, it would be `lr·(1−β1)·g/(sqrt(1−β2)·|g| + ε)`, about 3.16·lr.
#[test]
fn adam_bias_correction_first_step() -> R {
    let _g = support::serial();
    let p = param64(&P0);
    let cfg = AdamConfig {
        lr: 0.01,
        ..Default::default()
    };
    let mut opt = Adam::new(vec![p.clone()], cfg)?;
    let (got, _) = lazy_run(&p, &mut opt, 1, |_, _| {})?;
    let g = host_grad(&P0);
    let want: Vec<f64> = P0
        .iter()
        .zip(&g)
        .map(|(p, g)| p - cfg.lr * g / (g.abs() + cfg.eps))
        .collect();
    assert_close(&got[0], &want, 1e-14);
    assert_eq!(opt.step_count(0), 1);
    Ok(())
}

#[test]
fn adadelta() -> R {
    let _g = support::serial();
    for cfg in [
        AdadeltaConfig::default(),
        AdadeltaConfig {
            lr: 0.5,
            rho: 0.8,
            eps: 1e-4,
            weight_decay: 0.1,
        },
    ] {
        let p = param64(&P0);
        let mut opt = Adadelta::new(vec![p.clone()], cfg)?;
        let (got, _) = lazy_run(&p, &mut opt, STEPS, |_, _| {})?;
        let (mut v, mut u) = (vec![0.0; 4], vec![0.0; 4]);
        let want = host_run(STEPS, |_, p, g| {
            for i in 0..4 {
                let g = g[i] + cfg.weight_decay * p[i];
                v[i] = cfg.rho * v[i] + (1.0 - cfg.rho) * g * g;
                let delta = (u[i] + cfg.eps).sqrt() / (v[i] + cfg.eps).sqrt() * g;
                u[i] = cfg.rho * u[i] + (1.0 - cfg.rho) * delta * delta;
                p[i] -= cfg.lr * delta;
            }
        });
        assert_close(&got.concat(), &want.concat(), 1e-12);
    }
    Ok(())
}

/// f32 parameters follow the same formulas (to f32 precision).
#[test]
fn adam_f32() -> R {
    let _g = support::serial();
    let p = LazyTensor::from_vec(P0.iter().map(|&v| v as f32).collect(), &[4])?;
    p.set_requires_grad(true)?;
    let c = LazyTensor::from_vec(C.iter().map(|&v| v as f32).collect(), &[4])?;
    let cfg = AdamConfig {
        lr: 0.1,
        ..Default::default()
    };
    let mut opt = Adam::new(vec![p.clone()], cfg)?;
    let p64 = param64(&P0);
    let mut opt64 = Adam::new(vec![p64.clone()], cfg)?;
    let (want, _) = lazy_run(&p64, &mut opt64, STEPS, |_, _| {})?;
    for _ in 0..STEPS {
        opt.zero_grad();
        p.mul(&p)?.mul(&c)?.sum_all()?.backward()?;
        opt.step()?;
        lazyjit::mark_step()?;
    }
    let got: Vec<f64> = p.to_vec::<f32>()?.iter().map(|&v| v as f64).collect();
    assert_close(&got, &want[STEPS - 1], 1e-5);
    Ok(())
}

/// Parameters without a gradient are skipped: unchanged, no state, no step counted.
#[test]
fn parameters_without_gradient_are_skipped() -> R {
    let _g = support::serial();
    let used = param64(&[1.0, 2.0]);
    let unused = param64(&[5.0, 6.0]);
    let mut adam = Adam::new(vec![unused.clone(), used.clone()], AdamConfig::default())?;
    let mut sgd = Sgd::new(
        vec![unused.clone(), used.clone()],
        SgdConfig {
            momentum: 0.9,
            ..Default::default()
        },
    )?;
    for opt in [&mut adam as &mut dyn Optimizer, &mut sgd] {
        opt.zero_grad();
        used.square()?.sum_all()?.backward()?;
        opt.step()?;
        lazyjit::mark_step()?;
    }
    assert_eq!(unused.to_vec::<f64>()?, vec![5.0, 6.0]);
    assert!(adam.moments(0).is_none() && adam.moments(1).is_some());
    assert_eq!((adam.step_count(0), adam.step_count(1)), (0, 1));
    assert!(sgd.momentum_buffer(0).is_none() && sgd.momentum_buffer(1).is_some());
    assert_ne!(used.to_vec::<f64>()?, vec![1.0, 2.0]);
    Ok(())
}

/// The learning rate and the step count are data: after the first step, further steps —
/// with StepLr changing the learning rate every epoch — compile nothing. The first step
/// compiles once (its state starts as zero data, the same graph as later steps).
#[test]
fn per_step_values_do_not_recompile() -> R {
    let _g = support::serial();
    type Make = fn(Vec<LazyTensor>) -> R<Box<dyn Optimizer>>;
    let makers: [(&str, Make); 5] = [
        ("sgd", |p| {
            Ok(Box::new(Sgd::new(
                p,
                SgdConfig {
                    lr: 0.01,
                    momentum: 0.9,
                    nesterov: true,
                    weight_decay: 0.01,
                },
            )?))
        }),
        ("sgd-plain", |p| {
            Ok(Box::new(Sgd::new(p, SgdConfig::default())?))
        }),
        ("adam", |p| {
            Ok(Box::new(Adam::new(p, AdamConfig::default())?))
        }),
        ("adamw", |p| {
            Ok(Box::new(AdamW::new(p, AdamConfig::adamw())?))
        }),
        ("adadelta", |p| {
            Ok(Box::new(Adadelta::new(p, AdadeltaConfig::default())?))
        }),
    ];
    for (name, make) in makers {
        // A shape of its own per optimizer, so no graph is cached from another test.
        let p0: Vec<f64> = (0..7 + name.len()).map(|i| i as f64 * 0.1 - 0.3).collect();
        let p = param64(&p0);
        let mut opt = make(vec![p.clone()])?;
        let mut sched = StepLr::new(opt.as_ref(), 1, 0.7)?;
        let c = LazyTensor::from_vec(vec![0.5f64; p0.len()], &[p0.len()])?;
        let mut compiles = Vec::new();
        for step in 0..6 {
            let before = Counters::now();
            opt.zero_grad();
            p.mul(&p)?.mul(&c)?.sum_all()?.backward()?;
            opt.step()?;
            lazyjit::mark_step()?;
            compiles.push(before.delta(Counter::Compile));
            if step >= 1 {
                sched.step(opt.as_mut()); // a new learning rate every step from step 2 on
            }
        }
        assert_eq!(compiles, [1, 0, 0, 0, 0, 0], "{name}: compiles per step");
        assert!((opt.lr() - sched.lr()).abs() < 1e-18);
    }
    Ok(())
}

/// Changing the learning rate mid-run follows the host formula (the new value is used).
#[test]
fn set_lr_takes_effect() -> R {
    let _g = support::serial();
    let p = param64(&P0);
    let mut opt = Sgd::new(
        vec![p.clone()],
        SgdConfig {
            lr: 0.1,
            ..Default::default()
        },
    )?;
    let lrs = [0.1, 0.1, 0.02, 0.3];
    let (got, _) = lazy_run(&p, &mut opt, 4, |s, o| o.set_lr(lrs[s]))?;
    let want = host_run(4, |s, p, g| {
        for (p, g) in p.iter_mut().zip(g) {
            *p -= lrs[s] * g;
        }
    });
    assert_close(&got.concat(), &want.concat(), 1e-14);
    Ok(())
}

#[test]
fn step_lr_values() -> R {
    let _g = support::serial();
    let p = param64(&[1.0]);
    let mut opt = Sgd::new(
        vec![p],
        SgdConfig {
            lr: 0.8,
            ..Default::default()
        },
    )?;
    let mut sched = StepLr::new(&opt, 3, 0.5)?;
    let mut lrs = vec![opt.lr()];
    for _ in 0..9 {
        sched.step(&mut opt);
        lrs.push(opt.lr());
    }
    // lr = 0.8 · 0.5^⌊epoch/3⌋
    assert_eq!(
        lrs,
        [0.8, 0.8, 0.8, 0.4, 0.4, 0.4, 0.2, 0.2, 0.2, 0.1],
        "epochs 0..=9"
    );
    assert_eq!(sched.epoch(), 9);
    assert_eq!(sched.lr_at(30), 0.8 * 0.5f64.powi(10));
    assert!(StepLr::new(&opt, 0, 0.5).is_err());
    assert!(StepLr::new(&opt, 1, f64::NAN).is_err());
    Ok(())
}

#[test]
fn bad_hyperparameters_and_parameters() -> R {
    let _g = support::serial();
    let p = param64(&[1.0]);
    let bad_sgd = [
        SgdConfig {
            lr: -1.0,
            ..Default::default()
        },
        SgdConfig {
            nesterov: true,
            ..Default::default()
        },
        SgdConfig {
            momentum: f64::NAN,
            ..Default::default()
        },
    ];
    for cfg in bad_sgd {
        assert!(Sgd::new(vec![p.clone()], cfg).is_err(), "{cfg:?}");
    }
    let e = Adam::new(
        vec![p.clone()],
        AdamConfig {
            betas: (1.0, 0.999),
            ..Default::default()
        },
    )
    .err()
    .unwrap();
    assert!(e.to_string().contains("beta1"), "{e}");
    assert!(Adadelta::new(
        vec![p.clone()],
        AdadeltaConfig {
            rho: 1.5,
            ..Default::default()
        }
    )
    .is_err());
    // The same tensor twice, an integer tensor, a non-leaf.
    let e = Sgd::new(vec![p.clone(), p.clone()], SgdConfig::default())
        .err()
        .unwrap();
    assert!(e.to_string().contains("more than once"), "{e}");
    let ints = LazyTensor::from_vec(vec![1i64], &[1])?;
    assert!(Adam::new(vec![ints], AdamConfig::default()).is_err());
    let computed = p.mul_scalar(2.0)?;
    assert!(AdamW::new(vec![computed], AdamConfig::adamw()).is_err());
    Ok(())
}
