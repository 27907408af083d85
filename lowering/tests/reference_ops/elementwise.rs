//! Elementwise ops: unary (float, f64, int, bool; rank 0 and size 0), binary (IEEE
//! division, broadcasting, wrapping integers, NaN in max/min and comparisons), `where`,
//! casts, constants and iota.

use super::*;

// ---------------------------------------------------------------- unary

#[test]
fn unary_float_ops_hand_values() {
    let cases: &[(UnaryOp, &[f32], &[f32])] = &[
        (UnaryOp::Neg, &[1.5, -2.0, 0.0], &[-1.5, 2.0, -0.0]),
        (
            UnaryOp::Abs,
            &[-1.5, 2.0, -0.0, -INF],
            &[1.5, 2.0, 0.0, INF],
        ),
        (
            UnaryOp::Exp,
            &[0.0, 1.0, -1.0, -INF],
            &[1.0, 2.7182817, 0.36787945, 0.0],
        ),
        (
            UnaryOp::Log,
            &[1.0, 2.0, 0.0, -1.0],
            &[0.0, std::f32::consts::LN_2, -INF, NAN],
        ),
        (
            UnaryOp::Sqrt,
            &[4.0, 2.0, 0.0, -1.0],
            &[2.0, std::f32::consts::SQRT_2, 0.0, NAN],
        ),
        (UnaryOp::Rsqrt, &[4.0, 0.25, 0.0], &[0.5, 2.0, INF]),
        (UnaryOp::Reciprocal, &[4.0, -0.5, 0.0], &[0.25, -2.0, INF]),
        (UnaryOp::Tanh, &[0.0, 1.0, -20.0], &[0.0, 0.7615942, -1.0]),
        (
            UnaryOp::Sigmoid,
            &[0.0, 2.0, -100.0, 100.0],
            &[0.5, 0.8807971, 0.0, 1.0],
        ),
        (UnaryOp::Relu, &[-1.0, 0.0, 2.5], &[0.0, 0.0, 2.5]),
        (
            UnaryOp::Erf,
            &[0.0, 0.5, 1.0, -2.0],
            &[0.0, 0.5204999, 0.8427008, -0.9953223],
        ),
        (
            UnaryOp::Sin,
            &[
                0.0,
                std::f32::consts::FRAC_PI_2,
                std::f32::consts::FRAC_PI_6,
            ],
            &[0.0, 1.0, 0.5],
        ),
        (
            UnaryOp::Cos,
            &[0.0, std::f32::consts::PI, std::f32::consts::FRAC_PI_3],
            &[1.0, -1.0, 0.5],
        ),
        (UnaryOp::Floor, &[-1.5, 2.7, 3.0], &[-2.0, 2.0, 3.0]),
        (UnaryOp::Ceil, &[-1.5, 2.1, 3.0], &[-1.0, 3.0, 3.0]),
        (UnaryOp::Round, &[1.4, 1.6, -2.6], &[1.0, 2.0, -3.0]),
        (
            UnaryOp::Sign,
            &[-3.0, 0.0, 7.5, -INF],
            &[-1.0, 0.0, 1.0, -1.0],
        ),
    ];
    for &(op, input, want) in cases {
        let out = un(op, &t(&[input.len()], input));
        assert_eq!(out.dtype(), DType::F32, "{op:?}");
        close32(&v::<f32>(&out), want, 1e-6);
    }
}

#[test]
fn unary_f64_ops_hand_values() {
    let x = t(&[2], &[1.0f64, -0.5]);
    let exp = v::<f64>(&un(UnaryOp::Exp, &x));
    assert!((exp[0] - std::f64::consts::E).abs() < 1e-15);
    assert!((exp[1] - 0.6065306597126334).abs() < 1e-15);
    let erf = v::<f64>(&un(UnaryOp::Erf, &x));
    assert!((erf[0] - 0.8427007929497149).abs() < 1e-15);
    assert!((erf[1] + 0.5204998778130465).abs() < 1e-15);
    assert_eq!(
        v::<f64>(&un(UnaryOp::Round, &t(&[3], &[2.5f64, 3.5, -0.5]))),
        [2.0, 4.0, -0.0]
    );
    assert_eq!(v::<f64>(&un(UnaryOp::Sign, &x)), [1.0, -1.0]);
}

