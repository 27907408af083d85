//! Diagnostics through the [`log`] facade, so an application filters and redirects them
//! with the logger it already has (`env_logger`, `tracing-subscriber`'s log bridge, ...).
//! The library never installs a logger.
//!
//! | target | level | what |
//! |---|---|---|
//! | `lazyjit::compile` ([`COMPILE`]) | debug | each compile: graph hash, nodes, inputs, outputs, compile time, backend |
//! | `lazyjit::cache` ([`CACHE`]) | debug | each recompile explanation: why a graph built at the same call sites as a cached one missed the cache |
//! | `lazyjit::sync` ([`SYNC`]) | trace | each sync: where, graph hash, nodes, inputs, cache hit or compile, execute time |
//! | `lazyjit::fallback` ([`FALLBACK`]) | debug | each op run eagerly on the reference interpreter, and why |
//! | `lazyjit::trim` ([`TRIM`]) | debug | each automatic graph trim (and a failed one) |
//! | `lazyjit::config` ([`CONFIG`]) | warn | each `LAZYJIT_*` variable ignored because its value cannot be used |
//!
//! With `env_logger`, `RUST_LOG=lazyjit=debug` shows compiles, explanations, fallbacks and
//! trims, `RUST_LOG=lazyjit::sync=trace` every sync.
//!
//! **Without a logger** (the `log` crate's maximum level is `Off`, as it is until a logger
//! sets it), lazyjit prints to stderr itself, as `lazyjit: MESSAGE`: the warnings always,
//! the debug records when [`Config::debug`](crate::Config::debug) (`LAZYJIT_DEBUG`) is 1 or
//! more, the trace records when it is 2. So `LAZYJIT_DEBUG=1` works for the examples, the
//! tests and any program without a logger; once a logger is set up, every record goes to
//! it alone and `LAZYJIT_DEBUG` no longer affects logging.
//!
//! Disabled logging costs one relaxed atomic load per event (the check of `log`'s maximum
//! level); nothing is formatted. No event is logged per recorded op.

use log::{Level, LevelFilter};
use std::fmt;

/// Compiles (debug).
pub const COMPILE: &str = "lazyjit::compile";
/// Recompile explanations of cache misses (debug).
pub const CACHE: &str = "lazyjit::cache";
/// Syncs (trace).
pub const SYNC: &str = "lazyjit::sync";
/// Eager fallbacks (debug).
pub const FALLBACK: &str = "lazyjit::fallback";
/// Automatic graph trims (debug).
pub const TRIM: &str = "lazyjit::trim";
/// Ignored configuration (warn).
pub const CONFIG: &str = "lazyjit::config";

/// Where an enabled event goes.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(crate) enum Sink {
    /// The installed logger.
    Log,
    /// Stderr: no logger is set up and `debug` asks for this level.
    Stderr,
}

/// Where an event at `level` for `target` goes, if anywhere. `debug` is the current
/// [`Config::debug`](crate::Config::debug).
#[inline]
pub(crate) fn sink(target: &str, level: Level, debug: u8) -> Option<Sink> {
    if log::max_level() == LevelFilter::Off {
        return (level <= fallback_level(debug)).then_some(Sink::Stderr);
    }
    log::log_enabled!(target: target, level).then_some(Sink::Log)
}

/// The most detailed level printed to stderr without a logger, for a debug setting.
fn fallback_level(debug: u8) -> Level {
    match debug {
        0 => Level::Warn,
        1 => Level::Debug,
        _ => Level::Trace,
    }
}

/// Sends one event to `sink`.
#[cold]
pub(crate) fn emit(sink: Sink, target: &str, level: Level, args: fmt::Arguments<'_>) {
    match sink {
        Sink::Log => log::log!(target: target, level, "{args}"),
        Sink::Stderr => eprintln!("lazyjit: {args}"),
    }
}

/// `log_at!(TARGET, Level::Debug, cfg.debug, "format", args...)`: formats and sends the
/// event only if it goes somewhere ([`sink`]).
macro_rules! log_at {
    ($target:expr, $level:expr, $debug:expr, $($arg:tt)+) => {
        if let Some(sink) = $crate::logging::sink($target, $level, $debug) {
            $crate::logging::emit(sink, $target, $level, format_args!($($arg)+));
        }
    };
}
pub(crate) use log_at;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn without_a_logger_the_debug_setting_picks_what_reaches_stderr() {
        // Unit tests install no logger, so the maximum level stays Off.
        assert_eq!(log::max_level(), LevelFilter::Off);
        assert_eq!(sink(CONFIG, Level::Warn, 0), Some(Sink::Stderr));
        assert_eq!(sink(COMPILE, Level::Debug, 0), None);
        assert_eq!(sink(COMPILE, Level::Debug, 1), Some(Sink::Stderr));
        assert_eq!(sink(SYNC, Level::Trace, 1), None);
        assert_eq!(sink(SYNC, Level::Trace, 2), Some(Sink::Stderr));
        assert_eq!(sink(SYNC, Level::Trace, 9), Some(Sink::Stderr));
    }
}
