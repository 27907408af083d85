//! Reductions: sum, mean, max, min, prod, argmax, argmin.

use super::alloc::{self, Fail};
use super::value::{Num, Value};
use crate::op::ReduceOp;
use ndarray::{ArrayViewD, IxDyn};

/// Reduces `x` over `axes` (sorted, unique). Each output element folds its reduced elements in
/// row-major order, starting from the first; an empty fold gives the op's identity.
pub(super) fn reduce(
    op: ReduceOp,
    axes: &[usize],
    keepdim: bool,
    x: &Value,
) -> Result<Value, Fail> {
    if axes.is_empty() && !op.is_arg() {
        return Ok(map_value!(x, a => alloc::copy(a.view(), "the result")?));
    }
    if axes.iter().any(|&a| a >= x.shape().len()) {
        return Err(format!(
            "{} axes {axes:?} out of range for {:?}",
            op.name(),
            x.shape()
        )
        .into());
    }
    let dims: Vec<usize> = x
        .shape()
        .iter()
        .enumerate()
        .map(|(i, &d)| if axes.contains(&i) { 1 } else { d })
        .collect();
    let out_dims: Vec<usize> = if keepdim {
        dims
    } else {
        x.shape()
            .iter()
            .enumerate()
            .filter(|(i, _)| !axes.contains(i))
            .map(|(_, &d)| d)
            .collect()
    };
    match x {
        Value::F32(a) => reduce_num(op, axes, a.view(), &out_dims),
        Value::F64(a) => reduce_num(op, axes, a.view(), &out_dims),
        Value::I32(a) => reduce_num(op, axes, a.view(), &out_dims),
        Value::I64(a) => reduce_num(op, axes, a.view(), &out_dims),
        Value::Bool(_) => Err(format!("{} does not accept bool", op.name()).into()),
    }
}

/// The elements of `a` reordered so that each output element's reduced elements are one
/// contiguous row (in row-major order of the reduced axes), and the row length.
fn rows<T: Num>(a: ArrayViewD<'_, T>, axes: &[usize]) -> Result<(Vec<T>, usize), Fail> {
    let mut perm: Vec<usize> = (0..a.ndim()).filter(|i| !axes.contains(i)).collect();
    perm.extend_from_slice(axes);
    let inner = axes.iter().map(|&i| a.shape()[i]).product();
    let p = a.permuted_axes(IxDyn(&perm));
    let data = alloc::collect_vec(p.len(), p.iter().copied(), "the reordered operand")?;
    Ok((data, inner))
}

fn fold<T: Copy>(row: &[T], empty: T, f: fn(T, T) -> T) -> T {
    match row.split_first() {
        None => empty,
        Some((&first, rest)) => rest.iter().fold(first, |acc, &x| f(acc, x)),
    }
}

/// Index of the first element of `row` that `better` prefers to all earlier ones; a NaN is
/// preferred to everything and the first NaN wins. `row` is never empty (verifier rule).
fn arg_index<T: Num>(row: &[T], better: fn(T, T) -> bool) -> usize {
    let mut best = 0;
    for (i, &x) in row.iter().enumerate().skip(1) {
        if row[best].is_nan() {
            break;
        }
        if x.is_nan() || better(x, row[best]) {
            best = i;
        }
    }
    best
}

fn reduce_num<T: Num>(
    op: ReduceOp,
    axes: &[usize],
    a: ArrayViewD<'_, T>,
    out_dims: &[usize],
) -> Result<Value, Fail> {
    let (data, inner) = rows(a, axes)?;
    let outer: usize = out_dims.iter().product();
    if outer.checked_mul(inner) != Some(data.len()) {
        return Err(format!(
            "{} rows of {outer} x {inner} from {}",
            op.name(),
            data.len()
        )
        .into());
    }
    let row = |o: usize| &data[o * inner..(o + 1) * inner];
    if op.is_arg() {
        let better: fn(T, T) -> bool = match op {
            ReduceOp::ArgMax => |x, best| x > best,
            _ => |x, best| x < best,
        };
        if inner == 0 && outer > 0 {
            return Err(format!("{} over an empty axis", op.name()).into());
        }
        let res = (0..outer).map(|o| arg_index(row(o), better) as i64);
        return alloc::collect(out_dims, res, "the result").map(Value::I64);
    }
    let (empty, f): (T, fn(T, T) -> T) = match op {
        ReduceOp::Sum | ReduceOp::Mean => (T::ZERO, T::plus),
        ReduceOp::Max => (T::LOWEST, T::maximum),
        ReduceOp::Min => (T::HIGHEST, T::minimum),
        _ => (T::ONE, T::times),
    };
    let count = T::from_index(inner);
    let res = (0..outer).map(|o| {
        let r = fold(row(o), empty, f);
        if op == ReduceOp::Mean {
            r.over(count)
        } else {
            r
        }
    });
    alloc::collect(out_dims, res, "the result").map(T::wrap)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::arr0;

    #[test]
    fn huge_operands_fail_in_the_reordering_copy() {
        let x = arr0(1.0f64).into_dyn();
        let big = x.broadcast(IxDyn(&[1 << 24, 1 << 24])).unwrap();
        for op in [ReduceOp::Sum, ReduceOp::ArgMax] {
            match reduce_num(op, &[1], big.view(), &[1 << 24]) {
                Err(Fail::Alloc(a)) => assert_eq!(a.what, "the reordered operand"),
                other => panic!("{op:?}: {other:?}"),
            }
        }
    }

    #[test]
    fn arg_index_prefers_first_nan() {
        let row = [1.0f32, f32::NAN, 5.0, f32::NAN];
        assert_eq!(arg_index(&row, |x, b| x > b), 1);
        assert_eq!(arg_index(&row, |x, b| x < b), 1);
        assert_eq!(arg_index(&[3, 7, 7, 1], |x: i32, b| x > b), 1);
    }

    #[test]
    fn fold_empty_is_identity() {
        assert_eq!(fold::<i32>(&[], 1, i32::times), 1);
        assert_eq!(
            fold(&[-0.0f32], 0.0, f32::plus).to_bits(),
            (-0.0f32).to_bits()
        );
    }
}
