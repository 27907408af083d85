//! `.npy` files: one array, decoded through ndarray-npy's zero-copy view, so every check
//! (header, dtype, data length, bool bytes) happens on the bytes read before a tensor of the
//! header's size is allocated.

use super::{file_error, read_bytes, write_bytes, Problem};
use crate::error::{Error, FileErrorKind};
use lazyjit_lowering::{DType, Element, Tensor, TensorType};
use ndarray::{ArrayViewD, IxDyn};
use ndarray_npy::{ViewElement, ViewNpyError, ViewNpyExt, WritableElement, WriteNpyExt};
use std::path::Path;

/// Reads a `.npy` file into a tensor (dtypes and widening: the [module docs](super)).
///
/// ```
/// use lazyjit::{io, lowering::Tensor, DType};
/// let dir = tempfile::tempdir().unwrap();
/// let path = dir.path().join("flags.npy");
/// io::write_npy(&path, &Tensor::from_vec(vec![true, false, true], vec![3])?)?;
/// let t = io::read_npy(&path)?;
/// assert_eq!(t.dtype(), DType::Bool);
/// assert_eq!(t.as_slice::<bool>()?, &[true, false, true]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn read_npy(path: impl AsRef<Path>) -> Result<Tensor, Error> {
    let path = path.as_ref();
    let bytes = read_bytes(path)?;
    decode(&bytes).map_err(|p| file_error(path, p))
}

/// Writes `tensor` as a little-endian, C-order `.npy` file (atomically: the
/// [module docs](super)).
pub fn write_npy(path: impl AsRef<Path>, tensor: &Tensor) -> Result<(), Error> {
    let path = path.as_ref();
    let bytes = encode(tensor).map_err(|p| file_error(path, p))?;
    write_bytes(path, &bytes)
}

/// The tensor an `.npy` file's bytes hold.
pub(super) fn decode(bytes: &[u8]) -> Result<Tensor, Problem> {
    let aligned = Aligned::new(bytes);
    let b = aligned.bytes();
    // The f32 view either succeeds or, for any other dtype, reports the file's descriptor.
    let descr = match ArrayViewD::<f32>::view_npy(b) {
        Ok(v) => return convert(v, "f32", |x| x),
        Err(ViewNpyError::WrongDescriptor(d)) => d.to_string().trim_matches('\'').to_string(),
        Err(e) => return Err(view_problem(e, "<f4")),
    };
    let code = descr.trim_start_matches(['<', '>', '|', '=']);
    match code {
        "f8" => typed::<f64, f64>(b, &descr, |x| x),
        "i4" => typed::<i32, i32>(b, &descr, |x| x),
        "i8" => typed::<i64, i64>(b, &descr, |x| x),
        "b1" => typed::<bool, bool>(b, &descr, |x| x),
        "u1" => typed::<u8, i32>(b, &descr, i32::from),
        "i1" => typed::<i8, i32>(b, &descr, i32::from),
        "u2" => typed::<u16, i32>(b, &descr, i32::from),
        "i2" => typed::<i16, i32>(b, &descr, i32::from),
        "u4" => typed::<u32, i64>(b, &descr, i64::from),
        _ => {
            Err((
                FileErrorKind::DType,
                format!(
                "dtype '{descr}'{} is not supported: lazyjit reads f32, f64, i32, i64 and bool, \
                 and widens u8, i8, u16, i16 to i32 and u32 to i64",
                numpy_name(code).map(|n| format!(" ({n})")).unwrap_or_default()
            ),
            ))
        }
    }
}

/// The `.npy` bytes of a tensor.
pub(super) fn encode(t: &Tensor) -> Result<Vec<u8>, Problem> {
    fn go<T: Element + WritableElement>(t: &Tensor) -> Result<Vec<u8>, Problem> {
        let data = t
            .as_slice::<T>()
            .map_err(|e| (FileErrorKind::Format, e.to_string()))?;
        let view = ArrayViewD::from_shape(IxDyn(t.shape().dims()), data)
            .map_err(|e| (FileErrorKind::Shape, format!("{}: {e}", t.ty())))?;
        let mut out = Vec::with_capacity(128 + t.ty().size_bytes());
        view.write_npy(&mut out)
            .map_err(|e| (FileErrorKind::Format, format!("encoding {}: {e}", t.ty())))?;
        Ok(out)
    }
    match t.dtype() {
        DType::F32 => go::<f32>(t),
        DType::F64 => go::<f64>(t),
        DType::I32 => go::<i32>(t),
        DType::I64 => go::<i64>(t),
        DType::Bool => go::<bool>(t),
    }
}

