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
//!
//! Each variable is parsed on its own. A variable with a value that cannot be used (not a
//! number, out of range, not UTF-8, an unknown op name in `LAZYJIT_FORCE_FALLBACK`) is
//! ignored with a warning on stderr the first time the configuration is read, and the other
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

use crate::error::{Error, Result};
use lazyjit_lowering::text::op_names;
use std::collections::BTreeSet;
use std::ffi::OsString;
use std::fmt;
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
    /// 0: quiet; 1: log each compile and cache-miss explanation to stderr; 2: also log
    /// every sync (graph hash, cache hit or miss, nodes). `LAZYJIT_DEBUG` accepts only 0, 1
    /// and 2; a larger value set through the API logs like 2.
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
            trim_graph_nodes: 100_000,
            force_fallback: BTreeSet::new(),
            debug: 0,
            opt_level: OptLevel::Speed,
        }
    }
}

/// A `LAZYJIT_*` environment variable, or one item of it, that could not be used and was
/// ignored: the setting keeps its default, and the other variables still apply.
///
/// Displays as `LAZYJIT_DEBUG="x": expected 0, 1 or 2`, or for one bad item of a list
/// `"expp" in LAZYJIT_FORCE_FALLBACK="exp,expp": expected an op name ...`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EnvProblem {
    /// The variable's name, e.g. `LAZYJIT_DEBUG`.
    pub var: &'static str,
    /// The variable's value (decoded lossily, with U+FFFD, if it is not UTF-8).
    pub value: String,
    /// The ignored item when only part of the value was ignored (an unknown op name in
    /// `LAZYJIT_FORCE_FALLBACK`); `None` when the whole variable was ignored.
    pub item: Option<String>,
    /// What the variable accepts, e.g. `0, 1 or 2`.
    pub expected: String,
}

impl fmt::Display for EnvProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(item) = &self.item {
            write!(f, "{item:?} in ")?;
        }
        write!(
            f,
            "{}={:?}: expected {}",
            self.var, self.value, self.expected
        )
    }
}

const EXPECTED_BACKEND: &str = "\"cranelift\" or \"reference\"";
const EXPECTED_NUMBER: &str = "a non-negative integer";
const EXPECTED_BOOL: &str = "0 or 1";
const EXPECTED_DEBUG: &str = "0, 1 or 2";
const EXPECTED_OPT_LEVEL: &str = "\"none\" or \"speed\"";
const EXPECTED_OP: &str = "an op name of the program format, such as exp, matmul or reduce_sum";
const EXPECTED_UTF8: &str = "valid UTF-8 text";

impl Config {
    /// Defaults overridden by the `LAZYJIT_*` environment variables that are set, read now
    /// (the global configuration reads them once; see [`env_problems`]).
    ///
    /// Strict: fails with an [`Error::Config`] naming every variable that cannot be used
    /// (with its value and what it accepts). [`Config::from_env_with_problems`] is the
    /// lenient variant the global configuration uses.
    pub fn from_env() -> Result<Config> {
        strict(Config::from_env_with_problems())
    }

    /// Defaults overridden by the usable `LAZYJIT_*` environment variables, read now, and
    /// the variables (or items) that were ignored. See [`Config::from_os_lookup`].
    pub fn from_env_with_problems() -> (Config, Vec<EnvProblem>) {
        Config::from_os_lookup(|k| std::env::var_os(k))
    }

    /// Like [`Config::from_env`] (strict) with a custom variable lookup (for tests).
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Config> {
        strict(Config::from_os_lookup(|k| get(k).map(OsString::from)))
    }

