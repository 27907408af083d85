//! Tests of the program text form: lossless round trips of random valid programs, fuzzing
//! (arbitrary and mutated text never panics), and the exact positions and wording of errors.

use lazyjit_lowering::text::{parse, parse_unverified, print};
use lazyjit_lowering::{
    BinaryOp, DType, Error, Loc, Op, Program, ReduceOp, Scalar, Shape, TensorType, UnaryOp, ValueId,
};
use proptest::prelude::*;

// ---------------------------------------------------------------------------------------------
// Random valid programs
// ---------------------------------------------------------------------------------------------

/// A stream of random choices. Proptest shrinks the underlying vector (fewer, smaller numbers),
/// which shrinks the program; an exhausted stream answers 0, which always terminates.
struct Choices {
    v: Vec<u32>,
    i: usize,
}

impl Choices {
    fn next(&mut self) -> u32 {
        let x = self.v.get(self.i).copied().unwrap_or(0);
        self.i += 1;
        x
    }

    /// Uniform-ish in `0..n` (0 when `n == 0`).
    fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            self.next() as usize % n
        }
    }

    fn flip(&mut self) -> bool {
        self.below(2) == 1
    }

    fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len())]
    }

    fn u64(&mut self) -> u64 {
        (u64::from(self.next()) << 32) | u64::from(self.next())
    }
}

