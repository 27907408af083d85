//! How many threads a large f32/f64 matmul may use: a process-wide setting (the front end's
//! `LAZYJIT_THREADS` / `Config::threads` sets it through [`set_matmul_threads`]).
//!
//! Only products of at least [`PARALLEL_WORK`] multiply-adds are split; smaller ones run on
//! the calling thread, where a thread hand-off would cost more than it saves.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;

/// Default of [`matmul_parallel_work`]: multiply-adds (`batch * m * k * n`) from which a
/// float matmul is split over threads. Measured in `benches/gemm_choice.rs` (`threads_*`
/// groups, `docs/matmul.md`): a split spawns scoped threads, which cost 0.1-1 ms on the shared
/// 2-vCPU machine, so 2 threads lost at every size up to 2^25 MACs (0.4 ms on one core);
/// 2^26 MACs (~0.5 ms or more) keeps that overhead small. The MLP step's products (at most
/// 6.4M MACs) stay on the calling thread; the CNN step's conv2 GEMMs (680M MACs per batch)
/// are split.
pub const PARALLEL_WORK: usize = 1 << 26;

/// 0: all available cores.
static THREADS: AtomicUsize = AtomicUsize::new(0);
static WORK: AtomicUsize = AtomicUsize::new(PARALLEL_WORK);

/// Sets the number of multiply-adds from which a float matmul is split over threads (for
/// benchmarks and tuning; the default is [`PARALLEL_WORK`]). Process-wide.
pub fn set_matmul_parallel_work(macs: usize) {
    WORK.store(macs, Ordering::Relaxed);
}

/// The current threshold of [`set_matmul_parallel_work`].
pub fn matmul_parallel_work() -> usize {
    WORK.load(Ordering::Relaxed)
}

/// Sets how many threads a large matmul may use (0: as many as the machine has cores; 1:
/// only the calling thread). Process-wide; takes effect at the next matmul.
///
/// ```
/// use lazyjit_lowering::kernels::{matmul_threads, set_matmul_threads};
/// set_matmul_threads(1);
/// assert_eq!(matmul_threads(), 1);
/// set_matmul_threads(0);
/// assert!(matmul_threads() >= 1);
/// ```
pub fn set_matmul_threads(threads: usize) {
    THREADS.store(threads, Ordering::Relaxed);
}

/// The number of threads a large matmul uses now: the setting, or the number of cores when
/// it is 0 (at least 1).
pub fn matmul_threads() -> usize {
    match THREADS.load(Ordering::Relaxed) {
        0 => cores(),
        n => n,
    }
}

fn cores() -> usize {
    static CORES: OnceLock<usize> = OnceLock::new();
    *CORES.get_or_init(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
}

/// Splits `0..len` into at most `parts` contiguous ranges whose starts (but the first) are
/// multiples of `align`, as evenly as that allows; empty ranges are left out.
pub(super) fn split(len: usize, parts: usize, align: usize) -> Vec<(usize, usize)> {
    let parts = parts.max(1);
    let mut out = Vec::with_capacity(parts);
    let mut start = 0;
    for t in 1..=parts {
        let end = if t == parts {
            len
        } else {
            ((len * t / parts).div_ceil(align) * align).min(len)
        };
        if end > start {
            out.push((start, end));
            start = end;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::split;

    #[test]
    fn split_covers_the_range_once_on_aligned_seams() {
        for len in 0..100 {
            for parts in 1..5 {
                for align in [1, 3, 16] {
                    let r = split(len, parts, align);
                    assert!(r.len() <= parts);
                    let mut next = 0;
                    for &(s, e) in &r {
                        assert_eq!(s, next, "{len} {parts} {align}: {r:?}");
                        assert!(e > s);
                        assert!(s == 0 || s % align == 0);
                        next = e;
                    }
                    assert_eq!(next, len, "{len} {parts} {align}: {r:?}");
                }
            }
        }
    }
}