    /// Defaults overridden by the variables `get` returns, each parsed on its own: a
    /// variable whose value cannot be used (or one unknown op name in
    /// `LAZYJIT_FORCE_FALLBACK`) is left out and reported as an [`EnvProblem`], and the
    /// other variables still apply. A value that is not UTF-8 is a problem too.
    ///
    /// ```
    /// use lazyjit::Config;
    /// use std::ffi::OsString;
    ///
    /// let env = [("LAZYJIT_CACHE_SIZE", "16"), ("LAZYJIT_DEBUG", "x")];
    /// let (c, problems) = Config::from_os_lookup(|k| {
    ///     env.iter().find(|(var, _)| *var == k).map(|(_, v)| OsString::from(v))
    /// });
    /// assert_eq!(c.cache_capacity, 16); // still applied
    /// assert_eq!(c.debug, 0); // the default
    /// assert_eq!(problems.len(), 1);
    /// assert_eq!(problems[0].var, "LAZYJIT_DEBUG");
    /// assert_eq!(problems[0].to_string(), "LAZYJIT_DEBUG=\"x\": expected 0, 1 or 2");
    /// ```
    pub fn from_os_lookup(get: impl Fn(&str) -> Option<OsString>) -> (Config, Vec<EnvProblem>) {
        let mut env = EnvReader {
            get,
            problems: Vec::new(),
        };
        let mut c = Config::default();
        if let Some(v) = env.parse("LAZYJIT_BACKEND", |s| {
            BackendKind::parse(s).map_err(|_| EXPECTED_BACKEND)
        }) {
            c.backend = v;
        }
        if let Some(v) = env.parse("LAZYJIT_CACHE_SIZE", parse_num) {
            c.cache_capacity = v;
        }
        if let Some(v) = env.parse("LAZYJIT_DATA_CACHE_SIZE", parse_num) {
            c.data_cache_capacity = v;
        }
        if let Some(v) = env.parse("LAZYJIT_SPECIAL_SCALARS", parse_bool) {
            c.special_scalars = v;
        }
        if let Some(v) = env.parse("LAZYJIT_TRIM_GRAPH_DEPTH", parse_num) {
            c.trim_graph_depth = v;
        }
        if let Some(v) = env.parse("LAZYJIT_TRIM_GRAPH_NODES", parse_num) {
            c.trim_graph_nodes = v;
        }
        if let Some(v) = env.text("LAZYJIT_FORCE_FALLBACK") {
            c.force_fallback = BTreeSet::new();
            for name in v.split(',').map(str::trim).filter(|s| !s.is_empty()) {
                if is_op_name(name) {
                    c.force_fallback.insert(name.to_string());
                } else {
                    env.problems.push(EnvProblem {
                        var: "LAZYJIT_FORCE_FALLBACK",
                        value: v.clone(),
                        item: Some(name.to_string()),
                        expected: EXPECTED_OP.to_string(),
                    });
                }
            }
        }
        if let Some(v) = env.parse("LAZYJIT_DEBUG", |s| match s.trim() {
            "0" => Ok(0),
            "1" => Ok(1),
            "2" => Ok(2),
            _ => Err(EXPECTED_DEBUG),
        }) {
            c.debug = v;
        }
        if let Some(v) = env.parse("LAZYJIT_OPT_LEVEL", |s| match s.trim() {
            "none" | "0" => Ok(OptLevel::None),
            "speed" | "1" | "2" => Ok(OptLevel::Speed),
            _ => Err(EXPECTED_OPT_LEVEL),
        }) {
            c.opt_level = v;
        }
        (c, env.problems)
    }

    /// Checks what the types do not: every [`Config::force_fallback`] name is an op name of
    /// the program format, and [`Config::debug`] is 0, 1 or 2. Fails with an
    /// [`Error::Config`] naming every bad setting.
    ///
    /// [`set`], [`update`] and [`with`] do not call it (an unknown fallback name never
    /// matches an op, a debug level above 2 logs like 2); call it on configurations built
    /// from user input. The environment variables are checked as they are read.
    ///
    /// ```
    /// use lazyjit::Config;
    /// let mut c = Config::default();
    /// c.force_fallback.insert("exp".into());
    /// assert!(c.validate().is_ok());
    /// c.force_fallback.insert("expp".into());
    /// assert!(c.validate().unwrap_err().to_string().contains("expp"));
    /// ```
    pub fn validate(&self) -> Result<()> {
        let mut bad: Vec<String> = self
            .force_fallback
            .iter()
            .filter(|n| !is_op_name(n))
            .map(|n| format!("force_fallback: unknown op name {n:?}: expected {EXPECTED_OP}"))
            .collect();
        if self.debug > 2 {
            bad.push(format!("debug: {}: expected {EXPECTED_DEBUG}", self.debug));
        }
        if bad.is_empty() {
            Ok(())
        } else {
            Err(Error::Config(bad.join("; ")))
        }
    }
}

