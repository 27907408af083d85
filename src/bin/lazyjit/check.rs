//! `lazyjit check`: parse and verify only, every problem on its own line.

use crate::fail::{chain, Fail, Result, EXIT_CODES};
use crate::load::problems;
use crate::run::count;
use lazyjit::lowering::text;
use std::path::PathBuf;

#[derive(clap::Args, Debug)]
#[command(after_help = EXIT_CODES)]
pub struct Args {
    /// Program file in the text format (docs/program-format.md).
    pub program: PathBuf,
}

/// Prints `PROGRAM: ok (...)`, or every violation as `file:line:col: message` on stderr
/// and fails with exit code 3.
pub fn main(args: &Args) -> Result<()> {
    let path = &args.program;
    let source = std::fs::read_to_string(path).map_err(|e| {
        Fail::program(format!(
            "{}: reading the program: {}",
            path.display(),
            chain(&e)
        ))
    })?;
    match text::parse(&source) {
        Ok(p) => {
            out!(
                "{}: ok ({}, {}, {})",
                path.display(),
                count(p.params.len(), "parameter"),
                count(p.insts.len(), "instruction"),
                count(p.outputs.len(), "output")
            );
            Ok(())
        }
        Err(e) => {
            let lines = problems(path, &source, &e);
            for l in &lines {
                eprintln!("{l}");
            }
            Err(Fail::program(format!(
                "{}: {} found",
                path.display(),
                count(lines.len(), "problem")
            )))
        }
    }
}
