//! Text form of programs: printer and parser (see `docs/program-format.md`).
//!
//! The text form is line-oriented and prints and parses losslessly: for every valid program
//! `p`, `parse(&print(&p)) == Ok(p)` and printing the parsed program gives the same text.
//!
//! ```text
//! # softmax over the last axis
//! param %x: f32[4096, 1024]
//! %1: f32[4096, 1] = reduce_max %x, axes=[1], keepdim=true
//! %2: f32[4096, 1024] = sub %x, %1
//! %3: f32[4096, 1024] = exp %2
//! %4: f32[4096, 1] = reduce_sum %3, axes=[1], keepdim=true
//! %5: f32[4096, 1024] = div %3, %4
//! return %5
//! ```
//!
//! Parameters are named `%identifier`; the printer names instruction results `%N`, where `N` is
//! the value's [`ValueId`](crate::ValueId) index. The parser accepts any `%name` (digits or an
//! identifier) for results and numbers values in order of definition.

mod lexer;
mod parser;
mod printer;

use crate::error::Error;
use crate::program::Program;
use std::fmt;

/// Prints `p` in the text form. Never panics, also not on programs that fail verification.
///
/// ```
/// use lazyjit_lowering::{text, BinaryOp, DType, Op, Program, TensorType};
/// let mut p = Program::new();
/// let x = p.param("x", TensorType::new(DType::F32, [2, 3]));
/// let y = p.push(Op::Binary(BinaryOp::Mul), &[x, x]).unwrap();
/// p.output(y);
/// assert_eq!(
///     text::print(&p),
///     "param %x: f32[2, 3]\n%1: f32[2, 3] = mul %x, %x\nreturn %1\n"
/// );
/// ```
pub fn print(p: &Program) -> String {
    p.to_string()
}

/// An op as the program text writes it, without result and operands: the name, a
/// constant's value and the attributes.
///
/// ```
/// use lazyjit_lowering::{text, BinaryOp, Op, ReduceOp, Scalar, Shape, UnaryOp};
/// assert_eq!(text::op_text(&Op::Binary(BinaryOp::Mul)), "mul");
/// assert_eq!(text::op_text(&Op::Unary(UnaryOp::Exp)), "exp");
/// assert_eq!(text::op_text(&Op::Reshape { shape: Shape::new([6]) }), "reshape shape=[6]");
/// let sum = Op::Reduce { op: ReduceOp::Sum, axes: vec![1], keepdim: true };
/// assert_eq!(text::op_text(&sum), "reduce_sum axes=[1], keepdim=true");
/// assert_eq!(text::op_text(&Op::Constant { value: Scalar::Float(-1.5) }), "constant -1.5");
/// ```
pub fn op_text(op: &crate::Op) -> String {
    let mut s = String::new();
    let _ = printer::write_op(&mut s, op);
    s
}

/// The name of every op of the program format, as the text form spells it (the parser's
/// own table, so it cannot drift from what parses).
///
/// ```
/// let names: Vec<_> = lazyjit_lowering::text::op_names().collect();
/// assert!(names.contains(&"exp") && names.contains(&"reduce_sum") && names.contains(&"matmul"));
/// ```
pub fn op_names() -> impl Iterator<Item = &'static str> {
    parser::op_names()
}

/// Parses a program from its text form and verifies it.
///
/// Fills [`Program::locs`] with the position of each instruction's first token. Malformed text
/// is an [`Error::Parse`] with the 1-based line and column of the offending token and a message
/// saying what was expected and what was found; a well-formed program that breaks a shape,
/// dtype or structure rule is an [`Error::Verify`] whose violations carry their locations.
/// Never panics.
///
/// ```
/// use lazyjit_lowering::{text, Error};
/// let src = "param %x: f32[4]\n%1: f32[4] = exp %x\nreturn %1\n";
/// let p = text::parse(src).unwrap();
/// assert_eq!(p.insts.len(), 1);
/// assert_eq!(text::print(&p), src);
///
/// match text::parse("param %x: f16[4]\nreturn %x\n") {
///     Err(Error::Parse { line, col, message }) => {
///         assert_eq!((line, col), (1, 11));
///         assert!(message.contains("unknown dtype 'f16'"));
///     }
///     other => panic!("{other:?}"),
/// }
/// ```
pub fn parse(src: &str) -> Result<Program, Error> {
    parser::parse(src)
}

/// Like [`parse`] but skips [`Program::verify`]: the result is syntactically well-formed
/// (every name resolves to an earlier value) but may break shape, dtype or arity rules.
/// Useful to test the verifier.
pub fn parse_unverified(src: &str) -> Result<Program, Error> {
    parser::parse_unverified(src)
}

impl fmt::Display for Program {
    /// The text form; see [`print()`].
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        printer::write_program(f, self)
    }
}

impl std::str::FromStr for Program {
    type Err = Error;

    /// Parses and verifies; see [`parse`].
    fn from_str(s: &str) -> Result<Program, Error> {
        parse(s)
    }
}
