//! `lazyjit::io`: round trips of every dtype at ranks 0 to 4 (empty tensors included)
//! through `.npy`, `.npz` and safetensors; the errors a damaged or foreign file gives; and
//! atomic replacement (a failed write leaves the previous file intact).

use lazyjit::lowering::{DType, Tensor, TensorType};
use lazyjit::{io, Error, FileErrorKind, LazyTensor};
use ndarray::{ArrayD, IxDyn};
use ndarray_npy::WriteNpyExt;
use std::path::Path;

const SHAPES: [&[usize]; 7] = [
    &[],
    &[5],
    &[2, 3],
    &[2, 0, 3],
    &[0],
    &[2, 1, 3, 2],
    &[3, 2, 2],
];

/// A tensor of `dtype[shape]` with distinct, sign-mixed values (NaN and infinities for
/// floats, the extremes for integers).
fn sample(dtype: DType, shape: &[usize]) -> Tensor {
    let n: usize = shape.iter().product();
    let special = |i: usize| i as f64 * 1.25 - 3.0;
    match dtype {
        DType::F32 => {
            let mut v: Vec<f32> = (0..n).map(|i| special(i) as f32).collect();
            if n >= 3 {
                v[0] = f32::NAN;
                v[1] = f32::NEG_INFINITY;
                v[2] = -0.0;
            }
            Tensor::from_vec(v, shape.to_vec())
        }
        DType::F64 => {
            let mut v: Vec<f64> = (0..n).map(special).collect();
            if n >= 2 {
                v[0] = f64::INFINITY;
                v[1] = 1e-310; // subnormal
            }
            Tensor::from_vec(v, shape.to_vec())
        }
        DType::I32 => {
            let mut v: Vec<i32> = (0..n as i32).map(|i| i * 7 - 9).collect();
            if n >= 2 {
                v[0] = i32::MIN;
                v[1] = i32::MAX;
            }
            Tensor::from_vec(v, shape.to_vec())
        }
        DType::I64 => {
            let mut v: Vec<i64> = (0..n as i64).map(|i| i * -11 + 4).collect();
            if n >= 2 {
                v[0] = i64::MIN;
                v[1] = i64::MAX;
            }
            Tensor::from_vec(v, shape.to_vec())
        }
        DType::Bool => Tensor::from_vec((0..n).map(|i| i % 3 == 1).collect(), shape.to_vec()),
    }
    .unwrap()
}

const DTYPES: [DType; 5] = [DType::F32, DType::F64, DType::I32, DType::I64, DType::Bool];

fn kind(e: &Error) -> FileErrorKind {
    match e {
        Error::File { kind, .. } => *kind,
        other => panic!("expected a file error, got {other:?}"),
    }
}

#[test]
fn npy_round_trips_every_dtype_and_rank() {
    let dir = tempfile::tempdir().unwrap();
    for d in DTYPES {
        for shape in SHAPES {
            let t = sample(d, shape);
            let p = dir.path().join(format!("{d}-{}.npy", shape.len()));
            io::write_npy(&p, &t).unwrap();
            let back = io::read_npy(&p).unwrap();
            // Tensor equality is bytewise: NaN payloads and -0.0 survive.
            assert_eq!(back, t, "{}", t.ty());
        }
    }
}

/// A sample of every dtype in every shape, named `DTYPE{sep}K`.
fn every_sample(sep: char) -> Vec<(String, Tensor)> {
    DTYPES
        .iter()
        .flat_map(|&d| {
            SHAPES
                .iter()
                .enumerate()
                .map(move |(k, s)| (format!("{d}{sep}{k}"), sample(d, s)))
        })
        .collect()
}

#[test]
fn npz_round_trips_every_dtype_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let tensors = every_sample('_');
    // Names out of alphabetical order: the archive keeps the order given.
    let named: Vec<(&str, &Tensor)> = tensors.iter().rev().map(|(n, t)| (n.as_str(), t)).collect();
    let p = dir.path().join("all.npz");
    io::write_npz(&p, &named).unwrap();
    let back = io::read_npz(&p).unwrap();
    assert_eq!(back.len(), named.len());
    for ((n, t), (bn, bt)) in named.iter().zip(&back) {
        assert_eq!((*n, *t), (bn.as_str(), bt));
    }
    // An empty archive is fine.
    io::write_npz(dir.path().join("none.npz"), &[]).unwrap();
    assert!(io::read_npz(dir.path().join("none.npz"))
        .unwrap()
        .is_empty());
}