#[test]
fn round_is_half_to_even() {
    let x = t(&[8], &[0.5f32, 1.5, 2.5, -0.5, -1.5, -2.5, 0.49999997, 3.5]);
    exact32(
        &v::<f32>(&un(UnaryOp::Round, &x)),
        &[0.0, 2.0, 2.0, -0.0, -2.0, -2.0, 0.0, 4.0],
    );
}

#[test]
fn sign_of_zeros_and_nan() {
    // Documented choice: sign(-0.0) = +0.0; sign(NaN) = NaN.
    let out = un(UnaryOp::Sign, &t(&[3], &[-0.0f32, 0.0, NAN]));
    exact32(&v::<f32>(&out), &[0.0, 0.0, NAN]);
}

#[test]
fn relu_of_nan_and_negative_zero() {
    let out = un(UnaryOp::Relu, &t(&[4], &[NAN, -0.0f32, -INF, INF]));
    exact32(&v::<f32>(&out), &[NAN, 0.0, 0.0, INF]);
}

#[test]
fn unary_int_ops_wrap_and_identity() {
    let x = t(&[4], &[i32::MIN, -3, 0, 5]);
    assert_eq!(v::<i32>(&un(UnaryOp::Neg, &x)), [i32::MIN, 3, 0, -5]);
    assert_eq!(v::<i32>(&un(UnaryOp::Abs, &x)), [i32::MIN, 3, 0, 5]);
    assert_eq!(v::<i32>(&un(UnaryOp::Relu, &x)), [0, 0, 0, 5]);
    assert_eq!(v::<i32>(&un(UnaryOp::Sign, &x)), [-1, -1, 0, 1]);
    for op in [UnaryOp::Floor, UnaryOp::Ceil, UnaryOp::Round] {
        assert_eq!(v::<i32>(&un(op, &x)), [i32::MIN, -3, 0, 5]);
    }
    let y = t(&[2], &[i64::MIN, -7i64]);
    assert_eq!(v::<i64>(&un(UnaryOp::Neg, &y)), [i64::MIN, 7]);
    assert_eq!(v::<i64>(&un(UnaryOp::Abs, &y)), [i64::MIN, 7]);
    assert_eq!(v::<i64>(&un(UnaryOp::Sign, &y)), [-1, -1]);
}

#[test]
fn not_on_bool() {
    let out = un(UnaryOp::Not, &t(&[3], &[true, false, true]));
    assert_eq!(v::<bool>(&out), [false, true, false]);
}

#[test]
fn unary_on_rank0_and_size0() {
    let s = un(UnaryOp::Neg, &Tensor::scalar(2.0f32));
    assert_eq!(dims(&s), Vec::<usize>::new());
    assert_eq!(v::<f32>(&s), [-2.0]);
    let e = un(UnaryOp::Exp, &t::<f32>(&[0, 3], &[]));
    assert_eq!(dims(&e), [0, 3]);
    assert!(v::<f32>(&e).is_empty());
}

// ---------------------------------------------------------------- binary

#[test]
fn binary_float_arithmetic() {
    let a = t(&[4], &[1.0f32, -6.0, 2.0, 9.0]);
    let b = t(&[4], &[4.0f32, 4.0, 0.5, -3.0]);
    assert_eq!(v::<f32>(&bin(BinaryOp::Add, &a, &b)), [5.0, -2.0, 2.5, 6.0]);
    assert_eq!(
        v::<f32>(&bin(BinaryOp::Sub, &a, &b)),
        [-3.0, -10.0, 1.5, 12.0]
    );
    assert_eq!(
        v::<f32>(&bin(BinaryOp::Mul, &a, &b)),
        [4.0, -24.0, 1.0, -27.0]
    );
    assert_eq!(
        v::<f32>(&bin(BinaryOp::Div, &a, &b)),
        [0.25, -1.5, 4.0, -3.0]
    );
    assert_eq!(v::<f32>(&bin(BinaryOp::Max, &a, &b)), [4.0, 4.0, 2.0, 9.0]);
    assert_eq!(
        v::<f32>(&bin(BinaryOp::Min, &a, &b)),
        [1.0, -6.0, 0.5, -3.0]
    );
    let p = bin(
        BinaryOp::Pow,
        &t(&[4], &[2.0f32, 9.0, -2.0, 0.0]),
        &t(&[4], &[10.0f32, 0.5, 3.0, 0.0]),
    );
    assert_eq!(v::<f32>(&p), [1024.0, 3.0, -8.0, 1.0]);
}

