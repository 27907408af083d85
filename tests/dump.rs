//! Debug dumps: IR text, DOT, the backend's input program and the backend listing.
//!
//! Tests run in parallel: no global metric counters, and configuration changes only
//! through the thread-local `config::with`.

use lazyjit::dump::{self, DumpOptions};
use lazyjit::lowering::{text, BinaryOp, Op, Program, TensorType, UnaryOp};
use lazyjit::{config, BackendKind, DType, LazyTensor};

const ALL: DumpOptions = DumpOptions {
    locations: true,
    hashes: true,
};

fn x23() -> LazyTensor {
    LazyTensor::from_vec(vec![1.0f32, -2.0, 3.0, -4.0, 5.0, -6.0], &[2, 3]).unwrap()
}

fn site(line: u32) -> String {
    format!("{}:{line}:", file!())
}

/// A 3-op graph and the lines its ops were created on.
fn three_ops() -> (LazyTensor, LazyTensor, [u32; 3]) {
    let x = x23();
    let (y, l1) = (x.mul_scalar(0.5f32).unwrap(), line!());
    let (z, l2) = (y.exp().unwrap(), line!());
    let (w, l3) = (z.add(&x).unwrap(), line!());
    (x, w, [l1, l2, l3])
}

#[test]
fn ir_text_shows_ops_types_hashes_inputs_and_locations() {
    let (_x, w, lines) = three_ops();
    let text = dump::ir_text_with(&[&w], &ALL);
    let hash = lazyjit::graph_hash(&[&w]).expect("pending");
    assert!(
        text.starts_with(&format!(
            "IR graph {hash:016x}: 3 nodes, 2 inputs, 1 output\n"
        )),
        "{text}"
    );
    for op in ["mul", "exp", "add", "device_data"] {
        assert!(text.contains(op), "{op} missing:\n{text}");
    }
    assert!(text.contains("%0: f32[2, 3] = device_data"), "{text}");
    assert!(text.contains("%1: f32[] = device_data value=0.5"), "{text}");
    assert!(text.contains("cached scalar"), "{text}");
    assert!(text.contains("%2: f32[2, 3] = mul %0, %1"), "{text}");
    assert!(text.contains("%3: f32[2, 3] = exp %2"), "{text}");
    assert!(text.contains("%4: f32[2, 3] = add %3, %0"), "{text}");
    assert!(text.contains("return %4"), "{text}");
    for l in lines {
        assert!(text.contains(&site(l)), "line {l} missing:\n{text}");
    }
    // Node and DAG hashes of the root, and of every node below it.
    let root = w.ir_node();
    assert!(
        text.contains(&format!("node {:016x}", root.node_hash())),
        "{text}"
    );
    assert!(
        text.contains(&format!("dag {:016x}", root.dag_hash())),
        "{text}"
    );
    let exp = &root.operands()[0];
    let mul = &exp.operands()[0];
    for n in [exp, mul, &mul.operands()[0], &mul.operands()[1]] {
        assert!(
            text.contains(&format!("dag {:016x}", n.dag_hash())),
            "{text}"
        );
    }
    // The root line says which tensor it answers.
    let add_line = text.lines().find(|l| l.contains("= add")).unwrap();
    assert!(add_line.contains("output 0"), "{add_line}");
    assert!(add_line.contains(&site(lines[2])), "{add_line}");
}

#[test]
fn locations_follow_the_options_and_debug_mode() {
    let (_x, w, lines) = three_ops();
    let off = dump::ir_text_with(
        &[&w],
        &DumpOptions {
            locations: false,
            hashes: true,
        },
    );
    assert!(!off.contains(file!()), "{off}");
    assert!(off.contains("dag "), "{off}");

    let quiet = config::with(|c| c.debug = 0, || dump::ir_text(&[&w]));
    assert!(!quiet.contains(file!()), "{quiet}");
    assert_eq!(quiet, off);
    let debug = config::with(|c| c.debug = 1, || dump::ir_text(&[&w]));
    assert!(debug.contains(&site(lines[0])), "{debug}");
    assert_eq!(debug, dump::ir_text_with(&[&w], &ALL));
    assert!(config::with(
        |c| c.debug = 2,
        || DumpOptions::default().locations
    ));
    assert!(!config::with(
        |c| c.debug = 0,
        || DumpOptions::default().locations
    ));
    assert!(DumpOptions::default().hashes);

    let bare = dump::ir_text_with(
        &[&w],
        &DumpOptions {
            locations: false,
            hashes: false,
        },
    );
    assert!(!bare.contains("dag ") && !bare.contains("node "), "{bare}");
    assert!(bare.contains("%3: f32[2, 3] = exp %2\n"), "{bare}");
}

#[test]
fn integer_scalars_and_constants_show_their_values() {
    let i = LazyTensor::from_vec(vec![1i32, 2, 3], &[3]).unwrap();
    let j = i
        .add_scalar(7)
        .unwrap()
        .mul(&LazyTensor::full(&[3], 1i32).unwrap())
        .unwrap();
    let text = dump::ir_text_with(&[&j], &ALL);
    assert!(text.contains("%1: i32[] = device_data value=7"), "{text}");
    assert!(text.contains("cached scalar"), "{text}");
    // 1 is inlined as a constant (with the default special scalars).
    if config::get().special_scalars {
        assert!(text.contains("= constant 1"), "{text}");
    }
}

