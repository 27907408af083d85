//! Process-wide metrics for the lazy-tensor executor, in the style of PyTorch LTC's
//! `metrics.h`: counters, timing metrics with percentiles, a text [`report`] and [`reset`].
//!
//! * **Well-known counters** ([`Counter`]) are one static [`AtomicU64`] each, updated with
//!   `Relaxed` ordering: [`inc`] and [`add`] are a single lock-free `fetch_add`, cheap enough
//!   for the per-op hot path.
//! * **Named counters** ([`inc_named`]) are for open-ended names such as `"fallback::exp"`.
//!   They live behind a mutex and are meant for rare events.
//! * **Metrics** ([`Metric`]) keep the count, sum, minimum and maximum of every sample since the
//!   last [`reset`], and a ring buffer of the most recent samples (see
//!   [`set_sample_capacity`]) from which [`metric`] computes nearest-rank percentiles. Recording
//!   takes an uncontended mutex; it is meant for per-sync events, not per-op ones.
//!
//! * **The buffer pool** ([`buffer_pool`]): what the process-wide pool of dropped large
//!   buffers holds, and its hits, misses and evictions ([`crate::Config::buffer_pool_bytes`]
//!   sets its limit).
//!
//! All state is global to the process, so concurrent users (for example tests running in
//! parallel) see each other's increments: compare values before and after rather than assuming
//! absolute values.
//!
//! ```
//! use lazyjit::metrics::{self, Counter, Metric};
//! use std::time::Duration;
//!
//! let before = metrics::value(Counter::CacheHit);
//! metrics::inc(Counter::CacheHit);
//! assert!(metrics::value(Counter::CacheHit) > before);
//!
//! metrics::record(Metric::Compile, Duration::from_micros(1500));
//! let snap = metrics::metric(Metric::Compile).unwrap();
//! assert!(snap.count >= 1 && snap.is_duration);
//!
//! let text = metrics::report();
//! assert!(text.contains("cache_hit: "));
//! assert!(text.contains("compile_time"));
//! ```

mod report;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

// ---------------------------------------------------------------------------------------------
// Counters
// ---------------------------------------------------------------------------------------------

/// Well-known counters, lock-free (one static [`AtomicU64`] each, `Relaxed` ordering).
///
/// ```
/// use lazyjit::metrics::{self, Counter};
///
/// assert_eq!(Counter::DeviceDataCacheMiss.name(), "device_data_cache_miss");
/// let before = metrics::value(Counter::NodeCreate);
/// metrics::add(Counter::NodeCreate, 3);
/// assert!(metrics::value(Counter::NodeCreate) >= before + 3);
/// ```
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum Counter {
    /// `"compile"`: a graph was compiled (a compilation-cache miss that led to a compile).
    Compile,
    /// `"cache_hit"`: a compilation-cache lookup found a compiled computation.
    CacheHit,
    /// `"cache_miss"`: a compilation-cache lookup found nothing.
    CacheMiss,
    /// `"cache_evict"`: a compiled computation was evicted from the cache.
    CacheEvict,
    /// `"execute"`: a compiled computation ran.
    Execute,
    /// `"sync"`: `sync()` calls that had pending IR to materialise.
    Sync,
    /// `"mark_step"`: step boundaries.
    MarkStep,
    /// `"tensor_create"`: lazy tensors created.
    TensorCreate,
    /// `"tensor_destroy"`: lazy tensors dropped.
    TensorDestroy,
    /// `"node_create"`: IR nodes recorded.
    NodeCreate,
    /// `"device_data_cache_hit"`: a constant's device buffer was reused.
    DeviceDataCacheHit,
    /// `"device_data_cache_miss"`: a constant's device buffer had to be created.
    DeviceDataCacheMiss,
    /// `"inlined_scalar"`: scalars inlined into the graph as constants.
    InlinedScalar,
    /// `"trim"`: automatic graph trims (the pending graph grew too large and was synced).
    Trim,
    /// `"fallback"`: total fallbacks to eager execution (per-op ones are named counters
    /// such as `"fallback::exp"`).
    Fallback,
    /// `"error"`: errors reported by the executor.
    Error,
    /// `"donated"`: parameter buffers donated to a computation, which wrote an output into
    /// them in place (see `docs/executor.md`, "Buffer donation").
    Donated,
    /// `"fn_trace"`: traces of a compiled function's closure ([`crate::CompiledFn`]), one
    /// per new input signature.
    FnTrace,
    /// `"fn_evict"`: traced versions of compiled functions evicted (beyond
    /// [`crate::CompiledFn::max_versions`]).
    FnEvict,
}