#[test]
fn float_div_by_zero_is_ieee() {
    let out = bin(
        BinaryOp::Div,
        &t(&[4], &[1.0f32, -1.0, 0.0, 1.0]),
        &t(&[4], &[0.0f32, 0.0, 0.0, -0.0]),
    );
    exact32(&v::<f32>(&out), &[INF, -INF, NAN, -INF]);
}

#[test]
fn broadcast_3x1_by_1x4() {
    let a = t(&[3, 1], &[1i32, 2, 3]);
    let b = t(&[1, 4], &[10i32, 20, 30, 40]);
    let out = bin(BinaryOp::Mul, &a, &b);
    assert_eq!(dims(&out), [3, 4]);
    assert_eq!(
        v::<i32>(&out),
        [10, 20, 30, 40, 20, 40, 60, 80, 30, 60, 90, 120]
    );
    let s = bin(
        BinaryOp::Sub,
        &t(&[3, 1], &[1.0f32, 2.0, 3.0]),
        &t(&[4], &[0.0f32, 1.0, 2.0, 3.0]),
    );
    assert_eq!(dims(&s), [3, 4]);
    assert_eq!(
        v::<f32>(&s),
        [1.0, 0.0, -1.0, -2.0, 2.0, 1.0, 0.0, -1.0, 3.0, 2.0, 1.0, 0.0]
    );
}

#[test]
fn binary_with_rank0_operands() {
    let m = t(&[2, 3], &[1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0]);
    let s = Tensor::scalar(10.0f32);
    let out = bin(BinaryOp::Sub, &s, &m);
    assert_eq!(dims(&out), [2, 3]);
    assert_eq!(v::<f32>(&out), [9.0, 8.0, 7.0, 6.0, 5.0, 4.0]);
    let both = bin(BinaryOp::Add, &Tensor::scalar(3i64), &Tensor::scalar(4i64));
    assert_eq!(dims(&both), Vec::<usize>::new());
    assert_eq!(v::<i64>(&both), [7]);
}

#[test]
fn binary_with_size0_dims() {
    let a = t::<f32>(&[0, 1], &[]);
    let b = t(&[1, 4], &[1.0f32, 2.0, 3.0, 4.0]);
    let out = bin(BinaryOp::Add, &a, &b);
    assert_eq!(dims(&out), [0, 4]);
    assert!(v::<f32>(&out).is_empty());
    let c = bin(BinaryOp::Lt, &t::<i32>(&[3, 0], &[]), &t(&[1], &[1i32]));
    assert_eq!(dims(&c), [3, 0]);
    assert_eq!(c.dtype(), DType::Bool);
}

#[test]
fn integer_arithmetic_wraps_and_div_is_guarded() {
    let a = t(&[6], &[7i32, -7, 5, i32::MIN, i32::MAX, 0]);
    let b = t(&[6], &[2i32, 2, 0, -1, 1, 0]);
    assert_eq!(
        v::<i32>(&bin(BinaryOp::Div, &a, &b)),
        [3, -3, 0, i32::MIN, i32::MAX, 0]
    );
    assert_eq!(
        v::<i32>(&bin(BinaryOp::Add, &a, &b)),
        [9, -5, 5, i32::MAX, i32::MIN, 0]
    );
    assert_eq!(
        v::<i32>(&bin(BinaryOp::Sub, &a, &b)),
        [5, -9, 5, -2147483647, 2147483646, 0]
    );
    assert_eq!(
        v::<i32>(&bin(BinaryOp::Mul, &a, &b)),
        [14, -14, 0, i32::MIN, i32::MAX, 0]
    );
    assert_eq!(
        v::<i32>(&bin(BinaryOp::Max, &a, &b)),
        [7, 2, 5, -1, i32::MAX, 0]
    );
    assert_eq!(
        v::<i32>(&bin(BinaryOp::Min, &a, &b)),
        [2, -7, 0, i32::MIN, 1, 0]
    );
    let c = t(&[3], &[i64::MIN, 9, -9]);
    let d = t(&[3], &[-1i64, 0, 4]);
    assert_eq!(v::<i64>(&bin(BinaryOp::Div, &c, &d)), [i64::MIN, 0, -2]);
    assert_eq!(
        v::<i64>(&bin(
            BinaryOp::Mul,
            &t(&[1], &[i64::MAX]),
            &t(&[1], &[2i64])
        )),
        [-2]
    );
}

