//! Empty tensors and very large programs (issue 7: CPU hangs).
//!
//! **Empty tensors.** Every op kind on tensors with a zero-size dim: huge outer dims times 0
//! (`2^40 × 0`, `2^20 × 2^20 × 0`), zeros in inner dims, empty operands of concat / pad /
//! matmul / gather, and reductions over empty axes into non-empty results. Each program must
//! give the reference interpreter's result (the same bytes; any NaN equals any NaN) or its
//! error. There is no timing assertion: a kernel, loop nest or row group that iterated the
//! 2^40 rows of an empty tensor would never finish, so the test would hang instead of pass.
//! Where the reference interpreter cannot run a program because it materialises a huge
//! intermediate (it fails with `Error::Data`), the JIT must return the empty outputs.
//!
//! **Large programs.** Programs past the compile-time bounds of the code generator (more
//! distinct leaves than one kernel reads, concats cut into more pieces than one function
//! runs) must still agree with the reference interpreter; `benches/compile_scaling.rs`
//! measures that their compile time is linear.

use lazyjit_lowering::codegen::{compile, CompileOptions, Compiled, OptLevel};
use lazyjit_lowering::testing::programs::{concat_of, constant_chain, scalar_param_chain};
use lazyjit_lowering::{
    reference, text, DType, Error, Op, Program, ReduceOp, Tensor, TensorType, UnaryOp, ValueId,
};

/// 2^40: a dim that no loop could run through.
const H: usize = 1 << 40;
/// 2^20: two of these make 2^40 rows.
const M: usize = 1 << 20;

fn opts(level: OptLevel) -> CompileOptions {
    CompileOptions {
        opt_level: level,
        verify_clif: true,
        keep_clif: false,
        keep_disasm: false,
        ..CompileOptions::default()
    }
}

/// Deterministic input values for a parameter (indices are 0, valid for any non-empty axis).
fn input(ty: &TensorType, seed: usize) -> Tensor {
    let n = ty.shape.numel();
    let shape = ty.shape.clone();
    let f = |i: usize| ((i * 7 + seed * 13) % 17) as f64 * 0.25 - 2.0;
    match ty.dtype {
        DType::F32 => Tensor::from_vec((0..n).map(|i| f(i) as f32).collect(), shape),
        DType::F64 => Tensor::from_vec((0..n).map(f).collect(), shape),
        DType::I32 => Tensor::from_vec((0..n).map(|i| (f(i) * 4.0) as i32).collect(), shape),
        DType::I64 => Tensor::from_vec(vec![0i64; n], shape),
        DType::Bool => Tensor::from_vec(
            (0..n).map(|i| (i + seed).is_multiple_of(3)).collect(),
            shape,
        ),
    }
    .expect("input of the parameter's type")
}

fn inputs(p: &Program) -> Vec<Tensor> {
    p.params
        .iter()
        .enumerate()
        .map(|(i, pa)| input(&pa.ty, i))
        .collect()
}

/// Same type and bytes, except that any NaN equals any NaN.
fn same(a: &Tensor, b: &Tensor) -> bool {
    fn eq<T: lazyjit_lowering::Element>(
        a: &Tensor,
        b: &Tensor,
        f: impl Fn(&T, &T) -> bool,
    ) -> bool {
        let (x, y) = (a.as_slice::<T>().unwrap(), b.as_slice::<T>().unwrap());
        x.len() == y.len() && x.iter().zip(y).all(|(p, q)| f(p, q))
    }
    a.ty() == b.ty()
        && match a.dtype() {
            DType::F32 => eq::<f32>(a, b, |p, q| {
                p.to_bits() == q.to_bits() || p.is_nan() && q.is_nan()
            }),
            DType::F64 => eq::<f64>(a, b, |p, q| {
                p.to_bits() == q.to_bits() || p.is_nan() && q.is_nan()
            }),
            DType::I32 => eq::<i32>(a, b, |p, q| p == q),
            DType::I64 => eq::<i64>(a, b, |p, q| p == q),
            DType::Bool => eq::<bool>(a, b, |p, q| p == q),
        }
}

