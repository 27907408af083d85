//! Compiled functions: a Rust closure over lazy tensors traced once per input signature
//! into a cached computation, then called again and again without tracing (the roles of
//! LTC's `extract_compiled_graph` and of the lazy recompile of
//! `torch/fx/_lazy_graph_module.py`).
//!
//! [`compile`] wraps the closure; nothing is traced or compiled until the first call.
//! A call looks its input types up among the traced versions: a hit binds the inputs to
//! the computation's parameters and runs the machine code directly (no graph is recorded,
//! walked or hashed); a miss traces the closure on placeholder tensors, compiles the graph
//! through the executor's computation cache (so recompiles are counted and explained like
//! any other, [`crate::recompile_explanations`]) and keeps the version, up to
//! [`CompiledFn::max_versions`], least recently used evicted first.
//!
//! What the closure may do, and how each case is handled (`docs/compiled-functions.md`):
//!
//! - Inputs are placeholders, one per position: passing one tensor twice gives a version
//!   that is also right for two different tensors.
//! - An output that is an input, the same tensor returned twice, an output that depends on
//!   no input (a constant), inputs no output depends on: all bound at trace time.
//! - A tensor captured from outside the closure is read at each call (its value then,
//!   e.g. after an optimizer step), not frozen at trace time. Scalars (`mul_scalar(0.5)`)
//!   and tensors created inside the closure are constants of the version.
//! - Reading a value inside the closure (`item`, `to_vec`, `sync`, `mark_step`) is an error
//!   at trace time: control flow that depends on data cannot be one compiled function.
//! - Outputs are plain device data: gradients do not flow back through a call (compute
//!   them inside the closure with [`crate::autograd::grad`] and return them).
//!
//! `docs/compiled-functions.md` follows (its examples run as doctests).
#![doc = include_str!("../../docs/compiled-functions.md")]

mod arg;
mod recent;
mod trace;
mod version;

pub use arg::{ArgValue, FnArg};

use crate::error::{Error, Hex, Result, SourceLoc};
use crate::metrics::{self, Counter};
use crate::tensor::{tracing, LazyTensor, NativeType};
use lazyjit_lowering::{Tensor, TensorType};
use ndarray::ArrayD;
use parking_lot::{Mutex, RwLock};
use smallvec::SmallVec;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use trace::Closure;
use version::{Binding, Output, Version, Versions};

/// Versions kept by default: like `torch._dynamo`'s cache size limit.
const DEFAULT_MAX_VERSIONS: usize = 8;

/// Wraps `f` as a [`CompiledFn`]: traced and compiled on the first call for each list of
/// input types, then run straight from machine code.
///
/// ```
/// use lazyjit::LazyTensor;
/// let f = lazyjit::compile(|x: &[LazyTensor]| {
///     let y = x[0].mul(&x[1])?.add_scalar(1.0f32)?;
///     Ok(vec![y.exp()?])
/// });
/// let a = LazyTensor::from_vec(vec![0.0f32, 1.0], &[2])?;
/// let b = LazyTensor::from_vec(vec![2.0f32, -1.0], &[2])?;
/// let y = f.call(&[&a, &b])?; // traced and compiled here
/// assert_eq!(y[0].to_vec::<f32>()?, vec![1f32.exp(), 0f32.exp()]);
/// let y = f.call(&[&b, &a])?; // same types: straight to the machine code
/// assert_eq!(y[0].to_vec::<f32>()?, vec![1f32.exp(), 0f32.exp()]);
/// assert_eq!(f.stats().traces, 1);
/// # Ok::<(), lazyjit::Error>(())
/// ```
#[track_caller]
pub fn compile<F>(f: F) -> CompiledFn
where
    F: Fn(&[LazyTensor]) -> Result<Vec<LazyTensor>> + Send + Sync + 'static,
{
    let loc = SourceLoc::caller();
    CompiledFn {
        id: recent::new_id(),
        generation: AtomicU64::new(0),
        f: Box::new(f),
        name: format!("closure at {loc}"),
        expected: None,
        max_versions: DEFAULT_MAX_VERSIONS,
        versions: RwLock::new(Versions::new()),
        arity: Mutex::new(None),
        tracing: Mutex::new(()),
        calls: Arc::new(AtomicU64::new(0)),
        traces: AtomicU64::new(0),
        evictions: AtomicU64::new(0),
    }
}

