//! The `LAZYJIT_*` environment variables reach the executor: each case re-runs this test
//! binary as a child process with the variables set (the configuration is read once per
//! process), and the child checks what the executor did.

use lazyjit::metrics::{self, Counter};
use lazyjit::{config, BackendKind, LazyTensor};
use std::ffi::OsStr;
use std::process::Command;

/// Runs the test `name` of this binary in a child process with `vars` set; returns what the
/// child printed (stdout, then stderr).
fn run_child<V: AsRef<OsStr>>(name: &str, vars: &[(&str, V)]) -> String {
    let exe = std::env::current_exe().expect("test binary path");
    let mut cmd = Command::new(exe);
    cmd.args([name, "--exact", "--nocapture", "--include-ignored"])
        .env("LAZYJIT_ENV_CHILD", "1");
    for (k, v) in vars {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("run the child test");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "child {name} failed:\n{text}");
    assert!(
        text.contains("1 passed"),
        "child {name} did not run:\n{text}"
    );
    text
}

fn is_child() -> bool {
    std::env::var("LAZYJIT_ENV_CHILD").is_ok()
}

#[test]
fn force_fallback_from_env() {
    run_child(
        "child_force_fallback",
        &[("LAZYJIT_FORCE_FALLBACK", "exp, tanh")],
    );
}

#[test]
#[ignore = "run by force_fallback_from_env in a child process"]
fn child_force_fallback() {
    assert!(is_child());
    let cfg = config::get();
    assert!(cfg.force_fallback.contains("exp") && cfg.force_fallback.contains("tanh"));
    let before = (
        metrics::counter_value("fallback::exp"),
        metrics::counter_value("fallback::tanh"),
        metrics::value(Counter::Fallback),
    );
    let x = LazyTensor::from_vec(vec![0.0f32, 1.0], &[2]).unwrap();
    let y = x.exp().unwrap();
    assert!(!y.is_pending(), "a fallback op runs eagerly");
    let z = y.tanh().unwrap().add(&x).unwrap();
    assert!(z.is_pending(), "add is still recorded");
    let v = z.to_vec::<f32>().unwrap();
    assert!((v[1] - (1f32.exp().tanh() + 1.0)).abs() < 1e-6);
    assert_eq!(metrics::counter_value("fallback::exp"), before.0 + 1);
    assert_eq!(metrics::counter_value("fallback::tanh"), before.1 + 1);
    assert_eq!(metrics::value(Counter::Fallback), before.2 + 2);
}

#[test]
fn backend_and_cache_size_from_env() {
    run_child(
        "child_backend_and_cache_size",
        &[
            ("LAZYJIT_BACKEND", "reference"),
            ("LAZYJIT_CACHE_SIZE", "3"),
            ("LAZYJIT_SPECIAL_SCALARS", "0"),
        ],
    );
}

#[test]
#[ignore = "run by backend_and_cache_size_from_env in a child process"]
fn child_backend_and_cache_size() {
    assert!(is_child());
    let cfg = config::get();
    assert_eq!(cfg.backend, BackendKind::Reference);
    assert_eq!(cfg.cache_capacity, 3);
    assert!(!cfg.special_scalars);
    let x = LazyTensor::from_vec(vec![2.0f64], &[1]).unwrap();
    for n in 0..6 {
        // Six different graphs (chains of different length) through a cache of three.
        let mut y = x.clone();
        for _ in 0..=n {
            y = y.mul_scalar(1.0).unwrap();
        }
        assert_eq!(y.to_vec::<f64>().unwrap(), vec![2.0]);
    }
    assert_eq!(lazyjit::cache_len(), 3);
    assert!(metrics::value(Counter::CacheEvict) >= 3);
    assert_eq!(
        metrics::value(Counter::InlinedScalar),
        0,
        "1.0 is a parameter"
    );
}

#[test]
fn bad_env_value_is_ignored_with_a_warning_and_the_others_apply() {
    let text = run_child(
        "child_bad_env_value",
        &[
            ("LAZYJIT_CACHE_SIZE", "16"),
            ("LAZYJIT_DEBUG", "x"),
            ("LAZYJIT_FORCE_FALLBACK", "exp,expp"),
        ],
    );
    let warning = r#"lazyjit: ignoring LAZYJIT_DEBUG="x": expected 0, 1 or 2"#;
    assert_eq!(text.matches(warning).count(), 1, "printed once:\n{text}");
    assert!(
        text.contains(
            r#"lazyjit: ignoring "expp" in LAZYJIT_FORCE_FALLBACK="exp,expp": expected an op name"#
        ),
        "{text}"
    );
}

