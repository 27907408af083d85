//! Attribute schemas: the kinds of value an op attribute takes, and the conversions between an
//! op's typed fields and the uniform [`AttrValue`] that the text parser and printer handle.
//!
//! An op's schema ([`OpKind::attrs`](super::OpKind::attrs)) is generated from its declaration
//! in `table.rs`, so the parser, the printer and the op's fields cannot disagree.

use crate::types::{Scalar, Shape};

/// The kind of value an attribute takes, and its text syntax.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum AttrKind {
    /// `[n, ...]` of non-negative integers.
    List,
    /// A non-negative integer.
    Index,
    /// `true` or `false`.
    Bool,
    /// A scalar literal.
    Scalar,
}

impl AttrKind {
    /// The syntax of a value of this kind, for messages (`axes=[..]`).
    pub const fn syntax(self) -> &'static str {
        match self {
            AttrKind::List => "[..]",
            AttrKind::Index => "N",
            AttrKind::Bool => "true|false",
            AttrKind::Scalar => "SCALAR",
        }
    }
}

/// One attribute of an op's schema.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub struct AttrSpec {
    /// The attribute's name (`key` in `key=value`), the field's name in [`Op`](super::Op).
    pub name: &'static str,
    /// The kind of value it takes (from the field's Rust type, [`AttrType::KIND`]).
    pub kind: AttrKind,
    /// Written bare right after the op name, before any operand, instead of as `key=value`
    /// (the value of `constant`).
    pub leading: bool,
}

/// An attribute value of any kind, as the text form reads and writes it.
#[derive(Clone, Debug, PartialEq)]
pub enum AttrValue {
    /// A list of non-negative integers: dims, axes, a permutation.
    List(Vec<usize>),
    /// A non-negative integer: an axis.
    Index(usize),
    /// A flag.
    Bool(bool),
    /// A scalar literal.
    Scalar(Scalar),
}

impl AttrValue {
    /// The kind of this value.
    pub fn kind(&self) -> AttrKind {
        match self {
            AttrValue::List(_) => AttrKind::List,
            AttrValue::Index(_) => AttrKind::Index,
            AttrValue::Bool(_) => AttrKind::Bool,
            AttrValue::Scalar(_) => AttrKind::Scalar,
        }
    }
}

/// A Rust type an op field can have, with its attribute kind.
pub trait AttrType: Sized {
    /// The attribute kind of this type.
    const KIND: AttrKind;
    /// This field value as an attribute value.
    fn to_value(&self) -> AttrValue;
    /// `None` if `v` is of another kind.
    fn from_value(v: AttrValue) -> Option<Self>;
}

impl AttrType for usize {
    const KIND: AttrKind = AttrKind::Index;
    fn to_value(&self) -> AttrValue {
        AttrValue::Index(*self)
    }
    fn from_value(v: AttrValue) -> Option<Self> {
        match v {
            AttrValue::Index(i) => Some(i),
            _ => None,
        }
    }
}

impl AttrType for bool {
    const KIND: AttrKind = AttrKind::Bool;
    fn to_value(&self) -> AttrValue {
        AttrValue::Bool(*self)
    }
    fn from_value(v: AttrValue) -> Option<Self> {
        match v {
            AttrValue::Bool(b) => Some(b),
            _ => None,
        }
    }
}

impl AttrType for Vec<usize> {
    const KIND: AttrKind = AttrKind::List;
    fn to_value(&self) -> AttrValue {
        AttrValue::List(self.clone())
    }
    fn from_value(v: AttrValue) -> Option<Self> {
        match v {
            AttrValue::List(l) => Some(l),
            _ => None,
        }
    }
}

impl AttrType for Shape {
    const KIND: AttrKind = AttrKind::List;
    fn to_value(&self) -> AttrValue {
        AttrValue::List(self.dims().to_vec())
    }
    fn from_value(v: AttrValue) -> Option<Self> {
        match v {
            AttrValue::List(l) => Some(Shape::from(l)),
            _ => None,
        }
    }
}

impl AttrType for Scalar {
    const KIND: AttrKind = AttrKind::Scalar;
    fn to_value(&self) -> AttrValue {
        AttrValue::Scalar(*self)
    }
    fn from_value(v: AttrValue) -> Option<Self> {
        match v {
            AttrValue::Scalar(s) => Some(s),
            _ => None,
        }
    }
}
