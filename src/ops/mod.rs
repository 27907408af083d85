//! Ops on [`LazyTensor`]: every op of the program format, plus composites.
//!
//! Every method records IR (nothing runs), checks shapes and dtypes now and returns an
//! [`Error::Op`](crate::Error::Op) naming the op, the operand types and the caller's source
//! location. Binary ops broadcast numpy-style and need operands of one dtype (no implicit
//! promotion: use [`LazyTensor::cast`]).

mod elementwise;

pub use elementwise::ScalarArg;
