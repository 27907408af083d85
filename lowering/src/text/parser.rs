//! Parser of the program text form (grammar in docs/program-format.md).
//!
//! A hand-written recursive-descent parser over the token list of [`super::lexer`]. The grammar
//! is flat and line-oriented, so there is no recursion depth to worry about. Every error is an
//! [`Error::Parse`] carrying the 1-based line and column of the offending token and a message
//! saying what was expected and what was found.

use super::lexer::{quote, tokenize, Tok, Token};
use crate::error::Error;
use crate::op::{AttrKind, AttrSpec, AttrValue, OpKind};
use crate::program::{is_param_name, Inst, Loc, Param, Program, ValueId};
use crate::types::{DType, Scalar, TensorType};
use std::collections::HashMap;

/// Parses and verifies (see [`super::parse`]).
pub(crate) fn parse(src: &str) -> Result<Program, Error> {
    let (program, param_locs) = Parser::new(src).program()?;
    match program.verify() {
        Ok(()) => Ok(program),
        Err(mut violations) => {
            // `verify` only knows instruction locations; point parameter findings at their line.
            for v in &mut violations {
                if v.loc.is_none() {
                    if let Some(id) = v.value {
                        v.loc = param_locs.get(id.index()).copied();
                    }
                }
            }
            Err(Error::Verify(violations))
        }
    }
}

/// Parses without verifying (see [`super::parse_unverified`]).
pub(crate) fn parse_unverified(src: &str) -> Result<Program, Error> {
    Parser::new(src).program().map(|(p, _)| p)
}

/// Every op's name in the text form.
pub(super) fn op_names() -> impl Iterator<Item = &'static str> {
    OpKind::all().map(OpKind::name)
}

/// Levenshtein distance, for "did you mean" suggestions on short words.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = Vec::with_capacity(b.len() + 1);
        cur.push(i + 1);
        for (j, cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != *cb);
            let del = prev[j + 1] + 1;
            let ins = cur[j] + 1;
            cur.push(sub.min(del).min(ins));
        }
        prev = cur;
    }
    prev[b.len()]
}

/// The closest op name to `s`, if close enough to be a plausible typo.
fn suggest_op(s: &str) -> Option<&'static str> {
    if s.len() > 32 {
        return None;
    }
    op_names()
        .map(|n| (edit_distance(s, n), n))
        .filter(|(d, _)| *d <= 2)
        .min_by_key(|(d, _)| *d)
        .map(|(_, n)| n)
}

type PResult<T> = Result<T, Error>;

struct Parser {
    toks: Vec<Token>,
    pos: usize,
    program: Program,
    /// Value name (without `%`) to its id and the location of its definition.
    names: HashMap<String, (ValueId, Loc)>,
    param_locs: Vec<Loc>,
}

fn err_at(loc: Loc, message: impl Into<String>) -> Error {
    Error::Parse {
        line: loc.line,
        col: loc.col,
        message: message.into(),
    }
}

/// Whether `name` (after the `%`) is a valid value name: all digits, or an identifier.
fn is_value_name(name: &str) -> bool {
    (!name.is_empty() && name.bytes().all(|b| b.is_ascii_digit())) || is_param_name(name)
}

impl Parser {
    fn new(src: &str) -> Parser {
        Parser {
            toks: tokenize(src),
            pos: 0,
            program: Program::new(),
            names: HashMap::new(),
            param_locs: Vec::new(),
        }
    }

    /// The current token (the final `Eof` once the input is exhausted).
    fn peek(&self) -> &Token {
        // `tokenize` always returns at least the Eof token, and `pos` never passes it.
        &self.toks[self.pos.min(self.toks.len() - 1)]
    }

    /// The token after the current one.
    fn peek2(&self) -> &Tok {
        &self.toks[(self.pos + 1).min(self.toks.len() - 1)].tok
    }

    /// Moves past the current token (staying on the final `Eof`) and returns its location.
    fn bump(&mut self) -> Loc {
        let loc = self.peek().loc;
        if self.pos + 1 < self.toks.len() {
            self.pos += 1;
        }
        loc
    }

    /// An error at the current token: "expected {what}, found {token}".
    fn expected<T>(&self, what: &str) -> PResult<T> {
        let t = self.peek();
        Err(err_at(
            t.loc,
            format!("expected {what}, found {}", t.tok.describe()),
        ))
    }

