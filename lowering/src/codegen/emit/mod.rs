//! Emission of one fused kernel as a Cranelift function.
//!
//! Kernel ABI: `extern "C" fn(bufs: *const *mut u8, status: *mut i64)`. `bufs` is the
//! executor's buffer table (parameters, outputs, temporaries), checked against the program
//! before the call; `status` points to four words: the first two receive the first runtime
//! error (an out-of-range gather index), the last two are the range `[lo, hi)` of the
//! function's *split loop* to run, when it has one (`split.rs`; `0, i64::MAX` runs it all).
//! The function clamps that range to the loop's extent itself, so no value of it can move an
//! access out of bounds.
//!
//! Values are computed by walking the expression tree from the kernel root down to buffers,
//! carrying a symbolic index ([`Idx`]) per dimension. In vector mode the innermost loop
//! variable (the *lane* variable) stands for four consecutive indices; a subtree that cannot
//! be computed four lanes at a time (a gather, a 64-bit dtype, a pad whose bound depends on the
//! lane) is computed once per lane in scalar mode and packed, so vectorisation never changes
//! results, only speed.
//!
//! This module holds the emitter's state and the entry point; its methods are split by
//! concern, each file one or more `impl KernelEmitter` blocks:
//!
//! | module | what it emits |
//! |---|---|
//! | `loops` | counted loops and nests, the split loop, loop kernels (flat, cut, vectorised), check kernels |
//! | `random` | `random_uniform`: Philox4x32-10 per element, as `reference/random.rs` |
//! | `scatter` | scatter kernels (`scatter_add`): copy the input, then add each update in index order |
//! | `reduce` | reduction kernels: identities, combining, NaN / signed-zero tracking, arg reductions |
//! | `expr` | the expression walker: the one match over [`Op`](crate::op::Op) that lowers each instruction |
//! | `hoist` | loop-invariant values computed once before the innermost loop |
//! | `memory` | addresses, loads and stores, index values, views, pad, concat, gather addressing |
//! | `arith` | scalar and vector arithmetic: unary, binary, cast, constants, selects |
//! | `wide` | loops in chunks whose transcendental functions run through the host's wide math |

mod arith;
mod expr;
mod hoist;
mod loops;
mod memory;
mod random;
mod reduce;
mod scatter;
mod wide;

use super::bases::Bases;
use super::index::{Idx, Var};
use super::kernel::vec_dtype;
use super::math::MathEmitter;
use super::plan::{FusionPlan, Kernel, KernelKind, Storage};
use super::segments::Part;
use super::split::{SplitLoop, STATUS_HI, STATUS_LO};
use crate::error::Error;
use crate::program::{Program, ValueId};
use crate::types::{DType, Shape};
use cranelift_codegen::ir::{types, InstBuilder, MemFlagsData, Type, Value};
use cranelift_frontend::FunctionBuilder;
use cranelift_module::Module;
use std::collections::HashMap;

pub(crate) const LANES: i64 = 4;

/// Whether a value is one element or four lanes of the lane variable.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
enum Mode {
    Scalar,
    Vector,
}

type R<T> = Result<T, Error>;

fn cg(msg: impl Into<String>) -> Error {
    Error::Codegen(msg.into())
}

fn scalar_ty(d: DType) -> Type {
    match d {
        DType::F32 => types::F32,
        DType::F64 => types::F64,
        DType::I32 => types::I32,
        DType::I64 => types::I64,
        DType::Bool => types::I8,
    }
}

fn lane_ty(d: DType) -> Type {
    match d {
        DType::F32 => types::F32X4,
        _ => types::I32X4,
    }
}

fn row_strides(s: &Shape) -> Vec<i64> {
    s.strides().into_iter().map(|x| x as i64).collect()
}

/// The row-major element offset of multi-index `idx` in `shape`.
fn row_major_offset(idx: &[Idx], shape: &Shape) -> Idx {
    idx.iter()
        .zip(&row_strides(shape))
        .fold(Idx::konst(0), |acc, (i, s)| acc.add(&i.scale(*s)))
}

