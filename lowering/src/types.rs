//! Element types, shapes and scalar literals of the program format.

use std::fmt;

/// Element type of a tensor.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DType {
    /// 32-bit IEEE 754 float.
    F32,
    /// 64-bit IEEE 754 float.
    F64,
    /// 32-bit signed integer (wrapping arithmetic).
    I32,
    /// 64-bit signed integer (wrapping arithmetic).
    I64,
    /// Stored as one byte per element holding 0 or 1.
    Bool,
}

impl DType {
    /// Every dtype, in a stable order.
    pub const ALL: [DType; 5] = [DType::F32, DType::F64, DType::I32, DType::I64, DType::Bool];

    /// Size of one element in bytes.
    pub fn size_bytes(self) -> usize {
        match self {
            DType::F32 | DType::I32 => 4,
            DType::F64 | DType::I64 => 8,
            DType::Bool => 1,
        }
    }

    /// `f32` or `f64`.
    pub const fn is_float(self) -> bool {
        matches!(self, DType::F32 | DType::F64)
    }

    /// `i32` or `i64`.
    pub const fn is_int(self) -> bool {
        matches!(self, DType::I32 | DType::I64)
    }

    /// Float or integer (everything but bool).
    pub const fn is_numeric(self) -> bool {
        !matches!(self, DType::Bool)
    }

    /// The name used in the text form (`f32`, `i64`, `bool`, ...).
    pub fn name(self) -> &'static str {
        match self {
            DType::F32 => "f32",
            DType::F64 => "f64",
            DType::I32 => "i32",
            DType::I64 => "i64",
            DType::Bool => "bool",
        }
    }

    /// Parses a name produced by [`DType::name`].
    pub fn from_name(s: &str) -> Option<DType> {
        DType::ALL.into_iter().find(|d| d.name() == s)
    }
}

impl fmt::Display for DType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The size limit of the program format: every value (parameter, instruction result,
/// constant, and virtual views such as `expand` results that are never materialised) has at
/// most 2^56 elements, counting each 0 dim as 1 (see [`Shape::extent_product`]).
///
/// The shape rules ([`crate::op::Op::infer`], [`crate::Program::verify`]) and every
/// [`crate::Tensor`] enforce it, so code generation can rely on it: a byte size is at most
/// 2^59 (8-byte elements), 16 times below `isize::MAX`, so index and address arithmetic on
/// i64 — the sum of a few terms each bounded by a value's extent, times an element size —
/// cannot overflow. No real buffer comes near it (x86-64 addresses are 47 bits), so the limit
/// only rejects virtual views that no index could address correctly.
pub const MAX_ELEMENTS: usize = 1 << 56;

/// Inline capacity of [`Shape`]: shapes up to rank 4 need no heap allocation, which keeps
/// tracing and dispatch of small ops allocation-light.
pub type Dims = smallvec::SmallVec<[usize; 4]>;

/// Dimensions of a tensor, outermost first (row-major). Rank 0 is a scalar.
///
/// Built from anything that lists dims: arrays, slices, vectors, tuples of `usize` (up to
/// rank 6), a single `usize` (rank 1) or `()` (rank 0).
///
/// ```
/// use lazyjit_lowering::Shape;
/// let s = Shape::new([2, 3]);
/// assert_eq!(Shape::new((2, 3)), s);
/// assert_eq!(Shape::new(&[2, 3]), s);
/// assert_eq!(Shape::new(vec![2, 3]), s);
/// assert_eq!(Shape::new(&vec![2, 3]), s);
/// assert_eq!(Shape::new(&s), s);
/// assert_eq!(Shape::new(5).dims(), &[5]);
/// assert_eq!(Shape::new(()), Shape::scalar());
/// ```
// Hash is derived from the same dimensions the manual `eq` compares, so they agree.
#[allow(clippy::derived_hash_with_manual_eq)]
#[derive(Clone, Debug, Eq, Hash, Default, PartialOrd, Ord)]
pub struct Shape(pub Dims);

impl PartialEq for Shape {
    /// Element by element: shapes are short, and a derived (slice) comparison calls
    /// `memcmp`, which costs more than the loop on the per-call paths that compare the
    /// types of a call's inputs.
    #[inline]
    fn eq(&self, other: &Shape) -> bool {
        self.0.len() == other.0.len() && self.0.iter().zip(other.0.iter()).all(|(a, b)| a == b)
    }
}

impl Shape {
    /// A shape from its dims, outermost first: an array, a slice, a `Vec<usize>` or [`Dims`].
    pub fn new(dims: impl Into<Shape>) -> Shape {
        dims.into()
    }

    /// The rank-0 shape (one element).
    pub fn scalar() -> Shape {
        Shape(Dims::new())
    }

    /// Number of dimensions (0 for a scalar).
    pub fn rank(&self) -> usize {
        self.0.len()
    }

    /// The dimensions, outermost first.
    pub fn dims(&self) -> &[usize] {
        &self.0
    }

    /// Number of elements (1 for rank 0, 0 if any dim is 0). `None` on overflow.
    pub fn checked_numel(&self) -> Option<usize> {
        self.0.iter().try_fold(1usize, |acc, &d| acc.checked_mul(d))
    }

    /// Number of elements; saturates at `usize::MAX` (shapes within [`MAX_ELEMENTS`], which
    /// every verified program and every tensor keeps, never do).
    pub fn numel(&self) -> usize {
        self.checked_numel().unwrap_or(usize::MAX)
    }

    /// The product of the dims with each 0 counted as 1: the element count the shape would
    /// have if its empty dims were not empty. `None` on overflow. This, not [`Shape::numel`],
    /// is what the size limit bounds, so that every dim, every stride and every partial
    /// product of an empty shape is bounded too.
    pub fn extent_product(&self) -> Option<usize> {
        self.0
            .iter()
            .try_fold(1usize, |acc, &d| acc.checked_mul(d.max(1)))
    }

    /// Whether the shape is within the size limit: [`Shape::extent_product`] at most
    /// [`MAX_ELEMENTS`].
    pub fn within_limit(&self) -> bool {
        self.extent_product().is_some_and(|n| n <= MAX_ELEMENTS)
    }

    /// Row-major strides in elements.
    pub fn strides(&self) -> Vec<usize> {
        let mut s = vec![0; self.rank()];
        let mut acc = 1usize;
        for (i, &d) in self.0.iter().enumerate().rev() {
            s[i] = acc;
            acc = acc.saturating_mul(d);
        }
        s
    }
}

impl fmt::Display for Shape {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[")?;
        for (i, d) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{d}")?;
        }
        f.write_str("]")
    }
}

