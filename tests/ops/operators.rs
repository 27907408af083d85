//! Operator overloads (tensor-tensor, tensor-scalar, their panics) and the source
//! locations that composites and operators record.

use super::*;

// ---------------------------------------------------------------------------------------
// Source locations
// ---------------------------------------------------------------------------------------

/// Every op node (and scalar leaf) below `n` down to `stop_at`'s node, located at `line`.
fn assert_graph_at(n: &std::sync::Arc<lazyjit::ir::Node>, stop_at: &[&LazyTensor], line: u32) {
    if stop_at
        .iter()
        .any(|t| std::sync::Arc::ptr_eq(&t.ir_node(), n))
    {
        return;
    }
    let loc = n.location();
    assert!(
        loc.file().ends_with("operators.rs"),
        "node {:?} at {loc}",
        n.op()
    );
    assert_eq!(loc.line(), line, "node {:?} at {loc}", n.op());
    for o in n.operands() {
        assert_graph_at(o, stop_at, line);
    }
}

#[test]
fn composites_record_the_callers_location() {
    let x = f32t(data(12, 13), &[3, 4]);
    let w = f32t(data(8, 14), &[2, 4]);
    let b = f32t(data(2, 15), &[2]);
    let idx = i64t(vec![0, 1, 1], &[3]);
    let one = i64t(vec![1], &[1]);

    let (t, line) = (x.softmax(-1).unwrap(), line!());
    let loc = t.ir_node().location();
    assert!(loc.file().ends_with("operators.rs"), "{loc}");
    assert_eq!(loc.line(), line);
    assert_graph_at(&t.ir_node(), &[&x], line);

    #[rustfmt::skip]
    let cases: Vec<(LazyTensor, u32)> = vec![
        (x.log_softmax(0).unwrap(), line!()),
        (x.var(&[0, 1], false, 1).unwrap(), line!()),
        (x.std(&[-1], true, 0).unwrap(), line!()),
        (x.logsumexp(&[1], false).unwrap(), line!()),
        (x.gelu().unwrap(), line!()),
        (x.silu().unwrap(), line!()),
        (x.leaky_relu(0.2).unwrap(), line!()),
        (x.clamp(-0.5, 0.5).unwrap(), line!()),
        (x.clamp_min(0.25).unwrap(), line!()),
        (x.mse_loss(&x).unwrap(), line!()),
        (x.cross_entropy(&idx).unwrap(), line!()),
        (x.linear(&w, Some(&b)).unwrap(), line!()),
        (x.reshape(&[4, 3]).unwrap(), line!()),
        (x.flatten(0, -1).unwrap(), line!()),
        (x.unsqueeze(1).unwrap(), line!()),
        (x.t().unwrap(), line!()),
        (x.transpose(-1, 0).unwrap(), line!()),
        (x.narrow(1, 1, 2).unwrap(), line!()),
        (LazyTensor::concat(&[&x, &x], 0).unwrap(), line!()),
        (x.pad(&[1, 0], &[0, 1], 2.5).unwrap(), line!()),
        (x.gather(1, &idx.reshape(&[3, 1]).unwrap()).unwrap(), line!()),
        (x.index_select(-1, &idx).unwrap(), line!()),
        (x.argmax(-1, false).unwrap(), line!()),
        (x.mean_all().unwrap(), line!()),
        (x.square().unwrap(), line!()),
        (&x * 2.0 + 1.0, line!()),
        (-&x / &x - 3.0f32, line!()),
        (2 * &one, line!()),
    ];
    for (t, line) in &cases {
        assert_graph_at(&t.ir_node(), &[&x, &w, &b, &idx, &one], *line);
    }
}

#[test]
fn errors_from_composites_point_at_the_caller() {
    let x = f32t(vec![0.0; 6], &[2, 3]);
    let (r, line) = (x.var(&[1], false, 5), line!());
    assert_eq!(op_err(r, "var", &[]).location().unwrap().line(), line);
    let (r, line) = (x.softmax(3), line!());
    assert_eq!(op_err(r, "softmax", &[]).location().unwrap().line(), line);
    let (r, line) = (x.linear(&x.t().unwrap(), None), line!());
    assert_eq!(op_err(r, "linear", &[]).location().unwrap().line(), line);
    // An error raised inside a composite by a primitive (the index's rank) still points here.
    let (r, line) = (x.gather(0, &i64t(vec![0], &[1])), line!());
    assert_eq!(op_err(r, "gather", &[]).location().unwrap().line(), line);
    let (r, line) = (x.narrow(0, 1, 5), line!());
    assert_eq!(op_err(r, "narrow", &[]).location().unwrap().line(), line);
}

