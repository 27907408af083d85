//! Error positions and messages of the parser and the verifier.

use super::*;

// ---------------------------------------------------------------------------------------------
// Error positions and messages
// ---------------------------------------------------------------------------------------------

/// Asserts a parse error at `line:col` whose message contains every piece of `parts`.
#[track_caller]
fn assert_parse_error(src: &str, line: u32, col: u32, parts: &[&str]) {
    match parse(src) {
        Err(Error::Parse {
            line: l,
            col: c,
            message,
        }) => {
            assert_eq!((l, c), (line, col), "position of {message:?}");
            for part in parts {
                assert!(message.contains(part), "{message:?} lacks {part:?}");
            }
        }
        other => panic!("expected a parse error for {src:?}, got {other:?}"),
    }
}

#[test]
fn error_unknown_dtype() {
    assert_parse_error(
        "param %x: f16[4]\nreturn %x\n",
        1,
        11,
        &[
            "expected dtype (f32, f64, i32, i64 or bool)",
            "found unknown dtype 'f16'",
        ],
    );
}

#[test]
fn error_unknown_op_with_suggestion() {
    let src = "param %x: f32[4]\n%1: f32[4] = frobnicate %x\nreturn %1\n";
    assert_parse_error(src, 2, 14, &["expected op name", "unknown op 'frobnicate'"]);
    let src = "param %x: f32[4]\n%1: f32[] = reduce_summ %x, axes=[0], keepdim=false\nreturn %1\n";
    assert_parse_error(
        src,
        2,
        13,
        &["unknown op 'reduce_summ'", "did you mean 'reduce_sum'?"],
    );
}

#[test]
fn error_missing_equals() {
    let src = "param %x: f32[4]\n%1: f32[4] exp %x\nreturn %1\n";
    assert_parse_error(src, 2, 12, &["expected '=' after result type, found 'exp'"]);
}

#[test]
fn error_undefined_value() {
    let src = "param %x: f32[4]\n%1: f32[4] = add %x, %9\nreturn %1\n";
    assert_parse_error(src, 2, 22, &["undefined value '%9'"]);
    // A value cannot use itself either.
    let src = "param %x: f32[4]\n%1: f32[4] = add %x, %1\nreturn %1\n";
    assert_parse_error(src, 2, 22, &["undefined value '%1'"]);
    assert_parse_error("return %y\n", 1, 8, &["undefined value '%y'"]);
}

#[test]
fn error_after_operand() {
    let src = "param %x: f32[4]\n%1: f32[4] = add %x, %x = 3\nreturn %1\n";
    assert_parse_error(
        src,
        2,
        25,
        &["expected ',' or newline after operand, found '='"],
    );
}

#[test]
fn error_redefinition() {
    let src = "param %x: f32[4]\n%x: f32[4] = exp %x\nreturn %x\n";
    assert_parse_error(src, 2, 1, &["value %x is already defined at 1:7"]);
    let src = "param %x: f32[4]\nparam %x: f32[4]\nreturn %x\n";
    assert_parse_error(src, 2, 7, &["already defined"]);
}

#[test]
fn error_attributes() {
    let head = "param %x: f32[4, 5]\n";
    let missing = format!("{head}%1: f32[4] = reduce_sum %x, axes=[1]\nreturn %1\n");
    assert_parse_error(
        &missing,
        2,
        14,
        &[
            "reduce_sum is missing attribute 'keepdim'",
            "keepdim=true|false",
        ],
    );
    let unknown = format!("{head}%1: f32[4] = reduce_sum %x, axis=[1], keepdim=true\nreturn %1\n");
    assert_parse_error(
        &unknown,
        2,
        29,
        &[
            "unknown attribute 'axis' for reduce_sum",
            "expected axes=[..], keepdim=true|false",
        ],
    );
    let dup = format!("{head}%1: f32[4, 5] = permute %x, perm=[0, 1], perm=[1, 0]\nreturn %1\n");
    assert_parse_error(&dup, 2, 42, &["duplicate attribute 'perm' for permute"]);
    let none = format!("{head}%1: f32[4, 5] = exp %x, axis=1\nreturn %1\n");
    assert_parse_error(&none, 2, 25, &["exp takes no attributes, found 'axis'"]);
    let order = format!("{head}%1: f32[8, 5] = concat %x, axis=0, %x\nreturn %1\n");
    assert_parse_error(
        &order,
        2,
        36,
        &["operands come before attributes", "found '%x'"],
    );
    let bad_bool = format!("{head}%1: f32[4] = reduce_sum %x, axes=[1], keepdim=1\nreturn %1\n");
    assert_parse_error(
        &bad_bool,
        2,
        47,
        &["expected 'true' or 'false' after 'keepdim='"],
    );
    let bare = format!("{head}%1: f32[4, 5] = exp x\nreturn %1\n");
    assert_parse_error(
        &bare,
        2,
        21,
        &["expected operand ('%name') or attribute ('key=value') after 'exp', found 'x'"],
    );
}

