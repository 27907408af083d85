//! Random input tensors (uniform values mixed with special ones), garbage-filled tensors for
//! `run_into`, and a short way to write tensor types.

use super::rng::Rng;
use crate::{DType, Op, Program, ReduceOp, Tensor, TensorType};

/// How to fill an input tensor.
#[derive(Clone, Copy, Debug)]
pub enum Fill {
    /// Floats uniform in `±mag`, integers uniform in `±max(mag, 5)`; a fraction `special` of
    /// the elements are special values (NaN, ±inf, ±0, subnormals, ties, integer MIN/MAX, ...).
    /// `extreme` adds the largest finite values and 1e30 to the specials.
    Mixed {
        /// Magnitude of the uniform values.
        mag: f64,
        /// Fraction of elements (0 to 1) that are special values.
        special: f64,
        /// Whether the specials include the extreme finite values.
        extreme: bool,
    },
    /// Uniform in `lo..hi` (integers: `lo..=hi`).
    Range(f64, f64),
    /// Elements of `{±0.5, ±1, ±2}` (integers `{±1, ±2}`); a fraction `special` of them `0`,
    /// `-0.0`, `±inf` or NaN (integers: 0).
    Pow2 {
        /// Fraction of elements (0 to 1) that are special values.
        special: f64,
    },
}

/// The default fill: floats in `±4`, 15% special values, extremes included.
pub const MIXED: Fill = Fill::Mixed {
    mag: 4.0,
    special: 0.15,
    extreme: true,
};

/// Special `f32` values: NaNs with signs and payloads, ±inf, ±0, subnormals, ties, values
/// beyond the inline sin/cos range; `extreme` adds the largest finite ones.
pub fn f32_specials(extreme: bool) -> Vec<f32> {
    let mut v = vec![
        f32::NAN,
        f32::from_bits(0xffc0_0000), // negative NaN
        f32::from_bits(0x7fc0_1234), // NaN with a payload
        f32::INFINITY,
        f32::NEG_INFINITY,
        0.0,
        -0.0,
        f32::from_bits(1),            // smallest subnormal
        -f32::from_bits(0x007f_ffff), // largest subnormal
        f32::MIN_POSITIVE,
        0.5,
        -0.5,
        1.5,
        2.5,
        -2.5,
        1.0,
        -1.0,
        16_777_217.0,
        -123_456.78, // beyond the inline sin/cos range
        1e-30,
    ];
    if extreme {
        v.extend([f32::MAX, f32::MIN, 1e30, -3e38, 2.2e9, -9.3e18]);
    }
    v
}

/// Special `f64` values, as [`f32_specials`].
pub fn f64_specials(extreme: bool) -> Vec<f64> {
    let mut v = vec![
        f64::NAN,
        f64::from_bits(0xfff8_0000_0000_0000),
        f64::from_bits(0x7ff8_0000_0000_1234),
        f64::INFINITY,
        f64::NEG_INFINITY,
        0.0,
        -0.0,
        f64::from_bits(1),
        -f64::from_bits(0x000f_ffff_ffff_ffff),
        f64::MIN_POSITIVE,
        0.5,
        -0.5,
        1.5,
        2.5,
        -2.5,
        1.0,
        -1.0,
        9_007_199_254_740_993.0,
        -123_456.78,
        1e-300,
        1e-40, // subnormal once cast to f32
    ];
    if extreme {
        v.extend([f64::MAX, f64::MIN, 1e300, 3.5e38, -2.2e9, 9.3e18]);
    }
    v
}

/// Special integers of `d`: MIN, MAX, MIN + 1, ±1, ±2, 0.
pub fn int_specials(d: DType) -> Vec<i64> {
    if d == DType::I32 {
        vec![
            i32::MIN as i64,
            i32::MAX as i64,
            i32::MIN as i64 + 1,
            -1,
            0,
            1,
            2,
            -2,
        ]
    } else {
        vec![i64::MIN, i64::MAX, i64::MIN + 1, -1, 0, 1, 2, -2, 1 << 40]
    }
}

