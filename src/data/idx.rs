//! Reading IDX files, the format MNIST is distributed in: a big-endian header (two zero bytes,
//! the element type, the number of dimensions, then each dimension as a `u32`) followed by the
//! elements in row-major order. Files may be gzip-compressed, as MNIST's downloads are.
//!
//! Only unsigned bytes (type `0x08`, what MNIST and the bundled digits use) are read; other
//! element types are reported as unsupported. Every inconsistency — a short header, a
//! dimension product that overflows, fewer or more bytes than the header promises — is an
//! [`Error::Dataset`] naming the file and what was expected.

use crate::error::{Error, Result};
use flate2::read::GzDecoder;
use std::io::Read;
use std::path::{Path, PathBuf};

/// The element type byte of unsigned-byte IDX files.
const U8: u8 = 0x08;

/// The largest file, decompressed, that is read (a guard against decompression bombs; real
/// MNIST's largest file is 47 MB).
pub const MAX_IDX_BYTES: u64 = 1 << 32;

/// An IDX array of unsigned bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IdxArray {
    /// The dimensions, outermost first (images: `[count, rows, cols]`; labels: `[count]`).
    pub dims: Vec<usize>,
    /// The elements, row-major; `data.len()` is the product of `dims`.
    pub data: Vec<u8>,
}

fn dataset_error(path: &Path, message: impl Into<String>) -> Error {
    Error::Dataset {
        path: path.display().to_string(),
        message: message.into(),
    }
}

/// Reads the IDX file at `path`, or `path` with `.gz` appended when only that exists. A file
/// starting with the gzip magic bytes is decompressed whatever its name.
///
/// ```
/// let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/data/digits");
/// let labels = lazyjit::data::read_idx(&dir.join("t10k-labels-idx1-ubyte"))?;
/// assert_eq!(labels.dims, [297]);
/// assert!(labels.data.iter().all(|&l| l < 10));
/// # Ok::<(), lazyjit::Error>(())
/// ```
pub fn read_idx(path: &Path) -> Result<IdxArray> {
    let path = resolve(path)?;
    let file = std::fs::File::open(&path).map_err(|e| dataset_error(&path, e.to_string()))?;
    let mut bytes = Vec::new();
    file.take(MAX_IDX_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| dataset_error(&path, e.to_string()))?;
    if bytes.starts_with(&[0x1f, 0x8b]) {
        let mut plain = Vec::new();
        GzDecoder::new(&bytes[..])
            .take(MAX_IDX_BYTES + 1)
            .read_to_end(&mut plain)
            .map_err(|e| dataset_error(&path, format!("gzip data is corrupt: {e}")))?;
        bytes = plain;
    }
    if bytes.len() as u64 > MAX_IDX_BYTES {
        return Err(dataset_error(
            &path,
            format!("larger than the {MAX_IDX_BYTES}-byte limit"),
        ));
    }
    parse_idx(&bytes).map_err(|m| dataset_error(&path, m))
}

/// `path` if it exists, else `path.gz` if that does.
fn resolve(path: &Path) -> Result<PathBuf> {
    if path.exists() {
        return Ok(path.to_path_buf());
    }
    let mut gz = path.as_os_str().to_owned();
    gz.push(".gz");
    let gz = PathBuf::from(gz);
    if gz.exists() {
        Ok(gz)
    } else {
        Err(dataset_error(
            path,
            format!("no such file (nor {})", gz.display()),
        ))
    }
}

