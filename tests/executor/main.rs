//! The executor's behaviour, proven by metrics counters: compile once and hit the cache,
//! recompile (and explain why) only when the traced graph differs, LRU eviction, graph
//! trimming, eager fallback, `mark_step`, error reporting, backends and threads.
//!
//! Metrics counters, the computation cache and the live-tensor registry are process-global
//! and cargo runs the tests of this file on parallel threads, so every test takes the
//! binary-wide `support::serial` lock first and asserts on counter *deltas*, never absolute values.
//! Configuration changes go through the thread-local [`config::with`]. Each test uses
//! tensor shapes no other test uses, so it never hits a computation another test compiled.

#[path = "../support/mod.rs"]
mod support;

mod cache;
mod donation;
mod trimming;

use lazyjit::lowering::Shape;
use lazyjit::metrics::{self, Counter, Metric};
use lazyjit::{
    config, executor, BackendKind, Config, Difference, Error, LazyTensor, Result, Scalar, SourceLoc,
};
use support::{serial, Counters};

/// Whether a source location is in `file` (call it with `file!()`: the test's own file,
/// where every tensor op of the test is called).
fn in_file(loc: SourceLoc, file: &str) -> bool {
    loc.file()
        .replace('\\', "/")
        .ends_with(&file.replace('\\', "/"))
}

/// Asserts `got` is within `rel` (relative to max(1, |want|)) of `want`, elementwise.
#[track_caller]
fn assert_close(got: &[f32], want: &[f32], rel: f32) {
    assert_eq!(got.len(), want.len(), "lengths differ");
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        let tol = rel * w.abs().max(1.0);
        assert!(
            (g - w).abs() <= tol,
            "element {i}: got {g}, want {w} (tol {tol})"
        );
    }
}

fn ramp(n: usize, start: f32, step: f32) -> Vec<f32> {
    (0..n).map(|i| start + step * i as f32).collect()
}

#[test]
fn forced_fallback_runs_eagerly() -> Result<()> {
    let _serial = serial();
    let xs = [0.0f32, 1.0, -1.0, 2.5];
    let x = LazyTensor::from_vec(xs.to_vec(), &[4])?;
    config::with(
        |c| {
            c.force_fallback.insert("exp".to_string());
        },
        || -> Result<()> {
            let before = Counters::now();
            let named = metrics::counter_value("fallback::exp");
            let y = x.exp()?;
            assert!(!y.is_pending(), "a fallback op is computed at once");
            assert_eq!(metrics::counter_value("fallback::exp") - named, 1);
            assert_eq!(before.delta(Counter::Fallback), 1);
            assert_eq!(
                before.delta(Counter::Compile) + before.delta(Counter::Execute),
                0
            );
            let want: Vec<f32> = xs.iter().map(|v| v.exp()).collect();
            assert_close(&y.to_vec::<f32>()?, &want, 1e-6);

            // A pending operand is computed first (one execution), then the op runs eagerly.
            let before = Counters::now();
            let z = x.add_scalar(0.75f32)?.exp()?;
            assert!(!z.is_pending());
            assert_eq!(before.delta(Counter::Execute), 1);
            assert_eq!(before.delta(Counter::Fallback), 1);
            let want: Vec<f32> = xs.iter().map(|v| (v + 0.75).exp()).collect();
            assert_close(&z.to_vec::<f32>()?, &want, 1e-6);

            // Ops that do not fall back stay lazy.
            assert!(y.neg()?.is_pending());
            Ok(())
        },
    )?;
    // Outside the override exp is recorded again.
    assert!(x.exp()?.is_pending());
    Ok(())
}

#[test]
fn mark_step_syncs_every_live_tensor_at_once() -> Result<()> {
    let _serial = serial();
    let live = lazyjit::live_tensors();
    let created = Counters::now();
    {
        let xs = ramp(59, -2.0, 0.1);
        let a = LazyTensor::from_vec(xs.clone(), &[59])?;
        let p1 = a.exp()?;
        let p2 = a.neg()?;
        let p3 = (&p1 + &p2).abs()?;
        assert_eq!(
            lazyjit::live_tensors(),
            live + 4,
            "a, p1, p2, p3 (temporaries are gone)"
        );
        let before = Counters::now();
        lazyjit::mark_step()?;
        assert_eq!(before.delta(Counter::MarkStep), 1);
        assert_eq!(before.delta(Counter::Sync), 1);
        assert_eq!(
            before.delta(Counter::Execute),
            1,
            "one computation for three tensors"
        );
        assert_eq!(lazyjit::last_sync().expect("synced").outputs, 3);
        assert!(!p1.is_pending() && !p2.is_pending() && !p3.is_pending());

        let before = Counters::now();
        let want: Vec<f32> = xs.iter().map(|v| (v.exp() - v).abs()).collect();
        assert_close(&p3.to_vec::<f32>()?, &want, 1e-6);
        lazyjit::mark_step()?; // nothing pending: runs nothing
        assert_eq!(before.delta(Counter::Execute), 0);

        // sync of several tensors is also one computation.
        let (q1, q2) = (a.sin()?, a.cos()?);
        let before = Counters::now();
        lazyjit::sync(&[&q1, &q2, &q1])?;
        assert_eq!(before.delta(Counter::Execute), 1);
        assert_eq!(lazyjit::last_sync().expect("synced").outputs, 2);
        assert!(!q1.is_pending() && !q2.is_pending());
    }
    assert_eq!(lazyjit::live_tensors(), live, "dropped tensors unregister");
    assert_eq!(
        created.delta(Counter::TensorCreate),
        created.delta(Counter::TensorDestroy)
    );
    Ok(())
}

