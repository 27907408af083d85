//! Error paths: out-of-range gather / index_select indices must give the reference's
//! `IndexOutOfRange` (and leave the compiled program usable); wrong inputs and outputs are
//! `Error::Input`.

use super::*;

/// Runs `p` on `inputs` through both; both must fail with the same error, and the JIT must
/// then still run correctly on `good` inputs (its cached buffers survive the error).
fn check_same_error(p: &Program, inputs: &[Tensor], good: &[Tensor]) -> Result<Error, String> {
    let ins: Vec<&Tensor> = inputs.iter().collect();
    let fail = |m: String| {
        format!(
            "{m}\nprogram:\n{}inputs:\n{}",
            text::print(p),
            summary(inputs)
        )
    };
    let r = reference::run(p, &ins);
    let c = compile(p, &opts()).map_err(|e| fail(format!("compile failed: {e}")))?;
    let j = c.run(&ins);
    let e = match (r, j) {
        (Err(re), Err(je)) if re == je => re,
        (r, j) => {
            return Err(fail(format!(
                "expected the same error, got reference {:?} and JIT {:?}",
                r.err(),
                j.err()
            )))
        }
    };
    let good_ins: Vec<&Tensor> = good.iter().collect();
    let rg = reference::run(p, &good_ins).map_err(|e| fail(format!("good inputs: {e}")))?;
    let jg = c
        .run(&good_ins)
        .map_err(|e| fail(format!("JIT after an error: {e}")))?;
    for (a, b) in jg.iter().zip(&rg) {
        compare(a, b, &Tol::Exact).map_err(|m| fail(format!("after an error: {m}")))?;
    }
    Ok(e)
}

/// Index values that are out of range for an axis of size `n`, for index dtype `id`.
fn bad_indices(n: usize, id: DType) -> Vec<i64> {
    let mut v = vec![-1, n as i64, n as i64 + 1, i32::MIN as i64, i32::MAX as i64];
    if id == DType::I64 {
        v.extend([i64::MIN, i64::MAX, 1 << 32, -(1 << 32)]);
    }
    v
}

fn set_index(t: &mut Tensor, i: usize, v: i64) {
    match t.dtype() {
        DType::I32 => t.as_mut_slice::<i32>().unwrap()[i] = v as i32,
        _ => t.as_mut_slice::<i64>().unwrap()[i] = v,
    }
}

/// Programs using a gather / index_select of `x0` by `x1` in various kernels: directly, fused
/// into an elementwise op (vector loop, per-lane fallback), and fused into a reduction.
fn indexing_programs(
    d: DType,
    id: DType,
    ds: &[usize],
    is: &[usize],
    axis: usize,
    select: bool,
) -> Vec<Program> {
    let op = || {
        if select {
            Op::IndexSelect { axis }
        } else {
            Op::Gather { axis }
        }
    };
    let mut out = Vec::new();
    let (mut p, x) = with_params(&[(d, ds), (id, is)]);
    let g = push(&mut p, op(), &[x[0], x[1]]);
    p.output(g);
    out.push(p);
    let (mut p, x) = with_params(&[(d, ds), (id, is)]);
    let g = push(&mut p, op(), &[x[0], x[1]]);
    let y = push(&mut p, Op::Unary(UnaryOp::Neg), &[g]);
    p.output(y);
    out.push(p);
    let (mut p, x) = with_params(&[(d, ds), (id, is)]);
    let g = push(&mut p, op(), &[x[0], x[1]]);
    let r = p.value_type(g).shape.rank();
    let y = push(
        &mut p,
        reduce(ReduceOp::Sum, &(0..r).collect::<Vec<_>>(), false),
        &[g],
    );
    p.output(y);
    out.push(p);
    out
}

