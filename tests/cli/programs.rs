//! Every program in `examples/programs` runs through the binary and matches the reference
//! interpreter: on its committed inputs (`NAME/PARAM.npy` beside `NAME.lj`) when it has
//! them, else on seeded random data (the large benchmark-sized programs).

use super::{ok, programs};

#[test]
fn every_example_program_matches_the_reference() {
    let mut seen = Vec::new();
    let mut entries: Vec<_> = std::fs::read_dir(programs())
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "lj"))
        .collect();
    entries.sort();
    for prog in entries {
        let name = prog.file_stem().unwrap().to_string_lossy().into_owned();
        let inputs = programs().join(&name);
        let mut args = vec![
            "run".to_string(),
            prog.display().to_string(),
            "--check".into(),
        ];
        if inputs.is_dir() {
            for f in std::fs::read_dir(&inputs).unwrap() {
                let f = f.unwrap().path();
                let param = f.file_stem().unwrap().to_string_lossy().into_owned();
                args.push("--input".into());
                args.push(format!("{param}={}", f.display()));
                assert!(
                    std::fs::metadata(&f).unwrap().len() < 50_000,
                    "{} is over 50 KB",
                    f.display()
                );
            }
        } else {
            args.push("--random".into());
        }
        let out = ok(&args);
        let outputs = out.stdout.matches(": matches (").count();
        assert!(
            outputs >= 1 && !out.stdout.contains("DIFFERS"),
            "{name}:\n{}",
            out.stdout
        );
        seen.push(name);
    }
    for expected in [
        "attention",
        "ew_fused",
        "fused_chain",
        "layer_norm",
        "mlp",
        "mlp_layer",
        "softmax",
    ] {
        assert!(
            seen.iter().any(|s| s == expected),
            "{expected}.lj was not run: {seen:?}"
        );
    }
}
