//! The generator's steps: what each [`StepKind`] appends to the program, given the numbers
//! of a [`StepSpec`].

use super::{permutations, random_factorisation, Builder, StepKind, StepSpec};
use crate::testing::inputs::{reduce, tt};
use crate::testing::ops::{binary_ops_for, transcendental_ops, unary_ops_for};
use crate::testing::rng::Rng;
use crate::{BinaryOp, DType, Op, ReduceOp, Scalar, Shape, TensorType, UnaryOp, ValueId};

impl Builder {
    /// An index tensor of `shape` (dtype i32 or i64 by `sel`) whose values are in `0..n`:
    /// an iota plus, when one broadcasts, an integer value of the program, clamped with
    /// max/min — so the indices are data-dependent but always valid.
    pub fn index_tensor(&mut self, shape: &[usize], n: usize, sel: u16) -> Option<ValueId> {
        let id = if sel & 1 == 0 { DType::I32 } else { DType::I64 };
        let axis = (sel as usize >> 1) % shape.len().max(1);
        let base = if shape.is_empty() {
            self.add(
                Op::Constant {
                    value: Scalar::Int(sel as i64 % n as i64),
                },
                &[],
                Some(tt(id, &[])),
            )?
        } else {
            self.add(Op::Iota { axis }, &[], Some(tt(id, shape)))?
        };
        let target = Shape::new(shape.to_vec());
        let other = self.find(sel >> 3, |v| {
            self.ty(v).dtype.is_int()
                && crate::op::broadcast_shapes(&[&self.ty(v).shape, &target])
                    .is_ok_and(|s| s == target)
        });
        let mut x = base;
        if let Some(o) = other {
            let o = if self.ty(o).dtype == id {
                o
            } else {
                let s = self.ty(o).shape.clone();
                self.add(Op::Cast, &[o], Some(TensorType::new(id, s)))?
            };
            x = self.add(Op::Binary(BinaryOp::Add), &[x, o], None)?;
        }
        let zero = self.add(
            Op::Constant {
                value: Scalar::Int(0),
            },
            &[],
            Some(tt(id, &[])),
        )?;
        let top = self.add(
            Op::Constant {
                value: Scalar::Int(n as i64 - 1),
            },
            &[],
            Some(tt(id, &[])),
        )?;
        let x = self.add(Op::Binary(BinaryOp::Max), &[x, zero], None)?;
        self.add(Op::Binary(BinaryOp::Min), &[x, top], None)
    }

