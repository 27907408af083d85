//! The operations of the program format: names, attributes, and their shape and dtype rules.
//!
//! Every op's rule lives in [`Op::infer`]; its reference semantics in `reference.rs`; its
//! lowering in `codegen/`. Semantics are documented in `docs/program-format.md`.

use crate::types::{DType, Scalar, Shape, TensorType};
use std::fmt;

/// Elementwise ops of one operand.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum UnaryOp {
    Neg,
    Abs,
    Exp,
    Log,
    Sqrt,
    Rsqrt,
    Reciprocal,
    Tanh,
    Sigmoid,
    Relu,
    Erf,
    Sin,
    Cos,
    Floor,
    Ceil,
    /// Round half to even, as NumPy.
    Round,
    Sign,
    /// Logical not (bool only).
    Not,
}

impl UnaryOp {
    pub const ALL: [UnaryOp; 18] = [
        UnaryOp::Neg,
        UnaryOp::Abs,
        UnaryOp::Exp,
        UnaryOp::Log,
        UnaryOp::Sqrt,
        UnaryOp::Rsqrt,
        UnaryOp::Reciprocal,
        UnaryOp::Tanh,
        UnaryOp::Sigmoid,
        UnaryOp::Relu,
        UnaryOp::Erf,
        UnaryOp::Sin,
        UnaryOp::Cos,
        UnaryOp::Floor,
        UnaryOp::Ceil,
        UnaryOp::Round,
        UnaryOp::Sign,
        UnaryOp::Not,
    ];

    pub fn name(self) -> &'static str {
        match self {
            UnaryOp::Neg => "neg",
            UnaryOp::Abs => "abs",
            UnaryOp::Exp => "exp",
            UnaryOp::Log => "log",
            UnaryOp::Sqrt => "sqrt",
            UnaryOp::Rsqrt => "rsqrt",
            UnaryOp::Reciprocal => "reciprocal",
            UnaryOp::Tanh => "tanh",
            UnaryOp::Sigmoid => "sigmoid",
            UnaryOp::Relu => "relu",
            UnaryOp::Erf => "erf",
            UnaryOp::Sin => "sin",
            UnaryOp::Cos => "cos",
            UnaryOp::Floor => "floor",
            UnaryOp::Ceil => "ceil",
            UnaryOp::Round => "round",
            UnaryOp::Sign => "sign",
            UnaryOp::Not => "not",
        }
    }

    /// Ops computed by the math library (inline polynomials for f32, calls for f64) rather
    /// than by a single machine instruction.
    pub fn is_transcendental(self) -> bool {
        matches!(
            self,
            UnaryOp::Exp
                | UnaryOp::Log
                | UnaryOp::Tanh
                | UnaryOp::Sigmoid
                | UnaryOp::Erf
                | UnaryOp::Sin
                | UnaryOp::Cos
        )
    }

    /// Which operand dtypes the op accepts; the result has the operand's dtype.
    pub fn accepts(self, d: DType) -> bool {
        match self {
            UnaryOp::Neg | UnaryOp::Abs | UnaryOp::Relu | UnaryOp::Sign => d.is_numeric(),
            UnaryOp::Floor | UnaryOp::Ceil | UnaryOp::Round => d.is_numeric(),
            UnaryOp::Not => d == DType::Bool,
            _ => d.is_float(),
        }
    }

    fn expected(self) -> &'static str {
        match self {
            UnaryOp::Not => "bool",
            UnaryOp::Neg
            | UnaryOp::Abs
            | UnaryOp::Relu
            | UnaryOp::Sign
            | UnaryOp::Floor
            | UnaryOp::Ceil
            | UnaryOp::Round => "a numeric dtype (f32, f64, i32, i64)",
            _ => "a float dtype (f32, f64)",
        }
    }
}

/// Elementwise ops of two operands, with NumPy broadcasting. Both operands have one dtype.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum BinaryOp {
    Add,
    Sub,
    Mul,
    /// Floats: IEEE division. Integers: truncating, `x / 0 = 0`, `MIN / -1 = MIN`.
    Div,
    /// Floats only.
    Pow,
    /// NaN-propagating for floats (NumPy `maximum`).
    Max,
    Min,
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    And,
    Or,
}

impl BinaryOp {
    pub const ALL: [BinaryOp; 15] = [
        BinaryOp::Add,
        BinaryOp::Sub,
        BinaryOp::Mul,
        BinaryOp::Div,
        BinaryOp::Pow,
        BinaryOp::Max,
        BinaryOp::Min,
        BinaryOp::Eq,
        BinaryOp::Ne,
        BinaryOp::Lt,
        BinaryOp::Le,
        BinaryOp::Gt,
        BinaryOp::Ge,
        BinaryOp::And,
        BinaryOp::Or,
    ];

