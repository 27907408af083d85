//! Saving and loading parameters as safetensors files, under their dotted names.

use super::Module;
use crate::error::{CheckpointErrorKind, Error, Result};
use crate::tensor::LazyTensor;
use lazyjit_lowering::DType;
use safetensors::tensor::{Dtype, SafeTensors, TensorView};
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

fn to_safetensors(d: DType) -> Dtype {
    match d {
        DType::F32 => Dtype::F32,
        DType::F64 => Dtype::F64,
        DType::I32 => Dtype::I32,
        DType::I64 => Dtype::I64,
        DType::Bool => Dtype::BOOL,
    }
}

fn from_safetensors(d: Dtype) -> Option<DType> {
    Some(match d {
        Dtype::F32 => DType::F32,
        Dtype::F64 => DType::F64,
        Dtype::I32 => DType::I32,
        Dtype::I64 => DType::I64,
        Dtype::BOOL => DType::Bool,
        _ => return None,
    })
}

/// The tensor's value as little-endian bytes (reads it: a sync if it is pending).
fn le_bytes(t: &LazyTensor) -> Result<Vec<u8>> {
    Ok(match t.dtype() {
        DType::F32 => t
            .to_vec::<f32>()?
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect(),
        DType::F64 => t
            .to_vec::<f64>()?
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect(),
        DType::I32 => t
            .to_vec::<i32>()?
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect(),
        DType::I64 => t
            .to_vec::<i64>()?
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect(),
        DType::Bool => t.to_vec::<bool>()?.iter().map(|&v| v as u8).collect(),
    })
}

/// A data tensor of `dtype[shape]` from little-endian bytes (length already checked).
fn from_le_bytes(dtype: DType, shape: &[usize], b: &[u8]) -> Result<LazyTensor> {
    fn chunks<const N: usize, T>(b: &[u8], f: impl Fn([u8; N]) -> T) -> Vec<T> {
        b.chunks_exact(N)
            .map(|c| f(c.try_into().expect("chunks_exact gives N bytes")))
            .collect()
    }
    match dtype {
        DType::F32 => LazyTensor::from_vec(chunks(b, f32::from_le_bytes), shape),
        DType::F64 => LazyTensor::from_vec(chunks(b, f64::from_le_bytes), shape),
        DType::I32 => LazyTensor::from_vec(chunks(b, i32::from_le_bytes), shape),
        DType::I64 => LazyTensor::from_vec(chunks(b, i64::from_le_bytes), shape),
        DType::Bool => LazyTensor::from_vec(b.iter().map(|&v| v != 0).collect(), shape),
    }
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
        let view = TensorView::new(to_safetensors(*dtype), shape.clone(), bytes).map_err(|e| {
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
    write_atomically(path, &bytes)
}

/// Writes `bytes` to a temporary file in `path`'s folder, flushes it to disk and renames
/// it to `path`.
fn write_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    use std::io::Write;
    let io = |what: &str, e: std::io::Error| {
        err(path, CheckpointErrorKind::Io, None, format!("{what}: {e}"))
    };
    let file_name = path
        .file_name()
        .ok_or_else(|| io("saving", std::io::Error::other("the path has no file name")))?;
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let mut tmp_name = std::ffi::OsString::from(".");
    tmp_name.push(file_name);
    tmp_name.push(format!(".tmp-{}-{nanos}", std::process::id()));
    let tmp = path.with_file_name(tmp_name);
    let result = (|| {
        let mut f = std::fs::File::create(&tmp).map_err(|e| io("creating a temporary file", e))?;
        f.write_all(bytes).map_err(|e| io("writing", e))?;
        f.sync_all().map_err(|e| io("flushing", e))?;
        drop(f);
        std::fs::rename(&tmp, path).map_err(|e| io("renaming the temporary file", e))
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
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
        let dtype = from_safetensors(view.dtype()).ok_or_else(|| {
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
        values.push(from_le_bytes(dtype, view.shape(), view.data())?);
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
