//! `lazyjit run`: compile a program, run it on its inputs, print and write the outputs,
//! and with `--check` compare with the reference interpreter.

use crate::fail::{chain, Fail, Result, EXIT_CODES};
use crate::inputs::{gather, InputArgs};
use crate::load::{load, output_names};
use crate::{compare, show};
use lazyjit::lowering::codegen::{compile, CompileOptions, Compiled, OptLevel};
use lazyjit::lowering::{reference, Program, Tensor};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

#[derive(clap::Args, Debug)]
#[command(after_help = EXIT_CODES)]
pub struct Args {
    /// Program file in the text format (docs/program-format.md).
    pub program: PathBuf,
    #[command(flatten)]
    pub inputs: InputArgs,
    /// Write each output to DIR/NAME.npy (NAME: the returned value's name, or outK).
    #[arg(long, value_name = "DIR", conflicts_with = "output")]
    pub output_dir: Option<PathBuf>,
    /// Write all outputs to one .npz file, under their names.
    #[arg(long, value_name = "FILE.npz")]
    pub output: Option<PathBuf>,
    /// Compare the outputs with the reference interpreter's (exit code 1 if they differ).
    #[arg(long)]
    pub check: bool,
    /// Compile without Cranelift's optimiser.
    #[arg(long)]
    pub no_opt: bool,
}

pub fn main(args: &Args) -> Result<()> {
    let loaded = load(&args.program)?;
    let p = &loaded.program;
    let inputs = gather(p, &args.inputs)?;
    let refs: Vec<&Tensor> = inputs.iter().collect();
    let names = output_names(&loaded);

    out!(
        "program   {} ({}, {})",
        args.program.display(),
        count(p.params.len(), "parameter"),
        count(p.insts.len(), "instruction")
    );
    let (compiled, compile_time) = compile_timed(p, args.no_opt, Keep::default())?;
    out!("compile   {}", compile_line(&compiled, compile_time));
    let t = Instant::now();
    let outputs = compiled
        .run(&refs)
        .map_err(|e| Fail::runtime(format!("running {}: {}", args.program.display(), chain(&e))))?;
    out!("run       {}", ms(t.elapsed()));
    for (name, o) in names.iter().zip(&outputs) {
        out!("{}", show::show(name, o));
    }
    write_outputs(args, &names, &outputs)?;
    if args.check {
        check(&args.program, p, &names, &refs, &outputs)?;
    }
    Ok(())
}

/// What to keep of a compilation besides the code.
#[derive(Copy, Clone, Default)]
pub struct Keep {
    pub clif: bool,
    pub disasm: bool,
}

/// Compiles `p` (the optimiser off with `no_opt`; Cranelift's IR verifier off, as in the
/// lazy-tensor executor), timed.
pub fn compile_timed(p: &Program, no_opt: bool, keep: Keep) -> Result<(Compiled, Duration)> {
    let opts = CompileOptions {
        opt_level: if no_opt {
            OptLevel::None
        } else {
            OptLevel::Speed
        },
        verify_clif: false,
        keep_clif: keep.clif,
        keep_disasm: keep.disasm,
        ..CompileOptions::default()
    };
    let t = Instant::now();
    let compiled =
        compile(p, &opts).map_err(|e| Fail::runtime(format!("compiling: {}", chain(&e))))?;
    Ok((compiled, t.elapsed()))
}

/// `1.234 ms (verify 0.010, plan 0.050, codegen 0.900, finalize 0.270)`.
pub fn compile_line(c: &Compiled, total: Duration) -> String {
    let s = c.stats();
    let f = |d: Duration| format!("{:.3}", d.as_secs_f64() * 1e3);
    format!(
        "{} (verify {}, plan {}, codegen {}, finalize {})",
        ms(total),
        f(s.verify),
        f(s.plan),
        f(s.codegen),
        f(s.finalize)
    )
}

pub fn ms(d: Duration) -> String {
    format!("{:.3} ms", d.as_secs_f64() * 1e3)
}

pub fn count(n: usize, what: &str) -> String {
    format!("{n} {what}{}", if n == 1 { "" } else { "s" })
}

fn write_outputs(args: &Args, names: &[String], outputs: &[Tensor]) -> Result<()> {
    if let Some(dir) = &args.output_dir {
        std::fs::create_dir_all(dir).map_err(|e| {
            Fail::output(format!(
                "{}: creating the output folder: {}",
                dir.display(),
                chain(&e)
            ))
        })?;
        for (name, o) in names.iter().zip(outputs) {
            let path = dir.join(format!("{name}.npy"));
            lazyjit::io::write_npy(&path, o).map_err(|e| Fail::output(chain(&e)))?;
            out!("wrote     {}", path.display());
        }
    }
    if let Some(path) = &args.output {
        let named: Vec<(&str, &Tensor)> = names.iter().map(String::as_str).zip(outputs).collect();
        lazyjit::io::write_npz(path, &named).map_err(|e| Fail::output(chain(&e)))?;
        out!("wrote     {}", path.display());
    }
    Ok(())
}

fn check(
    path: &Path,
    p: &Program,
    names: &[String],
    inputs: &[&Tensor],
    outputs: &[Tensor],
) -> Result<()> {
    let t = Instant::now();
    let expected = reference::run(p, inputs).map_err(|e| {
        Fail::runtime(format!(
            "{}: the reference interpreter failed: {}",
            path.display(),
            chain(&e)
        ))
    })?;
    let outcome = compare::check(p, names, outputs, &expected);
    out!(
        "check     against the reference interpreter ({})",
        ms(t.elapsed())
    );
    for l in &outcome.lines {
        out!("  {l}");
    }
    if outcome.ok {
        Ok(())
    } else {
        Err(Fail::runtime(format!(
            "{}: the JIT and the reference interpreter disagree ({})",
            path.display(),
            outcome
                .lines
                .iter()
                .filter(|l| l.contains("DIFFERS"))
                .map(|l| l.split(':').next().unwrap_or_default())
                .collect::<Vec<_>>()
                .join(", ")
        )))
    }
}
