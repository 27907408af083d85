//! Rust operators on tensors: `+ - * /` between tensors (owned or borrowed, in any
//! combination) and between a tensor and an `f32`, `f64`, `i32` or `i64` on either side,
//! and unary `-`.
//!
//! **Operators panic** on bad input (shapes that do not broadcast, a scalar that does not
//! fit the tensor's dtype, mixed dtypes), with the message of the op's [`Error::Op`] and
//! pointing at the operator's line. The named methods ([`LazyTensor::add`],
//! [`LazyTensor::mul_scalar`], ...) record the same IR but return a `Result` instead: use
//! them where bad shapes are expected.
//!
//! ```
//! use lazyjit::LazyTensor;
//! let a = LazyTensor::from_vec(vec![1.0f32, 2.0, 3.0], &[3])?;
//! let b = LazyTensor::from_vec(vec![10.0f32], &[1])?;
//! let c = &a * 2.0 + &b; // [12, 14, 16]
//! let d: LazyTensor = 1.0 - &c / 2.0; // [-5, -6, -7]
//! assert_eq!((-d).to_vec::<f32>()?, vec![5.0, 6.0, 7.0]);
//! let i = LazyTensor::from_vec(vec![7i64, 8], &[2])?;
//! assert_eq!((&i * 3 - 1).to_vec::<i64>()?, vec![20, 23]);
//! assert_eq!((100i64 / &i).to_vec::<i64>()?, vec![14, 12]);
//! # Ok::<(), lazyjit::Error>(())
//! ```
//!
//! A scalar on the right may be any [`ScalarArg`]. A scalar on the left may be an `f32`,
//! `f64`, `i32` or `i64`; since several of those implement the operator, an unsuffixed
//! literal on the left leaves the result type to be inferred from context: write
//! `(1.0f32 - &x).exp()` (or bind the result with a type) before calling a method on it.
//!
//! ```should_panic
//! use lazyjit::LazyTensor;
//! let a = LazyTensor::from_vec(vec![1.0f32, 2.0, 3.0], &[3]).unwrap();
//! let b = LazyTensor::from_vec(vec![1.0f32, 2.0], &[2]).unwrap();
//! let _ = &a + &b; // panics: "add: shapes [3] and [2] do not broadcast ..."
//! ```
//!
//! [`Error::Op`]: crate::Error::Op

use super::elementwise::ScalarArg;
use crate::error::Result;
use crate::tensor::LazyTensor;
use lazyjit_lowering::{BinaryOp, Op};
use std::ops::{Add, Div, Mul, Neg, Sub};

/// The tensor, or a panic with the error's message at the caller's location.
#[track_caller]
fn ok_or_panic(r: Result<LazyTensor>) -> LazyTensor {
    match r {
        Ok(t) => t,
        Err(e) => panic!("{e}"),
    }
}

#[track_caller]
fn tensor_tensor(op: BinaryOp, a: &LazyTensor, b: &LazyTensor) -> LazyTensor {
    ok_or_panic(LazyTensor::apply(Op::Binary(op), &[a, b], None))
}

#[track_caller]
fn tensor_scalar(op: BinaryOp, a: &LazyTensor, v: impl ScalarArg) -> LazyTensor {
    ok_or_panic(binary_scalar(op, a, v, false))
}

#[track_caller]
fn scalar_tensor(op: BinaryOp, v: impl ScalarArg, a: &LazyTensor) -> LazyTensor {
    ok_or_panic(binary_scalar(op, a, v, true))
}

/// `t op v`, or `v op t` when `scalar_left`.
#[track_caller]
fn binary_scalar(
    op: BinaryOp,
    t: &LazyTensor,
    v: impl ScalarArg,
    scalar_left: bool,
) -> Result<LazyTensor> {
    let s = t.scalar_like(op.name(), v.to_scalar())?;
    if scalar_left {
        LazyTensor::apply(Op::Binary(op), &[&s, t], None)
    } else {
        LazyTensor::apply(Op::Binary(op), &[t, &s], None)
    }
}

