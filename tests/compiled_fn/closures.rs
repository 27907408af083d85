//! What the closure may do: the ReturnValueHandler / duplicate_eager_tensors cases,
//! captured tensors, scalars, constants, views and reductions, gradients, and reading
//! values (an error).

use super::*;
use lazyjit::autograd::no_grad;
use lazyjit::{autograd, compile, DType, Error};
use std::sync::Arc;

#[test]
fn the_same_input_twice_traces_a_graph_that_serves_distinct_inputs() -> Result<()> {
    let g = compile(f);
    let a = ramp(8, 0.3, -1.0);
    let y = g.call(&[&a, &a])?;
    assert!(close(&values(&y[0]), &expected(&a, &a)?));
    let hash = g.versions()[0].graph_hash.unwrap();
    let c = lazyjit::cached_computations()
        .into_iter()
        .find(|c| c.graph_hash == hash)
        .expect("compiled through the executor's cache");
    assert_eq!(c.params, 2, "one parameter per input position");
    let b = ramp(8, -0.2, 0.7);
    let y = g.call(&[&a, &b])?;
    assert!(
        close(&values(&y[0]), &expected(&a, &b)?),
        "not aliased to x[0]"
    );
    assert_eq!(g.stats().traces, 1);
    Ok(())
}

#[test]
fn an_output_that_is_an_input_is_that_tensor() -> Result<()> {
    let g = compile(|x: &[LazyTensor]| Ok(vec![x[1].clone(), x[0].neg()?]));
    let (a, b) = (ramp(3, 1.0, 0.0), ramp(3, 2.0, 1.0));
    for _ in 0..2 {
        let y = g.call(&[&a, &b])?;
        assert_eq!(y[0].id(), b.id(), "the caller's own tensor");
        assert_eq!(values(&y[1]), vec![0.0, -1.0, -2.0]);
    }
    // From arrays, the input's values.
    let y = g.call_arrays::<f32>(&[
        ndarray::array![1.0f32, 2.0, 3.0],
        ndarray::array![4.0f32, 5.0, 6.0],
    ])?;
    assert_eq!(y[0].as_slice().unwrap(), &[4.0, 5.0, 6.0]);
    Ok(())
}

#[test]
fn the_same_tensor_returned_twice_is_one_tensor() -> Result<()> {
    let g = compile(|x: &[LazyTensor]| {
        let y = x[0].exp()?;
        Ok(vec![y.clone(), x[0].sum_all()?, y])
    });
    let a = ramp(4, 0.5, 0.0);
    let y = g.call(&[&a])?;
    assert_eq!(y[0].id(), y[2].id());
    assert_eq!(values(&y[1]), vec![3.0]);
    let v = g.versions();
    let hash = v[0].graph_hash.unwrap();
    let program = lazyjit::cached_computations()
        .into_iter()
        .find(|c| c.graph_hash == hash)
        .expect("compiled through the executor's cache");
    assert_eq!(program.params, 1);
    let t = g.call_tensors(&[&a])?;
    assert_eq!(t[0], t[2]);
    Ok(())
}

#[test]
fn constant_outputs_and_unused_inputs() -> Result<()> {
    let g = compile(|x: &[LazyTensor]| {
        Ok(vec![
            LazyTensor::from_vec(vec![7i64, 8], &[2])?,
            LazyTensor::full(&[2], 1.5f32)?,
            x[1].add_scalar(1.0f32)?,
        ])
    });
    let (a, b) = (LazyTensor::from_vec(vec![true], &[1])?, ramp(2, 1.0, 0.0));
    for _ in 0..2 {
        let y = g.call(&[&a, &b])?;
        assert_eq!(y[0].to_vec::<i64>()?, vec![7, 8]);
        assert_eq!(values(&y[1]), vec![1.5, 1.5]);
        assert_eq!(values(&y[2]), vec![1.0, 2.0]);
        // Changing a returned constant does not change the next call's.
        no_grad(|| y[0].assign(&LazyTensor::from_vec(vec![0i64, 0], &[2])?))?;
    }
    // Only data made in the closure: nothing to compute.
    let k = compile(|_: &[LazyTensor]| Ok(vec![LazyTensor::from_vec(vec![2i32; 3], &[3])?]));
    for _ in 0..2 {
        assert_eq!(k.call(&[&a])?[0].to_vec::<i32>()?, vec![2, 2, 2]);
        let mut out = [lazyjit::lowering::Tensor::scalar(0i32)];
        assert!(k.call_into(&[&a], &mut out).is_err(), "wrong output type");
    }
    assert_eq!(k.versions()[0].graph_hash, None);
    Ok(())
}

