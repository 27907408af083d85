//! Input/output aliasing: which parameter's buffer each program output may be written into
//! when the caller donates that parameter (gives up its buffer), decided once at compile time
//! from the fusion plan.
//!
//! Parameter `q` may be aliased by output `i` (value `v`) only when all of these hold:
//!
//! 1. `q` and `v` have the same type (dtype and shape, so the same byte size);
//! 2. `v` is written directly into the output's buffer by a **loop** kernel `K`
//!    (`slots.direct_output` names output `i` for `v`'s slot; outputs that are copies of
//!    another output or of a parameter never alias). Reductions, matmuls (the GEMM never
//!    writes into an operand) and scatter kernels never write into a donated buffer;
//! 3. `q` is not itself a program output (it is copied out after the run, from its buffer);
//! 4. every other kernel that reads `q` (check kernels and matmul steps included) runs in an
//!    earlier group than `K`: a kernel after `K`, or sharing `K`'s row group (it runs again
//!    for later rows after `K` has written earlier ones), would read overwritten elements.
//!    The exception is a *fused* group (`plan::Group::fused`): its members are elementwise
//!    loops over `v`'s shape, so each reads `q` (of that shape) only at the element being
//!    computed, and the fused loop loads every input of an element before storing any
//!    result: members of `K`'s fused group may read `q`;
//! 5. inside `K`, `q` is read only at exactly the element being written: every path from
//!    `K`'s root to `q` in the fused expression goes through elementwise ops (`unary`,
//!    `binary`, `where`, `cast`) and operands of the root's shape (other operands of such an
//!    op may broadcast: a scalar learning rate is fine) — `q` never broadcast, no
//!    view (reshape, permute, expand, slice, pad, concat), no gather. Each element of `q` is
//!    then loaded in the iteration that stores the same element of `v` (vector lanes load all
//!    four lanes before their one store; the scalar tail and row-group loops likewise), and
//!    the stored value depends on the load, so the load comes first. Data loads carry no
//!    `readonly` flag, so Cranelift does not move them across stores;
//! 6. no check kernel runs after `K`: a runtime error (an out-of-range index) is reported
//!    before anything is written into a donated buffer, so a failed run leaves donated inputs
//!    intact;
//! 7. each parameter aliases at most one output, chosen so that an update `x' = f(x, ..)` is
//!    written into its own previous value `x` and a tensor keeps its buffer from step to step
//!    (rather than trading buffers with another state of the same shape). Eligible pairs
//!    are taken greedily, preferring in turn: a parameter the output's own kernel reads
//!    (at identity); one read by fewer kernels (a state is read by its own update, a
//!    gradient or shared input by several); then output order and the lowest-numbered
//!    parameter (a traced `x' = f(x, ..)` meets `x` first, so it has the lower number). The
//!    lowering crate does not know which tensor an output replaces, so this is a structural
//!    rule: stable (the same program aliases the same way every step), and right for SGD
//!    with momentum, Adam/AdamW and Adadelta steps.
//!
//! When in doubt (an output computed by a dropped kernel, say) nothing is aliased.

use super::plan::{FusionPlan, KernelKind, Storage};
use super::slots::Slots;
use crate::program::{Program, ValueId};

/// Per program output, the parameter whose donated buffer it may be written into.
pub(super) fn aliasable(p: &Program, plan: &FusionPlan, slots: &Slots) -> Vec<Option<usize>> {
    let np = p.params.len();
    let mut result = vec![None; p.outputs.len()];
    if np == 0 {
        return result;
    }
    let kernels = &plan.kernels;
    let mut group_of = vec![0usize; kernels.len()];
    for (gi, g) in plan.groups.iter().enumerate() {
        for &k in &g.kernels {
            group_of[k] = gi;
        }
    }
    let fused = |gi: usize| plan.groups[gi].fused;
    // Rule 3: parameters returned as outputs.
    let mut is_output = vec![false; np];
    for o in &p.outputs {
        if o.index() < np {
            is_output[o.index()] = true;
        }
    }
    // Rule 4: the kernels reading each parameter.
    let mut readers: Vec<Vec<usize>> = vec![Vec::new(); np];
    for (k, kern) in kernels.iter().enumerate() {
        for v in &kern.inputs {
            if v.index() < np && readers[v.index()].last() != Some(&k) {
                readers[v.index()].push(k);
            }
        }
    }
    // Rule 6: the last check kernel.
    let last_check = kernels.iter().rposition(|k| k.kind == KernelKind::Check);
    // Eligible pairs by preference (rule 7): (not read by the output's kernel, kernels
    // reading the parameter, output, parameter).
    let mut pairs: Vec<(bool, usize, usize, usize)> = Vec::new();
    for (i, &v) in p.outputs.iter().enumerate() {
        let Some(&slot) = slots.of.get(&v) else {
            continue;
        };
        if slot < np || slots.direct_output[slot] != Some(i) {
            continue;
        }
        let Some(k) = kernels
            .iter()
            .position(|kern| kern.root == v && kern.kind != KernelKind::Check)
        else {
            continue;
        };
        if kernels[k].kind != KernelKind::Loop || last_check.is_some_and(|c| c > k) {
            continue;
        }
        let ty = p.value_type(v);
        let (off_identity, read) = identity_reads(p, plan, v);
        let gk = group_of[k];
        for q in 0..np {
            let ok = !is_output[q]
                && p.params[q].ty == *ty
                && readers[q]
                    .iter()
                    .all(|&r| r == k || group_of[r] < gk || (group_of[r] == gk && fused(gk)))
                && !off_identity[q];
            if ok {
                pairs.push((!read[q], readers[q].len(), i, q));
            }
        }
    }
    pairs.sort_unstable();
    let mut used = vec![false; np];
    for (_, _, i, q) in pairs {
        if result[i].is_none() && !used[q] {
            used[q] = true;
            result[i] = Some(q);
        }
    }
    result
}

/// Per parameter, whether the loop kernel rooted at `root` reads it anywhere but at the
/// element it writes (rule 5): through a non-elementwise op or an operand of another shape;
/// and whether it reads it at all (rule 7).
fn identity_reads(p: &Program, plan: &FusionPlan, root: ValueId) -> (Vec<bool>, Vec<bool>) {
    let np = p.params.len();
    let shape = &p.value_type(root).shape;
    let n = p.num_values();
    // Values reached only through identity-indexed paths, and values reached some other way.
    let mut identity = vec![false; n];
    let mut other = vec![false; n];
    let mut off = vec![false; np];
    let mut stack = vec![(root, true)];
    while let Some((v, ident)) = stack.pop() {
        let seen = if ident { &mut identity } else { &mut other };
        if std::mem::replace(&mut seen[v.index()], true) {
            continue;
        }
        if v.index() < np {
            if !ident {
                off[v.index()] = true;
            }
            continue;
        }
        // A buffer computed by another kernel: its own reads are that kernel's (rule 4).
        if v != root && plan.storage[v.index()] != Storage::Inline {
            continue;
        }
        let Some(inst) = p.inst(v) else { continue };
        // An elementwise op reads an operand of its own (the root's) shape at the index it
        // computes; a broadcast operand (another shape) or any other op moves the index.
        let elementwise = ident && inst.op.is_elementwise();
        for a in &inst.args {
            stack.push((*a, elementwise && p.value_type(*a).shape == *shape));
        }
    }
    let read = (0..np).map(|q| identity[q] || other[q]).collect();
    (off, read)
}
