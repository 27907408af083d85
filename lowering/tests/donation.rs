//! Input/output aliasing (`Compiled::aliasable`, `Compiled::run_donating`): an output may be
//! written into a donated parameter's buffer only when the fusion plan makes that safe.
//!
//! The rule as a class: random programs (the differential generator's, plus elementwise
//! updates of their parameters, which is what makes outputs aliasable) run with every input
//! donated give bit-identical results to the run that donates nothing, and every in-place
//! output is the donated tensor itself (same buffer address). Then targeted cases: an
//! optimizer update aliases, while a transposed, broadcast or later read of the parameter,
//! a reduction after the write, a matmul and a returned parameter do not.

use lazyjit_lowering::codegen::{compile, CompileOptions, Compiled, Input, OptLevel};
use lazyjit_lowering::testing::generator::{build, Spec};
use lazyjit_lowering::testing::Rng;
use lazyjit_lowering::{text, BinaryOp, DType, Op, Program, Tensor, ValueId};

fn compiled(src: &str) -> Compiled {
    compile(&text::parse(src).unwrap(), &CompileOptions::default()).unwrap()
}

fn f32s(shape: &[usize], seed: u64) -> Tensor {
    let n: usize = shape.iter().product();
    let mut rng = Rng::new(seed);
    let v: Vec<f32> = (0..n).map(|_| (rng.unit() * 8.0 - 4.0) as f32).collect();
    Tensor::from_vec(v, shape.to_vec()).unwrap()
}

/// Runs `c` borrowing every input, then donating every input (clones), and checks that the
/// results are bit-identical and that each in-place output is the donated tensor. Returns
/// how many outputs were written in place.
fn check_donation(c: &Compiled, inputs: &[Tensor], what: &str) -> usize {
    let refs: Vec<&Tensor> = inputs.iter().collect();
    let expected = c.run(&refs).unwrap_or_else(|e| panic!("{what}: {e}"));
    let donated: Vec<Tensor> = inputs.to_vec();
    let addrs: Vec<*const u8> = donated.iter().map(|t| t.buffer().as_ptr()).collect();
    let got = c
        .run_donating(donated.into_iter().map(Input::Donated).collect())
        .unwrap_or_else(|e| panic!("{what}: {e}"));
    assert_eq!(got.len(), expected.len(), "{what}");
    let mut in_place = 0;
    for (i, (g, e)) in got.iter().zip(&expected).enumerate() {
        assert_eq!(g.ty(), e.ty(), "{what}: output {i}");
        assert_eq!(
            g.buffer().as_bytes(),
            e.buffer().as_bytes(),
            "{what}: output {i} differs when inputs are donated (aliasable {:?})\nplan:\n{}",
            c.aliasable(),
            c.plan()
        );
        if let Some(q) = c.aliasable()[i] {
            assert_eq!(
                g.buffer().as_ptr(),
                addrs[q],
                "{what}: output {i} not in place"
            );
            in_place += 1;
        }
    }
    in_place
}

/// A random generator program, plus an elementwise update `q op v` of some parameters `q`
/// (with `v` any value that broadcasts into `q`'s type) as extra outputs, sometimes followed
/// by a later read of `q` (which must then block aliasing).
fn random_case(rng: &mut Rng) -> (Program, Vec<Tensor>) {
    let spec = Spec::random(rng);
    let (mut p, inputs, _) = build(&spec);
    let np = p.params.len();
    for q in 0..np {
        let ty = p.params[q].ty.clone();
        if ty.dtype == DType::Bool || !rng.chance(0.7) {
            continue;
        }
        let n = p.num_values();
        let start = rng.below(n);
        let op = rng.pick(&[BinaryOp::Add, BinaryOp::Sub, BinaryOp::Mul, BinaryOp::Max]);
        for k in 0..n {
            let v = ValueId(((start + k) % n) as u32);
            let vt = p.value_type(v);
            if vt.dtype != ty.dtype {
                continue;
            }
            let Ok(out) = Op::Binary(op).infer(&[&ty, vt], &ty) else {
                continue;
            };
            if out != ty {
                continue;
            }
            let (a, b) = if rng.chance(0.5) {
                (ValueId(q as u32), v)
            } else {
                (v, ValueId(q as u32))
            };
            let u = p.push(Op::Binary(op), &[a, b]).unwrap();
            p.output(u);
            if rng.chance(0.25) {
                // A later reader of q: a reduction over it, also returned.
                let axes: Vec<usize> = (0..ty.shape.rank()).collect();
                let r = Op::Reduce {
                    op: lazyjit_lowering::ReduceOp::Max,
                    axes,
                    keepdim: false,
                };
                if let Ok(r) = p.push(r, &[ValueId(q as u32)]) {
                    p.output(r);
                }
            }
            break;
        }
    }
    (p, inputs)
}

