//! Tensor files: `.npy`, `.npz` and safetensors, read into and written from
//! [`Tensor`](crate::lowering::Tensor)s and [`LazyTensor`](crate::LazyTensor)s.
//!
//! | format | read | write | feature |
//! |---|---|---|---|
//! | `.npy` (one array) | [`read_npy`], [`LazyTensor::read_npy`](crate::LazyTensor::read_npy) | [`write_npy`], [`LazyTensor::write_npy`](crate::LazyTensor::write_npy) | `npy` |
//! | `.npz` (named arrays, in order) | [`read_npz`] | [`write_npz`] | `npy` |
//! | safetensors (named tensors) | [`read_safetensors`] | [`write_safetensors`] | `safetensors` |
//!
//! **Dtypes.** lazyjit has f32, f64, i32, i64 and bool. Files of those dtypes read as
//! themselves; narrower integer files are widened as they are read: `u8`, `i8`, `u16` and
//! `i16` to i32 and `u32` to i64 (images come as `u8`), exactly (every value fits). Other
//! dtypes (`f16`, `u64`, complex, strings, ...) are an error naming the dtype. `.npy` arrays
//! must be little-endian and C order (what NumPy writes by default); a Fortran-order
//! array is an error saying so (save it with `np.ascontiguousarray`).
//!
//! **Writes are atomic**: the file is written to a temporary file in the same folder and
//! renamed over the target, so a failed write leaves a previous file of that name intact.
//!
//! **Errors** are [`Error::File`](crate::Error::File): the path, a
//! [`FileErrorKind`](crate::FileErrorKind) and what exactly was wrong. Bad files never
//! panic, and a header that claims more data than the file holds is found before anything
//! is allocated for it.
//!
//! ```
//! use lazyjit::{io, lowering::Tensor, LazyTensor};
//! let dir = tempfile::tempdir().unwrap();
//! let path = dir.path().join("x.npy");
//! let x = Tensor::from_vec(vec![1.0f32, 2.0, 3.0, 4.0], vec![2, 2])?;
//! io::write_npy(&path, &x)?;
//! assert_eq!(io::read_npy(&path)?, x);
//!
//! // Named tensors: an .npz keeps their order.
//! let npz = dir.path().join("weights.npz");
//! let b = Tensor::from_vec(vec![1i64, -1], vec![2])?;
//! io::write_npz(&npz, &[("w", &x), ("b", &b)])?;
//! let back = io::read_npz(&npz)?;
//! assert_eq!(back[0].0, "w");
//! assert_eq!(back[1], ("b".to_string(), b));
//!
//! // Lazy tensors: writing syncs them first.
//! let y = LazyTensor::read_npy(&path)?.mul_scalar(2.0f32)?;
//! y.write_npy(&path)?;
//! assert_eq!(LazyTensor::read_npy(&path)?.to_vec::<f32>()?, vec![2.0, 4.0, 6.0, 8.0]);
//!
//! // A missing file is an error naming it.
//! let e = io::read_npy(dir.path().join("nope.npy")).unwrap_err();
//! assert!(e.to_string().contains("nope.npy"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#[cfg(any(feature = "npy", feature = "safetensors"))]
mod atomic;
#[cfg(any(feature = "npy", feature = "safetensors"))]
mod lazy;
#[cfg(feature = "npy")]
mod npy;
#[cfg(feature = "npy")]
mod npz;
#[cfg(feature = "safetensors")]
mod safetensors;

#[cfg(feature = "safetensors")]
pub(crate) use self::safetensors::{
    from_safetensors_dtype, tensor_from_le_bytes, tensor_le_bytes, to_safetensors_dtype,
};
#[cfg(feature = "safetensors")]
pub use self::safetensors::{read_safetensors, write_safetensors};
#[cfg(any(feature = "npy", feature = "safetensors"))]
pub(crate) use atomic::write_atomically;
#[cfg(feature = "npy")]
pub use npy::{read_npy, write_npy};
#[cfg(feature = "npy")]
pub use npz::{read_npz, write_npz};

#[cfg(any(feature = "npy", feature = "safetensors"))]
use crate::error::{Error, FileErrorKind};
#[cfg(any(feature = "npy", feature = "safetensors"))]
use std::path::Path;

/// What is wrong with some bytes, before the file they came from is known.
#[cfg(any(feature = "npy", feature = "safetensors"))]
type Problem = (FileErrorKind, String);

/// The [`Error::File`] for `path`.
#[cfg(any(feature = "npy", feature = "safetensors"))]
fn file_error(path: &Path, (kind, message): Problem) -> Error {
    Error::File {
        path: path.display().to_string(),
        kind,
        message,
    }
}

/// The whole file, or an [`FileErrorKind::Io`] error (`reading: No such file or directory`).
#[cfg(any(feature = "npy", feature = "safetensors"))]
fn read_bytes(path: &Path) -> Result<Vec<u8>, Error> {
    std::fs::read(path).map_err(|e| file_error(path, (FileErrorKind::Io, format!("reading: {e}"))))
}

/// Writes `bytes` over `path` atomically; an [`FileErrorKind::Io`] error on failure.
#[cfg(any(feature = "npy", feature = "safetensors"))]
pub(crate) fn write_bytes(path: &Path, bytes: &[u8]) -> Result<(), Error> {
    write_atomically(path, bytes).map_err(|m| file_error(path, (FileErrorKind::Io, m)))
}

/// Rejects a name used twice in a list of named tensors about to be written.
#[cfg(any(feature = "npy", feature = "safetensors"))]
fn check_distinct_names<'a>(
    path: &Path,
    names: impl Iterator<Item = &'a str>,
) -> Result<(), Error> {
    let mut seen = std::collections::HashSet::new();
    for n in names {
        if !seen.insert(n) {
            return Err(file_error(
                path,
                (
                    FileErrorKind::Format,
                    format!("two tensors are named `{n}`: names in one file must be distinct"),
                ),
            ));
        }
    }
    Ok(())
}
