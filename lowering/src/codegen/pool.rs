//! The persistent worker pool large kernels and matmuls are split over.
//!
//! Why our own and not rayon's: a run hands one kernel at a time to the pool, often a few
//! hundred microseconds of work, many times per training step. Handing a 2^14-element add to
//! rayon (`in_place_scope` from outside the pool) cost 62 µs on the project's 2-vCPU VM
//! (`benches/threads.rs`, `split_cost_add16k`): the caller and the worker sleep and wake
//! through the kernel between jobs. Here workers spin on the job word for a while after each
//! job ([`SPIN`]) before parking, and the caller spins for the parts it waits on, so
//! back-to-back hand-offs cost about a microsecond while both cores are busy with the run
//! (a 2^14-element add: 1.8 µs whole, 2.9-4.0 µs split, against 62 µs through rayon) — the
//! trade OpenMP runtimes make with their spin-wait before blocking.
//!
//! One job runs at a time (a caller that finds the pool busy, or a part that splits again,
//! runs its parts itself). A job is published in one atomic word, `(epoch, next part,
//! parts)`: a worker claims a part by a compare-and-swap on that word, so a worker that
//! woke late for an old job can never claim a part of a newer one, and the job's closure is
//! read only after a successful claim, when the caller cannot have returned.

use std::cell::Cell;
use std::sync::atomic::{AtomicPtr, AtomicU64, AtomicUsize, Ordering::SeqCst};
use std::sync::{Condvar, Mutex, OnceLock};
use std::time::{Duration, Instant};

/// How long an idle worker spins waiting for the next job before it parks.
const SPIN: Duration = Duration::from_millis(2);

/// Most parts of one job (the part index and count share the job word).
pub(crate) const MAX_PARTS: usize = 1 << 15;

type Part<'a> = &'a (dyn Fn(usize) + Sync);

struct Pool {
    /// `epoch << 32 | next << 16 | parts`: the current job; `next == parts` when every part
    /// has been claimed (or no job is open).
    word: AtomicU64,
    /// Points to the caller's `Part` of the open job (a thin pointer to the fat one).
    job: AtomicPtr<Part<'static>>,
    /// Parts of the open job finished.
    done: AtomicUsize,
    /// Whether a part of the open job panicked.
    panicked: AtomicUsize,
    /// Workers parked (or about to park) on `wake`.
    sleepers: AtomicUsize,
    lock: Mutex<()>,
    wake: Condvar,
    /// Held by the caller whose job is open.
    busy: Mutex<()>,
}

fn pack(epoch: u64, next: usize, parts: usize) -> u64 {
    (epoch << 32) | ((next as u64) << 16) | parts as u64
}

fn unpack(w: u64) -> (u64, usize, usize) {
    (
        w >> 32,
        ((w >> 16) & 0xffff) as usize,
        (w & 0xffff) as usize,
    )
}

thread_local! {
    /// Whether this thread is running a part (then a nested split runs inline).
    static IN_PART: Cell<bool> = const { Cell::new(false) };
}

impl Pool {
    /// Claims and runs parts of the job whose word was `seen`, until none is left.
    fn work(&self, mut seen: u64) {
        loop {
            let (epoch, next, parts) = unpack(seen);
            if next >= parts {
                return;
            }
            match self
                .word
                .compare_exchange(seen, pack(epoch, next + 1, parts), SeqCst, SeqCst)
            {
                Ok(_) => {
                    // SAFETY: the claim succeeded on the open job's word, so its caller is
                    // waiting for this part in `run` and its `Part` (which `job` points to,
                    // stored before the word was published) is alive until `done` counts it.
                    let part = unsafe { *self.job.load(SeqCst) };
                    let ok = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                        IN_PART.with(|p| p.set(true));
                        part(next);
                        IN_PART.with(|p| p.set(false));
                    }));
                    if ok.is_err() {
                        IN_PART.with(|p| p.set(false));
                        self.panicked.fetch_add(1, SeqCst);
                    }
                    self.done.fetch_add(1, SeqCst);
                    seen = self.word.load(SeqCst);
                }
                Err(now) => seen = now,
            }
        }
    }

    fn worker(&self) {
        let mut last = self.word.load(SeqCst) >> 32;
        loop {
            let start = Instant::now();
            let mut spins = 0u32;
            let seen = loop {
                let w = self.word.load(SeqCst);
                if w >> 32 != last {
                    break Some(w);
                }
                spins = spins.wrapping_add(1);
                if spins.is_multiple_of(1024) && start.elapsed() > SPIN {
                    break None;
                }
                std::hint::spin_loop();
            };
            let w = match seen {
                Some(w) => w,
                None => {
                    // Park. The caller publishes the word, then reads `sleepers`; this
                    // counts itself, then reads the word (both sequentially consistent):
                    // either the caller sees the sleeper and notifies under the lock, or
                    // this sees the new word and does not wait.
                    self.sleepers.fetch_add(1, SeqCst);
                    let mut g = self.lock.lock().unwrap_or_else(|e| e.into_inner());
                    let w = loop {
                        let w = self.word.load(SeqCst);
                        if w >> 32 != last {
                            break w;
                        }
                        g = self.wake.wait(g).unwrap_or_else(|e| e.into_inner());
                    };
                    drop(g);
                    self.sleepers.fetch_sub(1, SeqCst);
                    w
                }
            };
            last = w >> 32;
            self.work(w);
        }
    }

    /// Runs `part(i)` for `i in 0..parts` on the calling thread and the workers.
    fn run(&'static self, parts: usize, part: Part<'_>) -> bool {
        // A panic resumed below poisons the lock; the pool is still sound then.
        let _busy = match self.busy.try_lock() {
            Ok(g) => g,
            Err(std::sync::TryLockError::Poisoned(e)) => e.into_inner(),
            Err(std::sync::TryLockError::WouldBlock) => return false,
        };
        let (epoch, _, _) = unpack(self.word.load(SeqCst));
        let epoch = (epoch + 1) & 0xffff_ffff;
        // SAFETY (of the lifetime extension): `job` is only dereferenced by a successful
        // claim of this epoch's parts, and this function returns only after `done` counted
        // every part, so no claim of this job can run after `part` is gone; the next job
        // overwrites `job` before publishing its own epoch.
        let ptr: *const Part<'_> = &part;
        self.job.store(ptr as *mut Part<'static>, SeqCst);
        self.done.store(0, SeqCst);
        self.panicked.store(0, SeqCst);
        let open = pack(epoch, 0, parts);
        self.word.store(open, SeqCst);
        if self.sleepers.load(SeqCst) > 0 {
            let _g = self.lock.lock().unwrap_or_else(|e| e.into_inner());
            self.wake.notify_all();
        }
        self.work(open);
        let mut spins = 0u32;
        while self.done.load(SeqCst) < parts {
            spins = spins.wrapping_add(1);
            if spins.is_multiple_of(64) {
                std::thread::yield_now();
            } else {
                std::hint::spin_loop();
            }
        }
        if self.panicked.load(SeqCst) > 0 {
            panic!("a part of a split kernel panicked");
        }
        true
    }
}

