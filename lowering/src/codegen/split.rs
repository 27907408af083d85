//! Running one kernel function over several threads: the function's *split loop*.
//!
//! A kernel function may have one loop whose iterations are independent (the emitter's
//! `SplitState` says which: every row of a row group, every element of a fused or plain
//! elementwise loop, every output element of a lone reduction). Its range comes from the
//! status words `STATUS_LO` and `STATUS_HI` of each call, clamped by the function to the
//! loop's extent. A call with the whole range computes what a function without a split loop
//! computes; calls over a partition of the range, in any order or at the same time, compute
//! the same values, provided each has its own row scratch (a row group reuses one row
//! buffer for every row) and its own status words.
//!
//! [`JitStep::call`] splits a function whose work is at least
//! [`kernel_parallel_work`](super::threads::kernel_parallel_work) elements over
//! [`threads`](super::threads::threads) parts on the persistent pool (`threads.rs`).

use super::threads::{kernel_parallel_work, partition, run_parts, threads};
use crate::error::Error;
use crate::tensor::Buffer;
use smallvec::SmallVec;
use std::cell::UnsafeCell;

/// A compiled kernel function (the ABI of `emit/mod.rs`).
pub(super) type KernelFn = unsafe extern "C" fn(*const *mut u8, *mut i64);

/// Status word receiving the error code (0: none).
pub(crate) const STATUS_CODE: usize = 0;
/// Status word receiving the offending index.
pub(crate) const STATUS_INDEX: usize = 1;
/// Status word with the first iteration of the split loop to run.
pub(crate) const STATUS_LO: usize = 2;
/// Status word with the end (exclusive) of the iterations to run.
pub(crate) const STATUS_HI: usize = 3;

/// The status words of a call that runs the split loop's iterations `lo..hi`.
pub(crate) fn status_for(lo: usize, hi: usize) -> [i64; 4] {
    let mut s = [0; 4];
    s[STATUS_LO] = lo as i64;
    s[STATUS_HI] = hi as i64;
    s
}

/// The status words of a call that runs the whole function.
pub(crate) fn status_all() -> [i64; 4] {
    status_for(0, i64::MAX as usize)
}

/// A function's split loop: its extent, and the multiple sub-range starts keep to (whole
/// vector groups for a vectorised loop, so every part computes the lanes a whole run does).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(crate) struct SplitLoop {
    pub extent: usize,
    pub align: usize,
}

/// A compiled kernel function, with its split loop and the work that decides whether a run
/// splits it.
pub(crate) struct JitStep {
    pub f: KernelFn,
    pub split: Option<SplitLoop>,
    /// Add-equivalent elements of work (`group_work`).
    pub work: usize,
}

/// A buffer table for one part of a split call: the run's table, or a copy with every
/// row-scratch slot pointing at the part's own scratch.
struct Table(SmallVec<[*mut u8; 16]>);

// SAFETY: the table is only read by the kernel function during `JitStep::call`, which returns
// after every part is done; see the safety comment there for what the parts write.
unsafe impl Sync for Table {}

/// One part's status words, written only by that part's call.
struct Status(UnsafeCell<[i64; 4]>);

// SAFETY: part `i` is the only one to access `statuses[i]` while the parts run; the caller
// reads them after `run_parts` returned.
unsafe impl Sync for Status {}

impl JitStep {
    /// Calls the function on `table`, split into up to [`threads`] parts when it has a split
    /// loop and enough work. `scratch` lists the row-scratch slots (with their byte sizes);
    /// `spare` holds the extra scratch of parts after the first between runs. On return,
    /// `status` holds the first runtime error in iteration order, as a whole call would.
    ///
    /// # Safety
    ///
    /// As a direct call of `self.f` with `table` and `status` (every slot a live buffer of
    /// its size, checked against the program), and `scratch` names every row-scratch slot
    /// of the program.
    pub(crate) unsafe fn call(
        &self,
        table: &[*mut u8],
        status: &mut [i64; 4],
        scratch: &[(usize, usize)],
        spare: &mut Vec<Vec<Buffer>>,
    ) -> Result<(), Error> {
        let parts = match self.split {
            Some(s) if self.work >= kernel_parallel_work() && threads() > 1 => {
                partition(s.extent, threads(), s.align)
            }
            _ => Default::default(),
        };
        if parts.len() <= 1 {
            *status = status_all();
            // SAFETY: the caller's contract.
            unsafe { (self.f)(table.as_ptr(), status.as_mut_ptr()) };
            return Ok(());
        }
        // SAFETY: the caller's contract; `partition` covers the loop's range once, in order.
        unsafe { self.call_parts(&parts, table, status, scratch, spare) }
    }

