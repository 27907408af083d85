//! How the binary fails: one message on stderr and an exit code saying what kind of
//! failure it was (the table is `EXIT_CODES`, shown by `--help`, and docs/cli.md). A
//! library error becomes the message with its whole cause chain ([`chain`]).

use std::fmt;

/// The exit codes, as `--help` prints them.
pub const EXIT_CODES: &str = "\
Exit codes:
  0  success
  1  compiling or running failed, or --check found a disagreement with the reference
  2  usage error (an unknown flag, a missing argument: clap's own)
  3  the program file is missing, malformed (line:col), has an unknown op or fails verification
  4  bad input data: a missing, malformed or truncated input file, a dtype or shape that is not
     the parameter's, a parameter with no input, an input that matches no parameter
  5  an output could not be written";

/// What kind of failure, as its exit code.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Code {
    Runtime = 1,
    Program = 3,
    Input = 4,
    Output = 5,
}

/// A failure: its exit code and its one-line message.
#[derive(Debug)]
pub struct Fail {
    pub code: Code,
    pub message: String,
}

impl Fail {
    pub fn runtime(message: impl Into<String>) -> Fail {
        Fail::new(Code::Runtime, message)
    }

    pub fn program(message: impl Into<String>) -> Fail {
        Fail::new(Code::Program, message)
    }

    pub fn input(message: impl Into<String>) -> Fail {
        Fail::new(Code::Input, message)
    }

    pub fn output(message: impl Into<String>) -> Fail {
        Fail::new(Code::Output, message)
    }

    fn new(code: Code, message: impl Into<String>) -> Fail {
        Fail {
            code,
            message: message.into(),
        }
    }
}

impl fmt::Display for Fail {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // One line: a multi-line cause (a verifier's list) is joined.
        let one_line: Vec<&str> = self.message.lines().map(str::trim).collect();
        f.write_str(&one_line.join("; "))
    }
}

pub type Result<T> = std::result::Result<T, Fail>;

/// `e` and each error below it (its `source()` chain) once, joined by `": "`: a library
/// error that wraps another says what failed, its source says why, and neither repeats the
/// other.
pub fn chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        out.push_str(": ");
        out.push_str(&c.to_string());
        cause = c.source();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug)]
    struct Wrap(std::io::Error);

    impl fmt::Display for Wrap {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("reading the inputs")
        }
    }

    impl std::error::Error for Wrap {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            Some(&self.0)
        }
    }

    #[test]
    fn a_chain_prints_every_cause_once() {
        let e = Wrap(std::io::Error::other("disk on fire"));
        assert_eq!(chain(&e), "reading the inputs: disk on fire");
        let plain = std::io::Error::other("no cause");
        assert_eq!(chain(&plain), "no cause");
    }
}
