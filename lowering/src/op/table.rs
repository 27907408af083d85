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
        /// `-x`; integers wrap (`neg(MIN) = MIN`).
        Neg = "neg", Numeric -> Operand, Cheap;
        /// `|x|`; integers wrap (`abs(MIN) = MIN`).
        Abs = "abs", Numeric -> Operand, Cheap;
        /// `e^x`.
        Exp = "exp", Float -> Operand, Transcendental;
        /// Natural logarithm (`log(0) = -inf`, negative gives NaN).
        Log = "log", Float -> Operand, Transcendental;
        /// Square root (negative gives NaN).
        Sqrt = "sqrt", Float -> Operand, Cheap;
        /// `1 / sqrt(x)`.
        Rsqrt = "rsqrt", Float -> Operand, Cheap;
        /// `1 / x`.
        Reciprocal = "reciprocal", Float -> Operand, Cheap;
        /// Hyperbolic tangent.
        Tanh = "tanh", Float -> Operand, Transcendental;
        /// `1 / (1 + exp(-x))`.
        Sigmoid = "sigmoid", Float -> Operand, Transcendental;
        /// `max(x, 0)` (NaN stays NaN).
        Relu = "relu", Numeric -> Operand, Cheap;
        /// The error function.
        Erf = "erf", Float -> Operand, Transcendental;
        /// Sine (radians).
        Sin = "sin", Float -> Operand, Transcendental;
        /// Cosine (radians).
        Cos = "cos", Float -> Operand, Transcendental;
        /// Round down (identity on integers).
        Floor = "floor", Numeric -> Operand, Cheap;
        /// Round up (identity on integers).
        Ceil = "ceil", Numeric -> Operand, Cheap;
        /// Round half to even, as NumPy.
        Round = "round", Numeric -> Operand, Cheap;
        /// `-1`, `0` or `1` (NaN for NaN, `+0.0` for `±0.0`).
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
        /// `x + y`; integers wrap.
        Add = "add", Numeric -> Operand, Cheap;
        /// `x - y`; integers wrap.
        Sub = "sub", Numeric -> Operand, Cheap;
        /// `x * y`; integers wrap.
        Mul = "mul", Numeric -> Operand, Cheap;
        /// Floats: IEEE division. Integers: truncating, `x / 0 = 0`, `MIN / -1 = MIN`.
        Div = "div", Numeric -> Operand, Cheap;
        /// Floats only.
        Pow = "pow", Float -> Operand, Transcendental;
        /// NaN-propagating for floats (NumPy `maximum`).
        Max = "max", Numeric -> Operand, Cheap;
        /// NaN-propagating for floats (NumPy `minimum`).
        Min = "min", Numeric -> Operand, Cheap;
        /// `x == y` (any dtype, bool included); NaN is unequal to everything.
        Eq = "eq", Any -> Bool, Cheap;
        /// `x != y`; true if either is NaN.
        Ne = "ne", Any -> Bool, Cheap;
        /// `x < y`; false if either is NaN.
        Lt = "lt", Numeric -> Bool, Cheap;
        /// `x <= y`; false if either is NaN.
        Le = "le", Numeric -> Bool, Cheap;
        /// `x > y`; false if either is NaN.
        Gt = "gt", Numeric -> Bool, Cheap;
        /// `x >= y`; false if either is NaN.
        Ge = "ge", Numeric -> Bool, Cheap;
        /// Logical and (bool only).
        And = "and", Bool -> Operand, Cheap;
        /// Logical or (bool only).
        Or = "or", Bool -> Operand, Cheap;
    }
}

op_family! {
    /// Reductions over a set of axes.
    ReduceOp {
        /// Sum (integers wrap); 0 over no elements.
        Sum = "reduce_sum", Numeric -> Operand, Cheap;
        /// Floats only.
        Mean = "reduce_mean", Float -> Operand, Cheap;
        /// NaN-propagating for floats.
        Max = "reduce_max", Numeric -> Operand, Cheap;
        /// NaN-propagating for floats.
        Min = "reduce_min", Numeric -> Operand, Cheap;
        /// Product (integers wrap); 1 over no elements.
        Prod = "reduce_prod", Numeric -> Operand, Cheap;
        /// Index (i64) of the first maximum along exactly one axis; NaN counts as the maximum.
        ArgMax = "argmax", Numeric -> Index, Cheap;
        /// Index (i64) of the first minimum along exactly one axis; NaN counts as the minimum.
        ArgMin = "argmin", Numeric -> Index, Cheap;
    }
}

