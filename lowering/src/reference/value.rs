//! Values of the reference interpreter and the element traits its kernels are generic over.

use super::alloc::{self, Fail};
use crate::error::Error;
use crate::tensor::{Element, Tensor};
use crate::types::{DType, Scalar, TensorType};
use ndarray::ArrayD;
use std::ops::Neg;

/// A tensor value of the reference interpreter: an ndarray of the value's element type.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    /// An `f32` value.
    F32(ArrayD<f32>),
    /// An `f64` value.
    F64(ArrayD<f64>),
    /// An `i32` value.
    I32(ArrayD<i32>),
    /// An `i64` value.
    I64(ArrayD<i64>),
    /// A `bool` value.
    Bool(ArrayD<bool>),
}

impl Value {
    /// Copies a tensor into a value of the same dtype and shape.
    ///
    /// Errors with [`Error::Data`] if the copy cannot be allocated.
    pub fn from_tensor(t: &Tensor) -> Result<Value, Error> {
        fn copy_in<T: Elem>(t: &Tensor) -> Result<Value, Error> {
            let fail = |e: String| {
                Error::Data(format!(
                    "reference interpreter: copying a tensor of type {}: {e}",
                    t.ty()
                ))
            };
            let data = t.as_slice::<T>()?;
            match alloc::collect(t.shape().dims(), data.iter().copied(), "the copy") {
                Ok(a) => Ok(T::wrap(a)),
                Err(Fail::Alloc(a)) => Err(fail(a.to_string())),
                Err(Fail::Bug(m)) => Err(fail(m)),
                Err(Fail::Error(e)) => Err(e),
            }
        }
        with_elem!(t.dtype(), T => copy_in::<T>(t))
    }

    /// Copies the value into a row-major tensor, or returns [`Error::Data`] if the tensor
    /// cannot be allocated.
    ///
    /// ```
    /// use lazyjit_lowering::reference::Value;
    /// use ndarray::arr2;
    ///
    /// let v = Value::from(arr2(&[[1i32, 2], [3, 4]]).reversed_axes().into_dyn());
    /// let t = v.to_tensor().unwrap();
    /// assert_eq!(t.as_slice::<i32>().unwrap(), &[1, 3, 2, 4]);
    /// ```
    pub fn to_tensor(&self) -> Result<Tensor, Error> {
        fn copy_out<T: Elem>(a: &ArrayD<T>) -> Result<Tensor, Error> {
            let ty = TensorType::new(T::DTYPE, a.shape());
            let mut t = Tensor::zeros(ty.clone()).map_err(|e| {
                in_context(
                    e,
                    format!("reference interpreter: copying a value of type {ty} into a tensor"),
                )
            })?;
            let dst = t.as_mut_slice::<T>()?;
            if dst.len() != a.len() {
                return Err(Error::Data(format!(
                    "reference interpreter: a tensor of type {ty} holds {} elements, not {}",
                    dst.len(),
                    a.len()
                )));
            }
            for (d, s) in dst.iter_mut().zip(a.iter()) {
                *d = *s;
            }
            Ok(t)
        }
        match self {
            Value::F32(a) => copy_out(a),
            Value::F64(a) => copy_out(a),
            Value::I32(a) => copy_out(a),
            Value::I64(a) => copy_out(a),
            Value::Bool(a) => copy_out(a),
        }
    }

    /// The element type.
    pub fn dtype(&self) -> DType {
        match self {
            Value::F32(_) => DType::F32,
            Value::F64(_) => DType::F64,
            Value::I32(_) => DType::I32,
            Value::I64(_) => DType::I64,
            Value::Bool(_) => DType::Bool,
        }
    }

    /// The dims, outermost first.
    pub fn shape(&self) -> &[usize] {
        match self {
            Value::F32(a) => a.shape(),
            Value::F64(a) => a.shape(),
            Value::I32(a) => a.shape(),
            Value::I64(a) => a.shape(),
            Value::Bool(a) => a.shape(),
        }
    }

    /// Dtype and shape as a [`TensorType`].
    pub fn ty(&self) -> TensorType {
        TensorType::new(self.dtype(), self.shape())
    }
}

macro_rules! value_from_array {
    ($($t:ty => $var:ident),*) => {$(
        impl From<ArrayD<$t>> for Value {
            fn from(a: ArrayD<$t>) -> Value {
                Value::$var(a)
            }
        }
    )*};
}
value_from_array!(f32 => F32, f64 => F64, i32 => I32, i64 => I64, bool => Bool);

