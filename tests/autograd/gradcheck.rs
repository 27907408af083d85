//! The gradient check: `autograd::grad` of `Σ f(x)·r` (a fixed random cotangent `r`, so
//! every output element's Jacobian row is exercised) against central differences of the
//! same scalar, in f64.

use lazyjit::{autograd, config, BackendKind, DType, LazyTensor};
use lazyjit_lowering::testing::rng::Rng;

pub type R<T = LazyTensor> = lazyjit::Result<T>;

/// One input of a checked function: values and shape.
#[derive(Clone)]
pub struct Input {
    pub values: Vec<f64>,
    pub shape: Vec<usize>,
}

/// Uniform values in `[lo, hi)`.
pub fn uniform(shape: &[usize], lo: f64, hi: f64, seed: u64) -> Input {
    let mut rng = Rng::new(seed);
    let n = shape.iter().product();
    Input {
        values: (0..n).map(|_| lo + (hi - lo) * rng.unit()).collect(),
        shape: shape.to_vec(),
    }
}

/// Uniform values in `±[lo, hi)` (both signs, kept away from 0: for kinks at 0).
pub fn away_from_zero(shape: &[usize], lo: f64, hi: f64, seed: u64) -> Input {
    let mut rng = Rng::new(seed ^ 0x5eed);
    let mut x = uniform(shape, lo, hi, seed);
    for v in &mut x.values {
        if rng.chance(0.5) {
            *v = -*v;
        }
    }
    x
}

/// Distinct values (no ties): a shuffled ramp, scaled to `[-1, 1)`.
pub fn distinct(shape: &[usize], seed: u64) -> Input {
    let n: usize = shape.iter().product();
    let mut rng = Rng::new(seed);
    let mut v: Vec<f64> = (0..n)
        .map(|i| (i as f64 + 0.25) / n as f64 * 2.0 - 1.0)
        .collect();
    for i in (1..n).rev() {
        v.swap(i, rng.below(i + 1));
    }
    Input {
        values: v,
        shape: shape.to_vec(),
    }
}

fn tensor(x: &Input) -> LazyTensor {
    LazyTensor::from_vec(x.values.clone(), &x.shape).unwrap()
}

/// Checks the gradient of `f` at `inputs` on the Cranelift backend, with step `1e-6`.
#[track_caller]
pub fn check(name: &str, inputs: &[Input], f: impl Fn(&[LazyTensor]) -> R) {
    check_with(name, inputs, 1e-6, &f);
}

/// [`check`] with a finite-difference step `h`.
#[track_caller]
pub fn check_with(name: &str, inputs: &[Input], h: f64, f: &dyn Fn(&[LazyTensor]) -> R) {
    let xs: Vec<LazyTensor> = inputs.iter().map(tensor).collect();
    for x in &xs {
        x.set_requires_grad(true).unwrap();
    }
    let y = f(&xs).unwrap_or_else(|e| panic!("{name}: forward failed: {e}"));
    assert_eq!(y.dtype(), DType::F64, "{name}: checks run in f64");
    let cot = uniform(y.shape(), -1.0, 1.0, 0xc07);
    let r = tensor(&cot);
    let loss = y.mul(&r).unwrap().sum_all().unwrap();
    let refs: Vec<&LazyTensor> = xs.iter().collect();
    let analytic = autograd::grad(&loss, &refs, None, false)
        .unwrap_or_else(|e| panic!("{name}: backward failed: {e}"));

    let scalar_at = |vals: &[Input]| -> f64 {
        autograd::no_grad(|| {
            let ts: Vec<LazyTensor> = vals.iter().map(tensor).collect();
            let y = f(&ts).unwrap();
            y.mul(&r).unwrap().sum_all().unwrap().item::<f64>().unwrap()
        })
    };
    for (i, x) in inputs.iter().enumerate() {
        let got = match &analytic[i] {
            Some(g) => {
                assert_eq!(g.shape(), &x.shape[..], "{name}: gradient {i} shape");
                g.to_vec::<f64>().unwrap()
            }
            None => vec![0.0; x.values.len()],
        };
        for (j, &analytic_j) in got.iter().enumerate() {
            let mut plus = inputs.to_vec();
            plus[i].values[j] += h;
            let mut minus = inputs.to_vec();
            minus[i].values[j] -= h;
            let numeric = (scalar_at(&plus) - scalar_at(&minus)) / (2.0 * h);
            let tol = 1e-6 + 1e-5 * numeric.abs() + 10.0 * h * h;
            assert!(
                (analytic_j - numeric).abs() <= tol,
                "{name}: d/dx{i}[{j}] analytic {analytic_j} vs numeric {numeric} (input {:?})",
                x.values
            );
        }
    }
}

/// Runs `f` on both backends.
pub fn both(f: impl Fn()) {
    f();
    config::with(
        |c| c.backend = BackendKind::Reference,
        || {
            f();
        },
    );
}
