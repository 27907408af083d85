//! Backends: what compiles and runs the post-ordered programs the executor builds.
//!
//! A backend says which ops it lowers ([`Backend::supports`]); an op it does not lower is
//! run eagerly on the reference interpreter at trace time and counted as a fallback
//! (`fallback::OP` in [`crate::metrics`]).

mod cranelift;
mod reference;

pub use self::cranelift::CraneliftBackend;
pub use self::reference::ReferenceBackend;

use crate::config::{BackendKind, OptLevel};
use lazyjit_lowering::{Error, Op, Program, Tensor};
use std::sync::{Arc, LazyLock};

/// Compiles programs into [`Computation`]s.
pub trait Backend: Send + Sync {
    /// Which backend this is.
    fn kind(&self) -> BackendKind;

    /// Whether the backend lowers `op`; ops it does not lower fall back to eager execution.
    fn supports(&self, op: &Op) -> bool;

    /// Compiles a verified-or-not program (the backend verifies it).
    fn compile(
        &self,
        program: &Program,
        opt_level: OptLevel,
    ) -> Result<Arc<dyn Computation>, Error>;

    /// Backend-specific text of a program for debugging: for Cranelift, the fusion plan,
    /// the CLIF of every kernel and the machine-code listing.
    fn describe(&self, program: &Program, opt_level: OptLevel) -> Result<String, Error>;
}

/// A compiled program, ready to run on device data.
pub trait Computation: Send + Sync {
    /// The program it was compiled from.
    fn program(&self) -> &Program;

    /// Runs on `inputs` (one per parameter, checked against the program) and returns the
    /// outputs in order.
    fn run(&self, inputs: &[&Tensor]) -> Result<Vec<Tensor>, Error>;

    /// Runs like [`Computation::run`], writing into caller-owned `outputs` (one per program
    /// output, of its exact type). The default runs and moves the results in; the Cranelift
    /// backend writes into the given buffers directly, allocating nothing.
    fn run_into(&self, inputs: &[&Tensor], outputs: &mut [Tensor]) -> Result<(), Error> {
        lazyjit_lowering::check_outputs(self.program(), outputs)?;
        for (slot, t) in outputs.iter_mut().zip(self.run(inputs)?) {
            *slot = t;
        }
        Ok(())
    }

    /// Per output, the parameter whose buffer the output may be written into when that
    /// parameter is donated ([`Computation::run_in_place`]). The default: none.
    fn aliasable(&self) -> &[Option<usize>] {
        &[]
    }

    /// Runs like [`Computation::run`], writing output `i` into the buffer of input
    /// `q = aliasable()[i]` when `donated[q]`; such outputs are returned as `None`. On error
    /// no donated buffer has been written. The default ignores donation (a backend without
    /// aliasing, such as the reference interpreter, returns every output as a new tensor).
    ///
    /// # Safety
    ///
    /// For every donated input, nothing else may read or write its buffer during the call,
    /// and after a successful call the buffer holds the output's value (the caller treats
    /// the tensor as that output from then on).
    unsafe fn run_in_place(
        &self,
        inputs: &[&Tensor],
        donated: &[bool],
    ) -> Result<Vec<Option<Tensor>>, Error> {
        let _ = donated;
        Ok(self.run(inputs)?.into_iter().map(Some).collect())
    }
}

static CRANELIFT: LazyLock<Arc<dyn Backend>> = LazyLock::new(|| Arc::new(CraneliftBackend));
static REFERENCE: LazyLock<Arc<dyn Backend>> = LazyLock::new(|| Arc::new(ReferenceBackend));

/// The backend instance for `kind`.
pub fn get(kind: BackendKind) -> Arc<dyn Backend> {
    match kind {
        BackendKind::Cranelift => CRANELIFT.clone(),
        BackendKind::Reference => REFERENCE.clone(),
    }
}

/// The backend instance for `kind`, borrowed (no reference-count traffic on hot paths).
pub(crate) fn get_ref(kind: BackendKind) -> &'static dyn Backend {
    match kind {
        BackendKind::Cranelift => &**CRANELIFT,
        BackendKind::Reference => &**REFERENCE,
    }
}
