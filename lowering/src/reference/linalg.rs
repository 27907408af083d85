//! Batched matrix multiplication.

use super::alloc::{self, Fail};
use super::value::{Num, Value};
use ndarray::linalg::general_mat_mul;
use ndarray::{ArrayD, ArrayView2, ArrayViewD, ArrayViewMut2, LinalgScalar};
use std::borrow::Cow;

/// One `[m, k] x [k, n]` product into `c` (row-major slices).
type Kernel<T> = fn(&[T], &[T], &mut [T], usize, usize, usize) -> Result<(), String>;

/// Floats: ndarray's `dot` (its `general_mat_mul` with `beta = 0`, written straight into `c`
/// instead of a freshly allocated matrix).
fn gemm_dot<T: LinalgScalar>(
    a: &[T],
    b: &[T],
    c: &mut [T],
    m: usize,
    k: usize,
    n: usize,
) -> Result<(), String> {
    let av = ArrayView2::from_shape((m, k), a).map_err(|e| format!("matmul lhs: {e}"))?;
    let bv = ArrayView2::from_shape((k, n), b).map_err(|e| format!("matmul rhs: {e}"))?;
    let mut cv = ArrayViewMut2::from_shape((m, n), c).map_err(|e| format!("matmul out: {e}"))?;
    general_mat_mul(T::one(), &av, &bv, T::zero(), &mut cv);
    Ok(())
}

/// Integers: a plain loop, wrapping, accumulating over `k` in order.
fn gemm_loop<T: Num>(
    a: &[T],
    b: &[T],
    c: &mut [T],
    m: usize,
    k: usize,
    n: usize,
) -> Result<(), String> {
    for i in 0..m {
        for j in 0..n {
            let mut acc = T::ZERO;
            for p in 0..k {
                acc = acc.plus(a[i * k + p].times(b[p * n + j]));
            }
            c[i * n + j] = acc;
        }
    }
    Ok(())
}

/// Row-major offset (in matrices) of the batch index `idx` in an operand whose batch dims
/// `dims` broadcast to `idx`'s (right-aligned; size-1 dims repeat).
fn batch_offset(idx: &[usize], dims: &[usize]) -> usize {
    let off = idx.len() - dims.len();
    dims.iter().enumerate().fold(0, |acc, (i, &d)| {
        acc * d + if d == 1 { 0 } else { idx[off + i] }
    })
}

/// The elements of `a` in row-major order: borrowed if `a` is already laid out so, else a
/// fallible copy (`what` names it in errors).
fn row_major<'a, T: Num>(
    a: &'a ArrayViewD<'_, T>,
    what: &'static str,
) -> Result<Cow<'a, [T]>, Fail> {
    Ok(match a.as_slice() {
        Some(s) => Cow::Borrowed(s),
        None => Cow::Owned(alloc::collect_vec(a.len(), a.iter().copied(), what)?),
    })
}

fn matmul_t<T: Num>(
    a: ArrayViewD<'_, T>,
    b: ArrayViewD<'_, T>,
    out_dims: &[usize],
    kernel: Kernel<T>,
) -> Result<ArrayD<T>, Fail> {
    let (ra, rb, ro) = (a.ndim(), b.ndim(), out_dims.len());
    if ra < 2 || rb < 2 || ro < 2 || ro < ra || ro < rb {
        return Err(format!(
            "matmul of {:?} and {:?} to {out_dims:?}",
            a.shape(),
            b.shape()
        )
        .into());
    }
    let (m, k, n) = (a.shape()[ra - 2], a.shape()[ra - 1], b.shape()[rb - 1]);
    if b.shape()[rb - 2] != k || out_dims[ro - 2] != m || out_dims[ro - 1] != n {
        return Err(format!(
            "matmul of {:?} and {:?} to {out_dims:?}",
            a.shape(),
            b.shape()
        )
        .into());
    }
    let batch = &out_dims[..ro - 2];
    let (abatch, bbatch) = (&a.shape()[..ra - 2], &b.shape()[..rb - 2]);
    let broadcasts = |dims: &[usize]| {
        let off = batch.len() - dims.len();
        dims.iter()
            .enumerate()
            .all(|(i, &d)| d == 1 || d == batch[off + i])
    };
    if !broadcasts(abatch) || !broadcasts(bbatch) {
        return Err(format!(
            "matmul batch dims of {:?} and {:?} do not broadcast to {out_dims:?}",
            a.shape(),
            b.shape()
        )
        .into());
    }
    let mut out = alloc::full(out_dims, T::ZERO, "the result")?;
    if m * n == 0 {
        return Ok(out);
    }
    let ad = row_major(&a, "a row-major copy of the lhs")?;
    let bd = row_major(&b, "a row-major copy of the rhs")?;
    let flat = out.as_slice_mut().ok_or("matmul result is not row-major")?;
    let mut idx = vec![0usize; batch.len()];
    for c in flat.chunks_mut(m * n) {
        let ao = batch_offset(&idx, abatch) * m * k;
        let bo = batch_offset(&idx, bbatch) * k * n;
        kernel(&ad[ao..ao + m * k], &bd[bo..bo + k * n], c, m, k, n)?;
        // Advance the batch index (row-major odometer).
        for d in (0..batch.len()).rev() {
            idx[d] += 1;
            if idx[d] < batch[d] {
                break;
            }
            idx[d] = 0;
        }
    }
    Ok(out)
}

