//! The buffer table a compiled program's kernels receive: one slot per value with storage
//! (parameters first, in order), its byte size, and which slots are program outputs the
//! kernels write directly into the caller's tensor.

use super::plan::{FusionPlan, KernelKind, Storage};
use crate::program::{Program, ValueId};
use std::collections::HashMap;

pub(super) struct Slots {
    /// Byte size of each slot.
    pub bytes: Vec<usize>,
    pub of: HashMap<ValueId, usize>,
    /// Per slot: the first program output that receives the slot's value directly (the
    /// kernel writes into the caller's output tensor); other outputs naming the same value
    /// or a parameter are copied after the run.
    pub direct_output: Vec<Option<usize>>,
    /// The row-scratch slots (`Storage::Scratch` with memory) and their byte sizes: a kernel
    /// split over threads gives each part its own (`split.rs`).
    pub scratch: Vec<(usize, usize)>,
}

impl Slots {
    /// Lays out the buffer table of `plan`.
    pub(super) fn new(program: &Program, plan: &FusionPlan) -> Slots {
        // Results of kernels the plan dropped (empty or dead) keep a slot, since a kernel that
        // reads nothing may still name them, but get no memory.
        let mut computed = vec![false; program.num_values()];
        for k in &plan.kernels {
            if k.kind != KernelKind::Check {
                computed[k.root.index()] = true;
            }
        }
        let mut bytes = Vec::new();
        let mut of = HashMap::new();
        let mut scratch = Vec::new();
        for (v, s) in plan.storage.iter().enumerate() {
            let ty = program.value_type(ValueId(v as u32));
            let n = match *s {
                Storage::Inline => continue,
                Storage::Buffer | Storage::Scratch { .. } if !computed[v] => 0,
                Storage::Scratch { outer } => {
                    let rows: usize = ty.shape.dims()[..outer].iter().product();
                    ty.size_bytes() / rows.max(1)
                }
                Storage::Param(_) | Storage::Buffer => ty.size_bytes(),
            };
            if matches!(s, Storage::Scratch { .. }) && n > 0 {
                scratch.push((bytes.len(), n));
            }
            of.insert(ValueId(v as u32), bytes.len());
            bytes.push(n);
        }
        let np = program.params.len();
        let mut direct_output = vec![None; bytes.len()];
        for (i, o) in program.outputs.iter().enumerate() {
            let slot = of[o];
            if slot >= np && direct_output[slot].is_none() {
                direct_output[slot] = Some(i);
            }
        }
        Slots {
            bytes,
            of,
            direct_output,
            scratch,
        }
    }
}
