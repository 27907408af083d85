//! Layout ops: reshape, permute, expand, slice, concat (with empty operands) and pad.

use super::*;

#[test]
fn reshape_of_contiguous_and_strided_values() {
    let targets: &[&[usize]] = &[
        &[6, 4],
        &[4, 6],
        &[24],
        &[3, 8],
        &[2, 12],
        &[1, 24, 1],
        &[2, 2, 2, 3],
        &[4, 3, 2],
    ];
    let mut fails = Vec::new();
    let mut rng = Rng::new(20);
    for d in [DType::F32, DType::I64, DType::Bool, DType::I32, DType::F64] {
        let (mut p, x) = with_params(&[(d, &[2, 3, 4]), (d, &[4])]);
        let views = [
            x[0],
            push(
                &mut p,
                Op::Permute {
                    perm: vec![2, 0, 1],
                },
                &[x[0]],
            ),
            push(
                &mut p,
                Op::Permute {
                    perm: vec![1, 2, 0],
                },
                &[x[0]],
            ),
            push(
                &mut p,
                Op::Expand {
                    shape: Shape::new([2, 3, 4]),
                },
                &[x[1]],
            ),
            {
                let e = push(
                    &mut p,
                    Op::Expand {
                        shape: Shape::new([3, 2, 4]),
                    },
                    &[x[1]],
                );
                push(
                    &mut p,
                    Op::Permute {
                        perm: vec![1, 0, 2],
                    },
                    &[e],
                )
            },
        ];
        for v in views {
            for t in targets {
                let y = push(
                    &mut p,
                    Op::Reshape {
                        shape: Shape::new(t.to_vec()),
                    },
                    &[v],
                );
                p.output(y);
                // And fused into an elementwise op with a reshaped parameter.
                if d.is_numeric() {
                    let z = push(
                        &mut p,
                        Op::Reshape {
                            shape: Shape::new(t.to_vec()),
                        },
                        &[x[0]],
                    );
                    let s = push(&mut p, Op::Binary(BinaryOp::Max), &[y, z]);
                    p.output(s);
                }
            }
        }
        // Reshape of an empty tensor and of a rank-0 tensor.
        let e = push_typed(
            &mut p,
            Op::Constant {
                value: Scalar::Int(1).fit(d),
            },
            &[],
            tt(d, &[0, 3]),
        );
        let er = push(
            &mut p,
            Op::Reshape {
                shape: Shape::new([5, 0]),
            },
            &[e],
        );
        p.output(er);
        let s = push(
            &mut p,
            Op::Slice {
                starts: vec![1],
                stops: vec![2],
                steps: vec![1],
            },
            &[x[1]],
        );
        let s0 = push(
            &mut p,
            Op::Reshape {
                shape: Shape::new([]),
            },
            &[s],
        );
        let s1 = push(
            &mut p,
            Op::Reshape {
                shape: Shape::new([1, 1, 1]),
            },
            &[s0],
        );
        p.output(s0);
        p.output(s1);
        let inputs = random_inputs(&p, MIXED, &mut rng);
        fails.extend(check(&p, &inputs, &moves_bitwise(&p)).err());
    }
    report(fails);
}

#[test]
fn permute_every_axis_order() {
    let mut fails = Vec::new();
    let mut rng = Rng::new(21);
    for d in DType::ALL {
        for shape in [
            &[2, 3, 5][..],
            &[7, 13],
            &[2, 1, 3, 4],
            &[5, 0, 2],
            &[9, 4, 1],
        ] {
            let (mut p, x) = with_params(&[(d, shape)]);
            for perm in permutations(shape.len()) {
                let y = push(&mut p, Op::Permute { perm: perm.clone() }, &[x[0]]);
                p.output(y);
                // Permute feeding an elementwise op (strided, per-lane loads).
                if d.is_numeric() {
                    let z = push(&mut p, Op::Unary(UnaryOp::Neg), &[y]);
                    p.output(z);
                }
            }
            let inputs = random_inputs(&p, MIXED, &mut rng);
            fails.extend(check(&p, &inputs, &moves_bitwise(&p)).err());
        }
    }
    report(fails);
}

#[test]
fn expand_to_larger_shapes() {
    let cases: &[(&[usize], &[usize])] = &[
        (&[3, 1], &[2, 3, 5]),
        (&[], &[4, 7]),
        (&[1], &[0]),
        (&[1, 1], &[5, 1023]),
        (&[4], &[3, 4]),
        (&[2, 1, 3], &[2, 5, 3]),
        (&[1, 6], &[0, 6]),
        (&[5], &[5]),
        (&[1], &[17]),
    ];
    let mut fails = Vec::new();
    let mut rng = Rng::new(22);
    for d in DType::ALL {
        for (from, to) in cases {
            let (mut p, x) = with_params(&[(d, from), (d, to)]);
            let y = push(
                &mut p,
                Op::Expand {
                    shape: Shape::new(to.to_vec()),
                },
                &[x[0]],
            );
            p.output(y);
            let w = push(&mut p, Op::Binary(BinaryOp::Eq), &[y, x[1]]);
            p.output(w);
            let inputs = random_inputs(&p, MIXED, &mut rng);
            fails.extend(check(&p, &inputs, &moves_bitwise(&p)).err());
        }
    }
    report(fails);
}

