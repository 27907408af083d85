//! The wide (AVX2 / AVX-512) functions of `codegen::math` against the JIT's `F32X4` code:
//! bit-identical on every input of the sweeps, for every fma mode the host can JIT and every
//! level the host has; any length, any start; nothing outside `[0, n)` touched.

use super::*;
use lazyjit_lowering::codegen::math::{
    accumulate, capped_level, parse_wide_cap, wide_affine_fn_at, wide_fn, wide_fn_at, wide_level,
    WideFn, WideLevel,
};

/// The functions that have a wide version.
const WIDE: [MathFn; 5] = [
    MathFn::Exp,
    MathFn::Log,
    MathFn::Tanh,
    MathFn::Sigmoid,
    MathFn::Erf,
];

/// The levels this host supports for `fma` (none on a host without AVX2).
fn levels(fma: bool) -> Vec<WideLevel> {
    [WideLevel::Avx512, WideLevel::Avx2]
        .into_iter()
        .filter(|&l| wide_fn_at(MathFn::Exp, fma, l).is_some())
        .collect()
}

/// `f` on the `n` floats at `src` into `dst`: no affine step, multiplier, hint or sum.
///
/// # Safety
/// As [`WideFn`], with null `m`, `pf` and `acc`.
unsafe fn call_plain(f: WideFn, src: *const f32, dst: *mut f32, n: usize) {
    let none = std::ptr::null();
    // SAFETY: the caller's guarantees.
    unsafe { f(src, dst, n, 1.0, -0.0, none, none, std::ptr::null_mut()) }
}

/// `f` applied in place to a copy of `xs`; the same out of place into another buffer must
/// agree.
fn run_wide(f: WideFn, xs: &[f32]) -> Vec<f32> {
    let mut v = xs.to_vec();
    let mut out = vec![0.0f32; xs.len()];
    // SAFETY: v and out hold xs.len() floats each, v is read in place, out does not overlap
    // xs; f comes from wide_fn_at, so the host can run it.
    unsafe {
        call_plain(f, v.as_ptr(), v.as_mut_ptr(), v.len());
        call_plain(f, xs.as_ptr(), out.as_mut_ptr(), xs.len());
    }
    assert!(v.iter().zip(&out).all(|(a, b)| a.to_bits() == b.to_bits()));
    v
}

fn assert_same(what: &str, xs: &[f32], want: &[f32], got: &[f32]) {
    assert_eq!(want.len(), got.len());
    for ((x, w), g) in xs.iter().zip(want).zip(got) {
        assert_eq!(
            w.to_bits(),
            g.to_bits(),
            "{what} x={x:e} ({:#x}): JIT f32x4 {w:e} ({:#x}), wide {g:e} ({:#x})",
            x.to_bits(),
            w.to_bits(),
            g.to_bits()
        );
    }
}

#[test]
fn wide_is_bit_identical_to_jit_on_sweeps() {
    println!("levels: no fma {:?}, fma {:?}", levels(false), levels(true));
    for fma in fma_modes() {
        for op in WIDE {
            let xs = sweep_inputs(op);
            let want = run(compile::<f32>(types::F32, F::Un(op), fma, true), &xs, None);
            for level in levels(fma) {
                let f = wide_fn_at(op, fma, level).unwrap();
                let got = run_wide(f, &xs);
                assert_same(&format!("{op:?} fma={fma} {level:?}"), &xs, &want, &got);
            }
        }
    }
}

/// Lengths 0..=40 and a few odd large ones, at start offsets that are not multiples of 16
/// floats, between guard values: equal to the JIT, nothing outside `[0, n)` written.
#[test]
fn wide_lengths_offsets_and_guards() {
    const GUARD: f32 = -12_345.678;
    let mut pool = specials();
    pool.extend(uniform(-12.0, 12.0, 997));
    pool.extend(bit_sweep(1000));
    pool.extend(uniform(-120.0, 120.0, 10_000 - pool.len()));
    let lens: Vec<usize> = (0..=40).chain([63, 97, 255, 1001, 4097]).collect();
    for fma in fma_modes() {
        for op in WIDE {
            let want_all = run(
                compile::<f32>(types::F32, F::Un(op), fma, true),
                &pool,
                None,
            );
            for level in levels(fma) {
                let f = wide_fn_at(op, fma, level).unwrap();
                for &n in &lens {
                    for off in [0usize, 1, 3, 7, 13] {
                        let src = (n * 7 + off) % (pool.len() - n);
                        let mut buf = vec![GUARD; off + n + 20];
                        buf[off..off + n].copy_from_slice(&pool[src..src + n]);
                        // Out of place from the pool into `buf`, and in place over a copy of
                        // the same inputs: the two must agree.
                        let mut copy = buf.clone();
                        // SAFETY: buf[off..off + n] and copy[off..off + n] are inside their
                        // vectors; the pool range does not overlap buf.
                        unsafe {
                            call_plain(f, pool[src..].as_ptr(), buf.as_mut_ptr().add(off), n);
                            call_plain(f, copy.as_ptr().add(off), copy.as_mut_ptr().add(off), n);
                        }
                        assert!(
                            buf[off..off + n]
                                .iter()
                                .zip(&copy[off..off + n])
                                .all(|(a, b)| a.to_bits() == b.to_bits()),
                            "{op:?} fma={fma} {level:?} n={n} off={off}: in place differs"
                        );
                        let what = format!("{op:?} fma={fma} {level:?} n={n} off={off}");
                        assert_same(
                            &what,
                            &pool[src..src + n],
                            &want_all[src..src + n],
                            &buf[off..off + n],
                        );
                        assert!(
                            buf[..off]
                                .iter()
                                .chain(&buf[off + n..])
                                .all(|g| g.to_bits() == GUARD.to_bits()),
                            "{what}: wrote outside [0, n)"
                        );
                    }
                }
                // n == 0 never touches the pointer
                // SAFETY: n == 0: nothing is read or written.
                unsafe {
                    let p = std::ptr::NonNull::<f32>::dangling().as_ptr();
                    call_plain(f, p, p, 0)
                };
            }
        }
    }
}