/// `[..., m, k] x [..., k, n] -> [..., m, n]` with broadcast batch dims; `dims` is the result.
pub(super) fn matmul(x: &Value, y: &Value, dims: &[usize]) -> Result<Value, Fail> {
    match (x, y) {
        (Value::F32(a), Value::F32(b)) => {
            matmul_t(a.view(), b.view(), dims, gemm_dot).map(Value::F32)
        }
        (Value::F64(a), Value::F64(b)) => {
            matmul_t(a.view(), b.view(), dims, gemm_dot).map(Value::F64)
        }
        (Value::I32(a), Value::I32(b)) => {
            matmul_t(a.view(), b.view(), dims, gemm_loop).map(Value::I32)
        }
        (Value::I64(a), Value::I64(b)) => {
            matmul_t(a.view(), b.view(), dims, gemm_loop).map(Value::I64)
        }
        _ => Err(format!("matmul of {} and {}", x.ty(), y.ty()).into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::{arr2, IxDyn};

    #[test]
    fn huge_results_and_operand_copies_fail() {
        let one = arr2(&[[1.0f32]]).into_dyn();
        let col = one.broadcast(IxDyn(&[1 << 24, 1])).unwrap();
        let row = one.broadcast(IxDyn(&[1, 1 << 24])).unwrap();
        match matmul_t(col, row, &[1 << 24, 1 << 24], gemm_dot) {
            Err(Fail::Alloc(a)) => assert_eq!(a.what, "the result"),
            other => panic!("{other:?}"),
        }
        // A broadcast operand is copied to row-major order first: 2^48 elements.
        let one = arr2(&[[1i64]]).into_dyn();
        let lhs = one.broadcast(IxDyn(&[1, 1 << 48])).unwrap();
        let rhs = one.broadcast(IxDyn(&[1 << 48, 1])).unwrap();
        match matmul_t(lhs, rhs, &[1, 1], gemm_loop) {
            Err(Fail::Alloc(a)) => assert_eq!(a.what, "a row-major copy of the lhs"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn gemm_dot_matches_a_plain_loop() {
        let a = arr2(&[[1.0f64, 2.0, 3.0], [4.0, 5.0, 6.0]]).into_dyn();
        let b = arr2(&[[1.0f64, 0.5], [-1.0, 2.0], [0.0, 1.0]]).into_dyn();
        let dot = matmul_t(a.view(), b.view(), &[2, 2], gemm_dot).unwrap();
        let lp = matmul_t(a.view(), b.view(), &[2, 2], gemm_loop).unwrap();
        assert_eq!(dot, lp);
        assert_eq!(dot, arr2(&[[-1.0, 7.5], [-1.0, 18.0]]).into_dyn());
    }

    #[test]
    fn batch_offsets_broadcast() {
        assert_eq!(batch_offset(&[1, 2], &[2, 3]), 5);
        assert_eq!(batch_offset(&[1, 2], &[1, 3]), 2);
        assert_eq!(batch_offset(&[1, 2], &[3]), 2);
        assert_eq!(batch_offset(&[1, 2], &[]), 0);
    }
}
