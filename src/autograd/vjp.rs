//! The vector-Jacobian product of every op of the program format, in one exhaustive
//! `match` ([`vjp`]): given the op's inputs, its output and the gradient `g` of the output,
//! the gradient of each input. Composite ops (softmax, linear, gelu, cross-entropy, ...)
//! have no rule of their own: their gradients come from the primitives they record.
//!
//! Ties: `maximum`/`minimum` give each operand half the gradient where they are equal, and
//! `reduce_max`/`reduce_min` split it equally between all elements that attain the extreme
//! (both as PyTorch's `maximum` and `amax`). Piecewise-constant ops (`floor`, `ceil`,
//! `round`, `sign`) have a zero gradient; `abs` and `relu` take 0 at 0.

use crate::error::Result;
use crate::tensor::LazyTensor;
use lazyjit_lowering::{BinaryOp, DType, Op, ReduceOp, Shape, TensorType, UnaryOp};

/// One gradient per input (`None`: the input gets no gradient from this op — it is not
/// differentiable there, e.g. an index, a condition, an integer operand).
pub(crate) type InputGrads = Vec<Option<LazyTensor>>;

/// The gradients of `op`'s `inputs`, given its output `out` and the output's gradient `g`.
pub(crate) fn vjp(
    op: &Op,
    inputs: &[LazyTensor],
    out: &LazyTensor,
    g: &LazyTensor,
) -> Result<InputGrads> {
    let x = &inputs[0];
    Ok(match op {
        Op::Unary(u) => vec![unary(*u, x, out, g)?],
        Op::Binary(b) => binary(*b, x, &inputs[1], out, g)?,
        // `keepdim` needs no case: the gradient is reshaped to the kept form either way.
        Op::Reduce { op, axes, .. } => vec![reduce(*op, axes, x, out, g)?],
        Op::Where => {
            let (c, a, b) = (&inputs[0], &inputs[1], &inputs[2]);
            let zero = zeros(g.ty())?;
            vec![
                None,
                float_only(a, || {
                    unbroadcast(&LazyTensor::where_(c, g, &zero)?, a.shape())
                })?,
                float_only(b, || {
                    unbroadcast(&LazyTensor::where_(c, &zero, g)?, b.shape())
                })?,
            ]
        }
        Op::Cast => vec![float_only(x, || g.cast(x.dtype()))?],
        Op::Constant { .. } | Op::Iota { .. } | Op::RandomUniform => vec![None; inputs.len()],
        Op::Reshape { .. } => vec![Some(reshape(g, x.shape())?)],
        Op::Permute { perm } => {
            let mut inverse = vec![0; perm.len()];
            for (i, &p) in perm.iter().enumerate() {
                inverse[p] = i;
            }
            vec![Some(permute_folded(g, &inverse)?)]
        }
        Op::Expand { .. } => vec![Some(unbroadcast(g, x.shape())?)],
        // The gradient's own extent along each axis says where the slice ended.
        Op::Slice { starts, steps, .. } => vec![Some(unslice(g, x.shape(), starts, steps)?)],
        Op::Concat { axis } => {
            let mut start = 0;
            let mut grads = Vec::with_capacity(inputs.len());
            for t in inputs {
                let len = t.shape()[*axis];
                grads.push(Some(narrow(g, *axis, start, len)?));
                start += len;
            }
            grads
        }
        Op::Pad { lo, .. } => {
            let stops: Vec<usize> = lo.iter().zip(x.shape()).map(|(l, d)| l + d).collect();
            vec![Some(slice(g, lo.clone(), stops, vec![1; lo.len()])?)]
        }
        Op::Gather { axis } => {
            let (index, axis) = (&inputs[1], *axis);
            let one_per_row = index.shape()[axis] == 1
                && (0..x.rank()).all(|d| d == axis || index.shape()[d] == x.shape()[d]);
            let dx = if one_per_row {
                // One pick per row (nll_loss, cross_entropy): the gradient is `g` where the
                // position along `axis` equals the index, an elementwise select that fuses
                // into its consumers instead of a scatter with its own check kernel.
                let positions = LazyTensor::iota(x.shape(), axis, index.dtype())?;
                LazyTensor::where_(&positions.eq(index)?, g, &zeros(x.ty())?)?
            } else {
                zeros(x.ty())?.scatter_add(axis as isize, index, g)?
            };
            vec![Some(dx), None]
        }
        Op::IndexSelect { axis } => {
            let index = &inputs[1];
            let axis = *axis;
            // out = data[.., index[j], ..]: scatter the gradient rows back, with the index
            // flattened and broadcast over the other axes.
            let k = index.numel();
            let mut rows = x.shape().to_vec();
            rows[axis] = k;
            let g_rows = reshape(g, &rows)?;
            let mut index_shape = vec![1; rows.len()];
            index_shape[axis] = k;
            let idx = reshape(index, &index_shape)?.expand(&rows)?;
            vec![
                Some(zeros(x.ty())?.scatter_add(axis as isize, &idx, &g_rows)?),
                None,
            ]
        }
        Op::ScatterAdd { axis } => {
            let (index, updates) = (&inputs[1], &inputs[2]);
            // Each update lands once, unchanged: its gradient is the output gradient read
            // back at the same place; updates beyond the index's extent were never used.
            let picked = g.gather(*axis as isize, index)?;
            let hi: Vec<usize> = updates
                .shape()
                .iter()
                .zip(index.shape())
                .map(|(u, i)| u - i)
                .collect();
            let du = if hi.iter().all(|&h| h == 0) {
                picked
            } else {
                picked.pad(&vec![0; hi.len()], &hi, 0.0)?
            };
            vec![Some(g.clone()), None, Some(du)]
        }
        Op::MatMul => {
            let (a, b) = (&inputs[0], &inputs[1]);
            // An operand that is a transposed view (a linear layer's `w.t()`) gets its
            // gradient computed transposed, `(gᵀ a)ᵀ` instead of `aᵀ g`: the view's own
            // rule transposes it back, the two transposes fold, and the weight update reads
            // the product in its natural layout instead of strided.
            let da = if is_transposed_view(a) {
                transpose(&b.matmul(&transpose(g)?)?)?
            } else {
                g.matmul(&transpose(b)?)?
            };
            let db = if is_transposed_view(b) {
                transpose(&transpose(g)?.matmul(a)?)?
            } else {
                transpose(a)?.matmul(g)?
            };
            vec![
                Some(unbroadcast(&da, a.shape())?),
                Some(unbroadcast(&db, b.shape())?),
            ]
        }
    })
}

