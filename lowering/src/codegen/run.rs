//! Running a compiled program safely: checking inputs and outputs against the program,
//! filling the buffer table, calling each step, and reporting runtime errors.

use super::kernel::checked_axis;
use super::matmul::MatMulStep;
use super::options::{CompileStats, KernelText};
use super::plan::FusionPlan;
use super::slots::Slots;
use crate::error::Error;
use crate::inputs::check_inputs;
use crate::program::{Program, ValueId};
use crate::tensor::{Buffer, Tensor};
use cranelift_jit::JITModule;
use std::fmt;
use std::sync::Mutex;

pub(super) type KernelFn = unsafe extern "C" fn(*const *mut u8, *mut i64);

/// One call of a compiled program's run, in order.
pub(super) enum Step {
    /// A Cranelift function: one kernel group, or one part of a cut group.
    Jit(KernelFn),
    MatMul(MatMulStep),
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
    pub(super) program: Program,
    pub(super) plan: FusionPlan,
    pub(super) steps: Vec<Step>,
    pub(super) slots: Slots,
    pub(super) texts: Vec<KernelText>,
    pub(super) stats: CompileStats,
    /// Intermediate buffers kept between runs (taken by one run at a time).
    pub(super) temps: Mutex<Option<Vec<Buffer>>>,
    pub(super) module: Mutex<Option<JITModule>>,
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
        let direct = &self.slots.direct_output;
        let pooled = self.temps.lock().ok().and_then(|mut t| t.take());
        let mut temps = match pooled {
            Some(t) => t,
            None => self
                .slots
                .bytes
                .iter()
                .enumerate()
                .map(|(i, &n)| {
                    let keep = i >= np && direct[i].is_none();
                    Buffer::try_zeroed(if keep { n } else { 0 })
                })
                .collect::<Result<Vec<Buffer>, Error>>()?,
        };
        let mut table: smallvec::SmallVec<[*mut u8; 16]> =
            smallvec::SmallVec::with_capacity(self.slots.bytes.len());
        for i in 0..self.slots.bytes.len() {
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
                // SAFETY: every slot holds a live buffer of its full size (as above), and a
                // matmul's output is a buffer distinct from both operands.
                Step::MatMul(m) => unsafe { m.run(&table) },
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
            let slot = self.slots.of[o];
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
                let axis = checked_axis(&inst.op).unwrap_or(0);
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

    /// Kernel texts (CLIF / disassembly) kept according to [`CompileOptions`](super::CompileOptions).
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
}
