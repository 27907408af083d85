//! Soak tests: long runs that must keep memory flat and the executor's caches bounded.
//! Every test is `#[ignore]`d (each takes from seconds to minutes in a release build); run them
//! with
//!
//! ```sh
//! cargo test --release --test soak -- --ignored --nocapture
//! ```
//!
//! (`--nocapture` shows the figures: steps per second, RSS at the start and the end.)
//! `LAZYJIT_SOAK_STEPS=N` changes the number of training steps (default 100,000) and
//! `LAZYJIT_SOAK_SHAPES=N` the number of distinct shapes (default 5,000).
//!
//! RSS is read from `/proc/self/statm` (Linux); elsewhere the RSS checks are skipped. It is
//! sampled after a warm-up (allocator pools, the computation cache, recycled buffers and the
//! device-data cache reach their steady state) and must not grow by more than a small slack
//! afterwards. The tests share the process-global executor (counters, cache, `mark_step`), so
//! they take turns through `support::serial`.

mod support;

use lazyjit::metrics::{self, Counter};
use lazyjit::{config, DType, LazyTensor};
use std::time::Instant;
use support::{env_or, serial};

/// Resident set size in bytes, from `/proc/self/statm` (None where it does not exist).
fn rss_bytes() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = s.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages * page_size())
}

/// The page size, from `sysconf(_SC_PAGESIZE)` (4 KiB if that fails).
fn page_size() -> u64 {
    extern "C" {
        fn sysconf(name: i32) -> i64;
    }
    // _SC_PAGESIZE on Linux
    const SC_PAGESIZE: i32 = 30;
    // SAFETY: sysconf has no preconditions and reads no memory of ours.
    let p = unsafe { sysconf(SC_PAGESIZE) };
    if p > 0 {
        p as u64
    } else {
        4096
    }
}

fn mib(b: u64) -> f64 {
    b as f64 / (1024.0 * 1024.0)
}

/// RSS samples of one soak: at the start, after warm-up, the largest after warm-up, the end.
struct Rss {
    start: u64,
    warm: u64,
    max: u64,
    end: u64,
}

impl Rss {
    fn start() -> Rss {
        let start = rss_bytes().unwrap_or(0);
        Rss {
            start,
            warm: 0,
            max: 0,
            end: start,
        }
    }

    fn warmed_up(&mut self) {
        self.warm = rss_bytes().unwrap_or(0);
    }

    fn sample(&mut self) {
        self.max = self.max.max(rss_bytes().unwrap_or(0));
    }

    fn finish(&mut self) {
        self.end = rss_bytes().unwrap_or(0);
        self.max = self.max.max(self.end);
    }

    fn summary(&self) -> String {
        format!(
            "RSS start {:.1} MiB, after warm-up {:.1} MiB, max {:.1} MiB, end {:.1} MiB",
            mib(self.start),
            mib(self.warm),
            mib(self.max),
            mib(self.end)
        )
    }

    /// RSS after warm-up never grew by more than [`SLACK`] (skipped where RSS is unknown).
    fn assert_flat(&self) {
        if self.warm > 0 {
            assert!(
                self.max <= self.warm + SLACK,
                "RSS grew from {:.1} MiB after warm-up to {:.1} MiB",
                mib(self.warm),
                mib(self.max)
            );
        }
    }
}

/// Allowed RSS growth after warm-up.
const SLACK: u64 = 16 << 20;