#[test]
fn out_of_range_indices_are_errors_naming_op_value_and_index() {
    #[allow(clippy::type_complexity)]
    let cases: &[(&[usize], &[usize], usize, bool)] = &[
        (&[4, 5], &[3, 5], 0, false),
        (&[4, 5], &[4, 9], 1, false),
        (&[1023], &[17], 0, false),
        (&[5, 7], &[6], 1, true),
        (&[5, 7], &[2, 3], 0, true),
        (&[5, 7], &[], 1, true),
        (&[33], &[3], 0, true),
    ];
    let mut fails = Vec::new();
    let mut rng = Rng::new(40);
    for id in [DType::I32, DType::I64] {
        for &(ds, is, axis, select) in cases {
            for p in indexing_programs(DType::F32, id, ds, is, axis, select) {
                let n = ds[axis];
                let data =
                    random_tensor(&tt(DType::F32, ds), Fill::Pow2 { special: 0.0 }, &mut rng);
                let good = random_tensor(&tt(id, is), Fill::Range(0.0, n as f64 - 1.0), &mut rng);
                let numel = good.numel();
                for bad in bad_indices(n, id) {
                    let pos = rng.below(numel);
                    let mut index = good.clone();
                    set_index(&mut index, pos, bad);
                    let inputs = [data.clone(), index];
                    match check_same_error(&p, &inputs, &[data.clone(), good.clone()]) {
                        Ok(Error::IndexOutOfRange {
                            op,
                            value,
                            index,
                            axis: a,
                            size,
                        }) => {
                            let want_op = if select { "index_select" } else { "gather" };
                            let ok = op == want_op
                                && value == 2
                                && index == bad
                                && a == axis
                                && size == n;
                            if !ok {
                                fails.push(format!(
                                    "wrong error fields: {op} %{value} index {index} axis {a} size {size}\n{}",
                                    text::print(&p)
                                ));
                            }
                        }
                        Ok(e) => fails.push(format!("unexpected error {e}")),
                        Err(m) => fails.push(m),
                    }
                }
            }
        }
    }
    report(fails);
}

#[test]
fn first_out_of_range_index_is_reported() {
    // Several bad indices: the error names the first in row-major order of the index
    // (as the reference does), whichever kernel evaluates it.
    let mut fails = Vec::new();
    let mut rng = Rng::new(41);
    for id in [DType::I32, DType::I64] {
        for select in [false, true] {
            let (ds, is): (&[usize], &[usize]) = if select {
                (&[5, 7], &[13])
            } else {
                (&[9, 5], &[9, 5])
            };
            for p in indexing_programs(DType::F32, id, ds, is, if select { 1 } else { 0 }, select) {
                let axis = if select { 1 } else { 0 };
                let n = ds[axis];
                let data =
                    random_tensor(&tt(DType::F32, ds), Fill::Pow2 { special: 0.0 }, &mut rng);
                let good = random_tensor(&tt(id, is), Fill::Range(0.0, n as f64 - 1.0), &mut rng);
                let mut index = good.clone();
                set_index(&mut index, 3, -5);
                set_index(&mut index, 7, n as i64 + 2);
                set_index(&mut index, 11, -1);
                let inputs = [data.clone(), index];
                if let Err(m) = check_same_error(&p, &inputs, &[data, good]) {
                    fails.push(m);
                }
            }
        }
    }
    report(fails);
}

#[test]
fn out_of_range_index_in_a_gather_that_is_not_an_output() {
    // The gather's result feeds only a slice that reads part of it, or nothing at all; the
    // reference evaluates every instruction and checks every index, so it reports the error.
    let mut fails = Vec::new();
    let mut rng = Rng::new(42);
    let data = random_tensor(&tt(DType::F32, &[4, 5]), MIXED, &mut rng);
    let good = random_tensor(&tt(DType::I64, &[4, 5]), Fill::Range(0.0, 3.0), &mut rng);
    let mut bad = good.clone();
    set_index(&mut bad, 19, 4);
    // (a) dead gather
    let (mut p, x) = with_params(&[(DType::F32, &[4, 5]), (DType::I64, &[4, 5])]);
    let _g = push(&mut p, Op::Gather { axis: 0 }, &[x[0], x[1]]);
    let y = push(&mut p, Op::Unary(UnaryOp::Neg), &[x[0]]);
    p.output(y);
    fails.extend(
        check_same_error(
            &p,
            &[data.clone(), bad.clone()],
            &[data.clone(), good.clone()],
        )
        .err(),
    );
    // (b) only the first row of the gather is used
    let (mut p, x) = with_params(&[(DType::F32, &[4, 5]), (DType::I64, &[4, 5])]);
    let g = push(&mut p, Op::Gather { axis: 0 }, &[x[0], x[1]]);
    let s = push(
        &mut p,
        Op::Slice {
            starts: vec![0, 0],
            stops: vec![1, 5],
            steps: vec![1, 1],
        },
        &[g],
    );
    p.output(s);
    fails.extend(
        check_same_error(
            &p,
            &[data.clone(), bad.clone()],
            &[data.clone(), good.clone()],
        )
        .err(),
    );
    // (c) index_select whose result is empty (data has a size-0 dim) but whose index is bad
    let (mut p, x) = with_params(&[(DType::F32, &[0, 5]), (DType::I32, &[3])]);
    let g = push(&mut p, Op::IndexSelect { axis: 1 }, &[x[0], x[1]]);
    p.output(g);
    let d0 = Tensor::zeros(tt(DType::F32, &[0, 5])).unwrap();
    let i_bad = Tensor::from_vec(vec![1i32, 5, 2], vec![3]).unwrap();
    let i_good = Tensor::from_vec(vec![1i32, 4, 2], vec![3]).unwrap();
    fails.extend(check_same_error(&p, &[d0.clone(), i_bad], &[d0, i_good]).err());
    report(fails);
}

