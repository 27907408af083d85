//! A structured generator builds a random program from the program format's op set, small
//! real inputs, and runs it through the JIT (`codegen::compile` + `Compiled::run`, then
//! `run_into` over garbage) and through the reference interpreter; results must agree with the
//! tolerance rules of the differential test, whose generator and comparison it shares
//! (`lazyjit_lowering::testing`, the `testing` feature): exact for integers, bools and exactly
//! rounded float ops, a forward error bound for values that depend on approximate ops (the
//! generator never applies a discontinuous op to such a value), NaN ⇔ NaN with signs and
//! payloads ignored.
//!
//! The first byte picks a mode:
//! * `normal` (half the inputs): as the differential test, with base shapes that also come
//!   from the input (zero-size dims included), sometimes with out-of-range indices, which must
//!   be the same `Error::IndexOutOfRange` on both sides;
//! * `many_params`: 64–400 parameters and concats of up to 300 operands;
//! * `deep`: chains of 100–1,000 instructions (programs over 256 instructions compile on a
//!   helper thread);
//! * `empty_huge`: zero-size dims next to huge ones (`[0, 2^50]`), and parameters or views
//!   beyond the size limit of 2^56 elements, which both sides must reject;
//! * `huge`: `expand` to 2^40…2^56 elements (and attempts up to 2^64 - 1, which the shape
//!   rules must reject), read through slices, gathers, index_selects and cheap elementwise
//!   ops. The reference interpreter materialises every value, so these programs only run on
//!   the JIT (when every value is small the reference is compared too). The JIT must not crash
//!   or hang; a successful run or `Error::Data` (a huge buffer it cannot allocate) is fine.
//!
//! Errors: the reference returning `Err` while the JIT returns `Ok` (or the reverse), or two
//! different errors, is a finding, except `Error::Data` on the reference side for values it
//! cannot represent (checked with the size limit before running it).
#![no_main]

use arbitrary::{Arbitrary, Unstructured};
use lazyjit_lowering::codegen::{compile, CompileOptions, OptLevel};
use lazyjit_lowering::testing::compare::{check_run_into, compare_outputs, summary};
use lazyjit_lowering::testing::generator::{
    param_dtype, param_shape, tame_tensor, Builder, ParamFill, StepSpec, BASES, MAX_NUMEL,
};
use lazyjit_lowering::testing::inputs::{random_tensor, tt, MIXED};
use lazyjit_lowering::testing::rng::Rng;
use lazyjit_lowering::testing::tolerance::Tol;
use lazyjit_lowering::{
    reference, text, BinaryOp, DType, Error, Op, Program, Scalar, Shape, Tensor, TensorType,
    UnaryOp, ValueId,
};
use libfuzzer_sys::fuzz_target;

/// ASan: let a huge allocation fail (the library turns a null pointer into `Error::Data`)
/// instead of aborting the process, as the system allocator does without ASan.
#[no_mangle]
pub extern "C" fn __asan_default_options() -> *const std::os::raw::c_char {
    c"allocator_may_return_null=1".as_ptr()
}

// ======================================================================= the fuzz input

/// One step of the shared generator (`StepSpec`), as the fuzzer's input.
#[derive(Arbitrary, Debug, Clone)]
struct StepIn {
    kind: u8,
    x: u16,
    y: u16,
    z: u16,
    w: u16,
}

#[derive(Arbitrary, Debug)]
struct FuzzInput {
    mode: u8,
    /// Index into `BASES`, or (>= 128) a base shape built from `dims`.
    base: u8,
    dims: [u8; 4],
    /// Per parameter: (dtype choice, shape choice, magnitude choice).
    params: Vec<(u8, u8, u8)>,
    steps: Vec<StepIn>,
    seed: u64,
    /// How many parameters / chain steps the big modes use.
    count: u16,
    /// Out-of-range indices when `bad & 7 == 0`.
    bad: u8,
    opt_none: bool,
}

