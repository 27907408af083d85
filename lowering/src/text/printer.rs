//! Printer of the program text form: the inverse of the parser.

use crate::op::{AttrValue, Op};
use crate::program::{Program, ValueId};
use crate::types::Scalar;
use std::fmt::{self, Write};

/// Writes a scalar so that the parser reads back the identical value (floats by bits).
///
/// Unlike `Scalar`'s `Display`, NaNs other than the canonical `f64::NAN` keep their bit
/// pattern (`nan:0x7ff8000000000001`), and finite floats always carry a `.` or an exponent
/// so they never read back as integers.
pub(crate) fn write_scalar(f: &mut impl Write, s: Scalar) -> fmt::Result {
    match s {
        Scalar::Float(v) if v.is_nan() => {
            if v.to_bits() == f64::NAN.to_bits() {
                f.write_str("nan")
            } else {
                write!(f, "nan:0x{:016x}", v.to_bits())
            }
        }
        Scalar::Float(v) if v.is_infinite() => f.write_str(if v > 0.0 { "inf" } else { "-inf" }),
        Scalar::Float(v) => {
            // `{:?}` is the shortest representation that round-trips; it always has a `.` or
            // an exponent today, but guard against a bare integer anyway.
            let text = format!("{v:?}");
            f.write_str(&text)?;
            if !text.contains(['.', 'e', 'E']) {
                f.write_str(".0")?;
            }
            Ok(())
        }
        Scalar::Int(v) => write!(f, "{v}"),
        Scalar::Bool(b) => write!(f, "{b}"),
    }
}

/// Writes a value's name: `%param_name` for parameters, `%N` for instruction results.
fn write_value(f: &mut impl Write, p: &Program, v: ValueId) -> fmt::Result {
    match p.params.get(v.index()) {
        Some(param) => write!(f, "%{}", param.name),
        None => write!(f, "%{}", v.0),
    }
}

fn write_list(f: &mut impl Write, v: &[usize]) -> fmt::Result {
    f.write_char('[')?;
    for (i, x) in v.iter().enumerate() {
        if i > 0 {
            f.write_str(", ")?;
        }
        write!(f, "{x}")?;
    }
    f.write_char(']')
}

fn write_attr(f: &mut impl Write, v: &AttrValue) -> fmt::Result {
    match v {
        AttrValue::List(l) => write_list(f, l),
        AttrValue::Index(i) => write!(f, "{i}"),
        AttrValue::Bool(b) => write!(f, "{b}"),
        AttrValue::Scalar(s) => write_scalar(f, *s),
    }
}

/// Writes an op's leading attributes (` value`) or its `key=value` attributes, following its
/// schema ([`crate::op::OpKind::attrs`]). `first` says whether nothing follows the op name yet:
/// then the first keyed attribute is preceded by `" "`, otherwise by `", "`.
fn write_attrs(f: &mut impl Write, op: &Op, leading: bool, mut first: bool) -> fmt::Result {
    let spec = op.kind().attrs();
    if spec.iter().all(|a| a.leading != leading) {
        return Ok(());
    }
    for (a, v) in spec.iter().zip(op.attr_values()) {
        if a.leading != leading {
            continue;
        }
        if leading {
            f.write_char(' ')?;
        } else {
            f.write_str(if first { " " } else { ", " })?;
            first = false;
            write!(f, "{}=", a.name)?;
        }
        write_attr(f, &v)?;
    }
    Ok(())
}

/// Writes an op without its result and operands: the name, a constant's value and the
/// attributes, as the program text has them (`reduce_sum axes=[1], keepdim=true`).
pub(crate) fn write_op(f: &mut impl Write, op: &Op) -> fmt::Result {
    f.write_str(op.name())?;
    write_attrs(f, op, true, true)?;
    write_attrs(f, op, false, true)
}

/// Writes the whole program. Never panics, even on programs that fail verification
/// (operands out of range print as `%N`).
pub(crate) fn write_program(f: &mut impl Write, p: &Program) -> fmt::Result {
    for param in &p.params {
        writeln!(f, "param %{}: {}", param.name, param.ty)?;
    }
    for (i, inst) in p.insts.iter().enumerate() {
        let id = p.params.len().saturating_add(i);
        write!(f, "%{id}: {} = {}", inst.ty, inst.op.name())?;
        write_attrs(f, &inst.op, true, true)?;
        for (k, a) in inst.args.iter().enumerate() {
            f.write_str(if k == 0 { " " } else { ", " })?;
            write_value(f, p, *a)?;
        }
        write_attrs(f, &inst.op, false, inst.args.is_empty())?;
        f.write_char('\n')?;
    }
    f.write_str("return")?;
    for (k, v) in p.outputs.iter().enumerate() {
        f.write_str(if k == 0 { " " } else { ", " })?;
        write_value(f, p, *v)?;
    }
    f.write_char('\n')
}
