//! The argument forms: shapes as tuples, arrays, slices, vectors, a usize or `()`; axes as
//! one axis or a list; the `_axis` and `_keepdim` reductions; and the process-wide random
//! generator behind `manual_seed`.

use super::*;
use lazyjit::nn::Linear;
use lazyjit::{manual_seed, next_seed, Shape};

#[test]
fn every_shape_form_gives_the_same_tensor() {
    let v: Vec<usize> = vec![2, 3];
    let forms: Vec<Shape> = vec![
        (2, 3).into(),
        [2, 3].into(),
        (&[2, 3]).into(),
        v.clone().into(),
        (&v).into(),
        v.as_slice().into(),
    ];
    for s in &forms {
        assert_eq!(s.dims(), &[2, 3]);
        let z = LazyTensor::zeros(s, DType::F32).unwrap();
        assert_eq!(z.shape(), &[2, 3]);
    }
    let data: Vec<i32> = (0..6).collect();
    let want = i32t(data.clone(), &[2, 3]).to_vec::<i32>().unwrap();
    for t in [
        LazyTensor::from_vec(data.clone(), (2, 3)).unwrap(),
        LazyTensor::from_vec(data.clone(), [2, 3]).unwrap(),
        LazyTensor::from_vec(data.clone(), vec![2, 3]).unwrap(),
        LazyTensor::from_slice(&data, &v).unwrap(),
        LazyTensor::from_vec(data.clone(), 6)
            .unwrap()
            .reshape((2, 3))
            .unwrap(),
        LazyTensor::from_vec(data.clone(), [6])
            .unwrap()
            .reshape(&v)
            .unwrap(),
    ] {
        assert_eq!(t.shape(), &[2, 3]);
        assert_eq!(t.to_vec::<i32>().unwrap(), want);
    }
    // `()` is a scalar, a usize a vector.
    assert_eq!(LazyTensor::ones((), DType::I64).unwrap().rank(), 0);
    assert_eq!(LazyTensor::full(4, 2.5f64).unwrap().shape(), &[4]);
    assert_eq!(
        LazyTensor::iota((2, 2), 0, DType::I32)
            .unwrap()
            .to_vec::<i32>()
            .unwrap(),
        vec![0, 0, 1, 1]
    );
    let row = LazyTensor::from_vec(vec![1.0f32, 2.0], (1, 2)).unwrap();
    assert_eq!(row.expand((3, 2)).unwrap().shape(), &[3, 2]);
    assert_eq!(row.broadcast_to([2, 1, 2]).unwrap().shape(), &[2, 1, 2]);
    // Wrong element counts and bad reshapes are still errors.
    assert!(LazyTensor::from_vec(data.clone(), (4, 2)).is_err());
    op_err(row.reshape((3, 1)), "reshape", &[]);
}

#[test]
fn constructors_share_one_rule() {
    // Shape first, then dtype or value; all return Result; bad input is an error.
    assert!(LazyTensor::zeros((usize::MAX, 2), DType::F32).is_err());
    assert!(LazyTensor::ones((usize::MAX, 2), DType::F32).is_err());
    assert!(LazyTensor::full((usize::MAX, 2), 3.0f32).is_err());
    op_err(LazyTensor::randn(2, DType::I32), "randn", &["float dtype"]);
    op_err(
        LazyTensor::rand((2, 2), DType::I64),
        "rand",
        &["float dtype"],
    );
    op_err(
        LazyTensor::normal(2, DType::F32, 0.0, f64::NAN),
        "normal",
        &["std"],
    );
    op_err(
        LazyTensor::rand_uniform(2, DType::F32, 1.0, 0.0),
        "rand_uniform",
        &["low < high"],
    );
    let r = LazyTensor::randn((3, 4), DType::F64).unwrap();
    assert_eq!((r.shape(), r.dtype()), (&[3usize, 4][..], DType::F64));
}

