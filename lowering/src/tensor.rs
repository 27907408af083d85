//! Host tensors: dense row-major data in aligned buffers, typed by a [`TensorType`].

use crate::error::Error;
use crate::types::{DType, Shape, TensorType};
use ndarray::{ArrayD, IxDyn};
use std::alloc::{self, Layout};
use std::ptr::NonNull;

/// Buffers at least this large are 2 MiB-aligned and advised for transparent huge pages.
const HUGE_THRESHOLD: usize = 4 << 20;
const HUGE_ALIGN: usize = 2 << 20;
const ALIGN: usize = 64;

/// A zero-initialised, 64-byte aligned byte buffer. Buffers of several MiB are mapped directly
/// (2 MiB-aligned) and advised for transparent huge pages *before* their first touch — advice
/// given after the allocator has zeroed the pages comes too late and leaves 4 KiB pages.
pub struct Buffer {
    ptr: NonNull<u8>,
    len: usize,
    backing: Backing,
}

enum Backing {
    Heap(Layout),
    /// An anonymous mapping starting at `base` of `size` bytes; `ptr` is 2 MiB-aligned inside.
    Map {
        base: *mut libc::c_void,
        size: usize,
    },
}

// SAFETY: Buffer owns its allocation exclusively (like Vec<u8>); no interior mutability.
unsafe impl Send for Buffer {}
// SAFETY: shared access only reads through &self.
unsafe impl Sync for Buffer {}

impl Buffer {
    /// Allocates `len` zeroed bytes; aborts on allocation failure like `Vec` (use
    /// [`Buffer::try_zeroed`] for sizes that come from user input).
    pub fn zeroed(len: usize) -> Buffer {
        match Buffer::try_zeroed(len) {
            Ok(b) => b,
            Err(_) => alloc::handle_alloc_error(Layout::new::<u8>()),
        }
    }

    /// Allocates `len` zeroed bytes, or says why it cannot.
    pub fn try_zeroed(len: usize) -> Result<Buffer, Error> {
        if len >= HUGE_THRESHOLD {
            if let Some(b) = Buffer::mapped(len) {
                return Ok(b);
            }
        }
        // At least one alignment unit, so the pointer is never dangling and a zero-length
        // buffer still has a valid, aligned address.
        let size = len
            .max(1)
            .checked_next_multiple_of(ALIGN)
            .filter(|&s| s <= isize::MAX as usize)
            .ok_or_else(|| Error::Data(format!("cannot allocate a buffer of {len} bytes")))?;
        if size <= SMALL_MAX {
            if let Some(r) = small::take(size) {
                // SAFETY: a kept heap buffer of `size` bytes, exclusively ours.
                unsafe { std::ptr::write_bytes(r.ptr.as_ptr(), 0, size) };
                return Ok(Buffer {
                    ptr: r.ptr,
                    len,
                    backing: r.backing,
                });
            }
        }
        let layout = Layout::from_size_align(size, ALIGN)
            .map_err(|e| Error::Data(format!("cannot allocate a buffer of {len} bytes: {e}")))?;
        // SAFETY: layout has non-zero size.
        let raw = unsafe { alloc::alloc_zeroed(layout) };
        let ptr = NonNull::new(raw)
            .ok_or_else(|| Error::Data(format!("out of memory allocating {len} bytes")))?;
        Ok(Buffer {
            ptr,
            len,
            backing: Backing::Heap(layout),
        })
    }

    /// A fresh anonymous mapping (zero pages, untouched), 2 MiB-aligned and advised for huge
    /// pages; `None` if the kernel refuses, and the caller falls back to the heap.
    fn mapped(len: usize) -> Option<Buffer> {
        let size = len
            .checked_next_multiple_of(HUGE_ALIGN)?
            .checked_add(HUGE_ALIGN)?;
        // SAFETY: an anonymous private mapping at an address of the kernel's choice touches no
        // existing memory.
        let base = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                size,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        if base == libc::MAP_FAILED {
            return None;
        }
        let offset = (HUGE_ALIGN - (base as usize) % HUGE_ALIGN) % HUGE_ALIGN;
        // SAFETY: offset < HUGE_ALIGN and the mapping is size = rounded len + HUGE_ALIGN bytes,
        // so [ptr, ptr + len) lies inside it.
        let ptr = unsafe { base.cast::<u8>().add(offset) };
        // SAFETY: the range is inside our own fresh mapping; MADV_HUGEPAGE only changes the
        // paging policy. Failure is harmless (4 KiB pages), so it is ignored.
        unsafe {
            libc::madvise(ptr.cast(), size - offset, libc::MADV_HUGEPAGE);
        }
        Some(Buffer {
            ptr: NonNull::new(ptr)?,
            len,
            backing: Backing::Map { base, size },
        })
    }

