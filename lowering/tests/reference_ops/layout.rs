//! Layout and indexing ops: reshape, permute, expand, slice, concat, pad; gather and
//! index_select, with out-of-range indices.

use super::*;

// ---------------------------------------------------------------- data movement

#[test]
fn reshape_is_row_major() {
    let x = t(&[2, 3], &[1i32, 2, 3, 4, 5, 6]);
    let r = eval(
        Op::Reshape {
            shape: Shape::new([3, 1, 2]),
        },
        &[&x],
    );
    assert_eq!(dims(&r), [3, 1, 2]);
    assert_eq!(v::<i32>(&r), [1, 2, 3, 4, 5, 6]);
    let s = eval(
        Op::Reshape {
            shape: Shape::scalar(),
        },
        &[&t(&[1, 1], &[5.0f32])],
    );
    assert_eq!(dims(&s), Vec::<usize>::new());
    let e = eval(
        Op::Reshape {
            shape: Shape::new([0, 5]),
        },
        &[&t::<f32>(&[5, 0], &[])],
    );
    assert_eq!(dims(&e), [0, 5]);
}

#[test]
fn permute_moves_axes() {
    // x[i][j][k] = 100i + 10j + k, shape [2, 3, 2]
    let data: Vec<i64> = (0..2)
        .flat_map(|i| (0..3).flat_map(move |j| (0..2).map(move |k| 100 * i + 10 * j + k)))
        .collect();
    let x = t(&[2, 3, 2], &data);
    let p = eval(
        Op::Permute {
            perm: vec![2, 0, 1],
        },
        &[&x],
    );
    assert_eq!(dims(&p), [2, 2, 3]);
    // out[a][b][c] = x[b][c][a]
    assert_eq!(
        v::<i64>(&p),
        [0, 10, 20, 100, 110, 120, 1, 11, 21, 101, 111, 121]
    );
    let tr = eval(
        Op::Permute { perm: vec![1, 0] },
        &[&t(&[2, 3], &[1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0])],
    );
    assert_eq!(dims(&tr), [3, 2]);
    assert_eq!(v::<f32>(&tr), [1.0, 4.0, 2.0, 5.0, 3.0, 6.0]);
    // A transposed value feeds later ops in logical order.
    let mut prog = Program::new();
    let a = prog.param("a", ty(DType::F32, &[2, 3]));
    let pt = prog.push(Op::Permute { perm: vec![1, 0] }, &[a]).unwrap();
    let r = prog
        .push(
            Op::Reshape {
                shape: Shape::new([6]),
            },
            &[pt],
        )
        .unwrap();
    prog.output(r);
    let out = reference::run(&prog, &[&t(&[2, 3], &[1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0])]).unwrap();
    assert_eq!(v::<f32>(&out[0]), [1.0, 4.0, 2.0, 5.0, 3.0, 6.0]);
}

#[test]
fn expand_broadcasts_to() {
    let x = t(&[3, 1], &[1i32, 2, 3]);
    let e = eval(
        Op::Expand {
            shape: Shape::new([2, 3, 2]),
        },
        &[&x],
    );
    assert_eq!(dims(&e), [2, 3, 2]);
    assert_eq!(v::<i32>(&e), [1, 1, 2, 2, 3, 3, 1, 1, 2, 2, 3, 3]);
    let s = eval(
        Op::Expand {
            shape: Shape::new([2, 2]),
        },
        &[&Tensor::scalar(true)],
    );
    assert_eq!(v::<bool>(&s), [true; 4]);
    let z = eval(
        Op::Expand {
            shape: Shape::new([3, 0]),
        },
        &[&t(&[1], &[1.0f32])],
    );
    assert_eq!(dims(&z), [3, 0]);
}