#[test]
fn dot_is_a_deterministic_digraph_with_one_edge_per_operand() {
    let (_x, w, _) = three_ops();
    let g = dump::dot(&[&w]);
    assert!(g.starts_with("digraph lazyjit {"), "{g}");
    assert!(g.trim_end().ends_with('}'), "{g}");
    let mut depth = 0i32;
    for c in g.chars() {
        match c {
            '{' => depth += 1,
            '}' => depth -= 1,
            _ => {}
        }
        assert!(depth >= 0, "{g}");
    }
    assert_eq!(depth, 0, "{g}");
    // mul %0, %1; exp %2; add %3, %0
    assert_eq!(g.matches("->").count(), 5, "{g}");
    for e in [
        "v0 -> v2 [label=\"i=0\"]",
        "v1 -> v2 [label=\"i=1\"]",
        "v2 -> v3 [label=\"i=0\"]",
        "v3 -> v4 [label=\"i=0\"]",
        "v0 -> v4 [label=\"i=1\"]",
    ] {
        assert!(g.contains(e), "{e} missing:\n{g}");
    }
    let root = g
        .lines()
        .find(|l| l.trim_start().starts_with("v4 ["))
        .unwrap();
    assert!(
        root.contains("peripheries=2") && root.contains("root 0"),
        "{root}"
    );
    assert_eq!(g.matches("peripheries=2").count(), 1, "{g}");
    assert!(g.contains("v2 [label=\"%2 mul\\nf32[2, 3]\"]"), "{g}");
    assert!(g.contains("cached scalar 0.5"), "{g}");
    let input = g
        .lines()
        .find(|l| l.trim_start().starts_with("v0 ["))
        .unwrap();
    assert!(input.contains("shape=box"), "{input}");
    assert_eq!(g, dump::dot(&[&w]));

    // The edge count matches the program's operand count on a bigger graph.
    let a = x23();
    let b = a.mul(&a).unwrap().sub(&a.tanh().unwrap()).unwrap();
    let c = b.sigmoid().unwrap();
    let g = dump::dot(&[&c, &b]);
    let p = text::parse(&dump::program_text(&[&c, &b])).unwrap();
    let operands: usize = p.insts.iter().map(|i| i.args.len()).sum();
    assert_eq!(g.matches("->").count(), operands, "{g}");
    assert_eq!(g.matches("peripheries=2").count(), 2, "{g}");
}

#[test]
fn program_text_round_trips_and_is_the_pending_program() {
    let (_x, w, _) = three_ops();
    let src = dump::program_text(&[&w]);
    let parsed = text::parse(&src).expect("parsable");
    assert_eq!(parsed.to_string(), src);

    let mut expected = Program::new();
    let x = expected.param("p0", TensorType::new(DType::F32, [2, 3]));
    let s = expected.param("p1", TensorType::new(DType::F32, []));
    let y = expected.push(Op::Binary(BinaryOp::Mul), &[x, s]).unwrap();
    let z = expected.push(Op::Unary(UnaryOp::Exp), &[y]).unwrap();
    let w2 = expected.push(Op::Binary(BinaryOp::Add), &[z, x]).unwrap();
    expected.output(w2);
    assert_eq!(parsed, expected);
    assert_eq!(src, expected.to_string());
}

#[test]
fn backend_text_describes_cranelift_and_reference() {
    let (_x, w, _) = three_ops();
    let hash = lazyjit::graph_hash(&[&w]).unwrap();
    let clif = config::with(
        |c| c.backend = BackendKind::Cranelift,
        || dump::backend_text(&[&w]),
    )
    .expect("compiles");
    assert!(clif.contains("function"), "{clif}");
    assert!(clif.contains(&format!("{hash:016x}")), "{clif}");
    assert!(clif.contains("cranelift"), "{clif}");

    let reference = config::with(
        |c| c.backend = BackendKind::Reference,
        || dump::backend_text(&[&w]),
    )
    .expect("verifies");
    assert!(reference.contains("reference"), "{reference}");
    assert!(
        reference.contains(dump::program_text(&[&w]).trim_end()),
        "{reference}"
    );
    assert!(w.is_pending());
}

#[test]
fn dumps_neither_run_nor_change_the_tensors() {
    let (x, w, _) = three_ops();
    let before = w.ir_node();
    let hash = lazyjit::graph_hash(&[&w]);
    let first = (
        dump::ir_text_with(&[&w], &ALL),
        dump::dot(&[&w]),
        dump::program_text(&[&w]),
    );
    dump::backend_text(&[&w]).unwrap();
    assert!(w.is_pending());
    assert!(std::sync::Arc::ptr_eq(&before, &w.ir_node()));
    assert_eq!(lazyjit::graph_hash(&[&w]), hash);
    let again = (
        dump::ir_text_with(&[&w], &ALL),
        dump::dot(&[&w]),
        dump::program_text(&[&w]),
    );
    assert_eq!(first, again);
    let xs = x.to_vec::<f32>().unwrap();
    let got = w.to_vec::<f32>().unwrap();
    for (g, v) in got.iter().zip(xs) {
        assert!((g - ((v * 0.5).exp() + v)).abs() < 1e-5);
    }
}

