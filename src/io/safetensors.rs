//! safetensors files: named tensors as little-endian bytes after a JSON header. Also the
//! dtype and byte conversions `nn::save`/`nn::load` use (one home for both).

use super::{check_distinct_names, file_error, read_bytes, write_bytes, Problem};
use crate::error::{Error, FileErrorKind};
use lazyjit_lowering::{DType, Element, Tensor};
use safetensors::tensor::{Dtype, SafeTensors, TensorView};
use std::path::Path;

/// Reads every tensor of a safetensors file, sorted by name. Dtypes as for `.npy`
/// ([module docs](super)): F32, F64, I32, I64 and BOOL as themselves, U8, I8, U16, I16
/// widened to i32 and U32 to i64.
///
/// ```
/// use lazyjit::{io, lowering::Tensor};
/// let dir = tempfile::tempdir().unwrap();
/// let path = dir.path().join("model.safetensors");
/// let w = Tensor::from_vec(vec![1.0f32, 0.0, 0.0, 1.0], vec![2, 2])?;
/// let steps = Tensor::scalar(10i64);
/// io::write_safetensors(&path, &[("w", &w), ("steps", &steps)])?;
/// assert_eq!(io::read_safetensors(&path)?, vec![("steps".to_string(), steps), ("w".to_string(), w)]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn read_safetensors(path: impl AsRef<Path>) -> Result<Vec<(String, Tensor)>, Error> {
    let path = path.as_ref();
    let bytes = read_bytes(path)?;
    decode(&bytes).map_err(|p| file_error(path, p))
}

/// Writes named tensors as a safetensors file (atomically: the [module docs](super)).
/// Names must be distinct.
pub fn write_safetensors(path: impl AsRef<Path>, tensors: &[(&str, &Tensor)]) -> Result<(), Error> {
    let path = path.as_ref();
    check_distinct_names(path, tensors.iter().map(|(n, _)| *n))?;
    let bytes = encode(tensors).map_err(|p| file_error(path, p))?;
    write_bytes(path, &bytes)
}

