//! What to compile and what to keep: compile options, per-phase timings, kept kernel texts.

use std::time::Duration;

/// Cranelift optimisation level.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Default)]
pub enum OptLevel {
    /// No optimisation: fastest compile (about 1.5x faster), about 20% slower code.
    None,
    /// Cranelift's `speed` level (egraph optimisation, LICM).
    #[default]
    Speed,
}

/// What to compile and what to keep for inspection.
#[derive(Clone, Debug)]
pub struct CompileOptions {
    /// Cranelift optimisation level of every kernel.
    pub opt_level: OptLevel,
    /// Run Cranelift's IR verifier on every function (costs 20–40% compile time).
    pub verify_clif: bool,
    /// Keep each kernel's CLIF as the lowering built it (before Cranelift's optimiser).
    pub keep_clif: bool,
    /// Keep each kernel's machine code listing (VCode form, after register allocation).
    pub keep_disasm: bool,
    /// The most transcendental sites (`exp`, `tanh`, ... of `f32`) a kernel function inlines.
    /// A function with more calls a shared out-of-line copy of the same approximation at
    /// every site (compiled once per process; results are bit-identical). Each inlined
    /// polynomial costs compile time (register allocation over its 40–100 instructions and
    /// their hoisted constants); a call costs a few nanoseconds per vector. `usize::MAX`
    /// inlines everything, 0 nothing.
    pub inline_math: usize,
    /// Run the f32 `exp`, `log`, `tanh`, `sigmoid` and `erf` of vectorised loops through the
    /// host's AVX2 / AVX-512 functions, in chunks (`codegen/emit/wide.rs`; results are
    /// bit-identical). On by default; the `LAZYJIT_WIDE_MATH` variable can cap the vector
    /// width or turn it off process-wide (`docs/math.md`).
    pub wide_math: bool,
}

impl Default for CompileOptions {
    fn default() -> Self {
        CompileOptions {
            opt_level: OptLevel::Speed,
            verify_clif: cfg!(debug_assertions),
            keep_clif: false,
            keep_disasm: false,
            inline_math: 4,
            wide_math: true,
        }
    }
}

/// Time spent in each compile phase.
#[derive(Clone, Debug, Default)]
pub struct CompileStats {
    /// Checking the program ([`Program::verify`](crate::Program::verify)).
    pub verify: Duration,
    /// Planning: kernels, fusion, pruning and buffer slots.
    pub plan: Duration,
    /// Building CLIF and Cranelift's compilation of every kernel.
    pub codegen: Duration,
    /// Linking the JIT module and resolving the kernels' addresses.
    pub finalize: Duration,
}

impl CompileStats {
    /// Sum of the four phases.
    pub fn total(&self) -> Duration {
        self.verify + self.plan + self.codegen + self.finalize
    }
}

/// Texts of one kernel, when requested in [`CompileOptions`].
#[derive(Clone, Debug, Default)]
pub struct KernelText {
    /// Function name in the JIT module: `k<group>`, or `k<group>.<part>` for a group split in parts.
    pub name: String,
    /// CLIF before Cranelift's optimiser, when [`CompileOptions::keep_clif`] is set.
    pub clif: Option<String>,
    /// Machine code listing, when [`CompileOptions::keep_disasm`] is set.
    pub disasm: Option<String>,
}