/// One call site for both wirings, so the recompile is explained.
fn add_pair(x: &LazyTensor, y: &LazyTensor) -> Result<LazyTensor> {
    x.add(y)
}

#[test]
fn graph_hash_is_structural() -> Result<()> {
    let _serial = serial();
    let a = LazyTensor::from_vec(ramp(61, 0.0, 1.0), &[61])?;
    let b = LazyTensor::from_vec(ramp(61, 5.0, 1.0), &[61])?;
    assert_eq!(
        lazyjit::graph_hash(&[&a]),
        None,
        "device data has nothing pending"
    );

    let s1 = add_pair(&a, &b)?;
    let s2 = add_pair(&a, &b)?;
    let h = lazyjit::graph_hash(&[&s1]).expect("pending");
    assert_eq!(
        lazyjit::graph_hash(&[&s2]),
        Some(h),
        "built twice, same hash"
    );
    // Other data of the same type: still the same graph.
    let c = LazyTensor::from_vec(vec![7.0f32; 61], &[61])?;
    assert_eq!(lazyjit::graph_hash(&[&add_pair(&c, &a)?]), Some(h));

    let d = add_pair(&a, &a)?;
    let hd = lazyjit::graph_hash(&[&d]).expect("pending");
    assert_ne!(h, hd, "one tensor used twice is a different graph");
    assert_ne!(
        lazyjit::graph_hash(&[&s1, &d]),
        Some(h),
        "more roots, another graph"
    );

    let before = Counters::now();
    s1.to_vec::<f32>()?;
    assert_eq!(d.to_vec::<f32>()?, ramp(61, 0.0, 2.0));
    assert_eq!(before.delta(Counter::Compile), 2);
    let why = lazyjit::last_recompile().expect("explained");
    assert_eq!((why.graph_hash, why.previous_hash), (hd, h));
    assert!(
        why.differences.iter().any(|d| matches!(
            d,
            Difference::Operands { .. } | Difference::InputCount { before: 2, now: 1 }
        )),
        "{why}"
    );
    // s2 is the same graph as s1: a hit.
    let before = Counters::now();
    s2.to_vec::<f32>()?;
    assert_eq!(
        (
            before.delta(Counter::Compile),
            before.delta(Counter::CacheHit)
        ),
        (0, 1)
    );
    Ok(())
}

/// The LTC tutorial's data-dependent control flow: reading `maybe` syncs it, and the
/// traced graph depends on its value.
fn add_two_maybe(t: &LazyTensor, maybe: &LazyTensor) -> Result<LazyTensor> {
    Ok(if maybe.item::<i32>()? != 0 {
        t + 2
    } else {
        t.clone()
    })
}

#[test]
fn data_dependent_control_flow() -> Result<()> {
    let _serial = serial();
    let xs = ramp(67, -3.0, 0.25);
    let t = LazyTensor::from_vec(xs.clone(), &[67])?;
    let with_two: Vec<f32> = xs.iter().map(|v| v + 2.0).collect();
    let round = |flags: &[i32]| -> Result<u64> {
        let before = Counters::now();
        for &k in flags {
            // `maybe` is itself pending: reading it runs a (cached) computation.
            let maybe = LazyTensor::from_vec(vec![k], &[])?.mul_scalar(3)?;
            let y = add_two_maybe(&t, &maybe)?;
            let want = if k != 0 { &with_two } else { &xs };
            assert_eq!(&y.to_vec::<f32>()?, want, "maybe = {k}");
        }
        Ok(before.delta(Counter::Compile))
    };
    let first = round(&[1, 0, 1, 0])?;
    assert!(
        first <= 2,
        "{first} compiles: the maybe graph and the add graph at most"
    );
    assert_eq!(
        round(&[0, 1, 0, 1])?,
        0,
        "every traced graph was seen before"
    );
    Ok(())
}

