//! Measured accuracy, special values, vector/scalar agreement and rough throughput of the
//! inline math library (`lazyjit_lowering::codegen::math`).
//!
//! Every kernel is `fn(a: *const T, b: *const T, dst: *mut T, n: i64)`: an `F32X4` loop over
//! `n & !3` elements and a scalar tail loop (or the scalar loop alone), compiled through a
//! `JITModule` exactly as the code generator does. Errors are measured against the `f64`
//! std/libm function of the same input, in ulps of the f32 result.
//!
//! `cargo test --release -p lazyjit-lowering --test math_accuracy -- --nocapture` prints the
//! error table and timings; `-- --ignored exhaustive --nocapture` runs every f32 input.

mod measure;
use measure::*;
mod timing;
mod wide;

use std::time::Instant;

use cranelift_codegen::ir::{condcodes::IntCC, types, AbiParam, InstBuilder, MemFlagsData, Type};
use cranelift_codegen::settings::{self, Configurable};
use cranelift_frontend::{FunctionBuilder, FunctionBuilderContext};
use cranelift_jit::{JITBuilder, JITModule};
use cranelift_module::{default_libcall_names, Linkage, Module};
use lazyjit_lowering::codegen::math::{
    register_symbols, MathEmitter, MathFn, Sites, SINCOS_INLINE_MAX,
};

type Kernel<T> = unsafe extern "C" fn(*const T, *const T, *mut T, i64);

/// What a kernel applies.
#[derive(Clone, Copy, Debug, PartialEq)]
enum F {
    Un(MathFn),
    Pow,
}

const FUNCS: [MathFn; 7] = MathFn::ALL;

fn host_has_fma() -> bool {
    let isa = cranelift_native::builder()
        .unwrap()
        .finish(settings::Flags::new(settings::builder()))
        .unwrap();
    isa.isa_flags()
        .iter()
        .any(|f| f.name == "has_fma" && f.value_string() == "true")
}

/// The fma settings this host can run: always `false`, and `true` if the ISA has it.
fn fma_modes() -> Vec<bool> {
    if host_has_fma() {
        vec![true, false]
    } else {
        vec![false]
    }
}

/// Compiles one kernel. `elem` is `F32` or `F64`; `vector` adds the `F32X4` main loop.
/// Also returns the CLIF text and the VCode disassembly.
fn compile_full<T>(
    elem: Type,
    f: F,
    fma: bool,
    vector: bool,
    opt: &str,
) -> (Kernel<T>, String, String) {
    compile_sites(elem, f, fma, vector, opt, Sites::Inline)
}

