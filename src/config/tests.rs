//! Unit tests of the configuration: environment parsing, problems, overrides.

use super::*;
use crate::error::Error;
use lazyjit_lowering::text::op_names;
use std::ffi::OsString;

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
const GOOD: [(&str, &str); 13] = [
    ("LAZYJIT_BACKEND", "reference"),
    ("LAZYJIT_CACHE_SIZE", "7"),
    ("LAZYJIT_DATA_CACHE_SIZE", "5"),
    ("LAZYJIT_SPECIAL_SCALARS", "0"),
    ("LAZYJIT_TRIM_GRAPH_DEPTH", "33"),
    ("LAZYJIT_TRIM_GRAPH_NODES", "44"),
    ("LAZYJIT_FORCE_FALLBACK", "exp, matmul,"),
    ("LAZYJIT_DEBUG", "2"),
    ("LAZYJIT_OPT_LEVEL", "none"),
    ("LAZYJIT_DONATE", "0"),
    ("LAZYJIT_BUFFER_POOL_BYTES", "0"),
    ("LAZYJIT_THREADS", "3"),
    ("LAZYJIT_WIDE_MATH", "avx2"),
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
        donate: false,
        buffer_pool_bytes: 0,
        threads: 3,
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
    let bad_values: [(&str, &[&str]); 12] = [
        ("LAZYJIT_BACKEND", &["gpu", ""]),
        ("LAZYJIT_CACHE_SIZE", &["-1", "lots", "1e3", ""]),
        ("LAZYJIT_DATA_CACHE_SIZE", &["-1", "x"]),
        ("LAZYJIT_SPECIAL_SCALARS", &["maybe", "2"]),
        ("LAZYJIT_TRIM_GRAPH_DEPTH", &["lots", "-5"]),
        ("LAZYJIT_TRIM_GRAPH_NODES", &["100k", "-1"]),
        ("LAZYJIT_DEBUG", &["x", "3", "9", "-1", "256"]),
        ("LAZYJIT_OPT_LEVEL", &["3", "fast"]),
        ("LAZYJIT_DONATE", &["maybe", "2"]),
        ("LAZYJIT_BUFFER_POOL_BYTES", &["256MiB", "-1", ""]),
        ("LAZYJIT_THREADS", &["-1", "all", "2.5"]),
        ("LAZYJIT_WIDE_MATH", &["sse", "avx-512", ""]),
    ];
    for (var, values) in bad_values {
        for &value in values {
            let mut env: Vec<(&str, &str)> = GOOD.into_iter().filter(|(k, _)| *k != var).collect();
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
                "LAZYJIT_DONATE" => want.donate = d.donate,
                "LAZYJIT_BUFFER_POOL_BYTES" => want.buffer_pool_bytes = d.buffer_pool_bytes,
                "LAZYJIT_THREADS" => want.threads = d.threads,
                // Checked only: the lowering crate reads it.
                "LAZYJIT_WIDE_MATH" => {}
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
        "scatter_add",
        "matmul",
    ] {
        assert!(names.contains(&n), "{n}");
    }
    let unique: BTreeSet<&str> = names.iter().copied().collect();
    assert_eq!(unique.len(), names.len(), "{names:?}");
    assert_eq!(names.len(), lazyjit_lowering::op::OpKind::all().count());
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
