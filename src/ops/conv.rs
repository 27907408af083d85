//! Convolution and pooling over NCHW tensors: `conv2d`, `max_pool2d`, `avg_pool2d`.
//!
//! All three are composites of primitive ops (pad, strided slice, concat, reshape, permute,
//! matmul, reductions, elementwise max/add): they record IR only, and their gradients follow
//! from those primitives.
//!
//! `conv2d` is im2col through layout ops plus one batched GEMM:
//!
//! 1. pad the input `[N, C, H, W]` (only if `padding` is non-zero);
//! 2. take one strided slice `[N, C, OH, OW]` per kernel offset `(kh, kw)`: the input
//!    elements that offset multiplies, for every output position;
//! 3. concatenate the `KH*KW` slices along the channel axis and merge the spatial dims:
//!    `cols = [N, KH*KW*C, OH*OW]` (offset-major: row `k*C + c` is channel `c` at offset
//!    `k`); the matmul reads the merge as a strided view of the concat's buffer;
//! 4. multiply `weight.permute([0, 2, 3, 1]).reshape([O, KH*KW*C])` (the weight in the same
//!    offset-major order; a small copy) by `cols`, the weight broadcast over the batch:
//!    `[N, O, OH*OW]`, which is already NCHW: a reshape gives `[N, O, OH, OW]`, then the
//!    bias `[O, 1, 1]` is added.
//!
//! Offset-major rows let step 3 be a concat along an existing axis of the slices (the cols
//! kernel is cut at the concat seams into one loop nest per kernel offset, each a row-wise
//! contiguous copy when the stride is 1) instead of an interleave, and the output comes out of the GEMM in
//! NCHW order, so the next layer and the pooling read it without a transpose. The matmul's
//! backward is `dW = sum_n dY[n] @ cols[n]^T` (a batched GEMM and a batch-sum of `[N, O,
//! KH*KW*C]`) and `dcols = W^T @ dY` (a batched GEMM), then the concat/slice/pad backward
//! scatters `dcols` back onto the input.
//!
//! Pooling with `stride == kernel` is a reshape to `[N, C, OH, kh, OW, kw]` (after slicing
//! off the remainder) and one reduction over axes 3 and 5; other strides combine the
//! `kh*kw` strided slices elementwise.

use super::reduce::require_float;
use crate::error::{Error, Result, SourceLoc};
use crate::tensor::LazyTensor;

/// Output size of one spatial dim (PyTorch's formula, floor mode), or `None` when the
/// dilated kernel does not fit in the padded input.
fn out_dim(
    input: usize,
    pad: usize,
    kernel: usize,
    stride: usize,
    dilation: usize,
) -> Option<usize> {
    let padded = input.checked_add(pad.checked_mul(2)?)?;
    let span = dilation
        .checked_mul(kernel.checked_sub(1)?)?
        .checked_add(1)?;
    let room = padded.checked_sub(span)?;
    Some(room / stride + 1)
}

/// Checks that every entry of a `[h, w]` parameter is at least 1.
fn require_positive(
    op: &'static str,
    what: &str,
    v: [usize; 2],
    input: &LazyTensor,
    loc: SourceLoc,
) -> Result<()> {
    if v.contains(&0) {
        return Err(Error::op(
            op,
            format!(
                "{what} must be at least 1 in both dims, got {v:?} (input {})",
                input.ty()
            ),
            loc,
        ));
    }
    Ok(())
}

fn require_nchw(op: &'static str, t: &LazyTensor, loc: SourceLoc) -> Result<()> {
    if t.rank() != 4 {
        return Err(Error::op(
            op,
            format!(
                "expects an input of shape [N, C, H, W] (rank 4), got {}",
                t.ty()
            ),
            loc,
        ));
    }
    Ok(())
}

/// The strided slice `x[:, :, h0 : h0 + sh*(oh-1)+1 : sh, w0 : ... : sw]` of an NCHW tensor:
/// `[N, C, oh, ow]`.
#[track_caller]
fn window(
    x: &LazyTensor,
    at: [usize; 2],
    out: [usize; 2],
    stride: [usize; 2],
) -> Result<LazyTensor> {
    let s = x.shape();
    let stop = |d: usize| at[d] + stride[d] * (out[d] - 1) + 1;
    x.slice(
        &[0, 0, at[0], at[1]],
        &[s[0], s[1], stop(0), stop(1)],
        &[1, 1, stride[0], stride[1]],
    )
}

