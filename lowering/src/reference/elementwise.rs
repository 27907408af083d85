//! Elementwise ops (unary, binary, where, cast) and the generators (constant, iota).

use super::value::{arg, Elem, Float, Int, Num, Value};
use crate::op::{BinaryOp, UnaryOp};
use crate::types::{DType, Scalar, TensorType};
use ndarray::{ArrayD, ArrayViewD, IxDyn, Zip};

/// `a` as a read-only view broadcast to `dims` (NumPy rules).
pub(super) fn bcast<'a, T>(a: &'a ArrayD<T>, dims: &[usize]) -> Result<ArrayViewD<'a, T>, String> {
    a.broadcast(IxDyn(dims))
        .ok_or_else(|| format!("cannot broadcast {:?} to {dims:?}", a.shape()))
}

fn zip2<A: Copy, B: Copy, R>(
    a: &ArrayD<A>,
    b: &ArrayD<B>,
    dims: &[usize],
    f: fn(A, B) -> R,
) -> Result<ArrayD<R>, String> {
    let (av, bv) = (bcast(a, dims)?, bcast(b, dims)?);
    Ok(Zip::from(&av).and(&bv).map_collect(|&x, &y| f(x, y)))
}

fn unsupported(op: &str, d: DType) -> String {
    format!("{op} does not accept {d}")
}

fn float_unary<T: Float>(op: UnaryOp) -> Option<fn(T) -> T> {
    let f: fn(T) -> T = match op {
        UnaryOp::Neg => |x| -x,
        UnaryOp::Abs => |x| x.abs(),
        UnaryOp::Exp => |x| x.exp(),
        UnaryOp::Log => |x| x.ln(),
        UnaryOp::Sqrt => |x| x.sqrt(),
        UnaryOp::Rsqrt => |x| T::ONE.over(x.sqrt()),
        UnaryOp::Reciprocal => |x| T::ONE.over(x),
        UnaryOp::Tanh => |x| x.tanh(),
        UnaryOp::Sigmoid => |x| T::ONE.over(T::ONE.plus((-x).exp())),
        UnaryOp::Relu => |x| x.maximum(T::ZERO),
        UnaryOp::Erf => |x| x.erf(),
        UnaryOp::Sin => |x| x.sin(),
        UnaryOp::Cos => |x| x.cos(),
        UnaryOp::Floor => |x| x.floor(),
        UnaryOp::Ceil => |x| x.ceil(),
        UnaryOp::Round => |x| x.round_even(),
        UnaryOp::Sign => |x| {
            if x.is_nan() {
                x
            } else if x > T::ZERO {
                T::ONE
            } else if x < T::ZERO {
                -T::ONE
            } else {
                T::ZERO
            }
        },
        UnaryOp::Not => return None,
    };
    Some(f)
}

fn int_unary<T: Int>(op: UnaryOp) -> Option<fn(T) -> T> {
    let f: fn(T) -> T = match op {
        UnaryOp::Neg => |x| x.wrapping_neg(),
        UnaryOp::Abs => |x| x.wrapping_abs(),
        UnaryOp::Relu => |x| x.maximum(T::ZERO),
        UnaryOp::Sign => |x| x.signum(),
        UnaryOp::Floor | UnaryOp::Ceil | UnaryOp::Round => |x| x,
        _ => return None,
    };
    Some(f)
}

/// A unary elementwise op.
pub(super) fn unary(op: UnaryOp, x: &Value) -> Result<Value, String> {
    let bad = || unsupported(op.name(), x.dtype());
    Ok(match x {
        Value::F32(a) => Value::F32(a.mapv(float_unary(op).ok_or_else(bad)?)),
        Value::F64(a) => Value::F64(a.mapv(float_unary(op).ok_or_else(bad)?)),
        Value::I32(a) => Value::I32(a.mapv(int_unary(op).ok_or_else(bad)?)),
        Value::I64(a) => Value::I64(a.mapv(int_unary(op).ok_or_else(bad)?)),
        Value::Bool(a) if op == UnaryOp::Not => Value::Bool(a.mapv(|b| !b)),
        Value::Bool(_) => return Err(bad()),
    })
}

fn float_binary<T: Float>(op: BinaryOp) -> Option<fn(T, T) -> T> {
    let f: fn(T, T) -> T = match op {
        BinaryOp::Pow => |a, b| a.powf(b),
        _ => return num_binary(op),
    };
    Some(f)
}

