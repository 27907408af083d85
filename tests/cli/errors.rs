//! Every documented failure: its exit code and a one-line message naming what was wrong.

use super::{fails, file, lazyjit, AXPB};
use lazyjit::io;
use lazyjit::lowering::Tensor;

fn f32s(shape: &[usize]) -> Tensor {
    let n = shape.iter().product();
    Tensor::from_vec((0..n).map(|i| i as f32).collect(), shape.to_vec()).unwrap()
}

fn setup() -> (tempfile::TempDir, String, String, String) {
    let dir = tempfile::tempdir().unwrap();
    let prog = file(dir.path(), "axpb.lj", AXPB);
    let x = dir.path().join("x.npy");
    let b = dir.path().join("b.npy");
    io::write_npy(&x, &f32s(&[2, 3])).unwrap();
    io::write_npy(&b, &f32s(&[3])).unwrap();
    let (x, b) = (x.display().to_string(), b.display().to_string());
    (dir, prog, x, b)
}

#[test]
fn a_missing_program_is_code_3() {
    fails(
        &["run", "no/such.lj", "--random"],
        3,
        &["no/such.lj", "reading the program"],
    );
    fails(&["check", "no/such.lj"], 3, &["no/such.lj"]);
}

#[test]
fn a_missing_input_file_is_code_4() {
    let (dir, prog, x, _) = setup();
    let missing = dir.path().join("nope.npy").display().to_string();
    fails(
        &[
            "run",
            &prog,
            "--input",
            &format!("x={x}"),
            "--input",
            &format!("b={missing}"),
        ],
        4,
        &["nope.npy", "No such file"],
    );
}

#[test]
fn malformed_and_truncated_npy_files_are_code_4() {
    let (dir, prog, x, b) = setup();
    let bad = file(dir.path(), "bad.npy", "this is not an npy file at all");
    fails(
        &["run", &prog, "--input", &x, "--input", &bad],
        4,
        &["bad.npy", "not a valid .npy"],
    );
    let bytes = std::fs::read(&b).unwrap();
    let cut = dir.path().join("cut.npy");
    std::fs::write(&cut, &bytes[..bytes.len() - 4]).unwrap();
    let cut = cut.display().to_string();
    fails(
        &["run", &prog, "--input", &x, "--input", &cut],
        4,
        &["cut.npy", "truncated"],
    );
}

#[test]
fn an_input_of_another_dtype_or_shape_is_code_4_naming_both() {
    let (dir, prog, x, _) = setup();
    let ints = dir.path().join("ints.npy");
    io::write_npy(&ints, &Tensor::from_vec(vec![1i64, 2, 3], vec![3]).unwrap()).unwrap();
    let ints = ints.display().to_string();
    fails(
        &["run", &prog, "--input", &x, "--input", &format!("b={ints}")],
        4,
        &["ints.npy", "i64[3]", "%b", "f32[3]"],
    );
    let wide = dir.path().join("wide.npy");
    io::write_npy(&wide, &f32s(&[4])).unwrap();
    let wide = wide.display().to_string();
    fails(
        &[
            "run",
            &prog,
            "--input",
            &x,
            "--input",
            &format!("%b={wide}"),
        ],
        4,
        &["wide.npy", "f32[4]", "%b", "f32[3]"],
    );
}

#[test]
fn a_parameter_without_input_is_code_4() {
    let (_dir, prog, x, _) = setup();
    fails(
        &["run", &prog, "--input", &format!("x={x}")],
        4,
        &["%b", "f32[3]", "has no input", "--random"],
    );
}

#[test]
fn an_input_matching_no_parameter_is_code_4() {
    let (_dir, prog, x, b) = setup();
    fails(
        &[
            "run",
            &prog,
            "--input",
            &x,
            "--input",
            &b,
            "--input",
            &format!("z={b}"),
        ],
        4,
        &["`z`", "matches no parameter", "%x: f32[2, 3]"],
    );
    // One positional input too many.
    fails(
        &["run", &prog, "--input", &x, "--input", &b, "--input", &b],
        4,
        &["matches no parameter"],
    );
    // An archive holding an extra array.
    let dir = tempfile::tempdir().unwrap();
    let npz = dir.path().join("extra.npz");
    io::write_npz(
        &npz,
        &[
            ("x", &f32s(&[2, 3])),
            ("b", &f32s(&[3])),
            ("c", &f32s(&[1])),
        ],
    )
    .unwrap();
    let npz = npz.display().to_string();
    fails(
        &["run", &prog, "--inputs", &npz],
        4,
        &["extra.npz", "`c`", "matches no parameter"],
    );
    // The same parameter twice.
    fails(
        &["run", &prog, "--inputs", &npz, "--input", &format!("x={x}")],
        4,
        &["%x", "given twice"],
    );
}

#[test]
fn an_unknown_op_and_a_malformed_program_are_code_3_with_line_and_column() {
    let dir = tempfile::tempdir().unwrap();
    let p = file(
        dir.path(),
        "op.lj",
        "param %x: f32[2]\n%1: f32[2] = expp %x\nreturn %1\n",
    );
    fails(
        &["run", &p, "--random"],
        3,
        &["op.lj:2:", "unknown op 'expp'"],
    );
    let p = file(
        dir.path(),
        "syntax.lj",
        "param %x: f32[2]\n%1: f32[2 = exp %x\nreturn %1\n",
    );
    fails(&["run", &p, "--random"], 3, &["syntax.lj:2:"]);
    let p = file(dir.path(), "noreturn.lj", "param %x: f32[2]\n");
    fails(&["check", &p], 3, &["noreturn.lj"]);
    // Well-formed but wrong: a verifier finding, at its instruction.
    let p = file(
        dir.path(),
        "types.lj",
        "param %x: f32[2]\n%1: f32[3] = exp %x\nreturn %1\n",
    );
    fails(&["run", &p, "--random"], 3, &["types.lj:2:1:", "f32[3]"]);
}

#[test]
fn an_unwritable_output_is_code_5() {
    let (dir, prog, x, b) = setup();
    let blocker = file(dir.path(), "file", "a file where a folder should be");
    fails(
        &[
            "run",
            &prog,
            "--input",
            &x,
            "--input",
            &b,
            "--output-dir",
            &format!("{blocker}/out"),
        ],
        5,
        &["creating the output folder"],
    );
    fails(
        &[
            "run",
            &prog,
            "--input",
            &x,
            "--input",
            &b,
            "--output",
            "/no/such/dir/out.npz",
        ],
        5,
        &["/no/such/dir/out.npz"],
    );
}

#[test]
fn usage_errors_are_clap_s_code_2() {
    let out = lazyjit(&["run"]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    let out = lazyjit(&["emit", "x.lj", "--what", "bytecode"]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    let out = lazyjit(&["bench", "x.lj", "--iters", "0", "--random"]);
    assert_eq!(out.code, 2, "{}", out.stderr);
}

#[test]
fn help_documents_the_exit_codes() {
    let out = super::ok(&["--help"]);
    for code in [
        "0  success",
        "2  usage",
        "3  the program",
        "4  bad input",
        "5  an output",
    ] {
        assert!(out.stdout.contains(code), "{code:?} not in\n{}", out.stdout);
    }
    assert!(super::ok(&["run", "--help"]).stdout.contains("Exit codes:"));
}