/// Floats that stress printing: NaNs with other payloads and signs, signed zeros, infinities,
/// denormals, extremes and values without a short decimal form.
const SPECIAL_FLOATS: [u64; 20] = [
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

fn random_float(c: &mut Choices) -> f64 {
    if c.below(3) == 0 {
        f64::from_bits(c.u64())
    } else {
        f64::from_bits(c.pick(&SPECIAL_FLOATS))
    }
}

/// A scalar literal valid for `dtype` (ints are allowed for float dtypes too).
fn random_scalar(c: &mut Choices, dtype: DType) -> Scalar {
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

fn random_dims(c: &mut Choices, max_rank: usize) -> Vec<usize> {
    let rank = c.below(max_rank + 1);
    (0..rank).map(|_| c.pick(&[0, 1, 1, 2, 3, 4])).collect()
}

fn random_type(c: &mut Choices) -> TensorType {
    let dtype = c.pick(&DType::ALL);
    TensorType::new(dtype, random_dims(c, 5))
}

fn random_value(c: &mut Choices, p: &Program) -> ValueId {
    ValueId(c.below(p.num_values()) as u32)
}

/// Pushes `op` with first operand `a` and a second operand searched from a random start:
/// the first value that makes the instruction valid.
fn push_with_partner(c: &mut Choices, p: &mut Program, op: Op, a: ValueId) -> Option<ValueId> {
    let n = p.num_values();
    let start = c.below(n);
    (0..n).find_map(|k| {
        let b = ValueId(((start + k) % n) as u32);
        p.push(op.clone(), &[a, b]).ok()
    })
}

fn index_constant(c: &mut Choices, p: &mut Program, dims: Vec<usize>) -> Option<ValueId> {
    let dtype = c.pick(&[DType::I32, DType::I64]);
    let op = Op::Constant {
        value: Scalar::Int(0),
    };
    p.push_typed(op, &[], TensorType::new(dtype, dims)).ok()
}

/// Tries to append one random instruction; `None` if the random choice was invalid.
fn try_push(c: &mut Choices, p: &mut Program) -> Option<ValueId> {
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

const PARAM_NAMES: [&str; 6] = ["x", "w_", "layer.weight", "_b", "In", "t.0."];

/// Builds a valid program from a choice stream.
fn build_program(choices: Vec<u32>) -> Program {
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

fn programs() -> impl Strategy<Value = Program> {
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

// ---------------------------------------------------------------------------------------------
// Fuzzing: no input panics; whatever parses also round-trips
// ---------------------------------------------------------------------------------------------

/// Parses `src` both ways; anything accepted must print and parse back to itself.
fn check_no_panic(src: &str) -> Result<(), TestCaseError> {
    for (verified, result) in [(true, parse(src)), (false, parse_unverified(src))] {
        match result {
            Ok(p) => {
                let text = print(&p);
                let again = if verified {
                    parse(&text)
                } else {
                    parse_unverified(&text)
                };
                prop_assert_eq!(again.as_ref().ok(), Some(&p), "{:?}\n{}", again, text);
            }
            Err(Error::Parse { line, col, message }) => {
                prop_assert!(line >= 1 && col >= 1 && !message.is_empty());
            }
            Err(Error::Verify(v)) => prop_assert!(verified && !v.is_empty()),
            Err(e) => prop_assert!(false, "unexpected error kind: {e:?}"),
        }
    }
    Ok(())
}

/// An edit to program text at a position given as a fraction of its length.
#[derive(Clone, Debug)]
enum Mutation {
    Delete(usize),
    Insert(usize, char),
    Replace(usize, char),
    /// Duplicates a span (e.g. a whole line or a list element).
    Duplicate(usize, usize),
    /// Replaces the i-th digit by another digit: usually still parses, often fails to verify.
    Digit(usize, u8),
    /// Swaps two lines: exercises ordering rules (use before definition, params first).
    SwapLines(usize, usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    let interesting = prop::sample::select(vec![
        '%', ':', '=', ',', '[', ']', '#', '\n', ' ', '-', '.', 'e', 'x', '0', '9', 'a', '_', 'é',
        '\t', '\r', '\0',
    ]);
    let ch = prop_oneof![interesting, any::<char>()];
    prop_oneof![
        any::<usize>().prop_map(Mutation::Delete),
        (any::<usize>(), ch.clone()).prop_map(|(i, c)| Mutation::Insert(i, c)),
        (any::<usize>(), ch).prop_map(|(i, c)| Mutation::Replace(i, c)),
        (any::<usize>(), 1usize..40).prop_map(|(i, n)| Mutation::Duplicate(i, n)),
        (any::<usize>(), 0u8..10).prop_map(|(i, d)| Mutation::Digit(i, d)),
        (any::<usize>(), any::<usize>()).prop_map(|(i, j)| Mutation::SwapLines(i, j)),
    ]
}

fn apply(text: &str, muts: &[Mutation]) -> String {
    let mut chars: Vec<char> = text.chars().collect();
    for m in muts {
        let len = chars.len();
        match *m {
            Mutation::Delete(i) if len > 0 => {
                chars.remove(i % len);
            }
            Mutation::Insert(i, c) => chars.insert(i % (len + 1), c),
            Mutation::Replace(i, c) if len > 0 => chars[i % len] = c,
            Mutation::Duplicate(i, n) if len > 0 => {
                let start = i % len;
                let end = (start + n).min(len);
                let span: Vec<char> = chars[start..end].to_vec();
                chars.splice(start..start, span);
            }
            Mutation::Digit(i, d) => {
                let digits: Vec<usize> = (0..len).filter(|&k| chars[k].is_ascii_digit()).collect();
                if !digits.is_empty() {
                    chars[digits[i % digits.len()]] = char::from(b'0' + d);
                }
            }
            Mutation::SwapLines(i, j) => {
                let text: String = chars.iter().collect();
                let mut lines: Vec<&str> = text.lines().collect();
                if !lines.is_empty() {
                    let n = lines.len();
                    lines.swap(i % n, j % n);
                }
                chars = lines.join("\n").chars().collect();
            }
            _ => {}
        }
    }
    chars.into_iter().collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1024))]

    #[test]
    fn fuzz_arbitrary_strings(src in "\\PC{0,300}") {
        check_no_panic(&src)?;
    }

    #[test]
    fn fuzz_token_soup(
        src in "((param|return|%[a-z0-9_.]{0,3}|[a-z_]{1,12}|-?[0-9]{1,25}(\\.[0-9]{0,3})?(e-?[0-9]{0,4})?\
                |nan(:0x[0-9a-f]{0,18})?|-?inf|f32|i64|bool|[:=,#]|\\[|\\]|\\n| ){0,60})"
    ) {
        check_no_panic(&src)?;
    }

    #[test]
    fn fuzz_mutated_programs(
        p in programs(),
        muts in prop::collection::vec(mutation(), 1..6),
    ) {
        let src = apply(&print(&p), &muts);
        check_no_panic(&src)?;
    }
}

// ---------------------------------------------------------------------------------------------
// Hand-written programs
// ---------------------------------------------------------------------------------------------

const SOFTMAX: &str = "\
# softmax over the last axis
param %x: f32[4096, 1024]
param %bias: f32[1024]
%2: f32[4096, 1] = reduce_max %x, axes=[1], keepdim=true
%3: f32[4096, 1024] = sub %x, %2
%4: f32[4096, 1024] = exp %3
%5: f32[4096, 1] = reduce_sum %4, axes=[1], keepdim=true   # denominators
%6: f32[4096, 1024] = div %4, %5
%7: f32[] = constant 0.5
%8: i32[3, 4] = iota axis=1
%9: f64[4096, 1024] = cast %6
return %6, %9
";

#[test]
fn parses_the_design_example_and_prints_it_canonically() {
    let p = parse(SOFTMAX).unwrap();
    assert_eq!(p.params.len(), 2);
    assert_eq!(p.insts.len(), 8);
    assert_eq!(p.outputs, vec![ValueId(6), ValueId(9)]);
    assert_eq!(
        p.insts[0].op,
        Op::Reduce {
            op: ReduceOp::Max,
            axes: vec![1],
            keepdim: true
        }
    );
    assert_eq!(
        p.insts[5].op,
        Op::Constant {
            value: Scalar::Float(0.5)
        }
    );
    assert_eq!(p.locs[0], Loc { line: 4, col: 1 });
    assert_eq!(p.locs[7], Loc { line: 11, col: 1 });
    let expected: String = SOFTMAX
        .lines()
        .skip(1)
        .map(|l| format!("{}\n", l.split('#').next().unwrap().trim_end()))
        .collect();
    assert_eq!(print(&p), expected);
    assert_eq!(p.to_string(), expected);
    assert_eq!(expected.parse::<Program>().unwrap(), p);
}

#[test]
fn named_results_comments_blank_lines_and_crlf() {
    let src = "\r\n  # leading comment\r\nparam %x: f32[2]\r\n\r\n  %double: f32[2] = add %x, %x # sum\r\n%0: f32[2] = neg %double\r\nreturn %0, %x\r\n# trailing\r\n";
    let p = parse(src).unwrap();
    assert_eq!(p.outputs, vec![ValueId(2), ValueId(0)]);
    assert_eq!(
        p.locs,
        vec![Loc { line: 5, col: 3 }, Loc { line: 6, col: 1 }]
    );
    assert_eq!(
        print(&p),
        "param %x: f32[2]\n%1: f32[2] = add %x, %x\n%2: f32[2] = neg %1\nreturn %2, %x\n"
    );
}

#[test]
fn empty_return_and_no_trailing_newline() {
    let p = parse("return").unwrap();
    assert_eq!(p, Program::new());
    assert_eq!(print(&p), "return\n");
    let p = parse("param %a: bool[]\nreturn %a, %a").unwrap();
    assert_eq!(p.outputs, vec![ValueId(0), ValueId(0)]);
}

#[test]
fn every_attribute_form_prints_as_documented() {
    let src = "\
param %x: f32[2, 3]
param %i: i64[2, 1]
%2: f32[3, 2] = permute %x, perm=[1, 0]
%3: f32[6] = reshape %x, shape=[6]
%4: f32[4, 2, 3] = expand %x, shape=[4, 2, 3]
%5: f32[1, 2] = slice %x, starts=[0, 0], stops=[1, 3], steps=[1, 2]
%6: f32[4, 3] = concat %x, %x, axis=0
%7: f32[3, 6] = pad %x, lo=[0, 1], hi=[1, 2], value=-inf
%8: f32[2, 1] = gather %x, %i, axis=1
%9: f32[2, 2, 1] = index_select %x, %i, axis=1
%10: i64[2] = argmax %x, axes=[1], keepdim=false
%11: f32[2, 2] = matmul %x, %2
%12: bool[2, 3] = lt %x, %x
%13: f32[2, 3] = where %12, %x, %x
%14: i32[2, 3] = constant -2147483648
%15: f64[] = constant nan:0xfff8000000000000
%16: bool[] = constant true
%17: f32[2] = reduce_mean %x, axes=[1], keepdim=false
return %13
";
    let p = parse(src).unwrap();
    assert_eq!(print(&p), src);
    let Op::Constant {
        value: Scalar::Float(v),
    } = p.insts[13].op
    else {
        panic!("{:?}", p.insts[13].op)
    };
    assert_eq!(v.to_bits(), 0xfff8_0000_0000_0000);
}

#[test]
fn special_floats_print_exactly() {
    let cases: [(f64, &str); 9] = [
        (-0.0, "-0.0"),
        (0.0, "0.0"),
        (f64::NAN, "nan"),
        (
            f64::from_bits(0x7ff8_0000_0000_0001),
            "nan:0x7ff8000000000001",
        ),
        (f64::INFINITY, "inf"),
        (f64::NEG_INFINITY, "-inf"),
        (5e-324, "5e-324"),
        (1e300, "1e300"),
        (0.1, "0.1"),
    ];
    for (v, text) in cases {
        let mut p = Program::new();
        let ty = TensorType::new(DType::F64, [2]);
        let c = p
            .push_typed(
                Op::Constant {
                    value: Scalar::Float(v),
                },
                &[],
                ty,
            )
            .unwrap();
        p.output(c);
        let printed = print(&p);
        assert_eq!(
            printed,
            format!("%0: f64[2] = constant {text}\nreturn %0\n")
        );
        let q = parse(&printed).unwrap();
        let Op::Constant {
            value: Scalar::Float(w),
        } = q.insts[0].op
        else {
            panic!()
        };
        assert_eq!(w.to_bits(), v.to_bits(), "{text}");
    }
}

#[test]
fn integer_and_float_literals_stay_distinct() {
    let p = parse("%a: f32[] = constant 1\n%b: f32[] = constant 1.0\nreturn %a, %b\n").unwrap();
    assert_eq!(
        p.insts[0].op,
        Op::Constant {
            value: Scalar::Int(1)
        }
    );
    assert_eq!(
        p.insts[1].op,
        Op::Constant {
            value: Scalar::Float(1.0)
        }
    );
    assert_ne!(p.insts[0], p.insts[1]);
}

#[test]
fn parse_unverified_keeps_rule_violations() {
    let src = "param %x: f32[4]\n%1: f32[4] = add %x\nreturn %1\n";
    let p = parse_unverified(src).unwrap();
    assert_eq!(p.insts[0].args, vec![ValueId(0)]);
    assert!(matches!(parse(src), Err(Error::Verify(_))));
}

// ---------------------------------------------------------------------------------------------
// Error positions and messages
// ---------------------------------------------------------------------------------------------

/// Asserts a parse error at `line:col` whose message contains every piece of `parts`.
#[track_caller]
fn assert_parse_error(src: &str, line: u32, col: u32, parts: &[&str]) {
    match parse(src) {
        Err(Error::Parse {
            line: l,
            col: c,
            message,
        }) => {
            assert_eq!((l, c), (line, col), "position of {message:?}");
            for part in parts {
                assert!(message.contains(part), "{message:?} lacks {part:?}");
            }
        }
        other => panic!("expected a parse error for {src:?}, got {other:?}"),
    }
}

#[test]
fn error_unknown_dtype() {
    assert_parse_error(
        "param %x: f16[4]\nreturn %x\n",
        1,
        11,
        &[
            "expected dtype (f32, f64, i32, i64 or bool)",
            "found unknown dtype 'f16'",
        ],
    );
}

#[test]
fn error_unknown_op_with_suggestion() {
    let src = "param %x: f32[4]\n%1: f32[4] = frobnicate %x\nreturn %1\n";
    assert_parse_error(src, 2, 14, &["expected op name", "unknown op 'frobnicate'"]);
    let src = "param %x: f32[4]\n%1: f32[] = reduce_summ %x, axes=[0], keepdim=false\nreturn %1\n";
    assert_parse_error(
        src,
        2,
        13,
        &["unknown op 'reduce_summ'", "did you mean 'reduce_sum'?"],
    );
}

#[test]
fn error_missing_equals() {
    let src = "param %x: f32[4]\n%1: f32[4] exp %x\nreturn %1\n";
    assert_parse_error(src, 2, 12, &["expected '=' after result type, found 'exp'"]);
}

#[test]
fn error_undefined_value() {
    let src = "param %x: f32[4]\n%1: f32[4] = add %x, %9\nreturn %1\n";
    assert_parse_error(src, 2, 22, &["undefined value '%9'"]);
    // A value cannot use itself either.
    let src = "param %x: f32[4]\n%1: f32[4] = add %x, %1\nreturn %1\n";
    assert_parse_error(src, 2, 22, &["undefined value '%1'"]);
    assert_parse_error("return %y\n", 1, 8, &["undefined value '%y'"]);
}

#[test]
fn error_after_operand() {
    let src = "param %x: f32[4]\n%1: f32[4] = add %x, %x = 3\nreturn %1\n";
    assert_parse_error(
        src,
        2,
        25,
        &["expected ',' or newline after operand, found '='"],
    );
}

#[test]
fn error_redefinition() {
    let src = "param %x: f32[4]\n%x: f32[4] = exp %x\nreturn %x\n";
    assert_parse_error(src, 2, 1, &["value %x is already defined at 1:7"]);
    let src = "param %x: f32[4]\nparam %x: f32[4]\nreturn %x\n";
    assert_parse_error(src, 2, 7, &["already defined"]);
}

#[test]
fn error_attributes() {
    let head = "param %x: f32[4, 5]\n";
    let missing = format!("{head}%1: f32[4] = reduce_sum %x, axes=[1]\nreturn %1\n");
    assert_parse_error(
        &missing,
        2,
        14,
        &[
            "reduce_sum is missing attribute 'keepdim'",
            "keepdim=true|false",
        ],
    );
    let unknown = format!("{head}%1: f32[4] = reduce_sum %x, axis=[1], keepdim=true\nreturn %1\n");
    assert_parse_error(
        &unknown,
        2,
        29,
        &[
            "unknown attribute 'axis' for reduce_sum",
            "expected axes=[..], keepdim=true|false",
        ],
    );
    let dup = format!("{head}%1: f32[4, 5] = permute %x, perm=[0, 1], perm=[1, 0]\nreturn %1\n");
    assert_parse_error(&dup, 2, 42, &["duplicate attribute 'perm' for permute"]);
    let none = format!("{head}%1: f32[4, 5] = exp %x, axis=1\nreturn %1\n");
    assert_parse_error(&none, 2, 25, &["exp takes no attributes, found 'axis'"]);
    let order = format!("{head}%1: f32[8, 5] = concat %x, axis=0, %x\nreturn %1\n");
    assert_parse_error(
        &order,
        2,
        36,
        &["operands come before attributes", "found '%x'"],
    );
    let bad_bool = format!("{head}%1: f32[4] = reduce_sum %x, axes=[1], keepdim=1\nreturn %1\n");
    assert_parse_error(
        &bad_bool,
        2,
        47,
        &["expected 'true' or 'false' after 'keepdim='"],
    );
    let bare = format!("{head}%1: f32[4, 5] = exp x\nreturn %1\n");
    assert_parse_error(
        &bare,
        2,
        21,
        &["expected operand ('%name') or attribute ('key=value') after 'exp', found 'x'"],
    );
}

#[test]
fn error_numbers() {
    assert_parse_error(
        "param %x: f32[99999999999999999999]\nreturn %x\n",
        1,
        15,
        &["integer '99999999999999999999' is too large"],
    );
    assert_parse_error(
        "param %x: f32[-1]\nreturn %x\n",
        1,
        15,
        &["expected non-negative integer in list, found '-1'"],
    );
    assert_parse_error(
        "%0: i64[] = constant 9223372036854775808\nreturn %0\n",
        1,
        22,
        &["out of range for i64"],
    );
    assert_parse_error(
        "%0: f64[] = constant 1e400\nreturn %0\n",
        1,
        22,
        &["out of range for f64"],
    );
    assert_parse_error(
        "%0: f64[] = constant 1.5.2\nreturn %0\n",
        1,
        22,
        &["malformed number '1.5.2'"],
    );
    assert_parse_error(
        "%0: f64[] = constant nan:0x3ff0000000000000\nreturn %0\n",
        1,
        26,
        &["is not a NaN bit pattern"],
    );
    assert_parse_error(
        "%0: f64[] = constant\nreturn %0\n",
        1,
        21,
        &["expected scalar value after 'constant', found newline"],
    );
}

#[test]
fn error_program_structure() {
    assert_parse_error("", 1, 1, &["expected 'return' line", "found end of input"]);
    assert_parse_error(
        "param %x: f32[]\n",
        2,
        1,
        &["expected 'return' line", "found end of input"],
    );
    assert_parse_error(
        "param %x: f32[]\nreturn %x\nreturn %x\n",
        3,
        1,
        &["expected end of input after the 'return' line, found 'return'"],
    );
    assert_parse_error(
        "%0: f32[] = constant 1.0\nparam %x: f32[]\nreturn %x\n",
        2,
        1,
        &["parameters must be declared before the first instruction"],
    );
    assert_parse_error(
        "param %3: f32[]\nreturn\n",
        1,
        7,
        &["invalid parameter name '%3'"],
    );
    assert_parse_error(
        "param %x: f32[]\n%1a: f32[] = neg %x\nreturn\n",
        2,
        1,
        &["invalid value name '%1a'"],
    );
    assert_parse_error(
        "param %x: f32[]\n@\nreturn\n",
        2,
        1,
        &["expected 'param', an instruction", "found '@'"],
    );
    assert_parse_error(
        "param %x: f32[] junk\nreturn\n",
        1,
        17,
        &["expected newline after parameter type, found 'junk'"],
    );
    assert_parse_error(
        "param %x f32[]\nreturn\n",
        1,
        10,
        &["expected ':' after parameter name, found 'f32'"],
    );
}

#[test]
fn error_display_names_position() {
    let e = parse("param %x: f16[4]\nreturn %x\n").unwrap_err();
    assert!(e.to_string().starts_with("parse error at 1:11: "), "{e}");
}

#[test]
fn verify_error_points_at_the_instruction() {
    let src = "param %a: f32[4]\nparam %b: f32[5]\n%2: f32[4] = add %a, %b\nreturn %2\n";
    let Err(Error::Verify(violations)) = parse(src) else {
        panic!("expected a verify error")
    };
    assert_eq!(violations.len(), 1);
    let v = &violations[0];
    assert_eq!(v.loc, Some(Loc { line: 3, col: 1 }));
    assert_eq!(v.value, Some(ValueId(2)));
    assert!(v.message.contains("add"), "{}", v.message);
    assert!(
        v.message.contains("[4]") && v.message.contains("[5]"),
        "{}",
        v.message
    );
}

#[test]
fn verify_error_on_declared_type_and_parameters() {
    // Declared result type disagreeing with the inferred one.
    let src = "param %a: f32[4]\n%1: f64[4] = exp %a\nreturn %1\n";
    let Err(Error::Verify(v)) = parse(src) else {
        panic!()
    };
    assert_eq!(v[0].loc, Some(Loc { line: 2, col: 1 }));
    assert!(
        v[0].message.contains("declares result f64[4]"),
        "{}",
        v[0].message
    );
    // A parameter whose element count overflows is reported at its line.
    let src = "# big\nparam %a: f32[4294967296, 4294967296, 4294967296]\nreturn\n";
    let Err(Error::Verify(v)) = parse(src) else {
        panic!()
    };
    assert_eq!(v[0].loc, Some(Loc { line: 2, col: 1 }));
}
