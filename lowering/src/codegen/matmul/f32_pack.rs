//! Packing a `kc x nc` block of B for the AVX-512 f32 kernel (`f32_avx512.rs`).
//!
//! The block is cut into panels of `NR` columns (the last one narrower, rounded up to a
//! multiple of 16 lanes); panel `jp` starts at `jp * kc * NR` and holds, for each of the `kc`
//! rows, its columns contiguously (row stride = the panel's width), zero-padded past `nc`, so
//! the micro-kernel always loads whole vectors. Any strides are accepted: a row-major B is a
//! masked vector copy per row, a column-major B (a transposed view, e.g. `w.t()` in a linear
//! layer) is transposed 16 x 16 in registers, anything else is gathered element by element.

#[cfg(target_arch = "x86_64")]
use std::arch::x86_64::*;

/// Lanes of one AVX-512 f32 vector.
pub(super) const LANES: usize = 16;

/// Width in lanes (a multiple of 16) of the panel starting at column `j0` of a block `nc`
/// columns wide cut into panels of at most `nr` columns.
pub(super) fn panel_width(nc: usize, j0: usize, nr: usize) -> usize {
    (nc - j0).min(nr).div_ceil(LANES) * LANES
}

/// Mask of the valid lanes of a vector whose first lane is column `j` of `cols` columns.
pub(super) fn lane_mask(cols: usize, j: usize) -> u16 {
    let valid = cols.saturating_sub(j).min(LANES);
    ((1u32 << valid) - 1) as u16
}

/// Packs `b[p * rsb + j * csb]` (`p < kc`, `j < nc`) into `dst` as described in the module
/// notes.
///
/// # Safety
/// The CPU has AVX-512F; every element of the strided `kc x nc` view of `b` is readable; `dst`
/// is writable for `nc.div_ceil(nr) * kc * nr` elements.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
#[allow(clippy::too_many_arguments)]
pub(super) unsafe fn pack_b(
    kc: usize,
    nc: usize,
    nr: usize,
    b: *const f32,
    rsb: usize,
    csb: usize,
    dst: *mut f32,
) {
    let mut j0 = 0;
    let mut panel = dst;
    while j0 < nc {
        let w = panel_width(nc, j0, nr);
        // SAFETY: columns j0.. of the view, and this panel's kc * w elements of dst (within
        // the caller's nc.div_ceil(nr) * kc * nr), as the callees require.
        unsafe {
            if csb == 1 {
                pack_rows(kc, nc - j0, w, b.add(j0), rsb, panel);
            } else if rsb == 1 {
                pack_transposed(kc, nc - j0, w, b.add(j0 * csb), csb, panel);
            } else {
                pack_strided(kc, nc - j0, w, b.add(j0 * csb), rsb, csb, panel);
            }
            panel = panel.add(kc * nr);
        }
        j0 += nr;
    }
}

/// One panel of a B whose rows are contiguous: `w / 16` masked vector copies per row.
///
/// # Safety
/// As [`pack_b`] for one panel: `b` holds `kc` rows (stride `rsb`) of `min(cols, w)` readable
/// elements; `dst` has room for `kc * w`.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn pack_rows(kc: usize, cols: usize, w: usize, b: *const f32, rsb: usize, dst: *mut f32) {
    for p in 0..kc {
        for v in (0..w).step_by(LANES) {
            let mask = lane_mask(cols, v);
            // SAFETY: the masked load reads only lanes below `cols` of row p; the store is
            // inside row p of the panel.
            unsafe {
                let x = _mm512_maskz_loadu_ps(mask, b.add(p * rsb + v));
                _mm512_storeu_ps(dst.add(p * w + v), x);
            }
        }
    }
}

/// One panel of a B whose columns are contiguous (`rsb == 1`): 16 x 16 tiles are loaded along
/// the columns and transposed in registers, so every load and store is a vector.
///
/// # Safety
/// As [`pack_rows`], with column `j < min(cols, w)` at `b + j * csb` holding `kc` readable
/// elements.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn pack_transposed(
    kc: usize,
    cols: usize,
    w: usize,
    b: *const f32,
    csb: usize,
    dst: *mut f32,
) {
    for p0 in (0..kc).step_by(LANES) {
        let rows = (kc - p0).min(LANES);
        let pmask = lane_mask(kc, p0);
        for v in (0..w).step_by(LANES) {
            let mut t = [_mm512_setzero_ps(); LANES];
            for (jj, tj) in t.iter_mut().enumerate() {
                if v + jj < cols {
                    // SAFETY: column v + jj exists; the mask limits the load to rows < kc.
                    *tj = unsafe { _mm512_maskz_loadu_ps(pmask, b.add((v + jj) * csb + p0)) };
                }
            }
            let t = transpose16(t);
            for (pp, row) in t.iter().enumerate().take(rows) {
                // SAFETY: row p0 + pp < kc of the panel, lanes v..v + 16 < w.
                unsafe { _mm512_storeu_ps(dst.add((p0 + pp) * w + v), *row) };
            }
        }
    }
}

/// One panel of a B with arbitrary strides, element by element (rare: a view sliced with a
/// step along both axes).
///
/// # Safety
/// As [`pack_rows`], with element `(p, j)` at `b + p * rsb + j * csb` readable for `j < cols`.
#[cfg(target_arch = "x86_64")]
#[allow(clippy::too_many_arguments)]
unsafe fn pack_strided(
    kc: usize,
    cols: usize,
    w: usize,
    b: *const f32,
    rsb: usize,
    csb: usize,
    dst: *mut f32,
) {
    for p in 0..kc {
        for j in 0..w {
            let x = if j < cols {
                // SAFETY: element (p, j) of the view.
                unsafe { *b.add(p * rsb + j * csb) }
            } else {
                0.0
            };
            // SAFETY: inside row p of the panel.
            unsafe { *dst.add(p * w + j) = x };
        }
    }
}

