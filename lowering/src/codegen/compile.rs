//! Compiling a program into machine code, and running it safely.

use super::emit::KernelEmitter;
use super::math::{register_symbols, MathEmitter};
use super::plan::{view_base, FusionPlan, KernelKind, Storage};
use super::segments::{parts, split_group, Part};
use crate::error::Error;
use crate::inputs::check_inputs;
use crate::kernels::MatMulPlan;
use crate::op::Op;
use crate::program::{Program, ValueId};
use crate::tensor::{Buffer, Tensor};
use cranelift_codegen::ir::{AbiParam, UserFuncName};
use cranelift_codegen::settings::{self, Configurable};
use cranelift_frontend::{FunctionBuilder, FunctionBuilderContext};
use cranelift_jit::{JITBuilder, JITModule};
use cranelift_module::{default_libcall_names, Linkage, Module};
use std::collections::HashMap;
use std::fmt;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Cranelift optimisation level.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Default)]
pub enum OptLevel {
    /// No optimisation: fastest compile (about 1.5x faster), about 20% slower code.
    None,
    /// Cranelift's `speed` level (egraph optimisation, LICM).
    #[default]
    Speed,
}

/// What to compile and what to keep for inspection.
#[derive(Clone, Debug)]
pub struct CompileOptions {
    pub opt_level: OptLevel,
    /// Run Cranelift's IR verifier on every function (costs 20–40% compile time).
    pub verify_clif: bool,
    /// Keep each kernel's CLIF as the lowering built it (before Cranelift's optimiser).
    pub keep_clif: bool,
    /// Keep each kernel's machine code listing (VCode form, after register allocation).
    pub keep_disasm: bool,
}

impl Default for CompileOptions {
    fn default() -> Self {
        CompileOptions {
            opt_level: OptLevel::Speed,
            verify_clif: cfg!(debug_assertions),
            keep_clif: false,
            keep_disasm: false,
        }
    }
}

/// Time spent in each compile phase.
#[derive(Clone, Debug, Default)]
pub struct CompileStats {
    pub verify: Duration,
    pub plan: Duration,
    /// Building CLIF and Cranelift's compilation of every kernel.
    pub codegen: Duration,
    pub finalize: Duration,
}

impl CompileStats {
    pub fn total(&self) -> Duration {
        self.verify + self.plan + self.codegen + self.finalize
    }
}

/// Texts of one kernel, when requested in [`CompileOptions`].
#[derive(Clone, Debug, Default)]
pub struct KernelText {
    pub name: String,
    pub clif: Option<String>,
    pub disasm: Option<String>,
}

type KernelFn = unsafe extern "C" fn(*const *mut u8, *mut i64);

enum Step {
    Jit(KernelFn),
    MatMul {
        plan: Box<MatMulPlan>,
        a: usize,
        a_off: usize,
        b: usize,
        b_off: usize,
        out: usize,
    },
}

/// A compiled program: call [`Compiled::run`] with input tensors.
///
/// ```
/// use lazyjit_lowering::{codegen::{compile, CompileOptions}, text, Tensor};
/// let p = text::parse("param %a: f32[3]\nparam %b: f32[3]\n%2: f32[3] = mul %a, %b\nreturn %2\n").unwrap();
/// let c = compile(&p, &CompileOptions::default()).unwrap();
/// let a = Tensor::from_vec(vec![3], vec![1.0f32, 2.0, 3.0]).unwrap();
/// let out = c.run(&[&a, &a]).unwrap();
/// assert_eq!(out[0].as_slice::<f32>().unwrap(), &[1.0, 4.0, 9.0]);
/// ```
pub struct Compiled {
    program: Program,
    plan: FusionPlan,
    steps: Vec<Step>,
    /// Buffer table layout: byte size of each slot (one per value with storage).
    slot_bytes: Vec<usize>,
    slot_of: HashMap<ValueId, usize>,
    /// Per slot: the first program output that receives the slot's value directly (the
    /// kernel writes into the caller's output tensor); other outputs naming the same value
    /// or a parameter are copied after the run.
    direct_output: Vec<Option<usize>>,
    texts: Vec<KernelText>,
    stats: CompileStats,
    /// Intermediate buffers kept between runs (taken by one run at a time).
    temps: Mutex<Option<Vec<Buffer>>>,
    module: Mutex<Option<JITModule>>,
}

