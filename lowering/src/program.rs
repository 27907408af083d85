//! Post-ordered programs: the contract between the graph executor and the backend.
//!
//! Values are numbered in one space: parameters first (`0..params.len()`), then one value per
//! instruction in order. An instruction may only use values defined before it, so the
//! instruction list is a post order of the DAG.

use crate::op::Op;
use crate::types::TensorType;
use std::fmt;

/// Index of a value (parameter or instruction result) in a [`Program`].
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ValueId(pub u32);

impl ValueId {
    /// The value's position in the program's value space (parameters first, then instructions).
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

impl fmt::Display for ValueId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "%{}", self.0)
    }
}

/// A program input: a device-data leaf, in the order the caller passes buffers.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Param {
    /// Name in the text form (an identifier; not `%` followed by digits only).
    pub name: String,
    /// Type of the buffer the caller passes for this parameter.
    pub ty: TensorType,
}

/// One instruction: an op applied to earlier values, with its declared result type.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Inst {
    /// The op and its attributes.
    pub op: Op,
    /// Operands, each defined earlier (a parameter or an earlier instruction's result).
    pub args: Vec<ValueId>,
    /// Declared result type (checked against the op's shape and dtype rule by the verifier).
    pub ty: TensorType,
}

/// Where a verifier or parser finding points: 1-based line and column in the text form
/// when the program came from text.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, Default)]
pub struct Loc {
    /// Line, from 1.
    pub line: u32,
    /// Column, from 1.
    pub col: u32,
}

/// A post-ordered program. Equality and hashing ignore `locs`.
#[derive(Clone, Debug, Default)]
pub struct Program {
    /// Inputs, in the order the caller passes their buffers; value ids `0..params.len()`.
    pub params: Vec<Param>,
    /// Instructions in post order; instruction `i` defines value `params.len() + i`.
    pub insts: Vec<Inst>,
    /// Values returned, in order (may repeat, may name parameters).
    pub outputs: Vec<ValueId>,
    /// Source locations of instructions (parallel to `insts`) when parsed from text; empty
    /// otherwise. Not part of equality-relevant content for users, but kept for messages.
    pub locs: Vec<Loc>,
}

impl PartialEq for Program {
    fn eq(&self, o: &Program) -> bool {
        self.params == o.params && self.insts == o.insts && self.outputs == o.outputs
    }
}

impl Eq for Program {}

impl std::hash::Hash for Program {
    fn hash<H: std::hash::Hasher>(&self, h: &mut H) {
        self.params.hash(h);
        self.insts.hash(h);
        self.outputs.hash(h);
    }
}

/// One rule violation found by [`Program::verify`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Violation {
    /// The value whose definition (or the output list, when `None`) breaks a rule.
    pub value: Option<ValueId>,
    /// Location of the offending instruction in the text form, when known.
    pub loc: Option<Loc>,
    /// What is wrong, without the location or value prefix (`Display` adds them).
    pub message: String,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(l) = self.loc {
            write!(f, "{}:{}: ", l.line, l.col)?;
        }
        match self.value {
            Some(v) => write!(f, "{v}: {}", self.message),
            None => f.write_str(&self.message),
        }
    }
}

impl Program {
    /// An empty program: no parameters, instructions or outputs.
    pub fn new() -> Program {
        Program::default()
    }

    /// Adds a parameter and returns its value.
    pub fn param(&mut self, name: impl Into<String>, ty: TensorType) -> ValueId {
        assert!(
            self.insts.is_empty(),
            "parameters must be added before instructions"
        );
        self.params.push(Param {
            name: name.into(),
            ty,
        });
        ValueId(self.params.len() as u32 - 1)
    }

    /// Appends an instruction, inferring its result type. `Cast`, `Constant` and `Iota`
    /// need [`Program::push_typed`] because their result type is not implied by operands.
    pub fn push(&mut self, op: Op, args: &[ValueId]) -> Result<ValueId, String> {
        let placeholder = TensorType::new(crate::DType::F32, crate::Shape::scalar());
        self.push_typed(op, args, placeholder)
    }

    /// Appends an instruction whose declared type is `declared` (used by `Cast`, `Constant`,
    /// `Iota`; for other ops the inferred type replaces it). Checks the op's rules.
    pub fn push_typed(
        &mut self,
        op: Op,
        args: &[ValueId],
        declared: TensorType,
    ) -> Result<ValueId, String> {
        let n = self.num_values();
        let mut tys = Vec::with_capacity(args.len());
        for a in args {
            if a.index() >= n {
                return Err(format!("{}: operand {a} is not defined yet", op.name()));
            }
            tys.push(self.value_type(*a));
        }
        let ty = op.infer(&tys, &declared)?;
        self.insts.push(Inst {
            op,
            args: args.to_vec(),
            ty,
        });
        Ok(ValueId(n as u32))
    }

