//! Reductions: every reduce op over every axis set, keepdim both ways, on every dtype;
//! single elements, non-contiguous views and expressions, signed zeros, softmax and layernorm
//! rows.

use super::*;

/// Every subset of `0..rank`, as sorted axis lists.
fn axis_sets(rank: usize) -> Vec<Vec<usize>> {
    (0..1usize << rank)
        .map(|m| (0..rank).filter(|a| m >> a & 1 == 1).collect())
        .collect()
}

const RED_SHAPES: &[&[usize]] = &[
    &[5],
    &[1023],
    &[3, 7],
    &[4, 1, 6],
    &[2, 3, 17],
    &[33, 4],
    &[0, 3],
    &[3, 0],
    &[2, 5, 1, 3],
    &[1, 1],
];

/// Every reduction op over every axis set, keepdim both ways, for one dtype and input regime.
/// `pow2` selects the `{±0.5, ±1, ±2}` inputs, for which sums and products are exact.
fn check_reductions(d: DType, pow2: bool, seed: u64) -> Vec<String> {
    let cases: Vec<(&[usize], Vec<Vec<usize>>)> = RED_SHAPES
        .iter()
        .map(|&s| (s, axis_sets(s.len())))
        .collect();
    check_reductions_on(d, pow2, seed, &cases)
}

/// [`check_reductions`] over the given shapes, each with its axis sets.
fn check_reductions_on(
    d: DType,
    pow2: bool,
    seed: u64,
    cases: &[(&[usize], Vec<Vec<usize>>)],
) -> Vec<String> {
    let mut fails = Vec::new();
    let mut rng = Rng::new(seed);
    for &(shape, ref axis_lists) in cases {
        for axes in axis_lists.iter().cloned() {
            let (mut p, x) = with_params(&[(d, shape)]);
            let n: usize = axes.iter().map(|&a| shape[a]).product();
            let mut red = Vec::new();
            for op in ReduceOp::ALL {
                if op == ReduceOp::Mean && !d.is_float() {
                    continue;
                }
                if op == ReduceOp::Prod && d.is_float() && !pow2 {
                    continue;
                }
                if op.is_arg() && (axes.len() != 1 || shape[axes[0]] == 0) {
                    continue;
                }
                for keepdim in [false, true] {
                    let y = push(&mut p, reduce(op, &axes, keepdim), &[x[0]]);
                    p.output(y);
                    red.push((op, keepdim));
                }
            }
            let fill = if pow2 {
                Fill::Pow2 { special: 0.1 }
            } else {
                Fill::Mixed {
                    mag: 4.0,
                    special: 0.1,
                    extreme: false,
                }
            };
            let inputs = random_inputs(&p, fill, &mut rng);
            let refs = match reference::run(&p, &[&inputs[0]]) {
                Ok(r) => r,
                Err(e) => {
                    fails.push(format!("reference failed: {e}\n{}", text::print(&p)));
                    continue;
                }
            };
            let mut tols = Vec::new();
            for (k, &(op, keepdim)) in red.iter().enumerate() {
                let exact_fold = n <= 1 || pow2;
                let tol = match op {
                    ReduceOp::Sum | ReduceOp::Mean if d.is_float() && !exact_fold => {
                        let s = abs_sum(&p, &inputs, x[0], &axes, keepdim);
                        sum_tol(op, d, n, &s, &refs[k])
                    }
                    ReduceOp::Mean if d.is_float() && n > 1 => Tol::Ulps {
                        ulps: 3.0,
                        abs: 0.0,
                    },
                    _ => Tol::Exact,
                };
                tols.push(tol);
            }
            fails.extend(check(&p, &inputs, &tols).err());
        }
    }
    fails
}