/// The affine functions compute `f(a·x + b)` with `a·x + b` one IEEE operation for the
/// forms the code generator passes (`x + k`, `x - k` as `(1, -k)`, `k - x` as `(-1, k)`, `x·c`
/// as `(c, -0)`): equal to the plain function of that operation's f32 result, bit for bit
/// except NaN payloads (for every `k`, including zeros of both signs and subnormals).
#[test]
fn wide_affine_is_the_function_of_one_operation() {
    let mut xs = specials();
    xs.extend(uniform(-30.0, 30.0, 4000));
    xs.extend(bit_sweep(4000));
    let ks = [
        0.0f32,
        -0.0,
        1.0,
        -2.5,
        std::f32::consts::FRAC_1_SQRT_2,
        1e-40,
        -3e38,
        88.0,
        f32::INFINITY,
    ];
    for fma in fma_modes() {
        for op in WIDE {
            for level in levels(fma) {
                let plain = wide_fn_at(op, fma, level).unwrap();
                let affine = wide_affine_fn_at(op, fma, level).unwrap();
                for &k in &ks {
                    type Form = (f32, f32, fn(f32, f32) -> f32);
                    let forms: [Form; 4] = [
                        (1.0, k, |x, k| x + k),
                        (1.0, -k, |x, k| x - k),
                        (-1.0, k, |x, k| k - x),
                        (k, -0.0, |x, k| x * k),
                    ];
                    for (a, b, op_of) in forms {
                        let pre: Vec<f32> = xs.iter().map(|&x| op_of(x, k)).collect();
                        let mut want = vec![0.0f32; xs.len()];
                        let mut got = vec![0.0f32; xs.len()];
                        // SAFETY: each vector holds xs.len() floats, none overlaps another;
                        // the host runs both functions.
                        unsafe {
                            call_plain(plain, pre.as_ptr(), want.as_mut_ptr(), xs.len());
                            affine(
                                xs.as_ptr(),
                                got.as_mut_ptr(),
                                xs.len(),
                                a,
                                b,
                                std::ptr::null(),
                                std::ptr::null(),
                                std::ptr::null_mut(),
                            );
                        }
                        for (i, (w, g)) in want.iter().zip(&got).enumerate() {
                            assert!(
                                w.to_bits() == g.to_bits() || (w.is_nan() && g.is_nan()),
                                "{op:?} fma={fma} {level:?} k={k:e} (a, b) = ({a:e}, {b:e}) \
                                 x={:e}: {w:e} vs {g:e}",
                                xs[i]
                            );
                        }
                    }
                }
            }
        }
    }
}

