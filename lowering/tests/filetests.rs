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
use lazyjit_lowering::{reference, text, DType, Program, Tensor, TensorType};
use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

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

fn split_file(src: &str) -> Result<TestFile, String> {
    let mut head = String::new();
    let mut sections: Vec<(Section, String)> = Vec::new();
    for (n, line) in src.split_inclusive('\n').enumerate() {
        let body = line.trim_end_matches(['\n', '\r']);
        if let Some(rest) = body.strip_prefix(MARKER) {
            let name = rest.trim_end_matches('-').trim();
            let sec = Section::from_name(name)
                .ok_or_else(|| format!("line {}: unknown expectation section '{name}'", n + 1))?;
            if sections.iter().any(|(s, _)| *s == sec) {
                return Err(format!("line {}: section '{name}' appears twice", n + 1));
            }
            sections.push((sec, String::new()));
            continue;
        }
        match sections.last_mut() {
            None => head.push_str(line),
            Some((_, text)) => {
                if body.trim().is_empty() {
                    continue;
                }
                let content = body
                    .strip_prefix("# ")
                    .or_else(|| body.strip_prefix('#'))
                    .ok_or_else(|| {
                        format!(
                            "line {}: expectation lines must be '#' comments, found '{body}'",
                            n + 1
                        )
                    })?;
                text.push_str(content.trim_end());
                text.push('\n');
            }
        }
    }
    Ok(TestFile { head, sections })
}

fn parse_directives(head: &str, program: &Program) -> Result<Directives, String> {
    let mut d = Directives {
        seed: 1,
        inputs: HashMap::new(),
        checks: Section::ALL.to_vec(),
        tolerance: None,
    };
    let mut has_test = false;
    for (n, line) in head.lines().enumerate() {
        let Some(c) = line.trim_start().strip_prefix('#') else {
            continue;
        };
        let Some((key, value)) = c.trim().split_once(':') else {
            continue;
        };
        let value = value.trim();
        let err = |m: String| format!("line {}: {m}", n + 1);
        match key.trim() {
            "test" => {
                if value.is_empty() {
                    return Err(err("empty '# test:' description".into()));
                }
                has_test = true;
            }
            "seed" => {
                d.seed = value
                    .parse()
                    .map_err(|_| err(format!("bad seed '{value}'")))?;
            }
            "check" => {
                d.checks = value
                    .split([',', ' '])
                    .filter(|s| !s.is_empty())
                    .map(|s| {
                        Section::from_name(s).ok_or_else(|| err(format!("unknown check '{s}'")))
                    })
                    .collect::<Result<_, _>>()?;
            }
            "tolerance" => {
                let mut t = Tolerance {
                    rtol: 0.0,
                    atol: 0.0,
                };
                for kv in value.split_whitespace() {
                    let (k, v) = kv
                        .split_once('=')
                        .ok_or_else(|| err(format!("expected rtol=X atol=Y, found '{kv}'")))?;
                    let v: f64 = v.parse().map_err(|_| err(format!("bad number '{v}'")))?;
                    match k {
                        "rtol" => t.rtol = v,
                        "atol" => t.atol = v,
                        _ => return Err(err(format!("unknown tolerance '{k}'"))),
                    }
                }
                d.tolerance = Some(t);
            }
            key if key.starts_with("input %") => {
                let name = &key["input %".len()..];
                if !program.params.iter().any(|p| p.name == name) {
                    return Err(err(format!("input for unknown parameter %{name}")));
                }
                let words: Vec<&str> = value.split_whitespace().collect();
                let num = |s: &str| -> Result<f64, String> {
                    s.parse().map_err(|_| err(format!("bad number '{s}'")))
                };
                let int = |s: &str| -> Result<i64, String> {
                    s.parse().map_err(|_| err(format!("bad integer '{s}'")))
                };
                let spec = match words.as_slice() {
                    ["uniform", lo, hi] => InputSpec::Uniform(num(lo)?, num(hi)?),
                    ["int", lo, hi] => InputSpec::Int(int(lo)?, int(hi)?),
                    ["bool"] => InputSpec::Bool,
                    ["literal", rest @ ..] => {
                        InputSpec::Literal(rest.iter().map(|s| s.trim_matches(',').to_string()).collect())
                    }
                    _ => {
                        return Err(err(format!(
                            "expected 'uniform LO HI', 'int LO HI', 'bool' or 'literal V...', found '{value}'"
                        )))
                    }
                };
                d.inputs.insert(name.to_string(), spec);
            }
            _ => {}
        }
    }
    if !has_test {
        return Err("missing '# test: <what this file pins down>' line".into());
    }
    Ok(d)
}

