//! The `LazyTensor` API driven by bytes: a small interpreter of a byte-coded op sequence over
//! a stack of tensors — constructors (zeros, ones, full, from_vec, iota, arange, scalar,
//! randn), unary/binary/scalar ops, composites, reductions, views (expand to huge virtual
//! extents up to and beyond 2^62 elements, reshape, permute, slice, concat of up to 300
//! operands, pad), gather/index_select with out-of-range indices, matmul, casts, where, syncs
//! (`item`, `to_vec`, `sync` of several tensors) and `mark_step`.
//!
//! Every call returning `Err` is fine. Panics, aborts, hangs and crashes are findings, and so
//! are: an op result beyond the size limit (2^56 elements, empty dims counted as 1), a read
//! returning the wrong number of elements, and a read of a value of 2^42 bytes or more that
//! does not fail (it cannot be allocated on any machine this runs on).
//!
//! Huge values are never computed for real: the interpreter tracks for every tensor an upper
//! bound of the elements its pending graph computes (views — expand, slice, reshape, permute,
//! pad, concat, gather, index_select, constants — cost nothing; elementwise ops and casts cost
//! their result, reductions their operand, matmul m·n·k) and reads a tensor only when that
//! bound is small, or when the value itself is so large that the read must fail before any
//! compute. `mark_step` (which syncs every live tensor) obeys the same rule for the stack.
#![no_main]

use arbitrary::{Arbitrary, Unstructured};
use lazyjit::{DType, LazyTensor};
use libfuzzer_sys::fuzz_target;

/// See compile_run.rs: huge allocations fail instead of aborting under ASan.
#[no_mangle]
pub extern "C" fn __asan_default_options() -> *const std::os::raw::c_char {
    c"allocator_may_return_null=1".as_ptr()
}

/// Elements a read may compute (bound of the pending graph's work, see the module docs).
const WORK_LIMIT: f64 = (1u64 << 22) as f64;
/// Elements a read may return.
const READ_LIMIT: f64 = (1u64 << 18) as f64;
/// A value of at least this many bytes cannot be allocated: reading it must fail.
const UNALLOCATABLE: f64 = (1u64 << 42) as f64;
const MAX_STACK: usize = 48;
const MAX_OPS: usize = 200;

/// Dims the generator likes: mostly small, then zero, then huge and beyond the size limit.
const DIMS: &[usize] = &[
    1,
    2,
    3,
    4,
    5,
    1,
    2,
    3,
    7,
    8,
    16,
    0,
    0,
    33,
    1 << 20,
    (1 << 31) + 1,
    1 << 40,
    1 << 44,
    1 << 56,
    (1 << 56) + 1,
    1 << 62,
    usize::MAX,
];
/// Dims of tensors that get real data.
const SMALL_DIMS: &[usize] = &[0, 1, 2, 3, 4, 5, 7];

struct Entry {
    t: LazyTensor,
    /// Bound of the elements computed when this tensor is synced.
    work: f64,
}

fn numel(t: &LazyTensor) -> f64 {
    t.shape().iter().map(|&d| d as f64).product()
}

fn bytes(t: &LazyTensor) -> f64 {
    numel(t) * t.dtype().size_bytes() as f64
}

fn extent_ok(t: &LazyTensor) -> bool {
    t.shape()
        .iter()
        .try_fold(1usize, |a, &d| a.checked_mul(d.max(1)))
        .is_some_and(|n| n <= SIZE_LIMIT)
}

/// The program format's size limit (`lazyjit_lowering::MAX_ELEMENTS`): 2^56 elements per
/// value, empty dims counted as 1.
const SIZE_LIMIT: usize = 1 << 56;

/// Constructors return `LazyTensor` or `Result<LazyTensor>` depending on the version.
trait IntoRes {
    fn res(self) -> lazyjit::Result<LazyTensor>;
}

impl IntoRes for LazyTensor {
    fn res(self) -> lazyjit::Result<LazyTensor> {
        Ok(self)
    }
}

impl IntoRes for lazyjit::Result<LazyTensor> {
    fn res(self) -> lazyjit::Result<LazyTensor> {
        self
    }
}

/// `LAZYJIT_FUZZ_TRACE=1`: print every op (its IR line, with the source line of the call in
/// this file) and, before every read, the pending graph it computes. That turns a finding
/// into a reproducer.
fn trace() -> bool {
    static T: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *T.get_or_init(|| std::env::var_os("LAZYJIT_FUZZ_TRACE").is_some())
}