/// [`compile_full`] with the math sites emitted as `sites` says.
fn compile_sites<T>(
    elem: Type,
    f: F,
    fma: bool,
    vector: bool,
    opt: &str,
    sites: Sites,
) -> (Kernel<T>, String, String) {
    let mut fb = settings::builder();
    fb.set("opt_level", opt).unwrap();
    fb.set("enable_verifier", "true").unwrap();
    let isa = cranelift_native::builder()
        .unwrap()
        .finish(settings::Flags::new(fb))
        .unwrap();
    let mut jb = JITBuilder::with_isa(isa, default_libcall_names());
    register_symbols(&mut jb);
    let mut module = JITModule::new(jb);
    let ptr = module.target_config().pointer_type();
    let mut ctx = module.make_context();
    for _ in 0..3 {
        ctx.func.signature.params.push(AbiParam::new(ptr));
    }
    ctx.func.signature.params.push(AbiParam::new(types::I64));
    let id = module
        .declare_function("k", Linkage::Export, &ctx.func.signature)
        .unwrap();
    let tcfg = module.target_config();
    let mut fctx = FunctionBuilderContext::new();
    let esize: i64 = if elem == types::F64 { 8 } else { 4 };
    let esh = esize.trailing_zeros() as i64;
    {
        let mut math = MathEmitter::new(&mut module, fma).sites_as(sites);
        let mut b = FunctionBuilder::new(&mut ctx.func, &mut fctx);
        let body = |b: &mut FunctionBuilder,
                    math: &mut MathEmitter<JITModule>,
                    ty: Type,
                    pa,
                    pb,
                    pd,
                    i| {
            let fl = MemFlagsData::new().with_notrap();
            let off = b.ins().ishl_imm_u(i, esh);
            let aa = b.ins().iadd(pa, off);
            let x = b.ins().load(ty, fl, aa, 0);
            let r = match f {
                F::Un(op) => math.unary(b, op, ty, x),
                F::Pow => {
                    let ab = b.ins().iadd(pb, off);
                    let y = b.ins().load(ty, fl, ab, 0);
                    math.pow(b, ty, x, y)
                }
            };
            let ad = b.ins().iadd(pd, off);
            b.ins().store(fl, r, ad, 0);
        };
        let entry = b.create_block();
        let tail = b.create_block();
        let sloop = b.create_block();
        let exit = b.create_block();
        b.append_block_params_for_function_params(entry);
        let t0 = b.append_block_param(tail, types::I64);
        let j = b.append_block_param(sloop, types::I64);
        b.switch_to_block(entry);
        let p = b.block_params(entry).to_vec();
        let (pa, pb, pd, n) = (p[0], p[1], p[2], p[3]);
        let zero = b.ins().iconst(types::I64, 0);
        if vector {
            let vloop = b.create_block();
            let i = b.append_block_param(vloop, types::I64);
            let nvec = b.ins().band_imm_s(n, -4);
            let any = b.ins().icmp_imm_s(IntCC::SignedGreaterThan, nvec, 0);
            b.ins()
                .brif(any, vloop, &[zero.into()], tail, &[zero.into()]);
            b.switch_to_block(vloop);
            body(&mut b, &mut math, types::F32X4, pa, pb, pd, i);
            let inext = b.ins().iadd_imm_s(i, 4);
            let more = b.ins().icmp(IntCC::SignedLessThan, inext, nvec);
            b.ins()
                .brif(more, vloop, &[inext.into()], tail, &[inext.into()]);
        } else {
            b.ins().jump(tail, &[zero.into()]);
        }
        b.switch_to_block(tail);
        let has = b.ins().icmp(IntCC::SignedLessThan, t0, n);
        b.ins().brif(has, sloop, &[t0.into()], exit, &[]);
        b.switch_to_block(sloop);
        body(&mut b, &mut math, elem, pa, pb, pd, j);
        let jn = b.ins().iadd_imm_s(j, 1);
        let more = b.ins().icmp(IntCC::SignedLessThan, jn, n);
        b.ins().brif(more, sloop, &[jn.into()], exit, &[]);
        b.switch_to_block(exit);
        b.ins().return_(&[]);
        b.seal_all_blocks();
        b.finalize(tcfg);
    }
    let clif = ctx.func.display().to_string();
    ctx.set_disasm(true);
    if let Err(e) = module.define_function(id, &mut ctx) {
        if let cranelift_module::ModuleError::Compilation(
            cranelift_codegen::CodegenError::Verifier(errs),
        ) = &e
        {
            panic!(
                "{}",
                cranelift_codegen::print_errors::pretty_verifier_error(
                    &ctx.func,
                    None,
                    errs.clone()
                )
            );
        }
        panic!("{e:?}");
    }
    let vcode = ctx
        .compiled_code()
        .and_then(|c| c.vcode.clone())
        .unwrap_or_default();
    module.clear_context(&mut ctx);
    module.finalize_definitions().unwrap();
    let code = module.get_finalized_function(id);
    // Dropping the module leaks its code pages on purpose, so the pointer stays valid.
    let k = unsafe { std::mem::transmute::<*const u8, Kernel<T>>(code) };
    (k, clif, vcode)
}

fn compile<T>(elem: Type, f: F, fma: bool, vector: bool) -> Kernel<T> {
    compile_full(elem, f, fma, vector, "speed").0
}

