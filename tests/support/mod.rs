//! Helpers shared by the integration tests of `lazyjit` (`mod support;` in each test crate):
//! serialising the tests of one binary (the executor's metrics, cache and `mark_step` are
//! process-global), counter snapshots and environment knobs. The seedable random numbers
//! are `lazyjit_lowering::testing::rng::Rng`.

// Each test binary compiles its own copy of this module and uses only part of it.
#![allow(dead_code)]

use lazyjit::metrics::{self, Counter};
use std::sync::{Mutex, MutexGuard};

/// Serialises the tests of one test binary (they share the process-global executor state).
static SERIAL: Mutex<()> = Mutex::new(());

/// Takes [`SERIAL`] (recovering from a test that panicked while holding it).
pub fn serial_lock() -> MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

/// [`serial_lock`], then `mark_step`, which resets the executor's count of IR nodes recorded
/// since the last step: plain syncs do not reset it, so without this a test that records
/// many nodes (the 100,000-op chain) would make the next test trim in mid-graph and compile
/// an unexpected graph. Under the lock nothing is pending, so this runs nothing.
pub fn serial() -> MutexGuard<'static, ()> {
    let guard = serial_lock();
    lazyjit::mark_step().expect("nothing is pending between tests");
    guard
}

/// A snapshot of every well-known counter, for deltas.
pub struct Counters(Vec<u64>);

impl Counters {
    /// The counters now.
    pub fn now() -> Counters {
        Counters(Counter::ALL.iter().map(|&c| metrics::value(c)).collect())
    }

    /// How much `c` grew since the snapshot.
    pub fn delta(&self, c: Counter) -> u64 {
        metrics::value(c) - self.0[c as usize]
    }
}

/// The value of environment variable `name` as a number, or `default` when it is unset or
/// not a number.
pub fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(default)
}