fn unary(
    op: UnaryOp,
    x: &LazyTensor,
    y: &LazyTensor,
    g: &LazyTensor,
) -> Result<Option<LazyTensor>> {
    if !x.dtype().is_float() {
        return Ok(None);
    }
    let d = match op {
        UnaryOp::Neg => g.neg()?,
        UnaryOp::Abs => g.mul(&x.sign()?)?,
        UnaryOp::Exp => g.mul(y)?,
        UnaryOp::Log => g.div(x)?,
        UnaryOp::Sqrt => g.div(&y.mul_scalar(2.0)?)?,
        // d/dx x^-1/2 = -x^-3/2 / 2 = -y³/2
        UnaryOp::Rsqrt => g.mul(&y.mul(y)?.mul(y)?.mul_scalar(-0.5)?)?,
        UnaryOp::Reciprocal => g.mul(&y.mul(y)?)?.neg()?,
        UnaryOp::Tanh => g.mul(&y.mul(y)?.rsub_scalar(1.0)?)?,
        UnaryOp::Sigmoid => g.mul(&y.mul(&y.rsub_scalar(1.0)?)?)?,
        UnaryOp::Relu => LazyTensor::where_(&x.gt_scalar(0.0)?, g, &zeros(g.ty())?)?,
        UnaryOp::Erf => {
            let two_over_sqrt_pi = std::f64::consts::FRAC_2_SQRT_PI;
            g.mul(&x.mul(x)?.neg()?.exp()?.mul_scalar(two_over_sqrt_pi)?)?
        }
        UnaryOp::Sin => g.mul(&x.cos()?)?,
        UnaryOp::Cos => g.mul(&x.sin()?)?.neg()?,
        UnaryOp::Floor | UnaryOp::Ceil | UnaryOp::Round | UnaryOp::Sign => zeros(x.ty())?,
        UnaryOp::Not => return Ok(None),
        UnaryOp::Softplus => g.mul(&x.sigmoid()?)?,
    };
    Ok(Some(d))
}