#[test]
fn random_programs_give_the_same_bits_with_every_input_donated() {
    let mut rng = Rng::new(0xd0_7a7e);
    let cases: usize = lazyjit_lowering::testing::diff_cases() as usize;
    let (mut programs_in_place, mut outputs_in_place) = (0, 0);
    for case in 0..cases {
        let (p, inputs) = random_case(&mut rng);
        let opts = CompileOptions {
            opt_level: if case % 2 == 1 {
                OptLevel::None
            } else {
                OptLevel::Speed
            },
            ..CompileOptions::default()
        };
        let c = compile(&p, &opts).unwrap_or_else(|e| panic!("case {case}: {e}\n{p}"));
        let n = check_donation(&c, &inputs, &format!("case {case}\n{p}"));
        outputs_in_place += n;
        programs_in_place += (n > 0) as usize;
    }
    // The class is only tested if aliasing actually happens often.
    assert!(
        programs_in_place * 3 >= cases,
        "only {programs_in_place} of {cases} programs wrote an output in place"
    );
    eprintln!("{programs_in_place} of {cases} programs, {outputs_in_place} outputs in place");
}

#[test]
fn an_sgd_update_is_written_into_the_donated_parameter() {
    let c = compiled(
        "param %p: f32[37]\nparam %g: f32[37]\nparam %lr: f32[]\n\
         %3: f32[37] = mul %lr, %g\n%4: f32[37] = sub %p, %3\nreturn %4\n",
    );
    assert_eq!(c.aliasable(), &[Some(0)]);
    let (p, g, lr) = (f32s(&[37], 1), f32s(&[37], 2), Tensor::scalar(0.25f32));
    check_donation(&c, &[p.clone(), g.clone(), lr.clone()], "sgd");
    // Only p donated; g borrowed and intact.
    let addr = p.buffer().as_ptr();
    let want: Vec<f32> = (0..37)
        .map(|i| p.as_slice::<f32>().unwrap()[i] - 0.25 * g.as_slice::<f32>().unwrap()[i])
        .collect();
    let g_before = g.clone();
    let out = c
        .run_donating(vec![
            Input::Donated(p),
            Input::Borrowed(&g),
            Input::Borrowed(&lr),
        ])
        .unwrap();
    assert_eq!(out[0].buffer().as_ptr(), addr);
    assert_eq!(out[0].as_slice::<f32>().unwrap(), &want[..]);
    assert_eq!(g, g_before);
    // Donating g instead: g is not aliasable (p is the first eligible parameter, g is also
    // eligible but outputs take one parameter each); the result is a fresh tensor.
    let p = f32s(&[37], 1);
    let out = c
        .run_donating(vec![
            Input::Borrowed(&p),
            Input::Donated(g),
            Input::Borrowed(&lr),
        ])
        .unwrap();
    assert_eq!(out[0].as_slice::<f32>().unwrap(), &want[..]);
    assert_ne!(out[0].buffer().as_ptr(), p.buffer().as_ptr());
}