/// A closure over lazy tensors compiled per input signature (see [`compile`] and the
/// module documentation). `Send + Sync`: one `CompiledFn` may be called from many threads
/// at once.
pub struct CompiledFn {
    /// Unique among functions (keys this thread's recent versions, `recent.rs`).
    id: u64,
    /// Bumped whenever the versions change: invalidates threads' recent versions.
    generation: AtomicU64,
    f: Box<Closure>,
    name: String,
    /// Input types declared with [`CompiledFn::with_input_types`] (`None`: any).
    expected: Option<Vec<InputType>>,
    max_versions: usize,
    versions: RwLock<Versions>,
    /// Number of inputs, fixed by the declaration or by the first call.
    arity: Mutex<Option<usize>>,
    /// Serialises traces, so two threads meeting a new signature trace it once.
    tracing: Mutex<()>,
    /// Calls of every version, evicted or not (shared with the versions, which count).
    calls: Arc<AtomicU64>,
    traces: AtomicU64,
    evictions: AtomicU64,
}

/// A declared input type of a [`CompiledFn`]: a dtype, and optionally a shape (any shape
/// traces a version of its own when left open).
#[derive(Clone, Debug, PartialEq)]
pub struct InputType {
    /// Element type the input must have.
    pub dtype: lazyjit_lowering::DType,
    /// Dims the input must have, outermost first; `None` accepts any shape.
    pub shape: Option<Vec<usize>>,
}

impl InputType {
    /// Any shape of this dtype.
    pub fn dtype(dtype: lazyjit_lowering::DType) -> InputType {
        InputType { dtype, shape: None }
    }

    /// Exactly this type.
    pub fn exact(ty: &TensorType) -> InputType {
        InputType {
            dtype: ty.dtype,
            shape: Some(ty.shape.dims().to_vec()),
        }
    }

    fn accepts(&self, ty: &TensorType) -> bool {
        self.dtype == ty.dtype && self.shape.as_ref().is_none_or(|s| s == ty.shape.dims())
    }
}

impl fmt::Display for InputType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.shape {
            Some(s) => write!(f, "{}{s:?}", self.dtype),
            None => write!(f, "{}[..]", self.dtype),
        }
    }
}

/// What a [`CompiledFn`] has done so far.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub struct CompiledFnStats {
    /// Calls, traced or not.
    pub calls: u64,
    /// Traces of the closure (first calls for an input signature).
    pub traces: u64,
    /// Versions evicted to stay within [`CompiledFn::max_versions`].
    pub evictions: u64,
    /// Versions kept now.
    pub versions: usize,
}

/// One traced version of a [`CompiledFn`] ([`CompiledFn::versions`]). Its `Debug` prints
/// the graph hash in hex.
#[derive(Clone, PartialEq)]
pub struct VersionInfo {
    /// The input types it was traced for.
    pub inputs: Vec<TensorType>,
    /// The types of its outputs.
    pub outputs: Vec<TensorType>,
    /// Hash of its computation's graph (as in [`crate::cached_computations`]); `None` when
    /// every output is an input or a constant.
    pub graph_hash: Option<u64>,
    /// Calls it served, the tracing call included.
    pub calls: u64,
}

impl fmt::Debug for VersionInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VersionInfo")
            .field("inputs", &self.inputs)
            .field("outputs", &self.outputs)
            .field("graph_hash", &self.graph_hash.map(Hex))
            .field("calls", &self.calls)
            .finish()
    }
}

impl CompiledFn {
    /// Names the function in errors and logs (default: `closure at FILE:LINE:COL`).
    pub fn named(mut self, name: impl Into<String>) -> CompiledFn {
        self.name = name.into();
        self
    }