#[test]
fn safetensors_round_trips_every_dtype() {
    let dir = tempfile::tempdir().unwrap();
    let tensors = every_sample('.');
    let named: Vec<(&str, &Tensor)> = tensors.iter().map(|(n, t)| (n.as_str(), t)).collect();
    let p = dir.path().join("all.safetensors");
    io::write_safetensors(&p, &named).unwrap();
    let mut expected = tensors.clone();
    expected.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(io::read_safetensors(&p).unwrap(), expected);
}

#[test]
fn lazy_tensors_read_and_write_all_three_formats() {
    let dir = tempfile::tempdir().unwrap();
    let x = LazyTensor::from_vec(vec![1.0f32, -2.0, 3.0, 4.0, 5.0, 6.0], &[2, 3]).unwrap();
    let y = x.transpose(0, 1).unwrap().relu().unwrap(); // pending
    let p = dir.path().join("y.npy");
    y.write_npy(&p).unwrap();
    assert!(!y.is_pending(), "writing syncs");
    let back = LazyTensor::read_npy(&p).unwrap();
    assert_eq!(back.shape(), &[3, 2]);
    assert_eq!(back.to_vec::<f32>().unwrap(), y.to_vec::<f32>().unwrap());

    let s = x.sum_all().unwrap();
    let z = x.mul_scalar(2.0f32).unwrap();
    let npz = dir.path().join("m.npz");
    LazyTensor::write_npz(&npz, &[("z", &z), ("s", &s)]).unwrap();
    let m = LazyTensor::read_npz(&npz).unwrap();
    assert_eq!((m[0].0.as_str(), m[1].0.as_str()), ("z", "s"));
    assert_eq!(m[1].1.item::<f32>().unwrap(), 17.0);

    let st = dir.path().join("m.safetensors");
    LazyTensor::write_safetensors(&st, &[("z", &z), ("s", &s)]).unwrap();
    let m = LazyTensor::read_safetensors(&st).unwrap();
    assert_eq!(m[1].0, "z");
    assert_eq!(m[1].1.to_vec::<f32>().unwrap(), z.to_vec::<f32>().unwrap());
}

fn write_array<T: ndarray_npy::WritableElement>(p: &Path, shape: &[usize], v: Vec<T>) {
    let a = ArrayD::from_shape_vec(IxDyn(shape), v).unwrap();
    a.write_npy(std::fs::File::create(p).unwrap()).unwrap();
}

#[test]
fn narrow_integer_files_are_widened() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("img.npy");
    write_array::<u8>(&p, &[2, 2], vec![0, 1, 128, 255]);
    let t = io::read_npy(&p).unwrap();
    assert_eq!(t.ty(), &TensorType::new(DType::I32, [2, 2]));
    assert_eq!(t.as_slice::<i32>().unwrap(), &[0, 1, 128, 255]);

    write_array::<i8>(&p, &[3], vec![-128, 0, 127]);
    assert_eq!(
        io::read_npy(&p).unwrap().as_slice::<i32>().unwrap(),
        &[-128, 0, 127]
    );
    write_array::<u16>(&p, &[1], vec![65535]);
    assert_eq!(
        io::read_npy(&p).unwrap().as_slice::<i32>().unwrap(),
        &[65535]
    );
    write_array::<u32>(&p, &[2], vec![0, u32::MAX]);
    let t = io::read_npy(&p).unwrap();
    assert_eq!(t.as_slice::<i64>().unwrap(), &[0, u32::MAX as i64]);
}

#[test]
fn an_unsupported_dtype_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("big.npy");
    write_array::<u64>(&p, &[2], vec![1, 2]);
    let e = io::read_npy(&p).unwrap_err();
    assert_eq!(kind(&e), FileErrorKind::DType);
    let m = e.to_string();
    assert!(
        m.contains("big.npy") && m.contains("'<u8'") && m.contains("uint64"),
        "{m}"
    );
}

