//! `random_uniform` (Philox4x32-10): Random123's known answers, the JIT bit for bit against the
//! reference interpreter and the element formula, uniformity, independence of offsets, and
//! the shape and dtype rules.

use lazyjit_lowering::codegen::{compile, CompileOptions};
use lazyjit_lowering::reference::random::{element_words, philox4x32_10, to_f32, to_f64};
use lazyjit_lowering::{reference, text, Tensor};

fn run_both(src: &str, seed: i64, offset: i64) -> (Vec<Tensor>, Vec<Tensor>) {
    let p = text::parse(src).unwrap_or_else(|e| panic!("{e}\n{src}"));
    let (s, o) = (Tensor::scalar(seed), Tensor::scalar(offset));
    let jit = compile(&p, &CompileOptions::default())
        .unwrap()
        .run(&[&s, &o])
        .unwrap();
    let rf = reference::run(&p, &[&s, &o]).unwrap();
    (jit, rf)
}

fn program(dtype: &str, dims: &[usize]) -> String {
    let d = dims
        .iter()
        .map(|x| x.to_string())
        .collect::<Vec<_>>()
        .join(", ");
    format!(
        "param %seed: i64[]\nparam %offset: i64[]\n\
         %2: {dtype}[{d}] = random_uniform %seed, %offset\nreturn %2\n"
    )
}

#[test]
fn known_answers_of_random123() {
    let k = |c: [u32; 4], key: [u32; 2]| philox4x32_10(c, key);
    assert_eq!(
        k([0; 4], [0; 2]),
        [0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8]
    );
    assert_eq!(
        k([u32::MAX; 4], [u32::MAX; 2]),
        [0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd]
    );
    assert_eq!(
        k(
            [0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344],
            [0xa4093822, 0x299f31d0]
        ),
        [0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1]
    );
}

#[test]
fn the_jit_draws_the_reference_bits_for_every_element() {
    let shapes: [&[usize]; 7] = [&[], &[0], &[1], &[7], &[3, 5], &[4, 1, 9], &[2, 3, 4, 5]];
    let keys = [
        (0, 0),
        (42, 7),
        (-1, i64::MAX),
        (i64::MIN, -3),
        (0x1234_5678_9abc, 1 << 40),
    ];
    for dims in shapes {
        for (seed, offset) in keys {
            for dtype in ["f32", "f64"] {
                let src = program(dtype, dims);
                let (j, r) = run_both(&src, seed, offset);
                assert_eq!(j[0].buffer().as_bytes(), r[0].buffer().as_bytes(), "{src}");
                let n: usize = dims.iter().product();
                for i in 0..n {
                    let w = element_words(seed, offset, i as u64);
                    match dtype {
                        "f32" => assert_eq!(j[0].as_slice::<f32>().unwrap()[i], to_f32(w)),
                        _ => assert_eq!(j[0].as_slice::<f64>().unwrap()[i], to_f64(w)),
                    }
                }
            }
        }
    }
}

#[test]
fn fused_broadcast_and_vector_loops_keep_the_element_counter() {
    // Broadcast along rows: every row of the sum reads the same draw per column; the loop
    // over 1001 columns runs vector lanes (per-lane Philox) and a scalar tail.
    let src = "param %seed: i64[]\nparam %offset: i64[]\n\
               %2: f32[1, 1001] = random_uniform %seed, %offset\n\
               %3: f32[3, 1001] = expand %2, shape=[3, 1001]\n\
               %4: f32[3, 1001] = iota axis=0\n\
               %5: f32[3, 1001] = add %3, %4\n\
               return %5\n";
    let (j, r) = run_both(src, 9, 2);
    assert_eq!(j[0].buffer().as_bytes(), r[0].buffer().as_bytes());
    let out = j[0].as_slice::<f32>().unwrap();
    for c in 0..1001 {
        let u = to_f32(element_words(9, 2, c as u64));
        for row in 0..3 {
            assert_eq!(out[row * 1001 + c], u + row as f32, "row {row} col {c}");
        }
    }
}

#[test]
fn draws_are_uniform_and_offsets_are_independent() {
    let n = 1 << 18;
    let src = program("f32", &[n]);
    let (a, _) = run_both(&src, 1234, 0);
    let (b, _) = run_both(&src, 1234, 1);
    let (a, b) = (
        a[0].as_slice::<f32>().unwrap(),
        b[0].as_slice::<f32>().unwrap(),
    );
    assert!(a.iter().all(|&x| (0.0..1.0).contains(&x)));
    let mean = a.iter().map(|&x| x as f64).sum::<f64>() / n as f64;
    assert!((mean - 0.5).abs() < 0.002, "mean {mean}");
    // Chi-square over 64 equal bins: 63 degrees of freedom, 0.1% critical value 103.4.
    let mut bins = [0usize; 64];
    for &x in a {
        bins[(x * 64.0) as usize] += 1;
    }
    let e = n as f64 / 64.0;
    let chi2: f64 = bins.iter().map(|&o| (o as f64 - e).powi(2) / e).sum();
    assert!(chi2 < 103.4, "chi-square {chi2}");
    // A new offset is a new stream: no correlation with the old one.
    let (ma, mb) = (mean, b.iter().map(|&x| x as f64).sum::<f64>() / n as f64);
    let cov: f64 = a
        .iter()
        .zip(b)
        .map(|(&x, &y)| (x as f64 - ma) * (y as f64 - mb))
        .sum();
    let corr = cov / (n as f64 / 12.0);
    assert!(corr.abs() < 0.01, "correlation {corr}");
    assert!(a.iter().zip(b).filter(|(x, y)| x == y).count() < 16);
}

#[test]
fn shape_and_dtype_rules() {
    let cases = [
        ("i32[]", "i64[]", "f32[4]", "needs an i64[] seed"),
        ("i64[2]", "i64[]", "f32[4]", "needs an i64[] seed"),
        ("i64[]", "f64[]", "f32[4]", "needs an i64[] offset"),
        ("i64[]", "i64[]", "i32[4]", "expects a float dtype"),
    ];
    for (s, o, r, msg) in cases {
        let src =
            format!("param %s: {s}\nparam %o: {o}\n%2: {r} = random_uniform %s, %o\nreturn %2\n");
        let e = text::parse(&src).unwrap_err().to_string();
        assert!(e.contains(msg), "{src}\n{e}");
    }
    let src = program("f64", &[2, 2]);
    assert_eq!(text::print(&text::parse(&src).unwrap()), src);
}
