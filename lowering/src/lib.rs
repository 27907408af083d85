//! `lazyjit-lowering`: post-ordered tensor programs and the Cranelift backend that compiles
//! them into fused, vectorised machine code.
//!
//! ```
//! use lazyjit_lowering::{DType, Program, TensorType};
//! let mut p = Program::new();
//! let a = p.param("a", TensorType::new(DType::F32, [4]));
//! let b = p.param("b", TensorType::new(DType::F32, [4]));
//! let s = p.push(lazyjit_lowering::Op::Binary(lazyjit_lowering::BinaryOp::Add), &[a, b]).unwrap();
//! p.output(s);
//! assert!(p.verify().is_ok());
//! ```
#![warn(missing_docs)]

pub mod codegen;
pub mod error;
mod inputs;
pub mod kernels;
pub mod op;
pub mod program;
pub mod reference;
pub mod tensor;
mod tensor_fmt;
#[cfg(feature = "testing")]
pub mod testing;
pub mod text;
pub mod types;

pub use error::Error;
pub use inputs::{check_inputs, check_outputs};
pub use op::{BinaryOp, Op, ReduceOp, UnaryOp};
pub use program::{Inst, Loc, Param, Program, ValueId, Violation};
pub use tensor::{Buffer, Element, Tensor};
pub use types::{DType, Scalar, Shape, TensorType, MAX_ELEMENTS};
