//! Typed errors of the lazy-tensor front end.
//!
//! Every error names where it happened in the user's code: the source location recorded
//! (with `#[track_caller]`) when the tensor op was called, and for execution errors the
//! graph hash of the computation that failed.

use std::fmt;
use std::panic::Location;
use thiserror::Error;

/// A source location in user code (file:line:column), as recorded by `#[track_caller]`.
#[derive(Copy, Clone, PartialEq, Eq, Hash)]
pub struct SourceLoc(pub &'static Location<'static>);

impl SourceLoc {
    /// The location of the caller of the `#[track_caller]` function this is called from.
    #[track_caller]
    pub fn caller() -> SourceLoc {
        SourceLoc(Location::caller())
    }

    /// The source file, as the compiler names it.
    pub fn file(&self) -> &'static str {
        self.0.file()
    }

    /// Line, from 1.
    pub fn line(&self) -> u32 {
        self.0.line()
    }

    /// Column, from 1.
    pub fn column(&self) -> u32 {
        self.0.column()
    }
}

impl fmt::Display for SourceLoc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.0.file(), self.0.line(), self.0.column())
    }
}

impl fmt::Debug for SourceLoc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// Everything that can go wrong when tracing, compiling or running lazy tensors.
#[derive(Debug, Error, Clone, PartialEq)]
pub enum Error {
    /// An op was called with operands or attributes it does not accept (shape, dtype,
    /// axis, ...). Raised at trace time, before anything runs.
    #[error("{op}: {message} (called at {location})")]
    Op {
        /// The op's name (the method called: `matmul`, `reshape`, ...).
        op: &'static str,
        /// What is wrong with the operands or attributes.
        message: String,
        /// Where the op was called.
        location: SourceLoc,
    },
    /// The backend failed to compile a graph (a bug in lazyjit: please report it with the
    /// IR dump of the tensors involved).
    #[error("compiling graph {graph_hash:016x} (roots created at {location}): {source}")]
    Compile {
        /// Hash of the graph that failed ([`crate::graph_hash`]).
        graph_hash: u64,
        /// Where the graph's first root tensor was created.
        location: SourceLoc,
        #[source]
        /// The backend's error.
        source: lazyjit_lowering::Error,
    },
    /// Running a computation failed (for example a gather index out of range).
    #[error("running graph {graph_hash:016x} (roots created at {location}): {source}")]
    Execute {
        /// Hash of the graph that failed ([`crate::graph_hash`]).
        graph_hash: u64,
        /// Where the graph's first root tensor was created.
        location: SourceLoc,
        #[source]
        /// The backend's error.
        source: lazyjit_lowering::Error,
    },
    /// Creating or reading tensor data failed (element count, dtype, allocation).
    #[error("{op}: {message} (called at {location})")]
    Data {
        /// The function called (`from_vec`, `to_vec`, ...).
        op: &'static str,
        /// What is wrong with the data.
        message: String,
        /// Where the function was called.
        location: SourceLoc,
    },
    /// A configuration value is invalid (an unknown backend name, an unparsable number).
    #[error("configuration: {0}")]
    Config(String),
    /// A compiled function ([`crate::CompiledFn`]) was called with inputs (or output
    /// tensors) that do not fit its signature: the message names what it takes and what
    /// it got.
    #[error("compiled function {function}: {message} (called at {location})")]
    Function {
        /// The function's name ([`crate::CompiledFn::named`]; by default where its closure is).
        function: String,
        /// What it takes and what it got.
        message: String,
        /// Where the function was called.
        location: SourceLoc,
    },
    /// A dataset file is missing, unreadable, truncated or malformed.
    #[error("{path}: {message}")]
    Dataset {
        /// The file (or the dataset's directory).
        path: String,
        /// What is wrong with it.
        message: String,
    },
    /// Saving or loading module parameters (a safetensors file, `crate::nn::save` and
    /// `crate::nn::load`) failed: what went wrong, and the parameter concerned when there
    /// is one (named by its dotted path).
    #[error("{path}: {message}")]
    Checkpoint {
        /// The file.
        path: String,
        /// What kind of problem it is.
        kind: CheckpointErrorKind,
        /// The parameter's dotted name, when the problem concerns one.
        parameter: Option<String>,
        /// What exactly is wrong.
        message: String,
    },
    /// Reading or writing a tensor file (`.npy`, `.npz`, safetensors; [`crate::io`]) failed:
    /// the file, what kind of problem it was, and what exactly was wrong (the dtype or shape
    /// found and what was expected, where the file ends early, the OS error).
    #[error("{path}: {message}")]
    File {
        /// The file.
        path: String,
        /// What kind of problem it is.
        kind: FileErrorKind,
        /// What exactly is wrong.
        message: String,
    },
}

/// What went wrong in an [`Error::File`].
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum FileErrorKind {
    /// The file could not be opened, read, created, written or renamed (missing file,
    /// permissions, a directory that does not exist).
    Io,
    /// The file is not what its extension says: a bad magic string, a malformed header, a
    /// damaged archive, bytes after the data, invalid bools, duplicate names.
    Format,
    /// The file ends before all the data its header describes.
    Truncated,
    /// The file holds a dtype lazyjit has no type for (or cannot read: a Fortran-order or
    /// big-endian array).
    DType,
    /// A shape or element count is not the one expected, or beyond the size limit.
    Shape,
}

/// What went wrong in an [`Error::Checkpoint`].
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum CheckpointErrorKind {
    /// The file could not be read, written or renamed.
    Io,
    /// The file is not a valid safetensors file, or holds a dtype lazyjit has no type for.
    Format,
    /// The module has a parameter the file does not hold.
    Missing,
    /// The file holds a tensor the module has no parameter for.
    Unexpected,
    /// A tensor's dtype differs from its parameter's.
    DType,
    /// A tensor's shape differs from its parameter's.
    Shape,
}

/// Result type of the lazy-tensor API.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// The user source location the error points at, when it has one.
    pub fn location(&self) -> Option<SourceLoc> {
        match self {
            Error::Op { location, .. }
            | Error::Compile { location, .. }
            | Error::Execute { location, .. }
            | Error::Data { location, .. }
            | Error::Function { location, .. } => Some(*location),
            Error::Config(_)
            | Error::Dataset { .. }
            | Error::Checkpoint { .. }
            | Error::File { .. } => None,
        }
    }

    pub(crate) fn op(op: &'static str, message: impl Into<String>, location: SourceLoc) -> Error {
        Error::Op {
            op,
            message: message.into(),
            location,
        }
    }

    pub(crate) fn data(op: &'static str, message: impl Into<String>, location: SourceLoc) -> Error {
        Error::Data {
            op,
            message: message.into(),
            location,
        }
    }
}
