//! Activation modules: parameterless wrappers of the elementwise ops.

use super::Module;
use crate::error::Result;
use crate::tensor::LazyTensor;

macro_rules! activation {
    ($($name:ident => |$x:ident| $e:expr, $doc:literal;)*) => {$(
        #[doc = $doc]
        #[derive(Clone, Debug)]
        pub struct $name {
            training: bool,
        }

        impl $name {
            #[doc = concat!("A `", stringify!($name), "` module.")]
            pub fn new() -> $name {
                $name { training: true }
            }
        }

        impl Default for $name {
            fn default() -> $name {
                $name::new()
            }
        }

        impl Module for $name {
            fn forward(&self, $x: &LazyTensor) -> Result<LazyTensor> {
                $e
            }
            fn visit(&self, _prefix: &str, _f: &mut dyn FnMut(&str, &LazyTensor)) {}
            fn visit_mut(&mut self, _prefix: &str, _f: &mut dyn FnMut(&str, &mut LazyTensor)) {}
            fn train(&mut self, on: bool) {
                self.training = on;
            }
            fn is_training(&self) -> bool {
                self.training
            }
        }
    )*};
}

activation! {
    ReLU => |x| x.relu(), "`max(x, 0)` ([`LazyTensor::relu`]).";
    GELU => |x| x.gelu(), "GELU, exact erf form ([`LazyTensor::gelu`]).";
    Sigmoid => |x| x.sigmoid(), "`1 / (1 + e^-x)` ([`LazyTensor::sigmoid`]).";
    Tanh => |x| x.tanh(), "Hyperbolic tangent ([`LazyTensor::tanh`]).";
    SiLU => |x| x.silu(), "`x · sigmoid(x)` ([`LazyTensor::silu`]).";
}

/// `x` where `x > 0`, else `negative_slope · x` ([`LazyTensor::leaky_relu`]; PyTorch's
/// default slope is 0.01).
///
/// ```
/// use lazyjit::nn::{LeakyReLU, Module};
/// use lazyjit::LazyTensor;
/// let x = LazyTensor::from_vec(vec![-2.0f32, 3.0], &[2])?;
/// assert_eq!(LeakyReLU::new(0.5).forward(&x)?.to_vec::<f32>()?, vec![-1.0, 3.0]);
/// # Ok::<(), lazyjit::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct LeakyReLU {
    negative_slope: f64,
    training: bool,
}

impl LeakyReLU {
    /// Leaky ReLU with the given slope for negative inputs.
    pub fn new(negative_slope: f64) -> LeakyReLU {
        LeakyReLU {
            negative_slope,
            training: true,
        }
    }
}

impl Default for LeakyReLU {
    /// Slope 0.01, as PyTorch.
    fn default() -> LeakyReLU {
        LeakyReLU::new(0.01)
    }
}

impl Module for LeakyReLU {
    fn forward(&self, x: &LazyTensor) -> Result<LazyTensor> {
        x.leaky_relu(self.negative_slope)
    }
    fn visit(&self, _prefix: &str, _f: &mut dyn FnMut(&str, &LazyTensor)) {}
    fn visit_mut(&mut self, _prefix: &str, _f: &mut dyn FnMut(&str, &mut LazyTensor)) {}
    fn train(&mut self, on: bool) {
        self.training = on;
    }
    fn is_training(&self) -> bool {
        self.training
    }
}