#[test]
fn adam_like_updates_alias_each_state_and_the_parameter() {
    // m' = 0.9 m + 0.1 g; v' = 0.99 v + 0.01 g²; p' = p - lr m' / (sqrt v' + eps), over rows
    // (a row group on [8, 16]).
    let c = compiled(
        "param %p: f32[8, 16]\nparam %m: f32[8, 16]\nparam %v: f32[8, 16]\nparam %g: f32[8, 16]\n\
         param %b1: f32[]\nparam %b2: f32[]\nparam %lr: f32[]\n\
         %7: f32[8, 16] = mul %b1, %m\n%8: f32[8, 16] = add %7, %g\n\
         %9: f32[8, 16] = mul %g, %g\n%10: f32[8, 16] = mul %b2, %v\n%11: f32[8, 16] = add %10, %9\n\
         %12: f32[8, 16] = sqrt %11\n%13: f32[8, 16] = div %8, %12\n%14: f32[8, 16] = mul %lr, %13\n\
         %15: f32[8, 16] = sub %p, %14\nreturn %15, %8, %11\n",
    );
    assert_eq!(c.aliasable(), &[Some(0), Some(1), Some(2)], "{}", c.plan());
    let ins: Vec<Tensor> = (0..4)
        .map(|i| f32s(&[8, 16], 10 + i))
        .chain([0.9f32, 0.99, 0.01].map(Tensor::scalar))
        .collect();
    let ins: Vec<Tensor> = ins
        .into_iter()
        .enumerate()
        .map(|(i, t)| {
            if i == 2 {
                // v must be positive
                let v: Vec<f32> = t
                    .as_slice::<f32>()
                    .unwrap()
                    .iter()
                    .map(|x| x.abs())
                    .collect();
                Tensor::from_vec(v, vec![8, 16]).unwrap()
            } else {
                t
            }
        })
        .collect();
    assert_eq!(check_donation(&c, &ins, "adam"), 3);
}

/// Parameter 0 (`%p`) is aliased by no output; the program gives the same bits with every
/// input donated.
fn p_not_aliased(src: &str) {
    let c = compiled(src);
    assert!(
        !c.aliasable().contains(&Some(0)),
        "{src}\naliasable {:?}\n{}",
        c.aliasable(),
        c.plan()
    );
    let ins: Vec<Tensor> = c
        .program()
        .params
        .iter()
        .enumerate()
        .map(|(i, p)| f32s(p.ty.shape.dims(), i as u64 + 3))
        .collect();
    check_donation(&c, &ins, src);
}

#[test]
fn an_adadelta_step_writes_every_update_into_its_own_buffer() {
    // v' = r v + (1-r) g²; d = sqrt(u + e) / sqrt(v' + e) * g; u' = r u + (1-r) d²;
    // p' = p - lr d, with g computed in the program (a row sum): v', d, u' and p' are one
    // fused loop that reads v, u and p at the element before writing any of them, so each
    // update takes its own state's buffer (outputs in a different order than parameters).
    let c = compiled(
        "param %p: f32[6, 10]
param %u: f32[6, 10]
param %v: f32[6, 10]
         param %x: f32[6, 10, 3]
param %lr: f32[]
         %5: f32[6, 10] = reduce_sum %x, axes=[2], keepdim=false
         %6: f32[] = constant 0.9
%7: f32[] = constant 0.1
%8: f32[] = constant 0.000001
         %9: f32[6, 10] = mul %6, %v
%10: f32[6, 10] = mul %5, %5
         %11: f32[6, 10] = mul %7, %10
%12: f32[6, 10] = add %9, %11
         %13: f32[6, 10] = add %u, %8
%14: f32[6, 10] = sqrt %13
         %15: f32[6, 10] = add %12, %8
%16: f32[6, 10] = sqrt %15
         %17: f32[6, 10] = div %14, %16
%18: f32[6, 10] = mul %17, %5
         %19: f32[6, 10] = mul %6, %u
%20: f32[6, 10] = mul %18, %18
         %21: f32[6, 10] = mul %7, %20
%22: f32[6, 10] = add %19, %21
         %23: f32[6, 10] = mul %lr, %18
%24: f32[6, 10] = sub %p, %23
         return %24, %12, %22
",
    );
    assert!(
        c.plan().to_string().contains("fused kernels"),
        "{}",
        c.plan()
    );
    assert_eq!(c.aliasable(), &[Some(0), Some(2), Some(1)], "{}", c.plan());
    let ins = vec![
        f32s(&[6, 10], 1),
        Tensor::from_vec(
            f32s(&[6, 10], 2)
                .as_slice::<f32>()
                .unwrap()
                .iter()
                .map(|x| x.abs())
                .collect(),
            vec![6, 10],
        )
        .unwrap(),
        Tensor::from_vec(
            f32s(&[6, 10], 3)
                .as_slice::<f32>()
                .unwrap()
                .iter()
                .map(|x| x.abs())
                .collect(),
            vec![6, 10],
        )
        .unwrap(),
        f32s(&[6, 10, 3], 4),
        Tensor::scalar(0.5f32),
    ];
    assert_eq!(check_donation(&c, &ins, "adadelta"), 3);
}