impl Drop for Compiled {
    fn drop(&mut self) {
        if let Ok(mut m) = self.module.lock() {
            if let Some(m) = m.take() {
                // SAFETY: the function pointers into this module live in `self.steps`, which is
                // being dropped; `run` borrows `self`, so no call can be in flight.
                unsafe { m.free_memory() };
            }
        }
    }
}

fn isa_for(opts: &CompileOptions) -> Result<cranelift_codegen::isa::OwnedTargetIsa, Error> {
    let mut fb = settings::builder();
    let set = |fb: &mut settings::Builder, k: &str, v: &str| {
        fb.set(k, v)
            .map_err(|e| Error::Codegen(format!("setting {k}={v}: {e}")))
    };
    let lvl = match opts.opt_level {
        OptLevel::None => "none",
        OptLevel::Speed => "speed",
    };
    set(&mut fb, "opt_level", lvl)?;
    set(
        &mut fb,
        "enable_verifier",
        if opts.verify_clif { "true" } else { "false" },
    )?;
    set(&mut fb, "is_pic", "false")?;
    set(&mut fb, "use_colocated_libcalls", "false")?;
    let isa = cranelift_native::builder()
        .map_err(|e| Error::Codegen(format!("host ISA: {e}")))?
        .finish(settings::Flags::new(fb))
        .map_err(|e| Error::Codegen(format!("host ISA: {e}")))?;
    Ok(isa)
}

fn has_flag(isa: &dyn cranelift_codegen::isa::TargetIsa, name: &str) -> bool {
    isa.isa_flags()
        .iter()
        .any(|f| f.name == name && f.as_bool().unwrap_or(false))
}

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

