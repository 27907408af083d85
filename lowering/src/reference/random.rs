//! `random_uniform`: Philox4x32-10 (Salmon et al., SC 2011; Random123) mapped to uniform
//! floats. The code generator emits the same arithmetic (`codegen/emit/random.rs`), so the
//! two agree bit for bit.

use super::alloc::{self, Fail};
use super::value::Value;
use crate::types::{DType, TensorType};

/// Philox4x32's round multipliers (`M0`, `M1`) and key increments (`W0`, `W1`); the code
/// generator emits the same rounds with these. `M0` multiplies counter word 0 in each round.
pub const M0: u32 = 0xD251_1F53;
/// Multiplies counter word 2 in each round.
pub const M1: u32 = 0xCD9E_8D57;
/// Increment of key word 0 between rounds (the golden ratio, `(√5 − 1)/2 · 2^32`).
pub const W0: u32 = 0x9E37_79B9;
/// Increment of key word 1 between rounds (`(√3 − 1) · 2^32`).
pub const W1: u32 = 0xBB67_AE85;

/// Philox4x32 with 10 rounds: counter `c`, key `k` to four random words.
pub fn philox4x32_10(mut c: [u32; 4], mut k: [u32; 2]) -> [u32; 4] {
    for r in 0..10 {
        if r > 0 {
            k[0] = k[0].wrapping_add(W0);
            k[1] = k[1].wrapping_add(W1);
        }
        let p0 = u64::from(M0) * u64::from(c[0]);
        let p1 = u64::from(M1) * u64::from(c[2]);
        let (hi0, lo0) = ((p0 >> 32) as u32, p0 as u32);
        let (hi1, lo1) = ((p1 >> 32) as u32, p1 as u32);
        c = [hi1 ^ c[1] ^ k[0], lo1, hi0 ^ c[3] ^ k[1], lo0];
    }
    c
}

/// The words of element `i` under `seed` and `offset`: counter `(i lo, i hi, offset lo,
/// offset hi)`, key `(seed lo, seed hi)`.
pub fn element_words(seed: i64, offset: i64, i: u64) -> [u32; 4] {
    let (s, o) = (seed as u64, offset as u64);
    philox4x32_10(
        [i as u32, (i >> 32) as u32, o as u32, (o >> 32) as u32],
        [s as u32, (s >> 32) as u32],
    )
}

/// A uniform f32 in `[0, 1)` from the top 24 bits of word 0.
pub fn to_f32(w: [u32; 4]) -> f32 {
    (w[0] >> 8) as f32 * (1.0 / (1u32 << 24) as f32)
}

/// A uniform f64 in `[0, 1)` from 53 bits: word 0 and the top 21 bits of word 1.
pub fn to_f64(w: [u32; 4]) -> f64 {
    let bits = (u64::from(w[0]) << 21) | u64::from(w[1] >> 11);
    bits as f64 * (1.0 / (1u64 << 53) as f64)
}

/// The `random_uniform` result of type `ty`.
pub(super) fn random_uniform(seed: &Value, offset: &Value, ty: &TensorType) -> Result<Value, Fail> {
    let scalar = |v: &Value, what: &str| match v {
        Value::I64(a) if a.ndim() == 0 => Ok(a.iter().copied().next().unwrap_or(0)),
        other => Err(Fail::Bug(format!(
            "random_uniform {what} is {}",
            other.ty()
        ))),
    };
    let (seed, offset) = (scalar(seed, "seed")?, scalar(offset, "offset")?);
    let dims = ty.shape.dims();
    let n = ty.shape.numel() as u64;
    const RESULT: &str = "the result";
    let words = (0..n).map(|i| element_words(seed, offset, i));
    Ok(match ty.dtype {
        DType::F32 => Value::F32(alloc::collect(dims, words.map(to_f32), RESULT)?),
        DType::F64 => Value::F64(alloc::collect(dims, words.map(to_f64), RESULT)?),
        other => return Err(Fail::Bug(format!("random_uniform of {other}"))),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Random123's known-answer vectors for Philox4x32-10.
    #[test]
    fn known_answers() {
        let cases = [
            (
                [0u32; 4],
                [0u32; 2],
                [0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8],
            ),
            (
                [u32::MAX; 4],
                [u32::MAX; 2],
                [0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd],
            ),
            (
                [0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344],
                [0xa4093822, 0x299f31d0],
                [0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1],
            ),
        ];
        for (c, k, want) in cases {
            assert_eq!(philox4x32_10(c, k), want, "{c:x?} {k:x?}");
        }
    }

    #[test]
    fn floats_cover_the_unit_interval() {
        assert_eq!(to_f32([0, 0, 0, 0]), 0.0);
        assert!(to_f32([u32::MAX; 4]) < 1.0);
        assert_eq!(to_f64([0; 4]), 0.0);
        assert!(to_f64([u32::MAX; 4]) < 1.0);
    }
}
