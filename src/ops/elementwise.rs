//! Elementwise ops: unary, binary (with broadcasting), with Rust scalars, where, cast.

use crate::error::Result;
use crate::tensor::LazyTensor;
use lazyjit_lowering::{BinaryOp, DType, Op, Scalar, Shape, TensorType, UnaryOp};

/// A Rust number usable as the other operand of a binary op (`f32`, `f64`, `i32`, `i64`,
/// `bool`). It is converted to the tensor's dtype: floats need a float tensor, integers
/// fit any numeric tensor (exactly), bools need a bool tensor.
pub trait ScalarArg: Copy {
    /// The number as a literal of the program format.
    fn to_scalar(self) -> Scalar;
}

macro_rules! scalar_arg {
    ($($t:ty => $e:expr;)*) => {$(
        impl ScalarArg for $t {
            fn to_scalar(self) -> Scalar {
                #[allow(clippy::redundant_closure_call)]
                ($e)(self)
            }
        }
    )*};
}
scalar_arg! {
    f32 => |v: f32| Scalar::Float(v as f64);
    f64 => Scalar::Float;
    i32 => |v: i32| Scalar::Int(v as i64);
    i64 => Scalar::Int;
    bool => Scalar::Bool;
}

macro_rules! unary_ops {
    ($($name:ident => $op:ident: $doc:literal;)*) => {$(
        #[doc = $doc]
        #[track_caller]
        pub fn $name(&self) -> Result<LazyTensor> {
            LazyTensor::apply(Op::Unary(UnaryOp::$op), &[self], None)
        }
    )*};
}

macro_rules! binary_ops {
    ($($name:ident, $scalar:ident => $op:ident: $doc:literal;)*) => {$(
        #[doc = $doc]
        #[doc = ""]
        #[doc = "Broadcasts numpy-style; both operands must have one dtype."]
        #[track_caller]
        pub fn $name(&self, other: &LazyTensor) -> Result<LazyTensor> {
            LazyTensor::apply(Op::Binary(BinaryOp::$op), &[self, other], None)
        }

        #[doc = concat!("[`LazyTensor::", stringify!($name), "`] with a Rust scalar as the right operand (converted to this tensor's dtype).")]
        #[track_caller]
        pub fn $scalar(&self, v: impl ScalarArg) -> Result<LazyTensor> {
            let s = self.scalar_like(BinaryOp::$op.name(), v.to_scalar())?;
            LazyTensor::apply(Op::Binary(BinaryOp::$op), &[self, &s], None)
        }
    )*};
}

/// Elementwise ops: unary math (`exp`, `relu`, ...), binary ops with NumPy broadcasting and
/// their `_scalar` forms (a Rust number as the other operand), comparisons (giving `bool`),
/// `where_` and `cast`. Operands of a binary op have one dtype: mixing needs a `cast`.
///
/// ```
/// use lazyjit::{DType, LazyTensor};
/// let x = LazyTensor::from_vec(vec![-1.0f32, 0.0, 2.0], &[3])?;
/// assert_eq!(x.relu()?.to_vec::<f32>()?, vec![0.0, 0.0, 2.0]);
/// let e = x.exp()?.to_vec::<f32>()?;
/// assert!((e[0] - (-1.0f32).exp()).abs() < 1e-6 && (e[1] - 1.0).abs() < 1e-6);
/// // [2, 1] and [3] broadcast to [2, 3].
/// let col = LazyTensor::from_vec(vec![10.0f32, 20.0], &[2, 1])?;
/// let sum = col.add(&x)?;
/// assert_eq!(sum.shape(), &[2, 3]);
/// assert_eq!(sum.to_vec::<f32>()?, vec![9.0, 10.0, 12.0, 19.0, 20.0, 22.0]);
/// assert_eq!(x.mul_scalar(3.0)?.to_vec::<f32>()?, vec![-3.0, 0.0, 6.0]);
/// assert_eq!(x.gt_scalar(0.0)?.to_vec::<bool>()?, vec![false, false, true]);
/// // One dtype per op: an i32 tensor is cast before it meets an f32 one.
/// let i = LazyTensor::from_vec(vec![1i32, 2, 3], &[3])?;
/// assert!(x.add(&i).is_err());
/// assert_eq!(x.add(&i.cast(DType::F32)?)?.to_vec::<f32>()?, vec![0.0, 2.0, 5.0]);
/// # Ok::<(), lazyjit::Error>(())
/// ```
impl LazyTensor {
    unary_ops! {
        neg => Neg: "`-x` (numeric dtypes).";
        abs => Abs: "`|x|` (numeric dtypes).";
        exp => Exp: "`e^x` (float dtypes).";
        log => Log: "Natural logarithm (float dtypes).";
        sqrt => Sqrt: "Square root (float dtypes).";
        rsqrt => Rsqrt: "`1 / sqrt(x)` (float dtypes).";
        reciprocal => Reciprocal: "`1 / x` (float dtypes).";
        tanh => Tanh: "Hyperbolic tangent (float dtypes).";
        sigmoid => Sigmoid: "`1 / (1 + e^-x)` (float dtypes).";
        relu => Relu: "`max(x, 0)` (numeric dtypes).";
        erf => Erf: "The error function (float dtypes).";
        sin => Sin: "Sine (float dtypes).";
        cos => Cos: "Cosine (float dtypes).";
        floor => Floor: "Round towards -inf (numeric dtypes; identity on integers).";
        ceil => Ceil: "Round towards +inf (numeric dtypes; identity on integers).";
        round => Round: "Round half to even (numeric dtypes; identity on integers).";
        sign => Sign: "-1, 0 or 1 (numeric dtypes; NaN stays NaN).";
        logical_not => Not: "Logical not (bool).";
        softplus => Softplus: "`log(1 + e^x)` (float dtypes), stable for large `|x|`: `x` for large `x`, `≈ e^x` (full relative accuracy) for very negative `x`.";
    }