#[test]
fn errors_are_clear_and_point_at_the_caller() -> Result<()> {
    let _serial = serial();
    let f = LazyTensor::from_vec(vec![1.0f32; 6], &[2, 3])?;
    let i = LazyTensor::from_vec(vec![1i32; 6], &[2, 3])?;
    let check_loc = |e: &Error| {
        let loc = e.location().unwrap_or_else(|| panic!("no location: {e}"));
        assert!(in_file(loc, file!()), "{e} points at {loc}");
        assert!(e.to_string().contains(file!()), "{e}");
    };

    let e = f.add(&i).unwrap_err();
    match &e {
        Error::Op { op, message, .. } => {
            assert_eq!(*op, "add");
            assert!(message.contains("f32") && message.contains("i32"), "{e}");
        }
        other => panic!("expected Error::Op, got {other:?}"),
    }
    check_loc(&e);

    let g = LazyTensor::from_vec(vec![1.0f32; 4], &[4])?;
    let e = f.mul(&g).unwrap_err();
    assert!(matches!(&e, Error::Op { op: "mul", .. }), "{e:?}");
    assert!(
        e.to_string().contains("[2, 3]") && e.to_string().contains("[4]"),
        "{e}"
    );
    check_loc(&e);

    let e = i.add_scalar(0.5f32).unwrap_err();
    assert!(
        matches!(&e, Error::Op { op: "add", .. }) && e.to_string().contains("0.5"),
        "{e}"
    );
    check_loc(&e);

    let e = f.item::<f32>().unwrap_err();
    assert!(matches!(&e, Error::Data { op: "item", .. }), "{e:?}");
    check_loc(&e);

    let e = f.to_vec::<i32>().unwrap_err();
    assert!(matches!(&e, Error::Data { op: "to_vec", .. }), "{e:?}");
    assert!(
        e.to_string().contains("f32") && e.to_string().contains("i32"),
        "{e}"
    );
    check_loc(&e);

    let e = LazyTensor::from_vec(vec![1.0f32; 5], &[2, 3]).unwrap_err();
    assert!(matches!(&e, Error::Data { op: "from_vec", .. }), "{e:?}");
    check_loc(&e);

    for (var, value) in [
        ("LAZYJIT_BACKEND", "gpu"),
        ("LAZYJIT_CACHE_SIZE", "-1"),
        ("LAZYJIT_TRIM_GRAPH_DEPTH", "lots"),
        ("LAZYJIT_SPECIAL_SCALARS", "maybe"),
        ("LAZYJIT_OPT_LEVEL", "3"),
    ] {
        let e = Config::from_lookup(|k| (k == var).then(|| value.to_string())).unwrap_err();
        assert!(
            matches!(e, Error::Config(_)) && e.location().is_none(),
            "{e:?}"
        );
        assert!(e.to_string().contains(value), "{e}");
    }

    // An index out of range is found when the graph runs: an execution error naming the
    // graph, on either backend, and the tensor stays readable (the error comes back).
    for backend in [BackendKind::Cranelift, BackendKind::Reference] {
        config::with(
            |c| c.backend = backend,
            || -> Result<()> {
                let src = LazyTensor::from_vec(vec![10.0f32, 20.0, 30.0], &[3])?;
                let idx = LazyTensor::from_vec(vec![0i64, 5], &[2])?;
                for bad in [src.gather(0, &idx)?, src.index_select(0, &idx)?] {
                    let before = Counters::now();
                    let e = bad.to_vec::<f32>().unwrap_err();
                    match &e {
                        Error::Execute { graph_hash, .. } => {
                            if backend == BackendKind::Cranelift {
                                assert_eq!(Some(*graph_hash), lazyjit::graph_hash(&[&bad]));
                            }
                            assert!(e.to_string().contains(&format!("{graph_hash:016x}")), "{e}");
                        }
                        other => panic!("{backend:?}: expected Error::Execute, got {other:?}"),
                    }
                    check_loc(&e);
                    assert_eq!(before.delta(Counter::Error), 1);
                    assert!(bad.is_pending());
                    assert!(matches!(bad.to_vec::<f32>(), Err(Error::Execute { .. })));
                }
                Ok(())
            },
        )?;
    }
    Ok(())
}