fn run<T: Copy + Default>(k: Kernel<T>, a: &[T], b: Option<&[T]>) -> Vec<T> {
    let mut out = vec![T::default(); a.len()];
    let bp = b.map_or(a.as_ptr(), |b| {
        assert_eq!(b.len(), a.len());
        b.as_ptr()
    });
    unsafe { k(a.as_ptr(), bp, out.as_mut_ptr(), a.len() as i64) };
    out
}

#[test]
fn accuracy_sweeps() {
    println!(
        "\n{:<8} {:<5} {:<20} {:>9} {:>9} {:>14} {:>10} {:>11}",
        "fn", "fma", "range", "points", "max ulp", "at x", "max abs", "std f32 ulp"
    );
    for fma in fma_modes() {
        for op in FUNCS {
            let xs = sweep_inputs(op);
            let k = compile::<f32>(types::F32, F::Un(op), fma, true);
            let got = run(k, &xs, None);
            let st = evaluate(op, &xs, &got);
            let mut std_st = [Stat::default(); 4];
            for &x in &xs {
                let (c, _) = class(op, x);
                std_st[c].add(x, std_f32(op, x), reference(op, x));
            }
            for (c, s) in st.iter().enumerate() {
                if s.n > 0 {
                    println!(
                        "{:<8} {:<5} {:<20} {:>9} {:>9.3} {:>14.6e} {:>10.3e} {:>11.3}",
                        op.name(),
                        fma,
                        class_label(op, c),
                        s.n,
                        s.max_ulp,
                        s.at_ulp,
                        s.max_abs,
                        std_st[c].max_ulp
                    );
                }
            }
            check_bounds(op, fma, &st, &xs, &got);
        }
    }
}

/// A vector lane and a scalar element get bit-identical results (NaN payloads included).
#[test]
fn vector_and_scalar_are_bit_identical() {
    for fma in fma_modes() {
        for op in FUNCS {
            let xs = sweep_inputs(op);
            let kv = compile::<f32>(types::F32, F::Un(op), fma, true);
            let ks = compile::<f32>(types::F32, F::Un(op), fma, false);
            let gv = run(kv, &xs, None);
            let gs = run(ks, &xs, None);
            for ((x, v), s) in xs.iter().zip(&gv).zip(&gs) {
                assert_eq!(
                    v.to_bits(),
                    s.to_bits(),
                    "{op:?} fma={fma} x={x:e} ({:#x}): vector {v:e} ({:#x}) scalar {s:e} ({:#x})",
                    x.to_bits(),
                    v.to_bits(),
                    s.to_bits()
                );
            }
        }
    }
}

/// The out-of-line copies (called by kernels with many math sites) give the inline code's
/// bits: vector loop and scalar tail, specials and huge sin/cos arguments included.
#[test]
fn out_of_line_is_bit_identical_to_inline() {
    let fma = host_has_fma();
    for op in FUNCS {
        let mut xs = sweep_inputs(op);
        xs.extend([
            f32::NAN,
            -f32::NAN,
            f32::INFINITY,
            f32::NEG_INFINITY,
            0.0,
            -0.0,
            1e-40,
            -1e-45,
            1e6,
            -3e9,
            88.8,
            -104.0,
            f32::MAX,
        ]);
        // A length that leaves a scalar tail.
        while xs.len() % 4 != 3 {
            xs.push(0.5);
        }
        let (ki, _, _) =
            compile_sites::<f32>(types::F32, F::Un(op), fma, true, "speed", Sites::Inline);
        let (ko, clif, _) =
            compile_sites::<f32>(types::F32, F::Un(op), fma, true, "speed", Sites::OutOfLine);
        assert_eq!(clif.matches("call_indirect").count(), 2, "{op:?}:\n{clif}");
        let gi = run(ki, &xs, None);
        let go = run(ko, &xs, None);
        for ((x, i), o) in xs.iter().zip(&gi).zip(&go) {
            assert_eq!(
                i.to_bits(),
                o.to_bits(),
                "{op:?} fma={fma} x={x:e} ({:#x}): inline {i:e} out of line {o:e}",
                x.to_bits()
            );
        }
    }
}