/// Views the file as `T` (the descriptor is known to be `T`'s, up to byte order) and copies
/// it into a tensor of `U`.
fn typed<T: ViewElement + Copy, U: Element>(
    b: &[u8],
    descr: &str,
    widen: impl Fn(T) -> U,
) -> Result<Tensor, Problem> {
    match ArrayViewD::<T>::view_npy(b) {
        Ok(v) => convert(v, descr, widen),
        Err(e) => Err(view_problem(e, descr)),
    }
}

fn convert<T: Copy, U: Element>(
    v: ArrayViewD<'_, T>,
    descr: &str,
    widen: impl Fn(T) -> U,
) -> Result<Tensor, Problem> {
    if !v.is_standard_layout() {
        return Err((
            FileErrorKind::DType,
            format!(
                "the array ('{descr}', shape {:?}) is stored in Fortran (column-major) order; \
                 only C order is read: save it with np.ascontiguousarray",
                v.shape()
            ),
        ));
    }
    let ty = TensorType::new(U::DTYPE, v.shape().to_vec());
    let mut t = Tensor::zeros(ty)
        .map_err(|e| (FileErrorKind::Shape, format!("shape {:?}: {e}", v.shape())))?;
    let dst = t
        .as_mut_slice::<U>()
        .map_err(|e| (FileErrorKind::Format, e.to_string()))?;
    for (d, s) in dst.iter_mut().zip(v.iter()) {
        *d = widen(*s);
    }
    Ok(t)
}

fn view_problem(e: ViewNpyError, descr: &str) -> Problem {
    use FileErrorKind::*;
    match e {
        ViewNpyError::Io(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => (
            Truncated,
            "truncated: the file ends inside its .npy header".to_string(),
        ),
        ViewNpyError::Io(e) => (Format, format!("reading the .npy header: {e}")),
        ViewNpyError::ParseHeader(e) => (Format, format!("not a valid .npy file: {e}")),
        ViewNpyError::InvalidData(e) => (Format, format!("invalid '{descr}' data: {e}")),
        ViewNpyError::LengthOverflow => (
            Shape,
            "the header's shape has more elements than fit in memory".to_string(),
        ),
        ViewNpyError::NonNativeEndian => (
            DType,
            format!("dtype '{descr}' is big-endian; only little-endian arrays are read"),
        ),
        ViewNpyError::MissingBytes(n) => (
            Truncated,
            format!("truncated: {n} bytes of the '{descr}' data the header describes are missing"),
        ),
        ViewNpyError::ExtraBytes(n) => (
            Format,
            format!("{n} bytes follow the '{descr}' data the header describes"),
        ),
        other => (Format, format!("not a valid .npy file: {other}")),
    }
}

/// NumPy's name of a descriptor's type code, for the unsupported-dtype message.
fn numpy_name(code: &str) -> Option<&'static str> {
    Some(match code {
        "f2" => "float16",
        "u8" => "uint64",
        "c8" => "complex64",
        "c16" => "complex128",
        "f16" => "float128",
        "O" => "object",
        _ if code.starts_with('U') => "unicode string",
        _ if code.starts_with('S') => "byte string",
        _ => return None,
    })
}

/// A copy of the file's bytes whose array data starts 8-byte aligned, as viewing it as
/// f64/i64 requires: the data follows a header whose length the file states.
struct Aligned {
    buf: Vec<u8>,
    start: usize,
    len: usize,
}

impl Aligned {
    fn new(bytes: &[u8]) -> Aligned {
        let data_offset = header_len(bytes).unwrap_or(0);
        let mut buf = vec![0u8; bytes.len() + 8];
        let misalign = (buf.as_ptr() as usize + data_offset) % 8;
        let start = (8 - misalign) % 8;
        buf[start..start + bytes.len()].copy_from_slice(bytes);
        Aligned {
            buf,
            start,
            len: bytes.len(),
        }
    }

    fn bytes(&self) -> &[u8] {
        &self.buf[self.start..self.start + self.len]
    }
}

