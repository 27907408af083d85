//! An f32 GEMM for AVX-512F CPUs: `c = a x b` with any operand strides, dense row-major `c`.
//!
//! Blocking (BLIS-like, but A is never packed):
//! - columns of C in blocks of `NC`; depth in blocks of at most `KC` (split evenly, so a depth
//!   of 784 is two blocks of 392, not 512 + 272);
//! - each `kc x nc` block of B is packed into `NR`-wide panels (`f32_pack.rs`: any strides,
//!   transposed views by in-register 16 x 16 transposes), which stay in L2;
//! - rows of C in strips of `MR`: the micro-kernel keeps an `MR x NR` tile of C in registers
//!   (`MR * NR / 16` accumulators), broadcasts `MR` elements of A per step straight from the
//!   operand (its row and column strides are arguments, so row-major, transposed and strided
//!   A need no copy: the `MR x kc` strip stays in L1 while every panel of B streams past it),
//!   and loads `NR / 16` vectors of packed B;
//! - edges: the last strip of rows uses a kernel instantiated for fewer rows, the last panel
//!   fewer vectors, and its last vector's stores are masked, so nothing outside C is touched.
//!
//! C is stored, not updated, on the first depth block (beta = 0: C's old contents are never
//! read); later depth blocks add to what the first one wrote.

use super::f32_pack::{lane_mask, pack_b, panel_width, LANES};
use std::arch::x86_64::*;
use std::sync::Mutex;

/// Rows of the register tile.
pub(super) const MR: usize = 8;
/// Vectors per row of the register tile (`NR = NV * 16` columns).
const NV: usize = 3;
/// Columns of the register tile (the width of a packed panel of B).
pub(super) const NR: usize = NV * LANES;
/// Depth of a packed block of B (and of the A strip kept in L1: `MR * KC * 4` bytes).
const KC: usize = 512;
/// Columns of a packed block of B: `KC * NC * 4` bytes = 1.5 MiB stays in a 2 MiB L2.
const NC: usize = 768;

/// Whether this CPU can run [`sgemm`].
pub(super) fn available() -> bool {
    is_x86_feature_detected!("avx512f")
}

/// Packing buffers, reused across calls and threads (a thread takes one, or allocates it
/// the first time, and gives it back), so a call allocates nothing in the steady state.
static BUFFERS: Mutex<Vec<Vec<f32>>> = Mutex::new(Vec::new());

/// A packing buffer with room for `len` floats starting at a 64-byte boundary.
struct PackBuf(Vec<f32>);

impl PackBuf {
    fn take(len: usize) -> PackBuf {
        let mut v = BUFFERS
            .lock()
            .map(|mut pool| pool.pop())
            .unwrap_or(None)
            .unwrap_or_default();
        let need = len + LANES;
        if v.len() < need {
            v.resize(need, 0.0);
        }
        PackBuf(v)
    }

    fn ptr(&mut self) -> *mut f32 {
        let p = self.0.as_mut_ptr();
        // The offset to the next 64-byte boundary is under 16 floats, inside the slack.
        p.wrapping_add(p.align_offset(64).min(LANES - 1))
    }
}

impl Drop for PackBuf {
    fn drop(&mut self) {
        if let Ok(mut pool) = BUFFERS.lock() {
            pool.push(std::mem::take(&mut self.0));
        }
    }
}

/// `c[i * ldc + j] = sum_p a[i * rsa + p * csa] * b[p * rsb + j * csb]` for `i < m`, `j < n`.
///
/// # Safety
/// The CPU has AVX-512F ([`available`]); `m, k, n > 0`; every element of the strided `m x k`
/// view of `a` and `k x n` view of `b` is readable; `c` is writable for rows `i < m` of `n`
/// elements at stride `ldc >= n` and does not overlap `a` or `b`.
#[target_feature(enable = "avx512f")]
#[allow(clippy::too_many_arguments)]
pub(super) unsafe fn sgemm(
    m: usize,
    k: usize,
    n: usize,
    a: *const f32,
    rsa: usize,
    csa: usize,
    b: *const f32,
    rsb: usize,
    csb: usize,
    c: *mut f32,
    ldc: usize,
) {
    let kblocks = k.div_ceil(KC);
    let kc_max = k.div_ceil(kblocks);
    let nc_max = n.min(NC);
    let mut buf = PackBuf::take(kc_max * nc_max.div_ceil(NR) * NR);
    let bp = buf.ptr();
    for jc in (0..n).step_by(NC) {
        let nc = nc_max.min(n - jc);
        for pc in (0..k).step_by(kc_max) {
            let kc = kc_max.min(k - pc);
            // SAFETY: rows pc..pc + kc and columns jc..jc + nc are inside b's view; bp has
            // room for nc.div_ceil(NR) * kc * NR floats (nc <= nc_max, kc <= kc_max).
            unsafe { pack_b(kc, nc, NR, b.add(pc * rsb + jc * csb), rsb, csb, bp) };
            let accumulate = pc > 0;
            for ir in (0..m).step_by(MR) {
                let mr = MR.min(m - ir);
                // SAFETY: the strip's rows ir..ir + mr and depth pc..pc + kc are inside a's
                // view; every tile below lies inside c's m x n.
                let a_strip = unsafe { a.add(ir * rsa + pc * csa) };
                let mut j0 = 0;
                while j0 < nc {
                    let w = panel_width(nc, j0, NR);
                    let mask = lane_mask(nc - j0, w - LANES);
                    // SAFETY: panel j0 / NR of the packed block (kc rows of w floats), tile
                    // (ir, jc + j0) of C with its last vector masked to the columns < nc.
                    unsafe {
                        let panel = bp.add((j0 / NR) * kc * NR);
                        let ct = c.add(ir * ldc + jc + j0);
                        let args = Tile {
                            kc,
                            a: a_strip,
                            rsa,
                            csa,
                            b: panel,
                            c: ct,
                            ldc,
                            mask,
                        };
                        dispatch(mr, w / LANES, &args, accumulate);
                    }
                    j0 += NR;
                }
            }
        }
    }
}

