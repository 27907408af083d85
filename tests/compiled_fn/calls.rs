//! Tracing, versions, signatures and the call forms.

use super::*;
use lazyjit::lowering::{DType, Tensor, TensorType};
use lazyjit::{compile, Difference, Error, FnArg, InputType};

#[test]
fn the_first_call_traces_and_later_calls_with_the_same_types_do_not() -> Result<()> {
    let g = compile(f);
    assert_eq!(g.stats().traces, 0, "nothing is traced at construction");
    for k in 0..5 {
        let (a, b) = (ramp(7, 0.1, k as f32), ramp(7, -0.2, 0.5));
        let y = g.call(&[&a, &b])?;
        assert!(close(&values(&y[0]), &expected(&a, &b)?));
    }
    let s = g.stats();
    assert_eq!((s.calls, s.traces, s.versions), (5, 1, 1));
    Ok(())
}

#[test]
fn a_new_shape_traces_again_keeps_the_old_version_and_is_explained() -> Result<()> {
    let g = compile(f);
    let (a3, a4) = (ramp(3, 1.0, 0.0), ramp(4, 1.0, 0.0));
    g.call(&[&a3, &a3])?;
    g.call(&[&a4, &a4])?;
    g.call(&[&a3, &a3])?;
    let s = g.stats();
    assert_eq!((s.traces, s.versions), (2, 2));
    let versions = g.versions();
    assert_eq!(versions[0].inputs[0].shape.dims(), &[3]);
    assert_eq!(versions[0].calls, 2);
    let hash = versions[1].graph_hash.expect("computes something");
    // Explained like any recompile: the closure's ops are the same call sites.
    let why = lazyjit::recompile_explanations()
        .into_iter()
        .find(|e| e.graph_hash == hash)
        .expect("the retrace is explained");
    assert!(why
        .differences
        .iter()
        .any(|d| matches!(d, Difference::InputShape { .. } | Difference::Shape { .. })));
    // A new dtype is a new version too.
    let d = LazyTensor::from_vec(vec![1.0f64, 2.0, 3.0], &[3])?;
    let y = g.call(&[&d, &d])?;
    assert_eq!(y[0].dtype(), DType::F64);
    assert_eq!(g.stats().traces, 3);
    Ok(())
}

#[test]
fn versions_are_bounded_least_recently_used_first() -> Result<()> {
    let g = compile(f).max_versions(2);
    let x = |n| ramp(n, 0.5, 0.0);
    for n in [11, 12, 11, 13] {
        g.call(&[&x(n), &x(n)])?;
    }
    // 12 was the least recently used when 13 came.
    let kept: Vec<usize> = g
        .versions()
        .iter()
        .map(|v| v.inputs[0].shape.dims()[0])
        .collect();
    assert_eq!(kept, vec![11, 13]);
    let s = g.stats();
    assert_eq!((s.traces, s.evictions, s.calls), (3, 1, 4));
    g.call(&[&x(12), &x(12)])?;
    assert_eq!(g.stats().traces, 4, "an evicted version is traced again");
    Ok(())
}

#[test]
fn force_recompile_traces_again() -> Result<()> {
    let g = compile(f);
    let a = ramp(5, 1.0, 0.0);
    g.call(&[&a, &a])?;
    g.force_recompile();
    assert_eq!(g.stats().versions, 0);
    let y = g.call(&[&a, &a])?;
    assert!(close(&values(&y[0]), &expected(&a, &a)?));
    let s = g.stats();
    assert_eq!((s.traces, s.calls), (2, 2));
    Ok(())
}

#[test]
fn a_wrong_number_of_inputs_names_the_signature() -> Result<()> {
    let g = compile(f).named("scaled_exp");
    let a = ramp(2, 1.0, 0.0);
    g.call(&[&a, &a])?;
    let e = g.call(&[&a]).unwrap_err();
    assert!(matches!(e, Error::Function { .. }), "{e:?}");
    let m = e.to_string();
    assert!(
        m.contains("scaled_exp") && m.contains("takes 2 inputs"),
        "{m}"
    );
    assert!(
        m.contains("(f32[2], f32[2])") && m.contains("got 1 (f32[2])"),
        "{m}"
    );
    assert!(m.contains("calls.rs"), "names the call site: {m}");
    Ok(())
}

#[test]
fn declared_input_types_are_checked_before_tracing() -> Result<()> {
    let g = compile(f).named("declared").with_input_types([
        InputType::dtype(DType::F32),
        InputType::exact(&TensorType::new(DType::F32, vec![3])),
    ]);
    let (a, b) = (ramp(3, 1.0, 0.0), ramp(3, 2.0, 0.0));
    g.call(&[&a, &b])?;
    let e = g.call(&[&a, &ramp(4, 1.0, 0.0)]).unwrap_err().to_string();
    assert!(
        e.contains("takes (f32[..], f32[3]), got (f32[3], f32[4])"),
        "{e}"
    );
    let i = LazyTensor::from_vec(vec![1i32, 2, 3], &[3])?;
    assert!(g.call(&[&i, &i]).is_err());
    assert_eq!(g.stats().traces, 1);
    Ok(())
}

