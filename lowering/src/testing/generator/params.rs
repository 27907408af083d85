//! Parameters of generated programs: their dtypes and shapes (chosen by small numbers of a
//! spec, around a base shape so that binary ops between them usually broadcast) and their
//! "tame" inputs, whose finite values stay within the magnitude the error analysis assumes.

use crate::testing::inputs::{random_tensor, MIXED};
use crate::testing::rng::Rng;
use crate::testing::tolerance::min_normal;
use crate::{DType, Tensor, TensorType};

/// Base shapes: lengths that exercise vector bodies and scalar tails, size-1 and size-0
/// dims, ranks 1 to 4.
pub const BASES: &[&[usize]] = &[
    &[5],
    &[7],
    &[17],
    &[4, 3],
    &[3, 5],
    &[2, 3, 4],
    &[2, 1, 5],
    &[6, 9],
    &[1, 9],
    &[3, 0],
    &[33],
    &[2, 2, 2, 3],
    &[1],
    &[8, 4],
    &[3, 37],
    &[2, 3, 70],
];

/// The dtype of a parameter chosen by `dsel` (f32 most often, bools often enough to feed
/// `where`).
pub fn param_dtype(dsel: u8) -> DType {
    [
        DType::F32,
        DType::F32,
        DType::F32,
        DType::F64,
        DType::I32,
        DType::I64,
        DType::Bool,
        DType::Bool,
    ][dsel as usize % 8]
}

/// The shape of a parameter chosen by `ssel`: the base shape, the base with some dims 1, a
/// suffix of it, or a scalar.
pub fn param_shape(base: &[usize], ssel: u8) -> Vec<usize> {
    let r = base.len();
    match ssel % 5 {
        0 | 1 => base.to_vec(),
        2 => base
            .iter()
            .enumerate()
            .map(|(k, &n)| if ssel >> (3 + k) & 1 == 1 { 1 } else { n })
            .collect(),
        3 => base[(ssel as usize >> 3) % (r + 1)..].to_vec(),
        _ => Vec::new(),
    }
}

/// How an input parameter is filled (random programs use a tame set of special values whose
/// finite ones stay within the magnitude, so that the generator's `mag` holds).
#[derive(Clone, Copy, Debug)]
pub struct ParamFill {
    /// Bound of the finite values (the specials add 2.5).
    pub mag: f64,
    /// Integers: also MIN, MAX and full-range values (then `mag` is infinite).
    pub wild: bool,
}

impl ParamFill {
    /// The fill chosen by `msel` for a parameter of dtype `d`.
    pub fn choose(d: DType, msel: u8) -> ParamFill {
        ParamFill {
            mag: [1.0, 3.0, 3.0, 20.0][msel as usize % 4],
            wild: d.is_int() && msel & 0x30 == 0x30,
        }
    }
}

/// One element of dtype `d` (in f64) filled by `f`.
pub fn tame_value(d: DType, f: ParamFill, rng: &mut Rng) -> f64 {
    if d.is_float() && rng.chance(0.06) {
        let tiny = if d == DType::F32 {
            f32::from_bits(3) as f64
        } else {
            f64::from_bits(3)
        };
        return rng.pick(&[
            f64::NAN,
            f64::INFINITY,
            f64::NEG_INFINITY,
            0.0,
            -0.0,
            tiny,
            -min_normal(d),
            0.5,
            -2.5,
        ]);
    }
    if d.is_float() {
        (rng.unit() * 2.0 - 1.0) * f.mag
    } else {
        rng.int_in(-(f.mag as i64), f.mag as i64) as f64
    }
}

/// A tensor of type `ty` filled by `f`.
pub fn tame_tensor(ty: &TensorType, f: ParamFill, rng: &mut Rng) -> Tensor {
    if ty.dtype.is_int() && f.wild {
        return random_tensor(ty, MIXED, rng);
    }
    let n = ty.shape.numel();
    let v: Vec<f64> = (0..n).map(|_| tame_value(ty.dtype, f, rng)).collect();
    let shape = ty.shape.clone();
    match ty.dtype {
        DType::F32 => Tensor::from_vec(v.iter().map(|&x| x as f32).collect(), shape),
        DType::F64 => Tensor::from_vec(v, shape),
        DType::I32 => Tensor::from_vec(v.iter().map(|&x| x as i32).collect(), shape),
        DType::I64 => Tensor::from_vec(v.iter().map(|&x| x as i64).collect(), shape),
        DType::Bool => Tensor::from_vec((0..n).map(|_| rng.chance(0.5)).collect(), shape),
    }
    .unwrap()
}