    /// Declares the inputs: their number and types. A call whose inputs do not match is an
    /// error naming this signature, instead of a new trace.
    ///
    /// ```
    /// use lazyjit::{DType, InputType, LazyTensor};
    /// let f = lazyjit::compile(|x: &[LazyTensor]| Ok(vec![x[0].neg()?]))
    ///     .named("negate")
    ///     .with_input_types([InputType::dtype(DType::F32)]);
    /// let i = LazyTensor::from_vec(vec![1i32, 2], &[2])?;
    /// let e = f.call(&[&i]).unwrap_err().to_string();
    /// assert!(e.contains("negate") && e.contains("(f32[..])") && e.contains("(i32[2])"), "{e}");
    /// # Ok::<(), lazyjit::Error>(())
    /// ```
    pub fn with_input_types(mut self, types: impl IntoIterator<Item = InputType>) -> CompiledFn {
        let types: Vec<InputType> = types.into_iter().collect();
        *self.arity.get_mut() = Some(types.len());
        self.expected = Some(types);
        self
    }

    /// Keeps at most `n` traced versions (at least 1; default 8), evicting the least
    /// recently used.
    pub fn max_versions(mut self, n: usize) -> CompiledFn {
        self.max_versions = n.max(1);
        self
    }

    /// The function's name (see [`CompiledFn::named`]).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Calls the function on `inputs` and returns its outputs as lazy tensors holding
    /// device data. An output that is one of the inputs (or a captured tensor) is returned
    /// as that same tensor when it was passed as a [`LazyTensor`].
    #[track_caller]
    pub fn call<A: FnArg>(&self, inputs: &[A]) -> Result<Vec<LazyTensor>> {
        let loc = SourceLoc::caller();
        if tracing::active() {
            // Called while another compiled function is traced: trace through this one
            // (its inputs may be that trace's placeholders, whose values mean nothing).
            let lazy = inputs
                .iter()
                .map(|a| a.to_lazy(loc))
                .collect::<Result<Vec<_>>>()?;
            return (self.f)(&lazy);
        }
        self.with_inputs(inputs, loc, |ins, args, v, params| {
            let computed = match &v.computation {
                Some(c) => c.run(params).map_err(|e| self.execute_error(v, e, loc))?,
                None => Vec::new(),
            };
            let mut computed: SmallVec<[(Option<Tensor>, Option<LazyTensor>); 4]> =
                computed.into_iter().map(|t| (Some(t), None)).collect();
            Ok(v.outputs
                .iter()
                .map(|o| match o {
                    Output::Computed(k) => {
                        let (data, lazy) = &mut computed[*k];
                        if let Some(t) = data.take() {
                            *lazy = Some(LazyTensor::from_shared(Arc::new(t)));
                        }
                        lazy.clone().expect("made when first returned")
                    }
                    Output::Input(i) => match args {
                        Some(a) => a[*i].to_lazy(),
                        None => LazyTensor::from_shared(Arc::new(ins[*i].clone())),
                    },
                    Output::Captured(t) => t.clone(),
                    Output::Const(d) => LazyTensor::from_shared(d.clone()),
                })
                .collect())
        })
    }

    /// Calls the function and returns its outputs as lowering-crate tensors.
    #[track_caller]
    pub fn call_tensors<A: FnArg>(&self, inputs: &[A]) -> Result<Vec<Tensor>> {
        let loc = SourceLoc::caller();
        self.with_inputs(inputs, loc, |ins, _, v, params| {
            let mut computed = match &v.computation {
                Some(c) => c.run(params).map_err(|e| self.execute_error(v, e, loc))?,
                None => Vec::new(),
            };
            if v.direct {
                return Ok(computed);
            }
            let mut outs = Vec::with_capacity(v.outputs.len());
            for o in &v.outputs {
                let mut held = None;
                outs.push(output_value(o, &computed, ins, &mut held)?.clone());
            }
            computed.clear();
            Ok(outs)
        })
    }

