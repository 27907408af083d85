//! Reference interpreter: runs a program op by op on ndarray; the semantics oracle.
//!
//! [`run`] evaluates a verified [`Program`] one instruction at a time, each into a fresh
//! [`ndarray::ArrayD`] of the value's element type (see [`Value`]). It is written for clarity,
//! not speed: the JIT is differential-tested against it, so every rule below is the intended
//! meaning of the program format.
//!
//! # Semantics
//!
//! The op docs in [`crate::op`] are the primary definition; this list records the choices
//! they leave open.
//!
//! * **Float arithmetic** is computed in the element's own precision with Rust's `f32`/`f64`
//!   methods (`erf` via `libm::erff`/`libm::erf`; `rsqrt(x) = 1 / sqrt(x)`;
//!   `sigmoid(x) = 1 / (1 + exp(-x))`; `round` is half to even).
//! * **Float `max`/`min`** (binary and reductions, and `relu(x) = max(x, 0)`) follow IEEE
//!   754-2019 `maximum`/`minimum`: a NaN operand gives NaN (the first NaN operand is returned),
//!   and `-0.0 < +0.0`, so `max(-0.0, 0.0) = +0.0`, `min(-0.0, 0.0) = -0.0`, `relu(-0.0) = +0.0`.
//! * **`sign`** of a float is `-1`, `+1`, NaN for NaN, and `+0.0` for both `+0.0` and `-0.0`.
//! * **`abs`/`neg`** of a float only change the sign bit (also of NaN). Integer `neg`/`abs`
//!   wrap (`abs(MIN) = MIN`); integer `floor`/`ceil`/`round` are the identity.
//! * **Integer arithmetic** wraps; `div` truncates toward zero, `x / 0 = 0`, `MIN / -1 = MIN`.
//! * **Comparisons** with a NaN operand are false, except `ne`, which is true.
//! * **`cast`** uses Rust `as`: float→int saturates (NaN → 0), `i64`→`i32` keeps the low 32
//!   bits (wraps), int→float and `f64`→`f32` round to nearest; anything→bool is `!= 0`
//!   (NaN → true); bool→numeric is 0/1.
//! * **`constant`/`pad` values** convert to the dtype with `as` (a float literal for `f32`
//!   rounds to nearest).
//! * **`iota`** converts the index with `as` (an `i32` iota wraps past `i32::MAX`; float iotas
//!   round past 2^24 / 2^53).
//! * **Reductions** visit the reduced elements of each output element in row-major order and
//!   fold them sequentially in the element's own dtype, starting from the first element (so a
//!   reduction over an axis of length 1 is an exact copy, `-0.0` included). An empty reduction
//!   gives the identity: sum 0, prod 1, max the dtype's lowest value (`-inf`, `i32::MIN`, ...),
//!   min its highest. `mean = sum / count` with the count converted to the float dtype, so the
//!   mean of nothing is NaN. Empty `axes` returns the operand unchanged. `argmax`/`argmin`
//!   return the first extreme; a NaN counts as the extreme, and the first NaN wins.
//! * **`gather`/`index_select`** check every index value (in row-major order of the index
//!   tensor, even when the result has no elements) before reading anything, and report the
//!   first one outside `0..size` as [`Error::IndexOutOfRange`].
//! * **`matmul`**: floats use `ndarray`'s `dot` per batch (which may use FMA and blocked
//!   accumulation); integers use a plain loop with wrapping arithmetic, accumulating over `k`
//!   in order. `k = 0` gives zeros.
//! * Every instruction is evaluated, also those whose result is never used, so an index error
//!   in dead code is still reported.
//! * A value whose type needs more than `isize::MAX` bytes (possible for declared shapes such
//!   as `[0, 2^63]`, which the verifier accepts) cannot be an ndarray; `run` returns
//!   [`Error::Data`] for it before evaluating anything.
//! * **Memory** for tensor data (results, copies of inputs and outputs, temporaries) is
//!   allocated fallibly (see `alloc.rs`): a request the allocator refuses gives
//!   [`Error::Data`] naming the op, its value, its result type and the byte count, never an
//!   abort. A lazy view can make a tiny input huge (`expand` of one element to 2^40), so
//!   this is reachable from any program.

