//! [`Linear`]: a fully connected layer with PyTorch's default initialisation.

use super::{join, mix_seed, Module};
use crate::error::{Error, Result, SourceLoc};
use crate::tensor::LazyTensor;
use lazyjit_lowering::DType;

/// `y = x · weightᵀ + bias`, with `weight: [out_features, in_features]` and
/// `bias: [out_features]` (PyTorch's `nn.Linear`).
///
/// Both are initialised as PyTorch does, uniform in `±1/√in_features`, from a seeded
/// generator: one seed gives a bit-identical layer. The parameters are data leaves that
/// require gradients, named `weight` and `bias`.
///
/// ```
/// use lazyjit::nn::{Linear, Module};
/// use lazyjit::LazyTensor;
/// let fc = Linear::new(4, 3, 42)?;
/// assert_eq!(fc.weight().shape(), &[3, 4]);
/// let bound = 1.0 / 4f32.sqrt();
/// assert!(fc.weight().to_vec::<f32>()?.iter().all(|w| w.abs() <= bound));
/// // The same seed, the same layer.
/// let again = Linear::new(4, 3, 42)?;
/// assert_eq!(fc.weight().to_vec::<f32>()?, again.weight().to_vec::<f32>()?);
/// let y = fc.forward(&LazyTensor::from_vec(vec![1.0f32; 8], &[2, 4])?)?;
/// assert_eq!(y.shape(), &[2, 3]);
/// # Ok::<(), lazyjit::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct Linear {
    weight: LazyTensor,
    bias: Option<LazyTensor>,
    training: bool,
}

impl Linear {
    /// An `f32` layer with a bias, initialised from `seed`.
    #[track_caller]
    pub fn new(in_features: usize, out_features: usize, seed: u64) -> Result<Linear> {
        Linear::with_options(in_features, out_features, true, DType::F32, seed)
    }

    /// A layer of a float `dtype`, with or without a bias, initialised from `seed`.
    #[track_caller]
    pub fn with_options(
        in_features: usize,
        out_features: usize,
        bias: bool,
        dtype: DType,
        seed: u64,
    ) -> Result<Linear> {
        let loc = SourceLoc::caller();
        if in_features == 0 {
            return Err(Error::op(
                "Linear::new",
                "in_features must be at least 1 (the initialisation bound is 1/sqrt(in_features))",
                loc,
            ));
        }
        let weight = uniform_parameter(
            &[out_features, in_features],
            dtype,
            in_features,
            mix_seed(seed, 0),
            loc,
        )?;
        let bias = if bias {
            Some(uniform_parameter(
                &[out_features],
                dtype,
                in_features,
                mix_seed(seed, 1),
                loc,
            )?)
        } else {
            None
        };
        Ok(Linear {
            weight,
            bias,
            training: true,
        })
    }

    /// A layer from given tensors (`weight: [out, in]`, `bias: [out]`, one float dtype);
    /// they are used as they are (marked as requiring gradients).
    #[track_caller]
    pub fn from_parameters(weight: LazyTensor, bias: Option<LazyTensor>) -> Result<Linear> {
        let loc = SourceLoc::caller();
        let ok = weight.rank() == 2
            && bias.as_ref().is_none_or(|b| {
                b.rank() == 1 && b.shape()[0] == weight.shape()[0] && b.dtype() == weight.dtype()
            });
        if !ok {
            return Err(Error::op(
                "Linear::from_parameters",
                format!(
                    "expects weight [out, in] and bias [out] of one dtype, got {} and {}",
                    weight.ty(),
                    bias.as_ref()
                        .map_or("no bias".to_string(), |b| b.ty().to_string())
                ),
                loc,
            ));
        }
        weight.set_requires_grad(true)?;
        if let Some(b) = &bias {
            b.set_requires_grad(true)?;
        }
        Ok(Linear {
            weight,
            bias,
            training: true,
        })
    }

    /// The weight, `[out_features, in_features]`.
    pub fn weight(&self) -> &LazyTensor {
        &self.weight
    }

    /// The bias, `[out_features]`, if the layer has one.
    pub fn bias(&self) -> Option<&LazyTensor> {
        self.bias.as_ref()
    }

    /// `in_features`.
    pub fn in_features(&self) -> usize {
        self.weight.shape()[1]
    }

    /// `out_features`.
    pub fn out_features(&self) -> usize {
        self.weight.shape()[0]
    }
}

/// A parameter uniform in `±1/√fan_in` (PyTorch's default for `Linear` and `Conv2d`: its
/// `kaiming_uniform_(a=√5)` reduces to this bound), drawn on the host from `seed`.
pub(crate) fn uniform_parameter(
    shape: &[usize],
    dtype: DType,
    fan_in: usize,
    seed: u64,
    loc: SourceLoc,
) -> Result<LazyTensor> {
    let bound = 1.0 / (fan_in as f64).sqrt();
    let p = LazyTensor::rand_uniform_seeded(shape, dtype, -bound, bound, seed).map_err(
        |e| match e {
            Error::Op { op, message, .. } => Error::op(op, message, loc),
            other => other,
        },
    )?;
    p.set_requires_grad(true)?;
    Ok(p)
}

/// Visits a layer's `weight` and optional `bias` under `prefix` (Linear, Conv2d).
pub(crate) fn visit_weight_bias(
    prefix: &str,
    weight: &LazyTensor,
    bias: Option<&LazyTensor>,
    f: &mut dyn FnMut(&str, &LazyTensor),
) {
    f(&join(prefix, "weight"), weight);
    if let Some(b) = bias {
        f(&join(prefix, "bias"), b);
    }
}

/// [`visit_weight_bias`] with mutable access.
pub(crate) fn visit_weight_bias_mut(
    prefix: &str,
    weight: &mut LazyTensor,
    bias: Option<&mut LazyTensor>,
    f: &mut dyn FnMut(&str, &mut LazyTensor),
) {
    f(&join(prefix, "weight"), weight);
    if let Some(b) = bias {
        f(&join(prefix, "bias"), b);
    }
}

impl Module for Linear {
    fn forward(&self, x: &LazyTensor) -> Result<LazyTensor> {
        x.linear(&self.weight, self.bias.as_ref())
    }

    fn visit(&self, prefix: &str, f: &mut dyn FnMut(&str, &LazyTensor)) {
        visit_weight_bias(prefix, &self.weight, self.bias.as_ref(), f);
    }

    fn visit_mut(&mut self, prefix: &str, f: &mut dyn FnMut(&str, &mut LazyTensor)) {
        visit_weight_bias_mut(prefix, &mut self.weight, self.bias.as_mut(), f);
    }

    fn train(&mut self, on: bool) {
        self.training = on;
    }

    fn is_training(&self) -> bool {
        self.training
    }
}
