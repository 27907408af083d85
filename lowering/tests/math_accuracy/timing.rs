//! Rough throughput (printed, never asserted), the exhaustive f32 sweep and the code dump
//! (both ignored: run them by name).

use super::*;

/// Rough ns/element (printed, never asserted): 2^22 elements streamed (best of 5), and 4096
/// cache-resident elements (best of 200). Run alone (`throughput -- --nocapture`), in release.
#[test]
fn throughput() {
    let n = 1usize << 22;
    let fma = host_has_fma();
    println!("\nthroughput in ns/element, fma={fma}");
    println!(
        "{:<8} {:>11} {:>11} {:>12} {:>12} {:>12} {:>13}",
        "fn",
        "f32x4 2^22",
        "f32x4 4096",
        "nofma 2^22",
        "scalar 2^22",
        "std f32 2^22",
        "std f32 4096"
    );
    fn time(k: Kernel<f32>, xs: &[f32], out: &mut [f32], reps: usize) -> f64 {
        let mut best = f64::INFINITY;
        for _ in 0..reps {
            let t = Instant::now();
            unsafe { k(xs.as_ptr(), xs.as_ptr(), out.as_mut_ptr(), xs.len() as i64) };
            best = best.min(t.elapsed().as_secs_f64());
        }
        best * 1e9 / xs.len() as f64
    }
    fn time_std(op: MathFn, xs: &[f32], out: &mut [f32], reps: usize) -> f64 {
        let mut best = f64::INFINITY;
        for _ in 0..reps {
            let t = Instant::now();
            for (o, &x) in out.iter_mut().zip(xs) {
                *o = std_f32(op, std::hint::black_box(x));
            }
            best = best.min(t.elapsed().as_secs_f64());
            std::hint::black_box(&out);
        }
        best * 1e9 / xs.len() as f64
    }
    let mut out = vec![0f32; n];
    {
        let xs = uniform(-1.0, 1.0, n);
        let mut best = f64::INFINITY;
        for _ in 0..5 {
            let t = Instant::now();
            out.copy_from_slice(std::hint::black_box(&xs));
            best = best.min(t.elapsed().as_secs_f64());
            std::hint::black_box(&out);
        }
        println!(
            "memcpy   {:>11.3} (baseline: 2^22 f32 copied, same buffers)",
            best * 1e9 / n as f64
        );
    }
    for op in FUNCS {
        let (lo, hi) = match op {
            MathFn::Exp => (-80.0, 80.0),
            MathFn::Log => (1e-6, 1e6),
            MathFn::Sin | MathFn::Cos => (-100.0, 100.0),
            _ => (-8.0, 8.0),
        };
        let xs = uniform(lo, hi, n);
        let small = uniform(lo, hi, 4096);
        let kv = compile(types::F32, F::Un(op), fma, true);
        let v = time(kv, &xs, &mut out, 5);
        let vs = time(kv, &small, &mut out[..4096], 200);
        let vn = time(
            compile(types::F32, F::Un(op), false, true),
            &xs,
            &mut out,
            5,
        );
        let s = time(compile(types::F32, F::Un(op), fma, false), &xs, &mut out, 5);
        let r = time_std(op, &xs, &mut out, 3);
        let rs = time_std(op, &small, &mut out[..4096], 100);
        println!(
            "{:<8} {:>11.3} {:>11.3} {:>12.3} {:>12.3} {:>12.3} {:>13.3}",
            op.name(),
            v,
            vs,
            vn,
            s,
            r,
            rs
        );
    }
    let xs = uniform(0.1, 10.0, n);
    let ys = uniform(-3.0, 3.0, n);
    let k = compile::<f32>(types::F32, F::Pow, fma, true);
    let mut best = f64::INFINITY;
    for _ in 0..3 {
        let t = Instant::now();
        unsafe { k(xs.as_ptr(), ys.as_ptr(), out.as_mut_ptr(), n as i64) };
        best = best.min(t.elapsed().as_secs_f64());
    }
    println!(
        "pow      {:>11.3} (f32x4: 4 shim calls per vector)",
        best * 1e9 / n as f64
    );
    let x64: Vec<f64> = xs.iter().map(|&x| x as f64).collect();
    let mut o64 = vec![0f64; n];
    let k = compile::<f64>(types::F64, F::Un(MathFn::Exp), fma, false);
    let mut best = f64::INFINITY;
    for _ in 0..3 {
        let t = Instant::now();
        unsafe { k(x64.as_ptr(), x64.as_ptr(), o64.as_mut_ptr(), n as i64) };
        best = best.min(t.elapsed().as_secs_f64());
    }
    println!(
        "exp f64  {:>11.3} (scalar: one shim call per element)",
        best * 1e9 / n as f64
    );
}

