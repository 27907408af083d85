//! Reductions: axes and keepdim, empty axes, mean/max/min/prod, wrapping integer sums,
//! NaN propagation, argmax/argmin ties and NaN.

use super::*;

// ---------------------------------------------------------------- reductions

#[test]
fn reduce_sum_axes_and_keepdim() {
    // [[[1,2],[3,4],[5,6]], [[7,8],[9,10],[11,12]]]
    let x = t(&[2, 3, 2], &(1..=12).map(|i| i as f32).collect::<Vec<_>>());
    let s1 = red(ReduceOp::Sum, &[1], false, &x);
    assert_eq!(dims(&s1), [2, 2]);
    assert_eq!(v::<f32>(&s1), [9.0, 12.0, 27.0, 30.0]);
    let s02 = red(ReduceOp::Sum, &[0, 2], true, &x);
    assert_eq!(dims(&s02), [1, 3, 1]);
    assert_eq!(v::<f32>(&s02), [18.0, 26.0, 34.0]);
    let all = red(ReduceOp::Sum, &[0, 1, 2], false, &x);
    assert_eq!(dims(&all), Vec::<usize>::new());
    assert_eq!(v::<f32>(&all), [78.0]);
    let none = red(ReduceOp::Sum, &[], false, &x);
    assert_eq!(dims(&none), [2, 3, 2]);
    assert_eq!(v::<f32>(&none), v::<f32>(&x));
}

#[test]
fn reduce_over_zero_length_axis_gives_identity() {
    let x = t::<f32>(&[2, 0], &[]);
    let s = red(ReduceOp::Sum, &[1], false, &x);
    assert_eq!(dims(&s), [2]);
    assert_eq!(v::<f32>(&s), [0.0, 0.0]);
    assert_eq!(v::<f32>(&red(ReduceOp::Prod, &[1], false, &x)), [1.0, 1.0]);
    assert_eq!(v::<f32>(&red(ReduceOp::Max, &[1], false, &x)), [-INF, -INF]);
    assert_eq!(v::<f32>(&red(ReduceOp::Min, &[1], true, &x)), [INF, INF]);
    let m = red(ReduceOp::Mean, &[1], false, &x);
    assert!(v::<f32>(&m).iter().all(|x| x.is_nan()));
    let xi = t::<i32>(&[0, 3], &[]);
    let mx = red(ReduceOp::Max, &[0], false, &xi);
    assert_eq!(dims(&mx), [3]);
    assert_eq!(v::<i32>(&mx), [i32::MIN; 3]);
    assert_eq!(
        v::<i32>(&red(ReduceOp::Min, &[0], false, &xi)),
        [i32::MAX; 3]
    );
    assert_eq!(v::<i32>(&red(ReduceOp::Sum, &[0], false, &xi)), [0; 3]);
    // Reducing the non-empty axis of an empty tensor gives an empty result.
    let e = red(ReduceOp::Sum, &[1], false, &xi);
    assert_eq!(dims(&e), [0]);
    let l = t::<i64>(&[0], &[]);
    assert_eq!(v::<i64>(&red(ReduceOp::Prod, &[0], false, &l)), [1]);
    assert_eq!(v::<i64>(&red(ReduceOp::Max, &[0], false, &l)), [i64::MIN]);
}

#[test]
fn reduce_mean_max_min_prod() {
    let x = t(&[2, 3], &[1.0f32, 5.0, 3.0, -2.0, 4.0, 0.5]);
    assert_eq!(
        v::<f32>(&red(ReduceOp::Mean, &[1], false, &x)),
        [3.0, 0.8333333]
    );
    assert_eq!(
        v::<f32>(&red(ReduceOp::Mean, &[0], true, &x)),
        [-0.5, 4.5, 1.75]
    );
    assert_eq!(v::<f32>(&red(ReduceOp::Max, &[1], false, &x)), [5.0, 4.0]);
    assert_eq!(
        v::<f32>(&red(ReduceOp::Min, &[0], false, &x)),
        [-2.0, 4.0, 0.5]
    );
    assert_eq!(
        v::<f32>(&red(ReduceOp::Prod, &[1], false, &x)),
        [15.0, -4.0]
    );
    let d = t(&[4], &[1.0f64, 2.0, 3.0, 4.0]);
    assert_eq!(v::<f64>(&red(ReduceOp::Mean, &[0], false, &d)), [2.5]);
    let i = t(&[2, 2], &[3i64, -4, 5, 6]);
    assert_eq!(v::<i64>(&red(ReduceOp::Prod, &[0, 1], false, &i)), [-360]);
    assert_eq!(v::<i64>(&red(ReduceOp::Max, &[0], false, &i)), [5, 6]);
    assert_eq!(v::<i64>(&red(ReduceOp::Min, &[1], true, &i)), [-4, 5]);
}