impl LazyTensor {
    /// 2-d convolution (cross-correlation, as PyTorch's `conv2d`) of an NCHW input.
    ///
    /// `self` is `[N, C, H, W]`, `weight` `[O, C, KH, KW]`, `bias` `[O]`, all of one float
    /// dtype; the result is `[N, O, OH, OW]` with
    /// `OH = (H + 2*padding[0] - dilation[0]*(KH-1) - 1) / stride[0] + 1` (floor; `OW`
    /// likewise). Padding is zeros on both sides. Stride and dilation must be at least 1 and
    /// the dilated kernel must fit in the padded input.
    ///
    /// Recorded as im2col (pad, `KH*KW` strided slices, concat) and one batched matmul with
    /// the weight broadcast over the batch; see the module notes for the layout.
    ///
    /// ```
    /// use lazyjit::LazyTensor;
    /// // One 3x3 image, one output channel: the 2x2 kernel sums each 2x2 window.
    /// let x = LazyTensor::from_vec((1..=9).map(|v| v as f32).collect(), &[1, 1, 3, 3])?;
    /// let w = LazyTensor::from_vec(vec![1.0f32; 4], &[1, 1, 2, 2])?;
    /// let b = LazyTensor::from_vec(vec![0.5f32], &[1])?;
    /// let y = x.conv2d(&w, Some(&b), [1, 1], [0, 0], [1, 1])?;
    /// assert_eq!(y.shape(), &[1, 1, 2, 2]);
    /// assert_eq!(y.to_vec::<f32>()?, vec![12.5, 16.5, 24.5, 28.5]);
    /// // Zero padding of 1 keeps the size at stride 1.
    /// let same = x.conv2d(&w, None, [1, 1], [1, 1], [1, 1])?;
    /// assert_eq!(same.shape(), &[1, 1, 4, 4]);
    /// // The weight's 2 input channels do not match the input's 1.
    /// let w2 = LazyTensor::from_vec(vec![1.0f32; 8], &[1, 2, 2, 2])?;
    /// assert!(x.conv2d(&w2, None, [1, 1], [0, 0], [1, 1]).is_err());
    /// # Ok::<(), lazyjit::Error>(())
    /// ```
    #[track_caller]
    pub fn conv2d(
        &self,
        weight: &LazyTensor,
        bias: Option<&LazyTensor>,
        stride: [usize; 2],
        padding: [usize; 2],
        dilation: [usize; 2],
    ) -> Result<LazyTensor> {
        const OP: &str = "conv2d";
        let loc = SourceLoc::caller();
        let fail = |m: String| Err(Error::op(OP, m, loc));
        require_nchw(OP, self, loc)?;
        require_float(OP, self, loc)?;
        if weight.rank() != 4 {
            return fail(format!(
                "weight must have shape [out_channels, in_channels, KH, KW] (rank 4), got {} \
                 (input {})",
                weight.ty(),
                self.ty()
            ));
        }
        if weight.dtype() != self.dtype() {
            return fail(format!(
                "input {} and weight {} need one dtype",
                self.ty(),
                weight.ty()
            ));
        }
        let &[n, c, h, w] = self.shape() else {
            unreachable!("rank checked")
        };
        let &[o, wc, kh, kw] = weight.shape() else {
            unreachable!("rank checked")
        };
        if wc != c {
            return fail(format!(
                "weight {} expects {wc} input channels but input {} has {c} (dim 1 of both \
                 must match)",
                weight.ty(),
                self.ty()
            ));
        }
        if kh == 0 || kw == 0 {
            return fail(format!(
                "weight {} has an empty kernel: KH and KW must be at least 1",
                weight.ty()
            ));
        }
        if let Some(b) = bias {
            if b.dtype() != self.dtype() || b.shape() != [o] {
                return fail(format!(
                    "bias must be {}[{o}] (out_channels of weight {}), got {}",
                    self.dtype(),
                    weight.ty(),
                    b.ty()
                ));
            }
        }
        require_positive(OP, "stride", stride, self, loc)?;
        require_positive(OP, "dilation", dilation, self, loc)?;
        let dims = [h, w];
        let k = [kh, kw];
        let mut out = [0; 2];
        for d in 0..2 {
            out[d] = match out_dim(dims[d], padding[d], k[d], stride[d], dilation[d]) {
                Some(v) => v,
                None => {
                    return fail(format!(
                        "kernel {}x{} with dilation {dilation:?} spans {:?}, more than the \
                         padded input {:?} (input {}, weight {}, padding {padding:?})",
                        kh,
                        kw,
                        [
                            dilation[0].saturating_mul(kh - 1).saturating_add(1),
                            dilation[1].saturating_mul(kw - 1).saturating_add(1)
                        ],
                        [
                            h.saturating_add(padding[0].saturating_mul(2)),
                            w.saturating_add(padding[1].saturating_mul(2))
                        ],
                        self.ty(),
                        weight.ty()
                    ))
                }
            };
        }
        let [oh, ow] = out;

        // 1. Zero padding.
        let xp = if padding == [0, 0] {
            self.clone()
        } else {
            self.pad(
                &[0, 0, padding[0], padding[1]],
                &[0, 0, padding[0], padding[1]],
                0.0,
            )?
        };
        // 2.-3. One strided window per kernel offset, offset-major along the channel axis,
        // concatenated as [N, KH*KW*C, OH, OW] and only then merged to [N, KH*KW*C, OH*OW]:
        // the matmul reads that merge as a strided view of the concat's buffer, so the concat
        // is the root of the kernel that fills `cols`, cut at its seams into one loop nest
        // per window whose innermost loop runs along a row of the window (contiguous at
        // stride 1). Merging each window to [N, C, OH*OW] before the concat instead cost an
        // integer division and remainder by OW per element, which also kept the loop from
        // vectorising its loads (the tutorial's conv2 cols: 18 ms of a 197 ms step).
        let ck = kh * kw * c;
        let mut wins = Vec::with_capacity(kh * kw);
        for i in 0..kh {
            for j in 0..kw {
                wins.push(window(
                    &xp,
                    [i * dilation[0], j * dilation[1]],
                    out,
                    stride,
                )?);
            }
        }
        let cols = if wins.len() == 1 {
            wins.pop().expect("one window")
        } else {
            let refs: Vec<&LazyTensor> = wins.iter().collect();
            LazyTensor::concat(&refs, 1)?
        };
        let cols = cols.reshape(&[n, ck, oh * ow])?;
        // 4. The weight in the same order, broadcast over the batch by matmul.
        let wm = weight.permute(&[0, 2, 3, 1])?.reshape(&[o, ck])?;
        let y = wm.matmul(&cols)?.reshape(&[n, o, oh, ow])?;
        match bias {
            Some(b) => y.add(&b.reshape(&[o, 1, 1])?),
            None => Ok(y),
        }
    }

