//! Layers without much arithmetic of their own: [`Flatten`], [`Embedding`], [`LayerNorm`].

use super::{join, mix_seed, Module};
use crate::error::{Error, Result, SourceLoc};
use crate::tensor::LazyTensor;
use lazyjit_lowering::DType;

/// Flattens dims `start..=end` into one (PyTorch's `nn.Flatten`, by default from dim 1 to
/// the last: `[n, c, h, w]` becomes `[n, c·h·w]`).
///
/// ```
/// use lazyjit::nn::{Flatten, Module};
/// use lazyjit::LazyTensor;
/// let x = LazyTensor::from_vec(vec![0.0f32; 24], &[2, 3, 4])?;
/// assert_eq!(Flatten::new().forward(&x)?.shape(), &[2, 12]);
/// assert_eq!(Flatten::with_dims(0, 1).forward(&x)?.shape(), &[6, 4]);
/// # Ok::<(), lazyjit::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct Flatten {
    start: isize,
    end: isize,
    training: bool,
}

impl Flatten {
    /// Flattens from dim 1 to the last.
    pub fn new() -> Flatten {
        Flatten::with_dims(1, -1)
    }

    /// Flattens dims `start..=end` (negative counts from the end).
    pub fn with_dims(start: isize, end: isize) -> Flatten {
        Flatten {
            start,
            end,
            training: true,
        }
    }
}

impl Default for Flatten {
    fn default() -> Flatten {
        Flatten::new()
    }
}

impl Module for Flatten {
    fn forward(&self, x: &LazyTensor) -> Result<LazyTensor> {
        x.flatten(self.start, self.end)
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

/// A lookup table `weight: [num_embeddings, dim]`: integer indices of any shape `s` give
/// `s ++ [dim]` (PyTorch's `nn.Embedding`, initialised N(0, 1) from a seed). Indices out of
/// range are an execution error. The parameter is named `weight`.
///
/// ```
/// use lazyjit::nn::{Embedding, Module};
/// use lazyjit::LazyTensor;
/// let emb = Embedding::new(10, 4, 3)?;
/// let idx = LazyTensor::from_vec(vec![1i64, 7, 7, 0, 2, 9], &[2, 3])?;
/// let y = emb.forward(&idx)?;
/// assert_eq!(y.shape(), &[2, 3, 4]);
/// let rows = y.to_vec::<f32>()?;
/// assert_eq!(rows[4..8], rows[8..12]); // index 7 twice
/// # Ok::<(), lazyjit::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct Embedding {
    weight: LazyTensor,
    training: bool,
}

impl Embedding {
    /// An `f32` table of `num_embeddings` rows of `dim`, N(0, 1) from `seed`.
    #[track_caller]
    pub fn new(num_embeddings: usize, dim: usize, seed: u64) -> Result<Embedding> {
        let weight = LazyTensor::randn_seeded(
            &[num_embeddings, dim],
            DType::F32,
            0.0,
            1.0,
            mix_seed(seed, 0),
        )?;
        weight.set_requires_grad(true)?;
        Ok(Embedding {
            weight,
            training: true,
        })
    }

    /// A table from a given float tensor `[num_embeddings, dim]` (marked as requiring
    /// gradients).
    #[track_caller]
    pub fn from_weight(weight: LazyTensor) -> Result<Embedding> {
        if weight.rank() != 2 {
            return Err(Error::op(
                "Embedding::from_weight",
                format!(
                    "expects a weight [num_embeddings, dim], got {}",
                    weight.ty()
                ),
                SourceLoc::caller(),
            ));
        }
        weight.set_requires_grad(true)?;
        Ok(Embedding {
            weight,
            training: true,
        })
    }

    /// The table, `[num_embeddings, dim]`.
    pub fn weight(&self) -> &LazyTensor {
        &self.weight
    }
}

impl Module for Embedding {
    fn forward(&self, x: &LazyTensor) -> Result<LazyTensor> {
        self.weight.index_select(0, x)
    }
    fn visit(&self, prefix: &str, f: &mut dyn FnMut(&str, &LazyTensor)) {
        f(&join(prefix, "weight"), &self.weight);
    }
    fn visit_mut(&mut self, prefix: &str, f: &mut dyn FnMut(&str, &mut LazyTensor)) {
        f(&join(prefix, "weight"), &mut self.weight);
    }
    fn train(&mut self, on: bool) {
        self.training = on;
    }
    fn is_training(&self) -> bool {
        self.training
    }
}

/// Layer normalisation over the last dims (`normalized_shape`):
/// `(x - mean) / sqrt(var + eps) · weight + bias`, with the biased variance, `weight`
/// starting at ones and `bias` at zeros (PyTorch's `nn.LayerNorm`, eps 1e-5 by default).
///
/// ```
/// use lazyjit::nn::{LayerNorm, Module};
/// use lazyjit::LazyTensor;
/// let ln = LayerNorm::new(&[4])?;
/// let x = LazyTensor::from_vec(vec![1.0f32, 2.0, 3.0, 4.0, 10.0, 10.0, 10.0, 10.0], &[2, 4])?;
/// let y = ln.forward(&x)?.to_vec::<f32>()?;
/// assert!(y[..4].iter().sum::<f32>().abs() < 1e-5);
/// assert!((y[0] + 1.3416).abs() < 1e-3);
/// assert_eq!(&y[4..], &[0.0; 4]); // a constant row normalises to 0
/// # Ok::<(), lazyjit::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct LayerNorm {
    normalized_shape: Vec<usize>,
    eps: f64,
    weight: Option<LazyTensor>,
    bias: Option<LazyTensor>,
    training: bool,
}