    /// Length in bytes.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the buffer holds no bytes (its pointer is still valid and aligned).
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Start of the data, 64-byte aligned (2 MiB for mapped buffers); never null.
    pub fn as_ptr(&self) -> *const u8 {
        self.ptr.as_ptr()
    }

    /// Start of the data for writing; same address as [`Buffer::as_ptr`].
    pub fn as_mut_ptr(&mut self) -> *mut u8 {
        self.ptr.as_ptr()
    }

    /// The bytes.
    pub fn as_bytes(&self) -> &[u8] {
        // SAFETY: ptr is valid for len initialised (zeroed or written) bytes we own.
        unsafe { std::slice::from_raw_parts(self.ptr.as_ptr(), self.len) }
    }

    /// The bytes, writable.
    pub fn as_bytes_mut(&mut self) -> &mut [u8] {
        // SAFETY: as above, and &mut self gives exclusive access.
        unsafe { std::slice::from_raw_parts_mut(self.ptr.as_ptr(), self.len) }
    }
}

impl Drop for Buffer {
    fn drop(&mut self) {
        if let Backing::Heap(layout) = self.backing {
            if layout.size() <= SMALL_MAX {
                let raw = RawBuf {
                    ptr: self.ptr,
                    len: self.len,
                    backing: Backing::Heap(layout),
                };
                if let Some(raw) = small::give(raw) {
                    raw.free();
                }
                return;
            }
        }
        if self.len >= POOL_MIN {
            let raw = RawBuf {
                ptr: self.ptr,
                len: self.len,
                backing: std::mem::replace(&mut self.backing, Backing::Heap(Layout::new::<u8>())),
            };
            if let Some(raw) = pool::give(raw) {
                raw.free();
            }
            return;
        }
        RawBuf {
            ptr: self.ptr,
            len: self.len,
            backing: std::mem::replace(&mut self.backing, Backing::Heap(Layout::new::<u8>())),
        }
        .free();
    }
}

/// The parts of a buffer, owned without a destructor: freed explicitly, or parked in the
/// recycling pool.
struct RawBuf {
    ptr: NonNull<u8>,
    len: usize,
    backing: Backing,
}

// SAFETY: a RawBuf exclusively owns its allocation, like Buffer.
unsafe impl Send for RawBuf {}

impl RawBuf {
    fn free(self) {
        match self.backing {
            // SAFETY: allocated in `try_zeroed` with exactly this layout, freed once (a
            // RawBuf is consumed by `free`).
            Backing::Heap(layout) => unsafe { alloc::dealloc(self.ptr.as_ptr(), layout) },
            // SAFETY: the mapping was created in `mapped` with this base and size and is
            // unmapped exactly once, here.
            Backing::Map { base, size } => unsafe {
                libc::munmap(base, size);
            },
        }
    }
}

/// Heap buffers up to this size are kept per thread when dropped and reused by the next
/// allocation of the same size: 64-byte-aligned allocation is slow in glibc (hundreds of
/// instructions), and a steady-state loop over small tensors allocates and frees the same
/// sizes every step.
pub const SMALL_MAX: usize = 4096;

mod small {
    use super::{Backing, RawBuf, ALIGN, SMALL_MAX};
    use std::cell::RefCell;

    /// Buffers kept per size class (multiples of ALIGN up to SMALL_MAX).
    const PER_CLASS: usize = 32;

    struct Cache(Vec<Vec<RawBuf>>);

    impl Drop for Cache {
        fn drop(&mut self) {
            for class in self.0.drain(..) {
                for b in class {
                    b.free();
                }
            }
        }
    }