    pub fn name(self) -> &'static str {
        match self {
            BinaryOp::Add => "add",
            BinaryOp::Sub => "sub",
            BinaryOp::Mul => "mul",
            BinaryOp::Div => "div",
            BinaryOp::Pow => "pow",
            BinaryOp::Max => "max",
            BinaryOp::Min => "min",
            BinaryOp::Eq => "eq",
            BinaryOp::Ne => "ne",
            BinaryOp::Lt => "lt",
            BinaryOp::Le => "le",
            BinaryOp::Gt => "gt",
            BinaryOp::Ge => "ge",
            BinaryOp::And => "and",
            BinaryOp::Or => "or",
        }
    }

    pub fn is_comparison(self) -> bool {
        matches!(
            self,
            BinaryOp::Eq | BinaryOp::Ne | BinaryOp::Lt | BinaryOp::Le | BinaryOp::Gt | BinaryOp::Ge
        )
    }

    /// Whether the op accepts operands of dtype `d`.
    pub fn accepts(self, d: DType) -> bool {
        match self {
            BinaryOp::And | BinaryOp::Or => d == DType::Bool,
            BinaryOp::Pow => d.is_float(),
            BinaryOp::Eq | BinaryOp::Ne => true,
            _ => d.is_numeric(),
        }
    }

    fn expected(self) -> &'static str {
        match self {
            BinaryOp::And | BinaryOp::Or => "bool",
            BinaryOp::Pow => "a float dtype (f32, f64)",
            BinaryOp::Eq | BinaryOp::Ne => "any dtype",
            _ => "a numeric dtype (f32, f64, i32, i64)",
        }
    }

    /// The result dtype for operands of dtype `d`.
    pub fn result_dtype(self, d: DType) -> DType {
        if self.is_comparison() {
            DType::Bool
        } else {
            d
        }
    }
}

/// Reductions over a set of axes.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum ReduceOp {
    Sum,
    /// Floats only.
    Mean,
    /// NaN-propagating for floats.
    Max,
    Min,
    Prod,
    /// Index (i64) of the first maximum along exactly one axis; NaN counts as the maximum.
    ArgMax,
    ArgMin,
}

impl ReduceOp {
    pub const ALL: [ReduceOp; 7] = [
        ReduceOp::Sum,
        ReduceOp::Mean,
        ReduceOp::Max,
        ReduceOp::Min,
        ReduceOp::Prod,
        ReduceOp::ArgMax,
        ReduceOp::ArgMin,
    ];

    pub fn name(self) -> &'static str {
        match self {
            ReduceOp::Sum => "reduce_sum",
            ReduceOp::Mean => "reduce_mean",
            ReduceOp::Max => "reduce_max",
            ReduceOp::Min => "reduce_min",
            ReduceOp::Prod => "reduce_prod",
            ReduceOp::ArgMax => "argmax",
            ReduceOp::ArgMin => "argmin",
        }
    }

    pub fn is_arg(self) -> bool {
        matches!(self, ReduceOp::ArgMax | ReduceOp::ArgMin)
    }
}

/// One operation of a program. Operand counts: unary 1, binary 2, `Where` 3, `Concat` ≥ 1,
/// `Constant`/`Iota` 0, `Gather`/`IndexSelect`/`MatMul` 2, everything else 1.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Op {
    Unary(UnaryOp),
    Binary(BinaryOp),
    /// `where(cond: bool, a, b)`, all three broadcast together; `a` and `b` share a dtype.
    Where,
    /// Converts to the instruction's result dtype (shape unchanged).
    Cast,
    /// Every element equals `value`; dtype and shape are the instruction's result type.
    Constant {
        value: Scalar,
    },
    /// Element = its index along `axis`; dtype (numeric) and shape are the result type.
    Iota {
        axis: usize,
    },
    /// Reduce over `axes` (sorted, unique; empty = identity copy). Arg reductions take one axis.
    Reduce {
        op: ReduceOp,
        axes: Vec<usize>,
        keepdim: bool,
    },
    /// Same elements in row-major order, new shape with the same element count.
    Reshape {
        shape: Shape,
    },
    /// Output axis `i` is input axis `perm[i]`.
    Permute {
        perm: Vec<usize>,
    },
    /// NumPy `broadcast_to`: new leading dims may be added, size-1 dims stretched.
    Expand {
        shape: Shape,
    },
    /// Per axis: `start <= stop <= dim`, `step >= 1`; length `ceil((stop - start) / step)`.
    Slice {
        starts: Vec<usize>,
        stops: Vec<usize>,
        steps: Vec<usize>,
    },
    /// Joins operands along `axis`; all other dims equal.
    Concat {
        axis: usize,
    },
    /// Pads each axis with `lo[i]` elements before and `hi[i]` after, filled with `value`.
    Pad {
        lo: Vec<usize>,
        hi: Vec<usize>,
        value: Scalar,
    },
    /// `torch.gather` / `take_along_axis`: operands (data, index: i32|i64 of the same rank);
    /// `out[..i..] = data[..index[..i..] at axis..]`; result shape = index shape, whose dims
    /// other than `axis` must be `<=` the data's.
    Gather {
        axis: usize,
    },
    /// `index_select` / `take`: operands (data, index: i32|i64, any rank);
    /// result shape = `data[..axis] ++ index.shape ++ data[axis+1..]`.
    IndexSelect {
        axis: usize,
    },
    /// `[..., m, k] x [..., k, n] -> [..., m, n]`, batch dims broadcast; rank >= 2; numeric.
    MatMul,
}

