//! Loop-invariant values (`codegen/emit/hoist.rs`) and unrolled small loop bodies.
//!
//! A value read at an index that does not mention the innermost loop's variable is computed
//! once before the loop: the loop's body must not contain its computation, and the results
//! must be the reference's, bit for bit (the same operations, only earlier), at every extent
//! around the unrolled loop's seams, split over threads, and with the input donated to the
//! output it is read beside.

use lazyjit_lowering::codegen::{compile, CompileOptions, Compiled, Input};
use lazyjit_lowering::kernels::{set_kernel_parallel_work, set_threads, KERNEL_PARALLEL_WORK};
use lazyjit_lowering::testing::compare::first_difference;
use lazyjit_lowering::testing::Rng;
use lazyjit_lowering::{reference, text, Tensor};

fn compiled(src: &str) -> Compiled {
    let opts = CompileOptions {
        keep_clif: true,
        ..CompileOptions::default()
    };
    compile(&text::parse(src).unwrap(), &opts).unwrap()
}

fn f32s(shape: &[usize], seed: u64) -> Tensor {
    let n: usize = shape.iter().product();
    let mut rng = Rng::new(seed);
    let v: Vec<f32> = (0..n).map(|_| (rng.unit() * 8.0 - 4.0) as f32).collect();
    Tensor::from_vec(v, shape.to_vec()).unwrap()
}

/// The CLIF blocks (text from one `blockN` header to the next) of every function.
fn blocks(clif: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for line in clif.lines() {
        if line.trim_start().starts_with("block") && line.trim_end().ends_with(':') {
            out.push(String::new());
        }
        if let Some(b) = out.last_mut() {
            b.push_str(line);
            b.push('\n');
        }
    }
    out
}

/// Runs `src` on `inputs` and compares with the reference interpreter.
fn same_as_reference(src: &str, inputs: &[Tensor], what: &str) {
    let c = compiled(src);
    let refs: Vec<&Tensor> = inputs.iter().collect();
    let got = c.run(&refs).unwrap_or_else(|e| panic!("{what}: {e}"));
    let want = reference::run(&text::parse(src).unwrap(), &refs).unwrap();
    for (g, w) in got.iter().zip(&want) {
        assert_eq!(first_difference(g, w), None, "{what}");
    }
}

/// The loop that reads `x` four lanes at a time computes no division and loads nothing but
/// `x`: `1 / s` of the row, `a / b` of two scalars and a per-channel `w · 0.5` are computed
/// before it.
#[test]
fn invariant_subtrees_leave_the_loop() {
    let cases = [
        (
            "a row's reciprocal through a broadcast",
            "param %x: f32[8, 64]\nparam %s: f32[8, 1]\n%1: f32[8, 1] = reciprocal %s\n\
             %2: f32[8, 64] = mul %x, %1\nreturn %2\n",
        ),
        (
            "a quotient of scalars",
            "param %x: f32[256]\nparam %a: f32[]\nparam %b: f32[]\n%1: f32[] = div %a, %b\n\
             %2: f32[256] = mul %x, %1\nreturn %2\n",
        ),
        (
            "a per-channel scale through expand and reshape",
            "param %x: f32[4, 128]\nparam %w: f32[4]\n%1: f32[] = constant 0.5\n\
             %2: f32[4] = mul %w, %1\n%3: f32[4, 1] = reshape %2, shape=[4, 1]\n\
             %4: f32[4, 128] = expand %3, shape=[4, 128]\n%5: f32[4, 128] = sub %x, %4\n\
             %6: f32[4, 128] = div %5, %4\nreturn %6\n",
        ),
    ];
    for (k, (what, src)) in cases.iter().enumerate() {
        let c = compiled(src);
        let body: Vec<String> = blocks(&c.clif())
            .into_iter()
            .filter(|b| b.contains("load.f32x4"))
            .collect();
        assert!(!body.is_empty(), "{what}: no vector loop\n{}", c.clif());
        for b in &body {
            // The per-channel case divides by the hoisted value: one `fdiv` per vector of x,
            // but neither its multiply nor a scalar load is left in the loop.
            let divs = b.matches("fdiv").count();
            let allowed = if k == 2 {
                b.matches("load.f32x4").count()
            } else {
                0
            };
            assert_eq!(divs, allowed, "{what}: division in the loop\n{b}");
            assert!(
                !b.contains("load.f32 "),
                "{what}: scalar load in the loop\n{b}"
            );
            assert!(
                !b.contains("fmul.f32 "),
                "{what}: scalar multiply in the loop\n{b}"
            );
        }
        let p = text::parse(src).unwrap();
        let inputs: Vec<Tensor> = p
            .params
            .iter()
            .enumerate()
            .map(|(i, q)| f32s(q.ty.shape.dims(), 10 + i as u64))
            .collect();
        same_as_reference(src, &inputs, what);
    }
}

/// Every extent around the unrolled loop's seams (16 elements per iteration, then 4, then
/// 1), serial and split over three threads with every threshold at 0.
#[test]
fn unrolled_loops_at_every_extent() {
    for threads in [1, 3] {
        set_threads(threads);
        set_kernel_parallel_work(if threads == 1 {
            KERNEL_PARALLEL_WORK
        } else {
            0
        });
        for n in 1..=70 {
            let src = format!(
                "param %x: f32[{n}]\nparam %s: f32[]\n%1: f32[] = constant 1.5\n\
                 %2: f32[] = mul %s, %1\n%3: f32[{n}] = mul %x, %2\n\
                 %4: f32[{n}] = add %3, %1\nreturn %4\n"
            );
            let inputs = [f32s(&[n], n as u64), f32s(&[], 99)];
            same_as_reference(&src, &inputs, &format!("n = {n}, {threads} threads"));
            let rows = format!(
                "param %x: f32[3, {n}]\nparam %s: f32[3, 1]\n%1: f32[3, 1] = reciprocal %s\n\
                 %2: f32[3, {n}] = mul %x, %1\nreturn %2\n"
            );
            let inputs = [f32s(&[3, n], n as u64), f32s(&[3, 1], 7)];
            same_as_reference(&rows, &inputs, &format!("rows of {n}, {threads} threads"));
        }
    }
    set_threads(1);
    set_kernel_parallel_work(KERNEL_PARALLEL_WORK);
}

/// An optimizer-style update written in place: the hoisted `lr · 0.9` is read before any
/// element of the donated parameter is stored.
#[test]
fn hoisted_reads_beside_a_donated_output() {
    let src = "param %p: f32[1000]\nparam %g: f32[1000]\nparam %lr: f32[]\n\
               %1: f32[] = constant 0.9\n%2: f32[] = mul %lr, %1\n\
               %3: f32[1000] = mul %g, %2\n%4: f32[1000] = sub %p, %3\nreturn %4\n";
    let c = compiled(src);
    let inputs = [f32s(&[1000], 1), f32s(&[1000], 2), f32s(&[], 3)];
    let refs: Vec<&Tensor> = inputs.iter().collect();
    let want = reference::run(&text::parse(src).unwrap(), &refs).unwrap();
    let p = inputs[0].clone();
    let addr = p.buffer().as_ptr();
    let got = c
        .run_donating(vec![
            Input::Donated(p),
            Input::Borrowed(&inputs[1]),
            Input::Borrowed(&inputs[2]),
        ])
        .unwrap();
    assert_eq!(got[0].buffer().as_ptr(), addr, "written in place");
    assert_eq!(first_difference(&got[0], &want[0]), None);
}
