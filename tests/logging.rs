//! Diagnostics go through the `log` facade: a capturing logger sees compiles, recompile
//! explanations, syncs, eager fallbacks and graph trims under their targets and levels, and
//! once a logger is set up nothing is printed to stderr, whatever `LAZYJIT_DEBUG` says.
//!
//! Its own test binary: the logger is global to the process.

use lazyjit::{config, logging, LazyTensor, Result};
use log::{Level, LevelFilter, Log, Metadata, Record};
use std::process::Command;
use std::sync::{Mutex, Once};

/// One captured record: target, level, message.
type Captured = (String, Level, String);

struct Capture(Mutex<Vec<Captured>>);

impl Log for Capture {
    fn enabled(&self, _: &Metadata<'_>) -> bool {
        true
    }

    fn log(&self, r: &Record<'_>) {
        self.0
            .lock()
            .unwrap()
            .push((r.target().to_string(), r.level(), r.args().to_string()));
    }

    fn flush(&self) {}
}

static CAPTURE: Capture = Capture(Mutex::new(Vec::new()));

fn install() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        log::set_logger(&CAPTURE).expect("no other logger");
        log::set_max_level(LevelFilter::Trace);
    });
}

/// The records captured so far whose message contains `needle`.
fn records_with(needle: &str) -> Vec<Captured> {
    CAPTURE
        .0
        .lock()
        .unwrap()
        .iter()
        .filter(|(_, _, m)| m.contains(needle))
        .cloned()
        .collect()
}

/// `sqrt` of `n` ones, created at one call site whatever `n` (so a new `n` recompiles with
/// an explanation).
fn shaped(n: usize) -> Result<LazyTensor> {
    LazyTensor::from_vec(vec![1.0f32; n], &[n])?.sqrt()
}

/// Runs every kind of event once; returns the file that names their call sites.
fn trigger_everything() -> Result<()> {
    shaped(3)?.to_vec::<f32>()?;
    shaped(3)?.to_vec::<f32>()?; // cache hit
    shaped(4)?.to_vec::<f32>()?; // recompiled: a new shape at the same call sites
    config::with(
        |c| {
            c.force_fallback.insert("exp".to_string());
        },
        || {
            LazyTensor::from_vec(vec![0.0f32], &[1])?
                .exp()?
                .to_vec::<f32>()
        },
    )?;
    config::with(
        |c| c.trim_graph_depth = 2,
        || -> Result<()> {
            let x = LazyTensor::from_vec(vec![1.0f64, 2.0], &[2])?;
            let y = x.neg()?.abs()?.neg()?; // depth 3: trimmed
            assert!(!y.is_pending());
            // A trim whose sync fails: the gather index is out of range.
            let idx = LazyTensor::from_vec(vec![5i64], &[1])?;
            let bad = x.gather(0, &idx)?.neg()?.abs()?;
            assert!(bad.is_pending(), "the failed trim leaves it pending");
            Ok(())
        },
    )
}

#[test]
fn every_event_reaches_the_logger_under_its_target_and_level() -> Result<()> {
    install();
    // `debug` 0: the logger decides, not the setting.
    config::with(|c| c.debug = 0, trigger_everything)?;
    let file = file!();

    let compiles: Vec<Captured> = records_with("compiled graph ")
        .into_iter()
        .filter(|(_, _, m)| m.starts_with("compiled graph "))
        .collect();
    assert!(compiles.len() >= 2, "{compiles:?}");
    for (target, level, m) in &compiles {
        assert_eq!((target.as_str(), *level), (logging::COMPILE, Level::Debug));
        assert!(m.contains(" nodes, ") && m.contains(" backend)"), "{m}");
    }

    let why = records_with("shape [3] before, [4] now");
    assert_eq!(why.len(), 1, "{why:?}");
    let (target, level, m) = &why[0];
    assert_eq!((target.as_str(), *level), (logging::CACHE, Level::Debug));
    assert!(m.starts_with("recompiled graph "), "{m}");
    // Hashes print as 16 hex digits.
    let hash = &m["recompiled graph ".len()..][..16];
    assert!(hash.chars().all(|c| c.is_ascii_hexdigit()), "{m}");

    let syncs = records_with(&format!("sync at {file}:"));
    assert!(
        syncs.iter().any(|(_, _, m)| m.contains("cache hit")),
        "{syncs:?}"
    );
    for (target, level, _) in &syncs {
        assert_eq!((target.as_str(), *level), (logging::SYNC, Level::Trace));
    }

    let fallback = records_with("runs eagerly on the reference interpreter");
    assert_eq!(fallback.len(), 1, "{fallback:?}");
    let (target, level, m) = &fallback[0];
    assert_eq!((target.as_str(), *level), (logging::FALLBACK, Level::Debug));
    assert!(m.starts_with(&format!("exp at {file}:")), "{m}");
    assert!(m.ends_with("(forced by force_fallback)"), "{m}");

    let trims = records_with(&format!("trimming the pending graph at {file}:"));
    assert_eq!(trims.len(), 2, "{trims:?}");
    for (target, level, m) in &trims {
        assert_eq!((target.as_str(), *level), (logging::TRIM, Level::Debug));
        assert!(m.ends_with("depth 3 > trim_graph_depth 2"), "{m}");
    }
    let failed = records_with("automatic graph trim at ");
    assert_eq!(failed.len(), 1, "{failed:?}");
    let (target, level, m) = &failed[0];
    assert_eq!((target.as_str(), *level), (logging::TRIM, Level::Debug));
    // The whole error chain, each part once.
    assert!(m.contains(" failed: running graph "), "{m}");
    assert!(m.contains(") failed: gather"), "{m}");
    assert_eq!(m.matches("out of range").count(), 1, "{m}");
    Ok(())
}

#[test]
fn with_a_logger_nothing_is_printed_to_stderr() {
    let exe = std::env::current_exe().expect("test binary path");
    let out = Command::new(exe)
        .args([
            "child_logs_with_a_logger",
            "--exact",
            "--nocapture",
            "--include-ignored",
        ])
        .env("LAZYJIT_LOGGING_CHILD", "1")
        .env("LAZYJIT_DEBUG", "2")
        .output()
        .expect("run the child test");
    let err = String::from_utf8_lossy(&out.stderr);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}{err}");
    assert!(stdout.contains("1 passed"), "{stdout}");
    assert!(!err.contains("lazyjit: "), "{err}");
}

#[test]
#[ignore = "run by with_a_logger_nothing_is_printed_to_stderr in a child process"]
fn child_logs_with_a_logger() -> Result<()> {
    assert!(std::env::var("LAZYJIT_LOGGING_CHILD").is_ok());
    install();
    assert_eq!(config::get().debug, 2);
    trigger_everything()?;
    assert!(!records_with("compiled graph ").is_empty());
    assert!(!records_with("sync at ").is_empty());
    Ok(())
}
