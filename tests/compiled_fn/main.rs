//! Compiled functions (`lazyjit::compile`): tracing once per input signature, the cases
//! LTC's `ReturnValueHandler` and `duplicate_eager_tensors` exist for, captured tensors,
//! data-dependent control flow, the call forms, and threads.
//!
//! Each test checks its function's own counts (`CompiledFn::stats`), never global metrics,
//! so tests may run on parallel threads.

mod calls;
mod closures;
mod threads;

use lazyjit::{LazyTensor, Result};

/// `[0, 1, ..., n-1] * scale + shift` as f32.
fn ramp(n: usize, scale: f32, shift: f32) -> LazyTensor {
    let v: Vec<f32> = (0..n).map(|i| i as f32 * scale + shift).collect();
    LazyTensor::from_vec(v, &[n]).unwrap()
}

fn values(t: &LazyTensor) -> Vec<f32> {
    t.to_vec::<f32>().unwrap()
}

/// `exp(a * b) - a`, traced eagerly (the expected value of the compiled `f`).
fn expected(a: &LazyTensor, b: &LazyTensor) -> Result<Vec<f32>> {
    a.mul(b)?.exp()?.sub(a)?.to_vec::<f32>()
}

fn f(x: &[LazyTensor]) -> Result<Vec<LazyTensor>> {
    Ok(vec![x[0].mul(&x[1])?.exp()?.sub(&x[0])?])
}

fn close(a: &[f32], b: &[f32]) -> bool {
    a.len() == b.len()
        && a.iter()
            .zip(b)
            .all(|(x, y)| (x - y).abs() <= 1e-5 * (1.0 + y.abs()))
}