fn graph(ts: &[&LazyTensor]) -> String {
    let o = lazyjit::dump::DumpOptions {
        locations: true,
        hashes: false,
    };
    lazyjit::dump::ir_text_with(ts, &o)
}

struct Machine {
    stack: Vec<Entry>,
}

#[derive(Copy, Clone, PartialEq)]
enum Read {
    /// Small enough to compute and read.
    Real,
    /// So large that reading must fail (before any compute).
    MustFail,
    /// Neither: never read.
    Never,
}

fn read_kind(e: &Entry) -> Read {
    if e.work > WORK_LIMIT {
        Read::Never
    } else if numel(&e.t) <= READ_LIMIT {
        Read::Real
    } else if bytes(&e.t) >= UNALLOCATABLE {
        Read::MustFail
    } else {
        Read::Never
    }
}

impl Machine {
    fn push(&mut self, r: lazyjit::Result<LazyTensor>, own: f64, operands: &[f64]) {
        if trace() {
            match &r {
                Ok(t) => {
                    let g = graph(&[t]);
                    let last = g.lines().last().unwrap_or("").to_string();
                    eprintln!("[{}] ok: {last}", self.stack.len());
                }
                Err(e) => eprintln!("[{}] err: {e}", self.stack.len()),
            }
        }
        let Ok(t) = r else { return };
        assert!(
            extent_ok(&t),
            "an op returned a tensor beyond the size limit: {:?} {:?}",
            t.dtype(),
            t.shape()
        );
        let work = own + operands.iter().sum::<f64>();
        if self.stack.len() >= MAX_STACK {
            self.stack.remove(0);
        }
        self.stack.push(Entry { t, work });
    }

    fn get(&self, u: &mut Unstructured) -> arbitrary::Result<Option<&Entry>> {
        if self.stack.is_empty() {
            return Ok(None);
        }
        // Mostly the top of the stack, so chains form.
        let k = if u.ratio(3, 4)? {
            0
        } else {
            u.int_in_range(0..=self.stack.len() - 1)?
        };
        Ok(self.stack.get(self.stack.len() - 1 - k))
    }

    /// Reads a tensor (through a random read method) when the rules allow it.
    fn read(&mut self, idx: usize, how: u8) {
        let e = &self.stack[idx];
        let kind = read_kind(e);
        if kind == Read::Never {
            return;
        }
        let t = e.t.clone();
        let n = numel(&t);
        if trace() {
            eprintln!("read #{idx} (how {how}) of\n{}", graph(&[&t]));
        }
        let r: lazyjit::Result<usize> = match (how % 4, t.dtype()) {
            (0, _) => lazyjit::sync(&[&t]).map(|()| n as usize),
            (1, _) => t.data().map(|d| d.numel()),
            (_, DType::F32) => read_vec::<f32>(&t, how),
            (_, DType::F64) => read_vec::<f64>(&t, how),
            (_, DType::I32) => read_vec::<i32>(&t, how),
            (_, DType::I64) => read_vec::<i64>(&t, how),
            (_, DType::Bool) => read_vec::<bool>(&t, how),
        };
        if trace() {
            let r = r.as_ref().map_err(|e| e.to_string());
            eprintln!(
                "  -> {r:?} ({})",
                if kind == Read::MustFail {
                    "must fail"
                } else {
                    "small"
                }
            );
        }
        match (kind, r) {
            (Read::MustFail, Ok(_)) => panic!(
                "reading a value of {} bytes succeeded: {:?} {:?}",
                bytes(&t),
                t.dtype(),
                t.shape()
            ),
            (Read::Real, Ok(len)) => {
                assert_eq!(
                    len as f64, n,
                    "a read returned the wrong number of elements"
                );
                // Computed now: later reads and graphs using it compute nothing for it.
                self.stack[idx].work = 0.0;
            }
            _ => {}
        }
    }
}

fn read_vec<T: lazyjit::NativeType>(t: &LazyTensor, how: u8) -> lazyjit::Result<usize> {
    if how & 4 == 4 && t.numel() == 1 {
        t.item::<T>().map(|_| 1)
    } else {
        t.to_vec::<T>().map(|v| v.len())
    }
}