// `with_elem!(dtype, T => expr)` evaluates `expr` with the type alias `T` bound to the Rust
// element type of `dtype`.
macro_rules! with_elem {
    ($dtype:expr, $T:ident => $body:expr) => {
        match $dtype {
            $crate::types::DType::F32 => {
                type $T = f32;
                $body
            }
            $crate::types::DType::F64 => {
                type $T = f64;
                $body
            }
            $crate::types::DType::I32 => {
                type $T = i32;
                $body
            }
            $crate::types::DType::I64 => {
                type $T = i64;
                $body
            }
            $crate::types::DType::Bool => {
                type $T = bool;
                $body
            }
        }
    };
}

// `map_value!(value, a => expr)`: the same variant of `Value` holding `expr`, where `a` is the
// array of the input variant.
macro_rules! map_value {
    ($v:expr, $a:ident => $body:expr) => {
        match $v {
            Value::F32($a) => Value::F32($body),
            Value::F64($a) => Value::F64($body),
            Value::I32($a) => Value::I32($body),
            Value::I64($a) => Value::I64($body),
            Value::Bool($a) => Value::Bool($body),
        }
    };
}

mod alloc;
mod elementwise;
mod layout;
mod linalg;
pub mod random;
mod reduce;
mod value;

pub use value::Value;

use self::alloc::Fail;
use crate::error::Error;
use crate::inputs::check_inputs;
use crate::op::Op;
use crate::program::{Inst, Program, ValueId, Violation};
use crate::tensor::Tensor;
use crate::types::TensorType;

/// Runs `program` on `inputs` and returns its outputs, in the order of `program.outputs`
/// (a value listed twice is returned twice).
///
/// Verifies the program first ([`Error::Verify`]) and checks the inputs against its
/// parameters ([`Error::Input`]). Index operands outside their axis give
/// [`Error::IndexOutOfRange`]; memory that cannot be allocated (for a copy of an input, an
/// op's result or temporary, or an output tensor) gives [`Error::Data`]. Never panics or
/// aborts on a program that verifies.
///
/// ```
/// use lazyjit_lowering::{reference, BinaryOp, DType, Op, Program, Tensor, TensorType};
///
/// let mut p = Program::new();
/// let a = p.param("a", TensorType::new(DType::F32, [2, 1]));
/// let b = p.param("b", TensorType::new(DType::F32, [3]));
/// let s = p.push(Op::Binary(BinaryOp::Add), &[a, b]).unwrap();
/// p.output(s);
///
/// let a = Tensor::from_vec(vec![10.0f32, 20.0], vec![2, 1]).unwrap();
/// let b = Tensor::from_vec(vec![1.0f32, 2.0, 3.0], vec![3]).unwrap();
/// let out = reference::run(&p, &[&a, &b]).unwrap();
/// assert_eq!(out[0].shape().dims(), &[2, 3]);
/// assert_eq!(
///     out[0].as_slice::<f32>().unwrap(),
///     &[11.0, 12.0, 13.0, 21.0, 22.0, 23.0]
/// );
/// ```
pub fn run(program: &Program, inputs: &[&Tensor]) -> Result<Vec<Tensor>, Error> {
    program.verify().map_err(Error::Verify)?;
    check_inputs(program, inputs)?;
    let np = program.params.len();
    for (i, p) in program.params.iter().enumerate() {
        check_representable(ValueId(i as u32), &p.ty)?;
    }
    for (i, inst) in program.insts.iter().enumerate() {
        check_representable(program.inst_value(i), &inst.ty)?;
    }

    // Free each intermediate after its last use; outputs are kept to the end.
    let n = program.num_values();
    let mut keep = vec![false; n];
    for o in &program.outputs {
        keep[o.index()] = true;
    }
    let mut last_use = vec![None; n];
    for (i, inst) in program.insts.iter().enumerate() {
        for a in &inst.args {
            last_use[a.index()] = Some(i);
        }
    }

    let mut values: Vec<Option<Value>> = Vec::with_capacity(n);
    for (i, t) in inputs.iter().enumerate() {
        let v = Value::from_tensor(t).map_err(|e| {
            let p = &program.params[i];
            value::in_context(e, format!("parameter {} `{}`", ValueId(i as u32), p.name))
        })?;
        values.push(Some(v));
    }
    for (i, inst) in program.insts.iter().enumerate() {
        let vid = program.inst_value(i);
        let result = {
            let mut args = Vec::with_capacity(inst.args.len());
            for a in &inst.args {
                match values[a.index()].as_ref() {
                    Some(v) => args.push(v),
                    None => return Err(internal(vid, format!("operand {a} was freed too early"))),
                }
            }
            eval_unchecked(inst, vid, &args)?
        };
        check_result(vid, inst, &result)?;
        for a in &inst.args {
            if !keep[a.index()] && last_use[a.index()] == Some(i) {
                values[a.index()] = None;
            }
        }
        let used = keep[vid.index()] || last_use[vid.index()].is_some();
        values.push(used.then_some(result));
    }
    debug_assert_eq!(values.len(), np + program.insts.len());

    program
        .outputs
        .iter()
        .map(|o| match &values[o.index()] {
            Some(v) => v
                .to_tensor()
                .map_err(|e| value::in_context(e, format!("output {o}"))),
            None => Err(internal(*o, "output value was freed".into())),
        })
        .collect()
}