/// Every element type: access to its `Value` variant and the `as` conversions of `cast`.
pub(crate) trait Elem: Element + PartialOrd {
    fn get(v: &Value) -> Option<&ArrayD<Self>>;
    fn wrap(a: ArrayD<Self>) -> Value;
    fn to_f32(self) -> f32;
    fn to_f64(self) -> f64;
    fn to_i32(self) -> i32;
    fn to_i64(self) -> i64;
    fn to_bool(self) -> bool;
    /// `s as Self` with the rules of `cast`.
    fn cast_from<S: Elem>(s: S) -> Self;
    /// A literal (`constant`, `pad`) converted to this dtype.
    fn from_scalar(s: Scalar) -> Self;
    /// An `iota` index converted to this dtype.
    fn from_index(i: usize) -> Self;
}

macro_rules! impl_elem_num {
    ($t:ty, $var:ident, $cast:ident, zero = $zero:expr) => {
        impl Elem for $t {
            fn get(v: &Value) -> Option<&ArrayD<$t>> {
                match v {
                    Value::$var(a) => Some(a),
                    _ => None,
                }
            }
            fn wrap(a: ArrayD<$t>) -> Value {
                Value::$var(a)
            }
            fn to_f32(self) -> f32 {
                self as f32
            }
            fn to_f64(self) -> f64 {
                self as f64
            }
            fn to_i32(self) -> i32 {
                self as i32
            }
            fn to_i64(self) -> i64 {
                self as i64
            }
            fn to_bool(self) -> bool {
                self != $zero
            }
            fn cast_from<S: Elem>(s: S) -> $t {
                s.$cast()
            }
            fn from_scalar(s: Scalar) -> $t {
                match s {
                    Scalar::Float(v) => v as $t,
                    Scalar::Int(v) => v as $t,
                    Scalar::Bool(b) => b as u8 as $t,
                }
            }
            fn from_index(i: usize) -> $t {
                i as $t
            }
        }
    };
}
impl_elem_num!(f32, F32, to_f32, zero = 0.0);
impl_elem_num!(f64, F64, to_f64, zero = 0.0);
impl_elem_num!(i32, I32, to_i32, zero = 0);
impl_elem_num!(i64, I64, to_i64, zero = 0);

impl Elem for bool {
    fn get(v: &Value) -> Option<&ArrayD<bool>> {
        match v {
            Value::Bool(a) => Some(a),
            _ => None,
        }
    }
    fn wrap(a: ArrayD<bool>) -> Value {
        Value::Bool(a)
    }
    fn to_f32(self) -> f32 {
        self as u8 as f32
    }
    fn to_f64(self) -> f64 {
        self as u8 as f64
    }
    fn to_i32(self) -> i32 {
        self as i32
    }
    fn to_i64(self) -> i64 {
        self as i64
    }
    fn to_bool(self) -> bool {
        self
    }
    fn cast_from<S: Elem>(s: S) -> bool {
        s.to_bool()
    }
    fn from_scalar(s: Scalar) -> bool {
        s.as_bool()
    }
    fn from_index(i: usize) -> bool {
        i != 0
    }
}

/// Numeric element types (everything but bool).
pub(crate) trait Num: Elem {
    const ZERO: Self;
    const ONE: Self;
    /// The identity of `max`: `-inf` or the integer minimum.
    const LOWEST: Self;
    /// The identity of `min`: `+inf` or the integer maximum.
    const HIGHEST: Self;
    fn plus(self, o: Self) -> Self;
    fn minus(self, o: Self) -> Self;
    fn times(self, o: Self) -> Self;
    fn over(self, o: Self) -> Self;
    fn maximum(self, o: Self) -> Self;
    fn minimum(self, o: Self) -> Self;
    fn is_nan(self) -> bool;
}

/// Float element types.
pub(crate) trait Float: Num + Neg<Output = Self> {
    fn abs(self) -> Self;
    fn exp(self) -> Self;
    fn ln(self) -> Self;
    fn ln_1p(self) -> Self;
    fn sqrt(self) -> Self;
    fn tanh(self) -> Self;
    fn erf(self) -> Self;
    fn sin(self) -> Self;
    fn cos(self) -> Self;
    fn floor(self) -> Self;
    fn ceil(self) -> Self;
    fn round_even(self) -> Self;
    fn powf(self, o: Self) -> Self;
}

/// Integer element types.
pub(crate) trait Int: Num {
    fn wrapping_neg(self) -> Self;
    fn wrapping_abs(self) -> Self;
    fn signum(self) -> Self;
}

