//! The math library the code generator calls to emit transcendental functions.
//!
//! [`MathEmitter::unary`] emits the [`MathFn`]s `exp`, `log`, `tanh`, `sigmoid`, `erf`, `sin`
//! and `cos`;
//! [`MathEmitter::pow`] emits `x^y`.
//!
//! * **`F32` and `F32X4`**: inline polynomial approximations (module `poly`), no call per
//!   element. Each function is written once, generic over the type, so an `F32X4` lane and an
//!   `F32` scalar tail element get **bit-identical** results on one machine (NaN payloads
//!   included). With `has_fma` every multiply-add is one `fma`, otherwise `fmul` + `fadd`; the
//!   two settings round differently, so results may differ between machines, never between the
//!   vector and scalar code of one compilation.
//! * **`F64`** (scalar) and **`pow`** of every type: calls to Rust `extern "C"` shims (std /
//!   `libm`), imported with `Linkage::Import`. [`register_symbols`] must be called on the
//!   `JITBuilder`, or `finalize_definitions` panics on the unresolved symbol. `F32X4` `pow`
//!   calls the `f32` shim once per lane.
//! * `sin`/`cos` of `F32`/`F32X4` with |x| > 1e5 (and ±inf) are also routed to a shim
//!   (`(x as f64).sin() as f32`): the emitted code tests the lanes and branches to a cold block
//!   only when some lane is that large. See "Control flow" below.
//!
//! # Measured accuracy (f32 paths; full table, method and timings in `docs/math.md`)
//!
//! Errors against the `f64` std/libm function of the same f32 input, in ulps of the f32
//! result (subnormal results: 2^-149), over **all 2^32 f32 inputs**, with fma / without fma.
//! `tests/math_accuracy/` asserts the bounds on dense sweeps on every run.
//!
//! | function | range | max error fma / no fma | bound asserted |
//! |---|---|---|---|
//! | exp | all inputs | 1.009 / 0.977 ulp | 1.5 ulp |
//! | log | all inputs | 0.835 / 0.835 ulp | 1 ulp |
//! | tanh | all inputs | 1.332 / 1.332 ulp | 2 ulp |
//! | sigmoid | all inputs | 2.402 / 2.402 ulp | 3 ulp |
//! | erf | all inputs | 1.274 / 1.490 ulp | 2 ulp |
//! | sin, cos | \|x\| <= 1 | 1.162 / 1.162 ulp | 2 ulp |
//! | sin, cos | 1 < \|x\| <= 1e5 | 9.9e-8 / 9.9e-8 absolute | 1.5e-7 absolute |
//! | sin, cos | \|x\| > 1e5 (shim) | 0.5 ulp | 0.51 ulp |
//!
//! Throughput (f32x4 with fma, cache-resident, 2-core Xeon VM): exp ~0.6 ns/element,
//! sigmoid/sin/cos ~0.9, log/tanh/erf ~1.3; see `docs/math.md`.
//!
//! # Special values
//! NaN -> NaN everywhere. `exp(+inf) = +inf`, `exp(x > 88.7228) = +inf`, `exp(-inf) = 0`,
//! subnormal results are rounded correctly (`exp(-100) = 3.72e-44`), 0 below
//! `ln(2^-150) = -103.97`. `log(±0) = -inf`, `log(x < 0) = NaN`, `log(+inf) = +inf`,
//! subnormal inputs are exact-scaled by 2^23 first. `tanh(±inf) = ±1`, `tanh(-0) = -0`;
//! `sigmoid(+inf) = 1`, `sigmoid(-inf) = 0`, `sigmoid(-80) = 1.8e-35` (relative accuracy, and
//! subnormal results); `erf(±inf) = ±1`, exactly odd; `sin(±inf) = cos(±inf) = NaN`,
//! `sin(-0) = -0`. A NaN result is a quiet NaN; its payload and sign are not specified
//! (but are the same for vector and scalar code).
//!
//! # Control flow
//! Everything except `sin`/`cos` of `F32`/`F32X4` is straight-line code in the current block.
//! `sin`/`cos` end with `brif any_huge, cold, join(v)`: they create two blocks, seal both, and
//! return with the builder positioned in the `join` block (a fresh block with one parameter,
//! the result). Callers must not assume they are still in the block they were in before the
//! call; appending further instructions and terminators to the current block is fine, and so
//! are `Variable`s.
//!
//! # Masks
//! Internally conditions are `fcmp` results: an `I32X4` all-ones/zeros mask for `F32X4`
//! (bitcast to `F32X4` before `bitselect`), an `I8` flag for scalars (`select`). Nothing of
//! that is visible at this API: inputs and outputs are plain float values of type `ty`.