#[test]
fn computed_tensors_give_a_nothing_pending_dump() {
    let (_x, w, _) = three_ops();
    w.to_vec::<f32>().unwrap();
    assert!(!w.is_pending());
    assert_eq!(lazyjit::graph_hash(&[&w]), None);

    let text = dump::ir_text_with(&[&w], &ALL);
    assert!(text.starts_with("IR graph (nothing pending)"), "{text}");
    assert!(text.contains("%0: f32[2, 3] = device_data"), "{text}");
    assert!(text.contains("returned directly"), "{text}");
    assert!(text.contains("return %0"), "{text}");

    let p = text::parse(&dump::program_text(&[&w])).unwrap();
    assert!(p.params.is_empty() && p.insts.is_empty() && p.outputs.is_empty());

    let g = dump::dot(&[&w]);
    assert!(
        g.starts_with("digraph lazyjit {") && !g.contains("->"),
        "{g}"
    );
    assert!(g.contains("peripheries=2"), "{g}");

    let b = dump::backend_text(&[&w]).unwrap();
    assert!(b.contains("nothing pending"), "{b}");

    let none = dump::ir_text(&[]);
    assert!(none.contains("nothing pending"), "{none}");
}

#[test]
fn computed_tensors_next_to_pending_ones_are_returned_directly() {
    let a = x23();
    let b = a.exp().unwrap();
    let text = dump::ir_text_with(&[&b, &a], &ALL);
    // `a` is an input of the graph already: returned as that input.
    assert!(text.contains("return %1, %0"), "{text}");
    assert!(text.starts_with("IR graph "), "{text}");

    let c = LazyTensor::from_vec(vec![1i64, 2], &[2]).unwrap();
    let text = dump::ir_text_with(&[&b, &c, &b], &ALL);
    assert!(text.contains("1 tensor already computed"), "{text}");
    assert!(text.contains("%2: i64[2] = device_data"), "{text}");
    assert!(text.contains("returned directly"), "{text}");
    assert!(text.contains("return %1, %2, %1"), "{text}");
    // The program is only the pending part.
    assert_eq!(
        dump::program_text(&[&b, &c]),
        "param %p0: f32[2, 3]\n%1: f32[2, 3] = exp %p0\nreturn %1\n"
    );
}

#[test]
fn values_computed_by_an_earlier_sync_are_inputs() {
    let a = x23();
    let b = a.exp().unwrap();
    let c = b.neg().unwrap();
    lazyjit::sync(&[&b]).unwrap();
    let text = dump::ir_text_with(&[&c], &ALL);
    assert!(text.contains("IR graph "), "{text}");
    assert!(text.contains("1 node, 1 input, 1 output"), "{text}");
    assert!(text.contains("exp computed by an earlier sync"), "{text}");
    assert!(text.contains("%1: f32[2, 3] = neg %0"), "{text}");
    let g = dump::dot(&[&c]);
    assert!(g.contains("computed (exp)"), "{g}");
}

#[test]
fn multiple_roots_and_shared_operands() {
    let a = x23();
    let sq = a.mul(&a).unwrap();
    let (s, t) = (sq.sin().unwrap(), sq.cos().unwrap());
    let text = dump::ir_text_with(&[&s, &t], &ALL);
    let hash = lazyjit::graph_hash(&[&s, &t]).unwrap();
    assert!(
        text.starts_with(&format!(
            "IR graph {hash:016x}: 3 nodes, 1 input, 2 outputs"
        )),
        "{text}"
    );
    assert!(text.contains("%1: f32[2, 3] = mul %0, %0"), "{text}");
    assert!(text.contains("return %2, %3"), "{text}");
    let g = dump::dot(&[&s, &t]);
    assert!(g.contains("v0 -> v1 [label=\"i=0\"]") && g.contains("v0 -> v1 [label=\"i=1\"]"));
    // Root order is the order given.
    let swapped = dump::ir_text_with(&[&t, &s], &ALL);
    assert!(swapped.contains("%2: f32[2, 3] = cos %1"), "{swapped}");
}

#[test]
fn deep_chains_dump_without_recursion() {
    let mut t = LazyTensor::from_vec(vec![0.5f32; 4], &[4]).unwrap();
    let n = 3000;
    for _ in 0..n {
        t = t.neg().unwrap();
    }
    let text = dump::ir_text_with(&[&t], &ALL);
    assert!(
        text.contains(&format!("{n} nodes, 1 input, 1 output")),
        "{}",
        &text[..200]
    );
    assert_eq!(text.lines().count(), 1 + 1 + n + 1);
    let p = text::parse(&dump::program_text(&[&t])).unwrap();
    assert_eq!(p.insts.len(), n);
    assert_eq!(dump::dot(&[&t]).matches("->").count(), n);
    assert!(t.is_pending());
}