/// Number of well-known counters.
const NUM_COUNTERS: usize = 19;

impl Counter {
    /// Every well-known counter, in declaration order (`ALL[c as usize] == c`).
    pub const ALL: [Counter; NUM_COUNTERS] = [
        Counter::Compile,
        Counter::CacheHit,
        Counter::CacheMiss,
        Counter::CacheEvict,
        Counter::Execute,
        Counter::Sync,
        Counter::MarkStep,
        Counter::TensorCreate,
        Counter::TensorDestroy,
        Counter::NodeCreate,
        Counter::DeviceDataCacheHit,
        Counter::DeviceDataCacheMiss,
        Counter::InlinedScalar,
        Counter::Trim,
        Counter::Fallback,
        Counter::Error,
        Counter::Donated,
        Counter::FnTrace,
        Counter::FnEvict,
    ];

    /// The counter's name in reports and for [`counter_value`], e.g. `"cache_hit"`.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Counter::Compile => "compile",
            Counter::CacheHit => "cache_hit",
            Counter::CacheMiss => "cache_miss",
            Counter::CacheEvict => "cache_evict",
            Counter::Execute => "execute",
            Counter::Sync => "sync",
            Counter::MarkStep => "mark_step",
            Counter::TensorCreate => "tensor_create",
            Counter::TensorDestroy => "tensor_destroy",
            Counter::NodeCreate => "node_create",
            Counter::DeviceDataCacheHit => "device_data_cache_hit",
            Counter::DeviceDataCacheMiss => "device_data_cache_miss",
            Counter::InlinedScalar => "inlined_scalar",
            Counter::Trim => "trim",
            Counter::Fallback => "fallback",
            Counter::Error => "error",
            Counter::Donated => "donated",
            Counter::FnTrace => "fn_trace",
            Counter::FnEvict => "fn_evict",
        }
    }

    /// The well-known counter with this name, if any.
    fn from_name(name: &str) -> Option<Counter> {
        Counter::ALL.into_iter().find(|c| c.name() == name)
    }
}

static COUNTERS: [AtomicU64; NUM_COUNTERS] = [const { AtomicU64::new(0) }; NUM_COUNTERS];

/// Dynamic counters, by name. Only names that are not well-known counters are stored here.
static NAMED: Mutex<BTreeMap<String, u64>> = Mutex::new(BTreeMap::new());

/// Locks `m`, ignoring poisoning: the protected data is always left consistent.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Adds 1 to a well-known counter (one relaxed atomic add).
#[inline]
pub fn inc(c: Counter) {
    add(c, 1);
}

/// Adds `n` to a well-known counter (one relaxed atomic add; wraps on overflow).
#[inline]
pub fn add(c: Counter, n: u64) {
    COUNTERS[c as usize].fetch_add(n, Ordering::Relaxed);
}

/// Current value of a well-known counter.
#[inline]
#[must_use]
pub fn value(c: Counter) -> u64 {
    COUNTERS[c as usize].load(Ordering::Relaxed)
}