fn compile_here(program: &Program, opts: &CompileOptions) -> Result<Compiled, Error> {
    let mut stats = CompileStats::default();
    let t = Instant::now();
    program.verify().map_err(Error::Verify)?;
    stats.verify = t.elapsed();

    let t = Instant::now();
    let plan = FusionPlan::new(program);
    // Results of kernels the plan dropped (empty or dead) keep a slot, since a kernel that
    // reads nothing may still name them, but get no memory.
    let mut computed = vec![false; program.num_values()];
    for k in &plan.kernels {
        if k.kind != KernelKind::Check {
            computed[k.root.index()] = true;
        }
    }
    let mut slot_bytes = Vec::new();
    let mut slot_of = HashMap::new();
    for (v, s) in plan.storage.iter().enumerate() {
        let ty = program.value_type(ValueId(v as u32));
        let bytes = match *s {
            Storage::Inline => continue,
            Storage::Buffer | Storage::Scratch { .. } if !computed[v] => 0,
            Storage::Scratch { outer } => {
                let rows: usize = ty.shape.dims()[..outer].iter().product();
                ty.size_bytes() / rows.max(1)
            }
            Storage::Param(_) | Storage::Buffer => ty.size_bytes(),
        };
        slot_of.insert(ValueId(v as u32), slot_bytes.len());
        slot_bytes.push(bytes);
    }
    stats.plan = t.elapsed();

    let t = Instant::now();
    let isa = isa_for(opts)?;
    let has_fma = has_flag(&*isa, "has_fma");
    let mut jb = JITBuilder::with_isa(isa, default_libcall_names());
    register_symbols(&mut jb);
    let mut module = JITModule::new(jb);
    let ptr_ty = module.target_config().pointer_type();
    let mut ctx = module.make_context();
    let mut fctx = FunctionBuilderContext::new();
    let mut texts = Vec::new();
    let mut pending: Vec<Option<cranelift_module::FuncId>> = Vec::new();
    let mut steps_proto = Vec::new();
    // Shared by every function, so that functions running pieces of one cut concat do not
    // each rescan all its operands.
    let mut concat_starts = HashMap::new();
    for (k, group) in plan.groups.iter().enumerate() {
        let kerns: Vec<&super::plan::Kernel> =
            group.kernels.iter().map(|&i| &plan.kernels[i]).collect();
        if let [kern] = kerns[..] {
            if kern.kind == KernelKind::MatMul {
                steps_proto.push(matmul_step(program, &plan, &slot_of, kern.root)?);
                pending.push(None);
                continue;
            }
        }
        let root = kerns.last().map(|k| k.root).unwrap_or(ValueId(0));
        let cuts = split_group(program, &plan, &kerns, &group.outer);
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
            ctx.func.signature.params.clear();
            ctx.func.signature.params.push(AbiParam::new(ptr_ty));
            ctx.func.signature.params.push(AbiParam::new(ptr_ty));
            ctx.func.name = UserFuncName::user(0, pending.len() as u32);
            let id = module
                .declare_function(&name, Linkage::Local, &ctx.func.signature)
                .map_err(|e| Error::Codegen(format!("declare {name}: {e}")))?;
            let tcfg = module.target_config();
            {
                let math = MathEmitter::new(&mut module, has_fma);
                let b = FunctionBuilder::new(&mut ctx.func, &mut fctx);
                KernelEmitter::emit(
                    program,
                    &plan,
                    &slot_of,
                    &kerns,
                    &group.outer,
                    pieces,
                    &mut concat_starts,
                    b,
                    math,
                    ptr_ty,
                    tcfg,
                )?;
            }
            let mut text = KernelText {
                name: name.clone(),
                ..Default::default()
            };
            if opts.keep_clif {
                text.clif = Some(ctx.func.display().to_string());
            }
            if opts.keep_disasm {
                ctx.set_disasm(true);
            }
            module.define_function(id, &mut ctx).map_err(|e| {
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
            texts.push(text);
            module.clear_context(&mut ctx);
            pending.push(Some(id));
            steps_proto.push(None);
        }
    }
    stats.codegen = t.elapsed();

    let t = Instant::now();
    module
        .finalize_definitions()
        .map_err(|e| Error::Codegen(format!("finalize: {e}")))?;
    let mut steps = Vec::with_capacity(pending.len());
    for (id, proto) in pending.into_iter().zip(steps_proto) {
        match (id, proto) {
            (Some(id), _) => {
                let ptr = module.get_finalized_function(id);
                // SAFETY: the function was declared with signature (ptr, ptr) -> () in the
                // host calling convention, which is KernelFn.
                let f: KernelFn = unsafe { std::mem::transmute::<*const u8, KernelFn>(ptr) };
                steps.push(Step::Jit(f));
            }
            (None, Some(s)) => steps.push(s),
            (None, None) => return Err(Error::Codegen("kernel without code or plan".into())),
        }
    }
    stats.finalize = t.elapsed();
    let np = program.params.len();
    let mut direct_output = vec![None; slot_bytes.len()];
    for (i, o) in program.outputs.iter().enumerate() {
        let slot = slot_of[o];
        if slot >= np && direct_output[slot].is_none() {
            direct_output[slot] = Some(i);
        }
    }
    Ok(Compiled {
        program: program.clone(),
        plan,
        steps,
        slot_bytes,
        slot_of,
        direct_output,
        texts,
        stats,
        temps: Mutex::new(None),
        module: Mutex::new(Some(module)),
    })
}

/// Strides (in elements) and element offset of a view chain over a buffer.
fn view_strides(p: &Program, v: ValueId, base: ValueId) -> (Vec<usize>, usize) {
    if v == base {
        return (p.value_type(v).shape.strides(), 0);
    }
    let inst = p.inst(v).expect("views are instructions");
    let (st, off) = view_strides(p, inst.args[0], base);
    let in_dims = p.value_type(inst.args[0]).shape.dims();
    match &inst.op {
        Op::Permute { perm } => (perm.iter().map(|&i| st[i]).collect(), off),
        Op::Expand { shape } => {
            let lead = shape.rank() - in_dims.len();
            let mut s = vec![0; lead];
            s.extend(
                in_dims
                    .iter()
                    .zip(&st)
                    .map(|(&n, &x)| if n == 1 { 0 } else { x }),
            );
            (s, off)
        }
        Op::Slice { starts, steps, .. } => {
            let off = off + starts.iter().zip(&st).map(|(a, s)| a * s).sum::<usize>();
            (st.iter().zip(steps).map(|(s, k)| s * k).collect(), off)
        }
        _ => (st, off),
    }
}

fn matmul_step(
    p: &Program,
    plan: &FusionPlan,
    slot_of: &HashMap<ValueId, usize>,
    root: ValueId,
) -> Result<Option<Step>, Error> {
    let inst = p
        .inst(root)
        .ok_or_else(|| Error::Codegen("matmul root".into()))?;
    let (a, b) = (inst.args[0], inst.args[1]);
    let (ab, bb) = (
        view_base(p, a, Some(&plan.storage)),
        view_base(p, b, Some(&plan.storage)),
    );
    let (ast, aoff) = view_strides(p, a, ab);
    let (bst, boff) = view_strides(p, b, bb);
    let mp = MatMulPlan::new(
        inst.ty.dtype,
        p.value_type(a).shape.dims(),
        &ast,
        p.value_type(b).shape.dims(),
        &bst,
    )
    .map_err(|e| Error::Codegen(format!("matmul {root}: {e}")))?;
    let size = inst.ty.dtype.size_bytes();
    let slot = |v: ValueId| {
        slot_of
            .get(&v)
            .copied()
            .ok_or_else(|| Error::Codegen(format!("no buffer for {v}")))
    };
    Ok(Some(Step::MatMul {
        a: slot(ab)?,
        a_off: aoff * size,
        b: slot(bb)?,
        b_off: boff * size,
        out: slot(root)?,
        plan: Box::new(mp),
    }))
}

impl Compiled {
    /// Runs the program on `inputs` (one per parameter, matching dtype and shape) and returns
    /// the outputs in order. Inputs are checked before any generated code runs.
    pub fn run(&self, inputs: &[&Tensor]) -> Result<Vec<Tensor>, Error> {
        let mut outs = self
            .program
            .outputs
            .iter()
            .map(|o| Tensor::try_recycled(self.program.value_type(*o).clone()))
            .collect::<Result<Vec<Tensor>, Error>>()?;
        self.run_into(inputs, &mut outs)?;
        Ok(outs)
    }

    /// Runs the program writing into caller-owned `outputs` (one per program output, of the
    /// output's exact type), so steady-state runs allocate nothing: row scratch and
    /// intermediate buffers are kept between runs.
    pub fn run_into(&self, inputs: &[&Tensor], outputs: &mut [Tensor]) -> Result<(), Error> {
        check_inputs(&self.program, inputs)?;
        let p = &self.program;
        if outputs.len() != p.outputs.len() {
            return Err(Error::Input(format!(
                "the program has {} outputs, got {} output tensors",
                p.outputs.len(),
                outputs.len()
            )));
        }
        for (i, (o, t)) in p.outputs.iter().zip(outputs.iter()).enumerate() {
            let ty = p.value_type(*o);
            if t.ty() != ty || t.buffer().len() != ty.size_bytes() {
                return Err(Error::Input(format!(
                    "output {i} ({o}) is {ty} but the output tensor is {}",
                    t.ty()
                )));
            }
        }
        let np = p.params.len();
        let direct = &self.direct_output;
        let pooled = self.temps.lock().ok().and_then(|mut t| t.take());
        let mut temps = match pooled {
            Some(t) => t,
            None => self
                .slot_bytes
                .iter()
                .enumerate()
                .map(|(i, &n)| {
                    let keep = i >= np && direct[i].is_none();
                    Buffer::try_zeroed(if keep { n } else { 0 })
                })
                .collect::<Result<Vec<Buffer>, Error>>()?,
        };
        let mut table: smallvec::SmallVec<[*mut u8; 16]> =
            smallvec::SmallVec::with_capacity(self.slot_bytes.len());
        for i in 0..self.slot_bytes.len() {
            table.push(if i < np {
                // Kernels never store to parameter slots (only kernel roots are written), so
                // this const-to-mut cast is never written through.
                inputs[i].buffer().as_ptr() as *mut u8
            } else if let Some(o) = direct[i] {
                outputs[o].buffer_mut().as_mut_ptr()
            } else {
                temps[i].as_mut_ptr()
            });
        }
        let mut status = [0i64; 4];
        let mut result = Ok(());
        for step in &self.steps {
            match step {
                // SAFETY: every slot in `table` points to a live buffer of the slot's byte
                // size (inputs and outputs checked above against the program's types, the rest
                // allocated from slot_bytes), and the kernel only accesses elements inside those
                // types — its index arithmetic derives from the same shapes, and
                // data-dependent indices are bounds-checked in the generated code.
                Step::Jit(f) => unsafe { f(table.as_ptr(), status.as_mut_ptr()) },
                Step::MatMul {
                    plan,
                    a,
                    a_off,
                    b,
                    b_off,
                    out,
                } => {
                    // SAFETY: MatMulPlan::new validated the strided views against the operand
                    // types, whose buffers are in the table with their full sizes; the output
                    // is a buffer distinct from both operands.
                    unsafe { plan.run(table[*a].add(*a_off), table[*b].add(*b_off), table[*out]) }
                }
            }
            if status[0] != 0 {
                result = Err(self.index_error(status[0], status[1]));
                break;
            }
        }
        if let Ok(mut t) = self.temps.lock() {
            *t = Some(temps);
        }
        result?;
        for (i, o) in p.outputs.iter().enumerate() {
            let slot = self.slot_of[o];
            let src: Option<*const u8> = if slot < np {
                Some(inputs[slot].buffer().as_ptr())
            } else {
                match direct[slot] {
                    Some(first) if first != i => Some(outputs[first].buffer().as_ptr()),
                    _ => None,
                }
            };
            if let Some(src) = src {
                let n = outputs[i].buffer().len();
                // SAFETY: src is a live buffer of the same type (n bytes) distinct from
                // outputs[i] (a different output tensor or an input).
                unsafe {
                    std::ptr::copy_nonoverlapping(src, outputs[i].buffer_mut().as_mut_ptr(), n)
                };
            }
        }
        Ok(())
    }

    fn index_error(&self, code: i64, index: i64) -> Error {
        let v = ValueId((code - 1) as u32);
        let (op, axis, size) = match self.program.inst(v) {
            Some(inst) => {
                let axis = match inst.op {
                    Op::Gather { axis } | Op::IndexSelect { axis } => axis,
                    _ => 0,
                };
                let size = self.program.value_type(inst.args[0]).shape.dims()[axis];
                (inst.op.name(), axis, size)
            }
            None => ("gather", 0, 0),
        };
        Error::IndexOutOfRange {
            op,
            value: v.0,
            index,
            axis,
            size,
        }
    }

    pub fn program(&self) -> &Program {
        &self.program
    }

    /// The fusion plan (which instructions went into which kernel).
    pub fn plan(&self) -> &FusionPlan {
        &self.plan
    }

    /// Kernel texts (CLIF / disassembly) kept according to [`CompileOptions`].
    pub fn kernel_texts(&self) -> &[KernelText] {
        &self.texts
    }

    pub fn stats(&self) -> &CompileStats {
        &self.stats
    }

    /// All kept CLIF, kernel after kernel.
    pub fn clif(&self) -> String {
        self.texts
            .iter()
            .filter_map(|t| t.clif.as_ref().map(|c| format!("; {}\n{c}", t.name)))
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// All kept disassembly, kernel after kernel.
    pub fn disasm(&self) -> String {
        self.texts
            .iter()
            .filter_map(|t| t.disasm.as_ref().map(|c| format!("; {}\n{c}", t.name)))
            .collect::<Vec<_>>()
            .join("\n")
    }
}

impl fmt::Debug for Compiled {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Compiled({} kernels)", self.plan.kernels.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compiled_programs_can_be_shared_across_threads() {
        fn send_sync<T: Send + Sync>() {}
        send_sync::<Compiled>();
    }

    #[test]
    fn an_unallocatable_output_is_an_error_not_an_abort() {
        let p = crate::text::parse(
            "param %a: f32[]\n%1: f32[1125899906842624] = expand %a, shape=[1125899906842624]\nreturn %1\n",
        );
        let p = p.expect("2^50 elements are within the size limit, so the program is valid");
        let c = compile(&p, &CompileOptions::default()).expect("compiles");
        let a = Tensor::scalar(1.0f32);
        assert!(matches!(c.run(&[&a]), Err(Error::Data(_))));
    }
}