/// An MLP-like training loop: `relu(x·w1 + b1)·w2`, a mean-square loss, and updates
/// `w = w - lr·g` with `lr` a Rust scalar that changes every step (a parameter: it must not
/// recompile), `mark_step` after every step and a loss read every 100 steps. After warm-up
/// the step graph is compiled once and hit in the cache on every later step, and RSS stays
/// flat (buffers are recycled, nothing accumulates).
#[test]
#[ignore]
fn training_steps_keep_memory_flat_and_compile_once() -> lazyjit::Result<()> {
    let _g = serial();
    let steps = env_or::<usize>("LAZYJIT_SOAK_STEPS", 100_000);
    let warmup = 200.min(steps / 2);
    let (n, d, h) = (32, 64, 64);
    let x = LazyTensor::randn_seeded(&[n, d], DType::F32, 0.0, 1.0, 1)?;
    let target = LazyTensor::randn_seeded(&[n, 1], DType::F32, 0.0, 1.0, 2)?;
    let mut w1 = LazyTensor::randn_seeded(&[d, h], DType::F32, 0.0, 0.1, 3)?;
    let mut b1 = LazyTensor::zeros(&[h], DType::F32)?;
    let mut w2 = LazyTensor::randn_seeded(&[h, 1], DType::F32, 0.0, 0.1, 4)?;
    lazyjit::mark_step()?;

    let mut first_loss = f32::NAN;
    let mut last_loss = f32::NAN;
    let (mut compiles_warm, mut hits_warm, mut live_warm) = (0, 0, 0);
    let mut t_warm = Instant::now();
    let mut rss = Rss::start();
    for step in 0..steps {
        // forward
        let pre = x.matmul(&w1)?.add(&b1)?;
        let hid = pre.relu()?;
        let y = hid.matmul(&w2)?;
        let err = y.sub(&target)?;
        let loss = err.square()?.mean_all()?;
        // hand-written gradients of the mean-square loss (no autograd yet)
        let scale = 2.0 / n as f32;
        let gy = err.mul_scalar(scale)?; // [n, 1]
        let gw2 = hid.t()?.matmul(&gy)?; // [h, 1]
        let gh = gy.matmul(&w2.t()?)?; // [n, h]
        let mask = pre.gt_scalar(0.0f32)?.cast(DType::F32)?;
        let gpre = gh.mul(&mask)?;
        let gw1 = x.t()?.matmul(&gpre)?; // [d, h]
        let gb1 = gpre.sum(&[0], false)?; // [h]

        // lr changes every step: a scalar parameter, never 0 or 1
        let lr = 1e-3f32 / (1.0 + step as f32 * 1e-4);
        w1 = w1.sub(&gw1.mul_scalar(lr)?)?;
        b1 = b1.sub(&gb1.mul_scalar(lr)?)?;
        w2 = w2.sub(&gw2.mul_scalar(lr)?)?;
        if step % 100 == 99 {
            lazyjit::sync(&[&loss, &w1, &b1, &w2])?;
            let l = loss.item::<f32>()?;
            if first_loss.is_nan() {
                first_loss = l;
            }
            last_loss = l;
        }
        drop(loss);
        lazyjit::mark_step()?;
        if step + 1 == warmup {
            rss.warmed_up();
            compiles_warm = metrics::value(Counter::Compile);
            hits_warm = metrics::value(Counter::CacheHit);
            live_warm = lazyjit::live_tensors();
            t_warm = Instant::now();
        }
        if step >= warmup && step % 1000 == 0 {
            rss.sample();
        }
    }
    let secs = t_warm.elapsed().as_secs_f64();
    rss.finish();
    let compiles = metrics::value(Counter::Compile) - compiles_warm;
    let hits = metrics::value(Counter::CacheHit) - hits_warm;
    println!(
        "training soak: {steps} steps, {:.0} steps/s after warm-up; loss {first_loss} -> {last_loss}; \
         {}; compiles after warm-up {compiles}, cache hits {hits}, live tensors {} -> {}",
        (steps - warmup) as f64 / secs,
        rss.summary(),
        live_warm,
        lazyjit::live_tensors(),
    );
    assert_eq!(compiles, 0, "the step graph was recompiled after warm-up");
    assert!(
        hits as usize >= steps - warmup,
        "fewer cache hits ({hits}) than steps"
    );
    assert!(last_loss.is_finite(), "the loss diverged: {last_loss}");
    assert!(
        lazyjit::live_tensors() <= live_warm,
        "live tensors grew from {live_warm} to {}",
        lazyjit::live_tensors()
    );
    rss.assert_flat();
    Ok(())
}

/// 5,000 distinct shapes through a computation cache of 16 entries: every shape compiles
/// once, the cache evicts, stays at 16 entries, and RSS stays bounded (evicted computations
/// free their code memory and their buffers).
#[test]
#[ignore]
fn distinct_shapes_through_a_small_cache_keep_memory_bounded() -> lazyjit::Result<()> {
    let _g = serial();
    let shapes = env_or::<usize>("LAZYJIT_SOAK_SHAPES", 5_000);
    let warmup = 500.min(shapes / 2);
    config::with(
        |c| c.cache_capacity = 16,
        || -> lazyjit::Result<()> {
            let mut rss = Rss::start();
            let c0 = metrics::value(Counter::Compile);
            let e0 = metrics::value(Counter::CacheEvict);
            let t0 = Instant::now();
            for i in 0..shapes {
                // (i % 97, i / 97) is distinct for every i: 5,000 distinct shapes.
                let shape = [1 + i % 97, 1 + i / 97];
                // One graph per shape: the intermediates are dropped before the read.
                let s = {
                    let a = LazyTensor::full(&shape, 0.5f32)?;
                    let b = LazyTensor::iota(&shape, 1, DType::F32)?;
                    let y = a.mul(&b)?.exp()?.add_scalar(1.5f32)?;
                    y.sum(&[1], false)?.max_all()?
                };
                let v = s.item::<f32>()?;
                assert!(v.is_finite(), "shape {shape:?}: {v}");
                assert!(
                    lazyjit::cache_len() <= 16,
                    "cache holds {}",
                    lazyjit::cache_len()
                );
                lazyjit::mark_step()?;
                if i + 1 == warmup {
                    rss.warmed_up();
                }
                if i >= warmup && i % 100 == 0 {
                    rss.sample();
                }
            }
            let secs = t0.elapsed().as_secs_f64();
            rss.finish();
            let compiles = metrics::value(Counter::Compile) - c0;
            let evictions = metrics::value(Counter::CacheEvict) - e0;
            println!(
                "shape soak: {shapes} shapes in {secs:.1} s ({:.0} compiles/s); {compiles} compiles, \
                 {evictions} evictions, cache {} entries; {}",
                compiles as f64 / secs,
                lazyjit::cache_len(),
                rss.summary(),
            );
            assert!(
                compiles as usize >= shapes,
                "{compiles} compiles for {shapes} shapes"
            );
            assert!(
                evictions as usize >= shapes - 16,
                "only {evictions} evictions"
            );
            rss.assert_flat();
            Ok(())
        },
    )
}