/// A small model mixing transcendental ops, broadcasting and `where_`.
fn model(x: &LazyTensor, w: &LazyTensor) -> Result<LazyTensor> {
    let h = (x * w + 0.5f32).tanh()?;
    let g = (&h * 3.0f32).sigmoid()? + x.abs()?.sqrt()?;
    let e = (x * -0.5f32).exp()?;
    LazyTensor::where_(&x.gt_scalar(0.0f32)?, &g, &(&e / (&g + 1.0f32)))
}

#[test]
fn backends_agree() -> Result<()> {
    let _serial = serial();
    let xs = ramp(2 * 71, -3.0, 6.0 / 142.0);
    let ws = ramp(71, -1.0, 2.0 / 71.0);
    let run = |backend: BackendKind| -> Result<(Vec<f32>, Vec<bool>)> {
        config::with(
            |c| c.backend = backend,
            || {
                let x = LazyTensor::from_vec(xs.clone(), &[2, 71])?;
                let w = LazyTensor::from_vec(ws.clone(), &[71])?;
                let mut hits = Vec::new();
                let mut v = Vec::new();
                for _ in 0..2 {
                    v = model(&x, &w)?.to_vec::<f32>()?;
                    hits.push(lazyjit::last_sync().expect("synced").cache_hit);
                }
                Ok((v, hits))
            },
        )
    };
    let before = Counters::now();
    let (jit, jit_hits) = run(BackendKind::Cranelift)?;
    let (reference, ref_hits) = run(BackendKind::Reference)?;
    assert_eq!(jit_hits, vec![false, true], "compiled, then a cache hit");
    assert_eq!(
        ref_hits,
        vec![false, true],
        "each backend has its own cache entry"
    );
    assert_eq!(before.delta(Counter::Compile), 2);
    assert_close(&jit, &reference, 1e-6);
    // And both agree with plain Rust.
    let want: Vec<f32> = xs
        .iter()
        .enumerate()
        .map(|(i, &x)| {
            let h = (x * ws[i % 71] + 0.5).tanh();
            let g = 1.0 / (1.0 + (-3.0 * h).exp()) + x.abs().sqrt();
            if x > 0.0 {
                g
            } else {
                (-0.5 * x).exp() / (g + 1.0)
            }
        })
        .collect();
    assert_close(&reference, &want, 1e-5);
    Ok(())
}

#[test]
fn threads_share_one_computation() -> Result<()> {
    fn send_sync<T: Send + Sync>() {}
    send_sync::<LazyTensor>();
    let _serial = serial();

    let before = Counters::now();
    let results: Vec<Result<()>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..4)
            .map(|t| {
                s.spawn(move || -> Result<()> {
                    for step in 0..50 {
                        let v = (t * 100 + step) as f32;
                        let a = LazyTensor::from_vec(vec![v; 73], &[73])?;
                        let y = (&a * 0.5f32 + 1.0f32).sqrt()?;
                        assert_close(&y.to_vec::<f32>()?, &[(v * 0.5 + 1.0).sqrt(); 73], 1e-6);
                    }
                    Ok(())
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("thread panicked"))
            .collect()
    });
    for r in results {
        r?;
    }
    lazyjit::wait_device_ops();
    assert_eq!(
        before.delta(Counter::Compile),
        1,
        "compiles are serialised: one for all threads"
    );
    assert_eq!(before.delta(Counter::CacheHit), 199);
    assert_eq!(before.delta(Counter::Execute), 200);

    // A pending tensor built here is computed on another thread.
    let a = LazyTensor::from_vec(vec![4.0f32; 73], &[73])?;
    let p = (&a * 0.5f32 + 1.0f32).sqrt()?;
    let v = std::thread::spawn(move || p.to_vec::<f32>())
        .join()
        .expect("thread panicked")?;
    assert_close(&v, &[3.0f32.sqrt(); 73], 1e-6);
    Ok(())
}

#[test]
fn metrics_report_compiles_and_executions() -> Result<()> {
    let _serial = serial();
    let before = Counters::now();
    let y = LazyTensor::from_vec(ramp(79, 0.0, 0.1), &[79])?.cos()?;
    y.to_vec::<f32>()?;
    assert_eq!(before.delta(Counter::Compile), 1);
    let report = metrics::report();
    for line in [
        "  compile: ",
        "  execute: ",
        "  cache_miss: ",
        "compile_time:",
        "execute_time:",
    ] {
        assert!(report.contains(line), "no {line:?} in\n{report}");
    }
    let m = metrics::metric(Metric::Compile).expect("compile samples");
    assert!(m.count >= 1 && m.is_duration && m.max > 0.0, "{m:?}");
    let m = metrics::metric(Metric::GraphSize).expect("graph size samples");
    assert!(m.count >= 1 && !m.is_duration, "{m:?}");
    Ok(())
}