fn binary(
    op: BinaryOp,
    a: &LazyTensor,
    b: &LazyTensor,
    y: &LazyTensor,
    g: &LazyTensor,
) -> Result<InputGrads> {
    if !a.dtype().is_float() || !y.dtype().is_float() {
        return Ok(vec![None, None]); // integer arithmetic, comparisons, logic
    }
    let (da, db) = match op {
        BinaryOp::Add => (g.clone(), g.clone()),
        BinaryOp::Sub => (g.clone(), g.neg()?),
        BinaryOp::Mul => (g.mul(b)?, g.mul(a)?),
        BinaryOp::Div => (g.div(b)?, g.mul(y)?.div(b)?.neg()?),
        BinaryOp::Pow => {
            // d/da a^b = b·a^(b-1); d/db a^b = a^b·ln a, taken as 0 where a = 0 and b >= 0
            // (as PyTorch), where the limit is 0 rather than NaN.
            let da = g.mul(&b.mul(&a.pow(&b.sub_scalar(1.0)?)?)?)?;
            let zero = zeros(g.ty())?;
            let at_zero = a.eq_scalar(0.0)?.logical_and(&b.ge_scalar(0.0)?)?;
            let db = LazyTensor::where_(&at_zero, &zero, &g.mul(&y.mul(&a.log()?)?)?)?;
            (da, db)
        }
        BinaryOp::Max | BinaryOp::Min => {
            let wins = if op == BinaryOp::Max {
                a.gt(b)?
            } else {
                a.lt(b)?
            };
            let share = LazyTensor::where_(
                &wins,
                &ones(g.ty())?,
                &LazyTensor::where_(&a.eq(b)?, &full(g.ty(), 0.5)?, &zeros(g.ty())?)?,
            )?;
            let da = g.mul(&share)?;
            let db = g.sub(&da)?;
            (da, db)
        }
        BinaryOp::Eq
        | BinaryOp::Ne
        | BinaryOp::Lt
        | BinaryOp::Le
        | BinaryOp::Gt
        | BinaryOp::Ge
        | BinaryOp::And
        | BinaryOp::Or => return Ok(vec![None, None]),
    };
    Ok(vec![
        Some(unbroadcast(&da, a.shape())?),
        Some(unbroadcast(&db, b.shape())?),
    ])
}

