//! Out-of-line copies of the inline approximations, compiled once per process.
//!
//! A kernel with many transcendental call sites (a chain of 20 `tanh`s) would otherwise carry
//! one inlined polynomial per site: thousands of instructions whose constants, hoisted out of
//! the loop by Cranelift, crowd the 16 vector registers, so register allocation dominates the
//! compile and the loop spills. With [`MathEmitter::sites_as`], a site calls the function
//! here instead: `(ty) -> ty` in the host calling convention, the body the same
//! [`MathEmitter`] emits inline, so a result is bit-identical to the inline one.
//!
//! Each function is compiled on first use into its own JIT module, which is never freed: its
//! address is embedded in kernels that may live as long as the process. At most one module
//! per ([`MathFn`], type, fma) exists: 7 x 2 x 2.

use super::{register_symbols, MathEmitter, MathFn};
use crate::codegen::isa::{has_flag, host_isa};
use crate::codegen::options::OptLevel;
use cranelift_codegen::ir::{AbiParam, InstBuilder, Type};
use cranelift_frontend::{FunctionBuilder, FunctionBuilderContext};
use cranelift_jit::{JITBuilder, JITModule};
use cranelift_module::{default_libcall_names, Linkage, Module};
use std::sync::Mutex;

type Key = (MathFn, Type, bool);

/// Compiled functions by (function, type, fma), as addresses; `None` if compiling failed
/// (then callers inline, and it is not retried).
static LIBRARY: Mutex<Vec<(Key, Option<usize>)>> = Mutex::new(Vec::new());

/// The address of the out-of-line `f` on `ty` (`F32` or `F32X4`) with or without `fma`,
/// compiled on first use; `None` if it cannot be built the same way as the caller's inline
/// code (a host whose `has_fma` differs from `has_fma`, or a Cranelift error).
pub(super) fn address(f: MathFn, ty: Type, has_fma: bool) -> Option<usize> {
    let key = (f, ty, has_fma);
    // Entries are only pushed, so a list left by a panicking thread is still valid.
    let mut lib = LIBRARY.lock().unwrap_or_else(|e| e.into_inner());
    if let Some((_, addr)) = lib.iter().find(|(k, _)| *k == key) {
        return *addr;
    }
    let addr = build(f, ty, has_fma).ok();
    lib.push((key, addr));
    addr
}

fn build(f: MathFn, ty: Type, has_fma: bool) -> Result<usize, String> {
    let isa = host_isa(OptLevel::Speed, cfg!(debug_assertions)).map_err(|e| e.to_string())?;
    if has_flag(&*isa, "has_fma") != has_fma {
        return Err(format!("the host ISA's has_fma is not {has_fma}"));
    }
    let mut jb = JITBuilder::with_isa(isa, default_libcall_names());
    register_symbols(&mut jb);
    let mut module = JITModule::new(jb);
    let mut sig = module.make_signature();
    sig.params.push(AbiParam::new(ty));
    sig.returns.push(AbiParam::new(ty));
    // Not `lazyjit_math_*`: those are the shims this body may import (sin/cos).
    let name = format!("lazyjit_out_of_line_{}_{ty}", f.name());
    let id = module
        .declare_function(&name, Linkage::Local, &sig)
        .map_err(|e| e.to_string())?;
    let mut ctx = module.make_context();
    ctx.func.signature = sig;
    let mut fctx = FunctionBuilderContext::new();
    let tcfg = module.target_config();
    {
        let mut b = FunctionBuilder::new(&mut ctx.func, &mut fctx);
        let entry = b.create_block();
        b.append_block_params_for_function_params(entry);
        b.switch_to_block(entry);
        b.seal_block(entry);
        let x = b.block_params(entry)[0];
        let y = MathEmitter::new(&mut module, has_fma).inline(&mut b, f, ty, x);
        b.ins().return_(&[y]);
        b.finalize(tcfg);
    }
    module
        .define_function(id, &mut ctx)
        .map_err(|e| format!("{name}: {e:?}"))?;
    module
        .finalize_definitions()
        .map_err(|e| format!("{name}: {e}"))?;
    let addr = module.get_finalized_function(id) as usize;
    // Kernels embed `addr` and may run until the process exits: the code must never be
    // unmapped, so the module is deliberately leaked.
    std::mem::forget(module);
    Ok(addr)
}