    /// Consumes `tok` or fails with "expected {what}, found ...".
    fn expect(&mut self, tok: Tok, what: &str) -> PResult<()> {
        if self.peek().tok == tok {
            self.bump();
            Ok(())
        } else {
            self.expected(what)
        }
    }

    fn skip_newlines(&mut self) {
        while self.peek().tok == Tok::Newline {
            self.bump();
        }
    }

    /// Consumes the end of a line (newline or end of input).
    fn line_end(&mut self, after: &str) -> PResult<()> {
        if self.peek().tok.is_line_end() {
            self.bump();
            Ok(())
        } else {
            self.expected(&format!("newline after {after}"))
        }
    }

    /// `program = { param_line } { inst_line } return_line`, with blank lines anywhere.
    fn program(mut self) -> PResult<(Program, Vec<Loc>)> {
        loop {
            self.skip_newlines();
            let t = self.peek().clone();
            match &t.tok {
                Tok::Ident(k) if k == "param" => {
                    if !self.program.insts.is_empty() {
                        return Err(err_at(
                            t.loc,
                            "parameters must be declared before the first instruction",
                        ));
                    }
                    self.param_line()?;
                }
                Tok::Ident(k) if k == "return" => {
                    self.return_line()?;
                    break;
                }
                Tok::Value(_) => self.inst_line()?,
                Tok::Eof => {
                    return self.expected("'return' line (every program ends with 'return')")
                }
                _ => {
                    return self
                        .expected("'param', an instruction ('%name: type = op ...') or 'return'")
                }
            }
        }
        self.skip_newlines();
        if self.peek().tok != Tok::Eof {
            return self.expected("end of input after the 'return' line");
        }
        Ok((self.program, self.param_locs))
    }

    /// The id the next defined value gets.
    fn next_id(&self, loc: Loc) -> PResult<ValueId> {
        u32::try_from(self.program.num_values())
            .map(ValueId)
            .map_err(|_| err_at(loc, "too many values in one program"))
    }

    /// Reads a value name being defined; fails if it is malformed or already defined.
    fn defined_name(&mut self, what: &str) -> PResult<(String, Loc)> {
        let t = self.peek().clone();
        let Tok::Value(name) = t.tok else {
            return self.expected(what);
        };
        if !is_value_name(&name) {
            return Err(err_at(
                t.loc,
                format!(
                    "invalid value name {}: expected '%' followed by digits or an identifier",
                    quote(&format!("%{name}"))
                ),
            ));
        }
        if let Some((_, prev)) = self.names.get(&name) {
            return Err(err_at(
                t.loc,
                format!(
                    "value %{name} is already defined at {}:{}",
                    prev.line, prev.col
                ),
            ));
        }
        self.bump();
        Ok((name, t.loc))
    }

    fn define(&mut self, name: String, loc: Loc) -> PResult<()> {
        let id = self.next_id(loc)?;
        self.names.insert(name, (id, loc));
        Ok(())
    }

    /// Reads a value name being used and resolves it.
    fn use_value(&mut self, what: &str) -> PResult<ValueId> {
        let t = self.peek().clone();
        let Tok::Value(name) = t.tok else {
            return self.expected(what);
        };
        match self.names.get(&name).map(|&(id, _)| id) {
            Some(id) => {
                self.bump();
                Ok(id)
            }
            None => Err(err_at(
                t.loc,
                format!(
                    "undefined value {} (values must be defined before they are used)",
                    quote(&format!("%{name}"))
                ),
            )),
        }
    }

    /// `param_line = "param" value ":" type NEWLINE`
    fn param_line(&mut self) -> PResult<()> {
        let line_loc = self.bump();
        let t = self.peek().clone();
        if let Tok::Value(name) = &t.tok {
            if !is_param_name(name) {
                return Err(err_at(
                    t.loc,
                    format!(
                        "invalid parameter name {}: expected '%' followed by an identifier \
                         ([A-Za-z_][A-Za-z0-9_.]*)",
                        quote(&format!("%{name}"))
                    ),
                ));
            }
        }
        let (name, name_loc) = self.defined_name("parameter name ('%name') after 'param'")?;
        self.expect(Tok::Colon, "':' after parameter name")?;
        let ty = self.tensor_type()?;
        self.line_end("parameter type")?;
        self.define(name.clone(), name_loc)?;
        self.program.params.push(Param { name, ty });
        self.param_locs.push(line_loc);
        Ok(())
    }