// ---------------------------------------------------------------------------------------------
// Deterministic inputs
// ---------------------------------------------------------------------------------------------

/// SplitMix64: tiny, seedable, and identical on every host.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `[0, 1)`.
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }

    fn int(&mut self, lo: i64, hi: i64) -> i64 {
        let span = (hi as i128 - lo as i128 + 1) as u128;
        (lo as i128 + (self.next() as u128 % span) as i128) as i64
    }
}

fn parse_literal(s: &str, dtype: DType) -> Result<f64, String> {
    let v = match s {
        "true" => 1.0,
        "false" => 0.0,
        "nan" => f64::NAN,
        "inf" => f64::INFINITY,
        "-inf" => f64::NEG_INFINITY,
        _ => s.parse::<f64>().map_err(|_| format!("bad literal '{s}'"))?,
    };
    if !dtype.is_float() && (v.fract() != 0.0 || !v.is_finite()) {
        return Err(format!("literal '{s}' does not fit {dtype}"));
    }
    Ok(v)
}

fn make_input(ty: &TensorType, spec: &InputSpec, rng: &mut Rng) -> Result<Tensor, String> {
    let n = ty.shape.numel();
    let vals: Vec<f64> = match spec {
        InputSpec::Literal(words) => {
            if words.len() != n {
                return Err(format!(
                    "{} literal values for a {ty} input ({n} elements)",
                    words.len()
                ));
            }
            words
                .iter()
                .map(|w| parse_literal(w, ty.dtype))
                .collect::<Result<_, _>>()?
        }
        InputSpec::Uniform(lo, hi) => (0..n).map(|_| lo + (hi - lo) * rng.unit()).collect(),
        InputSpec::Int(lo, hi) => (0..n).map(|_| rng.int(*lo, *hi) as f64).collect(),
        InputSpec::Bool => (0..n).map(|_| (rng.next() >> 63) as f64).collect(),
    };
    let shape = ty.shape.clone();
    let t = match ty.dtype {
        DType::F32 => Tensor::from_vec(shape, vals.iter().map(|&v| v as f32).collect()),
        DType::F64 => Tensor::from_vec(shape, vals),
        DType::I32 => Tensor::from_vec(shape, vals.iter().map(|&v| v as i32).collect()),
        DType::I64 => Tensor::from_vec(shape, vals.iter().map(|&v| v as i64).collect()),
        DType::Bool => Tensor::from_vec(shape, vals.iter().map(|&v| v != 0.0).collect()),
    };
    t.map_err(|e| e.to_string())
}

fn default_spec(dtype: DType) -> InputSpec {
    match dtype {
        DType::F32 | DType::F64 => InputSpec::Uniform(-2.0, 2.0),
        DType::I32 | DType::I64 => InputSpec::Int(-10, 10),
        DType::Bool => InputSpec::Bool,
    }
}