/// One micro-kernel call: an `mr x (nv * 16)` tile of C over `kc` steps of depth.
struct Tile {
    kc: usize,
    a: *const f32,
    rsa: usize,
    csa: usize,
    /// A packed panel: `kc` rows of `nv * 16` floats.
    b: *const f32,
    c: *mut f32,
    ldc: usize,
    /// Valid lanes of the last vector of each row of the tile.
    mask: u16,
}

/// Calls the micro-kernel instantiated for `mr` rows and `nv` vectors.
///
/// # Safety
/// As [`tile`], with `1 <= mr <= MR` and `1 <= nv <= NV`.
#[target_feature(enable = "avx512f")]
unsafe fn dispatch(mr: usize, nv: usize, t: &Tile, acc: bool) {
    macro_rules! rows {
        ($nv:literal) => {
            // SAFETY: forwarded contract; the instance matches (mr, nv).
            unsafe {
                match mr {
                    1 => tile::<1, $nv>(t, acc),
                    2 => tile::<2, $nv>(t, acc),
                    3 => tile::<3, $nv>(t, acc),
                    4 => tile::<4, $nv>(t, acc),
                    5 => tile::<5, $nv>(t, acc),
                    6 => tile::<6, $nv>(t, acc),
                    7 => tile::<7, $nv>(t, acc),
                    _ => tile::<8, $nv>(t, acc),
                }
            }
        };
    }
    match nv {
        1 => rows!(1),
        2 => rows!(2),
        _ => rows!(3),
    }
}

/// The micro-kernel: `R x (V * 16)` accumulators in registers, `kc` rank-1 updates (one
/// broadcast of A per row, `V` loads of packed B per step), then one store (or, with `acc`,
/// load-add-store) per vector of C, the last vector of each row masked.
///
/// # Safety
/// The CPU has AVX-512F; `t.a + i * rsa + p * csa` is readable for `i < R`, `p < kc`; `t.b`
/// holds `kc * V * 16` floats; the rows `i < R` of C at `t.c + i * ldc` are writable (and, with
/// `acc`, readable) for `(V - 1) * 16` full lanes plus the lanes of `t.mask`.
#[target_feature(enable = "avx512f")]
#[inline]
unsafe fn tile<const R: usize, const V: usize>(t: &Tile, acc: bool) {
    let mut sum = [[_mm512_setzero_ps(); V]; R];
    let mut a_rows = [t.a; R];
    for (i, row) in a_rows.iter_mut().enumerate() {
        *row = row.wrapping_add(i * t.rsa);
    }
    let mut bp = t.b;
    let mut off = 0;
    for _ in 0..t.kc {
        // SAFETY: row p of the packed panel (V vectors) and element (i, p) of the A strip.
        unsafe {
            // A loop, not `array::from_fn`: a closure might not inherit the target feature,
            // and an intrinsic that is not inlined is a call per vector.
            let mut bv = [_mm512_setzero_ps(); V];
            for (v, x) in bv.iter_mut().enumerate() {
                *x = _mm512_loadu_ps(bp.add(v * LANES));
            }
            for (i, s) in sum.iter_mut().enumerate() {
                let x = _mm512_set1_ps(*a_rows[i].add(off));
                for v in 0..V {
                    s[v] = _mm512_fmadd_ps(x, bv[v], s[v]);
                }
            }
            bp = bp.add(V * LANES);
        }
        off += t.csa;
    }
    for (i, s) in sum.iter().enumerate() {
        // SAFETY: row i of the tile, V - 1 full vectors and a masked last one (contract).
        unsafe {
            let row = t.c.add(i * t.ldc);
            for (v, &x) in s.iter().enumerate() {
                let p = row.add(v * LANES);
                let mask = if v + 1 == V { t.mask } else { u16::MAX };
                let x = if acc {
                    _mm512_add_ps(x, _mm512_maskz_loadu_ps(mask, p))
                } else {
                    x
                };
                _mm512_mask_storeu_ps(p, mask, x);
            }
        }
    }
}