/// Exact special values, through both the vector loop and the scalar tail.
#[test]
fn special_values() {
    use MathFn::*;
    let inf = f32::INFINITY;
    let nan = f32::NAN;
    let tiny = f32::from_bits(1);
    #[rustfmt::skip]
    let cases: Vec<(MathFn, f32, f32)> = vec![
        (Exp, nan, nan), (Exp, inf, inf), (Exp, -inf, 0.0), (Exp, 0.0, 1.0), (Exp, -0.0, 1.0),
        (Exp, 88.8, inf), (Exp, 89.0, inf), (Exp, 1e30, inf), (Exp, f32::MAX, inf),
        (Exp, -104.0, 0.0), (Exp, -110.0, 0.0), (Exp, -1e30, 0.0), (Exp, -f32::MAX, 0.0),
        (Exp, tiny, 1.0), (Exp, -tiny, 1.0),
        (Log, nan, nan), (Log, 0.0, -inf), (Log, -0.0, -inf), (Log, -1.0, nan), (Log, -tiny, nan),
        (Log, -inf, nan), (Log, inf, inf), (Log, 1.0, 0.0),
        (Tanh, nan, nan), (Tanh, inf, 1.0), (Tanh, -inf, -1.0), (Tanh, 0.0, 0.0), (Tanh, -0.0, -0.0),
        (Tanh, 10.0, 1.0), (Tanh, -10.0, -1.0), (Tanh, 100.0, 1.0), (Tanh, f32::MAX, 1.0),
        (Tanh, tiny, tiny), (Tanh, -tiny, -tiny), (Tanh, 1e-30, 1e-30),
        (Sigmoid, nan, nan), (Sigmoid, inf, 1.0), (Sigmoid, -inf, 0.0), (Sigmoid, 0.0, 0.5),
        (Sigmoid, -0.0, 0.5), (Sigmoid, 20.0, 1.0), (Sigmoid, 100.0, 1.0), (Sigmoid, -200.0, 0.0),
        (Sigmoid, f32::MAX, 1.0), (Sigmoid, -f32::MAX, 0.0),
        (Erf, nan, nan), (Erf, inf, 1.0), (Erf, -inf, -1.0), (Erf, 0.0, 0.0), (Erf, -0.0, -0.0),
        (Erf, 4.0, 1.0), (Erf, -4.0, -1.0), (Erf, 10.0, 1.0), (Erf, f32::MAX, 1.0),
        (Sin, nan, nan), (Sin, inf, nan), (Sin, -inf, nan), (Sin, 0.0, 0.0), (Sin, -0.0, -0.0),
        (Sin, tiny, tiny), (Sin, -tiny, -tiny), (Sin, 1e-30, 1e-30),
        (Cos, nan, nan), (Cos, inf, nan), (Cos, -inf, nan), (Cos, 0.0, 1.0), (Cos, -0.0, 1.0),
        (Cos, tiny, 1.0),
    ];
    for fma in fma_modes() {
        for op in FUNCS {
            let mine: Vec<&(MathFn, f32, f32)> = cases.iter().filter(|c| c.0 == op).collect();
            let xs: Vec<f32> = mine.iter().map(|c| c.1).collect();
            for vector in [true, false] {
                let k = compile::<f32>(types::F32, F::Un(op), fma, vector);
                let got = run(k, &xs, None);
                for (c, g) in mine.iter().zip(&got) {
                    let ok = if c.2.is_nan() {
                        g.is_nan()
                    } else {
                        g.to_bits() == c.2.to_bits()
                    };
                    assert!(
                        ok,
                        "{op:?}({:e}) = {g:e}, expected {:e} (fma={fma}, vector={vector})",
                        c.1, c.2
                    );
                }
            }
        }
    }
    // exact subnormal and relative-accuracy spot checks
    let k = compile::<f32>(types::F32, F::Un(Exp), host_has_fma(), true);
    let got = run(k, &[-100.0, -103.0, -88.0, -87.5], None);
    for (x, g) in [-100.0f32, -103.0, -88.0, -87.5].iter().zip(&got) {
        assert!(ulp_err(*g, (*x as f64).exp()) <= 1.0, "exp({x}) = {g:e}");
        assert!(*g > 0.0);
    }
    let k = compile::<f32>(types::F32, F::Un(Sigmoid), host_has_fma(), true);
    let got = run(k, &[-80.0, -90.0, -100.0, -103.0], None);
    for (x, g) in [-80.0f32, -90.0, -100.0, -103.0].iter().zip(&got) {
        assert!(
            ulp_err(*g, reference(Sigmoid, *x)) <= 2.0,
            "sigmoid({x}) = {g:e}"
        );
    }
    assert!((got[0] / 1.804_851_4e-35 - 1.0).abs() < 1e-6, "{}", got[0]);
    let k = compile::<f32>(types::F32, F::Un(Log), host_has_fma(), true);
    let sub = [
        f32::from_bits(1),
        f32::from_bits(0x1234),
        f32::from_bits(0x007f_ffff),
    ];
    let got = run(k, &sub, None);
    for (x, g) in sub.iter().zip(&got) {
        assert!(ulp_err(*g, (*x as f64).ln()) <= 1.0, "log({x:e}) = {g:e}");
    }
}

