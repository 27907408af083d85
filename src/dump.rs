//! Debug dumps of pending graphs: readable IR text, Graphviz DOT, the backend's input
//! program and the backend's own listing (modelled on LTC's `DumpUtil::ToText`, `ToDot`
//! and `ToBackend`).
//!
//! Every dump shows the graph that syncing the given tensors would compile or reuse, in
//! the canonical post order the executor uses, so value `%N` in [`ir_text`] and [`dot`] is
//! value `%N` of [`program_text`] (parameters are named `%pN` there). Only
//! [`backend_text`] compiles anything (a throwaway compilation that never runs); none of
//! the dumps runs a computation or changes the tensors.
//!
//! ```
//! use lazyjit::{dump, LazyTensor};
//! let a = LazyTensor::from_vec(vec![1.0f32, 2.0, 3.0, 4.0], &[4])?;
//! let b = a.mul_scalar(0.5f32)?.exp()?;
//! let text = dump::ir_text(&[&b]);
//! assert!(text.starts_with("IR graph "));
//! assert!(text.contains("= mul %0, %1") && text.contains("= exp %2"));
//! assert!(b.is_pending()); // dumping ran nothing
//! # Ok::<(), lazyjit::Error>(())
//! ```

use crate::backend;
use crate::config;
use crate::error::{Error, Hex, Result};
use crate::executor;
use crate::ir::{DataSource, Node, NodeKind};
use crate::tensor::{self, LazyTensor};
use lazyjit_lowering::{DType, Program, Tensor};
use rustc_hash::FxHashMap;
use std::fmt::Write;
use std::sync::Arc;

/// What [`ir_text_with`] shows besides the instructions.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct DumpOptions {
    /// The user source location that created each value (and each root on the `return`
    /// line). Default: on in debug mode ([`crate::Config::debug`] ≥ 1).
    pub locations: bool,
    /// The node hash (op, attributes, type) and DAG hash (whole sub-graph) of every value.
    /// Default: on.
    pub hashes: bool,
}

impl Default for DumpOptions {
    /// Locations in debug mode, hashes always.
    fn default() -> DumpOptions {
        DumpOptions {
            locations: config::get().debug >= 1,
            hashes: true,
        }
    }
}

/// The pending graph of `tensors` as readable IR text, with [`DumpOptions::default`]
/// (source locations only in debug mode).
///
/// One line per value in the canonical post order: inputs first (device data: a tensor,
/// a cached scalar with its value, or a node an earlier sync computed), then one line per
/// instruction in the program text format, then `return` with one value per tensor given.
/// The header names the graph hash ([`crate::graph_hash`]) and counts instructions
/// (`nodes`), inputs and outputs. Tensors that hold no pending IR appear as inputs
/// returned directly; when none is pending the header says `nothing pending`.
///
/// ```
/// use lazyjit::{dump, LazyTensor};
/// let x = LazyTensor::from_vec(vec![1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0], &[2, 3])?;
/// let y = x.add_scalar(2.5f32)?.tanh()?;
/// let text = dump::ir_text(&[&y]);
/// let hash = lazyjit::graph_hash(&[&y]).unwrap();
/// assert!(text.starts_with(&format!("IR graph {hash:016x}: 2 nodes, 2 inputs, 1 output")));
/// assert!(text.contains("%1: f32[] = device_data value=2.5"));
/// assert!(text.contains("%3: f32[2, 3] = tanh %2"));
/// # Ok::<(), lazyjit::Error>(())
/// ```
pub fn ir_text(tensors: &[&LazyTensor]) -> String {
    ir_text_with(tensors, &DumpOptions::default())
}

