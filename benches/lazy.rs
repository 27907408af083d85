//! Benchmarks of the lazy-tensor front end (issue 3): what the executor adds on top of the
//! compiled code.
//!
//! - `tiny_dispatch`: `y = a + b` on 16 f32 elements, the full round trip (trace, hash,
//!   cache hit, run, read back) and its pieces, against `Compiled::run` of the same program
//!   called directly and a plain Rust loop.
//!   The same `a + b` as a compiled function (`lazyjit::compile`, issue 10): `compiled_fn_*`
//!   against `lowering_direct_run_into` (preallocated output) and `lowering_direct_run` (fresh
//!   output).
//! - `trace_1000`: recording a 1,000-op elementwise chain (no sync), per op.
//! - `ew_fused_lazy`, `softmax_lazy`: the workloads of `benches/lowering.rs` driven through
//!   `LazyTensor` in steady state (graph built every iteration, synced — a cache hit — and
//!   dropped), and through a `CompiledFn` of the same closure (`compiled_fn_call_into`),
//!   against `Compiled::run` of the same program (`lowering_direct`), which is built from the
//!   lazy graph itself so all run identical code.
//!
//! Automatic graph trimming is disabled (`trim_graph_depth = usize::MAX`) so that no
//! measurement can include a trim sync. The 1,000-op chains stay far below the default depth
//! of 10,000 anyway, so this changes nothing today; it keeps the figures comparable if the
//! trimming rule changes again.
//!
//! Run: `cargo bench --bench lazy` (figures recorded in BENCHMARKS.md).

