//! Compiling a program into machine code: [`compile`] and its passes.
//!
//! `compile` reads as its list of passes (see [`compile_here`]): verify the program, plan
//! its kernels, lay out the buffer table, lower every kernel group to a Cranelift function
//! (or a GEMM step), and finalize the JIT module into the steps a [`Compiled`] runs.

use super::alias;
use super::emit::{Emitted, KernelEmitter};
use super::isa::{has_flag, host_isa};
use super::math::{register_symbols, MathEmitter, Sites};
use super::matmul::MatMulStep;
use super::options::{CompileOptions, CompileStats, KernelText};
use super::plan::{FusionPlan, Kernel, KernelKind};
use super::run::{Compiled, Step};
use super::segments::{parts, split_group, Part};
use super::slots::Slots;
use super::split::{group_work, JitStep, KernelFn, SplitLoop};
use crate::error::Error;
use crate::program::{Program, ValueId};
use cranelift_codegen::ir::{AbiParam, UserFuncName};
use cranelift_codegen::Context;
use cranelift_frontend::{FunctionBuilder, FunctionBuilderContext};
use cranelift_jit::{JITBuilder, JITModule};
use cranelift_module::{default_libcall_names, FuncId, Linkage, Module};
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Programs with more instructions than this are compiled on a helper thread whose stack
/// grows with the program: planning and emission recurse along chains of fused ops.
const DEEP_PROGRAM: usize = 256;

/// Verifies, plans and compiles `program` to machine code.
pub fn compile(program: &Program, opts: &CompileOptions) -> Result<Compiled, Error> {
    if program.insts.len() <= DEEP_PROGRAM {
        return compile_here(program, opts);
    }
    // Generous per instruction (debug builds use several KiB per level); the stack is
    // reserved address space, touched only as deep as the recursion really goes.
    let per_inst: usize = if cfg!(debug_assertions) {
        48 << 10
    } else {
        16 << 10
    };
    let stack = program
        .insts
        .len()
        .saturating_mul(per_inst)
        .saturating_add(8 << 20)
        .min(4 << 30);
    std::thread::scope(|s| {
        std::thread::Builder::new()
            .name("lazyjit-compile".into())
            .stack_size(stack)
            .spawn_scoped(s, || compile_here(program, opts))
            .map_err(|e| {
                Error::Codegen(format!(
                    "cannot start a compile thread with a {} MiB stack for a program of {} instructions: {e}",
                    stack >> 20,
                    program.insts.len()
                ))
            })?
            .join()
            .map_err(|_| Error::Codegen("the compile thread panicked".into()))?
    })
}

/// The passes of `compile`, each timed into its [`CompileStats`] field.
fn compile_here(program: &Program, opts: &CompileOptions) -> Result<Compiled, Error> {
    let mut stats = CompileStats::default();
    timed(&mut stats.verify, || verify(program))?;
    let (plan, slots) = timed(&mut stats.plan, || plan_kernels(program));
    let lowered = timed(&mut stats.codegen, || lower(program, &plan, &slots, opts))?;
    let (module, steps) = timed(&mut stats.finalize, || {
        finalize(lowered.module, lowered.steps)
    })?;
    let aliasable = alias::aliasable(program, &plan, &slots);
    Ok(Compiled {
        program: program.clone(),
        aliasable,
        plan,
        steps,
        slots,
        texts: lowered.texts,
        stats,
        temps: Mutex::new(None),
        module: Mutex::new(Some(module)),
    })
}

/// Runs `f`, recording its duration in `into`.
fn timed<T>(into: &mut Duration, f: impl FnOnce() -> T) -> T {
    let t = Instant::now();
    let r = f();
    *into = t.elapsed();
    r
}

/// Verify: takes the program, gives an error naming every violation, or nothing.
fn verify(program: &Program) -> Result<(), Error> {
    program.verify().map_err(Error::Verify)
}