#[test]
fn reduce_int_sum_wraps() {
    let x = t(&[3], &[i32::MAX, 1, 1]);
    assert_eq!(
        v::<i32>(&red(ReduceOp::Sum, &[0], false, &x)),
        [i32::MIN + 1]
    );
    let p = t(&[2], &[65_536i32, 65_536]);
    assert_eq!(v::<i32>(&red(ReduceOp::Prod, &[0], false, &p)), [0]);
}

#[test]
fn reduce_max_min_propagate_nan() {
    let x = t(&[2, 3], &[1.0f32, NAN, 3.0, -1.0, -5.0, -0.0]);
    exact32(
        &v::<f32>(&red(ReduceOp::Max, &[1], false, &x)),
        &[NAN, -0.0],
    );
    exact32(
        &v::<f32>(&red(ReduceOp::Min, &[1], false, &x)),
        &[NAN, -5.0],
    );
    exact32(
        &v::<f32>(&red(ReduceOp::Sum, &[1], false, &x)),
        &[NAN, -6.0],
    );
    exact32(
        &v::<f32>(&red(ReduceOp::Max, &[0], false, &x)),
        &[1.0, NAN, 3.0],
    );
}

#[test]
fn reduce_of_rank0_with_no_axes_is_copy() {
    let s = red(ReduceOp::Max, &[], true, &Tensor::scalar(-0.0f32));
    assert_eq!(dims(&s), Vec::<usize>::new());
    exact32(&v::<f32>(&s), &[-0.0]);
}

#[test]
fn argmax_argmin_first_occurrence() {
    let x = t(&[2, 4], &[1.0f32, 7.0, 7.0, -2.0, 3.0, 3.0, -1.0, -1.0]);
    let am = red(ReduceOp::ArgMax, &[1], false, &x);
    assert_eq!(am.dtype(), DType::I64);
    assert_eq!(dims(&am), [2]);
    assert_eq!(v::<i64>(&am), [1, 0]);
    assert_eq!(v::<i64>(&red(ReduceOp::ArgMin, &[1], false, &x)), [3, 2]);
    let am0 = red(ReduceOp::ArgMax, &[0], true, &x);
    assert_eq!(dims(&am0), [1, 4]);
    assert_eq!(v::<i64>(&am0), [1, 0, 0, 1]);
    let i = t(&[5], &[4i32, 9, 1, 9, 1]);
    assert_eq!(v::<i64>(&red(ReduceOp::ArgMax, &[0], false, &i)), [1]);
    assert_eq!(v::<i64>(&red(ReduceOp::ArgMin, &[0], false, &i)), [2]);
    let one = red(ReduceOp::ArgMax, &[0], false, &t(&[1, 0], &[] as &[f32]));
    assert_eq!(dims(&one), [0]);
}

#[test]
fn argmax_argmin_first_nan_wins() {
    let x = t(&[2, 4], &[1.0f32, NAN, 9.0, NAN, -INF, 2.0, 0.0, NAN]);
    assert_eq!(v::<i64>(&red(ReduceOp::ArgMax, &[1], false, &x)), [1, 3]);
    assert_eq!(v::<i64>(&red(ReduceOp::ArgMin, &[1], false, &x)), [1, 3]);
    let no_nan = t(&[3], &[-INF, INF, 0.0f32]);
    assert_eq!(v::<i64>(&red(ReduceOp::ArgMax, &[0], false, &no_nan)), [1]);
    assert_eq!(v::<i64>(&red(ReduceOp::ArgMin, &[0], false, &no_nan)), [0]);
}