/// Where the data starts by the header's own length field (`None` when there is none).
fn header_len(b: &[u8]) -> Option<usize> {
    if b.len() < 10 || !b.starts_with(b"\x93NUMPY") {
        return None;
    }
    match b[6] {
        1 => Some(10 + u16::from_le_bytes([b[8], b[9]]) as usize),
        _ if b.len() >= 12 => Some(12 + u32::from_le_bytes([b[8], b[9], b[10], b[11]]) as usize),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A hand-made header: `descr`, `fortran_order`, `shape`, padded as NumPy pads it.
    fn header(descr: &str, fortran: bool, shape: &str) -> Vec<u8> {
        let dict = format!(
            "{{'descr': '{descr}', 'fortran_order': {}, 'shape': {shape}, }}",
            if fortran { "True" } else { "False" }
        );
        let mut h = dict.into_bytes();
        while (10 + h.len() + 1) % 64 != 0 {
            h.push(b' ');
        }
        h.push(b'\n');
        let mut out = b"\x93NUMPY\x01\x00".to_vec();
        out.extend_from_slice(&(h.len() as u16).to_le_bytes());
        out.extend_from_slice(&h);
        out
    }

    #[test]
    fn narrow_integers_widen_exactly() {
        let mut f = header("|u1", false, "(2, 2)");
        f.extend_from_slice(&[0, 7, 200, 255]);
        let t = decode(&f).unwrap();
        assert_eq!(t.ty(), &TensorType::new(DType::I32, [2, 2]));
        assert_eq!(t.as_slice::<i32>().unwrap(), &[0, 7, 200, 255]);

        let mut f = header("<i2", false, "(2,)");
        f.extend(i16::MIN.to_le_bytes().into_iter().chain(5i16.to_le_bytes()));
        assert_eq!(decode(&f).unwrap().as_slice::<i32>().unwrap(), &[-32768, 5]);

        let mut f = header("<u4", false, "(1,)");
        f.extend(u32::MAX.to_le_bytes());
        assert_eq!(
            decode(&f).unwrap().as_slice::<i64>().unwrap(),
            &[u32::MAX as i64]
        );
    }

    #[test]
    fn header_problems_are_named() {
        let (k, m) = decode(&header("<f2", false, "(2,)")).unwrap_err();
        assert_eq!(k, FileErrorKind::DType);
        assert!(m.contains("'<f2'") && m.contains("float16"), "{m}");

        let mut f = header("<f4", true, "(2, 3)");
        f.extend([0u8; 24]);
        let (k, m) = decode(&f).unwrap_err();
        assert_eq!(k, FileErrorKind::DType);
        assert!(m.contains("Fortran"), "{m}");

        // A Fortran-order array whose layout is C order's too reads fine.
        let mut f = header("<f4", true, "(1, 2)");
        f.extend(1.5f32.to_le_bytes().into_iter().chain(2.5f32.to_le_bytes()));
        assert_eq!(decode(&f).unwrap().as_slice::<f32>().unwrap(), &[1.5, 2.5]);

        let mut f = header(">f8", false, "(1,)");
        f.extend([0u8; 8]);
        let (k, m) = decode(&f).unwrap_err();
        assert_eq!(k, FileErrorKind::DType);
        assert!(m.contains("big-endian"), "{m}");

        let mut f = header("|b1", false, "(2,)");
        f.extend([1u8, 2]);
        assert_eq!(decode(&f).unwrap_err().0, FileErrorKind::Format);
    }

    #[test]
    fn a_huge_shape_with_little_data_is_truncated_not_allocated() {
        let mut f = header("<f8", false, "(1099511627776, 1024)");
        f.extend([0u8; 64]);
        let (k, m) = decode(&f).unwrap_err();
        assert_eq!(k, FileErrorKind::Truncated, "{m}");
    }

    #[test]
    fn data_is_aligned_whatever_the_header_length() {
        // A version-1 header of an unpadded length: the data starts at an odd offset.
        let dict = b"{'descr': '<i8', 'fortran_order': False, 'shape': (2,), }\n";
        let mut f = b"\x93NUMPY\x01\x00".to_vec();
        f.extend_from_slice(&(dict.len() as u16).to_le_bytes());
        f.extend_from_slice(dict);
        f.extend(7i64.to_le_bytes().into_iter().chain((-1i64).to_le_bytes()));
        assert_eq!(decode(&f).unwrap().as_slice::<i64>().unwrap(), &[7, -1]);
    }
}
