//! Data movement and indexing: reshape, permute, expand, slice, concat, pad, gather,
//! index_select, scatter_add.

use super::alloc::{self, Fail};
use super::elementwise::bcast;
use super::value::{arg, Elem, Num, Value};
use crate::error::Error;
use crate::program::ValueId;
use crate::types::Scalar;
use ndarray::{ArrayD, ArrayViewD, Axis, Dimension, IxDyn, Slice};

/// What every kernel here allocates: the op's result.
const RESULT: &str = "the result";

/// Same elements in row-major order, new dims.
pub(super) fn reshape(x: &Value, dims: &[usize]) -> Result<Value, Fail> {
    if alloc::numel(dims) != alloc::numel(x.shape()) {
        return Err(format!("cannot reshape {:?} to {dims:?}", x.shape()).into());
    }
    Ok(map_value!(x, a => alloc::collect(dims, a.iter().copied(), RESULT)?))
}

/// Output axis `i` is input axis `perm[i]`.
pub(super) fn permute(x: &Value, perm: &[usize]) -> Result<Value, Fail> {
    let mut seen = vec![false; perm.len()];
    let ok = perm.len() == x.shape().len()
        && perm
            .iter()
            .all(|&p| p < perm.len() && !std::mem::replace(&mut seen[p], true));
    if !ok {
        return Err(format!("bad permutation {perm:?} of {:?}", x.shape()).into());
    }
    Ok(map_value!(x, a => alloc::copy(a.view().permuted_axes(IxDyn(perm)), RESULT)?))
}

/// NumPy `broadcast_to`.
pub(super) fn expand(x: &Value, dims: &[usize]) -> Result<Value, Fail> {
    Ok(map_value!(x, a => alloc::copy(bcast(a, dims)?, RESULT)?))
}

/// `start..stop` with `step` on every axis.
pub(super) fn slice(
    x: &Value,
    starts: &[usize],
    stops: &[usize],
    steps: &[usize],
) -> Result<Value, Fail> {
    let shape = x.shape();
    for (i, &d) in shape.iter().enumerate() {
        let (start, stop, step) = (starts.get(i), stops.get(i), steps.get(i));
        let ok = matches!((start, stop, step), (Some(&a), Some(&b), Some(&s)) if a <= b && b <= d && s >= 1);
        if !ok {
            return Err(format!("bad slice of axis {i} of {shape:?}").into());
        }
    }
    let spec = |i: usize, len: usize| {
        // A step longer than the axis selects at most the first element, as the original does;
        // clamping keeps it within `isize`.
        let step = steps[i].min(len.max(1));
        Slice::new(starts[i] as isize, Some(stops[i] as isize), step as isize)
    };
    Ok(map_value!(x, a => {
        alloc::copy(a.slice_each_axis(|ad| spec(ad.axis.index(), ad.len)), RESULT)?
    }))
}

