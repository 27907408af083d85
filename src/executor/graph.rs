//! The post-order walk: from root nodes to a canonical program, its parameters and hash.

use crate::error::SourceLoc;
use crate::ir::{fx_hash, mix, DataSource, Donation, Node, NodeKind};
use lazyjit_lowering::{Inst, Op, Param, Program, Tensor, ValueId};
use smallvec::SmallVec;
use std::sync::Arc;

/// Provisional ids: parameters are tagged so instructions can be numbered before the
/// parameter count is known.
const PARAM_TAG: u32 = 1 << 31;

/// A pending graph in post order, borrowing its nodes from the roots.
pub(crate) struct Graph<'a> {
    /// Parameter leaves in first-use order (device data, or nodes computed by an earlier sync).
    pub params: SmallVec<[&'a Arc<Node>; 8]>,
    /// Instructions in post order: each operand comes before its users.
    pub insts: SmallVec<[&'a Arc<Node>; 8]>,
    /// Operands of instruction `i` are `args[arg_start[i]..arg_start[i + 1]]` (final value ids).
    pub args: SmallVec<[u32; 16]>,
    pub arg_start: SmallVec<[u32; 9]>,
    /// Value id of each root (a root may be a parameter when it is already computed).
    pub outputs: SmallVec<[u32; 4]>,
    /// Hash of the canonical program: parameter types, instructions with operand ids,
    /// outputs. Never of tensor contents.
    pub hash: u64,
}

/// Walks the DAG below `roots` iteratively (graphs may be 100,000 nodes deep), emitting
/// each node once. `epoch` must be unique to this walk (the executor's sync lock is held,
/// so node visit marks are not shared with another walk).
pub(crate) fn walk<'a>(roots: &'a [Arc<Node>], epoch: u64) -> Graph<'a> {
    let mut params: SmallVec<[&'a Arc<Node>; 8]> = SmallVec::new();
    let mut insts: SmallVec<[&'a Arc<Node>; 8]> = SmallVec::new();
    let mut stack: SmallVec<[(&'a Arc<Node>, usize); 16]> = SmallVec::new();
    let mut outputs: SmallVec<[u32; 4]> = SmallVec::with_capacity(roots.len());
    for root in roots {
        if root.visited_in(epoch).is_none() {
            stack.push((root, 0));
        }
        while let Some((n, next)) = stack.pop() {
            if n.is_computed() {
                n.mark_visited(epoch, PARAM_TAG | params.len() as u32);
                params.push(n);
                continue;
            }
            if let Some(op) = n.operands.get(next) {
                stack.push((n, next + 1));
                if op.visited_in(epoch).is_none() {
                    stack.push((op, 0));
                }
                continue;
            }
            // Shared operands may be pushed twice before their first visit completes.
            if n.visited_in(epoch).is_none() {
                n.mark_visited(epoch, insts.len() as u32);
                insts.push(n);
            }
        }
        outputs.push(root.visited_in(epoch).unwrap_or(0));
    }
    let np = params.len() as u32;
    let resolve = |tagged: u32| -> u32 {
        if tagged & PARAM_TAG != 0 {
            tagged & !PARAM_TAG
        } else {
            np + tagged
        }
    };
    let mut h = mix(0x6a09_e667, np as u64);
    for p in &params {
        h = mix(h, fx_hash(&p.ty));
    }
    let mut args: SmallVec<[u32; 16]> = SmallVec::with_capacity(insts.len() * 2);
    let mut arg_start: SmallVec<[u32; 9]> = SmallVec::with_capacity(insts.len() + 1);
    for n in &insts {
        arg_start.push(args.len() as u32);
        h = mix(h, n.node_hash);
        for o in &n.operands {
            let id = resolve(o.visited_in(epoch).unwrap_or(0));
            h = mix(h, id as u64);
            args.push(id);
        }
    }
    arg_start.push(args.len() as u32);
    for o in outputs.iter_mut() {
        *o = resolve(*o);
        h = mix(h, !(*o as u64));
    }
    Graph {
        params,
        insts,
        args,
        arg_start,
        outputs,
        hash: h,
    }
}

impl<'a> Graph<'a> {
    pub fn args_of(&self, i: usize) -> &[u32] {
        &self.args[self.arg_start[i] as usize..self.arg_start[i + 1] as usize]
    }

    pub fn op_of(&self, i: usize) -> &'a Op {
        match &self.insts[i].kind {
            NodeKind::Op(op) => op,
            NodeKind::Data(..) => unreachable!("instructions are op nodes"),
        }
    }

    /// The data of each parameter, in order.
    pub fn param_data(&self) -> SmallVec<[&'a Tensor; 8]> {
        self.params
            .iter()
            .map(|p| match &p.kind {
                NodeKind::Data(t, _) => &**t,
                NodeKind::Op(_) => &**p.materialized.get().expect("params are leaves"),
            })
            .collect()
    }

    /// A parameter leaf whose buffer was donated to a computation (running, or finished
    /// after this walk reached the leaf): this graph must wait for that computation, which
    /// computes the roots above the leaf, and walk again.
    pub fn donated_param(&self) -> Option<&'a Arc<Node>> {
        self.params
            .iter()
            .copied()
            .find(|p| p.donation() != Donation::None)
    }

    /// Per parameter, whether its buffer may be donated to this computation: nothing
    /// outside the graph can ever read it again. Call under the executor's sync lock (so no
    /// other walk runs). A parameter qualifies when
    ///
    /// - it is a device-data leaf of a tensor (not a cached scalar, not a node computed by
    ///   an earlier sync), not donated before, and not a root;
    /// - its `Arc<Tensor>` is held by the leaf alone (no tensor, node or user shares the
    ///   buffer), with no weak references;
    /// - the leaf's own strong count is exactly the operand edges from this graph's
    ///   instructions (no live tensor holds it as its value, no user holds its `Arc<Node>`,
    ///   no pending node outside the graph uses it), with no weak references;
    /// - every non-root instruction above it is likewise referenced only by operand edges
    ///   of this graph's instructions. Roots may be held from outside: the sync computes
    ///   them, so a later graph reads their value and never their operands.
    pub fn donatable(&self) -> SmallVec<[bool; 8]> {
        let np = self.params.len();
        let n = np + self.insts.len();
        // On the stack for graphs of up to 64 values: this runs on every sync, and three heap
        // vectors were an eighth of a 16-element round trip (callgrind).
        let mut refs: SmallVec<[u32; 64]> = SmallVec::from_elem(0, n);
        for &a in &self.args {
            refs[a as usize] += 1;
        }
        // What the parameter itself must satisfy; most syncs have no such parameter (the
        // user still holds every input), and then nothing else needs computing.
        let candidate = |q: usize, p: &Arc<Node>| {
            let NodeKind::Data(t, DataSource::Tensor) = &p.kind else {
                return false;
            };
            p.donation() == Donation::None
                && Arc::strong_count(t) == 1
                && Arc::weak_count(t) == 0
                && Arc::strong_count(p) == refs[q] as usize
                && Arc::weak_count(p) == 0
        };
        let mut out: SmallVec<[bool; 8]> = self
            .params
            .iter()
            .enumerate()
            .map(|(q, p)| candidate(q, p))
            .collect();
        if !out.contains(&true) {
            return out;
        }
        let mut root: SmallVec<[bool; 64]> = SmallVec::from_elem(false, n);
        for &o in &self.outputs {
            root[o as usize] = true;
        }
        // An instruction is tainted when something outside the graph may reach it: held
        // beyond the graph's edges (unless a root), or an operand of a tainted instruction.
        // Post order puts users after operands, so one backward pass propagates it.
        let mut tainted: SmallVec<[bool; 64]> = SmallVec::from_elem(false, n);
        for i in (0..self.insts.len()).rev() {
            let v = np + i;
            let node = self.insts[i];
            if !root[v]
                && (Arc::strong_count(node) != refs[v] as usize || Arc::weak_count(node) != 0)
            {
                tainted[v] = true;
            }
            if tainted[v] {
                for &a in self.args_of(i) {
                    tainted[a as usize] = true;
                }
            }
        }
        for (q, d) in out.iter_mut().enumerate() {
            *d = *d && !tainted[q] && !root[q];
        }
        out
    }

    /// The `Arc` of parameter `q`'s data (a device-data leaf's tensor).
    pub fn param_arc(&self, q: usize) -> Option<&'a Arc<Tensor>> {
        match &self.params[q].kind {
            NodeKind::Data(t, _) => Some(t),
            NodeKind::Op(_) => None,
        }
    }

    /// Whether `program` is exactly this graph (the check on a cache hit, so a hash
    /// collision can never run the wrong code). Allocation-free.
    pub fn matches(&self, program: &Program) -> bool {
        if program.params.len() != self.params.len()
            || program.insts.len() != self.insts.len()
            || program.outputs.len() != self.outputs.len()
        {
            return false;
        }
        for (p, n) in program.params.iter().zip(&self.params) {
            if p.ty != n.ty {
                return false;
            }
        }
        for (i, inst) in program.insts.iter().enumerate() {
            let n = self.insts[i];
            if inst.ty != n.ty || inst.op != *self.op_of(i) {
                return false;
            }
            let a = self.args_of(i);
            if inst.args.len() != a.len() || inst.args.iter().zip(a).any(|(x, y)| x.0 != *y) {
                return false;
            }
        }
        program
            .outputs
            .iter()
            .zip(&self.outputs)
            .all(|(x, y)| x.0 == *y)
    }

    /// The program text the backend compiles.
    pub fn to_program(&self) -> Program {
        let mut p = Program::new();
        p.params = self
            .params
            .iter()
            .enumerate()
            .map(|(i, n)| Param {
                name: format!("p{i}"),
                ty: n.ty.clone(),
            })
            .collect();
        p.insts = (0..self.insts.len())
            .map(|i| Inst {
                op: self.op_of(i).clone(),
                args: self.args_of(i).iter().map(|&a| ValueId(a)).collect(),
                ty: self.insts[i].ty.clone(),
            })
            .collect();
        p.outputs = self.outputs.iter().map(|&o| ValueId(o)).collect();
        p
    }

    /// The node of each value (parameters, then instructions).
    pub fn value_nodes(&self) -> Vec<Arc<Node>> {
        self.params
            .iter()
            .chain(&self.insts)
            .map(|n| Arc::clone(n))
            .collect()
    }

    /// Source location of each value (parameters, then instructions).
    pub fn value_locs(&self) -> Vec<SourceLoc> {
        self.params
            .iter()
            .chain(&self.insts)
            .map(|n| n.loc)
            .collect()
    }
}
