//! The rule classes an op declaration names: which operand dtypes it accepts, what dtype its
//! result has, and what it costs to compute.

use crate::types::DType;

/// The operand dtypes an elementwise op or reduction accepts.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum DTypeClass {
    /// `f32`, `f64`.
    Float,
    /// `f32`, `f64`, `i32`, `i64`.
    Numeric,
    /// `bool` only.
    Bool,
    /// Every dtype.
    Any,
}

impl DTypeClass {
    /// Whether a value of dtype `d` belongs to the class.
    pub const fn accepts(self, d: DType) -> bool {
        match self {
            DTypeClass::Float => d.is_float(),
            DTypeClass::Numeric => d.is_numeric(),
            DTypeClass::Bool => matches!(d, DType::Bool),
            DTypeClass::Any => true,
        }
    }

    /// The class as error messages name it ("expects {this}, got i32").
    pub const fn describe(self) -> &'static str {
        match self {
            DTypeClass::Float => "a float dtype (f32, f64)",
            DTypeClass::Numeric => "a numeric dtype (f32, f64, i32, i64)",
            DTypeClass::Bool => "bool",
            DTypeClass::Any => "any dtype",
        }
    }
}

/// The dtype of an op's result, given its operands' dtype.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum ResultDType {
    /// The operands' dtype.
    Operand,
    /// `bool` (comparisons).
    Bool,
    /// `i64` (index-valued reductions: argmax, argmin).
    Index,
}

impl ResultDType {
    /// The result dtype for operands of dtype `d`.
    pub const fn of(self, d: DType) -> DType {
        match self {
            ResultDType::Operand => d,
            ResultDType::Bool => DType::Bool,
            ResultDType::Index => DType::I64,
        }
    }
}

/// How an op is computed, for cost models and the math library.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum Cost {
    /// One or a few machine instructions per element.
    Cheap,
    /// A math-library routine (inline polynomials for f32, calls for f64).
    Transcendental,
}
