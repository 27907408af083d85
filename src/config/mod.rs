//! Runtime configuration: read once from `LAZYJIT_*` environment variables, changeable
//! through the API at any time.
//!
//! | variable | field | default |
//! |---|---|---|
//! | `LAZYJIT_BACKEND` | [`Config::backend`] | `cranelift` |
//! | `LAZYJIT_CACHE_SIZE` | [`Config::cache_capacity`] | 1024 |
//! | `LAZYJIT_DATA_CACHE_SIZE` | [`Config::data_cache_capacity`] | 128 |
//! | `LAZYJIT_SPECIAL_SCALARS` | [`Config::special_scalars`] | 1 |
//! | `LAZYJIT_TRIM_GRAPH_DEPTH` | [`Config::trim_graph_depth`] | 10000 |
//! | `LAZYJIT_TRIM_GRAPH_NODES` | [`Config::trim_graph_nodes`] | 100000 |
//! | `LAZYJIT_FORCE_FALLBACK` | [`Config::force_fallback`] | empty |
//! | `LAZYJIT_DEBUG` | [`Config::debug`] | 0 |
//! | `LAZYJIT_OPT_LEVEL` | [`Config::opt_level`] | `speed` |
//! | `LAZYJIT_DONATE` | [`Config::donate`] | 1 |
//! | `LAZYJIT_BUFFER_POOL_BYTES` | [`Config::buffer_pool_bytes`] | 268435456 (256 MiB) |
//! | `LAZYJIT_THREADS` | [`Config::threads`] | 0 (all cores) |
//! | `LAZYJIT_WIDE_MATH` | read by the lowering crate (`avx512`, `avx2`, `off`: the widest vector math of transcendental loops; `docs/math.md`); checked here | the host's best |
//!
//! Each variable is parsed on its own. A variable with a value that cannot be used (not a
//! number, out of range, not UTF-8, an unknown op name in `LAZYJIT_FORCE_FALLBACK`) is
//! ignored with a warning (logged, see [`crate::logging`]) the first time the configuration is read, and the other
//! variables still apply; [`env_problems`] lists what was ignored, and
//! [`Config::from_env`] is the strict variant that fails instead.
//!
//! ```
//! use lazyjit::config;
//! let before = config::get();
//! config::update(|c| c.cache_capacity = 16);
//! assert_eq!(config::get().cache_capacity, 16);
//! config::set((*before).clone());
//! ```
//!
//! `env.rs` reads and checks the variables; `mod.rs` holds the settings and the global
//! (and per-thread) configuration every op and sync reads.

mod env;
#[cfg(test)]
mod tests;

pub use env::EnvProblem;

use crate::error::{Error, Result};
use crate::logging::{self, log_at};
use env::EXPECTED_BACKEND;
use log::Level;
use std::collections::BTreeSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, LazyLock, RwLock};

/// Which backend runs synced graphs.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum BackendKind {
    /// Fused, vectorised native code through Cranelift (the product).
    Cranelift,
    /// The ndarray reference interpreter, op by op (the correctness baseline).
    Reference,
}

impl BackendKind {
    /// The backend's name, as accepted by [`BackendKind::parse`] and `LAZYJIT_BACKEND`.
    pub fn name(self) -> &'static str {
        match self {
            BackendKind::Cranelift => "cranelift",
            BackendKind::Reference => "reference",
        }
    }

    /// Parses `cranelift` or `reference` (case-insensitive).
    pub fn parse(s: &str) -> Result<BackendKind> {
        match s.trim().to_ascii_lowercase().as_str() {
            "cranelift" | "jit" => Ok(BackendKind::Cranelift),
            "reference" | "ref" | "eager" => Ok(BackendKind::Reference),
            other => Err(Error::Config(format!(
                "unknown backend {other:?}: expected {EXPECTED_BACKEND}"
            ))),
        }
    }
}

pub use lazyjit_lowering::codegen::OptLevel;