    thread_local! {
        static CACHE: RefCell<Cache> = const { RefCell::new(Cache(Vec::new())) };
    }

    fn class(size: usize) -> usize {
        size / ALIGN - 1
    }

    /// Keeps `b` for reuse on this thread, or hands it back (class full, thread exiting).
    pub(super) fn give(b: RawBuf) -> Option<RawBuf> {
        let size = match b.backing {
            Backing::Heap(l) => l.size(),
            Backing::Map { .. } => return Some(b),
        };
        let mut b = Some(b);
        let _ = CACHE.try_with(|c| {
            let mut c = c.borrow_mut();
            let k = class(size);
            if c.0.len() <= k {
                c.0.resize_with(SMALL_MAX / ALIGN, Vec::new);
            }
            if c.0[k].len() < PER_CLASS {
                c.0[k].push(b.take().expect("present"));
            }
        });
        b
    }

    /// A kept buffer of exactly `size` bytes (a multiple of ALIGN), if any.
    pub(super) fn take(size: usize) -> Option<RawBuf> {
        CACHE
            .try_with(|c| c.borrow_mut().0.get_mut(class(size)).and_then(|v| v.pop()))
            .ok()
            .flatten()
    }
}

/// Buffers at least this large are recycled when dropped (the pool of `tensor/pool.rs`,
/// see [`set_pool_limit`] and [`pool_stats`]): a steady-state loop that frees and allocates
/// same-sized tensors every step then skips the kernel's page faults and zeroing
/// (milliseconds for tens of MiB).
pub const POOL_MIN: usize = 64 << 10;
mod pool;

pub use pool::{
    pool_limit, pool_stats, reset_pool_counters, set_pool_limit, PoolStats, POOL_MAX_BYTES,
};

impl Buffer {
    /// A buffer of `len` bytes whose contents are unspecified: a recycled buffer of the same
    /// size holding old (initialised) data when one is parked, else fresh zeroed memory.
    /// For outputs that are written completely before they are read.
    pub fn try_recycled(len: usize) -> Result<Buffer, Error> {
        if len >= POOL_MIN {
            if let Some(r) = pool::take(len) {
                return Ok(Buffer {
                    ptr: r.ptr,
                    len: r.len,
                    backing: r.backing,
                });
            }
        }
        Buffer::try_zeroed(len)
    }

    /// Frees every buffer parked for recycling; returns the bytes released.
    pub fn release_pool() -> usize {
        pool::drain()
    }
}

impl Clone for Buffer {
    fn clone(&self) -> Buffer {
        let mut b = Buffer::zeroed(self.len);
        b.as_bytes_mut().copy_from_slice(self.as_bytes());
        b
    }
}

impl std::fmt::Debug for Buffer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Buffer({} bytes)", self.len)
    }
}

/// Rust element types that tensors hold.
pub trait Element: Copy + Default + PartialEq + std::fmt::Debug + Send + Sync + 'static {
    /// The dtype whose elements are stored as this Rust type.
    const DTYPE: DType;
}

impl Element for f32 {
    const DTYPE: DType = DType::F32;
}
impl Element for f64 {
    const DTYPE: DType = DType::F64;
}
impl Element for i32 {
    const DTYPE: DType = DType::I32;
}
impl Element for i64 {
    const DTYPE: DType = DType::I64;
}
impl Element for bool {
    const DTYPE: DType = DType::Bool;
}

/// Bytes of a tensor of type `ty`, or an error if the type is beyond the size limit
/// ([`crate::types::MAX_ELEMENTS`]; within it the byte count cannot overflow).
fn byte_size(ty: &TensorType) -> Result<usize, Error> {
    ty.check_limit().map_err(Error::Data)?;
    Ok(ty.size_bytes())
}