/// Compiles `p` at both optimisation levels, runs it, and compares with the reference.
fn check_program(name: &str, p: &Program) -> Vec<String> {
    let ins = inputs(p);
    let refs: Vec<&Tensor> = ins.iter().collect();
    let want = reference::run(p, &refs);
    let mut fails = Vec::new();
    for level in [OptLevel::Speed, OptLevel::None] {
        let c = match compile(p, &opts(level)) {
            Ok(c) => c,
            Err(e) => {
                fails.push(format!("{name} ({level:?}): compile error: {e}"));
                continue;
            }
        };
        let got = c.run(&refs);
        let ok = match (&want, &got) {
            (Ok(w), Ok(g)) => w.len() == g.len() && w.iter().zip(g).all(|(w, g)| same(w, g)),
            (Err(w), Err(g)) => w == g,
            // The reference materialises every value; past memory, only the empty result
            // the JIT computes without those intermediates is possible.
            (Err(Error::Data(_)), Ok(g)) => p
                .outputs
                .iter()
                .zip(g)
                .all(|(o, t)| t.ty() == p.value_type(*o) && t.numel() == 0),
            _ => false,
        };
        if !ok {
            fails.push(format!(
                "{name} ({level:?}): reference {want:?}\n  jit {got:?}\n  plan:\n{}",
                c.plan()
            ));
        }
    }
    fails
}

fn check(name: &str, src: &str) -> Vec<String> {
    match text::parse(src) {
        Ok(p) => check_program(name, &p),
        Err(e) => vec![format!("{name}: does not parse: {e}\n{src}")],
    }
}

fn check_all(cases: &[(String, String)]) {
    let fails: Vec<String> = cases.iter().flat_map(|(n, s)| check(n, s)).collect();
    assert!(fails.is_empty(), "{}", fails.join("\n"));
}

const UNARY_FLOAT: [&str; 17] = [
    "neg",
    "abs",
    "exp",
    "log",
    "sqrt",
    "rsqrt",
    "reciprocal",
    "tanh",
    "sigmoid",
    "relu",
    "erf",
    "sin",
    "cos",
    "floor",
    "ceil",
    "round",
    "sign",
];
const BINARY_FLOAT: [&str; 13] = [
    "add", "sub", "mul", "div", "pow", "max", "min", "eq", "ne", "lt", "le", "gt", "ge",
];
const REDUCE: [&str; 5] = [
    "reduce_sum",
    "reduce_mean",
    "reduce_max",
    "reduce_min",
    "reduce_prod",
];

fn case(name: impl Into<String>, src: impl Into<String>) -> (String, String) {
    (name.into(), src.into())
}

/// The program of the issue: `zeros([2^20, 2^20, 0]) + ...`, as parameters and as constants.
#[test]
fn issue_program_finishes() {
    check_all(&[
        case(
            "issue",
            format!(
                "param %a: f32[{M}, {M}, 0]\nparam %b: f32[{M}, {M}, 0]\n\
                 %2: f32[{M}, {M}, 0] = add %a, %b\nreturn %2\n"
            ),
        ),
        case(
            "issue constants",
            format!(
                "%0: f32[{M}, {M}, 0] = constant 0.0\n%1: f32[{M}, {M}, 0] = constant 1.0\n\
                 %2: f32[{M}, {M}, 0] = add %0, %1\nreturn %2\n"
            ),
        ),
    ]);
}

