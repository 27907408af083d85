//! The shape and dtype rule of every op: one exhaustive `match` in [`Op::infer`].

use super::{Arity, Op};
use crate::types::{DType, Shape, TensorType};

impl Op {
    /// Infers the result type from the operand types. `declared` is the instruction's
    /// declared result type, which `Constant`, `Iota`, `RandomUniform` and `Cast` take their dtype
    /// (and, for the first three, their shape) from. Errors say what was expected.
    ///
    /// Every result, and the declared type of ops that take it, is checked against the size
    /// limit ([`crate::types::MAX_ELEMENTS`]) here, the one place, so no verified program and
    /// no lazy tensor holds a value too large for index arithmetic.
    pub fn infer(&self, args: &[&TensorType], declared: &TensorType) -> Result<TensorType, String> {
        let ty = self.infer_rule(args, declared)?;
        ty.check_limit()
            .map_err(|m| format!("{}: the result {m}", self.name()))?;
        Ok(ty)
    }

    /// The shape and dtype rule of each op, before the size limit.
    fn infer_rule(
        &self,
        args: &[&TensorType],
        declared: &TensorType,
    ) -> Result<TensorType, String> {
        match self.kind().arity() {
            Arity::Exactly(n) if args.len() != n => {
                return Err(format!(
                    "{} takes {n} operand{}, got {}",
                    self.name(),
                    if n == 1 { "" } else { "s" },
                    args.len()
                ))
            }
            Arity::AtLeast(n) if args.len() < n => {
                return Err(format!(
                    "{} takes at least {n} operand{}, got {}",
                    self.name(),
                    if n == 1 { "" } else { "s" },
                    args.len()
                ))
            }
            _ => {}
        }
        match self {
            Op::Unary(u) => {
                let a = args[0];
                if !u.accepts(a.dtype) {
                    return Err(format!(
                        "{} expects {}, got {}",
                        u.name(),
                        u.operands().describe(),
                        a.dtype
                    ));
                }
                Ok(a.clone())
            }
            Op::Binary(b) => {
                let (x, y) = (args[0], args[1]);
                if x.dtype != y.dtype {
                    return Err(format!(
                        "{} needs operands of one dtype, got {x} and {y}",
                        b.name()
                    ));
                }
                if !b.accepts(x.dtype) {
                    return Err(format!(
                        "{} expects {}, got {}",
                        b.name(),
                        b.operands().describe(),
                        x.dtype
                    ));
                }
                let shape = broadcast_shapes(&[&x.shape, &y.shape])
                    .map_err(|e| format!("{}: {e}", b.name()))?;
                Ok(TensorType::new(b.result_dtype(x.dtype), shape))
            }
            Op::Where => {
                let (c, a, b) = (args[0], args[1], args[2]);
                if c.dtype != DType::Bool {
                    return Err(format!("where expects a bool condition, got {c}"));
                }
                if a.dtype != b.dtype {
                    return Err(format!(
                        "where needs both branches of one dtype, got {a} and {b}"
                    ));
                }
                let shape = broadcast_shapes(&[&c.shape, &a.shape, &b.shape])
                    .map_err(|e| format!("where: {e}"))?;
                Ok(TensorType::new(a.dtype, shape))
            }
            Op::Cast => Ok(TensorType::new(declared.dtype, args[0].shape.clone())),
            Op::Constant { value } => {
                if !value.fits(declared.dtype) {
                    return Err(format!(
                        "constant {value} does not fit dtype {}",
                        declared.dtype
                    ));
                }
                Ok(declared.clone())
            }
            Op::Iota { axis } => {
                if !declared.dtype.is_numeric() {
                    return Err(format!(
                        "iota expects a numeric dtype, got {}",
                        declared.dtype
                    ));
                }
                check_axis("iota", *axis, declared.shape.rank())?;
                Ok(declared.clone())
            }
            Op::Reduce { op, axes, keepdim } => {
                let a = args[0];
                let name = op.name();
                if !op.accepts(a.dtype) {
                    return Err(format!(
                        "{name} expects {}, got {}",
                        op.operands().describe(),
                        a.dtype
                    ));
                }
                check_axes(name, axes, a.shape.rank())?;
                if op.is_arg() {
                    if axes.len() != 1 {
                        return Err(format!(
                            "{name} reduces exactly one axis, got axes={axes:?}"
                        ));
                    }
                    if a.shape.dims()[axes[0]] == 0 {
                        return Err(format!(
                            "{name} over axis {} of size 0 in {} has no result",
                            axes[0], a.shape
                        ));
                    }
                }
                let shape = reduced_shape(&a.shape, axes, *keepdim);
                let dtype = if op.is_arg() { DType::I64 } else { a.dtype };
                Ok(TensorType::new(dtype, shape))
            }
            Op::Reshape { shape } => {
                let a = args[0];
                let (n_in, n_out) = (a.shape.checked_numel(), shape.checked_numel());
                if n_out.is_none() || n_in != n_out {
                    return Err(format!(
                        "reshape of {} ({} elements) to {shape} needs the same element count",
                        a.shape,
                        a.shape.numel()
                    ));
                }
                Ok(TensorType::new(a.dtype, shape.clone()))
            }
            Op::Permute { perm } => {
                let a = args[0];
                let r = a.shape.rank();
                let mut seen = vec![false; r];
                let ok = perm.len() == r
                    && perm
                        .iter()
                        .all(|&p| p < r && !std::mem::replace(&mut seen[p], true));
                if !ok {
                    return Err(format!(
                        "permute of {} needs a permutation of 0..{r}, got {perm:?}",
                        a.shape
                    ));
                }
                let dims = perm.iter().map(|&p| a.shape.dims()[p]).collect::<Vec<_>>();
                Ok(TensorType::new(a.dtype, dims))
            }
            Op::Expand { shape } => {
                let a = args[0];
                let ok = a.shape.rank() <= shape.rank()
                    && a.shape
                        .dims()
                        .iter()
                        .rev()
                        .zip(shape.dims().iter().rev())
                        .all(|(&i, &o)| i == o || i == 1);
                if !ok {
                    return Err(format!(
                        "expand of {} to {shape}: each input dim must equal the output dim or be 1",
                        a.shape
                    ));
                }
                Ok(TensorType::new(a.dtype, shape.clone()))
            }
            Op::Slice {
                starts,
                stops,
                steps,
            } => {
                let a = args[0];
                let r = a.shape.rank();
                if starts.len() != r || stops.len() != r || steps.len() != r {
                    return Err(format!(
                        "slice of {} needs {r} starts, stops and steps, got {}, {}, {}",
                        a.shape,
                        starts.len(),
                        stops.len(),
                        steps.len()
                    ));
                }
                let mut dims = Vec::with_capacity(r);
                for i in 0..r {
                    let d = a.shape.dims()[i];
                    if steps[i] == 0 || starts[i] > stops[i] || stops[i] > d {
                        return Err(format!(
                            "slice of {} on axis {i}: need start <= stop <= {d} and step >= 1, got {}:{}:{}",
                            a.shape, starts[i], stops[i], steps[i]
                        ));
                    }
                    dims.push((stops[i] - starts[i]).div_ceil(steps[i]));
                }
                Ok(TensorType::new(a.dtype, dims))
            }
            Op::Concat { axis } => {
                let first = args[0];
                let r = first.shape.rank();
                check_axis("concat", *axis, r)?;
                let mut total = 0usize;
                for (k, a) in args.iter().enumerate() {
                    if a.dtype != first.dtype {
                        return Err(format!(
                            "concat needs operands of one dtype, operand 0 is {first} and operand {k} is {a}"
                        ));
                    }
                    let same = a.shape.rank() == r
                        && (0..r).all(|i| i == *axis || a.shape.dims()[i] == first.shape.dims()[i]);
                    if !same {
                        return Err(format!(
                            "concat on axis {axis}: operand {k} has shape {} but operand 0 has {}; all dims but the axis must match",
                            a.shape, first.shape
                        ));
                    }
                    total = total
                        .checked_add(a.shape.dims()[*axis])
                        .ok_or_else(|| "concat overflows the axis length".to_string())?;
                }
                let mut dims = first.shape.dims().to_vec();
                dims[*axis] = total;
                Ok(TensorType::new(first.dtype, dims))
            }
            Op::Pad { lo, hi, value } => {
                let a = args[0];
                let r = a.shape.rank();
                if lo.len() != r || hi.len() != r {
                    return Err(format!(
                        "pad of {} needs {r} lo and hi amounts, got {} and {}",
                        a.shape,
                        lo.len(),
                        hi.len()
                    ));
                }
                if !value.fits(a.dtype) {
                    return Err(format!("pad value {value} does not fit dtype {}", a.dtype));
                }
                let mut dims = Vec::with_capacity(r);
                for i in 0..r {
                    let d = a.shape.dims()[i]
                        .checked_add(lo[i])
                        .and_then(|d| d.checked_add(hi[i]))
                        .ok_or_else(|| "pad overflows a dimension".to_string())?;
                    dims.push(d);
                }
                let shape = Shape::from(dims);
                Ok(TensorType::new(a.dtype, shape))
            }
            Op::Gather { axis } => {
                let (d, i) = (args[0], args[1]);
                check_index_dtype("gather", i)?;
                let r = d.shape.rank();
                check_axis("gather", *axis, r)?;
                if i.shape.rank() != r {
                    return Err(format!(
                        "gather needs an index of the data's rank {r}, got data {} and index {}",
                        d.shape, i.shape
                    ));
                }
                for k in 0..r {
                    if k != *axis && i.shape.dims()[k] > d.shape.dims()[k] {
                        return Err(format!(
                            "gather on axis {axis}: index dim {k} is {} but data dim is {}; it must not be larger",
                            i.shape.dims()[k],
                            d.shape.dims()[k]
                        ));
                    }
                }
                Ok(TensorType::new(d.dtype, i.shape.clone()))
            }
            Op::IndexSelect { axis } => {
                let (d, i) = (args[0], args[1]);
                check_index_dtype("index_select", i)?;
                check_axis("index_select", *axis, d.shape.rank())?;
                let mut dims = d.shape.dims()[..*axis].to_vec();
                dims.extend_from_slice(i.shape.dims());
                dims.extend_from_slice(&d.shape.dims()[axis + 1..]);
                let shape = Shape::from(dims);
                Ok(TensorType::new(d.dtype, shape))
            }
            Op::ScatterAdd { axis } => {
                let (d, i, u) = (args[0], args[1], args[2]);
                check_index_dtype("scatter_add", i)?;
                if u.dtype != d.dtype || !d.dtype.is_numeric() {
                    return Err(format!(
                        "scatter_add needs input and updates of one numeric dtype, got {d} and {u}"
                    ));
                }
                let r = d.shape.rank();
                check_axis("scatter_add", *axis, r)?;
                if i.shape.rank() != r || u.shape.rank() != r {
                    return Err(format!(
                        "scatter_add needs input, index and updates of one rank, got {}, {} and {}",
                        d.shape, i.shape, u.shape
                    ));
                }
                for k in 0..r {
                    let n = i.shape.dims()[k];
                    if n > u.shape.dims()[k] || (k != *axis && n > d.shape.dims()[k]) {
                        return Err(format!(
                            "scatter_add on axis {axis}: index {} does not fit updates {} and input {} \
                             (index dims must be <= the updates' dims, and <= the input's except on the axis)",
                            i.shape, u.shape, d.shape
                        ));
                    }
                }
                Ok(d.clone())
            }
            Op::RandomUniform => {
                for (what, a) in ["seed", "offset"].iter().zip(args) {
                    if a.dtype != DType::I64 || a.shape.rank() != 0 {
                        return Err(format!("random_uniform needs an i64[] {what}, got {a}"));
                    }
                }
                if !declared.dtype.is_float() {
                    return Err(format!(
                        "random_uniform expects a float dtype, got {}",
                        declared.dtype
                    ));
                }
                Ok(declared.clone())
            }
            Op::MatMul => {
                let (a, b) = (args[0], args[1]);
                if a.dtype != b.dtype || !a.dtype.is_numeric() {
                    return Err(format!(
                        "matmul needs two operands of one numeric dtype, got {a} and {b}"
                    ));
                }
                let (ra, rb) = (a.shape.rank(), b.shape.rank());
                if ra < 2 || rb < 2 {
                    return Err(format!(
                        "matmul needs operands of rank >= 2, got {} and {}",
                        a.shape, b.shape
                    ));
                }
                let (m, k) = (a.shape.dims()[ra - 2], a.shape.dims()[ra - 1]);
                let (k2, n) = (b.shape.dims()[rb - 2], b.shape.dims()[rb - 1]);
                if k != k2 {
                    return Err(format!(
                        "matmul of {} and {}: inner dims {k} and {k2} differ",
                        a.shape, b.shape
                    ));
                }
                let batch = broadcast_shapes(&[
                    &Shape::from(a.shape.dims()[..ra - 2].to_vec()),
                    &Shape::from(b.shape.dims()[..rb - 2].to_vec()),
                ])
                .map_err(|e| format!("matmul batch dims of {} and {}: {e}", a.shape, b.shape))?;
                let mut dims = batch.0;
                dims.push(m);
                dims.push(n);
                let shape = Shape::from(dims);
                Ok(TensorType::new(a.dtype, shape))
            }
        }
    }
}

