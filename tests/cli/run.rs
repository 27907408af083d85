//! `lazyjit run`: inputs by name, position, `.npz`, safetensors and at random; outputs to a
//! folder or an `.npz`; printing; `--check`.

use super::{file, ok, AXPB};
use lazyjit::io;
use lazyjit::lowering::Tensor;

fn x() -> Tensor {
    Tensor::from_vec(vec![1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0], vec![2, 3]).unwrap()
}

fn b() -> Tensor {
    Tensor::from_vec(vec![0.5f32, -1.0, 0.0], vec![3]).unwrap()
}

/// x * 2 + b, as the binary prints it.
const EXPECTED: &str =
    "y: f32[2, 3] =\n[[ 2.5000,  3.0000,  6.0000],\n [ 8.5000,  9.0000, 12.0000]]";

#[test]
fn by_name_by_position_and_mixed() {
    let dir = tempfile::tempdir().unwrap();
    let prog = file(dir.path(), "axpb.lj", AXPB);
    let (xp, bp) = (dir.path().join("x.npy"), dir.path().join("b.npy"));
    io::write_npy(&xp, &x()).unwrap();
    io::write_npy(&bp, &b()).unwrap();
    let (xs, bs) = (xp.display().to_string(), bp.display().to_string());
    // By name, in any order, with or without the `%`.
    let out = ok(&[
        "run",
        &prog,
        "--input",
        &format!("b={bs}"),
        "--input",
        &format!("%x={xs}"),
    ]);
    assert!(out.stdout.contains(EXPECTED), "{}", out.stdout);
    assert!(out.stdout.contains("compile   ") && out.stdout.contains("run       "));
    // By position.
    let out = ok(&["run", &prog, "--input", &xs, "--input", &bs]);
    assert!(out.stdout.contains(EXPECTED), "{}", out.stdout);
    // Named first; a positional input takes the first parameter left.
    let out = ok(&["run", &prog, "--input", &format!("b={bs}"), "--input", &xs]);
    assert!(out.stdout.contains(EXPECTED), "{}", out.stdout);
}

#[test]
fn from_npz_and_safetensors_archives() {
    let dir = tempfile::tempdir().unwrap();
    let prog = file(dir.path(), "axpb.lj", AXPB);
    let (xt, bt) = (x(), b());
    let npz = dir.path().join("in.npz");
    io::write_npz(&npz, &[("b", &bt), ("x", &xt)]).unwrap();
    let out = ok(&["run", &prog, "--inputs", &npz.display().to_string()]);
    assert!(out.stdout.contains(EXPECTED), "{}", out.stdout);
    let st = dir.path().join("in.safetensors");
    io::write_safetensors(&st, &[("x", &xt), ("b", &bt)]).unwrap();
    let out = ok(&["run", &prog, "--inputs", &st.display().to_string()]);
    assert!(out.stdout.contains(EXPECTED), "{}", out.stdout);
    // An archive for some parameters, a file for the rest.
    io::write_npz(&npz, &[("x", &xt)]).unwrap();
    let bp = dir.path().join("b.npy");
    io::write_npy(&bp, &bt).unwrap();
    let out = ok(&[
        "run",
        &prog,
        "--inputs",
        &npz.display().to_string(),
        "--input",
        &bp.display().to_string(),
    ]);
    assert!(out.stdout.contains(EXPECTED), "{}", out.stdout);
}

#[test]
fn outputs_go_to_a_folder_or_an_npz_under_their_names() {
    let dir = tempfile::tempdir().unwrap();
    let prog = file(
        dir.path(),
        "two.lj",
        "param %x: f32[2, 3]\n%s: f32[2] = reduce_sum %x, axes=[1], keepdim=false\n%2: f32[2, 3] = neg %x\nreturn %s, %2, %x\n",
    );
    let xp = dir.path().join("x.npy");
    io::write_npy(&xp, &x()).unwrap();
    let xs = xp.display().to_string();
    let out_dir = dir.path().join("out/nested");
    ok(&[
        "run",
        &prog,
        "--input",
        &xs,
        "--output-dir",
        &out_dir.display().to_string(),
    ]);
    let s = io::read_npy(out_dir.join("s.npy")).unwrap();
    assert_eq!(s.as_slice::<f32>().unwrap(), &[6.0, 15.0]);
    assert_eq!(
        io::read_npy(out_dir.join("out1.npy"))
            .unwrap()
            .as_slice::<f32>()
            .unwrap()[0],
        -1.0
    );
    assert_eq!(io::read_npy(out_dir.join("x.npy")).unwrap(), x());

    let npz = dir.path().join("all.npz");
    ok(&[
        "run",
        &prog,
        "--input",
        &xs,
        "--output",
        &npz.display().to_string(),
    ]);
    let named = io::read_npz(&npz).unwrap();
    let names: Vec<&str> = named.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["s", "out1", "x"]);
}

