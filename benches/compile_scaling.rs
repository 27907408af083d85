//! Compile time against program size, for three program shapes at 1k, 4k and 16k
//! instructions:
//! - `scalar_params`: N rank-0 f32 parameters multiplied into an f32[1024] one by one (what a
//!   lazy-tensor trace with a `mul_scalar` per step records: every scalar is a parameter);
//! - `concat`: one concat of N f32[4] parameters;
//! - `chain`: N unary / binary elementwise ops over two f32[1024] parameters.
//!
//! Named baseline, measured in the same run: `parse_verify`, parsing (and so verifying) the
//! same program's text, a linear pass over it. Each benchmark reports its throughput in
//! instructions per second, so compile time is linear in program size when the `compile`
//! throughput stays flat from 1k to 16k (a ratio of 2 per doubling of N), as `parse_verify`'s
//! does; a quadratic cost would quarter it with every quadrupling.
//! Run: `cargo bench --bench compile_scaling`.

use criterion::{black_box, criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use lazyjit::lowering::codegen::{compile, CompileOptions, OptLevel};
use lazyjit::lowering::{text, Program};
// The same programs as the scaling tests of `lowering/tests/empty_and_scaling.rs`.
use lazyjit_lowering::testing::programs::{concat_of, elementwise_chain, scalar_param_chain};
use std::time::Duration;

const SIZES: [usize; 3] = [1_000, 4_000, 16_000];

fn concat(n: usize) -> Program {
    concat_of(n, &[4], 1)
}

fn scaling(c: &mut Criterion) {
    let opts = CompileOptions {
        opt_level: OptLevel::Speed,
        verify_clif: false,
        keep_clif: false,
        keep_disasm: false,
        ..CompileOptions::default()
    };
    type Shape = (&'static str, fn(usize) -> Program);
    let shapes: [Shape; 3] = [
        ("scalar_params", scalar_param_chain),
        ("concat", concat),
        ("chain", elementwise_chain),
    ];
    for (name, make) in shapes {
        let mut g = c.benchmark_group(format!("compile_scaling/{name}"));
        for n in SIZES {
            let p = make(n);
            let src = text::print(&p);
            g.throughput(Throughput::Elements(n as u64));
            g.bench_with_input(BenchmarkId::new("parse_verify", n), &src, |b, s| {
                b.iter(|| black_box(text::parse(s).unwrap()))
            });
            g.bench_with_input(BenchmarkId::new("compile", n), &p, |b, p| {
                b.iter(|| black_box(compile(p, &opts).unwrap()))
            });
        }
        g.finish();
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_secs(2));
    targets = scaling
}
criterion_main!(benches);
