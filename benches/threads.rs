//! One thread against two (issue 12 §3): the same compiled program run with
//! `set_threads(1)` and `set_threads(2)`, against the memory-bandwidth baseline measured the
//! same way — a triad-style `stream` loop moving the same bytes on one thread and split over
//! two (rayon, each half on its own core). Also: a tiny graph (16 elements), which must not
//! get slower with two threads allowed, and where a split starts to pay (`split_cost_*`: an
//! add and `sigmoid(a) * b` at growing sizes forced to split, against one thread).
//!
//! Run: `cargo bench --bench threads` (figures in BENCHMARKS.md, "Both cores").

use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use lazyjit::lowering::codegen::{compile, CompileOptions, Compiled};
use lazyjit::lowering::kernels::{
    set_kernel_parallel_work, set_matmul_parallel_work, set_threads, KERNEL_PARALLEL_WORK,
    PARALLEL_WORK,
};
use lazyjit::lowering::{text, Tensor};
use rayon::prelude::*;
use std::time::Duration;

mod common;
use common::seq;

fn tensor(shape: &[usize], seed: u32) -> Tensor {
    Tensor::from_vec(seq(shape.iter().product(), seed), shape.to_vec()).unwrap()
}

fn jit(src: &str) -> Compiled {
    compile(&text::parse(src).unwrap(), &CompileOptions::default()).unwrap()
}

/// `y = a + b * c` over `n` elements on one thread, or split in two halves over the pool.
fn stream(y: &mut [f32], a: &[f32], b: &[f32], c: &[f32], two: bool) {
    let chunk = if two { y.len().div_ceil(2) } else { y.len() };
    let body = |(i, ys): (usize, &mut [f32])| {
        let o = i * chunk;
        for (j, y) in ys.iter_mut().enumerate() {
            *y = a[o + j] + b[o + j] * c[o + j];
        }
    };
    if two {
        y.par_chunks_mut(chunk).enumerate().for_each(body);
    } else {
        y.chunks_mut(chunk).enumerate().for_each(body);
    }
}

/// Benchmarks `k` on `inputs` with one and two threads, and the stream baseline moving
/// `bytes` bytes per call with one and two threads.
fn one_vs_two(c: &mut Criterion, name: &str, k: &Compiled, inputs: &[&Tensor], bytes: usize) {
    let mut outs = k.run(inputs).unwrap();
    // The stream baseline: three reads and a write of `bytes / 16` f32 each.
    let n = (bytes / 16).max(1);
    let (a, b, cc) = (seq(n, 1), seq(n, 2), seq(n, 3));
    let mut y = vec![0.0f32; n];
    let mut g = c.benchmark_group(format!("threads_{name}"));
    g.throughput(Throughput::Bytes(bytes as u64));
    for t in [1, 2] {
        g.bench_function(format!("lazyjit_{t}"), |bch| {
            set_threads(t);
            bch.iter(|| k.run_into(inputs, &mut outs).unwrap())
        });
        g.bench_function(format!("stream_{t}"), |bch| {
            bch.iter(|| stream(black_box(&mut y), &a, &b, &cc, t == 2))
        });
    }
    g.finish();
    set_threads(0);
}