fn decode(bytes: &[u8]) -> Result<Vec<(String, Tensor)>, Problem> {
    let file = SafeTensors::deserialize(bytes).map_err(|e| {
        (
            FileErrorKind::Format,
            format!("not a valid safetensors file: {e}"),
        )
    })?;
    let mut out = Vec::with_capacity(file.len());
    for (name, view) in file.iter() {
        let (dtype, _) = from_safetensors_dtype(view.dtype()).ok_or_else(|| {
            (
                FileErrorKind::DType,
                format!(
                    "tensor `{name}` has dtype {:?}, which lazyjit has no type for",
                    view.dtype()
                ),
            )
        })?;
        let t = tensor_from_le_bytes(view.dtype(), view.shape(), view.data())
            .map_err(|m| (FileErrorKind::Shape, format!("tensor `{name}`: {m}")))?;
        debug_assert_eq!(t.dtype(), dtype);
        out.push((name.to_string(), t));
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(out)
}

fn encode(tensors: &[(&str, &Tensor)]) -> Result<Vec<u8>, Problem> {
    let bytes: Vec<Vec<u8>> = tensors.iter().map(|(_, t)| tensor_le_bytes(t)).collect();
    let mut views = Vec::with_capacity(tensors.len());
    for ((name, t), b) in tensors.iter().zip(&bytes) {
        let view = TensorView::new(
            to_safetensors_dtype(t.dtype()),
            t.shape().dims().to_vec(),
            b,
        )
        .map_err(|e| (FileErrorKind::Shape, format!("tensor `{name}`: {e}")))?;
        views.push((*name, view));
    }
    safetensors::serialize(views, None)
        .map_err(|e| (FileErrorKind::Format, format!("serializing: {e}")))
}

/// The safetensors dtype of a lazyjit dtype.
pub(crate) fn to_safetensors_dtype(d: DType) -> Dtype {
    match d {
        DType::F32 => Dtype::F32,
        DType::F64 => Dtype::F64,
        DType::I32 => Dtype::I32,
        DType::I64 => Dtype::I64,
        DType::Bool => Dtype::BOOL,
    }
}

/// The lazyjit dtype a safetensors dtype is read as, and whether that widens it; `None` for
/// the dtypes lazyjit cannot hold (F16, BF16, U64, F8 variants, ...).
pub(crate) fn from_safetensors_dtype(d: Dtype) -> Option<(DType, bool)> {
    Some(match d {
        Dtype::F32 => (DType::F32, false),
        Dtype::F64 => (DType::F64, false),
        Dtype::I32 => (DType::I32, false),
        Dtype::I64 => (DType::I64, false),
        Dtype::BOOL => (DType::Bool, false),
        Dtype::U8 | Dtype::I8 | Dtype::U16 | Dtype::I16 => (DType::I32, true),
        Dtype::U32 => (DType::I64, true),
        _ => return None,
    })
}

/// A tensor's elements as little-endian bytes (bools as 0 and 1).
pub(crate) fn tensor_le_bytes(t: &Tensor) -> Vec<u8> {
    fn le<T: Element, const N: usize>(t: &Tensor, f: impl Fn(T) -> [u8; N]) -> Vec<u8> {
        t.as_slice::<T>()
            .map(|s| s.iter().flat_map(|&v| f(v)).collect())
            .unwrap_or_default()
    }
    match t.dtype() {
        DType::F32 => le(t, f32::to_le_bytes),
        DType::F64 => le(t, f64::to_le_bytes),
        DType::I32 => le(t, i32::to_le_bytes),
        DType::I64 => le(t, i64::to_le_bytes),
        DType::Bool => le(t, |b: bool| [b as u8]),
    }
}

/// A tensor of `shape` from little-endian elements of safetensors dtype `dtype`, widened
/// as [`from_safetensors_dtype`] says (any non-zero byte is a true bool). The byte length
/// must be the shape's: otherwise an error saying both.
pub(crate) fn tensor_from_le_bytes(
    dtype: Dtype,
    shape: &[usize],
    b: &[u8],
) -> Result<Tensor, String> {
    fn chunks<const N: usize, T>(b: &[u8], f: impl Fn([u8; N]) -> T) -> Vec<T> {
        b.chunks_exact(N)
            .map(|c| f(c.try_into().expect("chunks_exact gives N bytes")))
            .collect()
    }
    let size = dtype.bitsize() / 8;
    let numel = shape.iter().try_fold(1usize, |n, &d| n.checked_mul(d));
    if numel.and_then(|n| n.checked_mul(size)) != Some(b.len()) {
        return Err(format!(
            "shape {shape:?} of {dtype:?} needs {} bytes, the data has {}",
            numel.map_or("too many".to_string(), |n| (n * size).to_string()),
            b.len()
        ));
    }
    let t = match dtype {
        Dtype::F32 => Tensor::from_vec(chunks(b, f32::from_le_bytes), shape),
        Dtype::F64 => Tensor::from_vec(chunks(b, f64::from_le_bytes), shape),
        Dtype::I32 => Tensor::from_vec(chunks(b, i32::from_le_bytes), shape),
        Dtype::I64 => Tensor::from_vec(chunks(b, i64::from_le_bytes), shape),
        Dtype::BOOL => Tensor::from_vec(b.iter().map(|&v| v != 0).collect::<Vec<_>>(), shape),
        Dtype::U8 => Tensor::from_vec(b.iter().map(|&v| i32::from(v)).collect(), shape),
        Dtype::I8 => Tensor::from_vec(b.iter().map(|&v| i32::from(v as i8)).collect(), shape),
        Dtype::U16 => Tensor::from_vec(chunks(b, |c| i32::from(u16::from_le_bytes(c))), shape),
        Dtype::I16 => Tensor::from_vec(chunks(b, |c| i32::from(i16::from_le_bytes(c))), shape),
        Dtype::U32 => Tensor::from_vec(chunks(b, |c| i64::from(u32::from_le_bytes(c))), shape),
        other => return Err(format!("dtype {other:?}, which lazyjit has no type for")),
    };
    t.map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_integers_widen_and_other_dtypes_are_refused() {
        let b = [1u8, 0, 255, 255];
        let view = TensorView::new(Dtype::U16, vec![2], &b).unwrap();
        let bytes = safetensors::serialize([("img", view)], None).unwrap();
        let got = decode(&bytes).unwrap();
        assert_eq!(got[0].1.as_slice::<i32>().unwrap(), &[1, 65535]);

        let view = TensorView::new(Dtype::F16, vec![2], &b).unwrap();
        let bytes = safetensors::serialize([("h", view)], None).unwrap();
        let (k, m) = decode(&bytes).unwrap_err();
        assert_eq!(k, FileErrorKind::DType);
        assert!(m.contains("`h`") && m.contains("F16"), "{m}");
    }

    #[test]
    fn byte_length_must_match_the_shape() {
        let e = tensor_from_le_bytes(Dtype::F32, &[3], &[0; 8]).unwrap_err();
        assert!(
            e.contains("[3]") && e.contains("12") && e.contains('8'),
            "{e}"
        );
    }
}
