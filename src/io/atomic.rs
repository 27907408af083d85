//! Atomic file replacement: every file `io` (and `nn::save`) writes goes through here, so a
//! failed or interrupted write never leaves a half-written file where a good one was.

use std::ffi::OsString;
use std::io::Write;
use std::path::{Path, PathBuf};

/// Writes `bytes` to a temporary file in `path`'s folder, flushes it to disk and renames it
/// to `path`. On failure the temporary file is removed and `path` is untouched; the error
/// says which step failed (`creating a temporary file: Permission denied ...`).
pub(crate) fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), String> {
    let tmp = temp_path(path)?;
    let result = (|| {
        let mut f = std::fs::File::create(&tmp)
            .map_err(|e| format!("creating a temporary file beside it: {e}"))?;
        f.write_all(bytes).map_err(|e| format!("writing: {e}"))?;
        f.sync_all().map_err(|e| format!("flushing: {e}"))?;
        drop(f);
        std::fs::rename(&tmp, path).map_err(|e| format!("renaming the temporary file: {e}"))
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// `dir/.name.tmp-PID-NANOS`: hidden, beside the target (a rename within one folder is
/// atomic; across file systems it would not be), and distinct per process and call.
fn temp_path(path: &Path) -> Result<PathBuf, String> {
    let file_name = path
        .file_name()
        .ok_or_else(|| "the path has no file name".to_string())?;
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let mut tmp_name = OsString::from(".");
    tmp_name.push(file_name);
    tmp_name.push(format!(".tmp-{}-{nanos}", std::process::id()));
    Ok(path.with_file_name(tmp_name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_the_file_and_leaves_no_temporary_behind() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.bin");
        write_atomically(&p, b"one").unwrap();
        write_atomically(&p, b"two").unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"two");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn a_missing_folder_is_an_error_naming_the_step() {
        let dir = tempfile::tempdir().unwrap();
        let e = write_atomically(&dir.path().join("no/such/a.bin"), b"x").unwrap_err();
        assert!(e.starts_with("creating a temporary file"), "{e}");
        assert!(write_atomically(Path::new("/"), b"x").is_err());
    }
}
