//! The macros that turn the op declarations of `table.rs` into enums, names, rule classes and
//! attribute schemas. Only the three op families (unary, binary, reduce) are named here.

/// The number of token trees given, as a `usize` constant expression.
macro_rules! count {
    () => { 0usize };
    ($head:tt $($tail:tt)*) => { 1usize + count!($($tail)*) };
}

/// Declares a family of ops that share one operand structure (unary, binary, reduce): the
/// enum, `ALL`, `name`, and each op's operand dtype class, result dtype and cost.
macro_rules! op_family {
    (
        $(#[$meta:meta])*
        $Enum:ident {
            $( $(#[$vmeta:meta])* $V:ident = $name:literal, $dtypes:ident -> $result:ident, $cost:ident; )*
        }
    ) => {
        $(#[$meta])*
        #[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
        pub enum $Enum {
            $( $(#[$vmeta])* $V, )*
        }

        impl $Enum {
            /// Every op of the family, in declaration order.
            pub const ALL: [$Enum; count!($($V)*)] = [$($Enum::$V),*];

            /// The op's name in the text form.
            pub const fn name(self) -> &'static str {
                match self {
                    $($Enum::$V => $name,)*
                }
            }

            /// The operand dtypes the op accepts.
            pub const fn operands(self) -> $crate::op::DTypeClass {
                match self {
                    $($Enum::$V => $crate::op::DTypeClass::$dtypes,)*
                }
            }

            /// The dtype of the result, from the operands' dtype.
            pub const fn result(self) -> $crate::op::ResultDType {
                match self {
                    $($Enum::$V => $crate::op::ResultDType::$result,)*
                }
            }

            /// How the op is computed.
            pub const fn cost(self) -> $crate::op::Cost {
                match self {
                    $($Enum::$V => $crate::op::Cost::$cost,)*
                }
            }

            /// Whether the op accepts operands of dtype `d`.
            pub const fn accepts(self, d: $crate::types::DType) -> bool {
                self.operands().accepts(d)
            }

            /// The result dtype for operands of dtype `d`.
            pub const fn result_dtype(self, d: $crate::types::DType) -> $crate::types::DType {
                self.result().of(d)
            }
        }
    };
}

/// Declares [`Op`](crate::op::Op): the family variants verbatim, then one entry per other op
/// (its variant, fields with their attribute types, text name and operand count). From the
/// entries come the variants, [`OpKind`](crate::op::OpKind) with its
/// `all`/`name`/`from_name`/`arity`/`attrs`/`build`, and `Op::kind`/`Op::attr_values`. The
/// three families (`Unary`, `Binary`, `Reduce`) are handled here once; `Reduce`'s attributes
/// are `axes` and `keepdim`.
///
/// A field marked `#[leading]` is written bare after the op name instead of as `key=value`.
/// A field's doc comments come before the mark. (The mark is matched as the literal
/// `leading`, with an empty `$lead` that only counts it: an `ident` there would be ambiguous
/// with the `doc` of a doc comment.)
macro_rules! structured_ops {
    (
        $(#[$meta:meta])*
        pub enum Op {
            families { $($family:tt)* }
            $(
                $(#[$vmeta:meta])*
                $V:ident $({ $($(#[doc = $fdoc:literal])* $(#[leading $($lead:tt)?])? $f:ident : $fty:ty),* $(,)? })?
                    = $name:literal, operands $arity:ident($n:literal);
            )*
        }
    ) => {
        $(#[$meta])*
        #[derive(Clone, Debug, PartialEq, Eq, Hash)]
        pub enum Op {
            $($family)*
            $( $(#[$vmeta])* $V $({ $($(#[doc = $fdoc])* $f: $fty),* })?, )*
        }

        /// Every op of the program format as the text form names it, without attributes:
        /// what the parser looks up by name and what [`Op::kind`] gives.
        #[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
        pub enum OpKind {
            /// An op of the unary family.
            Unary($crate::op::UnaryOp),
            /// An op of the binary family.
            Binary($crate::op::BinaryOp),
            /// A reduction (its axes and `keepdim` are attributes).
            Reduce($crate::op::ReduceOp),
            $( $(#[$vmeta])* $V, )*
        }

        impl OpKind {
            const STRUCTURED: [OpKind; count!($($V)*)] = [$(OpKind::$V),*];

            /// Every op kind: the unary, binary and reduce families, then the others, in
            /// declaration order.
            pub fn all() -> impl Iterator<Item = OpKind> {
                $crate::op::UnaryOp::ALL
                    .into_iter()
                    .map(OpKind::Unary)
                    .chain($crate::op::BinaryOp::ALL.into_iter().map(OpKind::Binary))
                    .chain($crate::op::ReduceOp::ALL.into_iter().map(OpKind::Reduce))
                    .chain(OpKind::STRUCTURED)
            }

            /// The name in the text form.
            pub const fn name(self) -> &'static str {
                match self {
                    OpKind::Unary(u) => u.name(),
                    OpKind::Binary(b) => b.name(),
                    OpKind::Reduce(r) => r.name(),
                    $(OpKind::$V => $name,)*
                }
            }

            /// The kind named `name` in the text form.
            pub fn from_name(name: &str) -> Option<OpKind> {
                OpKind::all().find(|k| k.name() == name)
            }

            /// How many operands the op takes.
            pub const fn arity(self) -> $crate::op::Arity {
                match self {
                    OpKind::Unary(_) => $crate::op::Arity::Exactly(1),
                    OpKind::Binary(_) => $crate::op::Arity::Exactly(2),
                    OpKind::Reduce(_) => $crate::op::Arity::Exactly(1),
                    $(OpKind::$V => $crate::op::Arity::$arity($n),)*
                }
            }

            /// The op's attributes, in the order the text form writes them.
            pub const fn attrs(self) -> &'static [$crate::op::AttrSpec] {
                use $crate::op::{AttrSpec, AttrType};
                match self {
                    OpKind::Unary(_) | OpKind::Binary(_) => &[],
                    OpKind::Reduce(_) => {
                        const SPEC: &[AttrSpec] = &[
                            AttrSpec { name: "axes", kind: <Vec<usize> as AttrType>::KIND, leading: false },
                            AttrSpec { name: "keepdim", kind: <bool as AttrType>::KIND, leading: false },
                        ];
                        SPEC
                    }
                    $(OpKind::$V => {
                        const SPEC: &[AttrSpec] = &[$($(AttrSpec {
                            name: stringify!($f),
                            kind: <$fty as AttrType>::KIND,
                            leading: <[&str]>::len(&[$(stringify!(leading $($lead)?))?]) == 1,
                        },)*)?];
                        SPEC
                    })*
                }
            }

            /// The op of this kind with attribute values `vals` (one per [`OpKind::attrs`]
            /// entry, in order); `None` if their number or kinds do not match.
            pub fn build(self, vals: Vec<$crate::op::AttrValue>) -> Option<Op> {
                #[allow(unused_imports)]
                use $crate::op::AttrType;
                if vals.len() != self.attrs().len() {
                    return None;
                }
                #[allow(unused_mut, unused_variables)]
                let mut it = vals.into_iter();
                Some(match self {
                    OpKind::Unary(u) => Op::Unary(u),
                    OpKind::Binary(b) => Op::Binary(b),
                    OpKind::Reduce(op) => Op::Reduce {
                        op,
                        axes: AttrType::from_value(it.next()?)?,
                        keepdim: AttrType::from_value(it.next()?)?,
                    },
                    $(OpKind::$V => Op::$V {
                        $($($f: <$fty as AttrType>::from_value(it.next()?)?,)*)?
                    },)*
                })
            }
        }

        impl Op {
            /// The op's kind: its name-level identity, without attributes.
            pub const fn kind(&self) -> OpKind {
                match self {
                    Op::Unary(u) => OpKind::Unary(*u),
                    Op::Binary(b) => OpKind::Binary(*b),
                    Op::Reduce { op, .. } => OpKind::Reduce(*op),
                    $(Op::$V { .. } => OpKind::$V,)*
                }
            }

            /// The op's attribute values in [`OpKind::attrs`] order.
            pub fn attr_values(&self) -> Vec<$crate::op::AttrValue> {
                #[allow(unused_imports)]
                use $crate::op::AttrType;
                match self {
                    Op::Unary(_) | Op::Binary(_) => Vec::new(),
                    Op::Reduce { axes, keepdim, .. } => vec![axes.to_value(), keepdim.to_value()],
                    $(Op::$V { $($($f,)*)? } => vec![$($($f.to_value(),)*)?],)*
                }
            }
        }
    };
}
