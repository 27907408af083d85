//! [`Conv2d`], [`MaxPool2d`] and [`AvgPool2d`]: convolution and pooling layers over NCHW
//! tensors (the ops are `LazyTensor::conv2d`, `max_pool2d`, `avg_pool2d`).

use super::linear::{uniform_parameter, visit_weight_bias, visit_weight_bias_mut};
use super::{mix_seed, Module};
use crate::error::{Error, Result, SourceLoc};
use crate::tensor::LazyTensor;
use lazyjit_lowering::DType;

/// A 2-d convolution (PyTorch's `nn.Conv2d` without groups): `weight: [out, in, kh, kw]`,
/// `bias: [out]`, initialised uniform in `±1/√(in·kh·kw)` from a seeded generator.
///
/// ```
/// use lazyjit::nn::{Conv2d, Module};
/// use lazyjit::LazyTensor;
/// let conv = Conv2d::new(1, 4, [3, 3], 7)?;
/// assert_eq!(conv.weight().shape(), &[4, 1, 3, 3]);
/// let y = conv.forward(&LazyTensor::ones(&[2, 1, 8, 8], lazyjit::DType::F32)?)?;
/// assert_eq!(y.shape(), &[2, 4, 6, 6]);
/// let padded = Conv2d::new(1, 4, [3, 3], 7)?.with_geometry([2, 2], [1, 1], [1, 1]);
/// assert_eq!(padded.forward(&LazyTensor::ones(&[2, 1, 8, 8], lazyjit::DType::F32)?)?.shape(), &[2, 4, 4, 4]);
/// # Ok::<(), lazyjit::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct Conv2d {
    weight: LazyTensor,
    bias: Option<LazyTensor>,
    stride: [usize; 2],
    padding: [usize; 2],
    dilation: [usize; 2],
    training: bool,
}

impl Conv2d {
    /// An `f32` convolution with a bias, stride 1, no padding, no dilation.
    #[track_caller]
    pub fn new(
        in_channels: usize,
        out_channels: usize,
        kernel: [usize; 2],
        seed: u64,
    ) -> Result<Conv2d> {
        Conv2d::with_options(in_channels, out_channels, kernel, true, DType::F32, seed)
    }

    /// A convolution of a float `dtype`, with or without a bias.
    #[track_caller]
    pub fn with_options(
        in_channels: usize,
        out_channels: usize,
        kernel: [usize; 2],
        bias: bool,
        dtype: DType,
        seed: u64,
    ) -> Result<Conv2d> {
        let loc = SourceLoc::caller();
        let fan_in = in_channels * kernel[0] * kernel[1];
        if fan_in == 0 || out_channels == 0 {
            return Err(Error::op(
                "Conv2d::new",
                format!(
                    "channels and kernel sizes must be at least 1, got in {in_channels}, out {out_channels}, kernel {kernel:?}"
                ),
                loc,
            ));
        }
        let weight = uniform_parameter(
            &[out_channels, in_channels, kernel[0], kernel[1]],
            dtype,
            fan_in,
            mix_seed(seed, 0),
            loc,
        )?;
        let bias = if bias {
            Some(uniform_parameter(
                &[out_channels],
                dtype,
                fan_in,
                mix_seed(seed, 1),
                loc,
            )?)
        } else {
            None
        };
        Ok(Conv2d {
            weight,
            bias,
            stride: [1, 1],
            padding: [0, 0],
            dilation: [1, 1],
            training: true,
        })
    }

    /// The same layer with another stride, zero padding and dilation.
    pub fn with_geometry(
        mut self,
        stride: [usize; 2],
        padding: [usize; 2],
        dilation: [usize; 2],
    ) -> Conv2d {
        self.stride = stride;
        self.padding = padding;
        self.dilation = dilation;
        self
    }

    /// The weight, `[out, in, kh, kw]`.
    pub fn weight(&self) -> &LazyTensor {
        &self.weight
    }

    /// The bias, `[out]`, if the layer has one.
    pub fn bias(&self) -> Option<&LazyTensor> {
        self.bias.as_ref()
    }
}

impl Module for Conv2d {
    fn forward(&self, x: &LazyTensor) -> Result<LazyTensor> {
        x.conv2d(
            &self.weight,
            self.bias.as_ref(),
            self.stride,
            self.padding,
            self.dilation,
        )
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

macro_rules! pool {
    ($(#[$doc:meta])* $name:ident => $op:ident) => {
        $(#[$doc])*
        #[derive(Clone, Debug)]
        pub struct $name {
            kernel: [usize; 2],
            stride: [usize; 2],
            training: bool,
        }

        impl $name {
            /// Pooling windows of `kernel` moved by `kernel` (PyTorch's default stride).
            pub fn new(kernel: [usize; 2]) -> $name {
                $name::with_stride(kernel, kernel)
            }

            /// Pooling windows of `kernel` moved by `stride`.
            pub fn with_stride(kernel: [usize; 2], stride: [usize; 2]) -> $name {
                $name {
                    kernel,
                    stride,
                    training: true,
                }
            }
        }

        impl Module for $name {
            fn forward(&self, x: &LazyTensor) -> Result<LazyTensor> {
                x.$op(self.kernel, self.stride)
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
    };
}

pool! {
    /// Max pooling over NCHW windows (no padding, floor mode), as `nn.MaxPool2d`.
    ///
    /// ```
    /// use lazyjit::nn::{MaxPool2d, Module};
    /// use lazyjit::LazyTensor;
    /// let x = LazyTensor::from_vec((0..16).map(|v| v as f32).collect(), &[1, 1, 4, 4])?;
    /// let y = MaxPool2d::new([2, 2]).forward(&x)?;
    /// assert_eq!(y.to_vec::<f32>()?, vec![5.0, 7.0, 13.0, 15.0]);
    /// # Ok::<(), lazyjit::Error>(())
    /// ```
    MaxPool2d => max_pool2d
}

pool! {
    /// Average pooling over NCHW windows (no padding, floor mode), as `nn.AvgPool2d`.
    AvgPool2d => avg_pool2d
}
