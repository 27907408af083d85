//! Kernels and matmuls split over threads (`codegen/split.rs`, `codegen/threads.rs`) compute
//! exactly the bytes a run on one thread computes — for every kind of splittable kernel
//! (fused and plain elementwise loops, row groups with row scratch, lone reductions over
//! leading, trailing and vectorised output dims, donated in-place updates), for every way a
//! loop can be cut (thread counts 2 to 5, extents that do not divide, vector tails), and for
//! random programs from the differential tests' generator. The thresholds are forced to 0 so
//! that every splittable kernel splits, however small.
//!
//! The thread settings are process-wide, so the tests of this binary take a lock around them.

use lazyjit_lowering::codegen::{compile, Compiled, Input};
use lazyjit_lowering::kernels::{
    set_kernel_parallel_work, set_matmul_parallel_work, set_threads, KERNEL_PARALLEL_WORK,
    PARALLEL_WORK,
};
use lazyjit_lowering::testing::compare::{compare_outputs, opts};
use lazyjit_lowering::testing::generator::{build, Spec};
use lazyjit_lowering::testing::inputs::{garbage, random_inputs, MIXED};
use lazyjit_lowering::testing::rng::Rng;
use lazyjit_lowering::{reference, text, Error, Program, Tensor};
use std::sync::{Mutex, MutexGuard};

static SETTINGS: Mutex<()> = Mutex::new(());