/// Pooling windows `[N, C, OH, kh, OW, kw]` reduced over `kh` and `kw`: the emitter runs
/// these across outputs (four `OW` positions per vector, strided loads) with the window
/// unrolled, up to 16 window elements; larger windows, kept dims shorter than a vector and
/// other axis sets take the loops. NaN, infinities and signed zeros are in the inputs.
#[test]
fn pooling_window_reductions() {
    let pool = |s: &'static [usize]| (s, vec![vec![3, 5], vec![2, 3, 4, 5], vec![3], vec![5]]);
    let cases: Vec<(&[usize], Vec<Vec<usize>>)> = vec![
        pool(&[2, 3, 5, 2, 7, 2]),
        pool(&[1, 2, 3, 3, 9, 3]),
        pool(&[2, 1, 2, 2, 4, 2]),
        pool(&[1, 2, 2, 2, 3, 2]),
        pool(&[1, 1, 2, 4, 5, 5]),
        pool(&[3, 1, 1, 1, 6, 1]),
        (&[5, 4, 4], vec![vec![2], vec![0, 2]]),
    ];
    let mut fails = Vec::new();
    for (i, d) in [DType::F32, DType::F64, DType::I32, DType::I64]
        .into_iter()
        .enumerate()
    {
        fails.extend(check_reductions_on(d, true, 70 + i as u64, &cases));
        if d.is_float() {
            fails.extend(check_reductions_on(d, false, 80 + i as u64, &cases));
        }
    }
    // The 2x2 window of an f32 pooling runs in vectors, without a loop over the window.
    let (mut p, x) = with_params(&[(DType::F32, &[2, 3, 5, 2, 7, 2])]);
    let y = push(&mut p, reduce(ReduceOp::Max, &[3, 5], false), &[x[0]]);
    p.output(y);
    let c = compile(
        &p,
        &CompileOptions {
            keep_clif: true,
            ..opts()
        },
    )
    .expect("compiles");
    let clif = c.clif();
    // Loops: n (the split loop, `docs/codegen.md` "Threads": a guard and a loop branch), c,
    // oh, the vector loop over ow and its scalar tail; none over kh or kw.
    let loops = clif.matches("brif").count();
    if !clif.contains("f32x4") || loops != 6 {
        fails.push(format!(
            "2x2 max pooling should vectorise across outputs with the window unrolled \
             ({loops} branches):\n{clif}"
        ));
    }
    report(fails);
}

#[test]
fn reductions_f32() {
    let mut fails = check_reductions(DType::F32, false, 10);
    fails.extend(check_reductions(DType::F32, true, 11));
    report(fails);
}

#[test]
fn reductions_f64() {
    let mut fails = check_reductions(DType::F64, false, 12);
    fails.extend(check_reductions(DType::F64, true, 13));
    report(fails);
}

#[test]
fn reductions_integers() {
    let mut fails = check_reductions(DType::I32, false, 14);
    fails.extend(check_reductions(DType::I64, false, 15));
    report(fails);
}

#[test]
fn reductions_of_single_elements_are_exact_copies() {
    // -0.0, NaN payloads and subnormals survive a reduction over one element and `axes=[]`.
    let vals = [
        -0.0f32,
        0.0,
        f32::from_bits(1),
        -3.5,
        f32::NAN,
        f32::NEG_INFINITY,
        7.0,
    ];
    let mut fails = Vec::new();
    for (shape, axes) in [(&[7, 1][..], &[1][..]), (&[7], &[]), (&[1, 7], &[0])] {
        let (mut p, x) = with_params(&[(DType::F32, shape)]);
        for op in [
            ReduceOp::Sum,
            ReduceOp::Mean,
            ReduceOp::Prod,
            ReduceOp::Max,
            ReduceOp::Min,
        ] {
            for keepdim in [false, true] {
                let y = push(&mut p, reduce(op, axes, keepdim), &[x[0]]);
                p.output(y);
            }
        }
        let inputs = vec![Tensor::from_slice(&vals, shape.to_vec()).unwrap()];
        fails.extend(check(&p, &inputs, &[Tol::Exact]).err());
    }
    report(fails);
}

