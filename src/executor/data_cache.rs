//! The device-data cache: scalars from Rust numbers, shared by value.
//!
//! `LazyTensor::scalar(0.01)` in a training loop would otherwise allocate a new buffer
//! every step; the cache hands out one read-only buffer per (dtype, value). The value is
//! a parameter of the graph, never part of its hash.

use lazyjit_lowering::{DType, Scalar, Tensor};
use rustc_hash::FxHashMap;
use std::sync::Arc;

/// A tensor holding `s`: rank-0 of `dtype`.
pub(crate) fn scalar_tensor(dtype: DType, s: Scalar) -> Tensor {
    match dtype {
        DType::F32 => Tensor::scalar(s.as_f64() as f32),
        DType::F64 => Tensor::scalar(s.as_f64()),
        DType::I32 => Tensor::scalar(s.as_i64() as i32),
        DType::I64 => Tensor::scalar(s.as_i64()),
        DType::Bool => Tensor::scalar(s.as_bool()),
    }
}

pub(crate) struct DataCache {
    map: FxHashMap<(DType, Scalar), (Arc<Tensor>, u64)>,
    tick: u64,
}

impl DataCache {
    pub fn new() -> DataCache {
        DataCache {
            map: FxHashMap::default(),
            tick: 0,
        }
    }

    /// The shared tensor for `value`, made by `make` on a miss. Returns (tensor, hit).
    pub fn get_or_insert(
        &mut self,
        dtype: DType,
        value: Scalar,
        capacity: usize,
        make: impl FnOnce() -> Tensor,
    ) -> (Arc<Tensor>, bool) {
        self.tick += 1;
        let tick = self.tick;
        if let Some((t, used)) = self.map.get_mut(&(dtype, value)) {
            *used = tick;
            return (t.clone(), true);
        }
        let t = Arc::new(make());
        if capacity == 0 {
            return (t, false);
        }
        while self.map.len() >= capacity {
            let oldest = self
                .map
                .iter()
                .min_by_key(|(_, (_, u))| *u)
                .map(|(k, _)| *k);
            match oldest {
                Some(k) => self.map.remove(&k),
                None => break,
            };
        }
        self.map.insert((dtype, value), (t.clone(), tick));
        (t, false)
    }

    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn clear(&mut self) {
        self.map.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_by_value_and_evicts_lru() {
        let mut c = DataCache::new();
        let (a, hit) =
            c.get_or_insert(DType::F32, Scalar::Float(0.5), 2, || Tensor::scalar(0.5f32));
        assert!(!hit);
        let (b, hit) = c.get_or_insert(DType::F32, Scalar::Float(0.5), 2, || unreachable!());
        assert!(hit && Arc::ptr_eq(&a, &b));
        c.get_or_insert(DType::F64, Scalar::Float(0.5), 2, || Tensor::scalar(0.5f64));
        c.get_or_insert(DType::F32, Scalar::Float(0.5), 2, || unreachable!()); // refresh
        c.get_or_insert(DType::I32, Scalar::Int(3), 2, || Tensor::scalar(3i32));
        assert_eq!(c.len(), 2);
        let (_, hit) =
            c.get_or_insert(DType::F64, Scalar::Float(0.5), 2, || Tensor::scalar(0.5f64));
        assert!(!hit, "the f64 entry was the least recently used");
    }
}
