//! The executor's behaviour, proven by metrics counters: compile once and hit the cache,
//! recompile (and explain why) only when the traced graph differs, LRU eviction, graph
//! trimming, eager fallback, `mark_step`, error reporting, backends and threads.
//!
//! Metrics counters, the computation cache and the live-tensor registry are process-global
//! and cargo runs the tests of this file on parallel threads, so every test takes the
//! file-level [`SERIAL`] lock first and asserts on counter *deltas*, never absolute values.
//! Configuration changes go through the thread-local [`config::with`]. Each test uses
//! tensor shapes no other test uses, so it never hits a computation another test compiled.

use lazyjit::lowering::Shape;
use lazyjit::metrics::{self, Counter, Metric};
use lazyjit::{
    config, executor, BackendKind, Config, Difference, Error, LazyTensor, Result, Scalar, SourceLoc,
};
use std::sync::{Mutex, MutexGuard};

/// Serialises the tests of this file (they share the process-global executor state).
static SERIAL: Mutex<()> = Mutex::new(());

/// Takes [`SERIAL`] (recovering from a test that panicked while holding it).
///
/// It also calls `mark_step`, which resets the executor's count of IR nodes recorded
/// since the last step: plain syncs do not reset it, so without this a test that records
/// many nodes (the 100,000-op chain) would make the next test trim in mid-graph and
/// compile an unexpected graph. Under the lock nothing is pending, so this runs nothing.
fn serial() -> MutexGuard<'static, ()> {
    let guard = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    lazyjit::mark_step().expect("nothing is pending between tests");
    guard
}

/// A snapshot of every well-known counter, for deltas.
struct Counters(Vec<u64>);

impl Counters {
    fn now() -> Counters {
        Counters(Counter::ALL.iter().map(|&c| metrics::value(c)).collect())
    }

    /// How much `c` grew since the snapshot.
    fn delta(&self, c: Counter) -> u64 {
        metrics::value(c) - self.0[c as usize]
    }
}

