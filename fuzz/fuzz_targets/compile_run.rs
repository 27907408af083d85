//! A structured generator builds a random program from the program format's op set, small
//! real inputs, and runs it through the JIT (`codegen::compile` + `Compiled::run`, then
//! `run_into` over garbage) and through the reference interpreter; results must agree with the
//! tolerance rules of `lowering/tests/differential.rs`, from which the generator and the
//! comparison are copied (sections marked "copied"): exact for integers, bools and exactly
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
#![allow(dead_code, clippy::all)]

use arbitrary::{Arbitrary, Unstructured};
use lazyjit_lowering::codegen::{compile, CompileOptions, OptLevel};
use lazyjit_lowering::{
    reference, text, BinaryOp, DType, Error, Op, Program, ReduceOp, Scalar, Shape, Tensor,
    TensorType, UnaryOp, ValueId,
};
use libfuzzer_sys::fuzz_target;

/// ASan: let a huge allocation fail (the library turns a null pointer into `Error::Data`)
/// instead of aborting the process, as the system allocator does without ASan.
#[no_mangle]
pub extern "C" fn __asan_default_options() -> *const std::os::raw::c_char {
    c"allocator_may_return_null=1".as_ptr()
}

/// Largest value the generator creates for real, in elements (as the differential test).
const MAX_NUMEL: usize = 2048;

// ======================================================================= random numbers

/// SplitMix64: deterministic inputs from a seed (the tests must not depend on `rand`).
#[derive(Clone, Debug)]
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        Rng(seed ^ 0x2545_F491_4F6C_DD1D)
    }

    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (0 when `n == 0`).
    fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next() % n as u64) as usize
        }
    }

    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }

    fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }

    fn pick<T: Clone>(&mut self, xs: &[T]) -> T {
        xs[self.below(xs.len())].clone()
    }

    /// Uniform integer in `lo..=hi`.
    fn int_in(&mut self, lo: i64, hi: i64) -> i64 {
        let span = (hi as i128 - lo as i128 + 1) as u128;
        (lo as i128 + (self.next() as u128 % span) as i128) as i64
    }
}

// ======================================================================= inputs

/// How to fill an input tensor.
#[derive(Clone, Copy, Debug)]
enum Fill {
    /// Floats uniform in `±mag`, integers uniform in `±max(mag, 5)`; a fraction `special` of
    /// the elements are special values (NaN, ±inf, ±0, subnormals, ties, integer MIN/MAX, ...).
    /// `extreme` adds the largest finite values and 1e30 to the specials.
    Mixed {
        mag: f64,
        special: f64,
        extreme: bool,
    },
    /// Uniform in `lo..hi` (integers: `lo..=hi`).
    Range(f64, f64),
    /// Elements of `{±0.5, ±1, ±2}` (integers `{±1, ±2}`); a fraction `special` of them `0`,
    /// `-0.0`, `±inf` or NaN (integers: 0).
    Pow2 { special: f64 },
}

const MIXED: Fill = Fill::Mixed {
    mag: 4.0,
    special: 0.15,
    extreme: true,
};

fn f32_specials(extreme: bool) -> Vec<f32> {
    let mut v = vec![
        f32::NAN,
        f32::from_bits(0xffc0_0000), // negative NaN
        f32::from_bits(0x7fc0_1234), // NaN with a payload
        f32::INFINITY,
        f32::NEG_INFINITY,
        0.0,
        -0.0,
        f32::from_bits(1),            // smallest subnormal
        -f32::from_bits(0x007f_ffff), // largest subnormal
        f32::MIN_POSITIVE,
        0.5,
        -0.5,
        1.5,
        2.5,
        -2.5,
        1.0,
        -1.0,
        16_777_217.0,
        -123_456.78, // beyond the inline sin/cos range
        1e-30,
    ];
    if extreme {
        v.extend([f32::MAX, f32::MIN, 1e30, -3e38, 2.2e9, -9.3e18]);
    }
    v
}

fn f64_specials(extreme: bool) -> Vec<f64> {
    let mut v = vec![
        f64::NAN,
        f64::from_bits(0xfff8_0000_0000_0000),
        f64::from_bits(0x7ff8_0000_0000_1234),
        f64::INFINITY,
        f64::NEG_INFINITY,
        0.0,
        -0.0,
        f64::from_bits(1),
        -f64::from_bits(0x000f_ffff_ffff_ffff),
        f64::MIN_POSITIVE,
        0.5,
        -0.5,
        1.5,
        2.5,
        -2.5,
        1.0,
        -1.0,
        9_007_199_254_740_993.0,
        -123_456.78,
        1e-300,
        1e-40, // subnormal once cast to f32
    ];
    if extreme {
        v.extend([f64::MAX, f64::MIN, 1e300, 3.5e38, -2.2e9, 9.3e18]);
    }
    v
}

fn int_specials(d: DType) -> Vec<i64> {
    if d == DType::I32 {
        vec![
            i32::MIN as i64,
            i32::MAX as i64,
            i32::MIN as i64 + 1,
            -1,
            0,
            1,
            2,
            -2,
        ]
    } else {
        vec![i64::MIN, i64::MAX, i64::MIN + 1, -1, 0, 1, 2, -2, 1 << 40]
    }
}

fn gen_float(d: DType, fill: Fill, rng: &mut Rng) -> f64 {
    match fill {
        Fill::Mixed {
            mag,
            special,
            extreme,
        } => {
            if rng.chance(special) {
                if d == DType::F32 {
                    rng.pick(&f32_specials(extreme)) as f64
                } else {
                    rng.pick(&f64_specials(extreme))
                }
            } else {
                (rng.unit() * 2.0 - 1.0) * mag
            }
        }
        Fill::Range(lo, hi) => lo + rng.unit() * (hi - lo),
        Fill::Pow2 { special } => {
            if rng.chance(special) {
                rng.pick(&[0.0, -0.0, f64::INFINITY, f64::NEG_INFINITY, f64::NAN])
            } else {
                rng.pick(&[0.5, -0.5, 1.0, -1.0, 2.0, -2.0])
            }
        }
    }
}

