//! The live-tensor registry: every [`LazyTensor`] handle not yet dropped, so
//! [`crate::mark_step`] can find the pending ones and [`live_tensors`] can count them.
//!
//! A slab of weak references (O(1) insert and remove, no hashing); each tensor knows its
//! slot. Only creating and dropping a tensor touch it; the executor never does.

use super::{LazyTensor, TensorInner};
use crate::metrics::{self, Counter};
use parking_lot::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Weak};

struct Registry {
    slots: Vec<Option<Weak<TensorInner>>>,
    free: Vec<u32>,
    live: usize,
}

// Plain statics (no lazy initialisation): registering sits on the path of every recorded
// op.
static REGISTRY: Mutex<Registry> = Mutex::new(Registry {
    slots: Vec::new(),
    free: Vec::new(),
    live: 0,
});
static NEXT_ID: AtomicU64 = AtomicU64::new(1);

/// Creates a registered tensor record: `make(id, slot)` builds it.
pub(super) fn register_new(make: impl FnOnce(u64, u32) -> TensorInner) -> Arc<TensorInner> {
    metrics::inc(Counter::TensorCreate);
    let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
    let mut reg = REGISTRY.lock();
    let slot = match reg.free.pop() {
        Some(s) => s,
        None => {
            reg.slots.push(None);
            (reg.slots.len() - 1) as u32
        }
    };
    let inner = Arc::new(make(id, slot));
    reg.slots[slot as usize] = Some(Arc::downgrade(&inner));
    reg.live += 1;
    inner
}

pub(super) fn unregister(slot: u32) {
    metrics::inc(Counter::TensorDestroy);
    let mut reg = REGISTRY.lock();
    if let Some(s) = reg.slots.get_mut(slot as usize) {
        if s.take().is_some() {
            reg.free.push(slot);
            reg.live -= 1;
        }
    }
}

/// The id the next tensor created will get (ids grow: a tensor with a smaller id existed, or
/// was being created, before this call).
pub(crate) fn next_id() -> u64 {
    NEXT_ID.load(Ordering::Relaxed)
}

/// Number of live tensors (handles not yet dropped).
pub fn live_tensors() -> usize {
    REGISTRY.lock().live
}

/// Handles to every live tensor, in creation order (a stable root order gives a stable
/// graph hash).
pub(crate) fn live_handles() -> Vec<LazyTensor> {
    let reg = REGISTRY.lock();
    let mut v: Vec<(u64, Arc<TensorInner>)> = reg
        .slots
        .iter()
        .flatten()
        .filter_map(|w| w.upgrade().map(|t| (t.id, t)))
        .collect();
    drop(reg);
    v.sort_unstable_by_key(|(id, _)| *id);
    v.into_iter()
        .map(|(_, inner)| LazyTensor { inner })
        .collect()
}
