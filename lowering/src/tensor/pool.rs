//! The process-wide recycling pool of large buffers (at least [`POOL_MIN`] bytes): a
//! dropped buffer is parked, and the next recyclable allocation of exactly its size takes
//! it back, skipping the kernel's page faults and zeroing. It holds at most
//! [`pool_limit`] bytes (default [`POOL_MAX_BYTES`]); to park a buffer beyond that, the
//! oldest parked buffers are freed (evicted), so sizes a program no longer uses do not
//! keep the room. A limit of 0 turns pooling off.

use super::{RawBuf, POOL_MIN};
use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Mutex;

/// The default of [`pool_limit`].
pub const POOL_MAX_BYTES: usize = 256 << 20;

/// What the buffer pool holds and has done since the process started (or since
/// [`reset_pool_counters`]).
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub struct PoolStats {
    /// Bytes parked now.
    pub bytes_held: usize,
    /// Buffers parked now.
    pub buffers_held: usize,
    /// The limit on `bytes_held` ([`pool_limit`]).
    pub limit: usize,
    /// Recyclable allocations served by a parked buffer.
    pub hits: u64,
    /// Recyclable allocations that found no parked buffer of their size (all of them when
    /// pooling is off).
    pub misses: u64,
    /// Parked buffers freed to stay within the limit.
    pub evictions: u64,
}

struct Pool {
    /// Oldest first.
    bufs: VecDeque<RawBuf>,
    bytes: usize,
}

static POOL: Mutex<Pool> = Mutex::new(Pool {
    bufs: VecDeque::new(),
    bytes: 0,
});
static LIMIT: AtomicUsize = AtomicUsize::new(POOL_MAX_BYTES);
static HITS: AtomicU64 = AtomicU64::new(0);
static MISSES: AtomicU64 = AtomicU64::new(0);
static EVICTIONS: AtomicU64 = AtomicU64::new(0);

fn lock() -> std::sync::MutexGuard<'static, Pool> {
    POOL.lock().unwrap_or_else(|e| e.into_inner())
}

/// Frees buffers outside the pool's lock (unmapping takes a system call).
fn free_all(bufs: Vec<RawBuf>) {
    EVICTIONS.fetch_add(bufs.len() as u64, Ordering::Relaxed);
    for b in bufs {
        b.free();
    }
}

/// Evicts the oldest parked buffers until `incoming` more bytes fit under `limit`.
fn make_room(p: &mut Pool, incoming: usize, limit: usize) -> Vec<RawBuf> {
    let mut out = Vec::new();
    while p.bytes + incoming > limit {
        let Some(b) = p.bufs.pop_front() else { break };
        p.bytes -= b.len;
        out.push(b);
    }
    out
}

/// Parks `b` (at least [`POOL_MIN`] bytes) for reuse, or hands it back when it is larger
/// than the whole limit.
pub(super) fn give(b: RawBuf) -> Option<RawBuf> {
    if b.len > LIMIT.load(Ordering::Relaxed) {
        return Some(b);
    }
    let mut p = lock();
    // Read again under the lock: `set_pool_limit` stores before it locks, so either it
    // sees this buffer parked or this sees its limit.
    let limit = LIMIT.load(Ordering::Relaxed);
    if b.len > limit {
        return Some(b);
    }
    let evicted = make_room(&mut p, b.len, limit);
    p.bytes += b.len;
    p.bufs.push_back(b);
    drop(p);
    free_all(evicted);
    None
}

/// A parked buffer of exactly `len` bytes (at least [`POOL_MIN`]), the most recently
/// parked first (warm in cache).
pub(super) fn take(len: usize) -> Option<RawBuf> {
    debug_assert!(len >= POOL_MIN);
    let found = if LIMIT.load(Ordering::Relaxed) == 0 {
        None
    } else {
        let mut p = lock();
        p.bufs.iter().rposition(|b| b.len == len).map(|i| {
            p.bytes -= len;
            p.bufs.remove(i).expect("in range")
        })
    };
    let counter = if found.is_some() { &HITS } else { &MISSES };
    counter.fetch_add(1, Ordering::Relaxed);
    found
}

/// Frees every parked buffer; returns the bytes released.
pub(super) fn drain() -> usize {
    let bufs = {
        let mut p = lock();
        p.bytes = 0;
        std::mem::take(&mut p.bufs)
    };
    let n = bufs.iter().map(|b| b.len).sum();
    for b in bufs {
        b.free();
    }
    n
}

/// Sets the most bytes the pool may hold (0: no pooling), evicting the oldest parked
/// buffers beyond it now. Process-wide. Returns the bytes freed.
///
/// ```
/// use lazyjit_lowering::tensor::{pool_limit, set_pool_limit, POOL_MAX_BYTES};
/// set_pool_limit(64 << 20);
/// assert_eq!(pool_limit(), 64 << 20);
/// set_pool_limit(POOL_MAX_BYTES);
/// ```
pub fn set_pool_limit(bytes: usize) -> usize {
    LIMIT.store(bytes, Ordering::Relaxed);
    let evicted = make_room(&mut lock(), 0, bytes);
    let n = evicted.iter().map(|b| b.len).sum();
    free_all(evicted);
    n
}

/// The most bytes the pool may hold (default [`POOL_MAX_BYTES`]).
pub fn pool_limit() -> usize {
    LIMIT.load(Ordering::Relaxed)
}

/// What the pool holds now and its hits, misses and evictions.
///
/// ```
/// use lazyjit_lowering::tensor::{pool_stats, Buffer, POOL_MIN};
/// let before = pool_stats();
/// drop(Buffer::try_recycled(POOL_MIN + 4096 * 3).unwrap());
/// let after = pool_stats();
/// assert!(after.hits + after.misses > before.hits + before.misses);
/// assert!(after.bytes_held <= after.limit);
/// ```
pub fn pool_stats() -> PoolStats {
    let (bytes_held, buffers_held) = {
        let p = lock();
        (p.bytes, p.bufs.len())
    };
    PoolStats {
        bytes_held,
        buffers_held,
        limit: pool_limit(),
        hits: HITS.load(Ordering::Relaxed),
        misses: MISSES.load(Ordering::Relaxed),
        evictions: EVICTIONS.load(Ordering::Relaxed),
    }
}

/// Zeroes the hit, miss and eviction counters (what is held stays).
pub fn reset_pool_counters() {
    for c in [&HITS, &MISSES, &EVICTIONS] {
        c.store(0, Ordering::Relaxed);
    }
}