fn reduce(
    op: ReduceOp,
    axes: &[usize],
    x: &LazyTensor,
    y: &LazyTensor,
    g: &LazyTensor,
) -> Result<Option<LazyTensor>> {
    if !x.dtype().is_float() {
        return Ok(None);
    }
    let kept = kept_shape(x.shape(), axes);
    // The output and its gradient with the reduced axes kept (size 1), to broadcast back.
    let gk = reshape(g, &kept)?;
    let yk = reshape(y, &kept)?;
    let d = match op {
        ReduceOp::Sum => gk.expand(x.shape())?,
        ReduceOp::Mean => {
            let n: usize = axes.iter().map(|&a| x.shape()[a]).product();
            gk.div_scalar(n.max(1) as f64)?.expand(x.shape())?
        }
        ReduceOp::Max | ReduceOp::Min => {
            let hit = x.eq(&yk)?.cast(x.dtype())?;
            let count = reduce_keep(&hit, ReduceOp::Sum, axes)?;
            hit.mul(&gk.div(&count)?)?
        }
        ReduceOp::Prod => {
            // Exact with zeros: with no zero in the group, ∂/∂x_i = Π/x_i; with exactly
            // one, only the zero's gradient is non-zero (the product of the others); with
            // two or more, all are zero.
            let is_zero = x.eq_scalar(0.0)?;
            let others = LazyTensor::where_(&is_zero, &ones(x.ty())?, x)?;
            let nz_prod = reduce_keep(&others, ReduceOp::Prod, axes)?;
            let zeros_in_group = reduce_keep(&is_zero.cast(x.dtype())?, ReduceOp::Sum, axes)?;
            let zero = zeros(x.ty())?;
            let at_zero = LazyTensor::where_(&zeros_in_group.eq_scalar(1.0)?, &nz_prod, &zero)?;
            let elsewhere = LazyTensor::where_(
                &zeros_in_group.eq_scalar(0.0)?,
                &nz_prod.div(&others)?,
                &zero,
            )?;
            LazyTensor::where_(&is_zero, &at_zero, &elsewhere)?.mul(&gk)?
        }
        ReduceOp::ArgMax | ReduceOp::ArgMin => return Ok(None),
    };
    Ok(Some(d))
}

/// Whether `t` was recorded (under gradient tracking) as a permute swapping its last two
/// axes.
fn is_transposed_view(t: &LazyTensor) -> bool {
    let Some(p) = &t.inner.provenance else {
        return false;
    };
    let Op::Permute { perm } = &p.op else {
        return false;
    };
    let r = perm.len();
    r >= 2
        && perm[r - 2] == r - 1
        && perm[r - 1] == r - 2
        && perm[..r - 2].iter().enumerate().all(|(i, &a)| a == i)
}

/// `t` with its last two axes swapped.
fn transpose(t: &LazyTensor) -> Result<LazyTensor> {
    let r = t.rank();
    let mut perm: Vec<usize> = (0..r).collect();
    perm.swap(r - 2, r - 1);
    permute_folded(t, &perm)
}

/// `permute(t, perm)`, folded into `t`'s own pending permute when it has one (gradients
/// carry no provenance, so only the IR is involved): two transposes give back the
/// original tensor instead of a view of a view.
fn permute_folded(t: &LazyTensor, perm: &[usize]) -> Result<LazyTensor> {
    let node = t.node();
    if let (Some(Op::Permute { perm: inner }), None) = (node.op(), &t.inner.provenance) {
        if !node.is_computed() {
            let composed: Vec<usize> = perm.iter().map(|&i| inner[i]).collect();
            let source = LazyTensor::from_node(node.operands()[0].clone());
            if composed.iter().enumerate().all(|(i, &a)| a == i) {
                return Ok(source);
            }
            return LazyTensor::apply(Op::Permute { perm: composed }, &[&source], None);
        }
    }
    LazyTensor::apply(
        Op::Permute {
            perm: perm.to_vec(),
        },
        &[t],
        None,
    )
}

/// `shape` with the reduced `axes` kept as size 1.
fn kept_shape(shape: &[usize], axes: &[usize]) -> Vec<usize> {
    let mut kept = shape.to_vec();
    for &a in axes {
        kept[a] = 1;
    }
    kept
}

fn reduce_keep(t: &LazyTensor, op: ReduceOp, axes: &[usize]) -> Result<LazyTensor> {
    LazyTensor::apply(
        Op::Reduce {
            op,
            axes: axes.to_vec(),
            keepdim: true,
        },
        &[t],
        None,
    )
}

