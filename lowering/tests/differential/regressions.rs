//! Regressions: the minimised programs of the bugs these tests found, each checked exactly
//! against the reference on the inputs that showed it.

use super::*;

/// Parses `src`, runs it on `inputs` through both, and requires exact agreement.
fn regression(src: &str, inputs: &[Tensor]) {
    let p = text::parse(src).expect("regression program parses");
    if let Err(m) = check(&p, inputs, &[Tol::Exact]) {
        panic!("{m}");
    }
}

/// A loop kernel whose root cannot be computed four lanes at a time (here: an f64 compare
/// giving bool) fell back to per-lane evaluation, which *loaded the root's own output buffer*
/// instead of computing it (emit.rs `per_lane` used `compute_or_load`).
#[test]
fn regression_per_lane_root_is_computed_not_loaded() {
    regression(
        "param %a: f64[6]\nparam %b: f64[6]\n%2: bool[6] = eq %a, %b\nreturn %2\n",
        &[
            Tensor::from_vec(vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0], vec![6]).unwrap(),
            Tensor::from_vec(vec![1.0, 0.0, 3.0, 4.0, 0.0, 6.0], vec![6]).unwrap(),
        ],
    );
}

/// relu(-0.0) and sign(-0.0) must be +0.0; the JIT returned -0.0 (`x < 0 ? 0 : x` and a
/// sign that passed zeros through).
#[test]
fn regression_relu_and_sign_of_negative_zero() {
    regression(
        "param %x: f32[5]\n%1: f32[5] = relu %x\n%2: f32[5] = sign %x\nreturn %1, %2\n",
        &[Tensor::from_vec(vec![-0.0f32, 0.0, -0.0, -0.0, f32::NAN], vec![5]).unwrap()],
    );
    regression(
        "param %x: f64[2]\n%1: f64[2] = relu %x\n%2: f64[2] = sign %x\nreturn %1, %2\n",
        &[Tensor::from_vec(vec![-0.0f64, 0.0], vec![2]).unwrap()],
    );
}

/// An integer literal for an f32 constant was rounded to f64 first and then to f32 (double
/// rounding): 2^60 + 2^36 + 1 gave 2^60 instead of 2^60 + 2^37.
#[test]
fn regression_f32_constant_from_an_integer_literal_rounds_once() {
    regression(
        "param %x: f32[5]\n%1: f32[5] = constant 1152921573326323713\n%2: f32[5] = add %x, %1\nreturn %1, %2\n",
        &[Tensor::from_vec(vec![0.0f32; 5], vec![5]).unwrap()],
    );
}

/// Float sums started from +0.0, so a sum over one element (or `axes=[]`, or only -0.0s)
/// turned -0.0 into +0.0; the reference folds from the first element.
#[test]
fn regression_sum_keeps_negative_zero() {
    regression(
        "param %x: f32[3, 1]\n%1: f32[3] = reduce_sum %x, axes=[1], keepdim=false\n\
         %2: f32[3, 1] = reduce_mean %x, axes=[], keepdim=false\n\
         %3: f32[] = reduce_sum %1, axes=[0], keepdim=false\nreturn %1, %2, %3\n",
        &[Tensor::from_vec(vec![-0.0f32, -0.0, -0.0], vec![3, 1]).unwrap()],
    );
}

/// A reduction over an axis of size 0 with a non-empty result read element 0 of the empty
/// operand (an out-of-bounds read) instead of storing the empty fold (max: -inf, min: +inf,
/// mean: NaN).
#[test]
fn regression_reduction_over_an_empty_axis() {
    regression(
        "param %x: f32[3, 0]\n%1: f32[3] = reduce_max %x, axes=[1], keepdim=false\n\
         %2: f32[3, 1] = reduce_min %x, axes=[1], keepdim=true\n\
         %3: f32[3] = reduce_mean %x, axes=[1], keepdim=false\n\
         %4: f32[3] = reduce_sum %x, axes=[1], keepdim=false\n\
         %5: f32[3] = reduce_prod %x, axes=[1], keepdim=false\nreturn %1, %2, %3, %4, %5\n",
        &[Tensor::zeros(tt(DType::F32, &[3, 0])).unwrap()],
    );
    regression(
        "param %x: i64[0, 2]\n%1: i64[2] = reduce_max %x, axes=[0], keepdim=false\nreturn %1\n",
        &[Tensor::zeros(tt(DType::I64, &[0, 2])).unwrap()],
    );
}