/// Plan: takes a verified program, gives its kernels (fused, pruned, grouped into row
/// loops; see `plan.rs`) and the buffer table they share.
fn plan_kernels(program: &Program) -> (FusionPlan, Slots) {
    let plan = FusionPlan::new(program);
    let slots = Slots::new(program, &plan);
    (plan, slots)
}

/// What `lower` gives: a module with every kernel function defined, not yet finalized, and
/// one step per function or matmul, in run order.
struct Lowered {
    module: JITModule,
    steps: Vec<LoweredStep>,
    texts: Vec<KernelText>,
}

enum LoweredStep {
    Jit(FuncId, Option<SplitLoop>, usize),
    MatMul(MatMulStep),
}

/// Lower: takes the plan and buffer table, gives one Cranelift function per kernel group
/// (one per part of a group cut into several functions, `segments.rs`) defined in a new JIT
/// module, and a GEMM step per matmul (`matmul/`).
fn lower(
    program: &Program,
    plan: &FusionPlan,
    slots: &Slots,
    opts: &CompileOptions,
) -> Result<Lowered, Error> {
    let mut jit = KernelModule::new(opts)?;
    let mut steps = Vec::new();
    let mut texts = Vec::new();
    // Shared by every function, so that functions running pieces of one cut concat do not
    // each rescan all its operands.
    let mut concat_starts = HashMap::new();
    for (k, group) in plan.groups.iter().enumerate() {
        let kerns: Vec<&Kernel> = group.kernels.iter().map(|&i| &plan.kernels[i]).collect();
        if let [kern] = kerns[..] {
            if kern.kind == KernelKind::MatMul {
                let step = MatMulStep::new(program, kern.root, |v| plan.is_buffer(v), &slots.of)?;
                steps.push(LoweredStep::MatMul(step));
                continue;
            }
        }
        let root = kerns.last().map(|k| k.root).unwrap_or(ValueId(0));
        let work = group_work(program, &kerns);
        let cuts = split_group(program, plan, &kerns, &group.outer);
        let parts: Vec<Option<Part>> = match &cuts {
            Some(c) => parts(c).map(Some).collect(),
            None => vec![None],
        };
        for (part, pieces) in parts.into_iter().enumerate() {
            let name = if part == 0 {
                format!("k{k}")
            } else {
                format!("k{k}.{part}")
            };
            let (id, split, text) =
                jit.define(&name, root, steps.len() as u32, opts, |b, math, tcfg| {
                    KernelEmitter::emit(
                        program,
                        plan,
                        &slots.of,
                        &kerns,
                        &group.outer,
                        group.fused,
                        pieces.clone(),
                        &mut concat_starts,
                        b,
                        math,
                        tcfg.pointer_type(),
                        tcfg,
                    )
                })?;
            texts.push(text);
            steps.push(LoweredStep::Jit(id, split, work));
        }
    }
    Ok(Lowered {
        module: jit.module,
        steps,
        texts,
    })
}

/// Finalize: takes the lowered module and steps, gives the module with machine code in
/// executable memory and the steps as function pointers.
fn finalize(
    mut module: JITModule,
    lowered: Vec<LoweredStep>,
) -> Result<(JITModule, Vec<Step>), Error> {
    module
        .finalize_definitions()
        .map_err(|e| Error::Codegen(format!("finalize: {e}")))?;
    let steps = lowered
        .into_iter()
        .map(|s| match s {
            LoweredStep::Jit(id, split, work) => {
                let ptr = module.get_finalized_function(id);
                // SAFETY: the function was declared with signature (ptr, ptr) -> () in the
                // host calling convention, which is KernelFn.
                let f = unsafe { std::mem::transmute::<*const u8, KernelFn>(ptr) };
                Step::Jit(JitStep { f, split, work })
            }
            LoweredStep::MatMul(m) => Step::MatMul(m),
        })
        .collect();
    Ok((module, steps))
}