#[test]
fn max_min_propagate_nan_and_order_zeros() {
    let a = t(&[5], &[NAN, 1.0f32, NAN, -0.0, 0.0]);
    let b = t(&[5], &[1.0f32, NAN, NAN, 0.0, -0.0]);
    exact32(
        &v::<f32>(&bin(BinaryOp::Max, &a, &b)),
        &[NAN, NAN, NAN, 0.0, 0.0],
    );
    exact32(
        &v::<f32>(&bin(BinaryOp::Min, &a, &b)),
        &[NAN, NAN, NAN, -0.0, -0.0],
    );
}

#[test]
fn comparisons_with_nan() {
    let a = t(&[4], &[1.0f32, 2.0, NAN, NAN]);
    let b = t(&[4], &[2.0f32, 2.0, 1.0, NAN]);
    let cmp = |op| v::<bool>(&bin(op, &a, &b));
    assert_eq!(cmp(BinaryOp::Eq), [false, true, false, false]);
    assert_eq!(cmp(BinaryOp::Ne), [true, false, true, true]);
    assert_eq!(cmp(BinaryOp::Lt), [true, false, false, false]);
    assert_eq!(cmp(BinaryOp::Le), [true, true, false, false]);
    assert_eq!(cmp(BinaryOp::Gt), [false, false, false, false]);
    assert_eq!(cmp(BinaryOp::Ge), [false, true, false, false]);
}

#[test]
fn comparisons_on_ints_and_bools() {
    let a = t(&[3], &[-1i64, 5, 5]);
    let b = t(&[3], &[0i64, 5, 4]);
    assert_eq!(v::<bool>(&bin(BinaryOp::Gt, &a, &b)), [false, false, true]);
    assert_eq!(v::<bool>(&bin(BinaryOp::Le, &a, &b)), [true, true, false]);
    let p = t(&[4], &[true, true, false, false]);
    let q = t(&[4], &[true, false, true, false]);
    assert_eq!(
        v::<bool>(&bin(BinaryOp::Eq, &p, &q)),
        [true, false, false, true]
    );
    assert_eq!(
        v::<bool>(&bin(BinaryOp::Ne, &p, &q)),
        [false, true, true, false]
    );
    assert_eq!(
        v::<bool>(&bin(BinaryOp::And, &p, &q)),
        [true, false, false, false]
    );
    assert_eq!(
        v::<bool>(&bin(BinaryOp::Or, &p, &q)),
        [true, true, true, false]
    );
}

#[test]
fn where_broadcasts_all_three() {
    let c = t(&[2, 1], &[true, false]);
    let a = t(&[3], &[1i32, 2, 3]);
    let b = Tensor::scalar(-1i32);
    let out = eval(Op::Where, &[&c, &a, &b]);
    assert_eq!(dims(&out), [2, 3]);
    assert_eq!(v::<i32>(&out), [1, 2, 3, -1, -1, -1]);
    let f = eval(
        Op::Where,
        &[
            &t(&[3], &[false, true, false]),
            &t(&[3], &[1.0f32, 2.0, 3.0]),
            &t(&[3], &[NAN, NAN, 9.0f32]),
        ],
    );
    exact32(&v::<f32>(&f), &[NAN, 2.0, 9.0]);
}

// ---------------------------------------------------------------- cast

pub(crate) fn cast(x: &Tensor, to: DType) -> Tensor {
    eval_typed(Op::Cast, &[x], ty(to, x.shape().dims()))
}

#[test]
fn cast_float_to_int_saturates_and_nan_is_zero() {
    let x = t(&[8], &[NAN, INF, -INF, -1.5f32, 1.5, 3e9, -3e9, 2.99]);
    assert_eq!(
        v::<i32>(&cast(&x, DType::I32)),
        [0, i32::MAX, i32::MIN, -1, 1, i32::MAX, i32::MIN, 2]
    );
    assert_eq!(
        v::<i64>(&cast(&x, DType::I64)),
        [
            0,
            i64::MAX,
            i64::MIN,
            -1,
            1,
            3_000_000_000,
            -3_000_000_000,
            2
        ]
    );
    let y = t(&[2], &[f64::NAN, -1e300]);
    assert_eq!(v::<i32>(&cast(&y, DType::I32)), [0, i32::MIN]);
}

