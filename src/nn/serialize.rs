//! Saving and loading parameters as safetensors files, under their dotted names.

use super::Module;
use crate::error::{CheckpointErrorKind, Error, Result};
use crate::io;
use crate::tensor::LazyTensor;
use lazyjit_lowering::DType;
use safetensors::tensor::{SafeTensors, TensorView};
use std::collections::BTreeMap;
use std::path::Path;

fn err(path: &Path, kind: CheckpointErrorKind, parameter: Option<&str>, message: String) -> Error {
    Error::Checkpoint {
        path: path.display().to_string(),
        kind,
        parameter: parameter.map(str::to_string),
        message,
    }
}

/// The tensor's value as little-endian bytes (reads it: a sync if it is pending).
fn le_bytes(t: &LazyTensor) -> Result<Vec<u8>> {
    Ok(io::tensor_le_bytes(&*t.data()?))
}

/// Saves every parameter of `module` to a safetensors file at `path`, each under its
/// dotted name ([`Module::named_parameters`]). Reads the parameters (a sync if any is
/// pending). The file is written to a temporary file beside `path` and renamed over it,
/// so a crash never leaves a half-written file at `path`.
///
/// ```
/// use lazyjit::nn::{self, Linear, Module};
/// use lazyjit::LazyTensor;
/// let path = std::env::temp_dir().join(format!("lazyjit-doc-save-{}.safetensors", std::process::id()));
/// let fc = Linear::new(3, 2, 1)?;
/// nn::save(&fc, &path)?;
/// let mut other = Linear::new(3, 2, 99)?; // another initialisation
/// nn::load(&mut other, &path)?;
/// let x = LazyTensor::from_vec(vec![0.1f32, 0.2, 0.3], &[1, 3])?;
/// assert_eq!(other.forward(&x)?.to_vec::<f32>()?, fc.forward(&x)?.to_vec::<f32>()?);
/// // A module with other parameters is refused, naming the parameter.
/// let mut wrong = Linear::new(4, 2, 1)?;
/// let e = nn::load(&mut wrong, &path).unwrap_err();
/// assert!(e.to_string().contains("weight"));
/// std::fs::remove_file(&path).unwrap();
/// # Ok::<(), lazyjit::Error>(())
/// ```
pub fn save<M: Module + ?Sized>(module: &M, path: impl AsRef<Path>) -> Result<()> {
    save_named(&module.named_parameters(), path)
}

/// [`save`] for any named tensors (for example optimizer state next to a model's
/// parameters). Names must be distinct.
pub fn save_named(tensors: &[(String, LazyTensor)], path: impl AsRef<Path>) -> Result<()> {
    let path = path.as_ref();
    let mut data: BTreeMap<&str, (DType, Vec<usize>, Vec<u8>)> = BTreeMap::new();
    for (name, t) in tensors {
        let bytes = le_bytes(t)?;
        if data
            .insert(name, (t.dtype(), t.shape().to_vec(), bytes))
            .is_some()
        {
            return Err(err(
                path,
                CheckpointErrorKind::Format,
                Some(name),
                format!("two tensors are named `{name}`"),
            ));
        }
    }
    let mut views = Vec::with_capacity(data.len());
    for (name, (dtype, shape, bytes)) in &data {
        let view = TensorView::new(io::to_safetensors_dtype(*dtype), shape.clone(), bytes)
            .map_err(|e| {
                err(
                    path,
                    CheckpointErrorKind::Format,
                    Some(name),
                    format!("parameter `{name}`: {e}"),
                )
            })?;
        views.push((*name, view));
    }
    let bytes = safetensors::serialize(views, None).map_err(|e| {
        err(
            path,
            CheckpointErrorKind::Format,
            None,
            format!("serializing: {e}"),
        )
    })?;
    io::write_atomically(path, &bytes).map_err(|m| err(path, CheckpointErrorKind::Io, None, m))
}

/// Loads the parameters of `module` from a safetensors file written by [`save`]: every
/// parameter must be in the file under its dotted name with its dtype and shape, and the
/// file must hold nothing else; otherwise nothing is changed and the error
/// ([`Error::Checkpoint`]) names the first offending parameter. Each parameter is
/// [assigned](LazyTensor::assign) in place, so optimizers holding it see the loaded value.
pub fn load<M: Module + ?Sized>(module: &mut M, path: impl AsRef<Path>) -> Result<()> {
    let params = module.named_parameters();
    load_named(&params, path)
}

/// [`load`] into any named tensors (assigned in place; all checked before any is changed).
pub fn load_named(tensors: &[(String, LazyTensor)], path: impl AsRef<Path>) -> Result<()> {
    let path = path.as_ref();
    let bytes = std::fs::read(path)
        .map_err(|e| err(path, CheckpointErrorKind::Io, None, format!("reading: {e}")))?;
    let file = SafeTensors::deserialize(&bytes).map_err(|e| {
        err(
            path,
            CheckpointErrorKind::Format,
            None,
            format!("not a valid safetensors file: {e}"),
        )
    })?;
    let mut values = Vec::with_capacity(tensors.len());
    for (name, p) in tensors {
        let view = file.tensor(name).map_err(|_| {
            err(
                path,
                CheckpointErrorKind::Missing,
                Some(name),
                format!(
                    "the file has no tensor `{name}` for the parameter {} of that name",
                    p.ty()
                ),
            )
        })?;
        let (dtype, _) = io::from_safetensors_dtype(view.dtype()).ok_or_else(|| {
            err(
                path,
                CheckpointErrorKind::Format,
                Some(name),
                format!(
                    "tensor `{name}` has dtype {:?}, which lazyjit has no type for",
                    view.dtype()
                ),
            )
        })?;
        if dtype != p.dtype() {
            return Err(err(
                path,
                CheckpointErrorKind::DType,
                Some(name),
                format!(
                    "tensor `{name}` is {dtype} in the file but the parameter is {}",
                    p.ty()
                ),
            ));
        }
        if view.shape() != p.shape() {
            return Err(err(
                path,
                CheckpointErrorKind::Shape,
                Some(name),
                format!(
                    "tensor `{name}` has shape {:?} in the file but the parameter is {}",
                    view.shape(),
                    p.ty()
                ),
            ));
        }
        let value = io::tensor_from_le_bytes(view.dtype(), view.shape(), view.data())
            .map_err(|m| err(path, CheckpointErrorKind::Format, Some(name), m))?;
        values.push(LazyTensor::from_tensor(value));
    }
    let mut extra: Vec<&str> = file
        .names()
        .into_iter()
        .filter(|n| !tensors.iter().any(|(name, _)| name == n))
        .collect();
    extra.sort_unstable();
    if let Some(first) = extra.first() {
        return Err(err(
            path,
            CheckpointErrorKind::Unexpected,
            Some(first),
            format!(
                "the file holds tensor{} {} that the module has no parameter for",
                if extra.len() > 1 { "s" } else { "" },
                extra
                    .iter()
                    .map(|n| format!("`{n}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        ));
    }
    for ((_, p), v) in tensors.iter().zip(values) {
        p.assign(&v)?;
    }
    Ok(())
}
