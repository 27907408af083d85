//! The module structure rule: within each crate, no module imports another that (directly or
//! through others) imports it back. Checked at every folder level — the top-level modules of
//! `src/`, and the sibling submodules inside each folder — for both crates.
//!
//! A module's dependencies are the `crate::...`, `super::...` and `self::...` paths its files
//! name (outside comments), with `crate::Name` resolved through the crate root's `pub use`
//! re-exports. Doc links count too: a doc link to a module that imports you is the same
//! knot in the reader's head.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

/// A folder module: its directory and the names of its child modules.
struct Folder {
    dir: PathBuf,
    /// Module path from the crate root (empty for the root).
    path: Vec<String>,
    children: BTreeSet<String>,
}

fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "rs") {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

/// The module path of a source file relative to the crate's `src` (`a/b.rs` and `a/b/mod.rs`
/// are both `[a, b]`; `lib.rs` is `[]`).
fn module_path(src: &Path, file: &Path) -> Vec<String> {
    let rel = file.strip_prefix(src).unwrap();
    let mut parts: Vec<String> = rel
        .iter()
        .map(|c| c.to_string_lossy().into_owned())
        .collect();
    let last = parts.pop().unwrap();
    let stem = last.trim_end_matches(".rs");
    if stem != "mod" && stem != "lib" {
        parts.push(stem.to_string());
    }
    parts
}

/// The source without `//` comments (line and doc comments) and string literal contents.
fn code_only(src: &str) -> String {
    let mut out = String::with_capacity(src.len());
    for line in src.lines() {
        let mut in_str = false;
        let mut prev = ' ';
        let mut chars = line.chars().peekable();
        while let Some(c) = chars.next() {
            if !in_str && c == '/' && chars.peek() == Some(&'/') {
                break;
            }
            if c == '"' && prev != '\\' && prev != '\'' {
                in_str = !in_str;
            } else if !in_str {
                out.push(c);
            }
            prev = c;
        }
        out.push('\n');
    }
    out
}

/// Every path the code names, as segment lists, with `use a::{b, c::d}` groups expanded.
fn paths(code: &str) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    let bytes: Vec<char> = code.chars().collect();
    let is_ident = |c: char| c.is_ascii_alphanumeric() || c == '_';
    let mut i = 0;
    while i < bytes.len() {
        let starts = ["crate::", "super::", "self::"];
        let at_word_start = i == 0 || !(is_ident(bytes[i - 1]) || bytes[i - 1] == ':');
        let hit = starts.iter().find(|s| {
            at_word_start
                && bytes.len() >= i + s.len()
                && bytes[i..i + s.len()].iter().copied().eq(s.chars())
        });
        let Some(_) = hit else {
            i += 1;
            continue;
        };
        // Read `seg::seg::...`, possibly ending in a `{...}` group.
        let mut j = i;
        let mut prefix = Vec::new();
        loop {
            let s = j;
            while j < bytes.len() && is_ident(bytes[j]) {
                j += 1;
            }
            prefix.push(bytes[s..j].iter().collect::<String>());
            if j + 1 < bytes.len() && bytes[j] == ':' && bytes[j + 1] == ':' {
                j += 2;
                if j < bytes.len() && bytes[j] == '{' {
                    let mut depth = 0;
                    let s = j;
                    while j < bytes.len() {
                        if bytes[j] == '{' {
                            depth += 1;
                        } else if bytes[j] == '}' {
                            depth -= 1;
                            if depth == 0 {
                                break;
                            }
                        }
                        j += 1;
                    }
                    let inner: String = bytes[s + 1..j.min(bytes.len())].iter().collect();
                    for item in split_top(&inner) {
                        let mut p = prefix.clone();
                        p.extend(
                            item.trim()
                                .split("::")
                                .map(|x| x.trim().trim_start_matches('{').to_string())
                                .filter(|x| !x.is_empty()),
                        );
                        out.push(p);
                    }
                    break;
                }
            } else {
                out.push(prefix.clone());
                break;
            }
        }
        i = j.max(i + 1);
    }
    out
}

/// Splits a `use` group's contents at top-level commas.
fn split_top(s: &str) -> Vec<String> {
    let (mut out, mut cur, mut depth) = (Vec::new(), String::new(), 0);
    for c in s.chars() {
        match c {
            '{' => depth += 1,
            '}' => depth -= 1,
            ',' if depth == 0 => {
                out.push(std::mem::take(&mut cur));
                continue;
            }
            _ => {}
        }
        cur.push(c);
    }
    out.push(cur);
    out
}

/// `crate::Name` re-exports of the crate root: name to the top-level module it comes from.
fn root_reexports(lib: &str) -> BTreeMap<String, String> {
    let mut map = BTreeMap::new();
    let code = code_only(lib);
    for stmt in code.split(';') {
        let stmt = stmt.trim();
        let Some(rest) = stmt.strip_prefix("pub use ") else {
            continue;
        };
        let rest = rest.trim_start_matches("crate::");
        let Some((module, items)) = rest.split_once("::") else {
            continue;
        };
        let items = items.trim().trim_start_matches('{').trim_end_matches('}');
        for it in split_top(items) {
            let name = it.split(" as ").last().unwrap().trim();
            let name = name.rsplit("::").next().unwrap().trim();
            if !name.is_empty() {
                map.insert(name.to_string(), module.trim().to_string());
            }
        }
    }
    map
}