#[test]
fn elementwise_ops_on_empty_tensors() {
    let mut cases = Vec::new();
    for (dims, tag) in [
        (format!("{H}, 0"), "huge x 0"),
        (format!("0, {H}"), "0 x huge"),
        (format!("{M}, {M}, 0"), "rows of nothing"),
        ("3, 0, 5".to_string(), "inner 0"),
    ] {
        for u in UNARY_FLOAT {
            cases.push(case(
                format!("{u} {tag}"),
                format!("param %x: f32[{dims}]\n%1: f32[{dims}] = {u} %x\nreturn %1\n"),
            ));
        }
        for u in ["neg", "abs", "relu", "sign", "floor"] {
            cases.push(case(
                format!("{u} i32 {tag}"),
                format!("param %x: i32[{dims}]\n%1: i32[{dims}] = {u} %x\nreturn %1\n"),
            ));
        }
        cases.push(case(
            format!("not {tag}"),
            format!("param %x: bool[{dims}]\n%1: bool[{dims}] = not %x\nreturn %1\n"),
        ));
        for b in BINARY_FLOAT {
            let rt = if ["eq", "ne", "lt", "le", "gt", "ge"].contains(&b) {
                "bool"
            } else {
                "f32"
            };
            cases.push(case(
                format!("{b} {tag}"),
                format!(
                    "param %x: f32[{dims}]\nparam %y: f32[{dims}]\n\
                     %2: {rt}[{dims}] = {b} %x, %y\nreturn %2\n"
                ),
            ));
        }
        for b in ["and", "or"] {
            cases.push(case(
                format!("{b} {tag}"),
                format!(
                    "param %x: bool[{dims}]\nparam %y: bool[{dims}]\n\
                     %2: bool[{dims}] = {b} %x, %y\nreturn %2\n"
                ),
            ));
        }
        for to in ["i32", "i64", "f64", "bool"] {
            cases.push(case(
                format!("cast {to} {tag}"),
                format!("param %x: f32[{dims}]\n%1: {to}[{dims}] = cast %x\nreturn %1\n"),
            ));
        }
        cases.push(case(
            format!("where {tag}"),
            format!(
                "param %c: bool[{dims}]\nparam %x: f32[{dims}]\nparam %y: f32[]\n\
                 %3: f32[{dims}] = where %c, %x, %y\nreturn %3\n"
            ),
        ));
        cases.push(case(
            format!("constant {tag}"),
            format!("%0: f32[{dims}] = constant 2.5\nreturn %0\n"),
        ));
        // Along every axis, the huge one included: an empty result is never walked.
        for axis in 0..dims.split(", ").count() {
            cases.push(case(
                format!("iota {tag} axis {axis}"),
                format!("%0: i32[{dims}] = iota axis={axis}\nreturn %0\n"),
            ));
        }
    }
    // Broadcasting a huge size-1 dim against 0, and a chain of fused ops.
    cases.push(case(
        "broadcast [H, 1] x [0]",
        format!(
            "param %y: f32[0]\n%1: f32[{H}, 1] = constant 3.0\n\
             %2: f32[{H}, 0] = mul %1, %y\n%3: f32[{H}, 0] = exp %2\nreturn %3\n"
        ),
    ));
    cases.push(case(
        "row group of empty kernels",
        format!(
            "param %x: f32[{M}, {M}, 0]\nparam %y: f32[{M}, {M}, 0]\n\
             %2: f32[{M}, {M}, 0] = exp %x\n%3: f32[{M}, {M}, 0] = add %2, %y\n\
             %4: f32[{M}, {M}, 0] = mul %2, %3\nreturn %4\n"
        ),
    ));
    check_all(&cases);
}