/// [`ir_text`] with explicit options.
///
/// ```
/// use lazyjit::dump::{ir_text_with, DumpOptions};
/// use lazyjit::LazyTensor;
/// let x = LazyTensor::from_vec(vec![1.0f32, 2.0], &[2])?;
/// let y = x.neg()?;
/// let text = ir_text_with(&[&y], &DumpOptions { locations: true, hashes: false });
/// let neg_call = y.ir_node().location(); // file:line:column of the `neg` call
/// assert!(text.contains(&format!("at {neg_call}")), "{text}");
/// assert!(!text.contains("dag "));
/// # Ok::<(), lazyjit::Error>(())
/// ```
pub fn ir_text_with(tensors: &[&LazyTensor], options: &DumpOptions) -> String {
    let s = Snapshot::take(tensors);
    let np = s.program.params.len();
    let ni = s.program.insts.len();
    let mut out = String::new();
    let computed = match s.extras.len() {
        0 => String::new(),
        1 => "1 tensor already computed".to_string(),
        k => format!("{k} tensors already computed"),
    };
    match s.hash {
        Some(h) => {
            let _ = write!(
                out,
                "IR graph {}: {}, {}, {}",
                Hex(h),
                plural(ni, "node"),
                plural(np, "input"),
                plural(s.program.outputs.len(), "output")
            );
            if !computed.is_empty() {
                let _ = write!(out, "; {computed}");
            }
        }
        None if tensors.is_empty() => out.push_str("IR graph (nothing pending): no tensors"),
        None => {
            let _ = write!(out, "IR graph (nothing pending): {computed}");
        }
    }
    out.push('\n');

    // (code, comment) per line, aligned afterwards.
    let mut lines: Vec<(String, String)> = Vec::with_capacity(s.values.len() + s.extras.len() + 1);
    let inst_lines = instruction_lines(&s.program);
    let roles = s.output_roles();
    for (i, n) in s.values.iter().enumerate() {
        let mut notes = Vec::new();
        if let Some(r) = &roles[i] {
            notes.push(r.clone());
        }
        let code = if i < np {
            notes.insert(0, format!("input {i}: {}", input_kind(n)));
            data_line(i, n)
        } else {
            if options.hashes {
                notes.push(format!("node {}", Hex(n.node_hash)));
            }
            inst_lines[i - np].clone()
        };
        if options.hashes {
            notes.push(format!("dag {}", Hex(n.dag_hash)));
        }
        if options.locations {
            let verb = if i < np { "created at" } else { "at" };
            notes.push(format!("{verb} {}", n.loc));
        }
        lines.push((code, notes.join(" · ")));
    }
    for (k, n) in s.extras.iter().enumerate() {
        let id = np + ni + k;
        let mut notes = Vec::new();
        if let Some(r) = &roles[id] {
            notes.push(r.clone());
        }
        notes.push(format!(
            "{}, already computed: returned directly",
            input_kind(n)
        ));
        if options.hashes {
            notes.push(format!("dag {}", Hex(n.dag_hash)));
        }
        if options.locations {
            notes.push(format!("created at {}", n.loc));
        }
        lines.push((data_line(id, n), notes.join(" · ")));
    }
    let mut ret = String::from("return");
    for (k, v) in s.outputs.iter().enumerate() {
        let _ = write!(ret, "{}%{v}", if k == 0 { " " } else { ", " });
    }
    let ret_note = if options.locations && !s.outputs.is_empty() {
        let locs: Vec<String> = s.output_nodes.iter().map(|n| n.loc.to_string()).collect();
        let label = if locs.len() == 1 { "root" } else { "roots" };
        format!("{label}: {}", locs.join(", "))
    } else {
        String::new()
    };
    lines.push((ret, ret_note));

    // Align comments in one column (capped, so one long line does not push all of them).
    let width = lines
        .iter()
        .filter(|(_, c)| !c.is_empty())
        .map(|(code, _)| code.chars().count())
        .max()
        .unwrap_or(0)
        .min(56);
    for (code, comment) in &lines {
        out.push_str("  ");
        out.push_str(code);
        if !comment.is_empty() {
            let pad = width.saturating_sub(code.chars().count());
            let _ = write!(out, "{:pad$}  # {comment}", "");
        }
        out.push('\n');
    }
    out
}

