//! Typed errors of the lowering crate.

use crate::program::Violation;
use thiserror::Error;

/// Everything that can go wrong in parsing, verifying, compiling or running a program.
#[derive(Debug, Error, Clone, PartialEq)]
pub enum Error {
    /// Malformed program text.
    #[error("parse error at {line}:{col}: {message}")]
    Parse {
        /// Line of the offending token, from 1.
        line: u32,
        /// Column of the offending token, from 1.
        col: u32,
        /// What is wrong.
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
        /// Text name of the indexing op: `gather`, `index_select` or `scatter_add`.
        op: &'static str,
        /// The value (`%n`) of the instruction whose index operand was out of range.
        value: u32,
        /// An offending index (the reference interpreter reports the first in row-major order).
        index: i64,
        /// The indexed axis of the op's data operand.
        axis: usize,
        /// Size of that axis: valid indices are `0..size`.
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
