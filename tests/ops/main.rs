//! Integration tests of the op methods (reduce, shape, index, linalg, composite) and the
//! operator overloads, through the public API only.

use lazyjit::{config, BackendKind, DType, Error, LazyTensor};
use ndarray::{ArrayD, Axis, Dimension, IxDyn};

type R<T = LazyTensor> = lazyjit::Result<T>;

mod api_forms;
mod composites;
mod conv;
mod indexing;
mod layout;
mod linalg;
mod operators;
mod reads;
mod reductions;

// ---------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------

/// `zeros`/`ones` may return `LazyTensor` or `Result<LazyTensor>`: accept both.
trait Unwrapped {
    fn unwrapped(self) -> LazyTensor;
}
impl Unwrapped for LazyTensor {
    fn unwrapped(self) -> LazyTensor {
        self
    }
}
impl Unwrapped for R {
    fn unwrapped(self) -> LazyTensor {
        self.unwrap()
    }
}

fn zeros(shape: &[usize], dtype: DType) -> LazyTensor {
    LazyTensor::zeros(shape, dtype).unwrapped()
}

fn ones(shape: &[usize], dtype: DType) -> LazyTensor {
    LazyTensor::ones(shape, dtype).unwrapped()
}

/// Runs `f` with the default (Cranelift) backend, then with the reference interpreter.
fn both(f: impl Fn()) {
    f();
    config::with(|c| c.backend = BackendKind::Reference, &f);
}

/// Deterministic pseudo-random values in [-2, 2).
fn data(n: usize, seed: u64) -> Vec<f32> {
    let mut s = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    (0..n)
        .map(|_| {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((s >> 40) as f32 / (1u64 << 24) as f32) * 4.0 - 2.0
        })
        .collect()
}

fn f32t(v: Vec<f32>, shape: &[usize]) -> LazyTensor {
    LazyTensor::from_vec(v, shape).unwrap()
}

fn f64t(v: Vec<f64>, shape: &[usize]) -> LazyTensor {
    LazyTensor::from_vec(v, shape).unwrap()
}

fn i64t(v: Vec<i64>, shape: &[usize]) -> LazyTensor {
    LazyTensor::from_vec(v, shape).unwrap()
}

fn i32t(v: Vec<i32>, shape: &[usize]) -> LazyTensor {
    LazyTensor::from_vec(v, shape).unwrap()
}

fn host(v: &[f32], shape: &[usize]) -> ArrayD<f64> {
    ArrayD::from_shape_vec(IxDyn(shape), v.iter().map(|&x| x as f64).collect()).unwrap()
}

#[track_caller]
fn assert_close(got: &[f32], want: &[f64], tol: f64) {
    assert_eq!(got.len(), want.len(), "got {got:?}, want {want:?}");
    for (i, (&g, &w)) in got.iter().zip(want).enumerate() {
        let ok = (g as f64 - w).abs() <= tol * (1.0 + w.abs())
            || (g.is_nan() && w.is_nan())
            || g as f64 == w;
        assert!(
            ok,
            "element {i}: got {g}, want {w} (tol {tol}); got {got:?}, want {want:?}"
        );
    }
}

#[track_caller]
fn assert_close64(got: &[f64], want: &[f64], tol: f64) {
    assert_eq!(got.len(), want.len(), "got {got:?}, want {want:?}");
    for (i, (&g, &w)) in got.iter().zip(want).enumerate() {
        let ok = (g - w).abs() <= tol * (1.0 + w.abs()) || (g.is_nan() && w.is_nan()) || g == w;
        assert!(
            ok,
            "element {i}: got {g}, want {w}; got {got:?}, want {want:?}"
        );
    }
}

/// Asserts `r` is an `Error::Op` from `op` whose message contains every part.
#[track_caller]
fn op_err(r: R, op: &str, parts: &[&str]) -> Error {
    match r {
        Err(e) => {
            match &e {
                Error::Op { op: o, message, .. } => {
                    assert_eq!(*o, op, "wrong op in {e}");
                    for p in parts {
                        assert!(message.contains(p), "message of {e:?} lacks {p:?}");
                    }
                    let loc = e.location().unwrap();
                    // The caller's line in one of this test binary's files, not the library's.
                    assert!(
                        loc.file().replace('\\', "/").contains("tests/ops/"),
                        "error located at {loc}"
                    );
                }
                other => panic!("expected Error::Op from {op}, got {other}"),
            }
            e
        }
        Ok(t) => panic!("expected an error from {op}, got {t:?}"),
    }
}

/// NumPy-style reduction on the host, reducing `axes` (non-negative) with `f` from `init`.
fn nd_reduce(
    a: &ArrayD<f64>,
    axes: &[usize],
    keepdim: bool,
    init: f64,
    f: impl Fn(f64, f64) -> f64,
) -> ArrayD<f64> {
    let mut axes = axes.to_vec();
    axes.sort_unstable();
    let mut r = a.clone();
    for &ax in axes.iter().rev() {
        r = r.fold_axis(Axis(ax), init, |&acc, &x| f(acc, x));
        if keepdim {
            r = r.insert_axis(Axis(ax));
        }
    }
    r
}

fn vec64(a: &ArrayD<f64>) -> Vec<f64> {
    a.iter().copied().collect()
}
