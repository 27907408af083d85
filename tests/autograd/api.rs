//! The autograd API: accumulation, zero_grad, no_grad, detach, assign and versions,
//! released graphs, syncs in mid-step, integer results, deep graphs, and one compile per
//! training step.

use super::support;
use lazyjit::metrics::Counter;
use lazyjit::{autograd, DType, Error, LazyTensor};

fn leaf(v: Vec<f32>, shape: &[usize]) -> LazyTensor {
    let t = LazyTensor::from_vec(v, shape).unwrap();
    t.set_requires_grad(true).unwrap();
    t
}

fn grad(t: &LazyTensor) -> Vec<f32> {
    t.grad().expect("has a gradient").to_vec::<f32>().unwrap()
}

fn op_message(e: Error) -> String {
    match e {
        Error::Op { op, message, .. } => format!("{op}: {message}"),
        other => panic!("expected an op error, got {other}"),
    }
}

#[test]
fn backward_accumulates_until_zero_grad() {
    let _serial = crate::support::serial();
    let w = leaf(vec![1.0, 2.0], &[2]);
    for _ in 0..2 {
        w.mul(&w).unwrap().sum_all().unwrap().backward().unwrap();
    }
    assert_eq!(grad(&w), vec![4.0, 8.0]);
    w.zero_grad();
    assert!(w.grad().is_none());
    w.sum_all().unwrap().backward().unwrap();
    assert_eq!(grad(&w), vec![1.0, 1.0]);
}

#[test]
fn shared_subexpressions_accumulate() {
    let _serial = crate::support::serial();
    let x = leaf(vec![3.0], &[1]);
    let y = x.mul(&x).unwrap(); // x²
    let z = y.add(&y).unwrap().add(&x).unwrap(); // 2x² + x
    z.sum_all().unwrap().backward().unwrap();
    assert_eq!(grad(&x), vec![13.0]);
}

#[test]
fn a_sync_in_mid_step_does_not_break_the_backward_pass() {
    let _serial = crate::support::serial();
    let w = leaf(vec![0.5, -1.0, 2.0], &[3]);
    let x = LazyTensor::from_vec(vec![1.0f32, 2.0, 3.0], &[3]).unwrap();
    let h = w.mul(&x).unwrap().tanh().unwrap();
    let loss = h.sum_all().unwrap();
    let logged = loss.item::<f32>().unwrap(); // syncs: h and loss are now data
    assert!(!h.is_pending() || !loss.is_pending());
    loss.backward().unwrap();
    let expect: Vec<f32> = [0.5f32, -1.0, 2.0]
        .iter()
        .zip([1.0f32, 2.0, 3.0])
        .map(|(w, x)| x * (1.0 - (w * x).tanh().powi(2)))
        .collect();
    for (g, e) in grad(&w).iter().zip(&expect) {
        assert!((g - e).abs() < 1e-5, "{g} vs {e}");
    }
    assert!((logged - (0.5f32.tanh() + (-2f32).tanh() + 6f32.tanh())).abs() < 1e-5);
}

#[test]
fn no_grad_and_detach_stop_gradients() {
    let _serial = crate::support::serial();
    let w = leaf(vec![2.0], &[1]);
    let y = autograd::no_grad(|| w.mul_scalar(3.0)).unwrap();
    assert!(!y.requires_grad() && y.is_leaf());
    assert!(autograd::is_grad_enabled());
    let e = op_message(y.sum_all().unwrap().backward().unwrap_err());
    assert!(e.contains("does not require a gradient"), "{e}");
    {
        let _guard = autograd::NoGradGuard::new();
        assert!(!autograd::is_grad_enabled());
    }
    assert!(autograd::is_grad_enabled());
    let z = w.mul(&w.detach()).unwrap(); // d/dw (w · w₀) = w₀
    z.sum_all().unwrap().backward().unwrap();
    assert_eq!(grad(&w), vec![2.0]);
}

#[test]
fn integer_and_bool_results_carry_no_gradient() {
    let _serial = crate::support::serial();
    let w = leaf(vec![1.0, 5.0, 3.0], &[3]);
    assert!(!w.argmax(0, false).unwrap().requires_grad());
    assert!(!w.gt_scalar(2.0).unwrap().requires_grad());
    assert!(!w.cast(DType::I32).unwrap().requires_grad());
    assert!(w.cast(DType::F64).unwrap().requires_grad());
    let e = op_message(
        LazyTensor::from_vec(vec![1i32], &[1])
            .unwrap()
            .set_requires_grad(true)
            .unwrap_err(),
    );
    assert!(e.contains("only float tensors") && e.contains("i32"), "{e}");
    let e = op_message(w.exp().unwrap().set_requires_grad(false).unwrap_err());
    assert!(e.contains("only leaves"), "{e}");
}

