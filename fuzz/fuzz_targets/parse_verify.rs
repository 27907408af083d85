//! Arbitrary bytes → the text parser and the verifier.
//!
//! Properties (docs/program-format.md, "Errors" and the round-trip rule):
//! * `text::parse_unverified`, `text::parse` and `Program::verify` never panic, whatever the
//!   input (invalid UTF-8 is decoded lossily, so the parser also sees U+FFFD);
//! * `parse(s)` succeeds exactly when `parse_unverified(s)` does and the program verifies;
//! * for a program that verifies, `parse(print(p)) == p` and printing is canonical:
//!   `print(parse(print(p))) == print(p)`;
//! * an error from `parse` is a `Parse` or `Verify` error, never anything else.
#![no_main]

use lazyjit_lowering::{text, Error};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let src = String::from_utf8_lossy(data);
    let unverified = text::parse_unverified(&src);
    let verified = text::parse(&src);
    match (&unverified, &verified) {
        (Ok(p), Ok(q)) => {
            assert_eq!(
                p, q,
                "parse and parse_unverified disagree on a valid program"
            );
            assert!(
                p.verify().is_ok(),
                "parse accepted a program that does not verify"
            );
            let printed = text::print(q);
            let back = text::parse(&printed).unwrap_or_else(|e| {
                panic!("the printed form of a valid program does not parse: {e}\n{printed}")
            });
            assert_eq!(&back, q, "print -> parse does not round-trip:\n{printed}");
            assert_eq!(
                text::print(&back),
                printed,
                "printing is not canonical (print(parse(print(p))) != print(p))"
            );
        }
        (Ok(p), Err(e)) => {
            assert!(
                matches!(e, Error::Verify(_)),
                "parse_unverified accepted the text but parse failed with a non-verify error: {e}"
            );
            assert!(
                p.verify().is_err(),
                "parse rejected a program that verifies: {e}"
            );
            // Display of the verifier's findings must not panic either.
            let _ = e.to_string();
        }
        (Err(e), Ok(_)) => panic!("parse accepted text that parse_unverified rejects: {e}"),
        (Err(e1), Err(e2)) => {
            assert!(
                matches!(e1, Error::Parse { .. }),
                "unexpected error kind: {e1}"
            );
            assert!(
                matches!(e2, Error::Parse { .. }),
                "unexpected error kind: {e2}"
            );
            let _ = e2.to_string();
        }
    }
});
