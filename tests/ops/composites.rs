//! Composites (softmax, log_softmax, clamp, activations, losses) and ops on constant
//! tensors.

use super::reductions::logsumexp_f64;
use super::*;

// ---------------------------------------------------------------------------------------
// Composites
// ---------------------------------------------------------------------------------------

fn softmax_f64(xs: &[f64]) -> Vec<f64> {
    let m = xs.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
    let e: Vec<f64> = xs.iter().map(|x| (x - m).exp()).collect();
    let s: f64 = e.iter().sum();
    e.iter().map(|x| x / s).collect()
}

#[test]
fn softmax_rows_sum_to_one_and_match_f64() {
    both(|| {
        let (rows, cols) = (7, 33);
        let mut v = data(rows * cols, 9);
        v[0] = 80.0; // large values are fine (max-subtracted)
        v[cols] = -80.0;
        let x = f32t(v.clone(), &[rows, cols]);
        for axis in [1, -1] {
            let p = x.softmax(axis).unwrap();
            assert_eq!(p.shape(), &[rows, cols]);
            let got = p.to_vec::<f32>().unwrap();
            for r in 0..rows {
                let row = &got[r * cols..(r + 1) * cols];
                let s: f64 = row.iter().map(|&v| v as f64).sum();
                assert!((s - 1.0).abs() < 1e-5, "row {r} sums to {s}");
                let want = softmax_f64(
                    &v[r * cols..(r + 1) * cols]
                        .iter()
                        .map(|&v| v as f64)
                        .collect::<Vec<_>>(),
                );
                for (g, w) in row.iter().zip(&want) {
                    let rel = (*g as f64 - w).abs() / w.abs().max(1e-30);
                    assert!(
                        rel < 1e-6 || (*g as f64 - w).abs() < 1e-37,
                        "row {r}: got {g}, want {w}, rel {rel}"
                    );
                }
            }
        }
        // Along axis 0 (columns sum to 1) and the middle axis of a rank-3 tensor.
        let c = x
            .softmax(0)
            .unwrap()
            .sum(&[0], false)
            .unwrap()
            .to_vec::<f32>()
            .unwrap();
        assert!(c.iter().all(|s| (s - 1.0).abs() < 1e-5), "{c:?}");
        let t3 = f64t(
            data(2 * 3 * 4, 10).iter().map(|&v| v as f64).collect(),
            &[2, 3, 4],
        );
        let p3 = t3.softmax(-2).unwrap();
        let s3 = p3.sum(&[1], false).unwrap().to_vec::<f64>().unwrap();
        assert!(s3.iter().all(|s| (s - 1.0).abs() < 1e-12), "{s3:?}");
        let h = t3.to_ndarray::<f64>().unwrap();
        let got3 = p3.to_ndarray::<f64>().unwrap();
        for b in 0..2 {
            for k in 0..4 {
                let col: Vec<f64> = (0..3).map(|j| h[[b, j, k]]).collect();
                let want = softmax_f64(&col);
                for j in 0..3 {
                    assert!((got3[[b, j, k]] - want[j]).abs() < 1e-12);
                }
            }
        }
    });
}

#[test]
fn softmax_keeps_the_fusable_op_pattern() {
    let x = f32t(data(12, 11), &[3, 4]);
    let p = x.softmax(-1).unwrap();
    let mul = p.ir_node();
    let name = |n: &lazyjit::ir::Node| n.op().map(|o| o.name()).unwrap_or("data");
    assert_eq!(name(&mul), "mul");
    let (exp, recip) = (&mul.operands()[0], &mul.operands()[1]);
    assert_eq!(name(exp), "exp");
    assert_eq!(name(recip), "reciprocal");
    let sum = &recip.operands()[0];
    assert_eq!(name(sum), "reduce_sum");
    assert_eq!(
        sum.op(),
        Some(&lazyjit::lowering::Op::Reduce {
            op: lazyjit::lowering::ReduceOp::Sum,
            axes: vec![1],
            keepdim: true
        })
    );
    assert!(std::sync::Arc::ptr_eq(&sum.operands()[0], exp));
    let sub = &exp.operands()[0];
    assert_eq!(name(sub), "sub");
    let max = &sub.operands()[1];
    assert_eq!(
        max.op(),
        Some(&lazyjit::lowering::Op::Reduce {
            op: lazyjit::lowering::ReduceOp::Max,
            axes: vec![1],
            keepdim: true
        })
    );
    assert!(std::sync::Arc::ptr_eq(
        &sub.operands()[0],
        &max.operands()[0]
    ));
    assert_eq!(name(&sub.operands()[0]), "data");
}

