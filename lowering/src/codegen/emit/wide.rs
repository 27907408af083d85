//! Loops whose transcendental functions run through the host's wide (AVX2 / AVX-512) math.
//!
//! Cranelift's x86-64 vectors have four f32 lanes, and the inline `exp` or `sigmoid` of a
//! fused loop is compute-bound at that width (BENCHMARKS.md, "Where the misses come from").
//! So a vectorised loop whose values contain `exp`, `log`, `tanh`, `sigmoid` or `erf` of f32
//! runs in chunks of up to [`CHUNK`] elements, each in phases over the chunk: the arguments of
//! the sites of one level are computed four lanes at a time into a stack buffer per site, one
//! call per site applies the function to the whole buffer in place (`math::wide`, 8 or 16
//! lanes, bit-identical to the inline code), and the next phase reads the results back where
//! the expression walker would have computed them. The last phase is the loop's own body. A
//! site of level `k` has sites of levels below `k` in its argument and none of `k` or above,
//! so `tanh(exp(x) + 1)` takes three phases.
//!
//! Only sites reached from the loop's roots through elementwise ops of the roots' own shape
//! go wide: their index is the roots' index, so one buffer position per element holds them.
//! A site under a view (a slice, a permute) or a broadcast operand is computed at another index
//! and stays inline, as does a site whose argument reads another root of a fused group (that
//! root is stored only by the last phase). Everything is recomputed per phase except the wide
//! results; what the phases recompute is cheap and read from L1 (a chunk of every input is
//! 1 KiB).

use super::{row_major_offset, KernelEmitter, Mode, LANES, R};
use crate::codegen::index::{Idx, Var};
use crate::codegen::math::MathFn;
use crate::codegen::plan::Storage;
use crate::op::{BinaryOp, Op, ReduceOp, UnaryOp};
use crate::program::ValueId;
use crate::types::{DType, Shape};
use cranelift_codegen::ir::condcodes::IntCC;
use cranelift_codegen::ir::{
    types, InstBuilder, MemFlagsData, StackSlot, StackSlotData, StackSlotKind, Value,
};
use cranelift_module::Module;
use std::collections::HashMap;

/// Elements per chunk: each site's buffer is 1 KiB, and one call per site and chunk. 128 and
/// 256 measured alike on `sigmoid(a)·b` and softmax; 512 and 1024 were slower.
pub(super) const CHUNK: i64 = 256;

/// Most levels of sites a loop over fewer than [`LARGE`] elements runs wide.
const SMALL_MAX_LEVELS: usize = 4;

/// Elements from which a loop runs any number of levels wide.
const LARGE: usize = 1 << 15;

/// How a phase loop is emitted.
#[derive(Clone, Copy)]
struct Phases {
    /// Vectors per iteration of the main loop.
    unroll: i64,
    /// Every chunk's length is a multiple of this (1, 4 or 16): no loop for what cannot
    /// remain.
    whole: i64,
}

/// Vectors per iteration of a phase loop, in loops of at most two levels (`sigmoid(a)·b` on 2^22: 2.2–2.4 ms unrolled once,
/// 2.0 ms four times, against a 1.7 ms stream).
const UNROLL: i64 = 4;

/// The shortest innermost loop that runs its math wide: below it a call per row would cost
/// about as much as the inline code it replaces.
const WIDE_MIN: usize = 16;

/// A wide site: the instruction, its argument, and the wide function's address.
#[derive(Clone, Copy)]
struct Site {
    v: ValueId,
    arg: ValueId,
    f: MathFn,
    addr: usize,
}

/// Where a call reads a site's argument from, when not from the chunk buffer a phase filled.
enum Source {
    /// A buffer, read contiguously from this element offset.
    Buffer(Idx),
    /// `buf ∘ k` for an f32 `k` that is the same for the whole chunk (a constant, a scalar,
    /// a row's max): the affine function, `f(a·x + b)`, reading `buf` at `off`.
    Affine {
        buf: ValueId,
        off: Idx,
        k: ValueId,
        at: Vec<Idx>,
        form: Form,
    },
}