/// The pending graph of `tensors` in Graphviz DOT (`digraph lazyjit { ... }`).
///
/// One node `vN` per value `%N` (labelled `%N op` and `dtype[shape]`), inputs as boxes
/// (cached scalars rounded, with their value; values computed by an earlier sync dashed),
/// an edge from each operand to its user labelled with the operand position (`i=0`), and
/// the returned values drawn with a double outline (`peripheries=2`) and labelled
/// `root K`. Nodes come in value order and edges in instruction and operand order, so the
/// output is deterministic and diffs well. Render it with `dot -Tsvg`.
///
/// ```
/// use lazyjit::{dump, LazyTensor};
/// let x = LazyTensor::from_vec(vec![1.0f32, 2.0], &[2])?;
/// let y = x.mul(&x)?.sqrt()?;
/// let g = dump::dot(&[&y]);
/// assert!(g.starts_with("digraph lazyjit {") && g.trim_end().ends_with('}'));
/// assert!(g.contains("v0 -> v1 [label=\"i=0\"];") && g.contains("v0 -> v1 [label=\"i=1\"];"));
/// assert!(g.contains("v2 [label=\"%2 sqrt\\nf32[2]\\nroot 0\", peripheries=2];"));
/// # Ok::<(), lazyjit::Error>(())
/// ```
pub fn dot(tensors: &[&LazyTensor]) -> String {
    let s = Snapshot::take(tensors);
    let np = s.program.params.len();
    let ni = s.program.insts.len();
    let roots = s.root_positions();
    let mut out = String::from("digraph lazyjit {\n");
    let title = match s.hash {
        Some(h) => format!(
            "graph {}: {}, {}, {}",
            Hex(h),
            plural(ni, "node"),
            plural(np, "input"),
            plural(s.program.outputs.len(), "output")
        ),
        None => "nothing pending".to_string(),
    };
    let _ = writeln!(out, "  // {title}");
    let _ = writeln!(out, "  label=\"{}\";", escape(&title));
    out.push_str("  labelloc=t;\n  node [fontname=\"monospace\"];\n  edge [fontsize=10];\n");
    let all = s.values.iter().chain(&s.extras).enumerate();
    for (id, n) in all {
        let is_inst = id >= np && id < np + ni;
        let mut label = Vec::new();
        let mut attrs = Vec::new();
        if is_inst {
            let op = &s.program.insts[id - np].op;
            label.push(format!("%{id} {}", lazyjit_lowering::text::op_text(op)));
            label.push(n.ty.to_string());
        } else {
            label.push(format!("%{id} device_data"));
            label.push(n.ty.to_string());
            match (&n.kind, rank0_value(n)) {
                (NodeKind::Data(_, DataSource::Scalar), Some(v)) => {
                    label.push(format!("cached scalar {v}"));
                    attrs.push("shape=box, style=rounded".to_string());
                }
                (NodeKind::Data(..), v) => {
                    if let Some(v) = v {
                        label.push(format!("value {v}"));
                    }
                    attrs.push("shape=box".to_string());
                }
                (NodeKind::Op(_), _) => {
                    label.push(format!("computed ({})", n.name()));
                    attrs.push("shape=box, style=dashed".to_string());
                }
            }
        }
        if let Some(ks) = &roots[id] {
            label.push(format!("root {ks}"));
            attrs.push("peripheries=2".to_string());
        }
        let label: Vec<String> = label.iter().map(|l| escape(l)).collect();
        let _ = write!(out, "  v{id} [label=\"{}\"", label.join("\\n"));
        for a in &attrs {
            let _ = write!(out, ", {a}");
        }
        out.push_str("];\n");
    }
    for (i, inst) in s.program.insts.iter().enumerate() {
        let id = np + i;
        for (k, a) in inst.args.iter().enumerate() {
            let _ = writeln!(out, "  v{} -> v{id} [label=\"i={k}\"];", a.0);
        }
    }
    out.push_str("}\n");
    out
}

