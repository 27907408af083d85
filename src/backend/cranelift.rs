//! The Cranelift backend: fused, vectorised native code from the lowering crate.

use super::{Backend, Computation};
use crate::config::{BackendKind, OptLevel};
use lazyjit_lowering::codegen::{compile, CompileOptions, Compiled};
use lazyjit_lowering::{Error, Op, Program, Tensor};
use std::fmt::Write;
use std::sync::Arc;

/// Compiles programs to machine code with Cranelift ([`lazyjit_lowering::codegen`]).
#[derive(Debug, Default)]
pub struct CraneliftBackend;

impl Computation for Compiled {
    fn program(&self) -> &Program {
        Compiled::program(self)
    }

    fn run(&self, inputs: &[&Tensor]) -> Result<Vec<Tensor>, Error> {
        crate::config::apply_threads();
        Compiled::run(self, inputs)
    }

    fn run_into(&self, inputs: &[&Tensor], outputs: &mut [Tensor]) -> Result<(), Error> {
        crate::config::apply_threads();
        Compiled::run_into(self, inputs, outputs)
    }

    fn aliasable(&self) -> &[Option<usize>] {
        Compiled::aliasable(self)
    }

    unsafe fn run_in_place(
        &self,
        inputs: &[&Tensor],
        donated: &[bool],
    ) -> Result<Vec<Option<Tensor>>, Error> {
        crate::config::apply_threads();
        // SAFETY: the caller's contract (`Computation::run_in_place`) is the lowering
        // crate's (`Compiled::run_in_place`).
        unsafe { Compiled::run_in_place(self, inputs, donated) }
    }
}

impl Backend for CraneliftBackend {
    fn kind(&self) -> BackendKind {
        BackendKind::Cranelift
    }

    fn supports(&self, _op: &Op) -> bool {
        // The lowering crate lowers every op of the program format.
        true
    }

    fn compile(
        &self,
        program: &Program,
        opt_level: OptLevel,
    ) -> Result<Arc<dyn Computation>, Error> {
        let opts = CompileOptions {
            opt_level,
            ..CompileOptions::default()
        };
        Ok(Arc::new(compile(program, &opts)?))
    }

    fn describe(&self, program: &Program, opt_level: OptLevel) -> Result<String, Error> {
        let opts = CompileOptions {
            opt_level,
            keep_clif: true,
            keep_disasm: true,
            ..CompileOptions::default()
        };
        let c = compile(program, &opts)?;
        let mut s = String::new();
        let _ = writeln!(s, "; fusion plan\n{}", c.plan());
        let _ = writeln!(s, "; CLIF (before Cranelift's optimiser)\n{}", c.clif());
        let _ = writeln!(s, "; machine code\n{}", c.disasm());
        Ok(s)
    }
}
