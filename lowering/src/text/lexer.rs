//! Tokenizer of the program text form.
//!
//! The lexer never fails: characters that start no token become [`Tok::Invalid`], and the
//! parser reports them in context ("expected ..., found '@'"). Newlines are tokens because
//! the grammar is line-oriented; spaces, tabs, carriage returns and `#` comments are skipped.

use crate::program::Loc;

/// One token kind. Text-carrying tokens keep their source text; the parser interprets it.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Tok {
    /// `[A-Za-z_][A-Za-z0-9_]*`, or `-` directly followed by letters (only `-inf` is meaningful).
    Ident(String),
    /// `%` followed by `[A-Za-z0-9_.]*` (the text after the `%`, possibly empty).
    Value(String),
    /// A run starting with a digit (or `-` and a digit) of `[A-Za-z0-9_.]` and exponent signs.
    Number(String),
    Colon,
    Equals,
    Comma,
    LBracket,
    RBracket,
    Newline,
    Eof,
    /// A character that starts no token.
    Invalid(char),
}

/// A token and the 1-based position of its first character.
#[derive(Clone, Debug)]
pub(crate) struct Token {
    pub tok: Tok,
    pub loc: Loc,
}

/// Longest token text quoted in full in messages; longer text is shortened with `...`.
const MAX_QUOTE: usize = 40;

impl Tok {
    /// How the token is named in "found ..." messages.
    pub fn describe(&self) -> String {
        match self {
            Tok::Ident(s) | Tok::Number(s) => quote(s),
            Tok::Value(s) => quote(&format!("%{s}")),
            Tok::Colon => "':'".into(),
            Tok::Equals => "'='".into(),
            Tok::Comma => "','".into(),
            Tok::LBracket => "'['".into(),
            Tok::RBracket => "']'".into(),
            Tok::Newline => "newline".into(),
            Tok::Eof => "end of input".into(),
            Tok::Invalid(c) => format!("{c:?}"),
        }
    }

    /// Whether the token ends a line (newline or end of input).
    pub fn is_line_end(&self) -> bool {
        matches!(self, Tok::Newline | Tok::Eof)
    }
}

/// Quotes token text for a message, shortening very long text.
pub(crate) fn quote(s: &str) -> String {
    if s.chars().count() <= MAX_QUOTE {
        format!("'{s}'")
    } else {
        let head: String = s.chars().take(MAX_QUOTE).collect();
        format!("'{head}...'")
    }
}

fn is_ident_start(c: char) -> bool {
    c.is_ascii_alphabetic() || c == '_'
}

fn is_ident_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_' || c == '.'
}

struct Cursor<'a> {
    chars: std::iter::Peekable<std::str::Chars<'a>>,
    line: u32,
    col: u32,
}

impl Cursor<'_> {
    fn peek(&mut self) -> Option<char> {
        self.chars.peek().copied()
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.chars.next()?;
        if c == '\n' {
            self.line = self.line.saturating_add(1);
            self.col = 1;
        } else {
            self.col = self.col.saturating_add(1);
        }
        Some(c)
    }

    /// Consumes characters while `f` holds, appending them to `out`.
    fn take_while(&mut self, out: &mut String, f: impl Fn(char) -> bool) {
        while let Some(c) = self.peek() {
            if !f(c) {
                break;
            }
            out.push(c);
            self.bump();
        }
    }

    /// Consumes a number run: `[A-Za-z0-9_.]`, plus `+`/`-` directly after an exponent
    /// marker `e`/`E` of a non-hex number.
    fn take_number(&mut self, out: &mut String) {
        while let Some(c) = self.peek() {
            let exp_sign =
                (c == '+' || c == '-') && out.ends_with(['e', 'E']) && !out.contains(['x', 'X']);
            if !(is_name_char(c) || exp_sign) {
                break;
            }
            out.push(c);
            self.bump();
        }
    }
}

/// Splits `src` into tokens. The result always ends with exactly one [`Tok::Eof`].
pub(crate) fn tokenize(src: &str) -> Vec<Token> {
    let mut cur = Cursor {
        chars: src.chars().peekable(),
        line: 1,
        col: 1,
    };
    let mut out = Vec::new();
    loop {
        let loc = Loc {
            line: cur.line,
            col: cur.col,
        };
        let Some(c) = cur.peek() else {
            out.push(Token { tok: Tok::Eof, loc });
            return out;
        };
        let tok = match c {
            ' ' | '\t' | '\r' => {
                cur.bump();
                continue;
            }
            '#' => {
                while cur.peek().is_some_and(|c| c != '\n') {
                    cur.bump();
                }
                continue;
            }
            '\n' => {
                cur.bump();
                Tok::Newline
            }
            ':' | '=' | ',' | '[' | ']' => {
                cur.bump();
                match c {
                    ':' => Tok::Colon,
                    '=' => Tok::Equals,
                    ',' => Tok::Comma,
                    '[' => Tok::LBracket,
                    _ => Tok::RBracket,
                }
            }
            '%' => {
                cur.bump();
                let mut s = String::new();
                cur.take_while(&mut s, is_name_char);
                Tok::Value(s)
            }
            '-' => {
                cur.bump();
                let mut s = String::from("-");
                match cur.peek() {
                    Some(d) if d.is_ascii_digit() => {
                        cur.take_number(&mut s);
                        Tok::Number(s)
                    }
                    Some(a) if is_ident_start(a) => {
                        cur.take_while(&mut s, is_ident_char);
                        Tok::Ident(s)
                    }
                    _ => Tok::Invalid('-'),
                }
            }
            c if c.is_ascii_digit() => {
                let mut s = String::new();
                cur.take_number(&mut s);
                Tok::Number(s)
            }
            c if is_ident_start(c) => {
                let mut s = String::new();
                cur.take_while(&mut s, is_ident_char);
                Tok::Ident(s)
            }
            other => {
                cur.bump();
                Tok::Invalid(other)
            }
        };
        out.push(Token { tok, loc });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(src: &str) -> Vec<Tok> {
        tokenize(src).into_iter().map(|t| t.tok).collect()
    }

    #[test]
    fn numbers_and_names() {
        assert_eq!(
            kinds("%x.y -2.5e-3 1e300 -inf nan:0x7ff8 # c\n@"),
            vec![
                Tok::Value("x.y".into()),
                Tok::Number("-2.5e-3".into()),
                Tok::Number("1e300".into()),
                Tok::Ident("-inf".into()),
                Tok::Ident("nan".into()),
                Tok::Colon,
                Tok::Number("0x7ff8".into()),
                Tok::Newline,
                Tok::Invalid('@'),
                Tok::Eof,
            ]
        );
    }

    #[test]
    fn positions_are_one_based() {
        let t = tokenize("a\n  b");
        assert_eq!((t[0].loc.line, t[0].loc.col), (1, 1));
        assert_eq!((t[2].loc.line, t[2].loc.col), (2, 3));
    }
}