#[derive(Copy, Clone, Debug, PartialEq)]
enum Mode {
    Normal,
    ManyParams,
    Deep,
    EmptyHuge,
    Huge,
}

const HUGE: &[usize] = &[
    1 << 40,
    (1 << 40) + 3,
    1 << 44,
    1 << 50,
    1 << 55,
    1 << 56,
    (1 << 56) + 1,
    1 << 62,
    usize::MAX,
];

fn base_shape(inp: &FuzzInput, mode: Mode) -> Vec<usize> {
    match mode {
        Mode::EmptyHuge => {
            let h = HUGE[inp.dims[0] as usize % HUGE.len()];
            match inp.dims[1] % 5 {
                0 => vec![0, h],
                1 => vec![h, 0],
                2 => vec![2, 0, h],
                3 => vec![0, 3, h, 1],
                _ => vec![h, 0, 2],
            }
        }
        _ if inp.base >= 128 => {
            let rank = (inp.base as usize) % 5;
            inp.dims[..rank]
                .iter()
                .map(|&d| (d % 10) as usize)
                .collect()
        }
        _ => BASES[inp.base as usize % BASES.len()].to_vec(),
    }
}

/// Builds the program, its inputs and per-output tolerances (as `build` of the differential
/// test), with the mode's extras.
fn build(inp: &FuzzInput, mode: Mode) -> (Program, Vec<Tensor>, Vec<Tol>) {
    let base = base_shape(inp, mode);
    let mut b = Builder::new();
    let mut params: Vec<(u8, u8, u8)> = inp.params.iter().take(6).copied().collect();
    if params.is_empty() {
        params.push((0, 0, 0));
    }
    if mode == Mode::ManyParams {
        let n = 64 + inp.count as usize % 337;
        let first = params.clone();
        for i in params.len()..n {
            // Mostly one dtype and shape, so concats and binary ops find partners.
            let (d, s, m) = first[i % first.len()];
            params.push((
                if i % 5 == 0 {
                    d.wrapping_add(i as u8)
                } else {
                    d
                },
                s,
                m,
            ));
        }
    }
    for &(dsel, ssel, msel) in &params {
        let d = param_dtype(dsel);
        let mut shape = param_shape(&base, ssel);
        if shape
            .iter()
            .try_fold(1usize, |a, &x| a.checked_mul(x))
            .is_none_or(|n| n > MAX_NUMEL)
        {
            // A suffix of an empty-but-huge base shape that lost its zero dim: keep it small.
            shape.iter_mut().filter(|x| **x > 64).for_each(|x| *x = 1);
        }
        b.param(d, &shape, ParamFill::choose(d, msel));
    }
    let max_steps = match mode {
        Mode::Deep => 700,
        _ => 40,
    };
    let mut steps: Vec<StepIn> = inp.steps.iter().take(max_steps).cloned().collect();
    if mode == Mode::Deep && !steps.is_empty() {
        // A long chain: repeat the given steps, always on the newest value (x even, k = 0).
        // Up to ~1,000 instructions: a chain of 1,200 takes 7 s to compile and run under ASan,
        // so longer chains would only time out.
        let n = 100 + inp.count as usize % 500;
        let given = steps.clone();
        steps = (0..n)
            .map(|i| {
                let mut s = given[i % given.len()].clone();
                s.x = 0;
                // Cheap elementwise kinds keep the chain going (see `Builder::step`).
                s.kind = [0, 1, 2, 3, 4, 6, 7, 16][(s.kind as usize + i) % 8];
                s
            })
            .collect();
    }
    for s in &steps {
        if s.kind % 32 == 25 {
            many_concat(&mut b, s);
            continue;
        }
        b.apply(&StepSpec {
            kind: s.kind,
            x: s.x,
            y: s.y,
            z: s.z,
            w: s.w,
        });
    }
    if mode == Mode::ManyParams {
        many_concat(
            &mut b,
            &StepIn {
                kind: 25,
                x: 0,
                y: 0,
                z: inp.count,
                w: 0,
            },
        );
    }
    let (p, fills, tols) = b.finish();
    let mut rng = Rng::new(inp.seed);
    let inputs: Vec<Tensor> = p
        .params
        .iter()
        .zip(&fills)
        .filter_map(|(q, f)| {
            // Shapes beyond the size limit (empty_huge) have no tensor: verify must fail.
            within_limit(&q.ty.shape).then_some(())?;
            Some(tame_tensor(&q.ty, *f, &mut rng))
        })
        .collect();
    (p, inputs, tols)
}