#[test]
fn error_numbers() {
    assert_parse_error(
        "param %x: f32[99999999999999999999]\nreturn %x\n",
        1,
        15,
        &["integer '99999999999999999999' is too large"],
    );
    assert_parse_error(
        "param %x: f32[-1]\nreturn %x\n",
        1,
        15,
        &["expected non-negative integer in list, found '-1'"],
    );
    assert_parse_error(
        "%0: i64[] = constant 9223372036854775808\nreturn %0\n",
        1,
        22,
        &["out of range for i64"],
    );
    assert_parse_error(
        "%0: f64[] = constant 1e400\nreturn %0\n",
        1,
        22,
        &["out of range for f64"],
    );
    assert_parse_error(
        "%0: f64[] = constant 1.5.2\nreturn %0\n",
        1,
        22,
        &["malformed number '1.5.2'"],
    );
    assert_parse_error(
        "%0: f64[] = constant nan:0x3ff0000000000000\nreturn %0\n",
        1,
        26,
        &["is not a NaN bit pattern"],
    );
    assert_parse_error(
        "%0: f64[] = constant\nreturn %0\n",
        1,
        21,
        &["expected scalar value after 'constant', found newline"],
    );
}

#[test]
fn error_program_structure() {
    assert_parse_error("", 1, 1, &["expected 'return' line", "found end of input"]);
    assert_parse_error(
        "param %x: f32[]\n",
        2,
        1,
        &["expected 'return' line", "found end of input"],
    );
    assert_parse_error(
        "param %x: f32[]\nreturn %x\nreturn %x\n",
        3,
        1,
        &["expected end of input after the 'return' line, found 'return'"],
    );
    assert_parse_error(
        "%0: f32[] = constant 1.0\nparam %x: f32[]\nreturn %x\n",
        2,
        1,
        &["parameters must be declared before the first instruction"],
    );
    assert_parse_error(
        "param %3: f32[]\nreturn\n",
        1,
        7,
        &["invalid parameter name '%3'"],
    );
    assert_parse_error(
        "param %x: f32[]\n%1a: f32[] = neg %x\nreturn\n",
        2,
        1,
        &["invalid value name '%1a'"],
    );
    assert_parse_error(
        "param %x: f32[]\n@\nreturn\n",
        2,
        1,
        &["expected 'param', an instruction", "found '@'"],
    );
    assert_parse_error(
        "param %x: f32[] junk\nreturn\n",
        1,
        17,
        &["expected newline after parameter type, found 'junk'"],
    );
    assert_parse_error(
        "param %x f32[]\nreturn\n",
        1,
        10,
        &["expected ':' after parameter name, found 'f32'"],
    );
}

#[test]
fn error_display_names_position() {
    let e = parse("param %x: f16[4]\nreturn %x\n").unwrap_err();
    assert!(e.to_string().starts_with("parse error at 1:11: "), "{e}");
}

#[test]
fn verify_error_points_at_the_instruction() {
    let src = "param %a: f32[4]\nparam %b: f32[5]\n%2: f32[4] = add %a, %b\nreturn %2\n";
    let Err(Error::Verify(violations)) = parse(src) else {
        panic!("expected a verify error")
    };
    assert_eq!(violations.len(), 1);
    let v = &violations[0];
    assert_eq!(v.loc, Some(Loc { line: 3, col: 1 }));
    assert_eq!(v.value, Some(ValueId(2)));
    assert!(v.message.contains("add"), "{}", v.message);
    assert!(
        v.message.contains("[4]") && v.message.contains("[5]"),
        "{}",
        v.message
    );
}

#[test]
fn verify_error_on_declared_type_and_parameters() {
    // Declared result type disagreeing with the inferred one.
    let src = "param %a: f32[4]\n%1: f64[4] = exp %a\nreturn %1\n";
    let Err(Error::Verify(v)) = parse(src) else {
        panic!()
    };
    assert_eq!(v[0].loc, Some(Loc { line: 2, col: 1 }));
    assert!(
        v[0].message.contains("declares result f64[4]"),
        "{}",
        v[0].message
    );
    // A parameter whose element count overflows is reported at its line.
    let src = "# big\nparam %a: f32[4294967296, 4294967296, 4294967296]\nreturn\n";
    let Err(Error::Verify(v)) = parse(src) else {
        panic!()
    };
    assert_eq!(v[0].loc, Some(Loc { line: 2, col: 1 }));
}