/// Transposes a 16 x 16 tile held as 16 row vectors: output row `j` is input column `j`.
/// Four stages of two-source shuffles (pairs of floats, pairs of doubles, then 128-bit lanes
/// twice), 64 shuffles in all.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
pub(super) fn transpose16(r: [__m512; 16]) -> [__m512; 16] {
    // u[g][c], lane L: column 4L + c of rows 4g..4g+4.
    let mut u = [[_mm512_setzero_ps(); 4]; 4];
    for g in 0..4 {
        let (r0, r1, r2, r3) = (r[4 * g], r[4 * g + 1], r[4 * g + 2], r[4 * g + 3]);
        let t0 = _mm512_castps_pd(_mm512_unpacklo_ps(r0, r1));
        let t1 = _mm512_castps_pd(_mm512_unpackhi_ps(r0, r1));
        let t2 = _mm512_castps_pd(_mm512_unpacklo_ps(r2, r3));
        let t3 = _mm512_castps_pd(_mm512_unpackhi_ps(r2, r3));
        u[g][0] = _mm512_castpd_ps(_mm512_unpacklo_pd(t0, t2));
        u[g][1] = _mm512_castpd_ps(_mm512_unpackhi_pd(t0, t2));
        u[g][2] = _mm512_castpd_ps(_mm512_unpacklo_pd(t1, t3));
        u[g][3] = _mm512_castpd_ps(_mm512_unpackhi_pd(t1, t3));
    }
    let mut out = [_mm512_setzero_ps(); 16];
    for c in 0..4 {
        // Lanes 0 and 2 (v, w) or 1 and 3 (vp, wp) of row groups 0-1 and 2-3.
        let v = _mm512_shuffle_f32x4::<0x88>(u[0][c], u[1][c]);
        let vp = _mm512_shuffle_f32x4::<0xdd>(u[0][c], u[1][c]);
        let w = _mm512_shuffle_f32x4::<0x88>(u[2][c], u[3][c]);
        let wp = _mm512_shuffle_f32x4::<0xdd>(u[2][c], u[3][c]);
        out[c] = _mm512_shuffle_f32x4::<0x88>(v, w);
        out[8 + c] = _mm512_shuffle_f32x4::<0xdd>(v, w);
        out[4 + c] = _mm512_shuffle_f32x4::<0x88>(vp, wp);
        out[12 + c] = _mm512_shuffle_f32x4::<0xdd>(vp, wp);
    }
    out
}

#[cfg(all(test, target_arch = "x86_64"))]
mod tests {
    use super::*;

    #[test]
    fn transpose16_swaps_rows_and_columns() {
        if !is_x86_feature_detected!("avx512f") {
            return;
        }
        let m: Vec<f32> = (0..256).map(|i| i as f32).collect();
        let mut r = [[0f32; 16]; 16];
        // SAFETY: AVX-512F is present (checked above); loads and stores stay inside `m` / `r`.
        unsafe {
            let rows: [__m512; 16] =
                std::array::from_fn(|i| _mm512_loadu_ps(m.as_ptr().add(16 * i)));
            for (i, v) in transpose16(rows).iter().enumerate() {
                _mm512_storeu_ps(r[i].as_mut_ptr(), *v);
            }
        }
        for i in 0..16 {
            for j in 0..16 {
                assert_eq!(r[i][j], m[16 * j + i], "({i}, {j})");
            }
        }
    }

    #[test]
    fn every_layout_packs_the_same_panels() {
        if !is_x86_feature_detected!("avx512f") {
            return;
        }
        let nr = 48;
        for (kc, nc) in [
            (1, 1),
            (3, 17),
            (16, 16),
            (17, 33),
            (33, 48),
            (20, 49),
            (5, 100),
        ] {
            let val = |p: usize, j: usize| (p * 1000 + j) as f32 + 0.5;
            let rowmajor: Vec<f32> = (0..kc * nc).map(|i| val(i / nc, i % nc)).collect();
            let colmajor: Vec<f32> = (0..kc * nc).map(|i| val(i % kc, i / kc)).collect();
            let strided: Vec<f32> = (0..kc * nc * 6)
                .map(|i| {
                    let (p, j) = (i / (3 * nc * 2), (i % (3 * nc * 2)) / 2);
                    if i % 2 == 0 && p < kc && j < nc {
                        val(p, j)
                    } else {
                        f32::NAN
                    }
                })
                .collect();
            let len = nc.div_ceil(nr) * kc * nr;
            let mut want = vec![f32::NAN; len];
            let mut j0 = 0;
            let mut off = 0;
            while j0 < nc {
                let w = panel_width(nc, j0, nr);
                for p in 0..kc {
                    for j in 0..w {
                        want[off + p * w + j] = if j0 + j < nc { val(p, j0 + j) } else { 0.0 };
                    }
                }
                off += kc * nr;
                j0 += nr;
            }
            for (name, src, rs, cs) in [
                ("row-major", &rowmajor, nc, 1),
                ("column-major", &colmajor, 1, kc),
                ("strided", &strided, 6 * nc, 2),
            ] {
                let mut got = vec![f32::NAN; len];
                // SAFETY: AVX-512F present; the views are inside `src`; `got` has `len`.
                unsafe { pack_b(kc, nc, nr, src.as_ptr(), rs, cs, got.as_mut_ptr()) };
                for (i, (g, w)) in got.iter().zip(&want).enumerate() {
                    assert!(
                        g == w || (g.is_nan() && w.is_nan()),
                        "{name} {kc}x{nc} at {i}: {g} vs {w}"
                    );
                }
            }
        }
    }
}