fn dtype(u: &mut Unstructured) -> arbitrary::Result<DType> {
    Ok(*u.choose(&[
        DType::F32,
        DType::F32,
        DType::F64,
        DType::I32,
        DType::I64,
        DType::Bool,
    ])?)
}

fn shape(u: &mut Unstructured, dims: &[usize]) -> arbitrary::Result<Vec<usize>> {
    let rank = u.int_in_range(0..=4)?;
    (0..rank).map(|_| u.choose(dims).copied()).collect()
}

fn axis(u: &mut Unstructured, rank: usize) -> arbitrary::Result<isize> {
    // Python-style negative axes, and sometimes out of range.
    let r = rank as isize;
    u.int_in_range(-r - 1..=r)
}

fn scalar_f64(u: &mut Unstructured) -> arbitrary::Result<f64> {
    Ok(*u.choose(&[
        0.0,
        1.0,
        -1.0,
        0.5,
        2.0,
        -0.0,
        1e30,
        f64::NAN,
        f64::INFINITY,
        f64::NEG_INFINITY,
        3.0e9,
        1e-310,
    ])?)
}

fn scalar_i64(u: &mut Unstructured) -> arbitrary::Result<i64> {
    Ok(*u.choose(&[0, 1, -1, 2, 7, i64::MAX, i64::MIN, i32::MAX as i64 + 1, -3])?)
}

fn small_data(
    u: &mut Unstructured,
    d: DType,
    shape: &[usize],
) -> arbitrary::Result<lazyjit::Result<LazyTensor>> {
    let n: usize = shape.iter().product();
    Ok(match d {
        DType::F32 => {
            let v: Vec<f32> = (0..n)
                .map(|_| scalar_f64(u).map(|x| x as f32))
                .collect::<Result<_, _>>()?;
            LazyTensor::from_vec(v, shape)
        }
        DType::F64 => {
            let v: Vec<f64> = (0..n).map(|_| scalar_f64(u)).collect::<Result<_, _>>()?;
            LazyTensor::from_vec(v, shape)
        }
        DType::I32 => {
            let v: Vec<i32> = (0..n)
                .map(|_| scalar_i64(u).map(|x| x as i32))
                .collect::<Result<_, _>>()?;
            LazyTensor::from_vec(v, shape)
        }
        DType::I64 => {
            let v: Vec<i64> = (0..n).map(|_| scalar_i64(u)).collect::<Result<_, _>>()?;
            LazyTensor::from_vec(v, shape)
        }
        DType::Bool => {
            let v: Vec<bool> = (0..n)
                .map(|_| u.arbitrary::<bool>())
                .collect::<Result<_, _>>()?;
            LazyTensor::from_vec(v, shape)
        }
    })
}

/// An index tensor: small, i32 or i64, values in range of `size` or not.
fn index_tensor(
    u: &mut Unstructured,
    size: usize,
    rank: usize,
) -> arbitrary::Result<lazyjit::Result<LazyTensor>> {
    let shape: Vec<usize> = (0..rank)
        .map(|_| u.choose(&[0usize, 1, 2, 3]).copied())
        .collect::<Result<_, _>>()?;
    let n: usize = shape.iter().product();
    let mut vals = Vec::with_capacity(n);
    for _ in 0..n {
        let s = size.min(i64::MAX as usize) as i64;
        vals.push(*u.choose(&[
            0,
            1,
            s - 1,
            s - 1,
            s / 2,
            s,
            -1,
            i64::MAX,
            i64::MIN,
            1 << 40,
        ])?);
    }
    Ok(if u.arbitrary::<bool>()? {
        LazyTensor::from_vec(vals, &shape)
    } else {
        LazyTensor::from_vec(vals.iter().map(|&v| v as i32).collect::<Vec<_>>(), &shape)
    })
}

