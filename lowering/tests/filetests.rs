//! Codegen regression tests in the style of Cranelift's filetests (see `docs/filetests.md`).
//!
//! Every `tests/filetests/*.lj` file is a program in the text format followed by expectation
//! sections written as `#` comments: the fusion plan, the pre-optimisation CLIF of every
//! kernel, and the program's results on deterministic inputs, computed by the reference
//! interpreter. The runner compiles the program, compares the plan and CLIF texts, runs the
//! JIT and the reference interpreter and compares both with the expected values (within a
//! tolerance for floats), and fails listing every file that differs, with a diff.
//!
//! `LAZYJIT_BLESS=1` rewrites the expectation sections in place (everything from the first
//! `# ---- expected` line on) instead of failing on plan/CLIF/result differences. A JIT result
//! that disagrees with the reference interpreter is never blessed: it still fails.
//! `LAZYJIT_FILETEST=substring` runs only the files whose name contains `substring`.

use lazyjit_lowering::codegen::{compile, CompileOptions, OptLevel};
use lazyjit_lowering::testing::compare::first_difference;
use lazyjit_lowering::{reference, text, DType, Program, Tensor, TensorType};
use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

// The runner's parts, next to the `.lj` files (a test crate root resolves modules from
// `tests/`, so the paths are explicit).
#[path = "filetests/directives.rs"]
mod directives;
#[path = "filetests/inputs.rs"]
mod inputs;
#[path = "filetests/results.rs"]
mod results;

use directives::*;
use inputs::*;
use lazyjit_lowering::testing::rng::Rng;
use results::*;

const MARKER: &str = "# ---- expected ";
const VALUES_PER_LINE: usize = 8;
/// Longest diff printed per section (the rest is counted; bless and `git diff` show it all).
const MAX_DIFF_LINES: usize = 120;

#[derive(Copy, Clone, Debug, PartialEq, Eq)]
enum Section {
    Plan,
    Clif,
    Results,
}

impl Section {
    const ALL: [Section; 3] = [Section::Plan, Section::Clif, Section::Results];

    fn name(self) -> &'static str {
        match self {
            Section::Plan => "plan",
            Section::Clif => "clif",
            Section::Results => "results",
        }
    }

    fn from_name(s: &str) -> Option<Section> {
        Section::ALL.into_iter().find(|x| x.name() == s)
    }

    fn marker(self) -> String {
        format!("{MARKER}{} ----", self.name())
    }
}

// ---------------------------------------------------------------------------------------------
// File structure and directives
// ---------------------------------------------------------------------------------------------

/// How to generate one parameter's input.
#[derive(Clone, Debug)]
enum InputSpec {
    /// Floats uniform in `[lo, hi)`.
    Uniform(f64, f64),
    /// Integers uniform in `lo..=hi`.
    Int(i64, i64),
    /// Uniform `true` / `false`.
    Bool,
    /// Explicit row-major values.
    Literal(Vec<String>),
}

struct Tolerance {
    rtol: f64,
    atol: f64,
}

struct Directives {
    seed: u64,
    inputs: HashMap<String, InputSpec>,
    checks: Vec<Section>,
    /// Per-file float tolerance override (applies to f32 and f64 outputs).
    tolerance: Option<Tolerance>,
}

struct TestFile {
    /// Everything before the first expectation marker (the program and its header comments).
    head: String,
    /// Expectation sections present in the file, comment prefixes removed.
    sections: Vec<(Section, String)>,
}

// ---------------------------------------------------------------------------------------------
// One file
// ---------------------------------------------------------------------------------------------

fn truncate_lines(s: &str, max: usize) -> String {
    let n = s.lines().count();
    if n <= max {
        return s.to_string();
    }
    let mut t: String = s.lines().take(max).map(|l| format!("{l}\n")).collect();
    let _ = writeln!(
        t,
        "... {} more diff lines (LAZYJIT_BLESS=1 then `git diff` shows all)",
        n - max
    );
    t
}

struct Outcome {
    failures: Vec<String>,
    blessed: bool,
    notes: Vec<String>,
}

fn section_text(sec: Section, body: &str) -> String {
    let mut s = sec.marker();
    s.push('\n');
    for line in body.lines() {
        if line.is_empty() {
            s.push_str("#\n");
        } else {
            let _ = writeln!(s, "# {line}");
        }
    }
    s
}

/// Every line without trailing spaces and ending in a newline (how sections are stored).
fn normalize(s: &str) -> String {
    s.lines().map(|l| format!("{}\n", l.trim_end())).collect()
}

fn uses_transcendental(p: &Program) -> bool {
    use lazyjit_lowering::{BinaryOp as B, Op, UnaryOp as U};
    p.insts.iter().any(|i| {
        matches!(
            i.op,
            Op::Unary(U::Exp | U::Log | U::Tanh | U::Sigmoid | U::Erf | U::Sin | U::Cos)
                | Op::Binary(B::Pow)
        )
    })
}