pub(crate) struct KernelEmitter<'a, 'f, 'm, M: Module> {
    p: &'a Program,
    plan: &'a FusionPlan,
    b: FunctionBuilder<'f>,
    math: MathEmitter<'m, M>,
    ptr_ty: Type,
    bases: Bases<'a>,
    status: Value,
    ext: Vec<usize>,
    env: Vec<Option<Value>>,
    lane: Option<Var>,
    memo: HashMap<(ValueId, Vec<Idx>, Mode), Value>,
    /// Values invariant in the current innermost loop, computed before it (`hoist.rs`).
    inv: hoist::Invariants,
    /// Per concat: where each operand starts along the axis, and the total.
    concat_starts: &'a mut HashMap<ValueId, Vec<i64>>,
    /// The pieces of a cut loop this function runs (`segments::parts`), when the
    /// group's one kernel is split over several functions.
    part: Option<Part<'a>>,
    /// Roots of a fused loop computed but not yet stored in the current element: loading one
    /// would read a stale value (a reader must find it memoised), so it is an error.
    pending: Vec<ValueId>,
    split: SplitState,
    wide: wide::WideState,
}

/// What [`KernelEmitter::emit`] made of a function besides its code.
pub(crate) struct Emitted {
    /// Transcendental sites ([`MathEmitter::sites`]).
    pub sites: usize,
    /// The loop whose iterations a call may be limited to, when the function has one.
    pub split: Option<SplitLoop>,
}

/// The function's split loop: the outermost loop of a kernel whose iterations write
/// disjoint elements and read nothing another iteration writes (every row of a row group,
/// every element of a fused or plain elementwise loop, every output element of a reduction,
/// every index of the loops outside a concat cut), so that any partition of its range over
/// calls computes the same values.
#[derive(Default)]
struct SplitState {
    /// Whether the kernel allows one (the first looped variable that qualifies is taken).
    wanted: bool,
    /// The variable, and the alignment of sub-range starts (a vector loop's: whole vectors).
    var: Option<(Var, usize)>,
    /// `[lo, hi)` as passed in the status words, loaded in the entry block.
    bounds: Option<(Value, Value)>,
    /// Loops emitted over the variable with the passed range.
    loops: usize,
    /// The variable was bound some other way (then the range cannot be honoured).
    broken: bool,
}

