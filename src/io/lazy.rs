//! The tensor-file methods of [`LazyTensor`]: reads make data tensors, writes sync first
//! (all the tensors of one file in one computation).

use crate::error::Result;
use crate::tensor::{self, LazyTensor};
use lazyjit_lowering::Tensor;
use std::path::Path;

/// Syncs `tensors` together and returns each one's data (shared, no copy).
#[track_caller]
fn synced(tensors: &[(&str, &LazyTensor)]) -> Result<Vec<std::sync::Arc<Tensor>>> {
    let all: Vec<&LazyTensor> = tensors.iter().map(|(_, t)| *t).collect();
    tensor::sync(&all)?;
    all.iter().map(|t| t.data()).collect()
}

fn lazy_named(named: Vec<(String, Tensor)>) -> Vec<(String, LazyTensor)> {
    named
        .into_iter()
        .map(|(n, t)| (n, LazyTensor::from_tensor(t)))
        .collect()
}

fn write_named(
    tensors: &[(&str, &LazyTensor)],
    data: &[std::sync::Arc<Tensor>],
    write: impl FnOnce(&[(&str, &Tensor)]) -> Result<()>,
) -> Result<()> {
    let named: Vec<(&str, &Tensor)> = tensors
        .iter()
        .zip(data)
        .map(|((n, _), d)| (*n, &**d))
        .collect();
    write(&named)
}

impl LazyTensor {
    /// A data tensor holding an `.npy` file's array ([`crate::io::read_npy`]).
    ///
    /// ```
    /// use lazyjit::LazyTensor;
    /// let dir = tempfile::tempdir().unwrap();
    /// let path = dir.path().join("t.npy");
    /// LazyTensor::arange(0i64, 4, 1)?.reshape(&[2, 2])?.write_npy(&path)?;
    /// let t = LazyTensor::read_npy(&path)?;
    /// assert_eq!((t.shape(), t.to_vec::<i64>()?), (&[2usize, 2][..], vec![0, 1, 2, 3]));
    /// # Ok::<(), lazyjit::Error>(())
    /// ```
    #[cfg(feature = "npy")]
    pub fn read_npy(path: impl AsRef<Path>) -> Result<LazyTensor> {
        Ok(LazyTensor::from_tensor(crate::io::read_npy(path)?))
    }

    /// Writes the tensor's value as an `.npy` file, atomically ([`crate::io::write_npy`]);
    /// syncs it first if it is pending.
    #[cfg(feature = "npy")]
    #[track_caller]
    pub fn write_npy(&self, path: impl AsRef<Path>) -> Result<()> {
        crate::io::write_npy(path, &*self.data()?)
    }

    /// Data tensors of every array of an `.npz` file, in order ([`crate::io::read_npz`]).
    #[cfg(feature = "npy")]
    pub fn read_npz(path: impl AsRef<Path>) -> Result<Vec<(String, LazyTensor)>> {
        Ok(lazy_named(crate::io::read_npz(path)?))
    }

    /// Writes named tensors as an `.npz` file, atomically ([`crate::io::write_npz`]); the
    /// pending ones are synced together first, as one computation.
    ///
    /// ```
    /// use lazyjit::LazyTensor;
    /// let dir = tempfile::tempdir().unwrap();
    /// let path = dir.path().join("pair.npz");
    /// let a = LazyTensor::from_vec(vec![1.0f32, 2.0], &[2])?;
    /// let b = a.exp()?;
    /// LazyTensor::write_npz(&path, &[("a", &a), ("b", &b)])?;
    /// let back = LazyTensor::read_npz(&path)?;
    /// assert_eq!(back[1].0, "b");
    /// assert_eq!(back[1].1.to_vec::<f32>()?, b.to_vec::<f32>()?);
    /// # Ok::<(), lazyjit::Error>(())
    /// ```
    #[cfg(feature = "npy")]
    #[track_caller]
    pub fn write_npz(path: impl AsRef<Path>, tensors: &[(&str, &LazyTensor)]) -> Result<()> {
        let data = synced(tensors)?;
        write_named(tensors, &data, |named| crate::io::write_npz(path, named))
    }

    /// Data tensors of every tensor of a safetensors file, sorted by name
    /// ([`crate::io::read_safetensors`]).
    #[cfg(feature = "safetensors")]
    pub fn read_safetensors(path: impl AsRef<Path>) -> Result<Vec<(String, LazyTensor)>> {
        Ok(lazy_named(crate::io::read_safetensors(path)?))
    }

    /// Writes named tensors as a safetensors file, atomically
    /// ([`crate::io::write_safetensors`]); the pending ones are synced together first.
    ///
    /// ```
    /// use lazyjit::LazyTensor;
    /// let dir = tempfile::tempdir().unwrap();
    /// let path = dir.path().join("state.safetensors");
    /// let w = LazyTensor::ones(&[2, 3], lazyjit::DType::F64)?;
    /// LazyTensor::write_safetensors(&path, &[("w", &w.mul_scalar(3.0f64)?)])?;
    /// let back = LazyTensor::read_safetensors(&path)?;
    /// assert_eq!(back[0].1.to_vec::<f64>()?, vec![3.0; 6]);
    /// # Ok::<(), lazyjit::Error>(())
    /// ```
    #[cfg(feature = "safetensors")]
    #[track_caller]
    pub fn write_safetensors(
        path: impl AsRef<Path>,
        tensors: &[(&str, &LazyTensor)],
    ) -> Result<()> {
        let data = synced(tensors)?;
        write_named(tensors, &data, |named| {
            crate::io::write_safetensors(path, named)
        })
    }
}
