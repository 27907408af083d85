//! Every op of the program format, declared once.
//!
//! Each line gives an op's variant, text name, attributes (for the families: operand dtype
//! class, result dtype and cost). The enums, `ALL`, names, [`OpKind`] and the attribute
//! schemas the text parser and printer follow are generated from these lines (`declare.rs`).
//! Shape and dtype rules are in `infer.rs`, semantics in `crate::reference`, lowering in
//! `crate::codegen`; each is an exhaustive `match`, so the compiler names every place a new op
//! must be handled. `docs/architecture.md` lists them in order.

use crate::types::{Scalar, Shape};

op_family! {
    /// Elementwise ops of one operand; the result has the operand's dtype.
    UnaryOp {
        Neg = "neg", Numeric -> Operand, Cheap;
        Abs = "abs", Numeric -> Operand, Cheap;
        Exp = "exp", Float -> Operand, Transcendental;
        Log = "log", Float -> Operand, Transcendental;
        Sqrt = "sqrt", Float -> Operand, Cheap;
        Rsqrt = "rsqrt", Float -> Operand, Cheap;
        Reciprocal = "reciprocal", Float -> Operand, Cheap;
        Tanh = "tanh", Float -> Operand, Transcendental;
        Sigmoid = "sigmoid", Float -> Operand, Transcendental;
        Relu = "relu", Numeric -> Operand, Cheap;
        Erf = "erf", Float -> Operand, Transcendental;
        Sin = "sin", Float -> Operand, Transcendental;
        Cos = "cos", Float -> Operand, Transcendental;
        Floor = "floor", Numeric -> Operand, Cheap;
        Ceil = "ceil", Numeric -> Operand, Cheap;
        /// Round half to even, as NumPy.
        Round = "round", Numeric -> Operand, Cheap;
        Sign = "sign", Numeric -> Operand, Cheap;
        /// Logical not (bool only).
        Not = "not", Bool -> Operand, Cheap;
        /// `log(1 + exp(x))`, computed as `max(x, 0) + log1p(exp(-|x|))`: no overflow for
        /// large `x`, full relative accuracy for very negative `x`.
        Softplus = "softplus", Float -> Operand, Transcendental;
    }
}

op_family! {
    /// Elementwise ops of two operands, with NumPy broadcasting. Both operands have one dtype.
    BinaryOp {
        Add = "add", Numeric -> Operand, Cheap;
        Sub = "sub", Numeric -> Operand, Cheap;
        Mul = "mul", Numeric -> Operand, Cheap;
        /// Floats: IEEE division. Integers: truncating, `x / 0 = 0`, `MIN / -1 = MIN`.
        Div = "div", Numeric -> Operand, Cheap;
        /// Floats only.
        Pow = "pow", Float -> Operand, Transcendental;
        /// NaN-propagating for floats (NumPy `maximum`).
        Max = "max", Numeric -> Operand, Cheap;
        Min = "min", Numeric -> Operand, Cheap;
        Eq = "eq", Any -> Bool, Cheap;
        Ne = "ne", Any -> Bool, Cheap;
        Lt = "lt", Numeric -> Bool, Cheap;
        Le = "le", Numeric -> Bool, Cheap;
        Gt = "gt", Numeric -> Bool, Cheap;
        Ge = "ge", Numeric -> Bool, Cheap;
        And = "and", Bool -> Operand, Cheap;
        Or = "or", Bool -> Operand, Cheap;
    }
}

op_family! {
    /// Reductions over a set of axes.
    ReduceOp {
        Sum = "reduce_sum", Numeric -> Operand, Cheap;
        /// Floats only.
        Mean = "reduce_mean", Float -> Operand, Cheap;
        /// NaN-propagating for floats.
        Max = "reduce_max", Numeric -> Operand, Cheap;
        Min = "reduce_min", Numeric -> Operand, Cheap;
        Prod = "reduce_prod", Numeric -> Operand, Cheap;
        /// Index (i64) of the first maximum along exactly one axis; NaN counts as the maximum.
        ArgMax = "argmax", Numeric -> Index, Cheap;
        ArgMin = "argmin", Numeric -> Index, Cheap;
    }
}

