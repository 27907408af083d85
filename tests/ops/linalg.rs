//! Linear algebra: matmul (2-d and batched) and linear, against a host matmul, with errors.

use super::*;

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