impl From<Vec<usize>> for Shape {
    fn from(v: Vec<usize>) -> Shape {
        Shape(Dims::from_slice(&v))
    }
}

impl From<&Vec<usize>> for Shape {
    fn from(v: &Vec<usize>) -> Shape {
        Shape(Dims::from_slice(v))
    }
}

impl From<&[usize]> for Shape {
    fn from(v: &[usize]) -> Shape {
        Shape(Dims::from_slice(v))
    }
}

impl<const N: usize> From<[usize; N]> for Shape {
    fn from(v: [usize; N]) -> Shape {
        Shape(Dims::from_slice(&v))
    }
}

impl<const N: usize> From<&[usize; N]> for Shape {
    fn from(v: &[usize; N]) -> Shape {
        Shape(Dims::from_slice(v))
    }
}

impl From<Dims> for Shape {
    fn from(v: Dims) -> Shape {
        Shape(v)
    }
}

impl From<&Shape> for Shape {
    fn from(v: &Shape) -> Shape {
        v.clone()
    }
}

/// `()` is the rank-0 shape (a scalar), as in `LazyTensor::zeros((), DType::F32)`.
impl From<()> for Shape {
    fn from(_: ()) -> Shape {
        Shape::scalar()
    }
}

/// A single `usize` is a rank-1 shape (torch's `zeros(5)`, candle's `Shape::from(5)`).
impl From<usize> for Shape {
    fn from(d: usize) -> Shape {
        Shape(Dims::from_slice(&[d]))
    }
}

/// Tuples of `usize` up to rank 6: `(2, 3)` is `[2, 3]`, as in candle.
macro_rules! shape_from_tuple {
    ($($d:ident),+) => {
        impl From<($(shape_from_tuple!(@usize $d),)+)> for Shape {
            fn from(($($d,)+): ($(shape_from_tuple!(@usize $d),)+)) -> Shape {
                Shape(Dims::from_slice(&[$($d),+]))
            }
        }
    };
    (@usize $d:ident) => { usize };
}
shape_from_tuple!(d0);
shape_from_tuple!(d0, d1);
shape_from_tuple!(d0, d1, d2);
shape_from_tuple!(d0, d1, d2, d3);
shape_from_tuple!(d0, d1, d2, d3, d4);
shape_from_tuple!(d0, d1, d2, d3, d4, d5);

/// The type of a tensor value: element type and shape. Printed as `f32[4, 8]`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct TensorType {
    /// Element type.
    pub dtype: DType,
    /// Dimensions, outermost first.
    pub shape: Shape,
}

