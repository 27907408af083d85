//! Float max/min reductions accumulate with NaN-dropping `maxps`/`minps` and restore NaN from a
//! separate mask; these tests put a NaN in every position class (unrolled vector body, single
//! vector step, scalar tail, across-output vector lanes) and check it propagates.

use lazyjit_lowering::codegen::{compile, CompileOptions};
use lazyjit_lowering::{reference, text, Tensor};

fn run_both(src: &str, x: &Tensor) -> (Vec<f64>, Vec<f64>) {
    let p = text::parse(src).unwrap();
    let c = compile(&p, &CompileOptions::default()).unwrap();
    let jit = c.run(&[x]).unwrap();
    let rf = reference::run(&p, &[x]).unwrap();
    (jit[0].to_f64_vec(), rf[0].to_f64_vec())
}

fn same(a: &[f64], b: &[f64]) -> bool {
    a.len() == b.len()
        && a.iter()
            .zip(b)
            .all(|(x, y)| (x.is_nan() && y.is_nan()) || x == y)
}

#[test]
fn nan_anywhere_in_an_inner_reduction_propagates() {
    let n = 23; // 16 unrolled + 4 vector + 3 tail
    for op in ["reduce_max", "reduce_min"] {
        let src = format!(
            "param %x: f32[{n}]\n%1: f32[] = {op} %x, axes=[0], keepdim=false\nreturn %1\n"
        );
        for pos in 0..n {
            let mut v: Vec<f32> = (0..n).map(|i| (i as f32 * 0.37).sin()).collect();
            v[pos] = f32::NAN;
            let x = Tensor::from_vec(v, vec![n]).unwrap();
            let (j, r) = run_both(&src, &x);
            assert!(
                j[0].is_nan() && r[0].is_nan(),
                "{op} with NaN at {pos}: jit {j:?}"
            );
        }
        let v: Vec<f32> = (0..n).map(|i| (i as f32 * 0.37).sin()).collect();
        let x = Tensor::from_vec(v, vec![n]).unwrap();
        let (j, r) = run_both(&src, &x);
        assert_eq!(j, r, "{op} without NaN");
    }
}

#[test]
fn nan_in_an_outer_axis_reduction_stays_in_its_lane() {
    let (rows, cols) = (5, 9);
    for op in ["reduce_max", "reduce_min"] {
        let src = format!(
            "param %x: f64[{rows}, {cols}]\n%1: f64[{cols}] = {op} %x, axes=[0], keepdim=false\nreturn %1\n"
        );
        let src32 = src.replace("f64", "f32");
        let mut v: Vec<f64> = (0..rows * cols).map(|i| (i as f64 * 0.71).cos()).collect();
        v[2 * cols + 3] = f64::NAN;
        v[4 * cols + 8] = f64::NAN;
        let x64 = Tensor::from_vec(v.clone(), vec![rows, cols]).unwrap();
        let x32 =
            Tensor::from_vec(v.iter().map(|&a| a as f32).collect(), vec![rows, cols]).unwrap();
        for (s, x) in [(&src, &x64), (&src32, &x32)] {
            let (j, r) = run_both(s, x);
            assert!(same(&j, &r), "{op}: jit {j:?} reference {r:?}");
            assert!(j[3].is_nan() && j[8].is_nan() && !j[0].is_nan());
        }
    }
}
