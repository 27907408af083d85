//! Typed errors of the lazy-tensor front end.
//!
//! Every error names where it happened in the user's code: the source location recorded
//! (with `#[track_caller]`) when the tensor op was called, and for execution errors the
//! graph hash of the computation that failed.
//!
//! A variant that wraps another error returns it from [`std::error::Error::source`] and
//! does not repeat it in its own message, so a chain printer (`anyhow`'s `{:#}`, the
//! `lazyjit` binary) prints every cause once: `running graph 00ab... (roots created at
//! src/main.rs:9:13) failed: gather (value %3): index 5 is out of range ...`. [`Error::chain`]
//! formats that whole chain for callers without such a printer.

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
///
/// Its `Debug` prints graph hashes in hex, as every message, log and dump does.
#[derive(Error, Clone, PartialEq)]
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
    /// IR dump of the tensors involved). The message names the graph; the reason is the
    /// [`source`](std::error::Error::source) (see [`Error::chain`]).
    #[error("compiling graph {} (roots created at {location}) failed", Hex(*.graph_hash))]
    Compile {
        /// Hash of the graph that failed ([`crate::graph_hash`]).
        graph_hash: u64,
        /// Where the graph's first root tensor was created.
        location: SourceLoc,
        #[source]
        /// The backend's error.
        source: lazyjit_lowering::Error,
    },
    /// Running a computation failed (for example a gather index out of range). The message
    /// names the graph; the reason is the [`source`](std::error::Error::source) (see
    /// [`Error::chain`]).
    #[error("running graph {} (roots created at {location}) failed", Hex(*.graph_hash))]
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

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Op {
                op,
                message,
                location,
            } => f
                .debug_struct("Op")
                .field("op", op)
                .field("message", message)
                .field("location", location)
                .finish(),
            Error::Compile {
                graph_hash,
                location,
                source,
            } => f
                .debug_struct("Compile")
                .field("graph_hash", &Hex(*graph_hash))
                .field("location", location)
                .field("source", source)
                .finish(),
            Error::Execute {
                graph_hash,
                location,
                source,
            } => f
                .debug_struct("Execute")
                .field("graph_hash", &Hex(*graph_hash))
                .field("location", location)
                .field("source", source)
                .finish(),
            Error::Data {
                op,
                message,
                location,
            } => f
                .debug_struct("Data")
                .field("op", op)
                .field("message", message)
                .field("location", location)
                .finish(),
            Error::Config(m) => f.debug_tuple("Config").field(m).finish(),
            Error::Function {
                function,
                message,
                location,
            } => f
                .debug_struct("Function")
                .field("function", function)
                .field("message", message)
                .field("location", location)
                .finish(),
            Error::Dataset { path, message } => f
                .debug_struct("Dataset")
                .field("path", path)
                .field("message", message)
                .finish(),
            Error::Checkpoint {
                path,
                kind,
                parameter,
                message,
            } => f
                .debug_struct("Checkpoint")
                .field("path", path)
                .field("kind", kind)
                .field("parameter", parameter)
                .field("message", message)
                .finish(),
            Error::File {
                path,
                kind,
                message,
            } => f
                .debug_struct("File")
                .field("path", path)
                .field("kind", kind)
                .field("message", message)
                .finish(),
        }
    }
}

/// A graph hash as it is printed everywhere (messages, `Debug`, logs, dumps, explanations):
/// 16 lowercase hex digits.
#[derive(Copy, Clone, PartialEq, Eq)]
pub(crate) struct Hex(pub u64);

impl fmt::Display for Hex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:016x}", self.0)
    }
}