/// The JIT module being filled, with the contexts reused for every function.
struct KernelModule {
    module: JITModule,
    ctx: Context,
    fctx: FunctionBuilderContext,
    has_fma: bool,
}

impl KernelModule {
    fn new(opts: &CompileOptions) -> Result<KernelModule, Error> {
        let isa = host_isa(opts.opt_level, opts.verify_clif)?;
        let has_fma = has_flag(&*isa, "has_fma");
        let mut jb = JITBuilder::with_isa(isa, default_libcall_names());
        register_symbols(&mut jb);
        let module = JITModule::new(jb);
        let ctx = module.make_context();
        Ok(KernelModule {
            module,
            ctx,
            fctx: FunctionBuilderContext::new(),
            has_fma,
        })
    }

    /// Declares kernel function `name` (user function `index`, computing `root`), builds its
    /// body with `emit` and compiles it, keeping the texts `opts` asks for. A body with
    /// transcendental sites is built twice: first counting them, then inlining them all, or
    /// calling the out-of-line math (`math::library`) at every one when there are more than
    /// `opts.inline_math`.
    fn define(
        &mut self,
        name: &str,
        root: ValueId,
        index: u32,
        opts: &CompileOptions,
        mut emit: impl FnMut(
            FunctionBuilder<'_>,
            MathEmitter<'_, JITModule>,
            cranelift_codegen::isa::TargetFrontendConfig,
        ) -> Result<Emitted, Error>,
    ) -> Result<(FuncId, Option<SplitLoop>, KernelText), Error> {
        let ptr_ty = self.module.target_config().pointer_type();
        let ctx = &mut self.ctx;
        let id = {
            let sig = &mut ctx.func.signature;
            sig.params.clear();
            sig.params.push(AbiParam::new(ptr_ty));
            sig.params.push(AbiParam::new(ptr_ty));
            self.module
                .declare_function(name, Linkage::Local, sig)
                .map_err(|e| Error::Codegen(format!("declare {name}: {e}")))?
        };
        let tcfg = self.module.target_config();
        // Counting first costs a second emission only for functions with math in them, and
        // the counting pass is small: every site is one call.
        let mut how = Sites::Count;
        let split = loop {
            ctx.func.name = UserFuncName::user(0, index);
            let math = MathEmitter::new(&mut self.module, self.has_fma)
                .sites_as(how)
                .wide_sites(opts.wide_math);
            let b = FunctionBuilder::new(&mut ctx.func, &mut self.fctx);
            let Emitted { sites, split } = emit(b, math, tcfg)?;
            how = match how {
                Sites::Count if sites == 0 => break split,
                Sites::Count if sites <= opts.inline_math => Sites::Inline,
                Sites::Count => Sites::OutOfLine,
                Sites::Inline | Sites::OutOfLine => break split,
            };
            let sig = ctx.func.signature.clone();
            ctx.func.clear();
            ctx.func.signature = sig;
        };
        let mut text = KernelText {
            name: name.to_string(),
            ..Default::default()
        };
        if opts.keep_clif {
            text.clif = Some(ctx.func.display().to_string());
        }
        if opts.keep_disasm {
            ctx.set_disasm(true);
        }
        self.module.define_function(id, ctx).map_err(|e| {
            let detail = match &e {
                cranelift_module::ModuleError::Compilation(
                    cranelift_codegen::CodegenError::Verifier(errs),
                ) => cranelift_codegen::print_errors::pretty_verifier_error(
                    &ctx.func,
                    None,
                    errs.clone(),
                ),
                _ => format!("{e:?}"),
            };
            Error::Codegen(format!("kernel {name} for {root}: {detail}"))
        })?;
        if opts.keep_disasm {
            text.disasm = ctx.compiled_code().and_then(|c| c.vcode.clone());
        }
        self.module.clear_context(ctx);
        Ok((id, split, text))
    }
}
