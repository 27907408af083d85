//! The operations of the program format: each declared once in `table.rs` (name, operands,
//! attributes, dtype and cost classes), with their shape and dtype rules in `infer.rs`.
//!
//! Semantics are documented in `docs/program-format.md`; the reference interpreter
//! ([`crate::reference`]) executes them and the code generator ([`crate::codegen`]) lowers
//! them. `docs/architecture.md` lists every place a new op is handled.

#[macro_use]
mod declare;
mod attrs;
mod class;
mod infer;
mod table;

pub use attrs::{AttrKind, AttrSpec, AttrType, AttrValue};
pub use class::{Cost, DTypeClass, ResultDType};
pub use infer::{broadcast_shapes, reduced_shape};
pub use table::{BinaryOp, Op, OpKind, ReduceOp, UnaryOp};

use std::fmt;

/// How many operands an op takes.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum Arity {
    /// This many operands.
    Exactly(usize),
    /// This many or more (`concat`).
    AtLeast(usize),
}

impl Arity {
    /// Whether `n` operands are allowed.
    pub const fn allows(self, n: usize) -> bool {
        match self {
            Arity::Exactly(k) => n == k,
            Arity::AtLeast(k) => n >= k,
        }
    }
}

impl UnaryOp {
    /// Ops computed by the math library (inline polynomials for f32, calls for f64) rather
    /// than by a single machine instruction.
    pub const fn is_transcendental(self) -> bool {
        matches!(self.cost(), Cost::Transcendental)
    }
}

impl BinaryOp {
    /// Comparisons: the result is `bool`.
    pub const fn is_comparison(self) -> bool {
        matches!(self.result(), ResultDType::Bool)
    }
}

impl ReduceOp {
    /// Index-valued reductions (`argmax`, `argmin`): one axis, an `i64` result.
    pub const fn is_arg(self) -> bool {
        matches!(self.result(), ResultDType::Index)
    }
}

impl Op {
    /// The op's name in the text form.
    pub const fn name(&self) -> &'static str {
        self.kind().name()
    }

    /// Whether the op is elementwise (output element depends on the same-index input elements
    /// after broadcasting).
    pub fn is_elementwise(&self) -> bool {
        matches!(self, Op::Unary(_) | Op::Binary(_) | Op::Where | Op::Cast)
    }
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_round_trip() {
        let kinds: Vec<OpKind> = OpKind::all().collect();
        for (i, k) in kinds.iter().enumerate() {
            assert_eq!(OpKind::from_name(k.name()), Some(*k));
            assert!(kinds[..i].iter().all(|o| o.name() != k.name()), "{k:?}");
        }
        assert_eq!(
            kinds.len(),
            UnaryOp::ALL.len() + BinaryOp::ALL.len() + ReduceOp::ALL.len() + 15
        );
    }

    #[test]
    fn attribute_schemas_match_the_fields() {
        use crate::types::{Scalar, Shape};
        let pad = Op::Pad {
            lo: vec![1],
            hi: vec![2],
            value: Scalar::Float(0.5),
        };
        let spec = pad.kind().attrs();
        let names: Vec<_> = spec.iter().map(|s| s.name).collect();
        assert_eq!(names, ["lo", "hi", "value"]);
        let vals = pad.attr_values();
        assert!(spec.iter().zip(&vals).all(|(s, v)| s.kind == v.kind()));
        assert_eq!(pad.kind().build(vals), Some(pad));

        let c = Op::Constant {
            value: Scalar::Int(3),
        };
        assert!(c.kind().attrs()[0].leading);
        assert!(!OpKind::Iota.attrs()[0].leading);
        let r = Op::Reshape {
            shape: Shape::new([2, 3]),
        };
        assert_eq!(r.kind().build(r.attr_values()), Some(r));
        // Wrong number or kind of values builds nothing.
        assert_eq!(OpKind::Iota.build(vec![]), None);
        assert_eq!(OpKind::Iota.build(vec![AttrValue::Bool(true)]), None);
        assert_eq!(OpKind::MatMul.build(vec![]), Some(Op::MatMul));
    }

    #[test]
    fn family_classes() {
        use crate::types::DType;
        assert!(UnaryOp::Exp.is_transcendental() && !UnaryOp::Relu.is_transcendental());
        assert!(!UnaryOp::Exp.accepts(DType::I32) && UnaryOp::Abs.accepts(DType::I32));
        assert_eq!(BinaryOp::Lt.result_dtype(DType::F32), DType::Bool);
        assert!(BinaryOp::Eq.accepts(DType::Bool) && !BinaryOp::Lt.accepts(DType::Bool));
        assert!(ReduceOp::ArgMax.is_arg() && !ReduceOp::Sum.is_arg());
        assert_eq!(OpKind::Concat.arity(), Arity::AtLeast(1));
        assert!(Arity::AtLeast(1).allows(3) && !Arity::Exactly(2).allows(3));
    }
}
