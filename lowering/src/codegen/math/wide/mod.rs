//! Wide (AVX2 / AVX-512) versions of the inline f32 approximations, as Rust functions the
//! generated code calls on a buffer of values.
//!
//! Cranelift's x64 backend has 128-bit vectors only, so the `F32X4` polynomials of `poly.rs`
//! run four lanes at a time. The functions here run the **same algorithms** 8 (AVX2) or 16
//! (AVX-512F) lanes at a time: written once over a small `Lanes` trait (`lanes.rs`) that
//! mirrors `poly::K` operation for operation (module `algo`), instantiated inside
//! `#[target_feature]` functions (`avx2.rs`, `avx512.rs`). Every lane's result is
//! **bit-identical** to what the `F32X4` (and `F32`) code of the same `fma` setting gives,
//! NaN payloads included (tested over the math sweeps in
//! `lowering/tests/math_accuracy/wide.rs`), so a kernel may mix the two freely.
//!
//! `exp`, `log`, `tanh`, `sigmoid` and `erf` only; `sin`/`cos` have no wide version.
//! Besides these, [`wide_extremum_fn`] gives the maximum or minimum of a contiguous row, as a
//! reduction kernel computes it (module `extremum`).
//!
//! The level is detected at run time. `LAZYJIT_WIDE_MATH` = `avx512` | `avx2` | `off` caps it
//! for [`wide_fn`] (read once per process; see [`parse_wide_cap`]).

/// Calls `$body::<OP, FMA, AFFINE, MUL, ACC>` with `MUL` / `ACC` chosen by whether `m` /
/// `acc` are non-null: each ISA's entry point, so the hot loop has no per-element test.
macro_rules! by_pointers {
    ($body:ident::<$op:ident, $fma:expr, $affine:ident>($src:ident, $dst:ident, $n:ident, $a:ident, $b:ident, $m:ident, $pf:ident, $acc:ident)) => {
        match ($m.is_null(), $acc.is_null()) {
            (true, true) => {
                $body::<$op, $fma, $affine, false, false>($src, $dst, $n, $a, $b, $m, $pf, $acc)
            }
            (false, true) => {
                $body::<$op, $fma, $affine, true, false>($src, $dst, $n, $a, $b, $m, $pf, $acc)
            }
            (true, false) => {
                $body::<$op, $fma, $affine, false, true>($src, $dst, $n, $a, $b, $m, $pf, $acc)
            }
            (false, false) => {
                $body::<$op, $fma, $affine, true, true>($src, $dst, $n, $a, $b, $m, $pf, $acc)
            }
        }
    };
}

mod algo;
mod extremum;
mod lanes;

pub use extremum::ExtremumFn;

#[cfg(target_arch = "x86_64")]
mod avx2;
#[cfg(target_arch = "x86_64")]
mod avx512;

use std::sync::OnceLock;

use super::MathFn;

/// `dst[i] = f(src[i])` for every `i < n`, times `m[i]` when `m` is not null; `dst` may be
/// `src` or `m` (in place). The functions of [`wide_affine_fn`] compute `f(a·src[i] + b)`
/// instead (one `fma`, or a multiply and an add without `fma`); the others ignore `a` and
/// `b`. The product with `m[i]` is one IEEE multiply, as the four-lane code's `f(x) · y`.
/// A non-null `pf` is a prefetch hint: the cache lines of `pf[0..n]` are prefetched as the
/// call goes (the same columns of the next row, which a kernel's next iteration will read);
/// it is never dereferenced, so any address is safe. A non-null `acc` also sums the results
/// into the 17 f32 there, in the order of a four-lane sum reduction ([`accumulate`]).
///
/// # Safety (for callers)
/// `src` (and `m`, unless null) must be valid for reads and `dst` for writes of `n` f32
/// (aligned to 4 bytes; no other alignment needed), and each read range must be `dst`'s range
/// or not overlap it; `acc`, unless null, must be valid for reads and writes of 17 f32 outside
/// those ranges, and then `dst` for reads too. Any `n` works, including 0 (then nothing is
/// accessed); the fastest is a multiple of 16. Obtained from [`wide_fn`] / [`wide_fn_at`],
/// which only return functions the host can run.
pub type WideFn = unsafe extern "C" fn(
    src: *const f32,
    dst: *mut f32,
    n: usize,
    a: f32,
    b: f32,
    m: *const f32,
    pf: *const f32,
    acc: *mut f32,
);

