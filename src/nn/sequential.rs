//! [`Sequential`]: modules applied in order.

use super::{join, Module};
use crate::error::Result;
use crate::tensor::LazyTensor;

/// Modules applied one after the other (PyTorch's `nn.Sequential`). A child added with
/// [`Sequential::add`] is named by its position (`"0"`, `"1"`, …, so its parameters are
/// `"0.weight"`, …); [`Sequential::add_named`] gives it a name.
///
/// ```
/// use lazyjit::nn::{Dropout, Flatten, Linear, Module, ReLU, Sequential};
/// use lazyjit::LazyTensor;
/// let mut net = Sequential::new()
///     .add(Flatten::new())
///     .add_named("fc1", Linear::new(6, 4, 1)?)
///     .add(ReLU::new())
///     .add(Dropout::with_seed(0.5, 9)?)
///     .add_named("fc2", Linear::new(4, 2, 2)?);
/// assert_eq!(net.len(), 5);
/// let names: Vec<String> = net.named_parameters().into_iter().map(|(n, _)| n).collect();
/// assert_eq!(names, ["fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias"]);
/// let x = LazyTensor::from_vec(vec![1.0f32; 12], &[2, 3, 2])?;
/// net.eval(); // dropout off: the output is deterministic
/// assert_eq!(net.forward(&x)?.to_vec::<f32>()?, net.forward(&x)?.to_vec::<f32>()?);
/// # Ok::<(), lazyjit::Error>(())
/// ```
pub struct Sequential {
    children: Vec<(String, Box<dyn Module>)>,
    training: bool,
}

impl Sequential {
    /// An empty sequence (the identity), in training mode.
    pub fn new() -> Sequential {
        Sequential {
            children: Vec::new(),
            training: true,
        }
    }

    /// Appends `module`, named by its position.
    // A builder method named as in tch and candle, not `std::ops::Add`.
    #[allow(clippy::should_implement_trait)]
    pub fn add(self, module: impl Module + 'static) -> Sequential {
        let name = self.children.len().to_string();
        self.add_named(&name, module)
    }

    /// Appends `module` under `name` (a prefix of its parameter names).
    pub fn add_named(mut self, name: &str, mut module: impl Module + 'static) -> Sequential {
        module.train(self.training);
        self.children.push((name.to_string(), Box::new(module)));
        self
    }

    /// Appends an already boxed module, named by its position.
    pub fn push(&mut self, mut module: Box<dyn Module>) {
        module.train(self.training);
        let name = self.children.len().to_string();
        self.children.push((name, module));
    }

    /// The number of children.
    pub fn len(&self) -> usize {
        self.children.len()
    }

    /// Whether there are no children.
    pub fn is_empty(&self) -> bool {
        self.children.is_empty()
    }

    /// The `i`-th child with its name.
    pub fn get(&self, i: usize) -> Option<(&str, &dyn Module)> {
        self.children.get(i).map(|(n, m)| (n.as_str(), m.as_ref()))
    }
}

impl Default for Sequential {
    fn default() -> Sequential {
        Sequential::new()
    }
}

impl Module for Sequential {
    fn forward(&self, x: &LazyTensor) -> Result<LazyTensor> {
        let mut y = x.clone();
        for (_, m) in &self.children {
            y = m.forward(&y)?;
        }
        Ok(y)
    }

    fn visit(&self, prefix: &str, f: &mut dyn FnMut(&str, &LazyTensor)) {
        for (name, m) in &self.children {
            m.visit(&join(prefix, name), f);
        }
    }

    fn visit_mut(&mut self, prefix: &str, f: &mut dyn FnMut(&str, &mut LazyTensor)) {
        for (name, m) in &mut self.children {
            m.visit_mut(&join(prefix, name), f);
        }
    }

    fn train(&mut self, on: bool) {
        self.training = on;
        for (_, m) in &mut self.children {
            m.train(on);
        }
    }

    fn is_training(&self) -> bool {
        self.training
    }
}
