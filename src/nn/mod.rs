//! Neural-network building blocks on lazy tensors: the [`Module`] trait, layers, and
//! saving/loading parameters as safetensors files.
//!
//! Everything records lazy ops: a forward pass, its backward pass ([`LazyTensor::backward`])
//! and an optimizer update (`crate::optim`) land in one graph, which
//! [`crate::mark_step`] compiles once and re-runs every step. Parameters are leaf tensors
//! with `requires_grad` set; a module names them with dotted paths (`"0.weight"` in a
//! [`Sequential`], `"fc1.bias"` in a struct with a field `fc1`).
//!
//! | module | what it holds |
//! |---|---|
//! | `module` | the [`Module`] trait, [`join`] for dotted names |
//! | `linear` | [`Linear`] and PyTorch's default initialisation |
//! | `conv` | [`Conv2d`], [`MaxPool2d`], [`AvgPool2d`] |
//! | `dropout` | [`Dropout`] (Philox masks drawn in the graph) |
//! | `layers` | [`Flatten`], [`Embedding`], [`LayerNorm`] |
//! | `activation` | [`ReLU`], [`GELU`], [`Sigmoid`], [`Tanh`], [`SiLU`], [`LeakyReLU`] |
//! | `sequential` | [`Sequential`] |
//! | `serialize` | [`save`] and [`load`] (safetensors, written atomically; feature `safetensors`, on by default) |
//!
//! ```
//! use lazyjit::nn::{self, Linear, Module, ReLU, Sequential};
//! use lazyjit::LazyTensor;
//! let mlp = Sequential::new()
//!     .add(Linear::new(4, 8, 1)?)
//!     .add(ReLU::new())
//!     .add(Linear::new(8, 2, 2)?);
//! let names: Vec<String> = mlp.named_parameters().into_iter().map(|(n, _)| n).collect();
//! assert_eq!(names, ["0.weight", "0.bias", "2.weight", "2.bias"]);
//! assert_eq!(mlp.num_parameters(), 4 * 8 + 8 + 8 * 2 + 2);
//! let x = LazyTensor::from_vec(vec![0.5f32; 12], &[3, 4])?;
//! assert_eq!(mlp.forward(&x)?.shape(), &[3, 2]);
//! # Ok::<(), lazyjit::Error>(())
//! ```
//!
//! [`LazyTensor::backward`]: crate::LazyTensor::backward

mod activation;
mod conv;
mod dropout;
mod layers;
mod linear;
mod module;
mod sequential;
#[cfg(feature = "safetensors")]
mod serialize;

pub use activation::{LeakyReLU, ReLU, SiLU, Sigmoid, Tanh, GELU};
pub use conv::{AvgPool2d, Conv2d, MaxPool2d};
pub use dropout::Dropout;
pub use layers::{Embedding, Flatten, LayerNorm};
pub use linear::Linear;
pub use module::{join, Module};
pub use sequential::Sequential;
#[cfg(feature = "safetensors")]
pub use serialize::{load, load_named, save, save_named};

use crate::error::Result;
use crate::tensor::LazyTensor;
use lazyjit_lowering::DType;

/// A rank-0 float **data** tensor (not an inlined constant, not a shared scalar) holding
/// `v` in `dtype`: a value that may change between steps without changing the graph.
#[track_caller]
pub(crate) fn data_scalar(dtype: DType, v: f64) -> Result<LazyTensor> {
    match dtype {
        DType::F64 => LazyTensor::from_vec(vec![v], &[]),
        _ => LazyTensor::from_vec(vec![v as f32], &[]),
    }
}

/// Mixes a user seed with a stream number (SplitMix64's finaliser), so that the seeds a
/// layer derives for its tensors (weight, bias) do not collide with another layer's.
pub(crate) fn mix_seed(seed: u64, stream: u64) -> u64 {
    let mut z = seed
        .wrapping_add(stream.wrapping_mul(0x9E37_79B9_7F4A_7C15))
        .wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}