impl fmt::Debug for Hex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
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

    /// The error and every cause below it, each once, joined by `": "` (what `anyhow`
    /// prints with `{:#}`): the message of an [`Error::Execute`] names the graph, its
    /// cause says why it failed.
    ///
    /// ```
    /// use lazyjit::LazyTensor;
    /// let src = LazyTensor::from_vec(vec![1.0f32, 2.0], &[2])?;
    /// let idx = LazyTensor::from_vec(vec![7i64], &[1])?;
    /// let e = src.gather(0, &idx)?.to_vec::<f32>().unwrap_err();
    /// assert!(matches!(e, lazyjit::Error::Execute { .. }));
    /// assert!(e.to_string().starts_with("running graph "));
    /// assert!(!e.to_string().contains("out of range"));
    /// assert!(e.chain().contains(") failed: gather"), "{}", e.chain());
    /// assert_eq!(e.chain().matches("out of range").count(), 1);
    /// # Ok::<(), lazyjit::Error>(())
    /// ```
    pub fn chain(&self) -> String {
        let mut out = self.to_string();
        let mut cause = std::error::Error::source(self);
        while let Some(c) = cause {
            out.push_str(": ");
            out.push_str(&c.to_string());
            cause = c.source();
        }
        out
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

#[cfg(test)]
mod tests {
    use super::*;
    use lazyjit_lowering::Error as LowerError;

    #[track_caller]
    fn here() -> SourceLoc {
        SourceLoc::caller()
    }

    /// One error of every variant; the wrapping ones around each kind of lowering error.
    fn every_variant() -> Vec<Error> {
        let causes = [
            LowerError::IndexOutOfRange {
                op: "gather",
                value: 3,
                index: 7,
                axis: 0,
                size: 2,
            },
            LowerError::Codegen("verifier: bad block".into()),
            LowerError::Input("expected 2 inputs, got 1".into()),
            LowerError::Data("cannot allocate 1 TiB".into()),
        ];
        let mut all = Vec::new();
        for source in causes {
            all.push(Error::Compile {
                graph_hash: 0x00ab_cdef_0123_4567,
                location: here(),
                source: source.clone(),
            });
            all.push(Error::Execute {
                graph_hash: 0x00ab_cdef_0123_4567,
                location: here(),
                source,
            });
        }
        all.extend([
            Error::op("add", "operands of one dtype", here()),
            Error::data("from_vec", "6 values for shape [2, 2]", here()),
            Error::Config("unknown backend".into()),
            Error::Function {
                function: "f".into(),
                message: "takes 2 inputs".into(),
                location: here(),
            },
            Error::Dataset {
                path: "x.idx".into(),
                message: "truncated".into(),
            },
            Error::Checkpoint {
                path: "m.safetensors".into(),
                kind: CheckpointErrorKind::Missing,
                parameter: Some("fc.weight".into()),
                message: "no tensor fc.weight".into(),
            },
            Error::File {
                path: "a.npy".into(),
                kind: FileErrorKind::Format,
                message: "bad magic".into(),
            },
        ]);
        all
    }

    #[test]
    fn no_message_repeats_its_source() {
        for e in every_variant() {
            let mut cur: &dyn std::error::Error = &e;
            while let Some(next) = cur.source() {
                let (mine, theirs) = (cur.to_string(), next.to_string());
                assert!(
                    !mine.contains(&theirs),
                    "{mine:?} repeats its source {theirs:?}"
                );
                cur = next;
            }
        }
    }

    #[test]
    fn anyhow_prints_each_cause_once() {
        for e in every_variant() {
            let inner = std::error::Error::source(&e).map(|s| s.to_string());
            let chain = e.chain();
            let printed = format!("{:#}", anyhow::Error::new(e));
            assert_eq!(printed, chain);
            if let Some(inner) = inner {
                assert_eq!(printed.matches(&inner).count(), 1, "{printed}");
            }
        }
    }

    #[test]
    fn wrapping_errors_name_the_graph_in_hex_and_the_cause_says_why() {
        let e = Error::Execute {
            graph_hash: 0xab,
            location: here(),
            source: LowerError::Input("expected f32[2]".into()),
        };
        let plain = e.to_string();
        assert!(plain.starts_with("running graph 00000000000000ab (roots created at "));
        assert!(plain.ends_with(") failed"), "{plain}");
        assert!(e.chain().ends_with(") failed: bad input: expected f32[2]"));
        assert!(
            format!("{e:?}").contains("graph_hash: 00000000000000ab"),
            "{e:?}"
        );
        let c = Error::Compile {
            graph_hash: 0xab,
            location: here(),
            source: LowerError::Codegen("x".into()),
        };
        assert!(c
            .to_string()
            .starts_with("compiling graph 00000000000000ab "));
        assert!(format!("{c:?}").contains("graph_hash: 00000000000000ab"));
    }
}
