//! `nn::save` / `nn::load`: a round trip gives bit-identical outputs, optimizers keep
//! their handles, every error case names the parameter and changes nothing, and the write
//! is atomic (no temporary file left behind).

use crate::support;
use crate::R;
use lazyjit::error::CheckpointErrorKind;
use lazyjit::nn::{self, LayerNorm, Linear, Module, ReLU, Sequential};
use lazyjit::{DType, Error, LazyTensor};
use std::path::PathBuf;

/// A fresh folder for one test's files.
fn dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("lazyjit-nn-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn mlp(seed: u64) -> R<Sequential> {
    Ok(Sequential::new()
        .add_named("fc1", Linear::new(5, 7, seed)?)
        .add(ReLU::new())
        .add_named("norm", LayerNorm::new(&[7])?)
        .add_named("fc2", Linear::new(7, 3, seed + 1)?))
}

fn values(m: &dyn Module) -> R<Vec<(String, Vec<f32>)>> {
    m.named_parameters()
        .into_iter()
        .map(|(n, p)| Ok((n, p.to_vec::<f32>()?)))
        .collect()
}

#[track_caller]
fn checkpoint_error(e: Error) -> (CheckpointErrorKind, Option<String>, String) {
    match e {
        Error::Checkpoint {
            kind,
            parameter,
            message,
            ..
        } => (kind, parameter, message),
        other => panic!("expected a checkpoint error, got {other:?}"),
    }
}

#[test]
fn round_trip_is_bit_identical() -> R {
    let _g = support::serial();
    let d = dir("round-trip");
    let path = d.join("model.safetensors");
    let model = mlp(1)?;
    // Train-like changes first, so the saved values are computed ones.
    for (_, p) in model.named_parameters() {
        lazyjit::autograd::no_grad(|| p.assign(&p.mul_scalar(1.5)?.add_scalar(0.01)?))?;
    }
    nn::save(&model, &path)?;
    let mut loaded = mlp(100)?;
    let handles = loaded.parameters();
    assert_ne!(values(&loaded)?, values(&model)?);
    nn::load(&mut loaded, &path)?;
    assert_eq!(values(&loaded)?, values(&model)?);
    let x = LazyTensor::rand_uniform_seeded(&[4, 5], DType::F32, -2.0, 2.0, 3)?;
    let a = model.forward(&x)?.to_vec::<f32>()?;
    let b = loaded.forward(&x)?.to_vec::<f32>()?;
    assert_eq!(
        a.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
        b.iter().map(|v| v.to_bits()).collect::<Vec<_>>()
    );
    // Loading assigns in place: handles taken before (an optimizer's) see the values.
    for (h, (_, p)) in handles.iter().zip(loaded.named_parameters()) {
        assert_eq!(h.id(), p.id());
        assert!(h.requires_grad());
    }
    // Saving over an existing file replaces it and leaves only it in the folder.
    nn::save(&loaded, &path)?;
    let files: Vec<_> = std::fs::read_dir(&d)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(files, [std::ffi::OsString::from("model.safetensors")]);
    // The file is a standard safetensors file with the dotted names.
    let bytes = std::fs::read(&path).unwrap();
    let header_len = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    let header = std::str::from_utf8(&bytes[8..8 + header_len]).unwrap();
    for name in [
        "fc1.weight",
        "fc1.bias",
        "norm.weight",
        "norm.bias",
        "fc2.weight",
        "fc2.bias",
    ] {
        assert!(header.contains(&format!("\"{name}\"")), "{header}");
    }
    assert!(header.contains("\"F32\""));
    std::fs::remove_dir_all(&d).unwrap();
    Ok(())
}

#[test]
fn f64_round_trip() -> R {
    let _g = support::serial();
    let d = dir("f64");
    let path = d.join("f64.safetensors");
    let fc = Linear::with_options(3, 2, true, DType::F64, 4)?;
    nn::save(&fc, &path)?;
    let mut other = Linear::with_options(3, 2, true, DType::F64, 5)?;
    nn::load(&mut other, &path)?;
    assert_eq!(
        other.weight().to_vec::<f64>()?,
        fc.weight().to_vec::<f64>()?
    );
    std::fs::remove_dir_all(&d).unwrap();
    Ok(())
}