/// Sums `g` down to `shape`, undoing NumPy broadcasting: leading axes `shape` lacks are
/// summed away, axes where `shape` has 1 are summed keeping them.
pub(crate) fn unbroadcast(g: &LazyTensor, shape: &[usize]) -> Result<LazyTensor> {
    if g.shape() == shape {
        return Ok(g.clone());
    }
    let lead = g.rank() - shape.len();
    let mut axes: Vec<usize> = (0..lead).collect();
    for (i, &d) in shape.iter().enumerate() {
        if d == 1 && g.shape()[lead + i] != 1 {
            axes.push(lead + i);
        }
    }
    let s = LazyTensor::apply(
        Op::Reduce {
            op: ReduceOp::Sum,
            axes,
            keepdim: true,
        },
        &[g],
        None,
    )?;
    reshape(&s, shape)
}

/// The gradient of a strided slice: `g` placed at the sliced positions of a zero tensor of
/// the input's `shape`. Per axis with step `s > 1`, each element is followed by `s - 1`
/// zeros (a pad of a new unit axis, then a reshape), trimmed to the input's extent; then
/// the start and the rest of the axis are padded with zeros.
fn unslice(
    g: &LazyTensor,
    shape: &[usize],
    starts: &[usize],
    steps: &[usize],
) -> Result<LazyTensor> {
    let mut t = g.clone();
    for (axis, (&start, &step)) in starts.iter().zip(steps).enumerate() {
        if step > 1 {
            let len = t.shape()[axis];
            let mut spread = t.shape().to_vec();
            spread.insert(axis + 1, 1);
            let u = reshape(&t, &spread)?;
            let mut hi = vec![0; spread.len()];
            hi[axis + 1] = step - 1;
            let padded = u.pad(&vec![0; spread.len()], &hi, 0.0)?;
            let mut joined = t.shape().to_vec();
            joined[axis] = len * step;
            let full_len = (len * step).min(shape[axis] - start);
            t = narrow(&reshape(&padded, &joined)?, axis, 0, full_len)?;
        }
    }
    let lo = starts.to_vec();
    let hi: Vec<usize> = shape
        .iter()
        .zip(&lo)
        .zip(t.shape())
        .map(|((d, l), n)| d - l - n)
        .collect();
    if lo.iter().chain(&hi).all(|&p| p == 0) {
        return Ok(t);
    }
    t.pad(&lo, &hi, 0.0)
}

fn float_only(
    t: &LazyTensor,
    f: impl FnOnce() -> Result<LazyTensor>,
) -> Result<Option<LazyTensor>> {
    if t.dtype().is_float() {
        f().map(Some)
    } else {
        Ok(None)
    }
}

fn reshape(t: &LazyTensor, shape: &[usize]) -> Result<LazyTensor> {
    if t.shape() == shape {
        return Ok(t.clone());
    }
    t.reshape(shape)
}

fn slice(
    t: &LazyTensor,
    starts: Vec<usize>,
    stops: Vec<usize>,
    steps: Vec<usize>,
) -> Result<LazyTensor> {
    LazyTensor::apply(
        Op::Slice {
            starts,
            stops,
            steps,
        },
        &[t],
        None,
    )
}

fn narrow(t: &LazyTensor, axis: usize, start: usize, len: usize) -> Result<LazyTensor> {
    let mut starts = vec![0; t.rank()];
    let mut stops = t.shape().to_vec();
    starts[axis] = start;
    stops[axis] = start + len;
    if starts.iter().all(|&s| s == 0) && stops == t.shape() {
        return Ok(t.clone());
    }
    slice(t, starts, stops, vec![1; t.rank()])
}

fn zeros(ty: &TensorType) -> Result<LazyTensor> {
    LazyTensor::zeros(ty.shape.dims(), ty.dtype)
}

fn ones(ty: &TensorType) -> Result<LazyTensor> {
    LazyTensor::ones(ty.shape.dims(), ty.dtype)
}

fn full(ty: &TensorType, v: f64) -> Result<LazyTensor> {
    debug_assert!(matches!(ty.dtype, DType::F32 | DType::F64));
    let c = LazyTensor::apply(
        Op::Constant {
            value: lazyjit_lowering::Scalar::Float(v),
        },
        &[],
        Some(TensorType::new(ty.dtype, Shape::scalar())),
    )?;
    c.expand(ty.shape.dims())
}