/// The configuration, or an [`Error::Config`] naming every problem.
fn strict((c, problems): (Config, Vec<EnvProblem>)) -> Result<Config> {
    if problems.is_empty() {
        return Ok(c);
    }
    let all: Vec<String> = problems.iter().map(EnvProblem::to_string).collect();
    Err(Error::Config(all.join("; ")))
}

/// Reads variables through a lookup, collecting what cannot be used.
struct EnvReader<F> {
    get: F,
    problems: Vec<EnvProblem>,
}

impl<F: Fn(&str) -> Option<OsString>> EnvReader<F> {
    /// The variable's value if it is set; a value that is not UTF-8 is a problem.
    fn text(&mut self, var: &'static str) -> Option<String> {
        match (self.get)(var)?.into_string() {
            Ok(s) => Some(s),
            Err(raw) => {
                self.problems.push(EnvProblem {
                    var,
                    value: raw.to_string_lossy().into_owned(),
                    item: None,
                    expected: EXPECTED_UTF8.to_string(),
                });
                None
            }
        }
    }

    /// The variable's value parsed by `parse` (which says what it expected on failure), if
    /// it is set and valid.
    fn parse<T>(
        &mut self,
        var: &'static str,
        parse: impl FnOnce(&str) -> std::result::Result<T, &'static str>,
    ) -> Option<T> {
        let v = self.text(var)?;
        match parse(&v) {
            Ok(t) => Some(t),
            Err(expected) => {
                self.problems.push(EnvProblem {
                    var,
                    value: v,
                    item: None,
                    expected: expected.to_string(),
                });
                None
            }
        }
    }
}

fn parse_num(v: &str) -> std::result::Result<usize, &'static str> {
    v.trim().parse().map_err(|_| EXPECTED_NUMBER)
}

fn parse_bool(v: &str) -> std::result::Result<bool, &'static str> {
    match v.trim().to_ascii_lowercase().as_str() {
        "1" | "true" | "on" | "yes" => Ok(true),
        "0" | "false" | "off" | "no" => Ok(false),
        _ => Err(EXPECTED_BOOL),
    }
}

/// Whether `name` is the name of an op of the program format.
fn is_op_name(name: &str) -> bool {
    op_names().any(|n| n == name)
}

/// The environment configuration and its problems, read once per process; the problems
/// are printed to stderr as warnings when it is read.
static FROM_ENV: LazyLock<(Config, Vec<EnvProblem>)> = LazyLock::new(|| {
    let (c, problems) = Config::from_env_with_problems();
    for p in &problems {
        eprintln!("lazyjit: ignoring {p}");
    }
    (c, problems)
});

/// The `LAZYJIT_*` environment variables (or items of them) that the global configuration
/// ignored because their values cannot be used. The environment is read once per process,
/// the first time the configuration is needed (or by this call); each problem is also
/// printed once to stderr as `lazyjit: ignoring LAZYJIT_DEBUG="x": expected 0, 1 or 2`.
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

static CONFIG: LazyLock<RwLock<Arc<Config>>> =
    LazyLock::new(|| RwLock::new(Arc::new(FROM_ENV.0.clone())));

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
}