/// The program the backend would be given to sync `tensors`, in the lowering crate's text
/// format (parsable with [`crate::lowering::text::parse`]). Parameters are named `%pN`
/// for input `N` of [`ir_text`]; instruction values keep their numbers. When nothing is
/// pending this is the empty program (`return` alone, after a comment).
///
/// ```
/// use lazyjit::{dump, lowering, LazyTensor};
/// let x = LazyTensor::from_vec(vec![1.0f32, 2.0], &[2])?;
/// let y = x.exp()?;
/// let text = dump::program_text(&[&y]);
/// assert_eq!(text, "param %p0: f32[2]\n%1: f32[2] = exp %p0\nreturn %1\n");
/// let p = lowering::text::parse(&text).unwrap();
/// assert_eq!(p.to_string(), text);
/// # Ok::<(), lazyjit::Error>(())
/// ```
pub fn program_text(tensors: &[&LazyTensor]) -> String {
    let s = Snapshot::take(tensors);
    match s.hash {
        Some(_) => s.program.to_string(),
        None => "# nothing pending: syncing these tensors runs no program\nreturn\n".to_string(),
    }
}

/// Saves the pending graph of `tensors` as a runnable program: the program text (as
/// [`program_text`] prints it) at `program_path`, and the current data of its parameters as
/// an `.npz` at `inputs_path`, each array under its parameter's name (`p0`, `p1`, ...), so
/// `lazyjit run PROGRAM --inputs INPUTS.npz` (or [`crate::lowering::codegen::compile`] and
/// [`crate::io::read_npz`]) computes what syncing the tensors would.
///
/// The program returns one value per tensor given, in order (`out0`, `out1`, ... in
/// `lazyjit run`). A tensor that is already computed is returned as a parameter of its own.
/// Runs nothing and changes no tensor. Both files are written atomically.
///
/// Errors: nothing pending ([`Error::Op`]: there is no graph to save; read the tensors
/// instead), or a file that cannot be written ([`Error::File`]).
///
/// ```
/// use lazyjit::{dump, io, lowering, LazyTensor};
/// use lazyjit::lowering::codegen::{compile, CompileOptions};
/// let dir = tempfile::tempdir().unwrap();
/// let (prog, inputs) = (dir.path().join("g.lj"), dir.path().join("g.npz"));
/// let x = LazyTensor::from_vec(vec![1.0f32, 2.0, 3.0, 4.0], &[2, 2])?;
/// let y = x.transpose(0, 1)?.mul_scalar(3.0f32)?.sum(&[1], false)?;
/// dump::save_program(&[&y], &prog, &inputs)?;
///
/// let p = lowering::text::parse(&std::fs::read_to_string(&prog).unwrap()).unwrap();
/// let named = io::read_npz(&inputs)?;
/// assert_eq!(named.len(), p.params.len()); // x, and the scalar 3
/// let args: Vec<&lowering::Tensor> = p.params.iter()
///     .map(|param| &named.iter().find(|(n, _)| *n == param.name).unwrap().1)
///     .collect();
/// let out = compile(&p, &CompileOptions::default()).unwrap().run(&args).unwrap();
/// assert_eq!(out[0].as_slice::<f32>().unwrap(), &y.to_vec::<f32>()?[..]);
///
/// assert!(dump::save_program(&[&y], &prog, &inputs).is_err()); // y is computed now
/// # Ok::<(), lazyjit::Error>(())
/// ```
#[cfg(feature = "npy")]
#[track_caller]
pub fn save_program(
    tensors: &[&LazyTensor],
    program_path: impl AsRef<std::path::Path>,
    inputs_path: impl AsRef<std::path::Path>,
) -> Result<()> {
    let loc = crate::SourceLoc::caller();
    let s = Snapshot::take(tensors);
    if s.hash.is_none() {
        return Err(Error::op(
            "save_program",
            format!(
                "nothing is pending for the {} given: there is no graph to save \
                 (their values can be written with io::write_npy)",
                plural(tensors.len(), "tensor")
            ),
            loc,
        ));
    }
    let program = s.returning_each_tensor();
    let nodes: Vec<&Arc<Node>> = s.values[..s.program.params.len()]
        .iter()
        .chain(&s.extras)
        .collect();
    let mut data = Vec::with_capacity(nodes.len());
    for (param, node) in program.params.iter().zip(nodes) {
        let t = node.data().ok_or_else(|| {
            Error::op(
                "save_program",
                format!(
                    "input %{} ({}) has no data (please report this)",
                    param.name, param.ty
                ),
                loc,
            )
        })?;
        data.push((param.name.as_str(), &**t));
    }
    crate::io::write_bytes(program_path.as_ref(), program.to_string().as_bytes())?;
    crate::io::write_npz(inputs_path, &data)
}