/// The documented rounding: each entry is `e · (1 / s)` in f32, within 2 ulp of `e / s`.
#[test]
fn softmax_multiplies_by_the_reciprocal_of_the_row_sum() {
    both(|| {
        let (rows, cols) = (16, 300);
        let v: Vec<f32> = data(rows * cols, 21).iter().map(|x| x * 7.0).collect();
        let x = f32t(v, &[rows, cols]);
        let got = x.softmax(-1).unwrap().to_vec::<f32>().unwrap();
        let m = x.max(&[1], true).unwrap();
        let e = x.sub(&m).unwrap().exp().unwrap();
        let s = e.sum(&[1], false).unwrap().to_vec::<f32>().unwrap();
        let e = e.to_vec::<f32>().unwrap();
        let ulps = |a: f32, b: f32| (a.to_bits() as i64 - b.to_bits() as i64).abs();
        let mut worst = 0;
        for r in 0..rows {
            let inv = 1.0 / s[r];
            for c in 0..cols {
                let (g, e) = (got[r * cols + c], e[r * cols + c]);
                assert_eq!(g.to_bits(), (e * inv).to_bits(), "row {r} col {c}");
                worst = worst.max(ulps(g, e / s[r]));
            }
        }
        assert!(worst <= 2, "{worst} ulp from e / s");
    });
}

#[test]
fn log_softmax_matches_log_of_softmax() {
    both(|| {
        let (rows, cols) = (4, 10);
        let v = data(rows * cols, 12);
        let x = f32t(v.clone(), &[rows, cols]);
        let ls = x.log_softmax(-1).unwrap().to_vec::<f32>().unwrap();
        let l_of_s = x
            .softmax(-1)
            .unwrap()
            .log()
            .unwrap()
            .to_vec::<f32>()
            .unwrap();
        let want: Vec<f64> = v
            .chunks(cols)
            .flat_map(|r| softmax_f64(&r.iter().map(|&v| v as f64).collect::<Vec<_>>()))
            .map(f64::ln)
            .collect();
        assert_close(&ls, &want, 1e-6);
        let l_of_s64: Vec<f64> = l_of_s.iter().map(|&v| v as f64).collect();
        assert_close(&ls, &l_of_s64, 1e-5);
        // Stable where log(softmax) underflows: softmax of -200 vs 0 is 0 in f32.
        let y = f32t(vec![0.0, -200.0], &[1, 2]);
        let r = y.log_softmax(1).unwrap().to_vec::<f32>().unwrap();
        assert_close(&r, &[0.0, -200.0], 1e-6);
        let c0 = x
            .log_softmax(0)
            .unwrap()
            .exp()
            .unwrap()
            .sum(&[0], false)
            .unwrap();
        assert!(c0
            .to_vec::<f32>()
            .unwrap()
            .iter()
            .all(|s| (s - 1.0).abs() < 1e-5));
    });
}

#[test]
fn softmax_errors() {
    let x = f32t(vec![0.0; 6], &[2, 3]);
    op_err(x.softmax(2), "softmax", &["axis 2", "[2, 3]"]);
    op_err(x.log_softmax(-3), "log_softmax", &["axis -3", "[2, 3]"]);
    op_err(
        i32t(vec![1, 2], &[2]).softmax(0),
        "softmax",
        &["float", "i32[2]"],
    );
    op_err(
        i32t(vec![1, 2], &[2]).log_softmax(0),
        "log_softmax",
        &["float", "i32[2]"],
    );
}