#[test]
fn slice_with_steps() {
    let x = t(&[3, 5], &(0..15).collect::<Vec<i32>>());
    let s = eval(
        Op::Slice {
            starts: vec![1, 0],
            stops: vec![3, 5],
            steps: vec![1, 2],
        },
        &[&x],
    );
    assert_eq!(dims(&s), [2, 3]);
    assert_eq!(v::<i32>(&s), [5, 7, 9, 10, 12, 14]);
    let s2 = eval(
        Op::Slice {
            starts: vec![0, 1],
            stops: vec![3, 4],
            steps: vec![2, 100],
        },
        &[&x],
    );
    assert_eq!(dims(&s2), [2, 1]);
    assert_eq!(v::<i32>(&s2), [1, 11]);
    let empty = eval(
        Op::Slice {
            starts: vec![3, 2],
            stops: vec![3, 2],
            steps: vec![1, 1],
        },
        &[&x],
    );
    assert_eq!(dims(&empty), [0, 0]);
    let huge_step = eval(
        Op::Slice {
            starts: vec![2],
            stops: vec![4],
            steps: vec![usize::MAX],
        },
        &[&t(&[4], &[1.0f32, 2.0, 3.0, 4.0])],
    );
    assert_eq!(v::<f32>(&huge_step), [3.0]);
}

#[test]
fn concat_joins_along_axis_including_empty_operands() {
    let a = t(&[2, 1], &[1.0f32, 2.0]);
    let b = t(&[2, 2], &[3.0f32, 4.0, 5.0, 6.0]);
    let e = t::<f32>(&[2, 0], &[]);
    let c = eval(Op::Concat { axis: 1 }, &[&a, &e, &b]);
    assert_eq!(dims(&c), [2, 3]);
    assert_eq!(v::<f32>(&c), [1.0, 3.0, 4.0, 2.0, 5.0, 6.0]);
    let r = eval(
        Op::Concat { axis: 0 },
        &[&t(&[1, 2], &[1i64, 2]), &t(&[2, 2], &[3i64, 4, 5, 6])],
    );
    assert_eq!(dims(&r), [3, 2]);
    assert_eq!(v::<i64>(&r), [1, 2, 3, 4, 5, 6]);
    let only_empty = eval(Op::Concat { axis: 0 }, &[&t::<bool>(&[0, 3], &[])]);
    assert_eq!(dims(&only_empty), [0, 3]);
    let single = eval(Op::Concat { axis: 0 }, &[&t(&[2], &[true, false])]);
    assert_eq!(v::<bool>(&single), [true, false]);
}

#[test]
fn pad_fills_lo_and_hi() {
    let x = t(&[2, 2], &[1.0f32, 2.0, 3.0, 4.0]);
    let p = eval(
        Op::Pad {
            lo: vec![1, 0],
            hi: vec![0, 2],
            value: Scalar::Float(-1.0),
        },
        &[&x],
    );
    assert_eq!(dims(&p), [3, 4]);
    assert_eq!(
        v::<f32>(&p),
        [-1.0, -1.0, -1.0, -1.0, 1.0, 2.0, -1.0, -1.0, 3.0, 4.0, -1.0, -1.0]
    );
    let i = eval(
        Op::Pad {
            lo: vec![2],
            hi: vec![1],
            value: Scalar::Int(9),
        },
        &[&t(&[1], &[5i32])],
    );
    assert_eq!(v::<i32>(&i), [9, 9, 5, 9]);
    let f = eval(
        Op::Pad {
            lo: vec![1],
            hi: vec![1],
            value: Scalar::Int(7),
        },
        &[&t(&[1], &[0.5f64])],
    );
    assert_eq!(v::<f64>(&f), [7.0, 0.5, 7.0]);
    let e = eval(
        Op::Pad {
            lo: vec![1, 0],
            hi: vec![1, 0],
            value: Scalar::Bool(true),
        },
        &[&t::<bool>(&[0, 2], &[])],
    );
    assert_eq!(dims(&e), [2, 2]);
    assert_eq!(v::<bool>(&e), [true; 4]);
    let s = eval(
        Op::Pad {
            lo: vec![],
            hi: vec![],
            value: Scalar::Float(0.0),
        },
        &[&Tensor::scalar(3.0f32)],
    );
    assert_eq!(v::<f32>(&s), [3.0]);
}

// ---------------------------------------------------------------- indexing