fn num_binary<T: Num>(op: BinaryOp) -> Option<fn(T, T) -> T> {
    let f: fn(T, T) -> T = match op {
        BinaryOp::Add => |a, b| a.plus(b),
        BinaryOp::Sub => |a, b| a.minus(b),
        BinaryOp::Mul => |a, b| a.times(b),
        BinaryOp::Div => |a, b| a.over(b),
        BinaryOp::Max => |a, b| a.maximum(b),
        BinaryOp::Min => |a, b| a.minimum(b),
        _ => return None,
    };
    Some(f)
}

fn compare<T: Elem>(op: BinaryOp, x: &Value, y: &Value, dims: &[usize]) -> Result<Value, String> {
    let f: fn(T, T) -> bool = match op {
        BinaryOp::Eq => |a, b| a == b,
        BinaryOp::Ne => |a, b| a != b,
        BinaryOp::Lt => |a, b| a < b,
        BinaryOp::Le => |a, b| a <= b,
        BinaryOp::Gt => |a, b| a > b,
        BinaryOp::Ge => |a, b| a >= b,
        _ => return Err(format!("{} is not a comparison", op.name())),
    };
    zip2(arg::<T>(x)?, arg::<T>(y)?, dims, f).map(Value::Bool)
}

/// A binary elementwise op; both operands broadcast to `dims`.
pub(super) fn binary(op: BinaryOp, x: &Value, y: &Value, dims: &[usize]) -> Result<Value, String> {
    if op.is_comparison() {
        return with_elem!(x.dtype(), T => compare::<T>(op, x, y, dims));
    }
    let bad = || unsupported(op.name(), x.dtype());
    match (x, y) {
        (Value::F32(a), Value::F32(b)) => {
            zip2(a, b, dims, float_binary(op).ok_or_else(bad)?).map(Value::F32)
        }
        (Value::F64(a), Value::F64(b)) => {
            zip2(a, b, dims, float_binary(op).ok_or_else(bad)?).map(Value::F64)
        }
        (Value::I32(a), Value::I32(b)) => {
            zip2(a, b, dims, num_binary(op).ok_or_else(bad)?).map(Value::I32)
        }
        (Value::I64(a), Value::I64(b)) => {
            zip2(a, b, dims, num_binary(op).ok_or_else(bad)?).map(Value::I64)
        }
        (Value::Bool(a), Value::Bool(b)) => {
            let f: fn(bool, bool) -> bool = match op {
                BinaryOp::And => |a, b| a && b,
                BinaryOp::Or => |a, b| a || b,
                _ => return Err(bad()),
            };
            zip2(a, b, dims, f).map(Value::Bool)
        }
        _ => Err(format!(
            "{} got operands of different dtypes {} and {}",
            op.name(),
            x.dtype(),
            y.dtype()
        )),
    }
}

/// `where(cond, a, b)`, all three broadcast to `dims`.
pub(super) fn select(c: &Value, x: &Value, y: &Value, dims: &[usize]) -> Result<Value, String> {
    let cv = bcast(arg::<bool>(c)?, dims)?;
    with_elem!(x.dtype(), T => {
        let av = bcast(arg::<T>(x)?, dims)?;
        let bv = bcast(arg::<T>(y)?, dims)?;
        Ok(T::wrap(
            Zip::from(&cv)
                .and(&av)
                .and(&bv)
                .map_collect(|&c, &a, &b| if c { a } else { b }),
        ))
    })
}

/// Converts every element to `to` with Rust `as` rules (bool: `!= 0`).
pub(super) fn cast(x: &Value, to: DType) -> Result<Value, String> {
    with_elem!(x.dtype(), S => {
        let a = arg::<S>(x)?;
        Ok(with_elem!(to, D => D::wrap(a.mapv(D::cast_from::<S>))))
    })
}

/// A tensor of type `ty` filled with `value`.
pub(super) fn constant(value: Scalar, ty: &TensorType) -> Value {
    let dims = IxDyn(ty.shape.dims());
    with_elem!(ty.dtype, T => T::wrap(ArrayD::from_elem(dims, T::from_scalar(value))))
}

/// A tensor of type `ty` whose elements are their index along `axis`.
pub(super) fn iota(axis: usize, ty: &TensorType) -> Result<Value, String> {
    if axis >= ty.shape.rank() {
        return Err(format!("iota axis {axis} out of range for {}", ty.shape));
    }
    let dims = IxDyn(ty.shape.dims());
    Ok(with_elem!(ty.dtype, T => {
        T::wrap(ArrayD::from_shape_fn(dims, |i| T::from_index(i[axis])))
    }))
}