/// A concat of many operands: every value with the dtype and rank of the picked one and the
/// same dims off the axis (up to 300, repeats allowed), as long as the result stays small.
fn many_concat(b: &mut Builder, s: &StepIn) -> Option<ValueId> {
    let a = b.pick(s.x);
    let at = b.ty(a).clone();
    let rank = at.shape.rank();
    if rank == 0 {
        return None;
    }
    let axis = s.y as usize % rank;
    let dims = at.shape.dims().to_vec();
    let same: Vec<ValueId> = (0..b.meta.len() as u32)
        .map(ValueId)
        .filter(|&v| {
            let t = b.ty(v);
            t.dtype == at.dtype
                && t.shape.rank() == rank
                && (0..rank).all(|k| k == axis || t.shape.dims()[k] == dims[k])
        })
        .collect();
    let want = 2 + s.z as usize % 299;
    let mut args = Vec::new();
    let mut total = 0usize;
    let row: usize = dims
        .iter()
        .enumerate()
        .filter(|&(k, _)| k != axis)
        .map(|(_, &d)| d)
        .product();
    for i in 0..want {
        let v = same[i % same.len()];
        let n = b.ty(v).shape.dims()[axis];
        if (total + n) * row > MAX_NUMEL {
            break;
        }
        total += n;
        args.push(v);
    }
    if args.is_empty() {
        return None;
    }
    b.add(Op::Concat { axis }, &args, None)
}

/// Replaces the index operand of one gather / index_select with a parameter-dependent index
/// that may be out of range (the result of `add(index, p)` with `p` a wild integer parameter
/// when one broadcasts, else a constant past the end).
fn spoil_an_index(p: &Program, sel: u8) -> Option<Program> {
    let idx: Vec<usize> = p
        .insts
        .iter()
        .enumerate()
        .filter(|(_, i)| matches!(i.op, Op::Gather { .. } | Op::IndexSelect { .. }))
        .map(|(k, _)| k)
        .collect();
    if idx.is_empty() {
        return None;
    }
    let k = idx[sel as usize % idx.len()];
    let mut q = Program::new();
    for prm in &p.params {
        q.param(prm.name.clone(), prm.ty.clone());
    }
    let np = p.params.len() as u32;
    // Values after the spoiled instruction's new constant shift by one.
    let shift = |v: ValueId, at: usize| {
        if v.0 >= np && (v.0 - np) as usize >= at {
            ValueId(v.0 + 1)
        } else {
            v
        }
    };
    for (i, inst) in p.insts.iter().enumerate() {
        let mut args: Vec<ValueId> = inst.args.iter().map(|&a| shift(a, k)).collect();
        if i == k {
            let ity = p.value_type(inst.args[1]).clone();
            let size = match &inst.op {
                Op::Gather { axis } | Op::IndexSelect { axis } => {
                    p.value_type(inst.args[0]).shape.dims()[*axis] as i64
                }
                _ => unreachable!(),
            };
            let bad = [
                size,
                -1,
                size.wrapping_add(7),
                i32::MIN as i64,
                size.wrapping_add(1).wrapping_neg(),
            ][sel as usize % 5];
            let c = q
                .push_typed(
                    Op::Constant {
                        value: Scalar::Int(bad),
                    },
                    &[],
                    ity.clone(),
                )
                .ok()?;
            // Where iota-like index values equal `sel % size`, use the bad one instead.
            let _ = c;
            args[1] = c;
        }
        q.push_typed(inst.op.clone(), &args, inst.ty.clone()).ok()?;
    }
    for &o in &p.outputs {
        q.output(shift(o, k));
    }
    Some(q)
}