fn gen_int(d: DType, fill: Fill, rng: &mut Rng) -> i64 {
    let (min, max) = if d == DType::I32 {
        (i32::MIN as i64, i32::MAX as i64)
    } else {
        (i64::MIN, i64::MAX)
    };
    match fill {
        Fill::Mixed { mag, special, .. } => {
            if rng.chance(special) {
                rng.pick(&int_specials(d))
            } else if rng.chance(0.05) {
                rng.int_in(min, max)
            } else {
                let m = mag.max(5.0) as i64;
                rng.int_in(-m, m)
            }
        }
        Fill::Range(lo, hi) => rng.int_in(lo as i64, hi as i64),
        Fill::Pow2 { special } => {
            if rng.chance(special) {
                0
            } else {
                rng.pick(&[-2, -1, 1, 2])
            }
        }
    }
}

fn random_tensor(ty: &TensorType, fill: Fill, rng: &mut Rng) -> Tensor {
    let n = ty.shape.numel();
    let shape = ty.shape.clone();
    match ty.dtype {
        DType::F32 => Tensor::from_vec(
            shape,
            (0..n)
                .map(|_| gen_float(DType::F32, fill, rng) as f32)
                .collect(),
        ),
        DType::F64 => Tensor::from_vec(
            shape,
            (0..n).map(|_| gen_float(DType::F64, fill, rng)).collect(),
        ),
        DType::I32 => Tensor::from_vec(
            shape,
            (0..n)
                .map(|_| gen_int(DType::I32, fill, rng) as i32)
                .collect(),
        ),
        DType::I64 => Tensor::from_vec(
            shape,
            (0..n).map(|_| gen_int(DType::I64, fill, rng)).collect(),
        ),
        DType::Bool => Tensor::from_vec(shape, (0..n).map(|_| rng.chance(0.5)).collect()),
    }
    .expect("element count matches the shape")
}

/// One random input per parameter of `p`, all filled with `fill`.
fn random_inputs(p: &Program, fill: Fill, rng: &mut Rng) -> Vec<Tensor> {
    p.params
        .iter()
        .map(|q| random_tensor(&q.ty, fill, rng))
        .collect()
}

// ======================================================================= comparison

/// How closely one output must agree; see the module docs.
#[derive(Clone, Debug)]
enum Tol {
    Exact,
    /// The same bytes, NaN payloads and signs included (data movement, `neg`, `abs`).
    Bits,
    /// `|j - r| <= ulps · ulp(r) + abs`.
    Ulps {
        ulps: f64,
        abs: f64,
    },
    /// `|j - r| <= rel · |r| + abs`.
    Rel {
        rel: f64,
        abs: f64,
    },
    /// `|j - r| <= bound[i]` for element `i`.
    Bound(Vec<f64>),
}

/// Distance between `x` and the next representable number of dtype `d` away from zero.
fn ulp(x: f64, d: DType) -> f64 {
    let (mant, min_exp) = if d == DType::F32 {
        (23, -149)
    } else {
        (52, -1074)
    };
    let a = x.abs();
    if !a.is_finite() || a < f64::MIN_POSITIVE {
        return 2f64.powi(min_exp);
    }
    let e = ((a.to_bits() >> 52) & 0x7ff) as i32 - 1023;
    2f64.powi((e - mant).max(min_exp))
}

/// Unit roundoff.
fn unit_roundoff(d: DType) -> f64 {
    if d == DType::F32 {
        2f64.powi(-24)
    } else {
        2f64.powi(-53)
    }
}

/// `γ(k) = k·u / (1 - k·u)`.
fn gamma(k: usize, d: DType) -> f64 {
    let ku = k as f64 * unit_roundoff(d);
    if ku >= 1.0 {
        f64::INFINITY
    } else {
        ku / (1.0 - ku)
    }
}

fn min_normal(d: DType) -> f64 {
    if d == DType::F32 {
        f32::MIN_POSITIVE as f64
    } else {
        f64::MIN_POSITIVE
    }
}

fn elem_bytes(t: &Tensor, i: usize) -> &[u8] {
    let s = t.dtype().size_bytes();
    &t.buffer().as_bytes()[i * s..(i + 1) * s]
}

fn show_elem(t: &Tensor, i: usize) -> String {
    match t.dtype() {
        DType::F32 => {
            let v = t.get_f64(i).unwrap_or(f64::NAN) as f32;
            format!("{v:e} ({:#010x})", v.to_bits())
        }
        DType::F64 => {
            let v = t.get_f64(i).unwrap_or(f64::NAN);
            format!("{v:e} ({:#018x})", v.to_bits())
        }
        DType::I64 => {
            let b: [u8; 8] = elem_bytes(t, i).try_into().unwrap();
            i64::from_ne_bytes(b).to_string()
        }
        _ => format!("{}", t.get_f64(i).unwrap_or(f64::NAN)),
    }
}

fn elem_ok(j: &Tensor, r: &Tensor, i: usize, tol: &Tol) -> bool {
    let d = r.dtype();
    if !d.is_float() {
        return elem_bytes(j, i) == elem_bytes(r, i);
    }
    if matches!(tol, Tol::Bits) {
        return elem_bytes(j, i) == elem_bytes(r, i);
    }
    let (jv, rv) = (j.get_f64(i).unwrap(), r.get_f64(i).unwrap());
    if rv.is_nan() || jv.is_nan() {
        return rv.is_nan() && jv.is_nan();
    }
    let bound = match tol {
        Tol::Exact | Tol::Bits => return elem_bytes(j, i) == elem_bytes(r, i),
        Tol::Ulps { ulps, abs } => ulps * ulp(rv, d) + abs,
        Tol::Rel { rel, abs } => rel * rv.abs() + abs,
        Tol::Bound(b) => b[i],
    };
    if rv.is_infinite() || jv.is_infinite() {
        return jv == rv;
    }
    // A NaN bound (from an infinite Σ|x|) means "anything finite": the reference is then
    // non-finite anyway, which was handled above.
    (jv - rv).abs() <= bound || bound.is_nan()
}