    /// `return_line = "return" [ value { "," value } ] NEWLINE`
    fn return_line(&mut self) -> PResult<()> {
        self.bump();
        if self.peek().tok.is_line_end() {
            self.bump();
            return Ok(());
        }
        loop {
            let v = self.use_value("value ('%name') or newline after 'return'")?;
            self.program.outputs.push(v);
            match self.peek().tok {
                Tok::Comma => {
                    self.bump();
                }
                ref t if t.is_line_end() => {
                    self.bump();
                    return Ok(());
                }
                _ => return self.expected("',' or newline after returned value"),
            }
        }
    }

    /// `inst_line = value ":" type "=" op_name [ items ] NEWLINE`
    fn inst_line(&mut self) -> PResult<()> {
        let (name, loc) = self.defined_name("instruction result ('%name')")?;
        self.expect(Tok::Colon, "':' after result name")?;
        let ty = self.tensor_type()?;
        self.expect(Tok::Equals, "'=' after result type")?;
        let op_tok = self.peek().clone();
        let op_name = match &op_tok.tok {
            Tok::Ident(s) => s.clone(),
            _ => return self.expected("op name after '='"),
        };
        let Some(kind) = OpKind::from_name(&op_name) else {
            let hint = suggest_op(&op_name)
                .map(|s| format!(" (did you mean '{s}'?)"))
                .unwrap_or_default();
            return Err(err_at(
                op_tok.loc,
                format!(
                    "expected op name, found unknown op {}{hint}",
                    quote(&op_name)
                ),
            ));
        };
        self.bump();
        let (args, attrs) = self.items(kind, &op_name, op_tok.loc)?;
        let Some(op) = kind.build(attrs) else {
            return Err(err_at(
                op_tok.loc,
                format!("malformed attributes for {op_name}"),
            ));
        };
        self.define(name, loc)?;
        self.program.insts.push(Inst { op, args, ty });
        self.program.locs.push(loc);
        Ok(())
    }

    /// `items = { leading } [ operand { "," operand } { "," attr } | attr { "," attr } ]`,
    /// then the line end. Leading attributes ([`AttrSpec::leading`], the value of `constant`)
    /// are bare values right after the op name. Returns the operands and the attribute values
    /// in [`OpKind::attrs`] order.
    fn items(
        &mut self,
        kind: OpKind,
        op_name: &str,
        op_loc: Loc,
    ) -> PResult<(Vec<ValueId>, Vec<AttrValue>)> {
        let spec = kind.attrs();
        let mut args = Vec::new();
        let mut vals: Vec<Option<AttrValue>> = vec![None; spec.len()];
        let mut last_attr: Option<String> = None;
        let mut after = format!("'{op_name}'");
        for (i, a) in spec.iter().enumerate().filter(|(_, a)| a.leading) {
            let what = format!("{} {} after '{op_name}'", describe(a.kind), a.name);
            vals[i] = Some(self.attr_value(a.kind, &what)?);
            after = format!("{op_name} {}", a.name);
        }
        if !self.peek().tok.is_line_end() {
            loop {
                let t = self.peek().clone();
                match &t.tok {
                    Tok::Value(_) if last_attr.is_none() => {
                        args.push(self.use_value("operand")?);
                        after = "operand".into();
                    }
                    Tok::Value(_) => {
                        return self.expected(&format!(
                            "attribute ('key=value') after attribute '{}' of {op_name} \
                             (operands come before attributes)",
                            last_attr.unwrap_or_default()
                        ))
                    }
                    Tok::Ident(key) if *self.peek2() == Tok::Equals => {
                        let Some(i) = spec.iter().position(|a| !a.leading && a.name == key) else {
                            let msg = if spec.is_empty() {
                                format!("{op_name} takes no attributes, found {}", quote(key))
                            } else {
                                format!(
                                    "unknown attribute {} for {op_name} (expected {})",
                                    quote(key),
                                    attr_list(spec)
                                )
                            };
                            return Err(err_at(t.loc, msg));
                        };
                        if vals[i].is_some() {
                            return Err(err_at(
                                t.loc,
                                format!("duplicate attribute '{key}' for {op_name}"),
                            ));
                        }
                        self.bump();
                        self.bump();
                        let what = format!("{} after '{key}='", describe(spec[i].kind));
                        vals[i] = Some(self.attr_value(spec[i].kind, &what)?);
                        after = format!("attribute '{key}'");
                        last_attr = Some(key.clone());
                    }
                    _ => {
                        return self.expected(&format!(
                            "operand ('%name') or attribute ('key=value') after {after}"
                        ))
                    }
                }
                match self.peek().tok {
                    Tok::Comma => {
                        self.bump();
                    }
                    ref t if t.is_line_end() => break,
                    _ => return self.expected(&format!("',' or newline after {after}")),
                }
            }
        }
        self.bump();
        let mut out = Vec::with_capacity(spec.len());
        for (
            AttrSpec {
                name: key, kind, ..
            },
            v,
        ) in spec.iter().zip(vals)
        {
            match v {
                Some(v) => out.push(v),
                None => {
                    return Err(err_at(
                        op_loc,
                        format!(
                            "{op_name} is missing attribute '{key}' (expected {key}={})",
                            kind.syntax()
                        ),
                    ))
                }
            }
        }
        Ok((args, out))
    }