/// Executor configuration. Read with [`get`], change with [`set`] or [`update`].
#[derive(Clone, Debug, PartialEq)]
pub struct Config {
    /// Backend that compiles and runs graphs (computations of both backends share the
    /// cache; the backend is part of the key).
    pub backend: BackendKind,
    /// Computations kept in the LRU computation cache.
    pub cache_capacity: usize,
    /// Scalars kept in the device-data cache (scalars from Rust numbers become shared
    /// read-only parameters, looked up by value).
    pub data_cache_capacity: usize,
    /// Inline the scalars 0 and 1 as constants instead of parameters. Constants let the
    /// compiler simplify, at the price of a recompile when a value moves to or from 0/1.
    pub special_scalars: bool,
    /// Graph trimming: an op whose pending graph is deeper than this (the longest chain of
    /// pending ops below it) is synced at once, so a loop that never calls `mark_step`
    /// keeps bounded graphs (and bounded compile times). Depth is known per node in O(1)
    /// and counts shared subgraphs once, unlike a node count estimate.
    pub trim_graph_depth: usize,
    /// Graph trimming by size: a tensor whose pending graph holds more than this many
    /// distinct pending nodes is synced automatically (as LTC trims at 100k nodes), which
    /// bounds wide graphs that [`Config::trim_graph_depth`] lets through; 0 disables.
    pub trim_graph_nodes: usize,
    /// Op names (as in the program text, e.g. `exp`, `matmul`, `reduce_sum`) forced onto
    /// the eager reference fallback, to exercise that path. `LAZYJIT_FORCE_FALLBACK`
    /// accepts only op names of the program format; names set through the API are checked
    /// by [`Config::validate`] (an unknown name simply never matches an op).
    pub force_fallback: BTreeSet<String>,
    /// What lazyjit prints to stderr when no logger is set up ([`crate::logging`]): 0
    /// only warnings; 1 also each compile, recompile explanation, eager fallback and graph
    /// trim; 2 also every sync (graph hash, cache hit or miss, nodes). Once a logger is
    /// set up it receives every record and this setting does not filter them. 1 or more
    /// also shows source locations in IR dumps. `LAZYJIT_DEBUG` accepts only 0, 1 and 2;
    /// a larger value set through the API acts like 2.
    pub debug: u8,
    /// Cranelift optimisation level.
    pub opt_level: OptLevel,
    /// Buffer donation: when nothing outside a computation can read a parameter's buffer
    /// again (its tensor was replaced by the pending update), an output the compiled code
    /// may write in place reuses that buffer (`docs/executor.md`, "Buffer donation"), so a
    /// training step allocates no new parameter or optimizer-state memory. Off: every
    /// output gets a new buffer.
    pub donate: bool,
    /// Bytes of dropped large buffers (64 KiB and more) kept for reuse by the next
    /// allocation of the same size, process-wide; beyond it the oldest are freed; 0
    /// disables pooling. Applied by [`set`] and [`update`] (and when the environment is
    /// read), not by a thread's [`with`]: the pool is shared by every thread. Its use is in
    /// [`crate::metrics::buffer_pool`].
    pub buffer_pool_bytes: usize,
    /// Threads a large kernel or f32/f64 matmul may use: 0 = as many as the machine has
    /// cores, 1 = only the calling thread. Kernels with less than
    /// [`lazyjit_lowering::kernels::KERNEL_PARALLEL_WORK`] elements of work and products
    /// below [`lazyjit_lowering::kernels::PARALLEL_WORK`] multiply-adds always run on the
    /// calling thread (`docs/codegen.md`, "Threads"). The lowering crate reads a
    /// process-wide copy, which each run of a compiled computation sets from the
    /// configuration it runs under (so a [`with`] override applies to what runs inside it;
    /// runs on other threads at the same time with another value set their own).
    pub threads: usize,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            backend: BackendKind::Cranelift,
            cache_capacity: 1024,
            data_cache_capacity: 128,
            special_scalars: true,
            trim_graph_depth: 10_000,
            trim_graph_nodes: 100_000,
            force_fallback: BTreeSet::new(),
            debug: 0,
            opt_level: OptLevel::Speed,
            donate: true,
            buffer_pool_bytes: lazyjit_lowering::tensor::POOL_MAX_BYTES,
            threads: 0,
        }
    }
}

/// The environment configuration and its problems, read once per process; the problems
/// are logged as warnings when it is read (target `lazyjit::config`; on stderr without a
/// logger).
static FROM_ENV: LazyLock<(Config, Vec<EnvProblem>)> = LazyLock::new(|| {
    let (c, problems) = Config::from_env_with_problems();
    for p in &problems {
        log_at!(logging::CONFIG, Level::Warn, c.debug, "ignoring {p}");
    }
    (c, problems)
});

/// The `LAZYJIT_*` environment variables (or items of them) that the global configuration
/// ignored because their values cannot be used. The environment is read once per process,
/// the first time the configuration is needed (or by this call); each problem is also
/// logged once as a warning, `ignoring LAZYJIT_DEBUG="x": expected 0, 1 or 2` (target
/// `lazyjit::config`; printed to stderr as `lazyjit: ignoring ...` when no logger is set
/// up, see [`crate::logging`]).
///
/// Programs that would rather fail than run with a misspelled setting can check it at
/// start-up:
///
/// ```
/// use lazyjit::config;
/// let problems = config::env_problems();
/// for p in problems {
///     eprintln!("bad setting {}: {p}", p.var);
/// }
/// // e.g. `if !problems.is_empty() { std::process::exit(2) }`
/// assert!(problems.iter().all(|p| p.var.starts_with("LAZYJIT_")));
/// ```
pub fn env_problems() -> &'static [EnvProblem] {
    &FROM_ENV.1
}

static CONFIG: LazyLock<RwLock<Arc<Config>>> = LazyLock::new(|| {
    apply_process_wide(&FROM_ENV.0);
    RwLock::new(Arc::new(FROM_ENV.0.clone()))
});

/// Applies the settings that live outside the configuration (the buffer pool's limit).
fn apply_process_wide(c: &Config) {
    lazyjit_lowering::tensor::set_pool_limit(c.buffer_pool_bytes);
}

/// Bumped by every global change, so threads can cache the global configuration.
static GENERATION: AtomicU64 = AtomicU64::new(1);

