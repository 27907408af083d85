//! Integration tests of the op methods (reduce, shape, index, linalg, composite) and the
//! operator overloads, through the public API only.

use lazyjit::{config, BackendKind, DType, Error, LazyTensor};
use ndarray::{ArrayD, Axis, Dimension, IxDyn};

type R<T = LazyTensor> = lazyjit::Result<T>;

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
                    assert!(loc.file().ends_with("ops.rs"), "error located at {loc}");
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

// ---------------------------------------------------------------------------------------
// Reductions
// ---------------------------------------------------------------------------------------

#[test]
fn sum_hand_computed() {
    both(|| {
        let t = f32t(vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0], &[2, 3]);
        assert_eq!(
            t.sum(&[1], false).unwrap().to_vec::<f32>().unwrap(),
            vec![6.0, 15.0]
        );
        assert_eq!(
            t.sum(&[-1], false).unwrap().to_vec::<f32>().unwrap(),
            vec![6.0, 15.0]
        );
        let s0 = t.sum(&[0], true).unwrap();
        assert_eq!(s0.shape(), &[1, 3]);
        assert_eq!(s0.to_vec::<f32>().unwrap(), vec![5.0, 7.0, 9.0]);
        let all = t.sum(&[-1, 0], false).unwrap();
        assert_eq!(all.shape(), &[] as &[usize]);
        assert_eq!(all.item::<f32>().unwrap(), 21.0);
        assert_eq!(t.sum(&[0, 1], true).unwrap().shape(), &[1, 1]);
        // Integers stay integers.
        let i = i32t(vec![1, 2, 3, 4], &[2, 2]);
        assert_eq!(
            i.sum(&[0], false).unwrap().to_vec::<i32>().unwrap(),
            vec![4, 6]
        );
        // No axes: nothing reduced.
        let same = t.sum(&[], false).unwrap();
        assert_eq!(same.shape(), &[2, 3]);
        assert_eq!(
            same.to_vec::<f32>().unwrap(),
            vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0]
        );
    });
}

#[test]
fn reductions_match_ndarray() {
    let shape = [3, 4, 5];
    let v = data(60, 1);
    let a = host(&v, &shape);
    let t = f32t(v, &shape);
    let cases: &[(&[isize], &[usize])] = &[
        (&[0], &[0]),
        (&[1], &[1]),
        (&[-1], &[2]),
        (&[0, 2], &[0, 2]),
        (&[-3, -1], &[0, 2]),
        (&[2, 0], &[0, 2]),
        (&[0, 1, 2], &[0, 1, 2]),
    ];
    both(|| {
        for &(axes, pos) in cases {
            for keepdim in [false, true] {
                let n: usize = pos.iter().map(|&p| shape[p]).product();
                let sum = nd_reduce(&a, pos, keepdim, 0.0, |x, y| x + y);
                let prod = nd_reduce(&a, pos, keepdim, 1.0, |x, y| x * y);
                let max = nd_reduce(&a, pos, keepdim, f64::NEG_INFINITY, f64::max);
                let min = nd_reduce(&a, pos, keepdim, f64::INFINITY, f64::min);
                let mean = sum.mapv(|x| x / n as f64);
                let ctx = format!("axes {axes:?} keepdim {keepdim}");
                let s = t.sum(axes, keepdim).unwrap();
                assert_eq!(s.shape(), sum.shape(), "{ctx}");
                assert_close(&s.to_vec::<f32>().unwrap(), &vec64(&sum), 1e-5);
                assert_close(
                    &t.mean(axes, keepdim).unwrap().to_vec::<f32>().unwrap(),
                    &vec64(&mean),
                    1e-5,
                );
                assert_close(
                    &t.prod(axes, keepdim).unwrap().to_vec::<f32>().unwrap(),
                    &vec64(&prod),
                    1e-4,
                );
                assert_close(
                    &t.max(axes, keepdim).unwrap().to_vec::<f32>().unwrap(),
                    &vec64(&max),
                    0.0,
                );
                assert_close(
                    &t.min(axes, keepdim).unwrap().to_vec::<f32>().unwrap(),
                    &vec64(&min),
                    0.0,
                );
            }
        }
    });
}

#[test]
fn whole_tensor_reductions() {
    both(|| {
        let t = f32t(vec![3.0, -1.0, 4.0, 1.5], &[2, 2]);
        for (r, want) in [
            (t.sum_all(), 7.5),
            (t.mean_all(), 1.875),
            (t.max_all(), 4.0),
            (t.min_all(), -1.0),
        ] {
            let r = r.unwrap();
            assert_eq!(r.rank(), 0);
            assert_eq!(r.item::<f32>().unwrap(), want);
        }
        let i = i64t(vec![5, -7, 2], &[3]);
        assert_eq!(i.max_all().unwrap().item::<i64>().unwrap(), 5);
        assert_eq!(i.min_all().unwrap().item::<i64>().unwrap(), -7);
        assert_eq!(i.sum_all().unwrap().item::<i64>().unwrap(), 0);
        // A rank-0 tensor reduces to itself.
        let s = LazyTensor::from_vec(vec![2.5f64], &[]).unwrap();
        assert_eq!(s.sum_all().unwrap().item::<f64>().unwrap(), 2.5);
    });
}

#[test]
fn argmax_argmin() {
    both(|| {
        let t = f32t(vec![1.0, 3.0, 3.0, 5.0, -1.0, 0.0], &[2, 3]);
        let am = t.argmax(1, false).unwrap();
        assert_eq!(am.dtype(), DType::I64);
        assert_eq!(am.to_vec::<i64>().unwrap(), vec![1, 0]); // first maximum on ties
        assert_eq!(
            t.argmax(-1, false).unwrap().to_vec::<i64>().unwrap(),
            vec![1, 0]
        );
        assert_eq!(
            t.argmax(0, false).unwrap().to_vec::<i64>().unwrap(),
            vec![1, 0, 0]
        );
        let k = t.argmax(-2, true).unwrap();
        assert_eq!(k.shape(), &[1, 3]);
        assert_eq!(k.to_vec::<i64>().unwrap(), vec![1, 0, 0]);
        assert_eq!(
            t.argmin(-1, false).unwrap().to_vec::<i64>().unwrap(),
            vec![0, 1]
        );
        assert_eq!(t.argmin(0, true).unwrap().shape(), &[1, 3]);
        assert_eq!(
            t.argmin(0, true).unwrap().to_vec::<i64>().unwrap(),
            vec![0, 1, 1]
        );
        let n = f32t(vec![1.0, f32::NAN, 5.0], &[3]);
        assert_eq!(
            n.argmax(0, false).unwrap().to_vec::<i64>().unwrap(),
            vec![1]
        );
        let i = i32t(vec![4, 9, 9, 2], &[4]);
        assert_eq!(i.argmax(0, false).unwrap().item::<i64>().unwrap(), 1);
        assert_eq!(i.argmin(-1, false).unwrap().item::<i64>().unwrap(), 3);
    });
}

#[test]
fn reduce_errors() {
    let t = f32t(vec![0.0; 6], &[2, 3]);
    op_err(t.sum(&[2], false), "reduce_sum", &["axis 2", "[2, 3]"]);
    op_err(t.sum(&[-3], true), "reduce_sum", &["axis -3", "[2, 3]"]);
    op_err(
        t.sum(&[0, -2], false),
        "reduce_sum",
        &["-2", "more than once", "[2, 3]"],
    );
    op_err(
        t.max(&[1, 1], false),
        "reduce_max",
        &["more than once", "[2, 3]"],
    );
    op_err(t.min(&[5], false), "reduce_min", &["axis 5"]);
    op_err(t.prod(&[7], false), "reduce_prod", &["axis 7"]);
    op_err(t.mean(&[2], false), "reduce_mean", &["axis 2"]);
    op_err(
        i32t(vec![1, 2], &[2]).mean(&[0], false),
        "reduce_mean",
        &["float", "i32"],
    );
    op_err(
        i32t(vec![1, 2], &[2]).mean_all(),
        "reduce_mean",
        &["float", "i32"],
    );
    let b = t.gt_scalar(0.0).unwrap();
    op_err(b.sum(&[0], false), "reduce_sum", &["numeric", "bool"]);
    op_err(t.argmax(2, false), "argmax", &["axis 2", "[2, 3]"]);
    op_err(t.argmin(-3, false), "argmin", &["axis -3", "[2, 3]"]);
    op_err(
        zeros(&[2, 0], DType::F32).argmax(1, false),
        "argmax",
        &["size 0"],
    );
    let s = LazyTensor::from_vec(vec![1.0f32], &[]).unwrap();
    op_err(s.argmax(0, false), "argmax", &["rank-0"]);
}