/// Evaluates one instruction on already computed operand values; `value` is the id of the
/// instruction's result (used in error messages).
///
/// Unlike [`run`], this checks only this instruction: the operands' types must satisfy the
/// op's rules and give the declared result type, else [`Error::Verify`]. Useful for eager,
/// op-by-op execution. A result or temporary that cannot be allocated gives [`Error::Data`]
/// naming the op.
///
/// ```
/// use lazyjit_lowering::reference::{eval_inst, Value};
/// use lazyjit_lowering::{DType, Inst, Op, UnaryOp, TensorType, ValueId};
/// use ndarray::{arr1, ArrayD};
///
/// let x = Value::from(arr1(&[-1.0f32, 2.0]).into_dyn());
/// let inst = Inst {
///     op: Op::Unary(UnaryOp::Relu),
///     args: vec![ValueId(0)],
///     ty: TensorType::new(DType::F32, [2]),
/// };
/// let y = eval_inst(&inst, ValueId(1), &[&x]).unwrap();
/// assert_eq!(y, Value::from(arr1(&[0.0f32, 2.0]).into_dyn()));
/// ```
pub fn eval_inst(inst: &Inst, value: ValueId, args: &[&Value]) -> Result<Value, Error> {
    let tys: Vec<TensorType> = args.iter().map(|a| a.ty()).collect();
    let refs: Vec<&TensorType> = tys.iter().collect();
    match inst.op.infer(&refs, &inst.ty) {
        Ok(t) if t == inst.ty => {}
        Ok(t) => {
            return Err(violation(
                value,
                format!(
                    "{} declares result {} but its operands give {t}",
                    inst.op.name(),
                    inst.ty
                ),
            ))
        }
        Err(m) => return Err(violation(value, m)),
    }
    check_representable(value, &inst.ty)?;
    let result = eval_unchecked(inst, value, args)?;
    check_result(value, inst, &result)?;
    Ok(result)
}

/// Evaluates an instruction whose operand types are known to satisfy its rules.
fn eval_unchecked(inst: &Inst, vid: ValueId, args: &[&Value]) -> Result<Value, Error> {
    kernel(inst, vid, args).map_err(|f| match f {
        Fail::Bug(m) => internal(vid, m),
        Fail::Alloc(a) => Error::Data(format!(
            "reference interpreter: {} (value {vid}: {}): {a}",
            inst.op.name(),
            inst.ty
        )),
        Fail::Error(e) => e,
    })
}

