//! Random valid programs (a generator driven by a shrinkable stream of choices) round-trip
//! losslessly through print and parse.

use super::*;

// ---------------------------------------------------------------------------------------------
// Random valid programs
// ---------------------------------------------------------------------------------------------

/// A stream of random choices. Proptest shrinks the underlying vector (fewer, smaller numbers),
/// which shrinks the program; an exhausted stream answers 0, which always terminates.
pub(crate) struct Choices {
    v: Vec<u32>,
    i: usize,
}

impl Choices {
    pub(crate) fn next(&mut self) -> u32 {
        let x = self.v.get(self.i).copied().unwrap_or(0);
        self.i += 1;
        x
    }

    /// Uniform-ish in `0..n` (0 when `n == 0`).
    pub(crate) fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            self.next() as usize % n
        }
    }

    pub(crate) fn flip(&mut self) -> bool {
        self.below(2) == 1
    }

    pub(crate) fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len())]
    }

    pub(crate) fn u64(&mut self) -> u64 {
        (u64::from(self.next()) << 32) | u64::from(self.next())
    }
}

/// Floats that stress printing: NaNs with other payloads and signs, signed zeros, infinities,
/// denormals, extremes and values without a short decimal form.
pub(crate) const SPECIAL_FLOATS: [u64; 20] = [
    0x7ff8_0000_0000_0000, // canonical NaN
    0x7ff8_0000_0000_0001, // quiet NaN with payload
    0xfff8_0000_0000_0000, // negative NaN
    0x7ff0_0000_0000_0001, // signalling NaN
    0x8000_0000_0000_0000, // -0.0
    0x0000_0000_0000_0000, // 0.0
    0x7ff0_0000_0000_0000, // inf
    0xfff0_0000_0000_0000, // -inf
    0x0000_0000_0000_0001, // smallest denormal 5e-324
    0x000f_ffff_ffff_ffff, // largest denormal
    0x0010_0000_0000_0000, // smallest normal
    0x7fef_ffff_ffff_ffff, // f64::MAX
    0xffef_ffff_ffff_ffff, // f64::MIN
    0x3ff0_0000_0000_0000, // 1.0
    0x3fb9_9999_9999_999a, // 0.1
    0x3fd5_5555_5555_5555, // 1/3
    0x7e37_e43c_8800_759c, // 1e300
    0x4341_c379_37e0_8000, // 1e16
    0xc00c_0000_0000_0000, // -3.5
    0x3e7a_d7f2_9abc_af48, // 1e-7
];

pub(crate) fn random_float(c: &mut Choices) -> f64 {
    if c.below(3) == 0 {
        f64::from_bits(c.u64())
    } else {
        f64::from_bits(c.pick(&SPECIAL_FLOATS))
    }
}

/// A scalar literal valid for `dtype` (ints are allowed for float dtypes too).
pub(crate) fn random_scalar(c: &mut Choices, dtype: DType) -> Scalar {
    match dtype {
        DType::F32 | DType::F64 => {
            if c.below(4) == 0 {
                Scalar::Int(c.pick(&[0, 1, -7, i64::MAX]))
            } else {
                Scalar::Float(random_float(c))
            }
        }
        DType::I32 => {
            let random = c.next() as i32;
            Scalar::Int(i64::from(c.pick(&[0, 1, -1, i32::MIN, i32::MAX, random])))
        }
        DType::I64 => {
            let random = c.u64() as i64;
            Scalar::Int(c.pick(&[0, 1, -1, i64::MIN, i64::MAX, random]))
        }
        DType::Bool => Scalar::Bool(c.flip()),
    }
}

pub(crate) fn random_dims(c: &mut Choices, max_rank: usize) -> Vec<usize> {
    let rank = c.below(max_rank + 1);
    (0..rank).map(|_| c.pick(&[0, 1, 1, 2, 3, 4])).collect()
}

pub(crate) fn random_type(c: &mut Choices) -> TensorType {
    let dtype = c.pick(&DType::ALL);
    TensorType::new(dtype, random_dims(c, 5))
}

pub(crate) fn random_value(c: &mut Choices, p: &Program) -> ValueId {
    ValueId(c.below(p.num_values()) as u32)
}