    /// Marks a value as an output.
    pub fn output(&mut self, v: ValueId) {
        self.outputs.push(v);
    }

    /// Number of values defined: parameters plus instructions.
    pub fn num_values(&self) -> usize {
        self.params.len() + self.insts.len()
    }

    /// The type of a value. Panics if `v` is out of range (use on verified programs).
    pub fn value_type(&self, v: ValueId) -> &TensorType {
        let i = v.index();
        if i < self.params.len() {
            &self.params[i].ty
        } else {
            &self.insts[i - self.params.len()].ty
        }
    }

    /// The instruction defining `v`, or `None` for a parameter.
    pub fn inst(&self, v: ValueId) -> Option<&Inst> {
        v.index()
            .checked_sub(self.params.len())
            .and_then(|i| self.insts.get(i))
    }

    /// The value defined by instruction `i`.
    pub fn inst_value(&self, i: usize) -> ValueId {
        ValueId((self.params.len() + i) as u32)
    }

    fn loc_of(&self, inst: usize) -> Option<Loc> {
        self.locs.get(inst).copied()
    }

    /// Checks every rule (operands defined before use, op arity, attributes, shape and dtype
    /// rules, declared result types, outputs) and returns every violation found. Never panics.
    pub fn verify(&self) -> Result<(), Vec<Violation>> {
        let mut errs = Vec::new();
        let np = self.params.len();
        let mut names = std::collections::HashSet::new();
        for (i, p) in self.params.iter().enumerate() {
            if !is_param_name(&p.name) {
                errs.push(Violation {
                    value: Some(ValueId(i as u32)),
                    loc: None,
                    message: format!(
                        "parameter name {:?} is not an identifier ([A-Za-z_][A-Za-z0-9_.]*)",
                        p.name
                    ),
                });
            } else if !names.insert(p.name.as_str()) {
                errs.push(Violation {
                    value: Some(ValueId(i as u32)),
                    loc: None,
                    message: format!("parameter name {:?} is used twice", p.name),
                });
            }
            if let Err(m) = p.ty.check_limit() {
                errs.push(Violation {
                    value: Some(ValueId(i as u32)),
                    loc: None,
                    message: format!("parameter {}: {m}", p.name),
                });
            }
        }
        for (i, inst) in self.insts.iter().enumerate() {
            let v = ValueId((np + i) as u32);
            let loc = self.loc_of(i);
            let mut tys = Vec::with_capacity(inst.args.len());
            let mut bad_operand = false;
            for a in &inst.args {
                if a.index() >= np + i {
                    errs.push(Violation {
                        value: Some(v),
                        loc,
                        message: format!(
                            "{} uses {a}, which is not defined before it (post order)",
                            inst.op.name()
                        ),
                    });
                    bad_operand = true;
                } else {
                    tys.push(self.value_type(*a));
                }
            }
            if bad_operand {
                continue;
            }
            match inst.op.infer(&tys, &inst.ty) {
                Ok(t) if t == inst.ty => {}
                Ok(t) => errs.push(Violation {
                    value: Some(v),
                    loc,
                    message: format!(
                        "{} declares result {} but its operands give {t}",
                        inst.op.name(),
                        inst.ty
                    ),
                }),
                Err(m) => {
                    let shapes = tys
                        .iter()
                        .map(|t| t.to_string())
                        .collect::<Vec<_>>()
                        .join(", ");
                    errs.push(Violation {
                        value: Some(v),
                        loc,
                        message: format!("{m} (operands: {shapes})"),
                    })
                }
            }
        }
        let n = self.num_values();
        for o in &self.outputs {
            if o.index() >= n {
                errs.push(Violation {
                    value: None,
                    loc: None,
                    message: format!("output {o} is not a value of the program ({n} values)"),
                });
            }
        }
        if errs.is_empty() {
            Ok(())
        } else {
            Err(errs)
        }
    }

    /// How many times each value is used as an operand (outputs not counted).
    pub fn use_counts(&self) -> Vec<u32> {
        let mut c = vec![0u32; self.num_values()];
        for inst in &self.insts {
            for a in &inst.args {
                c[a.index()] += 1;
            }
        }
        c
    }
}

/// Whether `s` is a valid parameter name: `[A-Za-z_][A-Za-z0-9_.]*`.
pub fn is_param_name(s: &str) -> bool {
    let mut c = s.chars();
    matches!(c.next(), Some(ch) if ch.is_ascii_alphabetic() || ch == '_')
        && c.all(|ch| ch.is_ascii_alphanumeric() || ch == '_' || ch == '.')
}
