//! Each thread's most recently called versions: a call whose function and input types
//! match one runs it without taking the function's lock (no shared cache line is written,
//! so calls from many threads do not contend).
//!
//! An entry is valid while its function's generation is unchanged: tracing (which may
//! evict) and `force_recompile` bump it. Function ids are never reused.
//!
//! An entry also counts the calls it serves, and adds them to its version (and function)
//! when it is replaced, when the thread exits, or when the function's counts are read on
//! this thread (`flush`): a shared atomic add per call would cost as much as the rest of
//! the call's overhead.

use super::version::Version;
use lazyjit_lowering::TensorType;
use std::cell::{Cell, RefCell};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// Entries per thread: a training loop alternates a few functions (step, eval).
const ENTRIES: usize = 4;

static NEXT_ID: AtomicU64 = AtomicU64::new(1);

/// A new function id.
pub(crate) fn new_id() -> u64 {
    NEXT_ID.fetch_add(1, Ordering::Relaxed)
}

struct Entry {
    function: u64,
    generation: u64,
    version: Arc<Version>,
    /// Calls served since the last flush.
    calls: Cell<u64>,
}

impl Entry {
    fn flush(&self) {
        self.version.count(self.calls.replace(0));
    }
}

impl Drop for Entry {
    fn drop(&mut self) {
        self.flush();
    }
}

struct Recent {
    entries: [Option<Entry>; ENTRIES],
    /// The entry replaced next (round robin).
    next: usize,
}

thread_local! {
    static RECENT: RefCell<Recent> = const {
        RefCell::new(Recent {
            entries: [const { None }; ENTRIES],
            next: 0,
        })
    };
}

/// Runs `run(version, state)` with this thread's recent version of `function` at
/// `generation` for these input types, if there is one; otherwise hands `state` back.
#[inline]
pub(crate) fn with<'t, S, R>(
    function: u64,
    generation: u64,
    types: impl ExactSizeIterator<Item = &'t TensorType> + Clone,
    state: S,
    run: impl FnOnce(&Version, S) -> R,
) -> Result<R, S> {
    RECENT.with(|r| {
        // Busy only if `run` itself calls a compiled function: take the slow path then.
        let Ok(r) = r.try_borrow() else {
            return Err(state);
        };
        let hit = r.entries.iter().flatten().find(|e| {
            e.function == function && e.generation == generation && e.version.accepts(types.clone())
        });
        match hit {
            Some(e) => {
                e.calls.set(e.calls.get() + 1);
                Ok(run(&e.version, state))
            }
            None => Err(state),
        }
    })
}

/// Remembers `version` as this thread's recent version of `function` (replacing the entry
/// for the same function and types, or the oldest).
pub(crate) fn remember(function: u64, generation: u64, version: &Arc<Version>) {
    RECENT.with(|r| {
        let Ok(mut r) = r.try_borrow_mut() else {
            return;
        };
        let slot = r
            .entries
            .iter()
            .position(|e| {
                // Stale entries of the function, or one for the same types, are replaced.
                e.as_ref().is_some_and(|e| {
                    e.function == function
                        && (e.generation != generation || e.version.inputs == version.inputs)
                })
            })
            .unwrap_or_else(|| {
                let n = r.next;
                r.next = (n + 1) % ENTRIES;
                n
            });
        // The entry replaced (if any) adds its calls to its version as it drops.
        r.entries[slot] = Some(Entry {
            function,
            generation,
            version: version.clone(),
            calls: Cell::new(0),
        });
    });
}

/// Adds this thread's uncounted calls of `function` to its versions.
pub(crate) fn flush(function: u64) {
    RECENT.with(|r| {
        if let Ok(r) = r.try_borrow() {
            for e in r.entries.iter().flatten() {
                if e.function == function {
                    e.flush();
                }
            }
        }
    });
}