fn var_f64(xs: &[f64], correction: usize) -> f64 {
    let n = xs.len() as f64;
    let m = xs.iter().sum::<f64>() / n;
    xs.iter().map(|x| (x - m) * (x - m)).sum::<f64>() / (n - correction as f64)
}

#[test]
fn var_and_std() {
    both(|| {
        let v = vec![1.0f64, 2.0, 4.0, 7.0, -3.0, 0.5, 2.0, 2.0];
        let t = f64t(v.clone(), &[2, 4]);
        let rows = [&v[0..4], &v[4..8]];
        for correction in [0, 1] {
            let want: Vec<f64> = rows.iter().map(|r| var_f64(r, correction)).collect();
            let got = t.var(&[-1], false, correction).unwrap();
            assert_eq!(got.shape(), &[2]);
            assert_close64(&got.to_vec::<f64>().unwrap(), &want, 1e-12);
            let kept = t.var(&[1], true, correction).unwrap();
            assert_eq!(kept.shape(), &[2, 1]);
            let sd: Vec<f64> = want.iter().map(|x| x.sqrt()).collect();
            assert_close64(
                &t.std(&[1], false, correction)
                    .unwrap()
                    .to_vec::<f64>()
                    .unwrap(),
                &sd,
                1e-12,
            );
            // Over everything.
            let all = t.var(&[0, 1], false, correction).unwrap();
            assert_eq!(all.rank(), 0);
            assert_close64(
                &[all.item::<f64>().unwrap()],
                &[var_f64(&v, correction)],
                1e-12,
            );
        }
        // Columns, population variance: hand-computed ((1-(-3))/2)^2 = 4 for the first.
        let c = t.var(&[0], false, 0).unwrap().to_vec::<f64>().unwrap();
        assert_close64(&c, &[4.0, 0.5625, 1.0, 6.25], 1e-12);
        // f32 too.
        let f = f32t(vec![1.0, 2.0, 3.0, 4.0], &[4]);
        assert_close(
            &f.var(&[0], false, 1).unwrap().to_vec::<f32>().unwrap(),
            &[5.0 / 3.0],
            1e-6,
        );
        assert_close(
            &f.std(&[0], false, 0).unwrap().to_vec::<f32>().unwrap(),
            &[1.25f64.sqrt()],
            1e-6,
        );
    });
}

#[test]
fn var_errors() {
    let t = f32t(vec![1.0, 2.0, 3.0], &[3, 1]);
    op_err(
        t.var(&[1], false, 1),
        "var",
        &["1 element", "correction 1", "[3, 1]"],
    );
    op_err(t.std(&[0], false, 3), "std", &["3 element", "correction 3"]);
    op_err(t.var(&[2], false, 0), "var", &["axis 2", "[3, 1]"]);
    op_err(t.var(&[0, 0], false, 0), "var", &["more than once"]);
    op_err(
        i32t(vec![1, 2], &[2]).var(&[0], false, 0),
        "var",
        &["float", "i32"],
    );
    op_err(
        i32t(vec![1, 2], &[2]).std(&[0], false, 0),
        "std",
        &["float", "i32"],
    );
}

fn logsumexp_f64(xs: &[f64]) -> f64 {
    let m = xs.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
    m + xs.iter().map(|x| (x - m).exp()).sum::<f64>().ln()
}

#[test]
fn logsumexp_is_stable_and_correct() {
    both(|| {
        let v = vec![
            1.0f32, 2.0, 3.0, 1000.0, 1001.0, 999.0, -1000.0, -1001.0, -999.5,
        ];
        let t = f32t(v.clone(), &[3, 3]);
        let want: Vec<f64> = v
            .chunks(3)
            .map(|r| logsumexp_f64(&r.iter().map(|&x| x as f64).collect::<Vec<_>>()))
            .collect();
        let got = t.logsumexp(&[-1], false).unwrap();
        assert_eq!(got.shape(), &[3]);
        assert_close(&got.to_vec::<f32>().unwrap(), &want, 1e-6);
        let kept = t.logsumexp(&[1], true).unwrap();
        assert_eq!(kept.shape(), &[3, 1]);
        assert_close(&kept.to_vec::<f32>().unwrap(), &want, 1e-6);
        // Over both axes.
        let all = t.logsumexp(&[0, 1], false).unwrap();
        let want_all = logsumexp_f64(&v.iter().map(|&x| x as f64).collect::<Vec<_>>());
        assert_close(&[all.item::<f32>().unwrap()], &[want_all], 1e-6);
        // Rows of -inf give -inf (not NaN); a +inf gives +inf.
        let inf = f32t(
            vec![f32::NEG_INFINITY, f32::NEG_INFINITY, 0.0, f32::INFINITY],
            &[2, 2],
        );
        let r = inf.logsumexp(&[1], false).unwrap().to_vec::<f32>().unwrap();
        assert_eq!(r, vec![f32::NEG_INFINITY, f32::INFINITY]);
    });
    op_err(
        f32t(vec![0.0; 4], &[4]).logsumexp(&[1], false),
        "logsumexp",
        &["axis 1", "[4]"],
    );
    op_err(
        i64t(vec![1], &[1]).logsumexp(&[0], false),
        "logsumexp",
        &["float", "i64"],
    );
}

// ---------------------------------------------------------------------------------------
// Shape ops
// ---------------------------------------------------------------------------------------

#[test]
fn reshape_and_permute() {
    both(|| {
        let t = i32t((0..24).collect(), &[2, 3, 4]);
        let r = t.reshape(&[4, 6]).unwrap();
        assert_eq!(r.shape(), &[4, 6]);
        assert_eq!(r.to_vec::<i32>().unwrap(), (0..24).collect::<Vec<_>>());
        assert_eq!(t.reshape(&[2, 3, 4]).unwrap().id(), t.id()); // no-op
        let a = ArrayD::from_shape_vec(IxDyn(&[2, 3, 4]), (0..24).collect::<Vec<i32>>()).unwrap();
        for perm in [[2, 0, 1], [1, 2, 0], [0, 2, 1], [2, 1, 0]] {
            let p = t.permute(&perm).unwrap();
            let want = a.clone().permuted_axes(IxDyn(&perm));
            assert_eq!(p.to_ndarray::<i32>().unwrap(), want, "perm {perm:?}");
        }
        assert_eq!(t.permute(&[0, 1, 2]).unwrap().id(), t.id());
        let tr = t.transpose(0, -1).unwrap();
        assert_eq!(tr.shape(), &[4, 3, 2]);
        assert_eq!(
            tr.to_ndarray::<i32>().unwrap(),
            a.clone().permuted_axes(IxDyn(&[2, 1, 0]))
        );
        assert_eq!(
            t.transpose(-2, -2).unwrap().to_vec::<i32>().unwrap(),
            t.to_vec::<i32>().unwrap()
        );
        let m = f32t(vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0], &[2, 3]);
        let mt = m.t().unwrap();
        assert_eq!(mt.shape(), &[3, 2]);
        assert_eq!(
            mt.to_vec::<f32>().unwrap(),
            vec![1.0, 4.0, 2.0, 5.0, 3.0, 6.0]
        );
    });
}