#[test]
fn sgd_momentum_and_adamw_steps_write_each_update_into_its_own_state() {
    // The gradient is a row sum computed in the program; states are listed in an order other
    // than the outputs. SGD with momentum: b' = mu b + g, p' = p - lr b'.
    let c = compiled(
        "param %b: f32[5, 12]\nparam %p: f32[5, 12]\nparam %x: f32[5, 12, 4]\n\
         param %mu: f32[]\nparam %lr: f32[]\n\
         %5: f32[5, 12] = reduce_sum %x, axes=[2], keepdim=false\n\
         %6: f32[5, 12] = mul %mu, %b\n%7: f32[5, 12] = add %6, %5\n\
         %8: f32[5, 12] = mul %lr, %7\n%9: f32[5, 12] = sub %p, %8\nreturn %9, %7\n",
    );
    assert_eq!(c.aliasable(), &[Some(1), Some(0)], "{}", c.plan());
    let ins = vec![
        f32s(&[5, 12], 1),
        f32s(&[5, 12], 2),
        f32s(&[5, 12, 4], 3),
        Tensor::scalar(0.9f32),
        Tensor::scalar(0.1f32),
    ];
    assert_eq!(check_donation(&c, &ins, "sgd momentum"), 2);
    // AdamW: p1 = p - lr wd p; m' = b1 m + (1-b1) g; v' = b2 v + (1-b2) g²;
    // p' = p1 - s m' / (sqrt(v') c + eps).
    let c = compiled(
        "param %v: f32[7, 9]\nparam %m: f32[7, 9]\nparam %p: f32[7, 9]\nparam %x: f32[7, 9, 3]\n\
         param %k: f32[]\n\
         %5: f32[7, 9] = reduce_sum %x, axes=[2], keepdim=false\n\
         %6: f32[7, 9] = mul %p, %k\n%7: f32[7, 9] = sub %p, %6\n\
         %8: f32[7, 9] = mul %m, %k\n%9: f32[7, 9] = mul %5, %k\n%10: f32[7, 9] = add %8, %9\n\
         %11: f32[7, 9] = mul %v, %k\n%12: f32[7, 9] = mul %5, %5\n%13: f32[7, 9] = mul %12, %k\n\
         %14: f32[7, 9] = add %11, %13\n%15: f32[7, 9] = sqrt %14\n%16: f32[7, 9] = mul %15, %k\n\
         %17: f32[7, 9] = add %16, %k\n%18: f32[7, 9] = mul %10, %k\n%19: f32[7, 9] = div %18, %17\n\
         %20: f32[7, 9] = sub %7, %19\nreturn %20, %10, %14\n",
    );
    assert_eq!(c.aliasable(), &[Some(2), Some(1), Some(0)], "{}", c.plan());
    let ins = vec![
        Tensor::from_vec(
            f32s(&[7, 9], 1)
                .as_slice::<f32>()
                .unwrap()
                .iter()
                .map(|x| x.abs())
                .collect(),
            vec![7, 9],
        )
        .unwrap(),
        f32s(&[7, 9], 2),
        f32s(&[7, 9], 3),
        f32s(&[7, 9, 3], 4),
        Tensor::scalar(0.5f32),
    ];
    assert_eq!(check_donation(&c, &ins, "adamw"), 3);
}

#[test]
fn a_transposed_read_is_not_aliased() {
    p_not_aliased(
        "param %p: f32[6, 6]\n%1: f32[6, 6] = permute %p, perm=[1, 0]\n\
         %2: f32[6, 6] = add %p, %1\nreturn %2\n",
    );
    // Only the transposed read, no identity read.
    p_not_aliased(
        "param %p: f32[6, 6]\n%1: f32[6, 6] = permute %p, perm=[1, 0]\n\
         %2: f32[6, 6] = exp %1\nreturn %2\n",
    );
}