/// Adds 1 to a dynamic counter by name (e.g. `"fallback::exp"`), stored in a
/// `Mutex<BTreeMap<String, u64>>`. Takes a lock and, the first time a name is seen, allocates;
/// use [`inc`] on hot paths.
///
/// A well-known counter's name (e.g. `"compile"`) increments that counter's atomic instead,
/// so each name has exactly one value.
///
/// ```
/// use lazyjit::metrics;
///
/// let before = metrics::counter_value("fallback::doc_example");
/// metrics::inc_named("fallback::doc_example");
/// assert_eq!(metrics::counter_value("fallback::doc_example"), before + 1);
/// ```
pub fn inc_named(name: &str) {
    if let Some(c) = Counter::from_name(name) {
        inc(c);
        return;
    }
    let mut map = lock(&NAMED);
    match map.get_mut(name) {
        Some(v) => *v = v.wrapping_add(1),
        None => {
            map.insert(name.to_owned(), 1);
        }
    }
}

/// Value of any counter by name: well-known names resolve to the atomic, others to the map;
/// 0 if never incremented.
///
/// ```
/// use lazyjit::metrics::{self, Counter};
///
/// assert_eq!(metrics::counter_value("no::such::counter::ever"), 0);
/// let _ = metrics::counter_value(Counter::Sync.name()); // same as metrics::value(Counter::Sync)
/// ```
#[must_use]
pub fn counter_value(name: &str) -> u64 {
    match Counter::from_name(name) {
        Some(c) => value(c),
        None => lock(&NAMED).get(name).copied().unwrap_or(0),
    }
}

/// Names of all counters (well-known and named) with a non-zero value, sorted.
///
/// ```
/// use lazyjit::metrics;
///
/// metrics::inc_named("doc::counter_names");
/// let names = metrics::counter_names();
/// assert!(names.iter().any(|n| n == "doc::counter_names"));
/// assert!(names.windows(2).all(|w| w[0] <= w[1]));
/// ```
#[must_use]
pub fn counter_names() -> Vec<String> {
    counter_entries().into_iter().map(|(n, _)| n).collect()
}

/// `(name, value)` of every non-zero counter, sorted by name.
fn counter_entries() -> Vec<(String, u64)> {
    let mut out: Vec<(String, u64)> = Counter::ALL
        .into_iter()
        .map(|c| (c.name().to_owned(), value(c)))
        .filter(|&(_, v)| v != 0)
        .collect();
    out.extend(
        lock(&NAMED)
            .iter()
            .filter(|&(_, &v)| v != 0)
            .map(|(n, &v)| (n.clone(), v)),
    );
    out.sort_unstable_by(|a, b| a.0.cmp(&b.0));
    out
}

// ---------------------------------------------------------------------------------------------
// Metrics
// ---------------------------------------------------------------------------------------------

/// Timing metrics with percentiles (and one value metric, [`Metric::GraphSize`]).
///
/// ```
/// use lazyjit::metrics::Metric;
///
/// assert_eq!(Metric::Trace.name(), "trace_time");
/// assert_eq!(Metric::ALL.len(), 4);
/// ```
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum Metric {
    /// `"trace_time"`: per sync, collecting the pending graph (post-order, hash, cache lookup).
    Trace,
    /// `"compile_time"`: compiling a graph.
    Compile,
    /// `"execute_time"`: running a compiled computation.
    Execute,
    /// `"graph_size"`: nodes per synced graph (a value metric, not a duration).
    GraphSize,
}

/// Number of metrics.
const NUM_METRICS: usize = 4;

impl Metric {
    /// Every metric, in declaration order (`ALL[m as usize] == m`).
    pub const ALL: [Metric; NUM_METRICS] = [
        Metric::Trace,
        Metric::Compile,
        Metric::Execute,
        Metric::GraphSize,
    ];

    /// The metric's name in reports, e.g. `"compile_time"`.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Metric::Trace => "trace_time",
            Metric::Compile => "compile_time",
            Metric::Execute => "execute_time",
            Metric::GraphSize => "graph_size",
        }
    }

    /// Whether samples are durations in seconds (reported in human time units).
    fn is_duration(self) -> bool {
        !matches!(self, Metric::GraphSize)
    }
}

