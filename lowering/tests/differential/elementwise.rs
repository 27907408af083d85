//! Elementwise ops: every unary and binary op on every dtype (with broadcasting and
//! signed zeros), `where`, every cast, constants and iota.

use super::*;

#[test]
fn unary_ops_every_dtype() {
    let mut fails = Vec::new();
    let mut rng = Rng::new(1);
    for d in DType::ALL {
        for shape in SHAPES {
            let (mut p, x) = with_params(&[(d, shape)]);
            let mut tols = Vec::new();
            for u in UnaryOp::ALL.into_iter().filter(|u| u.accepts(d)) {
                let y = push(&mut p, Op::Unary(u), &[x[0]]);
                p.output(y);
                tols.push(unary_tol(u, d));
            }
            for fill in [
                MIXED,
                Fill::Mixed {
                    mag: 100.0,
                    special: 0.05,
                    extreme: false,
                },
            ] {
                let inputs = random_inputs(&p, fill, &mut rng);
                fails.extend(check(&p, &inputs, &tols).err());
            }
        }
    }
    report(fails);
}

/// Shape pairs for broadcasting: `[3,1]` vs `[1,4]`, rank 0 with rank 3, size-0 and size-1
/// dims, odd lengths.
const BCAST: &[(&[usize], &[usize])] = &[
    (&[3, 1], &[1, 4]),
    (&[], &[2, 3, 4]),
    (&[2, 3, 4], &[]),
    (&[], &[]),
    (&[5], &[5]),
    (&[7], &[1]),
    (&[1], &[13]),
    (&[17], &[17]),
    (&[33], &[33]),
    (&[1023], &[1023]),
    (&[0], &[3, 1]),
    (&[3, 1], &[0]),
    (&[2, 0, 3], &[1, 3]),
    (&[4, 1, 6], &[5, 1]),
    (&[2, 3, 5], &[3, 5]),
    (&[6, 1], &[1, 9]),
    (&[1, 1, 8], &[8]),
    (&[3, 4], &[2, 1, 4]),
];

#[test]
fn binary_ops_every_dtype_with_broadcasting() {
    let mut fails = Vec::new();
    let mut rng = Rng::new(2);
    for d in DType::ALL {
        for (sa, sb) in BCAST {
            let (mut p, x) = with_params(&[(d, sa), (d, sb)]);
            let mut tols = Vec::new();
            for b in BinaryOp::ALL.into_iter().filter(|b| b.accepts(d)) {
                let y = push(&mut p, Op::Binary(b), &[x[0], x[1]]);
                p.output(y);
                tols.push(binary_tol(b, d));
            }
            for fill in [
                MIXED,
                Fill::Mixed {
                    mag: 3.0,
                    special: 0.4,
                    extreme: false,
                },
            ] {
                let inputs = random_inputs(&p, fill, &mut rng);
                fails.extend(check(&p, &inputs, &tols).err());
            }
        }
    }
    report(fails);
}

#[test]
fn binary_ops_with_equal_operands_and_signed_zeros() {
    // max/min/comparisons on ±0.0 and NaN pairs, every combination, vector and scalar paths.
    let vals32 = [0.0f32, -0.0, f32::NAN, 1.0, -1.0, f32::INFINITY];
    let mut a = Vec::new();
    let mut b = Vec::new();
    for &x in &vals32 {
        for &y in &vals32 {
            a.push(x);
            b.push(y);
        }
    }
    let n = a.len();
    let mut fails = Vec::new();
    for d in [DType::F32, DType::F64] {
        let (mut p, x) = with_params(&[(d, &[n]), (d, &[n])]);
        for b in BinaryOp::ALL.into_iter().filter(|b| b.accepts(d)) {
            let y = push(&mut p, Op::Binary(b), &[x[0], x[1]]);
            p.output(y);
        }
        for u in [UnaryOp::Relu, UnaryOp::Sign, UnaryOp::Abs, UnaryOp::Neg] {
            let y = push(&mut p, Op::Unary(u), &[x[0]]);
            p.output(y);
        }
        let inputs = if d == DType::F32 {
            vec![
                Tensor::from_slice(&a, vec![n]).unwrap(),
                Tensor::from_slice(&b, vec![n]).unwrap(),
            ]
        } else {
            let f = |v: &[f32]| v.iter().map(|&x| x as f64).collect::<Vec<_>>();
            vec![
                Tensor::from_vec(f(&a), vec![n]).unwrap(),
                Tensor::from_vec(f(&b), vec![n]).unwrap(),
            ]
        };
        fails.extend(check(&p, &inputs, &[Tol::Exact]).err());
    }
    report(fails);
}