/// The cycles of the module graph of every folder of the crate at `src`, as readable strings.
fn cycles(src: &Path) -> Vec<String> {
    let files = rust_files(src);
    let reexports = root_reexports(&fs::read_to_string(src.join("lib.rs")).unwrap());
    // Folders: every module path that has children.
    let mut folders: BTreeMap<Vec<String>, Folder> = BTreeMap::new();
    for f in &files {
        let mp = module_path(src, f);
        for k in 0..mp.len() {
            let parent = mp[..k].to_vec();
            let dir = parent.iter().fold(src.to_path_buf(), |d, s| d.join(s));
            folders
                .entry(parent.clone())
                .or_insert_with(|| Folder {
                    dir,
                    path: parent,
                    children: BTreeSet::new(),
                })
                .children
                .insert(mp[k].clone());
        }
    }
    let top = folders
        .get(&Vec::new())
        .map(|f| f.children.clone())
        .unwrap_or_default();
    let mut found = Vec::new();
    for folder in folders.values() {
        let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for f in &files {
            let mp = module_path(src, f);
            if mp.len() <= folder.path.len() || mp[..folder.path.len()] != folder.path[..] {
                continue;
            }
            let me = mp[folder.path.len()].clone();
            // The module a file's `super::` and `self::` are relative to.
            let self_path = mp.clone();
            let code = code_only(&fs::read_to_string(f).unwrap());
            for p in paths(&code) {
                let abs: Vec<String> = match p[0].as_str() {
                    "crate" => {
                        let mut a = p[1..].to_vec();
                        if let Some(first) = a.first().filter(|n| !top.contains(*n)) {
                            if let Some(m) = reexports.get(first) {
                                a.insert(0, m.clone());
                            }
                        }
                        a
                    }
                    "self" => {
                        let mut a = self_path.clone();
                        a.extend(p[1..].iter().cloned());
                        a
                    }
                    "super" => {
                        let mut a = self_path.clone();
                        let mut rest = &p[..];
                        while rest.first().is_some_and(|s| s == "super") {
                            a.pop();
                            rest = &rest[1..];
                        }
                        a.extend(rest.iter().cloned());
                        a
                    }
                    _ => continue,
                };
                if abs.len() > folder.path.len() && abs[..folder.path.len()] == folder.path[..] {
                    let target = &abs[folder.path.len()];
                    if target != &me && folder.children.contains(target) {
                        edges.entry(me.clone()).or_default().insert(target.clone());
                    }
                }
            }
        }
        // Depth-first search for a back edge; report each cycle once by its smallest node.
        let nodes: Vec<&String> = folder.children.iter().collect();
        for start in &nodes {
            let mut stack = vec![(vec![(*start).clone()])];
            while let Some(path) = stack.pop() {
                let last = path.last().unwrap();
                for next in edges.get(last).into_iter().flatten() {
                    if next == *start {
                        if path.iter().all(|n| n >= *start) {
                            let mut c = path.clone();
                            c.push(next.clone());
                            found.push(format!("{}: {}", folder.dir.display(), c.join(" -> ")));
                        }
                    } else if !path.contains(next) && path.len() < 8 {
                        let mut p = path.clone();
                        p.push(next.clone());
                        stack.push(p);
                    }
                }
            }
        }
    }
    found
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn the_front_end_has_no_module_cycles() {
    let c = cycles(&root().join("src"));
    assert!(c.is_empty(), "module cycles in src/:\n{}", c.join("\n"));
}

#[test]
fn the_lowering_crate_has_no_module_cycles() {
    let c = cycles(&root().join("lowering/src"));
    assert!(
        c.is_empty(),
        "module cycles in lowering/src/:\n{}",
        c.join("\n")
    );
}

#[test]
fn the_checker_sees_a_cycle() {
    let dir = std::env::temp_dir().join(format!("lazyjit-modgraph-{}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(dir.join("a")).unwrap();
    fs::write(dir.join("lib.rs"), "mod a;\nmod b;\npub use b::Thing;\n").unwrap();
    fs::write(dir.join("a/mod.rs"), "mod x;\nmod y;\nuse crate::Thing;\n").unwrap();
    fs::write(
        dir.join("a/x.rs"),
        "use super::y::f; // crate::b is only a comment\n",
    )
    .unwrap();
    fs::write(dir.join("a/y.rs"), "pub fn f() { super::x::g() }\n").unwrap();
    fs::write(
        dir.join("b.rs"),
        "use crate::{a::{x}, c};\npub struct Thing;\n",
    )
    .unwrap();
    let mut c = cycles(&dir);
    c.sort();
    let _ = fs::remove_dir_all(&dir);
    assert_eq!(c.len(), 2, "{c:?}");
    assert!(c.iter().any(|x| x.ends_with(": a -> b -> a")), "{c:?}");
    assert!(c.iter().any(|x| x.ends_with("a: x -> y -> x")), "{c:?}");
}