/// How a call with a non-null `acc` sums its `n` results `r` into `acc[0..17]`: the state of
/// a four-lane inner sum reduction over a row whose elements from the call's first one on are
/// these (the call starts the row, or a multiple of 16 elements into it), the four `f32x4`
/// accumulators side by side in `acc[0..16]` and the scalar tail's in `acc[16]`. Each whole
/// group of 16 results is added lane by lane into `acc[0..16]` (as the loop's 16-element
/// step adds its four vectors into the four accumulators); of the rest, each whole group of 4
/// into `acc[0..4]`, then each single result into `acc[16]`, in order. So a reduction that
/// starts from the identity in all 17 and combines them as the four-lane loop does gives its
/// bits exactly (`docs/codegen.md`, "Wide math").
pub fn accumulate(acc: &mut [f32; 17], r: &[f32]) {
    let whole = r.len() - r.len() % 16;
    for g in r[..whole].chunks_exact(16) {
        for (a, x) in acc.iter_mut().zip(g) {
            *a += x;
        }
    }
    let tail = &r[whole..];
    // SAFETY: `acc` is 17 f32 and `tail` holds `tail.len()` readable f32.
    unsafe { accumulate_tail(acc.as_mut_ptr(), tail.as_ptr(), tail.len()) }
}

/// The part of [`accumulate`] after the whole groups of 16: `rest` (< 16) results at `r`.
///
/// # Safety
/// `acc` is valid for reads and writes of 17 f32 and `r` for reads of `rest` f32.
unsafe fn accumulate_tail(acc: *mut f32, r: *const f32, rest: usize) {
    // SAFETY: the caller's guarantees; the ranges are separate allocations or disjoint.
    let (acc, r) = unsafe {
        (
            std::slice::from_raw_parts_mut(acc, 17),
            std::slice::from_raw_parts(r, rest),
        )
    };
    let fours = rest - rest % 4;
    for g in r[..fours].chunks_exact(4) {
        for (a, x) in acc[..4].iter_mut().zip(g) {
            *a += x;
        }
    }
    for x in &r[fours..] {
        acc[16] += x;
    }
}

/// Vector width levels, narrowest first (so `Avx2 < Avx512`).
#[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum WideLevel {
    /// 8 lanes: needs AVX2, plus FMA for the fused variant.
    Avx2,
    /// 16 lanes: needs AVX-512F (whose `zmm` fused multiply-adds need no separate flag).
    Avx512,
}

/// Whether the host has what `level` needs for this `fma` setting.
fn host_has(level: WideLevel, fma: bool) -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        match level {
            WideLevel::Avx512 => is_x86_feature_detected!("avx512f"),
            WideLevel::Avx2 => {
                is_x86_feature_detected!("avx2") && (!fma || is_x86_feature_detected!("fma"))
            }
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        let _ = (level, fma);
        false
    }
}

/// The best level this host supports for `fma` (`Avx512` needs AVX-512F; `Avx2` needs
/// AVX2, plus FMA when `fma`); `None` if neither. Not capped by `LAZYJIT_WIDE_MATH`.
pub fn wide_level(fma: bool) -> Option<WideLevel> {
    [WideLevel::Avx512, WideLevel::Avx2]
        .into_iter()
        .find(|&l| host_has(l, fma))
}

/// The in-place function for `f` at `level`, with (`fma`) or without fused multiply-adds;
/// `None` for `Sin`/`Cos` or if the host lacks the level's features. Its results are
/// bit-identical to the `F32X4` code `MathEmitter::unary` emits with `has_fma == fma`.
pub fn wide_fn_at(f: MathFn, fma: bool, level: WideLevel) -> Option<WideFn> {
    fn_at(f, fma, level, false)
}

/// [`wide_fn_at`] computing `f(a·x + b)`. With `a = ±1` or `b = -0.0`, `a·x + b` is one
/// exactly rounded IEEE operation (`b ± x`, `a·x`) either way, so the result is the four-lane
/// code's `f` of that operation's result, bit for bit (NaN payloads aside): that is how the
/// code generator uses it, for `exp(x - max)` and `erf(x · c)`.
pub fn wide_affine_fn_at(f: MathFn, fma: bool, level: WideLevel) -> Option<WideFn> {
    fn_at(f, fma, level, true)
}