mod library;
mod poly;
mod shims;
mod wide;

use std::collections::HashMap;

use cranelift_codegen::ir::{
    types, AbiParam, ExternalName, FuncRef, InstBuilder, MemFlagsData, Type, UserExternalName,
    Value,
};
use cranelift_frontend::FunctionBuilder;
use cranelift_module::{FuncId, Linkage, Module};

use poly::K;

pub use poly::SINCOS_INLINE_MAX;
pub use wide::{
    accumulate, capped_level, parse_wide_cap, wide_affine_fn, wide_affine_fn_at, wide_extremum_fn,
    wide_extremum_fn_at, wide_fn, wide_fn_at, wide_level, ExtremumFn, WideCap, WideFn, WideLevel,
    WIDE_MATH_ENV,
};

/// The functions [`MathEmitter::unary`] emits. The code generator maps the transcendental
/// [`UnaryOp`](crate::op::UnaryOp)s onto them (`emit/arith.rs`); an op composed of them (such
/// as `softplus`) needs nothing here.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum MathFn {
    /// `e^x`.
    Exp,
    /// Natural logarithm.
    Log,
    /// Hyperbolic tangent.
    Tanh,
    /// `1 / (1 + e^-x)`.
    Sigmoid,
    /// The error function.
    Erf,
    /// Sine (radians).
    Sin,
    /// Cosine (radians).
    Cos,
}

impl MathFn {
    /// Every function, in declaration order.
    pub const ALL: [MathFn; 7] = [
        MathFn::Exp,
        MathFn::Log,
        MathFn::Tanh,
        MathFn::Sigmoid,
        MathFn::Erf,
        MathFn::Sin,
        MathFn::Cos,
    ];

    /// The function's name, as the op of the same name is spelled.
    pub const fn name(self) -> &'static str {
        match self {
            MathFn::Exp => "exp",
            MathFn::Log => "log",
            MathFn::Tanh => "tanh",
            MathFn::Sigmoid => "sigmoid",
            MathFn::Erf => "erf",
            MathFn::Sin => "sin",
            MathFn::Cos => "cos",
        }
    }
}

/// How [`MathEmitter::unary`] emits an `F32`/`F32X4` site.
///
/// Out-of-line is all-or-nothing per function on purpose: the constants of an inlined
/// polynomial are hoisted out of the loop, and live across calls they would be spilled
/// around each one. Results are bit-identical either way: both run the same instructions.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Sites {
    /// The approximation's instructions, in place.
    Inline,
    /// A call to the process-wide out-of-line copy of the approximation ([`library`]).
    OutOfLine,
    /// A call to address 0: cheap to emit, for counting the sites of a function that is then
    /// discarded and emitted again. Such a function must never be compiled.
    Count,
}

/// Emits math into the functions being built in one module.
///
/// Shim declarations are cached per module; the `FuncRef` of a shim is looked up in the
/// function being built each time (an import already present in `b.func` is reused), so one
/// emitter may serve several functions in turn. The code generator creates one per function.
pub struct MathEmitter<'m, M: Module> {
    module: &'m mut M,
    has_fma: bool,
    ids: HashMap<&'static str, FuncId>,
    /// How `F32`/`F32X4` sites are emitted.
    sites_as: Sites,
    /// `F32`/`F32X4` [`MathEmitter::unary`] sites emitted so far.
    sites: usize,
    /// Whether [`MathEmitter::wide`] may offer the host's wide functions.
    wide: bool,
}