#[test]
fn reductions_over_and_into_empty_tensors() {
    let mut cases = Vec::new();
    for r in REDUCE {
        for dt in ["f32", "i32"] {
            if r == "reduce_mean" && dt == "i32" {
                continue;
            }
            // The huge axis reduced away, an empty result.
            cases.push(case(
                format!("{r} {dt} huge axis"),
                format!(
                    "param %x: {dt}[{H}, 0]\n%1: {dt}[0] = {r} %x, axes=[0], keepdim=false\nreturn %1\n"
                ),
            ));
            // Everything reduced: one element holding the identity, read from nothing.
            cases.push(case(
                format!("{r} {dt} all of huge x 0"),
                format!(
                    "param %x: {dt}[{H}, 0]\n%1: {dt}[1, 1] = {r} %x, axes=[0, 1], keepdim=true\nreturn %1\n"
                ),
            ));
            cases.push(case(
                format!("{r} {dt} rows of nothing"),
                format!(
                    "param %x: {dt}[{M}, {M}, 0]\n%1: {dt}[] = {r} %x, axes=[0, 1, 2], keepdim=false\nreturn %1\n"
                ),
            ));
            // An empty inner axis into a non-empty result: the identity everywhere.
            cases.push(case(
                format!("{r} {dt} empty inner axis"),
                format!(
                    "param %x: {dt}[3, 0, 5]\n%1: {dt}[3, 5] = {r} %x, axes=[1], keepdim=false\nreturn %1\n"
                ),
            ));
            cases.push(case(
                format!("{r} {dt} empty last axis"),
                format!(
                    "param %x: {dt}[6, 0]\n%1: {dt}[6, 1] = {r} %x, axes=[1], keepdim=true\nreturn %1\n"
                ),
            ));
        }
        // A fused expression under a reduction over an empty axis is never evaluated.
        cases.push(case(
            format!("{r} of exp over an empty axis"),
            format!(
                "param %x: f32[7, 0]\n%1: f32[7, 0] = exp %x\n\
                 %2: f32[7] = {r} %1, axes=[1], keepdim=false\nreturn %2\n"
            ),
        ));
    }
    for r in ["argmax", "argmin"] {
        cases.push(case(
            format!("{r} along a huge axis of an empty tensor"),
            format!(
                "param %x: f32[{H}, 0]\n%1: i64[0] = {r} %x, axes=[0], keepdim=false\nreturn %1\n"
            ),
        ));
    }
    // Softmax rows of nothing: the max and sum have one element per row, but nothing reads
    // them, so no row is visited. The reference runs out of memory on the 2^40 maxima.
    for (rows, tag) in [
        (format!("{M}, {M}"), "huge"),
        ("512, 64".to_string(), "small"),
    ] {
        cases.push(case(
            format!("softmax over empty rows ({tag})"),
            format!(
                "param %x: f32[{rows}, 0]\n\
                 %1: f32[{rows}, 1] = reduce_max %x, axes=[2], keepdim=true\n\
                 %2: f32[{rows}, 0] = sub %x, %1\n%3: f32[{rows}, 0] = exp %2\n\
                 %4: f32[{rows}, 1] = reduce_sum %3, axes=[2], keepdim=true\n\
                 %5: f32[{rows}, 0] = div %3, %4\nreturn %5\n"
            ),
        ));
    }
    // The same with the sums returned: the row group writes identities, reads nothing.
    cases.push(case(
        "softmax over empty rows, sums returned",
        "param %x: f32[4, 0]\n%1: f32[4, 1] = reduce_max %x, axes=[1], keepdim=true\n\
         %2: f32[4, 0] = sub %x, %1\n%3: f32[4, 0] = exp %2\n\
         %4: f32[4, 1] = reduce_sum %3, axes=[1], keepdim=true\n\
         %5: f32[4, 0] = div %3, %4\nreturn %5, %4, %1\n",
    ));
    check_all(&cases);
}

#[test]
fn layout_ops_with_empty_operands() {
    let cases = vec![
        case(
            "reshape",
            format!("param %x: f32[{H}, 0]\n%1: f32[0, {H}] = reshape %x, shape=[0, {H}]\nreturn %1\n"),
        ),
        case(
            "reshape to flat",
            format!("param %x: f32[{M}, {M}, 0]\n%1: f32[0] = reshape %x, shape=[0]\nreturn %1\n"),
        ),
        case(
            "permute",
            format!(
                "param %x: f32[{H}, 0, 3]\n%1: f32[3, {H}, 0] = permute %x, perm=[2, 0, 1]\n\
                 %2: f32[3, {H}, 0] = neg %1\nreturn %2\n"
            ),
        ),
        case(
            "expand",
            format!("param %x: f32[1, 0]\n%1: f32[{H}, 0] = expand %x, shape=[{H}, 0]\nreturn %1\n"),
        ),
        case(
            "expand of a scalar to nothing",
            format!("param %x: f32[]\n%1: f32[{M}, {M}, 0] = expand %x, shape=[{M}, {M}, 0]\nreturn %1\n"),
        ),
        case(
            "slice of huge x 0",
            format!(
                "param %x: f32[{H}, 0]\n%1: f32[{}, 0] = slice %x, starts=[1, 0], stops=[{H}, 0], steps=[2, 1]\nreturn %1\n",
                H / 2
            ),
        ),
        case(
            "slice selecting nothing",
            "param %x: f32[4, 5]\n%1: f32[0, 3] = slice %x, starts=[1, 2], stops=[1, 5], steps=[1, 1]\n\
             %2: f32[0, 3] = exp %1\nreturn %2\n",
        ),
        case(
            "concat of empty tensors",
            format!(
                "param %a: f32[{H}, 0]\nparam %b: f32[{H}, 0]\n\
                 %2: f32[{H}, 0] = concat %a, %b, axis=1\nreturn %2\n"
            ),
        ),
        case(
            "concat along the huge axis",
            format!(
                "param %a: f32[{H}, 0]\nparam %b: f32[{H}, 0]\n\
                 %2: f32[{}, 0] = concat %a, %b, axis=0\nreturn %2\n",
                2 * H
            ),
        ),
        case(
            "concat with empty operands",
            "param %a: f32[0, 3]\nparam %b: f32[2, 3]\nparam %c: f32[0, 3]\nparam %d: f32[1, 3]\n\
             %4: f32[3, 3] = concat %a, %b, %c, %d, axis=0\n%5: f32[3, 3] = neg %4\nreturn %5, %4\n",
        ),
        case(
            "concat of only empty operands into a reduction",
            "param %a: f32[2, 0]\nparam %b: f32[2, 0]\n%2: f32[2, 0] = concat %a, %b, axis=1\n\
             %3: f32[2] = reduce_sum %2, axes=[1], keepdim=false\nreturn %3\n",
        ),
        case(
            "pad of huge x 0 without padding",
            format!(
                "param %x: f32[{H}, 0]\n%1: f32[{H}, 0] = pad %x, lo=[0, 0], hi=[0, 0], value=1.0\nreturn %1\n"
            ),
        ),
        case(
            "pad of an empty tensor into a non-empty one",
            "param %x: f32[0, 3]\n%1: f32[2, 4] = pad %x, lo=[1, 0], hi=[1, 1], value=7.5\n\
             %2: f32[2, 4] = mul %1, %1\nreturn %2, %1\n",
        ),
        case(
            "pad of an empty inner axis",
            "param %x: i32[3, 0]\n%1: i32[3, 5] = pad %x, lo=[0, 2], hi=[0, 3], value=-4\nreturn %1\n",
        ),
    ];
    check_all(&cases);
}

