//! `Display` for [`Tensor`]: the values, NumPy/PyTorch style — nested brackets, columns
//! aligned, large tensors summarised by their edge items around `...` — followed by the type.
//! The alternate form (`{:#}`) prints the values alone.
//!
//! ```
//! use lazyjit_lowering::Tensor;
//! let t = Tensor::from_vec(vec![1.5f32, -2.0, 3.25, 4.0, 0.5, -6.0], vec![2, 3]).unwrap();
//! assert_eq!(t.to_string(), "[[ 1.5000, -2.0000,  3.2500],\n [ 4.0000,  0.5000, -6.0000]] f32[2, 3]");
//! let big = Tensor::from_vec((0..2000).collect::<Vec<i32>>(), vec![2000]).unwrap();
//! assert_eq!(big.to_string(), "[   0,    1,    2, ..., 1997, 1998, 1999] i32[2000]");
//! assert_eq!(format!("{:#}", Tensor::scalar(7i64)), "7");
//! ```

use crate::tensor::Tensor;
use crate::types::DType;
use std::fmt;

/// Tensors with more elements than this are summarised.
const SUMMARY_THRESHOLD: usize = 1000;
/// Items kept at each end of a summarised dimension.
const EDGE_ITEMS: usize = 3;

impl fmt::Display for Tensor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let dims = self.shape().dims().to_vec();
        let summarise = self.numel() > SUMMARY_THRESHOLD;
        // The flat indices of the elements shown, in order (every element unless summarised).
        let shown = shown_indices(&dims, summarise);
        let texts = element_texts(self, &shown);
        let width = texts.iter().map(String::len).max().unwrap_or(0);
        let mut out = String::new();
        let mut next = 0usize;
        write_dim(&mut out, &dims, 0, summarise, &texts, width, &mut next);
        if f.alternate() {
            f.write_str(&out)
        } else {
            write!(f, "{out} {}", self.ty())
        }
    }
}

/// The positions shown along one dimension of size `n`: all, or the edges around a gap
/// (`None`).
fn positions(n: usize, summarise: bool) -> Vec<Option<usize>> {
    if summarise && n > 2 * EDGE_ITEMS {
        (0..EDGE_ITEMS)
            .map(Some)
            .chain(std::iter::once(None))
            .chain((n - EDGE_ITEMS..n).map(Some))
            .collect()
    } else {
        (0..n).map(Some).collect()
    }
}

fn shown_indices(dims: &[usize], summarise: bool) -> Vec<usize> {
    let mut out = Vec::new();
    fn walk(dims: &[usize], base: usize, summarise: bool, out: &mut Vec<usize>) {
        let Some((&n, rest)) = dims.split_first() else {
            out.push(base);
            return;
        };
        let stride: usize = rest.iter().product();
        for p in positions(n, summarise).into_iter().flatten() {
            walk(rest, base + p * stride, summarise, out);
        }
    }
    walk(dims, 0, summarise, &mut out);
    out
}

/// Writes dimension `d` of the shown elements (consumed in order through `next`).
fn write_dim(
    out: &mut String,
    dims: &[usize],
    d: usize,
    summarise: bool,
    texts: &[String],
    width: usize,
    next: &mut usize,
) {
    if d == dims.len() {
        out.push_str(&format!("{:>width$}", texts[*next]));
        *next += 1;
        return;
    }
    out.push('[');
    let inner_rank = dims.len() - d - 1;
    // Rows of a matrix go on their own lines, indented under the opening bracket; higher
    // dimensions add a blank line between blocks, as NumPy does.
    let sep = if inner_rank == 0 {
        ", ".to_string()
    } else {
        format!(",{}\n{}", "\n".repeat(inner_rank - 1), " ".repeat(d + 1))
    };
    for (k, p) in positions(dims[d], summarise).into_iter().enumerate() {
        if k > 0 {
            out.push_str(&sep);
        }
        match p {
            Some(_) => write_dim(out, dims, d + 1, summarise, texts, width, next),
            None => out.push_str("..."),
        }
    }
    out.push(']');
}

