//! `lazyjit check`, `emit` and `bench`.

use super::{fails, file, ok};

#[test]
fn check_accepts_a_valid_program_and_lists_every_violation() {
    let out = ok(&["check", "examples/programs/softmax.lj"]);
    assert!(
        out.stdout
            .contains("softmax.lj: ok (1 parameter, 6 instructions, 1 output)"),
        "{}",
        out.stdout
    );
    let dir = tempfile::tempdir().unwrap();
    let p = file(
        dir.path(),
        "two.lj",
        "param %x: f32[2]\n%1: f32[3] = exp %x\n%2: i32[2] = neg %x\nreturn %1, %2\n",
    );
    let out = fails(&["check", &p], 3, &["two.lj", "2 problems"]);
    let lines: Vec<&str> = out.stderr.lines().collect();
    assert!(
        lines[0].contains("two.lj:2:1: %1: ") && lines[0].contains("f32[3]"),
        "{}",
        out.stderr
    );
    assert!(lines[1].contains("two.lj:3:1: %2: "), "{}", out.stderr);
}

#[test]
fn emit_prints_each_stage() {
    let dir = tempfile::tempdir().unwrap();
    // Named results and extra spaces: the canonical form renumbers and normalises.
    let p = file(dir.path(), "e.lj", "param %x: f32[64]\n%e:  f32[64] = exp  %x\n%s: f32[] = reduce_sum %e, axes=[0], keepdim=false\nreturn %s\n");
    let out = ok(&["emit", &p, "--what", "program"]);
    assert_eq!(
        out.stdout,
        "param %x: f32[64]\n%1: f32[64] = exp %x\n%2: f32[] = reduce_sum %1, axes=[0], keepdim=false\nreturn %2\n"
    );
    let out = ok(&["emit", &p, "--what", "plan"]);
    assert!(out.stdout.contains("kernel 0"), "{}", out.stdout);
    let out = ok(&["emit", &p, "--what", "clif"]);
    assert!(
        out.stdout.contains("function") && out.stdout.contains("block0"),
        "{}",
        out.stdout
    );
    let out = ok(&["emit", &p, "--what", "asm", "--no-opt"]);
    assert!(out.stdout.contains("ret"), "{}", out.stdout);
    // The default is the program.
    assert_eq!(ok(&["emit", &p]).stdout.lines().count(), 4);
}

#[test]
fn bench_reports_phases_percentiles_and_bandwidth() {
    let dir = tempfile::tempdir().unwrap();
    let p = file(
        dir.path(),
        "ew.lj",
        "param %a: f32[1024]\nparam %b: f32[1024]\n%c: f32[1024] = mul %a, %b\nreturn %c\n",
    );
    let out = ok(&["bench", &p, "--random", "--iters", "5"]);
    for needle in [
        "compile   ",
        "verify",
        "finalize",
        "runs      5 into reused outputs",
        "p50",
        "p99",
        "max",
        "memory    0.012 MB per run",
        "GB/s",
    ] {
        assert!(
            out.stdout.contains(needle),
            "{needle:?} not in\n{}",
            out.stdout
        );
    }
    // Not a streaming program: no bandwidth.
    let out = ok(&[
        "bench",
        "examples/programs/attention.lj",
        "--random",
        "--iters",
        "2",
    ]);
    assert!(
        out.stdout.contains("memory    not reported"),
        "{}",
        out.stdout
    );
    // No progress bar escapes when stderr is not a terminal.
    assert!(out.stderr.is_empty(), "{}", out.stderr);
}
