//! The process-wide default random generator (torch's default CPU generator): what
//! [`LazyTensor::randn`](super::LazyTensor::randn), [`LazyTensor::rand`](super::LazyTensor::rand)
//! and the other unseeded constructors draw from, reset by [`manual_seed`].
//!
//! One generator for the whole process, behind a mutex: every thread draws from the same
//! stream, so a program that draws from several threads at once gets an order that depends
//! on scheduling. Reproducible runs seed once and draw from one thread, or use the `_seeded`
//! constructors, which never touch this generator.

use rand::rngs::StdRng;
use rand::{RngCore, SeedableRng};
use std::sync::{Mutex, MutexGuard};

struct Generator {
    seed: u64,
    rng: StdRng,
}

impl Generator {
    fn seeded(seed: u64) -> Generator {
        Generator {
            seed,
            rng: StdRng::seed_from_u64(seed),
        }
    }
}

/// `None` until the first draw or [`manual_seed`]: an unseeded process starts from a
/// seed taken from the operating system, as torch does.
static DEFAULT: Mutex<Option<Generator>> = Mutex::new(None);

fn lock() -> MutexGuard<'static, Option<Generator>> {
    // A panic while holding the lock cannot leave the generator half-updated (every update
    // is one assignment or one draw), so a poisoned lock is still usable.
    DEFAULT.lock().unwrap_or_else(|p| p.into_inner())
}

/// Seeds the process-wide default generator (torch `manual_seed`): every later draw of
/// [`LazyTensor::randn`](crate::LazyTensor::randn), [`LazyTensor::rand`](crate::LazyTensor::rand),
/// [`LazyTensor::normal`](crate::LazyTensor::normal),
/// [`LazyTensor::rand_uniform`](crate::LazyTensor::rand_uniform) and [`next_seed`] follows
/// from `seed`, so a run that seeds once and draws in one order is reproducible bit for bit.
///
/// The generator is shared by all threads (draws from several threads interleave in
/// scheduling order); the `_seeded` constructors take their own seed and leave it alone.
///
/// ```
/// use lazyjit::{manual_seed, DType, LazyTensor};
/// manual_seed(7);
/// let a = LazyTensor::randn((2, 3), DType::F32)?.to_vec::<f32>()?;
/// manual_seed(7);
/// let b = LazyTensor::randn((2, 3), DType::F32)?.to_vec::<f32>()?;
/// assert_eq!(a, b);
/// assert_eq!(lazyjit::initial_seed(), 7);
/// # Ok::<(), lazyjit::Error>(())
/// ```
pub fn manual_seed(seed: u64) {
    *lock() = Some(Generator::seeded(seed));
}

/// The seed the default generator started from: the last [`manual_seed`], or the one taken
/// from the operating system if it was never seeded (torch `initial_seed`).
///
/// ```
/// lazyjit::manual_seed(123);
/// assert_eq!(lazyjit::initial_seed(), 123);
/// ```
pub fn initial_seed() -> u64 {
    with_default(|g| g.seed)
}

/// A fresh `u64` from the default generator: the seed for an API that takes one
/// (`nn::Linear::new`, a dataset's shuffling), so a single [`manual_seed`] fixes them all.
///
/// ```
/// use lazyjit::nn::Linear;
/// lazyjit::manual_seed(1);
/// let a = Linear::new(4, 3, lazyjit::next_seed())?;
/// lazyjit::manual_seed(1);
/// let b = Linear::new(4, 3, lazyjit::next_seed())?;
/// assert_eq!(a.weight().to_vec::<f32>()?, b.weight().to_vec::<f32>()?);
/// # Ok::<(), lazyjit::Error>(())
/// ```
pub fn next_seed() -> u64 {
    with_default(|g| g.rng.next_u64())
}

fn with_default<R>(f: impl FnOnce(&mut Generator) -> R) -> R {
    let mut g = lock();
    let g = g.get_or_insert_with(|| Generator::seeded(rand::random()));
    f(g)
}
