//! Buffer base pointers of one kernel function.
//!
//! A kernel receives the buffer table `bufs` and needs a base pointer per buffer it reads or
//! writes. With a few buffers, each pointer is loaded once in the entry block and kept in a
//! register across all loops. With many, that makes as many values live across the whole
//! function, and Cranelift's register allocator spends time quadratic in their number
//! retrying registers for the spilled ones (compiling 8,000 scalar parameters multiplied into
//! one tensor took 1.2 s, 90% of it in `try_allocating_regs_for_spilled_bundles`). Past a
//! few, spilled pointers are reloaded from a stack slot in the loop anyway, so loading them
//! from the table where they are used costs the same at run time: the pointers beyond the
//! first [`HOISTED`] are loaded at their uses, once per loop body.

use super::plan::{Kernel, KernelKind};
use crate::error::Error;
use crate::program::ValueId;
use cranelift_codegen::ir::{InstBuilder, MemFlagsData, Type, Value};
use cranelift_frontend::FunctionBuilder;
use std::collections::{HashMap, HashSet};

/// Buffers whose pointers are loaded in the entry block.
const HOISTED: usize = 8;

pub(super) struct Bases<'a> {
    bufs: Value,
    ptr_ty: Type,
    slot_of: &'a HashMap<ValueId, usize>,
    hoisted: HashMap<ValueId, Value>,
    /// Pointers loaded in the current loop body; cleared with the emitter's memo, whose
    /// values obey the same dominance rule.
    local: HashMap<ValueId, Value>,
    /// The hoisted pointers loaded again after a call ([`Bases::reload`]), used instead of
    /// the entry block's until [`Bases::end_reload`].
    fresh: HashMap<ValueId, Value>,
}

impl<'a> Bases<'a> {
    /// Loads the hoisted pointers at the current position (the entry block).
    pub(super) fn new(
        b: &mut FunctionBuilder,
        bufs: Value,
        ptr_ty: Type,
        slot_of: &'a HashMap<ValueId, usize>,
        kernels: &[&Kernel],
    ) -> Result<Bases<'a>, Error> {
        // The first buffers in order of use, one more than can be hoisted: enough to tell
        // whether all are (a function running a few pieces of a cut concat must not pay for
        // all of its operands).
        let mut order = Vec::new();
        let uses = kernels.iter().flat_map(|kernel| {
            // A check kernel writes nothing: its root (the gather) may have no buffer.
            let root = (kernel.kind != KernelKind::Check).then_some(&kernel.root);
            kernel.inputs.iter().chain(root)
        });
        for v in uses {
            if !order.contains(v) {
                order.push(*v);
                if order.len() > HOISTED {
                    break;
                }
            }
        }
        // Stores go to the roots in every body, so they keep their pointers first.
        let mut hoist: HashSet<ValueId> = HashSet::new();
        if order.len() <= HOISTED {
            hoist.extend(&order);
        } else {
            let roots = kernels
                .iter()
                .filter(|k| k.kind != KernelKind::Check)
                .map(|k| k.root);
            for v in roots.chain(order.iter().copied()) {
                if hoist.len() == HOISTED {
                    break;
                }
                hoist.insert(v);
            }
        }
        let mut bases = Bases {
            bufs,
            ptr_ty,
            slot_of,
            hoisted: HashMap::new(),
            local: HashMap::new(),
            fresh: HashMap::new(),
        };
        for v in order.into_iter().filter(|v| hoist.contains(v)) {
            let slot = bases.slot(v)?;
            let flags = MemFlagsData::trusted().with_readonly();
            let ptr = b.ins().load(ptr_ty, flags, bufs, slot);
            bases.hoisted.insert(v, ptr);
        }
        Ok(bases)
    }

    fn slot(&self, v: ValueId) -> Result<i32, Error> {
        let slot = self
            .slot_of
            .get(&v)
            .ok_or_else(|| Error::Codegen(format!("no buffer slot for {v}")))?;
        i32::try_from(slot * 8).map_err(|_| Error::Codegen(format!("buffer slot {slot}")))
    }

    /// The base pointer of `v`'s buffer, valid at the current position.
    pub(super) fn get(&mut self, b: &mut FunctionBuilder, v: ValueId) -> Result<Value, Error> {
        let known = self.fresh.get(&v).or_else(|| self.hoisted.get(&v));
        if let Some(&p) = known.or_else(|| self.local.get(&v)) {
            return Ok(p);
        }
        let slot = self.slot(v)?;
        // Not `readonly`: Cranelift treats a readonly, non-trapping load as pure and would
        // hoist it back to the entry block.
        let ptr = b
            .ins()
            .load(self.ptr_ty, MemFlagsData::trusted(), self.bufs, slot);
        self.local.insert(v, ptr);
        Ok(ptr)
    }

    /// Loads the hoisted pointers again at the current position, for a loop after a call:
    /// the entry block's copies are live across the call, so the register allocator keeps
    /// them on the stack and reloads them (and here stored them back) in every iteration.
    /// The new loads are not `readonly`, which would let Cranelift merge them with the entry
    /// block's.
    pub(super) fn reload(&mut self, b: &mut FunctionBuilder) -> Result<(), Error> {
        let vs: Vec<ValueId> = self.hoisted.keys().copied().collect();
        for v in vs {
            let slot = self.slot(v)?;
            let ptr = b
                .ins()
                .load(self.ptr_ty, MemFlagsData::trusted(), self.bufs, slot);
            self.fresh.insert(v, ptr);
        }
        Ok(())
    }

    /// Back to the entry block's pointers, after the loop that [`Bases::reload`] served.
    pub(super) fn end_reload(&mut self) {
        self.fresh.clear();
    }

    /// Forgets the pointers loaded in the current body, so that each is live in one body
    /// only.
    pub(super) fn clear_local(&mut self) {
        self.local.clear();
    }
}