#[test]
fn shape_op_errors() {
    let t = f32t(vec![0.0; 6], &[2, 3]);
    op_err(t.reshape(&[4, 2]), "reshape", &["[2, 3]", "[4, 2]"]);
    op_err(t.permute(&[0, 0]), "permute", &["[2, 3]", "[0, 0]"]);
    op_err(t.permute(&[0]), "permute", &["[2, 3]"]);
    op_err(t.transpose(0, 2), "transpose", &["axis 2", "[2, 3]"]);
    op_err(t.transpose(-3, 0), "transpose", &["axis -3", "[2, 3]"]);
    op_err(zeros(&[2, 3, 4], DType::F32).t(), "t", &["f32[2, 3, 4]"]);
    op_err(f32t(vec![1.0], &[1]).t(), "t", &["f32[1]"]);
    op_err(t.expand(&[4, 3]), "expand", &["[2, 3]", "[4, 3]"]);
    op_err(t.broadcast_to(&[3]), "expand", &["[2, 3]", "[3]"]);
    op_err(
        t.slice(&[0, 0], &[2, 4], &[1, 1]),
        "slice",
        &["[2, 3]", "axis 1", "0:4:1"],
    );
    op_err(t.slice(&[0, 0], &[2, 3], &[1, 0]), "slice", &["axis 1"]);
    op_err(t.slice(&[0], &[2], &[1]), "slice", &["[2, 3]"]);
    op_err(
        t.narrow(1, 2, 2),
        "narrow",
        &["start 2", "length 2", "dim 3", "[2, 3]"],
    );
    op_err(t.narrow(2, 0, 1), "narrow", &["axis 2", "[2, 3]"]);
    op_err(
        t.flatten(1, 0),
        "flatten",
        &["start axis 1", "end axis 0", "[2, 3]"],
    );
    op_err(t.flatten(0, 2), "flatten", &["axis 2", "[2, 3]"]);
    op_err(t.squeeze(1), "squeeze", &["size 3", "[2, 3]"]);
    op_err(t.squeeze(-3), "squeeze", &["axis -3", "[2, 3]"]);
    op_err(t.unsqueeze(3), "unsqueeze", &["axis 3", "[2, 3]"]);
    op_err(t.unsqueeze(-4), "unsqueeze", &["axis -4", "[2, 3]"]);
    let s = LazyTensor::from_vec(vec![1.0f32], &[]).unwrap();
    op_err(s.squeeze(0), "squeeze", &["rank-0"]);
    op_err(s.flatten(0, 1), "flatten", &["axis 1"]);
}

#[test]
fn expand_slice_narrow() {
    both(|| {
        let c = f32t(vec![1.0, 2.0, 3.0], &[3, 1]);
        let e = c.expand(&[2, 3, 2]).unwrap();
        assert_eq!(e.shape(), &[2, 3, 2]);
        assert_eq!(
            e.to_vec::<f32>().unwrap(),
            vec![1.0, 1.0, 2.0, 2.0, 3.0, 3.0, 1.0, 1.0, 2.0, 2.0, 3.0, 3.0]
        );
        assert_eq!(c.broadcast_to(&[3, 1]).unwrap().id(), c.id());
        assert_eq!(
            c.broadcast_to(&[3, 4]).unwrap().to_vec::<f32>().unwrap()[4..8],
            [2.0; 4]
        );

        let t = i64t((0..20).collect(), &[4, 5]);
        let s = t.slice(&[1, 0], &[4, 5], &[2, 2]).unwrap();
        assert_eq!(s.shape(), &[2, 3]);
        assert_eq!(s.to_vec::<i64>().unwrap(), vec![5, 7, 9, 15, 17, 19]);
        let empty = t.slice(&[2, 0], &[2, 5], &[1, 1]).unwrap();
        assert_eq!(empty.shape(), &[0, 5]);
        assert_eq!(empty.to_vec::<i64>().unwrap(), Vec::<i64>::new());
        let n = t.narrow(-1, 1, 3).unwrap();
        assert_eq!(n.shape(), &[4, 3]);
        assert_eq!(n.to_vec::<i64>().unwrap()[..6], [1, 2, 3, 6, 7, 8]);
        let n0 = t.narrow(0, 3, 1).unwrap();
        assert_eq!(n0.to_vec::<i64>().unwrap(), vec![15, 16, 17, 18, 19]);
        assert_eq!(t.narrow(0, 4, 0).unwrap().shape(), &[0, 5]);
    });
}

#[test]
fn concat_works_and_checks() {
    both(|| {
        let a = f32t(vec![1.0, 2.0], &[1, 2]);
        let b = f32t(vec![3.0, 4.0, 5.0, 6.0], &[2, 2]);
        let c = LazyTensor::concat(&[&a, &b], 0).unwrap();
        assert_eq!(c.shape(), &[3, 2]);
        assert_eq!(
            c.to_vec::<f32>().unwrap(),
            vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0]
        );
        let d = LazyTensor::concat(&[&b, &b, &b], -1).unwrap();
        assert_eq!(d.shape(), &[2, 6]);
        assert_eq!(
            d.to_vec::<f32>().unwrap(),
            vec![3.0, 4.0, 3.0, 4.0, 3.0, 4.0, 5.0, 6.0, 5.0, 6.0, 5.0, 6.0]
        );
        let one = LazyTensor::concat(&[&a], 1).unwrap();
        assert_eq!(one.to_vec::<f32>().unwrap(), vec![1.0, 2.0]);
    });
    let a = f32t(vec![1.0, 2.0], &[1, 2]);
    let b = f32t(vec![3.0, 4.0, 5.0, 6.0], &[2, 2]);
    op_err(
        LazyTensor::concat(&[&a, &b], -1),
        "concat",
        &["[2, 2]", "[1, 2]"],
    );
    op_err(
        LazyTensor::concat(&[&a, &b], 2),
        "concat",
        &["axis 2", "[1, 2]"],
    );
    op_err(LazyTensor::concat(&[], 0), "concat", &["at least one"]);
    let i = i32t(vec![1, 2], &[1, 2]);
    op_err(
        LazyTensor::concat(&[&a, &i], 0),
        "concat",
        &["f32[1, 2]", "i32[1, 2]"],
    );
    let v = f32t(vec![1.0, 2.0], &[2]);
    op_err(
        LazyTensor::concat(&[&a, &v], 0),
        "concat",
        &["[2]", "[1, 2]"],
    );
}

#[test]
fn pad_fills() {
    both(|| {
        let t = f32t(vec![1.0, 2.0, 3.0, 4.0], &[2, 2]);
        let p = t.pad(&[1, 0], &[0, 2], -1.0).unwrap();
        assert_eq!(p.shape(), &[3, 4]);
        assert_eq!(
            p.to_vec::<f32>().unwrap(),
            vec![-1.0, -1.0, -1.0, -1.0, 1.0, 2.0, -1.0, -1.0, 3.0, 4.0, -1.0, -1.0]
        );
        let i = i32t(vec![7, 8], &[2]);
        assert_eq!(
            i.pad(&[2], &[1], 0).unwrap().to_vec::<i32>().unwrap(),
            vec![0, 0, 7, 8, 0]
        );
        assert_eq!(
            i.pad(&[0], &[1], 9i64).unwrap().to_vec::<i32>().unwrap(),
            vec![7, 8, 9]
        );
        let b = i.gt_scalar(7).unwrap();
        assert_eq!(
            b.pad(&[1], &[0], true).unwrap().to_vec::<bool>().unwrap(),
            vec![true, false, true]
        );
    });
    let i = i32t(vec![7, 8], &[2]);
    op_err(i.pad(&[1], &[1], 2.5), "pad", &["2.5", "i32[2]"]);
    op_err(i.pad(&[1, 1], &[1], 0), "pad", &["[2]"]);
    op_err(i.pad(&[1], &[1], 1i64 << 40), "pad", &["i32[2]"]);
}