/// The operation of [`Source::Affine`], and its `(a, b)`: each is one exactly rounded
/// operation as `a·x + b`, so the result is the four-lane code's.
#[derive(Clone, Copy)]
enum Form {
    /// `x + k`, `k + x`: `(1, k)`.
    Add,
    /// `x - k`: `(1, -k)`.
    Sub,
    /// `k - x`: `(-1, k)`.
    SubFrom,
    /// `x · k`, `k · x`: `(k, -0)` (adding -0 keeps a zero product's sign).
    Mul,
}

/// The emitter's state inside a chunk.
#[derive(Default)]
pub(super) struct WideState {
    /// Sites whose chunk is in their buffer: the buffer and the index it was computed at.
    ready: HashMap<ValueId, (StackSlot, Vec<Idx>)>,
    /// Byte offset of the current element in the chunk, in a phase loop.
    off: Option<Value>,
    /// The loop variables bound outside the chunked loop, and a stack slot holding their
    /// values (see [`KernelEmitter::refresh_env`]).
    saved: Option<(StackSlot, Vec<(Var, Value)>)>,
    /// [`KernelEmitter::wide_sub`].
    sub: usize,
    /// The root of the loop kernel being emitted when the next kernel of its row group sums
    /// it over its last dim (softmax's `exp` and `sum`): if its call writes the root itself,
    /// it also sums it ([`Self::summed`]).
    pub(super) sum_into: Option<ValueId>,
    /// The value a loop kernel's calls summed, and the 17 f32 of the sum's state
    /// (`math::accumulate`): the sum kernel combines these instead of reading the row again.
    pub(super) summed: Option<(ValueId, StackSlot)>,
}

impl<'a, 'f, 'm, M: Module> KernelEmitter<'a, 'f, 'm, M> {
    /// The sites of `roots` (of one shape) that run wide, by level, lowest first; empty when
    /// there are none or the host has no wide functions.
    fn wide_levels(&self, roots: &[ValueId]) -> Vec<Vec<Site>> {
        let Some(&first) = roots.first() else {
            return Vec::new();
        };
        let shape = &self.p.value_type(first).shape;
        let mut walk = Walk {
            memo: HashMap::new(),
            sites: Vec::new(),
        };
        for &r in roots {
            self.wide_walk(&mut walk, roots, r, r, shape, true);
        }
        let mut levels: Vec<Vec<Site>> = Vec::new();
        for (site, level) in walk.sites {
            if levels.len() < level {
                levels.resize_with(level, Vec::new);
            }
            levels[level - 1].push(site);
        }
        levels
    }

    /// The highest site level in `v`'s value, and whether it reads a root other than `root`
    /// (then no site above it may go wide). Records the wide sites in `w`. `record` is false
    /// below a view or a broadcast operand, whose index is not the roots'.
    fn wide_walk(
        &self,
        w: &mut Walk,
        roots: &[ValueId],
        root: ValueId,
        v: ValueId,
        shape: &Shape,
        record: bool,
    ) -> (usize, bool) {
        if v != root && roots.contains(&v) {
            return (0, true);
        }
        if v != root && self.plan.is_buffer(v) {
            return (0, false);
        }
        if let Some(&r) = w.memo.get(&(v, record)) {
            return r;
        }
        let Some(inst) = self.p.inst(v) else {
            return (0, false);
        };
        let elementwise = matches!(inst.op, Op::Unary(_) | Op::Binary(_) | Op::Where | Op::Cast);
        let keep = record && elementwise && &inst.ty.shape == shape;
        let mut level = 0;
        let mut reads_root = false;
        for &a in &inst.args {
            let same = &self.p.value_type(a).shape == shape;
            let (l, r) = self.wide_walk(w, roots, root, a, shape, keep && same);
            if keep && same {
                level = level.max(l);
            }
            reads_root |= r;
        }
        let out = match (&inst.op, keep && !reads_root) {
            (Op::Unary(u), true) if inst.ty.dtype == DType::F32 => {
                let found = wide_fn(*u).and_then(|f| Some((f, self.math.wide(f, false)?)));
                match found {
                    Some((f, addr)) => {
                        let arg = inst.args[0];
                        w.sites.push((Site { v, arg, f, addr }, level + 1));
                        (level + 1, false)
                    }
                    None => (level, false),
                }
            }
            _ if keep => (level, reads_root),
            _ => (0, reads_root),
        };
        w.memo.insert((v, record), out);
        out
    }