#[test]
fn reduction_forms_agree() {
    let v = data(24, 9);
    let t = f32t(v.clone(), &[2, 3, 4]);
    let a = host(&v, &[2, 3, 4]);
    type Forms = (
        fn(&LazyTensor, &[isize], bool) -> R,
        fn(&LazyTensor, Vec<isize>) -> R,
        fn(&LazyTensor, &[isize]) -> R,
    );
    type Reducer = (&'static str, Forms, f64, fn(f64, f64) -> f64);
    let ops: [Reducer; 3] = [
        (
            "sum",
            (
                |t, a, k| t.sum(a, k),
                |t, a| t.sum_axis(a),
                |t, a| t.sum_keepdim(a),
            ),
            0.0,
            |x, y| x + y,
        ),
        (
            "max",
            (
                |t, a, k| t.max(a, k),
                |t, a| t.max_axis(a),
                |t, a| t.max_keepdim(a),
            ),
            f64::NEG_INFINITY,
            f64::max,
        ),
        (
            "min",
            (
                |t, a, k| t.min(a, k),
                |t, a| t.min_axis(a),
                |t, a| t.min_keepdim(a),
            ),
            f64::INFINITY,
            f64::min,
        ),
    ];
    for (name, (general, dropping, keep), init, f) in ops {
        for (axes, pos) in [
            (vec![-1isize], vec![2usize]),
            (vec![0, 2], vec![0, 2]),
            (vec![1], vec![1]),
        ] {
            let dropped = dropping(&t, axes.clone()).unwrap();
            let kept = keep(&t, &axes).unwrap();
            let want_drop = nd_reduce(&a, &pos, false, init, f);
            let want_keep = nd_reduce(&a, &pos, true, init, f);
            assert_eq!(dropped.shape(), want_drop.shape(), "{name} {axes:?}");
            assert_eq!(kept.shape(), want_keep.shape(), "{name} {axes:?}");
            let got = dropped.to_vec::<f32>().unwrap();
            assert_close(&got, &vec64(&want_drop), 1e-5);
            assert_eq!(kept.to_vec::<f32>().unwrap(), got, "{name} {axes:?}");
            assert_eq!(
                general(&t, &axes, true).unwrap().to_vec::<f32>().unwrap(),
                got
            );
        }
    }
    // One axis as a plain integer, of any of the accepted types.
    let m = t.mean_axis(-1).unwrap();
    assert_eq!(m.shape(), &[2, 3]);
    assert_eq!(t.mean_keepdim(1usize).unwrap().shape(), &[2, 1, 4]);
    assert_eq!(t.prod_axis(0isize).unwrap().shape(), &[3, 4]);
    assert_eq!(t.var(-1, false, 1).unwrap().shape(), &[2, 3]);
    assert_eq!(t.std([0, 1], true, 0).unwrap().shape(), &[1, 1, 4]);
    assert_eq!(t.logsumexp(2, false).unwrap().shape(), &[2, 3]);
    // Errors keep naming the op, the axis and the shape.
    op_err(t.sum_axis(3), "reduce_sum", &["axis 3", "[2, 3, 4]"]);
    op_err(t.max_keepdim([0, -3]), "reduce_max", &["more than once"]);
    op_err(t.min_axis(usize::MAX), "reduce_min", &["out of range"]);
}

/// The only test of this binary that draws from the default generator (the others use
/// seeded constructors), so no other thread moves it between the draws compared here.
#[test]
fn manual_seed_fixes_every_unseeded_draw() {
    let draw = || {
        (
            LazyTensor::randn((3, 5), DType::F32)
                .unwrap()
                .to_vec::<f32>()
                .unwrap(),
            LazyTensor::rand(7, DType::F64)
                .unwrap()
                .to_vec::<f64>()
                .unwrap(),
            LazyTensor::rand_uniform([4], DType::F32, -3.0, -2.0)
                .unwrap()
                .to_vec::<f32>()
                .unwrap(),
            LazyTensor::normal([4], DType::F64, 10.0, 0.1)
                .unwrap()
                .to_vec::<f64>()
                .unwrap(),
            Linear::new(3, 2, next_seed())
                .unwrap()
                .weight()
                .to_vec::<f32>()
                .unwrap(),
        )
    };
    manual_seed(42);
    assert_eq!(lazyjit::initial_seed(), 42);
    let first = draw();
    manual_seed(42);
    assert_eq!(draw(), first, "one seed, one stream");
    manual_seed(43);
    let other = draw();
    assert_ne!(other.0, first.0, "another seed, another stream");
    assert_ne!(other.4, first.4);
    // Consecutive draws differ: the generator advances.
    manual_seed(42);
    let a = LazyTensor::randn(8, DType::F32)
        .unwrap()
        .to_vec::<f32>()
        .unwrap();
    let b = LazyTensor::randn(8, DType::F32)
        .unwrap()
        .to_vec::<f32>()
        .unwrap();
    assert_ne!(a, b);
    // Seeded constructors and rejected calls leave the stream where it was.
    manual_seed(42);
    let _ = LazyTensor::randn_seeded(8, DType::F32, 0.0, 1.0, 5).unwrap();
    let _ = LazyTensor::rand_uniform_seeded(8, DType::F32, 0.0, 1.0, 5).unwrap();
    assert!(LazyTensor::randn(8, DType::I32).is_err());
    assert!(LazyTensor::normal(8, DType::F32, 0.0, -1.0).is_err());
    assert_eq!(
        LazyTensor::randn(8, DType::F32)
            .unwrap()
            .to_vec::<f32>()
            .unwrap(),
        a
    );
    // Values have the distribution asked for.
    assert!(first.2.iter().all(|v| (-3.0..-2.0).contains(v)));
    assert!(first.1.iter().all(|v| (0.0..1.0).contains(v)));
    assert!(first.3.iter().all(|v| (9.0..11.0).contains(v)));
}
