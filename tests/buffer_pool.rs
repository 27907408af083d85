//! The process-wide pool of dropped large buffers follows `Config::buffer_pool_bytes` and
//! reports itself in `metrics::buffer_pool`. Its own test binary: the limit is global to the
//! process, so no other test may change it meanwhile.

use lazyjit::{config, metrics, LazyTensor, Result};

/// Computes `exp` of `n` f32 ones (an output of `4 n` bytes) and drops every buffer.
fn compute_and_drop(n: usize) -> Result<()> {
    let x = LazyTensor::from_vec(vec![1.0f32; n], &[n])?;
    let y = x.exp()?;
    assert_eq!(y.to_vec::<f32>()?.len(), n);
    Ok(())
}

/// Elements of f32 tensors of 256 KiB and a little more (each its own size).
fn size(k: usize) -> usize {
    (64 << 10) + 1024 * k
}

#[test]
fn the_limit_is_followed_and_reported() -> Result<()> {
    let before = config::get();

    // 0: nothing is pooled, every recyclable allocation misses.
    config::update(|c| c.buffer_pool_bytes = 0);
    assert_eq!(metrics::buffer_pool().limit, 0);
    let (m0, h0) = (metrics::buffer_pool().misses, metrics::buffer_pool().hits);
    for k in 0..3 {
        compute_and_drop(size(k))?;
        compute_and_drop(size(k))?;
    }
    let p = metrics::buffer_pool();
    assert_eq!((p.bytes_held, p.buffers_held, p.hits), (0, 0, h0), "{p:?}");
    assert!(p.misses >= m0 + 6, "{p:?}");

    // A small limit: held bytes stay within it, the oldest buffers are evicted.
    let limit = 1 << 20;
    config::update(|c| c.buffer_pool_bytes = limit);
    let e0 = metrics::buffer_pool().evictions;
    for k in 0..8 {
        compute_and_drop(size(k))?;
        assert!(metrics::buffer_pool().bytes_held <= limit);
    }
    let p = metrics::buffer_pool();
    assert!(p.bytes_held > 0, "{p:?}");
    assert!(
        p.evictions > e0,
        "eight buffers of 256 KiB do not fit in 1 MiB: {p:?}"
    );
    // Lowering the limit evicts at once.
    config::update(|c| c.buffer_pool_bytes = 300 << 10);
    assert!(metrics::buffer_pool().bytes_held <= 300 << 10);

    // The default: a second computation of the same size reuses the first one's buffers.
    config::set((*before).clone());
    assert_eq!(metrics::buffer_pool().limit, before.buffer_pool_bytes);
    compute_and_drop(size(20))?;
    let h0 = metrics::buffer_pool().hits;
    compute_and_drop(size(20))?;
    let p = metrics::buffer_pool();
    assert!(p.hits > h0, "{p:?}");
    assert!(metrics::report().contains(&format!("hits: {}; ", p.hits)));
    Ok(())
}

#[test]
fn a_thread_override_does_not_change_the_process_wide_limit() {
    // `with` is per thread; the pool is shared by every thread.
    let limit = config::with(|c| c.buffer_pool_bytes = 12345, metrics::buffer_pool).limit;
    assert_ne!(limit, 12345);
}