// ---------------------------------------------------------------------------------------
// Operator overloads
// ---------------------------------------------------------------------------------------

#[test]
fn tensor_tensor_operators_all_combinations() {
    both(|| {
        let a = f32t(vec![1.0, 2.0, 3.0], &[3]);
        let b = f32t(vec![4.0, 5.0, 6.0], &[3]);
        assert_eq!((&a + &b).to_vec::<f32>().unwrap(), vec![5.0, 7.0, 9.0]);
        assert_eq!(
            (&a - b.clone()).to_vec::<f32>().unwrap(),
            vec![-3.0, -3.0, -3.0]
        );
        assert_eq!(
            (a.clone() * &b).to_vec::<f32>().unwrap(),
            vec![4.0, 10.0, 18.0]
        );
        assert_eq!(
            (b.clone() / a.clone()).to_vec::<f32>().unwrap(),
            vec![4.0, 2.5, 2.0]
        );
        for (r, want) in [
            (&a + &b, [5.0, 7.0, 9.0]),
            (&a + b.clone(), [5.0, 7.0, 9.0]),
            (a.clone() + &b, [5.0, 7.0, 9.0]),
            (a.clone() + b.clone(), [5.0, 7.0, 9.0]),
            (&b - &a, [3.0, 3.0, 3.0]),
            (b.clone() - &a, [3.0, 3.0, 3.0]),
            (b.clone() - a.clone(), [3.0, 3.0, 3.0]),
            (&a * &b, [4.0, 10.0, 18.0]),
            (&a * b.clone(), [4.0, 10.0, 18.0]),
            (a.clone() * b.clone(), [4.0, 10.0, 18.0]),
            (&b / &a, [4.0, 2.5, 2.0]),
            (&b / a.clone(), [4.0, 2.5, 2.0]),
            (b.clone() / &a, [4.0, 2.5, 2.0]),
        ] {
            assert_eq!(r.to_vec::<f32>().unwrap(), want.to_vec());
        }
        // Broadcasting.
        let col = f32t(vec![10.0, 20.0], &[2, 1]);
        let m = &col + &a;
        assert_eq!(m.shape(), &[2, 3]);
        assert_eq!(
            m.to_vec::<f32>().unwrap(),
            vec![11.0, 12.0, 13.0, 21.0, 22.0, 23.0]
        );
        // Negation.
        assert_eq!((-&a).to_vec::<f32>().unwrap(), vec![-1.0, -2.0, -3.0]);
        assert_eq!(
            (-a.clone()).to_vec::<f32>().unwrap(),
            vec![-1.0, -2.0, -3.0]
        );
        assert_eq!((-i32t(vec![4], &[1])).to_vec::<i32>().unwrap(), vec![-4]);
    });
}

