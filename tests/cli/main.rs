//! The `lazyjit` binary, run as a process: every failure's exit code and message, `run`
//! with inputs by name, by position, from `.npz` and safetensors and at random, output
//! files, `--check`, `check`, `emit`, `bench`, every example program on its committed
//! inputs, and programs saved by `dump::save_program` run through the binary.

mod errors;
mod inspect;
mod programs;
mod run;
mod saved;

use std::path::{Path, PathBuf};
use std::process::Command;

/// What a run of the binary gave.
pub struct Out {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

/// Runs `lazyjit ARGS` in the repository root.
pub fn lazyjit<S: AsRef<std::ffi::OsStr>>(args: &[S]) -> Out {
    let o = Command::new(env!("CARGO_BIN_EXE_lazyjit"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("the lazyjit binary runs");
    let out = Out {
        code: o.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
    };
    assert!(
        !out.stderr.contains("panicked"),
        "lazyjit {:?} panicked:\n{}",
        args.iter()
            .map(|a| a.as_ref().to_owned())
            .collect::<Vec<_>>(),
        out.stderr
    );
    out
}

/// Runs and expects success.
pub fn ok<S: AsRef<std::ffi::OsStr>>(args: &[S]) -> Out {
    let out = lazyjit(args);
    assert_eq!(
        out.code, 0,
        "stdout:\n{}\nstderr:\n{}",
        out.stdout, out.stderr
    );
    out
}

/// Runs and expects exit code `code` with one line on stderr containing every one of
/// `needles`.
pub fn fails<S: AsRef<std::ffi::OsStr>>(args: &[S], code: i32, needles: &[&str]) -> Out {
    let out = lazyjit(args);
    assert_eq!(
        out.code, code,
        "stdout:\n{}\nstderr:\n{}",
        out.stdout, out.stderr
    );
    let last = out.stderr.lines().last().unwrap_or_default();
    assert!(last.starts_with("lazyjit: error: "), "{}", out.stderr);
    for n in needles {
        assert!(last.contains(n), "{n:?} not in {last:?}");
    }
    out
}

/// `examples/programs`.
pub fn programs() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/programs")
}

/// Writes `text` to `dir/name` and returns the path as a string.
pub fn file(dir: &Path, name: &str, text: &str) -> String {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p.display().to_string()
}

/// A small program: `y = x * 2 + b` over f32[2, 3] and f32[3].
pub const AXPB: &str = "param %x: f32[2, 3]\nparam %b: f32[3]\n%two: f32[] = constant 2.0\n%xx: f32[2, 3] = mul %x, %two\n%y: f32[2, 3] = add %xx, %b\nreturn %y\n";