fn fn_at(f: MathFn, fma: bool, level: WideLevel, affine: bool) -> Option<WideFn> {
    if !host_has(level, fma) {
        return None;
    }
    #[cfg(target_arch = "x86_64")]
    {
        use algo::{ERF, EXP, LOG, SIGMOID, TANH};
        /// The instantiations of `OP` for `level`, `fma` and `affine`.
        fn pick<const OP: u8>(fma: bool, level: WideLevel, affine: bool) -> WideFn {
            match (level, fma, affine) {
                (WideLevel::Avx512, true, false) => avx512::run::<OP, true, false>,
                (WideLevel::Avx512, false, false) => avx512::run::<OP, false, false>,
                (WideLevel::Avx512, true, true) => avx512::run::<OP, true, true>,
                (WideLevel::Avx512, false, true) => avx512::run::<OP, false, true>,
                (WideLevel::Avx2, true, false) => avx2::run_fma::<OP, false>,
                (WideLevel::Avx2, false, false) => avx2::run_nofma::<OP, false>,
                (WideLevel::Avx2, true, true) => avx2::run_fma::<OP, true>,
                (WideLevel::Avx2, false, true) => avx2::run_nofma::<OP, true>,
            }
        }
        match f {
            MathFn::Exp => Some(pick::<EXP>(fma, level, affine)),
            MathFn::Log => Some(pick::<LOG>(fma, level, affine)),
            MathFn::Tanh => Some(pick::<TANH>(fma, level, affine)),
            MathFn::Sigmoid => Some(pick::<SIGMOID>(fma, level, affine)),
            MathFn::Erf => Some(pick::<ERF>(fma, level, affine)),
            MathFn::Sin | MathFn::Cos => None,
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        let _ = (f, affine);
        None
    }
}

/// The name of the environment variable that caps [`wide_fn`]'s level.
pub const WIDE_MATH_ENV: &str = "LAZYJIT_WIDE_MATH";

/// A cap on the wide level: `None` = wide functions off, `Some(l)` = at most `l`.
pub type WideCap = Option<WideLevel>;

/// Parses a `LAZYJIT_WIDE_MATH` value (surrounding spaces and case ignored): `avx512` (no
/// lower cap than the host's best), `avx2` (at most AVX2), `off` (no wide functions).
/// Anything else is `None`: [`wide_fn`] then ignores the variable.
pub fn parse_wide_cap(v: &str) -> Option<WideCap> {
    match v.trim().to_ascii_lowercase().as_str() {
        "avx512" => Some(Some(WideLevel::Avx512)),
        "avx2" => Some(Some(WideLevel::Avx2)),
        "off" => Some(None),
        _ => None,
    }
}

/// The level [`wide_fn`] uses: the host's best for `fma`, capped by `cap`.
pub fn capped_level(fma: bool, cap: WideCap) -> Option<WideLevel> {
    let cap = cap?;
    [WideLevel::Avx512, WideLevel::Avx2]
        .into_iter()
        .find(|&l| l <= cap && host_has(l, fma))
}

/// `wide_fn_at(f, fma, level)` with the level chosen once per process (per `fma` setting):
/// the best the host supports ([`wide_level`]), capped by `LAZYJIT_WIDE_MATH` = `avx512` |
/// `avx2` | `off` if that is set to one of those ([`parse_wide_cap`]). `None` for
/// `Sin`/`Cos`, with the variable `off`, or on a host without AVX2 (+FMA) or AVX-512F.
pub fn wide_fn(f: MathFn, fma: bool) -> Option<WideFn> {
    wide_fn_at(f, fma, process_level(fma)?)
}

/// [`wide_affine_fn_at`] at the level [`wide_fn`] uses.
pub fn wide_affine_fn(f: MathFn, fma: bool) -> Option<WideFn> {
    wide_affine_fn_at(f, fma, process_level(fma)?)
}

/// The level of [`wide_fn`], chosen once per process (per `fma` setting).
fn process_level(fma: bool) -> Option<WideLevel> {
    static LEVEL: [OnceLock<Option<WideLevel>>; 2] = [OnceLock::new(), OnceLock::new()];
    *LEVEL[fma as usize].get_or_init(|| {
        let cap = std::env::var(WIDE_MATH_ENV)
            .ok()
            .and_then(|v| parse_wide_cap(&v))
            .unwrap_or(Some(WideLevel::Avx512));
        capped_level(fma, cap)
    })
}

/// The maximum (`max`) or minimum of a contiguous row of f32 at `level`, as a four-lane
/// `reduce_max` / `reduce_min` kernel computes it: canonical NaN if any element is NaN, else
/// the IEEE maximum (minimum) with `+0 > -0`, the identity for an empty row. `None` if the
/// host lacks the level's features.
pub fn wide_extremum_fn_at(max: bool, level: WideLevel) -> Option<ExtremumFn> {
    if !host_has(level, false) {
        return None;
    }
    #[cfg(target_arch = "x86_64")]
    {
        Some(match (level, max) {
            (WideLevel::Avx512, true) => extremum::avx512::<true>,
            (WideLevel::Avx512, false) => extremum::avx512::<false>,
            (WideLevel::Avx2, true) => extremum::avx2::<true>,
            (WideLevel::Avx2, false) => extremum::avx2::<false>,
        })
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        let _ = max;
        None
    }
}

/// [`wide_extremum_fn_at`] at the level [`wide_fn`] uses (which needs no FMA here).
pub fn wide_extremum_fn(max: bool) -> Option<ExtremumFn> {
    wide_extremum_fn_at(max, process_level(false)?)
}
