//! Ops on [`LazyTensor`]: every op of the program format, plus composites.
//!
//! Every method records IR (nothing runs), checks shapes and dtypes now and returns an
//! [`Error::Op`](crate::Error::Op) naming the op, the operand types and the caller's source
//! location. Binary ops broadcast numpy-style and need operands of one dtype (no implicit
//! promotion: use [`LazyTensor::cast`]). Axes given as `isize` count from the end when
//! negative (Python style).
//!
//! The Rust operators (`+ - * /`, unary `-`; see `overload.rs`) record the same IR but
//! **panic** on bad input, with the op's error message; the methods return `Result`.
//!
//! | module | ops |
//! |---|---|
//! | `elementwise` | unary and binary elementwise ops, ops with Rust scalars, `where_`, `cast` |
//! | `reduce` | `sum`, `mean`, `max`, `min`, `prod` (and their `_keepdim` forms), `argmax`, `argmin`, `*_all`, `var`, `std`, `logsumexp` |
//! | `shape` | `reshape`, `permute`, `transpose`, `t`, `expand`, `slice`, `narrow`, `concat`, `pad`, `flatten`, `squeeze`, `unsqueeze` |
//! | `index` | `gather`, `index_select`, `scatter_add` |
//! | `indexing` | `i` (the [`IndexOp`] trait: integers and ranges per axis, [`Idx`]), `get` (one element) |
//! | `random` | `random_uniform` (counter-based, in the graph) |
//! | `linalg` | `matmul`, `linear` |
//! | `conv` | `conv2d` (im2col through layout ops and one batched matmul), `max_pool2d`, `avg_pool2d` (NCHW) |
//! | `composite` | `softmax`, `log_softmax`, `clamp`, `square`, `silu`, `gelu`, `leaky_relu`, `mse_loss`, `nll_loss`, `cross_entropy` |
//! | `overload` | `std::ops` operators (panicking) |
//!
//! [`LazyTensor`]: crate::LazyTensor
//! [`LazyTensor::cast`]: crate::LazyTensor::cast

mod composite;
mod conv;
mod elementwise;
mod index;
mod indexing;
mod linalg;
mod overload;
mod random;
mod reduce;
mod shape;

pub use elementwise::ScalarArg;
pub use indexing::{Idx, IndexOp};
pub use reduce::Axes;