/// The format's size limit (`lazyjit_lowering::MAX_ELEMENTS`): 2^56 elements, empty dims
/// counted as 1.
fn within_limit(s: &Shape) -> bool {
    s.dims()
        .iter()
        .try_fold(1usize, |a, &d| a.checked_mul(d.max(1)))
        .is_some_and(|n| n <= 1 << 56)
}

fn same_error(j: &Error, r: &Error) -> bool {
    match (j, r) {
        (Error::IndexOutOfRange { .. }, Error::IndexOutOfRange { .. }) => j == r,
        _ => std::mem::discriminant(j) == std::mem::discriminant(r),
    }
}

/// Whether the reference interpreter can hold every value of `p` (it materialises each one).
fn reference_can_run(p: &Program) -> bool {
    let small = |t: &TensorType| t.shape.numel() <= 1 << 16;
    p.params.iter().all(|q| small(&q.ty)) && p.insts.iter().all(|i| small(&i.ty))
}

/// `LAZYJIT_FUZZ_TRACE=1`: print the mode, the program and the input types of every run
/// (to turn a hang into a reproducer, or to see what the generator makes).
fn trace() -> bool {
    static T: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *T.get_or_init(|| std::env::var_os("LAZYJIT_FUZZ_TRACE").is_some())
}

fn run_both(p: &Program, inputs: &[Tensor], tols: &[Tol], opts: &CompileOptions) {
    let ins: Vec<&Tensor> = inputs.iter().collect();
    if trace() {
        eprintln!(
            "program ({} params, {} instructions):\n{}",
            p.params.len(),
            p.insts.len(),
            text::print(p)
        );
    }
    let fail = |m: String| -> ! {
        panic!(
            "{m}\nprogram:\n{}inputs:\n{}",
            text::print(p),
            summary(inputs)
        )
    };
    let valid = p.verify().is_ok();
    let compiled = compile(p, opts);
    let c = match (&compiled, valid) {
        (Ok(c), true) => c,
        (Err(Error::Verify(_)), false) => {
            if let Ok(r) = reference::run(p, &ins) {
                fail(format!(
                    "the reference ran a program that does not verify ({} outputs)",
                    r.len()
                ));
            }
            return;
        }
        (Err(e), true) => fail(format!("compile failed on a valid program: {e}")),
        (Ok(_), false) => fail("compile accepted a program that does not verify".into()),
        (Err(e), false) => fail(format!(
            "compile of an invalid program: not a Verify error: {e}"
        )),
    };
    if inputs.len() != p.params.len() {
        return;
    }
    let jit = c.run(&ins);
    if !reference_can_run(p) {
        match &jit {
            Ok(_) | Err(Error::Data(_)) => {}
            Err(Error::IndexOutOfRange { .. }) => {}
            Err(e) => fail(format!("JIT run of a huge program: unexpected error {e}")),
        }
        return;
    }
    let refs = reference::run(p, &ins);
    let (jit, refs) = match (jit, refs) {
        (Ok(j), Ok(r)) => (j, r),
        (Err(j), Err(r)) if same_error(&j, &r) => {
            // The compiled program must keep working after an error.
            let _ = c.run(&ins);
            return;
        }
        (Err(Error::Data(_)), Err(Error::Data(_))) => return,
        (j, r) => fail(format!(
            "JIT and reference disagree on success:\n  jit: {:?}\n  ref: {:?}",
            j.as_ref().map(|v| v.len()).map_err(|e| e.to_string()),
            r.as_ref().map(|v| v.len()).map_err(|e| e.to_string())
        )),
    };
    let mut errs = compare_outputs(p, &jit, &refs, tols);
    if errs.is_empty() {
        errs = check_run_into(c, &ins, &jit);
    }
    if !errs.is_empty() {
        fail(errs.join("\n"));
    }
}