impl LayerNorm {
    /// `f32` layer norm over `normalized_shape` with eps 1e-5 and a weight and bias.
    #[track_caller]
    pub fn new(normalized_shape: &[usize]) -> Result<LayerNorm> {
        LayerNorm::with_options(normalized_shape, 1e-5, true, DType::F32)
    }

    /// Layer norm of a float `dtype` with the given `eps`; `affine` adds the weight and
    /// bias parameters (named `weight` and `bias`).
    #[track_caller]
    pub fn with_options(
        normalized_shape: &[usize],
        eps: f64,
        affine: bool,
        dtype: DType,
    ) -> Result<LayerNorm> {
        let loc = SourceLoc::caller();
        if normalized_shape.is_empty() || !dtype.is_float() || !(eps >= 0.0 && eps.is_finite()) {
            return Err(Error::op(
                "LayerNorm::new",
                format!(
                    "needs a non-empty normalized shape, a float dtype and a finite eps >= 0, got {normalized_shape:?}, {dtype}, {eps}"
                ),
                loc,
            ));
        }
        let n: usize = normalized_shape.iter().product();
        // Data leaves, not constants: a constant parameter would make the first step's
        // graph differ from the others.
        let filled = |v: f64| -> Result<LazyTensor> {
            let t = match dtype {
                DType::F64 => LazyTensor::from_vec(vec![v; n], normalized_shape)?,
                _ => LazyTensor::from_vec(vec![v as f32; n], normalized_shape)?,
            };
            t.set_requires_grad(true)?;
            Ok(t)
        };
        let (weight, bias) = if affine {
            (Some(filled(1.0)?), Some(filled(0.0)?))
        } else {
            (None, None)
        };
        Ok(LayerNorm {
            normalized_shape: normalized_shape.to_vec(),
            eps,
            weight,
            bias,
            training: true,
        })
    }

    /// The weight (`None` without affine parameters).
    pub fn weight(&self) -> Option<&LazyTensor> {
        self.weight.as_ref()
    }

    /// The bias (`None` without affine parameters).
    pub fn bias(&self) -> Option<&LazyTensor> {
        self.bias.as_ref()
    }
}

impl Module for LayerNorm {
    #[track_caller]
    fn forward(&self, x: &LazyTensor) -> Result<LazyTensor> {
        let k = self.normalized_shape.len();
        if x.rank() < k || x.shape()[x.rank() - k..] != self.normalized_shape[..] {
            return Err(Error::op(
                "layer_norm",
                format!(
                    "the input {} does not end in the normalized shape {:?}",
                    x.ty(),
                    self.normalized_shape
                ),
                SourceLoc::caller(),
            ));
        }
        let axes: Vec<isize> = (0..k).map(|i| -(i as isize) - 1).collect();
        let mean = x.mean(&axes, true)?;
        let centered = x.sub(&mean)?;
        let var = centered.square()?.mean(&axes, true)?;
        let mut y = centered.mul(&var.add_scalar(self.eps)?.rsqrt()?)?;
        if let Some(w) = &self.weight {
            y = y.mul(w)?;
        }
        if let Some(b) = &self.bias {
            y = y.add(b)?;
        }
        Ok(y)
    }
    fn visit(&self, prefix: &str, f: &mut dyn FnMut(&str, &LazyTensor)) {
        if let Some(w) = &self.weight {
            f(&join(prefix, "weight"), w);
        }
        if let Some(b) = &self.bias {
            f(&join(prefix, "bias"), b);
        }
    }
    fn visit_mut(&mut self, prefix: &str, f: &mut dyn FnMut(&str, &mut LazyTensor)) {
        if let Some(w) = &mut self.weight {
            f(&join(prefix, "weight"), w);
        }
        if let Some(b) = &mut self.bias {
            f(&join(prefix, "bias"), b);
        }
    }
    fn train(&mut self, on: bool) {
        self.training = on;
    }
    fn is_training(&self) -> bool {
        self.training
    }
}
