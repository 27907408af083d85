//! Reading a program file: parse, verify, and every problem as `file:line:col: message`.

use crate::fail::{chain, Fail, Result};
use lazyjit::lowering::{text, Error, Program, Violation};
use std::path::Path;

/// A parsed and verified program with its source text (for output names).
pub struct Loaded {
    pub program: Program,
    pub source: String,
}

/// Reads and parses `path`; every problem is a [`Fail::program`] (exit code 3) whose
/// message starts with `path:line:col:` where there is a position.
pub fn load(path: &Path) -> Result<Loaded> {
    let source = std::fs::read_to_string(path).map_err(|e| {
        Fail::program(format!(
            "{}: reading the program: {}",
            path.display(),
            chain(&e)
        ))
    })?;
    match text::parse(&source) {
        Ok(program) => Ok(Loaded { program, source }),
        Err(e) => {
            let mut lines = problems(path, &source, &e);
            let first = lines.remove(0);
            Err(Fail::program(match lines.len() {
                0 => first,
                n => format!(
                    "{first} (and {n} more: see `lazyjit check {}`)",
                    path.display()
                ),
            }))
        }
    }
}

/// Every problem of a failed parse, one line each, as `path:line:col: message`.
pub fn problems(path: &Path, source: &str, e: &Error) -> Vec<String> {
    let file = path.display();
    match e {
        Error::Parse { line, col, message } => vec![format!("{file}:{line}:{col}: {message}")],
        Error::Verify(violations) => violations
            .iter()
            .map(|v| violation_line(path, source, v))
            .collect(),
        other => vec![format!("{file}: {other}")],
    }
}

/// A violation at its position; one without a position (the output list) points at the
/// `return` line.
fn violation_line(path: &Path, source: &str, v: &Violation) -> String {
    let (line, col) = match v.loc {
        Some(l) => (l.line as usize, l.col as usize),
        None => source
            .lines()
            .enumerate()
            .find(|(_, l)| l.trim_start().starts_with("return"))
            .map_or((1, 1), |(i, l)| (i + 1, l.len() - l.trim_start().len() + 1)),
    };
    let what = match v.value {
        Some(id) => format!("{id}: {}", v.message),
        None => v.message.clone(),
    };
    format!("{}:{line}:{col}: {what}", path.display())
}

/// The name of each output: the returned value's own name when it has one (a parameter, or
/// an instruction whose result is named `%identifier` in the source), else `outK`; unique.
pub fn output_names(loaded: &Loaded) -> Vec<String> {
    let p = &loaded.program;
    let np = p.params.len();
    let lines: Vec<&str> = loaded.source.lines().collect();
    let mut used: Vec<String> = Vec::new();
    for (k, o) in p.outputs.iter().enumerate() {
        let own = if o.index() < np {
            Some(p.params[o.index()].name.clone())
        } else {
            p.locs
                .get(o.index() - np)
                .and_then(|l| lines.get((l.line as usize).saturating_sub(1)))
                .and_then(|line| result_name(line))
        };
        let mut name = own
            .filter(|n| !used.contains(n))
            .unwrap_or_else(|| format!("out{k}"));
        while used.contains(&name) {
            name.push('_');
        }
        used.push(name);
    }
    used
}

/// `probs` from `%probs: f32[4] = ...`; `None` for a numbered result (`%5`).
fn result_name(line: &str) -> Option<String> {
    let rest = line.trim_start().strip_prefix('%')?;
    let name: String = rest
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '.')
        .collect();
    (!name.is_empty() && !name.chars().all(|c| c.is_ascii_digit())).then_some(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outputs_are_named_by_their_values() {
        let source = "param %x: f32[2]\n%probs: f32[2] = exp %x\n%3: f32[2] = neg %x\nreturn %probs, %3, %x, %probs\n";
        let loaded = Loaded {
            program: text::parse(source).unwrap(),
            source: source.to_string(),
        };
        assert_eq!(output_names(&loaded), ["probs", "out1", "x", "out3"]);
    }
}
