//! Tests of the program text form: lossless round trips of random valid programs, fuzzing
//! (arbitrary and mutated text never panics), and the exact positions and wording of errors.

use lazyjit_lowering::text::{parse, parse_unverified, print};
use lazyjit_lowering::{
    BinaryOp, DType, Error, Loc, Op, Program, ReduceOp, Scalar, Shape, TensorType, UnaryOp, ValueId,
};
use proptest::prelude::*;

mod errors;
mod fuzzing;
mod round_trip;
use round_trip::*;

// ---------------------------------------------------------------------------------------------
// Hand-written programs
// ---------------------------------------------------------------------------------------------

const SOFTMAX: &str = "\
# softmax over the last axis
param %x: f32[4096, 1024]
param %bias: f32[1024]
%2: f32[4096, 1] = reduce_max %x, axes=[1], keepdim=true
%3: f32[4096, 1024] = sub %x, %2
%4: f32[4096, 1024] = exp %3
%5: f32[4096, 1] = reduce_sum %4, axes=[1], keepdim=true   # denominators
%6: f32[4096, 1024] = div %4, %5
%7: f32[] = constant 0.5
%8: i32[3, 4] = iota axis=1
%9: f64[4096, 1024] = cast %6
return %6, %9
";

#[test]
fn parses_the_design_example_and_prints_it_canonically() {
    let p = parse(SOFTMAX).unwrap();
    assert_eq!(p.params.len(), 2);
    assert_eq!(p.insts.len(), 8);
    assert_eq!(p.outputs, vec![ValueId(6), ValueId(9)]);
    assert_eq!(
        p.insts[0].op,
        Op::Reduce {
            op: ReduceOp::Max,
            axes: vec![1],
            keepdim: true
        }
    );
    assert_eq!(
        p.insts[5].op,
        Op::Constant {
            value: Scalar::Float(0.5)
        }
    );
    assert_eq!(p.locs[0], Loc { line: 4, col: 1 });
    assert_eq!(p.locs[7], Loc { line: 11, col: 1 });
    let expected: String = SOFTMAX
        .lines()
        .skip(1)
        .map(|l| format!("{}\n", l.split('#').next().unwrap().trim_end()))
        .collect();
    assert_eq!(print(&p), expected);
    assert_eq!(p.to_string(), expected);
    assert_eq!(expected.parse::<Program>().unwrap(), p);
}

#[test]
fn named_results_comments_blank_lines_and_crlf() {
    let src = "\r\n  # leading comment\r\nparam %x: f32[2]\r\n\r\n  %double: f32[2] = add %x, %x # sum\r\n%0: f32[2] = neg %double\r\nreturn %0, %x\r\n# trailing\r\n";
    let p = parse(src).unwrap();
    assert_eq!(p.outputs, vec![ValueId(2), ValueId(0)]);
    assert_eq!(
        p.locs,
        vec![Loc { line: 5, col: 3 }, Loc { line: 6, col: 1 }]
    );
    assert_eq!(
        print(&p),
        "param %x: f32[2]\n%1: f32[2] = add %x, %x\n%2: f32[2] = neg %1\nreturn %2, %x\n"
    );
}

#[test]
fn empty_return_and_no_trailing_newline() {
    let p = parse("return").unwrap();
    assert_eq!(p, Program::new());
    assert_eq!(print(&p), "return\n");
    let p = parse("param %a: bool[]\nreturn %a, %a").unwrap();
    assert_eq!(p.outputs, vec![ValueId(0), ValueId(0)]);
}

#[test]
fn every_attribute_form_prints_as_documented() {
    let src = "\
param %x: f32[2, 3]
param %i: i64[2, 1]
%2: f32[3, 2] = permute %x, perm=[1, 0]
%3: f32[6] = reshape %x, shape=[6]
%4: f32[4, 2, 3] = expand %x, shape=[4, 2, 3]
%5: f32[1, 2] = slice %x, starts=[0, 0], stops=[1, 3], steps=[1, 2]
%6: f32[4, 3] = concat %x, %x, axis=0
%7: f32[3, 6] = pad %x, lo=[0, 1], hi=[1, 2], value=-inf
%8: f32[2, 1] = gather %x, %i, axis=1
%9: f32[2, 2, 1] = index_select %x, %i, axis=1
%10: i64[2] = argmax %x, axes=[1], keepdim=false
%11: f32[2, 2] = matmul %x, %2
%12: bool[2, 3] = lt %x, %x
%13: f32[2, 3] = where %12, %x, %x
%14: i32[2, 3] = constant -2147483648
%15: f64[] = constant nan:0xfff8000000000000
%16: bool[] = constant true
%17: f32[2] = reduce_mean %x, axes=[1], keepdim=false
return %13
";
    let p = parse(src).unwrap();
    assert_eq!(print(&p), src);
    let Op::Constant {
        value: Scalar::Float(v),
    } = p.insts[13].op
    else {
        panic!("{:?}", p.insts[13].op)
    };
    assert_eq!(v.to_bits(), 0xfff8_0000_0000_0000);
}

#[test]
fn special_floats_print_exactly() {
    let cases: [(f64, &str); 9] = [
        (-0.0, "-0.0"),
        (0.0, "0.0"),
        (f64::NAN, "nan"),
        (
            f64::from_bits(0x7ff8_0000_0000_0001),
            "nan:0x7ff8000000000001",
        ),
        (f64::INFINITY, "inf"),
        (f64::NEG_INFINITY, "-inf"),
        (5e-324, "5e-324"),
        (1e300, "1e300"),
        (0.1, "0.1"),
    ];
    for (v, text) in cases {
        let mut p = Program::new();
        let ty = TensorType::new(DType::F64, [2]);
        let c = p
            .push_typed(
                Op::Constant {
                    value: Scalar::Float(v),
                },
                &[],
                ty,
            )
            .unwrap();
        p.output(c);
        let printed = print(&p);
        assert_eq!(
            printed,
            format!("%0: f64[2] = constant {text}\nreturn %0\n")
        );
        let q = parse(&printed).unwrap();
        let Op::Constant {
            value: Scalar::Float(w),
        } = q.insts[0].op
        else {
            panic!()
        };
        assert_eq!(w.to_bits(), v.to_bits(), "{text}");
    }
}

#[test]
fn integer_and_float_literals_stay_distinct() {
    let p = parse("%a: f32[] = constant 1\n%b: f32[] = constant 1.0\nreturn %a, %b\n").unwrap();
    assert_eq!(
        p.insts[0].op,
        Op::Constant {
            value: Scalar::Int(1)
        }
    );
    assert_eq!(
        p.insts[1].op,
        Op::Constant {
            value: Scalar::Float(1.0)
        }
    );
    assert_ne!(p.insts[0], p.insts[1]);
}

#[test]
fn parse_unverified_keeps_rule_violations() {
    let src = "param %x: f32[4]\n%1: f32[4] = add %x\nreturn %1\n";
    let p = parse_unverified(src).unwrap();
    assert_eq!(p.insts[0].args, vec![ValueId(0)]);
    assert!(matches!(parse(src), Err(Error::Verify(_))));
}
