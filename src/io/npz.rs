//! `.npz` archives: a zip of `.npy` files, one per named array (`np.savez`,
//! `np.savez_compressed`). Reading goes through the zip crate entry by entry and decodes
//! each with the `.npy` reader, so both share one set of checks; writing uses ndarray-npy's
//! `NpzWriter` (uncompressed, like `np.savez`).

use super::npy::{decode, encode};
use super::{check_distinct_names, file_error, read_bytes, write_bytes, Problem};
use crate::error::{Error, FileErrorKind};
use lazyjit_lowering::{Tensor, MAX_ELEMENTS};
use std::io::{Cursor, Read, Write};
use std::path::Path;

/// Reads every array of an `.npz` file, in the archive's order, each named as NumPy names
/// it (the member name without its `.npy` suffix). Dtypes as for [`super::read_npy`]; an
/// error names the array concerned.
///
/// ```
/// use lazyjit::{io, lowering::Tensor};
/// let dir = tempfile::tempdir().unwrap();
/// let path = dir.path().join("batch.npz");
/// let x = Tensor::from_vec(vec![0.5f64, 1.5], vec![2])?;
/// let y = Tensor::scalar(3i32);
/// io::write_npz(&path, &[("x", &x), ("labels/y", &y)])?;
/// let named = io::read_npz(&path)?;
/// let names: Vec<&str> = named.iter().map(|(n, _)| n.as_str()).collect();
/// assert_eq!(names, ["x", "labels/y"]);
/// assert_eq!(named[1].1, y);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn read_npz(path: impl AsRef<Path>) -> Result<Vec<(String, Tensor)>, Error> {
    let path = path.as_ref();
    let bytes = read_bytes(path)?;
    decode_npz(&bytes).map_err(|p| file_error(path, p))
}

/// Writes named tensors as an `.npz` archive (uncompressed; atomically: the
/// [module docs](super)). Names must be distinct; each is stored as `NAME.npy`.
pub fn write_npz(path: impl AsRef<Path>, tensors: &[(&str, &Tensor)]) -> Result<(), Error> {
    let path = path.as_ref();
    check_distinct_names(path, tensors.iter().map(|(n, _)| *n))?;
    let bytes = encode_npz(tensors).map_err(|p| file_error(path, p))?;
    write_bytes(path, &bytes)
}

fn decode_npz(bytes: &[u8]) -> Result<Vec<(String, Tensor)>, Problem> {
    let mut zip = zip::ZipArchive::new(Cursor::new(bytes)).map_err(|e| {
        (
            FileErrorKind::Format,
            format!("not a valid .npz (zip) archive: {e}"),
        )
    })?;
    // The largest member a tensor within the size limit can need, plus its header: a
    // member that inflates beyond it is refused before it fills memory.
    let limit = (MAX_ELEMENTS as u64)
        .saturating_mul(8)
        .saturating_add(1 << 20);
    let mut out: Vec<(String, Tensor)> = Vec::with_capacity(zip.len());
    for i in 0..zip.len() {
        let mut member = zip.by_index(i).map_err(|e| {
            (
                FileErrorKind::Format,
                format!("archive member {i} cannot be read: {e}"),
            )
        })?;
        let full = member.name().to_string();
        let name = full.strip_suffix(".npy").unwrap_or(&full).to_string();
        let in_member = |(k, m): Problem| (k, format!("array `{name}`: {m}"));
        let mut data = Vec::new();
        (&mut member)
            .take(limit)
            .read_to_end(&mut data)
            .map_err(|e| in_member((FileErrorKind::Format, format!("decompressing: {e}"))))?;
        let t = decode(&data).map_err(in_member)?;
        if out.iter().any(|(n, _)| *n == name) {
            return Err((
                FileErrorKind::Format,
                format!("the archive holds two arrays named `{name}`"),
            ));
        }
        out.push((name, t));
    }
    Ok(out)
}

fn encode_npz(tensors: &[(&str, &Tensor)]) -> Result<Vec<u8>, Problem> {
    // Each member is encoded by the `.npy` writer and stored as is (no deflate, as
    // `np.savez`), so the archive is the `.npy` files side by side.
    let zip_err = |e: zip::result::ZipError| (FileErrorKind::Format, format!("zip: {e}"));
    let mut zip = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Stored)
        .large_file(
            tensors
                .iter()
                .any(|(_, t)| t.ty().size_bytes() >= u32::MAX as usize / 2),
        );
    for (name, t) in tensors {
        let npy = encode(t).map_err(|(k, m)| (k, format!("array `{name}`: {m}")))?;
        zip.start_file(format!("{name}.npy"), options)
            .map_err(zip_err)?;
        zip.write_all(&npy)
            .map_err(|e| (FileErrorKind::Format, format!("array `{name}`: {e}")))?;
    }
    Ok(zip.finish().map_err(zip_err)?.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn damaged_archives_are_format_errors() {
        assert_eq!(
            decode_npz(b"not a zip").unwrap_err().0,
            FileErrorKind::Format
        );
        let x = Tensor::from_vec(vec![1i32, 2, 3, 4], vec![4]).unwrap();
        let good = encode_npz(&[("x", &x)]).unwrap();
        let (k, m) = decode_npz(&good[..good.len() - 30]).unwrap_err();
        assert_eq!(k, FileErrorKind::Format, "{m}");
    }

    #[test]
    fn a_member_that_is_not_npy_names_the_member() {
        let mut zip = zip::ZipWriter::new(Cursor::new(Vec::new()));
        zip.start_file("junk.npy", zip::write::SimpleFileOptions::default())
            .unwrap();
        zip.write_all(b"hello").unwrap();
        let bytes = zip.finish().unwrap().into_inner();
        let (k, m) = decode_npz(&bytes).unwrap_err();
        assert_eq!(k, FileErrorKind::Truncated);
        assert!(m.starts_with("array `junk`:"), "{m}");
    }
}