/// Compares one output; lists up to 6 mismatching elements.
fn compare(j: &Tensor, r: &Tensor, tol: &Tol) -> Result<(), String> {
    if j.ty() != r.ty() {
        return Err(format!("type {} but the reference has {}", j.ty(), r.ty()));
    }
    let bad: Vec<usize> = (0..r.numel()).filter(|&i| !elem_ok(j, r, i, tol)).collect();
    if bad.is_empty() {
        return Ok(());
    }
    let mut s = format!(
        "{} of {} elements differ ({tol_name}):",
        bad.len(),
        r.numel(),
        tol_name = match tol {
            Tol::Exact => "exact".to_string(),
            Tol::Bits => "bitwise, NaN payloads included".to_string(),
            Tol::Ulps { ulps, abs } => format!("{ulps} ulp + {abs:e}"),
            Tol::Rel { rel, abs } => format!("rel {rel:e} + {abs:e}"),
            Tol::Bound(_) => "per-element bound".to_string(),
        }
    );
    for &i in bad.iter().take(6) {
        let b = match tol {
            Tol::Bound(b) => format!(" (bound {:e})", b[i]),
            _ => String::new(),
        };
        s += &format!(
            "\n    [{}] jit {} ref {}{b}",
            unravel(i, r.shape()),
            show_elem(j, i),
            show_elem(r, i)
        );
    }
    Err(s)
}

