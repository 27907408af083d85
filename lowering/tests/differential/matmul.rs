//! Matmul: shapes, dtypes, strided views and chains, with the forward error bound of the
//! module docs.

use super::*;

/// Per output element, `Σ_p |a_ip|·|b_pj|` (in f64, by the reference).
fn abs_matmul(p: &Program, inputs: &[Tensor], a: ValueId, b: ValueId) -> Vec<f64> {
    let mut q = p.clone();
    q.outputs.clear();
    let mut abs = |v: ValueId| {
        let shape = q.value_type(v).shape.clone();
        let c = push_typed(&mut q, Op::Cast, &[v], TensorType::new(DType::F64, shape));
        push(&mut q, Op::Unary(UnaryOp::Abs), &[c])
    };
    let (aa, ab) = (abs(a), abs(b));
    let m = push(&mut q, Op::MatMul, &[aa, ab]);
    q.output(m);
    let ins: Vec<&Tensor> = inputs.iter().collect();
    reference::run(&q, &ins).expect("|a|·|b| program runs")[0].to_f64_vec()
}

#[test]
fn matmul_shapes_dtypes_and_views() {
    // (a shape, b shape, transpose a, transpose b, expand b's batch dims to this)
    #[allow(clippy::type_complexity)]
    let cases: &[(&[usize], &[usize], bool, bool)] = &[
        (&[3, 4], &[4, 5], false, false),
        (&[1, 1], &[1, 1], false, false),
        (&[7, 13], &[13, 5], false, false),
        (&[2, 3, 4], &[2, 4, 5], false, false),
        (&[2, 1, 3, 4], &[5, 4, 6], false, false),
        (&[3, 4], &[2, 4, 5], false, false),
        (&[4, 3], &[4, 5], true, false),
        (&[3, 4], &[5, 4], false, true),
        (&[2, 4, 3], &[2, 5, 4], true, true),
        (&[3, 0], &[0, 4], false, false),
        (&[0, 3], &[3, 4], false, false),
        (&[3, 5], &[5, 0], false, false),
        (&[17, 33], &[33, 9], false, false),
        (&[1, 64], &[64, 1], false, false),
    ];
    let mut fails = Vec::new();
    let mut rng = Rng::new(30);
    for d in [DType::F32, DType::F64, DType::I32, DType::I64] {
        for (sa, sb, ta, tb) in cases {
            let (mut p, x) = with_params(&[(d, sa), (d, sb)]);
            let tr = |p: &mut Program, v: ValueId, t: bool| {
                if !t {
                    return v;
                }
                let r = p.value_type(v).shape.rank();
                let mut perm: Vec<usize> = (0..r).collect();
                perm.swap(r - 1, r - 2);
                push(p, Op::Permute { perm }, &[v])
            };
            let a = tr(&mut p, x[0], *ta);
            let b = tr(&mut p, x[1], *tb);
            let m = push(&mut p, Op::MatMul, &[a, b]);
            p.output(m);
            let mut pairs = vec![(a, b)];
            // A broadcast batch view of b (expand) and a slice of a feeding matmul, and the
            // matmul result feeding an elementwise op.
            let bs = p.value_type(b).shape.dims().to_vec();
            let mut eshape = vec![2];
            eshape.extend_from_slice(&bs);
            let be = push(
                &mut p,
                Op::Expand {
                    shape: Shape::new(eshape),
                },
                &[b],
            );
            let m2 = push(&mut p, Op::MatMul, &[a, be]);
            p.output(m2);
            pairs.push((a, be));
            let neg = push(&mut p, Op::Unary(UnaryOp::Neg), &[m]);
            p.output(neg);
            pairs.push((a, b));
            let fill = if d.is_float() {
                Fill::Mixed {
                    mag: 3.0,
                    special: 0.02,
                    extreme: false,
                }
            } else {
                MIXED
            };
            let inputs = random_inputs(&p, fill, &mut rng);
            let tols: Vec<Tol> = pairs
                .iter()
                .map(|&(a, b)| {
                    if !d.is_float() {
                        return Tol::Exact;
                    }
                    let k = p.value_type(a).shape.dims().last().copied().unwrap();
                    let s = abs_matmul(&p, &inputs, a, b);
                    let g = 2.0 * gamma(k, d) * (1.0 + 1e-9);
                    Tol::Bound(s.iter().map(|s| g * s).collect())
                })
                .collect();
            fails.extend(check(&p, &inputs, &tols).err());
        }
    }
    report(fails);
}

#[test]
fn matmul_of_strided_views_and_chains() {
    // Operands that are slices with steps, double permutes, reshapes, expands of slices, and
    // matmul results (chained, transposed).
    let mut fails = Vec::new();
    let mut rng = Rng::new(32);
    for d in [DType::F32, DType::F64, DType::I32, DType::I64] {
        let (mut p, x) = with_params(&[(d, &[6, 10]), (d, &[9, 7]), (d, &[30]), (d, &[1, 3, 8])]);
        let sl = |p: &mut Program, v, starts: &[usize], stops: &[usize], steps: &[usize]| {
            let op = Op::Slice {
                starts: starts.to_vec(),
                stops: stops.to_vec(),
                steps: steps.to_vec(),
            };
            push(p, op, &[v])
        };
        let a = sl(&mut p, x[0], &[0, 1], &[6, 10], &[2, 3]); // [3, 3]
        let b = sl(&mut p, x[1], &[1, 0], &[7, 7], &[2, 2]); // [3, 4]
        let m1 = push(&mut p, Op::MatMul, &[a, b]); // [3, 4]
        let t = push(&mut p, Op::Permute { perm: vec![1, 0] }, &[x[0]]);
        let a2 = push(&mut p, Op::Permute { perm: vec![1, 0] }, &[t]); // [6, 10]
        let c = push(
            &mut p,
            Op::Reshape {
                shape: Shape::new([10, 3]),
            },
            &[x[2]],
        );
        let m2 = push(&mut p, Op::MatMul, &[a2, c]); // [6, 3]
        let e = push(
            &mut p,
            Op::Expand {
                shape: Shape::new([5, 3, 8]),
            },
            &[x[3]],
        );
        let es = sl(&mut p, e, &[1, 0, 1], &[5, 3, 8], &[2, 1, 2]); // [2, 3, 4]
        let m1t = push(&mut p, Op::Permute { perm: vec![1, 0] }, &[m1]); // [4, 3]
        let m4 = push(&mut p, Op::MatMul, &[m1t, m1]); // [4, 4]
        let m5 = push(&mut p, Op::MatMul, &[m2, m1]); // [6, 4]
        let est = push(
            &mut p,
            Op::Permute {
                perm: vec![0, 2, 1],
            },
            &[es],
        ); // [2, 4, 3]
        let m6 = push(&mut p, Op::MatMul, &[est, m1]); // [2, 4, 4]
        for v in [m1, m2, m4, m5, m6] {
            p.output(v);
        }
        let fill = if d.is_float() {
            Fill::Pow2 { special: 0.0 }
        } else {
            MIXED
        };
        // {±0.5, ±1, ±2} inputs keep every product and sum exact (chains included).
        let inputs = random_inputs(&p, fill, &mut rng);
        fails.extend(check(&p, &inputs, &[Tol::Exact]).err());
    }
    report(fails);
}