/// Why this host cannot reproduce CLIF blessed on x86-64 Linux with FMA, if it cannot.
///
/// The pre-optimisation CLIF is otherwise host-independent, with two exceptions: the calling
/// convention in every signature (`system_v`), and the math polynomials, which use `fma` only
/// when the host has it.
fn clif_host_dependent(p: &Program) -> Option<&'static str> {
    if !cfg!(all(target_arch = "x86_64", target_os = "linux")) {
        return Some("expectations are blessed on x86-64 Linux (system_v signatures)");
    }
    #[cfg(target_arch = "x86_64")]
    if uses_transcendental(p) && !std::is_x86_feature_detected!("fma") {
        return Some(
            "the math polynomials use fma only on hosts that have it, and this one has not",
        );
    }
    let _ = p;
    None
}

fn run_file(path: &Path, bless: bool) -> Outcome {
    let mut out = Outcome {
        failures: Vec::new(),
        blessed: false,
        notes: Vec::new(),
    };
    let src = match std::fs::read_to_string(path) {
        Ok(s) => s,
        Err(e) => {
            out.failures.push(format!("cannot read: {e}"));
            return out;
        }
    };
    let file = match split_file(&src) {
        Ok(f) => f,
        Err(e) => {
            out.failures.push(e);
            return out;
        }
    };
    let program = match text::parse(&file.head) {
        Ok(p) => p,
        Err(e) => {
            out.failures.push(format!("program does not parse: {e}"));
            return out;
        }
    };
    let d = match parse_directives(&file.head, &program) {
        Ok(d) => d,
        Err(e) => {
            out.failures.push(e);
            return out;
        }
    };
    let inputs = match make_inputs(&program, &d) {
        Ok(i) => i,
        Err(e) => {
            out.failures.push(e);
            return out;
        }
    };
    let opts = CompileOptions {
        opt_level: OptLevel::Speed,
        verify_clif: true,
        keep_clif: true,
        keep_disasm: false,
        // The CLIF snapshots are of the four-lane code: wide math embeds the address of a
        // host function. It is checked below against that code, bit for bit.
        wide_math: false,
        ..CompileOptions::default()
    };
    let compiled = match compile(&program, &opts) {
        Ok(c) => c,
        Err(e) => {
            out.failures.push(format!("compile failed: {e}"));
            return out;
        }
    };
    let refs: Vec<&Tensor> = inputs.iter().collect();
    let want_ref = reference::run(&program, &refs);
    let got_jit = compiled.run(&refs);
    match (&got_jit, compile(&program, &CompileOptions::default())) {
        (Ok(four), Ok(wide)) => match wide.run(&refs) {
            Ok(w) if same_bits(four, &w) => {}
            Ok(_) => out.failures.push(
                "with wide math the results are not bit-identical (NaN payloads aside)".into(),
            ),
            Err(e) => out
                .failures
                .push(format!("with wide math: run failed: {e}")),
        },
        (Ok(_), Err(e)) => out
            .failures
            .push(format!("with wide math: compile failed: {e}")),
        (Err(_), _) => {}
    }

    let actual = |sec: Section| -> String {
        normalize(&match sec {
            Section::Plan => compiled.plan().to_string(),
            Section::Clif => compiled.clif(),
            Section::Results => format_results(&want_ref),
        })
    };
    let expected = |sec: Section| {
        file.sections
            .iter()
            .find(|(s, _)| *s == sec)
            .map(|(_, t)| t)
    };
    let tol = d.tolerance.as_ref();

    // Correctness is never blessed: the JIT must agree with the reference interpreter. (Without
    // bless, the JIT and the reference are both compared with the expected values below.)
    if bless && d.checks.contains(&Section::Results) {
        let fresh = parse_results(&format_results(&want_ref)).expect("own format parses");
        for e in compare_results("JIT", &got_jit, &fresh, tol) {
            out.failures
                .push(format!("JIT differs from the reference interpreter: {e}"));
        }
    }

    if bless {
        let mut new = file.head.trim_end().to_string();
        new.push('\n');
        for sec in Section::ALL.into_iter().filter(|s| d.checks.contains(s)) {
            new.push_str(&section_text(sec, &actual(sec)));
        }
        if new != src {
            if let Err(e) = std::fs::write(path, &new) {
                out.failures.push(format!("cannot write: {e}"));
            }
            out.blessed = true;
        }
        return out;
    }

    for sec in Section::ALL {
        if !d.checks.contains(&sec) {
            if expected(sec).is_some() {
                out.failures.push(format!(
                    "has an expected {} section but '# check:' leaves it out",
                    sec.name()
                ));
            }
            continue;
        }
        let Some(exp) = expected(sec) else {
            out.failures.push(format!(
                "no expected {} section (run with LAZYJIT_BLESS=1)",
                sec.name()
            ));
            continue;
        };
        if sec == Section::Results {
            let want = match parse_results(exp) {
                Ok(w) => w,
                Err(e) => {
                    out.failures.push(format!("results section: {e}"));
                    continue;
                }
            };
            let mut errs = compare_results("JIT", &got_jit, &want, tol);
            errs.extend(
                compare_results("reference", &want_ref, &want, tol)
                    .into_iter()
                    .map(|e| format!("{e} (the reference interpreter changed? re-bless)")),
            );
            if !errs.is_empty() {
                out.failures
                    .push(format!("results differ:\n  {}", errs.join("\n  ")));
            }
            continue;
        }
        let act = actual(sec);
        if *exp != act {
            if sec == Section::Clif {
                if let Some(why) = clif_host_dependent(&program) {
                    out.notes
                        .push(format!("CLIF differs but is not compared: {why}"));
                    continue;
                }
            }
            out.failures.push(format!(
                "{} differs (- expected, + actual):\n{}",
                sec.name(),
                truncate_lines(&diff(exp, &act), MAX_DIFF_LINES)
            ));
        }
    }
    out
}

