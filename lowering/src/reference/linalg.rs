//! Batched matrix multiplication.

use super::value::{from_vec, Num, Value};
use ndarray::{ArrayD, ArrayView2, LinalgScalar};

/// One `[m, k] x [k, n]` product into `c` (row-major slices).
type Kernel<T> = fn(&[T], &[T], &mut [T], usize, usize, usize) -> Result<(), String>;

/// Floats: ndarray's `dot`.
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
    for (dst, src) in c.iter_mut().zip(av.dot(&bv).iter()) {
        *dst = *src;
    }
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

fn matmul_t<T: Num>(
    a: &ArrayD<T>,
    b: &ArrayD<T>,
    out_dims: &[usize],
    kernel: Kernel<T>,
) -> Result<ArrayD<T>, String> {
    let (ra, rb, ro) = (a.ndim(), b.ndim(), out_dims.len());
    if ra < 2 || rb < 2 || ro < 2 || ro < ra || ro < rb {
        return Err(format!(
            "matmul of {:?} and {:?} to {out_dims:?}",
            a.shape(),
            b.shape()
        ));
    }
    let (m, k, n) = (a.shape()[ra - 2], a.shape()[ra - 1], b.shape()[rb - 1]);
    if b.shape()[rb - 2] != k || out_dims[ro - 2] != m || out_dims[ro - 1] != n {
        return Err(format!(
            "matmul of {:?} and {:?} to {out_dims:?}",
            a.shape(),
            b.shape()
        ));
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
        ));
    }
    let nbatch: usize = batch.iter().product();
    let mut out = vec![T::ZERO; nbatch * m * n];
    if m * n == 0 {
        return from_vec(out_dims, out);
    }
    let ad: Vec<T> = a.iter().copied().collect();
    let bd: Vec<T> = b.iter().copied().collect();
    let mut idx = vec![0usize; batch.len()];
    for c in out.chunks_mut(m * n) {
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
    from_vec(out_dims, out)
}

/// `[..., m, k] x [..., k, n] -> [..., m, n]` with broadcast batch dims; `dims` is the result.
pub(super) fn matmul(x: &Value, y: &Value, dims: &[usize]) -> Result<Value, String> {
    match (x, y) {
        (Value::F32(a), Value::F32(b)) => matmul_t(a, b, dims, gemm_dot).map(Value::F32),
        (Value::F64(a), Value::F64(b)) => matmul_t(a, b, dims, gemm_dot).map(Value::F64),
        (Value::I32(a), Value::I32(b)) => matmul_t(a, b, dims, gemm_loop).map(Value::I32),
        (Value::I64(a), Value::I64(b)) => matmul_t(a, b, dims, gemm_loop).map(Value::I64),
        _ => Err(format!("matmul of {} and {}", x.ty(), y.ty())),
    }
}

#[cfg(test)]
mod tests {
    use super::batch_offset;

    #[test]
    fn batch_offsets_broadcast() {
        assert_eq!(batch_offset(&[1, 2], &[2, 3]), 5);
        assert_eq!(batch_offset(&[1, 2], &[1, 3]), 2);
        assert_eq!(batch_offset(&[1, 2], &[3]), 2);
        assert_eq!(batch_offset(&[1, 2], &[]), 0);
    }
}
