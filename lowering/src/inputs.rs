//! The check every run makes before touching a buffer: the input tensors match the program's
//! parameters in count, dtype, shape and byte length.

use crate::error::Error;
use crate::program::Program;
use crate::tensor::Tensor;

/// Checks that `inputs` match the program's parameters in count, dtype and shape.
pub(crate) fn check_inputs(program: &Program, inputs: &[&Tensor]) -> Result<(), Error> {
    if inputs.len() != program.params.len() {
        return Err(Error::Input(format!(
            "the program takes {} parameters, got {} inputs",
            program.params.len(),
            inputs.len()
        )));
    }
    for (i, (p, t)) in program.params.iter().zip(inputs).enumerate() {
        if t.ty() != &p.ty {
            return Err(Error::Input(format!(
                "parameter {i} (%{}) is {} but the input is {}",
                p.name,
                p.ty,
                t.ty()
            )));
        }
        if t.buffer().len() != p.ty.size_bytes() {
            return Err(Error::Input(format!(
                "parameter {i} (%{}) of type {} needs {} bytes, the buffer has {}",
                p.name,
                p.ty,
                p.ty.size_bytes(),
                t.buffer().len()
            )));
        }
    }
    Ok(())
}