    /// Calls the function writing its outputs into caller-owned tensors, one per output of
    /// the exact type: in steady state nothing is allocated.
    ///
    /// ```
    /// use lazyjit::{lowering::Tensor, LazyTensor};
    /// let f = lazyjit::compile(|x: &[LazyTensor]| Ok(vec![x[0].add(&x[1])?]));
    /// let a = Tensor::from_vec(vec![1.0f32, 2.0, 3.0], vec![3]).unwrap();
    /// let mut out = [Tensor::zeros(a.ty().clone()).unwrap()];
    /// f.call_into(&[&a, &a], &mut out)?;
    /// assert_eq!(out[0].as_slice::<f32>().unwrap(), &[2.0, 4.0, 6.0]);
    /// # Ok::<(), lazyjit::Error>(())
    /// ```
    #[track_caller]
    pub fn call_into<A: FnArg>(&self, inputs: &[A], outputs: &mut [Tensor]) -> Result<()> {
        let loc = SourceLoc::caller();
        self.with_inputs(inputs, loc, |ins, _, v, params| {
            let fits = |outputs: &[Tensor]| {
                outputs.len() == v.outputs.len()
                    && outputs
                        .iter()
                        .zip(&v.output_types)
                        .all(|(o, t)| o.ty() == t)
            };
            let misfit = |outputs: &[Tensor]| {
                self.signature_error(
                    format!(
                        "its outputs are ({}), got output tensors ({})",
                        list(&v.output_types),
                        list(outputs.iter().map(Tensor::ty))
                    ),
                    loc,
                )
            };
            if v.direct {
                // The computation checks the outputs itself (before running anything); the
                // function's own message is made only when they are wrong.
                let c = v.computation.as_ref().expect("direct versions compute");
                return c.run_into(params, outputs).map_err(|e| {
                    if fits(outputs) {
                        self.execute_error(v, e, loc)
                    } else {
                        misfit(outputs)
                    }
                });
            }
            if !fits(outputs) {
                return Err(misfit(outputs));
            }
            let computed = match &v.computation {
                Some(c) => c.run(params).map_err(|e| self.execute_error(v, e, loc))?,
                None => Vec::new(),
            };
            for (o, slot) in v.outputs.iter().zip(outputs.iter_mut()) {
                let mut held = None;
                slot.copy_from(output_value(o, &computed, ins, &mut held)?)
                    .map_err(|e| self.execute_error(v, e, loc))?;
            }
            Ok(())
        })
    }

    /// Calls the function and returns its outputs as ndarray arrays of element type `T`
    /// (every output must be of that dtype).
    ///
    /// ```
    /// let f = lazyjit::compile(|x: &[lazyjit::LazyTensor]| Ok(vec![x[0].softmax(-1)?]));
    /// let y = f.call_arrays::<f64>(&[ndarray::array![[0.0f64, 0.0]]])?;
    /// assert_eq!(y[0], ndarray::array![[0.5, 0.5]].into_dyn());
    /// # Ok::<(), lazyjit::Error>(())
    /// ```
    #[track_caller]
    pub fn call_arrays<T: NativeType>(&self, inputs: &[impl FnArg]) -> Result<Vec<ArrayD<T>>> {
        let loc = SourceLoc::caller();
        let outs = self.call_tensors(inputs)?;
        outs.iter()
            .enumerate()
            .map(|(i, t)| {
                t.to_array::<T>().map_err(|_| {
                    self.signature_error(
                        format!("output {i} is {}, read as {}", t.ty(), T::DTYPE),
                        loc,
                    )
                })
            })
            .collect()
    }

    /// Drops every traced version: the next call traces the closure again (picking up
    /// anything the closure reads that tracing froze). A graph equal to one compiled
    /// before is still served by the executor's computation cache.
    pub fn force_recompile(&self) {
        let _t = self.tracing.lock();
        self.versions.write().list.clear();
        self.generation.fetch_add(1, Ordering::AcqRel);
    }