/// With a multiplier `m`, each result is the plain function's times `m[i]` (one IEEE
/// multiply), at every length and in place over `m`.
#[test]
fn wide_times_a_buffer() {
    let xs: Vec<f32> = uniform(-10.0, 10.0, 300);
    let ms: Vec<f32> = uniform(-3.0, 3.0, 300);
    for fma in fma_modes() {
        for op in WIDE {
            for level in levels(fma) {
                let f = wide_fn_at(op, fma, level).unwrap();
                for n in (0..40).chain([255, 256, 257, 300]) {
                    let (x, m) = (&xs[..n], &ms[..n]);
                    let mut plain = vec![0.0f32; n];
                    let mut got = vec![0.0f32; n];
                    let mut inplace = m.to_vec();
                    // SAFETY: every vector holds n floats; `inplace` is both `m` and `dst`.
                    unsafe {
                        call_plain(f, x.as_ptr(), plain.as_mut_ptr(), n);
                        f(
                            x.as_ptr(),
                            got.as_mut_ptr(),
                            n,
                            1.0,
                            -0.0,
                            m.as_ptr(),
                            std::ptr::null(),
                            std::ptr::null_mut(),
                        );
                        let p = inplace.as_mut_ptr();
                        f(
                            x.as_ptr(),
                            p,
                            n,
                            1.0,
                            -0.0,
                            p,
                            std::ptr::null(),
                            std::ptr::null_mut(),
                        );
                    }
                    for i in 0..n {
                        let want = (plain[i] * m[i]).to_bits();
                        let what = format!("{op:?} fma={fma} {level:?} n={n} i={i}");
                        assert_eq!(got[i].to_bits(), want, "{what}");
                        assert_eq!(inplace[i].to_bits(), want, "{what} in place");
                    }
                }
            }
        }
    }
}

/// The prefetch hint is never dereferenced: unmapped addresses (near 0, near the top of the
/// address space) change nothing, and the results are those without a hint.
#[test]
fn wide_prefetch_hint_is_only_a_hint() {
    let xs: Vec<f32> = uniform(-10.0, 10.0, 1000);
    let hints = [64usize, usize::MAX - 4095, 0x7fff_ffff_f000];
    for fma in fma_modes() {
        for op in WIDE {
            for level in levels(fma) {
                let f = wide_fn_at(op, fma, level).unwrap();
                let mut want = vec![0.0f32; xs.len()];
                // SAFETY: both vectors hold xs.len() floats.
                unsafe { call_plain(f, xs.as_ptr(), want.as_mut_ptr(), xs.len()) };
                for h in hints {
                    let mut got = vec![0.0f32; xs.len()];
                    // SAFETY: as above; the hint is an address only, never read.
                    unsafe {
                        f(
                            xs.as_ptr(),
                            got.as_mut_ptr(),
                            xs.len(),
                            1.0,
                            -0.0,
                            std::ptr::null(),
                            h as *const f32,
                            std::ptr::null_mut(),
                        )
                    };
                    let same = want
                        .iter()
                        .zip(&got)
                        .all(|(w, g)| w.to_bits() == g.to_bits());
                    assert!(same, "{op:?} fma={fma} {level:?} hint {h:#x}");
                }
            }
        }
    }
}

/// With an accumulator state, a call also sums its results as `math::accumulate` does (whole
/// groups of 16 lane by lane, then groups of 4 into the first four lanes, then one by one into
/// the last), on top of the state it is given, at every length and over two calls.
#[test]
fn wide_sums_into_the_state() {
    let xs: Vec<f32> = uniform(-10.0, 3.0, 700);
    for fma in fma_modes() {
        for op in WIDE {
            for level in levels(fma) {
                let f = wide_fn_at(op, fma, level).unwrap();
                for n in (0..50).chain([255, 256, 257, 300, 511, 512, 700]) {
                    let x = &xs[..n];
                    let mut out = vec![0.0f32; n];
                    let mut got = [-0.0f32; 17];
                    got[3] = 1.5;
                    got[16] = -2.0;
                    let mut want = got;
                    // The first call covers a multiple of 16, as a chunk before the last does.
                    let first = (n / 2) & !15;
                    // SAFETY: x and out hold n floats; the state 17.
                    unsafe {
                        let (xp, op_) = (x.as_ptr(), out.as_mut_ptr());
                        let none = std::ptr::null();
                        f(xp, op_, first, 1.0, -0.0, none, none, got.as_mut_ptr());
                        f(
                            xp.add(first),
                            op_.add(first),
                            n - first,
                            1.0,
                            -0.0,
                            none,
                            none,
                            got.as_mut_ptr(),
                        );
                    }
                    let mut plain = vec![0.0f32; n];
                    // SAFETY: as above.
                    unsafe {
                        let none = std::ptr::null();
                        f(
                            x.as_ptr(),
                            plain.as_mut_ptr(),
                            n,
                            1.0,
                            -0.0,
                            none,
                            none,
                            std::ptr::null_mut(),
                        )
                    };
                    let what = format!("{op:?} fma={fma} {level:?} n={n}");
                    assert_eq!(
                        out.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
                        plain.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
                        "{what}: results"
                    );
                    accumulate(&mut want, &plain[..first]);
                    accumulate(&mut want, &plain[first..]);
                    let bits = |a: &[f32; 17]| a.map(f32::to_bits);
                    assert_eq!(bits(&got), bits(&want), "{what}: state");
                }
            }
        }
    }
}