macro_rules! impl_float {
    ($t:ident, $erf:path) => {
        impl Num for $t {
            const ZERO: $t = 0.0;
            const ONE: $t = 1.0;
            const LOWEST: $t = $t::NEG_INFINITY;
            const HIGHEST: $t = $t::INFINITY;
            fn plus(self, o: $t) -> $t {
                self + o
            }
            fn minus(self, o: $t) -> $t {
                self - o
            }
            fn times(self, o: $t) -> $t {
                self * o
            }
            fn over(self, o: $t) -> $t {
                self / o
            }
            /// IEEE 754-2019 `maximum`: NaN-propagating, `-0.0 < +0.0`.
            fn maximum(self, o: $t) -> $t {
                if self.is_nan() {
                    self
                } else if o.is_nan() {
                    o
                } else if self > o {
                    self
                } else if o > self {
                    o
                } else if self.is_sign_positive() {
                    self
                } else {
                    o
                }
            }
            /// IEEE 754-2019 `minimum`: NaN-propagating, `-0.0 < +0.0`.
            fn minimum(self, o: $t) -> $t {
                if self.is_nan() {
                    self
                } else if o.is_nan() {
                    o
                } else if self < o {
                    self
                } else if o < self {
                    o
                } else if self.is_sign_negative() {
                    self
                } else {
                    o
                }
            }
            fn is_nan(self) -> bool {
                $t::is_nan(self)
            }
        }

        impl Float for $t {
            fn abs(self) -> $t {
                $t::abs(self)
            }
            fn exp(self) -> $t {
                $t::exp(self)
            }
            fn ln(self) -> $t {
                $t::ln(self)
            }
            fn ln_1p(self) -> $t {
                $t::ln_1p(self)
            }
            fn sqrt(self) -> $t {
                $t::sqrt(self)
            }
            fn tanh(self) -> $t {
                $t::tanh(self)
            }
            fn erf(self) -> $t {
                $erf(self)
            }
            fn sin(self) -> $t {
                $t::sin(self)
            }
            fn cos(self) -> $t {
                $t::cos(self)
            }
            fn floor(self) -> $t {
                $t::floor(self)
            }
            fn ceil(self) -> $t {
                $t::ceil(self)
            }
            fn round_even(self) -> $t {
                $t::round_ties_even(self)
            }
            fn powf(self, o: $t) -> $t {
                $t::powf(self, o)
            }
        }
    };
}
impl_float!(f32, libm::erff);
impl_float!(f64, libm::erf);

macro_rules! impl_int {
    ($t:ident) => {
        impl Num for $t {
            const ZERO: $t = 0;
            const ONE: $t = 1;
            const LOWEST: $t = $t::MIN;
            const HIGHEST: $t = $t::MAX;
            fn plus(self, o: $t) -> $t {
                self.wrapping_add(o)
            }
            fn minus(self, o: $t) -> $t {
                self.wrapping_sub(o)
            }
            fn times(self, o: $t) -> $t {
                self.wrapping_mul(o)
            }
            /// Truncating; `x / 0 = 0`, `MIN / -1 = MIN`.
            fn over(self, o: $t) -> $t {
                if o == 0 {
                    0
                } else {
                    self.wrapping_div(o)
                }
            }
            fn maximum(self, o: $t) -> $t {
                Ord::max(self, o)
            }
            fn minimum(self, o: $t) -> $t {
                Ord::min(self, o)
            }
            fn is_nan(self) -> bool {
                false
            }
        }

        impl Int for $t {
            fn wrapping_neg(self) -> $t {
                $t::wrapping_neg(self)
            }
            fn wrapping_abs(self) -> $t {
                $t::wrapping_abs(self)
            }
            fn signum(self) -> $t {
                $t::signum(self)
            }
        }
    };
}
impl_int!(i32);
impl_int!(i64);

/// `e` with `context` prefixed to its message if it is [`Error::Data`] (other errors are
/// already complete).
pub(super) fn in_context(e: Error, context: impl std::fmt::Display) -> Error {
    match e {
        Error::Data(m) => Error::Data(format!("{context}: {m}")),
        e => e,
    }
}

/// The operand as an array of `T`, or a message naming the dtype it has instead.
pub(crate) fn arg<T: Elem>(v: &Value) -> Result<&ArrayD<T>, String> {
    T::get(v).ok_or_else(|| format!("expected a {} operand, got {}", T::DTYPE, v.ty()))
}
