//! Printing tensors: small ones in full, nested like NumPy prints them (the tensor's
//! `Display`); large ones as type, range and mean.

use lazyjit::lowering::{DType, Tensor};

/// Tensors with at most this many elements are printed in full.
pub const FULL: usize = 20;

/// `NAME: TYPE` and then the elements (small) or a summary (large).
pub fn show(name: &str, t: &Tensor) -> String {
    if t.numel() <= FULL {
        format!("{name}: {} =\n{t:#}", t.ty())
    } else {
        format!("{name}: {} ({} elements) {}", t.ty(), t.numel(), summary(t))
    }
}

/// `1.5`, `-0.333333`, `2.0`, `1.2346e7`, `nan`, `-inf`.
pub fn float(v: f64) -> String {
    if v.is_nan() {
        return "nan".into();
    }
    if v.is_infinite() {
        return if v > 0.0 { "inf".into() } else { "-inf".into() };
    }
    let a = v.abs();
    if a != 0.0 && !(1e-4..1e6).contains(&a) {
        return format!("{v:.4e}");
    }
    let s = format!("{v:.6}");
    let s = s.trim_end_matches('0');
    if s.ends_with('.') {
        format!("{s}0")
    } else {
        s.to_string()
    }
}

/// `min -1.5 max 2 mean 0.25` (and NaN count), or the count of trues.
fn summary(t: &Tensor) -> String {
    if t.dtype() == DType::Bool {
        let trues = t.to_f64_vec().iter().filter(|&&v| v != 0.0).count();
        return format!("{trues} true, {} false", t.numel() - trues);
    }
    let v = t.to_f64_vec();
    let finite: Vec<f64> = v.iter().copied().filter(|x| !x.is_nan()).collect();
    let nans = v.len() - finite.len();
    let min = finite.iter().copied().fold(f64::INFINITY, f64::min);
    let max = finite.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let mean = finite.iter().sum::<f64>() / finite.len().max(1) as f64;
    let f = |x: f64| {
        if t.dtype().is_float() {
            float(x)
        } else {
            format!("{x}")
        }
    };
    let mut s = format!("min {} max {} mean {}", f(min), f(max), float(mean));
    if nans > 0 {
        s += &format!(", {nans} NaN");
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_tensors_print_like_numpy() {
        let t =
            Tensor::from_vec(vec![1.0f32, -0.5, 2.25, 0.0, 1e-7, f32::NAN], vec![2, 3]).unwrap();
        assert_eq!(
            show("y", &t),
            "y: f32[2, 3] =\n[[ 1.0000e+00, -5.0000e-01,  2.2500e+00],\n [ 0.0000e+00,  1.0000e-07,         nan]]"
        );
        let t = Tensor::from_vec(vec![1i64, 2, 3, 4], vec![2, 1, 2]).unwrap();
        assert_eq!(show("i", &t), "i: i64[2, 1, 2] =\n[[[1, 2]],\n\n [[3, 4]]]");
        assert_eq!(show("s", &Tensor::scalar(true)), "s: bool[] =\ntrue");
        assert_eq!(
            show("e", &Tensor::from_vec(Vec::<f32>::new(), vec![0]).unwrap()),
            "e: f32[0] =\n[]"
        );
    }

    #[test]
    fn large_tensors_are_summarised() {
        let t = Tensor::from_vec((0..30).map(|i| i as f32).collect(), vec![30]).unwrap();
        assert_eq!(
            show("x", &t),
            "x: f32[30] (30 elements) min 0.0 max 29.0 mean 14.5"
        );
    }
}