/// The text of each shown element: integers and bools as they are; floats in one style for
/// the whole tensor, as PyTorch chooses it (integral values as `2.`, a wide range in
/// scientific notation, otherwise four decimals).
fn element_texts(t: &Tensor, shown: &[usize]) -> Vec<String> {
    match t.dtype() {
        DType::Bool => typed::<bool, _>(t, shown, |v| v.to_string()),
        DType::I32 => typed::<i32, _>(t, shown, |v| v.to_string()),
        DType::I64 => typed::<i64, _>(t, shown, |v| v.to_string()),
        DType::F32 => floats(&typed::<f32, _>(t, shown, |v| v as f64)),
        DType::F64 => floats(&typed::<f64, _>(t, shown, |v| v)),
    }
}

fn typed<T: crate::tensor::Element, R>(t: &Tensor, shown: &[usize], f: impl Fn(T) -> R) -> Vec<R> {
    let s = t.as_slice::<T>().unwrap_or(&[]);
    shown
        .iter()
        .filter_map(|&i| s.get(i))
        .map(|&v| f(v))
        .collect()
}

fn floats(v: &[f64]) -> Vec<String> {
    let finite: Vec<f64> = v.iter().copied().filter(|x| x.is_finite()).collect();
    let nonzero: Vec<f64> = finite
        .iter()
        .map(|x| x.abs())
        .filter(|&x| x > 0.0)
        .collect();
    let integral = finite.iter().all(|x| x.fract() == 0.0);
    let (lo, hi) = nonzero
        .iter()
        .fold((f64::INFINITY, 0.0f64), |(lo, hi), &x| {
            (lo.min(x), hi.max(x))
        });
    let sci = !nonzero.is_empty() && (hi > 1e8 || (!integral && (hi / lo > 1e3 || lo < 1e-4)));
    v.iter()
        .map(|&x| {
            if x.is_nan() {
                "nan".to_string()
            } else if x.is_infinite() {
                if x > 0.0 { "inf" } else { "-inf" }.to_string()
            } else if sci {
                scientific(x)
            } else if integral {
                format!("{x:.0}.")
            } else {
                format!("{x:.4}")
            }
        })
        .collect()
}

/// `1.2346e+05`, as NumPy and PyTorch print it.
fn scientific(x: f64) -> String {
    let s = format!("{x:.4e}");
    match s.split_once('e') {
        Some((m, e)) => {
            let (sign, digits) = match e.strip_prefix('-') {
                Some(d) => ('-', d),
                None => ('+', e),
            };
            format!("{m}e{sign}{digits:0>2}")
        }
        None => s,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn show<T: crate::tensor::Element>(shape: &[usize], v: Vec<T>) -> String {
        Tensor::from_vec(v, shape.to_vec()).unwrap().to_string()
    }

    #[test]
    fn scalars_vectors_and_styles() {
        assert_eq!(show(&[], vec![2.5f64]), "2.5000 f64[]");
        assert_eq!(
            show(&[3], vec![1.0f32, -2.0, 30.0]),
            "[ 1., -2., 30.] f32[3]"
        );
        assert_eq!(show(&[2], vec![true, false]), "[ true, false] bool[2]");
        assert_eq!(
            show(&[2], vec![1e-5f32, 1.0]),
            "[1.0000e-05, 1.0000e+00] f32[2]"
        );
        assert_eq!(
            show(&[3], vec![f32::NAN, f32::NEG_INFINITY, 0.5]),
            "[   nan,   -inf, 0.5000] f32[3]"
        );
        assert_eq!(show(&[0], Vec::<i64>::new()), "[] i64[0]");
        assert_eq!(show(&[2, 0], Vec::<f32>::new()), "[[],\n []] f32[2, 0]");
    }

    #[test]
    fn higher_ranks_separate_blocks_and_summarise_every_large_dimension() {
        let v: Vec<i32> = (0..8).collect();
        assert_eq!(
            show(&[2, 2, 2], v),
            "[[[0, 1],\n  [2, 3]],\n\n [[4, 5],\n  [6, 7]]] i32[2, 2, 2]"
        );
        let v: Vec<i64> = (0..40 * 40).collect();
        let s = show(&[40, 40], v);
        let lines: Vec<&str> = s.lines().collect();
        assert_eq!(lines.len(), 7, "{s}");
        assert_eq!(lines[0], "[[   0,    1,    2, ...,   37,   38,   39],");
        assert_eq!(lines[3], " ...,");
        assert_eq!(
            lines[6],
            " [1560, 1561, 1562, ..., 1597, 1598, 1599]] i64[40, 40]"
        );
    }
}
