//! Reductions: sums, ndarray agreement over axis lists, whole-tensor reductions, argmax /
//! argmin, var / std, logsumexp, and their errors.

use super::*;

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

pub(crate) fn logsumexp_f64(xs: &[f64]) -> f64 {
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