#[test]
fn truncated_and_malformed_files_are_errors_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good.npy");
    io::write_npy(&good, &sample(DType::F64, &[4, 4])).unwrap();
    let bytes = std::fs::read(&good).unwrap();

    // Cut inside the data, and inside the header.
    let cut = dir.path().join("cut.npy");
    std::fs::write(&cut, &bytes[..bytes.len() - 5]).unwrap();
    let e = io::read_npy(&cut).unwrap_err();
    assert_eq!(kind(&e), FileErrorKind::Truncated);
    assert!(
        e.to_string().contains("cut.npy") && e.to_string().contains("5 bytes"),
        "{e}"
    );
    std::fs::write(&cut, &bytes[..20]).unwrap();
    assert_eq!(
        kind(&io::read_npy(&cut).unwrap_err()),
        FileErrorKind::Truncated
    );

    // Bytes after the data.
    let long = dir.path().join("long.npy");
    let mut extra = bytes.clone();
    extra.extend_from_slice(&[0; 3]);
    std::fs::write(&long, extra).unwrap();
    assert_eq!(
        kind(&io::read_npy(&long).unwrap_err()),
        FileErrorKind::Format
    );

    // A damaged header and a file that is not .npy at all.
    let bad = dir.path().join("bad.npy");
    let mut broken = bytes.clone();
    let at = broken.windows(5).position(|w| w == b"descr").unwrap();
    broken[at..at + 5].copy_from_slice(b"dexcr");
    std::fs::write(&bad, broken).unwrap();
    let e = io::read_npy(&bad).unwrap_err();
    assert_eq!(kind(&e), FileErrorKind::Format);
    assert!(
        e.to_string().contains("bad.npy") && e.to_string().contains("not a valid .npy"),
        "{e}"
    );
    std::fs::write(&bad, b"hello, world, this is text").unwrap();
    assert_eq!(
        kind(&io::read_npy(&bad).unwrap_err()),
        FileErrorKind::Format
    );

    // A missing file.
    let e = io::read_npy(dir.path().join("missing.npy")).unwrap_err();
    assert_eq!(kind(&e), FileErrorKind::Io);
    assert!(e.to_string().contains("missing.npy"), "{e}");

    // Damaged .npz and safetensors files.
    std::fs::write(&bad, &bytes).unwrap();
    assert_eq!(
        kind(&io::read_npz(&bad).unwrap_err()),
        FileErrorKind::Format
    );
    assert_eq!(
        kind(&io::read_safetensors(&bad).unwrap_err()),
        FileErrorKind::Format
    );
    let st = dir.path().join("t.safetensors");
    io::write_safetensors(&st, &[("x", &sample(DType::F32, &[8]))]).unwrap();
    let b = std::fs::read(&st).unwrap();
    std::fs::write(&st, &b[..b.len() - 4]).unwrap();
    let e = io::read_safetensors(&st).unwrap_err();
    assert!(e.to_string().contains("t.safetensors"), "{e}");
}

#[test]
fn a_failed_write_leaves_the_previous_file_intact() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("keep.npz");
    let good = sample(DType::I32, &[3]);
    io::write_npz(&p, &[("a", &good)]).unwrap();
    let before = std::fs::read(&p).unwrap();
    // Duplicate names: refused before anything is written.
    let e = io::write_npz(&p, &[("a", &good), ("a", &good)]).unwrap_err();
    assert_eq!(kind(&e), FileErrorKind::Format);
    // A write that fails after its data is written: the rename onto a (non-empty)
    // directory of that name fails, the temporary file is removed, and what was there stays.
    let as_dir = dir.path().join("adir.npy");
    std::fs::create_dir(&as_dir).unwrap();
    std::fs::write(as_dir.join("inside"), b"x").unwrap();
    let e = io::write_npy(&as_dir, &good).unwrap_err();
    assert_eq!(kind(&e), FileErrorKind::Io);
    assert!(
        e.to_string().contains("adir.npy") && e.to_string().contains("renaming"),
        "{e}"
    );
    assert!(as_dir.join("inside").exists());
    // A folder that does not exist: nothing can be created.
    let e = io::write_npz(dir.path().join("no/such/dir/x.npz"), &[("a", &good)]).unwrap_err();
    assert_eq!(kind(&e), FileErrorKind::Io);
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().contains(".tmp-"))
        .collect();
    assert!(
        leftovers.is_empty(),
        "temporary files left behind: {leftovers:?}"
    );
    assert_eq!(std::fs::read(&p).unwrap(), before);
    assert_eq!(io::read_npz(&p).unwrap(), vec![("a".to_string(), good)]);
}
