//! Threads: how many a compiled program may use, the persistent pool they come from, and the
//! thresholds below which work stays on the calling thread.
//!
//! Two kinds of work are split: large float matmuls (column blocks or batch elements,
//! `matmul/gemm.rs`) and large loop kernels whose outermost loop may run a sub-range per
//! call (`split.rs`). Both hand their parts to one process-wide pool of persistent worker
//! threads (`pool.rs`), started on first use with one thread fewer than the machine has
//! cores: the calling thread runs parts too. The front end's `LAZYJIT_THREADS` /
//! `Config::threads` sets the count through [`set_threads`].

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;

/// Default of [`matmul_parallel_work`]: multiply-adds (`batch * m * k * n`) from which a
/// float matmul is split over threads. Measured in `benches/gemm_choice.rs` (`threads_*`
/// groups, `docs/matmul.md`) with the persistent pool: two threads won at every size from
/// 128³ = 2^21 (1.07x) up (1.55x at 2^24, 1.86x at 1024³).
pub const PARALLEL_WORK: usize = 1 << 21;

/// Default of [`kernel_parallel_work`]: elements (written, or read by a reduction) from
/// which a loop kernel whose outermost loop can be split runs on several threads. Measured
/// in `benches/threads.rs` (`split_cost_add`) on the cheapest kernel, an add: split over two
/// threads it lost up to 2^16 elements (6.3 µs on one thread, 6.8 µs on two) and won from
/// 2^17 (16.5 µs, 13.8 µs; 2.6x at 2^18, where each half fits its core's L2).
pub const KERNEL_PARALLEL_WORK: usize = 1 << 17;

/// 0: all available cores.
static THREADS: AtomicUsize = AtomicUsize::new(0);
static WORK: AtomicUsize = AtomicUsize::new(PARALLEL_WORK);
static KERNEL_WORK: AtomicUsize = AtomicUsize::new(KERNEL_PARALLEL_WORK);

/// Sets the number of multiply-adds from which a float matmul is split over threads (for
/// benchmarks and tuning; the default is [`PARALLEL_WORK`]). Process-wide.
pub fn set_matmul_parallel_work(macs: usize) {
    WORK.store(macs, Ordering::Relaxed);
}

/// The current threshold of [`set_matmul_parallel_work`].
pub fn matmul_parallel_work() -> usize {
    WORK.load(Ordering::Relaxed)
}

/// Sets the number of elements from which a splittable loop kernel runs on several threads
/// (for benchmarks, tuning and tests; the default is [`KERNEL_PARALLEL_WORK`]; 0 splits
/// every splittable kernel, however small). Process-wide.
///
/// ```
/// use lazyjit_lowering::kernels::{kernel_parallel_work, set_kernel_parallel_work, KERNEL_PARALLEL_WORK};
/// set_kernel_parallel_work(1 << 20);
/// assert_eq!(kernel_parallel_work(), 1 << 20);
/// set_kernel_parallel_work(KERNEL_PARALLEL_WORK);
/// ```
pub fn set_kernel_parallel_work(elements: usize) {
    KERNEL_WORK.store(elements, Ordering::Relaxed);
}

/// The current threshold of [`set_kernel_parallel_work`].
pub fn kernel_parallel_work() -> usize {
    KERNEL_WORK.load(Ordering::Relaxed)
}

/// Sets how many threads a compiled program may use for one large kernel or matmul (0: as
/// many as the machine has cores; 1: only the calling thread). Process-wide; takes effect at
/// the next run. More threads than cores is allowed (the parts then share the cores).
///
/// ```
/// use lazyjit_lowering::kernels::{set_threads, threads};
/// set_threads(1);
/// assert_eq!(threads(), 1);
/// set_threads(0);
/// assert!(threads() >= 1);
/// ```
pub fn set_threads(threads: usize) {
    THREADS.store(threads, Ordering::Relaxed);
}

/// The number of threads a large kernel or matmul uses now: the setting, or the number of
/// cores when it is 0 (at least 1).
pub fn threads() -> usize {
    match THREADS.load(Ordering::Relaxed) {
        0 => cores(),
        n => n,
    }
}

fn cores() -> usize {
    static CORES: OnceLock<usize> = OnceLock::new();
    *CORES.get_or_init(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
}

/// Runs `part(i)` for every `i in 0..parts`, on the calling thread and the persistent pool
/// (`pool.rs`; all on the caller when there is no pool or it is busy), and returns when all
/// are done. A panic in a part is resumed on the caller.
pub(crate) fn run_parts(parts: usize, part: &(dyn Fn(usize) + Sync)) {
    super::pool::run_parts(cores(), parts, part);
}

/// Ranges of a partition (inline up to 8, the usual thread counts).
pub(crate) type Parts = smallvec::SmallVec<[(usize, usize); 8]>;

/// Splits `0..len` into at most `parts` contiguous ranges whose starts (but the first) are
/// multiples of `align`, each seam the multiple nearest to the even split; empty ranges are
/// left out.
pub(crate) fn partition(len: usize, parts: usize, align: usize) -> Parts {
    let parts = parts.max(1);
    let align = align.max(1);
    let mut out = Parts::new();
    let mut start = 0;
    for t in 1..=parts {
        let end = if t == parts {
            len
        } else {
            // The nearest multiple of `align` to the even split point.
            (((len * t / parts) + align / 2) / align * align).min(len)
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
    use super::{partition, run_parts};
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[test]
    fn partition_covers_the_range_once_on_aligned_seams() {
        for len in 0..100 {
            for parts in 1..5 {
                for align in [1, 3, 16] {
                    let r = partition(len, parts, align);
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

    #[test]
    fn run_parts_runs_every_part_once() {
        for parts in 0..6 {
            let seen: Vec<AtomicUsize> = (0..parts).map(|_| AtomicUsize::new(0)).collect();
            run_parts(parts, &|i| {
                seen[i].fetch_add(1, Ordering::Relaxed);
            });
            assert!(seen.iter().all(|s| s.load(Ordering::Relaxed) == 1));
        }
    }
}