#[test]
fn wrong_inputs_and_outputs_are_input_errors() {
    let (mut p, x) = with_params(&[(DType::F32, &[3, 4]), (DType::I32, &[4])]);
    let c = push_typed(&mut p, Op::Cast, &[x[1]], tt(DType::F32, &[4]));
    let y = push(&mut p, Op::Binary(BinaryOp::Add), &[x[0], c]);
    p.output(y);
    p.output(x[1]);
    let comp = compile(&p, &opts()).unwrap();
    let a = Tensor::zeros(tt(DType::F32, &[3, 4])).unwrap();
    let b = Tensor::zeros(tt(DType::I32, &[4])).unwrap();
    let is_input = |r: Result<Vec<Tensor>, Error>| matches!(r, Err(Error::Input(_)));
    assert!(is_input(comp.run(&[&a])), "too few inputs");
    assert!(is_input(comp.run(&[&a, &b, &b])), "too many inputs");
    assert!(is_input(comp.run(&[&b, &a])), "swapped inputs");
    let wrong_dtype = Tensor::zeros(tt(DType::I64, &[4])).unwrap();
    assert!(is_input(comp.run(&[&a, &wrong_dtype])), "wrong dtype");
    let wrong_shape = Tensor::zeros(tt(DType::F32, &[4, 3])).unwrap();
    assert!(is_input(comp.run(&[&wrong_shape, &b])), "wrong shape");
    let same_numel = Tensor::zeros(tt(DType::F32, &[12])).unwrap();
    assert!(
        is_input(comp.run(&[&same_numel, &b])),
        "wrong rank, same element count"
    );
    // The reference agrees on each of these.
    assert!(matches!(reference::run(&p, &[&a]), Err(Error::Input(_))));
    assert!(matches!(
        reference::run(&p, &[&a, &wrong_dtype]),
        Err(Error::Input(_))
    ));

    let ok = || {
        vec![
            Tensor::zeros(tt(DType::F32, &[3, 4])).unwrap(),
            Tensor::zeros(tt(DType::I32, &[4])).unwrap(),
        ]
    };
    let mut outs = ok();
    assert!(comp.run_into(&[&a, &b], &mut outs).is_ok());
    let mut few = vec![Tensor::zeros(tt(DType::F32, &[3, 4])).unwrap()];
    assert!(
        matches!(comp.run_into(&[&a, &b], &mut few), Err(Error::Input(_))),
        "too few outputs"
    );
    let mut many = ok();
    many.push(Tensor::zeros(tt(DType::F32, &[3, 4])).unwrap());
    assert!(
        matches!(comp.run_into(&[&a, &b], &mut many), Err(Error::Input(_))),
        "too many outputs"
    );
    let mut dt = ok();
    dt[1] = Tensor::zeros(tt(DType::I64, &[4])).unwrap();
    assert!(
        matches!(comp.run_into(&[&a, &b], &mut dt), Err(Error::Input(_))),
        "wrong output dtype"
    );
    let mut sh = ok();
    sh[0] = Tensor::zeros(tt(DType::F32, &[12])).unwrap();
    assert!(
        matches!(comp.run_into(&[&a, &b], &mut sh), Err(Error::Input(_))),
        "wrong output shape"
    );
    let mut swapped = ok();
    swapped.reverse();
    assert!(
        matches!(comp.run_into(&[&a, &b], &mut swapped), Err(Error::Input(_))),
        "swapped outputs"
    );
    // Bad inputs with good outputs are input errors too, and nothing is written.
    let mut outs = ok();
    assert!(matches!(
        comp.run_into(&[&a], &mut outs),
        Err(Error::Input(_))
    ));
    // And after all that, a good run still works.
    let a = Tensor::from_vec((0..12).map(|i| i as f32).collect(), vec![3, 4]).unwrap();
    let b = Tensor::from_vec(vec![1i32, 2, 3, 4], vec![4]).unwrap();
    let r = comp.run(&[&a, &b]).unwrap();
    assert_eq!(r, reference::run(&p, &[&a, &b]).unwrap());
}