/// Pushes `op` with first operand `a` and a second operand searched from a random start:
/// the first value that makes the instruction valid.
pub(crate) fn push_with_partner(
    c: &mut Choices,
    p: &mut Program,
    op: Op,
    a: ValueId,
) -> Option<ValueId> {
    let n = p.num_values();
    let start = c.below(n);
    (0..n).find_map(|k| {
        let b = ValueId(((start + k) % n) as u32);
        p.push(op.clone(), &[a, b]).ok()
    })
}

pub(crate) fn index_constant(
    c: &mut Choices,
    p: &mut Program,
    dims: Vec<usize>,
) -> Option<ValueId> {
    let dtype = c.pick(&[DType::I32, DType::I64]);
    let op = Op::Constant {
        value: Scalar::Int(0),
    };
    p.push_typed(op, &[], TensorType::new(dtype, dims)).ok()
}

/// Tries to append one random instruction; `None` if the random choice was invalid.
pub(crate) fn try_push(c: &mut Choices, p: &mut Program) -> Option<ValueId> {
    let kind = c.below(16);
    // Ops without operands first; everything else needs an existing value.
    match kind {
        0 => {
            let ty = random_type(c);
            let value = random_scalar(c, ty.dtype);
            return p.push_typed(Op::Constant { value }, &[], ty).ok();
        }
        1 => {
            let dtype = c.pick(&[DType::F32, DType::F64, DType::I32, DType::I64]);
            let dims = random_dims(c, 4);
            let axis = c.below(dims.len());
            return p
                .push_typed(Op::Iota { axis }, &[], TensorType::new(dtype, dims))
                .ok();
        }
        _ => {}
    }
    if p.num_values() == 0 {
        return None;
    }
    let a = random_value(c, p);
    let ty = p.value_type(a).clone();
    let dims = ty.shape.dims().to_vec();
    let rank = dims.len();
    match kind {
        2 | 3 => p.push(Op::Unary(c.pick(&UnaryOp::ALL)), &[a]).ok(),
        4..=6 => {
            let op = Op::Binary(c.pick(&BinaryOp::ALL));
            push_with_partner(c, p, op, a)
        }
        7 => {
            let n = p.num_values();
            let (s1, s2) = (c.below(n), c.below(n));
            (0..n).find_map(|k| {
                let x = ValueId(((s1 + k) % n) as u32);
                let y = ValueId(((s2 + k) % n) as u32);
                p.push(Op::Where, &[a, x, y]).ok()
            })
        }
        8 => {
            let declared = TensorType::new(c.pick(&DType::ALL), Shape::scalar());
            p.push_typed(Op::Cast, &[a], declared).ok()
        }
        9 => {
            let op = c.pick(&ReduceOp::ALL);
            let axes = if op.is_arg() {
                vec![c.below(rank)]
            } else {
                (0..rank).filter(|_| c.flip()).collect()
            };
            let keepdim = c.flip();
            p.push(Op::Reduce { op, axes, keepdim }, &[a]).ok()
        }
        10 => {
            let shape = match c.below(4) {
                0 => vec![ty.shape.numel()],
                1 => {
                    let mut d = dims.clone();
                    d.reverse();
                    d.insert(c.below(d.len() + 1), 1);
                    d
                }
                2 => dims.iter().copied().filter(|&d| d != 1).collect(),
                _ => random_dims(c, 4),
            };
            p.push(
                Op::Reshape {
                    shape: Shape::from(shape),
                },
                &[a],
            )
            .ok()
        }
        11 => {
            let mut perm: Vec<usize> = (0..rank).collect();
            for i in (1..rank).rev() {
                perm.swap(i, c.below(i + 1));
            }
            p.push(Op::Permute { perm }, &[a]).ok()
        }
        12 => {
            let mut shape = random_dims(c, 2);
            shape.extend(
                dims.iter()
                    .map(|&d| if d == 1 { c.pick(&[0, 1, 2, 3]) } else { d }),
            );
            p.push(
                Op::Expand {
                    shape: Shape::from(shape),
                },
                &[a],
            )
            .ok()
        }
        13 => {
            let (mut starts, mut stops, mut steps) = (vec![], vec![], vec![]);
            for &d in &dims {
                let start = c.below(d + 1);
                starts.push(start);
                stops.push(start + c.below(d - start + 1));
                steps.push(1 + c.below(3));
            }
            let op = Op::Slice {
                starts,
                stops,
                steps,
            };
            p.push(op, &[a]).ok()
        }
        14 => {
            let axis = c.below(rank);
            let mut args = vec![a];
            let n = p.num_values();
            for _ in 0..c.below(3) {
                args.push(ValueId(c.below(n) as u32));
            }
            // Keep only the operands compatible with the first, so the push usually succeeds.
            args.retain(|&v| {
                let t = p.value_type(v);
                t.dtype == ty.dtype
                    && t.shape.rank() == rank
                    && (0..rank).all(|i| i == axis || t.shape.dims()[i] == dims[i])
            });
            p.push(Op::Concat { axis }, &args).ok()
        }
        15 => match c.below(4) {
            0 => {
                let lo = (0..rank).map(|_| c.below(3)).collect();
                let hi = (0..rank).map(|_| c.below(3)).collect();
                let value = random_scalar(c, ty.dtype);
                p.push(Op::Pad { lo, hi, value }, &[a]).ok()
            }
            1 => {
                let axis = c.below(rank);
                let idx: Vec<usize> = dims
                    .iter()
                    .enumerate()
                    .map(|(k, &d)| {
                        if k == axis {
                            c.below(4)
                        } else {
                            c.below(d + 1)
                        }
                    })
                    .collect();
                let i = index_constant(c, p, idx)?;
                p.push(Op::Gather { axis }, &[a, i]).ok()
            }
            2 => {
                let axis = c.below(rank);
                let idx = random_dims(c, 2);
                let i = index_constant(c, p, idx)?;
                p.push(Op::IndexSelect { axis }, &[a, i]).ok()
            }
            _ => {
                if rank < 2 {
                    return None;
                }
                let mut other = random_dims(c, 1);
                other.push(dims[rank - 1]);
                other.push(c.pick(&[0, 1, 2, 3]));
                let rhs = TensorType::new(ty.dtype, other);
                let value = random_scalar(c, ty.dtype);
                let b = p.push_typed(Op::Constant { value }, &[], rhs).ok()?;
                p.push(Op::MatMul, &[a, b]).ok()
            }
        },
        _ => None,
    }
}

