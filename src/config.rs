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
//! | `LAZYJIT_FORCE_FALLBACK` | [`Config::force_fallback`] | empty |
//! | `LAZYJIT_DEBUG` | [`Config::debug`] | 0 |
//! | `LAZYJIT_OPT_LEVEL` | [`Config::opt_level`] | `speed` |
//!
//! ```
//! use lazyjit::config;
//! let before = config::get();
//! config::update(|c| c.cache_capacity = 16);
//! assert_eq!(config::get().cache_capacity, 16);
//! config::set((*before).clone());
//! ```

use crate::error::{Error, Result};
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
                "unknown backend {other:?}: expected \"cranelift\" or \"reference\""
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
    /// Op names (as in the program text, e.g. `exp`, `matmul`) forced onto the eager
    /// reference fallback, to exercise that path.
    pub force_fallback: BTreeSet<String>,
    /// 0: quiet; 1: log each compile and cache-miss explanation to stderr; 2: also log
    /// every sync (graph hash, cache hit or miss, nodes).
    pub debug: u8,
    /// Cranelift optimisation level.
    pub opt_level: OptLevel,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            backend: BackendKind::Cranelift,
            cache_capacity: 1024,
            data_cache_capacity: 128,
            special_scalars: true,
            trim_graph_depth: 10_000,
            force_fallback: BTreeSet::new(),
            debug: 0,
            opt_level: OptLevel::Speed,
        }
    }
}

impl Config {
    /// Defaults overridden by the `LAZYJIT_*` environment variables that are set.
    pub fn from_env() -> Result<Config> {
        Config::from_lookup(|k| std::env::var(k).ok())
    }

    /// Like [`Config::from_env`] with a custom variable lookup (for tests).
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Config> {
        let mut c = Config::default();
        if let Some(v) = get("LAZYJIT_BACKEND") {
            c.backend = BackendKind::parse(&v)?;
        }
        if let Some(v) = get("LAZYJIT_CACHE_SIZE") {
            c.cache_capacity = parse_num("LAZYJIT_CACHE_SIZE", &v)?;
        }
        if let Some(v) = get("LAZYJIT_DATA_CACHE_SIZE") {
            c.data_cache_capacity = parse_num("LAZYJIT_DATA_CACHE_SIZE", &v)?;
        }
        if let Some(v) = get("LAZYJIT_SPECIAL_SCALARS") {
            c.special_scalars = parse_bool("LAZYJIT_SPECIAL_SCALARS", &v)?;
        }
        if let Some(v) = get("LAZYJIT_TRIM_GRAPH_DEPTH") {
            c.trim_graph_depth = parse_num("LAZYJIT_TRIM_GRAPH_DEPTH", &v)?;
        }
        if let Some(v) = get("LAZYJIT_FORCE_FALLBACK") {
            c.force_fallback = v
                .split(',')
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
                .collect();
        }
        if let Some(v) = get("LAZYJIT_DEBUG") {
            c.debug = parse_num::<u8>("LAZYJIT_DEBUG", &v)?;
        }
        if let Some(v) = get("LAZYJIT_OPT_LEVEL") {
            c.opt_level = match v.trim() {
                "none" | "0" => OptLevel::None,
                "speed" | "1" | "2" => OptLevel::Speed,
                other => {
                    return Err(Error::Config(format!(
                        "LAZYJIT_OPT_LEVEL={other:?}: expected \"none\" or \"speed\""
                    )))
                }
            };
        }
        Ok(c)
    }
}

fn parse_num<T: std::str::FromStr>(var: &str, v: &str) -> Result<T> {
    v.trim()
        .parse()
        .map_err(|_| Error::Config(format!("{var}={v:?}: expected a non-negative integer")))
}

fn parse_bool(var: &str, v: &str) -> Result<bool> {
    match v.trim().to_ascii_lowercase().as_str() {
        "1" | "true" | "on" | "yes" => Ok(true),
        "0" | "false" | "off" | "no" => Ok(false),
        _ => Err(Error::Config(format!("{var}={v:?}: expected 0 or 1"))),
    }
}

static CONFIG: LazyLock<RwLock<Arc<Config>>> = LazyLock::new(|| {
    let c = Config::from_env().unwrap_or_else(|e| {
        eprintln!("lazyjit: {e}; using defaults");
        Config::default()
    });
    RwLock::new(Arc::new(c))
});

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
    pub debug: u8,
}

impl Hot {
    const DEFAULT: Hot = Hot {
        backend: BackendKind::Cranelift,
        any_forced_fallback: false,
        trim_graph_depth: usize::MAX,
        debug: 0,
    };

    fn of(c: &Config) -> Hot {
        Hot {
            backend: c.backend,
            any_forced_fallback: !c.force_fallback.is_empty(),
            trim_graph_depth: c.trim_graph_depth,
            debug: c.debug,
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

/// Replaces the global configuration; takes effect at the next op or sync.
pub fn set(c: Config) {
    *CONFIG.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(c);
    GENERATION.fetch_add(1, Ordering::AcqRel);
}

/// Changes the configuration in place.
pub fn update(f: impl FnOnce(&mut Config)) {
    let mut guard = CONFIG.write().unwrap_or_else(|e| e.into_inner());
    let mut c = (**guard).clone();
    f(&mut c);
    *guard = Arc::new(c);
    GENERATION.fetch_add(1, Ordering::AcqRel);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lookup(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let pairs: Vec<(String, String)> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k| pairs.iter().find(|(x, _)| x == k).map(|(_, v)| v.clone())
    }

    #[test]
    fn env_overrides_defaults() {
        let c = Config::from_lookup(lookup(&[
            ("LAZYJIT_BACKEND", "reference"),
            ("LAZYJIT_CACHE_SIZE", "7"),
            ("LAZYJIT_FORCE_FALLBACK", "exp, matmul,"),
            ("LAZYJIT_SPECIAL_SCALARS", "0"),
            ("LAZYJIT_DEBUG", "2"),
            ("LAZYJIT_OPT_LEVEL", "none"),
        ]))
        .unwrap();
        assert_eq!(c.backend, BackendKind::Reference);
        assert_eq!(c.cache_capacity, 7);
        assert_eq!(
            c.force_fallback.iter().cloned().collect::<Vec<_>>(),
            vec!["exp".to_string(), "matmul".to_string()]
        );
        assert!(!c.special_scalars);
        assert_eq!(c.debug, 2);
        assert_eq!(c.opt_level, OptLevel::None);
        assert_eq!(Config::from_lookup(|_| None).unwrap(), Config::default());
    }

    #[test]
    fn bad_values_are_errors_naming_the_variable() {
        let e = Config::from_lookup(lookup(&[("LAZYJIT_BACKEND", "gpu")])).unwrap_err();
        assert!(e.to_string().contains("gpu"), "{e}");
        let e = Config::from_lookup(lookup(&[("LAZYJIT_CACHE_SIZE", "-1")])).unwrap_err();
        assert!(e.to_string().contains("LAZYJIT_CACHE_SIZE"), "{e}");
        let e = Config::from_lookup(lookup(&[("LAZYJIT_SPECIAL_SCALARS", "maybe")])).unwrap_err();
        assert!(e.to_string().contains("LAZYJIT_SPECIAL_SCALARS"), "{e}");
    }
}
