//! The computation cache: compiled graphs keyed by graph hash, least recently used evicted.

use crate::backend::Computation;
use crate::error::SourceLoc;
use rustc_hash::FxHashMap;
use std::sync::Arc;
use std::time::Duration;

/// One cached computation.
pub(crate) struct Entry {
    pub computation: Arc<dyn Computation>,
    /// Call sites of the roots that built the graph: cache misses are explained against
    /// the entry built from the same sites.
    pub sites: Vec<SourceLoc>,
    pub compile_time: Duration,
    pub hits: u64,
    last_use: u64,
}

/// LRU map from graph hash to computation. Lookups are O(1); an insert into a full cache
/// scans for the least recently used entry (O(capacity), paid only on a compile).
pub(crate) struct ComputationCache<K> {
    map: FxHashMap<K, Entry>,
    tick: u64,
    capacity: usize,
}

impl<K: Copy + Eq + std::hash::Hash> ComputationCache<K> {
    pub fn new(capacity: usize) -> ComputationCache<K> {
        ComputationCache {
            map: FxHashMap::default(),
            tick: 0,
            capacity,
        }
    }

    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn clear(&mut self) {
        self.map.clear();
    }

    /// Sets the capacity, evicting least recently used entries beyond it; returns how
    /// many were evicted.
    pub fn set_capacity(&mut self, capacity: usize) -> usize {
        self.capacity = capacity;
        let mut evicted = 0;
        while self.map.len() > self.capacity {
            self.evict_one();
            evicted += 1;
        }
        evicted
    }

    /// The entry for `hash`, marked as used.
    pub fn get(&mut self, hash: K) -> Option<&mut Entry> {
        self.tick += 1;
        let tick = self.tick;
        let e = self.map.get_mut(&hash)?;
        e.last_use = tick;
        Some(e)
    }

    /// Inserts (replacing an entry with the same hash); returns how many entries were
    /// evicted to make room. A capacity of 0 disables caching.
    pub fn insert(
        &mut self,
        hash: K,
        computation: Arc<dyn Computation>,
        sites: Vec<SourceLoc>,
        compile_time: Duration,
    ) -> usize {
        if self.capacity == 0 {
            return 0;
        }
        let mut evicted = 0;
        if !self.map.contains_key(&hash) {
            while self.map.len() >= self.capacity {
                self.evict_one();
                evicted += 1;
            }
        }
        self.tick += 1;
        self.map.insert(
            hash,
            Entry {
                computation,
                sites,
                compile_time,
                hits: 0,
                last_use: self.tick,
            },
        );
        evicted
    }

    fn evict_one(&mut self) {
        if let Some((&h, _)) = self.map.iter().min_by_key(|(_, e)| e.last_use) {
            self.map.remove(&h);
        }
    }

    /// The most recently used entry built from the same root call sites, other than
    /// `except`.
    pub fn same_sites(
        &self,
        sites: &[SourceLoc],
        except: K,
        also: impl Fn(&K) -> bool,
    ) -> Option<(K, &Entry)> {
        self.map
            .iter()
            .filter(|(h, e)| **h != except && also(h) && e.sites == sites)
            .max_by_key(|(_, e)| e.last_use)
            .map(|(h, e)| (*h, e))
    }

    pub fn contains(&self, hash: K) -> bool {
        self.map.contains_key(&hash)
    }

    /// Entries, most recently used first.
    pub fn entries(&self) -> Vec<(K, &Entry)> {
        let mut v: Vec<(K, &Entry)> = self.map.iter().map(|(h, e)| (*h, e)).collect();
        v.sort_unstable_by_key(|(_, e)| std::cmp::Reverse(e.last_use));
        v
    }

    /// Hashes, most recently used first.
    #[cfg(test)]
    pub fn hashes(&self) -> Vec<K> {
        self.entries().into_iter().map(|(h, _)| h).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use lazyjit_lowering::{Program, Tensor};

    struct Dummy(Program);
    impl Computation for Dummy {
        fn program(&self) -> &Program {
            &self.0
        }
        fn run(&self, _: &[&Tensor]) -> Result<Vec<Tensor>, lazyjit_lowering::Error> {
            Ok(vec![])
        }
    }

    fn dummy() -> Arc<dyn Computation> {
        Arc::new(Dummy(Program::new()))
    }

    #[test]
    fn evicts_least_recently_used() {
        let mut c = ComputationCache::<u64>::new(2);
        assert_eq!(c.insert(1, dummy(), vec![], Duration::ZERO), 0);
        assert_eq!(c.insert(2, dummy(), vec![], Duration::ZERO), 0);
        assert!(c.get(1).is_some()); // 2 is now the least recently used
        assert_eq!(c.insert(3, dummy(), vec![], Duration::ZERO), 1);
        assert!(c.contains(1) && c.contains(3) && !c.contains(2));
        assert_eq!(c.hashes(), vec![3, 1]);
        assert_eq!(c.set_capacity(1), 1);
        assert!(c.contains(3) && !c.contains(1));
    }

    #[test]
    fn zero_capacity_caches_nothing() {
        let mut c = ComputationCache::<u64>::new(0);
        c.insert(1, dummy(), vec![], Duration::ZERO);
        assert_eq!(c.len(), 0);
        assert!(c.get(1).is_none());
    }
}