/// The pool: one worker fewer than `cores` (the caller runs parts too); `None` on one core or
/// when the OS refuses the threads.
fn pool(cores: usize) -> Option<&'static Pool> {
    static POOL: OnceLock<Option<&'static Pool>> = OnceLock::new();
    *POOL.get_or_init(|| {
        let workers = cores.saturating_sub(1);
        if workers == 0 {
            return None;
        }
        let pool: &'static Pool = Box::leak(Box::new(Pool {
            word: AtomicU64::new(0),
            job: AtomicPtr::new(std::ptr::null_mut()),
            done: AtomicUsize::new(0),
            panicked: AtomicUsize::new(0),
            sleepers: AtomicUsize::new(0),
            lock: Mutex::new(()),
            wake: Condvar::new(),
            busy: Mutex::new(()),
        }));
        // A worker the OS refuses is simply missing: the caller claims its parts.
        let started = (0..workers)
            .filter(|i| {
                std::thread::Builder::new()
                    .name(format!("lazyjit-worker-{i}"))
                    .spawn(move || pool.worker())
                    .is_ok()
            })
            .count();
        (started > 0).then_some(pool)
    })
}

/// Runs `part(i)` for every `i in 0..parts` and returns when all are done: on the calling
/// thread and the pool's workers when the pool is free, else all on the calling thread. A
/// panic in a part is resumed on the caller as a panic.
pub(crate) fn run_parts(cores: usize, parts: usize, part: &(dyn Fn(usize) + Sync)) {
    if parts == 0 {
        return;
    }
    let nested = IN_PART.with(|p| p.get());
    if parts > 1 && parts <= MAX_PARTS && !nested {
        if let Some(pool) = pool(cores) {
            if pool.run(parts, part) {
                return;
            }
        }
    }
    (0..parts).for_each(part);
}

#[cfg(test)]
mod tests {
    use super::run_parts;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[test]
    fn every_part_runs_once_across_many_jobs_and_threads() {
        let cores = std::thread::available_parallelism()
            .map_or(2, |n| n.get())
            .max(2);
        std::thread::scope(|s| {
            for t in 0..3 {
                s.spawn(move || {
                    for job in 0..300 {
                        let parts = 1 + (job + t) % 7;
                        let seen: Vec<AtomicUsize> =
                            (0..parts).map(|_| AtomicUsize::new(0)).collect();
                        run_parts(cores, parts, &|i| {
                            seen[i].fetch_add(1, Ordering::Relaxed);
                            // A nested split runs inline.
                            run_parts(cores, 2, &|_| {});
                        });
                        assert!(seen.iter().all(|s| s.load(Ordering::Relaxed) == 1));
                    }
                });
            }
        });
    }

    #[test]
    fn a_panicking_part_panics_the_caller_and_the_pool_keeps_working() {
        let r = std::panic::catch_unwind(|| {
            run_parts(2, 4, &|i| {
                if i == 3 {
                    panic!("part 3");
                }
            })
        });
        assert!(r.is_err());
        let n = AtomicUsize::new(0);
        run_parts(2, 4, &|_| {
            n.fetch_add(1, Ordering::Relaxed);
        });
        assert_eq!(n.load(Ordering::Relaxed), 4);
    }
}