    /// Calls the function once per range of `parts` (disjoint, in iteration order), part 0 on
    /// the calling thread and the others on the pool, each with its own status words and row
    /// scratch (parts after the first use `spare`, grown as needed).
    ///
    /// # Safety
    ///
    /// As [`JitStep::call`], and `parts` are disjoint ranges of the split loop, in order.
    unsafe fn call_parts(
        &self,
        parts: &[(usize, usize)],
        table: &[*mut u8],
        status: &mut [i64; 4],
        scratch: &[(usize, usize)],
        spare: &mut Vec<Vec<Buffer>>,
    ) -> Result<(), Error> {
        while spare.len() < parts.len() - 1 {
            let bufs = scratch
                .iter()
                .map(|&(_, bytes)| Buffer::try_zeroed(bytes))
                .collect::<Result<Vec<Buffer>, Error>>()?;
            spare.push(bufs);
        }
        // Parts share the run's table unless the function has row scratch to keep apart.
        let tables: SmallVec<[Table; 4]> = if scratch.is_empty() {
            SmallVec::new()
        } else {
            (0..parts.len())
                .map(|i| {
                    let mut t: SmallVec<[*mut u8; 16]> = SmallVec::from_slice(table);
                    if i > 0 {
                        for (&(slot, _), buf) in scratch.iter().zip(&mut spare[i - 1]) {
                            t[slot] = buf.as_mut_ptr();
                        }
                    }
                    Table(t)
                })
                .collect()
        };
        let shared = Table(SmallVec::from_slice(table));
        let statuses: SmallVec<[Status; 4]> = parts
            .iter()
            .map(|&(lo, hi)| Status(UnsafeCell::new(status_for(lo, hi))))
            .collect();
        let f = self.f;
        run_parts(parts.len(), &|i| {
            let t = tables.get(i).unwrap_or(&shared);
            // SAFETY: part `i` runs the split loop's iterations `parts[i]`, disjoint from
            // every other part's. The split loop's iterations write disjoint elements and
            // read nothing another iteration writes, except row scratch, which `tables[i]`
            // gives each part its own of (`spare[i - 1]`, each buffer of the slot's size);
            // every other slot is the caller's live buffer, as for a direct call. Part `i`
            // is the only user of `statuses[i]`. `run_parts` returns only when every part
            // is done, before `tables`, `spare` or the caller's buffers can go away.
            unsafe { f(t.0.as_ptr(), (*statuses[i].0.get()).as_mut_ptr()) };
        });
        // The parts run in iteration order within the loop: the first part with an error
        // has the first error a whole call would have found.
        *status = status_all();
        for s in statuses {
            let s = s.0.into_inner();
            if s[STATUS_CODE] != 0 {
                status[STATUS_CODE] = s[STATUS_CODE];
                status[STATUS_INDEX] = s[STATUS_INDEX];
                break;
            }
        }
        Ok(())
    }
}