/// The views joined along `axis`, into a fresh array.
fn concat_t<T: Elem>(views: &[ArrayViewD<'_, T>], axis: usize) -> Result<ArrayD<T>, Fail> {
    let first = views.first().ok_or("concat of no operands")?;
    let mut dims = first.shape().to_vec();
    let mut total = 0usize;
    for v in views {
        let fits = axis < dims.len()
            && v.ndim() == dims.len()
            && (0..dims.len()).all(|k| k == axis || v.shape()[k] == dims[k]);
        let sum = fits.then(|| total.checked_add(v.shape()[axis])).flatten();
        total = sum.ok_or_else(|| {
            format!(
                "concat of {:?} and {:?} along axis {axis}",
                first.shape(),
                v.shape()
            )
        })?;
    }
    dims[axis] = total;
    let mut out = alloc::full(&dims, T::default(), RESULT)?;
    let mut start = 0;
    for v in views {
        let len = v.shape()[axis];
        out.slice_axis_mut(Axis(axis), Slice::from(start..start + len))
            .assign(v);
        start += len;
    }
    Ok(out)
}

/// Joins the operands along `axis`.
pub(super) fn concat(args: &[&Value], axis: usize) -> Result<Value, Fail> {
    let first = args.first().ok_or("concat of no operands")?;
    with_elem!(first.dtype(), T => {
        let views = args
            .iter()
            .map(|v| arg::<T>(v).map(|a| a.view()))
            .collect::<Result<Vec<ArrayViewD<T>>, String>>()?;
        concat_t::<T>(&views, axis).map(T::wrap)
    })
}

/// Pads with `lo[i]` elements of `value` before axis `i`; `dims` is the result shape.
pub(super) fn pad(x: &Value, lo: &[usize], value: Scalar, dims: &[usize]) -> Result<Value, Fail> {
    let shape = x.shape();
    let ok = lo.len() == shape.len()
        && dims.len() == shape.len()
        && (0..shape.len()).all(|i| lo[i].checked_add(shape[i]).is_some_and(|e| e <= dims[i]));
    if !ok {
        return Err(format!("bad pad of {shape:?} to {dims:?} with lo {lo:?}").into());
    }
    fn pad_t<T: Elem>(
        a: &ArrayD<T>,
        lo: &[usize],
        value: Scalar,
        dims: &[usize],
    ) -> Result<ArrayD<T>, Fail> {
        let mut out = alloc::full(dims, T::from_scalar(value), RESULT)?;
        out.slice_each_axis_mut(|ad| {
            let i = ad.axis.index();
            Slice::from(lo[i]..lo[i] + a.shape()[i])
        })
        .assign(a);
        Ok(out)
    }
    Ok(map_value!(x, a => pad_t(a, lo, value, dims)?))
}

/// Checks every index (row-major) against `0..size`; reports the first that is outside.
fn check_indices<I: Elem>(
    op: &'static str,
    index: &ArrayViewD<'_, I>,
    axis: usize,
    size: usize,
    vid: ValueId,
) -> Result<(), Error> {
    let bad = |i: i64| i < 0 || i as u64 >= size as u64;
    match index.iter().map(|&i| i.to_i64()).find(|&i| bad(i)) {
        None => Ok(()),
        Some(i) => Err(Error::IndexOutOfRange {
            op,
            value: vid.0,
            index: i,
            axis,
            size,
        }),
    }
}

/// The index operand must be an integer tensor.
fn bad_index(index: &Value) -> Fail {
    Fail::Bug(format!("index operand is {}", index.ty()))
}

/// `torch.gather`: `out[p] = data[p with p[axis] replaced by index[p]]`; result shape is the
/// index shape.
pub(super) fn gather(
    data: &Value,
    index: &Value,
    axis: usize,
    vid: ValueId,
) -> Result<Value, Fail> {
    match index {
        Value::I32(i) => gather_i(data, i.view(), axis, vid),
        Value::I64(i) => gather_i(data, i.view(), axis, vid),
        other => Err(bad_index(other)),
    }
}

fn gather_i<I: Elem>(
    data: &Value,
    idx: ArrayViewD<'_, I>,
    axis: usize,
    vid: ValueId,
) -> Result<Value, Fail> {
    let dshape = data.shape();
    let fits = axis < dshape.len()
        && idx.ndim() == dshape.len()
        && (0..dshape.len()).all(|k| k == axis || idx.shape()[k] <= dshape[k]);
    if !fits {
        let msg = format!(
            "gather index {:?} does not fit data {dshape:?}",
            idx.shape()
        );
        return Err(msg.into());
    }
    check_indices("gather", &idx, axis, dshape[axis], vid)?;
    Ok(map_value!(data, d => gather_t(d.view(), &idx, axis)?))
}

/// Gathers from `d` with indices already checked.
fn gather_t<T: Elem, I: Elem>(
    d: ArrayViewD<'_, T>,
    idx: &ArrayViewD<'_, I>,
    axis: usize,
) -> Result<ArrayD<T>, Fail> {
    let mut out = alloc::full(idx.shape(), T::default(), RESULT)?;
    for (mut p, o) in out.indexed_iter_mut() {
        let j = idx[&p].to_i64();
        p[axis] = j as usize;
        *o = d[&p];
    }
    Ok(out)
}

/// `index_select` / NumPy `take` along `axis`: result shape
/// `data[..axis] ++ index.shape ++ data[axis+1..]` (given as `dims`).
pub(super) fn index_select(
    data: &Value,
    index: &Value,
    axis: usize,
    dims: &[usize],
    vid: ValueId,
) -> Result<Value, Fail> {
    match index {
        Value::I32(i) => index_select_i(data, i.view(), axis, dims, vid),
        Value::I64(i) => index_select_i(data, i.view(), axis, dims, vid),
        other => Err(bad_index(other)),
    }
}

fn index_select_i<I: Elem>(
    data: &Value,
    idx: ArrayViewD<'_, I>,
    axis: usize,
    dims: &[usize],
    vid: ValueId,
) -> Result<Value, Fail> {
    let dshape = data.shape();
    let ri = idx.ndim();
    let fits = axis < dshape.len()
        && dims.len() + 1 == dshape.len() + ri
        && dims[..axis] == dshape[..axis]
        && dims[axis..axis + ri] == *idx.shape()
        && dims[axis + ri..] == dshape[axis + 1..];
    if !fits {
        let msg = format!(
            "index_select of data {dshape:?} with index {:?} cannot give {dims:?}",
            idx.shape()
        );
        return Err(msg.into());
    }
    check_indices("index_select", &idx, axis, dshape[axis], vid)?;
    Ok(map_value!(data, d => index_select_t(d.view(), &idx, axis, dims)?))
}

/// Selects from `d` with indices already checked.
fn index_select_t<T: Elem, I: Elem>(
    d: ArrayViewD<'_, T>,
    idx: &ArrayViewD<'_, I>,
    axis: usize,
    dims: &[usize],
) -> Result<ArrayD<T>, Fail> {
    let (rank, ri) = (d.ndim(), idx.ndim());
    let mut out = alloc::full(dims, T::default(), RESULT)?;
    for (p, o) in out.indexed_iter_mut() {
        let p = p.slice();
        let mut q = Vec::with_capacity(rank);
        q.extend_from_slice(&p[..axis]);
        q.push(idx[&p[axis..axis + ri]].to_i64() as usize);
        q.extend_from_slice(&p[axis + ri..]);
        *o = d[&q[..]];
    }
    Ok(out)
}

/// `torch.scatter_add`: the input with `updates[p]` added at `p` with `p[axis]` replaced by
/// `index[p]`, for every index position `p` in row-major order. Every index is checked before
/// anything is added.
pub(super) fn scatter_add(
    input: &Value,
    index: &Value,
    updates: &Value,
    axis: usize,
    vid: ValueId,
) -> Result<Value, Fail> {
    match index {
        Value::I32(i) => scatter_add_i(input, i.view(), updates, axis, vid),
        Value::I64(i) => scatter_add_i(input, i.view(), updates, axis, vid),
        other => Err(bad_index(other)),
    }
}

fn scatter_add_i<I: Elem>(
    input: &Value,
    idx: ArrayViewD<'_, I>,
    updates: &Value,
    axis: usize,
    vid: ValueId,
) -> Result<Value, Fail> {
    let (dshape, ushape) = (input.shape(), updates.shape());
    let r = dshape.len();
    let fits = axis < r
        && idx.ndim() == r
        && ushape.len() == r
        && (0..r)
            .all(|k| idx.shape()[k] <= ushape[k] && (k == axis || idx.shape()[k] <= dshape[k]));
    if !fits {
        let msg = format!(
            "scatter_add index {:?} does not fit input {dshape:?} and updates {ushape:?}",
            idx.shape()
        );
        return Err(msg.into());
    }
    check_indices("scatter_add", &idx, axis, dshape[axis], vid)?;
    Ok(match (input, updates) {
        (Value::F32(d), Value::F32(u)) => Value::F32(scatter_add_t(d, u, &idx, axis)?),
        (Value::F64(d), Value::F64(u)) => Value::F64(scatter_add_t(d, u, &idx, axis)?),
        (Value::I32(d), Value::I32(u)) => Value::I32(scatter_add_t(d, u, &idx, axis)?),
        (Value::I64(d), Value::I64(u)) => Value::I64(scatter_add_t(d, u, &idx, axis)?),
        _ => {
            let msg = format!(
                "scatter_add of {} with updates {}",
                input.dtype(),
                updates.dtype()
            );
            return Err(Fail::Bug(msg));
        }
    })
}

/// Adds into a copy of `d` with indices already checked.
fn scatter_add_t<T: Num, I: Elem>(
    d: &ArrayD<T>,
    u: &ArrayD<T>,
    idx: &ArrayViewD<'_, I>,
    axis: usize,
) -> Result<ArrayD<T>, Fail> {
    let mut out = alloc::copy(d.view(), RESULT)?;
    for (mut p, &j) in idx.indexed_iter() {
        let x = u[&p];
        p[axis] = j.to_i64() as usize;
        let o = &mut out[&p];
        *o = o.plus(x);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::{arr0, arr1, arr2};

    /// 2^48 elements: no allocator can provide them (see `alloc`'s tests).
    const HUGE: usize = 1 << 48;

    fn expect_alloc<T: std::fmt::Debug>(r: Result<T, Fail>) {
        assert!(matches!(r, Err(Fail::Alloc(_))), "{r:?}");
    }

    #[test]
    fn huge_results_fail_in_the_layout_kernels() {
        let one = arr1(&[1.0f32]).into_dyn();
        let x = Value::F32(one.clone());
        expect_alloc(expand(&x, &[HUGE]));
        expect_alloc(pad(&x, &[0], Scalar::Float(0.0), &[HUGE]));
        let big = one.broadcast(IxDyn(&[HUGE])).unwrap();
        expect_alloc(concat_t(&[big.view(), one.view()], 0));
        let zero = arr0(0i32).into_dyn();
        let bigi = zero.broadcast(IxDyn(&[HUGE])).unwrap();
        expect_alloc(gather_t(one.view(), &bigi, 0));
        expect_alloc(index_select_t(one.view(), &bigi, 0, &[HUGE]));
    }

    #[test]
    fn concat_of_views_matches_the_operands() {
        let a = arr2(&[[1, 2], [3, 4]]).into_dyn();
        let b = arr2(&[[5], [6]]).into_dyn();
        let c = concat_t(&[a.view(), b.view()], 1).unwrap();
        assert_eq!(c, arr2(&[[1, 2, 5], [3, 4, 6]]).into_dyn());
        assert!(matches!(
            concat_t(&[a.view(), b.view()], 0),
            Err(Fail::Bug(_))
        ));
    }
}
