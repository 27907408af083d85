//! Reading the configuration from `LAZYJIT_*` variables (each parsed on its own, problems
//! collected rather than fatal) and checking settings built from user input.

use super::{BackendKind, Config, OptLevel};
use crate::error::{Error, Result};
use lazyjit_lowering::text::op_names;
use std::collections::BTreeSet;
use std::ffi::OsString;
use std::fmt;

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

pub(super) const EXPECTED_BACKEND: &str = "\"cranelift\" or \"reference\"";
const EXPECTED_NUMBER: &str = "a non-negative integer";
const EXPECTED_BOOL: &str = "0 or 1";
const EXPECTED_DEBUG: &str = "0, 1 or 2";
const EXPECTED_OPT_LEVEL: &str = "\"none\" or \"speed\"";
const EXPECTED_WIDE_MATH: &str = "\"avx512\", \"avx2\" or \"off\"";
const EXPECTED_OP: &str = "an op name of the program format, such as exp, matmul or reduce_sum";
const EXPECTED_UTF8: &str = "valid UTF-8 text";

impl Config {
    /// Defaults overridden by the `LAZYJIT_*` environment variables that are set, read now
    /// (the global configuration reads them once; see
    /// [`env_problems`](super::env_problems)).
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
        if let Some(v) = env.parse("LAZYJIT_DONATE", parse_bool) {
            c.donate = v;
        }
        if let Some(v) = env.parse("LAZYJIT_BUFFER_POOL_BYTES", parse_num) {
            c.buffer_pool_bytes = v;
        }
        if let Some(v) = env.parse("LAZYJIT_THREADS", parse_num) {
            c.threads = v;
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
        // Read by the lowering crate itself (once per process, `math::wide_fn`), which ignores
        // a value it cannot use: checked here so that such a value is reported like the others.
        env.parse("LAZYJIT_WIDE_MATH", |s| {
            lazyjit_lowering::codegen::math::parse_wide_cap(s).ok_or(EXPECTED_WIDE_MATH)
        });
        (c, env.problems)
    }

    /// Checks what the types do not: every [`Config::force_fallback`] name is an op name of
    /// the program format, and [`Config::debug`] is 0, 1 or 2. Fails with an
    /// [`Error::Config`] naming every bad setting.
    ///
    /// [`set`](super::set), [`update`](super::update) and [`with`](super::with) do not
    /// call it (an unknown fallback name never matches an op, a debug level above 2 logs
    /// like 2); call it on configurations built from user input. The environment variables
    /// are checked as they are read.
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
