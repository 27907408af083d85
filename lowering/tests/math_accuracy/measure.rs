//! How accuracy is measured: the f64 reference of each function, ulp errors and their
//! statistics, the input sets (specials, bit sweeps, dense ranges), the documented bounds.

use super::*;

// ---------------------------------------------------------------------------------------------
// references and error metric

pub(crate) fn reference(op: MathFn, x: f32) -> f64 {
    let x = x as f64;
    match op {
        MathFn::Exp => x.exp(),
        MathFn::Log => x.ln(),
        MathFn::Tanh => x.tanh(),
        MathFn::Sigmoid => {
            if x < 0.0 {
                let e = x.exp();
                e / (1.0 + e)
            } else {
                1.0 / (1.0 + (-x).exp())
            }
        }
        MathFn::Erf => libm::erf(x),
        MathFn::Sin => x.sin(),
        MathFn::Cos => x.cos(),
    }
}

/// The same function from Rust's f32 std/libm (for comparison in the printed table).
pub(crate) fn std_f32(op: MathFn, x: f32) -> f32 {
    match op {
        MathFn::Exp => x.exp(),
        MathFn::Log => x.ln(),
        MathFn::Tanh => x.tanh(),
        MathFn::Sigmoid => 1.0 / (1.0 + (-x).exp()),
        MathFn::Erf => libm::erff(x),
        MathFn::Sin => x.sin(),
        MathFn::Cos => x.cos(),
    }
}

/// The f32 ulp of a value in the binade of `r` (subnormals: 2^-149; above f32::MAX: 2^104).
pub(crate) fn ulp_f32(r: f64) -> f64 {
    let e = ((r.abs().to_bits() >> 52) & 0x7ff) as i64 - 1023;
    2f64.powi((e.clamp(-126, 127) - 23) as i32)
}

/// Error of `got` against the exact `r`, in f32 ulps. NaN/inf mismatches are infinite.
pub(crate) fn ulp_err(got: f32, r: f64) -> f64 {
    if r.is_nan() || got.is_nan() {
        return if r.is_nan() && got.is_nan() {
            0.0
        } else {
            f64::INFINITY
        };
    }
    let rf = r as f32;
    if got.is_infinite() || rf.is_infinite() {
        return if got == rf { 0.0 } else { f64::INFINITY };
    }
    (got as f64 - r).abs() / ulp_f32(r)
}

#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Stat {
    pub(crate) n: usize,
    pub(crate) max_ulp: f64,
    pub(crate) at_ulp: f32,
    pub(crate) max_abs: f64,
    pub(crate) at_abs: f32,
}

impl Stat {
    pub(crate) fn add(&mut self, x: f32, got: f32, r: f64) {
        self.n += 1;
        let u = ulp_err(got, r);
        if u > self.max_ulp || (u.is_nan() && !self.max_ulp.is_nan()) {
            self.max_ulp = u;
            self.at_ulp = x;
        }
        let a = if u == 0.0 {
            0.0
        } else if u.is_finite() {
            (got as f64 - r).abs()
        } else {
            f64::INFINITY
        };
        if a > self.max_abs {
            self.max_abs = a;
            self.at_abs = x;
        }
    }
    pub(crate) fn merge(&mut self, o: &Stat) {
        self.n += o.n;
        if o.max_ulp > self.max_ulp {
            self.max_ulp = o.max_ulp;
            self.at_ulp = o.at_ulp;
        }
        if o.max_abs > self.max_abs {
            self.max_abs = o.max_abs;
            self.at_abs = o.at_abs;
        }
    }
}

// ---------------------------------------------------------------------------------------------
// inputs

/// Special and boundary inputs for every function.
pub(crate) fn specials() -> Vec<f32> {
    let mut v = vec![
        0.0,
        f32::INFINITY,
        f32::NAN,
        f32::from_bits(0x7fc0_1234),
        f32::from_bits(0x7f80_0001), // signalling NaN
        f32::from_bits(1),           // smallest subnormal
        f32::from_bits(0x007f_ffff), // largest subnormal
        f32::MIN_POSITIVE,
        f32::MAX,
        f32::EPSILON,
        1.0,
        0.5,
        2.0,
        1e-30,
        1e-10,
        1e-4,
        1e30,
        88.722_83,
        88.722_84,
        88.8,
        89.0,
        100.0,
        110.0,
        87.336_54,
        103.972_08,
        103.3,
        104.0,
        126.0,
        0.625,
        0.843_75,
        3.92,
        4.0,
        9.0,
        10.0,
        20.0,
        44.0,
        80.0,
        std::f32::consts::FRAC_PI_4,
        std::f32::consts::FRAC_PI_2,
        std::f32::consts::PI,
        1e4,
        12_868.0,
        65_536.0,
        SINCOS_INLINE_MAX,
        1e6,
        4_194_304.0,
        16_777_216.0,
        1e10,
    ];
    // neighbours of the finite, nonzero ones
    let mut more = Vec::new();
    for &x in &v {
        if x.is_finite() && x != 0.0 {
            for d in [-2i32, -1, 1, 2] {
                more.push(f32::from_bits((x.to_bits() as i32 + d) as u32));
            }
        }
    }
    v.extend(more);
    let neg: Vec<f32> = v.iter().map(|x| -x).collect();
    v.extend(neg);
    v
}