structured_ops! {
    /// One operation of a program. Operand counts: unary 1, binary 2, `Where` 3, `Concat` ≥ 1,
    /// `Constant`/`Iota` 0, `Gather`/`IndexSelect`/`MatMul`/`RandomUniform` 2, `ScatterAdd` 3, everything else 1
    /// ([`OpKind::arity`]).
    pub enum Op {
        families {
            /// An elementwise op of one operand.
            Unary(UnaryOp),
            /// An elementwise op of two broadcast operands.
            Binary(BinaryOp),
            /// Reduce over `axes` (sorted, unique; empty = identity copy). Arg reductions take
            /// one axis.
            Reduce {
                /// Which reduction.
                op: ReduceOp,
                /// The reduced axes, strictly increasing, each below the operand's rank.
                axes: Vec<usize>,
                /// Keep each reduced axis as a dim of size 1 instead of removing it.
                keepdim: bool,
            },
        }
        /// `where(cond: bool, a, b)`, all three broadcast together; `a` and `b` share a dtype.
        Where = "where", operands Exactly(3);
        /// Converts to the instruction's result dtype (shape unchanged).
        Cast = "cast", operands Exactly(1);
        /// Every element equals `value`; dtype and shape are the instruction's result type.
        Constant {
            /// The literal; it must fit the result dtype ([`Scalar::fits`]).
            #[leading] value: Scalar
        } = "constant", operands Exactly(0);
        /// Element = its index along `axis`; dtype (numeric) and shape are the result type.
        Iota {
            /// The axis whose index each element holds (below the result's rank).
            axis: usize
        } = "iota", operands Exactly(0);
        /// Same elements in row-major order, new shape with the same element count.
        Reshape {
            /// The new shape; its element count equals the operand's.
            shape: Shape
        } = "reshape", operands Exactly(1);
        /// Output axis `i` is input axis `perm[i]`.
        Permute {
            /// A permutation of `0..rank`.
            perm: Vec<usize>
        } = "permute", operands Exactly(1);
        /// NumPy `broadcast_to`: new leading dims may be added, size-1 dims stretched.
        Expand {
            /// The target shape (rank at least the operand's).
            shape: Shape
        } = "expand", operands Exactly(1);
        /// Per axis: `start <= stop <= dim`, `step >= 1`; length `ceil((stop - start) / step)`.
        Slice {
            /// First index taken, per axis.
            starts: Vec<usize>,
            /// End (exclusive), per axis.
            stops: Vec<usize>,
            /// Stride between taken indices, per axis (at least 1).
            steps: Vec<usize>
        } = "slice", operands Exactly(1);
        /// Joins operands along `axis`; all other dims equal.
        Concat {
            /// The joined axis.
            axis: usize
        } = "concat", operands AtLeast(1);
        /// Pads each axis with `lo[i]` elements before and `hi[i]` after, filled with `value`.
        Pad {
            /// Elements added before each axis's data.
            lo: Vec<usize>,
            /// Elements added after each axis's data.
            hi: Vec<usize>,
            /// The fill value; it must fit the operand's dtype.
            value: Scalar
        } = "pad", operands Exactly(1);
        /// `torch.gather` / `take_along_axis`: operands (data, index: i32|i64 of the same rank);
        /// `out[..i..] = data[..index[..i..] at axis..]`; result shape = index shape, whose dims
        /// other than `axis` must be `<=` the data's.
        Gather {
            /// The data axis the index selects along.
            axis: usize
        } = "gather", operands Exactly(2);
        /// `index_select` / `take`: operands (data, index: i32|i64, any rank);
        /// result shape = `data[..axis] ++ index.shape ++ data[axis+1..]`.
        IndexSelect {
            /// The data axis replaced by the index's dims.
            axis: usize
        } = "index_select", operands Exactly(2);
        /// `torch.scatter_add`: operands (input, index: i32|i64, updates), all of one rank,
        /// `updates` of the input's dtype (numeric). The result is the input with
        /// `updates[p]` added at `p` with `p[axis]` replaced by `index[p]`, for every position
        /// `p` of the index in row-major order. Index dims must be `<=` the updates' dims, and
        /// `<=` the input's on every axis but `axis`. The gradient of `gather`.
        ScatterAdd {
            /// The input axis the index addresses.
            axis: usize
        } = "scatter_add", operands Exactly(3);
        /// Uniform random floats in `[0, 1)` from Philox4x32-10: operands (seed: i64[],
        /// offset: i64[]); dtype (float) and shape are the result type. Element `i` (row-major)
        /// is drawn from counter `(i, offset)` under key `seed`, so a new offset (or seed) is a
        /// new draw without a new graph, and a fixed pair reproduces it bit for bit.
        RandomUniform = "random_uniform", operands Exactly(2);
        /// `[..., m, k] x [..., k, n] -> [..., m, n]`, batch dims broadcast; rank >= 2; numeric.
        MatMul = "matmul", operands Exactly(2);
    }
}