/// What the configured backend ([`crate::Config::backend`]) makes of the pending graph of
/// `tensors`: for Cranelift, the fusion plan, the CLIF of every kernel and the
/// machine-code listing; for the reference backend, the program it interprets. Compiles a
/// throwaway copy at the configured [`crate::Config::opt_level`] (not cached, never run).
///
/// A compile failure is an [`Error::Compile`] naming the graph hash (as in [`ir_text`]
/// and [`crate::graph_hash`]) and the location that created the first root.
///
/// ```
/// use lazyjit::{config, dump, BackendKind, LazyTensor};
/// let x = LazyTensor::from_vec(vec![1.0f32, 2.0], &[2])?;
/// let y = x.exp()?.add(&x)?;
/// let listing = dump::backend_text(&[&y])?; // Cranelift by default
/// assert!(listing.contains("function"));
/// let reference = config::with(|c| c.backend = BackendKind::Reference, || dump::backend_text(&[&y]))?;
/// assert!(reference.contains("= exp %p0"));
/// assert!(y.is_pending());
/// # Ok::<(), lazyjit::Error>(())
/// ```
pub fn backend_text(tensors: &[&LazyTensor]) -> Result<String> {
    let s = Snapshot::take(tensors);
    let cfg = config::get();
    let Some(hash) = s.hash else {
        return Ok(format!(
            "; nothing pending: syncing these tensors compiles nothing ({} backend)\n",
            cfg.backend.name()
        ));
    };
    let text = backend::get_ref(cfg.backend)
        .describe(&s.program, cfg.opt_level)
        .map_err(|source| Error::Compile {
            graph_hash: hash,
            location: s.output_nodes[0].loc,
            source,
        })?;
    Ok(format!(
        "; graph {} on the {} backend (opt level {:?})\n{text}",
        Hex(hash),
        cfg.backend.name(),
        cfg.opt_level
    ))
}

fn plural(n: usize, word: &str) -> String {
    if n == 1 {
        format!("1 {word}")
    } else {
        format!("{n} {word}s")
    }
}

/// Escapes a DOT string literal's contents.
fn escape(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"")
}

/// The value of a rank-0 leaf, printed in its dtype (`0.1` for an f32, not its f64 widening).
fn rank0_value(n: &Node) -> Option<String> {
    let t: &Tensor = n.data()?;
    if t.shape().rank() != 0 {
        return None;
    }
    let s = match t.dtype() {
        DType::F32 => format!("{:?}", t.as_slice::<f32>().ok()?[0]),
        DType::F64 => format!("{:?}", t.as_slice::<f64>().ok()?[0]),
        DType::I32 => format!("{}", t.as_slice::<i32>().ok()?[0]),
        DType::I64 => format!("{}", t.as_slice::<i64>().ok()?[0]),
        DType::Bool => format!("{}", t.as_slice::<bool>().ok()?[0]),
    };
    Some(s)
}

