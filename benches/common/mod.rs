//! Shared by the bench targets: deterministic input data.

#[allow(dead_code)] // not every bench target uses the compute baseline
pub mod fma;

/// `n` deterministic values in [-2, 2) (a cheap LCG is enough for benchmarks; every bench
/// uses the same sequence, so figures compare the same work).
pub fn seq(n: usize, seed: u32) -> Vec<f32> {
    let mut s = seed.wrapping_mul(2654435761).wrapping_add(1);
    (0..n)
        .map(|_| {
            s = s.wrapping_mul(1664525).wrapping_add(1013904223);
            (s >> 8) as f32 / (1u32 << 24) as f32 * 4.0 - 2.0
        })
        .collect()
}
