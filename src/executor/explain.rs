//! Recompile explanations: on a cache miss, what differs from the cached graph that the
//! same call sites built before.

use crate::error::{Hex, SourceLoc};
use lazyjit_lowering::{DType, Op, Program, Scalar, Shape};
use std::fmt;
use std::time::Duration;

/// One way a newly traced graph differs from the cached graph built at the same call sites.
/// Values are numbered as in the program text: parameters first, then instructions.
#[derive(Clone, Debug, PartialEq)]
pub enum Difference {
    /// The graph takes a different number of inputs (device-data tensors and scalars).
    InputCount {
        /// Inputs of the cached graph.
        before: usize,
        /// Inputs of the new graph.
        now: usize,
    },
    /// An input has a different shape.
    InputShape {
        /// Position of the input among the graph's inputs (from 0).
        input: usize,
        /// Its shape in the cached graph.
        before: Shape,
        /// Its shape in the new graph.
        now: Shape,
        /// Where the new graph's input tensor was created.
        location: SourceLoc,
    },
    /// An input has a different dtype.
    InputDType {
        /// Position of the input among the graph's inputs (from 0).
        input: usize,
        /// Its dtype in the cached graph.
        before: DType,
        /// Its dtype in the new graph.
        now: DType,
        /// Where the new graph's input tensor was created.
        location: SourceLoc,
    },
    /// A different op (or different attributes: axes, shapes, ...) at the same position.
    Op {
        /// The value (`%n`) in the new graph.
        value: u32,
        /// The cached graph's op with its attributes, in the text form.
        before: String,
        /// The new graph's op with its attributes, in the text form.
        now: String,
        /// Where the new graph's op at this position was called.
        location: SourceLoc,
    },
    /// An inlined scalar constant changed value (with special scalars on, 0 and 1 are
    /// constants: moving to or from them recompiles).
    InlinedScalar {
        /// The value (`%n`) in the new graph.
        value: u32,
        /// The constant in the cached graph.
        before: Scalar,
        /// The constant in the new graph.
        now: Scalar,
        /// Where the new graph's op at this position was called.
        location: SourceLoc,
    },
    /// Scalars from Rust numbers moved between being inlined (the special values 0 and 1)
    /// and being parameters: the rank-0 constants of each graph, in order.
    ScalarInlining {
        /// The cached graph's rank-0 constants, in order.
        inlined_before: Vec<Scalar>,
        /// The new graph's rank-0 constants, in order.
        inlined_now: Vec<Scalar>,
    },
    /// Same op, different result shape.
    Shape {
        /// The value (`%n`) in the new graph.
        value: u32,
        /// The op's text name.
        op: &'static str,
        /// The result shape in the cached graph.
        before: Shape,
        /// The result shape in the new graph.
        now: Shape,
        /// Where the new graph's op at this position was called.
        location: SourceLoc,
    },
    /// Same op, different result dtype.
    DType {
        /// The value (`%n`) in the new graph.
        value: u32,
        /// The op's text name.
        op: &'static str,
        /// The result dtype in the cached graph.
        before: DType,
        /// The result dtype in the new graph.
        now: DType,
        /// Where the new graph's op at this position was called.
        location: SourceLoc,
    },
    /// Same op, operands wired differently: for example one tensor used twice where two
    /// different tensors were used before.
    Operands {
        /// The value (`%n`) in the new graph.
        value: u32,
        /// The op's text name.
        op: &'static str,
        /// The operands' values in the cached graph (its own numbering).
        before: Vec<u32>,
        /// The operands' values in the new graph.
        now: Vec<u32>,
        /// Where the new graph's op at this position was called.
        location: SourceLoc,
    },
    /// The graph has a different number of instructions (after the differences above).
    InstructionCount {
        /// Instructions of the cached graph.
        before: usize,
        /// Instructions of the new graph.
        now: usize,
    },
    /// Different outputs (more or fewer synced tensors, or different values returned).
    Outputs {
        /// The cached graph's output values, in order.
        before: Vec<u32>,
        /// The new graph's output values, in order.
        now: Vec<u32>,
    },
}