#[test]
fn a_broadcast_read_is_not_aliased() {
    // Row 0 of p broadcast over all rows: rows 1.. would read an overwritten row 0.
    p_not_aliased(
        "param %p: f32[5, 8]\n%1: f32[1, 8] = slice %p, starts=[0, 0], stops=[1, 8], steps=[1, 1]\n\
         %2: f32[5, 8] = sub %p, %1\nreturn %2\n",
    );
    // Column 0 of p broadcast along each row, in the kernel writing the row.
    p_not_aliased(
        "param %p: f32[4, 9]\n%1: f32[4, 1] = slice %p, starts=[0, 0], stops=[4, 1], steps=[1, 1]\n\
         %2: f32[4, 9] = mul %p, %1\nreturn %2\n",
    );
    // A broadcast of p in an earlier kernel (a reduction over it) is fine.
    let c = compiled(
        "param %p: f32[8]\n%1: f32[8, 1] = reshape %p, shape=[8, 1]\n\
         %2: f32[8, 8] = expand %1, shape=[8, 8]\n\
         %3: f32[8] = reduce_sum %2, axes=[1], keepdim=false\n\
         %4: f32[8] = mul %p, %3\nreturn %4\n",
    );
    assert_eq!(c.aliasable(), &[Some(0)], "{}", c.plan());
    check_donation(&c, &[f32s(&[8], 4)], "earlier broadcast");
}

#[test]
fn a_read_in_a_later_kernel_is_not_aliased() {
    // The reduction over p comes after the kernel writing %2 in the program; it is hoisted
    // before it (`hoist_param_readers`), and %2 then prefers g, read by one kernel only.
    p_not_aliased(
        "param %p: f32[16]\nparam %g: f32[16]\n%2: f32[16] = sub %p, %g\n\
         %3: f32[] = reduce_sum %p, axes=[0], keepdim=false\nreturn %2, %3\n",
    );
    // A later loop kernel reading p at the element: both are fused into one loop, which
    // loads p and g before storing either result, so both alias; g, read by fewer kernels,
    // goes to %2, p to %3 (which reads it).
    let c = compiled(
        "param %p: f32[16]\nparam %g: f32[16]\n%2: f32[16] = sub %p, %g\n\
         %3: f32[16] = exp %p\nreturn %2, %3\n",
    );
    assert_eq!(c.aliasable(), &[Some(1), Some(0)], "{}", c.plan());
    assert_eq!(
        check_donation(&c, &[f32s(&[16], 1), f32s(&[16], 2)], "later reader"),
        2
    );
}

#[test]
fn a_reduction_before_the_write_is_fine_but_not_in_the_same_row_group() {
    // 1-D: the reduction is its own kernel, run before the update.
    let c = compiled(
        "param %p: f32[40]\n%1: f32[] = reduce_max %p, axes=[0], keepdim=false\n\
         %2: f32[40] = sub %p, %1\nreturn %2\n",
    );
    assert_eq!(c.aliasable(), &[Some(0)], "{}", c.plan());
    check_donation(&c, &[f32s(&[40], 5)], "reduce before");
    // 2-D: the row max and the update share a row loop (the max of row r+1 runs after row r
    // was written); conservatively not aliased.
    p_not_aliased(
        "param %p: f32[6, 40]\n%1: f32[6, 1] = reduce_max %p, axes=[1], keepdim=true\n\
         %2: f32[6, 40] = sub %p, %1\nreturn %2\n",
    );
}

#[test]
fn a_returned_parameter_a_matmul_and_a_copied_output_are_not_aliased() {
    p_not_aliased("param %p: f32[8]\nparam %g: f32[8]\n%2: f32[8] = add %p, %g\nreturn %2, %p\n");
    p_not_aliased(
        "param %p: f32[8, 8]\nparam %w: f32[8, 8]\n%2: f32[8, 8] = matmul %p, %w\nreturn %2\n",
    );
    // The same value twice: only the first output is written by the kernel (and may alias),
    // the second is a copy of it.
    let c =
        compiled("param %p: f32[8]\nparam %g: f32[8]\n%2: f32[8] = add %p, %g\nreturn %2, %2\n");
    assert_eq!(c.aliasable(), &[Some(0), None]);
    check_donation(&c, &[f32s(&[8], 1), f32s(&[8], 2)], "copied output");
}

