//! Typed errors of the lowering crate.

use crate::program::Violation;
use thiserror::Error;

/// Everything that can go wrong in parsing, verifying, compiling or running a program.
#[derive(Debug, Error, Clone, PartialEq)]
pub enum Error {
    /// Malformed program text.
    #[error("parse error at {line}:{col}: {message}")]
    Parse {
        line: u32,
        col: u32,
        message: String,
    },
    /// The program breaks shape, dtype or structure rules; every violation is listed.
    #[error("program failed verification:\n{}", list(.0))]
    Verify(Vec<Violation>),
    /// Input buffers do not match the program (count, dtype, shape).
    #[error("bad input: {0}")]
    Input(String),
    /// Tensor construction or access with the wrong element count or dtype.
    #[error("bad tensor data: {0}")]
    Data(String),
    /// An index operand held a value outside the indexed axis.
    #[error("{op} (value %{value}): index {index} is out of range for axis {axis} of size {size}")]
    IndexOutOfRange {
        op: &'static str,
        value: u32,
        index: i64,
        axis: usize,
        size: usize,
    },
    /// Cranelift rejected the generated code (a bug in lazyjit: please report it).
    #[error("code generation failed: {0}")]
    Codegen(String),
}

fn list(v: &[Violation]) -> String {
    v.iter()
        .map(|x| format!("  {x}"))
        .collect::<Vec<_>>()
        .join("\n")
}
