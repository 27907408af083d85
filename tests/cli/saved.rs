//! Programs saved from traced lazy tensors by `dump::save_program`, run by the binary on
//! the saved `.npz`, give what syncing the tensors gives.

use super::ok;
use lazyjit::{dump, io, DType, LazyTensor};

#[test]
fn a_saved_program_runs_through_the_binary() {
    let dir = tempfile::tempdir().unwrap();
    let x = LazyTensor::rand_uniform_seeded(&[4, 6], DType::F32, -1.0, 1.0, 11)
        .unwrap()
        .to_tensor()
        .map(LazyTensor::from_tensor)
        .unwrap();
    let w = LazyTensor::rand_uniform_seeded(&[6, 3], DType::F32, -1.0, 1.0, 12)
        .unwrap()
        .to_tensor()
        .map(LazyTensor::from_tensor)
        .unwrap();
    // A scalar, views, a matmul and reductions.
    let h = x
        .mul_scalar(1.5f32)
        .unwrap()
        .transpose(0, 1)
        .unwrap()
        .slice(&[0, 1], &[6, 4], &[1, 1])
        .unwrap()
        .reshape(&[3, 6])
        .unwrap();
    let y = h.matmul(&w).unwrap().relu().unwrap();
    let s = y.sum(&[0], false).unwrap();
    let m = y.max_all().unwrap();
    let (prog, inputs) = (dir.path().join("g.lj"), dir.path().join("g.npz"));
    dump::save_program(&[&y, &s, &m], &prog, &inputs).unwrap();

    let out_npz = dir.path().join("out.npz");
    let out = ok(&[
        "run",
        &prog.display().to_string(),
        "--inputs",
        &inputs.display().to_string(),
        "--output",
        &out_npz.display().to_string(),
        "--check",
    ]);
    assert_eq!(
        out.stdout.matches(": matches (").count(),
        3,
        "{}",
        out.stdout
    );
    let got = io::read_npz(&out_npz).unwrap();
    lazyjit::sync(&[&y, &s, &m]).unwrap();
    let names: Vec<&str> = got.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["out0", "out1", "out2"]);
    for ((_, g), t) in got.iter().zip([&y, &s, &m]) {
        assert_eq!(*g, t.to_tensor().unwrap());
    }
}