    /// The result of wide site `v` at `idx` for the current element, when its chunk is ready.
    pub(super) fn wide_value(&mut self, v: ValueId, idx: &[Idx], mode: Mode) -> Option<Value> {
        let off = self.wide.off?;
        let (slot, at) = self.wide.ready.get(&v)?;
        if at.as_slice() != idx {
            return None;
        }
        let slot = *slot;
        let ty = match mode {
            Mode::Vector => types::F32X4,
            Mode::Scalar => types::F32,
        };
        let addr = self.slot_at(slot, off);
        let flags = MemFlagsData::new().with_notrap().with_aligned();
        Some(self.b.ins().load(ty, flags, addr, 0))
    }

    fn slot_at(&mut self, slot: StackSlot, off: Value) -> Value {
        let base = self.b.ins().stack_addr(self.ptr_ty, slot, 0);
        self.b.ins().iadd(base, off)
    }

    /// [`Self::inner_loop`] for a body that computes `roots` at `idx` (and stores them): in
    /// chunks with wide math when their values have wide sites, else as it is. `store` is the
    /// element offset the body stores its one root at, when it has one root to store.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn math_loop(
        &mut self,
        inner: Var,
        vectorize: bool,
        roots: &[ValueId],
        idx: &[Idx],
        store: Option<&Idx>,
        body: &mut dyn FnMut(&mut Self, Mode) -> R<()>,
    ) -> R<()> {
        let outer = self.hoist(roots, idx, inner, vectorize)?;
        let levels = self.wide_plan(inner, vectorize, roots);
        let done = if levels.is_empty() {
            let long = self.ext[inner as usize] >= (LANES * UNROLL) as usize;
            let unroll = if vectorize && long && self.small_body(roots) {
                UNROLL
            } else {
                1
            };
            self.unrolled_inner_loop(inner, vectorize, unroll, body)
        } else {
            self.chunked(inner, levels, roots, idx, store, false, body)
        };
        self.end_hoist(outer);
        done
    }

    /// The innermost loop of an inner reduction over `inner` of `arg` at `idx`, in chunks with
    /// wide math, when `arg` has wide sites: `body` accumulates one element (scalar mode) or
    /// one vector into accumulator [`Self::wide_sub`] of four, in the order of the plain
    /// loops (16 elements per step, then 4, then 1). Returns false, having emitted nothing,
    /// when `arg` has no wide sites.
    pub(super) fn math_reduce(
        &mut self,
        inner: Var,
        arg: ValueId,
        idx: &[Idx],
        body: &mut dyn FnMut(&mut Self, Mode) -> R<()>,
    ) -> R<bool> {
        // A stored argument is loaded, not computed.
        if self.plan.is_buffer(arg) {
            return Ok(false);
        }
        let levels = self.wide_plan(inner, true, &[arg]);
        if levels.is_empty() {
            return Ok(false);
        }
        self.chunked(inner, levels, &[arg], idx, None, true, body)?;
        Ok(true)
    }

    /// Which vector of an unrolled phase iteration is being emitted (0 to 3; 0 outside
    /// unrolled loops).
    pub(super) fn wide_sub(&self) -> usize {
        self.wide.sub
    }

    /// The wide sites of `roots`, by level, for a loop over `inner`: none when the loop is not
    /// vectorised, is short, is inside a chunked loop, or would cost more to compile than it
    /// saves.
    fn wide_plan(&self, inner: Var, vectorize: bool, roots: &[ValueId]) -> Vec<Vec<Site>> {
        let n = self.ext[inner as usize];
        let mut levels = if vectorize && n >= WIDE_MIN && self.wide.off.is_none() {
            self.wide_levels(roots)
        } else {
            Vec::new()
        };
        // Each level is a phase loop of code: a long chain over a small tensor would compile
        // slower than it ever runs (`compile_tanh_chain64`, 21 levels over 1024 elements:
        // 2.1 ms against 0.31 ms with out-of-line sites, for 7 µs less per run).
        let numel = roots
            .first()
            .map_or(0, |&r| self.p.value_type(r).shape.numel());
        if levels.len() > SMALL_MAX_LEVELS && numel < LARGE {
            levels.clear();
        }
        levels
    }

    /// The chunked loop over `inner` (see the module comment). `reduce`: the last phase
    /// always runs four vectors per iteration (a reduction's four accumulators).
    #[allow(clippy::too_many_arguments)]
    fn chunked(
        &mut self,
        inner: Var,
        levels: Vec<Vec<Site>>,
        roots: &[ValueId],
        idx: &[Idx],
        store: Option<&Idx>,
        reduce: bool,
        body: &mut dyn FnMut(&mut Self, Mode) -> R<()>,
    ) -> R<()> {
        let n = self.ext[inner as usize];
        let split = self.is_split(inner);
        // Every chunk's length is a multiple of `whole`: ranges start on the split loop's
        // alignment (or 0) and end on the next start or the extent.
        let align = match self.split.var {
            Some((_, a)) if split => a as i64,
            _ => n as i64,
        };
        let whole = [LANES * UNROLL, LANES]
            .into_iter()
            .find(|&m| n as i64 % m == 0 && align % m == 0)
            .unwrap_or(1);
        let shape = Phases {
            unroll: if levels.len() <= 2 { UNROLL } else { 1 },
            whole,
        };
        let (lo, hi) = if split {
            self.split_range(n as i64)?
        } else {
            let lo = self.b.ins().iconst(types::I64, 0);
            let hi = self.b.ins().iconst(types::I64, n as i64);
            (lo, hi)
        };
        // A site whose argument is a buffer read contiguously is computed from the buffer,
        // with no phase to copy it; a root that is itself the one top site is written by the
        // call, with no last phase.
        let sources: Vec<Vec<Option<Source>>> = levels
            .iter()
            .map(|l| {
                l.iter()
                    .map(|s| self.direct_src(s, roots, idx, inner))
                    .collect()
            })
            .collect();
        // The call writes the root itself when the root is the one top site, or that site
        // times a buffer it can read contiguously (`sigmoid(a) · b`).
        let out = match (store, levels.last().map(Vec::as_slice), roots) {
            (Some(off), Some([top]), [root]) if off.affine_coef(inner) == Some(1) => {
                if top.v == *root {
                    Some((off.clone(), None))
                } else {
                    self.product_with(*root, top.v, roots, idx, inner)
                        .map(|m| (off.clone(), Some(m)))
                }
            }
            _ => None,
        };
        let slots: Vec<Vec<StackSlot>> = levels
            .iter()
            .map(|l| {
                l.iter()
                    .map(|_| {
                        let data =
                            StackSlotData::new(StackSlotKind::ExplicitSlot, CHUNK as u32 * 4, 6);
                        self.b.create_sized_stack_slot(data)
                    })
                    .collect()
            })
            .collect();
        // The calls writing the root also sum it for the next kernel (see `sum_into`): the
        // state starts at the sum's identity, -0.0, in all 17 lanes.
        // An inner sum whose argument is the one top site (`sum(exp(x - max))` of
        // log-softmax) needs no last phase either: the calls sum into the state.
        let sums_site = reduce
            && matches!((levels.as_slice(), roots), ([l], [root]) if matches!(l.as_slice(), [top] if top.v == *root));
        let acc = match (&out, roots) {
            (_, [root])
                if !split && self.wide.sum_into == Some(*root) && (out.is_some() || sums_site) =>
            {
                let data = StackSlotData::new(StackSlotKind::ExplicitSlot, 17 * 4, 6);
                let slot = self.b.create_sized_stack_slot(data);
                let z = self.b.ins().f32const(-0.0);
                for k in 0..17 {
                    self.b.ins().stack_store(self.ptr_ty, z, slot, 4 * k);
                }
                self.wide.summed = Some((*root, slot));
                Some(slot)
            }
            _ => None,
        };
        self.save_env(inner, idx);
        // for (i0 = lo; i0 < hi; i0 += CHUNK) { len = min(CHUNK, hi - i0); ... }
        let head = self.b.create_block();
        let i0 = self.b.append_block_param(head, types::I64);
        let body_block = self.b.create_block();
        let exit = self.b.create_block();
        self.b.ins().jump(head, &[lo.into()]);
        self.b.switch_to_block(head);
        let more = self.b.ins().icmp(IntCC::SignedLessThan, i0, hi);
        self.b.ins().brif(more, body_block, &[], exit, &[]);
        self.b.switch_to_block(body_block);
        let left = self.b.ins().isub(hi, i0);
        let full = self.b.ins().iconst(types::I64, CHUNK);
        let short = self.b.ins().icmp(IntCC::SignedLessThan, left, full);
        let len = self.b.ins().select(short, left, full);
        for (k, ((level, slots), srcs)) in levels.iter().zip(&slots).zip(&sources).enumerate() {
            if srcs.iter().any(Option::is_none) {
                self.phase(inner, split, shape, i0, len, &mut |e, mode| {
                    let off = e.wide.off.expect("a phase sets the offset");
                    for ((s, &slot), src) in level.iter().zip(slots).zip(srcs) {
                        if src.is_some() {
                            continue;
                        }
                        let ai = e.broadcast_idx(idx, s.arg);
                        let x = e.compute_or_load(s.arg, &ai, mode)?;
                        let addr = e.slot_at(slot, off);
                        let flags = MemFlagsData::new().with_notrap().with_aligned();
                        e.b.ins().store(flags, x, addr, 0);
                    }
                    Ok(())
                })?;
            }
            // Addresses at the chunk's first element. After a phase, the pointers and indices
            // it loaded are still valid (no call since); otherwise a call may precede.
            if srcs.iter().all(Option::is_some) {
                self.bases.reload(&mut self.b)?;
                self.refresh_env();
            }
            self.clear_memo();
            if split {
                self.bind_split(inner, i0);
            } else {
                self.bind(inner, i0);
            }
            let last = k + 1 == levels.len();
            for ((s, &slot), src) in level.iter().zip(slots).zip(srcs) {
                let mut pf = None;
                let buf = self.b.ins().stack_addr(self.ptr_ty, slot, 0);
                let one = self.b.ins().f32const(1.0);
                let neg_zero = self.b.ins().f32const(-0.0);
                let (addr, from, a, b) = match src {
                    None => (s.addr, buf, one, neg_zero),
                    Some(Source::Buffer(off)) => {
                        let from = self.chunk_addr(s.arg, off)?;
                        pf = self.next_row(s.arg, off, inner, from);
                        (s.addr, from, one, neg_zero)
                    }
                    Some(Source::Affine {
                        buf: x,
                        off,
                        k,
                        at,
                        form,
                    }) => {
                        let addr = self
                            .math
                            .wide(s.f, true)
                            .ok_or_else(|| super::cg("no affine wide function"))?;
                        let from = self.chunk_addr(*x, off)?;
                        pf = self.next_row(*x, off, inner, from);
                        let kv = self.compute_or_load(*k, at, Mode::Scalar)?;
                        let (a, b) = match form {
                            Form::Add => (one, kv),
                            Form::Sub => (one, self.b.ins().fneg(kv)),
                            Form::SubFrom => (self.b.ins().f32const(-1.0), kv),
                            Form::Mul => (kv, neg_zero),
                        };
                        (addr, from, a, b)
                    }
                };
                let (to, m) = match (&out, last) {
                    (Some((off, m)), true) => {
                        let root = roots[0];
                        let m = match m {
                            Some((mv, moff)) => Some(self.chunk_addr(*mv, moff)?),
                            None => None,
                        };
                        (self.chunk_addr(root, off)?, m)
                    }
                    _ => (buf, None),
                };
                let sum = match (acc, last) {
                    (Some(slot), true) => Some(self.b.ins().stack_addr(self.ptr_ty, slot, 0)),
                    _ => None,
                };
                self.math
                    .call_wide(&mut self.b, addr, from, to, len, a, b, m, pf, sum);
                self.wide.ready.insert(s.v, (slot, idx.to_vec()));
            }
            self.clear_memo();
        }
        if out.is_none() && acc.is_none() {
            let last = Phases {
                unroll: if reduce { UNROLL } else { shape.unroll },
                ..shape
            };
            self.phase(inner, split, last, i0, len, body)?;
        }
        self.wide.ready.clear();
        self.bases.end_reload();
        let next = self.b.ins().iadd_imm_s(i0, CHUNK);
        self.b.ins().jump(head, &[next.into()]);
        self.b.switch_to_block(exit);
        if let Some((_, vars)) = self.wide.saved.take() {
            for (v, x) in vars {
                self.env[v as usize] = Some(x);
            }
        }
        Ok(())
    }

    /// Stores the values of the loop variables bound outside the chunked loop (the rows of
    /// a row group, the outer dims of a nest) in a stack slot. Live across the calls, they
    /// would be spilled anyway, and the register allocator then stores and reloads them in
    /// every iteration of the phase loops that use them; loaded again after each call
    /// ([`Self::refresh_env`]), they live in registers inside each phase.
    /// Only the variables `idx` mentions: other bound ones may be left from loops that are
    /// over (their values do not dominate this loop).
    fn save_env(&mut self, inner: Var, idx: &[Idx]) {
        let vars: Vec<(Var, Value)> = (0..self.env.len() as Var)
            .filter(|&v| v != inner && idx.iter().any(|i| i.mentions(v)))
            .filter_map(|v| self.env[v as usize].map(|x| (v, x)))
            .collect();
        if vars.is_empty() {
            return;
        }
        let data = StackSlotData::new(StackSlotKind::ExplicitSlot, 8 * vars.len() as u32, 3);
        let slot = self.b.create_sized_stack_slot(data);
        for (k, &(_, x)) in vars.iter().enumerate() {
            self.b.ins().stack_store(self.ptr_ty, x, slot, 8 * k as i32);
        }
        self.wide.saved = Some((slot, vars));
    }

    /// Binds the variables [`Self::save_env`] saved to values loaded at the current position.
    fn refresh_env(&mut self) {
        let Some((slot, vars)) = &self.wide.saved else {
            return;
        };
        let (slot, vars): (StackSlot, Vec<Var>) = (*slot, vars.iter().map(|p| p.0).collect());
        for (k, v) in vars.into_iter().enumerate() {
            let x = self
                .b
                .ins()
                .stack_load(self.ptr_ty, types::I64, slot, 8 * k as i32);
            self.env[v as usize] = Some(x);
        }
    }

    /// Where the call for site `s` may read its argument without a phase: from its buffer
    /// (an f32 buffer, not a root of the loop, which is not stored yet, read contiguously
    /// along `inner`), or from such a buffer combined with a value that is the same for the
    /// whole chunk by `+`, `-` or `·` ([`Source::Affine`]).
    fn direct_src(&self, s: &Site, roots: &[ValueId], idx: &[Idx], inner: Var) -> Option<Source> {
        if let Some(off) = self.contiguous(s.arg, roots, idx, inner) {
            return Some(Source::Buffer(off));
        }
        if self.plan.is_buffer(s.arg) || roots.contains(&s.arg) {
            return None;
        }
        let inst = self.p.inst(s.arg)?;
        let Op::Binary(op) = inst.op else {
            return None;
        };
        let (x, y) = (inst.args[0], inst.args[1]);
        let f32s = [s.arg, x, y]
            .iter()
            .all(|&v| self.p.value_type(v).dtype == DType::F32);
        if !f32s {
            return None;
        }
        let ai = self.broadcast_idx(idx, s.arg);
        let invariant = |v: ValueId| {
            let at = self.broadcast_idx(&ai, v);
            (!roots.contains(&v) && !at.iter().any(|i| i.mentions(inner))).then_some(at)
        };
        let pick = |buf: ValueId, k: ValueId, form: Form| {
            let off = self.contiguous(buf, roots, &ai, inner)?;
            let at = invariant(k)?;
            Some(Source::Affine {
                buf,
                off,
                k,
                at,
                form,
            })
        };
        match op {
            BinaryOp::Add => pick(x, y, Form::Add).or_else(|| pick(y, x, Form::Add)),
            BinaryOp::Mul => pick(x, y, Form::Mul).or_else(|| pick(y, x, Form::Mul)),
            BinaryOp::Sub => pick(x, y, Form::Sub).or_else(|| pick(y, x, Form::SubFrom)),
            _ => None,
        }
    }

    /// The buffer `m` and its element offset when `root` is `site · m` or `m · site` (f32)
    /// for a buffer `m` a call may read contiguously along `inner`: one IEEE multiply, which
    /// the wide function does after `f`.
    fn product_with(
        &self,
        root: ValueId,
        site: ValueId,
        roots: &[ValueId],
        idx: &[Idx],
        inner: Var,
    ) -> Option<(ValueId, Idx)> {
        let inst = self.p.inst(root)?;
        if inst.op != Op::Binary(BinaryOp::Mul) || inst.ty.dtype != DType::F32 {
            return None;
        }
        let m = match inst.args[..] {
            [x, y] if x == site && y != site => y,
            [x, y] if y == site && x != site => x,
            _ => return None,
        };
        let off = self.contiguous(m, roots, idx, inner)?;
        Some((m, off))
    }

    /// Whether `reduce` is an f32 sum (or mean) of `of` over its last dim only, and that dim
    /// is the only one longer than 1 after the group's `outer` row dims: then the loop writing
    /// `of` is one chunked loop per row, and its wide calls may sum it on the way
    /// ([`WideState::sum_into`]; with another loop around them, the state would hold only
    /// that loop's last iteration).
    pub(super) fn sums_last_dim(&self, reduce: ValueId, of: ValueId, outer: usize) -> bool {
        let Some(inst) = self.p.inst(reduce) else {
            return false;
        };
        let dims = self.p.value_type(of).shape.dims();
        let rank = dims.len();
        matches!(&inst.op, Op::Reduce { op: ReduceOp::Sum | ReduceOp::Mean, axes, .. }
            if axes.as_slice() == [rank - 1])
            && inst.args[0] == of
            && self.p.value_type(of).dtype == DType::F32
            && outer < rank
            && dims[outer..rank - 1].iter().all(|&d| d == 1)
    }

    /// Where the call reading `v`'s buffer at element offset `off` (address `here`) should
    /// prefetch: the same
    /// elements one iteration of the innermost enclosing loop later (the next row of a row
    /// group), while that iteration exists; `None` for a row scratch (it stays in L1) or an
    /// offset that does not move with an enclosing loop. The rows a row group reads come from
    /// memory in its first pass (the max of softmax), where nothing else overlaps the wait;
    /// prefetched during the wide pass of the row before, they are in cache by then (softmax
    /// [4096, 1024]: 2.3 → 1.8 ms). A hint only: the function never dereferences it.
    fn next_row(&mut self, v: ValueId, off: &Idx, inner: Var, here: Value) -> Option<Value> {
        if matches!(
            self.plan.storage[v.index()],
            Storage::Scratch { .. } | Storage::Inline
        ) {
            return None;
        }
        // The innermost enclosing loop the offset moves with, and its bound value.
        let (row, r) = (0..self.env.len() as Var).rev().find_map(|r| {
            let x = self.env[r as usize]?;
            (r != inner && off.mentions(r)).then_some((r, x))
        })?;
        let stride = off.affine_coef(row).filter(|&k| k > 0)?;
        let last = self.ext[row as usize] as i64 - 1;
        let more = self.b.ins().icmp_imm_s(IntCC::SignedLessThan, r, last);
        let next = self.b.ins().iadd_imm_s(here, 4 * stride);
        let null = self.b.ins().iconst(self.ptr_ty, 0);
        Some(self.b.ins().select(more, next, null))
    }

    /// The element offset of `v` at `idx` when a call may read it from its buffer: an f32
    /// buffer, not a root of the loop (not stored yet), contiguous along `inner`.
    pub(super) fn contiguous(
        &self,
        v: ValueId,
        roots: &[ValueId],
        idx: &[Idx],
        inner: Var,
    ) -> Option<Idx> {
        if roots.contains(&v) || !self.plan.is_buffer(v) {
            return None;
        }
        let ty = self.p.value_type(v);
        if ty.dtype != DType::F32 {
            return None;
        }
        let ai = self.broadcast_idx(idx, v);
        let off = row_major_offset(&self.strip(v, &ai), &ty.shape);
        (off.affine_coef(inner) == Some(1)).then_some(off)
    }

    /// The address of element `off` of `v`'s buffer, at the current bindings.
    pub(super) fn chunk_addr(&mut self, v: ValueId, off: &Idx) -> R<Value> {
        let base = self.bases.get(&mut self.b, v)?;
        let (addr, imm) = self.elem_addr(base, off, 4);
        Ok(if imm == 0 {
            addr
        } else {
            self.b.ins().iadd_imm_s(addr, imm as i64)
        })
    }

    /// One pass over the chunk of `len` elements from `i0`: `shape.unroll` vectors at a time,
    /// then single vectors, then single elements (each loop only when something can remain
    /// for it), with `inner` bound to the element and the wide offset set.
    #[allow(clippy::too_many_arguments)]
    fn phase(
        &mut self,
        inner: Var,
        split: bool,
        shape: Phases,
        i0: Value,
        len: Value,
        f: &mut dyn FnMut(&mut Self, Mode) -> R<()>,
    ) -> R<()> {
        let mut at = |e: &mut Self, t: Value, mode: Mode| -> R<()> {
            let i = e.b.ins().iadd(i0, t);
            if split {
                e.bind_split(inner, i);
            } else {
                e.bind(inner, i);
            }
            e.wide.off = Some(e.b.ins().ishl_imm_u(t, 2));
            e.clear_memo();
            if mode == Mode::Vector {
                e.lane = Some(inner);
            }
            f(e, mode)?;
            e.lane = None;
            e.wide.off = None;
            Ok(())
        };
        self.bases.reload(&mut self.b)?;
        self.refresh_env();
        let zero = self.b.ins().iconst(types::I64, 0);
        // Several vectors per iteration while they fit (every chunk but a range's last), then
        // one by one: the loop counter and branch per vector cost as much as a phase's work.
        let u = shape.unroll;
        let mut rest = zero;
        if u > 1 {
            rest = self.dyn_loop(zero, len, LANES * u, &mut |e, t| {
                for k in 0..u {
                    let tk = e.b.ins().iadd_imm_s(t, k * LANES);
                    e.wide.sub = k as usize;
                    at(e, tk, Mode::Vector)?;
                }
                e.wide.sub = 0;
                Ok(())
            })?;
        }
        if u == 1 || shape.whole % (LANES * u) != 0 {
            rest = self.dyn_loop(rest, len, LANES, &mut |e, t| at(e, t, Mode::Vector))?;
        }
        if shape.whole % LANES != 0 {
            self.dyn_loop(rest, len, 1, &mut |e, t| at(e, t, Mode::Scalar))?;
        }
        Ok(())
    }
}

/// What [`KernelEmitter::wide_walk`] keeps: results per (value, record), and the sites found
/// with their levels (1 for a site with no site in its argument).
struct Walk {
    memo: HashMap<(ValueId, bool), (usize, bool)>,
    sites: Vec<(Site, usize)>,
}

/// The math function of a unary op that has a wide form.
fn wide_fn(u: UnaryOp) -> Option<MathFn> {
    Some(match u {
        UnaryOp::Exp => MathFn::Exp,
        UnaryOp::Log => MathFn::Log,
        UnaryOp::Tanh => MathFn::Tanh,
        UnaryOp::Sigmoid => MathFn::Sigmoid,
        UnaryOp::Erf => MathFn::Erf,
        _ => return None,
    })
}