impl TensorType {
    /// A type from its element type and dims (anything [`Shape::new`] accepts).
    pub fn new(dtype: DType, shape: impl Into<Shape>) -> TensorType {
        TensorType {
            dtype,
            shape: shape.into(),
        }
    }

    /// Size in bytes of a dense row-major buffer of this type (saturating; within the size
    /// limit it never saturates).
    pub fn size_bytes(&self) -> usize {
        self.shape.numel().saturating_mul(self.dtype.size_bytes())
    }

    /// Checks the size limit ([`MAX_ELEMENTS`]); the error names the type and the limit.
    ///
    /// ```
    /// use lazyjit_lowering::{DType, TensorType};
    /// assert!(TensorType::new(DType::F32, [1 << 20, 1 << 20]).check_limit().is_ok());
    /// let huge = TensorType::new(DType::F32, [1 << 32, 1 << 32]);
    /// assert!(huge.check_limit().unwrap_err().contains("f32[4294967296, 4294967296]"));
    /// // Empty dims do not hide huge ones.
    /// assert!(TensorType::new(DType::F32, [usize::MAX, 0]).check_limit().is_err());
    /// ```
    pub fn check_limit(&self) -> Result<(), String> {
        if self.shape.within_limit() {
            Ok(())
        } else {
            Err(format!(
                "{self} exceeds the size limit of 2^56 elements per value (empty dims counted as 1)"
            ))
        }
    }
}

impl fmt::Display for TensorType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}", self.dtype, self.shape)
    }
}

/// A scalar literal (constant values, pad values).
///
/// Floats compare and hash by bit pattern so that programs holding NaN constants
/// still compare equal to themselves (needed for lossless round-trips and caching).
#[derive(Copy, Clone, Debug)]
pub enum Scalar {
    /// A float literal, for a float dtype; converted with `as` (rounded to nearest for `f32`).
    Float(f64),
    /// An integer literal; fits any numeric dtype (`i32` only within its range, see
    /// [`Scalar::fits`]).
    Int(i64),
    /// A boolean literal.
    Bool(bool),
}

impl Scalar {
    /// The value converted to f64 (bool is 0 or 1).
    pub fn as_f64(self) -> f64 {
        match self {
            Scalar::Float(v) => v,
            Scalar::Int(v) => v as f64,
            Scalar::Bool(b) => b as i64 as f64,
        }
    }

    /// The value converted to i64 with Rust `as` semantics (saturating, NaN → 0).
    pub fn as_i64(self) -> i64 {
        match self {
            Scalar::Float(v) => v as i64,
            Scalar::Int(v) => v,
            Scalar::Bool(b) => b as i64,
        }
    }

    /// Non-zero (NaN counts as true, as a cast to bool does).
    pub fn as_bool(self) -> bool {
        match self {
            Scalar::Float(v) => v != 0.0,
            Scalar::Int(v) => v != 0,
            Scalar::Bool(b) => b,
        }
    }

    /// Whether this literal may be used for a tensor of `dtype`: floats need a float
    /// dtype, integers fit any numeric dtype (range-checked for i32), bools need bool.
    pub fn fits(self, dtype: DType) -> bool {
        match (self, dtype) {
            (Scalar::Float(_), d) => d.is_float(),
            (Scalar::Int(v), DType::I32) => i32::try_from(v).is_ok(),
            (Scalar::Int(_), d) => d.is_numeric(),
            (Scalar::Bool(_), d) => d == DType::Bool,
        }
    }

    fn key(&self) -> (u8, u64) {
        match *self {
            Scalar::Float(v) => (0, v.to_bits()),
            Scalar::Int(v) => (1, v as u64),
            Scalar::Bool(b) => (2, b as u64),
        }
    }
}

impl PartialEq for Scalar {
    fn eq(&self, other: &Self) -> bool {
        self.key() == other.key()
    }
}

impl Eq for Scalar {}

impl std::hash::Hash for Scalar {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.key().hash(state)
    }
}

impl fmt::Display for Scalar {
    /// Floats print so that they parse back to the same bits: `inf`, `-inf`, `nan`
    /// and Rust's shortest round-trip form with a `.` or exponent always present.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Scalar::Float(v) => {
                if v.is_nan() {
                    f.write_str("nan")
                } else if v.is_infinite() {
                    f.write_str(if v > 0.0 { "inf" } else { "-inf" })
                } else {
                    let s = format!("{v:?}");
                    f.write_str(&s)
                }
            }
            Scalar::Int(v) => write!(f, "{v}"),
            Scalar::Bool(b) => write!(f, "{b}"),
        }
    }
}