/// Whether a source location is in this file (where every tensor op here is called).
fn in_this_file(loc: SourceLoc) -> bool {
    loc.file().replace('\\', "/").ends_with("tests/executor.rs")
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
fn hundred_identical_steps_compile_once() -> Result<()> {
    let _serial = serial();
    let shape = [3, 37];
    let n = 3 * 37;
    let bv = ramp(n, -0.5, 0.01);
    let cv = vec![0.25f32; n];
    let b = LazyTensor::from_vec(bv.clone(), &shape)?;
    let c = LazyTensor::from_vec(cv.clone(), &shape)?;
    let before = Counters::now();
    for step in 0..100 {
        let av = ramp(n, step as f32 * 0.01, 0.001);
        let a = LazyTensor::from_vec(av.clone(), &shape)?; // a new input each step
        let y = (&a * &b + &c).exp()?;
        assert!(y.is_pending());
        let want: Vec<f32> = (0..n).map(|i| (av[i] * bv[i] + cv[i]).exp()).collect();
        assert_close(&y.to_vec::<f32>()?, &want, 1e-6);
        assert!(!y.is_pending());
    }
    assert_eq!(
        before.delta(Counter::Compile),
        1,
        "one compile for 100 identical graphs"
    );
    assert_eq!(before.delta(Counter::CacheMiss), 1);
    assert_eq!(before.delta(Counter::CacheHit), 99);
    assert_eq!(before.delta(Counter::Execute), 100);
    assert_eq!(before.delta(Counter::Sync), 100);
    assert_eq!(before.delta(Counter::Trim), 0);
    let last = lazyjit::last_sync().expect("synced");
    assert!(last.cache_hit && last.compile_time.is_none());
    assert_eq!((last.nodes, last.params, last.outputs), (3, 3, 1));
    Ok(())
}

/// One call site for both shapes, so the recompile is explained against the first graph.
fn scaled_tanh(x: &LazyTensor) -> Result<LazyTensor> {
    x.mul_scalar(1.5f32)?.tanh()
}

#[test]
fn new_shape_recompiles_and_explains() -> Result<()> {
    let _serial = serial();
    let x23 = LazyTensor::from_vec(ramp(23, -1.0, 0.1), &[23])?;
    let before = Counters::now();
    scaled_tanh(&x23)?.to_vec::<f32>()?;
    assert_eq!(before.delta(Counter::Compile), 1);
    let h23 = lazyjit::last_sync().expect("synced").graph_hash;

    let x29 = LazyTensor::from_vec(ramp(29, -1.0, 0.1), &[29])?;
    let y29 = scaled_tanh(&x29)?;
    let h29 = lazyjit::graph_hash(&[&y29]).expect("pending");
    assert_ne!(h23, h29);
    let before = Counters::now();
    let v = y29.to_vec::<f32>()?;
    assert_eq!(
        before.delta(Counter::Compile),
        1,
        "a new shape compiles again"
    );
    let want: Vec<f32> = ramp(29, -1.0, 0.1)
        .iter()
        .map(|x| (x * 1.5).tanh())
        .collect();
    assert_close(&v, &want, 1e-6);

    let why = lazyjit::last_recompile().expect("a recompile explanation");
    assert_eq!(why.graph_hash, h29);
    assert_eq!(why.previous_hash, h23);
    let (s23, s29) = (Shape::new([23]), Shape::new([29]));
    assert!(
        why.differences.iter().any(|d| match d {
            Difference::InputShape { before, now, .. } | Difference::Shape { before, now, .. } =>
                *before == s23 && *now == s29,
            _ => false,
        }),
        "{why}"
    );
    assert!(
        !why.roots.is_empty() && why.roots.iter().all(|&l| in_this_file(l)),
        "{why}"
    );
    let text = why.to_string();
    assert!(
        text.contains("tests/executor.rs") && text.contains("[29]"),
        "{text}"
    );

    // Both graphs stay cached: going back to the first shape compiles nothing.
    let before = Counters::now();
    scaled_tanh(&x23)?.to_vec::<f32>()?;
    scaled_tanh(&x29)?.to_vec::<f32>()?;
    assert_eq!(before.delta(Counter::Compile), 0);
    assert_eq!(before.delta(Counter::CacheHit), 2);
    Ok(())
}

/// One call site for every learning rate.
fn scale(x: &LazyTensor, lr: f32) -> Result<LazyTensor> {
    x.mul_scalar(lr)
}

#[test]
fn new_scalar_values_do_not_recompile() -> Result<()> {
    let _serial = serial();
    let x = LazyTensor::from_vec(vec![2.0f32; 31], &[31])?;
    // Values no other test uses, so each is new to the device-data cache.
    let lrs: Vec<f32> = (1..=5).map(|k| 0.1 * k as f32 + 0.0031).collect();
    let before = Counters::now();
    config::with(
        |c| c.special_scalars = true,
        || -> Result<()> {
            for &lr in &lrs {
                assert_close(&scale(&x, lr)?.to_vec::<f32>()?, &[2.0 * lr; 31], 1e-6);
            }
            Ok(())
        },
    )?;
    assert_eq!(
        before.delta(Counter::Compile),
        1,
        "the scalar is a parameter, not a constant"
    );
    assert_eq!(before.delta(Counter::CacheHit), 4);
    assert_eq!(before.delta(Counter::DeviceDataCacheMiss), 5);
    assert_eq!(before.delta(Counter::DeviceDataCacheHit), 0);
    assert_eq!(before.delta(Counter::InlinedScalar), 0);

    // The same value again is a device-data cache hit (one shared buffer per value).
    let before = Counters::now();
    scale(&x, lrs[0])?.to_vec::<f32>()?;
    assert_eq!(before.delta(Counter::DeviceDataCacheHit), 1);
    assert_eq!(before.delta(Counter::DeviceDataCacheMiss), 0);
    assert_eq!(before.delta(Counter::Compile), 0);

    // Special scalars off: 1.0 is a parameter like any other value, so neither 1.0 nor
    // 0.5 changes the graph compiled above.
    let before = Counters::now();
    config::with(
        |c| c.special_scalars = false,
        || -> Result<()> {
            assert_eq!(scale(&x, 1.0)?.to_vec::<f32>()?, vec![2.0; 31]);
            assert_eq!(scale(&x, 0.5)?.to_vec::<f32>()?, vec![1.0; 31]);
            Ok(())
        },
    )?;
    assert_eq!(before.delta(Counter::Compile), 0);
    assert_eq!(before.delta(Counter::InlinedScalar), 0);

    // Special scalars on: 0 and 1 are inlined constants, so moving between them or away
    // from them recompiles (a new shape, so the first graph here is new too).
    let y = LazyTensor::from_vec(vec![3.0f32; 37], &[37])?;
    config::with(
        |c| c.special_scalars = true,
        || -> Result<()> {
            let before = Counters::now();
            assert_eq!(scale(&y, 1.0)?.to_vec::<f32>()?, vec![3.0; 37]);
            assert_eq!(before.delta(Counter::InlinedScalar), 1);
            assert_eq!(before.delta(Counter::Compile), 1);

            let before = Counters::now();
            assert_eq!(scale(&y, 0.0)?.to_vec::<f32>()?, vec![0.0; 37]);
            assert_eq!(
                before.delta(Counter::Compile),
                1,
                "constant 1 -> constant 0"
            );
            let why = lazyjit::last_recompile().expect("explained");
            assert!(
                why.differences.iter().any(|d| matches!(
                    d,
                    Difference::InlinedScalar { before: Scalar::Float(b), now: Scalar::Float(n), location, .. }
                        if *b == 1.0 && *n == 0.0 && in_this_file(*location)
                )),
                "{why}"
            );

            scale(&y, 1.0)?.to_vec::<f32>()?; // cached: back to the 1.0 graph
            let before = Counters::now();
            assert_eq!(scale(&y, 0.5)?.to_vec::<f32>()?, vec![1.5; 37]);
            assert_eq!(before.delta(Counter::Compile), 1, "constant 1 -> parameter");
            let why = lazyjit::last_recompile().expect("explained");
            // The explanation points at the inlined 1.0 that became a parameter.
            assert!(
                why.differences
                    .iter()
                    .any(|d| matches!(d, Difference::InputCount { before: 1, now: 2 })),
                "{why}"
            );
            assert!(
                why.differences.iter().any(|d| match d {
                    Difference::InlinedScalar { before, .. } => *before == Scalar::Float(1.0),
                    Difference::Op { before, .. } => before.starts_with("constant 1"),
                    _ => false,
                }),
                "{why}"
            );

            // Every value after that is a parameter again: no more compiles.
            let before = Counters::now();
            for &lr in &lrs {
                scale(&y, lr)?.to_vec::<f32>()?;
            }
            assert_eq!(before.delta(Counter::Compile), 0);
            Ok(())
        },
    )
}

#[test]
fn lru_evicts_beyond_capacity() -> Result<()> {
    let _serial = serial();
    let graph =
        |n: usize| -> Result<LazyTensor> { LazyTensor::from_vec(ramp(n, 1.0, 1.0), &[n])?.sqrt() };
    config::with(
        |c| c.cache_capacity = 2,
        || -> Result<()> {
            let before = Counters::now();
            let (g1, g2, g3) = (graph(41)?, graph(43)?, graph(47)?);
            let h: Vec<u64> = [&g1, &g2, &g3]
                .iter()
                .map(|t| lazyjit::graph_hash(&[t]).expect("pending"))
                .collect();
            for g in [&g1, &g2, &g3] {
                lazyjit::sync(&[g])?;
                assert!(
                    lazyjit::cache_len() <= 2,
                    "cache holds {}",
                    lazyjit::cache_len()
                );
            }
            assert_eq!(before.delta(Counter::Compile), 3);
            assert!(before.delta(Counter::CacheEvict) >= 1);
            assert!(
                !executor::is_cached(h[0]),
                "the least recently used graph was evicted"
            );
            assert!(executor::is_cached(h[1]) && executor::is_cached(h[2]));

            // The first graph again: recompiled, and now the second one is the LRU.
            let before = Counters::now();
            let again = graph(41)?;
            assert_eq!(lazyjit::graph_hash(&[&again]), Some(h[0]));
            assert_close(
                &again.to_vec::<f32>()?,
                &ramp(41, 1.0, 1.0)
                    .iter()
                    .map(|v| v.sqrt())
                    .collect::<Vec<_>>(),
                1e-6,
            );
            assert_eq!(before.delta(Counter::Compile), 1);
            assert_eq!(before.delta(Counter::CacheHit), 0);
            assert_eq!(before.delta(Counter::CacheEvict), 1);
            assert!(executor::is_cached(h[0]) && executor::is_cached(h[2]));
            assert!(!executor::is_cached(h[1]));
            assert!(lazyjit::cache_len() <= 2);

            // A hit refreshes an entry: h[2] survives the next insert, h[0] does not.
            graph(47)?.to_vec::<f32>()?;
            graph(43)?.to_vec::<f32>()?;
            assert!(executor::is_cached(h[2]) && executor::is_cached(h[1]));
            assert!(!executor::is_cached(h[0]));
            Ok(())
        },
    )
}

#[test]
fn trimming_syncs_a_growing_graph() -> Result<()> {
    let _serial = serial();
    config::with(
        |c| c.trim_graph_depth = 50,
        || -> Result<()> {
            let x = LazyTensor::from_vec(ramp(53, 0.0, 1.0), &[53])?;
            let before = Counters::now();
            let mut y = x.clone();
            for _ in 0..200 {
                y = y.add_scalar(0.5f32)?; // one recorded node per op
            }
            let trims = before.delta(Counter::Trim);
            assert!(
                (3..=4).contains(&trims),
                "200 ops with a trim size of 50: {trims} trims"
            );
            assert_eq!(before.delta(Counter::Execute), trims);
            assert!(
                y.is_pending(),
                "the ops after the last trim are still pending"
            );
            assert_eq!(y.to_vec::<f32>()?, ramp(53, 100.0, 1.0));
            // The trimmed pieces have one shape: they reuse one computation.
            assert!(
                before.delta(Counter::Compile) <= 2,
                "{} compiles",
                before.delta(Counter::Compile)
            );
            Ok(())
        },
    )
}

/// A balanced tree of pending adds over `leaves` distinct leaves: `leaves - 1` pending
/// nodes at depth log2(leaves), which a depth bound alone never trims.
fn balanced_tree(leaves: usize, len: usize) -> Result<LazyTensor> {
    let mut level = (0..leaves)
        .map(|i| LazyTensor::from_vec(ramp(len, i as f32, 0.0), &[len]))
        .collect::<Result<Vec<_>>>()?;
    while level.len() > 1 {
        level = level
            .chunks(2)
            .map(|p| p[0].add(&p[1]))
            .collect::<Result<Vec<_>>>()?;
    }
    Ok(level.pop().expect("one root"))
}

#[test]
fn trimming_bounds_wide_shallow_graphs_by_node_count() -> Result<()> {
    let _serial = serial();
    config::with(
        |c| c.trim_graph_nodes = 100,
        || -> Result<()> {
            let before = Counters::now();
            // 1,023 pending adds at depth 10, built level by level: each subtree over 128
            // leaves (127 nodes) passes the limit of 100 when its root is recorded, so the
            // eight of them are trimmed, and the levels above hold 7 pending nodes.
            let root = balanced_tree(1024, 7)?;
            let trims = before.delta(Counter::Trim);
            assert_eq!(trims, 8, "1,023 nodes with a node limit of 100");
            assert!(root.ir_node().count_pending(usize::MAX) <= 100);
            let want = (0..1024).map(|i| i as f32).sum::<f32>();
            assert_eq!(root.to_vec::<f32>()?, vec![want; 7]);
            Ok(())
        },
    )
}

#[test]
fn shared_subgraphs_are_counted_once_when_trimming_by_nodes() -> Result<()> {
    let _serial = serial();
    config::with(
        |c| c.trim_graph_nodes = 100,
        || -> Result<()> {
            let before = Counters::now();
            // y = y + y forty times: a bound summed over operands is 2^40, but the graph
            // holds 40 distinct nodes, so nothing is trimmed.
            let mut y = LazyTensor::from_vec(vec![1.0f32; 9], &[9])?;
            for _ in 0..40 {
                y = y.add(&y)?;
            }
            assert_eq!(before.delta(Counter::Trim), 0);
            assert_eq!(y.ir_node().count_pending(usize::MAX), 40);
            assert_eq!(y.to_vec::<f32>()?, vec![2f32.powi(40); 9]);
            // Past the limit in distinct nodes it is trimmed.
            let before = Counters::now();
            let mut z = LazyTensor::from_vec(vec![0.0f32; 9], &[9])?;
            for _ in 0..150 {
                z = z.add(&z)?.mul_scalar(0.5f32)?;
            }
            assert!(before.delta(Counter::Trim) >= 2);
            assert_eq!(z.to_vec::<f32>()?, vec![0.0; 9]);
            Ok(())
        },
    )
}

/// A chain of `n` adds, recorded without any trim.
fn long_chain(n: usize) -> Result<LazyTensor> {
    let mut y = LazyTensor::from_vec(vec![1.0f32; 8], &[8])?;
    for _ in 0..n {
        y = y.add_scalar(0.5f32)?;
    }
    Ok(y)
}

/// Runs `f` on a thread with the default 2 MiB stack, with trimming off.
fn on_small_stack<T: Send + 'static>(f: impl FnOnce() -> Result<T> + Send + 'static) -> Result<T> {
    std::thread::Builder::new()
        .stack_size(2 << 20)
        .spawn(move || config::with(|c| c.trim_graph_depth = usize::MAX, f))
        .expect("spawn")
        .join()
        .expect("the thread panicked")
}

