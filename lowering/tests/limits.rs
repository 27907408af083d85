//! The size limit of the program format (`MAX_ELEMENTS`, enforced by the shape rules) and the
//! safety it buys: no value, virtual views included, is too large for index arithmetic, so
//! generated code never computes an address from an overflowed index; types beyond the limit
//! are verification errors (user errors naming the op and shapes), never codegen errors.

use lazyjit_lowering::codegen::{compile, CompileOptions};
use lazyjit_lowering::{text, DType, Error, Program, Shape, Tensor, TensorType, MAX_ELEMENTS};

const LIMIT_LOG2: u32 = 56;

fn verify_err(src: &str) -> String {
    match text::parse(src) {
        Err(Error::Verify(v)) => v
            .iter()
            .map(|x| x.to_string())
            .collect::<Vec<_>>()
            .join("\n"),
        Err(e) => panic!("expected a verification error, got {e}\n{src}"),
        Ok(_) => panic!("expected a verification error, the program verified:\n{src}"),
    }
}

#[test]
fn the_limit_is_2_pow_56_and_counts_empty_dims_as_one() {
    assert_eq!(MAX_ELEMENTS, 1usize << LIMIT_LOG2);
    let ok = |d: &[usize]| {
        TensorType::new(DType::F32, d.to_vec())
            .check_limit()
            .is_ok()
    };
    assert!(ok(&[1 << 28, 1 << 28]));
    assert!(!ok(&[1 << 28, (1 << 28) + 1]));
    assert!(ok(&[]));
    assert!(ok(&[0; 64]));
    assert!(!ok(&[usize::MAX, 0]));
    assert!(!ok(&[1 << 40, 1 << 40, 0]));
    assert!(ok(&[1 << 40, 0, 1 << 16]));
    // Within the limit a byte size cannot saturate: 8-byte elements give at most 2^59.
    let ty = TensorType::new(DType::I64, [MAX_ELEMENTS]);
    assert_eq!(ty.size_bytes(), 1 << 59);
}

/// Every way a program can name a type beyond the limit: parameters, constants, iota, and
/// each op whose result can be larger than its operands.
#[test]
fn every_value_beyond_the_limit_fails_verification() {
    let big = 1usize << 32; // big * big = 2^64: overflows usize
    let over = (1usize << 28) + 1; // 2^28 * over > 2^56: no overflow, just over the limit
    let cases: Vec<(&str, String)> = vec![
        ("param", format!("param %x: f32[{big}, {big}]\nreturn %x\n")),
        ("param", format!("param %x: f32[{}, 0]\nreturn %x\n", usize::MAX)),
        (
            "constant",
            format!("%0: f32[{big}, {big}] = constant 0.0\nreturn %0\n"),
        ),
        ("iota", format!("%0: i32[268435456, {over}] = iota axis=1\nreturn %0\n")),
        (
            "expand",
            format!(
                "param %x: f32[3, 1, 1048576]\n%1: f32[3, {}, 1048576] = expand %x, shape=[3, {}, 1048576]\nreturn %1\n",
                1usize << 42,
                1usize << 42
            ),
        ),
        (
            "add",
            format!(
                "param %a: f32[268435456, 1]\nparam %b: f32[{over}]\n%2: f32[268435456, {over}] = add %a, %b\nreturn %2\n"
            ),
        ),
        (
            "where",
            format!(
                "param %c: bool[268435456, 1]\nparam %a: f32[{over}]\nparam %b: f32[]\n%3: f32[268435456, {over}] = where %c, %a, %b\nreturn %3\n"
            ),
        ),
        (
            "pad",
            format!(
                "param %x: f32[268435456, 1]\n%1: f32[268435456, {over}] = pad %x, lo=[0, 0], hi=[0, 268435456], value=0.0\nreturn %1\n"
            ),
        ),
        (
            "concat",
            "param %x: f32[268435456, 268435456]\n%1: f32[268435456, 536870912] = concat %x, %x, axis=1\nreturn %1\n".to_string(),
        ),
        (
            "index_select",
            format!(
                "param %x: f32[268435456, 4]\nparam %i: i64[{over}]\n%2: f32[268435456, {over}] = index_select %x, %i, axis=1\nreturn %2\n"
            ),
        ),
        (
            "matmul",
            format!(
                "param %a: f32[268435456, 1]\nparam %b: f32[1, {over}]\n%2: f32[268435456, {over}] = matmul %a, %b\nreturn %2\n"
            ),
        ),
    ];
    for (op, src) in cases {
        let msg = verify_err(&src);
        assert!(
            msg.contains("size limit") && msg.contains(op),
            "{op}: the message names the op and the limit: {msg}"
        );
    }
    // The same programs one element inside the limit verify.
    let at = "param %x: f32[268435456, 1]\n%1: f32[268435456, 268435456] = expand %x, shape=[268435456, 268435456]\nreturn %1\n";
    assert!(text::parse(at).is_ok());
}