fn check_axis(op: &str, axis: usize, rank: usize) -> Result<(), String> {
    if axis < rank {
        Ok(())
    } else {
        Err(format!("{op}: axis {axis} out of range for rank {rank}"))
    }
}

fn check_axes(op: &str, axes: &[usize], rank: usize) -> Result<(), String> {
    for w in axes.windows(2) {
        if w[0] >= w[1] {
            return Err(format!(
                "{op}: axes must be sorted and unique, got {axes:?}"
            ));
        }
    }
    for &a in axes {
        check_axis(op, a, rank)?;
    }
    Ok(())
}

fn check_index_dtype(op: &str, i: &TensorType) -> Result<(), String> {
    if i.dtype.is_int() {
        Ok(())
    } else {
        Err(format!("{op} expects an i32 or i64 index, got {i}"))
    }
}

/// The shape of a reduction's result.
pub fn reduced_shape(shape: &Shape, axes: &[usize], keepdim: bool) -> Shape {
    let mut dims = Vec::with_capacity(shape.rank());
    for (i, &d) in shape.dims().iter().enumerate() {
        if axes.contains(&i) {
            if keepdim {
                dims.push(1);
            }
        } else {
            dims.push(d);
        }
    }
    Shape::from(dims)
}

/// NumPy broadcasting of several shapes: align on the right, each dim equal or 1.
pub fn broadcast_shapes(shapes: &[&Shape]) -> Result<Shape, String> {
    // Fast path for the common case of operands of one shape.
    if let [first, rest @ ..] = shapes {
        if rest.iter().all(|s| s == first) {
            return if first.checked_numel().is_some() {
                Ok((*first).clone())
            } else {
                Err(format!(
                    "broadcast shape {first} overflows the element count"
                ))
            };
        }
    }
    let rank = shapes.iter().map(|s| s.rank()).max().unwrap_or(0);
    let mut dims = crate::types::Dims::from_elem(1, rank);
    for s in shapes {
        let off = rank - s.rank();
        for (i, &d) in s.dims().iter().enumerate() {
            let o = &mut dims[off + i];
            if *o == 1 {
                *o = d;
            } else if d != 1 && d != *o {
                let list = shapes
                    .iter()
                    .map(|s| s.to_string())
                    .collect::<Vec<_>>()
                    .join(" and ");
                return Err(format!(
                    "shapes {list} do not broadcast (dim {} from the right: {} vs {d})",
                    rank - (off + i),
                    *o
                ));
            }
        }
    }
    let shape = Shape(dims);
    if shape.checked_numel().is_none() {
        return Err(format!(
            "broadcast shape {shape} overflows the element count"
        ));
    }
    Ok(shape)
}
