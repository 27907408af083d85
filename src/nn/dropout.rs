//! [`Dropout`]: random masks drawn inside the graph (Philox), a new one every step without
//! a new graph.

use super::Module;
use crate::error::{Error, Result, SourceLoc};
use crate::tensor::LazyTensor;
use std::sync::atomic::{AtomicU64, Ordering};

/// The seed sequence of [`Dropout::new`].
static NEXT_SEED: AtomicU64 = AtomicU64::new(0x5EED_0000);

/// Dropout: in training mode, zeroes each element with probability `p` and scales the
/// others by `1/(1-p)`; in evaluation mode, the identity (PyTorch's `nn.Dropout`).
///
/// The mask is drawn in the graph by `random_uniform` (Philox4x32-10) under the layer's
/// seed, at a counter offset that advances by one every training-mode forward pass. Seed
/// and offset enter the graph as rank-0 `i64` data tensors, so every step draws a new mask
/// from the same compiled graph, and a layer built with the same seed replays the same
/// masks bit for bit.
///
/// ```
/// use lazyjit::nn::{Dropout, Module};
/// use lazyjit::LazyTensor;
/// let mut drop = Dropout::with_seed(0.5, 1)?;
/// let x = LazyTensor::from_vec(vec![1.0f32; 1000], &[1000])?;
/// let y = drop.forward(&x)?.to_vec::<f32>()?;
/// // Every element is dropped (0) or kept and scaled by 1/(1-p) = 2.
/// assert!(y.iter().all(|&v| v == 0.0 || v == 2.0));
/// let dropped = y.iter().filter(|&&v| v == 0.0).count();
/// assert!((400..600).contains(&dropped));
/// // The next call draws another mask; a layer with the same seed replays the first.
/// assert_ne!(drop.forward(&x)?.to_vec::<f32>()?, y);
/// assert_eq!(Dropout::with_seed(0.5, 1)?.forward(&x)?.to_vec::<f32>()?, y);
/// // Evaluation mode is the identity.
/// drop.eval();
/// assert_eq!(drop.forward(&x)?.to_vec::<f32>()?, vec![1.0f32; 1000]);
/// # Ok::<(), lazyjit::Error>(())
/// ```
#[derive(Debug)]
pub struct Dropout {
    p: f64,
    seed: u64,
    offset: AtomicU64,
    training: bool,
}

impl Dropout {
    /// Dropout with probability `p` in `[0, 1]` and the next seed of a process-wide
    /// sequence (distinct layers get distinct masks). Use [`Dropout::with_seed`] for a run
    /// that must be reproducible whatever else creates layers.
    #[track_caller]
    pub fn new(p: f64) -> Result<Dropout> {
        let seed = NEXT_SEED.fetch_add(1, Ordering::Relaxed);
        Dropout::with_seed(p, seed)
    }

    /// Dropout with probability `p` in `[0, 1]` and masks from `seed`.
    #[track_caller]
    pub fn with_seed(p: f64, seed: u64) -> Result<Dropout> {
        if !(0.0..=1.0).contains(&p) {
            return Err(Error::op(
                "Dropout::new",
                format!("the probability must be in [0, 1], got {p}"),
                SourceLoc::caller(),
            ));
        }
        Ok(Dropout {
            p,
            seed,
            offset: AtomicU64::new(0),
            training: true,
        })
    }

    /// The drop probability.
    pub fn p(&self) -> f64 {
        self.p
    }

    /// The seed of the masks.
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// The counter offset the next training-mode forward pass draws at (the number of
    /// masks drawn so far, unless set).
    pub fn offset(&self) -> u64 {
        self.offset.load(Ordering::Relaxed)
    }

    /// Sets the offset of the next mask (to resume a run where it stopped).
    pub fn set_offset(&self, offset: u64) {
        self.offset.store(offset, Ordering::Relaxed);
    }
}

impl Clone for Dropout {
    fn clone(&self) -> Dropout {
        Dropout {
            p: self.p,
            seed: self.seed,
            offset: AtomicU64::new(self.offset()),
            training: self.training,
        }
    }
}

impl Module for Dropout {
    #[track_caller]
    fn forward(&self, x: &LazyTensor) -> Result<LazyTensor> {
        let loc = SourceLoc::caller();
        if !self.training || self.p == 0.0 {
            return Ok(x.clone());
        }
        if !x.dtype().is_float() {
            return Err(Error::op(
                "dropout",
                format!("expects a float tensor, got {}", x.ty()),
                loc,
            ));
        }
        if self.p == 1.0 {
            return x.mul_scalar(0.0);
        }
        let offset = self.offset.fetch_add(1, Ordering::Relaxed);
        // Data tensors, not `LazyTensor::scalar`: 0 and 1 would be inlined as constants
        // and the first steps would compile graphs of their own.
        let seed = LazyTensor::from_vec(vec![self.seed as i64], &[])?;
        let offset = LazyTensor::from_vec(vec![offset as i64], &[])?;
        let u = LazyTensor::random_uniform(x.shape(), x.dtype(), &seed, &offset)?;
        // P(u >= p) = 1 - p for u uniform in [0, 1).
        let keep = u.ge_scalar(self.p)?.cast(x.dtype())?;
        let scaled_mask = keep.mul_scalar(1.0 / (1.0 - self.p))?;
        x.mul(&scaled_mask)
    }

    fn visit(&self, _prefix: &str, _f: &mut dyn FnMut(&str, &LazyTensor)) {}

    fn visit_mut(&mut self, _prefix: &str, _f: &mut dyn FnMut(&str, &mut LazyTensor)) {}

    fn train(&mut self, on: bool) {
        self.training = on;
    }

    fn is_training(&self) -> bool {
        self.training
    }
}