#[test]
fn clamp_family() {
    both(|| {
        let x = f32t(vec![-2.0, -0.5, 0.5, 3.0, f32::NAN], &[5]);
        let c = x.clamp(-1.0, 1.0).unwrap().to_vec::<f32>().unwrap();
        assert_eq!(c[..4], [-1.0, -0.5, 0.5, 1.0]);
        assert!(c[4].is_nan());
        assert_eq!(
            x.clamp(0.5f32, 0.5f32).unwrap().to_vec::<f32>().unwrap()[..4],
            [0.5; 4]
        );
        assert_eq!(
            x.clamp_min(0).unwrap().to_vec::<f32>().unwrap()[..4],
            [0.0, 0.0, 0.5, 3.0]
        );
        assert_eq!(
            x.clamp_max(0.0).unwrap().to_vec::<f32>().unwrap()[..4],
            [-2.0, -0.5, 0.0, 0.0]
        );
        let i = i64t(vec![-5, 5, 50], &[3]);
        assert_eq!(
            i.clamp(0, 10).unwrap().to_vec::<i64>().unwrap(),
            vec![0, 5, 10]
        );
        assert_eq!(
            i.clamp_min(-1i64).unwrap().to_vec::<i64>().unwrap(),
            vec![-1, 5, 50]
        );
        assert_eq!(
            i.clamp_max(6i32).unwrap().to_vec::<i64>().unwrap(),
            vec![-5, 5, 6]
        );
    });
    let x = f32t(vec![0.0; 3], &[3]);
    op_err(x.clamp(2.0, 1.0), "clamp", &["min 2", "max 1", "f32[3]"]);
    op_err(x.clamp(f64::NAN, 1.0), "clamp", &["NaN"]);
    op_err(x.clamp_min(f32::NAN), "clamp_min", &["NaN"]);
    let i = i32t(vec![0; 3], &[3]);
    op_err(i.clamp(0.5, 1.5), "clamp", &["0.5", "i32[3]"]);
    op_err(i.clamp(3, 2), "clamp", &["min 3", "max 2"]);
    op_err(i.clamp_max(0.5), "clamp_max", &["0.5", "i32[3]"]);
    let b = x.gt_scalar(0.0).unwrap();
    op_err(b.clamp(false, true), "clamp", &["numeric", "bool"]);
    op_err(b.clamp_min(false), "clamp_min", &["numeric", "bool"]);
}

#[test]
fn activations_and_square() {
    both(|| {
        let x = f64t(vec![-2.0, -1.0, 0.0, 0.5, 1.0, 2.0], &[6]);
        assert_eq!(
            x.square().unwrap().to_vec::<f64>().unwrap(),
            vec![4.0, 1.0, 0.0, 0.25, 1.0, 4.0]
        );
        assert_eq!(
            i32t(vec![-3, 4], &[2])
                .square()
                .unwrap()
                .to_vec::<i32>()
                .unwrap(),
            vec![9, 16]
        );
        let silu: Vec<f64> = [-2.0f64, -1.0, 0.0, 0.5, 1.0, 2.0]
            .iter()
            .map(|v| v / (1.0 + (-v).exp()))
            .collect();
        assert_close64(&x.silu().unwrap().to_vec::<f64>().unwrap(), &silu, 1e-12);
        // GELU (erf form) reference values.
        let gelu = [
            -0.04550026389635842,
            -0.15865525393145707,
            0.0,
            0.34573123063700656,
            0.8413447460685429,
            1.9544997361036416,
        ];
        assert_close64(&x.gelu().unwrap().to_vec::<f64>().unwrap(), &gelu, 1e-12);
        let x32 = f32t(vec![-2.0, -1.0, 0.0, 0.5, 1.0, 2.0], &[6]);
        assert_close(&x32.gelu().unwrap().to_vec::<f32>().unwrap(), &gelu, 1e-6);
        assert_close(&x32.silu().unwrap().to_vec::<f32>().unwrap(), &silu, 1e-6);
        let lr = x32.leaky_relu(0.1).unwrap().to_vec::<f32>().unwrap();
        assert_close(&lr, &[-0.2, -0.1, 0.0, 0.5, 1.0, 2.0], 1e-7);
    });
    let i = i32t(vec![1], &[1]);
    op_err(i.silu(), "silu", &["float", "i32[1]"]);
    op_err(i.gelu(), "gelu", &["float", "i32[1]"]);
    op_err(i.leaky_relu(0.1), "leaky_relu", &["float", "i32[1]"]);
}