    /// A value of attribute kind `kind`; `what` names it for the "expected ..." message.
    fn attr_value(&mut self, kind: AttrKind, what: &str) -> PResult<AttrValue> {
        Ok(match kind {
            AttrKind::List => AttrValue::List(self.index_list(what)?),
            AttrKind::Index => AttrValue::Index(self.index(what)?),
            AttrKind::Bool => {
                let b = match &self.peek().tok {
                    Tok::Ident(s) if s == "true" => true,
                    Tok::Ident(s) if s == "false" => false,
                    _ => return self.expected(what),
                };
                self.bump();
                AttrValue::Bool(b)
            }
            AttrKind::Scalar => AttrValue::Scalar(self.scalar(what)?),
        })
    }

    /// `type = dtype "[" [ dim { "," dim } ] "]"`
    fn tensor_type(&mut self) -> PResult<TensorType> {
        let t = self.peek().clone();
        let Tok::Ident(name) = &t.tok else {
            return self.expected("type (e.g. 'f32[4, 8]')");
        };
        let Some(dtype) = DType::from_name(name) else {
            return Err(err_at(
                t.loc,
                format!(
                    "expected dtype (f32, f64, i32, i64 or bool), found unknown dtype {}",
                    quote(name)
                ),
            ));
        };
        self.bump();
        let dims = self.index_list(&format!(
            "'[' after dtype '{name}' (scalars are '{name}[]')"
        ))?;
        Ok(TensorType::new(dtype, dims))
    }

    /// `"[" [ int { "," int } ] "]"` of non-negative integers.
    fn index_list(&mut self, what: &str) -> PResult<Vec<usize>> {
        self.expect(Tok::LBracket, what)?;
        let mut v = Vec::new();
        if self.peek().tok == Tok::RBracket {
            self.bump();
            return Ok(v);
        }
        loop {
            v.push(self.index("non-negative integer in list")?);
            match self.peek().tok {
                Tok::Comma => {
                    self.bump();
                }
                Tok::RBracket => {
                    self.bump();
                    return Ok(v);
                }
                _ => return self.expected("',' or ']' in list"),
            }
        }
    }

