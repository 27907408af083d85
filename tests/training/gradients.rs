//! Gradients through the layers (Linear on rank-3 input, LayerNorm over two dims, a
//! classifier head, activations) against central finite differences in f64, and gradient
//! accumulation across steps.

use crate::support;
use crate::R;
use lazyjit::nn::{LayerNorm, Linear, Module};
use lazyjit::{DType, LazyTensor};

/// Checks the gradient of the scalar `f(x)` at `x0` against central differences.
fn fd_check(f: &dyn Fn(&LazyTensor) -> R<LazyTensor>, x0: Vec<f64>, shape: &[usize]) -> R {
    let x = LazyTensor::from_vec(x0.clone(), shape)?;
    x.set_requires_grad(true)?;
    f(&x)?.backward()?;
    let g = x.grad().unwrap().to_vec::<f64>()?;
    let h = 1e-6;
    for i in 0..x0.len() {
        let mut a = x0.clone();
        a[i] += h;
        let mut b = x0.clone();
        b[i] -= h;
        let fa = lazyjit::autograd::no_grad(|| f(&LazyTensor::from_vec(a, shape).unwrap()))?
            .item::<f64>()?;
        let fb = lazyjit::autograd::no_grad(|| f(&LazyTensor::from_vec(b, shape).unwrap()))?
            .item::<f64>()?;
        let num = (fa - fb) / (2.0 * h);
        assert!(
            (num - g[i]).abs() < 1e-5 * num.abs().max(1.0),
            "elem {i}: fd {num} vs ad {}",
            g[i]
        );
    }
    Ok(())
}

#[test]
fn layer_gradients_match_finite_differences() -> R {
    let _g = support::serial();
    let fc = Linear::with_options(4, 5, true, DType::F64, 3)?;
    let x0: Vec<f64> = (0..24).map(|i| (i as f64 * 0.37).sin()).collect();
    let c = LazyTensor::from_vec(
        (0..30)
            .map(|i| (i as f64 * 0.11).cos())
            .collect::<Vec<f64>>(),
        &[2, 3, 5],
    )?;
    fd_check(
        &|x| fc.forward(x)?.mul(&c)?.sum_all(),
        x0.clone(),
        &[2, 3, 4],
    )?;
    let ln = LayerNorm::with_options(&[3, 4], 1e-5, true, DType::F64)?;
    let c2 = LazyTensor::from_vec(
        (0..24)
            .map(|i| (i as f64 * 0.7).cos())
            .collect::<Vec<f64>>(),
        &[2, 3, 4],
    )?;
    fd_check(
        &|x| ln.forward(x)?.mul(&c2)?.sum_all(),
        x0.clone(),
        &[2, 3, 4],
    )?;
    fd_check(
        &|w| x0t()?.linear(w, None)?.mul(&c)?.sum_all(),
        (0..20).map(|i| (i as f64 * 0.3).sin()).collect(),
        &[5, 4],
    )?;
    // A classifier head: log_softmax and nll_loss after a linear layer.
    let y = LazyTensor::from_vec(vec![1i64, 0, 4, 2, 3, 1], &[6])?;
    fd_check(
        &|x| {
            x.reshape(&[6, 4])?
                .linear(fc.weight(), fc.bias())?
                .log_softmax(1)?
                .nll_loss(&y)
        },
        x0.clone(),
        &[2, 3, 4],
    )?;
    fd_check(
        &|x| x.reshape(&[6, 4])?.gelu()?.silu()?.tanh()?.sum_all(),
        x0,
        &[2, 3, 4],
    )?;
    Ok(())
}

fn x0t() -> R<LazyTensor> {
    LazyTensor::from_vec(
        (0..24)
            .map(|i| (i as f64 * 0.37).sin())
            .collect::<Vec<f64>>(),
        &[2, 3, 4],
    )
}

#[test]
fn gradients_accumulate_across_steps() -> R {
    let _g = support::serial();
    let w = LazyTensor::from_vec(vec![1.0f64, 2.0], &[2])?;
    w.set_requires_grad(true)?;
    w.square()?.sum_all()?.backward()?;
    lazyjit::mark_step()?;
    w.mul_scalar(3.0)?.sum_all()?.backward()?;
    assert_eq!(w.grad().unwrap().to_vec::<f64>()?, vec![5.0, 7.0]);
    Ok(())
}