#[test]
fn widened_u8_inputs_feed_i32_parameters() {
    let dir = tempfile::tempdir().unwrap();
    let prog = file(
        dir.path(),
        "img.lj",
        "param %img: i32[4]\n%s: i32[] = reduce_sum %img, axes=[0], keepdim=false\nreturn %s\n",
    );
    let p = dir.path().join("img.npy");
    let a = ndarray::ArrayD::from_shape_vec(ndarray::IxDyn(&[4]), vec![255u8, 255, 1, 0]).unwrap();
    ndarray_npy::write_npy(&p, &a).unwrap();
    let out = ok(&["run", &prog, "--input", &format!("img={}", p.display())]);
    assert!(out.stdout.contains("s: i32[] =\n511"), "{}", out.stdout);
}

#[test]
fn random_inputs_checked_against_the_reference() {
    let out = ok(&[
        "run",
        "examples/programs/mlp_layer.lj",
        "--random",
        "--seed",
        "3",
        "--check",
    ]);
    assert!(
        out.stdout
            .contains("check     against the reference interpreter"),
        "{}",
        out.stdout
    );
    assert_eq!(
        out.stdout.matches(": matches (").count(),
        2,
        "{}",
        out.stdout
    );
    // The same seed gives the same outputs; --no-opt compiles without the optimiser.
    let again = ok(&[
        "run",
        "examples/programs/mlp_layer.lj",
        "--random",
        "--seed",
        "3",
        "--no-opt",
    ]);
    let printed = |s: &str| -> Vec<String> {
        s.lines()
            .skip_while(|l| !l.starts_with("out0"))
            .take_while(|l| !l.starts_with("check"))
            .map(str::to_string)
            .collect()
    };
    assert_eq!(printed(&out.stdout).len(), 3, "{}", out.stdout);
    assert_eq!(printed(&out.stdout), printed(&again.stdout));
    // Random data fills only the parameters without an input.
    let dir = tempfile::tempdir().unwrap();
    let prog = file(dir.path(), "axpb.lj", AXPB);
    let xp = dir.path().join("x.npy");
    io::write_npy(&xp, &x()).unwrap();
    ok(&[
        "run",
        &prog,
        "--input",
        &format!("x={}", xp.display()),
        "--random",
        "--check",
    ]);
}

#[test]
fn exact_outputs_are_checked_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let prog = file(dir.path(), "axpb.lj", AXPB);
    let out = ok(&["run", &prog, "--random", "--check"]);
    assert!(out.stdout.contains("y: matches (exact"), "{}", out.stdout);
}

#[test]
fn a_closed_stdout_neither_panics_nor_stops_the_outputs_being_written() {
    let dir = tempfile::tempdir().unwrap();
    let prog = file(
        dir.path(),
        "many.lj",
        "param %x: f32[2, 3]\n%2: f32[2, 3] = neg %x\nreturn %2\n",
    );
    let xp = dir.path().join("x.npy");
    io::write_npy(&xp, &x()).unwrap();
    let out_dir = dir.path().join("out");
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_lazyjit"))
        .args(["run", &prog, "--input", &xp.display().to_string()])
        .args(["--output-dir", &out_dir.display().to_string()])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take()); // the reader goes away before anything is printed
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{:?}: {stderr}", out.status);
    assert!(!stderr.contains("panicked"), "{stderr}");
    let y = io::read_npy(out_dir.join("out0.npy")).unwrap();
    assert_eq!(y.as_slice::<f32>().unwrap()[0], -1.0);
}