/// Holds the settings lock; restores the defaults when dropped.
struct Settings(#[allow(dead_code)] MutexGuard<'static, ()>);

impl Settings {
    fn take() -> Settings {
        Settings(SETTINGS.lock().unwrap_or_else(|e| e.into_inner()))
    }

    /// One thread: every kernel runs whole.
    fn serial(&self) {
        set_threads(1);
    }

    /// `t` threads, every splittable kernel and every float matmul split.
    fn split(&self, t: usize) {
        set_threads(t);
        set_kernel_parallel_work(0);
        set_matmul_parallel_work(0);
    }
}

impl Drop for Settings {
    fn drop(&mut self) {
        set_threads(0);
        set_kernel_parallel_work(KERNEL_PARALLEL_WORK);
        set_matmul_parallel_work(PARALLEL_WORK);
    }
}

fn bytes(t: &Tensor) -> &[u8] {
    &t.buffer().as_bytes()[..t.ty().size_bytes()]
}

/// Runs `c` on one thread, then split over 2..=5 threads, by `run` and by `run_into` over
/// garbage-filled outputs; every split run must give the serial run's bytes.
fn same_bytes_split(s: &Settings, c: &Compiled, inputs: &[Tensor]) -> Result<(), String> {
    let ins: Vec<&Tensor> = inputs.iter().collect();
    s.serial();
    let whole = c.run(&ins).map_err(|e| format!("serial run: {e}"))?;
    for t in 2..=5 {
        s.split(t);
        let parts = c.run(&ins).map_err(|e| format!("{t} threads: {e}"))?;
        let mut into: Vec<Tensor> = whole.iter().map(|w| garbage(w.ty())).collect();
        c.run_into(&ins, &mut into)
            .map_err(|e| format!("{t} threads, run_into: {e}"))?;
        for (i, w) in whole.iter().enumerate() {
            if bytes(&parts[i]) != bytes(w) {
                return Err(format!("output {i} differs with {t} threads (run)"));
            }
            if bytes(&into[i]) != bytes(w) {
                return Err(format!("output {i} differs with {t} threads (run_into)"));
            }
        }
    }
    Ok(())
}

fn compiled(src: &str) -> Compiled {
    compile(&text::parse(src).unwrap(), &opts()).unwrap()
}

fn inputs_of(p: &Program, seed: u64) -> Vec<Tensor> {
    random_inputs(p, MIXED, &mut Rng::new(seed))
}

/// Each kind of splittable kernel, at sizes around the split points: the kernel has a split
/// loop, and splitting it changes no byte.
#[test]
fn every_kind_of_split_kernel_matches_the_serial_run() {
    let s = Settings::take();
    let mut cases: Vec<(String, String)> = Vec::new();
    for n in [1, 3, 4, 5, 15, 16, 17, 31, 33, 63, 64, 65, 100, 257] {
        cases.push((
            format!("fused elementwise f32[{n}]"),
            format!(
                "param %a: f32[{n}]\nparam %b: f32[{n}]\n%2: f32[{n}] = sigmoid %a\n\
                 %3: f32[{n}] = mul %2, %b\n%4: f32[{n}] = add %3, %a\nreturn %4, %3\n"
            ),
        ));
        cases.push((
            format!("flat 2-d loop with a broadcast f32[{n}, 3]"),
            format!(
                "param %a: f32[{n}, 3]\nparam %b: f32[1, 3]\n%2: f32[{n}, 3] = add %a, %b\n\
                 %3: f32[{n}, 3] = tanh %2\nreturn %3\n"
            ),
        ));
        cases.push((
            format!("softmax rows f32[{n}, 37]"),
            format!(
                "param %x: f32[{n}, 37]\n%1: f32[{n}, 1] = reduce_max %x, axes=[1], keepdim=true\n\
                 %2: f32[{n}, 37] = sub %x, %1\n%3: f32[{n}, 37] = exp %2\n\
                 %4: f32[{n}, 1] = reduce_sum %3, axes=[1], keepdim=true\n\
                 %5: f32[{n}, 37] = div %3, %4\nreturn %5\n"
            ),
        ));
        cases.push((
            format!("reduction over the leading dim f32[19, {n}]"),
            format!(
                "param %x: f32[19, {n}]\n%1: f32[{n}] = reduce_sum %x, axes=[0], keepdim=false\n\
                 return %1\n"
            ),
        ));
        cases.push((
            format!("row sums and argmax f32[{n}, 9]"),
            format!(
                "param %x: f32[{n}, 9]\n%1: f32[{n}] = reduce_sum %x, axes=[1], keepdim=false\n\
                 %2: i64[{n}] = argmax %x, axes=[1], keepdim=false\nreturn %1, %2\n"
            ),
        ));
        cases.push((
            format!("3-d reduction over the middle dim f64[{n}, 5, 6]"),
            format!(
                "param %x: f64[{n}, 5, 6]\n%1: f64[{n}, 6] = reduce_max %x, axes=[1], keepdim=false\n\
                 return %1\n"
            ),
        ));
        cases.push((
            format!("integer loop i32[{n}, 2]"),
            format!(
                "param %a: i32[{n}, 2]\nparam %b: i32[{n}, 2]\n%2: i32[{n}, 2] = mul %a, %b\n\
                 %3: i32[{n}, 2] = add %2, %a\nreturn %3\n"
            ),
        ));
        cases.push((
            format!("transposed copy f32[{n}, 6]"),
            format!(
                "param %a: f32[{n}, 6]\n%1: f32[6, {n}] = permute %a, perm=[1, 0]\n\
                 %2: f32[6, {n}] = exp %1\nreturn %2\n"
            ),
        ));
    }
    for n in [1, 2, 3, 7, 33] {
        // An im2col-like concat of 9 operands along channels: cut at the seams into one loop
        // per operand, split over the leading (batch) dim.
        let ops: Vec<String> = (0..9).map(|i| format!("%p{i}")).collect();
        let params: String = (0..9)
            .map(|i| format!("param %p{i}: f32[{n}, 2, 5]\n"))
            .collect();
        cases.push((
            format!("concat of 9 along dim 1 f32[{n}, 18, 5]"),
            format!(
                "{params}%9: f32[{n}, 18, 5] = concat {}, axis=1\n%10: f32[{n}, 18, 5] = exp %9\nreturn %10\n",
                ops.join(", ")
            ),
        ));
    }
    let mut failures = Vec::new();
    let mut split_kernels = 0;
    for (k, (name, src)) in cases.iter().enumerate() {
        let c = compiled(src);
        split_kernels += c.split_loops().iter().flatten().count();
        let inputs = inputs_of(c.program(), k as u64);
        if let Err(m) = same_bytes_split(&s, &c, &inputs) {
            failures.push(format!("{name}: {m}\n{src}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
    // Every case above has at least one split loop (a 1-element loop has none to split).
    assert!(
        split_kernels >= cases.len() - 8,
        "{split_kernels} split loops"
    );
}

/// Which kernels get a split loop, and which must not: the shapes the thread split relies on.
#[test]
fn split_loops_are_found_where_iterations_are_independent() {
    let loops = |src: &str| compiled(src).split_loops();
    // A fused elementwise loop: one flat loop over every element.
    assert_eq!(
        loops("param %a: f32[8, 64]\n%1: f32[8, 64] = exp %a\n%2: f32[8, 64] = mul %1, %a\nreturn %2\n"),
        vec![Some(512)]
    );
    // Softmax: one row group over the 4096 rows.
    let sm = "param %x: f32[4096, 64]\n%1: f32[4096, 1] = reduce_max %x, axes=[1], keepdim=true\n\
              %2: f32[4096, 64] = sub %x, %1\n%3: f32[4096, 64] = exp %2\n\
              %4: f32[4096, 1] = reduce_sum %3, axes=[1], keepdim=true\n\
              %5: f32[4096, 64] = div %3, %4\nreturn %5\n";
    assert_eq!(loops(sm), vec![Some(4096)]);
    // A split vector loop over whole vectors has no scalar copy of its body (which doubled
    // the code and the compile time of a 64-op chain): a guard and the vector loop only.
    let p = text::parse("param %a: f32[4096]\n%1: f32[4096] = tanh %a\nreturn %1\n").unwrap();
    let opts = lazyjit_lowering::codegen::CompileOptions {
        keep_clif: true,
        wide_math: false,
        ..opts()
    };
    let c = compile(&p, &opts).unwrap();
    assert_eq!(c.split_loops(), vec![Some(4096)]);
    assert_eq!(c.clif().matches("brif").count(), 2, "{}", c.clif());
    // A concat cut at its seams (9 operands along dim 1) splits over dim 0.
    let ops: Vec<String> = (0..9).map(|i| format!("%p{i}")).collect();
    let params: String = (0..9)
        .map(|i| format!("param %p{i}: f32[64, 2, 5]\n"))
        .collect();
    let cut = format!(
        "{params}%9: f32[64, 18, 5] = concat {}, axis=1\nreturn %9\n",
        ops.join(", ")
    );
    assert_eq!(loops(&cut), vec![Some(64)]);
    // A full reduction has no independent iterations: never split.
    assert_eq!(
        loops(
            "param %x: f32[1000]\n%1: f32[] = reduce_sum %x, axes=[0], keepdim=false\nreturn %1\n"
        ),
        vec![None]
    );
    // A scatter adds updates in index order: never split.
    let sc = "param %x: f32[6, 4]\nparam %i: i64[3, 4]\nparam %u: f32[3, 4]\n\
              %3: f32[6, 4] = scatter_add %x, %i, %u, axis=0\nreturn %3\n";
    let c = compiled(sc);
    assert!(
        c.split_loops().iter().all(Option::is_none),
        "{:?}",
        c.split_loops()
    );
}

/// An out-of-range index found while kernels are split is reported as on one thread (the
/// first bad index in row-major order), and the program keeps working afterwards.
#[test]
fn index_errors_are_the_serial_ones() {
    let s = Settings::take();
    let src = "param %x: f32[40, 8]\nparam %i: i64[30]\n\
               %2: f32[30, 8] = index_select %x, %i, axis=0\n%3: f32[30, 8] = exp %2\nreturn %3\n";
    let c = compiled(src);
    let x = Tensor::from_vec(
        (0..320).map(|v| v as f32 * 0.01).collect::<Vec<f32>>(),
        vec![40, 8],
    )
    .unwrap();
    let mut idx: Vec<i64> = (0..30).map(|v| v % 40).collect();
    idx[17] = 40;
    idx[25] = -3;
    let bad = Tensor::from_vec(idx, vec![30]).unwrap();
    s.serial();
    let serial = c.run(&[&x, &bad]).unwrap_err().to_string();
    let good = Tensor::from_vec(
        (0..30).map(|v| (v * 7) % 40).collect::<Vec<i64>>(),
        vec![30],
    )
    .unwrap();
    for t in 2..=4 {
        s.split(t);
        let err = c.run(&[&x, &bad]).unwrap_err();
        assert!(
            matches!(err, Error::IndexOutOfRange { index: 40, .. }),
            "{err}"
        );
        assert_eq!(err.to_string(), serial);
    }
    same_bytes_split(&s, &c, &[x, good]).unwrap();
}

/// A donated parameter updated in place by a split fused loop: each part reads and writes
/// only its own elements, so the result is the serial one, in the donated buffer.
#[test]
fn donated_in_place_updates_split_correctly() {
    let s = Settings::take();
    let n = 1037;
    let src = format!(
        "param %p: f32[{n}]\nparam %m: f32[{n}]\nparam %g: f32[{n}]\nparam %lr: f32[]\n\
         %4: f32[] = constant 0.9\n%5: f32[{n}] = mul %m, %4\n%6: f32[{n}] = add %5, %g\n\
         %7: f32[{n}] = mul %6, %lr\n%8: f32[{n}] = sub %p, %7\nreturn %8, %6\n"
    );
    let c = compiled(&src);
    assert_eq!(c.aliasable(), &[Some(0), Some(1)]);
    let inputs = inputs_of(c.program(), 7);
    let run = |s: &Settings, t: usize| -> Vec<Tensor> {
        if t == 1 {
            s.serial();
        } else {
            s.split(t);
        }
        let (p, m) = (inputs[0].clone(), inputs[1].clone());
        let (pa, ma) = (p.buffer().as_ptr(), m.buffer().as_ptr());
        let out = c
            .run_donating(vec![
                Input::Donated(p),
                Input::Donated(m),
                Input::Borrowed(&inputs[2]),
                Input::Borrowed(&inputs[3]),
            ])
            .unwrap();
        assert_eq!(out[0].buffer().as_ptr(), pa);
        assert_eq!(out[1].buffer().as_ptr(), ma);
        out
    };
    let whole = run(&s, 1);
    for t in 2..=5 {
        let parts = run(&s, t);
        for i in 0..2 {
            assert_eq!(
                bytes(&parts[i]),
                bytes(&whole[i]),
                "output {i}, {t} threads"
            );
        }
    }
}

/// Random programs of the differential tests' generator (views, reductions, gathers, pads,
/// concats, matmuls, several outputs, empty shapes), split everywhere they can be: the bytes
/// of the serial run, which itself matches the reference within the generator's tolerances.
/// `LAZYJIT_DIFF_CASES=N` sets the number of programs (default 300).
#[test]
fn random_programs_split_over_threads_match_the_serial_run() {
    let s = Settings::take();
    let cases: u64 = u64::from(lazyjit_lowering::testing::diff_cases());
    let mut rng = Rng::new(0x7468_7265_6164);
    let mut failures = Vec::new();
    let mut split_kernels = 0;
    for case in 0..cases {
        let spec = Spec::random(&mut rng);
        let (p, inputs, tols) = build(&spec);
        let c = compile(&p, &opts()).unwrap();
        split_kernels += c.split_loops().iter().flatten().count();
        let ins: Vec<&Tensor> = inputs.iter().collect();
        let result = same_bytes_split(&s, &c, &inputs).and_then(|()| {
            s.split(3);
            let jit = c.run(&ins).map_err(|e| e.to_string())?;
            let refs = reference::run(&p, &ins).map_err(|e| e.to_string())?;
            let errs = compare_outputs(&p, &jit, &refs, &tols);
            if errs.is_empty() {
                Ok(())
            } else {
                Err(errs.join("\n"))
            }
        });
        if let Err(m) = result {
            failures.push(format!("case {case}: {m}\n{}", text::print(&p)));
            if failures.len() >= 3 {
                break;
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
    assert!(
        split_kernels >= cases as usize / 2,
        "only {split_kernels} split loops in {cases} programs: the generator no longer reaches them"
    );
}
