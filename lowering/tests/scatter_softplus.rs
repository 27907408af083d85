//! `scatter_add` and `softplus`, the two ops added through the one-declaration layout: the JIT
//! against the reference interpreter (bit for bit for scatter_add, whose sums run in one
//! order), softplus against an f64 oracle, every index error reported as the reference
//! reports it, and both through the text form.

use lazyjit_lowering::codegen::{compile, CompileOptions};
use lazyjit_lowering::testing::Rng;
use lazyjit_lowering::{reference, text, DType, Error, Program, Tensor};

fn jit(p: &Program, inputs: &[&Tensor]) -> Result<Vec<Tensor>, Error> {
    compile(p, &CompileOptions::default())?.run(inputs)
}

fn both(src: &str, inputs: &[&Tensor]) -> (Result<Vec<Tensor>, Error>, Result<Vec<Tensor>, Error>) {
    let p = text::parse(src).unwrap_or_else(|e| panic!("{e}\n{src}"));
    (jit(&p, inputs), reference::run(&p, inputs))
}

fn dims_text(d: &[usize]) -> String {
    d.iter()
        .map(|x| x.to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

/// A tensor of `dtype` and `dims` with small random values (integers in -8..8 for every
/// dtype, so float sums are exact in any order and differences would be real bugs — the
/// order is checked separately below).
fn random(rng: &mut Rng, dtype: DType, dims: &[usize]) -> Tensor {
    let n: usize = dims.iter().product();
    let vals: Vec<i64> = (0..n).map(|_| rng.below(16) as i64 - 8).collect();
    match dtype {
        DType::F32 => Tensor::from_vec(vals.iter().map(|&v| v as f32 * 0.5).collect(), dims),
        DType::F64 => Tensor::from_vec(vals.iter().map(|&v| v as f64 * 0.25).collect(), dims),
        DType::I32 => Tensor::from_vec(vals.iter().map(|&v| v as i32).collect(), dims),
        DType::I64 => Tensor::from_vec(vals, dims),
        DType::Bool => unreachable!(),
    }
    .unwrap()
}

fn index_tensor(rng: &mut Rng, dtype: DType, dims: &[usize], bound: usize) -> Tensor {
    let n: usize = dims.iter().product();
    let vals: Vec<i64> = (0..n).map(|_| rng.below(bound.max(1)) as i64).collect();
    match dtype {
        DType::I32 => Tensor::from_vec(vals.iter().map(|&v| v as i32).collect(), dims),
        _ => Tensor::from_vec(vals, dims),
    }
    .unwrap()
}

fn assert_same(a: &[Tensor], b: &[Tensor], what: &str) {
    assert_eq!(a.len(), b.len(), "{what}");
    for (x, y) in a.iter().zip(b) {
        assert_eq!(x.ty(), y.ty(), "{what}");
        assert_eq!(
            x.buffer().as_bytes(),
            y.buffer().as_bytes(),
            "{what}: JIT {x:?}\nreference {y:?}"
        );
    }
}

#[test]
fn scatter_add_matches_the_reference_on_random_programs() {
    let mut rng = Rng::new(7);
    for case in 0..300 {
        let rank = 1 + rng.below(3);
        let dt = [DType::F32, DType::F64, DType::I32, DType::I64][rng.below(4)];
        let it = [DType::I32, DType::I64][rng.below(2)];
        let axis = rng.below(rank);
        let input: Vec<usize> = (0..rank).map(|_| 1 + rng.below(9)).collect();
        // Index dims: <= updates' dims, and <= the input's except on the axis.
        let index: Vec<usize> = (0..rank)
            .map(|k| {
                let cap = if k == axis { 12 } else { input[k] };
                rng.below(cap + 1)
            })
            .collect();
        let updates: Vec<usize> = index.iter().map(|&n| n + rng.below(3)).collect();
        let (ti, tx, tu) = (
            random(&mut rng, dt, &input),
            index_tensor(&mut rng, it, &index, input[axis]),
            random(&mut rng, dt, &updates),
        );
        let (ds, is, us) = (dims_text(&input), dims_text(&index), dims_text(&updates));
        // Plain operands, then fused producers on each operand and a consumer.
        let plain = format!(
            "param %x: {dt}[{ds}]\nparam %i: {it}[{is}]\nparam %u: {dt}[{us}]\n\
             %3: {dt}[{ds}] = scatter_add %x, %i, %u, axis={axis}\nreturn %3\n"
        );
        let fused = format!(
            "param %x: {dt}[{ds}]\nparam %i: {it}[{is}]\nparam %u: {dt}[{us}]\n\
             %3: {dt}[{ds}] = add %x, %x\n\
             %4: i64[{is}] = cast %i\n\
             %5: {dt}[{us}] = mul %u, %u\n\
             %6: {dt}[{ds}] = scatter_add %3, %4, %5, axis={axis}\n\
             %7: {dt}[{ds}] = sub %6, %x\n\
             return %7, %6\n"
        );
        for src in [plain, fused] {
            let (j, r) = both(&src, &[&ti, &tx, &tu]);
            let what = format!("case {case}:\n{src}");
            assert_same(&j.unwrap(), &r.unwrap(), &what);
        }
    }
}

#[test]
fn scatter_add_sums_floats_in_row_major_order() {
    // 1e8 + 1 + ... : the order of a float sum shows in its rounding. Both backends add in
    // row-major order of the index, so they agree bit for bit with a sequential sum.
    let n = 1000;
    let updates: Vec<f32> = (0..n)
        .map(|i| if i == 0 { 1e8 } else { 1.0 + i as f32 * 1e-3 })
        .collect();
    let index = vec![1i64; n];
    let src = format!(
        "param %x: f32[3]\nparam %i: i64[{n}]\nparam %u: f32[{n}]\n\
         %3: f32[3] = scatter_add %x, %i, %u, axis=0\nreturn %3\n"
    );
    let x = Tensor::from_vec(vec![0.5f32, -2.0, 4.0], [3]).unwrap();
    let i = Tensor::from_vec(index, [n]).unwrap();
    let u = Tensor::from_vec(updates.clone(), [n]).unwrap();
    let (j, r) = both(&src, &[&x, &i, &u]);
    let (j, r) = (j.unwrap(), r.unwrap());
    let seq = updates.iter().fold(-2.0f32, |a, &b| a + b);
    assert_eq!(j[0].as_slice::<f32>().unwrap(), [0.5, seq, 4.0]);
    assert_same(&j, &r, "sequential sum");
}

#[test]
fn scatter_add_is_the_gradient_of_gather() {
    // sum(gather(d, i) * g) == sum(d * scatter_add(0, i, g)) for every d: the adjoint.
    let mut rng = Rng::new(3);
    let d = random(&mut rng, DType::F64, &[5, 4]);
    let i = index_tensor(&mut rng, DType::I64, &[7, 3], 5);
    let g = random(&mut rng, DType::F64, &[7, 3]);
    let src = "param %d: f64[5, 4]\nparam %i: i64[7, 3]\nparam %g: f64[7, 3]\n\
               %3: f64[7, 3] = gather %d, %i, axis=0\n\
               %4: f64[7, 3] = mul %3, %g\n\
               %5: f64[] = reduce_sum %4, axes=[0, 1], keepdim=false\n\
               %6: f64[5, 4] = constant 0.0\n\
               %7: f64[5, 4] = scatter_add %6, %i, %g, axis=0\n\
               %8: f64[5, 4] = mul %d, %7\n\
               %9: f64[] = reduce_sum %8, axes=[0, 1], keepdim=false\n\
               return %5, %9\n";
    let (j, _) = both(src, &[&d, &i, &g]);
    let j = j.unwrap();
    let (a, b) = (
        j[0].as_slice::<f64>().unwrap()[0],
        j[1].as_slice::<f64>().unwrap()[0],
    );
    assert!((a - b).abs() <= 1e-12 * a.abs().max(1.0), "{a} vs {b}");
}

#[test]
fn scatter_add_index_errors_are_reported_as_the_reference_reports_them() {
    let cases: &[(&[usize], &[i64], usize)] = &[
        (&[4], &[0, 4, 1], 0),       // one past the end
        (&[4], &[2, -1, 9], 0),      // negative first
        (&[0], &[0], 0),             // empty axis: every index is out of range
        (&[3, 2], &[0, 1, 7, 0], 1), // second axis, rows of two
    ];
    for &(input, index, axis) in cases {
        let r = input.len();
        let idims: Vec<usize> = if r == 1 {
            vec![index.len()]
        } else {
            vec![index.len() / 2, 2]
        };
        let (ds, is) = (dims_text(input), dims_text(&idims));
        let src = format!(
            "param %x: f32[{ds}]\nparam %i: i64[{is}]\nparam %u: f32[{is}]\n\
             %3: f32[{ds}] = scatter_add %x, %i, %u, axis={axis}\nreturn %3\n"
        );
        let n: usize = input.iter().product();
        let x = Tensor::from_vec(vec![1.0f32; n], input).unwrap();
        let i = Tensor::from_vec(index.to_vec(), &idims[..]).unwrap();
        let u = Tensor::from_vec(vec![1.0f32; index.len()], &idims[..]).unwrap();
        let (j, rf) = both(&src, &[&x, &i, &u]);
        let (je, re) = (j.unwrap_err(), rf.unwrap_err());
        assert_eq!(je, re, "{src}");
        let Error::IndexOutOfRange { op, index: bad, .. } = je else {
            panic!("{je}")
        };
        assert_eq!(op, "scatter_add");
        let first_bad = index
            .iter()
            .find(|&&v| v < 0 || v as usize >= input[axis])
            .unwrap();
        assert_eq!(bad, *first_bad, "{src}");
    }
}

#[test]
fn scatter_add_with_an_empty_index_copies_the_input() {
    let src = "param %x: i32[2, 3]\nparam %i: i32[2, 0]\nparam %u: i32[2, 5]\n\
               %3: i32[2, 3] = scatter_add %x, %i, %u, axis=1\nreturn %3\n";
    let x = Tensor::from_vec(vec![1, 2, 3, 4, 5, 6], [2, 3]).unwrap();
    let i = Tensor::from_vec(Vec::<i32>::new(), [2, 0]).unwrap();
    let u = Tensor::from_vec(vec![9; 10], [2, 5]).unwrap();
    let (j, r) = both(src, &[&x, &i, &u]);
    let j = j.unwrap();
    assert_eq!(j[0].as_slice::<i32>().unwrap(), [1, 2, 3, 4, 5, 6]);
    assert_same(&j, &r.unwrap(), src);
}

#[test]
fn scatter_add_shape_and_dtype_rules() {
    let bad = [
        // index dtype
        ("f32[4]", "f32[2]", "f32[2]", 0, "i32 or i64 index"),
        // updates dtype differs
        ("f32[4]", "i64[2]", "f64[2]", 0, "one numeric dtype"),
        // bool input
        ("bool[4]", "i64[2]", "bool[2]", 0, "one numeric dtype"),
        // ranks differ
        ("f32[4]", "i64[2, 1]", "f32[2, 1]", 0, "one rank"),
        // index larger than the updates
        ("f32[4]", "i64[3]", "f32[2]", 0, "does not fit"),
        // index larger than the input off the axis
        ("f32[2, 4]", "i64[3, 1]", "f32[3, 1]", 1, "does not fit"),
        // axis out of range
        ("f32[4]", "i64[2]", "f32[2]", 1, "axis 1 out of range"),
    ];
    for (x, i, u, axis, msg) in bad {
        let src = format!(
            "param %x: {x}\nparam %i: {i}\nparam %u: {u}\n\
             %3: {x} = scatter_add %x, %i, %u, axis={axis}\nreturn %3\n"
        );
        let e = text::parse(&src).unwrap_err().to_string();
        assert!(e.contains(msg), "{src}\n{e}");
    }
    let e = text::parse(
        "param %x: f32[4]\nparam %i: i64[2]\n%2: f32[4] = scatter_add %x, %i, axis=0\nreturn %2\n",
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("scatter_add takes 3 operands, got 2"), "{e}");
}

/// softplus in f64 from its definition, for the oracle (`ln_1p` is accurate for tiny `e`).
fn softplus_f64(x: f64) -> f64 {
    x.max(0.0) + (-x.abs()).exp().ln_1p()
}

fn softplus_inputs() -> Vec<f64> {
    let mut v = vec![
        0.0,
        -0.0,
        1.0,
        -1.0,
        20.0,
        -20.0,
        88.0,
        89.0,
        -88.0,
        -104.0,
        -110.0,
        700.0,
        -700.0,
        -745.0,
        1e-8,
        -1e-8,
        1e30,
        -1e30,
        f64::INFINITY,
        f64::NEG_INFINITY,
        f64::NAN,
    ];
    let mut rng = Rng::new(11);
    for _ in 0..2000 {
        let mag = (rng.unit() * 12.0 - 6.0).exp2() * 4.0;
        v.push(if rng.below(2) == 0 { mag } else { -mag });
    }
    v
}

/// Distance in units in the last place between two floats of the same sign class.
fn ulps32(a: f32, b: f32) -> u32 {
    if a == b {
        return 0;
    }
    let key = |x: f32| {
        let i = x.to_bits() as i32;
        if i < 0 {
            i32::MIN - i
        } else {
            i
        }
    };
    key(a).abs_diff(key(b))
}

fn ulps64(a: f64, b: f64) -> u64 {
    if a == b {
        return 0;
    }
    let key = |x: f64| {
        let i = x.to_bits() as i64;
        if i < 0 {
            i64::MIN - i
        } else {
            i
        }
    };
    key(a).abs_diff(key(b))
}

#[test]
fn softplus_is_accurate_and_stable_in_both_float_dtypes() {
    let xs = softplus_inputs();
    let n = xs.len();
    // f32: vector lanes and the scalar tail both run (n is not a multiple of 4).
    let x32: Vec<f32> = xs.iter().map(|&x| x as f32).collect();
    let src32 = format!("param %x: f32[{n}]\n%1: f32[{n}] = softplus %x\nreturn %1\n");
    let t = Tensor::from_vec(x32.clone(), [n]).unwrap();
    let (j, r) = both(&src32, &[&t]);
    let (j, r) = (j.unwrap(), r.unwrap());
    let (j, r) = (
        j[0].as_slice::<f32>().unwrap(),
        r[0].as_slice::<f32>().unwrap(),
    );
    let mut worst = 0;
    for k in 0..n {
        let want = softplus_f64(x32[k] as f64) as f32;
        if want.is_nan() {
            assert!(j[k].is_nan() && r[k].is_nan(), "softplus({})", x32[k]);
            continue;
        }
        let u = ulps32(j[k], want);
        worst = worst.max(u);
        assert!(
            u <= 4,
            "f32 softplus({:e}) = {:e}, want {want:e} ({u} ulp)",
            x32[k],
            j[k]
        );
        assert!(ulps32(r[k], want) <= 1, "reference softplus({:e})", x32[k]);
    }
    assert!(
        worst > 0 || n < 10,
        "a 0-ulp worst case means the oracle ran instead"
    );
    // Stability: no overflow for large x, full relative accuracy (not 0) far below zero.
    let at = |x: f32| j[x32.iter().position(|&v| v == x).unwrap()];
    assert_eq!(at(f32::INFINITY), f32::INFINITY);
    assert_eq!(at(f32::NEG_INFINITY), 0.0);
    assert_eq!(at(1e30), 1e30);
    assert_eq!(at(89.0), 89.0);
    assert!(at(-88.0) > 0.0 && ulps32(at(-88.0), (-88.0f64).exp() as f32) <= 4);
    assert!(ulps32(at(-1e-8), std::f32::consts::LN_2) <= 1);

    let src64 = format!("param %x: f64[{n}]\n%1: f64[{n}] = softplus %x\nreturn %1\n");
    let t = Tensor::from_vec(xs.clone(), [n]).unwrap();
    let (j, r) = both(&src64, &[&t]);
    let (j, r) = (j.unwrap(), r.unwrap());
    let (j, r) = (
        j[0].as_slice::<f64>().unwrap(),
        r[0].as_slice::<f64>().unwrap(),
    );
    for k in 0..n {
        let want = softplus_f64(xs[k]);
        if want.is_nan() {
            assert!(j[k].is_nan() && r[k].is_nan());
            continue;
        }
        let u = ulps64(j[k], want);
        assert!(
            u <= 4,
            "f64 softplus({:e}) = {:e}, want {want:e} ({u} ulp)",
            xs[k],
            j[k]
        );
        assert_eq!(r[k].to_bits(), want.to_bits());
    }
    let at = |x: f64| j[xs.iter().position(|&v| v == x).unwrap()];
    assert_eq!(at(700.0), 700.0);
    assert!(ulps64(at(-700.0), (-700.0f64).exp()) <= 4);
}

#[test]
fn softplus_fuses_and_rejects_non_floats() {
    // Inside a fused expression, broadcast, on a strided view.
    let src = "param %x: f32[6, 5]\nparam %b: f32[5]\n\
               %2: f32[5, 6] = permute %x, perm=[1, 0]\n\
               %3: f32[6, 5] = add %x, %b\n\
               %4: f32[6, 5] = softplus %3\n\
               %5: f32[5, 6] = softplus %2\n\
               return %4, %5\n";
    let mut rng = Rng::new(5);
    let x = random(&mut rng, DType::F32, &[6, 5]);
    let b = random(&mut rng, DType::F32, &[5]);
    let (j, r) = both(src, &[&x, &b]);
    let (j, r) = (j.unwrap(), r.unwrap());
    for (a, b) in j.iter().zip(&r) {
        for (&u, &v) in a
            .as_slice::<f32>()
            .unwrap()
            .iter()
            .zip(b.as_slice::<f32>().unwrap())
        {
            assert!(ulps32(u, v) <= 4, "{u} vs {v}");
        }
    }
    for d in ["i32", "i64", "bool"] {
        let src = format!("param %x: {d}[3]\n%1: {d}[3] = softplus %x\nreturn %1\n");
        let e = text::parse(&src).unwrap_err().to_string();
        assert!(e.contains("softplus expects a float dtype"), "{e}");
    }
}

#[test]
fn both_ops_print_and_parse() {
    let src = "param %x: f32[4, 3]\nparam %i: i32[2, 3]\nparam %u: f32[2, 3]\n\
               %3: f32[4, 3] = scatter_add %x, %i, %u, axis=0\n\
               %4: f32[4, 3] = softplus %3\n\
               return %4\n";
    let p = text::parse(src).unwrap();
    assert_eq!(text::print(&p), src);
    assert_eq!(text::parse(&text::print(&p)).unwrap(), p);
    let e = text::parse(&src.replace("axis=0", "dim=0"))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("unknown attribute 'dim' for scatter_add (expected axis=N)"),
        "{e}"
    );
}