    binary_ops! {
        add, add_scalar => Add: "Elementwise `self + other`.";
        sub, sub_scalar => Sub: "Elementwise `self - other`.";
        mul, mul_scalar => Mul: "Elementwise `self * other`.";
        div, div_scalar => Div: "Elementwise `self / other` (integer division truncates; division by zero gives 0 for integers).";
        pow, pow_scalar => Pow: "Elementwise `self ^ other` (float dtypes).";
        maximum, maximum_scalar => Max: "Elementwise maximum (NaN wins).";
        minimum, minimum_scalar => Min: "Elementwise minimum (NaN wins).";
        eq, eq_scalar => Eq: "Elementwise `==`, giving bool.";
        ne, ne_scalar => Ne: "Elementwise `!=`, giving bool.";
        lt, lt_scalar => Lt: "Elementwise `<`, giving bool.";
        le, le_scalar => Le: "Elementwise `<=`, giving bool.";
        gt, gt_scalar => Gt: "Elementwise `>`, giving bool.";
        ge, ge_scalar => Ge: "Elementwise `>=`, giving bool.";
        logical_and, logical_and_scalar => And: "Elementwise logical and (bool).";
        logical_or, logical_or_scalar => Or: "Elementwise logical or (bool).";
    }

    /// `v - self`, with a Rust scalar on the left.
    #[track_caller]
    pub fn rsub_scalar(&self, v: impl ScalarArg) -> Result<LazyTensor> {
        let s = self.scalar_like("sub", v.to_scalar())?;
        LazyTensor::apply(Op::Binary(BinaryOp::Sub), &[&s, self], None)
    }

    /// `v / self`, with a Rust scalar on the left.
    #[track_caller]
    pub fn rdiv_scalar(&self, v: impl ScalarArg) -> Result<LazyTensor> {
        let s = self.scalar_like("div", v.to_scalar())?;
        LazyTensor::apply(Op::Binary(BinaryOp::Div), &[&s, self], None)
    }

    /// Elementwise `cond ? on_true : on_false`; `cond` is bool, the branches share a dtype;
    /// all three broadcast together.
    ///
    /// ```
    /// use lazyjit::LazyTensor;
    /// let x = LazyTensor::from_vec(vec![-1.0f32, 2.0], &[2])?;
    /// let y = LazyTensor::where_(&x.gt_scalar(0.0)?, &x, &x.mul_scalar(0.1)?)?;
    /// assert_eq!(y.to_vec::<f32>()?, vec![-0.1, 2.0]);
    /// # Ok::<(), lazyjit::Error>(())
    /// ```
    #[track_caller]
    pub fn where_(
        cond: &LazyTensor,
        on_true: &LazyTensor,
        on_false: &LazyTensor,
    ) -> Result<LazyTensor> {
        LazyTensor::apply(Op::Where, &[cond, on_true, on_false], None)
    }

    /// Converts to `dtype` (float to int truncates and saturates, NaN gives 0; to bool is
    /// `!= 0`). A cast to the same dtype returns the tensor itself.
    #[track_caller]
    pub fn cast(&self, dtype: DType) -> Result<LazyTensor> {
        if dtype == self.dtype() {
            return Ok(self.clone());
        }
        LazyTensor::apply(
            Op::Cast,
            &[self],
            Some(TensorType::new(dtype, Shape::new(self.shape()))),
        )
    }
}
