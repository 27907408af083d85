//! One traced version of a compiled function (a computation and how to bind its
//! parameters and outputs), and the bounded least-recently-used list of them.

use crate::backend::Computation;
use crate::tensor::LazyTensor;
use lazyjit_lowering::{Tensor, TensorType};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// Where a parameter of the computation gets its buffer on each call.
pub(crate) enum Binding {
    /// The function's input at this position.
    Input(usize),
    /// A tensor the closure captured from outside: its value at the time of the call.
    Captured(LazyTensor),
    /// A value fixed at trace time: a scalar literal or a tensor created in the closure.
    Const(Arc<Tensor>),
}

/// Where an output of the function comes from.
pub(crate) enum Output {
    /// The computation's output at this position.
    Computed(usize),
    /// The function's input at this position, returned as is.
    Input(usize),
    /// A captured tensor returned as is.
    Captured(LazyTensor),
    /// A value fixed at trace time.
    Const(Arc<Tensor>),
}

/// A traced and compiled version of a function, for one list of input types.
pub(crate) struct Version {
    pub inputs: Vec<TensorType>,
    /// One per parameter of the computation.
    pub params: Vec<Binding>,
    pub outputs: Vec<Output>,
    /// Type of each output of the function.
    pub output_types: Vec<TensorType>,
    /// `None` when every output is an input or a constant.
    pub computation: Option<Arc<dyn Computation>>,
    /// The outputs are exactly the computation's, in order (outputs can be written in place).
    pub direct: bool,
    /// The parameters are exactly the inputs, in order (the inputs are the parameter list).
    pub params_are_inputs: bool,
    /// Some parameter is a captured tensor.
    pub captures: bool,
    pub graph_hash: Option<u64>,
    /// Calls of this version, and of every version of its function.
    pub calls: AtomicU64,
    function_calls: Arc<AtomicU64>,
    last_use: AtomicU64,
}

impl Version {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        inputs: Vec<TensorType>,
        params: Vec<Binding>,
        outputs: Vec<Output>,
        output_types: Vec<TensorType>,
        computation: Option<Arc<dyn Computation>>,
        graph_hash: Option<u64>,
        function_calls: Arc<AtomicU64>,
    ) -> Version {
        let n_computed = computation
            .as_ref()
            .map_or(0, |c| c.program().outputs.len());
        let direct = outputs.len() == n_computed
            && outputs
                .iter()
                .enumerate()
                .all(|(i, o)| matches!(o, Output::Computed(k) if *k == i));
        let params_are_inputs = params.len() == inputs.len()
            && params
                .iter()
                .enumerate()
                .all(|(i, b)| matches!(b, Binding::Input(k) if *k == i));
        let captures = params.iter().any(|b| matches!(b, Binding::Captured(_)));
        Version {
            params_are_inputs,
            captures,
            inputs,
            params,
            outputs,
            output_types,
            computation,
            direct,
            graph_hash,
            calls: AtomicU64::new(0),
            function_calls,
            last_use: AtomicU64::new(0),
        }
    }

    /// Adds `n` calls to this version's count and its function's.
    pub fn count(&self, n: u64) {
        if n > 0 {
            self.calls.fetch_add(n, Ordering::Relaxed);
            self.function_calls.fetch_add(n, Ordering::Relaxed);
        }
    }

    /// Whether this version was traced for inputs of these types.
    #[inline]
    pub fn accepts<'t>(&self, types: impl ExactSizeIterator<Item = &'t TensorType>) -> bool {
        types.len() == self.inputs.len() && types.zip(&self.inputs).all(|(a, b)| a == b)
    }
}

/// The traced versions, at most `capacity`, least recently used evicted first.
pub(crate) struct Versions {
    pub list: Vec<Arc<Version>>,
    tick: AtomicU64,
}

impl Versions {
    pub fn new() -> Versions {
        Versions {
            list: Vec::new(),
            tick: AtomicU64::new(0),
        }
    }

    /// The version for inputs of these types, marked as used.
    #[inline]
    pub fn find<'t>(
        &self,
        types: impl ExactSizeIterator<Item = &'t TensorType> + Clone,
    ) -> Option<&Arc<Version>> {
        let v = self.list.iter().find(|v| v.accepts(types.clone()))?;
        // Recency only matters when there is something to choose between.
        if self.list.len() > 1 {
            let t = self.tick.fetch_add(1, Ordering::Relaxed) + 1;
            v.last_use.store(t, Ordering::Relaxed);
        }
        Some(v)
    }

    /// Adds a version, evicting the least recently used beyond `capacity` (at least 1);
    /// returns the evicted versions.
    pub fn insert(&mut self, v: Arc<Version>, capacity: usize) -> Vec<Arc<Version>> {
        let t = self.tick.fetch_add(1, Ordering::Relaxed) + 1;
        v.last_use.store(t, Ordering::Relaxed);
        let mut evicted = Vec::new();
        while self.list.len() >= capacity.max(1) {
            let oldest = self
                .list
                .iter()
                .enumerate()
                .min_by_key(|(_, v)| v.last_use.load(Ordering::Relaxed))
                .map(|(i, _)| i)
                .expect("the list is not empty");
            evicted.push(self.list.remove(oldest));
        }
        self.list.push(v);
        evicted
    }
}