pub(crate) const PARAM_NAMES: [&str; 6] = ["x", "w_", "layer.weight", "_b", "In", "t.0."];

/// Builds a valid program from a choice stream.
pub(crate) fn build_program(choices: Vec<u32>) -> Program {
    let mut c = Choices { v: choices, i: 0 };
    let mut p = Program::new();
    for i in 0..c.below(5) {
        let name = format!("{}{i}", c.pick(&PARAM_NAMES));
        let ty = random_type(&mut c);
        p.param(name, ty);
    }
    for _ in 0..c.below(30) {
        for _attempt in 0..6 {
            if try_push(&mut c, &mut p).is_some() {
                break;
            }
        }
    }
    if p.num_values() > 0 {
        for _ in 0..c.below(5) {
            let v = random_value(&mut c, &p);
            p.output(v);
        }
    }
    p
}

pub(crate) fn programs() -> impl Strategy<Value = Program> {
    prop::collection::vec(any::<u32>(), 0..600).prop_map(build_program)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// parse(print(p)) == p, print is stable, and locs are filled, for random valid programs.
    #[test]
    fn round_trip_random_programs(p in programs()) {
        prop_assert!(p.verify().is_ok(), "generator built an invalid program:\n{p}");
        let text = print(&p);
        let q = match parse(&text) {
            Ok(q) => q,
            Err(e) => return Err(TestCaseError::fail(format!("{e}\nin:\n{text}"))),
        };
        prop_assert_eq!(&q, &p, "text:\n{}", text);
        prop_assert_eq!(print(&q), text.clone());
        prop_assert_eq!(q.locs.len(), q.insts.len());
        for (i, loc) in q.locs.iter().enumerate() {
            let line = (q.params.len() + i + 1) as u32;
            prop_assert_eq!(*loc, Loc { line, col: 1 });
        }
        prop_assert_eq!(parse_unverified(&text).ok(), Some(p));
    }
}