#[test]
fn mse_and_cross_entropy() {
    both(|| {
        let a = f32t(vec![1.0, 2.0, 3.0, 4.0], &[2, 2]);
        let b = f32t(vec![1.0, 0.0, 5.0, 4.5], &[2, 2]);
        let l = a.mse_loss(&b).unwrap();
        assert_eq!(l.rank(), 0);
        assert_close(
            &[l.item::<f32>().unwrap()],
            &[(0.0 + 4.0 + 4.0 + 0.25) / 4.0],
            1e-7,
        );

        let logits = f32t(vec![1.0, 2.0, 0.5, -1.0, 0.0, 3.0], &[2, 3]);
        let target = i64t(vec![1, 2], &[2]);
        let ce = logits.cross_entropy(&target).unwrap();
        assert_eq!(ce.rank(), 0);
        let lse0 = logsumexp_f64(&[1.0, 2.0, 0.5]);
        let lse1 = logsumexp_f64(&[-1.0, 0.0, 3.0]);
        let want = ((lse0 - 2.0) + (lse1 - 3.0)) / 2.0;
        assert_close(&[ce.item::<f32>().unwrap()], &[want], 1e-6);
        let ce32 = logits.cross_entropy(&i32t(vec![1, 2], &[2])).unwrap();
        assert_close(&[ce32.item::<f32>().unwrap()], &[want], 1e-6);
    });
    let a = f32t(vec![0.0; 3], &[3]);
    op_err(
        a.mse_loss(&f32t(vec![0.0; 2], &[2])),
        "mse_loss",
        &["f32[3]", "f32[2]"],
    );
    op_err(
        a.mse_loss(&f64t(vec![0.0; 3], &[3])),
        "mse_loss",
        &["f32[3]", "f64[3]"],
    );
    op_err(
        i32t(vec![0; 3], &[3]).mse_loss(&i32t(vec![0; 3], &[3])),
        "mse_loss",
        &["float"],
    );
    let logits = f32t(vec![0.0; 6], &[2, 3]);
    op_err(
        logits.cross_entropy(&i64t(vec![0; 3], &[3])),
        "cross_entropy",
        &["f32[2, 3]", "i64[3]"],
    );
    op_err(
        logits.cross_entropy(&f32t(vec![0.0; 2], &[2])),
        "cross_entropy",
        &["f32[2]"],
    );
}

// ---------------------------------------------------------------------------------------
// Misc: constants from zeros/ones flow through the ops.
// ---------------------------------------------------------------------------------------

#[test]
fn ops_on_constant_tensors() {
    both(|| {
        let o = ones(&[2, 3], DType::F32);
        assert_eq!(
            o.sum(&[-1], false).unwrap().to_vec::<f32>().unwrap(),
            vec![3.0, 3.0]
        );
        assert_eq!(
            o.softmax(1).unwrap().to_vec::<f32>().unwrap(),
            vec![1.0 / 3.0; 6]
        );
        let z = zeros(&[2, 2], DType::I64);
        assert_eq!(
            z.pad(&[0, 1], &[0, 0], 5).unwrap().to_vec::<i64>().unwrap(),
            vec![5, 0, 0, 5, 0, 0]
        );
    });
}