macro_rules! tensor_ops {
    ($($trait:ident, $method:ident => $op:ident;)*) => {$(
        tensor_ops!(@tt $trait, $method, $op, &LazyTensor, &LazyTensor, |a| a, |b| b);
        tensor_ops!(@tt $trait, $method, $op, &LazyTensor, LazyTensor, |a| a, |b| &b);
        tensor_ops!(@tt $trait, $method, $op, LazyTensor, &LazyTensor, |a| &a, |b| b);
        tensor_ops!(@tt $trait, $method, $op, LazyTensor, LazyTensor, |a| &a, |b| &b);
        tensor_ops!(@scalars $trait, $method, $op, f32, f64, i32, i64);
    )*};
    (@tt $trait:ident, $method:ident, $op:ident, $l:ty, $r:ty, |$a:ident| $ae:expr, |$b:ident| $be:expr) => {
        #[doc = concat!("`", stringify!($l), " ", stringify!($method), " ", stringify!($r), "`: panics where [`LazyTensor::", stringify!($method), "`] returns an error.")]
        impl $trait<$r> for $l {
            type Output = LazyTensor;

            #[track_caller]
            fn $method(self, rhs: $r) -> LazyTensor {
                let $a = self;
                let $b = rhs;
                tensor_tensor(BinaryOp::$op, $ae, $be)
            }
        }
    };
    (@scalars $trait:ident, $method:ident, $op:ident, $($s:ty),*) => {
        #[doc = concat!("`&tensor ", stringify!($method), " scalar` for any [`ScalarArg`] (converted to the tensor's dtype): panics where [`LazyTensor::", stringify!($method), "_scalar`] returns an error.")]
        impl<S: ScalarArg> $trait<S> for &LazyTensor {
            type Output = LazyTensor;

            #[track_caller]
            fn $method(self, rhs: S) -> LazyTensor {
                tensor_scalar(BinaryOp::$op, self, rhs)
            }
        }

        #[doc = concat!("`tensor ", stringify!($method), " scalar` for any [`ScalarArg`] (converted to the tensor's dtype): panics where [`LazyTensor::", stringify!($method), "_scalar`] returns an error.")]
        impl<S: ScalarArg> $trait<S> for LazyTensor {
            type Output = LazyTensor;

            #[track_caller]
            fn $method(self, rhs: S) -> LazyTensor {
                tensor_scalar(BinaryOp::$op, &self, rhs)
            }
        }
    $(
        #[doc = concat!("`", stringify!($s), " ", stringify!($method), " &tensor` (converted to the tensor's dtype): panics on an error.")]
        impl $trait<&LazyTensor> for $s {
            type Output = LazyTensor;

            #[track_caller]
            fn $method(self, rhs: &LazyTensor) -> LazyTensor {
                scalar_tensor(BinaryOp::$op, self, rhs)
            }
        }

        #[doc = concat!("`", stringify!($s), " ", stringify!($method), " tensor` (converted to the tensor's dtype): panics on an error.")]
        impl $trait<LazyTensor> for $s {
            type Output = LazyTensor;

            #[track_caller]
            fn $method(self, rhs: LazyTensor) -> LazyTensor {
                scalar_tensor(BinaryOp::$op, self, &rhs)
            }
        }
    )*};
}

tensor_ops! {
    Add, add => Add;
    Sub, sub => Sub;
    Mul, mul => Mul;
    Div, div => Div;
}

/// `-&x`: panics where [`LazyTensor::neg`] returns an error (a bool tensor).
impl Neg for &LazyTensor {
    type Output = LazyTensor;

    #[track_caller]
    fn neg(self) -> LazyTensor {
        ok_or_panic(LazyTensor::neg(self))
    }
}

/// `-x`: panics where [`LazyTensor::neg`] returns an error (a bool tensor).
impl Neg for LazyTensor {
    type Output = LazyTensor;

    #[track_caller]
    fn neg(self) -> LazyTensor {
        ok_or_panic(LazyTensor::neg(&self))
    }
}
