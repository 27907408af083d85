//! The checks every run makes before touching a buffer: the input tensors match the
//! program's parameters, and caller-owned output tensors its outputs, in count, dtype, shape
//! and byte length.

use crate::error::Error;
use crate::program::Program;
use crate::tensor::Tensor;

/// Checks that `inputs` match the program's parameters in count, dtype and shape.
pub fn check_inputs(program: &Program, inputs: &[&Tensor]) -> Result<(), Error> {
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

/// Checks that caller-owned `outputs` match the program's outputs in count, dtype and shape
/// (and byte length), as a run into them needs.
pub fn check_outputs(program: &Program, outputs: &[Tensor]) -> Result<(), Error> {
    if outputs.len() != program.outputs.len() {
        return Err(Error::Input(format!(
            "the program has {} outputs, got {} output tensors",
            program.outputs.len(),
            outputs.len()
        )));
    }
    for (i, (o, t)) in program.outputs.iter().zip(outputs.iter()).enumerate() {
        let ty = program.value_type(*o);
        if t.ty() != ty || t.buffer().len() != ty.size_bytes() {
            return Err(Error::Input(format!(
                "output {i} ({o}) is {ty} but the output tensor is {}",
                t.ty()
            )));
        }
    }
    Ok(())
}
