//! Running a compiled program safely: checking inputs and outputs against the program,
//! filling the buffer table, calling each step, and reporting runtime errors.

use super::kernel::checked_axis;
use super::matmul::MatMulStep;
use super::options::{CompileStats, KernelText};
use super::plan::FusionPlan;
use super::slots::Slots;
use super::split::{JitStep, STATUS_CODE, STATUS_INDEX};
use crate::error::Error;
use crate::inputs::check_inputs;
use crate::program::{Program, ValueId};
use crate::tensor::{Buffer, Tensor};
use cranelift_jit::JITModule;
use std::fmt;
use std::sync::Mutex;

/// An input of [`Compiled::run_donating`]: borrowed, or donated (the run may write an output
/// into its buffer and return it as that output).
#[derive(Debug)]
pub enum Input<'a> {
    /// Read only; the caller keeps it.
    Borrowed(&'a Tensor),
    /// Handed over: an output that may alias this input ([`Compiled::aliasable`]) is written
    /// into its buffer; otherwise it is dropped after the run.
    Donated(Tensor),
}

impl Input<'_> {
    /// The tensor, whichever way it is passed.
    pub fn tensor(&self) -> &Tensor {
        match self {
            Input::Borrowed(t) => t,
            Input::Donated(t) => t,
        }
    }
}

/// One call of a compiled program's run, in order.
pub(super) enum Step {
    /// A Cranelift function: one kernel group, or one part of a cut group.
    Jit(JitStep),
    MatMul(MatMulStep),
}

/// Memory a run needs besides its inputs and outputs, kept between runs.
pub(super) struct Temps {
    /// One buffer per slot (empty for parameters and outputs).
    main: Vec<Buffer>,
    /// Row scratch of the extra parts of kernels split over threads (`split.rs`).
    spare: Vec<Vec<Buffer>>,
}

