//! Elementwise ops (unary, binary, where, cast) and the generators (constant, iota).

use super::alloc::{self, Fail};
use super::value::{arg, Elem, Float, Int, Num, Value};
use crate::op::{BinaryOp, UnaryOp};
use crate::types::{DType, Scalar, TensorType};
use ndarray::{ArrayD, ArrayViewD, Axis, IxDyn, Zip};

/// What every kernel here allocates: the op's result.
const RESULT: &str = "the result";

/// `a` as a read-only view broadcast to `dims` (NumPy rules).
pub(super) fn bcast<'a, T>(a: &'a ArrayD<T>, dims: &[usize]) -> Result<ArrayViewD<'a, T>, String> {
    a.broadcast(IxDyn(dims))
        .ok_or_else(|| format!("cannot broadcast {:?} to {dims:?}", a.shape()))
}

fn zip2<A: Copy, B: Copy, R: Elem>(
    a: &ArrayD<A>,
    b: &ArrayD<B>,
    dims: &[usize],
    f: fn(A, B) -> R,
) -> Result<ArrayD<R>, Fail> {
    zip2_views(bcast(a, dims)?, bcast(b, dims)?, f)
}

/// `f` of corresponding elements of two views of the same shape, into a fresh array.
fn zip2_views<A: Copy, B: Copy, R: Elem>(
    a: ArrayViewD<'_, A>,
    b: ArrayViewD<'_, B>,
    f: fn(A, B) -> R,
) -> Result<ArrayD<R>, Fail> {
    let mut out = alloc::full(a.shape(), R::default(), RESULT)?;
    Zip::from(&mut out)
        .and(&a)
        .and(&b)
        .for_each(|o, &x, &y| *o = f(x, y));
    Ok(out)
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
        UnaryOp::Softplus => |x| x.maximum(T::ZERO).plus((-x.abs()).exp().ln_1p()),
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
        UnaryOp::Exp
        | UnaryOp::Log
        | UnaryOp::Sqrt
        | UnaryOp::Rsqrt
        | UnaryOp::Reciprocal
        | UnaryOp::Tanh
        | UnaryOp::Sigmoid
        | UnaryOp::Erf
        | UnaryOp::Sin
        | UnaryOp::Cos
        | UnaryOp::Softplus
        | UnaryOp::Not => return None,
    };
    Some(f)
}

/// A unary elementwise op.
pub(super) fn unary(op: UnaryOp, x: &Value) -> Result<Value, Fail> {
    let bad = || unsupported(op.name(), x.dtype());
    Ok(match x {
        Value::F32(a) => Value::F32(map(a.view(), float_unary(op).ok_or_else(bad)?)?),
        Value::F64(a) => Value::F64(map(a.view(), float_unary(op).ok_or_else(bad)?)?),
        Value::I32(a) => Value::I32(map(a.view(), int_unary(op).ok_or_else(bad)?)?),
        Value::I64(a) => Value::I64(map(a.view(), int_unary(op).ok_or_else(bad)?)?),
        Value::Bool(a) if op == UnaryOp::Not => Value::Bool(map(a.view(), |b: bool| !b)?),
        Value::Bool(_) => return Err(bad().into()),
    })
}

/// `f` of every element, into a fresh array.
fn map<A: Copy, R: Elem>(a: ArrayViewD<'_, A>, f: fn(A) -> R) -> Result<ArrayD<R>, Fail> {
    alloc::map(a, f, RESULT)
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

fn compare<T: Elem>(op: BinaryOp, x: &Value, y: &Value, dims: &[usize]) -> Result<Value, Fail> {
    let f: fn(T, T) -> bool = match op {
        BinaryOp::Eq => |a, b| a == b,
        BinaryOp::Ne => |a, b| a != b,
        BinaryOp::Lt => |a, b| a < b,
        BinaryOp::Le => |a, b| a <= b,
        BinaryOp::Gt => |a, b| a > b,
        BinaryOp::Ge => |a, b| a >= b,
        _ => return Err(format!("{} is not a comparison", op.name()).into()),
    };
    zip2(arg::<T>(x)?, arg::<T>(y)?, dims, f).map(Value::Bool)
}

/// A binary elementwise op; both operands broadcast to `dims`.
pub(super) fn binary(op: BinaryOp, x: &Value, y: &Value, dims: &[usize]) -> Result<Value, Fail> {
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
                _ => return Err(bad().into()),
            };
            zip2(a, b, dims, f).map(Value::Bool)
        }
        _ => Err(format!(
            "{} got operands of different dtypes {} and {}",
            op.name(),
            x.dtype(),
            y.dtype()
        )
        .into()),
    }
}

