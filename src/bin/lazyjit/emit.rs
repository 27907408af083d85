//! `lazyjit emit`: what the compiler makes of a program, at one stage.

use crate::fail::{Fail, Result, EXIT_CODES};
use crate::load::load;
use crate::run::{compile_timed, Keep};
use std::path::PathBuf;

/// The stages `emit` prints.
#[derive(clap::ValueEnum, Copy, Clone, Debug, PartialEq, Eq)]
pub enum What {
    /// The program in canonical text form (values renumbered, attributes normalised).
    Program,
    /// The fusion plan: kernels, row groups, scratch buffers.
    Plan,
    /// Each kernel's Cranelift IR, as lowered (before Cranelift's optimiser).
    Clif,
    /// Each kernel's machine code.
    Asm,
}

#[derive(clap::Args, Debug)]
#[command(after_help = EXIT_CODES)]
pub struct Args {
    /// Program file in the text format (docs/program-format.md).
    pub program: PathBuf,
    /// What to print.
    #[arg(long, value_enum, default_value_t = What::Program)]
    pub what: What,
    /// Compile without Cranelift's optimiser.
    #[arg(long)]
    pub no_opt: bool,
}

pub fn main(args: &Args) -> Result<()> {
    let loaded = load(&args.program)?;
    let compiled = |keep: Keep| {
        compile_timed(&loaded.program, args.no_opt, keep)
            .map(|(c, _)| c)
            .map_err(|f| Fail::runtime(format!("{}: {}", args.program.display(), f.message)))
    };
    let text = match args.what {
        What::Program => loaded.program.to_string(),
        What::Plan => compiled(Keep::default())?.plan().to_string(),
        What::Clif => compiled(Keep {
            clif: true,
            disasm: false,
        })?
        .clif(),
        What::Asm => compiled(Keep {
            clif: false,
            disasm: true,
        })?
        .disasm(),
    };
    out!("{}", text.strip_suffix('\n').unwrap_or(&text));
    Ok(())
}
