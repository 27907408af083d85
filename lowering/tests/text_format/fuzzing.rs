//! Fuzzing: arbitrary and mutated text never panics, and whatever parses also round-trips.

use super::*;

// ---------------------------------------------------------------------------------------------
// Fuzzing: no input panics; whatever parses also round-trips
// ---------------------------------------------------------------------------------------------

/// Parses `src` both ways; anything accepted must print and parse back to itself.
fn check_no_panic(src: &str) -> Result<(), TestCaseError> {
    for (verified, result) in [(true, parse(src)), (false, parse_unverified(src))] {
        match result {
            Ok(p) => {
                let text = print(&p);
                let again = if verified {
                    parse(&text)
                } else {
                    parse_unverified(&text)
                };
                prop_assert_eq!(again.as_ref().ok(), Some(&p), "{:?}\n{}", again, text);
            }
            Err(Error::Parse { line, col, message }) => {
                prop_assert!(line >= 1 && col >= 1 && !message.is_empty());
            }
            Err(Error::Verify(v)) => prop_assert!(verified && !v.is_empty()),
            Err(e) => prop_assert!(false, "unexpected error kind: {e:?}"),
        }
    }
    Ok(())
}

/// An edit to program text at a position given as a fraction of its length.
#[derive(Clone, Debug)]
enum Mutation {
    Delete(usize),
    Insert(usize, char),
    Replace(usize, char),
    /// Duplicates a span (e.g. a whole line or a list element).
    Duplicate(usize, usize),
    /// Replaces the i-th digit by another digit: usually still parses, often fails to verify.
    Digit(usize, u8),
    /// Swaps two lines: exercises ordering rules (use before definition, params first).
    SwapLines(usize, usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    let interesting = prop::sample::select(vec![
        '%', ':', '=', ',', '[', ']', '#', '\n', ' ', '-', '.', 'e', 'x', '0', '9', 'a', '_', 'é',
        '\t', '\r', '\0',
    ]);
    let ch = prop_oneof![interesting, any::<char>()];
    prop_oneof![
        any::<usize>().prop_map(Mutation::Delete),
        (any::<usize>(), ch.clone()).prop_map(|(i, c)| Mutation::Insert(i, c)),
        (any::<usize>(), ch).prop_map(|(i, c)| Mutation::Replace(i, c)),
        (any::<usize>(), 1usize..40).prop_map(|(i, n)| Mutation::Duplicate(i, n)),
        (any::<usize>(), 0u8..10).prop_map(|(i, d)| Mutation::Digit(i, d)),
        (any::<usize>(), any::<usize>()).prop_map(|(i, j)| Mutation::SwapLines(i, j)),
    ]
}

fn apply(text: &str, muts: &[Mutation]) -> String {
    let mut chars: Vec<char> = text.chars().collect();
    for m in muts {
        let len = chars.len();
        match *m {
            Mutation::Delete(i) if len > 0 => {
                chars.remove(i % len);
            }
            Mutation::Insert(i, c) => chars.insert(i % (len + 1), c),
            Mutation::Replace(i, c) if len > 0 => chars[i % len] = c,
            Mutation::Duplicate(i, n) if len > 0 => {
                let start = i % len;
                let end = (start + n).min(len);
                let span: Vec<char> = chars[start..end].to_vec();
                chars.splice(start..start, span);
            }
            Mutation::Digit(i, d) => {
                let digits: Vec<usize> = (0..len).filter(|&k| chars[k].is_ascii_digit()).collect();
                if !digits.is_empty() {
                    chars[digits[i % digits.len()]] = char::from(b'0' + d);
                }
            }
            Mutation::SwapLines(i, j) => {
                let text: String = chars.iter().collect();
                let mut lines: Vec<&str> = text.lines().collect();
                if !lines.is_empty() {
                    let n = lines.len();
                    lines.swap(i % n, j % n);
                }
                chars = lines.join("\n").chars().collect();
            }
            _ => {}
        }
    }
    chars.into_iter().collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1024))]

    #[test]
    fn fuzz_arbitrary_strings(src in "\\PC{0,300}") {
        check_no_panic(&src)?;
    }

    #[test]
    fn fuzz_token_soup(
        src in "((param|return|%[a-z0-9_.]{0,3}|[a-z_]{1,12}|-?[0-9]{1,25}(\\.[0-9]{0,3})?(e-?[0-9]{0,4})?\
                |nan(:0x[0-9a-f]{0,18})?|-?inf|f32|i64|bool|[:=,#]|\\[|\\]|\\n| ){0,60})"
    ) {
        check_no_panic(&src)?;
    }

    #[test]
    fn fuzz_mutated_programs(
        p in programs(),
        muts in prop::collection::vec(mutation(), 1..6),
    ) {
        let src = apply(&print(&p), &muts);
        check_no_panic(&src)?;
    }
}