#[test]
fn flatten_squeeze_unsqueeze() {
    both(|| {
        let t = i32t((0..24).collect(), &[2, 3, 4]);
        assert_eq!(t.flatten(0, -1).unwrap().shape(), &[24]);
        assert_eq!(t.flatten(1, 2).unwrap().shape(), &[2, 12]);
        assert_eq!(t.flatten(-3, -2).unwrap().shape(), &[6, 4]);
        assert_eq!(t.flatten(1, 1).unwrap().shape(), &[2, 3, 4]);
        assert_eq!(
            t.flatten(0, 1).unwrap().to_vec::<i32>().unwrap(),
            (0..24).collect::<Vec<_>>()
        );
        let s = LazyTensor::from_vec(vec![5i32], &[]).unwrap();
        let f = s.flatten(0, -1).unwrap();
        assert_eq!(f.shape(), &[1]);
        assert_eq!(f.to_vec::<i32>().unwrap(), vec![5]);

        let u = t.unsqueeze(0).unwrap();
        assert_eq!(u.shape(), &[1, 2, 3, 4]);
        assert_eq!(t.unsqueeze(-1).unwrap().shape(), &[2, 3, 4, 1]);
        assert_eq!(t.unsqueeze(3).unwrap().shape(), &[2, 3, 4, 1]);
        assert_eq!(t.unsqueeze(-4).unwrap().shape(), &[1, 2, 3, 4]);
        assert_eq!(t.unsqueeze(1).unwrap().shape(), &[2, 1, 3, 4]);
        assert_eq!(s.unsqueeze(0).unwrap().shape(), &[1]);
        assert_eq!(u.squeeze(0).unwrap().shape(), &[2, 3, 4]);
        let w = i32t(vec![1, 2, 3], &[1, 3, 1]);
        assert_eq!(w.squeeze(-1).unwrap().shape(), &[1, 3]);
        assert_eq!(w.squeeze(0).unwrap().shape(), &[3, 1]);
        let all = w.squeeze_all().unwrap();
        assert_eq!(all.shape(), &[3]);
        assert_eq!(all.to_vec::<i32>().unwrap(), vec![1, 2, 3]);
        assert_eq!(
            i32t(vec![4], &[1, 1]).squeeze_all().unwrap().shape(),
            &[] as &[usize]
        );
    });
}

// ---------------------------------------------------------------------------------------
// Indexing
// ---------------------------------------------------------------------------------------

#[test]
fn gather_and_index_select() {
    both(|| {
        let d = f32t(vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0], &[2, 3]);
        let idx = i64t(vec![2, 0, 1, 1], &[2, 2]);
        let g = d.gather(1, &idx).unwrap();
        assert_eq!(g.shape(), &[2, 2]);
        assert_eq!(g.to_vec::<f32>().unwrap(), vec![3.0, 1.0, 5.0, 5.0]);
        assert_eq!(
            d.gather(-1, &idx).unwrap().to_vec::<f32>().unwrap(),
            vec![3.0, 1.0, 5.0, 5.0]
        );
        let idx0 = i32t(vec![1, 0, 1], &[1, 3]);
        assert_eq!(
            d.gather(0, &idx0).unwrap().to_vec::<f32>().unwrap(),
            vec![4.0, 2.0, 6.0]
        );

        let s = d.index_select(1, &i64t(vec![2, 2, 0], &[3])).unwrap();
        assert_eq!(s.shape(), &[2, 3]);
        assert_eq!(
            s.to_vec::<f32>().unwrap(),
            vec![3.0, 3.0, 1.0, 6.0, 6.0, 4.0]
        );
        let rows = d
            .index_select(-2, &i32t(vec![1, 0, 1, 1], &[2, 2]))
            .unwrap();
        assert_eq!(rows.shape(), &[2, 2, 3]);
        assert_eq!(
            rows.to_vec::<f32>().unwrap()[..6],
            [4.0, 5.0, 6.0, 1.0, 2.0, 3.0]
        );
        let one = d
            .index_select(0, &LazyTensor::from_vec(vec![1i64], &[]).unwrap())
            .unwrap();
        assert_eq!(one.shape(), &[3]);
        assert_eq!(one.to_vec::<f32>().unwrap(), vec![4.0, 5.0, 6.0]);

        // Out-of-range index values fail when the graph runs.
        let bad = d.index_select(0, &i64t(vec![2], &[1])).unwrap();
        assert!(matches!(bad.to_vec::<f32>(), Err(Error::Execute { .. })));
        let bad = d.gather(1, &i64t(vec![-1], &[1, 1])).unwrap();
        assert!(matches!(bad.to_vec::<f32>(), Err(Error::Execute { .. })));
    });
}

#[test]
fn index_errors() {
    let d = f32t(vec![0.0; 6], &[2, 3]);
    op_err(
        d.gather(1, &f32t(vec![0.0, 1.0], &[2, 1])),
        "gather",
        &["i32 or i64", "f32[2, 1]"],
    );
    op_err(
        d.gather(1, &i64t(vec![0, 1], &[2])),
        "gather",
        &["[2, 3]", "[2]"],
    );
    op_err(
        d.gather(0, &i64t(vec![0; 8], &[2, 4])),
        "gather",
        &["dim 1"],
    );
    op_err(
        d.gather(2, &i64t(vec![0], &[1, 1])),
        "gather",
        &["axis 2", "[2, 3]"],
    );
    op_err(
        d.index_select(-3, &i64t(vec![0], &[1])),
        "index_select",
        &["axis -3", "[2, 3]"],
    );
    op_err(d.index_select(0, &d), "index_select", &["i32 or i64"]);
}

// ---------------------------------------------------------------------------------------
// Linear algebra
// ---------------------------------------------------------------------------------------

/// Host matmul with batch broadcasting, for checks.
fn host_matmul(a: &ArrayD<f64>, b: &ArrayD<f64>) -> ArrayD<f64> {
    let (ra, rb) = (a.ndim(), b.ndim());
    let (m, k, n) = (a.shape()[ra - 2], a.shape()[ra - 1], b.shape()[rb - 1]);
    let ba = &a.shape()[..ra - 2];
    let bb = &b.shape()[..rb - 2];
    let r = ba.len().max(bb.len());
    let pad = |s: &[usize]| {
        let mut v = vec![1; r - s.len()];
        v.extend_from_slice(s);
        v
    };
    let (pa, pb) = (pad(ba), pad(bb));
    let batch: Vec<usize> = pa.iter().zip(&pb).map(|(&x, &y)| x.max(y)).collect();
    let mut out_shape = batch.clone();
    out_shape.extend([m, n]);
    let a = a
        .to_shape(IxDyn(&[pa.clone(), vec![m, k]].concat()))
        .unwrap()
        .to_owned();
    let b = b
        .to_shape(IxDyn(&[pb.clone(), vec![k, n]].concat()))
        .unwrap()
        .to_owned();
    let mut out = ArrayD::<f64>::zeros(IxDyn(&out_shape));
    for (idx, o) in out.indexed_iter_mut() {
        let bi = &idx.slice()[..r];
        let (i, j) = (idx[r], idx[r + 1]);
        let mut ia: Vec<usize> = bi
            .iter()
            .zip(&pa)
            .map(|(&x, &d)| if d == 1 { 0 } else { x })
            .collect();
        let mut ib: Vec<usize> = bi
            .iter()
            .zip(&pb)
            .map(|(&x, &d)| if d == 1 { 0 } else { x })
            .collect();
        ia.extend([i, 0]);
        ib.extend([0, j]);
        let mut acc = 0.0;
        for p in 0..k {
            ia[r + 1] = p;
            ib[r] = p;
            acc += a[IxDyn(&ia)] * b[IxDyn(&ib)];
        }
        *o = acc;
    }
    out
}

