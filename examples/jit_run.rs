//! Compile and run a program file with the Cranelift backend.
//!
//! ```text
//! cargo run --release --example jit_run -- examples/programs/softmax.lj
//! cargo run --release --example jit_run -- --plan --clif examples/programs/mlp_layer.lj
//! ```
//!
//! Parameters are filled with seeded random data (floats uniform in [-2, 2), integers in
//! `0..--int-high`, bools fair coins). The result is checked against the reference
//! interpreter unless `--no-check` is given.

use clap::Parser;
use lazyjit::lowering::codegen::{compile, CompileOptions, OptLevel};
use lazyjit::lowering::{reference, text, DType, Program, Tensor, TensorType};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

#[derive(Parser)]
#[command(about = "Compile a lazyjit program to machine code and run it")]
struct Args {
    /// Program file in the text format (docs/program-format.md).
    #[arg(default_value = "examples/programs/softmax.lj")]
    program: PathBuf,
    /// Seed for the random inputs.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Integer inputs are drawn from 0..INT_HIGH.
    #[arg(long, default_value_t = 10)]
    int_high: i64,
    /// Runs to time (the first one is reported separately).
    #[arg(long, default_value_t = 10)]
    repeat: usize,
    /// Print the fusion plan.
    #[arg(long)]
    plan: bool,
    /// Print each kernel's CLIF (before Cranelift's optimiser).
    #[arg(long)]
    clif: bool,
    /// Print each kernel's machine code.
    #[arg(long)]
    asm: bool,
    /// Compile without Cranelift's optimiser.
    #[arg(long)]
    no_opt: bool,
    /// Skip the comparison with the reference interpreter.
    #[arg(long)]
    no_check: bool,
}

fn random_input(ty: &TensorType, rng: &mut StdRng, int_high: i64) -> Tensor {
    let n = ty.shape.numel();
    let shape = ty.shape.clone();
    let t = match ty.dtype {
        DType::F32 => Tensor::from_vec(
            shape,
            (0..n).map(|_| rng.random_range(-2.0f32..2.0)).collect(),
        ),
        DType::F64 => Tensor::from_vec(
            shape,
            (0..n).map(|_| rng.random_range(-2.0f64..2.0)).collect(),
        ),
        DType::I32 => Tensor::from_vec(
            shape,
            (0..n)
                .map(|_| rng.random_range(0..int_high.max(1)) as i32)
                .collect(),
        ),
        DType::I64 => Tensor::from_vec(
            shape,
            (0..n)
                .map(|_| rng.random_range(0..int_high.max(1)))
                .collect(),
        ),
        DType::Bool => Tensor::from_vec(shape, (0..n).map(|_| rng.random_bool(0.5)).collect()),
    };
    t.expect("element count matches the shape")
}

fn summary(t: &Tensor) -> String {
    let v = t.to_f64_vec();
    let head: Vec<String> = v.iter().take(6).map(|x| format!("{x:.6}")).collect();
    let sum: f64 = v.iter().sum();
    format!(
        "{}: [{}{}]  sum={sum:.6}",
        t.ty(),
        head.join(", "),
        if v.len() > 6 { ", ..." } else { "" }
    )
}

/// Largest difference relative to the element's magnitude, where magnitudes below a
/// thousandth of the tensor's largest element count as that thousandth (cancellation near zero,
/// as in GELU's `1 + erf(x)` for very negative x, is not an error of the JIT).
fn max_rel_diff(a: &Tensor, b: &Tensor) -> f64 {
    let (a, b) = (a.to_f64_vec(), b.to_f64_vec());
    let scale = b
        .iter()
        .filter(|x| x.is_finite())
        .fold(0.0f64, |m, x| m.max(x.abs()));
    a.iter()
        .zip(&b)
        .map(|(x, y)| {
            if x == y || (x.is_nan() && y.is_nan()) {
                0.0
            } else {
                (x - y).abs() / y.abs().max(1e-3 * scale).max(f64::MIN_POSITIVE)
            }
        })
        .fold(0.0, f64::max)
}

fn run(args: &Args) -> Result<(), String> {
    let src = std::fs::read_to_string(&args.program)
        .map_err(|e| format!("reading {}: {e}", args.program.display()))?;
    let program: Program =
        text::parse(&src).map_err(|e| format!("{}: {e}", args.program.display()))?;
    let opts = CompileOptions {
        opt_level: if args.no_opt {
            OptLevel::None
        } else {
            OptLevel::Speed
        },
        verify_clif: false,
        keep_clif: args.clif,
        keep_disasm: args.asm,
    };
    let t = Instant::now();
    let compiled = compile(&program, &opts).map_err(|e| e.to_string())?;
    let compile_time = t.elapsed();
    let mut rng = StdRng::seed_from_u64(args.seed);
    let inputs: Vec<Tensor> = program
        .params
        .iter()
        .map(|p| random_input(&p.ty, &mut rng, args.int_high))
        .collect();
    let refs: Vec<&Tensor> = inputs.iter().collect();

    println!(
        "program   {} ({} params, {} instructions)",
        args.program.display(),
        program.params.len(),
        program.insts.len()
    );
    if args.plan {
        print!("{}", compiled.plan());
    }
    if args.clif {
        println!("{}", compiled.clif());
    }
    if args.asm {
        println!("{}", compiled.disasm());
    }
    let s = compiled.stats();
    println!(
        "compile   {:.3} ms  (verify {:.3}, plan {:.3}, codegen {:.3}, finalize {:.3})",
        compile_time.as_secs_f64() * 1e3,
        s.verify.as_secs_f64() * 1e3,
        s.plan.as_secs_f64() * 1e3,
        s.codegen.as_secs_f64() * 1e3,
        s.finalize.as_secs_f64() * 1e3
    );
    let t = Instant::now();
    let mut outputs = compiled.run(&refs).map_err(|e| e.to_string())?;
    let first = t.elapsed();
    // Later runs reuse the output tensors, as a training loop would.
    let mut best = f64::INFINITY;
    for _ in 1..args.repeat.max(1) {
        let t = Instant::now();
        compiled
            .run_into(&refs, &mut outputs)
            .map_err(|e| e.to_string())?;
        best = best.min(t.elapsed().as_secs_f64());
    }
    print!("run       first {:.3} ms", first.as_secs_f64() * 1e3);
    if best.is_finite() {
        print!(
            ", best of {} runs into reused outputs {:.3} ms",
            args.repeat - 1,
            best * 1e3
        );
    }
    println!();
    for (i, o) in outputs.iter().enumerate() {
        println!("output {i}  {}", summary(o));
    }
    if !args.no_check {
        let t = Instant::now();
        let expected = reference::run(&program, &refs).map_err(|e| e.to_string())?;
        let ref_time = t.elapsed();
        let worst = outputs
            .iter()
            .zip(&expected)
            .map(|(a, b)| max_rel_diff(a, b))
            .fold(0.0, f64::max);
        println!(
            "check     max relative difference to the reference interpreter {worst:.2e} (reference took {:.3} ms)",
            ref_time.as_secs_f64() * 1e3
        );
        if worst > 1e-3 {
            return Err(format!(
                "JIT and reference disagree (max relative difference {worst:.2e})"
            ));
        }
    }
    Ok(())
}

fn main() -> ExitCode {
    let args = Args::parse();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