/// Tails of every length: correct values, nothing written past `n`.
#[test]
fn tails_and_lengths() {
    for op in [MathFn::Exp, MathFn::Sin] {
        let k = compile::<f32>(types::F32, F::Un(op), host_has_fma(), true);
        for n in 0..13usize {
            let xs: Vec<f32> = (0..n + 3).map(|i| i as f32 * 0.37 - 1.0).collect();
            let mut out = vec![-7.0f32; n + 3];
            unsafe { k(xs.as_ptr(), xs.as_ptr(), out.as_mut_ptr(), n as i64) };
            for i in 0..n {
                let r = reference(op, xs[i]);
                let ok = match op {
                    MathFn::Sin => (out[i] as f64 - r).abs() <= 1.5e-7,
                    _ => ulp_err(out[i], r) <= 2.0,
                };
                assert!(ok, "{op:?}({}) = {}", xs[i], out[i]);
            }
            assert!(
                out[n..].iter().all(|&v| v == -7.0),
                "{op:?} n={n} wrote past n"
            );
        }
    }
}

/// sin/cos lanes above 1e5 take the shim; lanes of the same vector below stay inline.
#[test]
fn sincos_huge_fallback_is_per_lane() {
    for op in [MathFn::Sin, MathFn::Cos] {
        let xs = [3.0f32, 2e5, -1e9, 7.0, f32::MAX, 1.0, -0.5, 1e38, 5e4];
        let kv = compile::<f32>(types::F32, F::Un(op), host_has_fma(), true);
        let ks = compile::<f32>(types::F32, F::Un(op), host_has_fma(), false);
        let gv = run(kv, &xs, None);
        let gs = run(ks, &xs, None);
        for i in 0..xs.len() {
            assert_eq!(gv[i].to_bits(), gs[i].to_bits(), "{op:?}({})", xs[i]);
            let r = reference(op, xs[i]);
            if xs[i].abs() > SINCOS_INLINE_MAX {
                assert_eq!(gv[i], r as f32, "{op:?}({}) via shim", xs[i]);
            } else {
                assert!((gv[i] as f64 - r).abs() < 1.5e-7, "{op:?}({})", xs[i]);
            }
        }
    }
}

/// `F32X4` math is inline: the only calls are the sin/cos fallback in a cold block.
#[test]
fn f32_paths_are_inline() {
    for op in FUNCS {
        let (_, clif, vcode) =
            compile_full::<f32>(types::F32, F::Un(op), host_has_fma(), true, "speed");
        let calls = clif.matches(" call ").count();
        let expect = if matches!(op, MathFn::Sin | MathFn::Cos) {
            5 // 4 lanes + 1 scalar, both in cold blocks
        } else {
            0
        };
        assert_eq!(calls, expect, "{op:?}:\n{clif}");
        // no IEEE fmax/fmin sequences; clamps are maxps/minps
        assert!(!clif.contains("fmax") && !clif.contains("fmin"), "{op:?}");
        if matches!(op, MathFn::Exp | MathFn::Tanh | MathFn::Sigmoid) {
            assert!(
                vcode.contains("maxps") && vcode.contains("minps"),
                "{op:?}:\n{vcode}"
            );
        }
        if host_has_fma() {
            assert!(vcode.contains("vfmadd"), "{op:?}");
            assert!(!vcode.contains("fmaf"), "{op:?}");
        }
    }
}