/// A point-in-time summary of one [`Metric`], from [`metric`].
///
/// `count`, `sum`, `min` and `max` cover every sample since the last [`reset`] (or
/// [`set_sample_capacity`]); the percentiles cover only the retained samples (the most recent
/// ones, up to the sample capacity). Durations are in seconds.
#[derive(Clone, Debug, PartialEq)]
pub struct MetricSnapshot {
    /// The metric's name, as [`Metric::name`].
    pub name: &'static str,
    /// Total number of samples recorded since the last reset.
    pub count: u64,
    /// Sum of all samples since the last reset.
    pub sum: f64,
    /// Smallest sample since the last reset.
    pub min: f64,
    /// Largest sample since the last reset.
    pub max: f64,
    /// Median of the retained samples (nearest rank).
    pub p50: f64,
    /// 90th percentile of the retained samples (nearest rank).
    pub p90: f64,
    /// 99th percentile of the retained samples (nearest rank).
    pub p99: f64,
    /// Whether the values are durations in seconds (false for [`Metric::GraphSize`]).
    pub is_duration: bool,
}

/// Default number of retained samples per metric (as in LTC).
const DEFAULT_SAMPLE_CAPACITY: usize = 1024;

/// Current ring capacity, applied to rings when they are (re)created.
static SAMPLE_CAPACITY: AtomicUsize = AtomicUsize::new(DEFAULT_SAMPLE_CAPACITY);

/// Samples of one metric: a ring buffer of the most recent `cap` samples, plus count, sum,
/// min and max over all samples since it was cleared.
#[derive(Debug)]
struct Ring {
    /// Retained samples; once full, `buf[next]` is the oldest.
    buf: Vec<f64>,
    /// Maximum number of retained samples (at least 1).
    cap: usize,
    /// Slot the next sample overwrites once `buf` is full.
    next: usize,
    count: u64,
    sum: f64,
    min: f64,
    max: f64,
}

impl Ring {
    /// An empty ring retaining up to `cap` samples (`cap` 0 is treated as 1).
    const fn new(cap: usize) -> Ring {
        Ring {
            buf: Vec::new(),
            cap: if cap == 0 { 1 } else { cap },
            next: 0,
            count: 0,
            sum: 0.0,
            min: f64::INFINITY,
            max: f64::NEG_INFINITY,
        }
    }

    fn push(&mut self, v: f64) {
        if self.buf.len() < self.cap {
            if self.buf.capacity() == 0 {
                // One allocation up front rather than a series of doublings.
                self.buf
                    .reserve_exact(self.cap.min(DEFAULT_SAMPLE_CAPACITY));
            }
            self.buf.push(v);
        } else {
            self.buf[self.next] = v;
            self.next = (self.next + 1) % self.cap;
        }
        self.count += 1;
        self.sum += v;
        self.min = self.min.min(v);
        self.max = self.max.max(v);
    }

    /// Retained samples, oldest first.
    #[cfg(test)]
    fn samples(&self) -> Vec<f64> {
        let (newer, older) = self.buf.split_at(self.next);
        older.iter().chain(newer).copied().collect()
    }

    fn snapshot(&self, m: Metric) -> Option<MetricSnapshot> {
        if self.count == 0 || self.buf.is_empty() {
            return None;
        }
        let mut sorted = self.buf.clone();
        sorted.sort_unstable_by(f64::total_cmp);
        let (p50, p90, p99) = percentiles(&sorted);
        Some(MetricSnapshot {
            name: m.name(),
            count: self.count,
            sum: self.sum,
            min: self.min,
            max: self.max,
            p50,
            p90,
            p99,
            is_duration: m.is_duration(),
        })
    }
}

/// Nearest-rank percentile `p` (in `(0, 100]`) of a non-empty ascending slice: the smallest
/// sample such that at least `p`% of the samples are less than or equal to it.
fn nearest_rank(sorted: &[f64], p: f64) -> f64 {
    debug_assert!(!sorted.is_empty());
    let n = sorted.len();
    let rank = ((p / 100.0) * n as f64).ceil() as usize; // 1-based
    sorted[rank.clamp(1, n) - 1]
}