#[test]
fn matmul_2d_and_batched() {
    both(|| {
        for (sa, sb) in [
            (vec![3, 4], vec![4, 5]),
            (vec![1, 7], vec![7, 1]),
            (vec![2, 3, 4], vec![4, 5]),
            (vec![3, 4], vec![2, 4, 2]),
            (vec![2, 1, 3, 4], vec![5, 4, 2]),
            (vec![3, 0], vec![0, 2]),
        ] {
            let na: usize = sa.iter().product();
            let nb: usize = sb.iter().product();
            let (va, vb) = (data(na, 3), data(nb, 4));
            let a = f32t(va.clone(), &sa);
            let b = f32t(vb.clone(), &sb);
            let c = a.matmul(&b).unwrap();
            let want = host_matmul(&host(&va, &sa), &host(&vb, &sb));
            assert_eq!(c.shape(), want.shape(), "{sa:?} x {sb:?}");
            assert_close(&c.to_vec::<f32>().unwrap(), &vec64(&want), 1e-5);
        }
        let ia = i64t(vec![1, 2, 3, 4], &[2, 2]);
        assert_eq!(
            ia.matmul(&ia).unwrap().to_vec::<i64>().unwrap(),
            vec![7, 10, 15, 22]
        );
    });
}

#[test]
fn matmul_errors() {
    let a = f32t(vec![0.0; 6], &[2, 3]);
    op_err(a.matmul(&a), "matmul", &["[2, 3]", "inner dims 3 and 2"]);
    op_err(
        f32t(vec![0.0; 3], &[3]).matmul(&f32t(vec![0.0; 6], &[3, 2])),
        "matmul",
        &["rank", "[3]"],
    );
    op_err(
        a.matmul(&i32t(vec![0; 6], &[3, 2])),
        "matmul",
        &["f32[2, 3]", "i32[3, 2]"],
    );
    let b3 = zeros(&[2, 3, 2], DType::F32);
    let c3 = zeros(&[4, 2, 3], DType::F32);
    op_err(
        b3.matmul(&c3),
        "matmul",
        &["batch", "[2, 3, 2]", "[4, 2, 3]"],
    );
}

#[test]
fn linear_matches_manual_matmul() {
    both(|| {
        let (n, i, o) = (5, 4, 3);
        let x = f32t(data(n * i, 5), &[n, i]);
        let w = f32t(data(o * i, 6), &[o, i]);
        let b = f32t(data(o, 7), &[o]);
        let y = x.linear(&w, Some(&b)).unwrap();
        assert_eq!(y.shape(), &[n, o]);
        let manual = x
            .matmul(&w.permute(&[1, 0]).unwrap())
            .unwrap()
            .add(&b.reshape(&[1, o]).unwrap())
            .unwrap();
        let want: Vec<f64> = manual
            .to_vec::<f32>()
            .unwrap()
            .iter()
            .map(|&v| v as f64)
            .collect();
        assert_close(&y.to_vec::<f32>().unwrap(), &want, 1e-6);
        // Against the host too.
        let hx = x.to_ndarray::<f32>().unwrap().mapv(|v| v as f64);
        let hw = w.to_ndarray::<f32>().unwrap().mapv(|v| v as f64);
        let hb = b.to_vec::<f32>().unwrap();
        let mut h = host_matmul(&hx, &hw.t().to_owned());
        for mut row in h.rows_mut() {
            for (v, bb) in row.iter_mut().zip(&hb) {
                *v += *bb as f64;
            }
        }
        assert_close(&y.to_vec::<f32>().unwrap(), &vec64(&h), 1e-5);
        // Without bias.
        let nb = x.linear(&w, None).unwrap();
        let want_nb = x.matmul(&w.t().unwrap()).unwrap().to_vec::<f32>().unwrap();
        assert_eq!(nb.to_vec::<f32>().unwrap(), want_nb);
        // Batched input and a vector input.
        let xb = f32t(data(2 * n * i, 8), &[2, n, i]);
        let yb = xb.linear(&w, Some(&b)).unwrap();
        assert_eq!(yb.shape(), &[2, n, o]);
        let first = xb
            .narrow(0, 1, 1)
            .unwrap()
            .squeeze(0)
            .unwrap()
            .linear(&w, Some(&b))
            .unwrap();
        let want1: Vec<f64> = first
            .to_vec::<f32>()
            .unwrap()
            .iter()
            .map(|&v| v as f64)
            .collect();
        assert_close(&yb.to_vec::<f32>().unwrap()[n * o..], &want1, 1e-6);
        let xv = x.narrow(0, 2, 1).unwrap().reshape(&[i]).unwrap();
        let yv = xv.linear(&w, Some(&b)).unwrap();
        assert_eq!(yv.shape(), &[o]);
        assert_close(&yv.to_vec::<f32>().unwrap(), &vec64(&h)[2 * o..3 * o], 1e-5);
    });
}

#[test]
fn linear_errors() {
    let x = f32t(vec![0.0; 8], &[2, 4]);
    let w = f32t(vec![0.0; 12], &[3, 4]);
    op_err(
        x.linear(&f32t(vec![0.0; 4], &[4]), None),
        "linear",
        &["out_features", "f32[4]"],
    );
    op_err(
        x.linear(&f32t(vec![0.0; 15], &[3, 5]), None),
        "linear",
        &["f32[2, 4]", "f32[3, 5]"],
    );
    op_err(
        x.linear(&w, Some(&f32t(vec![0.0; 4], &[4]))),
        "linear",
        &["bias", "f32[3]", "f32[4]"],
    );
    op_err(
        x.linear(&w, Some(&f32t(vec![0.0; 3], &[1, 3]))),
        "linear",
        &["bias", "f32[1, 3]"],
    );
    op_err(
        x.linear(&f64t(vec![0.0; 12], &[3, 4]), None),
        "linear",
        &["f32[2, 4]", "f64[3, 4]"],
    );
    op_err(
        LazyTensor::from_vec(vec![1.0f32], &[])
            .unwrap()
            .linear(&w, None),
        "linear",
        &["f32[]"],
    );
}

// ---------------------------------------------------------------------------------------
// Composites
// ---------------------------------------------------------------------------------------

fn softmax_f64(xs: &[f64]) -> Vec<f64> {
    let m = xs.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
    let e: Vec<f64> = xs.iter().map(|x| (x - m).exp()).collect();
    let s: f64 = e.iter().sum();
    e.iter().map(|x| x / s).collect()
}

#[test]
fn softmax_rows_sum_to_one_and_match_f64() {
    both(|| {
        let (rows, cols) = (7, 33);
        let mut v = data(rows * cols, 9);
        v[0] = 80.0; // large values are fine (max-subtracted)
        v[cols] = -80.0;
        let x = f32t(v.clone(), &[rows, cols]);
        for axis in [1, -1] {
            let p = x.softmax(axis).unwrap();
            assert_eq!(p.shape(), &[rows, cols]);
            let got = p.to_vec::<f32>().unwrap();
            for r in 0..rows {
                let row = &got[r * cols..(r + 1) * cols];
                let s: f64 = row.iter().map(|&v| v as f64).sum();
                assert!((s - 1.0).abs() < 1e-5, "row {r} sums to {s}");
                let want = softmax_f64(
                    &v[r * cols..(r + 1) * cols]
                        .iter()
                        .map(|&v| v as f64)
                        .collect::<Vec<_>>(),
                );
                for (g, w) in row.iter().zip(&want) {
                    let rel = (*g as f64 - w).abs() / w.abs().max(1e-30);
                    assert!(
                        rel < 1e-6 || (*g as f64 - w).abs() < 1e-37,
                        "row {r}: got {g}, want {w}, rel {rel}"
                    );
                }
            }
        }
        // Along axis 0 (columns sum to 1) and the middle axis of a rank-3 tensor.
        let c = x
            .softmax(0)
            .unwrap()
            .sum(&[0], false)
            .unwrap()
            .to_vec::<f32>()
            .unwrap();
        assert!(c.iter().all(|s| (s - 1.0).abs() < 1e-5), "{c:?}");
        let t3 = f64t(
            data(2 * 3 * 4, 10).iter().map(|&v| v as f64).collect(),
            &[2, 3, 4],
        );
        let p3 = t3.softmax(-2).unwrap();
        let s3 = p3.sum(&[1], false).unwrap().to_vec::<f64>().unwrap();
        assert!(s3.iter().all(|s| (s - 1.0).abs() < 1e-12), "{s3:?}");
        let h = t3.to_ndarray::<f64>().unwrap();
        let got3 = p3.to_ndarray::<f64>().unwrap();
        for b in 0..2 {
            for k in 0..4 {
                let col: Vec<f64> = (0..3).map(|j| h[[b, j, k]]).collect();
                let want = softmax_f64(&col);
                for j in 0..3 {
                    assert!((got3[[b, j, k]] - want[j]).abs() < 1e-12);
                }
            }
        }
    });
}

