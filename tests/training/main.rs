//! Training on lazy tensors: `lazyjit::nn` (modules, initialisation, dropout, save/load)
//! and `lazyjit::optim` (optimizers against their formulas computed on the host in f64,
//! learning-rate schedules), and a small end-to-end training run whose step compiles once.

#[path = "../support/mod.rs"]
mod support;

mod end_to_end;
mod gradients;
mod modules;
mod optimizers;
mod serialize;

use lazyjit::LazyTensor;

type R<T = ()> = lazyjit::Result<T>;

/// A leaf parameter holding `v` (f64), requiring a gradient.
fn param64(v: &[f64]) -> LazyTensor {
    let p = LazyTensor::from_vec(v.to_vec(), &[v.len()]).unwrap();
    p.set_requires_grad(true).unwrap();
    p
}

/// Asserts `a ≈ b` elementwise within `tol` relative to max(1, |b|).
#[track_caller]
fn assert_close(a: &[f64], b: &[f64], tol: f64) {
    assert_eq!(a.len(), b.len(), "lengths differ: {a:?} vs {b:?}");
    for (i, (x, y)) in a.iter().zip(b).enumerate() {
        assert!(
            (x - y).abs() <= tol * y.abs().max(1.0),
            "element {i}: {x} vs {y} (tolerance {tol})\n  got      {a:?}\n  expected {b:?}"
        );
    }
}