/// Parses the bytes of an (uncompressed) IDX file; the error says what is wrong.
pub fn parse_idx(bytes: &[u8]) -> std::result::Result<IdxArray, String> {
    if bytes.len() < 4 {
        return Err(format!(
            "truncated IDX header: {} bytes, need at least 4",
            bytes.len()
        ));
    }
    if bytes[0] != 0 || bytes[1] != 0 {
        return Err(format!(
            "not an IDX file: it starts with {:02x} {:02x}, expected 00 00",
            bytes[0], bytes[1]
        ));
    }
    if bytes[2] != U8 {
        return Err(format!(
            "IDX element type 0x{:02x} is not supported (only unsigned bytes, 0x08, as MNIST)",
            bytes[2]
        ));
    }
    let rank = bytes[3] as usize;
    let header = 4 + 4 * rank;
    if bytes.len() < header {
        return Err(format!(
            "truncated IDX header: {rank} dimensions need {header} bytes, the file has {}",
            bytes.len()
        ));
    }
    let dims: Vec<usize> = bytes[4..header]
        .chunks_exact(4)
        .map(|c| u32::from_be_bytes([c[0], c[1], c[2], c[3]]) as usize)
        .collect();
    let count = dims
        .iter()
        .try_fold(1usize, |a, &d| a.checked_mul(d))
        .ok_or_else(|| format!("IDX dimensions {dims:?} overflow the element count"))?;
    let body = bytes.len() - header;
    if body != count {
        let what = if body < count {
            "truncated"
        } else {
            "too long"
        };
        return Err(format!(
            "{what}: dimensions {dims:?} need {count} bytes of data after the header, the file has {body}"
        ));
    }
    Ok(IdxArray {
        dims,
        data: bytes[header..].to_vec(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn idx(dims: &[u32], body: &[u8]) -> Vec<u8> {
        let mut v = vec![0, 0, U8, dims.len() as u8];
        for d in dims {
            v.extend_from_slice(&d.to_be_bytes());
        }
        v.extend_from_slice(body);
        v
    }

    #[test]
    fn parses_and_rejects_each_kind_of_damage() {
        let ok = parse_idx(&idx(&[2, 3], &[1, 2, 3, 4, 5, 6])).unwrap();
        assert_eq!(ok.dims, [2, 3]);
        assert_eq!(ok.data, [1, 2, 3, 4, 5, 6]);
        let cases: [(Vec<u8>, &str); 6] = [
            (vec![0, 0], "truncated IDX header: 2 bytes"),
            (vec![1, 0, 8, 1, 0, 0, 0, 0], "not an IDX file"),
            (
                vec![0, 0, 0x0d, 1, 0, 0, 0, 0],
                "type 0x0d is not supported",
            ),
            (vec![0, 0, 8, 2, 0, 0, 0, 1], "2 dimensions need 12 bytes"),
            (
                idx(&[2, 3], &[1, 2, 3]),
                "truncated: dimensions [2, 3] need 6 bytes",
            ),
            (
                idx(&[2], &[1, 2, 3]),
                "too long: dimensions [2] need 2 bytes",
            ),
        ];
        for (bytes, want) in cases {
            let e = parse_idx(&bytes).unwrap_err();
            assert!(e.contains(want), "{e}");
        }
        let huge = idx(&[u32::MAX, u32::MAX, u32::MAX], &[]);
        assert!(parse_idx(&huge).unwrap_err().contains("overflow"));
    }

    #[test]
    fn reads_plain_and_gzip_files_and_names_the_file_in_errors() {
        use flate2::{write::GzEncoder, Compression};
        use std::io::Write;
        let dir = std::env::temp_dir().join(format!("lazyjit-idx-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let bytes = idx(&[4], &[9, 8, 7, 6]);
        std::fs::write(dir.join("plain"), &bytes).unwrap();
        let mut gz = GzEncoder::new(Vec::new(), Compression::default());
        gz.write_all(&bytes).unwrap();
        std::fs::write(dir.join("packed.gz"), gz.finish().unwrap()).unwrap();
        assert_eq!(read_idx(&dir.join("plain")).unwrap().data, [9, 8, 7, 6]);
        // `packed` does not exist, `packed.gz` does.
        assert_eq!(read_idx(&dir.join("packed")).unwrap().data, [9, 8, 7, 6]);
        std::fs::write(dir.join("broken.gz"), [0x1f, 0x8b, 8, 0, 1, 2]).unwrap();
        let e = read_idx(&dir.join("broken.gz")).unwrap_err().to_string();
        assert!(
            e.contains("broken.gz") && e.contains("gzip data is corrupt"),
            "{e}"
        );
        let e = read_idx(&dir.join("missing")).unwrap_err().to_string();
        assert!(e.contains("missing") && e.contains("no such file"), "{e}");
        std::fs::write(dir.join("short"), &bytes[..9]).unwrap();
        let e = read_idx(&dir.join("short")).unwrap_err().to_string();
        assert!(e.contains("short: truncated"), "{e}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