    /// The traced versions, most recently traced last.
    pub fn versions(&self) -> Vec<VersionInfo> {
        recent::flush(self.id);
        self.versions
            .read()
            .list
            .iter()
            .map(|v| VersionInfo {
                inputs: v.inputs.clone(),
                outputs: v.output_types.clone(),
                graph_hash: v.graph_hash,
                calls: v.calls.load(Ordering::Relaxed),
            })
            .collect()
    }

    /// Counts of calls, traces and evictions.
    ///
    /// Calls are counted per thread and added up when the thread exits, when it calls
    /// enough other functions to forget this one, or when it asks for these counts: calls
    /// that threads still running made since are not included yet.
    pub fn stats(&self) -> CompiledFnStats {
        recent::flush(self.id);
        let versions = self.versions.read();
        CompiledFnStats {
            calls: self.calls.load(Ordering::Relaxed),
            traces: self.traces.load(Ordering::Relaxed),
            evictions: self.evictions.load(Ordering::Relaxed),
            versions: versions.list.len(),
        }
    }

    /// Resolves `inputs` to device data and runs `body` with them (and the resolved
    /// values, unless every input was a borrowed [`Tensor`]), the version for their types
    /// (traced first if there is none) and the buffers of its parameters.
    #[inline]
    fn with_inputs<A: FnArg, R>(
        &self,
        inputs: &[A],
        loc: SourceLoc,
        body: impl FnOnce(&[&Tensor], Option<&[ArgValue<'_>]>, &Version, &[&Tensor]) -> Result<R>,
    ) -> Result<R> {
        // Fast path: tensors lent by the caller need no resolving.
        let mut ins: SmallVec<[&Tensor; 8]> = SmallVec::new();
        for a in inputs {
            match a.borrowed() {
                Some(t) => ins.push(t),
                None => break,
            }
        }
        if ins.len() == inputs.len() {
            return self.with_version(&ins, loc, |v, params| body(&ins, None, v, params));
        }
        // Lazy tensors are read: not while a compiled function is traced (they may be its
        // placeholders, whose values mean nothing). Lent tensors above are plain data.
        tracing::forbid_read("call", loc)?;
        let mut args: SmallVec<[ArgValue<'_>; 4]> = SmallVec::with_capacity(inputs.len());
        for a in inputs {
            args.push(a.resolve(loc)?);
        }
        let ins: SmallVec<[&Tensor; 8]> = args.iter().map(ArgValue::tensor).collect();
        self.with_version(&ins, loc, |v, params| body(&ins, Some(&args), v, params))
    }

    /// Finds (or traces) the version for inputs `ins` and runs `body` with it and the
    /// buffers of its parameters.
    #[inline]
    fn with_version<R>(
        &self,
        ins: &[&Tensor],
        loc: SourceLoc,
        body: impl FnOnce(&Version, &[&Tensor]) -> Result<R>,
    ) -> Result<R> {
        let types = ins.iter().map(|t| t.ty());
        let generation = self.generation.load(Ordering::Acquire);
        // Counted by the thread's recent entry (no shared write).
        let body = match recent::with(self.id, generation, types.clone(), body, |v, body| {
            run_version(v, ins, body)
        }) {
            Ok(r) => return r,
            Err(body) => body,
        };
        {
            let versions = self.versions.read();
            if let Some(v) = versions.find(types.clone()) {
                recent::remember(self.id, generation, v);
                v.count(1);
                return run_version(v, ins, body);
            }
        }
        self.check_signature(ins, loc)?;
        let _t = self.tracing.lock();
        // Another thread may have traced these types while this one waited.
        if let Some(v) = self.versions.read().find(types.clone()).cloned() {
            recent::remember(self.id, self.generation.load(Ordering::Acquire), &v);
            v.count(1);
            return run_version(&v, ins, body);
        }
        self.traces.fetch_add(1, Ordering::Relaxed);
        metrics::inc(Counter::FnTrace);
        let v = Arc::new(trace::trace(&*self.f, types, self.calls.clone(), loc)?);
        let evicted = {
            let mut versions = self.versions.write();
            let evicted = versions.insert(v.clone(), self.max_versions);
            // Threads' recent versions of this function are stale now.
            let generation = self.generation.fetch_add(1, Ordering::AcqRel) + 1;
            recent::remember(self.id, generation, &v);
            evicted
        };
        let n = evicted.len() as u64;
        self.evictions.fetch_add(n, Ordering::Relaxed);
        metrics::add(Counter::FnEvict, n);
        v.count(1);
        run_version(&v, ins, body)
    }

    /// Errors unless `args` fit the declared input types, or the number of inputs of the
    /// first call.
    fn check_signature(&self, args: &[&Tensor], loc: SourceLoc) -> Result<()> {
        let got = || list(args.iter().map(|t| t.ty()));
        if let Some(expected) = &self.expected {
            if args.len() != expected.len()
                || args.iter().zip(expected).any(|(a, e)| !e.accepts(a.ty()))
            {
                return Err(self
                    .signature_error(format!("takes ({}), got ({})", list(expected), got()), loc));
            }
            return Ok(());
        }
        let mut arity = self.arity.lock();
        match *arity {
            Some(n) if n != args.len() => {
                let traced = self
                    .versions
                    .read()
                    .list
                    .first()
                    .map(|v| format!(", first traced with ({})", list(&v.inputs)))
                    .unwrap_or_default();
                Err(self.signature_error(
                    format!(
                        "takes {n} input{}{traced}; got {} ({})",
                        if n == 1 { "" } else { "s" },
                        args.len(),
                        got()
                    ),
                    loc,
                ))
            }
            Some(_) => Ok(()),
            None => {
                *arity = Some(args.len());
                Ok(())
            }
        }
    }

    fn signature_error(&self, message: String, location: SourceLoc) -> Error {
        Error::Function {
            function: self.name.clone(),
            message,
            location,
        }
    }

    fn execute_error(&self, v: &Version, source: lazyjit_lowering::Error, loc: SourceLoc) -> Error {
        metrics::inc(Counter::Error);
        Error::Execute {
            graph_hash: v.graph_hash.unwrap_or(0),
            location: loc,
            source,
        }
    }
}

impl fmt::Debug for CompiledFn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = self.stats();
        write!(
            f,
            "CompiledFn({}: {} versions, {} calls, {} traces)",
            self.name, s.versions, s.calls, s.traces
        )
    }
}

/// The value of a function output: a computed tensor, an input, a captured tensor's current
/// value (kept alive in `held`) or a constant.
fn output_value<'a>(
    o: &'a Output,
    computed: &'a [Tensor],
    ins: &[&'a Tensor],
    held: &'a mut Option<Arc<Tensor>>,
) -> Result<&'a Tensor> {
    Ok(match o {
        Output::Computed(k) => &computed[*k],
        Output::Input(i) => ins[*i],
        Output::Captured(t) => &**held.insert(t.data()?),
        Output::Const(d) => d,
    })
}

/// Binds the version's parameters to buffers and runs `body`.
#[inline]
fn run_version<R>(
    v: &Version,
    ins: &[&Tensor],
    body: impl FnOnce(&Version, &[&Tensor]) -> Result<R>,
) -> Result<R> {
    if v.params_are_inputs {
        return body(v, ins);
    }
    // Captured tensors first: their buffers must outlive the borrowed list.
    let mut held: SmallVec<[Arc<Tensor>; 2]> = SmallVec::new();
    if v.captures {
        for b in &v.params {
            if let Binding::Captured(t) = b {
                held.push(t.data()?);
            }
        }
    }
    let mut next_held = held.iter();
    let mut params: SmallVec<[&Tensor; 8]> = SmallVec::with_capacity(v.params.len());
    for b in &v.params {
        params.push(match b {
            Binding::Input(i) => ins[*i],
            Binding::Captured(_) => next_held.next().expect("one buffer per captured tensor"),
            Binding::Const(d) => d,
        });
    }
    body(v, &params)
}

/// `a, b, c` of displayable items.
fn list<T: fmt::Display>(items: impl IntoIterator<Item = T>) -> String {
    items
        .into_iter()
        .map(|t| t.to_string())
        .collect::<Vec<_>>()
        .join(", ")
}