#[test]
fn reductions_of_non_contiguous_views_and_expressions() {
    // Views and elementwise expressions feeding reductions: permute, slice with steps,
    // expand, reshape of a permute, pad, concat, gather.
    let mut fails = Vec::new();
    let mut rng = Rng::new(16);
    for (r, c) in [(5, 7), (3, 17), (8, 33), (1, 13), (6, 4)] {
        for axes in [vec![0], vec![1], vec![0, 1]] {
            let (mut p, x) = with_params(&[(DType::F32, &[r, c]), (DType::F32, &[c])]);
            let t = push(&mut p, Op::Permute { perm: vec![1, 0] }, &[x[0]]);
            let e = push(
                &mut p,
                Op::Expand {
                    shape: Shape::new([r, c]),
                },
                &[x[1]],
            );
            let et = push(&mut p, Op::Permute { perm: vec![1, 0] }, &[e]);
            let m = push(&mut p, Op::Binary(BinaryOp::Mul), &[t, et]); // [c, r]
            let sl = push(
                &mut p,
                Op::Slice {
                    starts: vec![0, 0],
                    stops: vec![c, r],
                    steps: vec![2, 1],
                },
                &[m],
            );
            let pd = push(
                &mut p,
                Op::Pad {
                    lo: vec![1, 0],
                    hi: vec![0, 2],
                    value: Scalar::Float(-1.5),
                },
                &[sl],
            );
            let sl2 = push(
                &mut p,
                Op::Slice {
                    starts: vec![1, 0],
                    stops: vec![c, r],
                    steps: vec![2, 1],
                },
                &[m],
            );
            let cc = push(&mut p, Op::Concat { axis: 0 }, &[sl2, sl, sl2]);
            let rs = push(
                &mut p,
                Op::Reshape {
                    shape: Shape::new([r, c]),
                },
                &[t],
            );
            let ex = push(&mut p, Op::Unary(UnaryOp::Exp), &[rs]);
            let mut tols = Vec::new();
            let inputs = random_inputs(
                &p,
                Fill::Mixed {
                    mag: 2.0,
                    special: 0.0,
                    extreme: false,
                },
                &mut rng,
            );
            for v in [m, sl, pd, cc, rs, ex] {
                for op in [ReduceOp::Sum, ReduceOp::Max, ReduceOp::Min, ReduceOp::Mean] {
                    let y = push(&mut p, reduce(op, &axes, false), &[v]);
                    p.output(y);
                    tols.push((op, v));
                }
                if axes.len() == 1 {
                    let y = push(&mut p, reduce(ReduceOp::ArgMax, &axes, true), &[v]);
                    p.output(y);
                    tols.push((ReduceOp::ArgMax, v));
                }
            }
            let ins: Vec<&Tensor> = inputs.iter().collect();
            let refs = reference::run(&p, &ins).unwrap();
            let tols: Vec<Tol> = tols
                .iter()
                .enumerate()
                .map(|(k, &(op, v))| {
                    let shape = p.value_type(v).shape.clone();
                    let n: usize = axes.iter().map(|&a| shape.dims()[a]).product();
                    match op {
                        ReduceOp::Sum | ReduceOp::Mean => {
                            let s = abs_sum(&p, &inputs, v, &axes, false);
                            let mut t = sum_tol(op, DType::F32, n, &s, &refs[k]);
                            if v == ex {
                                // exp adds its own error (4 ulp each) to every term.
                                if let Tol::Bound(b) = &mut t {
                                    for (bi, si) in b.iter_mut().zip(&s) {
                                        *bi += 4.0 * f32::EPSILON as f64 * si;
                                    }
                                }
                            }
                            t
                        }
                        _ if v == ex => Tol::Ulps {
                            ulps: 4.0,
                            abs: 0.0,
                        },
                        _ => Tol::Exact,
                    }
                })
                .collect();
            fails.extend(check(&p, &inputs, &tols).err());
        }
    }
    report(fails);
}

