//! `dump::save_program`: the saved program run on the saved inputs (compiled by the lowering
//! crate directly) gives what syncing the tensors gives, bit for bit, for traced graphs with
//! scalars, views, reductions, matmul, several outputs and already-computed tensors.

use lazyjit::lowering::codegen::{compile, CompileOptions};
use lazyjit::lowering::{text, Tensor};
use lazyjit::{dump, io, DType, Error, LazyTensor};
use std::path::Path;

/// Parses the saved program, matches the saved arrays to its parameters by name, compiles
/// and runs it.
fn run_saved(prog: &Path, inputs: &Path) -> Vec<Tensor> {
    let src = std::fs::read_to_string(prog).unwrap();
    let p = text::parse(&src).unwrap_or_else(|e| panic!("{e}\n{src}"));
    let named = io::read_npz(inputs).unwrap();
    assert_eq!(named.len(), p.params.len(), "one array per parameter");
    let args: Vec<&Tensor> = p
        .params
        .iter()
        .map(|param| {
            let (_, t) = named
                .iter()
                .find(|(n, _)| *n == param.name)
                .unwrap_or_else(|| panic!("no array for %{}", param.name));
            assert_eq!(t.ty(), &param.ty);
            t
        })
        .collect();
    compile(&p, &CompileOptions::default())
        .unwrap()
        .run(&args)
        .unwrap()
}

/// Saves `tensors`, runs the saved program, syncs the tensors and compares.
fn check(tensors: &[&LazyTensor]) {
    let dir = tempfile::tempdir().unwrap();
    let (prog, inputs) = (dir.path().join("g.lj"), dir.path().join("g.npz"));
    dump::save_program(tensors, &prog, &inputs).unwrap();
    let before = dump::program_text(tensors);
    let got = run_saved(&prog, &inputs);
    assert_eq!(got.len(), tensors.len());
    lazyjit::sync(tensors).unwrap();
    for (k, (g, t)) in got.iter().zip(tensors).enumerate() {
        assert_eq!(*g, t.to_tensor().unwrap(), "output {k} of\n{before}");
    }
}

fn data(shape: &[usize], seed: u64) -> LazyTensor {
    LazyTensor::rand_uniform_seeded(shape, DType::F32, -2.0, 2.0, seed)
        .unwrap()
        .to_tensor()
        .map(LazyTensor::from_tensor)
        .unwrap()
}

#[test]
fn scalars_and_elementwise_ops() {
    let x = data(&[3, 5], 1);
    let y = x
        .mul_scalar(0.75f32)
        .unwrap()
        .add_scalar(0.5f32)
        .unwrap()
        .tanh()
        .unwrap();
    check(&[&y]);
}

#[test]
fn views_and_a_reduction() {
    let x = data(&[4, 6], 2);
    let v = x
        .transpose(0, 1)
        .unwrap()
        .slice(&[1, 0], &[5, 4], &[2, 1])
        .unwrap()
        .reshape(&[4, 2])
        .unwrap();
    let r = v.exp().unwrap().sum(&[1], true).unwrap();
    let m = x.max(&[0], false).unwrap();
    check(&[&r, &m, &v]);
}

#[test]
fn matmul_softmax_and_integer_outputs() {
    let a = data(&[3, 4], 3);
    let b = data(&[4, 5], 4);
    let s = a.matmul(&b).unwrap().softmax(-1).unwrap();
    let i = s.argmax(1, false).unwrap();
    let bits = s.gt(&s.mean_all().unwrap()).unwrap();
    check(&[&s, &i, &bits]);
}

#[test]
fn computed_tensors_and_inputs_are_returned_too() {
    let x = data(&[2, 3], 5);
    let done = x.neg().unwrap();
    done.to_vec::<f32>().unwrap(); // computed by an earlier sync: not in the graph
    let y = x.add(&x).unwrap();
    // y pending, done outside the graph, x an input of it, y again.
    check(&[&y, &done, &x, &y]);
}

#[test]
fn nothing_pending_is_an_error_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let x = data(&[2], 6);
    let (prog, inputs) = (dir.path().join("g.lj"), dir.path().join("g.npz"));
    let e = dump::save_program(&[&x], &prog, &inputs).unwrap_err();
    assert!(
        matches!(
            e,
            Error::Op {
                op: "save_program",
                ..
            }
        ),
        "{e:?}"
    );
    assert!(e.to_string().contains("nothing is pending"), "{e}");
    assert!(!prog.exists() && !inputs.exists());
}

#[test]
fn an_unwritable_path_is_a_file_error() {
    let x = data(&[2], 7).exp().unwrap();
    let e =
        dump::save_program(&[&x], "/nonexistent-dir/g.lj", "/nonexistent-dir/g.npz").unwrap_err();
    assert!(matches!(e, Error::File { .. }), "{e:?}");
    assert!(e.to_string().contains("/nonexistent-dir/g.lj"), "{e}");
}