/// Why a sync compiled instead of hitting the cache, and what the compile cost. Its `Debug`
/// prints the hashes in hex.
#[derive(Clone, PartialEq)]
pub struct RecompileExplanation {
    /// Hash of the graph that was compiled.
    pub graph_hash: u64,
    /// Hash of the cached graph from the same call sites it was compared with.
    pub previous_hash: u64,
    /// Call sites of the synced tensors (the roots).
    pub roots: Vec<SourceLoc>,
    /// What differs (at most eight, first positions first).
    pub differences: Vec<Difference>,
    /// Differences found beyond those listed.
    pub more: usize,
    /// Time the compile took.
    pub compile_time: Duration,
}

impl fmt::Debug for RecompileExplanation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RecompileExplanation")
            .field("graph_hash", &Hex(self.graph_hash))
            .field("previous_hash", &Hex(self.previous_hash))
            .field("roots", &self.roots)
            .field("differences", &self.differences)
            .field("more", &self.more)
            .field("compile_time", &self.compile_time)
            .finish()
    }
}

/// Differences kept per explanation (a changed input shape changes every value after it).
pub const MAX_DIFFERENCES: usize = 8;

/// Compares two programs position by position. `locs` gives the source location of each
/// value of `now`.
pub(crate) fn diff(
    before: &Program,
    now: &Program,
    locs: &[SourceLoc],
) -> (Vec<Difference>, usize) {
    let mut out = Vec::new();
    let scalars = |p: &Program| -> Vec<Scalar> {
        p.insts
            .iter()
            .filter_map(|i| match i.op {
                Op::Constant { value } if i.ty.shape.rank() == 0 => Some(value),
                _ => None,
            })
            .collect()
    };
    let (sb, sn) = (scalars(before), scalars(now));
    if sb.len() != sn.len() {
        out.push(Difference::ScalarInlining {
            inlined_before: sb,
            inlined_now: sn,
        });
    }
    let loc = |v: usize| locs.get(v).copied().unwrap_or_else(SourceLoc::caller);
    if before.params.len() != now.params.len() {
        out.push(Difference::InputCount {
            before: before.params.len(),
            now: now.params.len(),
        });
    }
    for (i, (b, n)) in before.params.iter().zip(&now.params).enumerate() {
        if b.ty.shape != n.ty.shape {
            out.push(Difference::InputShape {
                input: i,
                before: b.ty.shape.clone(),
                now: n.ty.shape.clone(),
                location: loc(i),
            });
        }
        if b.ty.dtype != n.ty.dtype {
            out.push(Difference::InputDType {
                input: i,
                before: b.ty.dtype,
                now: n.ty.dtype,
                location: loc(i),
            });
        }
    }
    let (bp, np) = (before.params.len(), now.params.len());
    for (i, (b, n)) in before.insts.iter().zip(&now.insts).enumerate() {
        let value = (np + i) as u32;
        let location = loc(np + i);
        match (&b.op, &n.op) {
            (Op::Constant { value: x }, Op::Constant { value: y }) if x != y => {
                out.push(Difference::InlinedScalar {
                    value,
                    before: *x,
                    now: *y,
                    location,
                });
                continue;
            }
            (x, y) if x != y => {
                out.push(Difference::Op {
                    value,
                    before: lazyjit_lowering::text::op_text(x),
                    now: lazyjit_lowering::text::op_text(y),
                    location,
                });
                continue;
            }
            _ => {}
        }
        let op = n.op.name();
        if b.ty.shape != n.ty.shape {
            out.push(Difference::Shape {
                value,
                op,
                before: b.ty.shape.clone(),
                now: n.ty.shape.clone(),
                location,
            });
        }
        if b.ty.dtype != n.ty.dtype {
            out.push(Difference::DType {
                value,
                op,
                before: b.ty.dtype,
                now: n.ty.dtype,
                location,
            });
        }
        // Compare wiring relative to each program's own numbering.
        let rel = |args: &[lazyjit_lowering::ValueId], np: usize| -> Vec<i64> {
            args.iter().map(|a| a.0 as i64 - np as i64).collect()
        };
        if rel(&b.args, bp) != rel(&n.args, np) {
            out.push(Difference::Operands {
                value,
                op,
                before: b.args.iter().map(|a| a.0).collect(),
                now: n.args.iter().map(|a| a.0).collect(),
                location,
            });
        }
    }
    if before.insts.len() != now.insts.len() {
        out.push(Difference::InstructionCount {
            before: before.insts.len(),
            now: now.insts.len(),
        });
    }
    let bo: Vec<u32> = before.outputs.iter().map(|v| v.0).collect();
    let no: Vec<u32> = now.outputs.iter().map(|v| v.0).collect();
    // With different instruction or input counts, output ids shift anyway.
    let shifted = before.insts.len() != now.insts.len() || bp != np;
    if bo.len() != no.len()
        || bo
            .iter()
            .zip(&no)
            .any(|(x, y)| (*x as i64 - bp as i64) != (*y as i64 - np as i64))
            && !shifted
    {
        out.push(Difference::Outputs {
            before: bo,
            now: no,
        });
    }
    let more = out.len().saturating_sub(MAX_DIFFERENCES);
    out.truncate(MAX_DIFFERENCES);
    (out, more)
}

