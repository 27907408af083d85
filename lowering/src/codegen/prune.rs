//! Dropping kernels that have nothing to do: empty iteration domains and dead results.
//!
//! Loops are emitted only over dims larger than 1 (a size-0 dim gets no loop variable, like a
//! size-1 one), so a kernel with an empty domain must never reach the emitter with work to
//! do; and a row group loops over its rows before any kernel looks at its inner dims, so
//! `[2^20, 2^20, 0]` rows of kernels that each do nothing would still be 2^40 trips of the
//! outer nest. The rule, applied to the planned kernels before row groups are formed:
//!
//! - a kernel *writes* `out` elements: its result's element count (for a check kernel, the
//!   index's, which it scans); a kernel that writes nothing is dropped;
//! - a kernel *reads* its inputs only if it visits some element of them: a loop kernel for each
//!   output element, a reduction for each element of its operand (a reduction over an empty
//!   axis into a non-empty result writes its identity and reads nothing), a matmul only when
//!   `k > 0` (with `k = 0` it writes zeros);
//! - a kernel is kept when it writes something and its result is needed: a program output, a
//!   check kernel (an out-of-range index is an error even when the gather is unused), or an
//!   input of a kept kernel that reads.
//!
//! A dropped kernel's result keeps its buffer slot (kept kernels that read nothing may still
//! name it among their inputs) but gets no memory (`slots.rs`).

use super::kernel::{Kernel, KernelKind};
use crate::program::Program;

/// Elements a kernel writes, and whether it reads any element of its inputs.
fn domain(p: &Program, k: &Kernel) -> (usize, bool) {
    let Some(inst) = p.inst(k.root) else {
        return (0, false);
    };
    match k.kind {
        KernelKind::Check => {
            let n = inst
                .args
                .get(1)
                .map_or(0, |&i| p.value_type(i).shape.numel());
            (n, n > 0)
        }
        KernelKind::Reduce => {
            let n = inst.ty.shape.numel();
            (n, n > 0 && p.value_type(inst.args[0]).shape.numel() > 0)
        }
        KernelKind::MatMul => {
            let n = inst.ty.shape.numel();
            let a = p.value_type(inst.args[0]).shape.dims();
            let k = a.last().copied().unwrap_or(0);
            (n, n > 0 && k > 0)
        }
        KernelKind::Loop | KernelKind::Scatter => {
            let n = inst.ty.shape.numel();
            (n, n > 0)
        }
    }
}

/// The kernels worth emitting, in their original order (see the module doc).
pub(super) fn prune(p: &Program, kernels: Vec<Kernel>) -> Vec<Kernel> {
    let mut needed = vec![false; p.num_values()];
    for o in &p.outputs {
        needed[o.index()] = true;
    }
    let mut keep = vec![false; kernels.len()];
    // Kernels come in program order, so every reader of a kernel's result comes after it.
    for (i, k) in kernels.iter().enumerate().rev() {
        let (writes, reads) = domain(p, k);
        keep[i] = writes > 0 && (k.kind == KernelKind::Check || needed[k.root.index()]);
        if keep[i] && reads {
            for v in &k.inputs {
                needed[v.index()] = true;
            }
        }
    }
    kernels
        .into_iter()
        .zip(keep)
        .filter_map(|(k, keep)| keep.then_some(k))
        .collect()
}