#[test]
fn gather_index_select_and_matmul_with_empty_operands() {
    let cases = vec![
        case(
            "gather of nothing",
            format!(
                "param %x: f32[{H}, 0, 3]\nparam %i: i64[{H}, 0, 3]\n\
                 %2: f32[{H}, 0, 3] = gather %x, %i, axis=2\nreturn %2\n"
            ),
        ),
        case(
            "gather along an empty axis with an empty index",
            "param %x: f32[4, 0]\nparam %i: i32[4, 0]\n%2: f32[4, 0] = gather %x, %i, axis=1\nreturn %2\n",
        ),
        // Any index into an empty axis is out of range: an error, not a read.
        case(
            "gather from an empty axis",
            "param %x: f32[2, 0]\nparam %i: i64[2, 3]\n%2: f32[2, 3] = gather %x, %i, axis=1\nreturn %2\n",
        ),
        case(
            "dead gather from an empty axis",
            "param %x: f32[2, 0]\nparam %i: i64[2, 3]\nparam %y: f32[2]\n\
             %3: f32[2, 3] = gather %x, %i, axis=1\n%4: f32[2] = neg %y\nreturn %4\n",
        ),
        case(
            "index_select of empty rows",
            format!(
                "param %x: f32[{H}, 0]\nparam %i: i64[5]\n\
                 %2: f32[5, 0] = index_select %x, %i, axis=0\nreturn %2\n"
            ),
        ),
        case(
            "index_select with an empty index",
            format!(
                "param %x: f32[{H}, 0]\nparam %i: i64[0]\n\
                 %2: f32[0, 0] = index_select %x, %i, axis=0\nreturn %2\n"
            ),
        ),
        case(
            "index_select from an empty axis",
            "param %x: f32[3, 0]\nparam %i: i64[2]\n%2: f32[3, 2] = index_select %x, %i, axis=1\nreturn %2\n",
        ),
        case(
            "matmul with k = 0",
            "param %a: f32[3, 0]\nparam %b: f32[0, 5]\n%2: f32[3, 5] = matmul %a, %b\nreturn %2\n",
        ),
        case(
            "matmul with k = 0 of a sliced operand",
            "param %a: f32[3, 4]\nparam %b: f32[0, 5]\n\
             %2: f32[3, 0] = slice %a, starts=[0, 1], stops=[3, 1], steps=[1, 1]\n\
             %3: f32[3, 5] = matmul %2, %b\nreturn %3\n",
        ),
        case(
            "i64 matmul with k = 0",
            "param %a: i64[2, 2, 0]\nparam %b: i64[0, 3]\n%2: i64[2, 2, 3] = matmul %a, %b\nreturn %2\n",
        ),
        case(
            "matmul with m = 0",
            "param %a: f32[0, 3]\nparam %b: f32[3, 4]\n%2: f32[0, 4] = matmul %a, %b\nreturn %2\n",
        ),
        case(
            "matmul with a huge batch of empty matrices",
            format!(
                "param %a: f32[{H}, 0, 4]\nparam %b: f32[4, 0]\n\
                 %2: f32[{H}, 0, 0] = matmul %a, %b\nreturn %2\n"
            ),
        ),
        case(
            "matmul with an empty batch",
            "param %a: f32[0, 3, 2]\nparam %b: f32[2, 4]\n%2: f32[0, 3, 4] = matmul %a, %b\nreturn %2\n",
        ),
    ];
    check_all(&cases);
}

