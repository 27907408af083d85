//! `lazyjit`: compile, run, check, inspect and benchmark program files from the command
//! line (docs/cli.md). One file per subcommand; inputs, outputs, printing and the
//! reference check in their own modules. Every failure is one line on stderr and an exit
//! code saying what kind of failure it was (`fail.rs`).

/// `println!` that never panics: once standard output is closed (`lazyjit run ... | head`)
/// or fails, further printing is skipped and the command goes on (its output files are
/// still written).
macro_rules! out {
    ($($arg:tt)*) => {
        $crate::print_line(format_args!($($arg)*))
    };
}

mod bench;
mod check;
mod compare;
mod emit;
mod fail;
mod inputs;
mod load;
mod run;
mod show;

use clap::{Parser, Subcommand};
use std::io::Write;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};

/// Set once writing to standard output has failed.
static STDOUT_CLOSED: AtomicBool = AtomicBool::new(false);

/// One line on standard output, unless it is closed (see `out!`).
fn print_line(args: std::fmt::Arguments<'_>) {
    if STDOUT_CLOSED.load(Ordering::Relaxed) {
        return;
    }
    let mut o = std::io::stdout().lock();
    if o.write_fmt(args).and_then(|()| o.write_all(b"\n")).is_err() {
        STDOUT_CLOSED.store(true, Ordering::Relaxed);
    }
}

#[derive(Parser, Debug)]
#[command(
    name = "lazyjit",
    version,
    about = "Compile lazyjit programs to machine code with Cranelift, run, check, inspect and benchmark them",
    after_help = fail::EXIT_CODES
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Compile and run a program on inputs from files (or random data); print, write and
    /// check its outputs.
    Run(run::Args),
    /// Parse and verify a program; print every problem as file:line:col.
    Check(check::Args),
    /// Print the canonical program, its fusion plan, each kernel's CLIF or machine code.
    Emit(emit::Args),
    /// Time compilation by phase and runs by percentile; report memory bandwidth.
    Bench(bench::Args),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // The CLI runs compiled programs directly, not through the executor that applies
    // `LAZYJIT_THREADS` on every run: apply it once here.
    lazyjit::lowering::kernels::set_threads(lazyjit::config::get().threads);
    let result = match &cli.command {
        Command::Run(a) => run::main(a),
        Command::Check(a) => check::main(a),
        Command::Emit(a) => emit::main(a),
        Command::Bench(a) => bench::main(a),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(f) => {
            eprintln!("lazyjit: error: {f}");
            ExitCode::from(f.code as u8)
        }
    }
}