// ======================================================================= huge views

/// A program over small parameters that expands values to huge extents and reads them back
/// through slices, gathers and index_selects (and cheap elementwise ops on the way).
fn build_huge(u: &mut Unstructured) -> arbitrary::Result<Program> {
    let mut p = Program::new();
    let d = [DType::F32, DType::I64, DType::F64, DType::Bool][u.int_in_range(0..=3)?];
    p.param("x", tt(d, &[1, 3]));
    p.param("y", tt(d, &[2, 1]));
    p.param("i", tt(DType::I64, &[2]));
    p.param("s", tt(d, &[]));
    let mut small_outputs = Vec::new();
    let n = u.int_in_range(1..=24)?;
    for _ in 0..n {
        let nv = p.num_values() as u32;
        let v = ValueId(u.int_in_range(0..=nv - 1)?);
        let t = p.value_type(v).clone();
        let dims = t.shape.dims().to_vec();
        let rank = dims.len();
        let h = *u.choose(HUGE)?;
        let op = match u.int_in_range(0..=9)? {
            0 | 1 => {
                // expand: size-1 dims to huge or small sizes, maybe a new leading dim
                let mut shape: Vec<usize> = Vec::new();
                for &x in &dims {
                    shape.push(if x == 1 { *u.choose(&[1, 3, h])? } else { x });
                }
                if u.ratio(1, 2)? || rank == 0 {
                    shape.insert(0, *u.choose(&[2, h, 0])?);
                }
                Op::Expand {
                    shape: Shape::new(shape),
                }
            }
            2 | 3 => {
                // slice: a few elements per axis, at the start, the middle or the end
                let (mut starts, mut stops, mut steps) = (Vec::new(), Vec::new(), Vec::new());
                for &x in &dims {
                    let start = match u.int_in_range(0..=3)? {
                        0 => 0,
                        1 => x / 2,
                        2 => x.saturating_sub(3),
                        _ => x,
                    };
                    let len = u.int_in_range(0..=3usize)?;
                    starts.push(start);
                    stops.push(start.saturating_add(len).min(x));
                    steps.push(*u.choose(&[1, 2, x.max(1)])?);
                }
                Op::Slice {
                    starts,
                    stops,
                    steps,
                }
            }
            4 => {
                if rank == 0 {
                    continue;
                }
                // index_select along an axis with the (possibly out-of-range) index param or
                // an in-range constant
                let axis = u.int_in_range(0..=rank - 1)?;
                let idx = if u.ratio(1, 3)? {
                    ValueId(2)
                } else {
                    let c = (dims[axis] as u64).saturating_sub(1).min(i64::MAX as u64) as i64;
                    let Ok(c) = p.push_typed(
                        Op::Constant {
                            value: Scalar::Int(*u.choose(&[0, c])?),
                        },
                        &[],
                        tt(DType::I64, &[1]),
                    ) else {
                        continue;
                    };
                    c
                };
                if p.push(Op::IndexSelect { axis }, &[v, idx]).is_ok() {
                    small_outputs.push(ValueId(p.num_values() as u32 - 1));
                }
                continue;
            }
            5 => {
                if rank == 0 {
                    continue;
                }
                let axis = u.int_in_range(0..=rank - 1)?;
                let ishape: Vec<usize> = dims.iter().map(|&x| x.min(2)).collect();
                let Ok(c) = p.push_typed(Op::Iota { axis }, &[], tt(DType::I64, &ishape)) else {
                    continue;
                };
                if p.push(Op::Gather { axis }, &[v, c]).is_ok() {
                    small_outputs.push(ValueId(p.num_values() as u32 - 1));
                }
                continue;
            }
            6 => {
                if d == DType::Bool {
                    Op::Unary(UnaryOp::Not)
                } else {
                    Op::Unary(*u.choose(&[UnaryOp::Neg, UnaryOp::Abs, UnaryOp::Exp])?).clone()
                }
            }
            7 => {
                let other = ValueId(u.int_in_range(0..=nv - 1)?);
                let b = if d == DType::Bool {
                    BinaryOp::And
                } else {
                    *u.choose(&[BinaryOp::Add, BinaryOp::Max, BinaryOp::Mul])?
                };
                if p.push(Op::Binary(b), &[v, other]).is_err() {
                    continue;
                }
                continue;
            }
            8 => {
                // reshape: merge the first two dims, or split the first
                let shape: Vec<usize> = if rank >= 2 && u.ratio(1, 2)? {
                    let Some(m) = dims[0].checked_mul(dims[1]) else {
                        continue;
                    };
                    std::iter::once(m)
                        .chain(dims[2..].iter().copied())
                        .collect()
                } else if rank >= 1 && dims[0] % 4 == 0 && dims[0] > 0 {
                    [4, dims[0] / 4]
                        .into_iter()
                        .chain(dims[1..].iter().copied())
                        .collect()
                } else {
                    continue;
                };
                Op::Reshape {
                    shape: Shape::new(shape),
                }
            }
            _ => {
                let perm: Vec<usize> = (0..rank).rev().collect();
                Op::Permute { perm }
            }
        };
        let _ = p.push(op, &[v]);
    }
    // Outputs: the small values, sometimes the last (maybe huge) one.
    for &o in &small_outputs {
        if p.value_type(o).shape.numel() <= 1 << 16 {
            p.output(o);
        }
    }
    let last = ValueId(p.num_values() as u32 - 1);
    if p.outputs.is_empty() || p.value_type(last).shape.numel() <= 1 << 16 || u.ratio(1, 8)? {
        p.output(last);
    }
    Ok(p)
}

