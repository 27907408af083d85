//! Datasets for training and examples: IDX files (MNIST's format, plain or gzip) and an
//! image-classification [`Dataset`] read from an MNIST-layout folder, with seeded batching into
//! lazy tensors. The 8x8 UCI digits in `examples/data/digits` use the same layout, so what
//! reads one reads the other.

mod dataset;
mod idx;

pub use dataset::{Dataset, Split, MNIST_MEAN, MNIST_STD};
pub use idx::{parse_idx, read_idx, IdxArray, MAX_IDX_BYTES};