/// One float element of dtype `d` (returned in f64) filled by `fill`.
pub fn gen_float(d: DType, fill: Fill, rng: &mut Rng) -> f64 {
    match fill {
        Fill::Mixed {
            mag,
            special,
            extreme,
        } => {
            if rng.chance(special) {
                if d == DType::F32 {
                    rng.pick(&f32_specials(extreme)) as f64
                } else {
                    rng.pick(&f64_specials(extreme))
                }
            } else {
                (rng.unit() * 2.0 - 1.0) * mag
            }
        }
        Fill::Range(lo, hi) => lo + rng.unit() * (hi - lo),
        Fill::Pow2 { special } => {
            if rng.chance(special) {
                rng.pick(&[0.0, -0.0, f64::INFINITY, f64::NEG_INFINITY, f64::NAN])
            } else {
                rng.pick(&[0.5, -0.5, 1.0, -1.0, 2.0, -2.0])
            }
        }
    }
}

/// One integer element of dtype `d` filled by `fill`.
pub fn gen_int(d: DType, fill: Fill, rng: &mut Rng) -> i64 {
    let (min, max) = if d == DType::I32 {
        (i32::MIN as i64, i32::MAX as i64)
    } else {
        (i64::MIN, i64::MAX)
    };
    match fill {
        Fill::Mixed { mag, special, .. } => {
            if rng.chance(special) {
                rng.pick(&int_specials(d))
            } else if rng.chance(0.05) {
                rng.int_in(min, max)
            } else {
                let m = mag.max(5.0) as i64;
                rng.int_in(-m, m)
            }
        }
        Fill::Range(lo, hi) => rng.int_in(lo as i64, hi as i64),
        Fill::Pow2 { special } => {
            if rng.chance(special) {
                0
            } else {
                rng.pick(&[-2, -1, 1, 2])
            }
        }
    }
}

/// A tensor of type `ty` filled by `fill`.
pub fn random_tensor(ty: &TensorType, fill: Fill, rng: &mut Rng) -> Tensor {
    let n = ty.shape.numel();
    let shape = ty.shape.clone();
    match ty.dtype {
        DType::F32 => Tensor::from_vec(
            (0..n)
                .map(|_| gen_float(DType::F32, fill, rng) as f32)
                .collect(),
            shape,
        ),
        DType::F64 => Tensor::from_vec(
            (0..n).map(|_| gen_float(DType::F64, fill, rng)).collect(),
            shape,
        ),
        DType::I32 => Tensor::from_vec(
            (0..n)
                .map(|_| gen_int(DType::I32, fill, rng) as i32)
                .collect(),
            shape,
        ),
        DType::I64 => Tensor::from_vec(
            (0..n).map(|_| gen_int(DType::I64, fill, rng)).collect(),
            shape,
        ),
        DType::Bool => Tensor::from_vec((0..n).map(|_| rng.chance(0.5)).collect(), shape),
    }
    .expect("element count matches the shape")
}

/// One random input per parameter of `p`, all filled with `fill`.
pub fn random_inputs(p: &Program, fill: Fill, rng: &mut Rng) -> Vec<Tensor> {
    p.params
        .iter()
        .map(|q| random_tensor(&q.ty, fill, rng))
        .collect()
}

/// Fills a tensor's bytes with a pattern no correct output has everywhere (bools get 1, so
/// every byte stays a valid bool).
pub fn garbage(ty: &TensorType) -> Tensor {
    let mut t = Tensor::zeros(ty.clone()).unwrap();
    match ty.dtype {
        DType::F32 => t
            .as_mut_slice::<f32>()
            .unwrap()
            .fill(f32::from_bits(0xA5A5_A5A5)),
        DType::F64 => t
            .as_mut_slice::<f64>()
            .unwrap()
            .fill(f64::from_bits(0xA5A5_A5A5_A5A5_A5A5)),
        DType::I32 => t.as_mut_slice::<i32>().unwrap().fill(0xA5A5_A5A5u32 as i32),
        DType::I64 => t
            .as_mut_slice::<i64>()
            .unwrap()
            .fill(0xA5A5_A5A5_A5A5_A5A5u64 as i64),
        DType::Bool => t.as_mut_slice::<bool>().unwrap().fill(true),
    }
    t
}

/// `TensorType::new(d, shape)` from a slice.
pub fn tt(d: DType, shape: &[usize]) -> TensorType {
    TensorType::new(d, shape.to_vec())
}

/// `Op::Reduce` of `op` over `axes`.
pub fn reduce(op: ReduceOp, axes: &[usize], keepdim: bool) -> Op {
    Op::Reduce {
        op,
        axes: axes.to_vec(),
        keepdim,
    }
}