#[test]
fn slice_with_steps() {
    #[allow(clippy::type_complexity)]
    let cases: &[(&[usize], &[usize], &[usize], &[usize])] = &[
        (&[10, 17], &[0, 0], &[10, 17], &[1, 1]),
        (&[10, 17], &[1, 2], &[9, 17], &[2, 3]),
        (&[10, 17], &[0, 16], &[10, 17], &[3, 1]),
        (&[10, 17], &[3, 5], &[3, 9], &[1, 1]),
        (&[10, 17], &[0, 0], &[10, 17], &[20, 100]),
        (&[10, 17], &[9, 0], &[10, 13], &[1, 4]),
        (&[1023], &[1], &[1022], &[1]),
        (&[1023], &[0], &[1023], &[7]),
        (&[2, 5, 9], &[1, 0, 2], &[2, 5, 9], &[1, 2, 2]),
        (&[4, 0, 3], &[1, 0, 0], &[3, 0, 3], &[1, 1, 2]),
        (&[6], &[2], &[2], &[1]),
    ];
    let mut fails = Vec::new();
    let mut rng = Rng::new(23);
    for d in DType::ALL {
        for (shape, starts, stops, steps) in cases {
            let (mut p, x) = with_params(&[(d, shape)]);
            let op = Op::Slice {
                starts: starts.to_vec(),
                stops: stops.to_vec(),
                steps: steps.to_vec(),
            };
            let y = push(&mut p, op, &[x[0]]);
            p.output(y);
            if d.is_numeric() {
                let z = push(&mut p, Op::Binary(BinaryOp::Add), &[y, y]);
                p.output(z);
            }
            let inputs = random_inputs(&p, MIXED, &mut rng);
            fails.extend(check(&p, &inputs, &moves_bitwise(&p)).err());
        }
    }
    report(fails);
}

#[test]
fn concat_including_empty_operands() {
    #[allow(clippy::type_complexity)]
    let cases: &[(&[&[usize]], usize)] = &[
        (&[&[2, 3], &[2, 0], &[2, 5]], 1),
        (&[&[0, 3], &[4, 3]], 0),
        (&[&[4, 3], &[0, 3]], 0),
        (&[&[7]], 0),
        (&[&[3], &[5], &[1], &[13]], 0),
        (&[&[1023], &[1]], 0),
        (&[&[2, 3, 4], &[2, 1, 4], &[2, 2, 4]], 1),
        (&[&[2, 3, 1], &[2, 3, 3]], 2),
        (&[&[0], &[0]], 0),
        (&[&[3, 0], &[3, 0]], 0),
        (&[&[1, 5], &[3, 5], &[0, 5]], 0),
    ];
    let mut fails = Vec::new();
    let mut rng = Rng::new(24);
    for d in DType::ALL {
        for (shapes, axis) in cases {
            let params: Vec<(DType, &[usize])> = shapes.iter().map(|s| (d, *s)).collect();
            let (mut p, x) = with_params(&params);
            let y = push(&mut p, Op::Concat { axis: *axis }, &x);
            p.output(y);
            // Concat of the operands with themselves, feeding a unary op.
            let mut twice = x.clone();
            twice.extend(x.iter().rev());
            let z = push(&mut p, Op::Concat { axis: *axis }, &twice);
            if d.is_numeric() {
                let z = push(&mut p, Op::Unary(UnaryOp::Abs), &[z]);
                p.output(z);
            } else {
                p.output(z);
            }
            let inputs = random_inputs(&p, MIXED, &mut rng);
            fails.extend(check(&p, &inputs, &moves_bitwise(&p)).err());
        }
    }
    report(fails);
}

#[test]
fn pad_every_dtype() {
    #[allow(clippy::type_complexity)]
    let cases: &[(&[usize], &[usize], &[usize])] = &[
        (&[3, 4], &[1, 2], &[2, 1]),
        (&[3, 4], &[0, 0], &[0, 0]),
        (&[0, 3], &[1, 1], &[1, 1]),
        (&[1023], &[1], &[3]),
        (&[5], &[4], &[0]),
        (&[2, 3, 5], &[0, 1, 3], &[1, 0, 2]),
        (&[], &[], &[]),
        (&[1], &[5], &[6]),
        (&[4, 0], &[0, 2], &[0, 1]),
    ];
    let mut fails = Vec::new();
    let mut rng = Rng::new(25);
    for d in DType::ALL {
        let values = match d {
            DType::Bool => vec![Scalar::Bool(true), Scalar::Bool(false)],
            DType::F32 | DType::F64 => vec![
                Scalar::Float(-0.0),
                Scalar::Float(f64::NAN),
                Scalar::Float(2.5),
                Scalar::Int(3),
            ],
            _ => vec![Scalar::Int(-9), Scalar::Int(0)],
        };
        for (shape, lo, hi) in cases {
            for &value in &values {
                let (mut p, x) = with_params(&[(d, shape)]);
                let op = Op::Pad {
                    lo: lo.to_vec(),
                    hi: hi.to_vec(),
                    value,
                };
                let y = push(&mut p, op, &[x[0]]);
                p.output(y);
                if d.is_numeric() {
                    let z = push(&mut p, Op::Binary(BinaryOp::Mul), &[y, y]);
                    p.output(z);
                }
                let inputs = random_inputs(&p, MIXED, &mut rng);
                fails.extend(check(&p, &inputs, &moves_bitwise(&p)).err());
            }
        }
    }
    report(fails);
}
