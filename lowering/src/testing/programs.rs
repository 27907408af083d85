//! Large programs of a given size, for the scaling tests (`lowering/tests/empty_and_scaling.rs`)
//! and the compile-time benchmark (`benches/compile_scaling.rs`): both must build the same
//! programs, so that the bench measures what the tests check.

use super::inputs::tt;
use crate::{BinaryOp, DType, Op, Program, Scalar, UnaryOp};

/// `x * p_0 * p_1 * ...` over an `f32[1024]` `x`, with `n` rank-0 parameters, as a
/// lazy-tensor trace with a `mul_scalar` per step records it (every scalar a parameter).
pub fn scalar_param_chain(n: usize) -> Program {
    let mut p = Program::new();
    let x = p.param("x", tt(DType::F32, &[1024]));
    let ps: Vec<_> = (0..n)
        .map(|i| p.param(format!("p{i}"), tt(DType::F32, &[])))
        .collect();
    let mut acc = x;
    for s in ps {
        acc = p.push(Op::Binary(BinaryOp::Mul), &[acc, s]).unwrap();
    }
    p.output(acc);
    p
}

/// `x * c_0 * c_1 * ...` over an `f32[1000]` `x`, with `n` distinct constants.
pub fn constant_chain(n: usize) -> Program {
    let mut p = Program::new();
    let x = p.param("x", tt(DType::F32, &[1000]));
    let mut acc = x;
    for i in 0..n {
        let value = Scalar::Float(1.0 + (i % 7) as f64 * 0.125);
        let c = p
            .push_typed(Op::Constant { value }, &[], tt(DType::F32, &[]))
            .unwrap();
        acc = p.push(Op::Binary(BinaryOp::Mul), &[acc, c]).unwrap();
    }
    p.output(acc);
    p
}

/// A concat along axis 0 of `n` `f32[s, inner]` parameters whose sizes `s` cycle through
/// `sizes` (0 included).
pub fn concat_of(n: usize, sizes: &[usize], inner: usize) -> Program {
    let mut p = Program::new();
    let ps: Vec<_> = (0..n)
        .map(|i| {
            p.param(
                format!("p{i}"),
                tt(DType::F32, &[sizes[i % sizes.len()], inner]),
            )
        })
        .collect();
    let c = p.push(Op::Concat { axis: 0 }, &ps).unwrap();
    p.output(c);
    p
}

/// `n` elementwise ops (add, neg, mul, abs, in turn) over two `f32[1024]` parameters.
pub fn elementwise_chain(n: usize) -> Program {
    let mut p = Program::new();
    let x = p.param("x", tt(DType::F32, &[1024]));
    let y = p.param("y", tt(DType::F32, &[1024]));
    let mut acc = x;
    for i in 0..n {
        acc = match i % 4 {
            0 => p.push(Op::Binary(BinaryOp::Add), &[acc, y]),
            1 => p.push(Op::Unary(UnaryOp::Neg), &[acc]),
            2 => p.push(Op::Binary(BinaryOp::Mul), &[acc, y]),
            _ => p.push(Op::Unary(UnaryOp::Abs), &[acc]),
        }
        .unwrap();
    }
    p.output(acc);
    p
}