#[test]
fn gather_along_axes() {
    let data = t(&[2, 3], &[10i32, 11, 12, 20, 21, 22]);
    // axis 1: out[i][j] = data[i][index[i][j]]
    let idx = t(&[2, 2], &[2i64, 0, 1, 1]);
    let g = eval(Op::Gather { axis: 1 }, &[&data, &idx]);
    assert_eq!(dims(&g), [2, 2]);
    assert_eq!(v::<i32>(&g), [12, 10, 21, 21]);
    // axis 0 with an i32 index smaller than the data: out[i][j] = data[index[i][j]][j]
    let idx0 = t(&[1, 3], &[1i32, 0, 1]);
    let g0 = eval(Op::Gather { axis: 0 }, &[&data, &idx0]);
    assert_eq!(dims(&g0), [1, 3]);
    assert_eq!(v::<i32>(&g0), [20, 11, 22]);
    // The index may be longer than the data along the gather axis.
    let long = t(&[1, 4], &[0i64, 0, 2, 1]);
    assert_eq!(
        v::<i32>(&eval(Op::Gather { axis: 1 }, &[&data, &long])),
        [10, 10, 12, 11]
    );
    let empty = eval(Op::Gather { axis: 1 }, &[&data, &t::<i64>(&[2, 0], &[])]);
    assert_eq!(dims(&empty), [2, 0]);
}

#[test]
fn gather_out_of_range_is_an_error() {
    let data = t(&[2, 3], &[1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0]);
    for (bad, want) in [(3i64, 3i64), (-1, -1)] {
        let idx = t(&[1, 2], &[0, bad]);
        let err = eval_with(Op::Gather { axis: 1 }, &[&data, &idx], None).unwrap_err();
        assert_eq!(
            err,
            Error::IndexOutOfRange {
                op: "gather",
                value: 2,
                index: want,
                axis: 1,
                size: 3,
            }
        );
    }
}

#[test]
fn index_select_takes_along_axis() {
    let data = t(&[3, 2], &[1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0]);
    // rank-2 index on axis 0: out shape [2, 2] ++ [2]
    let idx = t(&[2, 2], &[2i64, 0, 1, 1]);
    let s = eval(Op::IndexSelect { axis: 0 }, &[&data, &idx]);
    assert_eq!(dims(&s), [2, 2, 2]);
    assert_eq!(v::<f32>(&s), [5.0, 6.0, 1.0, 2.0, 3.0, 4.0, 3.0, 4.0]);
    // axis 1, i32 index
    let s1 = eval(
        Op::IndexSelect { axis: 1 },
        &[&data, &t(&[3], &[1i32, 1, 0])],
    );
    assert_eq!(dims(&s1), [3, 3]);
    assert_eq!(v::<f32>(&s1), [2.0, 2.0, 1.0, 4.0, 4.0, 3.0, 6.0, 6.0, 5.0]);
    // rank-0 index drops the axis
    let s0 = eval(Op::IndexSelect { axis: 1 }, &[&data, &Tensor::scalar(1i64)]);
    assert_eq!(dims(&s0), [3]);
    assert_eq!(v::<f32>(&s0), [2.0, 4.0, 6.0]);
    // empty index
    let e = eval(Op::IndexSelect { axis: 0 }, &[&data, &t::<i32>(&[0], &[])]);
    assert_eq!(dims(&e), [0, 2]);
}

#[test]
fn index_select_out_of_range_is_an_error() {
    let data = t(&[3, 2], &[1i64, 2, 3, 4, 5, 6]);
    let idx = t(&[3], &[0i32, 3, -5]);
    let err = eval_with(Op::IndexSelect { axis: 0 }, &[&data, &idx], None).unwrap_err();
    assert_eq!(
        err,
        Error::IndexOutOfRange {
            op: "index_select",
            value: 2,
            index: 3,
            axis: 0,
            size: 3,
        }
    );
    // Indices are checked even when the result has no elements.
    let flat = t::<i64>(&[3, 0], &[]);
    let err = eval_with(
        Op::IndexSelect { axis: 0 },
        &[&flat, &t(&[1], &[7i64])],
        None,
    );
    assert!(matches!(err, Err(Error::IndexOutOfRange { index: 7, .. })));
}