#[test]
fn tensor_scalar_operators() {
    both(|| {
        let a = f32t(vec![1.0, 2.0, 4.0], &[3]);
        assert_eq!((&a + 1.0).to_vec::<f32>().unwrap(), vec![2.0, 3.0, 5.0]);
        assert_eq!((&a - 1.0f32).to_vec::<f32>().unwrap(), vec![0.0, 1.0, 3.0]);
        assert_eq!((&a * 2).to_vec::<f32>().unwrap(), vec![2.0, 4.0, 8.0]);
        assert_eq!((&a / 2i64).to_vec::<f32>().unwrap(), vec![0.5, 1.0, 2.0]);
        assert_eq!(
            (a.clone() + 0.5).to_vec::<f32>().unwrap(),
            vec![1.5, 2.5, 4.5]
        );
        assert_eq!(
            (a.clone() * 3.0f32).to_vec::<f32>().unwrap(),
            vec![3.0, 6.0, 12.0]
        );
        // Scalar on the left. With an unsuffixed literal the result type is only known
        // from context (`f32` and `f64` both implement `Add<&LazyTensor>`), so either pass
        // it where a `LazyTensor` is expected or suffix the literal before a method call.
        let v32 = |t: LazyTensor| t.to_vec::<f32>().unwrap();
        assert_eq!(v32(1.0 + &a), vec![2.0, 3.0, 5.0]);
        assert_eq!(v32(10.0 - &a), vec![9.0, 8.0, 6.0]);
        assert_eq!((2.0f32 * &a).to_vec::<f32>().unwrap(), vec![2.0, 4.0, 8.0]);
        assert_eq!((10.0f64 - &a).to_vec::<f32>().unwrap(), vec![9.0, 8.0, 6.0]);
        assert_eq!(v32(8 / &a), vec![8.0, 4.0, 2.0]);
        assert_eq!((8i32 / &a).to_vec::<f32>().unwrap(), vec![8.0, 4.0, 2.0]);
        assert_eq!(v32(1i64 - a.clone()), vec![0.0, -1.0, -3.0]);
        assert_eq!(v32(4.0 / a.clone()), vec![4.0, 2.0, 1.0]);
        assert_eq!(v32(2.0 * a.clone()), vec![2.0, 4.0, 8.0]);
        assert_eq!(v32(0.5 + a.clone()), vec![1.5, 2.5, 4.5]);
        let typed: LazyTensor = 1.0 - &a;
        assert_eq!(typed.to_vec::<f32>().unwrap(), vec![0.0, -1.0, -3.0]);
        // Integer tensors with integer scalars.
        let i = i32t(vec![7, -8], &[2]);
        assert_eq!((&i * 3 - 1).to_vec::<i32>().unwrap(), vec![20, -25]);
        assert_eq!((&i / 2).to_vec::<i32>().unwrap(), vec![3, -4]);
        assert_eq!((100i64 / &i).to_vec::<i32>().unwrap(), vec![14, -12]);
        assert_eq!((5i32 - i.clone()).to_vec::<i32>().unwrap(), vec![-2, 13]);
        let d = f64t(vec![0.5], &[1]);
        assert_eq!((3.0f64 * &d + 1.0).to_vec::<f64>().unwrap(), vec![2.5]);
        // A composite expression.
        let x = f32t(vec![1.0, -1.0], &[2]);
        let y: LazyTensor = (&x * &x + 2.0 * &x - 1.0) / 2.0;
        assert_eq!(y.to_vec::<f32>().unwrap(), vec![1.0, -1.0]);
    });
}

#[test]
#[should_panic(expected = "add: shapes [3] and [2] do not broadcast")]
fn add_operator_panics_on_bad_shapes() {
    let a = f32t(vec![1.0, 2.0, 3.0], &[3]);
    let b = f32t(vec![1.0, 2.0], &[2]);
    let _ = &a + &b;
}

#[test]
#[should_panic(expected = "sub: needs operands of one dtype")]
fn sub_operator_panics_on_mixed_dtypes() {
    let _ = f32t(vec![1.0], &[1]) - i32t(vec![1], &[1]);
}

#[test]
#[should_panic(expected = "mul: the scalar 2.5 cannot be used with a tensor of type i32[2]")]
fn mul_operator_panics_on_unfit_scalar() {
    let _ = &i32t(vec![1, 2], &[2]) * 2.5;
}

#[test]
#[should_panic(expected = "div: the scalar 1.5 cannot be used with a tensor of type i64[1]")]
fn scalar_left_div_panics_on_unfit_scalar() {
    let _ = 1.5 / i64t(vec![1], &[1]);
}

#[test]
#[should_panic(expected = "neg: expects a numeric dtype")]
fn neg_operator_panics_on_bool() {
    let b = f32t(vec![1.0], &[1]).gt_scalar(0.0).unwrap();
    let _ = -&b;
}

#[test]
fn operator_panic_points_at_the_users_line() {
    let a = f32t(vec![1.0, 2.0, 3.0], &[3]);
    let b = f32t(vec![1.0, 2.0], &[2]);
    let line = line!() + 1;
    let r = std::panic::catch_unwind(|| &a * &b);
    let msg = *r.unwrap_err().downcast::<String>().unwrap();
    assert!(msg.starts_with("mul: shapes [3] and [2]"), "{msg}");
    assert!(
        msg.contains(&format!("operators.rs:{line}:")),
        "{msg} (expected line {line})"
    );
}