#[test]
fn softmax_and_layernorm_rows() {
    // Row groups: reductions feeding elementwise ops feeding reductions over the same rows.
    let mut fails = Vec::new();
    let mut rng = Rng::new(17);
    for (r, c) in [
        (1, 1),
        (3, 1),
        (4, 3),
        (5, 5),
        (2, 17),
        (7, 33),
        (3, 1023),
        (64, 7),
    ] {
        let (mut p, x) = with_params(&[(DType::F32, &[r, c])]);
        let mx = push(&mut p, reduce(ReduceOp::Max, &[1], true), &[x[0]]);
        let sh = push(&mut p, Op::Binary(BinaryOp::Sub), &[x[0], mx]);
        let e = push(&mut p, Op::Unary(UnaryOp::Exp), &[sh]);
        let s = push(&mut p, reduce(ReduceOp::Sum, &[1], true), &[e]);
        let sm = push(&mut p, Op::Binary(BinaryOp::Div), &[e, s]);
        p.output(sm);
        // layernorm without the affine part: (x - mean) * rsqrt(var + eps)
        let mean = push(&mut p, reduce(ReduceOp::Mean, &[1], true), &[x[0]]);
        let xc = push(&mut p, Op::Binary(BinaryOp::Sub), &[x[0], mean]);
        let sq = push(&mut p, Op::Binary(BinaryOp::Mul), &[xc, xc]);
        let var = push(&mut p, reduce(ReduceOp::Mean, &[1], true), &[sq]);
        let eps = push_typed(
            &mut p,
            Op::Constant {
                value: Scalar::Float(1e-5),
            },
            &[],
            tt(DType::F32, &[]),
        );
        let ve = push(&mut p, Op::Binary(BinaryOp::Add), &[var, eps]);
        let rs = push(&mut p, Op::Unary(UnaryOp::Rsqrt), &[ve]);
        let ln = push(&mut p, Op::Binary(BinaryOp::Mul), &[xc, rs]);
        p.output(ln);
        let inputs = random_inputs(&p, Fill::Range(-3.0, 3.0), &mut rng);
        // softmax: each term of the sum is off by <= 4 ulp (exp), the sum by γ(c); the
        // quotient's relative error is below (8 + 2c) ulp. layernorm: centred values are
        // O(3), the variance is a mean of squares; relative 1e-4 covers γ(c) for c <= 1023
        // (6e-5) with the rsqrt rounding; the absolute part covers cancellation in x - mean.
        let tols = [
            Tol::Rel {
                rel: (8.0 + 2.0 * c as f64) * f32::EPSILON as f64,
                abs: 1e-30,
            },
            Tol::Rel {
                rel: 2e-4,
                abs: 2e-4,
            },
        ];
        fails.extend(check(&p, &inputs, &tols).err());
    }
    report(fails);
}

#[test]
fn max_min_reductions_of_signed_zeros() {
    // Rows of ±0.0 mixed with values below (max) / above (min) zero, in every lane position
    // and order, so that the maximum / minimum is a zero reached by ties in both orders.
    let mut fails = Vec::new();
    let mut rng = Rng::new(43);
    for n in [1, 2, 3, 4, 5, 8, 9, 16, 17, 33] {
        for d in [DType::F32, DType::F64] {
            let rows = 6;
            let (mut p, x) = with_params(&[(d, &[rows, n]), (d, &[rows, n])]);
            for (v, op) in [(x[0], ReduceOp::Max), (x[1], ReduceOp::Min)] {
                for axes in [vec![1], vec![0], vec![0, 1]] {
                    let y = push(&mut p, reduce(op, &axes, false), &[v]);
                    p.output(y);
                }
            }
            let mut gen = |sign: f64| -> Vec<f64> {
                (0..rows * n)
                    .map(|_| match rng.below(4) {
                        0 => 0.0,
                        1 => -0.0,
                        2 => sign * 1.5,
                        _ => rng.pick(&[0.0, -0.0]),
                    })
                    .collect()
            };
            let (lo, hi) = (gen(-1.0), gen(1.0));
            let t = |v: Vec<f64>| {
                if d == DType::F32 {
                    Tensor::from_vec(v.iter().map(|&x| x as f32).collect(), vec![rows, n]).unwrap()
                } else {
                    Tensor::from_vec(v, vec![rows, n]).unwrap()
                }
            };
            fails.extend(check(&p, &[t(lo), t(hi)], &[Tol::Exact]).err());
        }
    }
    report(fails);
}