/// Out-of-range indices were only noticed where the gathered value was computed: a dead
/// gather, a gather read only through a slice, or an index_select with an empty result never
/// reported them, and with several bad indices the last one evaluated was named. Each gather
/// now has a check kernel (plan.rs `KernelKind::Check`).
#[test]
fn regression_index_errors_of_unread_gathers() {
    let p = text::parse(
        "param %d: f32[4]\nparam %i: i32[3]\n%2: f32[3] = gather %d, %i, axis=0\n\
         %3: f32[1] = slice %2, starts=[0], stops=[1], steps=[1]\n%4: f32[4] = neg %d\nreturn %3, %4\n",
    )
    .unwrap();
    let d = Tensor::from_vec(vec![1.0f32, 2.0, 3.0, 4.0], vec![4]).unwrap();
    let i = Tensor::from_vec(vec![0i32, -3, 9], vec![3]).unwrap();
    let c = compile(&p, &opts()).unwrap();
    let want = Error::IndexOutOfRange {
        op: "gather",
        value: 2,
        index: -3,
        axis: 0,
        size: 4,
    };
    assert_eq!(reference::run(&p, &[&d, &i]).unwrap_err(), want);
    assert_eq!(c.run(&[&d, &i]).unwrap_err(), want);
}

/// Loop kernels over several dims run as one flat loop whose index lives in the last dim; with
/// a last dim of size 1 the operands' size-1 dim was read as a broadcast dim (index 0), so
/// `exp` of an f32[4, 1] returned exp(x[0]) four times.
#[test]
fn regression_flat_loop_with_a_last_dim_of_size_one() {
    regression(
        "param %x: f32[4, 1]\nparam %y: f32[4, 1]\n%2: f32[4, 1] = exp %x\n%3: f32[4, 1] = add %x, %y\n\
         %4: f32[2, 4, 1] = expand %3, shape=[2, 4, 1]\n%5: f32[2, 4, 1] = neg %4\nreturn %3, %5\n",
        &[
            Tensor::from_vec(vec![0.5f32, -1.0, 2.0, 3.0], vec![4, 1]).unwrap(),
            Tensor::from_vec(vec![1.0f32, 2.0, 3.0, 4.0], vec![4, 1]).unwrap(),
        ],
    );
    let p = text::parse("param %x: f32[4, 1]\n%1: f32[4, 1] = exp %x\nreturn %1\n").unwrap();
    let x = Tensor::from_vec(vec![0.5f32, -1.0, 2.0, 3.0], vec![4, 1]).unwrap();
    let tol = unary_tol(UnaryOp::Exp, DType::F32);
    if let Err(m) = check(&p, &[x], &[tol]) {
        panic!("{m}");
    }
}

/// Float max/min reductions accumulate with compare-and-select, which keeps the accumulator
/// on ties, so `reduce_min [+0.0, -0.0]` gave +0.0 (and max of [-0.0, +0.0] gave -0.0).
#[test]
fn regression_max_min_reduction_ties_of_signed_zeros() {
    regression(
        "param %x: f64[2]\n%1: f64[] = reduce_min %x, axes=[0], keepdim=false\n\
         %2: f64[] = reduce_max %x, axes=[0], keepdim=false\nreturn %1, %2\n",
        &[Tensor::from_vec(vec![0.0f64, -0.0], vec![2]).unwrap()],
    );
    regression(
        "param %x: f32[9]\n%1: f32[] = reduce_min %x, axes=[0], keepdim=false\n\
         %2: f32[] = reduce_max %x, axes=[0], keepdim=false\nreturn %1, %2\n",
        &[Tensor::from_vec(
            vec![0.0f32, -0.0, 0.0, -0.0, -0.0, 0.0, 0.0, -0.0, 0.0],
            vec![9],
        )
        .unwrap()],
    );
}

/// Debugging aid for a failing case: prints the plan, the CLIF and the comparison of the
/// program in file `$LAZYJIT_DIFF_PROGRAM` on random inputs (exact tolerance):
/// `LAZYJIT_DIFF_PROGRAM=case.lj cargo test -p lazyjit-lowering --test differential
/// debug_one_program -- --ignored --nocapture`.
#[test]
#[ignore]
fn debug_one_program() {
    let src = std::fs::read_to_string(std::env::var("LAZYJIT_DIFF_PROGRAM").unwrap()).unwrap();
    let p = text::parse(&src).unwrap();
    let c = compile(
        &p,
        &CompileOptions {
            keep_clif: true,
            ..opts()
        },
    )
    .unwrap();
    println!("{}\n{}", c.plan(), c.clif());
    let inputs = random_inputs(&p, MIXED, &mut Rng::new(0));
    match check(&p, &inputs, &[Tol::Exact]) {
        Ok(()) => println!("JIT and reference agree exactly"),
        Err(m) => println!("{m}"),
    }
}
