//! `--check`: the JIT's outputs against the reference interpreter's, with the lowering
//! crate's comparison (`testing::compare`) and tolerances chosen per output from the ops it
//! depends on.
//!
//! An output computed only by ops the JIT must reproduce exactly (data movement, integer
//! arithmetic, comparisons, `add`/`mul`/... on floats, max/min reductions) must match exactly
//! ([`moves_bitwise`]: bit for bit, NaN payloads included, for pure data movement). An
//! output that depends on a float op the JIT may round differently (a transcendental
//! function, `pow`, a sum, mean or product reduction, `matmul`, `scatter_add`) must be within
//! `REL · |reference| + REL · max |reference|` per element: a relative error, with a floor
//! scaled to the output's magnitude for elements that cancel to near zero. Per-op bounds of
//! the differential tests do not compose over a whole program; this one catches every wrong
//! index or formula and passes rounding.

use lazyjit::lowering::testing::{compare, tolerance::moves_bitwise, Tol};
use lazyjit::lowering::{BinaryOp, DType, Op, Program, ReduceOp, Tensor};

/// Relative tolerance of approximate f32 outputs.
const REL_F32: f64 = 1e-4;
/// Relative tolerance of approximate f64 outputs.
const REL_F64: f64 = 1e-10;

/// What `--check` found: one line per output, and whether all agree.
pub struct Outcome {
    pub lines: Vec<String>,
    pub ok: bool,
}

/// Compares each of `jit` with `reference` (the outputs of `p`), named `names`.
pub fn check(p: &Program, names: &[String], jit: &[Tensor], reference: &[Tensor]) -> Outcome {
    let approx = approximate_values(p);
    let exact = moves_bitwise(p);
    let mut lines = Vec::new();
    let mut ok = true;
    for (k, ((j, r), name)) in jit.iter().zip(reference).zip(names).enumerate() {
        let o = p.outputs[k];
        let (tol, how) = if approx[o.index()] && r.dtype().is_float() {
            let rel = if r.dtype() == DType::F32 {
                REL_F32
            } else {
                REL_F64
            };
            let v = r.to_f64_vec();
            let scale = v
                .iter()
                .filter(|x| x.is_finite())
                .fold(0.0f64, |m, x| m.max(x.abs()));
            let bound = v.iter().map(|x| rel * x.abs() + rel * scale).collect();
            (Tol::Bound(bound), format!("within {rel:e} relative"))
        } else {
            (exact[k].clone(), "exact".to_string())
        };
        match compare(j, r, &tol) {
            Ok(()) => lines.push(format!(
                "{name}: matches ({how}; max abs difference {})",
                crate::show::float(max_abs_diff(j, r))
            )),
            Err(m) => {
                ok = false;
                lines.push(format!("{name}: DIFFERS from the reference: {m}"));
            }
        }
    }
    Outcome { lines, ok }
}

fn max_abs_diff(a: &Tensor, b: &Tensor) -> f64 {
    a.to_f64_vec()
        .iter()
        .zip(b.to_f64_vec())
        .filter(|(x, y)| x.is_finite() && y.is_finite())
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f64::max)
}

/// For each value: whether it depends on a float op the JIT may round differently from the
/// reference interpreter.
fn approximate_values(p: &Program) -> Vec<bool> {
    let np = p.params.len();
    let mut approx = vec![false; p.num_values()];
    for (i, inst) in p.insts.iter().enumerate() {
        let float =
            inst.ty.dtype.is_float() || inst.args.iter().any(|a| p.value_type(*a).dtype.is_float());
        let own = float && rounds_differently(&inst.op);
        approx[np + i] = own || inst.args.iter().any(|a| approx[a.index()]);
    }
    approx
}

/// Whether the JIT may compute `op` on floats with different rounding than the reference
/// (another evaluation order or another approximation); every op listed, so a new op must
/// be placed.
fn rounds_differently(op: &Op) -> bool {
    match op {
        Op::Unary(u) => u.is_transcendental(),
        Op::Binary(b) => *b == BinaryOp::Pow,
        Op::Reduce { op, .. } => match op {
            ReduceOp::Sum | ReduceOp::Mean | ReduceOp::Prod => true,
            ReduceOp::Max | ReduceOp::Min | ReduceOp::ArgMax | ReduceOp::ArgMin => false,
        },
        Op::MatMul | Op::ScatterAdd { .. } => true,
        Op::Where
        | Op::Cast
        | Op::Constant { .. }
        | Op::Iota { .. }
        | Op::Reshape { .. }
        | Op::Permute { .. }
        | Op::Expand { .. }
        | Op::Slice { .. }
        | Op::Concat { .. }
        | Op::Pad { .. }
        | Op::Gather { .. }
        | Op::IndexSelect { .. }
        | Op::RandomUniform => false,
    }
}