    /// A non-negative integer that fits `usize`.
    fn index(&mut self, what: &str) -> PResult<usize> {
        let t = self.peek().clone();
        let Tok::Number(s) = &t.tok else {
            return self.expected(what);
        };
        if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
            return self.expected(what);
        }
        let n = s.parse::<usize>().map_err(|_| {
            err_at(
                t.loc,
                format!("integer {} is too large (at most {})", quote(s), usize::MAX),
            )
        })?;
        self.bump();
        Ok(n)
    }

    /// `scalar = int | float | "true" | "false" | "inf" | "-inf" | "nan" [ ":" hex ]`
    fn scalar(&mut self, what: &str) -> PResult<Scalar> {
        let t = self.peek().clone();
        let s = match &t.tok {
            Tok::Number(text) => number_literal(text).map_err(|m| err_at(t.loc, m))?,
            Tok::Ident(w) => match w.as_str() {
                "true" => Scalar::Bool(true),
                "false" => Scalar::Bool(false),
                "inf" => Scalar::Float(f64::INFINITY),
                "-inf" => Scalar::Float(f64::NEG_INFINITY),
                "nan" => {
                    if *self.peek2() == Tok::Colon {
                        self.bump();
                        self.bump();
                        return self.nan_payload();
                    }
                    Scalar::Float(f64::NAN)
                }
                _ => return self.expected(what),
            },
            _ => return self.expected(what),
        };
        self.bump();
        Ok(s)
    }

    /// The `0x...` bit pattern after `nan:`; it must be a NaN.
    fn nan_payload(&mut self) -> PResult<Scalar> {
        let t = self.peek().clone();
        let what = "NaN bit pattern ('0x' and up to 16 hex digits) after 'nan:'";
        let Tok::Number(text) = &t.tok else {
            return self.expected(what);
        };
        let hex = text.strip_prefix("0x").unwrap_or("");
        if hex.is_empty() || hex.len() > 16 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return self.expected(what);
        }
        let bits = u64::from_str_radix(hex, 16).map_err(|_| err_at(t.loc, what))?;
        let v = f64::from_bits(bits);
        if !v.is_nan() {
            return Err(err_at(
                t.loc,
                format!("nan:{text} is not a NaN bit pattern (it is {v:?})"),
            ));
        }
        self.bump();
        Ok(Scalar::Float(v))
    }
}

/// What a value of `kind` starts with, for "expected ..." messages.
fn describe(kind: AttrKind) -> &'static str {
    match kind {
        AttrKind::List => "'['",
        AttrKind::Index => "non-negative integer",
        AttrKind::Bool => "'true' or 'false'",
        AttrKind::Scalar => "scalar",
    }
}

/// Lists an op's attributes for messages: `axes=[..], keepdim=true|false`.
fn attr_list(spec: &[AttrSpec]) -> String {
    spec.iter()
        .filter(|a| !a.leading)
        .map(|a| format!("{}={}", a.name, a.kind.syntax()))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Interprets a number token: `-?digits` is an i64; with a fraction and/or exponent
/// (`-?digits[.digits][(e|E)[+-]digits]`) it is a finite f64.
fn number_literal(text: &str) -> Result<Scalar, String> {
    let body = text.strip_prefix('-').unwrap_or(text);
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if digits(body) {
        return text.parse::<i64>().map(Scalar::Int).map_err(|_| {
            format!(
                "integer {} is out of range for i64 ({}..={})",
                quote(text),
                i64::MIN,
                i64::MAX
            )
        });
    }
    let (mantissa, exponent) = match body.find(['e', 'E']) {
        Some(i) => (&body[..i], Some(&body[i + 1..])),
        None => (body, None),
    };
    let (int_part, frac) = match mantissa.split_once('.') {
        Some((a, b)) => (a, Some(b)),
        None => (mantissa, None),
    };
    let ok = digits(int_part)
        && frac.is_none_or(digits)
        && exponent.is_none_or(|e| digits(e.strip_prefix(['+', '-']).unwrap_or(e)));
    if !ok {
        return Err(format!(
            "expected number (like 3, -2.5 or 1e-3), found malformed number {}",
            quote(text)
        ));
    }
    match text.parse::<f64>() {
        Ok(v) if v.is_finite() => Ok(Scalar::Float(v)),
        _ => Err(format!(
            "float {} is out of range for f64 (write inf or -inf for infinities)",
            quote(text)
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn number_literals() {
        assert_eq!(number_literal("-3"), Ok(Scalar::Int(-3)));
        assert_eq!(
            number_literal("-9223372036854775808"),
            Ok(Scalar::Int(i64::MIN))
        );
        assert!(number_literal("9223372036854775808").is_err());
        assert_eq!(number_literal("-0.0"), Ok(Scalar::Float(-0.0)));
        assert_eq!(number_literal("1e300"), Ok(Scalar::Float(1e300)));
        assert_eq!(number_literal("-2.5E-3"), Ok(Scalar::Float(-2.5e-3)));
        assert_eq!(number_literal("5e-324"), Ok(Scalar::Float(5e-324)));
        for bad in [
            "1.", "1.2.3", "1e", "1e+", "12abc", "0x10", "1_000", "1e999",
        ] {
            assert!(number_literal(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn suggestions() {
        assert_eq!(suggest_op("reduce_summ"), Some("reduce_sum"));
        assert_eq!(suggest_op("matmull"), Some("matmul"));
        assert_eq!(suggest_op("frobnicate"), None);
    }
}