#[test]
#[ignore = "run by bad_env_value_is_ignored_with_a_warning_and_the_others_apply in a child process"]
fn child_bad_env_value() {
    assert!(is_child());
    // The bad variable keeps its default; the good ones (and the good item) still apply.
    let cfg = config::get();
    assert_eq!(cfg.cache_capacity, 16);
    assert_eq!(cfg.debug, 0);
    assert_eq!(cfg.force_fallback.iter().collect::<Vec<_>>(), ["exp"]);
    let problems = config::env_problems();
    let vars: Vec<_> = problems.iter().map(|p| p.var).collect();
    assert_eq!(vars, ["LAZYJIT_FORCE_FALLBACK", "LAZYJIT_DEBUG"]);
    assert_eq!(problems[1].value, "x");
    assert_eq!(problems[1].expected, "0, 1 or 2");
    assert_eq!(problems[0].item.as_deref(), Some("expp"));
    // The strict API fails, naming the bad variables.
    let e = lazyjit::Config::from_env().unwrap_err();
    assert!(e.to_string().contains(r#"LAZYJIT_DEBUG="x""#), "{e}");
}

#[cfg(unix)]
#[test]
fn non_utf8_env_value_is_reported() {
    use std::os::unix::ffi::OsStrExt;
    let text = run_child(
        "child_non_utf8_env_value",
        &[
            ("LAZYJIT_BACKEND", OsStr::from_bytes(b"ref\xffrence")),
            ("LAZYJIT_CACHE_SIZE", OsStr::new("5")),
        ],
    );
    assert!(
        text.contains(
            "lazyjit: ignoring LAZYJIT_BACKEND=\"ref\u{fffd}rence\": expected valid UTF-8 text"
        ),
        "{text}"
    );
}

#[cfg(unix)]
#[test]
#[ignore = "run by non_utf8_env_value_is_reported in a child process"]
fn child_non_utf8_env_value() {
    assert!(is_child());
    let cfg = config::get();
    assert_eq!(cfg.backend, BackendKind::Cranelift);
    assert_eq!(cfg.cache_capacity, 5);
    assert_eq!(config::env_problems().len(), 1);
    assert_eq!(config::env_problems()[0].var, "LAZYJIT_BACKEND");
}

#[test]
fn trim_graph_nodes_from_env() {
    run_child(
        "child_trim_graph_nodes",
        &[("LAZYJIT_TRIM_GRAPH_NODES", "0")],
    );
}

#[test]
#[ignore = "run by trim_graph_nodes_from_env in a child process"]
fn child_trim_graph_nodes() {
    assert!(is_child());
    assert_eq!(config::get().trim_graph_nodes, 0);
    assert!(config::env_problems().is_empty());
}

#[test]
fn buffer_pool_bytes_from_env() {
    run_child(
        "child_buffer_pool_bytes",
        &[("LAZYJIT_BUFFER_POOL_BYTES", "0")],
    );
}

#[test]
#[ignore = "run by buffer_pool_bytes_from_env in a child process"]
fn child_buffer_pool_bytes() {
    assert!(is_child());
    assert_eq!(config::get().buffer_pool_bytes, 0);
    // Applied to the pool when the environment is read.
    assert_eq!(metrics::buffer_pool().limit, 0);
    let x = LazyTensor::from_vec(vec![1.0f32; 1 << 16], &[1 << 16]).unwrap();
    drop(x.exp().unwrap().to_vec::<f32>().unwrap());
    drop(x);
    assert_eq!(metrics::buffer_pool().bytes_held, 0);
}

#[test]
fn debug_logging_from_env() {
    let exe = std::env::current_exe().expect("test binary path");
    let out = Command::new(exe)
        .args([
            "child_debug_logging",
            "--exact",
            "--nocapture",
            "--include-ignored",
        ])
        .env("LAZYJIT_ENV_CHILD", "1")
        .env("LAZYJIT_DEBUG", "2")
        .output()
        .expect("run the child test");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(err.contains("lazyjit: compiled graph"), "{err}");
    assert!(err.contains("lazyjit: recompiled graph"), "{err}");
    assert!(err.contains("shape [3] before, [4] now"), "{err}");
    assert!(err.contains("lazyjit: sync at "), "{err}");
    assert!(err.contains("cache hit"), "{err}");
    assert!(err.contains("lazyjit: exp at "), "{err}");
    assert!(
        err.contains("runs eagerly on the reference interpreter"),
        "{err}"
    );
    assert!(
        err.contains("lazyjit: trimming the pending graph at "),
        "{err}"
    );
}

fn shaped(n: usize) -> LazyTensor {
    LazyTensor::from_vec(vec![1.0f32; n], &[n])
        .unwrap()
        .sqrt()
        .unwrap()
}

#[test]
#[ignore = "run by debug_logging_from_env in a child process"]
fn child_debug_logging() {
    assert!(is_child());
    assert_eq!(config::get().debug, 2);
    shaped(3).to_vec::<f32>().unwrap();
    shaped(3).to_vec::<f32>().unwrap();
    shaped(4).to_vec::<f32>().unwrap();
    config::with(
        |c| {
            c.force_fallback.insert("exp".to_string());
            c.trim_graph_depth = 1;
        },
        || {
            let y = shaped(2).exp().unwrap().neg().unwrap().abs().unwrap();
            assert!(!y.is_pending(), "trimmed");
        },
    );
}