#[test]
fn the_graph_is_released_unless_retained() {
    let _serial = crate::support::serial();
    let w = leaf(vec![1.0, 2.0], &[2]);
    let loss = w.exp().unwrap().sum_all().unwrap();
    loss.backward_with_options(None, true).unwrap();
    loss.backward().unwrap(); // retained once, released now
    let e = op_message(loss.backward().unwrap_err());
    assert!(e.contains("already released"), "{e}");
    let g = grad(&w);
    assert!((g[0] - 2.0 * 1f32.exp()).abs() < 1e-5 && (g[1] - 2.0 * 2f32.exp()).abs() < 1e-4);
}

#[test]
fn a_value_assigned_after_use_fails_the_backward_pass() {
    let _serial = crate::support::serial();
    let w = leaf(vec![1.0, 2.0], &[2]);
    let loss = w.mul(&w).unwrap().sum_all().unwrap();
    autograd::no_grad(|| w.assign(&w.mul_scalar(0.5).unwrap())).unwrap();
    let e = op_message(loss.backward().unwrap_err());
    assert!(e.contains("assigned a new value"), "{e}");
    // assign keeps identity, flag and dtype rules.
    assert!(w.requires_grad());
    assert_eq!(w.to_vec::<f32>().unwrap(), vec![0.5, 1.0]);
    let e = op_message(
        w.assign(&LazyTensor::zeros(&[3], DType::F32).unwrap())
            .unwrap_err(),
    );
    assert!(e.contains("f32[3]") && e.contains("f32[2]"), "{e}");
    let e = op_message(w.assign(&w.exp().unwrap()).unwrap_err());
    assert!(e.contains("gradient history"), "{e}");
    let e = op_message(w.exp().unwrap().assign(&w.detach()).unwrap_err());
    assert!(e.contains("only leaves"), "{e}");
}

#[test]
fn explicit_output_gradients_and_their_errors() {
    let _serial = crate::support::serial();
    let x = leaf(vec![1.0, 2.0, 3.0], &[3]);
    let y = x.mul_scalar(2.0).unwrap();
    let e = op_message(y.backward().unwrap_err());
    assert!(e.contains("one-element") && e.contains("f32[3]"), "{e}");
    let e = op_message(
        y.backward_with(&LazyTensor::ones(&[2], DType::F32).unwrap())
            .unwrap_err(),
    );
    assert!(e.contains("f32[2]") && e.contains("f32[3]"), "{e}");
    y.backward_with(&LazyTensor::from_vec(vec![1.0f32, 0.0, -1.0], &[3]).unwrap())
        .unwrap();
    assert_eq!(grad(&x), vec![2.0, 0.0, -2.0]);
}

#[test]
fn a_deep_chain_does_not_overflow_the_stack() {
    let _serial = crate::support::serial();
    let x = leaf(vec![1.0], &[1]);
    let mut y = x.clone();
    for _ in 0..20_000 {
        y = y.mul_scalar(1.0001).unwrap();
    }
    y.sum_all().unwrap().backward().unwrap();
    let expect = 1.0001f64.powi(20_000) as f32;
    assert!(
        (grad(&x)[0] - expect).abs() < 1e-2 * expect,
        "{:?}",
        grad(&x)
    );
}

/// The LTC training loop: forward, backward and an SGD update recorded lazily and cut by
/// `mark_step`: the first step compiles, every later one is a cache hit.
#[test]
fn a_training_step_compiles_once_and_then_hits_the_cache() {
    let _serial = support::serial();
    let w = leaf(vec![0.1, -0.2, 0.3, 0.05, 0.0, -0.1], &[2, 3]);
    let b = leaf(vec![0.0, 0.0], &[2]);
    let x = LazyTensor::from_vec(
        vec![1.0f32, 2.0, -1.0, 0.5, 0.0, 1.5, -2.0, 1.0, 0.25],
        &[3, 3],
    )
    .unwrap();
    let y = LazyTensor::from_vec(vec![0i64, 1, 1], &[3]).unwrap();
    let lr = LazyTensor::from_vec(vec![0.5f32], &[]).unwrap();
    let mut losses = Vec::new();
    let mut compiles = Vec::new();
    for _ in 0..6 {
        let before = support::Counters::now();
        let loss = x.linear(&w, Some(&b)).unwrap().cross_entropy(&y).unwrap();
        loss.backward().unwrap();
        autograd::no_grad(|| -> lazyjit::Result<()> {
            for p in [&w, &b] {
                p.assign(&p.sub(&p.grad().unwrap().mul(&lr)?)?)?;
                p.zero_grad();
            }
            Ok(())
        })
        .unwrap();
        lazyjit::mark_step().unwrap();
        losses.push(loss.item::<f32>().unwrap());
        compiles.push(before.delta(Counter::Compile));
    }
    assert!(
        losses.windows(2).all(|p| p[1] < p[0]),
        "loss falls: {losses:?}"
    );
    assert_eq!(compiles, vec![1, 0, 0, 0, 0, 0]);
}