structured_ops! {
    /// One operation of a program. Operand counts: unary 1, binary 2, `Where` 3, `Concat` ≥ 1,
    /// `Constant`/`Iota` 0, `Gather`/`IndexSelect`/`MatMul`/`RandomUniform` 2, `ScatterAdd` 3, everything else 1
    /// ([`OpKind::arity`]).
    pub enum Op {
        families {
            Unary(UnaryOp),
            Binary(BinaryOp),
            /// Reduce over `axes` (sorted, unique; empty = identity copy). Arg reductions take
            /// one axis.
            Reduce {
                op: ReduceOp,
                axes: Vec<usize>,
                keepdim: bool,
            },
        }
        /// `where(cond: bool, a, b)`, all three broadcast together; `a` and `b` share a dtype.
        Where = "where", operands Exactly(3);
        /// Converts to the instruction's result dtype (shape unchanged).
        Cast = "cast", operands Exactly(1);
        /// Every element equals `value`; dtype and shape are the instruction's result type.
        Constant { #[leading] value: Scalar } = "constant", operands Exactly(0);
        /// Element = its index along `axis`; dtype (numeric) and shape are the result type.
        Iota { axis: usize } = "iota", operands Exactly(0);
        /// Same elements in row-major order, new shape with the same element count.
        Reshape { shape: Shape } = "reshape", operands Exactly(1);
        /// Output axis `i` is input axis `perm[i]`.
        Permute { perm: Vec<usize> } = "permute", operands Exactly(1);
        /// NumPy `broadcast_to`: new leading dims may be added, size-1 dims stretched.
        Expand { shape: Shape } = "expand", operands Exactly(1);
        /// Per axis: `start <= stop <= dim`, `step >= 1`; length `ceil((stop - start) / step)`.
        Slice { starts: Vec<usize>, stops: Vec<usize>, steps: Vec<usize> }
            = "slice", operands Exactly(1);
        /// Joins operands along `axis`; all other dims equal.
        Concat { axis: usize } = "concat", operands AtLeast(1);
        /// Pads each axis with `lo[i]` elements before and `hi[i]` after, filled with `value`.
        Pad { lo: Vec<usize>, hi: Vec<usize>, value: Scalar } = "pad", operands Exactly(1);
        /// `torch.gather` / `take_along_axis`: operands (data, index: i32|i64 of the same rank);
        /// `out[..i..] = data[..index[..i..] at axis..]`; result shape = index shape, whose dims
        /// other than `axis` must be `<=` the data's.
        Gather { axis: usize } = "gather", operands Exactly(2);
        /// `index_select` / `take`: operands (data, index: i32|i64, any rank);
        /// result shape = `data[..axis] ++ index.shape ++ data[axis+1..]`.
        IndexSelect { axis: usize } = "index_select", operands Exactly(2);
        /// `torch.scatter_add`: operands (input, index: i32|i64, updates), all of one rank,
        /// `updates` of the input's dtype (numeric). The result is the input with
        /// `updates[p]` added at `p` with `p[axis]` replaced by `index[p]`, for every position
        /// `p` of the index in row-major order. Index dims must be `<=` the updates' dims, and
        /// `<=` the input's on every axis but `axis`. The gradient of `gather`.
        ScatterAdd { axis: usize } = "scatter_add", operands Exactly(3);
        /// Uniform random floats in `[0, 1)` from Philox4x32-10: operands (seed: i64[],
        /// offset: i64[]); dtype (float) and shape are the result type. Element `i` (row-major)
        /// is drawn from counter `(i, offset)` under key `seed`, so a new offset (or seed) is a
        /// new draw without a new graph, and a fixed pair reproduces it bit for bit.
        RandomUniform = "random_uniform", operands Exactly(2);
        /// `[..., m, k] x [..., k, n] -> [..., m, n]`, batch dims broadcast; rank >= 2; numeric.
        MatMul = "matmul", operands Exactly(2);
    }
}