fn huge_inputs(p: &Program, seed: u64) -> Vec<Tensor> {
    let mut rng = Rng::new(seed);
    let mut v: Vec<Tensor> = p
        .params
        .iter()
        .map(|q| random_tensor(&q.ty, MIXED, &mut rng))
        .collect();
    // The index parameter: in range of a size-2 or huge axis, or out of range.
    let idx: Vec<i64> = (0..2)
        .map(|_| rng.pick(&[0, 1, -1, i64::MAX, (1 << 40) - 1, 1 << 40]))
        .collect();
    v[2] = Tensor::from_vec(idx, vec![2]).unwrap();
    v
}

fuzz_target!(|data: &[u8]| {
    let mut u = Unstructured::new(data);
    let Ok(inp) = FuzzInput::arbitrary(&mut u) else {
        return;
    };
    let opts = CompileOptions {
        opt_level: if inp.opt_none {
            OptLevel::None
        } else {
            OptLevel::Speed
        },
        verify_clif: true,
        ..CompileOptions::default()
    };
    let mode = match inp.mode % 16 {
        0..=7 => Mode::Normal,
        8 | 9 => Mode::ManyParams,
        10 | 11 => Mode::Deep,
        12 | 13 => Mode::EmptyHuge,
        _ => Mode::Huge,
    };
    if trace() {
        eprintln!("mode {mode:?}");
    }
    if mode == Mode::Huge {
        let mut u = Unstructured::new(data.get(1..).unwrap_or(&[]));
        if let Ok(p) = build_huge(&mut u) {
            let inputs = huge_inputs(&p, inp.seed);
            let tols = vec![Tol::Exact];
            run_both(&p, &inputs, &tols, &opts);
        }
        return;
    }
    let (p, inputs, tols) = build(&inp, mode);
    if mode == Mode::Normal && inp.bad & 7 == 0 {
        if let Some(q) = spoil_an_index(&p, inp.bad >> 3) {
            // Same outputs; any agreement of errors or values (exact only where no tolerance
            // is needed) is checked by run_both with the original tolerances.
            run_both(&q, &inputs, &tols, &opts);
            return;
        }
    }
    run_both(&p, &inputs, &tols, &opts);
});
