//! Shape ops (reshape, permute, expand, slice, narrow, concat, pad, flatten, squeeze,
//! unsqueeze) and indexing (gather, index_select, scatter_add), with their errors; also
//! softplus and random_uniform through the front end.

use super::*;

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

#[test]
fn scatter_add_softplus_and_random_uniform_on_both_backends() {
    both(|| {
        // scatter_add: the gradient of the gather above, rows summed where indices repeat.
        let zeros = f32t(vec![0.0; 6], &[2, 3]);
        let idx = i64t(vec![2, 0, 2, 2], &[2, 2]);
        let upd = f32t(vec![1.0, 2.0, 3.0, 4.0], &[2, 2]);
        let s = zeros.scatter_add(-1, &idx, &upd).unwrap();
        assert_eq!(s.shape(), &[2, 3]);
        assert_eq!(
            s.to_vec::<f32>().unwrap(),
            vec![2.0, 0.0, 1.0, 0.0, 0.0, 7.0]
        );
        let bad = zeros
            .scatter_add(1, &i64t(vec![3], &[1, 1]), &f32t(vec![1.0], &[1, 1]))
            .unwrap();
        assert!(matches!(bad.to_vec::<f32>(), Err(Error::Execute { .. })));

        let x = f64t(vec![-800.0, -1.0, 0.0, 1.0, 800.0], &[5]);
        let sp = x.softplus().unwrap().to_vec::<f64>().unwrap();
        let want = [
            0.0,
            0.313_261_687_518_222_8,
            std::f64::consts::LN_2,
            1.313_261_687_518_222_8,
            800.0,
        ];
        assert_close64(&sp, &want, 1e-15);

        let seed = LazyTensor::scalar(5i64);
        let off = LazyTensor::scalar(9i64);
        let r = LazyTensor::random_uniform(&[3, 4], DType::F64, &seed, &off).unwrap();
        let v = r.to_vec::<f64>().unwrap();
        let w = lazyjit::lowering::reference::random::element_words(5, 9, 11);
        assert_eq!(v[11], lazyjit::lowering::reference::random::to_f64(w));
    });
    let d = f32t(vec![0.0; 6], &[2, 3]);
    op_err(
        d.scatter_add(0, &i64t(vec![0; 8], &[2, 4]), &f32t(vec![0.0; 8], &[2, 4])),
        "scatter_add",
        &["does not fit"],
    );
    op_err(
        LazyTensor::random_uniform(
            &[2],
            DType::I32,
            &LazyTensor::scalar(5i64),
            &LazyTensor::scalar(7i64),
        ),
        "random_uniform",
        &["float dtype"],
    );
    op_err(
        LazyTensor::from_vec(vec![1i32], &[1]).unwrap().softplus(),
        "softplus",
        &["float dtype"],
    );
}
