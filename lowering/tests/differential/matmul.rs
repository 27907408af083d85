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

#[test]
fn matmul_reads_reshapes_as_views_when_strides_allow() {
    // Reshapes under a matmul operand: merges of contiguous dims of a computed buffer (the
    // im2col shape: windows concatenated as [N, C, H, W], merged to [N, C, H*W]), splits,
    // size-1 dims, a reshape of a sliced and of a permuted view (merging across the slice
    // or permutation: not a view, so it is materialised), and a reshape over a reshape.
    let mut fails = Vec::new();
    let mut rng = Rng::new(33);
    let rs = |p: &mut Program, v, s: &[usize]| {
        push(
            p,
            Op::Reshape {
                shape: Shape::new(s.to_vec()),
            },
            &[v],
        )
    };
    for d in [DType::F32, DType::F64, DType::I32, DType::I64] {
        let (mut p, x) = with_params(&[
            (d, &[2, 3, 4, 5]),
            (d, &[2, 3, 4, 5]),
            (d, &[4, 6]),
            (d, &[3, 1, 7]),
        ]);
        // cols: [2, 6, 4, 5] computed (concat), merged to [2, 6, 20]; w: [4, 6].
        let cat = push(&mut p, Op::Concat { axis: 1 }, &[x[0], x[1]]);
        let cols = rs(&mut p, cat, &[2, 6, 20]);
        let m1 = push(&mut p, Op::MatMul, &[x[2], cols]); // [2, 4, 20]
                                                          // Its transpose (the weight gradient's operand): permute of the merge.
        let colst = push(
            &mut p,
            Op::Permute {
                perm: vec![0, 2, 1],
            },
            &[cols],
        ); // [2, 20, 6]
        let m2 = push(&mut p, Op::MatMul, &[m1, colst]); // [2, 4, 6]
                                                         // A merge across a slice with a step (not contiguous): materialised.
        let sl = push(
            &mut p,
            Op::Slice {
                starts: vec![0, 0, 0, 1],
                stops: vec![2, 3, 4, 5],
                steps: vec![1, 1, 1, 2],
            },
            &[x[0]],
        ); // [2, 3, 4, 2]
        let slm = rs(&mut p, sl, &[2, 3, 8]);
        // A split of a parameter's rows ([4, 6] -> [8, 3]): a view.
        let split = rs(&mut p, x[2], &[8, 3]);
        let m3 = push(&mut p, Op::MatMul, &[slm, split]); // [2, 3, 3]
                                                          // A split and size-1 dims: [3, 1, 7] -> [3, 7, 1] -> [1, 3, 7] (a [3, 7] operand).
        let s1 = rs(&mut p, x[3], &[3, 7, 1]);
        let s2 = rs(&mut p, s1, &[1, 3, 7]);
        let tr = push(
            &mut p,
            Op::Permute {
                perm: vec![0, 2, 1],
            },
            &[s2],
        ); // [1, 7, 3]
        let m4 = push(&mut p, Op::MatMul, &[tr, s2]); // [1, 7, 7]
                                                      // Merges across a permutation: [2, 3, 4, 5] permuted to [2, 4, 3, 5] (strides 60, 5,
                                                      // 20, 1), merged to [2, 4, 15] or [8, 15]: neither is a view. [8, 15] materialised
                                                      // and reshaped again to [6, 20] is one.
        let pm = push(
            &mut p,
            Op::Permute {
                perm: vec![0, 2, 1, 3],
            },
            &[x[1]],
        );
        let pmm = rs(&mut p, pm, &[2, 4, 15]);
        let pmt = push(
            &mut p,
            Op::Permute {
                perm: vec![0, 2, 1],
            },
            &[pmm],
        ); // [2, 15, 4]
        let m5 = push(&mut p, Op::MatMul, &[pmm, pmt]); // [2, 4, 4]
        let pm8 = rs(&mut p, pm, &[8, 15]);
        let pm620 = rs(&mut p, pm8, &[6, 20]);
        let m6 = push(&mut p, Op::MatMul, &[x[2], pm620]); // [4, 20]
        for v in [m1, m2, m3, m4, m5, m6] {
            p.output(v);
        }
        // The cols buffer is the concat, not a copy of the merge.
        let plan = format!("{}", compile(&p, &opts()).expect("compiles").plan());
        if !plan.contains(&format!("-> {cat}:")) || plan.contains(&format!("-> {cols}:")) {
            fails.push(format!(
                "{d}: the concat should be the buffer under the merge:\n{plan}"
            ));
        }
        let fill = if d.is_float() {
            Fill::Pow2 { special: 0.0 }
        } else {
            MIXED
        };
        let inputs = random_inputs(&p, fill, &mut rng);
        fails.extend(check(&p, &inputs, &[Tol::Exact]).err());
    }
    report(fails);
}