/// `F64` goes through the shims: bit-equal to the std/libm function.
#[test]
fn f64_paths_match_std() {
    let mut xs: Vec<f64> = specials().iter().map(|&x| x as f64).collect();
    xs.extend((0..4096).map(|i| (i as f64 - 2048.0) * 0.061_3));
    xs.extend([-800.0, -720.0, -709.0, 709.0, 710.0, 1e300, -1e300]);
    for op in FUNCS {
        let k = compile::<f64>(types::F64, F::Un(op), host_has_fma(), false);
        let got = run(k, &xs, None);
        for (&x, &g) in xs.iter().zip(&got) {
            let r = match op {
                MathFn::Exp => x.exp(),
                MathFn::Log => x.ln(),
                MathFn::Tanh => x.tanh(),
                MathFn::Sigmoid => {
                    if x < 0.0 {
                        x.exp() / (1.0 + x.exp())
                    } else {
                        1.0 / (1.0 + (-x).exp())
                    }
                }
                MathFn::Erf => libm::erf(x),
                MathFn::Sin => x.sin(),
                MathFn::Cos => x.cos(),
            };
            assert!(
                g.to_bits() == r.to_bits() || (g.is_nan() && r.is_nan()),
                "{op:?}({x:e}) = {g:e}, std {r:e}"
            );
        }
    }
    let k = compile::<f64>(types::F64, F::Un(MathFn::Sigmoid), false, false);
    let got = run(k, &[-720.0, -80.0, f64::INFINITY, f64::NEG_INFINITY], None);
    assert!(got[0] > 0.0 && got[0] < 1e-310, "{}", got[0]);
    assert!((got[1] / 1.804_851_387_845_415e-35 - 1.0).abs() < 1e-14);
    assert_eq!(&got[2..], &[1.0, 0.0]);
}

/// `pow` for F32 (vector + tail, per-lane calls), F32 scalar-only and F64.
#[test]
fn pow_paths() {
    let mut xs = Vec::new();
    let mut ys = Vec::new();
    let base = [
        0.0f32,
        -0.0,
        1.0,
        -1.0,
        2.0,
        -8.0,
        0.5,
        10.0,
        f32::INFINITY,
        f32::NEG_INFINITY,
        f32::NAN,
        1e-3,
        3.7,
    ];
    let exps = [
        0.0f32,
        -0.0,
        1.0,
        2.0,
        0.5,
        -1.0,
        1.0 / 3.0,
        3.0,
        -2.5,
        f32::INFINITY,
        f32::NEG_INFINITY,
        f32::NAN,
        100.0,
    ];
    for &x in &base {
        for &y in &exps {
            xs.push(x);
            ys.push(y);
        }
    }
    for fma in fma_modes() {
        for vector in [true, false] {
            let k = compile::<f32>(types::F32, F::Pow, fma, vector);
            let got = run(k, &xs, Some(&ys));
            for i in 0..xs.len() {
                let r = xs[i].powf(ys[i]);
                assert!(
                    got[i].to_bits() == r.to_bits() || (got[i].is_nan() && r.is_nan()),
                    "pow({}, {}) = {}, std {r}",
                    xs[i],
                    ys[i],
                    got[i]
                );
            }
        }
    }
    let x64: Vec<f64> = xs.iter().map(|&x| x as f64).collect();
    let y64: Vec<f64> = ys.iter().map(|&x| x as f64).collect();
    let k = compile::<f64>(types::F64, F::Pow, host_has_fma(), false);
    let got = run(k, &x64, Some(&y64));
    for i in 0..x64.len() {
        let r = x64[i].powf(y64[i]);
        assert!(got[i].to_bits() == r.to_bits() || (got[i].is_nan() && r.is_nan()));
    }
}