#[test]
fn arrays_tensors_and_lazy_tensors_are_all_inputs() -> Result<()> {
    let g = compile(f);
    let a = ndarray::array![[0.5f32, 1.0], [1.5, 2.0]];
    let b = ndarray::array![[1.0f32, -1.0], [0.25, 0.0]];
    let want = expected(
        &LazyTensor::from_ndarray(&a)?,
        &LazyTensor::from_ndarray(&b)?,
    )?;
    let y = g.call_arrays::<f32>(&[a.view(), b.view()])?;
    assert_eq!(y[0].shape(), &[2, 2]);
    assert!(close(y[0].as_slice().unwrap(), &want));
    // A transposed (non-contiguous) view is read in logical order.
    let at = a.t();
    let y = g.call_arrays::<f32>(&[at, b.t()])?;
    assert!(close(
        y[0].as_slice().unwrap(),
        &[want[0], want[2], want[1], want[3]]
    ));
    let ta = Tensor::from_array(&a.clone().into_dyn()).unwrap();
    let lb = LazyTensor::from_ndarray(&b)?;
    let y = g.call_tensors(&[&ta as &dyn FnArg, &lb])?;
    assert!(close(y[0].as_slice::<f32>().unwrap(), &want));
    assert_eq!(
        g.stats().traces,
        1,
        "one signature, whatever the input kinds"
    );
    // Reading an output as the wrong element type names it.
    let e = g
        .call_arrays::<f64>(&[a.view(), a.view()])
        .unwrap_err()
        .to_string();
    assert!(e.contains("output 0 is f32[2, 2], read as f64"), "{e}");
    Ok(())
}

#[test]
fn call_into_writes_caller_buffers_and_checks_them() -> Result<()> {
    let g = compile(|x: &[LazyTensor]| Ok(vec![x[0].add(&x[1])?, x[0].clone()]));
    let a = Tensor::from_vec(vec![1.0f32, 2.0, 3.0, 4.0], vec![4]).unwrap();
    let b = Tensor::from_vec(vec![10.0f32; 4], vec![4]).unwrap();
    let mut out = [
        Tensor::zeros(a.ty().clone()).unwrap(),
        Tensor::zeros(a.ty().clone()).unwrap(),
    ];
    let addr = out[0].buffer().as_ptr();
    g.call_into(&[&a, &b], &mut out)?;
    assert_eq!(out[0].as_slice::<f32>().unwrap(), &[11.0, 12.0, 13.0, 14.0]);
    assert_eq!(out[1].as_slice::<f32>().unwrap(), &[1.0, 2.0, 3.0, 4.0]);
    assert_eq!(out[0].buffer().as_ptr(), addr, "written in place");
    let mut wrong = [Tensor::zeros(TensorType::new(DType::F32, vec![3])).unwrap()];
    let e = g.call_into(&[&a, &b], &mut wrong).unwrap_err().to_string();
    assert!(
        e.contains("its outputs are (f32[4], f32[4]), got output tensors (f32[3])"),
        "{e}"
    );
    // The direct form: the function's outputs are the computation's.
    let h = compile(|x: &[LazyTensor]| Ok(vec![x[0].mul_scalar(2.0f32)?]));
    let mut one = [Tensor::zeros(a.ty().clone()).unwrap()];
    h.call_into(&[&a], &mut one)?;
    assert_eq!(one[0].as_slice::<f32>().unwrap(), &[2.0, 4.0, 6.0, 8.0]);
    Ok(())
}

#[test]
fn pending_inputs_are_computed_first() -> Result<()> {
    let g = compile(f);
    let a = ramp(6, 0.1, 0.0).exp()?;
    assert!(a.is_pending());
    let y = g.call(&[&a, &a])?;
    assert!(!a.is_pending());
    assert!(close(&values(&y[0]), &expected(&a, &a)?));
    Ok(())
}

#[test]
fn the_reference_backend_runs_compiled_functions_too() -> Result<()> {
    let g = compile(f);
    let a = ramp(9, 0.1, 0.0);
    let y = lazyjit::config::with(
        |c| c.backend = lazyjit::BackendKind::Reference,
        || g.call(&[&a, &a]),
    )?;
    assert!(close(&values(&y[0]), &expected(&a, &a)?));
    Ok(())
}

#[test]
fn many_functions_alternating_on_one_thread_stay_correct() -> Result<()> {
    // More functions than a thread remembers recent versions of, called in turn.
    let fs: Vec<_> = (0..7)
        .map(|k| compile(move |x: &[LazyTensor]| Ok(vec![x[0].mul_scalar(k as f32)?])))
        .collect();
    let a = ramp(4, 1.0, 0.0);
    for round in 0..3 {
        for (k, g) in fs.iter().enumerate() {
            let want: Vec<f32> = (0..4).map(|i| (i * k) as f32).collect();
            assert_eq!(values(&g.call(&[&a])?[0]), want, "round {round} fn {k}");
        }
    }
    assert!(fs.iter().all(|g| g.stats().traces == 1));
    Ok(())
}
