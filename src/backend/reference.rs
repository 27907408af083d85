//! The reference backend: the lowering crate's ndarray interpreter, one op at a time.

use super::{Backend, Computation};
use crate::config::{BackendKind, OptLevel};
use lazyjit_lowering::{reference, Error, Op, Program, Tensor};
use std::sync::Arc;

/// Runs programs on the ndarray reference interpreter (eager, unfused): the correctness
/// baseline the Cranelift backend is tested against.
#[derive(Debug, Default)]
pub struct ReferenceBackend;

struct Interpreted(Program);

impl Computation for Interpreted {
    fn program(&self) -> &Program {
        &self.0
    }

    fn run(&self, inputs: &[&Tensor]) -> Result<Vec<Tensor>, Error> {
        reference::run(&self.0, inputs)
    }
}

impl Backend for ReferenceBackend {
    fn kind(&self) -> BackendKind {
        BackendKind::Reference
    }

    fn supports(&self, _op: &Op) -> bool {
        true
    }

    fn compile(
        &self,
        program: &Program,
        _opt_level: OptLevel,
    ) -> Result<Arc<dyn Computation>, Error> {
        program.verify().map_err(Error::Verify)?;
        Ok(Arc::new(Interpreted(program.clone())))
    }

    fn describe(&self, program: &Program, _opt_level: OptLevel) -> Result<String, Error> {
        program.verify().map_err(Error::Verify)?;
        Ok(format!(
            "; reference interpreter: runs the program op by op\n{program}"
        ))
    }
}