fn make_inputs(p: &Program, d: &Directives) -> Result<Vec<Tensor>, String> {
    p.params
        .iter()
        .enumerate()
        .map(|(i, param)| {
            let spec = d
                .inputs
                .get(&param.name)
                .cloned()
                .unwrap_or_else(|| default_spec(param.ty.dtype));
            // One stream per parameter, so adding a parameter leaves the others' data alone.
            let mut rng = Rng(d.seed.wrapping_mul(0x2545_F491_4F6C_DD1D) ^ (i as u64 + 1) << 32);
            make_input(&param.ty, &spec, &mut rng)
                .map_err(|e| format!("input %{}: {e}", param.name))
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Results: printing and comparison
// ---------------------------------------------------------------------------------------------

/// `%g`-style: `sig` significant digits, trailing zeros removed, exponent form outside
/// `1e-5 ..= 10^sig`.
fn fmt_float(v: f64, sig: usize) -> String {
    if v.is_nan() {
        return "nan".into();
    }
    if v.is_infinite() {
        return if v > 0.0 { "inf".into() } else { "-inf".into() };
    }
    if v == 0.0 {
        return if v.is_sign_negative() {
            "-0".into()
        } else {
            "0".into()
        };
    }
    let e = format!("{:.*e}", sig - 1, v);
    let (mant, exp) = e.split_once('e').expect("exponent form");
    let exp: i32 = exp.parse().expect("exponent");
    let trim = |s: &str| -> String {
        if s.contains('.') {
            s.trim_end_matches('0').trim_end_matches('.').to_string()
        } else {
            s.to_string()
        }
    };
    if exp < -5 || exp >= sig as i32 {
        format!("{}e{exp}", trim(mant))
    } else {
        let decimals = (sig as i32 - 1 - exp).max(0) as usize;
        trim(&format!("{v:.decimals$}"))
    }
}

fn fmt_elem(t: &Tensor, i: usize) -> String {
    let b = &t.buffer().as_bytes()[i * t.dtype().size_bytes()..];
    match t.dtype() {
        DType::F32 => fmt_float(f32::from_ne_bytes(b[..4].try_into().unwrap()) as f64, 7),
        DType::F64 => fmt_float(f64::from_ne_bytes(b[..8].try_into().unwrap()), 15),
        DType::I32 => i32::from_ne_bytes(b[..4].try_into().unwrap()).to_string(),
        DType::I64 => i64::from_ne_bytes(b[..8].try_into().unwrap()).to_string(),
        DType::Bool => (b[0] != 0).to_string(),
    }
}

fn multi_index(mut i: usize, dims: &[usize]) -> Vec<usize> {
    let mut idx = vec![0; dims.len()];
    for (k, &d) in dims.iter().enumerate().rev() {
        if d > 0 {
            idx[k] = i % d;
            i /= d;
        }
    }
    idx
}

fn fmt_index(idx: &[usize]) -> String {
    let parts: Vec<String> = idx.iter().map(|x| x.to_string()).collect();
    format!("[{}]", parts.join(", "))
}

/// The results section text: per output a header line and rows of values, each row prefixed by
/// the index of its first element; a new line starts at every innermost row and every
/// `VALUES_PER_LINE` values.
fn format_results(r: &Result<Vec<Tensor>, lazyjit_lowering::Error>) -> String {
    let mut s = String::new();
    match r {
        Err(e) => {
            for (k, line) in e.to_string().lines().enumerate() {
                let _ = writeln!(s, "{}{line}", if k == 0 { "error: " } else { "  " });
            }
        }
        Ok(outs) => {
            for (o, t) in outs.iter().enumerate() {
                let _ = writeln!(s, "output {o}: {}", t.ty());
                let dims = t.shape().dims();
                let inner = dims.last().copied().unwrap_or(1).max(1);
                let n = t.numel();
                let mut i = 0;
                while i < n {
                    let end = (i + VALUES_PER_LINE - (i % inner) % VALUES_PER_LINE)
                        .min(i - i % inner + inner)
                        .min(n);
                    let vals: Vec<String> = (i..end).map(|j| fmt_elem(t, j)).collect();
                    let _ = writeln!(
                        s,
                        "  {} {}",
                        fmt_index(&multi_index(i, dims)),
                        vals.join(" ")
                    );
                    i = end;
                }
            }
        }
    }
    s
}

#[derive(Debug, Clone, PartialEq)]
enum Expected {
    Error(String),
    Outputs(Vec<(String, Vec<String>)>),
}

fn parse_results(text: &str) -> Result<Expected, String> {
    if let Some(e) = text.strip_prefix("error: ") {
        let msg: Vec<&str> = e
            .lines()
            .enumerate()
            .map(|(k, l)| {
                if k == 0 {
                    l
                } else {
                    l.strip_prefix("  ").unwrap_or(l)
                }
            })
            .collect();
        return Ok(Expected::Error(msg.join("\n")));
    }
    let mut outs: Vec<(String, Vec<String>)> = Vec::new();
    for line in text.lines() {
        if let Some(h) = line.strip_prefix("output ") {
            let (_, ty) = h
                .split_once(": ")
                .ok_or_else(|| format!("bad output header '{line}'"))?;
            outs.push((ty.to_string(), Vec::new()));
        } else {
            let (_, vals) = line
                .trim_start()
                .split_once(']')
                .ok_or_else(|| format!("bad results line '{line}'"))?;
            let cur = outs
                .last_mut()
                .ok_or_else(|| format!("values before any 'output' header: '{line}'"))?;
            cur.1.extend(vals.split_whitespace().map(str::to_string));
        }
    }
    Ok(Expected::Outputs(outs))
}

fn default_tolerance(dtype: DType) -> Tolerance {
    match dtype {
        DType::F32 => Tolerance {
            rtol: 1e-5,
            atol: 1e-6,
        },
        _ => Tolerance {
            rtol: 1e-12,
            atol: 1e-12,
        },
    }
}

/// Compares actual outputs with expected ones; floats within the tolerance (NaN matches NaN,
/// infinities must match exactly), everything else exactly. Returns mismatch descriptions.
fn compare_results(
    who: &str,
    actual: &Result<Vec<Tensor>, lazyjit_lowering::Error>,
    want: &Expected,
    tol: Option<&Tolerance>,
) -> Vec<String> {
    let mut errs = Vec::new();
    match (actual, want) {
        (Err(e), Expected::Error(w)) => {
            if e.to_string() != *w {
                errs.push(format!("{who} error:\n    {e}\n  expected error:\n    {w}"));
            }
        }
        (Err(e), Expected::Outputs(_)) => errs.push(format!("{who} failed: {e}")),
        (Ok(_), Expected::Error(w)) => errs.push(format!("{who} succeeded, expected error: {w}")),
        (Ok(outs), Expected::Outputs(w)) => {
            if outs.len() != w.len() {
                errs.push(format!(
                    "{who} returned {} outputs, expected {}",
                    outs.len(),
                    w.len()
                ));
                return errs;
            }
            for (o, (t, (wty, wvals))) in outs.iter().zip(w).enumerate() {
                if t.ty().to_string() != *wty {
                    errs.push(format!("{who} output {o} is {}, expected {wty}", t.ty()));
                    continue;
                }
                if t.numel() != wvals.len() {
                    errs.push(format!(
                        "output {o}: expectation has {} values for {wty}",
                        wvals.len()
                    ));
                    continue;
                }
                let def = default_tolerance(t.dtype());
                let tol = tol.unwrap_or(&def);
                let mut bad = 0;
                for (i, w) in wvals.iter().enumerate() {
                    let got = fmt_elem(t, i);
                    let ok = if t.dtype().is_float() {
                        let g = t.get_f64(i).unwrap();
                        match parse_literal(w, t.dtype()) {
                            Err(_) => false,
                            Ok(x) if x.is_nan() || g.is_nan() => x.is_nan() && g.is_nan(),
                            Ok(x) if x.is_infinite() || g.is_infinite() => x == g,
                            Ok(x) => (g - x).abs() <= tol.atol + tol.rtol * x.abs(),
                        }
                    } else {
                        got == *w
                    };
                    if !ok {
                        bad += 1;
                        if bad <= 8 {
                            errs.push(format!(
                                "{who} output {o} {}: got {got}, expected {w}",
                                fmt_index(&multi_index(i, t.shape().dims()))
                            ));
                        }
                    }
                }
                if bad > 8 {
                    errs.push(format!("{who} output {o}: ... {} mismatches in all", bad));
                }
            }
        }
    }
    errs
}

// ---------------------------------------------------------------------------------------------
// Line diff
// ---------------------------------------------------------------------------------------------

/// A unified-style line diff (`-` expected, `+` actual) with 3 lines of context.
fn diff(expected: &str, actual: &str) -> String {
    let a: Vec<&str> = expected.lines().collect();
    let b: Vec<&str> = actual.lines().collect();
    // Trim the common prefix and suffix, then LCS on the middle.
    let pre = a.iter().zip(&b).take_while(|(x, y)| x == y).count();
    let suf = a[pre..]
        .iter()
        .rev()
        .zip(b[pre..].iter().rev())
        .take_while(|(x, y)| x == y)
        .count();
    let (am, bm) = (&a[pre..a.len() - suf], &b[pre..b.len() - suf]);
    let (n, m) = (am.len(), bm.len());
    let mut lcs = vec![0u32; (n + 1) * (m + 1)];
    for i in (0..n).rev() {
        for j in (0..m).rev() {
            lcs[i * (m + 1) + j] = if am[i] == bm[j] {
                lcs[(i + 1) * (m + 1) + j + 1] + 1
            } else {
                lcs[(i + 1) * (m + 1) + j].max(lcs[i * (m + 1) + j + 1])
            };
        }
    }
    // Edit script over whole files: (tag, line), tag ' ', '-', '+'.
    let mut ops: Vec<(char, &str)> = a[..pre].iter().map(|l| (' ', *l)).collect();
    let (mut i, mut j) = (0, 0);
    while i < n || j < m {
        if i < n && j < m && am[i] == bm[j] {
            ops.push((' ', am[i]));
            i += 1;
            j += 1;
        } else if i < n && (j == m || lcs[(i + 1) * (m + 1) + j] >= lcs[i * (m + 1) + j + 1]) {
            ops.push(('-', am[i]));
            i += 1;
        } else {
            ops.push(('+', bm[j]));
            j += 1;
        }
    }
    ops.extend(a[a.len() - suf..].iter().map(|l| (' ', *l)));
    // Hunks with 3 lines of context.
    let changed: Vec<usize> = (0..ops.len()).filter(|&k| ops[k].0 != ' ').collect();
    let mut out = String::new();
    let mut k = 0;
    while k < changed.len() {
        let start = changed[k].saturating_sub(3);
        let mut end = changed[k] + 1;
        while k < changed.len() && changed[k] <= end + 6 {
            end = changed[k] + 1;
            k += 1;
        }
        let end = (end + 3).min(ops.len());
        let old_line = ops[..start].iter().filter(|o| o.0 != '+').count() + 1;
        let new_line = ops[..start].iter().filter(|o| o.0 != '-').count() + 1;
        let _ = writeln!(out, "@@ -{old_line} +{new_line} @@");
        for (tag, line) in &ops[start..end] {
            let _ = writeln!(out, "{tag}{line}");
        }
    }
    out
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
    let t = Tensor::from_vec(vec![2, 10], (0..20).map(|x| x as f32 * 0.5).collect()).unwrap();
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
    let mut r = Rng(7);
    assert!((0..1000)
        .map(|_| r.int(-2, 3))
        .all(|x| (-2..=3).contains(&x)));
    let f =
        split_file("# test: t\nparam %a: f32[1]\nreturn %a\n# ---- expected plan ----\n# k\n#\n")
            .unwrap();
    assert_eq!(f.sections, vec![(Section::Plan, "k\n\n".to_string())]);
}
