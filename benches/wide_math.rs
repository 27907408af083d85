//! The wide (AVX2 / AVX-512) math functions against the JIT's `F32X4` loop: ns/element of
//! `exp`, `log`, `tanh`, `sigmoid`, `erf` on 4096 cache-resident f32, in the same run.
//!
//! Every variant works in place on one 4096-float buffer that is refilled from the inputs
//! before each call (the `copy` row is that refill alone), so all variants do the same memory
//! work: `jit_f32x4` is a Cranelift loop `x[i..i+4] = f(x[i..i+4])` built as
//! `lowering/tests/math_accuracy` builds its kernels (`MathEmitter::unary`, `opt_level=speed`,
//! the host's fma); `wide_avx2` / `wide_avx512` are `wide_fn_at` at that level and fma.
//! Run: `cargo bench --bench wide_math` (figures in docs/math.md, "Wide functions").

use cranelift_codegen::ir::{condcodes::IntCC, types, AbiParam, InstBuilder, MemFlagsData};
use cranelift_codegen::settings::{self, Configurable};
use cranelift_frontend::{FunctionBuilder, FunctionBuilderContext};
use cranelift_jit::{JITBuilder, JITModule};
use cranelift_module::{default_libcall_names, Linkage, Module};
use criterion::{black_box, criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use lazyjit::lowering::codegen::math::{
    register_symbols, wide_fn_at, MathEmitter, MathFn, WideLevel,
};
use std::time::Duration;

/// `fn(x: *mut f32, n: usize)`: the JIT loop, in place.
type Kernel = unsafe extern "C" fn(*mut f32, usize);

const N: usize = 4096;

fn host_fma() -> bool {
    let isa = cranelift_native::builder()
        .unwrap()
        .finish(settings::Flags::new(settings::builder()))
        .unwrap();
    isa.isa_flags()
        .iter()
        .any(|f| f.name == "has_fma" && f.value_string() == "true")
}

/// The JIT loop `x[i..i + 4] = f(x[i..i + 4])` for `i < n` (`n` a positive multiple of 4).
fn jit_f32x4(f: MathFn, fma: bool) -> Kernel {
    let mut fb = settings::builder();
    fb.set("opt_level", "speed").unwrap();
    let isa = cranelift_native::builder()
        .unwrap()
        .finish(settings::Flags::new(fb))
        .unwrap();
    let mut jb = JITBuilder::with_isa(isa, default_libcall_names());
    register_symbols(&mut jb);
    let mut module = JITModule::new(jb);
    let ptr = module.target_config().pointer_type();
    let mut ctx = module.make_context();
    ctx.func.signature.params.push(AbiParam::new(ptr));
    ctx.func.signature.params.push(AbiParam::new(types::I64));
    let id = module
        .declare_function("k", Linkage::Export, &ctx.func.signature)
        .unwrap();
    let tcfg = module.target_config();
    let mut fctx = FunctionBuilderContext::new();
    {
        let mut math = MathEmitter::new(&mut module, fma);
        let mut b = FunctionBuilder::new(&mut ctx.func, &mut fctx);
        let entry = b.create_block();
        let body = b.create_block();
        let exit = b.create_block();
        b.append_block_params_for_function_params(entry);
        let i = b.append_block_param(body, types::I64);
        b.switch_to_block(entry);
        let (px, n) = (b.block_params(entry)[0], b.block_params(entry)[1]);
        let zero = b.ins().iconst(types::I64, 0);
        b.ins().jump(body, &[zero.into()]);
        b.switch_to_block(body);
        let fl = MemFlagsData::new().with_notrap();
        let off = b.ins().ishl_imm_u(i, 2);
        let a = b.ins().iadd(px, off);
        let x = b.ins().load(types::F32X4, fl, a, 0);
        let r = math.unary(&mut b, f, types::F32X4, x);
        b.ins().store(fl, r, a, 0);
        let next = b.ins().iadd_imm_s(i, 4);
        let more = b.ins().icmp(IntCC::UnsignedLessThan, next, n);
        b.ins().brif(more, body, &[next.into()], exit, &[]);
        b.switch_to_block(exit);
        b.ins().return_(&[]);
        b.seal_all_blocks();
        b.finalize(tcfg);
    }
    module.define_function(id, &mut ctx).unwrap();
    module.clear_context(&mut ctx);
    module.finalize_definitions().unwrap();
    let code = module.get_finalized_function(id);
    // The module is leaked on purpose (never dropped), so the code stays valid.
    std::mem::forget(module);
    // SAFETY: the function was declared with the signature (pointer, i64) -> ().
    unsafe { std::mem::transmute::<*const u8, Kernel>(code) }
}

fn inputs(f: MathFn) -> Vec<f32> {
    let (lo, hi) = match f {
        MathFn::Exp => (-80.0f32, 80.0f32),
        MathFn::Log => (1e-6, 1e6),
        _ => (-8.0, 8.0),
    };
    (0..N)
        .map(|i| lo + (hi - lo) * (i as f32 / (N - 1) as f32))
        .collect()
}

fn wide_math(c: &mut Criterion) {
    let fma = host_fma();
    let mut g = c.benchmark_group("wide_math");
    g.throughput(Throughput::Elements(N as u64));
    g.warm_up_time(Duration::from_millis(500));
    g.measurement_time(Duration::from_secs(2));
    let mut buf = vec![0f32; N];
    {
        let xs = inputs(MathFn::Exp);
        g.bench_function("copy", |bch| {
            bch.iter(|| buf.copy_from_slice(black_box(&xs)));
        });
    }
    for f in [
        MathFn::Exp,
        MathFn::Log,
        MathFn::Tanh,
        MathFn::Sigmoid,
        MathFn::Erf,
    ] {
        let xs = inputs(f);
        let jit = jit_f32x4(f, fma);
        g.bench_function(BenchmarkId::new(f.name(), "jit_f32x4"), |bch| {
            bch.iter(|| {
                buf.copy_from_slice(black_box(&xs));
                // SAFETY: buf holds N floats (a multiple of 4); `jit` loops over N floats.
                unsafe { jit(buf.as_mut_ptr(), N) };
                black_box(&buf);
            });
        });
        for (name, level) in [
            ("wide_avx2", WideLevel::Avx2),
            ("wide_avx512", WideLevel::Avx512),
        ] {
            let Some(k) = wide_fn_at(f, fma, level) else {
                continue;
            };
            g.bench_function(BenchmarkId::new(f.name(), name), |bch| {
                bch.iter(|| {
                    buf.copy_from_slice(black_box(&xs));
                    // SAFETY: buf holds N floats, updated in place; the host supports `k`.
                    unsafe { k(buf.as_ptr(), buf.as_mut_ptr(), N, 1.0, -0.0) };
                    black_box(&buf);
                });
            });
        }
    }
    g.finish();
}

criterion_group!(benches, wide_math);
criterion_main!(benches);
