//! Hand-computed expectations for every op of the reference interpreter, plus edge cases
//! (broadcasting, rank 0, size-0 dims, NaN, integer corner cases, index and input errors).

use lazyjit_lowering::reference::{self, Value};
use lazyjit_lowering::{
    BinaryOp, DType, Element, Error, Inst, Op, Program, ReduceOp, Scalar, Shape, Tensor,
    TensorType, UnaryOp, ValueId,
};

mod elementwise;
mod layout;
mod programs;
mod reductions;

// ---------------------------------------------------------------- helpers

fn t<T: Element>(shape: &[usize], v: &[T]) -> Tensor {
    Tensor::from_slice(v, shape.to_vec()).unwrap()
}

fn ty(d: DType, shape: &[usize]) -> TensorType {
    TensorType::new(d, shape.to_vec())
}

/// Builds a program with one parameter per input, applies `op` (result type inferred, or
/// `declared` for cast/constant/iota), and runs it.
fn eval_with(op: Op, inputs: &[&Tensor], declared: Option<TensorType>) -> Result<Tensor, Error> {
    let mut p = Program::new();
    let args: Vec<ValueId> = inputs
        .iter()
        .enumerate()
        .map(|(i, x)| p.param(format!("x{i}"), x.ty().clone()))
        .collect();
    let r = match declared {
        Some(d) => p.push_typed(op, &args, d),
        None => p.push(op, &args),
    }
    .unwrap();
    p.output(r);
    let mut out = reference::run(&p, inputs)?;
    assert_eq!(out.len(), 1);
    Ok(out.remove(0))
}

fn eval(op: Op, inputs: &[&Tensor]) -> Tensor {
    eval_with(op, inputs, None).unwrap()
}

fn eval_typed(op: Op, inputs: &[&Tensor], declared: TensorType) -> Tensor {
    eval_with(op, inputs, Some(declared)).unwrap()
}

fn un(op: UnaryOp, x: &Tensor) -> Tensor {
    eval(Op::Unary(op), &[x])
}

fn bin(op: BinaryOp, x: &Tensor, y: &Tensor) -> Tensor {
    eval(Op::Binary(op), &[x, y])
}

fn red(op: ReduceOp, axes: &[usize], keepdim: bool, x: &Tensor) -> Tensor {
    eval(
        Op::Reduce {
            op,
            axes: axes.to_vec(),
            keepdim,
        },
        &[x],
    )
}

fn v<T: Element>(x: &Tensor) -> Vec<T> {
    x.as_slice::<T>().unwrap().to_vec()
}

fn dims(x: &Tensor) -> Vec<usize> {
    x.shape().dims().to_vec()
}

/// Equal within `tol` (relative to max(1, |want|)), NaN matching NaN; infinities exact.
fn close32(got: &[f32], want: &[f32], tol: f32) {
    assert_eq!(got.len(), want.len(), "got {got:?}, want {want:?}");
    for (i, (&g, &w)) in got.iter().zip(want).enumerate() {
        let ok = if w.is_nan() {
            g.is_nan()
        } else if w.is_infinite() {
            g == w
        } else {
            (g - w).abs() <= tol * w.abs().max(1.0)
        };
        assert!(ok, "element {i}: got {g}, want {w} (all: {got:?})");
    }
}

/// Bit-exact float comparison (distinguishes -0.0 and +0.0; any NaN matches any NaN).
fn exact32(got: &[f32], want: &[f32]) {
    assert_eq!(got.len(), want.len(), "got {got:?}, want {want:?}");
    for (i, (&g, &w)) in got.iter().zip(want).enumerate() {
        let ok = if w.is_nan() {
            g.is_nan()
        } else {
            g.to_bits() == w.to_bits()
        };
        assert!(ok, "element {i}: got {g:?}, want {w:?} (all: {got:?})");
    }
}

const NAN: f32 = f32::NAN;
const INF: f32 = f32::INFINITY;