impl fmt::Display for Difference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Difference::InputCount { before, now } => {
                write!(f, "number of inputs: {before} before, {now} now")
            }
            Difference::InputShape {
                input,
                before,
                now,
                location,
            } => write!(
                f,
                "input {input} (created at {location}): shape {before} before, {now} now"
            ),
            Difference::InputDType {
                input,
                before,
                now,
                location,
            } => write!(
                f,
                "input {input} (created at {location}): dtype {before} before, {now} now"
            ),
            Difference::Op {
                value,
                before,
                now,
                location,
            } => write!(f, "%{value} at {location}: `{before}` before, `{now}` now"),
            Difference::InlinedScalar {
                value,
                before,
                now,
                location,
            } => write!(
                f,
                "%{value} at {location}: inlined scalar {before} before, {now} now \
                 (0 and 1 are inlined; set special_scalars off to pass them as parameters)"
            ),
            Difference::Shape {
                value,
                op,
                before,
                now,
                location,
            } => write!(
                f,
                "%{value} = {op} at {location}: shape {before} before, {now} now"
            ),
            Difference::DType {
                value,
                op,
                before,
                now,
                location,
            } => write!(
                f,
                "%{value} = {op} at {location}: dtype {before} before, {now} now"
            ),
            Difference::Operands {
                value,
                op,
                before,
                now,
                location,
            } => write!(
                f,
                "%{value} = {op} at {location}: operands {} before, {} now",
                ids(before),
                ids(now)
            ),
            Difference::ScalarInlining {
                inlined_before,
                inlined_now,
            } => write!(
                f,
                "inlined scalars {} before, {} now (0 and 1 are inlined as constants, other \
                 values are parameters; turn special_scalars off to make them all parameters)",
                scalars(inlined_before),
                scalars(inlined_now)
            ),
            Difference::InstructionCount { before, now } => {
                write!(f, "graph size: {before} nodes before, {now} now")
            }
            Difference::Outputs { before, now } => {
                write!(f, "outputs: {} before, {} now", ids(before), ids(now))
            }
        }
    }
}

fn scalars(v: &[Scalar]) -> String {
    let s: Vec<String> = v.iter().map(|x| x.to_string()).collect();
    format!("[{}]", s.join(", "))
}

fn ids(v: &[u32]) -> String {
    let s: Vec<String> = v.iter().map(|x| format!("%{x}")).collect();
    format!("({})", s.join(", "))
}

impl fmt::Display for RecompileExplanation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let roots: Vec<String> = self.roots.iter().map(|l| l.to_string()).collect();
        write!(
            f,
            "recompiled graph {} (compile {:.3} ms) instead of cached {} from the same call sites [{}]:",
            Hex(self.graph_hash),
            self.compile_time.as_secs_f64() * 1e3,
            Hex(self.previous_hash),
            roots.join(", ")
        )?;
        for d in &self.differences {
            write!(f, "\n  - {d}")?;
        }
        if self.more > 0 {
            write!(f, "\n  - ... and {} more", self.more)?;
        }
        Ok(())
    }
}