#[test]
fn a_captured_tensor_is_read_at_each_call_not_frozen() -> Result<()> {
    let w = ramp(3, 1.0, 1.0); // [1, 2, 3]
    let wc = w.clone();
    let g = compile(move |x: &[LazyTensor]| Ok(vec![x[0].mul(&wc)?, wc.clone()]));
    let a = ramp(3, 0.0, 2.0); // [2, 2, 2]
    assert_eq!(values(&g.call(&[&a])?[0]), vec![2.0, 4.0, 6.0]);
    // An optimizer-style update of the captured tensor.
    no_grad(|| w.assign(&w.mul_scalar(10.0f32)?))?;
    let y = g.call(&[&a])?;
    assert_eq!(values(&y[0]), vec![20.0, 40.0, 60.0]);
    assert_eq!(
        y[1].id(),
        w.id(),
        "a captured output is the captured tensor"
    );
    assert_eq!(g.stats().traces, 1);
    Ok(())
}

#[test]
fn scalars_views_and_reductions() -> Result<()> {
    let g = compile(|x: &[LazyTensor]| {
        let t = x[0].transpose(0, 1)?.narrow(0, 1, 2)?; // [2, 2] of a [2, 3]
        let s = t.mul_scalar(0.5f32)?.sum(&[1], false)?;
        Ok(vec![s.add_scalar(3.0f32)?])
    });
    let a = LazyTensor::from_vec(vec![1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0], &[2, 3])?;
    let y = g.call(&[&a])?;
    // transpose: [[1,4],[2,5],[3,6]]; rows 1..3: [[2,5],[3,6]]; half-sums 3.5, 4.5.
    assert_eq!(values(&y[0]), vec![6.5, 7.5]);
    let b = LazyTensor::from_vec(vec![0.0f32; 6], &[2, 3])?;
    assert_eq!(values(&g.call(&[&b])?[0]), vec![3.0, 3.0]);
    Ok(())
}

#[test]
fn reading_a_value_inside_the_closure_is_a_trace_error() {
    type Body = fn(&LazyTensor) -> Result<()>;
    let reads: [(&str, Body); 5] = [
        ("item", |x| x.sum_all()?.item::<f32>().map(drop)),
        ("to_vec", |x| x.exp()?.to_vec::<f32>().map(drop)),
        ("data", |x| x.data().map(drop)),
        ("sync", |x| lazyjit::sync(&[&x.exp()?])),
        ("sync", |_| lazyjit::mark_step()),
    ];
    for (op, read) in reads {
        let g = compile(move |x: &[LazyTensor]| {
            read(&x[0])?;
            Ok(vec![x[0].clone()])
        });
        let e = g.call(&[&ramp(2, 1.0, 0.0)]).unwrap_err();
        assert!(
            matches!(e, Error::Op { op: o, .. } if o == op),
            "{op}: {e:?}"
        );
        assert!(
            e.to_string().contains("control flow that depends on data"),
            "{e}"
        );
        assert_eq!(g.stats().versions, 0, "nothing is kept");
    }
    // Outside a trace, reads work as ever.
    assert_eq!(
        ramp(2, 1.0, 0.0).sum_all().unwrap().item::<f32>().unwrap(),
        1.0
    );
}