use criterion::{black_box, criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use lazyjit::ir::{Node, NodeKind};
use lazyjit::lowering::codegen::{compile, CompileOptions, Compiled};
use lazyjit::lowering::{Inst, Param, Program, Tensor, ValueId};
use lazyjit::{config, LazyTensor};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

mod common;
use common::seq;

fn lazy(shape: &[usize], seed: u32) -> LazyTensor {
    let n = shape.iter().product();
    LazyTensor::from_vec(seq(n, seed), shape).unwrap()
}

/// The program syncing `roots` runs, rebuilt from the public IR the same way the executor
/// walks it (post order, parameters in first-use order), with the device data of each
/// parameter. Lets the `lowering_direct` baselines run exactly the code the lazy path runs.
fn program_of(roots: &[&LazyTensor]) -> (Program, Vec<Arc<Tensor>>) {
    fn visit(
        n: &Arc<Node>,
        p: &mut Program,
        data: &mut Vec<Arc<Tensor>>,
        ids: &mut HashMap<*const Node, ValueId>,
        params: &mut Vec<ValueId>,
        insts: &mut Vec<(Inst, *const Node)>,
    ) {
        if ids.contains_key(&Arc::as_ptr(n)) {
            return;
        }
        if let Some(d) = n.data() {
            // Parameters are numbered after the walk (first-use order); tag them for now.
            let id = ValueId(u32::MAX - params.len() as u32);
            params.push(id);
            data.push(d.clone());
            p.params.push(Param {
                name: format!("p{}", params.len() - 1),
                ty: n.ty().clone(),
            });
            ids.insert(Arc::as_ptr(n), id);
            return;
        }
        for o in n.operands() {
            visit(o, p, data, ids, params, insts);
        }
        let op = match n.kind() {
            NodeKind::Op(op) => op.clone(),
            NodeKind::Data(..) => unreachable!(),
        };
        let args = n.operands().iter().map(|o| ids[&Arc::as_ptr(o)]).collect();
        let id = ValueId(insts.len() as u32);
        insts.push((
            Inst {
                op,
                args,
                ty: n.ty().clone(),
            },
            Arc::as_ptr(n),
        ));
        ids.insert(Arc::as_ptr(n), id);
    }
    let (mut p, mut data, mut ids, mut params, mut insts) = (
        Program::new(),
        Vec::new(),
        HashMap::new(),
        Vec::new(),
        Vec::new(),
    );
    let nodes: Vec<Arc<Node>> = roots.iter().map(|t| t.ir_node()).collect();
    for n in &nodes {
        visit(n, &mut p, &mut data, &mut ids, &mut params, &mut insts);
    }
    let np = params.len() as u32;
    let fix = |v: ValueId| {
        if v.0 > u32::MAX - np {
            ValueId(u32::MAX - v.0)
        } else {
            ValueId(v.0 + np)
        }
    };
    p.insts = insts
        .into_iter()
        .map(|(mut i, _)| {
            i.args = i.args.into_iter().map(fix).collect();
            i
        })
        .collect();
    p.outputs = nodes.iter().map(|n| fix(ids[&Arc::as_ptr(n)])).collect();
    (p, data)
}

fn jit(p: &Program) -> Compiled {
    compile(p, &CompileOptions::default()).unwrap()
}

fn tiny_dispatch(c: &mut Criterion) {
    let a = lazy(&[16], 1);
    let b = lazy(&[16], 2);
    // Warm the cache: compile once.
    let y = a.add(&b).unwrap();
    let (prog, data) = program_of(&[&y]);
    assert_eq!(y.to_vec::<f32>().unwrap().len(), 16);
    assert!(lazyjit::last_sync().unwrap().cache_hit || lazyjit::cache_len() > 0);
    drop(y);

    let mut g = c.benchmark_group("tiny_dispatch");
    g.throughput(Throughput::Elements(1));
    g.bench_function("round_trip", |bch| {
        bch.iter(|| {
            let y = &a + &b;
            black_box(y.to_vec::<f32>().unwrap())
        })
    });
    let y = a.add(&b).unwrap();
    y.to_vec::<f32>().unwrap();
    assert!(
        lazyjit::last_sync().unwrap().cache_hit,
        "steady state is a cache hit"
    );
    drop(y);
    // The pieces. Batched benches hand 64 prepared tensors to each timed batch (few enough to
    // stay in cache, many enough to amortise the timer); what they return is dropped outside
    // the timing.
    let batch = BatchSize::NumIterations(64);
    // Recording `a + b` and dropping the pending result.
    g.bench_function("trace_only", |bch| bch.iter(|| drop(black_box(&a + &b))));
    // Recording only (the pending result is dropped outside the timing).
    g.bench_function("trace_without_drop", |bch| {
        bch.iter_with_large_drop(|| &a + &b)
    });
    // The graph hash of a pending tensor (post-order walk, hashing).
    g.bench_function("graph_hash", |bch| {
        bch.iter_batched_ref(|| &a + &b, |y| black_box(lazyjit::graph_hash(&[y])), batch)
    });
    // Sync of a pending tensor (walk, hash, cache hit, run, replace the IR by data), without
    // reading it; the result is dropped outside the timing.
    g.bench_function("sync_no_readback", |bch| {
        bch.iter_batched(
            || &a + &b,
            |y| {
                lazyjit::sync(&[&y]).unwrap();
                y
            },
            batch,
        )
    });
    // Record, sync, drop: the round trip without the read.
    g.bench_function("trace_sync_drop", |bch| {
        bch.iter(|| {
            let y = &a + &b;
            lazyjit::sync(&[&y]).unwrap();
            drop(black_box(y))
        })
    });
    // Reading a computed tensor (`to_vec`: the sync finds nothing pending, then a copy).
    let done = &a + &b;
    lazyjit::sync(&[&done]).unwrap();
    g.bench_function("readback_computed", |bch| {
        bch.iter(|| black_box(done.to_vec::<f32>().unwrap()))
    });
    // Dropping a computed tensor (its handle, data node and buffer).
    g.bench_function("drop_computed", |bch| {
        bch.iter_batched(
            || {
                let y = &a + &b;
                lazyjit::sync(&[&y]).unwrap();
                y
            },
            drop,
            batch,
        )
    });
    let k = jit(&prog);
    let inputs: Vec<&Tensor> = data.iter().map(|t| &**t).collect();
    g.bench_function("lowering_direct_run", |bch| {
        bch.iter(|| black_box(k.run(&inputs).unwrap()))
    });
    let mut outs = k.run(&inputs).unwrap();
    g.bench_function("lowering_direct_run_into", |bch| {
        bch.iter(|| k.run_into(&inputs, &mut outs).unwrap())
    });
    // The same `a + b` as a compiled function, on the same buffers.
    let f = lazyjit::compile(|x: &[LazyTensor]| Ok(vec![x[0].add(&x[1])?]));
    let mut fouts = f.call_tensors(&inputs).unwrap();
    assert_eq!(
        f.versions()[0].graph_hash,
        Some(lazyjit::graph_hash(&[&(&a + &b)]).unwrap())
    );
    g.bench_function("compiled_fn_call_into", |bch| {
        bch.iter(|| f.call_into(&inputs, &mut fouts).unwrap())
    });
    g.bench_function("compiled_fn_call_tensors", |bch| {
        bch.iter(|| black_box(f.call_tensors(&inputs).unwrap()))
    });
    g.bench_function("compiled_fn_call_lazy", |bch| {
        bch.iter(|| black_box(f.call(&[&a, &b]).unwrap()))
    });
    assert_eq!(f.stats().traces, 1);
    let (va, vb) = (seq(16, 1), seq(16, 2));
    let mut vy = [0.0f32; 16];
    g.bench_function("rust_loop", |bch| {
        bch.iter(|| {
            let (x, z) = (black_box(&va), black_box(&vb));
            for i in 0..16 {
                vy[i] = x[i] + z[i];
            }
            black_box(&mut vy);
        })
    });
    g.finish();
}

fn trace_1000(c: &mut Criterion) {
    const OPS: usize = 1000;
    let a = lazy(&[64, 64], 1);
    let b = lazy(&[64, 64], 2);
    let mut g = c.benchmark_group("trace_1000");
    g.throughput(Throughput::Elements(OPS as u64));
    // Tensor-tensor binary ops only.
    g.bench_function("binary_chain", |bch| {
        bch.iter(|| {
            let mut x = a.clone();
            for i in 0..OPS {
                x = if i % 2 == 0 { x.add(&b) } else { x.mul(&b) }.unwrap();
            }
            drop(black_box(x))
        })
    });
    // The same chain with the final drop of the 1,000 pending nodes left out of the timing.
    g.bench_function("binary_chain_without_drop", |bch| {
        bch.iter_with_large_drop(|| {
            let mut x = a.clone();
            for i in 0..OPS {
                x = if i % 2 == 0 { x.add(&b) } else { x.mul(&b) }.unwrap();
            }
            x
        })
    });
    // Unary, binary and Rust-scalar ops (scalars go through the device-data cache).
    g.bench_function("mixed_chain", |bch| {
        bch.iter(|| {
            let mut x = a.clone();
            for i in 0..OPS {
                x = match i % 5 {
                    0 => x.add(&b),
                    1 => x.relu(),
                    2 => x.mul_scalar(0.5f32),
                    3 => x.sub(&a),
                    _ => x.exp(),
                }
                .unwrap();
            }
            drop(black_box(x))
        })
    });
    g.finish();
}

/// Compiles the graph `build` records (first sync), checks that the steady state is a cache
/// hit running the program the baseline runs, then measures `lazy` (build, sync, drop)
/// against `lowering_direct` (`Compiled::run` of the same program on the same device data,
/// allocating its output like a sync does) and `lowering_direct_run_into` (preallocated
/// output, as in benches/lowering.rs).
/// A closure over lazy tensors, as a compiled function takes it.
type Kernel = fn(&[LazyTensor]) -> lazyjit::Result<Vec<LazyTensor>>;

fn lazy_vs_direct(
    c: &mut Criterion,
    group: &str,
    bytes: usize,
    inputs: &[LazyTensor],
    kernel: Kernel,
) {
    let build = || kernel(inputs).unwrap().remove(0);
    let y = build();
    let (prog, data) = program_of(&[&y]);
    lazyjit::sync(&[&y]).unwrap();
    drop(y);
    let y = build();
    lazyjit::sync(&[&y]).unwrap();
    let info = lazyjit::last_sync().unwrap();
    assert!(info.cache_hit, "{group}: steady state must hit the cache");
    assert_eq!(
        (info.nodes, info.params),
        (prog.insts.len(), prog.params.len()),
        "{group}: the baseline must be the lazy graph's program"
    );
    drop(y);
    eprintln!("{group}: program\n{prog}");
    let mut g = c.benchmark_group(group);
    g.throughput(Throughput::Bytes(bytes as u64));
    g.bench_function("lazy", |bch| {
        bch.iter(|| {
            let y = build();
            lazyjit::sync(&[&y]).unwrap();
            drop(black_box(y))
        })
    });
    let k = jit(&prog);
    let inputs: Vec<&Tensor> = data.iter().map(|t| &**t).collect();
    g.bench_function("lowering_direct", |bch| {
        bch.iter(|| drop(black_box(k.run(&inputs).unwrap())))
    });
    let mut outs = k.run(&inputs).unwrap();
    g.bench_function("lowering_direct_run_into", |bch| {
        bch.iter(|| k.run_into(&inputs, &mut outs).unwrap())
    });
    let f = lazyjit::compile(kernel);
    let mut fouts = f.call_tensors(&inputs).unwrap();
    assert_eq!(
        f.versions()[0].graph_hash,
        Some(info.graph_hash),
        "{group}: the same program"
    );
    g.bench_function("compiled_fn_call_into", |bch| {
        bch.iter(|| f.call_into(&inputs, &mut fouts).unwrap())
    });
    g.finish();
}

fn ew_fused_lazy(c: &mut Criterion) {
    let n = 1usize << 22;
    let inputs = [lazy(&[n], 1), lazy(&[n], 2), lazy(&[n], 3)];
    // relu(a*b + c) * 0.5 - a. The 0.5 is a Rust scalar, hence a scalar parameter of the
    // graph (benches/lowering.rs inlines it as a constant).
    let kernel: Kernel = |x| {
        let t = &x[0] * &x[1] + &x[2];
        Ok(vec![t.relu()? * 0.5f32 - &x[0]])
    };
    lazy_vs_direct(c, "ew_fused_lazy", 16 * n, &inputs, kernel);
}

fn softmax_lazy(c: &mut Criterion) {
    let (r, n) = (4096usize, 1024usize);
    // LazyTensor::softmax records the program of benches/lowering.rs: reduce_max, sub, exp,
    // reduce_sum, reciprocal, mul.
    lazy_vs_direct(c, "softmax_lazy", 8 * r * n, &[lazy(&[r, n], 1)], |x| {
        Ok(vec![x[0].softmax(-1)?])
    });
}

fn setup() {
    config::update(|c| c.trim_graph_depth = usize::MAX);
}

fn all(c: &mut Criterion) {
    setup();
    tiny_dispatch(c);
    trace_1000(c);
    ew_fused_lazy(c);
    softmax_lazy(c);
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(30)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    targets = all
}
criterion_main!(benches);
