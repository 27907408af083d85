//! `lazyjit bench`: compile time by phase, run-time percentiles over repeated runs into
//! reused outputs (as a training loop runs), and the memory bandwidth achieved by
//! streaming programs.

use crate::fail::{chain, Fail, Result, EXIT_CODES};
use crate::inputs::{gather, InputArgs};
use crate::load::load;
use crate::run::{compile_line, compile_timed, count, ms, Keep};
use indicatif::{ProgressBar, ProgressStyle};
use lazyjit::lowering::{Op, Program, Tensor};
use std::io::IsTerminal;
use std::path::PathBuf;
use std::time::{Duration, Instant};

#[derive(clap::Args, Debug)]
#[command(after_help = EXIT_CODES)]
pub struct Args {
    /// Program file in the text format (docs/program-format.md).
    pub program: PathBuf,
    #[command(flatten)]
    pub inputs: InputArgs,
    /// Timed runs (after one untimed warm-up run).
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u64).range(1..))]
    pub iters: u64,
    /// Compile without Cranelift's optimiser.
    #[arg(long)]
    pub no_opt: bool,
}

pub fn main(args: &Args) -> Result<()> {
    let loaded = load(&args.program)?;
    let p = &loaded.program;
    let inputs = gather(p, &args.inputs)?;
    let refs: Vec<&Tensor> = inputs.iter().collect();
    out!(
        "program   {} ({}, {})",
        args.program.display(),
        count(p.params.len(), "parameter"),
        count(p.insts.len(), "instruction")
    );
    let (c, compile_time) = compile_timed(p, args.no_opt, Keep::default())?;
    out!("compile   {}", compile_line(&c, compile_time));

    let run_err = |e: lazyjit::lowering::Error| {
        Fail::runtime(format!("running {}: {}", args.program.display(), chain(&e)))
    };
    let t = Instant::now();
    let mut outputs = c.run(&refs).map_err(run_err)?;
    out!("first run {} (allocates the outputs)", ms(t.elapsed()));

    let bar = progress_bar(args.iters);
    let mut times = Vec::with_capacity(args.iters as usize);
    for _ in 0..args.iters {
        let t = Instant::now();
        c.run_into(&refs, &mut outputs).map_err(run_err)?;
        times.push(t.elapsed());
        bar.inc(1);
    }
    bar.finish_and_clear();
    times.sort_unstable();
    let p50 = percentile(&times, 50.0);
    out!(
        "runs      {} into reused outputs: min {}  p50 {}  p90 {}  p99 {}  max {}",
        args.iters,
        ms(times[0]),
        ms(p50),
        ms(percentile(&times, 90.0)),
        ms(percentile(&times, 99.0)),
        ms(times[times.len() - 1])
    );
    if streams(p) {
        let bytes: usize = p.params.iter().map(|q| q.ty.size_bytes()).sum::<usize>()
            + outputs.iter().map(|o| o.ty().size_bytes()).sum::<usize>();
        out!(
            "memory    {:.3} MB per run (inputs + outputs): {:.2} GB/s at p50",
            bytes as f64 / 1e6,
            bytes as f64 / p50.as_secs_f64().max(1e-12) / 1e9
        );
    } else {
        out!("memory    not reported: the program is not elementwise or a reduction");
    }
    Ok(())
}

/// A bar on stderr when it is a terminal and the run is long enough to watch; hidden
/// otherwise (logs and tests see no control characters).
fn progress_bar(iters: u64) -> ProgressBar {
    if !std::io::stderr().is_terminal() || iters < 100 {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(iters);
    if let Ok(style) = ProgressStyle::with_template("{bar:40} {pos}/{len} runs, {eta} left") {
        bar.set_style(style);
    }
    bar
}

/// Nearest-rank percentile of sorted, non-empty `times`.
fn percentile(times: &[Duration], pct: f64) -> Duration {
    let rank = ((pct / 100.0) * times.len() as f64).ceil() as usize;
    times[rank.clamp(1, times.len()) - 1]
}

/// Whether the program only streams memory (elementwise ops, broadcasts, reshapes and
/// reductions), so inputs + outputs over time is its bandwidth. Every op listed.
fn streams(p: &Program) -> bool {
    p.insts.iter().all(|i| match &i.op {
        Op::Unary(_)
        | Op::Binary(_)
        | Op::Reduce { .. }
        | Op::Where
        | Op::Cast
        | Op::Constant { .. }
        | Op::Iota { .. }
        | Op::Reshape { .. }
        | Op::Expand { .. } => true,
        Op::Permute { .. }
        | Op::Slice { .. }
        | Op::Concat { .. }
        | Op::Pad { .. }
        | Op::Gather { .. }
        | Op::IndexSelect { .. }
        | Op::ScatterAdd { .. }
        | Op::RandomUniform
        | Op::MatMul => false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_are_nearest_rank() {
        let t: Vec<Duration> = (1..=10).map(Duration::from_millis).collect();
        assert_eq!(percentile(&t, 50.0), Duration::from_millis(5));
        assert_eq!(percentile(&t, 90.0), Duration::from_millis(9));
        assert_eq!(percentile(&t, 99.0), Duration::from_millis(10));
        assert_eq!(percentile(&t[..1], 50.0), Duration::from_millis(1));
    }
}