/// `(p50, p90, p99)` of a non-empty ascending slice, by nearest rank.
fn percentiles(sorted: &[f64]) -> (f64, f64, f64) {
    (
        nearest_rank(sorted, 50.0),
        nearest_rank(sorted, 90.0),
        nearest_rank(sorted, 99.0),
    )
}

static RINGS: [Mutex<Ring>; NUM_METRICS] =
    [const { Mutex::new(Ring::new(DEFAULT_SAMPLE_CAPACITY)) }; NUM_METRICS];

/// Records a duration sample (stored as seconds).
///
/// ```
/// use lazyjit::metrics::{self, Metric};
/// use std::time::{Duration, Instant};
///
/// let t = Instant::now();
/// // ... execute ...
/// metrics::record(Metric::Execute, t.elapsed());
/// metrics::record(Metric::Execute, Duration::from_nanos(850));
/// assert!(metrics::metric(Metric::Execute).unwrap().count >= 2);
/// ```
pub fn record(m: Metric, d: Duration) {
    record_value(m, d.as_secs_f64());
}

/// Records a plain value sample (e.g. nodes per graph for [`Metric::GraphSize`]). For the
/// duration metrics the value is taken to be in seconds.
///
/// ```
/// use lazyjit::metrics::{self, Metric};
///
/// metrics::record_value(Metric::GraphSize, 42.0);
/// let snap = metrics::metric(Metric::GraphSize).unwrap();
/// assert!(!snap.is_duration && snap.max >= 42.0);
/// ```
pub fn record_value(m: Metric, v: f64) {
    lock(&RINGS[m as usize]).push(v);
}

/// Snapshot of a metric: count (total samples ever since reset), sum, min, max, and
/// percentiles over the retained samples. `None` if it has no samples.
///
/// ```
/// use lazyjit::metrics::{self, Metric};
/// use std::time::Duration;
///
/// metrics::record(Metric::Trace, Duration::from_micros(3));
/// let snap = metrics::metric(Metric::Trace).unwrap();
/// assert_eq!(snap.name, "trace_time");
/// assert!(snap.min <= snap.p50 && snap.p50 <= snap.p90 && snap.p90 <= snap.p99);
/// assert!(snap.p99 <= snap.max);
/// ```
#[must_use]
pub fn metric(m: Metric) -> Option<MetricSnapshot> {
    lock(&RINGS[m as usize]).snapshot(m)
}

/// Sets the ring-buffer capacity per metric (default 1024 samples, like LTC; 0 is treated
/// as 1). Setting it clears every metric: the retained samples and also the count, sum, min and
/// max, so that percentiles are always available when [`metric`] returns `Some`. Counters are
/// untouched.
///
/// ```
/// use lazyjit::metrics;
///
/// metrics::set_sample_capacity(4096);
/// ```
pub fn set_sample_capacity(n: usize) {
    SAMPLE_CAPACITY.store(n, Ordering::Relaxed);
    for ring in &RINGS {
        *lock(ring) = Ring::new(n);
    }
}

/// Zeroes every counter (well-known and named, and the buffer pool's hits, misses and
/// evictions) and clears every metric. The sample capacity is kept.
///
/// ```
/// use lazyjit::metrics;
///
/// metrics::reset();
/// ```
pub fn reset() {
    for c in &COUNTERS {
        c.store(0, Ordering::Relaxed);
    }
    lock(&NAMED).clear();
    lazyjit_lowering::tensor::reset_pool_counters();
    let cap = SAMPLE_CAPACITY.load(Ordering::Relaxed);
    for ring in &RINGS {
        *lock(ring) = Ring::new(cap);
    }
}

// ---------------------------------------------------------------------------------------------
// Buffer pool
// ---------------------------------------------------------------------------------------------

pub use lazyjit_lowering::tensor::PoolStats as BufferPoolStats;
pub use report::report;