    /// 2-d max pooling of an NCHW input (numeric dtypes): the maximum of each
    /// `kernel[0] x kernel[1]` window, windows `stride` apart, no padding, floor mode as
    /// PyTorch (`OH = (H - kernel[0]) / stride[0] + 1`; trailing rows and columns that do not
    /// fill a window are dropped). NaN propagates.
    ///
    /// With `stride == kernel` (the usual `max_pool2d(2)`) this is one reduction over a
    /// reshape; otherwise an elementwise max of `kernel[0]*kernel[1]` strided slices.
    ///
    /// ```
    /// use lazyjit::LazyTensor;
    /// let x = LazyTensor::from_vec((0..20).map(|v| v as f32).collect(), &[1, 1, 4, 5])?;
    /// let y = x.max_pool2d([2, 2], [2, 2])?; // the last column does not fill a window
    /// assert_eq!(y.shape(), &[1, 1, 2, 2]);
    /// assert_eq!(y.to_vec::<f32>()?, vec![6.0, 8.0, 16.0, 18.0]);
    /// let z = x.max_pool2d([3, 3], [1, 2])?; // overlapping windows
    /// assert_eq!(z.to_vec::<f32>()?, vec![12.0, 14.0, 17.0, 19.0]);
    /// assert!(x.max_pool2d([5, 1], [1, 1]).is_err()); // 5 rows do not fit in 4
    /// # Ok::<(), lazyjit::Error>(())
    /// ```
    #[track_caller]
    pub fn max_pool2d(&self, kernel: [usize; 2], stride: [usize; 2]) -> Result<LazyTensor> {
        let loc = SourceLoc::caller();
        if !self.dtype().is_numeric() {
            return Err(Error::op(
                "max_pool2d",
                format!(
                    "expects a numeric dtype (f32, f64, i32, i64), got {}",
                    self.ty()
                ),
                loc,
            ));
        }
        self.pool2d("max_pool2d", kernel, stride, loc)
    }