/// A dense row-major host tensor.
///
/// Invariants that generated code and [`Tensor::as_slice`] rely on, which safe code cannot
/// break: the type is within the size limit ([`crate::types::MAX_ELEMENTS`]), the buffer
/// holds exactly the type's byte size, and every element is a valid value of its dtype
/// (bools are 0 or 1). Data is written only through typed slices; the buffer cannot be
/// replaced or written as bytes:
///
/// ```compile_fail
/// use lazyjit_lowering::{DType, Tensor, TensorType};
/// let mut t = Tensor::zeros(TensorType::new(DType::Bool, [4])).unwrap();
/// *t.buffer_mut() = lazyjit_lowering::Buffer::zeroed(1); // not public
/// ```
///
/// ```compile_fail
/// use lazyjit_lowering::{DType, Tensor, TensorType};
/// let t = Tensor::zeros(TensorType::new(DType::Bool, [4])).unwrap();
/// let mut b = t.buffer().clone();
/// b.as_bytes_mut()[0] = 2; // a copy of the bytes is not the tensor's buffer...
/// let _ = Tensor { ty: t.ty().clone(), buf: b }; // ...and fields are private
/// ```
///
/// ```
/// use lazyjit_lowering::{DType, Tensor, TensorType};
/// let mut t = Tensor::zeros(TensorType::new(DType::Bool, [4])).unwrap();
/// t.as_mut_slice::<bool>().unwrap()[2] = true; // typed: only valid bools
/// assert_eq!(t.as_slice::<bool>().unwrap(), &[false, false, true, false]);
/// ```
///
/// ```compile_fail
/// use lazyjit_lowering::{DType, Tensor, TensorType};
/// let mut t = Tensor::zeros(TensorType::new(DType::Bool, [4])).unwrap();
/// t.as_mut_slice::<u8>().unwrap()[0] = 2; // u8 is not an element type
/// ```
#[derive(Clone, Debug)]
pub struct Tensor {
    ty: TensorType,
    buf: Buffer,
}

impl Tensor {
    /// All-zero (false) tensor of type `ty`, or an error if the type is beyond the size
    /// limit or the memory cannot be allocated.
    ///
    /// ```
    /// use lazyjit_lowering::{DType, Tensor, TensorType};
    /// let t = Tensor::zeros(TensorType::new(DType::I32, [2, 3])).unwrap();
    /// assert_eq!(t.as_slice::<i32>().unwrap(), &[0; 6]);
    /// assert!(Tensor::zeros(TensorType::new(DType::F32, [1 << 50])).is_err()); // 4 PiB
    /// ```
    pub fn zeros(ty: TensorType) -> Result<Tensor, Error> {
        let bytes = byte_size(&ty)?;
        Ok(Tensor {
            buf: Buffer::try_zeroed(bytes)?,
            ty,
        })
    }

    /// A tensor of type `ty` with unspecified contents (recycled memory of a dropped tensor,
    /// or zeros), for outputs that are overwritten completely. Bool tensors are always
    /// zeroed, since only 0 and 1 are valid bools.
    pub fn try_recycled(ty: TensorType) -> Result<Tensor, Error> {
        if ty.dtype == DType::Bool {
            return Tensor::zeros(ty);
        }
        let bytes = byte_size(&ty)?;
        Ok(Tensor {
            buf: Buffer::try_recycled(bytes)?,
            ty,
        })
    }

    /// A tensor of `shape` holding `data` in row-major order. Data comes first, then the
    /// shape, as in `lazyjit::LazyTensor::from_vec` and candle.
    ///
    /// ```
    /// use lazyjit_lowering::Tensor;
    /// let t = Tensor::from_vec(vec![1.0f32, 2.0, 3.0, 4.0], vec![2, 2]).unwrap();
    /// assert_eq!(t.as_slice::<f32>().unwrap(), &[1.0, 2.0, 3.0, 4.0]);
    /// ```
    pub fn from_vec<T: Element>(data: Vec<T>, shape: impl Into<Shape>) -> Result<Tensor, Error> {
        Tensor::from_slice(&data, shape)
    }

    /// Like [`Tensor::from_vec`], copying from a slice.
    pub fn from_slice<T: Element>(data: &[T], shape: impl Into<Shape>) -> Result<Tensor, Error> {
        let shape = shape.into();
        if shape.checked_numel() != Some(data.len()) {
            return Err(Error::Data(format!(
                "a tensor of shape {shape} needs {} elements, got {}",
                shape.numel(),
                data.len()
            )));
        }
        let mut t = Tensor::zeros(TensorType::new(T::DTYPE, shape))?;
        t.as_mut_slice::<T>()?.copy_from_slice(data);
        Ok(t)
    }

