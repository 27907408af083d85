//! The computation cache: identical steps compile once, a new shape recompiles and says
//! why, new scalar values do not recompile, LRU eviction beyond the capacity.

use super::*;

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
        !why.roots.is_empty() && why.roots.iter().all(|&l| in_file(l, file!())),
        "{why}"
    );
    let text = why.to_string();
    assert!(text.contains(file!()) && text.contains("[29]"), "{text}");

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
                        if *b == 1.0 && *n == 0.0 && in_file(*location, file!())
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