/// Operands of more than isize::MAX bytes were a codegen error ("please report"): they are
/// now a verification error (the user's data is too large), with the op and shapes named.
#[test]
fn values_too_large_for_memory_are_user_errors_not_codegen_errors() {
    let src = format!(
        "param %a: f32[{n}, 1]\nparam %b: f32[1, {n}]\n%2: f32[{n}, {n}] = matmul %a, %b\nreturn %2\n",
        n = 1usize << 31
    );
    let msg = verify_err(&src);
    assert!(
        msg.contains("matmul") && msg.contains("[2147483648, 2147483648]"),
        "{msg}"
    );
    // Building the program through the API and compiling it gives the same class of error.
    let mut p = Program::new();
    let x = p.param("x", TensorType::new(DType::F64, [1]));
    let r = p.push(
        lazyjit_lowering::Op::Expand {
            shape: Shape::from([1usize << 61]),
        },
        &[x],
    );
    assert!(r.unwrap_err().contains("size limit"));
    p.insts.push(lazyjit_lowering::Inst {
        op: lazyjit_lowering::Op::Expand {
            shape: Shape::from([1usize << 61]),
        },
        args: vec![x],
        ty: TensorType::new(DType::F64, [1usize << 61]),
    });
    p.output(lazyjit_lowering::ValueId(1));
    match compile(&p, &CompileOptions::default()) {
        Err(Error::Verify(v)) => assert!(v[0].message.contains("expand"), "{v:?}"),
        Err(e) => panic!("expected a verification error, got {e}"),
        Ok(_) => panic!("compiled a program beyond the size limit"),
    }
}

#[test]
fn tensors_keep_the_limit() {
    assert!(Tensor::from_slice::<f32>(&[], vec![usize::MAX, 0]).is_err());
    assert!(Tensor::zeros(TensorType::new(DType::F32, [1usize << 57])).is_err());
    assert!(Tensor::from_slice::<f32>(&[], vec![0, 1 << 40]).is_ok());
}

/// Views near the limit index correctly: an expand of 3 * 2^54 virtual elements, flattened,
/// read back at its first, middle and last elements (the class that used to read out of
/// bounds or come out shifted past i64::MAX).
#[test]
fn huge_virtual_views_index_correctly() {
    let rows = 1usize << 54;
    let src = format!(
        "param %x: f32[1, 3]\nparam %i: i64[5]\n\
         %2: f32[{rows}, 3] = expand %x, shape=[{rows}, 3]\n\
         %3: f32[{n}] = reshape %2, shape=[{n}]\n\
         %4: f32[5] = index_select %3, %i, axis=0\n\
         %5: f32[3] = slice %3, starts=[{s}], stops=[{n}], steps=[1]\n\
         return %4, %5\n",
        n = 3 * rows,
        s = 3 * rows - 3
    );
    let p = text::parse(&src).unwrap();
    let c = compile(&p, &CompileOptions::default()).unwrap();
    let x = Tensor::from_slice(&[10.0f32, 20.0, 30.0], vec![1, 3]).unwrap();
    let last = (3 * rows - 1) as i64;
    let idx = Tensor::from_slice(&[0i64, 1, 2, last - 1, last], vec![5]).unwrap();
    let out = c.run(&[&x, &idx]).unwrap();
    assert_eq!(
        out[0].as_slice::<f32>().unwrap(),
        &[10.0, 20.0, 30.0, 20.0, 30.0]
    );
    assert_eq!(out[1].as_slice::<f32>().unwrap(), &[10.0, 20.0, 30.0]);
    // Past the end is an index error, never a read.
    let bad = Tensor::from_slice(&[0i64, 0, 0, 0, last + 1], vec![5]).unwrap();
    assert!(matches!(
        c.run(&[&x, &bad]),
        Err(Error::IndexOutOfRange { .. })
    ));
}

/// The reproducer shape, scaled to the limit: [3, 1, 2^20] expanded to
/// [3, 2^34, 2^20] and flattened; element k * 2^54 + j belongs to row k.
#[test]
fn expanded_rows_index_correctly_at_the_limit() {
    let src = format!(
        "param %a: f32[3, 1, 1048576]\nparam %i: i64[4]\n\
         %2: f32[3, {m}, 1048576] = expand %a, shape=[3, {m}, 1048576]\n\
         %3: f32[{n}] = reshape %2, shape=[{n}]\n\
         %4: f32[4] = index_select %3, %i, axis=0\n\
         return %4\n",
        m = 1usize << 34,
        n = 3usize << 54
    );
    let p = text::parse(&src).unwrap();
    let c = compile(&p, &CompileOptions::default()).unwrap();
    let data: Vec<f32> = (0..3usize << 20).map(|i| (i >> 20) as f32).collect();
    let a = Tensor::from_slice(&data, vec![3, 1, 1 << 20]).unwrap();
    let i = Tensor::from_slice(
        &[
            1i64 << 40,
            (1i64 << 54) + 5,
            (2i64 << 54) + 7,
            (3i64 << 54) - 1,
        ],
        vec![4],
    )
    .unwrap();
    let out = c.run(&[&a, &i]).unwrap();
    assert_eq!(out[0].as_slice::<f32>().unwrap(), &[0.0, 1.0, 2.0, 2.0]);
}

#[test]
fn an_unallocatable_output_is_an_error_not_an_abort() {
    let p = text::parse(
        "param %a: f32[]\n%1: f32[1125899906842624] = expand %a, shape=[1125899906842624]\nreturn %1\n",
    );
    let p = p.expect("2^50 elements are within the size limit, so the program is valid");
    let c = compile(&p, &CompileOptions::default()).expect("compiles");
    let a = Tensor::scalar(1.0f32);
    assert!(matches!(c.run(&[&a]), Err(Error::Data(_))));
}