#[test]
fn softmax_keeps_the_fusable_op_pattern() {
    let x = f32t(data(12, 11), &[3, 4]);
    let p = x.softmax(-1).unwrap();
    let div = p.ir_node();
    let name = |n: &lazyjit::ir::Node| n.op().map(|o| o.name()).unwrap_or("data");
    assert_eq!(name(&div), "div");
    let (exp, sum) = (&div.operands()[0], &div.operands()[1]);
    assert_eq!(name(exp), "exp");
    assert_eq!(name(sum), "reduce_sum");
    assert_eq!(
        sum.op(),
        Some(&lazyjit::lowering::Op::Reduce {
            op: lazyjit::lowering::ReduceOp::Sum,
            axes: vec![1],
            keepdim: true
        })
    );
    assert!(std::sync::Arc::ptr_eq(&sum.operands()[0], exp));
    let sub = &exp.operands()[0];
    assert_eq!(name(sub), "sub");
    let max = &sub.operands()[1];
    assert_eq!(
        max.op(),
        Some(&lazyjit::lowering::Op::Reduce {
            op: lazyjit::lowering::ReduceOp::Max,
            axes: vec![1],
            keepdim: true
        })
    );
    assert!(std::sync::Arc::ptr_eq(
        &sub.operands()[0],
        &max.operands()[0]
    ));
    assert_eq!(name(&sub.operands()[0]), "data");
}

#[test]
fn log_softmax_matches_log_of_softmax() {
    both(|| {
        let (rows, cols) = (4, 10);
        let v = data(rows * cols, 12);
        let x = f32t(v.clone(), &[rows, cols]);
        let ls = x.log_softmax(-1).unwrap().to_vec::<f32>().unwrap();
        let l_of_s = x
            .softmax(-1)
            .unwrap()
            .log()
            .unwrap()
            .to_vec::<f32>()
            .unwrap();
        let want: Vec<f64> = v
            .chunks(cols)
            .flat_map(|r| softmax_f64(&r.iter().map(|&v| v as f64).collect::<Vec<_>>()))
            .map(f64::ln)
            .collect();
        assert_close(&ls, &want, 1e-6);
        let l_of_s64: Vec<f64> = l_of_s.iter().map(|&v| v as f64).collect();
        assert_close(&ls, &l_of_s64, 1e-5);
        // Stable where log(softmax) underflows: softmax of -200 vs 0 is 0 in f32.
        let y = f32t(vec![0.0, -200.0], &[1, 2]);
        let r = y.log_softmax(1).unwrap().to_vec::<f32>().unwrap();
        assert_close(&r, &[0.0, -200.0], 1e-6);
        let c0 = x
            .log_softmax(0)
            .unwrap()
            .exp()
            .unwrap()
            .sum(&[0], false)
            .unwrap();
        assert!(c0
            .to_vec::<f32>()
            .unwrap()
            .iter()
            .all(|s| (s - 1.0).abs() < 1e-5));
    });
}

#[test]
fn softmax_errors() {
    let x = f32t(vec![0.0; 6], &[2, 3]);
    op_err(x.softmax(2), "softmax", &["axis 2", "[2, 3]"]);
    op_err(x.log_softmax(-3), "log_softmax", &["axis -3", "[2, 3]"]);
    op_err(
        i32t(vec![1, 2], &[2]).softmax(0),
        "softmax",
        &["float", "i32[2]"],
    );
    op_err(
        i32t(vec![1, 2], &[2]).log_softmax(0),
        "log_softmax",
        &["float", "i32[2]"],
    );
}

#[test]
fn clamp_family() {
    both(|| {
        let x = f32t(vec![-2.0, -0.5, 0.5, 3.0, f32::NAN], &[5]);
        let c = x.clamp(-1.0, 1.0).unwrap().to_vec::<f32>().unwrap();
        assert_eq!(c[..4], [-1.0, -0.5, 0.5, 1.0]);
        assert!(c[4].is_nan());
        assert_eq!(
            x.clamp(0.5f32, 0.5f32).unwrap().to_vec::<f32>().unwrap()[..4],
            [0.5; 4]
        );
        assert_eq!(
            x.clamp_min(0).unwrap().to_vec::<f32>().unwrap()[..4],
            [0.0, 0.0, 0.5, 3.0]
        );
        assert_eq!(
            x.clamp_max(0.0).unwrap().to_vec::<f32>().unwrap()[..4],
            [-2.0, -0.5, 0.0, 0.0]
        );
        let i = i64t(vec![-5, 5, 50], &[3]);
        assert_eq!(
            i.clamp(0, 10).unwrap().to_vec::<i64>().unwrap(),
            vec![0, 5, 10]
        );
        assert_eq!(
            i.clamp_min(-1i64).unwrap().to_vec::<i64>().unwrap(),
            vec![-1, 5, 50]
        );
        assert_eq!(
            i.clamp_max(6i32).unwrap().to_vec::<i64>().unwrap(),
            vec![-5, 5, 6]
        );
    });
    let x = f32t(vec![0.0; 3], &[3]);
    op_err(x.clamp(2.0, 1.0), "clamp", &["min 2", "max 1", "f32[3]"]);
    op_err(x.clamp(f64::NAN, 1.0), "clamp", &["NaN"]);
    op_err(x.clamp_min(f32::NAN), "clamp_min", &["NaN"]);
    let i = i32t(vec![0; 3], &[3]);
    op_err(i.clamp(0.5, 1.5), "clamp", &["0.5", "i32[3]"]);
    op_err(i.clamp(3, 2), "clamp", &["min 3", "max 2"]);
    op_err(i.clamp_max(0.5), "clamp_max", &["0.5", "i32[3]"]);
    let b = x.gt_scalar(0.0).unwrap();
    op_err(b.clamp(false, true), "clamp", &["numeric", "bool"]);
    op_err(b.clamp_min(false), "clamp_min", &["numeric", "bool"]);
}

#[test]
fn activations_and_square() {
    both(|| {
        let x = f64t(vec![-2.0, -1.0, 0.0, 0.5, 1.0, 2.0], &[6]);
        assert_eq!(
            x.square().unwrap().to_vec::<f64>().unwrap(),
            vec![4.0, 1.0, 0.0, 0.25, 1.0, 4.0]
        );
        assert_eq!(
            i32t(vec![-3, 4], &[2])
                .square()
                .unwrap()
                .to_vec::<i32>()
                .unwrap(),
            vec![9, 16]
        );
        let silu: Vec<f64> = [-2.0f64, -1.0, 0.0, 0.5, 1.0, 2.0]
            .iter()
            .map(|v| v / (1.0 + (-v).exp()))
            .collect();
        assert_close64(&x.silu().unwrap().to_vec::<f64>().unwrap(), &silu, 1e-12);
        // GELU (erf form) reference values.
        let gelu = [
            -0.04550026389635842,
            -0.15865525393145707,
            0.0,
            0.34573123063700656,
            0.8413447460685429,
            1.9544997361036416,
        ];
        assert_close64(&x.gelu().unwrap().to_vec::<f64>().unwrap(), &gelu, 1e-12);
        let x32 = f32t(vec![-2.0, -1.0, 0.0, 0.5, 1.0, 2.0], &[6]);
        assert_close(&x32.gelu().unwrap().to_vec::<f32>().unwrap(), &gelu, 1e-6);
        assert_close(&x32.silu().unwrap().to_vec::<f32>().unwrap(), &silu, 1e-6);
        let lr = x32.leaky_relu(0.1).unwrap().to_vec::<f32>().unwrap();
        assert_close(&lr, &[-0.2, -0.1, 0.0, 0.5, 1.0, 2.0], 1e-7);
    });
    let i = i32t(vec![1], &[1]);
    op_err(i.silu(), "silu", &["float", "i32[1]"]);
    op_err(i.gelu(), "gelu", &["float", "i32[1]"]);
    op_err(i.leaky_relu(0.1), "leaky_relu", &["float", "i32[1]"]);
}