#[test]
fn a_closure_error_is_returned_and_nothing_is_kept() {
    let g = compile(|x: &[LazyTensor]| Ok(vec![x[0].matmul(&x[0])?]));
    let e = g.call(&[&ramp(3, 1.0, 0.0)]).unwrap_err();
    assert!(e.to_string().contains("matmul"), "{e}");
    assert_eq!(g.stats().versions, 0);
}

#[test]
fn a_training_step_with_gradients_compiles_into_one_function() -> Result<()> {
    // One SGD step of least squares: returns the loss and the updated weights.
    let step = |x: &[LazyTensor]| {
        let (w, a, b) = (x[0].detach(), &x[1], &x[2]);
        w.set_requires_grad(true)?;
        let r = a.matmul(&w)?.sub(b)?;
        let loss = r.mul(&r)?.mean_all()?;
        let g = autograd::grad(&loss, &[&w], None, false)?;
        let grad = g[0].clone().expect("w is used");
        let w2 = no_grad(|| w.sub(&grad.mul_scalar(0.1f64)?))?;
        Ok(vec![loss.detach(), w2])
    };
    let g = compile(step);
    let w = LazyTensor::from_vec(vec![0.0f64, 0.0], &[2, 1])?;
    let a = LazyTensor::from_vec(vec![1.0f64, 2.0, 3.0, 4.0, 5.0, 6.0], &[3, 2])?;
    let b = LazyTensor::from_vec(vec![1.0f64, 2.0, 3.0], &[3, 1])?;
    let (mut wc, mut we) = (w.clone(), w.clone());
    for _ in 0..3 {
        let yc = g.call(&[&wc, &a, &b])?;
        let ye = step(&[we.clone(), a.clone(), b.clone()])?;
        assert!((yc[0].item::<f64>()? - ye[0].item::<f64>()?).abs() < 1e-12);
        assert_eq!(yc[1].to_vec::<f64>()?, ye[1].to_vec::<f64>()?);
        (wc, we) = (yc[1].clone(), ye[1].clone());
    }
    assert_eq!(g.stats().traces, 1);
    assert_eq!(wc.dtype(), DType::F64);
    Ok(())
}

#[test]
fn compiled_functions_are_send_and_sync() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<lazyjit::CompiledFn>();
    let g = Arc::new(compile(f));
    let h = std::thread::spawn({
        let g = g.clone();
        move || {
            g.call(&[&ramp(2, 1.0, 0.0), &ramp(2, 1.0, 0.0)])
                .map(|y| values(&y[0]))
        }
    });
    assert_eq!(h.join().unwrap().unwrap().len(), 2);
}

#[test]
fn a_compiled_function_called_inside_another_is_traced_through() -> Result<()> {
    let inner = Arc::new(compile(|x: &[LazyTensor]| Ok(vec![x[0].exp()?])));
    let outer = compile({
        let inner = inner.clone();
        move |x: &[LazyTensor]| {
            let y = inner.call(&[&x[0]])?.remove(0);
            Ok(vec![y.add(&x[0])?])
        }
    });
    for shift in [0.0, 1.0, -2.0] {
        let a = ramp(3, 0.5, shift);
        let want: Vec<f32> = values(&a).iter().map(|v| v.exp() + v).collect();
        assert!(
            close(&values(&outer.call(&[&a])?[0]), &want),
            "shift {shift}"
        );
    }
    assert_eq!(outer.stats().traces, 1);
    assert_eq!(
        inner.stats().calls,
        0,
        "inlined into the outer trace, never run alone"
    );
    // Reading forms are reads: an error while tracing.
    let reads = compile({
        let inner = inner.clone();
        move |x: &[LazyTensor]| {
            inner.call_tensors(&[&x[0]])?;
            Ok(vec![])
        }
    });
    let e = reads.call(&[&ramp(3, 1.0, 0.0)]).unwrap_err();
    assert!(matches!(e, Error::Op { op: "call", .. }), "{e:?}");
    Ok(())
}