    /// A scalar (rank-0) tensor.
    pub fn scalar<T: Element>(v: T) -> Tensor {
        let ty = TensorType::new(T::DTYPE, Shape::scalar());
        let mut t = Tensor {
            buf: Buffer::zeroed(ty.size_bytes()),
            ty,
        };
        // The dtype is T's, so the slice is always there (one element).
        if let Ok([x]) = t.as_mut_slice::<T>() {
            *x = v;
        }
        t
    }

    /// Copies an ndarray (any layout) into a row-major tensor, or an error if the tensor is
    /// beyond the size limit or cannot be allocated.
    pub fn from_array<T: Element>(a: &ArrayD<T>) -> Result<Tensor, Error> {
        let mut t = Tensor::zeros(TensorType::new(T::DTYPE, a.shape().to_vec()))?;
        let dst = t.as_mut_slice::<T>()?;
        for (d, s) in dst.iter_mut().zip(a.iter()) {
            *d = *s;
        }
        Ok(t)
    }

    /// Copies the data into an ndarray; errors if `T` is not the tensor's dtype.
    pub fn to_array<T: Element>(&self) -> Result<ArrayD<T>, Error> {
        let v = self.as_slice::<T>()?.to_vec();
        ArrayD::from_shape_vec(IxDyn(self.ty.shape.dims()), v)
            .map_err(|e| Error::Data(format!("to_array: {e}")))
    }

    /// Element type and shape.
    pub fn ty(&self) -> &TensorType {
        &self.ty
    }

    /// Element type.
    pub fn dtype(&self) -> DType {
        self.ty.dtype
    }

    /// Dimensions, outermost first.
    pub fn shape(&self) -> &Shape {
        &self.ty.shape
    }

    /// Number of elements (1 for rank 0).
    pub fn numel(&self) -> usize {
        self.ty.shape.numel()
    }

    /// The backing bytes: [`Tensor::numel`] elements of the dtype's size, row-major.
    pub fn buffer(&self) -> &Buffer {
        &self.buf
    }

    /// The buffer, writable, for generated code and this crate only: a public `&mut Buffer`
    /// would let safe code swap in a buffer of the wrong size or write bytes that are not
    /// valid elements (a bool byte of 2), breaking what [`Tensor::as_slice`] relies on.
    pub(crate) fn buffer_mut(&mut self) -> &mut Buffer {
        &mut self.buf
    }

    /// Overwrites the elements with `src`'s, which must be of the same type (no allocation).
    ///
    /// ```
    /// use lazyjit_lowering::Tensor;
    /// let mut a = Tensor::from_vec(vec![1i64, 2], vec![2]).unwrap();
    /// a.copy_from(&Tensor::from_vec(vec![7i64, 8], vec![2]).unwrap()).unwrap();
    /// assert_eq!(a.as_slice::<i64>().unwrap(), &[7, 8]);
    /// assert!(a.copy_from(&Tensor::scalar(1i64)).is_err());
    /// ```
    pub fn copy_from(&mut self, src: &Tensor) -> Result<(), Error> {
        if self.ty != src.ty {
            return Err(Error::Input(format!(
                "copy of a {} tensor into a {} tensor",
                src.ty, self.ty
            )));
        }
        // Same type, so the same byte length, and the bytes are valid elements of it.
        self.buf.as_bytes_mut().copy_from_slice(src.buf.as_bytes());
        Ok(())
    }

    fn check_dtype<T: Element>(&self) -> Result<(), Error> {
        if T::DTYPE == self.ty.dtype {
            Ok(())
        } else {
            Err(Error::Data(format!(
                "tensor of type {} read as {}",
                self.ty,
                T::DTYPE
            )))
        }
    }

    /// The elements as a slice; errors if `T` is not the tensor's dtype.
    pub fn as_slice<T: Element>(&self) -> Result<&[T], Error> {
        self.check_dtype::<T>()?;
        // SAFETY: the buffer is 64-byte aligned and holds numel * size_of::<T>() initialised
        // bytes: it is allocated with the type's size by every constructor, and no public API
        // replaces it (`buffer_mut` is crate-private). Every byte pattern written to it is a
        // valid T: safe code writes only through `as_mut_slice::<T>` (typed, so bools are 0
        // or 1), and generated code writes bools as 0 or 1.
        Ok(unsafe { std::slice::from_raw_parts(self.buf.as_ptr().cast::<T>(), self.numel()) })
    }