impl<'m, M: Module> MathEmitter<'m, M> {
    /// `has_fma`: the target ISA has a native fused multiply-add (x64: `has_fma`). Emitting
    /// `fma` without it would become a `fmaf` libcall per lane, so pass `false` then.
    pub fn new(module: &'m mut M, has_fma: bool) -> Self {
        MathEmitter {
            module,
            has_fma,
            ids: HashMap::new(),
            sites_as: Sites::Inline,
            sites: 0,
            wide: true,
        }
    }

    /// How every `F32`/`F32X4` [`MathEmitter::unary`] site is emitted (the default is
    /// [`Sites::Inline`]).
    pub fn sites_as(mut self, how: Sites) -> Self {
        self.sites_as = how;
        self
    }

    /// Whether [`MathEmitter::wide`] may offer the host's wide functions (the default);
    /// without, every site is emitted by [`MathEmitter::unary`].
    pub fn wide_sites(mut self, on: bool) -> Self {
        self.wide = on;
        self
    }

    /// The host's wide function for `f` with this emitter's fma setting, as an address of a
    /// [`WideFn`]: `dst[i] = f(src[i])` (with `affine`, `f(a·src[i] + b)`), bit-identical
    /// to what [`MathEmitter::unary`] computes for each element. `None` when disabled, for
    /// sin and cos, or on a host without AVX2.
    pub fn wide(&self, f: MathFn, affine: bool) -> Option<usize> {
        if !self.wide {
            return None;
        }
        let w = if affine {
            wide::wide_affine_fn(f, self.has_fma)
        } else {
            wide::wide_fn(f, self.has_fma)
        };
        w.map(|w| w as usize)
    }

    /// Calls the wide function at `addr` (from [`MathEmitter::wide`]) on the `n` f32 at `src`
    /// and `dst`, with `a` and `b` (f32 values) for an affine one, multiplying by the `n` f32
    /// at `m` when that is given, prefetching the lines at `pf` as it goes when that is given
    /// (a hint, never dereferenced), summing the results into the 17 f32 at `acc` when that is
    /// given ([`accumulate`]). The caller guarantees the ranges are memory of the
    /// function, and that each read range is `dst`'s or does not overlap it.
    #[allow(clippy::too_many_arguments)]
    pub fn call_wide(
        &mut self,
        b: &mut FunctionBuilder,
        addr: usize,
        src: Value,
        dst: Value,
        n: Value,
        scale: Value,
        shift: Value,
        m: Option<Value>,
        pf: Option<Value>,
        acc: Option<Value>,
    ) {
        let ptr_ty = self.module.target_config().pointer_type();
        let mut sig = self.module.make_signature();
        sig.params.push(AbiParam::new(ptr_ty));
        sig.params.push(AbiParam::new(ptr_ty));
        sig.params.push(AbiParam::new(types::I64));
        sig.params.push(AbiParam::new(types::F32));
        sig.params.push(AbiParam::new(types::F32));
        sig.params.push(AbiParam::new(ptr_ty));
        sig.params.push(AbiParam::new(ptr_ty));
        sig.params.push(AbiParam::new(ptr_ty));
        let sig = b.import_signature(sig);
        let callee = b.ins().iconst(ptr_ty, addr as i64);
        let mut null = || b.ins().iconst(ptr_ty, 0);
        let m = m.unwrap_or_else(&mut null);
        let pf = pf.unwrap_or_else(&mut null);
        let acc = acc.unwrap_or_else(null);
        b.ins()
            .call_indirect(sig, callee, &[src, dst, n, scale, shift, m, pf, acc]);
    }

    /// The host's function for the maximum (`max`) or minimum of a contiguous f32 row, as an
    /// address of an [`wide::ExtremumFn`] (what a four-lane reduction computes, bit for bit);
    /// `None` when wide functions are disabled or the host has no AVX2.
    pub fn wide_extremum(&self, max: bool) -> Option<usize> {
        if !self.wide {
            return None;
        }
        wide::wide_extremum_fn(max).map(|f| f as usize)
    }

