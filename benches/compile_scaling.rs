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
use lazyjit::lowering::{text, BinaryOp, DType, Op, Program, Shape, TensorType, UnaryOp};
use std::time::Duration;

const SIZES: [usize; 3] = [1_000, 4_000, 16_000];

fn f32t(dims: &[usize]) -> TensorType {
    TensorType::new(DType::F32, Shape::from(dims))
}

fn scalar_params(n: usize) -> Program {
    let mut p = Program::new();
    let x = p.param("x", f32t(&[1024]));
    let ps: Vec<_> = (0..n)
        .map(|i| p.param(format!("p{i}"), f32t(&[])))
        .collect();
    let mut acc = x;
    for s in ps {
        acc = p.push(Op::Binary(BinaryOp::Mul), &[acc, s]).unwrap();
    }
    p.output(acc);
    p
}

fn concat(n: usize) -> Program {
    let mut p = Program::new();
    let ps: Vec<_> = (0..n)
        .map(|i| p.param(format!("p{i}"), f32t(&[4])))
        .collect();
    let c = p.push(Op::Concat { axis: 0 }, &ps).unwrap();
    p.output(c);
    p
}

fn chain(n: usize) -> Program {
    let mut p = Program::new();
    let x = p.param("x", f32t(&[1024]));
    let y = p.param("y", f32t(&[1024]));
    let mut acc = x;
    for i in 0..n {
        acc = match i % 4 {
            0 => p.push(Op::Binary(BinaryOp::Add), &[acc, y]),
            1 => p.push(Op::Unary(UnaryOp::Neg), &[acc]),
            2 => p.push(Op::Binary(BinaryOp::Mul), &[acc, y]),
            _ => p.push(Op::Unary(UnaryOp::Abs), &[acc]),
        }
        .unwrap();
    }
    p.output(acc);
    p
}

fn scaling(c: &mut Criterion) {
    let opts = CompileOptions {
        opt_level: OptLevel::Speed,
        verify_clif: false,
        keep_clif: false,
        keep_disasm: false,
    };
    type Shape = (&'static str, fn(usize) -> Program);
    let shapes: [Shape; 3] = [
        ("scalar_params", scalar_params),
        ("concat", concat),
        ("chain", chain),
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