/// What kind of input a leaf is.
fn input_kind(n: &Node) -> String {
    match &n.kind {
        NodeKind::Data(_, DataSource::Tensor) => "tensor".to_string(),
        NodeKind::Data(_, DataSource::Scalar) => "cached scalar".to_string(),
        NodeKind::Op(_) => format!("{} computed by an earlier sync", n.name()),
    }
}

/// `%N: ty = device_data[ value=V]` for a leaf.
fn data_line(id: usize, n: &Node) -> String {
    match rank0_value(n) {
        Some(v) => format!("%{id}: {} = device_data value={v}", n.ty),
        None => format!("%{id}: {} = device_data", n.ty),
    }
}

/// One line per instruction in the program text format, with every value named `%N`
/// (parameters too): the printer's own output, so attributes print exactly as there.
fn instruction_lines(p: &Program) -> Vec<String> {
    let np = p.params.len();
    let mut named = p.clone();
    for (i, param) in named.params.iter_mut().enumerate() {
        param.name = i.to_string();
    }
    let text = named.to_string();
    let lines: Vec<&str> = text.lines().collect();
    if lines.len() == np + p.insts.len() + 1 {
        return lines[np..np + p.insts.len()]
            .iter()
            .map(|l| l.to_string())
            .collect();
    }
    // Not the expected one line per instruction: a minimal form.
    p.insts
        .iter()
        .enumerate()
        .map(|(i, inst)| {
            let args: Vec<String> = inst.args.iter().map(|a| format!("%{}", a.0)).collect();
            format!(
                "%{}: {} = {} {}",
                np + i,
                inst.ty,
                inst.op.name(),
                args.join(", ")
            )
        })
        .collect()
}

/// A consistent view of the pending graph of some tensors.
struct Snapshot {
    /// Graph hash, `None` when nothing is pending.
    hash: Option<u64>,
    /// The program the backend would get (empty when nothing is pending).
    program: Program,
    /// The node of each program value: parameters, then instructions.
    values: Vec<Arc<Node>>,
    /// Tensors given that are computed and not an input of the graph: values numbered
    /// after the program's.
    extras: Vec<Arc<Node>>,
    /// Value id of each tensor given, in order.
    outputs: Vec<usize>,
    /// Node of each tensor given.
    output_nodes: Vec<Arc<Node>>,
}

impl Snapshot {
    fn take(tensors: &[&LazyTensor]) -> Snapshot {
        let (program, values, hash) = match tensor::pending_roots(tensors) {
            Some(roots) => {
                let p = executor::pending_program(&roots);
                (p.program, p.values, Some(p.hash))
            }
            None => (Program::new(), Vec::new(), None),
        };
        let ids: FxHashMap<*const Node, usize> = values
            .iter()
            .enumerate()
            .map(|(i, n)| (Arc::as_ptr(n), i))
            .collect();
        let base = values.len();
        let mut extras: Vec<Arc<Node>> = Vec::new();
        let mut outputs = Vec::with_capacity(tensors.len());
        let mut output_nodes = Vec::with_capacity(tensors.len());
        for t in tensors {
            let n = t.ir_node();
            let id = match ids.get(&Arc::as_ptr(&n)) {
                Some(&id) => id,
                // Already computed and not an input of the graph: returned directly.
                None => match extras.iter().position(|e| Arc::ptr_eq(e, &n)) {
                    Some(k) => base + k,
                    None => {
                        extras.push(n.clone());
                        base + extras.len() - 1
                    }
                },
            };
            outputs.push(id);
            output_nodes.push(n);
        }
        Snapshot {
            hash,
            program,
            values,
            extras,
            outputs,
            output_nodes,
        }
    }

