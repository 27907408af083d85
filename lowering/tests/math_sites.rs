//! Kernels with more transcendental sites than `CompileOptions::inline_math` call the shared
//! out-of-line copies (`codegen::math::library`) at every site: same bits as all inline.

use lazyjit_lowering::codegen::{compile, CompileOptions};
use lazyjit_lowering::{text, Tensor};

/// `reps` rounds of `op` then a scale, over `f32[shape]`.
fn chain(op: &str, reps: usize, shape: &str) -> String {
    let mut src = format!("param %x: f32[{shape}]\n%c: f32[] = constant 0.75\n");
    let mut last = "%x".to_string();
    for i in 0..reps {
        src.push_str(&format!("%u{i}: f32[{shape}] = {op} {last}\n"));
        src.push_str(&format!("%v{i}: f32[{shape}] = mul %u{i}, %c\n"));
        last = format!("%v{i}");
    }
    src.push_str(&format!("return {last}\n"));
    src
}

fn inputs(n: usize) -> Vec<f32> {
    let special = [
        f32::NAN,
        f32::INFINITY,
        f32::NEG_INFINITY,
        0.0,
        -0.0,
        1e-40,
        1e6,
        -3e9,
        88.8,
        -104.0,
    ];
    (0..n)
        .map(|i| {
            special
                .get(i)
                .copied()
                .unwrap_or(((i as f32) * 0.37).sin() * 6.0)
        })
        .collect()
}

fn run(src: &str, opts: &CompileOptions, x: &Tensor) -> (Vec<f32>, String) {
    let p = text::parse(src).unwrap();
    // The sites of these loops would otherwise run through the wide functions
    // (`tests/wide_math.rs`), not through the inline or out-of-line code under test.
    let opts = CompileOptions {
        keep_clif: true,
        wide_math: false,
        ..opts.clone()
    };
    let c = compile(&p, &opts).unwrap();
    let out = c.run(&[x]).unwrap().remove(0);
    let clif: String = c
        .kernel_texts()
        .iter()
        .filter_map(|t| t.clif.clone())
        .collect();
    (out.as_slice::<f32>().unwrap().to_vec(), clif)
}

#[test]
fn many_sites_go_out_of_line_with_identical_bits() {
    let inline = CompileOptions {
        inline_math: usize::MAX,
        ..CompileOptions::default()
    };
    let default = CompileOptions::default();
    // Flat with a scalar tail, and rows with a tail in each.
    for (shape, n) in [("103", 103), ("5, 7", 35)] {
        let data = inputs(n);
        let dims: Vec<usize> = shape.split(", ").map(|d| d.parse().unwrap()).collect();
        let x = Tensor::from_vec(data.clone(), dims.clone()).unwrap();
        for op in [
            "exp", "log", "tanh", "sigmoid", "erf", "sin", "cos", "softplus",
        ] {
            let src = chain(op, 6, shape);
            let (a, clif_a) = run(&src, &default, &x);
            let (b, clif_b) = run(&src, &inline, &x);
            assert!(
                clif_a.contains("call_indirect"),
                "{op} {shape}: expected calls:\n{clif_a}"
            );
            assert!(
                !clif_b.contains("call_indirect"),
                "{op} {shape}: expected inline"
            );
            for (i, (p, q)) in a.iter().zip(&b).enumerate() {
                assert_eq!(
                    p.to_bits(),
                    q.to_bits(),
                    "{op} {shape} element {i} (x = {}): out of line {p:e}, inline {q:e}",
                    data[i]
                );
            }
        }
    }
}

#[test]
fn few_sites_stay_inline() {
    let x = Tensor::from_vec(inputs(64), vec![64]).unwrap();
    for reps in [1, 2] {
        let (_, clif) = run(&chain("tanh", reps, "64"), &CompileOptions::default(), &x);
        assert!(!clif.contains("call_indirect"), "{reps} tanh:\n{clif}");
    }
    let none = CompileOptions {
        inline_math: 0,
        ..CompileOptions::default()
    };
    let (_, clif) = run(&chain("tanh", 1, "64"), &none, &x);
    assert!(clif.contains("call_indirect"), "inline_math 0:\n{clif}");
}