#[test]
fn cast_to_bool_is_nonzero() {
    let x = t(&[6], &[NAN, INF, -1.5f32, 0.0, -0.0, 1e-45]);
    assert_eq!(
        v::<bool>(&cast(&x, DType::Bool)),
        [true, true, true, false, false, true]
    );
    let i = t(&[3], &[0i64, -1, 2]);
    assert_eq!(v::<bool>(&cast(&i, DType::Bool)), [false, true, true]);
}

#[test]
fn cast_between_other_pairs() {
    let b = t(&[2], &[true, false]);
    assert_eq!(v::<f32>(&cast(&b, DType::F32)), [1.0, 0.0]);
    assert_eq!(v::<f64>(&cast(&b, DType::F64)), [1.0, 0.0]);
    assert_eq!(v::<i32>(&cast(&b, DType::I32)), [1, 0]);
    assert_eq!(v::<i64>(&cast(&b, DType::I64)), [1, 0]);
    assert_eq!(v::<bool>(&cast(&b, DType::Bool)), [true, false]);
    // i64 -> i32 keeps the low 32 bits.
    let big = t(&[3], &[4_294_967_297i64, -1, 2_147_483_648]);
    assert_eq!(v::<i32>(&cast(&big, DType::I32)), [1, -1, i32::MIN]);
    // int -> float rounds to nearest.
    let i = t(&[3], &[16_777_217i32, -3, 0]);
    assert_eq!(v::<f32>(&cast(&i, DType::F32)), [16_777_216.0, -3.0, 0.0]);
    assert_eq!(v::<f64>(&cast(&i, DType::F64)), [16_777_217.0, -3.0, 0.0]);
    assert_eq!(v::<i64>(&cast(&i, DType::I64)), [16_777_217, -3, 0]);
    // f64 -> f32 rounds; out-of-range becomes inf.
    let d = t(&[3], &[0.1f64, 1e300, -1e300]);
    assert_eq!(v::<f32>(&cast(&d, DType::F32)), [0.1f32, INF, -INF]);
    assert_eq!(v::<f64>(&cast(&t(&[1], &[0.5f32]), DType::F64)), [0.5]);
    // Same dtype is a copy.
    assert_eq!(v::<i32>(&cast(&i, DType::I32)), [16_777_217, -3, 0]);
}

// ---------------------------------------------------------------- constant, iota

#[test]
fn constant_fills_declared_type() {
    let c = eval_typed(
        Op::Constant {
            value: Scalar::Float(2.5),
        },
        &[],
        ty(DType::F32, &[2, 2]),
    );
    assert_eq!(dims(&c), [2, 2]);
    assert_eq!(v::<f32>(&c), [2.5; 4]);
    let i = eval_typed(
        Op::Constant {
            value: Scalar::Int(-7),
        },
        &[],
        ty(DType::I32, &[3]),
    );
    assert_eq!(v::<i32>(&i), [-7, -7, -7]);
    let f = eval_typed(
        Op::Constant {
            value: Scalar::Int(3),
        },
        &[],
        ty(DType::F64, &[]),
    );
    assert_eq!(v::<f64>(&f), [3.0]);
    let b = eval_typed(
        Op::Constant {
            value: Scalar::Bool(true),
        },
        &[],
        ty(DType::Bool, &[1, 2]),
    );
    assert_eq!(v::<bool>(&b), [true, true]);
    let e = eval_typed(
        Op::Constant {
            value: Scalar::Float(1.0),
        },
        &[],
        ty(DType::F32, &[4, 0]),
    );
    assert_eq!(dims(&e), [4, 0]);
}

#[test]
fn iota_counts_along_axis() {
    let a = eval_typed(Op::Iota { axis: 1 }, &[], ty(DType::I64, &[2, 3]));
    assert_eq!(v::<i64>(&a), [0, 1, 2, 0, 1, 2]);
    let b = eval_typed(Op::Iota { axis: 0 }, &[], ty(DType::F32, &[2, 3]));
    assert_eq!(v::<f32>(&b), [0.0, 0.0, 0.0, 1.0, 1.0, 1.0]);
    let c = eval_typed(Op::Iota { axis: 0 }, &[], ty(DType::I32, &[4]));
    assert_eq!(v::<i32>(&c), [0, 1, 2, 3]);
    let d = eval_typed(Op::Iota { axis: 1 }, &[], ty(DType::F64, &[0, 5]));
    assert_eq!(dims(&d), [0, 5]);
}