impl<'a, 'f, 'm, M: Module> KernelEmitter<'a, 'f, 'm, M> {
    /// Emits a group of kernels (one kernel, or several sharing an outer loop nest over the
    /// `outer` leading dims) into the function behind `b` and finalizes it. Returns how many
    /// transcendental sites it emitted ([`MathEmitter::sites`]).
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn emit(
        p: &'a Program,
        plan: &'a FusionPlan,
        slot_of: &'a HashMap<ValueId, usize>,
        kernels: &[&Kernel],
        outer: &[usize],
        fused: bool,
        part: Option<Part<'a>>,
        concat_starts: &'a mut HashMap<ValueId, Vec<i64>>,
        mut b: FunctionBuilder<'f>,
        math: MathEmitter<'m, M>,
        ptr_ty: Type,
        tcfg: cranelift_codegen::isa::TargetFrontendConfig,
    ) -> R<Emitted> {
        let entry = b.create_block();
        b.append_block_params_for_function_params(entry);
        b.switch_to_block(entry);
        let bufs = b.block_params(entry)[0];
        let status = b.block_params(entry)[1];
        let kinds_split = kernels
            .iter()
            .all(|k| matches!(k.kind, KernelKind::Loop | KernelKind::Reduce));
        // A row group splits its outer rows; a fused loop or a lone loop or reduction kernel
        // its first loop, found while it is emitted (for a loop cut at concat seams, the
        // first loop outside the cut one, in each function of the cut). Inside a row group's
        // rows, kernels read each other's results at other positions: no inner loop may be
        // split there.
        let row_group = kinds_split && !fused && !outer.is_empty();
        let wanted = kinds_split && (fused || (outer.is_empty() && kernels.len() == 1));
        let bounds = (row_group || wanted).then(|| {
            let flags = MemFlagsData::new().with_notrap().with_aligned();
            (
                b.ins()
                    .load(types::I64, flags, status, 8 * STATUS_LO as i32),
                b.ins()
                    .load(types::I64, flags, status, 8 * STATUS_HI as i32),
            )
        });
        let bases = Bases::new(&mut b, bufs, ptr_ty, slot_of, kernels)?;
        let mut e = KernelEmitter {
            p,
            plan,
            b,
            math,
            ptr_ty,
            bases,
            status,
            ext: Vec::new(),
            env: Vec::new(),
            lane: None,
            memo: HashMap::new(),
            inv: HashMap::new(),
            concat_starts,
            part,
            pending: Vec::new(),
            split: SplitState {
                wanted,
                bounds,
                ..SplitState::default()
            },
            wide: wide::WideState::default(),
        };
        if fused {
            let roots: Vec<ValueId> = kernels.iter().map(|k| k.root).collect();
            e.fused_loop(&roots)?;
            e.b.ins().return_(&[]);
            e.b.seal_all_blocks();
            let emitted = e.emitted();
            e.b.finalize(tcfg);
            return Ok(emitted);
        }
        let mut outer_idx = Vec::with_capacity(outer.len());
        let mut outer_vars = Vec::new();
        for &n in outer {
            if n > 1 {
                let v = e.new_var(n);
                outer_vars.push(v);
                outer_idx.push(Idx::var(v));
            } else {
                outer_idx.push(Idx::konst(0));
            }
        }
        if let Some(&v) = outer_vars.first().filter(|_| row_group) {
            e.split.var = Some((v, 1));
        }
        if outer.iter().product::<usize>() > 0 {
            e.nest(&outer_vars, &mut |e| {
                for (i, kernel) in kernels.iter().enumerate() {
                    match kernel.kind {
                        KernelKind::Loop => {
                            e.wide.sum_into = kernels
                                .get(i + 1)
                                .filter(|next| e.sums_last_dim(next.root, kernel.root, outer.len()))
                                .map(|_| kernel.root);
                            e.loop_kernel(kernel.root, &outer_idx)?;
                            e.wide.sum_into = None;
                        }
                        KernelKind::Reduce => {
                            e.reduce_kernel(kernel.root, &outer_idx)?;
                            e.wide.summed = None;
                        }
                        KernelKind::Check => e.check_kernel(kernel.root)?,
                        KernelKind::Scatter => e.scatter_kernel(kernel.root)?,
                        KernelKind::MatMul => {
                            return Err(cg("matmul kernels are not emitted as code"))
                        }
                    }
                }
                Ok(())
            })?;
        }
        e.b.ins().return_(&[]);
        e.b.seal_all_blocks();
        let emitted = e.emitted();
        e.b.finalize(tcfg);
        Ok(emitted)
    }

    fn emitted(&self) -> Emitted {
        let s = &self.split;
        let split = match s.var {
            Some((v, align)) if s.loops > 0 && !s.broken => Some(SplitLoop {
                extent: self.ext[v as usize],
                align,
            }),
            _ => None,
        };
        Emitted {
            sites: self.math.sites(),
            split,
        }
    }

    /// Makes `v` the split loop's variable if the function wants one and has none yet.
    fn choose_split(&mut self, v: Var, align: usize) {
        if self.split.wanted && self.split.var.is_none() {
            self.split.var = Some((v, align));
        }
    }

    /// Whether `v` is the split loop's variable.
    fn is_split(&self, v: Var) -> bool {
        self.split.var.is_some_and(|(s, _)| s == v)
    }

    /// `idx` with the leading row dims zeroed when `v` lives in a row scratch buffer.
    fn strip(&self, v: ValueId, idx: &[Idx]) -> Vec<Idx> {
        match self.plan.storage[v.index()] {
            Storage::Scratch { outer } => idx
                .iter()
                .enumerate()
                .map(|(d, i)| if d < outer { Idx::konst(0) } else { i.clone() })
                .collect(),
            _ => idx.to_vec(),
        }
    }

    /// Forgets values computed in the current loop body before starting another.
    fn clear_memo(&mut self) {
        self.memo.clear();
        self.bases.clear_local();
    }

    fn new_var(&mut self, extent: usize) -> Var {
        self.ext.push(extent);
        self.env.push(None);
        (self.ext.len() - 1) as Var
    }

    fn bind(&mut self, v: Var, val: Value) {
        if self.is_split(v) {
            self.split.broken = true;
        }
        self.env[v as usize] = Some(val);
    }

    /// [`Self::bind`] for the split loop's own counter.
    fn bind_split(&mut self, v: Var, val: Value) {
        self.env[v as usize] = Some(val);
    }
}