    /// Calls the extremum function at `addr` (from [`MathEmitter::wide_extremum`]) on the `n`
    /// f32 at `src`, which the caller guarantees are memory of the function; returns the f32.
    pub fn call_extremum(
        &mut self,
        b: &mut FunctionBuilder,
        addr: usize,
        src: Value,
        n: Value,
    ) -> Value {
        let ptr_ty = self.module.target_config().pointer_type();
        let mut sig = self.module.make_signature();
        sig.params.push(AbiParam::new(ptr_ty));
        sig.params.push(AbiParam::new(types::I64));
        sig.returns.push(AbiParam::new(types::F32));
        let sig = b.import_signature(sig);
        let callee = b.ins().iconst(ptr_ty, addr as i64);
        let call = b.ins().call_indirect(sig, callee, &[src, n]);
        b.inst_results(call)[0]
    }

    /// How many `F32`/`F32X4` [`MathEmitter::unary`] sites were emitted (inline or not).
    pub fn sites(&self) -> usize {
        self.sites
    }

    /// Whether `fma` is emitted.
    pub fn has_fma(&self) -> bool {
        self.has_fma
    }

    /// `f(x)` for `ty` in `F32`, `F32X4` (inline, or a call to the out-of-line copy, see
    /// [`MathEmitter::sites_as`]) or `F64` (shim call); panics on any other type.
    pub fn unary(&mut self, b: &mut FunctionBuilder, f: MathFn, ty: Type, x: Value) -> Value {
        match ty {
            types::F32 | types::F32X4 => {
                self.sites += 1;
                match self.sites_as {
                    Sites::Inline => {}
                    Sites::Count => return self.call_address(b, 0, ty, x),
                    // Falls through to inline code if the library could not be compiled.
                    Sites::OutOfLine => {
                        if let Some(addr) = library::address(f, ty, self.has_fma) {
                            return self.call_address(b, addr, ty, x);
                        }
                    }
                }
                self.inline(b, f, ty, x)
            }
            types::F64 => {
                let name = match f {
                    MathFn::Exp => shims::EXP_F64,
                    MathFn::Log => shims::LOG_F64,
                    MathFn::Tanh => shims::TANH_F64,
                    MathFn::Sigmoid => shims::SIGMOID_F64,
                    MathFn::Erf => shims::ERF_F64,
                    MathFn::Sin => shims::SIN_F64,
                    MathFn::Cos => shims::COS_F64,
                };
                self.call(b, name, &[x])
            }
            _ => panic!("lazyjit math: {f:?} on {ty}: expected F32, F32X4 or F64"),
        }
    }

    /// The inline approximation of `f` on `ty` (`F32` or `F32X4`; [`K::new`] panics on any
    /// other type).
    fn inline(&mut self, b: &mut FunctionBuilder, f: MathFn, ty: Type, x: Value) -> Value {
        let k = K::new(ty, self.has_fma);
        match f {
            MathFn::Exp => poly::exp(k, b, x, true),
            MathFn::Log => poly::log(k, b, x),
            MathFn::Tanh => poly::tanh(k, b, x),
            MathFn::Sigmoid => poly::sigmoid(k, b, x),
            MathFn::Erf => poly::erf(k, b, x),
            MathFn::Sin => self.sincos(k, b, x, false),
            MathFn::Cos => self.sincos(k, b, x, true),
        }
    }

    /// `x^y` (C `pow` semantics: `pow(x, ±0) = 1`, `pow(1, y) = 1` even for NaN, negative `x`
    /// with a non-integer `y` gives NaN). `ty` is `F32`, `F32X4` or `F64`; always a shim call
    /// (four for `F32X4`).
    pub fn pow(&mut self, b: &mut FunctionBuilder, ty: Type, x: Value, y: Value) -> Value {
        match ty {
            types::F32 => self.call(b, shims::POW_F32, &[x, y]),
            types::F64 => self.call(b, shims::POW_F64, &[x, y]),
            types::F32X4 => {
                let mut out = x;
                for lane in 0..4u8 {
                    let xi = b.ins().extractlane(x, lane);
                    let yi = b.ins().extractlane(y, lane);
                    let r = self.call(b, shims::POW_F32, &[xi, yi]);
                    out = b.ins().insertlane(out, r, lane);
                }
                out
            }
            _ => panic!("lazyjit math: pow on {ty}: expected F32, F32X4 or F64"),
        }
    }