/// Dispatches to the op's kernel.
fn kernel(inst: &Inst, vid: ValueId, args: &[&Value]) -> Result<Value, Fail> {
    let arg = |i: usize| {
        args.get(i)
            .copied()
            .ok_or_else(|| Fail::Bug(format!("missing operand {i}")))
    };
    let dims = inst.ty.shape.dims();
    // An empty result has nothing to compute, however large its other dims (walking the
    // 2^40 lanes of an iota of [0, 2^40] would never finish). Gather, index_select and
    // scatter_add still run: their indices are checked even when nothing is selected.
    let checks_indices = matches!(
        inst.op,
        Op::Gather { .. } | Op::IndexSelect { .. } | Op::ScatterAdd { .. }
    );
    if inst.ty.shape.numel() == 0 && !checks_indices {
        return elementwise::empty(&inst.ty);
    }
    match &inst.op {
        Op::Unary(u) => elementwise::unary(*u, arg(0)?),
        Op::Binary(b) => elementwise::binary(*b, arg(0)?, arg(1)?, dims),
        Op::Where => elementwise::select(arg(0)?, arg(1)?, arg(2)?, dims),
        Op::Cast => elementwise::cast(arg(0)?, inst.ty.dtype),
        Op::Constant { value } => elementwise::constant(*value, &inst.ty),
        Op::Iota { axis } => elementwise::iota(*axis, &inst.ty),
        Op::Reduce { op, axes, keepdim } => reduce::reduce(*op, axes, *keepdim, arg(0)?),
        Op::Reshape { shape } => layout::reshape(arg(0)?, shape.dims()),
        Op::Permute { perm } => layout::permute(arg(0)?, perm),
        Op::Expand { shape } => layout::expand(arg(0)?, shape.dims()),
        Op::Slice {
            starts,
            stops,
            steps,
        } => layout::slice(arg(0)?, starts, stops, steps),
        Op::Concat { axis } => layout::concat(args, *axis),
        Op::Pad { lo, value, .. } => layout::pad(arg(0)?, lo, *value, dims),
        Op::Gather { axis } => layout::gather(arg(0)?, arg(1)?, *axis, vid),
        Op::IndexSelect { axis } => layout::index_select(arg(0)?, arg(1)?, *axis, dims, vid),
        Op::ScatterAdd { axis } => layout::scatter_add(arg(0)?, arg(1)?, arg(2)?, *axis, vid),
        Op::RandomUniform => random::random_uniform(arg(0)?, arg(1)?, &inst.ty),
        Op::MatMul => linalg::matmul(arg(0)?, arg(1)?, dims),
    }
}

/// The result must have the declared type; anything else is a bug in this interpreter.
fn check_result(vid: ValueId, inst: &Inst, result: &Value) -> Result<(), Error> {
    if result.dtype() == inst.ty.dtype && result.shape() == inst.ty.shape.dims() {
        Ok(())
    } else {
        Err(internal(
            vid,
            format!(
                "{} produced {} but declares {}",
                inst.op.name(),
                result.ty(),
                inst.ty
            ),
        ))
    }
}

/// ndarray needs the product of the non-zero dims, in bytes, to fit in `isize`.
fn check_representable(vid: ValueId, ty: &TensorType) -> Result<(), Error> {
    let bytes = ty
        .shape
        .dims()
        .iter()
        .filter(|&&d| d != 0)
        .try_fold(ty.dtype.size_bytes(), |acc, &d| acc.checked_mul(d));
    match bytes {
        Some(b) if b <= isize::MAX as usize => Ok(()),
        _ => Err(Error::Data(format!(
            "reference interpreter: value {vid} of type {ty} is too large to represent"
        ))),
    }
}

fn violation(vid: ValueId, message: String) -> Error {
    Error::Verify(vec![Violation {
        value: Some(vid),
        loc: None,
        message,
    }])
}

/// A broken internal invariant (unreachable for verified programs).
fn internal(vid: ValueId, message: String) -> Error {
    violation(vid, format!("reference interpreter: {message}"))
}