#[test]
fn where_every_dtype_with_broadcasting() {
    const SHAPES3: &[(&[usize], &[usize], &[usize])] = &[
        (&[3, 1], &[1, 4], &[3, 4]),
        (&[], &[5], &[5]),
        (&[7], &[], &[]),
        (&[2, 1, 3], &[4, 1], &[1]),
        (&[0, 1], &[1, 5], &[1]),
        (&[17], &[17], &[1]),
        (&[1023], &[1023], &[1023]),
        (&[2, 3, 5], &[5], &[3, 1]),
    ];
    let mut fails = Vec::new();
    let mut rng = Rng::new(3);
    for d in DType::ALL {
        for (sc, sa, sb) in SHAPES3 {
            let (mut p, x) = with_params(&[(DType::Bool, sc), (d, sa), (d, sb)]);
            let y = push(&mut p, Op::Where, &[x[0], x[1], x[2]]);
            p.output(y);
            let inputs = random_inputs(&p, MIXED, &mut rng);
            fails.extend(check(&p, &inputs, &moves_bitwise(&p)).err());
        }
    }
    report(fails);
}

#[test]
fn cast_every_dtype_pair() {
    let mut fails = Vec::new();
    let mut rng = Rng::new(4);
    for from in DType::ALL {
        for shape in [&[][..], &[7], &[1023], &[3, 5], &[0, 2]] {
            let (mut p, x) = with_params(&[(from, shape)]);
            for to in DType::ALL {
                let y = push_typed(&mut p, Op::Cast, &[x[0]], tt(to, shape));
                p.output(y);
            }
            for fill in [
                MIXED,
                Fill::Mixed {
                    mag: 3e9,
                    special: 0.3,
                    extreme: true,
                },
            ] {
                let inputs = random_inputs(&p, fill, &mut rng);
                fails.extend(check(&p, &inputs, &[Tol::Exact]).err());
            }
        }
    }
    report(fails);
}

#[test]
fn constants_every_dtype() {
    let scalars = [
        Scalar::Float(0.5),
        Scalar::Float(-0.0),
        Scalar::Float(f64::NAN),
        Scalar::Float(f64::NEG_INFINITY),
        Scalar::Float(1e300),
        Scalar::Float(1e-40),
        Scalar::Float(3.3),
        Scalar::Int(0),
        Scalar::Int(-7),
        Scalar::Int(i32::MIN as i64),
        Scalar::Int(i64::MAX),
        Scalar::Int(16_777_217),
        // 2^60 + 2^36 + 1: rounding it to f64 first and then to f32 gives 2^60 (a tie rounded
        // to even), rounding it to f32 directly gives 2^60 + 2^37.
        Scalar::Int((1 << 60) + (1 << 36) + 1),
        Scalar::Bool(true),
        Scalar::Bool(false),
    ];
    let mut fails = Vec::new();
    let mut rng = Rng::new(5);
    for d in DType::ALL {
        for shape in [&[][..], &[1], &[7], &[2, 3], &[0], &[1023]] {
            // Alone, and fused into an elementwise op with a parameter.
            let (mut p, x) = with_params(&[(d, shape)]);
            for s in scalars {
                let Ok(c) = p.push_typed(Op::Constant { value: s }, &[], tt(d, shape)) else {
                    continue;
                };
                p.output(c);
                let c0 = push_typed(&mut p, Op::Constant { value: s }, &[], tt(d, &[]));
                let cond = push(&mut p, Op::Binary(BinaryOp::Eq), &[x[0], x[0]]);
                let w = push(&mut p, Op::Where, &[cond, c0, x[0]]);
                p.output(w);
            }
            let inputs = random_inputs(&p, MIXED, &mut rng);
            fails.extend(check(&p, &inputs, &[Tol::Exact]).err());
        }
    }
    report(fails);
}

#[test]
fn iota_every_numeric_dtype() {
    let cases: &[(&[usize], usize)] = &[
        (&[5], 0),
        (&[1023], 0),
        (&[3, 4], 0),
        (&[3, 4], 1),
        (&[2, 3, 17], 0),
        (&[2, 3, 17], 1),
        (&[2, 3, 17], 2),
        (&[1, 5], 0),
        (&[0, 4], 1),
        (&[7, 1], 1),
    ];
    let mut fails = Vec::new();
    for d in [DType::F32, DType::F64, DType::I32, DType::I64] {
        for &(shape, axis) in cases {
            let (mut p, x) = with_params(&[(d, shape)]);
            let i = push_typed(&mut p, Op::Iota { axis }, &[], tt(d, shape));
            p.output(i);
            // Fused: iota + x.
            let s = push(&mut p, Op::Binary(BinaryOp::Add), &[i, x[0]]);
            p.output(s);
            let inputs = random_inputs(&p, Fill::Range(-3.0, 3.0), &mut Rng::new(6));
            fails.extend(check(&p, &inputs, &[Tol::Exact]).err());
        }
    }
    report(fails);
}