/// `n` inputs spread evenly over every f32 bit pattern (both signs, all binades, NaNs).
pub(crate) fn bit_sweep(n: u64) -> Vec<f32> {
    let step = (1u64 << 32) / n;
    (0..n)
        .map(|i| f32::from_bits((i * step + i % 7) as u32))
        .collect()
}

pub(crate) fn uniform(lo: f32, hi: f32, n: usize) -> Vec<f32> {
    (0..n)
        .map(|i| lo + (hi - lo) * (i as f32 / (n - 1) as f32))
        .collect()
}

/// The dense range of each function's sweep.
pub(crate) fn dense_range(op: MathFn) -> (f32, f32) {
    match op {
        MathFn::Exp => (-110.0, 100.0),
        MathFn::Log => (0.0, 4.0),
        MathFn::Tanh => (-10.0, 10.0),
        MathFn::Sigmoid => (-110.0, 40.0),
        MathFn::Erf => (-5.0, 5.0),
        MathFn::Sin | MathFn::Cos => (-10.0, 10.0),
    }
}

pub(crate) fn sweep_inputs(op: MathFn) -> Vec<f32> {
    let (lo, hi) = dense_range(op);
    let mut v = uniform(lo, hi, 1 << 20);
    v.extend(bit_sweep(1 << 20));
    if matches!(op, MathFn::Sin | MathFn::Cos) {
        v.extend(uniform(-1e4, 1e4, 1 << 20));
        v.extend(uniform(-SINCOS_INLINE_MAX, SINCOS_INLINE_MAX, 1 << 18));
    }
    v.extend(specials());
    let pad = (4 - v.len() % 4) % 4;
    v.extend(std::iter::repeat_n(1.0, pad));
    v
}

// ---------------------------------------------------------------------------------------------
// per-function error classes and bounds

/// Which bucket an input's error is accounted to, and the bound asserted for it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum Metric {
    /// ulps of the f32 result.
    Ulp(f64),
    /// absolute error.
    Abs(f64),
}

/// `(range label, metric)` for input `x`: sin/cos use absolute error for the inline range
/// (relative is meaningless near their roots), ulps for |x| <= 1 and beyond 1e5 (shim).
pub(crate) fn class(op: MathFn, x: f32) -> (usize, Metric) {
    let a = x.abs();
    match op {
        // bounds: the exhaustive maximum (docs/math.md) plus a margin
        MathFn::Exp => (0, Metric::Ulp(1.5)),
        MathFn::Log => (0, Metric::Ulp(1.0)),
        MathFn::Tanh => (0, Metric::Ulp(2.0)),
        MathFn::Sigmoid => (0, Metric::Ulp(3.0)),
        MathFn::Erf => (0, Metric::Ulp(2.0)),
        MathFn::Sin | MathFn::Cos => {
            if a.is_nan() || a <= 1.0 {
                (0, Metric::Ulp(2.0))
            } else if a <= 1e4 {
                (1, Metric::Abs(1.5e-7))
            } else if a <= SINCOS_INLINE_MAX {
                (2, Metric::Abs(1.5e-7))
            } else {
                (3, Metric::Ulp(0.51))
            }
        }
    }
}

pub(crate) fn class_label(op: MathFn, c: usize) -> &'static str {
    match (op, c) {
        (MathFn::Sin | MathFn::Cos, 0) => "|x| <= 1 (and NaN)",
        (MathFn::Sin | MathFn::Cos, 1) => "1 < |x| <= 1e4",
        (MathFn::Sin | MathFn::Cos, 2) => "1e4 < |x| <= 1e5",
        (MathFn::Sin | MathFn::Cos, 3) => "|x| > 1e5 (shim)",
        _ => "all f32",
    }
}

pub(crate) fn evaluate(op: MathFn, xs: &[f32], got: &[f32]) -> [Stat; 4] {
    let mut st = [Stat::default(); 4];
    for (&x, &g) in xs.iter().zip(got) {
        let (c, _) = class(op, x);
        st[c].add(x, g, reference(op, x));
    }
    st
}

pub(crate) fn check_bounds(op: MathFn, fma: bool, st: &[Stat; 4], xs: &[f32], got: &[f32]) {
    for (c, s) in st.iter().enumerate() {
        if s.n == 0 {
            continue;
        }
        // find the metric of this class from any member
        let x = xs.iter().copied().find(|&x| class(op, x).0 == c).unwrap();
        let (v, bound, at) = match class(op, x).1 {
            Metric::Ulp(b) => (s.max_ulp, b, s.at_ulp),
            Metric::Abs(b) => (s.max_abs, b, s.at_abs),
        };
        let i = xs
            .iter()
            .position(|&y| y.to_bits() == at.to_bits())
            .unwrap();
        assert!(
            v <= bound,
            "{op:?} fma={fma} {}: error {v:e} > bound {bound:e} at x={at:e} ({:#x}): got {:e}, exact {:e}",
            class_label(op, c),
            at.to_bits(),
            got[i],
            reference(op, at)
        );
    }
}
