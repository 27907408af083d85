//! Splitting a filetest into its program, directives and expectation sections, and
//! parsing the directives.

use super::*;

pub(crate) fn split_file(src: &str) -> Result<TestFile, String> {
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

pub(crate) fn parse_directives(head: &str, program: &Program) -> Result<Directives, String> {
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