    /// The elements as a mutable slice; errors if `T` is not the tensor's dtype.
    pub fn as_mut_slice<T: Element>(&mut self) -> Result<&mut [T], Error> {
        self.check_dtype::<T>()?;
        let n = self.numel();
        // SAFETY: as in `as_slice`, with exclusive access through &mut self.
        Ok(unsafe { std::slice::from_raw_parts_mut(self.buf.as_mut_ptr().cast::<T>(), n) })
    }

    /// Element `i` (row-major) converted to f64, for printing and comparisons in tests.
    pub fn get_f64(&self, i: usize) -> Option<f64> {
        if i >= self.numel() {
            return None;
        }
        let b = self.buf.as_bytes();
        let sz = self.ty.dtype.size_bytes();
        let bytes = &b[i * sz..(i + 1) * sz];
        Some(match self.ty.dtype {
            DType::F32 => f32::from_ne_bytes(bytes.try_into().ok()?) as f64,
            DType::F64 => f64::from_ne_bytes(bytes.try_into().ok()?),
            DType::I32 => i32::from_ne_bytes(bytes.try_into().ok()?) as f64,
            DType::I64 => i64::from_ne_bytes(bytes.try_into().ok()?) as f64,
            DType::Bool => (bytes[0] != 0) as i64 as f64,
        })
    }

    /// All elements converted to f64 (row-major).
    pub fn to_f64_vec(&self) -> Vec<f64> {
        (0..self.numel()).filter_map(|i| self.get_f64(i)).collect()
    }
}

impl PartialEq for Tensor {
    /// Same type and the same bytes (so NaN equals NaN with the same bits).
    fn eq(&self, o: &Tensor) -> bool {
        self.ty == o.ty && self.buf.as_bytes() == o.buf.as_bytes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buffers_are_aligned_zeroed_and_writable() {
        for len in [0, 1, 63, 4096, (4 << 20) - 1, 4 << 20, (5 << 20) + 3] {
            let mut b = Buffer::zeroed(len);
            let align = if len >= HUGE_THRESHOLD {
                HUGE_ALIGN
            } else {
                ALIGN
            };
            assert_eq!(b.as_ptr() as usize % align, 0, "len {len}");
            assert_eq!(b.len(), len);
            assert!(b.as_bytes().iter().all(|&x| x == 0));
            b.as_bytes_mut().iter_mut().for_each(|x| *x = 7);
            let c = b.clone();
            assert!(c.as_bytes().iter().all(|&x| x == 7));
        }
    }

    #[test]
    fn dropped_large_buffers_are_recycled_by_size() {
        // A size no other test uses, so parallel tests cannot take our buffer.
        let len = POOL_MIN + 4096 * 7 + 64;
        let mut a = Buffer::try_recycled(len).unwrap();
        a.as_bytes_mut().fill(0xab);
        let p = a.as_ptr() as usize;
        drop(a);
        let b = Buffer::try_recycled(len).unwrap();
        assert_eq!(b.as_ptr() as usize, p, "same allocation handed back");
        assert_eq!(b.len(), len);
        assert!(
            b.as_bytes().iter().all(|&x| x == 0xab),
            "contents are the old data"
        );
        // Zeroed allocations never come from the pool.
        let z = Buffer::try_zeroed(len).unwrap();
        assert!(z.as_bytes().iter().all(|&x| x == 0));
        // Small buffers are not pooled; bool tensors are always zeroed.
        let t = Tensor::try_recycled(TensorType::new(DType::Bool, [len])).unwrap();
        assert!(t.as_slice::<bool>().unwrap().iter().all(|&x| !x));
        drop((b, z, t));
        assert!(Buffer::release_pool() >= len);
    }

    #[test]
    fn impossible_sizes_are_errors() {
        assert!(Buffer::try_zeroed(usize::MAX).is_err());
        assert!(Buffer::try_zeroed(isize::MAX as usize).is_err());
    }
}
