//! Benchmarks of compiled programs against named baselines measured in the same run:
//! - `ndarray`: the same computation written as a typical ndarray user would;
//! - `hand_loop`: a hand-written single-pass Rust loop (where one applies);
//! - `stream`: a triad-style loop moving the same number of bytes — the memory-bandwidth bound.
//!
//! f32, single thread. Buffers for lazyjit, `hand_loop` and `stream` are the same 64-byte /
//! 2 MiB-aligned huge-page buffers (`Tensor`), so the comparison is about the code, not the
//! allocator. Run: `cargo bench --bench lowering` (figures recorded in BENCHMARKS.md).

use criterion::{black_box, criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use lazyjit::lowering::codegen::{compile, CompileOptions, Compiled, OptLevel};
use lazyjit::lowering::{text, Program, Tensor};
use ndarray::{Array1, Array2, Axis};
use std::time::Duration;

mod common;
use common::seq;

fn tensor(shape: &[usize], seed: u32) -> Tensor {
    let n = shape.iter().product();
    Tensor::from_vec(seq(n, seed), shape.to_vec()).unwrap()
}

fn jit(src: &str) -> Compiled {
    jit_wide(src, true)
}

/// [`jit`] with wide math on or off (off: every transcendental site in four-lane code).
fn jit_wide(src: &str, wide_math: bool) -> Compiled {
    // One thread, as the header says (`benches/threads.rs` compares one with two); every
    // group compiles through here first.
    lazyjit::lowering::kernels::set_threads(1);
    let p: Program = text::parse(src).unwrap();
    let opts = CompileOptions {
        wide_math,
        ..CompileOptions::default()
    };
    compile(&p, &opts).unwrap()
}

fn f32s(t: &Tensor) -> &[f32] {
    t.as_slice::<f32>().unwrap()
}

fn f32s_mut(t: &mut Tensor) -> &mut [f32] {
    t.as_mut_slice::<f32>().unwrap()
}

const N22: usize = 1 << 22;

fn ew_fused(c: &mut Criterion) {
    let n = N22;
    let src = format!(
        "param %a: f32[{n}]\nparam %b: f32[{n}]\nparam %c: f32[{n}]\n\
         %3: f32[{n}] = mul %a, %b\n%4: f32[{n}] = add %3, %c\n%5: f32[{n}] = relu %4\n\
         %6: f32[] = constant 0.5\n%7: f32[{n}] = mul %5, %6\n%8: f32[{n}] = sub %7, %a\nreturn %8\n"
    );
    let k = jit(&src);
    let (a, b, cc) = (tensor(&[n], 1), tensor(&[n], 2), tensor(&[n], 3));
    let mut outs = k.run(&[&a, &b, &cc]).unwrap();
    let (na, nb, nc) = (
        Array1::from(seq(n, 1)),
        Array1::from(seq(n, 2)),
        Array1::from(seq(n, 3)),
    );
    let mut g = c.benchmark_group("ew_fused");
    g.throughput(Throughput::Bytes((16 * n) as u64));
    g.bench_function("lazyjit", |bch| {
        bch.iter(|| k.run_into(&[&a, &b, &cc], &mut outs).unwrap())
    });
    g.bench_function("ndarray", |bch| {
        bch.iter(|| {
            let y = (&na * &nb + &nc).mapv(|v| v.max(0.0)) * 0.5 - &na;
            black_box(y)
        })
    });
    let mut y = tensor(&[n], 0);
    g.bench_function("hand_loop", |bch| {
        bch.iter(|| {
            let (a, b, c) = (f32s(&a), f32s(&b), f32s(&cc));
            for (i, y) in f32s_mut(&mut y).iter_mut().enumerate() {
                *y = (a[i] * b[i] + c[i]).max(0.0) * 0.5 - a[i];
            }
        })
    });
    g.bench_function("stream", |bch| {
        bch.iter(|| {
            let (a, b, c) = (f32s(&a), f32s(&b), f32s(&cc));
            for (i, y) in f32s_mut(&mut y).iter_mut().enumerate() {
                *y = a[i] + b[i] * c[i];
            }
        })
    });
    g.finish();
}

fn sigmoid_mul(c: &mut Criterion) {
    let n = N22;
    let src = format!(
        "param %a: f32[{n}]\nparam %b: f32[{n}]\n%2: f32[{n}] = sigmoid %a\n\
         %3: f32[{n}] = mul %2, %b\nreturn %3\n"
    );
    let k = jit(&src);
    let four = jit_wide(&src, false);
    let (a, b) = (tensor(&[n], 1), tensor(&[n], 2));
    let mut outs = k.run(&[&a, &b]).unwrap();
    let (na, nb) = (Array1::from(seq(n, 1)), Array1::from(seq(n, 2)));
    let mut g = c.benchmark_group("sigmoid_mul");
    g.throughput(Throughput::Bytes((12 * n) as u64));
    g.bench_function("lazyjit", |bch| {
        bch.iter(|| k.run_into(&[&a, &b], &mut outs).unwrap())
    });
    g.bench_function("lazyjit_four_lanes", |bch| {
        bch.iter(|| four.run_into(&[&a, &b], &mut outs).unwrap())
    });
    g.bench_function("ndarray", |bch| {
        bch.iter(|| black_box(na.mapv(|x| 1.0 / (1.0 + (-x).exp())) * &nb))
    });
    let mut y = tensor(&[n], 0);
    g.bench_function("hand_loop", |bch| {
        bch.iter(|| {
            let (a, b) = (f32s(&a), f32s(&b));
            for (i, y) in f32s_mut(&mut y).iter_mut().enumerate() {
                *y = b[i] / (1.0 + (-a[i]).exp());
            }
        })
    });
    g.bench_function("stream", |bch| {
        bch.iter(|| {
            let (a, b) = (f32s(&a), f32s(&b));
            for (i, y) in f32s_mut(&mut y).iter_mut().enumerate() {
                *y = a[i] * b[i];
            }
        })
    });
    g.finish();
}

/// Softmax over the last dim of [4096, 1024] as `LazyTensor::softmax` traces it (each
/// `exp(x - max)` times the reciprocal of its row's sum, as PyTorch's CPU kernel computes
/// it), against streaming the input and the output once. `lazyjit_exact_div` is the same
/// with one exact division per element.
fn softmax(c: &mut Criterion) {
    let (r, n) = (4096usize, 1024usize);
    let head = format!(
        "param %x: f32[{r}, {n}]\n%1: f32[{r}, 1] = reduce_max %x, axes=[1], keepdim=true\n\
         %2: f32[{r}, {n}] = sub %x, %1\n%3: f32[{r}, {n}] = exp %2\n\
         %4: f32[{r}, 1] = reduce_sum %3, axes=[1], keepdim=true\n"
    );
    let src = format!(
        "{head}%5: f32[{r}, 1] = reciprocal %4\n%6: f32[{r}, {n}] = mul %3, %5\nreturn %6\n"
    );
    let exact = format!("{head}%5: f32[{r}, {n}] = div %3, %4\nreturn %5\n");
    let k = jit(&src);
    let four = jit_wide(&src, false);
    let k_div = jit(&exact);
    let x = tensor(&[r, n], 1);
    let mut outs = k.run(&[&x]).unwrap();
    let nx = Array2::from_shape_vec((r, n), seq(r * n, 1)).unwrap();
    let mut g = c.benchmark_group("softmax");
    g.throughput(Throughput::Bytes((8 * r * n) as u64));
    g.bench_function("lazyjit", |bch| {
        bch.iter(|| k.run_into(&[&x], &mut outs).unwrap())
    });
    g.bench_function("lazyjit_four_lanes", |bch| {
        bch.iter(|| four.run_into(&[&x], &mut outs).unwrap())
    });
    g.bench_function("lazyjit_exact_div", |bch| {
        bch.iter(|| k_div.run_into(&[&x], &mut outs).unwrap())
    });
    g.bench_function("ndarray", |bch| {
        bch.iter(|| {
            let m = nx.fold_axis(Axis(1), f32::NEG_INFINITY, |a, &b| a.max(b));
            let e = (&nx - &m.insert_axis(Axis(1))).mapv(f32::exp);
            let s = e.sum_axis(Axis(1));
            black_box(e / &s.insert_axis(Axis(1)))
        })
    });
    let mut y = tensor(&[r, n], 0);
    g.bench_function("hand_loop", |bch| {
        bch.iter(|| {
            let xs = f32s(&x);
            for (xr, yr) in xs.chunks_exact(n).zip(f32s_mut(&mut y).chunks_exact_mut(n)) {
                let m = xr.iter().fold(f32::NEG_INFINITY, |a, &b| a.max(b));
                let mut s = 0.0;
                for (y, &v) in yr.iter_mut().zip(xr) {
                    *y = (v - m).exp();
                    s += *y;
                }
                let inv = 1.0 / s;
                yr.iter_mut().for_each(|y| *y *= inv);
            }
        })
    });
    g.bench_function("stream", |bch| {
        bch.iter(|| {
            for (y, &v) in f32s_mut(&mut y).iter_mut().zip(f32s(&x)) {
                *y = v * 0.5;
            }
        })
    });
    g.finish();
}

/// Each transcendental op alone on 2^22 f32 (and gelu, as the lazy tensor composes it), wide
/// and four-lane, against streaming the same bytes (read 16 MiB, write 16 MiB).
fn unary(c: &mut Criterion) {
    let n = N22;
    let x = tensor(&[n], 1);
    let mut g = c.benchmark_group("unary");
    g.throughput(Throughput::Bytes((8 * n) as u64));
    let gelu = format!(
        "%1: f32[] = constant 0.70710677\n%2: f32[{n}] = mul %x, %1\n%3: f32[{n}] = erf %2\n\
         %4: f32[] = constant 1.0\n%5: f32[{n}] = add %3, %4\n%6: f32[] = constant 0.5\n\
         %7: f32[{n}] = mul %x, %6\n%8: f32[{n}] = mul %7, %5\nreturn %8\n"
    );
    let mut progs: Vec<(&str, String)> = ["exp", "log", "tanh", "sigmoid", "erf"]
        .into_iter()
        .map(|f| (f, format!("%1: f32[{n}] = {f} %x\nreturn %1\n")))
        .collect();
    progs.push(("gelu", gelu));
    for (name, body) in progs {
        let src = format!("param %x: f32[{n}]\n{body}");
        for (variant, wide) in [("lazyjit", true), ("four_lanes", false)] {
            let k = jit_wide(&src, wide);
            let mut outs = k.run(&[&x]).unwrap();
            g.bench_function(format!("{name}/{variant}"), |bch| {
                bch.iter(|| k.run_into(&[&x], &mut outs).unwrap())
            });
        }
    }
    let mut y = tensor(&[n], 0);
    g.bench_function("stream", |bch| {
        bch.iter(|| {
            for (y, &v) in f32s_mut(&mut y).iter_mut().zip(f32s(&x)) {
                *y = v * 0.5;
            }
        })
    });
    g.finish();
}

/// The row reduction of log-softmax when the exp is not kept: `sum(exp(x - max))` per row of
/// [4096, 1024] (the exp is computed inside the sum's loop), wide and four-lane, against
/// reading the input twice (the max pass and the sum pass; the second from cache).
fn sum_exp_rows(c: &mut Criterion) {
    let (r, n) = (4096usize, 1024usize);
    let src = format!(
        "param %x: f32[{r}, {n}]\n%1: f32[{r}, 1] = reduce_max %x, axes=[1], keepdim=true\n\
         %2: f32[{r}, {n}] = sub %x, %1\n%3: f32[{r}, {n}] = exp %2\n\
         %4: f32[{r}] = reduce_sum %3, axes=[1], keepdim=false\nreturn %4\n"
    );
    let x = tensor(&[r, n], 1);
    let mut g = c.benchmark_group("sum_exp_rows");
    g.throughput(Throughput::Bytes((4 * r * n) as u64));
    for (variant, wide) in [("lazyjit", true), ("lazyjit_four_lanes", false)] {
        let k = jit_wide(&src, wide);
        let mut outs = k.run(&[&x]).unwrap();
        g.bench_function(variant, |bch| {
            bch.iter(|| k.run_into(&[&x], &mut outs).unwrap())
        });
    }
    g.bench_function("stream", |bch| {
        bch.iter(|| {
            let mut acc = [0.0f32; 16];
            for ch in f32s(&x).chunks_exact(16) {
                for (a, v) in acc.iter_mut().zip(ch) {
                    *a += v;
                }
            }
            black_box(acc)
        })
    });
    g.finish();
}

fn sum(c: &mut Criterion) {
    let n = 1usize << 24;
    let src = format!(
        "param %x: f32[{n}]\n%1: f32[] = reduce_sum %x, axes=[0], keepdim=false\nreturn %1\n"
    );
    let k = jit(&src);
    let x = tensor(&[n], 1);
    let mut outs = k.run(&[&x]).unwrap();
    let nx = Array1::from(seq(n, 1));
    let mut g = c.benchmark_group("sum");
    g.throughput(Throughput::Bytes((4 * n) as u64));
    g.bench_function("lazyjit", |bch| {
        bch.iter(|| k.run_into(&[&x], &mut outs).unwrap())
    });
    g.bench_function("ndarray", |bch| bch.iter(|| black_box(nx.sum())));
    g.bench_function("hand_loop", |bch| {
        bch.iter(|| black_box(f32s(&x).iter().sum::<f32>()))
    });
    // Streaming it once: 16 independent accumulators, which rustc vectorises.
    g.bench_function("stream", |bch| {
        bch.iter(|| {
            let mut acc = [0.0f32; 16];
            for ch in f32s(&x).chunks_exact(16) {
                for (a, v) in acc.iter_mut().zip(ch) {
                    *a += v;
                }
            }
            black_box(acc.iter().sum::<f32>())
        })
    });
    g.finish();
}

fn matmul(c: &mut Criterion) {
    let n = 1024usize;
    let src = format!(
        "param %a: f32[{n}, {n}]\nparam %b: f32[{n}, {n}]\n%2: f32[{n}, {n}] = matmul %a, %b\nreturn %2\n"
    );
    let k = jit(&src);
    let (a, b) = (tensor(&[n, n], 1), tensor(&[n, n], 2));
    let mut outs = k.run(&[&a, &b]).unwrap();
    let na = Array2::from_shape_vec((n, n), seq(n * n, 1)).unwrap();
    let nb = Array2::from_shape_vec((n, n), seq(n * n, 2)).unwrap();
    let mut g = c.benchmark_group("matmul_1024");
    g.throughput(Throughput::Elements((2 * n * n * n) as u64));
    g.bench_function("lazyjit", |bch| {
        bch.iter(|| k.run_into(&[&a, &b], &mut outs).unwrap())
    });
    g.bench_function("ndarray", |bch| bch.iter(|| black_box(na.dot(&nb))));
    g.finish();
}

/// A 64-instruction elementwise chain over four inputs.
fn chain64() -> Program {
    let n = 4096;
    let mut src =
        format!("param %a: f32[{n}]\nparam %b: f32[{n}]\nparam %c: f32[{n}]\nparam %d: f32[{n}]\n");
    let names = ["%a", "%b", "%c", "%d"];
    let ops = ["add", "mul", "sub", "max", "min", "mul", "add", "sub"];
    let mut last = "%a".to_string();
    for i in 0..64 {
        let v = 4 + i;
        let op = ops[i % ops.len()];
        let other = names[(i * 3 + 1) % 4];
        if i % 16 == 7 {
            src.push_str(&format!("%{v}: f32[{n}] = relu {last}\n"));
        } else {
            src.push_str(&format!("%{v}: f32[{n}] = {op} {last}, {other}\n"));
        }
        last = format!("%{v}");
    }
    src.push_str(&format!("return {last}\n"));
    text::parse(&src).unwrap()
}

fn compile_time(c: &mut Criterion) {
    let p = chain64();
    let mut g = c.benchmark_group("compile_chain64");
    for (name, lvl) in [("speed", OptLevel::Speed), ("none", OptLevel::None)] {
        let opts = CompileOptions {
            opt_level: lvl,
            verify_clif: false,
            keep_clif: false,
            keep_disasm: false,
            ..CompileOptions::default()
        };
        g.bench_with_input(BenchmarkId::new("lazyjit", name), &opts, |bch, o| {
            bch.iter(|| black_box(compile(&p, o).unwrap()))
        });
    }
    g.finish();
}

/// The 64-op chain of issue 12: `x + 0.1`, `x * 0.9`, `tanh`, cycling, over `f32[n]`
/// (21 `tanh`s).
fn tanh_chain64(n: usize) -> Program {
    let mut src =
        format!("param %x: f32[{n}]\n%c1: f32[] = constant 0.1\n%c2: f32[] = constant 0.9\n");
    let mut last = "%x".to_string();
    for i in 0..64 {
        let line = match i % 3 {
            0 => format!("%v{i}: f32[{n}] = add {last}, %c1\n"),
            1 => format!("%v{i}: f32[{n}] = mul {last}, %c2\n"),
            _ => format!("%v{i}: f32[{n}] = tanh {last}\n"),
        };
        src.push_str(&line);
        last = format!("%v{i}");
    }
    src.push_str(&format!("return {last}\n"));
    text::parse(&src).unwrap()
}

/// Compile time of a transcendental-heavy kernel with its math out of line (the default for
/// more than `inline_math` sites) and all inline; and what the calls cost at run time, on
/// 2^20 elements, against a Rust loop calling `f32::tanh`.
fn math_chain(c: &mut Criterion) {
    let variants = [
        ("out_of_line", CompileOptions::default()),
        (
            "all_inline",
            CompileOptions {
                inline_math: usize::MAX,
                ..CompileOptions::default()
            },
        ),
    ];
    let p = tanh_chain64(1024);
    let mut g = c.benchmark_group("compile_tanh_chain64");
    for (name, opts) in &variants {
        g.bench_function(*name, |bch| {
            bch.iter(|| black_box(compile(&p, opts).unwrap()))
        });
    }
    g.finish();
    let n = 1 << 20;
    let p = tanh_chain64(n);
    let x = tensor(&[n], 7);
    let mut g = c.benchmark_group("run_tanh_chain64");
    g.throughput(Throughput::Elements(n as u64));
    for (name, opts) in &variants {
        let k = compile(&p, opts).unwrap();
        let mut outs = k.run(&[&x]).unwrap();
        g.bench_function(*name, |bch| {
            bch.iter(|| k.run_into(&[&x], &mut outs).unwrap())
        });
    }
    let xs = f32s(&x).to_vec();
    let mut out = vec![0f32; n];
    g.bench_function("hand_loop", |bch| {
        bch.iter(|| {
            for (o, &v) in out.iter_mut().zip(&xs) {
                let mut y = v;
                for i in 0..64 {
                    y = match i % 3 {
                        0 => y + 0.1,
                        1 => y * 0.9,
                        _ => y.tanh(),
                    };
                }
                *o = y;
            }
            black_box(&out);
        })
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(20)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    targets = ew_fused, sigmoid_mul, softmax, unary, sum_exp_rows, sum, matmul, compile_time, math_chain
}
criterion_main!(benches);