/// The process-wide buffer pool now: bytes and buffers held, its limit
/// ([`crate::Config::buffer_pool_bytes`]), and since the last [`reset`] the allocations it
/// served (hits), those it could not (misses) and the parked buffers it freed to stay within
/// its limit (evictions). Only buffers of 64 KiB and more are pooled, and only outputs that
/// are overwritten completely take from it.
///
/// ```
/// use lazyjit::{metrics, LazyTensor};
/// let before = metrics::buffer_pool();
/// let x = LazyTensor::from_vec(vec![1.0f32; 1 << 16], &[1 << 16])?;
/// drop(x.exp()?.to_vec::<f32>()?); // a 256 KiB output: taken from the pool or a miss
/// let after = metrics::buffer_pool();
/// assert!(after.hits + after.misses > before.hits + before.misses);
/// assert!(after.bytes_held <= after.limit);
/// # Ok::<(), lazyjit::Error>(())
/// ```
#[must_use]
pub fn buffer_pool() -> BufferPoolStats {
    lazyjit_lowering::tensor::pool_stats()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counter_names_and_order() {
        for (i, c) in Counter::ALL.into_iter().enumerate() {
            assert_eq!(c as usize, i);
            assert_eq!(Counter::from_name(c.name()), Some(c));
        }
        for (i, m) in Metric::ALL.into_iter().enumerate() {
            assert_eq!(m as usize, i);
        }
        assert_eq!(Counter::from_name("fallback::exp"), None);
    }

    #[test]
    fn ring_overwrites_oldest() {
        let mut r = Ring::new(3);
        for v in 1..=5 {
            r.push(v as f64);
        }
        assert_eq!(r.samples(), vec![3.0, 4.0, 5.0]);
        assert_eq!(r.count, 5);
        assert_eq!(r.sum, 15.0);
        assert_eq!((r.min, r.max), (1.0, 5.0));
        let s = r.snapshot(Metric::GraphSize).unwrap();
        assert_eq!((s.p50, s.p90, s.p99), (4.0, 5.0, 5.0));
        assert_eq!((s.min, s.max, s.count), (1.0, 5.0, 5));
        assert!(!s.is_duration);

        let mut r = Ring::new(0); // treated as 1
        r.push(1.0);
        r.push(2.0);
        assert_eq!(r.samples(), vec![2.0]);
        assert!(Ring::new(8).snapshot(Metric::Trace).is_none());
    }

    #[test]
    fn percentiles_nearest_rank() {
        let v: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(percentiles(&v), (50.0, 90.0, 99.0));
        assert_eq!(percentiles(&[7.0]), (7.0, 7.0, 7.0));
        let v: Vec<f64> = (1..=10).map(f64::from).collect();
        assert_eq!(percentiles(&v), (5.0, 9.0, 10.0));
    }

    #[test]
    fn named_counters() {
        assert_eq!(counter_value("test::metrics::never_incremented"), 0);
        let before = counter_value("test::metrics::a");
        inc_named("test::metrics::a");
        inc_named("test::metrics::a");
        inc_named("test::metrics::b");
        assert_eq!(counter_value("test::metrics::a"), before + 2);
        let names = counter_names();
        assert!(names.windows(2).all(|w| w[0] < w[1]), "{names:?}");
        assert!(names.iter().any(|n| n == "test::metrics::a"));
        assert!(names.iter().any(|n| n == "test::metrics::b"));
        assert!(!names
            .iter()
            .any(|n| n == "test::metrics::never_incremented"));
    }

    #[test]
    fn well_known_name_aliases_atomic() {
        // Other code may bump well-known counters concurrently, so only check a lower bound.
        let before = value(Counter::InlinedScalar);
        inc(Counter::InlinedScalar);
        add(Counter::InlinedScalar, 2);
        inc_named("inlined_scalar");
        assert!(value(Counter::InlinedScalar) >= before + 4);
        assert!(counter_value("inlined_scalar") >= before + 4);
        assert!(!lock(&NAMED).contains_key("inlined_scalar"));
    }
}