/// `where(cond, a, b)`, all three broadcast to `dims`.
pub(super) fn select(c: &Value, x: &Value, y: &Value, dims: &[usize]) -> Result<Value, Fail> {
    let cv = bcast(arg::<bool>(c)?, dims)?;
    with_elem!(x.dtype(), T => {
        let av = bcast(arg::<T>(x)?, dims)?;
        let bv = bcast(arg::<T>(y)?, dims)?;
        select_views(cv, av, bv).map(T::wrap)
    })
}

fn select_views<T: Elem>(
    c: ArrayViewD<'_, bool>,
    a: ArrayViewD<'_, T>,
    b: ArrayViewD<'_, T>,
) -> Result<ArrayD<T>, Fail> {
    let mut out = alloc::full(c.shape(), T::default(), RESULT)?;
    Zip::from(&mut out)
        .and(&c)
        .and(&a)
        .and(&b)
        .for_each(|o, &c, &a, &b| *o = if c { a } else { b });
    Ok(out)
}

/// Converts every element to `to` with Rust `as` rules (bool: `!= 0`).
pub(super) fn cast(x: &Value, to: DType) -> Result<Value, Fail> {
    with_elem!(x.dtype(), S => {
        let a = arg::<S>(x)?;
        with_elem!(to, D => map(a.view(), D::cast_from::<S>).map(D::wrap))
    })
}

/// A tensor of type `ty` filled with `value`.
pub(super) fn constant(value: Scalar, ty: &TensorType) -> Result<Value, Fail> {
    let dims = ty.shape.dims();
    with_elem!(ty.dtype, T => alloc::full(dims, T::from_scalar(value), RESULT).map(T::wrap))
}

/// A tensor of type `ty` whose elements are their index along `axis`.
/// A value of type `ty` with no elements (`ty` has a 0 dim).
pub(super) fn empty(ty: &TensorType) -> Result<Value, Fail> {
    fn empty_t<T: Elem>(dims: &[usize]) -> Result<ArrayD<T>, Fail> {
        alloc::full(dims, T::from_index(0), RESULT)
    }
    with_elem!(ty.dtype, T => empty_t::<T>(ty.shape.dims()).map(T::wrap))
}

pub(super) fn iota(axis: usize, ty: &TensorType) -> Result<Value, Fail> {
    if axis >= ty.shape.rank() {
        return Err(format!("iota axis {axis} out of range for {}", ty.shape).into());
    }
    fn iota_t<T: Elem>(axis: usize, dims: &[usize]) -> Result<ArrayD<T>, Fail> {
        let mut out = alloc::full(dims, T::from_index(0), RESULT)?;
        for (i, mut lane) in out.axis_iter_mut(Axis(axis)).enumerate() {
            lane.fill(T::from_index(i));
        }
        Ok(out)
    }
    with_elem!(ty.dtype, T => iota_t::<T>(axis, ty.shape.dims()).map(T::wrap))
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::{arr0, arr1};

    /// 2^48 elements: no allocator can provide them (see `alloc`'s tests).
    const HUGE: usize = 1 << 48;

    fn is_alloc<T: std::fmt::Debug>(r: Result<T, Fail>) -> bool {
        matches!(r, Err(Fail::Alloc(_)))
    }

    #[test]
    fn huge_inputs_fail_in_every_elementwise_kernel() {
        let x = arr0(2.0f32).into_dyn();
        let t = arr0(true).into_dyn();
        let big = x.broadcast(IxDyn(&[HUGE])).unwrap();
        let bigt = t.broadcast(IxDyn(&[HUGE])).unwrap();
        assert!(is_alloc(map(big.view(), |v: f32| v.exp())));
        assert!(is_alloc(map(big.view(), f64::cast_from::<f32>)));
        assert!(is_alloc(
            zip2_views(big.view(), big.view(), |a: f32, b| a + b)
        ));
        assert!(is_alloc(zip2(&x, &x, &[HUGE], |a: f32, b| a < b)));
        assert!(is_alloc(select_views(bigt, big.view(), big.view())));
        let ty = TensorType::new(DType::I64, [HUGE]);
        assert!(is_alloc(constant(Scalar::Int(1), &ty)));
        assert!(is_alloc(iota(0, &ty)));
    }

    #[test]
    fn iota_counts_along_its_axis() {
        let ty = TensorType::new(DType::I32, [2, 3]);
        let v = iota(1, &ty).unwrap();
        let want = ndarray::arr2(&[[0, 1, 2], [0, 1, 2]]).into_dyn();
        assert_eq!(v, Value::I32(want));
        let v = iota(0, &TensorType::new(DType::F32, [3])).unwrap();
        assert_eq!(v, Value::F32(arr1(&[0.0, 1.0, 2.0]).into_dyn()));
    }
}