/// A compiled program: call [`Compiled::run`] with input tensors.
///
/// ```
/// use lazyjit_lowering::{codegen::{compile, CompileOptions}, text, Tensor};
/// let p = text::parse("param %a: f32[3]\nparam %b: f32[3]\n%2: f32[3] = mul %a, %b\nreturn %2\n").unwrap();
/// let c = compile(&p, &CompileOptions::default()).unwrap();
/// let a = Tensor::from_vec(vec![1.0f32, 2.0, 3.0], vec![3]).unwrap();
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
    pub(super) temps: Mutex<Option<Temps>>,
    /// Per output, the parameter it may be written into when donated (`alias.rs`).
    pub(super) aliasable: Vec<Option<usize>>,
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
        crate::inputs::check_outputs(&self.program, outputs)?;
        // Kernels never store to parameter slots here (nothing is aliased: only kernel roots
        // are written, into output and temporary slots), so these const-to-mut casts are
        // never written through.
        let params: smallvec::SmallVec<[*mut u8; 16]> = inputs
            .iter()
            .map(|t| t.buffer().as_ptr() as *mut u8)
            .collect();
        let outs: smallvec::SmallVec<[*mut u8; 4]> = outputs
            .iter_mut()
            .map(|t| t.buffer_mut().as_mut_ptr())
            .collect();
        self.execute(&params, &outs)
    }

    /// Per program output, the parameter whose buffer the output may be written into when
    /// that parameter is donated ([`Input::Donated`] in [`Compiled::run_donating`]), or
    /// `None`. Decided at compile time from the fusion plan: the output is written directly by
    /// a loop kernel that reads the parameter only at the element it writes, no kernel reads
    /// the parameter afterwards, and it is not returned itself (the full rule is in
    /// `docs/codegen.md`, "Input/output aliasing"). Each parameter appears at most once.
    pub fn aliasable(&self) -> &[Option<usize>] {
        &self.aliasable
    }

    /// Runs the program like [`Compiled::run`], taking ownership of the donated inputs: an
    /// output that may alias a donated input ([`Compiled::aliasable`]) is written into that
    /// input's buffer and returned as that same tensor (same buffer address); donated inputs
    /// nothing aliases are dropped (large buffers go back to the recycling pool). Inputs are
    /// checked before any generated code runs, and a runtime error (an out-of-range index)
    /// is found before anything is written into a donated buffer.
    ///
    /// ```
    /// use lazyjit_lowering::{codegen::{compile, CompileOptions, Input}, text, Tensor};
    /// let src = "param %p: f32[4]\nparam %g: f32[4]\nparam %lr: f32[]\n\
    ///            %3: f32[4] = mul %lr, %g\n%4: f32[4] = sub %p, %3\nreturn %4\n";
    /// let c = compile(&text::parse(src).unwrap(), &CompileOptions::default()).unwrap();
    /// assert_eq!(c.aliasable(), &[Some(0)]); // the update may overwrite p
    /// let p = Tensor::from_vec(vec![1.0f32, 2.0, 3.0, 4.0], vec![4]).unwrap();
    /// let g = Tensor::from_vec(vec![1.0f32; 4], vec![4]).unwrap();
    /// let lr = Tensor::scalar(0.5f32);
    /// let addr = p.buffer().as_ptr();
    /// let out = c
    ///     .run_donating(vec![Input::Donated(p), Input::Borrowed(&g), Input::Borrowed(&lr)])
    ///     .unwrap();
    /// assert_eq!(out[0].as_slice::<f32>().unwrap(), &[0.5, 1.5, 2.5, 3.5]);
    /// assert_eq!(out[0].buffer().as_ptr(), addr); // written in place
    /// ```
    pub fn run_donating(&self, inputs: Vec<Input<'_>>) -> Result<Vec<Tensor>, Error> {
        let refs: smallvec::SmallVec<[&Tensor; 16]> = inputs.iter().map(Input::tensor).collect();
        check_inputs(&self.program, &refs)?;
        let donated: smallvec::SmallVec<[bool; 16]> = inputs
            .iter()
            .map(|i| matches!(i, Input::Donated(_)))
            .collect();
        // SAFETY: every donated input is owned by `inputs` (moved in by the caller): nothing
        // else can read or write its buffer during the call, and afterwards it is only
        // reachable through the output it is returned as.
        let outs = unsafe { self.run_in_place(&refs, &donated) }?;
        drop(refs);
        let mut owned: Vec<Option<Tensor>> = inputs
            .into_iter()
            .map(|i| match i {
                Input::Donated(t) => Some(t),
                Input::Borrowed(_) => None,
            })
            .collect();
        Ok(outs
            .into_iter()
            .enumerate()
            .map(|(i, o)| match o {
                Some(t) => t,
                None => {
                    let q = self.aliasable[i].expect("in-place outputs are aliasable");
                    owned[q]
                        .take()
                        .expect("in-place outputs alias a donated input")
                }
            })
            .collect())
    }

    /// Runs the program, writing each output that may alias a donated input
    /// (`donated[q]` for the parameter `q = self.aliasable()[i]`) into that input's buffer:
    /// such outputs come back as `None` (the value is in input `q`'s buffer), the others as
    /// new tensors. Inputs are checked first, as in [`Compiled::run`]; a runtime error is
    /// detected before any donated buffer is written, so on error the donated inputs still
    /// hold their values. A donated input whose buffer is also another input is not written
    /// (its output comes back as a new tensor). [`Compiled::run_donating`] is the safe form.
    ///
    /// # Safety
    ///
    /// For every `q` with `donated[q]`, the buffer of `inputs[q]` must not be read or written
    /// by anything else (another thread, a live slice of it) during the call, and after the
    /// call it holds the output's value, no longer the input's: the caller must treat the
    /// tensor as that output from then on. `donated` has one entry per input.
    pub unsafe fn run_in_place(
        &self,
        inputs: &[&Tensor],
        donated: &[bool],
    ) -> Result<Vec<Option<Tensor>>, Error> {
        check_inputs(&self.program, inputs)?;
        if donated.len() != inputs.len() {
            return Err(Error::Input(format!(
                "{} donation flags for {} inputs",
                donated.len(),
                inputs.len()
            )));
        }
        let p = &self.program;
        // A donated buffer that another input also names (the same tensor passed twice)
        // would be read through that other slot after it is overwritten: not written then.
        let alone = |q: usize| {
            let ptr = inputs[q].buffer().as_ptr();
            inputs
                .iter()
                .enumerate()
                .all(|(j, t)| j == q || t.buffer().as_ptr() != ptr)
        };
        let in_place: smallvec::SmallVec<[Option<usize>; 4]> = self
            .aliasable
            .iter()
            .map(|a| a.filter(|&q| donated[q] && alone(q)))
            .collect();
        // The pointers of donated parameters are written through (by the kernel writing the
        // output that aliases them); the others never are (see `run_into`).
        let params: smallvec::SmallVec<[*mut u8; 16]> = inputs
            .iter()
            .map(|t| t.buffer().as_ptr() as *mut u8)
            .collect();
        // In-place outputs get no tensor: their buffer is the donated parameter's.
        let mut outs = p
            .outputs
            .iter()
            .zip(&in_place)
            .map(|(o, a)| match a {
                Some(_) => Ok(None),
                None => Tensor::try_recycled(p.value_type(*o).clone()).map(Some),
            })
            .collect::<Result<Vec<Option<Tensor>>, Error>>()?;
        let ptrs: smallvec::SmallVec<[*mut u8; 4]> = outs
            .iter_mut()
            .zip(&in_place)
            .map(|(t, a)| match (t, a) {
                (Some(t), _) => t.buffer_mut().as_mut_ptr(),
                (None, Some(q)) => params[*q],
                (None, None) => unreachable!("every output not in place has a tensor"),
            })
            .collect();
        self.execute(&params, &ptrs)?;
        Ok(outs)
    }

    /// Runs the steps with the buffers of the parameters (`params`, checked against the
    /// program) and of the outputs (`outputs`, each of its output's byte size). An output
    /// written in place into a donated parameter has that parameter's pointer (only pairs
    /// from `self.aliasable`, with the buffer exclusively the caller's); every other output
    /// pointer is a distinct buffer.
    fn execute(&self, params: &[*mut u8], outputs: &[*mut u8]) -> Result<(), Error> {
        let p = &self.program;
        let np = p.params.len();
        let direct = &self.slots.direct_output;
        let pooled = self.temps.lock().ok().and_then(|mut t| t.take());
        let mut temps = match pooled {
            Some(t) => t,
            None => Temps {
                main: self
                    .slots
                    .bytes
                    .iter()
                    .enumerate()
                    .map(|(i, &n)| {
                        let keep = i >= np && direct[i].is_none();
                        Buffer::try_zeroed(if keep { n } else { 0 })
                    })
                    .collect::<Result<Vec<Buffer>, Error>>()?,
                spare: Vec::new(),
            },
        };
        let mut table: smallvec::SmallVec<[*mut u8; 16]> =
            smallvec::SmallVec::with_capacity(self.slots.bytes.len());
        for i in 0..self.slots.bytes.len() {
            table.push(if i < np {
                params[i]
            } else if let Some(o) = direct[i] {
                outputs[o]
            } else {
                temps.main[i].as_mut_ptr()
            });
        }
        let mut status = [0i64; 4];
        let mut result = Ok(());
        for step in &self.steps {
            match step {
                // SAFETY: every slot in `table` points to a live buffer of the slot's byte
                // size (inputs and outputs checked against the program's types, the rest
                // allocated from slot_bytes), and the kernel only accesses elements inside those
                // types — its index arithmetic derives from the same shapes, and
                // data-dependent indices are bounds-checked in the generated code. A slot
                // shared by a donated parameter and the output aliasing it is written only by
                // the loop kernel computing that output, which reads each parameter element
                // before storing the same element, after every other reader of the parameter
                // ran (`alias.rs`); the caller guaranteed nothing else accesses that buffer.
                // `slots.scratch` lists every row-scratch slot, as `JitStep::call` needs.
                Step::Jit(j) => {
                    let called = unsafe {
                        j.call(&table, &mut status, &self.slots.scratch, &mut temps.spare)
                    };
                    if let Err(e) = called {
                        result = Err(e);
                        break;
                    }
                }
                // SAFETY: every slot holds a live buffer of its full size (as above), and a
                // matmul's output is a buffer distinct from both operands (a matmul result is
                // never aliased to a parameter).
                Step::MatMul(m) => unsafe { m.run(&table) },
            }
            if status[STATUS_CODE] != 0 {
                result = Err(self.index_error(status[STATUS_CODE], status[STATUS_INDEX]));
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
                Some(params[slot] as *const u8)
            } else {
                match direct[slot] {
                    Some(first) if first != i => Some(table[slot] as *const u8),
                    _ => None,
                }
            };
            if let Some(src) = src {
                let n = p.value_type(*o).size_bytes();
                // SAFETY: src is a live buffer of the same type (n bytes) distinct from
                // outputs[i] (a different output's buffer, possibly a donated parameter
                // holding that output, or an input that is not aliased: a parameter returned
                // as an output is never aliasable); outputs[i] is not in place, since an
                // in-place output is the first output naming its value and a value that is
                // a parameter has no kernel.
                unsafe { std::ptr::copy_nonoverlapping(src, outputs[i], n) };
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

    /// The program this was compiled from.
    pub fn program(&self) -> &Program {
        &self.program
    }

    /// The fusion plan (which instructions went into which kernel).
    pub fn plan(&self) -> &FusionPlan {
        &self.plan
    }

    /// Per kernel function (in the order of [`Compiled::kernel_texts`]), the extent of its
    /// split loop: the loop whose iterations a run may spread over threads when the kernel
    /// has at least [`kernel_parallel_work`](crate::kernels::kernel_parallel_work) elements
    /// of work and [`threads`](crate::kernels::threads) is above 1 (`docs/codegen.md`,
    /// "Threads"); `None` for a kernel that always runs whole on the calling thread.
    ///
    /// ```
    /// use lazyjit_lowering::{codegen::{compile, CompileOptions}, text};
    /// let p = text::parse("param %x: f32[64, 32]\n%1: f32[64, 32] = exp %x\nreturn %1\n").unwrap();
    /// let c = compile(&p, &CompileOptions::default()).unwrap();
    /// assert_eq!(c.split_loops(), vec![Some(2048)]); // one flat loop over all elements
    /// ```
    pub fn split_loops(&self) -> Vec<Option<usize>> {
        self.steps
            .iter()
            .filter_map(|s| match s {
                Step::Jit(j) => Some(j.split.map(|s| s.extent)),
                Step::MatMul(_) => None,
            })
            .collect()
    }

    /// Kernel texts (CLIF / disassembly) kept according to [`CompileOptions`](super::CompileOptions).
    pub fn kernel_texts(&self) -> &[KernelText] {
        &self.texts
    }

    /// Time spent in each compile phase.
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