/// `accumulate` itself: the order of a four-lane inner sum (16-element steps into four
/// accumulators, then 4-element steps into the first, then a scalar tail), written out.
#[test]
fn accumulate_is_the_four_lane_order() {
    let r: Vec<f32> = uniform(-1e3, 1e3, 39);
    let mut acc = [-0.0f32; 17];
    accumulate(&mut acc, &r);
    let mut want = [-0.0f32; 17];
    for g in 0..2 {
        for l in 0..16 {
            want[l] += r[16 * g + l];
        }
    }
    for l in 0..4 {
        want[l] += r[32 + l];
    }
    for x in &r[36..] {
        want[16] += x;
    }
    assert_eq!(acc.map(f32::to_bits), want.map(f32::to_bits));
}

#[test]
fn wide_api() {
    for fma in [false, true] {
        assert!(wide_fn(MathFn::Sin, fma).is_none());
        assert!(wide_fn(MathFn::Cos, fma).is_none());
        for level in [WideLevel::Avx512, WideLevel::Avx2] {
            assert!(wide_fn_at(MathFn::Sin, fma, level).is_none());
            assert!(wide_fn_at(MathFn::Cos, fma, level).is_none());
        }
        let best = wide_level(fma);
        assert_eq!(capped_level(fma, Some(WideLevel::Avx512)), best);
        assert_eq!(capped_level(fma, None), None);
        assert!(capped_level(fma, Some(WideLevel::Avx2)) <= Some(WideLevel::Avx2));
        for op in WIDE {
            assert_eq!(
                wide_fn_at(op, fma, WideLevel::Avx512).is_some(),
                best == Some(WideLevel::Avx512)
            );
            if std::env::var("LAZYJIT_WIDE_MATH").is_err() {
                assert_eq!(wide_fn(op, fma).is_some(), best.is_some());
            }
        }
    }
    assert_eq!(parse_wide_cap("avx512"), Some(Some(WideLevel::Avx512)));
    assert_eq!(parse_wide_cap(" AVX2 "), Some(Some(WideLevel::Avx2)));
    assert_eq!(parse_wide_cap("off"), Some(None));
    assert_eq!(parse_wide_cap("Off"), Some(None));
    assert_eq!(parse_wide_cap(""), None);
    assert_eq!(parse_wide_cap("sse"), None);
    assert_eq!(parse_wide_cap("avx-512"), None);
}

/// Every f32 input: the wide functions equal the JIT `F32X4` kernels bit for bit (run in
/// release: `-- --ignored wide_exhaustive --nocapture`; `LAZYJIT_EXHAUSTIVE_FN=exp` picks one
/// function, `LAZYJIT_EXHAUSTIVE_FMA=0|1` one fma mode). About 9 min on 2 cores.
#[test]
#[ignore]
fn wide_exhaustive() {
    let modes = match std::env::var("LAZYJIT_EXHAUSTIVE_FMA").as_deref() {
        Ok("0") => vec![false],
        Ok("1") => vec![true],
        _ => fma_modes(),
    };
    let only: Option<String> = std::env::var("LAZYJIT_EXHAUSTIVE_FN").ok();
    for fma in modes {
        for op in WIDE {
            if only.as_deref().is_some_and(|o| o != op.name()) {
                continue;
            }
            let t = Instant::now();
            let k = compile::<f32>(types::F32, F::Un(op), fma, true);
            let fs: Vec<(WideLevel, WideFn)> = levels(fma)
                .into_iter()
                .map(|l| (l, wide_fn_at(op, fma, l).unwrap()))
                .collect();
            let chunk = 1u64 << 22;
            std::thread::scope(|s| {
                for half in 0..2u64 {
                    let fs = &fs;
                    s.spawn(move || {
                        let mut xs = vec![0f32; chunk as usize];
                        let mut want = vec![0f32; chunk as usize];
                        let mut got = vec![0f32; chunk as usize];
                        let per = (1u64 << 32) / 2;
                        for start in (half * per..(half + 1) * per).step_by(chunk as usize) {
                            for (i, x) in xs.iter_mut().enumerate() {
                                *x = f32::from_bits((start + i as u64) as u32);
                            }
                            // SAFETY: k reads xs.len() floats and writes as many to want.
                            unsafe { k(xs.as_ptr(), xs.as_ptr(), want.as_mut_ptr(), chunk as i64) };
                            for &(level, f) in fs {
                                // SAFETY: xs and got hold chunk floats each and do not
                                // overlap; the host runs f.
                                unsafe { call_plain(f, xs.as_ptr(), got.as_mut_ptr(), got.len()) };
                                let what = format!("{op:?} fma={fma} {level:?}");
                                assert_same(&what, &xs, &want, &got);
                            }
                        }
                    });
                }
            });
            println!(
                "{:<8} fma={fma:<5} {:?}: all 2^32 inputs bit-identical ({:.1} s)",
                op.name(),
                levels(fma),
                t.elapsed().as_secs_f64()
            );
        }
    }
}