fn filetest_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join("filetests")
}

#[test]
fn filetests() {
    let bless = std::env::var("LAZYJIT_BLESS").is_ok_and(|v| !v.is_empty() && v != "0");
    let filter = std::env::var("LAZYJIT_FILETEST").unwrap_or_default();
    let mut files: Vec<PathBuf> = std::fs::read_dir(filetest_dir())
        .expect("tests/filetests exists")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "lj"))
        .filter(|p| p.file_name().unwrap().to_string_lossy().contains(&filter))
        .collect();
    files.sort();
    assert!(
        !files.is_empty(),
        "no .lj files in {:?} matching '{filter}'",
        filetest_dir()
    );
    let mut failed = Vec::new();
    let mut blessed = Vec::new();
    for path in &files {
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        let o = run_file(path, bless);
        for n in &o.notes {
            eprintln!("note: {name}: {n}");
        }
        if o.blessed {
            blessed.push(name.clone());
        }
        if !o.failures.is_empty() {
            eprintln!("FAIL {name}");
            for f in &o.failures {
                eprintln!("  {}", f.replace('\n', "\n  "));
            }
            failed.push(name);
        }
    }
    if !blessed.is_empty() {
        eprintln!("blessed (expectations rewritten): {}", blessed.join(", "));
    }
    eprintln!(
        "filetests: {} files, {} failed{}",
        files.len(),
        failed.len(),
        if bless { " (bless mode)" } else { "" }
    );
    assert!(
        failed.is_empty(),
        "{} filetest(s) failed: {}\n(see the diffs above; if a change in generated code is \
         intended, re-run with LAZYJIT_BLESS=1 and review the rewritten files)",
        failed.len(),
        failed.join(", ")
    );
}

#[test]
fn runner_self_checks() {
    assert_eq!(fmt_float(0.1234567891, 7), "0.1234568");
    assert_eq!(fmt_float(1.0, 7), "1");
    assert_eq!(fmt_float(-2.5e-7, 7), "-2.5e-7");
    assert_eq!(fmt_float(12345678.0, 7), "1.234568e7");
    assert_eq!(fmt_float(-0.0, 7), "-0");
    let d = diff("a\nb\nc\n", "a\nx\nc\n");
    assert_eq!(d, "@@ -1 +1 @@\n a\n-b\n+x\n c\n");
    assert_eq!(diff("same\n", "same\n"), "");
    let t = Tensor::from_vec((0..20).map(|x| x as f32 * 0.5).collect(), vec![2, 10]).unwrap();
    let s = format_results(&Ok(vec![t.clone()]));
    assert_eq!(
        s,
        "output 0: f32[2, 10]\n  [0, 0] 0 0.5 1 1.5 2 2.5 3 3.5\n  [0, 8] 4 4.5\n  \
         [1, 0] 5 5.5 6 6.5 7 7.5 8 8.5\n  [1, 8] 9 9.5\n"
    );
    let want = parse_results(&s).unwrap();
    assert!(compare_results("x", &Ok(vec![t]), &want, None).is_empty());
    let err: Result<Vec<Tensor>, _> = Err(lazyjit_lowering::Error::Input("two\nlines".into()));
    let s = format_results(&err);
    assert_eq!(s, "error: bad input: two\n  lines\n");
    let want = parse_results(&s).unwrap();
    assert_eq!(want, Expected::Error("bad input: two\nlines".into()));
    assert!(compare_results("x", &err, &want, None).is_empty());
    let mut r = Rng::from_state(7);
    assert!((0..1000)
        .map(|_| r.int_in(-2, 3))
        .all(|x| (-2..=3).contains(&x)));
    let f =
        split_file("# test: t\nparam %a: f32[1]\nreturn %a\n# ---- expected plan ----\n# k\n#\n")
            .unwrap();
    assert_eq!(f.sections, vec![(Section::Plan, "k\n\n".to_string())]);
}

/// Whether two runs' outputs are the same tensors, bit for bit except NaN payloads
/// (`lazyjit_lowering::testing::compare::first_difference`).
fn same_bits(a: &[Tensor], b: &[Tensor]) -> bool {
    a.len() == b.len()
        && a.iter()
            .zip(b)
            .all(|(x, y)| x.ty() == y.ty() && first_difference(x, y).is_none())
}