    /// Inline sin/cos, with a cold per-lane shim fallback for |x| > [`SINCOS_INLINE_MAX`].
    fn sincos(&mut self, k: K, b: &mut FunctionBuilder, x: Value, cos: bool) -> Value {
        let (v, huge) = poly::sincos(k, b, x, cos);
        let cold = b.create_block();
        let join = b.create_block();
        let out = b.append_block_param(join, k.ty);
        let any = if k.ty.is_vector() {
            b.ins().vany_true(huge)
        } else {
            huge
        };
        b.ins().brif(any, cold, &[], join, &[v.into()]);
        b.seal_block(cold);
        b.set_cold_block(cold);
        b.switch_to_block(cold);
        let name = if cos { shims::COS_F32 } else { shims::SIN_F32 };
        let fixed = if k.ty.is_vector() {
            let mut s = v;
            for lane in 0..4u8 {
                let xi = b.ins().extractlane(x, lane);
                let r = self.call(b, name, &[xi]);
                s = b.ins().insertlane(s, r, lane);
            }
            let m = b.ins().bitcast(k.ty, MemFlagsData::new(), huge);
            b.ins().bitselect(m, s, v)
        } else {
            self.call(b, name, &[x])
        };
        b.ins().jump(join, &[fixed.into()]);
        b.seal_block(join);
        b.switch_to_block(join);
        out
    }

    /// Calls the function of signature `(ty) -> ty` at `addr` (host calling convention).
    fn call_address(&mut self, b: &mut FunctionBuilder, addr: usize, ty: Type, x: Value) -> Value {
        let mut sig = self.module.make_signature();
        sig.params.push(AbiParam::new(ty));
        sig.returns.push(AbiParam::new(ty));
        let sig = b.import_signature(sig);
        let ptr = self.module.target_config().pointer_type();
        let callee = b.ins().iconst(ptr, addr as i64);
        let call = b.ins().call_indirect(sig, callee, &[x]);
        b.inst_results(call)[0]
    }

    /// Calls shim `name` with `args`; returns its single result.
    fn call(&mut self, b: &mut FunctionBuilder, name: &'static str, args: &[Value]) -> Value {
        let f = self.func_ref(b, name);
        let call = b.ins().call(f, args);
        b.inst_results(call)[0]
    }

    /// The `FuncRef` of shim `name` in the function being built (declared on first use).
    fn func_ref(&mut self, b: &mut FunctionBuilder, name: &'static str) -> FuncRef {
        let id = match self.ids.get(name) {
            Some(&id) => id,
            None => {
                let s = shims::by_name(name);
                let t = if s.f64 { types::F64 } else { types::F32 };
                let mut sig = self.module.make_signature();
                for _ in 0..s.arity {
                    sig.params.push(AbiParam::new(t));
                }
                sig.returns.push(AbiParam::new(t));
                let id = self
                    .module
                    .declare_function(name, Linkage::Import, &sig)
                    .unwrap_or_else(|e| panic!("lazyjit math: declaring {name}: {e}"));
                self.ids.insert(name, id);
                id
            }
        };
        let want = UserExternalName {
            namespace: 0,
            index: id.as_u32(),
        };
        let named = b.func.params.user_named_funcs();
        let existing = b
            .func
            .dfg
            .ext_funcs
            .iter()
            .find_map(|(fr, data)| match data.name {
                ExternalName::User(r) if named.get(r) == Some(&want) => Some(fr),
                _ => None,
            });
        match existing {
            Some(fr) => fr,
            None => self.module.declare_func_in_func(id, b.func),
        }
    }
}

/// The documented panic of [`MathEmitter::unary`] on an op it does not implement.
/// Registers every shim symbol a [`MathEmitter`] may import. Call it on the `JITBuilder`
/// before `JITModule::new`.
pub fn register_symbols(jb: &mut cranelift_jit::JITBuilder) {
    for s in shims::all() {
        jb.symbol(s.name, s.addr);
    }
}

/// The names of all shim symbols (for tests and diagnostics).
pub fn symbol_names() -> Vec<&'static str> {
    shims::all().iter().map(|s| s.name).collect()
}