impl Op {
    /// The op's name in the text form.
    pub fn name(&self) -> &'static str {
        match self {
            Op::Unary(u) => u.name(),
            Op::Binary(b) => b.name(),
            Op::Where => "where",
            Op::Cast => "cast",
            Op::Constant { .. } => "constant",
            Op::Iota { .. } => "iota",
            Op::Reduce { op, .. } => op.name(),
            Op::Reshape { .. } => "reshape",
            Op::Permute { .. } => "permute",
            Op::Expand { .. } => "expand",
            Op::Slice { .. } => "slice",
            Op::Concat { .. } => "concat",
            Op::Pad { .. } => "pad",
            Op::Gather { .. } => "gather",
            Op::IndexSelect { .. } => "index_select",
            Op::MatMul => "matmul",
        }
    }

    /// Whether the op is elementwise (output element depends on the same-index input elements
    /// after broadcasting).
    pub fn is_elementwise(&self) -> bool {
        matches!(self, Op::Unary(_) | Op::Binary(_) | Op::Where | Op::Cast)
    }

    /// Infers the result type from the operand types. `declared` is the instruction's
    /// declared result type, which `Constant`, `Iota` and `Cast` take their dtype (and, for the
    /// first two, their shape) from. Errors say what was expected.
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
        let arity = |n: usize| -> Result<(), String> {
            if args.len() == n {
                Ok(())
            } else {
                Err(format!(
                    "{} takes {n} operand{}, got {}",
                    self.name(),
                    if n == 1 { "" } else { "s" },
                    args.len()
                ))
            }
        };
        match self {
            Op::Unary(u) => {
                arity(1)?;
                let a = args[0];
                if !u.accepts(a.dtype) {
                    return Err(format!(
                        "{} expects {}, got {}",
                        u.name(),
                        u.expected(),
                        a.dtype
                    ));
                }
                Ok(a.clone())
            }
            Op::Binary(b) => {
                arity(2)?;
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
                        b.expected(),
                        x.dtype
                    ));
                }
                let shape = broadcast_shapes(&[&x.shape, &y.shape])
                    .map_err(|e| format!("{}: {e}", b.name()))?;
                Ok(TensorType::new(b.result_dtype(x.dtype), shape))
            }
            Op::Where => {
                arity(3)?;
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
            Op::Cast => {
                arity(1)?;
                Ok(TensorType::new(declared.dtype, args[0].shape.clone()))
            }
            Op::Constant { value } => {
                arity(0)?;
                if !value.fits(declared.dtype) {
                    return Err(format!(
                        "constant {value} does not fit dtype {}",
                        declared.dtype
                    ));
                }
                Ok(declared.clone())
            }
            Op::Iota { axis } => {
                arity(0)?;
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
                arity(1)?;
                let a = args[0];
                let name = op.name();
                match op {
                    ReduceOp::Mean if !a.dtype.is_float() => {
                        return Err(format!("{name} expects a float dtype, got {}", a.dtype))
                    }
                    _ if !a.dtype.is_numeric() => {
                        return Err(format!("{name} expects a numeric dtype, got {}", a.dtype))
                    }
                    _ => {}
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
                arity(1)?;
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
                arity(1)?;
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
                arity(1)?;
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
                arity(1)?;
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
                if args.is_empty() {
                    return Err("concat takes at least 1 operand, got 0".into());
                }
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
                arity(1)?;
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
                arity(2)?;
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
                arity(2)?;
                let (d, i) = (args[0], args[1]);
                check_index_dtype("index_select", i)?;
                check_axis("index_select", *axis, d.shape.rank())?;
                let mut dims = d.shape.dims()[..*axis].to_vec();
                dims.extend_from_slice(i.shape.dims());
                dims.extend_from_slice(&d.shape.dims()[axis + 1..]);
                let shape = Shape::from(dims);
                Ok(TensorType::new(d.dtype, shape))
            }
            Op::MatMul => {
                arity(2)?;
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

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
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
