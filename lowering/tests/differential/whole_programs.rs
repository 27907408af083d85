//! Whole programs: one compiled program run from several threads, multi-use values,
//! repeated outputs and parameters as outputs.

use super::*;

#[test]
fn one_compiled_program_runs_on_several_threads() {
    // Each thread runs the program many times on its own inputs; cached intermediate buffers
    // are taken by one run at a time, so concurrent runs must not interfere.
    let src = "param %x: f32[37, 33]\nparam %b: f32[33]\n\
               %2: f32[37, 1] = reduce_max %x, axes=[1], keepdim=true\n\
               %3: f32[37, 33] = sub %x, %2\n%4: f32[37, 33] = mul %3, %b\n\
               %5: f32[37, 1] = reduce_sum %4, axes=[1], keepdim=true\n\
               %6: f32[37, 33] = sub %4, %5\nreturn %6, %5\n";
    let p = text::parse(src).unwrap();
    let c = compile(&p, &opts()).unwrap();
    std::thread::scope(|scope| {
        for t in 0..4u64 {
            let (c, p) = (&c, &p);
            scope.spawn(move || {
                let mut rng = Rng::new(100 + t);
                for _ in 0..25 {
                    let inputs = random_inputs(p, Fill::Pow2 { special: 0.0 }, &mut rng);
                    let ins: Vec<&Tensor> = inputs.iter().collect();
                    let want = reference::run(p, &ins).unwrap();
                    assert_eq!(c.run(&ins).unwrap(), want);
                }
            });
        }
    });
}

#[test]
fn multi_use_values_repeated_outputs_and_parameter_outputs() {
    let mut fails = Vec::new();
    let mut rng = Rng::new(31);
    for n in [1, 5, 17, 1023] {
        let (mut p, x) = with_params(&[(DType::F32, &[n]), (DType::F32, &[n])]);
        let e = push(&mut p, Op::Unary(UnaryOp::Exp), &[x[0]]); // expensive, used 3 times
        let a = push(&mut p, Op::Binary(BinaryOp::Add), &[e, x[1]]);
        let b = push(&mut p, Op::Binary(BinaryOp::Mul), &[e, e]);
        let s = push(&mut p, reduce(ReduceOp::Max, &[0], true), &[b]);
        let c = push(&mut p, Op::Binary(BinaryOp::Sub), &[a, s]);
        p.output(c);
        p.output(x[1]);
        p.output(c);
        p.output(e);
        p.output(x[1]);
        let inputs = random_inputs(&p, Fill::Range(-2.0, 2.0), &mut rng);
        // c = (e + x1) - max(e²): |errors| <= 4 ulp of e (≤ e^2) + its square's.
        let bound = 16.0 * f32::EPSILON as f64 * 2f64.exp().powi(2);
        let tols = [
            Tol::Rel {
                rel: 0.0,
                abs: bound,
            },
            Tol::Exact,
            Tol::Rel {
                rel: 0.0,
                abs: bound,
            },
            Tol::Ulps {
                ulps: 4.0,
                abs: 0.0,
            },
            Tol::Exact,
        ];
        fails.extend(check(&p, &inputs, &tols).err());
    }
    // A program with no instructions and no outputs, and one returning only a parameter.
    let (p, _) = with_params(&[(DType::I32, &[3])]);
    let inputs = random_inputs(&p, MIXED, &mut rng);
    fails.extend(check(&p, &inputs, &[Tol::Exact]).err());
    let (mut p, x) = with_params(&[(DType::Bool, &[3, 2])]);
    p.output(x[0]);
    let inputs = random_inputs(&p, MIXED, &mut rng);
    fails.extend(check(&p, &inputs, &[Tol::Exact]).err());
    report(fails);
}