/// Kernels that have nothing to write are not planned, and neither are kernels whose result
/// only such kernels read.
#[test]
fn the_plan_drops_empty_and_unread_kernels() {
    let src = format!(
        "param %x: f32[{M}, {M}, 0]\n\
         %1: f32[{M}, {M}, 1] = reduce_max %x, axes=[2], keepdim=true\n\
         %2: f32[{M}, {M}, 0] = sub %x, %1\n%3: f32[{M}, {M}, 0] = exp %2\n\
         %4: f32[{M}, {M}, 1] = reduce_sum %3, axes=[2], keepdim=true\n\
         %5: f32[{M}, {M}, 0] = div %3, %4\nreturn %5\n"
    );
    let p = text::parse(&src).unwrap();
    let c = compile(&p, &opts(OptLevel::Speed)).unwrap();
    assert!(c.plan().kernels.is_empty(), "{}", c.plan());
    assert!(c.kernel_texts().is_empty());
    // A reduction over an empty axis into a returned result stays, and reads nothing.
    let p = text::parse(
        "param %x: f32[5, 0]\n%1: f32[5] = reduce_prod %x, axes=[1], keepdim=false\nreturn %1\n",
    )
    .unwrap();
    let c = compile(&p, &opts(OptLevel::Speed)).unwrap();
    assert_eq!(c.plan().kernels.len(), 1, "{}", c.plan());
    let out = c.run(&[&input(&p.params[0].ty, 0)]).unwrap();
    assert_eq!(out[0].as_slice::<f32>().unwrap(), &[1.0; 5]);
}

// ------------------------------------------------------------------ large programs

#[test]
fn many_scalar_parameters_and_constants_match_the_reference() {
    let mut fails = check_program("scalar chain of 300", &scalar_param_chain(300));
    fails.extend(check_program("constant chain of 300", &constant_chain(300)));
    assert!(fails.is_empty(), "{}", fails.join("\n"));
    // Past the per-kernel bound the chain is split over several kernels.
    let c = compile(&scalar_param_chain(300), &opts(OptLevel::None)).unwrap();
    assert!(c.plan().kernels.len() >= 5, "{}", c.plan());
}

#[test]
fn large_concats_match_the_reference() {
    let mut fails = Vec::new();
    for (n, sizes, inner) in [
        (300usize, &[4usize][..], 1usize),
        (300, &[3, 0, 5, 1, 0, 8], 1),
        (200, &[2, 0, 1], 6),
        (9, &[1, 0, 7], 3),
    ] {
        let p = concat_of(n, sizes, inner);
        fails.extend(check_program(
            &format!("concat of {n} {sizes:?} x {inner}"),
            &p,
        ));
    }
    // Elementwise ops over the concat repeat per piece; a reduction reads it from a buffer.
    let mut p = concat_of(150, &[2, 3, 0], 4);
    let c = ValueId(p.num_values() as u32 - 1);
    let r = p.push(Op::Unary(UnaryOp::Relu), &[c]).unwrap();
    let m = p
        .push(
            Op::Reduce {
                op: ReduceOp::Max,
                axes: vec![0],
                keepdim: false,
            },
            &[c],
        )
        .unwrap();
    p.outputs = vec![r, m];
    fails.extend(check_program("relu and max of a concat", &p));
    assert!(fails.is_empty(), "{}", fails.join("\n"));
    // A concat cut into more pieces than one function runs is several functions.
    let c: Compiled = compile(
        &concat_of(300, &[4], 1),
        &CompileOptions {
            keep_clif: true,
            ..opts(OptLevel::None)
        },
    )
    .unwrap();
    assert!(c.kernel_texts().len() >= 3, "{}", c.plan());
}