fn kernels(c: &mut Criterion) {
    set_kernel_parallel_work(KERNEL_PARALLEL_WORK);
    set_matmul_parallel_work(PARALLEL_WORK);
    let n = 1usize << 22;
    let sig = jit(&format!(
        "param %a: f32[{n}]\nparam %b: f32[{n}]\n%2: f32[{n}] = sigmoid %a\n\
         %3: f32[{n}] = mul %2, %b\nreturn %3\n"
    ));
    let (a, b, cc) = (tensor(&[n], 1), tensor(&[n], 2), tensor(&[n], 3));
    one_vs_two(c, "sigmoid_mul", &sig, &[&a, &b], 12 * n);
    let ew = jit(&format!(
        "param %a: f32[{n}]\nparam %b: f32[{n}]\nparam %c: f32[{n}]\n\
         %3: f32[{n}] = mul %a, %b\n%4: f32[{n}] = add %3, %c\n%5: f32[{n}] = relu %4\n\
         %6: f32[] = constant 0.5\n%7: f32[{n}] = mul %5, %6\n%8: f32[{n}] = sub %7, %a\nreturn %8\n"
    ));
    one_vs_two(c, "ew_fused", &ew, &[&a, &b, &cc], 16 * n);
    let (r, w) = (4096usize, 1024usize);
    let sm = jit(&format!(
        "param %x: f32[{r}, {w}]\n%1: f32[{r}, 1] = reduce_max %x, axes=[1], keepdim=true\n\
         %2: f32[{r}, {w}] = sub %x, %1\n%3: f32[{r}, {w}] = exp %2\n\
         %4: f32[{r}, 1] = reduce_sum %3, axes=[1], keepdim=true\n\
         %5: f32[{r}, 1] = reciprocal %4\n%6: f32[{r}, {w}] = mul %3, %5\nreturn %6\n"
    ));
    let x = tensor(&[r, w], 1);
    one_vs_two(c, "softmax", &sm, &[&x], 8 * r * w);
    let rows = jit(&format!(
        "param %x: f32[{r}, {w}]\n%1: f32[{r}] = reduce_sum %x, axes=[1], keepdim=false\nreturn %1\n"
    ));
    one_vs_two(c, "row_sum", &rows, &[&x], 4 * r * w);
    let m = 1024usize;
    let mm = jit(&format!(
        "param %a: f32[{m}, {m}]\nparam %b: f32[{m}, {m}]\n%2: f32[{m}, {m}] = matmul %a, %b\nreturn %2\n"
    ));
    let (ma, mb) = (tensor(&[m, m], 1), tensor(&[m, m], 2));
    one_vs_two(c, "matmul_1024", &mm, &[&ma, &mb], 12 * m * m);
    let tiny = jit("param %a: f32[16]\nparam %b: f32[16]\n%2: f32[16] = add %a, %b\nreturn %2\n");
    let (ta, tb) = (tensor(&[16], 1), tensor(&[16], 2));
    one_vs_two(c, "tiny_add16", &tiny, &[&ta, &tb], 192);
}

/// `kernel(n)` of 2^`logs` elements (two f32 inputs) on one thread and forced over two
/// (threshold 0).
fn split_cost_of(c: &mut Criterion, name: &str, logs: &[u32], kernel: fn(usize) -> String) {
    let mut g = c.benchmark_group(name);
    for &log in logs {
        let n = 1usize << log;
        let k = jit(&kernel(n));
        let (a, b) = (tensor(&[n], 1), tensor(&[n], 2));
        let mut outs = k.run(&[&a, &b]).unwrap();
        g.bench_function(format!("2^{log}/one_thread"), |bch| {
            set_threads(1);
            bch.iter(|| k.run_into(&[&a, &b], &mut outs).unwrap())
        });
        g.bench_function(format!("2^{log}/forced_two"), |bch| {
            set_threads(2);
            set_kernel_parallel_work(0);
            bch.iter(|| k.run_into(&[&a, &b], &mut outs).unwrap())
        });
        set_kernel_parallel_work(KERNEL_PARALLEL_WORK);
    }
    g.finish();
    set_threads(0);
}

/// Where splitting starts to pay: an add (the cheapest kernel per byte, so the worst case
/// for a split) of 2^12 to 2^18 elements, and `sigmoid(a) * b` (work weight 11, `split.rs`),
/// which pays at a fraction of the add's size.
fn split_cost(c: &mut Criterion) {
    split_cost_of(c, "split_cost_add", &[12, 14, 15, 16, 17, 18], |n| {
        format!("param %a: f32[{n}]\nparam %b: f32[{n}]\n%2: f32[{n}] = add %a, %b\nreturn %2\n")
    });
    split_cost_of(c, "split_cost_sigmoid_mul", &[12, 13, 14, 15, 16], |n| {
        format!(
            "param %a: f32[{n}]\nparam %b: f32[{n}]\n%2: f32[{n}] = sigmoid %a\n\
             %3: f32[{n}] = mul %2, %b\nreturn %3\n"
        )
    });
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(20)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    targets = kernels, split_cost
}
criterion_main!(benches);