#[test]
fn mse_and_cross_entropy() {
    both(|| {
        let a = f32t(vec![1.0, 2.0, 3.0, 4.0], &[2, 2]);
        let b = f32t(vec![1.0, 0.0, 5.0, 4.5], &[2, 2]);
        let l = a.mse_loss(&b).unwrap();
        assert_eq!(l.rank(), 0);
        assert_close(
            &[l.item::<f32>().unwrap()],
            &[(0.0 + 4.0 + 4.0 + 0.25) / 4.0],
            1e-7,
        );

        let logits = f32t(vec![1.0, 2.0, 0.5, -1.0, 0.0, 3.0], &[2, 3]);
        let target = i64t(vec![1, 2], &[2]);
        let ce = logits.cross_entropy(&target).unwrap();
        assert_eq!(ce.rank(), 0);
        let lse0 = logsumexp_f64(&[1.0, 2.0, 0.5]);
        let lse1 = logsumexp_f64(&[-1.0, 0.0, 3.0]);
        let want = ((lse0 - 2.0) + (lse1 - 3.0)) / 2.0;
        assert_close(&[ce.item::<f32>().unwrap()], &[want], 1e-6);
        let ce32 = logits.cross_entropy(&i32t(vec![1, 2], &[2])).unwrap();
        assert_close(&[ce32.item::<f32>().unwrap()], &[want], 1e-6);
    });
    let a = f32t(vec![0.0; 3], &[3]);
    op_err(
        a.mse_loss(&f32t(vec![0.0; 2], &[2])),
        "mse_loss",
        &["f32[3]", "f32[2]"],
    );
    op_err(
        a.mse_loss(&f64t(vec![0.0; 3], &[3])),
        "mse_loss",
        &["f32[3]", "f64[3]"],
    );
    op_err(
        i32t(vec![0; 3], &[3]).mse_loss(&i32t(vec![0; 3], &[3])),
        "mse_loss",
        &["float"],
    );
    let logits = f32t(vec![0.0; 6], &[2, 3]);
    op_err(
        logits.cross_entropy(&i64t(vec![0; 3], &[3])),
        "cross_entropy",
        &["f32[2, 3]", "i64[3]"],
    );
    op_err(
        logits.cross_entropy(&f32t(vec![0.0; 2], &[2])),
        "cross_entropy",
        &["f32[2]"],
    );
}

// ---------------------------------------------------------------------------------------
// Source locations
// ---------------------------------------------------------------------------------------

/// Every op node (and scalar leaf) below `n` down to `stop_at`'s node, located at `line`.
fn assert_graph_at(n: &std::sync::Arc<lazyjit::ir::Node>, stop_at: &[&LazyTensor], line: u32) {
    if stop_at
        .iter()
        .any(|t| std::sync::Arc::ptr_eq(&t.ir_node(), n))
    {
        return;
    }
    let loc = n.location();
    assert!(loc.file().ends_with("ops.rs"), "node {:?} at {loc}", n.op());
    assert_eq!(loc.line(), line, "node {:?} at {loc}", n.op());
    for o in n.operands() {
        assert_graph_at(o, stop_at, line);
    }
}

#[test]
fn composites_record_the_callers_location() {
    let x = f32t(data(12, 13), &[3, 4]);
    let w = f32t(data(8, 14), &[2, 4]);
    let b = f32t(data(2, 15), &[2]);
    let idx = i64t(vec![0, 1, 1], &[3]);
    let one = i64t(vec![1], &[1]);

    let (t, line) = (x.softmax(-1).unwrap(), line!());
    let loc = t.ir_node().location();
    assert!(loc.file().ends_with("ops.rs"), "{loc}");
    assert_eq!(loc.line(), line);
    assert_graph_at(&t.ir_node(), &[&x], line);

    #[rustfmt::skip]
    let cases: Vec<(LazyTensor, u32)> = vec![
        (x.log_softmax(0).unwrap(), line!()),
        (x.var(&[0, 1], false, 1).unwrap(), line!()),
        (x.std(&[-1], true, 0).unwrap(), line!()),
        (x.logsumexp(&[1], false).unwrap(), line!()),
        (x.gelu().unwrap(), line!()),
        (x.silu().unwrap(), line!()),
        (x.leaky_relu(0.2).unwrap(), line!()),
        (x.clamp(-0.5, 0.5).unwrap(), line!()),
        (x.clamp_min(0.25).unwrap(), line!()),
        (x.mse_loss(&x).unwrap(), line!()),
        (x.cross_entropy(&idx).unwrap(), line!()),
        (x.linear(&w, Some(&b)).unwrap(), line!()),
        (x.reshape(&[4, 3]).unwrap(), line!()),
        (x.flatten(0, -1).unwrap(), line!()),
        (x.unsqueeze(1).unwrap(), line!()),
        (x.t().unwrap(), line!()),
        (x.transpose(-1, 0).unwrap(), line!()),
        (x.narrow(1, 1, 2).unwrap(), line!()),
        (LazyTensor::concat(&[&x, &x], 0).unwrap(), line!()),
        (x.pad(&[1, 0], &[0, 1], 2.5).unwrap(), line!()),
        (x.gather(1, &idx.reshape(&[3, 1]).unwrap()).unwrap(), line!()),
        (x.index_select(-1, &idx).unwrap(), line!()),
        (x.argmax(-1, false).unwrap(), line!()),
        (x.mean_all().unwrap(), line!()),
        (x.square().unwrap(), line!()),
        (&x * 2.0 + 1.0, line!()),
        (-&x / &x - 3.0f32, line!()),
        (2 * &one, line!()),
    ];
    for (t, line) in &cases {
        assert_graph_at(&t.ir_node(), &[&x, &w, &b, &idx, &one], *line);
    }
}

#[test]
fn errors_from_composites_point_at_the_caller() {
    let x = f32t(vec![0.0; 6], &[2, 3]);
    let (r, line) = (x.var(&[1], false, 5), line!());
    assert_eq!(op_err(r, "var", &[]).location().unwrap().line(), line);
    let (r, line) = (x.softmax(3), line!());
    assert_eq!(op_err(r, "softmax", &[]).location().unwrap().line(), line);
    let (r, line) = (x.linear(&x.t().unwrap(), None), line!());
    assert_eq!(op_err(r, "linear", &[]).location().unwrap().line(), line);
    // An error raised inside a composite by a primitive (the index's rank) still points here.
    let (r, line) = (x.gather(0, &i64t(vec![0], &[1])), line!());
    assert_eq!(op_err(r, "gather", &[]).location().unwrap().line(), line);
    let (r, line) = (x.narrow(0, 1, 5), line!());
    assert_eq!(op_err(r, "narrow", &[]).location().unwrap().line(), line);
}

// ---------------------------------------------------------------------------------------
// Operator overloads
// ---------------------------------------------------------------------------------------