    /// The program with one output per tensor given, in order; tensors outside the graph
    /// (`extras`) become parameters after the graph's, named on from them (`%pN`).
    #[cfg(feature = "npy")]
    fn returning_each_tensor(&self) -> Program {
        use lazyjit_lowering::ValueId;
        let mut p = self.program.clone();
        let np = p.params.len();
        let k = self.extras.len() as u32;
        if k > 0 {
            // Values after the parameters move up by the parameters added.
            let shift = |v: &mut ValueId| {
                if v.index() >= np {
                    v.0 += k;
                }
            };
            for inst in &mut p.insts {
                inst.args.iter_mut().for_each(shift);
            }
            for (i, n) in self.extras.iter().enumerate() {
                p.params.push(lazyjit_lowering::Param {
                    name: format!("p{}", np + i),
                    ty: n.ty.clone(),
                });
            }
        }
        let ni = p.insts.len();
        p.outputs = self
            .outputs
            .iter()
            .map(|&v| {
                // Snapshot numbering: params, instructions, then extras.
                let id = if v < np {
                    v
                } else if v < np + ni {
                    v + k as usize
                } else {
                    np + (v - np - ni)
                };
                ValueId(id as u32)
            })
            .collect();
        p
    }

    /// For each value (program values, then extras): the tensor positions returning it,
    /// formatted `0` or `0, 2`.
    fn root_positions(&self) -> Vec<Option<String>> {
        let mut r: Vec<Option<String>> = vec![None; self.values.len() + self.extras.len()];
        for (k, &v) in self.outputs.iter().enumerate() {
            match &mut r[v] {
                Some(s) => {
                    let _ = write!(s, ", {k}");
                }
                slot => *slot = Some(k.to_string()),
            }
        }
        r
    }

    /// `output K` / `outputs K, L` notes for the IR text.
    fn output_roles(&self) -> Vec<Option<String>> {
        self.root_positions()
            .into_iter()
            .map(|p| {
                p.map(|ks| {
                    if ks.contains(',') {
                        format!("outputs {ks}")
                    } else {
                        format!("output {ks}")
                    }
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use lazyjit_lowering::ValueId;

    #[test]
    fn values_match_the_program_the_executor_builds() {
        let a = LazyTensor::from_vec(vec![1.0f32, 2.0, 3.0], &[3]).unwrap();
        let b = LazyTensor::from_vec(vec![4.0f32, 5.0, 6.0], &[3]).unwrap();
        let s = a.mul(&b).unwrap();
        let (u, v) = (
            s.exp().unwrap().add(&b).unwrap(),
            s.sub(&a).unwrap().neg().unwrap(),
        );
        let w = u.mul_scalar(3.0f32).unwrap();
        let snap = Snapshot::take(&[&w, &v, &u]);
        let p = &snap.program;
        assert_eq!(snap.values.len(), p.num_values());
        for (i, n) in snap.values.iter().enumerate() {
            assert_eq!(&n.ty, p.value_type(ValueId(i as u32)));
        }
        for (i, inst) in p.insts.iter().enumerate() {
            assert_eq!(snap.values[p.params.len() + i].op(), Some(&inst.op));
        }
        assert_eq!(snap.outputs.len(), 3);
        assert!(snap.extras.is_empty());
    }

    #[test]
    fn rank0_values_print_in_their_dtype() {
        let n =
            |t: Tensor| Node::new_data(Arc::new(t), DataSource::Scalar, crate::SourceLoc::caller());
        assert_eq!(
            rank0_value(&n(Tensor::scalar(0.1f32))).as_deref(),
            Some("0.1")
        );
        assert_eq!(
            rank0_value(&n(Tensor::scalar(-3i64))).as_deref(),
            Some("-3")
        );
        assert_eq!(
            rank0_value(&n(Tensor::scalar(true))).as_deref(),
            Some("true")
        );
        let v = Tensor::from_vec(vec![1.0f32, 2.0], vec![2]).unwrap();
        assert_eq!(rank0_value(&n(v)), None);
    }
}