    /// Interprets one step; `None` when the chosen op does not apply (the caller retries with
    /// other numbers).
    pub fn step(&mut self, s: &StepSpec) -> Option<ValueId> {
        let a = self.pick(s.x);
        let at = self.ty(a).clone();
        let rank = at.shape.rank();
        let dims = at.shape.dims().to_vec();
        let mut rng = Rng::new(((s.y as u64) << 32) ^ ((s.z as u64) << 16) ^ s.w as u64);
        match StepKind::of(s.kind) {
            StepKind::Unary => {
                let ops = unary_ops_for(at.dtype);
                let u = ops[s.y as usize % ops.len()];
                self.add(Op::Unary(u), &[a], None)
            }
            StepKind::Binary => {
                let ops = binary_ops_for(at.dtype);
                let bop = ops[s.y as usize % ops.len()];
                let b = self.find(s.z, |v| {
                    let t = self.ty(v);
                    (t.dtype == at.dtype || (t.dtype.is_numeric() == at.dtype.is_numeric()))
                        && crate::op::broadcast_shapes(&[&t.shape, &at.shape]).is_ok()
                })?;
                let b = if self.ty(b).dtype == at.dtype {
                    b
                } else {
                    let sh = self.ty(b).shape.clone();
                    self.add(Op::Cast, &[b], Some(TensorType::new(at.dtype, sh)))?
                };
                let (l, r) = if s.w & 1 == 0 { (a, b) } else { (b, a) };
                self.add(Op::Binary(bop), &[l, r], None)
            }
            StepKind::Where => {
                let c = self.find(s.y, |v| {
                    self.ty(v).dtype == DType::Bool
                        && crate::op::broadcast_shapes(&[&self.ty(v).shape, &at.shape]).is_ok()
                })?;
                let b = self.find(s.z, |v| {
                    self.ty(v).dtype == at.dtype
                        && crate::op::broadcast_shapes(&[
                            &self.ty(v).shape,
                            &at.shape,
                            &self.ty(c).shape,
                        ])
                        .is_ok()
                })?;
                let (l, r) = if s.w & 1 == 0 { (a, b) } else { (b, a) };
                self.add(Op::Where, &[c, l, r], None)
            }
            StepKind::Cast => {
                let to = DType::ALL[s.y as usize % DType::ALL.len()];
                self.add(Op::Cast, &[a], Some(TensorType::new(to, at.shape.clone())))
            }
            StepKind::Constant => {
                let d = DType::ALL[s.y as usize % DType::ALL.len()];
                let value = match d {
                    DType::Bool => Scalar::Bool(s.z & 1 == 1),
                    DType::F32 | DType::F64 if s.w.is_multiple_of(3) => {
                        Scalar::Float(rng.pick(&[0.5, -0.0, 2.5, f64::NAN, f64::INFINITY, 1e-3]))
                    }
                    _ => Scalar::Int(s.z as i64 % 7 - 3),
                };
                let shape = if s.w & 4 == 0 {
                    Vec::new()
                } else {
                    dims.clone()
                };
                let c = self.add(Op::Constant { value }, &[], Some(tt(d, &shape)))?;
                if d == at.dtype && d.is_numeric() {
                    self.add(Op::Binary(BinaryOp::Add), &[a, c], None)
                } else {
                    Some(c)
                }
            }
            StepKind::Iota => {
                if rank == 0 {
                    return None;
                }
                let d = [DType::F32, DType::I32, DType::I64, DType::F64][s.y as usize % 4];
                let axis = s.z as usize % rank;
                let i = self.add(Op::Iota { axis }, &[], Some(tt(d, &dims)))?;
                if d == at.dtype {
                    self.add(Op::Binary(BinaryOp::Mul), &[a, i], None)
                } else {
                    Some(i)
                }
            }
            StepKind::Reduce => {
                let op = ReduceOp::ALL[s.y as usize % ReduceOp::ALL.len()];
                let keepdim = s.w & 1 == 1;
                let axes: Vec<usize> = if op.is_arg() {
                    if rank == 0 {
                        return None;
                    }
                    vec![s.z as usize % rank]
                } else {
                    (0..rank).filter(|&ax| s.z >> ax & 1 == 1).collect()
                };
                self.add(reduce(op, &axes, keepdim), &[a], None)
            }
            StepKind::Reshape => {
                let n = at.shape.numel();
                let shape = random_factorisation(n, &mut rng);
                self.add(
                    Op::Reshape {
                        shape: Shape::new(shape),
                    },
                    &[a],
                    None,
                )
            }
            StepKind::Permute => {
                let perms = permutations(rank);
                let perm = perms[s.y as usize % perms.len()].clone();
                self.add(Op::Permute { perm }, &[a], None)
            }
            StepKind::Expand => {
                let mut shape: Vec<usize> = dims
                    .iter()
                    .map(|&d| if d == 1 { rng.pick(&[1, 2, 3, 5]) } else { d })
                    .collect();
                if s.w & 1 == 1 || rank == 0 {
                    shape.insert(0, rng.pick(&[1, 2, 3, 4]));
                }
                self.add(
                    Op::Expand {
                        shape: Shape::new(shape),
                    },
                    &[a],
                    None,
                )
            }
            StepKind::Slice => {
                let mut starts = Vec::new();
                let mut stops = Vec::new();
                let mut steps = Vec::new();
                for &d in &dims {
                    // Saturating: the fuzz target's base shapes have huge dims.
                    let start = rng.below(d.saturating_add(1)).min(d / 2 + 1).min(d);
                    let stop = start.saturating_add(
                        rng.below((d - start).saturating_add(1))
                            .max((d - start) / 2),
                    );
                    starts.push(start);
                    stops.push(stop.min(d));
                    steps.push(1 + rng.below(3));
                }
                self.add(
                    Op::Slice {
                        starts,
                        stops,
                        steps,
                    },
                    &[a],
                    None,
                )
            }
            StepKind::Concat => {
                if rank == 0 {
                    return None;
                }
                let axis = s.z as usize % rank;
                let same = |v: ValueId| {
                    let t = self.ty(v);
                    t.dtype == at.dtype
                        && t.shape.rank() == rank
                        && (0..rank).all(|k| k == axis || t.shape.dims()[k] == dims[k])
                };
                let b = self.find(s.y, same)?;
                let c = self.find(s.w, same)?;
                let args = match s.w % 3 {
                    0 => vec![a, b],
                    1 => vec![b, a, c],
                    _ => vec![a],
                };
                self.add(Op::Concat { axis }, &args, None)
            }
            StepKind::Pad => {
                let lo: Vec<usize> = dims.iter().map(|_| rng.below(3)).collect();
                let hi: Vec<usize> = dims.iter().map(|_| rng.below(3)).collect();
                let value = match at.dtype {
                    DType::Bool => Scalar::Bool(rng.chance(0.5)),
                    DType::F32 | DType::F64 => {
                        Scalar::Float(rng.pick(&[0.0, -1.5, f64::NAN, -0.0]))
                    }
                    _ => Scalar::Int(rng.int_in(-3, 3)),
                };
                self.add(Op::Pad { lo, hi, value }, &[a], None)
            }
            StepKind::Gather => {
                // gather: an index of a's rank, dims <= a's except on the axis.
                if rank == 0 {
                    return None;
                }
                let axis = s.z as usize % rank;
                if dims[axis] == 0 {
                    return None;
                }
                let shape = along_axis_index_shape(&mut rng, &dims, axis);
                let index = self.index_tensor(&shape, dims[axis], s.w)?;
                self.add(Op::Gather { axis }, &[a, index], None)
            }
            StepKind::IndexSelect => {
                if rank == 0 {
                    return None;
                }
                let axis = s.z as usize % rank;
                if dims[axis] == 0 {
                    return None;
                }
                let irank = rng.below(3);
                let shape: Vec<usize> = (0..irank).map(|_| 1 + rng.below(5)).collect();
                let index = self.index_tensor(&shape, dims[axis], s.w)?;
                self.add(Op::IndexSelect { axis }, &[a, index], None)
            }
            StepKind::ScatterAdd => {
                // Updates of the index's shape:
                // a value of that type if one exists, else a constant.
                if rank == 0 || !at.dtype.is_numeric() {
                    return None;
                }
                let axis = s.z as usize % rank;
                if dims[axis] == 0 {
                    return None;
                }
                let shape = along_axis_index_shape(&mut rng, &dims, axis);
                let index = self.index_tensor(&shape, dims[axis], s.w)?;
                let ut = TensorType::new(at.dtype, shape.clone());
                let updates = match self.find(s.y, |v| *self.ty(v) == ut) {
                    Some(u) => u,
                    None => self.add(
                        Op::Constant {
                            value: match at.dtype {
                                DType::F32 | DType::F64 => Scalar::Float(0.75),
                                _ => Scalar::Int(3),
                            },
                        },
                        &[],
                        Some(ut),
                    )?,
                };
                self.add(Op::ScatterAdd { axis }, &[a, index, updates], None)
            }
            StepKind::RowChain => {
                // Row chain (what row groups are for): r = reduce(a, trailing axes, keepdim),
                // b = a ∘ r, c = reduce(b, same axes, keepdim), d = b ∘ c.
                if rank == 0 || !at.dtype.is_numeric() {
                    return None;
                }
                let first = (s.z as usize % rank).max(usize::from(rank > 1));
                let axes: Vec<usize> = (first..rank).collect();
                let ops = [ReduceOp::Max, ReduceOp::Sum, ReduceOp::Min, ReduceOp::Mean];
                let bins = [BinaryOp::Sub, BinaryOp::Add, BinaryOp::Mul, BinaryOp::Max];
                let r = self.add(reduce(ops[s.y as usize % 4], &axes, true), &[a], None)?;
                let b = self.add(Op::Binary(bins[s.w as usize % 4]), &[a, r], None)?;
                let b = if s.w & 4 == 4 && at.dtype.is_float() {
                    self.add(Op::Unary(UnaryOp::Exp), &[b], None).unwrap_or(b)
                } else {
                    b
                };
                let c = self.add(
                    reduce(ops[(s.y as usize >> 2) % 4], &axes, true),
                    &[b],
                    None,
                )?;
                self.add(Op::Binary(bins[(s.w as usize >> 3) % 4]), &[b, c], None)
            }
            StepKind::Transcendental => {
                // A transcendental op on a float value (the most error-prone path).
                let a = self.find(s.x, |v| self.ty(v).dtype.is_float())?;
                let ops = transcendental_ops();
                let u = ops[s.y as usize % ops.len()];
                self.add(Op::Unary(u), &[a], None)
            }
            // Applied by `Builder::apply`.
            StepKind::Output => None,
            StepKind::MatMul => {
                // matmul with b = (a value whose last dim is a's last dim) transposed
                if rank < 2 || !at.dtype.is_numeric() {
                    return None;
                }
                let k = dims[rank - 1];
                let c = self.find(s.y, |v| {
                    let t = self.ty(v);
                    t.dtype == at.dtype && t.shape.rank() >= 2 && t.shape.dims().last() == Some(&k)
                })?;
                let cr = self.ty(c).shape.rank();
                let mut perm: Vec<usize> = (0..cr).collect();
                perm.swap(cr - 1, cr - 2);
                let b = self.add(Op::Permute { perm }, &[c], None)?;
                self.add(Op::MatMul, &[a, b], None)
            }
        }
    }
}

/// The shape of an index along `axis` of data of shape `dims` (gather, scatter_add): 1 to 6 on
/// the axis, on every other axis the data's dim or less.
fn along_axis_index_shape(rng: &mut Rng, dims: &[usize], axis: usize) -> Vec<usize> {
    (0..dims.len())
        .map(|k| {
            if k == axis {
                1 + rng.below(6)
            } else if rng.chance(0.7) {
                dims[k]
            } else {
                rng.below(dims[k].saturating_add(1))
            }
        })
        .collect()
}