fn step(m: &mut Machine, u: &mut Unstructured) -> arbitrary::Result<()> {
    let op: u8 = u.arbitrary()?;
    match op % 32 {
        // ---- constructors
        0 => {
            let (s, d) = (shape(u, DIMS)?, dtype(u)?);
            let r = if u.arbitrary()? {
                LazyTensor::zeros(&s, d).res()
            } else {
                LazyTensor::ones(&s, d).res()
            };
            m.push(r, 0.0, &[]);
        }
        1 => {
            let (s, d) = (shape(u, SMALL_DIMS)?, dtype(u)?);
            let r = small_data(u, d, &s)?;
            m.push(r, 0.0, &[]);
        }
        2 => {
            let s = shape(u, DIMS)?;
            let r = match u.int_in_range(0..=4)? {
                0 => LazyTensor::full(&s, scalar_f64(u)? as f32),
                1 => LazyTensor::full(&s, scalar_f64(u)?),
                2 => LazyTensor::full(&s, scalar_i64(u)? as i32),
                3 => LazyTensor::full(&s, scalar_i64(u)?),
                _ => LazyTensor::full(&s, u.arbitrary::<bool>()?),
            };
            m.push(r, 0.0, &[]);
        }
        3 => {
            let s = shape(u, DIMS)?;
            let ax = u.int_in_range(0..=s.len())?;
            let r = LazyTensor::iota(&s, ax, dtype(u)?);
            m.push(r, 0.0, &[]);
        }
        4 => {
            let r = match u.int_in_range(0..=3)? {
                0 => LazyTensor::scalar(scalar_f64(u)? as f32).res(),
                1 => LazyTensor::scalar(scalar_i64(u)?).res(),
                2 => LazyTensor::arange(
                    scalar_f64(u)?,
                    scalar_f64(u)? * 8.0,
                    *u.choose(&[1.0, 0.25, -1.0, 1e-9, 0.0])?,
                ),
                _ => LazyTensor::arange(
                    scalar_i64(u)? % 50,
                    scalar_i64(u)? % 50,
                    *u.choose(&[1i64, 3, -2, 0])?,
                ),
            };
            m.push(r, 0.0, &[]);
        }
        5 => {
            // Seeded random data is generated on the host: small shapes, or unallocatable.
            let s = if u.ratio(1, 8)? {
                vec![1 << 40, *u.choose(&[0usize, 4, 1 << 20])?]
            } else {
                shape(u, SMALL_DIMS)?
            };
            let d = *u.choose(&[DType::F32, DType::F64, DType::I32])?;
            let r = LazyTensor::randn_seeded(&s, d, 0.0, scalar_f64(u)?.abs(), u.arbitrary()?);
            m.push(r, 0.0, &[]);
        }
        // ---- elementwise
        6 | 7 => {
            let Some(e) = m.get(u)? else { return Ok(()) };
            let (t, w) = (e.t.clone(), e.work);
            let r = match u.int_in_range(0..=27)? {
                0 => t.neg(),
                1 => t.abs(),
                2 => t.exp(),
                3 => t.log(),
                4 => t.sqrt(),
                5 => t.rsqrt(),
                6 => t.reciprocal(),
                7 => t.tanh(),
                8 => t.sigmoid(),
                9 => t.relu(),
                10 => t.erf(),
                11 => t.sin(),
                12 => t.cos(),
                13 => t.floor(),
                14 => t.ceil(),
                15 => t.round(),
                16 => t.sign(),
                17 => t.logical_not(),
                18 => t.softmax(axis(u, t.rank())?),
                19 => t.log_softmax(axis(u, t.rank())?),
                20 => t.gelu(),
                21 => t.silu(),
                22 => t.square(),
                23 => t.leaky_relu(scalar_f64(u)?),
                24 => t.clamp(scalar_f64(u)?, scalar_f64(u)?),
                25 => t.clamp(scalar_i64(u)?, scalar_i64(u)?),
                26 => t.cast(dtype(u)?),
                _ => t.clamp_min(scalar_f64(u)?),
            };
            // Composites read their operand a few times (softmax: max, exp, sum, div).
            let n = numel(&t);
            m.push(r, 8.0 * n, &[w]);
        }
        8 | 9 => {
            let Some(a) = m.get(u)? else { return Ok(()) };
            let (a, wa) = (a.t.clone(), a.work);
            let Some(b) = m.get(u)? else { return Ok(()) };
            let (b, wb) = (b.t.clone(), b.work);
            let r = match u.int_in_range(0..=16)? {
                0 => a.add(&b),
                1 => a.sub(&b),
                2 => a.mul(&b),
                3 => a.div(&b),
                4 => a.pow(&b),
                5 => a.maximum(&b),
                6 => a.minimum(&b),
                7 => a.eq(&b),
                8 => a.ne(&b),
                9 => a.lt(&b),
                10 => a.le(&b),
                11 => a.gt(&b),
                12 => a.ge(&b),
                13 => a.logical_and(&b),
                14 => a.logical_or(&b),
                15 => a.mse_loss(&b),
                _ => a.cross_entropy(&b),
            };
            let out = r.as_ref().map(numel).unwrap_or(0.0);
            m.push(r, 4.0 * out + numel(&a) + numel(&b), &[wa, wb]);
        }
        10 => {
            // with a Rust scalar (0 and 1 are inlined constants, others are parameters)
            let Some(e) = m.get(u)? else { return Ok(()) };
            let (t, w) = (e.t.clone(), e.work);
            let f = scalar_f64(u)?;
            let i = scalar_i64(u)?;
            let r = match u.int_in_range(0..=9)? {
                0 => t.add_scalar(f),
                1 => t.mul_scalar(i),
                2 => t.sub_scalar(f as f32),
                3 => t.div_scalar(i as i32),
                4 => t.rsub_scalar(f),
                5 => t.rdiv_scalar(i),
                6 => t.pow_scalar(f),
                7 => t.maximum_scalar(f),
                8 => t.lt_scalar(i),
                _ => t.logical_or_scalar(u.arbitrary::<bool>()?),
            };
            m.push(r, numel(&t), &[w]);
        }
        11 => {
            let Some(c) = m.get(u)? else { return Ok(()) };
            let (c, wc) = (c.t.clone(), c.work);
            let Some(a) = m.get(u)? else { return Ok(()) };
            let (a, wa) = (a.t.clone(), a.work);
            let Some(b) = m.get(u)? else { return Ok(()) };
            let (b, wb) = (b.t.clone(), b.work);
            let r = LazyTensor::where_(&c, &a, &b);
            let out = r.as_ref().map(numel).unwrap_or(0.0);
            m.push(r, out, &[wc, wa, wb]);
        }
        // ---- reductions
        12 | 13 => {
            let Some(e) = m.get(u)? else { return Ok(()) };
            let (t, w) = (e.t.clone(), e.work);
            let rank = t.rank();
            let nax = u.int_in_range(0..=rank.min(3))?;
            let axes: Vec<isize> = (0..nax).map(|_| axis(u, rank)).collect::<Result<_, _>>()?;
            let keep: bool = u.arbitrary()?;
            let ax = axis(u, rank)?;
            let r = match u.int_in_range(0..=13)? {
                0 => t.sum(&axes, keep),
                1 => t.mean(&axes, keep),
                2 => t.max(&axes, keep),
                3 => t.min(&axes, keep),
                4 => t.prod(&axes, keep),
                5 => t.argmax(ax, keep),
                6 => t.argmin(ax, keep),
                7 => t.sum_all(),
                8 => t.mean_all(),
                9 => t.max_all(),
                10 => t.min_all(),
                11 => t.var(&axes, keep, u.int_in_range(0..=2)?),
                12 => t.std(&axes, keep, 1),
                _ => t.logsumexp(&axes, keep),
            };
            m.push(r, 4.0 * numel(&t), &[w]);
        }
        // ---- views
        14 | 15 => {
            // expand, to huge extents too
            let Some(e) = m.get(u)? else { return Ok(()) };
            let (t, w) = (e.t.clone(), e.work);
            let mut s: Vec<usize> = Vec::new();
            for &d in t.shape() {
                s.push(if d == 1 { *u.choose(DIMS)? } else { d });
            }
            for _ in 0..u.int_in_range(0..=2)? {
                s.insert(0, *u.choose(DIMS)?);
            }
            let r = if u.ratio(1, 8)? {
                t.broadcast_to(&s)
            } else {
                t.expand(&s)
            };
            m.push(r, 0.0, &[w]);
        }
        16 => {
            let Some(e) = m.get(u)? else { return Ok(()) };
            let (t, w) = (e.t.clone(), e.work);
            let n = t.numel();
            let r = match u.int_in_range(0..=5)? {
                0 => t.reshape(&[n]),
                1 if n % 2 == 0 => t.reshape(&[2, n / 2]),
                2 => t.flatten(0, -1),
                3 => t.unsqueeze(axis(u, t.rank() + 1)?),
                4 => t.squeeze_all(),
                _ => {
                    let s = shape(u, DIMS)?;
                    t.reshape(&s)
                }
            };
            m.push(r, 0.0, &[w]);
        }
        17 => {
            let Some(e) = m.get(u)? else { return Ok(()) };
            let (t, w) = (e.t.clone(), e.work);
            let rank = t.rank();
            let r = match u.int_in_range(0..=2)? {
                0 => t.t(),
                1 => t.transpose(axis(u, rank)?, axis(u, rank)?),
                _ => {
                    let mut perm: Vec<usize> = (0..rank).collect();
                    for i in (1..rank).rev() {
                        let j = u.int_in_range(0..=i)?;
                        perm.swap(i, j);
                    }
                    if u.ratio(1, 10)? {
                        perm.push(0);
                    }
                    t.permute(&perm)
                }
            };
            m.push(r, 0.0, &[w]);
        }
        18 | 19 => {
            // slice / narrow: a few elements at the start, middle or end of each axis
            let Some(e) = m.get(u)? else { return Ok(()) };
            let (t, w) = (e.t.clone(), e.work);
            let dims = t.shape().to_vec();
            let r = if u.ratio(1, 4)? {
                let ax = axis(u, dims.len())?;
                let d = dims
                    .get(ax.rem_euclid(dims.len().max(1) as isize) as usize)
                    .copied()
                    .unwrap_or(0);
                t.narrow(
                    ax,
                    *u.choose(&[0, d / 2, d.saturating_sub(1), d, usize::MAX])?,
                    *u.choose(&[0, 1, 2, 5])?,
                )
            } else {
                let (mut a, mut b, mut st) = (Vec::new(), Vec::new(), Vec::new());
                for &d in &dims {
                    let s0 = *u.choose(&[0, d / 2, d.saturating_sub(2), d])?;
                    let len = *u.choose(&[0usize, 1, 2, 4, usize::MAX])?;
                    a.push(s0);
                    b.push(if u.ratio(1, 16)? {
                        d.saturating_add(1)
                    } else {
                        s0.saturating_add(len).min(d)
                    });
                    st.push(*u.choose(&[1usize, 1, 2, 3, d.max(1), 0])?);
                }
                t.slice(&a, &b, &st)
            };
            m.push(r, 0.0, &[w]);
        }
        20 => {
            // concat of many operands (repeats allowed)
            let n = match u.int_in_range(0..=3)? {
                0 => u.int_in_range(1..=300)?,
                _ => u.int_in_range(1..=4)?,
            };
            let mut ts = Vec::new();
            let mut w = 0.0;
            for _ in 0..n {
                let Some(e) = m.get(u)? else { return Ok(()) };
                ts.push(e.t.clone());
                w += e.work;
            }
            let refs: Vec<&LazyTensor> = ts.iter().collect();
            let ax = axis(u, ts[0].rank())?;
            let r = LazyTensor::concat(&refs, ax);
            m.push(r, 0.0, &[w]);
        }
        21 => {
            let Some(e) = m.get(u)? else { return Ok(()) };
            let (t, w) = (e.t.clone(), e.work);
            let rank = t.rank();
            let lo: Vec<usize> = (0..rank)
                .map(|_| u.choose(&[0usize, 1, 2, 1 << 40]).copied())
                .collect::<Result<_, _>>()?;
            let hi: Vec<usize> = (0..rank)
                .map(|_| u.choose(&[0usize, 1, 3]).copied())
                .collect::<Result<_, _>>()?;
            let r = match t.dtype() {
                DType::Bool => t.pad(&lo, &hi, true),
                DType::I32 | DType::I64 => t.pad(&lo, &hi, scalar_i64(u)?),
                _ => t.pad(&lo, &hi, scalar_f64(u)?),
            };
            m.push(r, 0.0, &[w]);
        }
        // ---- indexing
        22 | 23 => {
            let Some(e) = m.get(u)? else { return Ok(()) };
            let (t, w) = (e.t.clone(), e.work);
            let rank = t.rank();
            let ax = axis(u, rank)?;
            let size = t
                .shape()
                .get(ax.rem_euclid(rank.max(1) as isize) as usize)
                .copied()
                .unwrap_or(1);
            let gather = op % 32 == 22;
            let irank = if gather { rank } else { u.int_in_range(0..=2)? };
            let idx = index_tensor(u, size, irank)?;
            let Ok(idx) = idx else { return Ok(()) };
            let r = if gather {
                t.gather(ax, &idx)
            } else {
                t.index_select(ax, &idx)
            };
            let out = r.as_ref().map(numel).unwrap_or(0.0);
            m.push(r, out + numel(&idx), &[w]);
        }
        24 => {
            let Some(a) = m.get(u)? else { return Ok(()) };
            let (a, wa) = (a.t.clone(), a.work);
            let Some(b) = m.get(u)? else { return Ok(()) };
            let (b, wb) = (b.t.clone(), b.work);
            let b = if u.arbitrary()? {
                b.t().unwrap_or(b)
            } else {
                b
            };
            let r = if u.ratio(1, 4)? {
                a.linear(&b, None)
            } else {
                a.matmul(&b)
            };
            let k = a.shape().last().copied().unwrap_or(1) as f64;
            let out = r.as_ref().map(numel).unwrap_or(0.0);
            m.push(r, out * k.max(1.0) + numel(&a) + numel(&b), &[wa, wb]);
        }
        // ---- stack
        25 => {
            if let Some(e) = m.get(u)? {
                let (t, work) = (e.t.clone(), e.work);
                m.push(Ok(t), 0.0, &[work]);
            }
        }
        26 => {
            if !m.stack.is_empty() {
                let i = u.int_in_range(0..=m.stack.len() - 1)?;
                m.stack.remove(i);
            }
        }
        // ---- syncs
        27 | 28 => {
            if !m.stack.is_empty() {
                let i = u.int_in_range(0..=m.stack.len() - 1)?;
                let how = u.arbitrary()?;
                m.read(i, how);
            }
        }
        29 => {
            // one sync of several tensors (repeats allowed): all must be readable for real
            let n = u.int_in_range(1..=4)?.min(m.stack.len());
            let mut idx = Vec::new();
            for _ in 0..n {
                idx.push(u.int_in_range(0..=m.stack.len() - 1)?);
            }
            let total: f64 = idx.iter().map(|&i| m.stack[i].work).sum();
            if total <= WORK_LIMIT && idx.iter().all(|&i| read_kind(&m.stack[i]) == Read::Real) {
                let ts: Vec<&LazyTensor> = idx.iter().map(|&i| &m.stack[i].t).collect();
                if trace() {
                    eprintln!("sync of {idx:?}:\n{}", graph(&ts));
                }
                if lazyjit::sync(&ts).is_ok() {
                    for i in idx {
                        m.stack[i].work = 0.0;
                    }
                }
            }
        }
        30 => {
            // mark_step syncs every live tensor: only when all of them may be synced at once
            let total: f64 = m.stack.iter().map(|e| e.work).sum();
            let pending = || m.stack.iter().filter(|e| e.t.is_pending());
            if total <= WORK_LIMIT && pending().all(|e| read_kind(e) != Read::Never) {
                let must_fail = pending().any(|e| read_kind(e) == Read::MustFail);
                if trace() {
                    let ts: Vec<&LazyTensor> = m.stack.iter().map(|e| &e.t).collect();
                    eprintln!("mark_step; the stack:\n{}", graph(&ts));
                }
                let r = lazyjit::mark_step();
                if must_fail {
                    assert!(
                        r.is_err(),
                        "mark_step computed a value that cannot be allocated"
                    );
                } else if r.is_ok() {
                    for e in &mut m.stack {
                        e.work = 0.0;
                    }
                }
            }
        }
        _ => {
            // squeeze of one axis, unsqueeze
            let Some(e) = m.get(u)? else { return Ok(()) };
            let (t, w) = (e.t.clone(), e.work);
            let r = if u.arbitrary()? {
                t.squeeze(axis(u, t.rank())?)
            } else {
                t.unsqueeze(axis(u, t.rank() + 1)?)
            };
            m.push(r, 0.0, &[w]);
        }
    }
    Ok(())
}

#[derive(Arbitrary, Debug)]
struct Settings {
    special_scalars: bool,
    opt_none: bool,
}

fuzz_target!(|data: &[u8]| {
    let mut u = Unstructured::new(data);
    let Ok(settings) = Settings::arbitrary(&mut u) else {
        return;
    };
    lazyjit::config::with(
        |c| {
            c.special_scalars = settings.special_scalars;
            c.opt_level = if settings.opt_none {
                lazyjit::config::OptLevel::None
            } else {
                lazyjit::config::OptLevel::Speed
            };
        },
        || {
            let mut m = Machine { stack: Vec::new() };
            for _ in 0..MAX_OPS {
                if u.is_empty() || step(&mut m, &mut u).is_err() {
                    break;
                }
            }
            // Every still pending tensor is dropped here without being computed.
        },
    );
});
