//! The thread's trace state: while a compiled function's closure is traced
//! ([`crate::compile`]), values are not known, so reading one is an error instead of a
//! sync, and nothing syncs behind the trace's back (no automatic trims, no eager
//! fallbacks).

use crate::error::{Error, Result, SourceLoc};
use std::cell::Cell;

thread_local! {
    /// Nesting depth of traces on this thread (a compiled function may call another).
    static DEPTH: Cell<u32> = const { Cell::new(0) };
}

/// Whether a compiled function is being traced on this thread.
#[inline]
pub(crate) fn active() -> bool {
    DEPTH.with(Cell::get) > 0
}

/// Marks this thread as tracing until dropped (also when the closure panics).
pub(crate) struct Tracing(());

impl Tracing {
    pub(crate) fn enter() -> Tracing {
        DEPTH.with(|d| d.set(d.get() + 1));
        Tracing(())
    }
}

impl Drop for Tracing {
    fn drop(&mut self) {
        DEPTH.with(|d| d.set(d.get() - 1));
    }
}

/// An error when `op` would read a value (or sync) while tracing.
#[inline]
pub(crate) fn forbid_read(op: &'static str, loc: SourceLoc) -> Result<()> {
    if active() {
        return Err(Error::op(
            op,
            "reads a tensor's value while a compiled function is traced; values are not \
             known at trace time, so control flow that depends on data (item, to_vec, sync, \
             mark_step inside the closure) cannot be compiled into one function: compute it \
             outside the function, or express it with tensor ops (where, maximum, ...)",
            loc,
        ));
    }
    Ok(())
}