fn unravel(mut i: usize, s: &Shape) -> String {
    let mut idx = vec![0; s.rank()];
    for (d, &n) in s.dims().iter().enumerate().rev() {
        if n > 0 {
            idx[d] = i % n;
            i /= n;
        }
    }
    idx.iter()
        .map(|x| x.to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

fn summary(inputs: &[Tensor]) -> String {
    inputs
        .iter()
        .enumerate()
        .map(|(k, t)| {
            if t.numel() <= 24 {
                let v: Vec<String> = (0..t.numel()).map(|i| show_elem(t, i)).collect();
                format!("  input {k}: {} = [{}]", t.ty(), v.join(", "))
            } else {
                format!("  input {k}: {} (not shown)", t.ty())
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}
/// Fills a tensor's bytes with a pattern no correct output has everywhere (bools get 1, so
/// every byte stays a valid bool).
fn garbage(ty: &TensorType) -> Tensor {
    let mut t = Tensor::zeros(ty.clone()).unwrap();
    match ty.dtype {
        DType::F32 => t
            .as_mut_slice::<f32>()
            .unwrap()
            .fill(f32::from_bits(0xA5A5_A5A5)),
        DType::F64 => t
            .as_mut_slice::<f64>()
            .unwrap()
            .fill(f64::from_bits(0xA5A5_A5A5_A5A5_A5A5)),
        DType::I32 => t.as_mut_slice::<i32>().unwrap().fill(0xA5A5_A5A5u32 as i32),
        DType::I64 => t
            .as_mut_slice::<i64>()
            .unwrap()
            .fill(0xA5A5_A5A5_A5A5_A5A5u64 as i64),
        DType::Bool => t.as_mut_slice::<bool>().unwrap().fill(true),
    }
    t
}

fn tt(d: DType, shape: &[usize]) -> TensorType {
    TensorType::new(d, shape.to_vec())
}

fn reduce(op: ReduceOp, axes: &[usize], keepdim: bool) -> Op {
    Op::Reduce {
        op,
        axes: axes.to_vec(),
        keepdim,
    }
}

fn permutations(n: usize) -> Vec<Vec<usize>> {
    if n == 0 {
        return vec![vec![]];
    }
    let mut out = Vec::new();
    for p in permutations(n - 1) {
        for i in 0..=p.len() {
            let mut q = p.clone();
            q.insert(i, n - 1);
            out.push(q);
        }
    }
    out
}

/// What the generator knows about a value: `mag` bounds the magnitude of its finite elements
/// (`inf` when unknown), `err` bounds |JIT - reference| on them (0: the value must match
/// exactly). See "Random programs" in the module docs.
#[derive(Clone, Copy, Debug)]
struct Meta {
    mag: f64,
    err: f64,
}

impl Meta {
    const EXACT_BOOL: Meta = Meta { mag: 1.0, err: 0.0 };

    fn exact(mag: f64) -> Meta {
        Meta { mag, err: 0.0 }
    }

    fn tainted(&self) -> bool {
        self.err > 0.0
    }
}

/// How an input parameter is filled (random programs use a tame set of special values whose
/// finite ones stay within the magnitude, so that `mag` holds).
#[derive(Clone, Copy, Debug)]
struct ParamFill {
    mag: f64,
    /// Integers: also MIN, MAX and full-range values (then `mag` is infinite).
    wild: bool,
}

fn tame_value(d: DType, f: ParamFill, rng: &mut Rng) -> f64 {
    if d.is_float() && rng.chance(0.06) {
        let tiny = if d == DType::F32 {
            f32::from_bits(3) as f64
        } else {
            f64::from_bits(3)
        };
        return rng.pick(&[
            f64::NAN,
            f64::INFINITY,
            f64::NEG_INFINITY,
            0.0,
            -0.0,
            tiny,
            -min_normal(d),
            0.5,
            -2.5,
        ]);
    }
    if d.is_float() {
        (rng.unit() * 2.0 - 1.0) * f.mag
    } else {
        rng.int_in(-(f.mag as i64), f.mag as i64) as f64
    }
}

fn tame_tensor(ty: &TensorType, f: ParamFill, rng: &mut Rng) -> Tensor {
    if ty.dtype.is_int() && f.wild {
        return random_tensor(ty, MIXED, rng);
    }
    let n = ty.shape.numel();
    let v: Vec<f64> = (0..n).map(|_| tame_value(ty.dtype, f, rng)).collect();
    let shape = ty.shape.clone();
    match ty.dtype {
        DType::F32 => Tensor::from_vec(shape, v.iter().map(|&x| x as f32).collect()),
        DType::F64 => Tensor::from_vec(shape, v),
        DType::I32 => Tensor::from_vec(shape, v.iter().map(|&x| x as i32).collect()),
        DType::I64 => Tensor::from_vec(shape, v.iter().map(|&x| x as i64).collect()),
        DType::Bool => Tensor::from_vec(shape, (0..n).map(|_| rng.chance(0.5)).collect()),
    }
    .unwrap()
}

struct Builder {
    p: Program,
    meta: Vec<Meta>,
    outputs: Vec<ValueId>,
}

/// Error-bound constants of a float dtype: unit roundoff `u`, machine epsilon (ulp of 1)
/// and the absolute floor for underflow.
fn consts(d: DType) -> (f64, f64, f64) {
    let u = unit_roundoff(d);
    (u, 2.0 * u, 4.0 * min_normal(d))
}

impl Builder {
    fn ty(&self, v: ValueId) -> &TensorType {
        self.p.value_type(v)
    }

    fn m(&self, v: ValueId) -> Meta {
        self.meta[v.index()]
    }

    /// Picks a value: usually one of the last few (so chains form), sometimes any.
    fn pick(&self, x: u16) -> ValueId {
        let n = self.meta.len();
        let k = (x >> 1) as usize;
        let i = if x & 1 == 0 {
            n - 1 - k % n.min(4)
        } else {
            k % n
        };
        ValueId(i as u32)
    }

    /// Values satisfying `f`, the `x`-th of them (cyclically), if any.
    fn find(&self, x: u16, f: impl Fn(ValueId) -> bool) -> Option<ValueId> {
        let all: Vec<ValueId> = (0..self.meta.len() as u32)
            .map(ValueId)
            .filter(|v| f(*v))
            .collect();
        (!all.is_empty()).then(|| all[x as usize % all.len()])
    }

    /// Appends `op` if it is valid, small enough and its error bound is finite.
    fn add(&mut self, op: Op, args: &[ValueId], declared: Option<TensorType>) -> Option<ValueId> {
        let decl = declared.unwrap_or_else(|| tt(DType::F32, &[]));
        let tys: Vec<&TensorType> = args.iter().map(|a| self.ty(*a)).collect();
        let ty = op.infer(&tys, &decl).ok()?;
        if ty.shape.numel() > MAX_NUMEL {
            return None;
        }
        let meta = self.meta_of(&op, args, &ty)?;
        if !(meta.err.is_finite() && (meta.err == 0.0 || meta.mag.is_finite())) {
            return None;
        }
        let v = self.p.push_typed(op, args, decl).ok()?;
        self.meta.push(meta);
        Some(v)
    }

    /// The forward error analysis of the module docs: `None` rejects the op (it would apply a
    /// discontinuous or ill-conditioned op to an approximate value, or could overflow).
    fn meta_of(&self, op: &Op, args: &[ValueId], ty: &TensorType) -> Option<Meta> {
        let d = ty.dtype;
        let a: Vec<Meta> = args.iter().map(|v| self.m(*v)).collect();
        let any_tainted = a.iter().any(|m| m.tainted());
        let max_mag = a.iter().map(|m| m.mag).fold(0.0, f64::max);
        let max_err = a.iter().map(|m| m.err).fold(0.0, f64::max);
        let int_mag = |m: f64| {
            let lim = if d == DType::I32 {
                2f64.powi(31)
            } else {
                2f64.powi(63)
            };
            if m < lim {
                m
            } else {
                f64::INFINITY
            }
        };
        if d == DType::Bool {
            // Comparisons, casts to bool, where/layout of bools: exact, and they must not see
            // approximate values (a rounding difference could flip them).
            return (!any_tainted).then_some(Meta::EXACT_BOOL);
        }
        let (u, eps, floor) = if d.is_float() {
            consts(d)
        } else {
            (0.0, 0.0, 0.0)
        };
        let f64_math = d == DType::F64;
        // |f_jit(x') - f_ref(x)| <= lip·err + tol·M + floor, M bounding |f|.
        let transcendental = |lip: f64, ulps: f64, abs32: f64, m_out: f64, e_in: f64| {
            let tol = if f64_math {
                1e-12 * m_out
            } else {
                ulps * eps * m_out + abs32
            };
            Meta {
                mag: m_out,
                err: lip * e_in + tol + floor,
            }
        };
        Some(match op {
            Op::Unary(un) => {
                let m = a[0];
                if !d.is_float() {
                    let mag = match un {
                        UnaryOp::Sign => 1.0,
                        _ => m.mag,
                    };
                    return Some(Meta::exact(mag));
                }
                match un {
                    UnaryOp::Neg | UnaryOp::Abs | UnaryOp::Relu => m,
                    UnaryOp::Floor | UnaryOp::Ceil | UnaryOp::Round if !m.tainted() => {
                        Meta::exact(m.mag + 1.0)
                    }
                    UnaryOp::Sign if !m.tainted() => Meta::exact(1.0),
                    UnaryOp::Sqrt if !m.tainted() => Meta::exact(m.mag.sqrt().max(1.0)),
                    UnaryOp::Rsqrt | UnaryOp::Reciprocal if !m.tainted() => {
                        Meta::exact(f64::INFINITY)
                    }
                    UnaryOp::Exp => {
                        let lim = if f64_math { 700.0 } else { 80.0 };
                        if m.mag + m.err > lim {
                            return None;
                        }
                        let big = (m.mag + m.err).exp();
                        transcendental(big, 5.0, 0.0, big, m.err)
                    }
                    UnaryOp::Log if !m.tainted() => {
                        let big = if f64_math { 745.0 } else { 104.0 };
                        transcendental(0.0, 5.0, 0.0, big, 0.0)
                    }
                    UnaryOp::Tanh => transcendental(1.0, 6.0, 0.0, 1.0, m.err),
                    UnaryOp::Sigmoid => transcendental(0.25, 7.0, 0.0, 1.0, m.err),
                    UnaryOp::Erf => transcendental(1.13, 6.0, 0.0, 1.0, m.err),
                    UnaryOp::Sin | UnaryOp::Cos => transcendental(1.0, 3.0, 2e-7, 1.0, m.err),
                    _ => return None,
                }
            }
            Op::Binary(b) => {
                let (x, y) = (a[0], a[1]);
                if !d.is_float() {
                    let mag = match b {
                        BinaryOp::Add | BinaryOp::Sub => x.mag + y.mag,
                        BinaryOp::Mul => x.mag * y.mag,
                        _ => x.mag.max(y.mag),
                    };
                    return Some(Meta::exact(int_mag(mag)));
                }
                let (ex, ey) = (x.err, y.err);
                match b {
                    BinaryOp::Add | BinaryOp::Sub => {
                        let mag = x.mag + y.mag;
                        if !any_tainted {
                            Meta::exact(mag)
                        } else {
                            Meta {
                                mag,
                                err: (ex + ey) * (1.0 + eps) + eps * (mag + ex + ey),
                            }
                        }
                    }
                    BinaryOp::Mul => {
                        let mag = x.mag * y.mag;
                        if !any_tainted {
                            Meta::exact(mag)
                        } else {
                            let err = x.mag * ey
                                + y.mag * ex
                                + ex * ey
                                + eps * (x.mag + ex) * (y.mag + ey)
                                + floor;
                            Meta { mag, err }
                        }
                    }
                    BinaryOp::Max | BinaryOp::Min => Meta {
                        mag: max_mag,
                        err: max_err,
                    },
                    BinaryOp::Div | BinaryOp::Pow if !any_tainted => Meta::exact(f64::INFINITY),
                    _ => return None,
                }
            }
            Op::Where => Meta {
                mag: a[1].mag.max(a[2].mag),
                err: a[1].err.max(a[2].err),
            },
            Op::Cast => {
                let from = self.ty(args[0]).dtype;
                let m = a[0];
                if m.tainted() && !d.is_float() {
                    return None;
                }
                match (from, d) {
                    (DType::F64, DType::F32) if m.tainted() => {
                        if m.mag > 1e38 {
                            return None;
                        }
                        Meta {
                            mag: m.mag,
                            err: m.err * (1.0 + u) + 2.0 * u * m.mag + floor,
                        }
                    }
                    (DType::F64, DType::F32) if m.mag > f32::MAX as f64 => {
                        Meta::exact(f64::INFINITY)
                    }
                    // ±inf saturates to MAX / MIN: finite, but not bounded by `mag`.
                    (f, t) if f.is_float() && t.is_int() => Meta::exact(f64::INFINITY),
                    _ => m,
                }
            }
            Op::Constant { value } => Meta::exact(match value {
                Scalar::Float(f) if f.is_finite() => f.abs(),
                Scalar::Float(_) => 0.0,
                Scalar::Int(i) => (*i as f64).abs(),
                Scalar::Bool(_) => 1.0,
            }),
            Op::Iota { axis } => Meta::exact(ty.shape.dims()[*axis] as f64),
            Op::Reduce { op: r, axes, .. } => {
                let m = a[0];
                let dims = self.ty(args[0]).shape.dims();
                let n: usize = axes.iter().map(|&ax| dims[ax]).product();
                let nf = n as f64;
                if r.is_arg() {
                    return (!m.tainted()).then_some(Meta::exact(dims[axes[0]] as f64));
                }
                if !d.is_float() {
                    return Some(Meta::exact(match r {
                        ReduceOp::Sum => int_mag(m.mag * nf),
                        ReduceOp::Prod => int_mag(m.mag.powf(nf)),
                        _ => m.mag,
                    }));
                }
                let exact_fold = n <= 2 && !m.tainted();
                match r {
                    ReduceOp::Max | ReduceOp::Min => m,
                    ReduceOp::Prod if exact_fold => Meta::exact(m.mag.powf(nf)),
                    ReduceOp::Prod => return None,
                    ReduceOp::Sum | ReduceOp::Mean if exact_fold => {
                        Meta::exact(if *r == ReduceOp::Sum {
                            m.mag * nf
                        } else {
                            m.mag
                        })
                    }
                    ReduceOp::Sum | ReduceOp::Mean => {
                        let lim = if d == DType::F32 { 1e30 } else { 1e300 };
                        if (m.mag + m.err) * nf > lim {
                            return None;
                        }
                        let sum_err = nf * m.err * (1.0 + gamma(n, d))
                            + 2.0 * gamma(n, d) * nf * (m.mag + m.err)
                            + nf * floor;
                        if *r == ReduceOp::Sum {
                            Meta {
                                mag: m.mag * nf,
                                err: sum_err,
                            }
                        } else {
                            Meta {
                                mag: m.mag,
                                err: sum_err / nf.max(1.0) + 3.0 * eps * m.mag + floor,
                            }
                        }
                    }
                    ReduceOp::ArgMax | ReduceOp::ArgMin => unreachable!(),
                }
            }
            Op::Reshape { .. }
            | Op::Permute { .. }
            | Op::Expand { .. }
            | Op::Slice { .. }
            | Op::Concat { .. } => Meta {
                mag: max_mag,
                err: max_err,
            },
            Op::Pad { value, .. } => Meta {
                mag: max_mag
                    .max(value.as_f64().abs())
                    .max(if value.as_f64().is_finite() {
                        0.0
                    } else {
                        max_mag
                    }),
                err: max_err,
            },
            Op::Gather { .. } | Op::IndexSelect { .. } => a[0],
            Op::MatMul => {
                let (x, y) = (a[0], a[1]);
                let k = *self.ty(args[0]).shape.dims().last().unwrap();
                let kf = k as f64;
                let mag = kf * x.mag * y.mag;
                if !d.is_float() {
                    return Some(Meta::exact(int_mag(mag)));
                }
                if k == 0 {
                    return Some(Meta::exact(0.0));
                }
                let lim = if d == DType::F32 { 1e30 } else { 1e300 };
                if mag.is_nan() || mag >= lim {
                    return None;
                }
                let err = kf * (x.mag * y.err + y.mag * x.err + x.err * y.err)
                    + 2.0 * gamma(k, d) * kf * (x.mag + x.err) * (y.mag + y.err)
                    + kf * floor;
                Meta { mag, err }
            }
        })
    }

    /// An index tensor of `shape` (dtype i32 or i64 by `sel`) whose values are in `0..n`:
    /// an iota plus, when one broadcasts, an integer value of the program, clamped with
    /// max/min — so the indices are data-dependent but always valid.
    fn index_tensor(&mut self, shape: &[usize], n: usize, sel: u16) -> Option<ValueId> {
        let id = if sel & 1 == 0 { DType::I32 } else { DType::I64 };
        let axis = (sel as usize >> 1) % shape.len().max(1);
        let base = if shape.is_empty() {
            self.add(
                Op::Constant {
                    value: Scalar::Int(sel as i64 % n as i64),
                },
                &[],
                Some(tt(id, &[])),
            )?
        } else {
            self.add(Op::Iota { axis }, &[], Some(tt(id, shape)))?
        };
        let target = Shape::new(shape.to_vec());
        let other = self.find(sel >> 3, |v| {
            self.ty(v).dtype.is_int()
                && lazyjit_lowering::op::broadcast_shapes(&[&self.ty(v).shape, &target])
                    .is_ok_and(|s| s == target)
        });
        let mut x = base;
        if let Some(o) = other {
            let o = if self.ty(o).dtype == id {
                o
            } else {
                let s = self.ty(o).shape.clone();
                self.add(Op::Cast, &[o], Some(TensorType::new(id, s)))?
            };
            x = self.add(Op::Binary(BinaryOp::Add), &[x, o], None)?;
        }
        let zero = self.add(
            Op::Constant {
                value: Scalar::Int(0),
            },
            &[],
            Some(tt(id, &[])),
        )?;
        let top = self.add(
            Op::Constant {
                value: Scalar::Int(n as i64 - 1),
            },
            &[],
            Some(tt(id, &[])),
        )?;
        let x = self.add(Op::Binary(BinaryOp::Max), &[x, zero], None)?;
        self.add(Op::Binary(BinaryOp::Min), &[x, top], None)
    }

    /// Interprets one step; `None` when the chosen op does not apply (the caller retries with
    /// other numbers).
    fn step(&mut self, s: &StepSpec) -> Option<ValueId> {
        let a = self.pick(s.x);
        let at = self.ty(a).clone();
        let rank = at.shape.rank();
        let dims = at.shape.dims().to_vec();
        let mut rng = Rng::new(((s.y as u64) << 32) ^ ((s.z as u64) << 16) ^ s.w as u64);
        match s.kind {
            0 | 1 => {
                let ops: Vec<UnaryOp> = UnaryOp::ALL
                    .into_iter()
                    .filter(|u| u.accepts(at.dtype))
                    .collect();
                let u = ops[s.y as usize % ops.len()];
                self.add(Op::Unary(u), &[a], None)
            }
            2..=4 => {
                let ops: Vec<BinaryOp> = BinaryOp::ALL
                    .into_iter()
                    .filter(|b| b.accepts(at.dtype))
                    .collect();
                let bop = ops[s.y as usize % ops.len()];
                let b = self.find(s.z, |v| {
                    let t = self.ty(v);
                    (t.dtype == at.dtype || (t.dtype.is_numeric() == at.dtype.is_numeric()))
                        && lazyjit_lowering::op::broadcast_shapes(&[&t.shape, &at.shape]).is_ok()
                })?;
                let b = if self.ty(b).dtype == at.dtype {
                    b
                } else {
                    let sh = self.ty(b).shape.clone();
                    self.add(Op::Cast, &[b], Some(TensorType::new(at.dtype, sh)))?
                };
                let (l, r) = if s.w & 1 == 0 { (a, b) } else { (b, a) };
                self.add(Op::Binary(bop), &[l, r], None)
            }
            5 => {
                let c = self.find(s.y, |v| {
                    self.ty(v).dtype == DType::Bool
                        && lazyjit_lowering::op::broadcast_shapes(&[&self.ty(v).shape, &at.shape])
                            .is_ok()
                })?;
                let b = self.find(s.z, |v| {
                    self.ty(v).dtype == at.dtype
                        && lazyjit_lowering::op::broadcast_shapes(&[
                            &self.ty(v).shape,
                            &at.shape,
                            &self.ty(c).shape,
                        ])
                        .is_ok()
                })?;
                let (l, r) = if s.w & 1 == 0 { (a, b) } else { (b, a) };
                self.add(Op::Where, &[c, l, r], None)
            }
            6 => {
                let to = DType::ALL[s.y as usize % 5];
                self.add(Op::Cast, &[a], Some(TensorType::new(to, at.shape.clone())))
            }
            7 => {
                let d = DType::ALL[s.y as usize % 5];
                let value = match d {
                    DType::Bool => Scalar::Bool(s.z & 1 == 1),
                    DType::F32 | DType::F64 if s.w % 3 == 0 => {
                        Scalar::Float(rng.pick(&[0.5, -0.0, 2.5, f64::NAN, f64::INFINITY, 1e-3]))
                    }
                    _ => Scalar::Int(s.z as i64 % 7 - 3),
                };
                let shape = if s.w & 4 == 0 {
                    Vec::new()
                } else {
                    dims.clone()
                };
                let c = self.add(Op::Constant { value }, &[], Some(tt(d, &shape)))?;
                if d == at.dtype && d.is_numeric() {
                    self.add(Op::Binary(BinaryOp::Add), &[a, c], None)
                } else {
                    Some(c)
                }
            }
            8 => {
                if rank == 0 {
                    return None;
                }
                let d = [DType::F32, DType::I32, DType::I64, DType::F64][s.y as usize % 4];
                let axis = s.z as usize % rank;
                let i = self.add(Op::Iota { axis }, &[], Some(tt(d, &dims)))?;
                if d == at.dtype {
                    self.add(Op::Binary(BinaryOp::Mul), &[a, i], None)
                } else {
                    Some(i)
                }
            }
            9 | 10 => {
                let op = ReduceOp::ALL[s.y as usize % 7];
                let keepdim = s.w & 1 == 1;
                let axes: Vec<usize> = if op.is_arg() {
                    if rank == 0 {
                        return None;
                    }
                    vec![s.z as usize % rank]
                } else {
                    (0..rank).filter(|&ax| s.z >> ax & 1 == 1).collect()
                };
                self.add(reduce(op, &axes, keepdim), &[a], None)
            }
            11 => {
                let n = at.shape.numel();
                let shape = random_factorisation(n, &mut rng);
                self.add(
                    Op::Reshape {
                        shape: Shape::new(shape),
                    },
                    &[a],
                    None,
                )
            }
            12 => {
                let perms = permutations(rank);
                let perm = perms[s.y as usize % perms.len()].clone();
                self.add(Op::Permute { perm }, &[a], None)
            }
            13 => {
                let mut shape: Vec<usize> = dims
                    .iter()
                    .map(|&d| if d == 1 { rng.pick(&[1, 2, 3, 5]) } else { d })
                    .collect();
                if s.w & 1 == 1 || rank == 0 {
                    shape.insert(0, rng.pick(&[1, 2, 3, 4]));
                }
                self.add(
                    Op::Expand {
                        shape: Shape::new(shape),
                    },
                    &[a],
                    None,
                )
            }
            14 => {
                let mut starts = Vec::new();
                let mut stops = Vec::new();
                let mut steps = Vec::new();
                for &d in &dims {
                    let start = rng.below(d.saturating_add(1)).min(d / 2 + 1).min(d);
                    let stop = start.saturating_add(
                        rng.below((d - start).saturating_add(1))
                            .max((d - start) / 2),
                    );
                    starts.push(start);
                    stops.push(stop.min(d));
                    steps.push(1 + rng.below(3));
                }
                self.add(
                    Op::Slice {
                        starts,
                        stops,
                        steps,
                    },
                    &[a],
                    None,
                )
            }
            15 => {
                if rank == 0 {
                    return None;
                }
                let axis = s.z as usize % rank;
                let same = |v: ValueId| {
                    let t = self.ty(v);
                    t.dtype == at.dtype
                        && t.shape.rank() == rank
                        && (0..rank).all(|k| k == axis || t.shape.dims()[k] == dims[k])
                };
                let b = self.find(s.y, same)?;
                let c = self.find(s.w, same)?;
                let args = match s.w % 3 {
                    0 => vec![a, b],
                    1 => vec![b, a, c],
                    _ => vec![a],
                };
                self.add(Op::Concat { axis }, &args, None)
            }
            16 => {
                let lo: Vec<usize> = dims.iter().map(|_| rng.below(3)).collect();
                let hi: Vec<usize> = dims.iter().map(|_| rng.below(3)).collect();
                let value = match at.dtype {
                    DType::Bool => Scalar::Bool(rng.chance(0.5)),
                    DType::F32 | DType::F64 => {
                        Scalar::Float(rng.pick(&[0.0, -1.5, f64::NAN, -0.0]))
                    }
                    _ => Scalar::Int(rng.int_in(-3, 3)),
                };
                self.add(Op::Pad { lo, hi, value }, &[a], None)
            }
            17 => {
                // gather: an index of a's rank, dims <= a's except on the axis.
                if rank == 0 {
                    return None;
                }
                let axis = s.z as usize % rank;
                if dims[axis] == 0 {
                    return None;
                }
                let shape: Vec<usize> = (0..rank)
                    .map(|k| {
                        if k == axis {
                            1 + rng.below(6)
                        } else if rng.chance(0.7) {
                            dims[k]
                        } else {
                            rng.below(dims[k].saturating_add(1))
                        }
                    })
                    .collect();
                let index = self.index_tensor(&shape, dims[axis], s.w)?;
                self.add(Op::Gather { axis }, &[a, index], None)
            }
            18 => {
                if rank == 0 {
                    return None;
                }
                let axis = s.z as usize % rank;
                if dims[axis] == 0 {
                    return None;
                }
                let irank = rng.below(3);
                let shape: Vec<usize> = (0..irank).map(|_| 1 + rng.below(5)).collect();
                let index = self.index_tensor(&shape, dims[axis], s.w)?;
                self.add(Op::IndexSelect { axis }, &[a, index], None)
            }
            23 | 24 => {
                // Row chain (what row groups are for): r = reduce(a, trailing axes, keepdim),
                // b = a ∘ r, c = reduce(b, same axes, keepdim), d = b ∘ c.
                if rank == 0 || !at.dtype.is_numeric() {
                    return None;
                }
                let first = (s.z as usize % rank).max(usize::from(rank > 1));
                let axes: Vec<usize> = (first..rank).collect();
                let ops = [ReduceOp::Max, ReduceOp::Sum, ReduceOp::Min, ReduceOp::Mean];
                let bins = [BinaryOp::Sub, BinaryOp::Add, BinaryOp::Mul, BinaryOp::Max];
                let r = self.add(reduce(ops[s.y as usize % 4], &axes, true), &[a], None)?;
                let b = self.add(Op::Binary(bins[s.w as usize % 4]), &[a, r], None)?;
                let b = if s.w & 4 == 4 && at.dtype.is_float() {
                    self.add(Op::Unary(UnaryOp::Exp), &[b], None).unwrap_or(b)
                } else {
                    b
                };
                let c = self.add(
                    reduce(ops[(s.y as usize >> 2) % 4], &axes, true),
                    &[b],
                    None,
                )?;
                self.add(Op::Binary(bins[(s.w as usize >> 3) % 4]), &[b, c], None)
            }
            19 | 20 => {
                // A transcendental op on a float value (the most error-prone path).
                let a = self.find(s.x, |v| self.ty(v).dtype.is_float())?;
                let u = [
                    UnaryOp::Exp,
                    UnaryOp::Log,
                    UnaryOp::Tanh,
                    UnaryOp::Sigmoid,
                    UnaryOp::Erf,
                    UnaryOp::Sin,
                    UnaryOp::Cos,
                ][s.y as usize % 7];
                self.add(Op::Unary(u), &[a], None)
            }
            _ => {
                // matmul with b = (a value whose last dim is a's last dim) transposed
                if rank < 2 || !at.dtype.is_numeric() {
                    return None;
                }
                let k = dims[rank - 1];
                let c = self.find(s.y, |v| {
                    let t = self.ty(v);
                    t.dtype == at.dtype && t.shape.rank() >= 2 && t.shape.dims().last() == Some(&k)
                })?;
                let cr = self.ty(c).shape.rank();
                let mut perm: Vec<usize> = (0..cr).collect();
                perm.swap(cr - 1, cr - 2);
                let b = self.add(Op::Permute { perm }, &[c], None)?;
                self.add(Op::MatMul, &[a, b], None)
            }
        }
    }
}

/// A random shape with `n` elements (rank 1 to 4), splitting `n`'s prime factors.
fn random_factorisation(n: usize, rng: &mut Rng) -> Vec<usize> {
    let rank = 1 + rng.below(4);
    if n == 0 {
        let mut s: Vec<usize> = (0..rank).map(|_| 1 + rng.below(3)).collect();
        s[rng.below(rank)] = 0;
        return s;
    }
    let mut shape = vec![1usize; rank];
    let mut m = n;
    let mut f = 2;
    while m > 1 {
        while m % f == 0 {
            let i = rng.below(rank);
            shape[i] *= f;
            m /= f;
        }
        f += 1;
    }
    shape
}

// ======================================================================= the fuzz input

/// One step (as `StepSpec` of the differential test): `kind` selects the op, the other
/// numbers its operands and attributes.
/// A step as the copied `Builder::step` takes it.
#[derive(Clone, Debug)]
struct StepSpec {
    kind: u8,
    x: u16,
    y: u16,
    z: u16,
    w: u16,
}

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

const BASES: &[&[usize]] = &[
    &[5],
    &[7],
    &[17],
    &[4, 3],
    &[3, 5],
    &[2, 3, 4],
    &[2, 1, 5],
    &[6, 9],
    &[1, 9],
    &[3, 0],
    &[33],
    &[2, 2, 2, 3],
    &[1],
    &[8, 4],
    &[3, 37],
    &[2, 3, 70],
];

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

fn param_dtype(dsel: u8) -> DType {
    [
        DType::F32,
        DType::F32,
        DType::F32,
        DType::F64,
        DType::I32,
        DType::I64,
        DType::Bool,
        DType::Bool,
    ][dsel as usize % 8]
}

fn param_shape(base: &[usize], ssel: u8) -> Vec<usize> {
    let r = base.len();
    match ssel % 5 {
        0 | 1 => base.to_vec(),
        2 => base
            .iter()
            .enumerate()
            .map(|(k, &n)| if ssel >> (3 + k) & 1 == 1 { 1 } else { n })
            .collect(),
        3 => base[(ssel as usize >> 3) % (r + 1)..].to_vec(),
        _ => Vec::new(),
    }
}

/// Builds the program, its inputs and per-output tolerances (as `build` of the differential
/// test), with the mode's extras.
fn build(inp: &FuzzInput, mode: Mode) -> (Program, Vec<Tensor>, Vec<Tol>) {
    let base = base_shape(inp, mode);
    let mut b = Builder {
        p: Program::new(),
        meta: Vec::new(),
        outputs: Vec::new(),
    };
    let mut fills = Vec::new();
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
    for (i, &(dsel, ssel, msel)) in params.iter().enumerate() {
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
        let fill = ParamFill {
            mag: [1.0, 3.0, 3.0, 20.0][msel as usize % 4],
            wild: d.is_int() && msel & 0x30 == 0x30,
        };
        b.p.param(format!("p{i}"), tt(d, &shape));
        b.meta.push(match d {
            DType::Bool => Meta::EXACT_BOOL,
            _ if fill.wild => Meta::exact(f64::INFINITY),
            _ => Meta::exact(fill.mag.max(2.5)),
        });
        fills.push(fill);
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
        if s.kind % 32 == 22 {
            let v = b.pick(s.x);
            b.outputs.push(v);
            continue;
        }
        if s.kind % 32 == 25 {
            many_concat(&mut b, s);
            continue;
        }
        for attempt in 0..4u16 {
            let t = StepSpec {
                kind: s.kind % 26,
                x: s.x.wrapping_add(attempt.wrapping_mul(7)),
                y: s.y.wrapping_add(attempt),
                z: s.z.wrapping_add(attempt.wrapping_mul(3)),
                w: s.w,
            };
            if b.step(&t).is_some() {
                break;
            }
        }
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
    let last = ValueId(b.meta.len() as u32 - 1);
    let mut p = b.p;
    for &o in b.outputs.iter().chain(std::iter::once(&last)) {
        p.output(o);
    }
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
    let tols = p
        .outputs
        .iter()
        .map(|o| {
            let m = b.meta[o.index()];
            if m.tainted() {
                Tol::Rel {
                    rel: 0.0,
                    abs: m.err,
                }
            } else {
                Tol::Exact
            }
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
    let mut errs = Vec::new();
    for (i, (j, r)) in jit.iter().zip(&refs).enumerate() {
        let tol = if tols.len() == 1 { &tols[0] } else { &tols[i] };
        if let Err(m) = compare(j, r, tol) {
            errs.push(format!("output {i} ({}): {m}", p.outputs[i]));
        }
    }
    if errs.is_empty() {
        let mut again: Vec<Tensor> = jit.iter().map(|t| garbage(t.ty())).collect();
        match c.run_into(&ins, &mut again) {
            Err(e) => errs.push(format!("run_into failed: {e}")),
            Ok(()) => {
                for (i, (a, b)) in again.iter().zip(&jit).enumerate() {
                    if a.buffer().as_bytes() != b.buffer().as_bytes() {
                        errs.push(format!(
                            "output {i}: run_into over garbage differs from run"
                        ));
                    }
                }
            }
        }
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
    v[2] = Tensor::from_vec(vec![2], idx).unwrap();
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
