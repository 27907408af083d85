//! Data movement and indexing: reshape, permute, expand, slice, concat, pad, gather,
//! index_select.

use super::elementwise::bcast;
use super::internal;
use super::value::{arg, from_vec, Elem, Value};
use crate::error::Error;
use crate::program::ValueId;
use crate::types::Scalar;
use ndarray::{ArrayD, ArrayViewD, Axis, Dimension, IxDyn, Slice};

/// Same elements in row-major order, new dims.
pub(super) fn reshape(x: &Value, dims: &[usize]) -> Result<Value, String> {
    Ok(map_value!(x, a => from_vec(dims, a.iter().copied().collect())?))
}

/// Output axis `i` is input axis `perm[i]`.
pub(super) fn permute(x: &Value, perm: &[usize]) -> Result<Value, String> {
    let mut seen = vec![false; perm.len()];
    let ok = perm.len() == x.shape().len()
        && perm
            .iter()
            .all(|&p| p < perm.len() && !std::mem::replace(&mut seen[p], true));
    if !ok {
        return Err(format!("bad permutation {perm:?} of {:?}", x.shape()));
    }
    Ok(map_value!(x, a => a.view().permuted_axes(IxDyn(perm)).to_owned()))
}

/// NumPy `broadcast_to`.
pub(super) fn expand(x: &Value, dims: &[usize]) -> Result<Value, String> {
    Ok(map_value!(x, a => bcast(a, dims)?.to_owned()))
}

/// `start..stop` with `step` on every axis.
pub(super) fn slice(
    x: &Value,
    starts: &[usize],
    stops: &[usize],
    steps: &[usize],
) -> Result<Value, String> {
    let shape = x.shape();
    for (i, &d) in shape.iter().enumerate() {
        let (start, stop, step) = (starts.get(i), stops.get(i), steps.get(i));
        let ok = matches!((start, stop, step), (Some(&a), Some(&b), Some(&s)) if a <= b && b <= d && s >= 1);
        if !ok {
            return Err(format!("bad slice of axis {i} of {shape:?}"));
        }
    }
    let spec = |i: usize, len: usize| {
        // A step longer than the axis selects at most the first element, as the original does;
        // clamping keeps it within `isize`.
        let step = steps[i].min(len.max(1));
        Slice::new(starts[i] as isize, Some(stops[i] as isize), step as isize)
    };
    Ok(map_value!(x, a => a.slice_each_axis(|ad| spec(ad.axis.index(), ad.len)).to_owned()))
}

fn concat_t<T: Elem>(args: &[&Value], axis: usize) -> Result<ArrayD<T>, String> {
    let views = args
        .iter()
        .map(|v| arg::<T>(v).map(|a| a.view()))
        .collect::<Result<Vec<ArrayViewD<T>>, String>>()?;
    ndarray::concatenate(Axis(axis), &views).map_err(|e| format!("concat: {e}"))
}

/// Joins the operands along `axis`.
pub(super) fn concat(args: &[&Value], axis: usize) -> Result<Value, String> {
    let first = args.first().ok_or("concat of no operands")?;
    with_elem!(first.dtype(), T => concat_t::<T>(args, axis).map(T::wrap))
}

/// Pads with `lo[i]` elements of `value` before axis `i`; `dims` is the result shape.
pub(super) fn pad(x: &Value, lo: &[usize], value: Scalar, dims: &[usize]) -> Result<Value, String> {
    let shape = x.shape();
    let ok = lo.len() == shape.len()
        && dims.len() == shape.len()
        && (0..shape.len()).all(|i| lo[i].checked_add(shape[i]).is_some_and(|e| e <= dims[i]));
    if !ok {
        return Err(format!("bad pad of {shape:?} to {dims:?} with lo {lo:?}"));
    }
    fn pad_t<T: Elem>(a: &ArrayD<T>, lo: &[usize], value: Scalar, dims: &[usize]) -> ArrayD<T> {
        let mut out = ArrayD::from_elem(IxDyn(dims), T::from_scalar(value));
        out.slice_each_axis_mut(|ad| {
            let i = ad.axis.index();
            Slice::from(lo[i]..lo[i] + a.shape()[i])
        })
        .assign(a);
        out
    }
    Ok(map_value!(x, a => pad_t(a, lo, value, dims)))
}

/// The index operand as i64, or an internal error if it is not an integer tensor.
fn index_values(index: &Value, vid: ValueId) -> Result<ArrayD<i64>, Error> {
    match index {
        Value::I32(a) => Ok(a.mapv(i64::from)),
        Value::I64(a) => Ok(a.clone()),
        other => Err(internal(vid, format!("index operand is {}", other.ty()))),
    }
}

/// Checks every index (row-major) against `0..size`; reports the first that is outside.
fn check_indices(
    op: &'static str,
    index: &ArrayD<i64>,
    axis: usize,
    size: usize,
    vid: ValueId,
) -> Result<(), Error> {
    match index.iter().find(|&&i| i < 0 || i as u64 >= size as u64) {
        None => Ok(()),
        Some(&i) => Err(Error::IndexOutOfRange {
            op,
            value: vid.0,
            index: i,
            axis,
            size,
        }),
    }
}

/// `torch.gather`: `out[p] = data[p with p[axis] replaced by index[p]]`; result shape is the
/// index shape.
pub(super) fn gather(
    data: &Value,
    index: &Value,
    axis: usize,
    vid: ValueId,
) -> Result<Value, Error> {
    let idx = index_values(index, vid)?;
    let dshape = data.shape();
    let fits = axis < dshape.len()
        && idx.ndim() == dshape.len()
        && (0..dshape.len()).all(|k| k == axis || idx.shape()[k] <= dshape[k]);
    if !fits {
        let msg = format!(
            "gather index {:?} does not fit data {dshape:?}",
            idx.shape()
        );
        return Err(internal(vid, msg));
    }
    check_indices("gather", &idx, axis, dshape[axis], vid)?;
    Ok(
        map_value!(data, d => ArrayD::from_shape_fn(idx.raw_dim(), |mut p: IxDyn| {
            let j = idx[&p];
            p[axis] = j as usize;
            d[&p]
        })),
    )
}

/// `index_select` / NumPy `take` along `axis`: result shape
/// `data[..axis] ++ index.shape ++ data[axis+1..]` (given as `dims`).
pub(super) fn index_select(
    data: &Value,
    index: &Value,
    axis: usize,
    dims: &[usize],
    vid: ValueId,
) -> Result<Value, Error> {
    let idx = index_values(index, vid)?;
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
        return Err(internal(vid, msg));
    }
    check_indices("index_select", &idx, axis, dshape[axis], vid)?;
    let rank = dshape.len();
    Ok(
        map_value!(data, d => ArrayD::from_shape_fn(IxDyn(dims), |p: IxDyn| {
            let p = p.slice();
            let mut q = Vec::with_capacity(rank);
            q.extend_from_slice(&p[..axis]);
            q.push(idx[&p[axis..axis + ri]] as usize);
            q.extend_from_slice(&p[axis + ri..]);
            d[&q[..]]
        })),
    )
}
