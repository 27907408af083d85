//! `extern "C"` shims called from JIT code for the paths that are not inlined: every `F64`
//! function, `pow` of every type, and the huge-argument fallback of `F32` sin/cos.
//!
//! Each shim is registered under its name by [`super::register_symbols`].

/// A scalar shim: its symbol, its argument count and float width, and its address.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Shim {
    pub name: &'static str,
    /// 1 (unary) or 2 (binary).
    pub arity: u8,
    /// `true` for `f64` arguments and result, `false` for `f32`.
    pub f64: bool,
    pub addr: *const u8,
}

extern "C" fn exp_f64(x: f64) -> f64 {
    x.exp()
}
extern "C" fn log_f64(x: f64) -> f64 {
    x.ln()
}
extern "C" fn tanh_f64(x: f64) -> f64 {
    x.tanh()
}
/// Written so that neither branch overflows: `e^x / (1 + e^x)` for negative `x` keeps the
/// relative accuracy (and the subnormal results) that `1 / (1 + e^-x)` would lose.
extern "C" fn sigmoid_f64(x: f64) -> f64 {
    if x < 0.0 {
        let e = x.exp();
        e / (1.0 + e)
    } else {
        1.0 / (1.0 + (-x).exp())
    }
}
extern "C" fn erf_f64(x: f64) -> f64 {
    libm::erf(x)
}
extern "C" fn sin_f64(x: f64) -> f64 {
    x.sin()
}
extern "C" fn cos_f64(x: f64) -> f64 {
    x.cos()
}
extern "C" fn pow_f64(x: f64, y: f64) -> f64 {
    x.powf(y)
}
extern "C" fn pow_f32(x: f32, y: f32) -> f32 {
    x.powf(y)
}
/// Huge-argument fallback of the inline `F32` sine: exact reduction by the `f64` libm.
extern "C" fn sin_f32(x: f32) -> f32 {
    (x as f64).sin() as f32
}
extern "C" fn cos_f32(x: f32) -> f32 {
    (x as f64).cos() as f32
}

pub(crate) const EXP_F64: &str = "lazyjit_math_exp_f64";
pub(crate) const LOG_F64: &str = "lazyjit_math_log_f64";
pub(crate) const TANH_F64: &str = "lazyjit_math_tanh_f64";
pub(crate) const SIGMOID_F64: &str = "lazyjit_math_sigmoid_f64";
pub(crate) const ERF_F64: &str = "lazyjit_math_erf_f64";
pub(crate) const SIN_F64: &str = "lazyjit_math_sin_f64";
pub(crate) const COS_F64: &str = "lazyjit_math_cos_f64";
pub(crate) const POW_F64: &str = "lazyjit_math_pow_f64";
pub(crate) const POW_F32: &str = "lazyjit_math_pow_f32";
pub(crate) const SIN_F32: &str = "lazyjit_math_sin_f32";
pub(crate) const COS_F32: &str = "lazyjit_math_cos_f32";

/// Every shim, in a fixed order.
pub(crate) fn all() -> [Shim; 11] {
    let u64 = |name, f: extern "C" fn(f64) -> f64| Shim {
        name,
        arity: 1,
        f64: true,
        addr: f as *const u8,
    };
    let u32 = |name, f: extern "C" fn(f32) -> f32| Shim {
        name,
        arity: 1,
        f64: false,
        addr: f as *const u8,
    };
    [
        u64(EXP_F64, exp_f64),
        u64(LOG_F64, log_f64),
        u64(TANH_F64, tanh_f64),
        u64(SIGMOID_F64, sigmoid_f64),
        u64(ERF_F64, erf_f64),
        u64(SIN_F64, sin_f64),
        u64(COS_F64, cos_f64),
        Shim {
            name: POW_F64,
            arity: 2,
            f64: true,
            addr: pow_f64 as *const u8,
        },
        Shim {
            name: POW_F32,
            arity: 2,
            f64: false,
            addr: pow_f32 as *const u8,
        },
        u32(SIN_F32, sin_f32),
        u32(COS_F32, cos_f32),
    ]
}

/// The shim called for `name`; panics on an unknown name (an internal error).
pub(crate) fn by_name(name: &str) -> Shim {
    all()
        .into_iter()
        .find(|s| s.name == name)
        .unwrap_or_else(|| panic!("lazyjit math: no shim named {name}"))
}
