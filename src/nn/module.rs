//! The [`Module`] trait: a forward pass, named parameters, train/eval mode.

use crate::error::Result;
use crate::tensor::LazyTensor;

/// A layer or a network: a forward pass over lazy tensors, its parameters under dotted
/// names, and a training/evaluation mode (which [`crate::nn::Dropout`] reads).
///
/// An implementation provides [`Module::forward`], the two parameter visitors and the mode;
/// everything else (listing, counting, clearing gradients) is derived from them. A module
/// made of others visits each child under `join(prefix, field_name)` and forwards `train`
/// to it:
///
/// ```
/// use lazyjit::nn::{self, Dropout, Linear, Module};
/// use lazyjit::{LazyTensor, Result};
///
/// struct Mlp { fc1: Linear, drop: Dropout, fc2: Linear, training: bool }
///
/// impl Module for Mlp {
///     fn forward(&self, x: &LazyTensor) -> Result<LazyTensor> {
///         let h = self.fc1.forward(x)?.relu()?;
///         self.fc2.forward(&self.drop.forward(&h)?)
///     }
///     fn visit(&self, prefix: &str, f: &mut dyn FnMut(&str, &LazyTensor)) {
///         self.fc1.visit(&nn::join(prefix, "fc1"), f);
///         self.fc2.visit(&nn::join(prefix, "fc2"), f);
///     }
///     fn visit_mut(&mut self, prefix: &str, f: &mut dyn FnMut(&str, &mut LazyTensor)) {
///         self.fc1.visit_mut(&nn::join(prefix, "fc1"), f);
///         self.fc2.visit_mut(&nn::join(prefix, "fc2"), f);
///     }
///     fn train(&mut self, on: bool) {
///         self.training = on;
///         self.drop.train(on);
///     }
///     fn is_training(&self) -> bool { self.training }
/// }
///
/// let mut mlp = Mlp {
///     fc1: Linear::new(3, 5, 10)?,
///     drop: Dropout::with_seed(0.5, 7)?,
///     fc2: Linear::new(5, 1, 11)?,
///     training: true,
/// };
/// let names: Vec<String> = mlp.named_parameters().into_iter().map(|(n, _)| n).collect();
/// assert_eq!(names, ["fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias"]);
/// assert_eq!(mlp.num_parameters(), 3 * 5 + 5 + 5 + 1);
/// mlp.eval();
/// assert!(!mlp.drop.is_training());
/// let x = LazyTensor::from_vec(vec![1.0f32, 2.0, 3.0], &[1, 3])?;
/// assert_eq!(mlp.forward(&x)?.shape(), &[1, 1]);
/// # Ok::<(), lazyjit::Error>(())
/// ```
pub trait Module {
    /// The forward pass: records lazy ops on `x` and returns the (lazy) output.
    fn forward(&self, x: &LazyTensor) -> Result<LazyTensor>;

    /// Calls `f(name, parameter)` for every parameter, in a fixed order, with `name` the
    /// dotted path under `prefix` (`join(prefix, "weight")`). The handles are the
    /// parameters themselves: [`LazyTensor::assign`] through them changes the module.
    fn visit(&self, prefix: &str, f: &mut dyn FnMut(&str, &LazyTensor));

    /// [`Module::visit`] with mutable access: `f` may replace a parameter handle outright
    /// (a new tensor, not seen by optimizers holding the old one; prefer
    /// [`LazyTensor::assign`] to change a value in place).
    fn visit_mut(&mut self, prefix: &str, f: &mut dyn FnMut(&str, &mut LazyTensor));

    /// Switches training mode on or off for this module and every module inside it.
    fn train(&mut self, on: bool);

    /// Whether the module is in training mode (the default for new modules).
    fn is_training(&self) -> bool;

    /// `train(false)`: evaluation mode (dropout off).
    fn eval(&mut self) {
        self.train(false);
    }

    /// Every parameter with its dotted name, in visiting order.
    fn named_parameters(&self) -> Vec<(String, LazyTensor)> {
        let mut out = Vec::new();
        self.visit("", &mut |name, p| out.push((name.to_string(), p.clone())));
        out
    }

    /// Every parameter (handles sharing the module's tensors, for an optimizer).
    fn parameters(&self) -> Vec<LazyTensor> {
        let mut out = Vec::new();
        self.visit("", &mut |_, p| out.push(p.clone()));
        out
    }

    /// The number of scalar parameters: the sum of the element counts of all parameter
    /// tensors (`parameters().len()` counts the tensors).
    fn num_parameters(&self) -> usize {
        let mut n = 0;
        self.visit("", &mut |_, p| n += p.numel());
        n
    }

    /// Clears the gradient of every parameter ([`LazyTensor::zero_grad`]).
    fn zero_grad(&self) {
        self.visit("", &mut |_, p| p.zero_grad());
    }
}

/// The dotted name of `name` inside `prefix` (`join("", "fc1") == "fc1"`,
/// `join("fc1", "weight") == "fc1.weight"`).
pub fn join(prefix: &str, name: &str) -> String {
    if prefix.is_empty() {
        name.to_string()
    } else {
        format!("{prefix}.{name}")
    }
}

impl<M: Module + ?Sized> Module for Box<M> {
    fn forward(&self, x: &LazyTensor) -> Result<LazyTensor> {
        (**self).forward(x)
    }
    fn visit(&self, prefix: &str, f: &mut dyn FnMut(&str, &LazyTensor)) {
        (**self).visit(prefix, f)
    }
    fn visit_mut(&mut self, prefix: &str, f: &mut dyn FnMut(&str, &mut LazyTensor)) {
        (**self).visit_mut(prefix, f)
    }
    fn train(&mut self, on: bool) {
        (**self).train(on)
    }
    fn is_training(&self) -> bool {
        (**self).is_training()
    }
}