#[test]
fn each_parameter_aliases_one_output_and_types_must_match() {
    let c = compiled(
        "param %p: f32[8]\nparam %q: f32[8]\n%2: f32[8] = add %p, %q\n%3: f32[8] = mul %p, %q\n\
         %4: f64[8] = cast %p\nreturn %2, %3, %4\n",
    );
    // %2 reads p, which the cast (a later kernel) reads again: not aliased; q, read by the
    // fused loop of %2 and %3 only, goes to the first output reading it.
    assert!(
        c.plan().to_string().contains("fused kernels 0 1"),
        "{}",
        c.plan()
    );
    assert_eq!(c.aliasable(), &[Some(1), None, None], "{}", c.plan());
    check_donation(&c, &[f32s(&[8], 1), f32s(&[8], 2)], "two outputs");
    let c = compiled(
        "param %p: f32[8]\nparam %q: f32[8]\n%2: f32[8] = add %p, %q\n%3: f32[8] = mul %p, %q\n\
         return %2, %3\n",
    );
    // p and q are read by the fused loop of %2 and %3 at the element only: both alias.
    assert_eq!(c.aliasable(), &[Some(0), Some(1)], "{}", c.plan());
    check_donation(
        &c,
        &[f32s(&[8], 1), f32s(&[8], 2)],
        "one parameter per output",
    );
    // p is free again after the kernel of %1, but it aliases %1 already.
    let c = compiled("param %p: f32[8]\n%1: f32[8] = neg %p\n%2: f32[8] = abs %1\nreturn %1, %2\n");
    assert_eq!(c.aliasable(), &[Some(0), None], "{}", c.plan());
    check_donation(&c, &[f32s(&[8], 1)], "at most once");
}

#[test]
fn a_gather_or_an_index_check_after_the_write_blocks_aliasing() {
    // The check kernel of a gather whose index is a parameter runs first (check kernels are
    // hoisted), so the update may alias p, and a failing run fails before anything is
    // written into a donated buffer.
    let c = compiled(
        "param %p: f32[4]\nparam %i: i32[3]\n%2: f32[4] = neg %p\n\
         %3: f32[3] = gather %2, %i, axis=0\nreturn %2, %3\n",
    );
    assert!(
        c.plan().to_string().starts_with("kernel 0 (check)"),
        "{}",
        c.plan()
    );
    assert_eq!(c.aliasable(), &[Some(0), None]);
    let idx = Tensor::from_vec(vec![0i32, 7, 1], vec![3]).unwrap();
    let p = f32s(&[4], 9);
    // SAFETY: nothing else uses `p` or `idx` during the call.
    let err = unsafe { c.run_in_place(&[&p, &idx], &[true, false]) }.unwrap_err();
    assert!(
        err.to_string().contains("out of range") || format!("{err:?}").contains("IndexOutOfRange"),
        "{err}"
    );
    assert_eq!(p, f32s(&[4], 9), "p intact after the error");
    // An index computed from the update itself is checked after the update's kernel: an
    // out-of-range index would be reported after p was overwritten, so p is not aliased.
    let c = compiled(
        "param %p: f32[4]\n%1: f32[4] = neg %p\n\
         %2: f32[3] = slice %1, starts=[0], stops=[3], steps=[1]\n%3: f32[] = constant 0.0\n\
         %4: f32[3] = mul %2, %3\n%5: i32[3] = cast %4\n\
         %6: f32[3] = gather %1, %5, axis=0\nreturn %1, %6\n",
    );
    assert_eq!(c.aliasable(), &[None, None], "{}", c.plan());
    check_donation(&c, &[f32s(&[4], 9)], "index from the update");
}

#[test]
fn donated_inputs_are_checked_first() {
    let c = compiled("param %p: f32[8]\n%1: f32[8] = neg %p\nreturn %1\n");
    let wrong = f32s(&[9], 1);
    assert!(c.run_donating(vec![Input::Donated(wrong)]).is_err());
    assert!(c.run_donating(vec![]).is_err());
    let out = c.run_donating(vec![Input::Donated(f32s(&[8], 1))]).unwrap();
    assert_eq!(
        out[0].as_slice::<f32>().unwrap()[0],
        -f32s(&[8], 1).as_slice::<f32>().unwrap()[0]
    );
}

#[test]
fn a_donated_buffer_passed_twice_is_not_written() {
    let c = compiled(
        "param %p: f32[8]\nparam %q: f32[8]\n%2: f32[8] = neg %p\n%3: f32[8] = add %2, %q\n\
         return %3\n",
    );
    assert_eq!(c.aliasable(), &[Some(0)]);
    let p = f32s(&[8], 1);
    let want = c.run(&[&p, &p]).unwrap();
    // SAFETY: nothing else uses `p` during the call; the output comes back as a new tensor
    // because `p` is also input 1, so `p` keeps its value.
    let out = unsafe { c.run_in_place(&[&p, &p], &[true, false]) }.unwrap();
    let out = out.into_iter().next().unwrap().expect("not in place");
    assert_eq!(out, want[0]);
    assert_eq!(p, f32s(&[8], 1));
}