    /// 2-d average pooling of an NCHW input (float dtypes): the mean of each
    /// `kernel[0] x kernel[1]` window, windows `stride` apart, no padding, floor mode (as
    /// [`LazyTensor::max_pool2d`]).
    ///
    /// ```
    /// use lazyjit::LazyTensor;
    /// let x = LazyTensor::from_vec((0..16).map(|v| v as f32).collect(), &[1, 1, 4, 4])?;
    /// let y = x.avg_pool2d([2, 2], [2, 2])?;
    /// assert_eq!(y.to_vec::<f32>()?, vec![2.5, 4.5, 10.5, 12.5]);
    /// # Ok::<(), lazyjit::Error>(())
    /// ```
    #[track_caller]
    pub fn avg_pool2d(&self, kernel: [usize; 2], stride: [usize; 2]) -> Result<LazyTensor> {
        let loc = SourceLoc::caller();
        require_float("avg_pool2d", self, loc)?;
        self.pool2d("avg_pool2d", kernel, stride, loc)
    }

    #[track_caller]
    fn pool2d(
        &self,
        op: &'static str,
        kernel: [usize; 2],
        stride: [usize; 2],
        loc: SourceLoc,
    ) -> Result<LazyTensor> {
        require_nchw(op, self, loc)?;
        require_positive(op, "kernel", kernel, self, loc)?;
        require_positive(op, "stride", stride, self, loc)?;
        let &[n, c, h, w] = self.shape() else {
            unreachable!("rank checked")
        };
        let mut out = [0; 2];
        for (d, dim) in [h, w].into_iter().enumerate() {
            out[d] = match out_dim(dim, 0, kernel[d], stride[d], 1) {
                Some(v) => v,
                None => {
                    return Err(Error::op(
                        op,
                        format!(
                            "kernel {kernel:?} is larger than the input's spatial dims {:?} \
                             (input {})",
                            [h, w],
                            self.ty()
                        ),
                        loc,
                    ))
                }
            };
        }
        let [oh, ow] = out;
        let is_max = op == "max_pool2d";
        if stride == kernel {
            // Non-overlapping windows: drop the remainder, split each spatial dim into
            // (window, offset) and reduce the offsets.
            let (hh, ww) = (oh * kernel[0], ow * kernel[1]);
            let body = if (hh, ww) == (h, w) {
                self.clone()
            } else {
                self.slice(&[0, 0, 0, 0], &[n, c, hh, ww], &[1, 1, 1, 1])?
            };
            let split = body.reshape(&[n, c, oh, kernel[0], ow, kernel[1]])?;
            return if is_max {
                split.max(&[3, 5], false)
            } else {
                split.mean(&[3, 5], false)
            };
        }
        let mut acc: Option<LazyTensor> = None;
        for i in 0..kernel[0] {
            for j in 0..kernel[1] {
                let win = window(self, [i, j], out, stride)?;
                acc = Some(match acc {
                    None => win,
                    Some(a) if is_max => a.maximum(&win)?,
                    Some(a) => a.add(&win)?,
                });
            }
        }
        let acc = acc.expect("kernel has at least one element");
        if is_max {
            Ok(acc)
        } else {
            acc.div_scalar((kernel[0] * kernel[1]) as f64)
        }
    }
}