impl Hot {
    const DEFAULT: Hot = Hot {
        backend: BackendKind::Cranelift,
        any_forced_fallback: false,
        trim_graph_depth: usize::MAX,
        trim_graph_nodes: usize::MAX,
        debug: 0,
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

    fn os_lookup(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<OsString> {
        let get = lookup(pairs);
        move |k| get(k).map(OsString::from)
    }

    /// Every variable set to a good value, different from the default.
    const GOOD: [(&str, &str); 9] = [
        ("LAZYJIT_BACKEND", "reference"),
        ("LAZYJIT_CACHE_SIZE", "7"),
        ("LAZYJIT_DATA_CACHE_SIZE", "5"),
        ("LAZYJIT_SPECIAL_SCALARS", "0"),
        ("LAZYJIT_TRIM_GRAPH_DEPTH", "33"),
        ("LAZYJIT_TRIM_GRAPH_NODES", "44"),
        ("LAZYJIT_FORCE_FALLBACK", "exp, matmul,"),
        ("LAZYJIT_DEBUG", "2"),
        ("LAZYJIT_OPT_LEVEL", "none"),
    ];

    fn good_config() -> Config {
        Config {
            backend: BackendKind::Reference,
            cache_capacity: 7,
            data_cache_capacity: 5,
            special_scalars: false,
            trim_graph_depth: 33,
            trim_graph_nodes: 44,
            force_fallback: ["exp", "matmul"].map(String::from).into(),
            debug: 2,
            opt_level: OptLevel::None,
        }
    }

    #[test]
    fn env_overrides_defaults() {
        let c = Config::from_lookup(lookup(&GOOD)).unwrap();
        assert_eq!(c, good_config());
        assert_eq!(
            c.force_fallback.iter().cloned().collect::<Vec<_>>(),
            vec!["exp".to_string(), "matmul".to_string()]
        );
        assert_eq!(Config::from_lookup(|_| None).unwrap(), Config::default());
        assert_eq!(
            Config::from_os_lookup(|_| None),
            (Config::default(), vec![])
        );
        let d = Config::default();
        assert_eq!((d.trim_graph_depth, d.trim_graph_nodes), (10_000, 100_000));
    }

    #[test]
    fn one_bad_variable_keeps_the_others() {
        // The case of the issue: a bad LAZYJIT_DEBUG used to reset the cache size too.
        let (c, problems) = Config::from_os_lookup(os_lookup(&[
            ("LAZYJIT_CACHE_SIZE", "16"),
            ("LAZYJIT_DEBUG", "x"),
        ]));
        assert_eq!(c.cache_capacity, 16);
        assert_eq!(c.debug, 0);
        assert_eq!(
            problems,
            vec![EnvProblem {
                var: "LAZYJIT_DEBUG",
                value: "x".into(),
                item: None,
                expected: "0, 1 or 2".into(),
            }]
        );
        assert_eq!(
            problems[0].to_string(),
            r#"LAZYJIT_DEBUG="x": expected 0, 1 or 2"#
        );
    }

    #[test]
    fn each_bad_variable_is_reported_and_the_others_apply() {
        let bad_values: [(&str, &[&str]); 8] = [
            ("LAZYJIT_BACKEND", &["gpu", ""]),
            ("LAZYJIT_CACHE_SIZE", &["-1", "lots", "1e3", ""]),
            ("LAZYJIT_DATA_CACHE_SIZE", &["-1", "x"]),
            ("LAZYJIT_SPECIAL_SCALARS", &["maybe", "2"]),
            ("LAZYJIT_TRIM_GRAPH_DEPTH", &["lots", "-5"]),
            ("LAZYJIT_TRIM_GRAPH_NODES", &["100k", "-1"]),
            ("LAZYJIT_DEBUG", &["x", "3", "9", "-1", "256"]),
            ("LAZYJIT_OPT_LEVEL", &["3", "fast"]),
        ];
        for (var, values) in bad_values {
            for &value in values {
                let mut env: Vec<(&str, &str)> =
                    GOOD.into_iter().filter(|(k, _)| *k != var).collect();
                env.push((var, value));
                let (c, problems) = Config::from_os_lookup(os_lookup(&env));
                assert_eq!(problems.len(), 1, "{var}={value:?}: {problems:?}");
                let p = &problems[0];
                assert_eq!(
                    (p.var, p.value.as_str(), p.item.as_deref()),
                    (var, value, None)
                );
                let text = p.to_string();
                assert!(
                    text.starts_with(&format!("{var}={value:?}: expected ")),
                    "{text}"
                );
                // The bad variable keeps its default; every other one applies.
                let mut want = good_config();
                let d = Config::default();
                match var {
                    "LAZYJIT_BACKEND" => want.backend = d.backend,
                    "LAZYJIT_CACHE_SIZE" => want.cache_capacity = d.cache_capacity,
                    "LAZYJIT_DATA_CACHE_SIZE" => want.data_cache_capacity = d.data_cache_capacity,
                    "LAZYJIT_SPECIAL_SCALARS" => want.special_scalars = d.special_scalars,
                    "LAZYJIT_TRIM_GRAPH_DEPTH" => want.trim_graph_depth = d.trim_graph_depth,
                    "LAZYJIT_TRIM_GRAPH_NODES" => want.trim_graph_nodes = d.trim_graph_nodes,
                    "LAZYJIT_DEBUG" => want.debug = d.debug,
                    "LAZYJIT_OPT_LEVEL" => want.opt_level = d.opt_level,
                    _ => unreachable!(),
                }
                assert_eq!(c, want, "{var}={value:?}");
                // The strict variant fails, naming the variable and the value.
                let e = Config::from_lookup(lookup(&env)).unwrap_err();
                assert!(matches!(e, Error::Config(_)), "{e:?}");
                assert!(e.to_string().contains(&text), "{e}");
            }
        }
    }

    #[test]
    fn expected_values_are_named() {
        let expect = |var: &str, value: &str, expected: &str| {
            let (_, p) = Config::from_os_lookup(os_lookup(&[(var, value)]));
            assert_eq!(p.len(), 1, "{var}");
            assert_eq!(p[0].expected, expected, "{var}");
        };
        expect("LAZYJIT_BACKEND", "gpu", r#""cranelift" or "reference""#);
        expect("LAZYJIT_CACHE_SIZE", "-1", "a non-negative integer");
        expect("LAZYJIT_TRIM_GRAPH_NODES", "x", "a non-negative integer");
        expect("LAZYJIT_SPECIAL_SCALARS", "maybe", "0 or 1");
        expect("LAZYJIT_DEBUG", "9", "0, 1 or 2");
        expect("LAZYJIT_OPT_LEVEL", "3", r#""none" or "speed""#);
    }

    #[test]
    fn debug_accepts_only_0_1_2() {
        for (v, want) in [("0", 0), (" 1 ", 1), ("2", 2)] {
            let (c, p) = Config::from_os_lookup(os_lookup(&[("LAZYJIT_DEBUG", v)]));
            assert_eq!((c.debug, p.len()), (want, 0), "{v:?}");
        }
        for v in ["3", "9", "255", "256", "-1", "1.5", "02x"] {
            let (c, p) = Config::from_os_lookup(os_lookup(&[("LAZYJIT_DEBUG", v)]));
            assert_eq!(c.debug, 0, "{v:?}");
            assert_eq!(p.len(), 1, "{v:?}");
            assert_eq!(
                p[0].to_string(),
                format!("LAZYJIT_DEBUG={v:?}: expected 0, 1 or 2")
            );
        }
    }

    #[test]
    fn unknown_fallback_op_names_are_reported_and_known_ones_apply() {
        let value = "exp, expp,,matmul , reduce_sum,Tanh, add,";
        let (c, problems) = Config::from_os_lookup(os_lookup(&[
            ("LAZYJIT_FORCE_FALLBACK", value),
            ("LAZYJIT_CACHE_SIZE", "3"),
        ]));
        assert_eq!(
            c.force_fallback,
            ["add", "exp", "matmul", "reduce_sum"]
                .map(String::from)
                .into()
        );
        assert_eq!(c.cache_capacity, 3);
        let items: Vec<_> = problems
            .iter()
            .map(|p| p.item.as_deref().unwrap())
            .collect();
        assert_eq!(items, ["expp", "Tanh"]);
        for p in &problems {
            assert_eq!((p.var, p.value.as_str()), ("LAZYJIT_FORCE_FALLBACK", value));
        }
        assert_eq!(
            problems[0].to_string(),
            format!(
                "\"expp\" in LAZYJIT_FORCE_FALLBACK={value:?}: expected an op name of the \
                 program format, such as exp, matmul or reduce_sum"
            )
        );
        let e = Config::from_lookup(lookup(&[("LAZYJIT_FORCE_FALLBACK", value)])).unwrap_err();
        assert!(
            e.to_string().contains("\"expp\"") && e.to_string().contains("\"Tanh\""),
            "{e}"
        );
        // Empty items and an empty value are fine.
        let (c, p) = Config::from_os_lookup(os_lookup(&[("LAZYJIT_FORCE_FALLBACK", " , ,")]));
        assert!(c.force_fallback.is_empty() && p.is_empty());
    }

    #[test]
    fn every_op_name_of_the_format_is_accepted() {
        let names: Vec<&str> = op_names().collect();
        for n in [
            "neg",
            "exp",
            "not",
            "add",
            "pow",
            "or",
            "reduce_sum",
            "argmin",
            "where",
            "cast",
            "constant",
            "iota",
            "reshape",
            "permute",
            "expand",
            "slice",
            "concat",
            "pad",
            "gather",
            "index_select",
            "matmul",
        ] {
            assert!(names.contains(&n), "{n}");
        }
        let unique: BTreeSet<&str> = names.iter().copied().collect();
        assert_eq!(unique.len(), names.len(), "{names:?}");
        assert_eq!(
            names.len(),
            lazyjit_lowering::UnaryOp::ALL.len()
                + lazyjit_lowering::BinaryOp::ALL.len()
                + lazyjit_lowering::ReduceOp::ALL.len()
                + 13
        );
        // The text parser knows every one of them as an op (the instruction may still be
        // malformed: no attributes, wrong operand count), and rejects a name that is not.
        let parse = |name: &str| {
            let src = format!("param %x: f32[2]\n%1: f32[2] = {name} %x\nreturn %1\n");
            lazyjit_lowering::text::parse_unverified(&src)
                .err()
                .map(|e| e.to_string())
        };
        for n in &names {
            if let Some(e) = parse(n) {
                assert!(!e.contains("unknown op"), "{n}: {e}");
            }
        }
        assert!(parse("expp").unwrap().contains("unknown op"));
    }

    #[cfg(unix)]
    #[test]
    fn non_utf8_values_are_reported_lossily() {
        use std::os::unix::ffi::OsStringExt;
        let (c, problems) = Config::from_os_lookup(|k| match k {
            "LAZYJIT_BACKEND" => Some(OsString::from_vec(b"ref\xffrence".to_vec())),
            "LAZYJIT_FORCE_FALLBACK" => Some(OsString::from_vec(b"exp,\xfe".to_vec())),
            "LAZYJIT_CACHE_SIZE" => Some("12".into()),
            _ => None,
        });
        assert_eq!(c.backend, BackendKind::Cranelift);
        assert!(c.force_fallback.is_empty());
        assert_eq!(c.cache_capacity, 12);
        assert_eq!(problems.len(), 2, "{problems:?}");
        assert_eq!(problems[0].var, "LAZYJIT_BACKEND");
        assert_eq!(problems[0].value, "ref\u{fffd}rence");
        assert_eq!(problems[0].expected, "valid UTF-8 text");
        assert_eq!(
            problems[0].to_string(),
            "LAZYJIT_BACKEND=\"ref\u{fffd}rence\": expected valid UTF-8 text"
        );
        assert_eq!(problems[1].var, "LAZYJIT_FORCE_FALLBACK");
        assert_eq!(problems[1].value, "exp,\u{fffd}");
    }

    #[test]
    fn validate_checks_fallback_names_and_debug() {
        assert!(Config::default().validate().is_ok());
        assert!(good_config().validate().is_ok());
        let mut c = good_config();
        c.force_fallback.insert("softmax".into());
        c.debug = 9;
        let e = c.validate().unwrap_err();
        assert!(matches!(e, Error::Config(_)), "{e:?}");
        let text = e.to_string();
        assert!(
            text.contains("\"softmax\"") && text.contains("debug: 9"),
            "{text}"
        );
    }

    #[test]
    fn hot_trim_graph_nodes_zero_means_off() {
        let mut c = Config::default();
        assert_eq!(Hot::of(&c).trim_graph_nodes, 100_000);
        c.trim_graph_nodes = 0;
        assert_eq!(Hot::of(&c).trim_graph_nodes, usize::MAX);
        c.trim_graph_nodes = 5;
        assert_eq!(with(|x| x.trim_graph_nodes = 5, hot).trim_graph_nodes, 5);
    }
}