/// Every f32 input, every function (run in release: `-- --ignored exhaustive --nocapture`;
/// `LAZYJIT_EXHAUSTIVE_FMA=0|1` picks one fma mode, default: all this host can run).
#[test]
#[ignore]
fn exhaustive() {
    let modes = match std::env::var("LAZYJIT_EXHAUSTIVE_FMA").as_deref() {
        Ok("0") => vec![false],
        Ok("1") => vec![true],
        _ => fma_modes(),
    };
    let only: Option<String> = std::env::var("LAZYJIT_EXHAUSTIVE_FN").ok();
    println!(
        "\n{:<8} {:<5} {:<20} {:>11} {:>14} {:>11} {:>14}",
        "fn", "fma", "range", "max ulp", "at", "max abs", "at"
    );
    for fma in modes {
        for op in FUNCS {
            if only.as_deref().is_some_and(|o| o != op.name()) {
                continue;
            }
            let k = compile::<f32>(types::F32, F::Un(op), fma, true);
            let chunk = 1u64 << 20;
            let nthreads = 2u64;
            let parts: Vec<[Stat; 4]> = std::thread::scope(|s| {
                let hs: Vec<_> = (0..nthreads)
                    .map(|t| {
                        s.spawn(move || {
                            let mut st = [Stat::default(); 4];
                            let mut xs = vec![0f32; chunk as usize];
                            let mut out = vec![0f32; chunk as usize];
                            let mut c = t;
                            while c < (1u64 << 32) / chunk {
                                for (i, x) in xs.iter_mut().enumerate() {
                                    *x = f32::from_bits((c * chunk + i as u64) as u32);
                                }
                                unsafe {
                                    k(xs.as_ptr(), xs.as_ptr(), out.as_mut_ptr(), chunk as i64)
                                };
                                let part = evaluate(op, &xs, &out);
                                for (a, b) in st.iter_mut().zip(&part) {
                                    a.merge(b);
                                }
                                c += nthreads;
                            }
                            st
                        })
                    })
                    .collect();
                hs.into_iter().map(|h| h.join().unwrap()).collect()
            });
            let mut st = [Stat::default(); 4];
            for p in &parts {
                for (a, b) in st.iter_mut().zip(p) {
                    a.merge(b);
                }
            }
            for (c, s) in st.iter().enumerate() {
                if s.n > 0 {
                    println!(
                        "{:<8} {:<5} {:<20} {:>11.3} {:>14.7e} {:>11.3e} {:>14.7e}",
                        op.name(),
                        fma,
                        class_label(op, c),
                        s.max_ulp,
                        s.at_ulp,
                        s.max_abs,
                        s.at_abs
                    );
                }
            }
        }
    }
}

/// Prints the optimized VCode of the `F32X4` kernel of `LAZYJIT_DUMP_FN` (default `exp`).
#[test]
#[ignore]
fn dump_code() {
    let name = std::env::var("LAZYJIT_DUMP_FN").unwrap_or_else(|_| "exp".into());
    let op = FUNCS.into_iter().find(|o| o.name() == name).unwrap();
    let (_, clif, vcode) =
        compile_full::<f32>(types::F32, F::Un(op), host_has_fma(), true, "speed");
    println!("{clif}\n{vcode}");
}