#[test]
fn long_chain_hashes_and_drops_without_recursion() -> Result<()> {
    let _serial = serial();
    let live = lazyjit::live_tensors();
    on_small_stack(|| {
        let y = long_chain(100_000)?;
        assert!(y.is_pending());
        assert!(lazyjit::graph_hash(&[&y]).is_some()); // the post-order walk is iterative
        drop(y); // so is dropping the chain
        Ok(())
    })?;
    assert_eq!(lazyjit::live_tensors(), live);
    Ok(())
}

#[test]
fn long_chain_syncs_on_the_reference_backend() -> Result<()> {
    let _serial = serial();
    let v = on_small_stack(|| {
        config::with(
            |c| c.backend = BackendKind::Reference,
            || long_chain(3_000)?.to_vec::<f32>(),
        )
    })?;
    assert_eq!(v, vec![1_501.0; 8]);
    Ok(())
}

/// The planner and emitter recurse along fused chains; deep programs compile on a thread
/// with a stack sized for them, so the caller's small stack never overflows.
#[test]
fn long_chain_syncs_on_cranelift() -> Result<()> {
    let _serial = serial();
    let v = on_small_stack(|| {
        config::with(
            |c| c.backend = BackendKind::Cranelift,
            || long_chain(3_000)?.to_vec::<f32>(),
        )
    })?;
    assert_eq!(v, vec![1_501.0; 8]);
    Ok(())
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
        assert!(in_this_file(loc), "{e} points at {loc}");
        assert!(e.to_string().contains("tests/executor.rs"), "{e}");
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