thread_local! {
    static OVERRIDE: std::cell::RefCell<Option<Arc<Config>>> = const { std::cell::RefCell::new(None) };
    /// This thread's copy of the global configuration and the generation it was read at.
    static CACHED: std::cell::RefCell<(u64, Option<Arc<Config>>)> = const { std::cell::RefCell::new((0, None)) };
    /// The hot settings of the global configuration, and their generation.
    static HOT: std::cell::Cell<(u64, Hot)> = const { std::cell::Cell::new((0, Hot::DEFAULT)) };
}

/// The settings every recorded op reads, copied out of the configuration (no reference
/// counting on the hot path).
#[derive(Copy, Clone, Debug, PartialEq)]
pub(crate) struct Hot {
    pub backend: BackendKind,
    pub any_forced_fallback: bool,
    pub trim_graph_depth: usize,
    /// [`Config::trim_graph_nodes`], with 0 (disabled) as `usize::MAX`, so a plain
    /// `nodes > trim_graph_nodes` test is right either way.
    pub trim_graph_nodes: usize,
    pub debug: u8,
    pub threads: usize,
}

impl Hot {
    const DEFAULT: Hot = Hot {
        backend: BackendKind::Cranelift,
        any_forced_fallback: false,
        trim_graph_depth: usize::MAX,
        trim_graph_nodes: usize::MAX,
        debug: 0,
        threads: 0,
    };

    fn of(c: &Config) -> Hot {
        Hot {
            backend: c.backend,
            any_forced_fallback: !c.force_fallback.is_empty(),
            trim_graph_depth: c.trim_graph_depth,
            trim_graph_nodes: match c.trim_graph_nodes {
                0 => usize::MAX,
                n => n,
            },
            debug: c.debug,
            threads: c.threads,
        }
    }
}

/// The hot settings of the current configuration (see [`get`]).
pub(crate) fn hot() -> Hot {
    if let Some(h) = OVERRIDE.with(|o| o.borrow().as_deref().map(Hot::of)) {
        return h;
    }
    let generation = GENERATION.load(Ordering::Acquire);
    let (g, h) = HOT.with(|c| c.get());
    if g == generation {
        return h;
    }
    let h = Hot::of(&get());
    HOT.with(|c| c.set((generation, h)));
    h
}

/// Hands [`Config::threads`] of the current configuration to the lowering crate's kernels
/// and matmuls (called by every run of a compiled computation; a relaxed atomic store).
pub(crate) fn apply_threads() {
    lazyjit_lowering::kernels::set_threads(hot().threads);
}

/// The current configuration: this thread's override from [`with`], else the global one.
pub fn get() -> Arc<Config> {
    if let Some(c) = OVERRIDE.with(|o| o.borrow().clone()) {
        return c;
    }
    let generation = GENERATION.load(Ordering::Acquire);
    CACHED.with(|c| {
        let mut c = c.borrow_mut();
        match &c.1 {
            Some(cfg) if c.0 == generation => cfg.clone(),
            _ => {
                let cfg = CONFIG.read().unwrap_or_else(|e| e.into_inner()).clone();
                *c = (generation, Some(cfg.clone()));
                cfg
            }
        }
    })
}

/// Runs `body` with a configuration changed by `change`, on this thread only (other
/// threads keep the global configuration). Nested calls start from the current one.
///
/// ```
/// use lazyjit::{config, BackendKind, LazyTensor};
/// let v = config::with(|c| c.backend = BackendKind::Reference, || {
///     LazyTensor::from_vec(vec![1.0f32, 4.0], &[2])?.sqrt()?.to_vec::<f32>()
/// })?;
/// assert_eq!(v, vec![1.0, 2.0]);
/// # Ok::<(), lazyjit::Error>(())
/// ```
pub fn with<R>(change: impl FnOnce(&mut Config), body: impl FnOnce() -> R) -> R {
    let mut c = (*get()).clone();
    change(&mut c);
    let prev = OVERRIDE.with(|o| o.replace(Some(Arc::new(c))));
    struct Restore(Option<Arc<Config>>);
    impl Drop for Restore {
        fn drop(&mut self) {
            let prev = self.0.take();
            OVERRIDE.with(|o| *o.borrow_mut() = prev);
        }
    }
    let _restore = Restore(prev);
    body()
}

/// Replaces the global configuration; takes effect at the next op or sync (the buffer pool's
/// limit at once).
pub fn set(c: Config) {
    let mut guard = CONFIG.write().unwrap_or_else(|e| e.into_inner());
    apply_process_wide(&c);
    *guard = Arc::new(c);
    drop(guard);
    GENERATION.fetch_add(1, Ordering::AcqRel);
}

/// Changes the configuration in place.
pub fn update(f: impl FnOnce(&mut Config)) {
    let mut guard = CONFIG.write().unwrap_or_else(|e| e.into_inner());
    let mut c = (**guard).clone();
    f(&mut c);
    apply_process_wide(&c);
    *guard = Arc::new(c);
    GENERATION.fetch_add(1, Ordering::AcqRel);
}