#[test]
fn load_errors_name_the_parameter_and_change_nothing() -> R {
    let _g = support::serial();
    let d = dir("errors");
    let path = d.join("m.safetensors");
    nn::save(&mlp(1)?, &path)?;

    // Missing: the module has a parameter the file lacks.
    let mut bigger = mlp(2)?.add_named("extra", Linear::new(3, 3, 9)?);
    let before = values(&bigger)?;
    let (kind, param, msg) = checkpoint_error(nn::load(&mut bigger, &path).unwrap_err());
    assert_eq!(kind, CheckpointErrorKind::Missing);
    assert_eq!(param.as_deref(), Some("extra.weight"));
    assert!(msg.contains("extra.weight"), "{msg}");
    assert_eq!(values(&bigger)?, before, "a failed load changes nothing");

    // Unexpected: the file holds a tensor the module lacks.
    let mut smaller = Sequential::new()
        .add_named("fc1", Linear::new(5, 7, 1)?)
        .add(ReLU::new())
        .add_named("norm", LayerNorm::new(&[7])?)
        .add_named("fc2", Linear::with_options(7, 3, false, DType::F32, 2)?);
    let before = values(&smaller)?;
    let (kind, param, msg) = checkpoint_error(nn::load(&mut smaller, &path).unwrap_err());
    assert_eq!(kind, CheckpointErrorKind::Unexpected);
    assert_eq!(param.as_deref(), Some("fc2.bias"));
    assert!(msg.contains("fc2.bias"), "{msg}");
    assert_eq!(values(&smaller)?, before);

    // Shape.
    let mut wide = Sequential::new()
        .add_named("fc1", Linear::new(6, 7, 1)?)
        .add(ReLU::new())
        .add_named("norm", LayerNorm::new(&[7])?)
        .add_named("fc2", Linear::new(7, 3, 2)?);
    let (kind, param, msg) = checkpoint_error(nn::load(&mut wide, &path).unwrap_err());
    assert_eq!(kind, CheckpointErrorKind::Shape);
    assert_eq!(param.as_deref(), Some("fc1.weight"));
    assert!(
        msg.contains("fc1.weight") && msg.contains("[7, 5]"),
        "{msg}"
    );

    // DType.
    let mut doubles = Sequential::new()
        .add_named("fc1", Linear::with_options(5, 7, true, DType::F64, 1)?)
        .add(ReLU::new())
        .add_named("norm", LayerNorm::new(&[7])?)
        .add_named("fc2", Linear::new(7, 3, 2)?);
    let (kind, param, msg) = checkpoint_error(nn::load(&mut doubles, &path).unwrap_err());
    assert_eq!(kind, CheckpointErrorKind::DType);
    assert_eq!(param.as_deref(), Some("fc1.weight"));
    assert!(msg.contains("f32") || msg.contains("F32"), "{msg}");

    // No file; not a safetensors file.
    let (kind, param, _) =
        checkpoint_error(nn::load(&mut mlp(1)?, d.join("nope.safetensors")).unwrap_err());
    assert_eq!((kind, param), (CheckpointErrorKind::Io, None));
    let junk = d.join("junk.safetensors");
    std::fs::write(&junk, b"definitely not a safetensors header").unwrap();
    let e = nn::load(&mut mlp(1)?, &junk).unwrap_err();
    assert!(e.to_string().contains("junk.safetensors"), "{e}");
    assert_eq!(checkpoint_error(e).0, CheckpointErrorKind::Format);

    // Saving into a folder that does not exist fails cleanly.
    let (kind, _, _) =
        checkpoint_error(nn::save(&mlp(1)?, d.join("no/such/dir/m.safetensors")).unwrap_err());
    assert_eq!(kind, CheckpointErrorKind::Io);
    // Two tensors of one name.
    let t = LazyTensor::from_vec(vec![1.0f32], &[1])?;
    let (kind, param, _) = checkpoint_error(
        nn::save_named(
            &[("a".into(), t.clone()), ("a".into(), t)],
            d.join("dup.safetensors"),
        )
        .unwrap_err(),
    );
    assert_eq!(
        (kind, param.as_deref()),
        (CheckpointErrorKind::Format, Some("a"))
    );
    std::fs::remove_dir_all(&d).unwrap();
    Ok(())
}