/// The work of a kernel group for the thread cost model, in elements of an add (the kernel
/// [`KERNEL_PARALLEL_WORK`](super::threads::KERNEL_PARALLEL_WORK) was measured on): per
/// kernel, the elements it writes (plus those a reduction reads), times one plus the fusion
/// planner's cost (`plan::op_cost`) of every expensive op computed per element (a
/// transcendental function counts as ten adds, a division as two). A fused `sigmoid(a) * b`
/// counts 11 per element and splits from 2^14 elements; measured (`benches/threads.rs`,
/// `split_cost_sigmoid_mul`), two threads already won from 2^12 there (3.7 µs against
/// 2.6 µs), so the rule errs on the side of staying on one thread.
pub(super) fn group_work(
    program: &crate::program::Program,
    kernels: &[&super::plan::Kernel],
) -> usize {
    kernels
        .iter()
        .map(|k| {
            let out = program.value_type(k.root).shape.numel();
            let read = match program.inst(k.root) {
                Some(inst) if k.kind == super::plan::KernelKind::Reduce => inst
                    .args
                    .first()
                    .map_or(0, |a| program.value_type(*a).shape.numel()),
                _ => 0,
            };
            let heavy: u32 = k
                .fused
                .iter()
                .filter_map(|v| program.inst(*v))
                .map(|inst| super::plan::op_cost(&inst.op))
                .filter(|&c| c >= 2)
                .sum();
            let weight = 1 + heavy as usize;
            out.saturating_add(read).saturating_mul(weight)
        })
        .fold(0usize, usize::saturating_add)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    /// Calls seen by `record`: (lo, hi, slot 0, slot 1), slot 1 being the row scratch.
    static SEEN: Mutex<Vec<(i64, i64, usize, usize)>> = Mutex::new(Vec::new());

    unsafe extern "C" fn record(bufs: *const *mut u8, status: *mut i64) {
        // SAFETY: called by `call_parts` with a table of two slots and four status words.
        let (lo, hi, a, b) = unsafe {
            (
                *status.add(STATUS_LO),
                *status.add(STATUS_HI),
                *bufs as usize,
                *bufs.add(1) as usize,
            )
        };
        if lo <= 40 && 40 < hi {
            // SAFETY: as above.
            unsafe {
                *status.add(STATUS_CODE) = 9;
                *status.add(STATUS_INDEX) = 40;
            }
        }
        SEEN.lock().unwrap().push((lo, hi, a, b));
    }

    #[test]
    fn work_counts_elements_weighted_by_expensive_ops() {
        let work = |src: &str| {
            let p = crate::text::parse(src).unwrap();
            let plan = super::super::plan::FusionPlan::new(&p);
            plan.groups
                .iter()
                .map(|g| {
                    let ks: Vec<&super::super::plan::Kernel> =
                        g.kernels.iter().map(|&i| &plan.kernels[i]).collect();
                    group_work(&p, &ks)
                })
                .collect::<Vec<usize>>()
        };
        let add =
            "param %a: f32[1000]\nparam %b: f32[1000]\n%2: f32[1000] = add %a, %b\nreturn %2\n";
        assert_eq!(work(add), vec![1000]);
        let sig = "param %a: f32[1000]\nparam %b: f32[1000]\n%2: f32[1000] = sigmoid %a\n\
                   %3: f32[1000] = mul %2, %b\nreturn %3\n";
        assert_eq!(work(sig), vec![11_000]);
        let div =
            "param %a: f32[1000]\nparam %b: f32[1000]\n%2: f32[1000] = div %a, %b\nreturn %2\n";
        assert_eq!(work(div), vec![3000]);
        let rows = "param %x: f32[10, 100]\n%1: f32[10] = reduce_sum %x, axes=[1], keepdim=false\nreturn %1\n";
        assert_eq!(work(rows), vec![1010]);
    }

    #[test]
    fn parts_get_their_range_their_own_scratch_and_the_first_error() {
        let step = JitStep {
            f: record,
            split: Some(SplitLoop {
                extent: 100,
                align: 16,
            }),
            work: 1 << 30,
        };
        let mut shared = Buffer::zeroed(64);
        let mut own = Buffer::zeroed(32);
        let table = [shared.as_mut_ptr(), own.as_mut_ptr()];
        let scratch = [(1usize, 32usize)];
        let mut spare = Vec::new();
        let mut status = [0; 4];
        let parts = partition(100, 4, 16);
        // SAFETY: `record` only reads the table and writes the status words.
        unsafe { step.call_parts(&parts, &table, &mut status, &scratch, &mut spare) }.unwrap();
        let mut seen = std::mem::take(&mut *SEEN.lock().unwrap());
        seen.sort();
        let ranges: Vec<(i64, i64)> = seen.iter().map(|s| (s.0, s.1)).collect();
        let want: Vec<(i64, i64)> = parts.iter().map(|&(a, b)| (a as i64, b as i64)).collect();
        assert_eq!(ranges, want);
        // Every part sees the shared buffer, and its own scratch: part 0 the run's.
        assert!(seen.iter().all(|s| s.2 == shared.as_ptr() as usize));
        let mut scratches: Vec<usize> = seen.iter().map(|s| s.3).collect();
        assert_eq!(scratches[0], own.as_ptr() as usize);
        scratches.sort();
        scratches.dedup();
        assert_eq!(scratches.len(), parts.len());
        assert_eq!(spare.len(), parts.len() - 1);
        // The part holding iteration 40 reported; the merged status is its error.
        assert_eq!((status[STATUS_CODE], status[STATUS_INDEX]), (9, 40));
    }
}