#[test]
fn tensor_tensor_operators_all_combinations() {
    both(|| {
        let a = f32t(vec![1.0, 2.0, 3.0], &[3]);
        let b = f32t(vec![4.0, 5.0, 6.0], &[3]);
        assert_eq!((&a + &b).to_vec::<f32>().unwrap(), vec![5.0, 7.0, 9.0]);
        assert_eq!(
            (&a - b.clone()).to_vec::<f32>().unwrap(),
            vec![-3.0, -3.0, -3.0]
        );
        assert_eq!(
            (a.clone() * &b).to_vec::<f32>().unwrap(),
            vec![4.0, 10.0, 18.0]
        );
        assert_eq!(
            (b.clone() / a.clone()).to_vec::<f32>().unwrap(),
            vec![4.0, 2.5, 2.0]
        );
        for (r, want) in [
            (&a + &b, [5.0, 7.0, 9.0]),
            (&a + b.clone(), [5.0, 7.0, 9.0]),
            (a.clone() + &b, [5.0, 7.0, 9.0]),
            (a.clone() + b.clone(), [5.0, 7.0, 9.0]),
            (&b - &a, [3.0, 3.0, 3.0]),
            (b.clone() - &a, [3.0, 3.0, 3.0]),
            (b.clone() - a.clone(), [3.0, 3.0, 3.0]),
            (&a * &b, [4.0, 10.0, 18.0]),
            (&a * b.clone(), [4.0, 10.0, 18.0]),
            (a.clone() * b.clone(), [4.0, 10.0, 18.0]),
            (&b / &a, [4.0, 2.5, 2.0]),
            (&b / a.clone(), [4.0, 2.5, 2.0]),
            (b.clone() / &a, [4.0, 2.5, 2.0]),
        ] {
            assert_eq!(r.to_vec::<f32>().unwrap(), want.to_vec());
        }
        // Broadcasting.
        let col = f32t(vec![10.0, 20.0], &[2, 1]);
        let m = &col + &a;
        assert_eq!(m.shape(), &[2, 3]);
        assert_eq!(
            m.to_vec::<f32>().unwrap(),
            vec![11.0, 12.0, 13.0, 21.0, 22.0, 23.0]
        );
        // Negation.
        assert_eq!((-&a).to_vec::<f32>().unwrap(), vec![-1.0, -2.0, -3.0]);
        assert_eq!(
            (-a.clone()).to_vec::<f32>().unwrap(),
            vec![-1.0, -2.0, -3.0]
        );
        assert_eq!((-i32t(vec![4], &[1])).to_vec::<i32>().unwrap(), vec![-4]);
    });
}

#[test]
fn tensor_scalar_operators() {
    both(|| {
        let a = f32t(vec![1.0, 2.0, 4.0], &[3]);
        assert_eq!((&a + 1.0).to_vec::<f32>().unwrap(), vec![2.0, 3.0, 5.0]);
        assert_eq!((&a - 1.0f32).to_vec::<f32>().unwrap(), vec![0.0, 1.0, 3.0]);
        assert_eq!((&a * 2).to_vec::<f32>().unwrap(), vec![2.0, 4.0, 8.0]);
        assert_eq!((&a / 2i64).to_vec::<f32>().unwrap(), vec![0.5, 1.0, 2.0]);
        assert_eq!(
            (a.clone() + 0.5).to_vec::<f32>().unwrap(),
            vec![1.5, 2.5, 4.5]
        );
        assert_eq!(
            (a.clone() * 3.0f32).to_vec::<f32>().unwrap(),
            vec![3.0, 6.0, 12.0]
        );
        // Scalar on the left. With an unsuffixed literal the result type is only known
        // from context (`f32` and `f64` both implement `Add<&LazyTensor>`), so either pass
        // it where a `LazyTensor` is expected or suffix the literal before a method call.
        let v32 = |t: LazyTensor| t.to_vec::<f32>().unwrap();
        assert_eq!(v32(1.0 + &a), vec![2.0, 3.0, 5.0]);
        assert_eq!(v32(10.0 - &a), vec![9.0, 8.0, 6.0]);
        assert_eq!((2.0f32 * &a).to_vec::<f32>().unwrap(), vec![2.0, 4.0, 8.0]);
        assert_eq!((10.0f64 - &a).to_vec::<f32>().unwrap(), vec![9.0, 8.0, 6.0]);
        assert_eq!(v32(8 / &a), vec![8.0, 4.0, 2.0]);
        assert_eq!((8i32 / &a).to_vec::<f32>().unwrap(), vec![8.0, 4.0, 2.0]);
        assert_eq!(v32(1i64 - a.clone()), vec![0.0, -1.0, -3.0]);
        assert_eq!(v32(4.0 / a.clone()), vec![4.0, 2.0, 1.0]);
        assert_eq!(v32(2.0 * a.clone()), vec![2.0, 4.0, 8.0]);
        assert_eq!(v32(0.5 + a.clone()), vec![1.5, 2.5, 4.5]);
        let typed: LazyTensor = 1.0 - &a;
        assert_eq!(typed.to_vec::<f32>().unwrap(), vec![0.0, -1.0, -3.0]);
        // Integer tensors with integer scalars.
        let i = i32t(vec![7, -8], &[2]);
        assert_eq!((&i * 3 - 1).to_vec::<i32>().unwrap(), vec![20, -25]);
        assert_eq!((&i / 2).to_vec::<i32>().unwrap(), vec![3, -4]);
        assert_eq!((100i64 / &i).to_vec::<i32>().unwrap(), vec![14, -12]);
        assert_eq!((5i32 - i.clone()).to_vec::<i32>().unwrap(), vec![-2, 13]);
        let d = f64t(vec![0.5], &[1]);
        assert_eq!((3.0f64 * &d + 1.0).to_vec::<f64>().unwrap(), vec![2.5]);
        // A composite expression.
        let x = f32t(vec![1.0, -1.0], &[2]);
        let y: LazyTensor = (&x * &x + 2.0 * &x - 1.0) / 2.0;
        assert_eq!(y.to_vec::<f32>().unwrap(), vec![1.0, -1.0]);
    });
}

#[test]
#[should_panic(expected = "add: shapes [3] and [2] do not broadcast")]
fn add_operator_panics_on_bad_shapes() {
    let a = f32t(vec![1.0, 2.0, 3.0], &[3]);
    let b = f32t(vec![1.0, 2.0], &[2]);
    let _ = &a + &b;
}

#[test]
#[should_panic(expected = "sub: needs operands of one dtype")]
fn sub_operator_panics_on_mixed_dtypes() {
    let _ = f32t(vec![1.0], &[1]) - i32t(vec![1], &[1]);
}

#[test]
#[should_panic(expected = "mul: the scalar 2.5 cannot be used with a tensor of type i32[2]")]
fn mul_operator_panics_on_unfit_scalar() {
    let _ = &i32t(vec![1, 2], &[2]) * 2.5;
}

#[test]
#[should_panic(expected = "div: the scalar 1.5 cannot be used with a tensor of type i64[1]")]
fn scalar_left_div_panics_on_unfit_scalar() {
    let _ = 1.5 / i64t(vec![1], &[1]);
}

#[test]
#[should_panic(expected = "neg: expects a numeric dtype")]
fn neg_operator_panics_on_bool() {
    let b = f32t(vec![1.0], &[1]).gt_scalar(0.0).unwrap();
    let _ = -&b;
}

#[test]
fn operator_panic_points_at_the_users_line() {
    let a = f32t(vec![1.0, 2.0, 3.0], &[3]);
    let b = f32t(vec![1.0, 2.0], &[2]);
    let line = line!() + 1;
    let r = std::panic::catch_unwind(|| &a * &b);
    let msg = *r.unwrap_err().downcast::<String>().unwrap();
    assert!(msg.starts_with("mul: shapes [3] and [2]"), "{msg}");
    assert!(
        msg.contains(&format!("ops.rs:{line}:")),
        "{msg} (expected line {line})"
    );
}

// ---------------------------------------------------------------------------------------
// Misc: constants from zeros/ones flow through the ops.
// ---------------------------------------------------------------------------------------

#[test]
fn ops_on_constant_tensors() {
    both(|| {
        let o = ones(&[2, 3], DType::F32);
        assert_eq!(
            o.sum(&[-1], false).unwrap().to_vec::<f32>().unwrap(),
            vec![3.0, 3.0]
        );
        assert_eq!(
            o.softmax(1).unwrap().to_vec::<f32>().unwrap(),
            vec![1.0 / 3.0; 6]
        );
        let z = zeros(&[2, 2], DType::I64);
        assert_eq!(
            z.pad(&[0, 1], &[0, 0], 5).unwrap().to_vec::<i64>().unwrap(),
            vec![5, 0, 0, 5, 0, 0]
        );
    });
}
