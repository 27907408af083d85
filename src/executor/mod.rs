//! The lazy graph executor: turns pending IR into device data.
//!
//! A sync collects the roots (tensors with pending IR), walks their DAG in post order into
//! a canonical program, hashes it, and looks the hash up in an LRU computation cache. A hit
//! is checked against the cached program instruction by instruction (so a hash collision
//! can never run the wrong code); a miss compiles the program with the configured backend,
//! explains what differs from the graph the same call sites built before, and caches it.
//! The computation then runs on the parameters' device buffers, and each root tensor's IR
//! is replaced by its result (nodes still referenced by other pending graphs remember the
//! result, so it is not recomputed).
//!
//! Syncs on different threads may run at once; cache lookups and compiles are serialised.

mod cache;
mod data_cache;
pub(crate) mod explain;
mod graph;

pub use explain::{Difference, RecompileExplanation};

use crate::backend;
use crate::config::{self, BackendKind, Config};
use crate::error::{Error, Result, SourceLoc};
use crate::ir::{DataSource, Node, NodeKind};
use crate::metrics::{self, Counter, Metric};
use crate::tensor::{LazyTensor, TensorInner};
use cache::ComputationCache;
use data_cache::DataCache;
use lazyjit_lowering::reference::{self, Value};
use lazyjit_lowering::{DType, Inst, Op, Scalar, Tensor, TensorType, ValueId};
use smallvec::SmallVec;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, LazyLock, Mutex, MutexGuard, Weak};
use std::time::{Duration, Instant};

/// Explanations kept for [`recompile_explanations`].
const EXPLANATIONS_KEPT: usize = 64;

struct SyncState {
    epoch: u64,
    cache: ComputationCache<(u64, BackendKind)>,
    explanations: VecDeque<RecompileExplanation>,
}

struct Executor {
    registry: parking_lot::Mutex<Registry>,
    next_id: AtomicU64,
    state: Mutex<SyncState>,
    data_cache: Mutex<DataCache>,
    /// Computations running now and threads waiting for none (for `wait_device_ops`).
    running: Mutex<(usize, usize)>,
    idle: Condvar,
}

static EXEC: LazyLock<Executor> = LazyLock::new(|| {
    let cfg = config::get();
    Executor {
        registry: parking_lot::Mutex::new(Registry::default()),
        next_id: AtomicU64::new(1),
        state: Mutex::new(SyncState {
            epoch: 0,
            cache: ComputationCache::new(cfg.cache_capacity),
            explanations: VecDeque::new(),
        }),
        data_cache: Mutex::new(DataCache::new()),
        running: Mutex::new((0, 0)),
        idle: Condvar::new(),
    }
});

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// What the last sync did.
#[derive(Clone, Debug, PartialEq)]
pub struct SyncInfo {
    pub graph_hash: u64,
    /// Instructions in the synced graph.
    pub nodes: usize,
    /// Parameters (device-data inputs).
    pub params: usize,
    /// Tensors computed.
    pub outputs: usize,
    /// Whether the computation came from the cache.
    pub cache_hit: bool,
    /// Compile time when it did not.
    pub compile_time: Option<Duration>,
    pub execute_time: Duration,
}

/// The live-tensor registry: a slab of weak references (O(1) insert and remove, no
/// hashing); each tensor knows its slot.
#[derive(Default)]
struct Registry {
    slots: Vec<Option<Weak<TensorInner>>>,
    free: Vec<u32>,
    live: usize,
}

/// Creates a registered tensor record: `make(id, slot)` builds it.
pub(crate) fn register_new(make: impl FnOnce(u64, u32) -> TensorInner) -> Arc<TensorInner> {
    metrics::inc(Counter::TensorCreate);
    let id = EXEC.next_id.fetch_add(1, Ordering::Relaxed);
    let mut reg = EXEC.registry.lock();
    let slot = match reg.free.pop() {
        Some(s) => s,
        None => {
            reg.slots.push(None);
            (reg.slots.len() - 1) as u32
        }
    };
    let inner = Arc::new(make(id, slot));
    reg.slots[slot as usize] = Some(Arc::downgrade(&inner));
    reg.live += 1;
    inner
}

pub(crate) fn unregister(slot: u32) {
    metrics::inc(Counter::TensorDestroy);
    let mut reg = EXEC.registry.lock();
    if let Some(s) = reg.slots.get_mut(slot as usize) {
        if s.take().is_some() {
            reg.free.push(slot);
            reg.live -= 1;
        }
    }
}

/// Number of live tensors (handles not yet dropped).
pub fn live_tensors() -> usize {
    EXEC.registry.lock().live
}

/// Called after each recorded op: syncs `t` when its pending graph is deeper than
/// [`Config::trim_graph_depth`] or holds more than [`Config::trim_graph_nodes`] nodes.
pub(crate) fn check_trim(t: &LazyTensor, depth: u32, bound: u32, cfg: config::Hot) {
    let too_many =
        bound as usize > cfg.trim_graph_nodes && too_many_pending(&t.node(), cfg.trim_graph_nodes);
    if depth as usize > cfg.trim_graph_depth || too_many {
        metrics::inc(Counter::Trim);
        if let Err(e) = sync_at(&[t], t.node().loc) {
            // The tensor stays pending; the error reappears when it is read.
            if cfg.debug >= 1 {
                eprintln!("lazyjit: automatic graph trim failed: {e}");
            }
        }
    }
}

/// Whether `node`'s pending graph holds more than `limit` distinct nodes. The node's bound
/// (a sum over operands, so an overcount where subgraphs are shared) decides in O(1) in the
/// common case; only when it exceeds the limit is the graph walked, and the exact count
/// replaces the bound, so ops recorded on top start from a tight figure and the next walk
/// waits until the graph has grown past the limit again.
fn too_many_pending(node: &crate::ir::Node, limit: usize) -> bool {
    use std::sync::atomic::Ordering;
    let exact = node.count_pending(limit);
    if exact > limit {
        return true;
    }
    node.pending_bound.store(exact as u32, Ordering::Relaxed);
    false
}

/// Whether `op` runs eagerly on the reference fallback instead of being recorded.
pub(crate) fn falls_back(op: &Op, cfg: config::Hot) -> bool {
    (cfg.any_forced_fallback && config::get().force_fallback.contains(op.name()))
        || !backend::get_ref(cfg.backend).supports(op)
}

/// Runs `op` now on the reference interpreter (after computing its operands).
pub(crate) fn eager_fallback(
    op: Op,
    operands: &[&LazyTensor],
    ty: TensorType,
    loc: SourceLoc,
) -> Result<LazyTensor> {
    let name = op.name();
    sync_at(operands, loc)?;
    let mut values = Vec::with_capacity(operands.len());
    for t in operands {
        let node = t.node();
        let data = node.data().ok_or_else(|| {
            Error::data(
                name,
                "operand has no data after sync (please report this)",
                loc,
            )
        })?;
        values.push(Value::from_tensor(data).map_err(|e| Error::data(name, e.to_string(), loc))?);
    }
    let n = operands.len();
    let inst = Inst {
        op,
        args: (0..n as u32).map(ValueId).collect(),
        ty,
    };
    let refs: Vec<&Value> = values.iter().collect();
    let v = reference::eval_inst(&inst, ValueId(n as u32), &refs)
        .map_err(|e| Error::data(name, format!("eager fallback failed: {e}"), loc))?;
    let data = v
        .to_tensor()
        .map_err(|e| Error::data(name, format!("eager fallback failed: {e}"), loc))?;
    metrics::inc(Counter::Fallback);
    metrics::inc_named(&format!("fallback::{name}"));
    Ok(LazyTensor::from_data(data, DataSource::Tensor, loc))
}

/// The shared device-data tensor for a scalar value.
pub(crate) fn cached_scalar(dtype: DType, s: Scalar) -> Arc<Tensor> {
    let cap = config::get().data_cache_capacity;
    let (t, hit) = lock(&EXEC.data_cache)
        .get_or_insert(dtype, s, cap, || crate::tensor::scalar_tensor(dtype, s));
    metrics::inc(if hit {
        Counter::DeviceDataCacheHit
    } else {
        Counter::DeviceDataCacheMiss
    });
    t
}

/// Computes `tensors` (those with pending IR) as one computation.
///
/// ```
/// use lazyjit::LazyTensor;
/// let a = LazyTensor::from_vec(vec![1.0f32, 2.0], &[2])?;
/// let (b, c) = (a.exp()?, a.neg()?);
/// lazyjit::sync(&[&b, &c])?; // one compiled graph computes both
/// assert!(!b.is_pending() && !c.is_pending());
/// # Ok::<(), lazyjit::Error>(())
/// ```
#[track_caller]
pub fn sync(tensors: &[&LazyTensor]) -> Result<()> {
    sync_at(tensors, SourceLoc::caller())
}

/// Computes every live tensor that holds pending IR, as one computation, and ends the
/// step (LTC's `mark_step`).
#[track_caller]
pub fn mark_step() -> Result<()> {
    metrics::inc(Counter::MarkStep);
    sync_live(SourceLoc::caller())
}

fn sync_live(loc: SourceLoc) -> Result<()> {
    let live: Vec<LazyTensor> = {
        let reg = EXEC.registry.lock();
        let mut v: Vec<(u64, Arc<TensorInner>)> = reg
            .slots
            .iter()
            .flatten()
            .filter_map(|w| w.upgrade().map(|t| (t.id, t)))
            .collect();
        // Creation order: a stable root order gives a stable graph hash.
        v.sort_unstable_by_key(|(id, _)| *id);
        v.into_iter()
            .map(|(_, inner)| LazyTensor { inner })
            .collect()
    };
    let pending: Vec<&LazyTensor> = live.iter().filter(|t| t.is_pending()).collect();
    sync_at(&pending, loc)
}

/// Blocks until every computation running on any thread has finished. Computations run
/// on the thread that syncs, so on a single thread this returns at once.
pub fn wait_device_ops() {
    let mut running = lock(&EXEC.running);
    running.1 += 1;
    while running.0 > 0 {
        running = EXEC.idle.wait(running).unwrap_or_else(|e| e.into_inner());
    }
    running.1 -= 1;
}

struct Running;

impl Running {
    fn start() -> Running {
        lock(&EXEC.running).0 += 1;
        Running
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let mut r = lock(&EXEC.running);
        r.0 -= 1;
        // Notifying costs a system call; only pay it when someone waits.
        if r.0 == 0 && r.1 > 0 {
            EXEC.idle.notify_all();
        }
    }
}

pub(crate) fn sync_at(tensors: &[&LazyTensor], loc: SourceLoc) -> Result<()> {
    let t0 = Instant::now();
    let mut roots: SmallVec<[Arc<Node>; 4]> = SmallVec::new();
    let mut owners: SmallVec<[(&LazyTensor, usize); 4]> = SmallVec::new();
    for t in tensors {
        let n = t.node();
        if n.is_computed() {
            if !matches!(n.kind, NodeKind::Data(..)) {
                cut_ir(t, &n);
            }
            continue;
        }
        let i = match roots.iter().position(|r| Arc::ptr_eq(r, &n)) {
            Some(i) => i,
            None => {
                roots.push(n);
                roots.len() - 1
            }
        };
        owners.push((t, i));
    }
    if roots.is_empty() {
        return Ok(());
    }
    metrics::inc(Counter::Sync);
    let cfg = config::get();
    let backend = backend::get_ref(cfg.backend);

    let (computation, graph_hash, info_compile) = {
        let mut st = lock(&EXEC.state);
        let evicted = st.cache.set_capacity(cfg.cache_capacity);
        metrics::add(Counter::CacheEvict, evicted as u64);
        st.epoch += 1;
        let epoch = st.epoch;
        let g = graph::walk(&roots, epoch);
        metrics::record_value(Metric::GraphSize, g.insts.len() as f64);
        let hash = g.hash;
        let hit = match st.cache.get((hash, cfg.backend)) {
            Some(e) if g.matches(e.computation.program()) => {
                e.hits += 1;
                Some(e.computation.clone())
            }
            Some(_) => {
                metrics::inc_named("cache_collision");
                None
            }
            None => None,
        };
        match hit {
            Some(c) => {
                metrics::inc(Counter::CacheHit);
                let t1 = Instant::now();
                metrics::record(Metric::Trace, t1 - t0);
                drop(st);
                return run(c, &g, &roots, &owners, hash, loc, None, t1, &cfg);
            }
            None => {
                let sites: Vec<SourceLoc> = roots.iter().map(|r| r.loc).collect();
                metrics::inc(Counter::CacheMiss);
                let tc = Instant::now();
                metrics::record(Metric::Trace, tc - t0);
                let program = g.to_program();
                let value_locs = g.value_locs();
                let tc = Instant::now();
                let c =
                    backend
                        .compile(&program, cfg.opt_level)
                        .map_err(|source| Error::Compile {
                            graph_hash: hash,
                            location: sites[0],
                            source,
                        })?;
                let compiled_at = Instant::now();
                let compile_time = compiled_at - tc;
                metrics::inc(Counter::Compile);
                metrics::record(Metric::Compile, compile_time);
                let explanation = st
                    .cache
                    .same_sites(&sites, (hash, cfg.backend), |k| k.1 == cfg.backend)
                    .map(|((prev, _), e)| {
                        let (differences, more) =
                            explain::diff(e.computation.program(), &program, &value_locs);
                        RecompileExplanation {
                            graph_hash: hash,
                            previous_hash: prev,
                            roots: sites.clone(),
                            differences,
                            more,
                            compile_time,
                        }
                    });
                if cfg.debug >= 1 {
                    eprintln!(
                        "lazyjit: compiled graph {hash:016x}: {} nodes, {} inputs, {} outputs, {:.3} ms ({} backend)",
                        program.insts.len(),
                        program.params.len(),
                        program.outputs.len(),
                        compile_time.as_secs_f64() * 1e3,
                        cfg.backend.name()
                    );
                    if let Some(x) = &explanation {
                        eprintln!("lazyjit: {x}");
                    }
                }
                if let Some(x) = explanation {
                    if st.explanations.len() == EXPLANATIONS_KEPT {
                        st.explanations.pop_front();
                    }
                    st.explanations.push_back(x);
                }
                let evicted =
                    st.cache
                        .insert((hash, cfg.backend), c.clone(), sites.clone(), compile_time);
                metrics::add(Counter::CacheEvict, evicted as u64);
                drop(st);
                (c, (g, hash), (compile_time, compiled_at))
            }
        }
    };
    let (g, hash) = graph_hash;
    let (compile_time, compiled_at) = info_compile;
    run(
        computation,
        &g,
        &roots,
        &owners,
        hash,
        loc,
        Some(compile_time),
        compiled_at,
        &cfg,
    )
}

#[allow(clippy::too_many_arguments)]
fn run(
    c: Arc<dyn backend::Computation>,
    g: &graph::Graph<'_>,
    roots: &[Arc<Node>],
    owners: &[(&LazyTensor, usize)],
    hash: u64,
    sync_loc: SourceLoc,
    compile_time: Option<Duration>,
    te: Instant,
    cfg: &Config,
) -> Result<()> {
    let inputs = g.param_data();
    let outs = {
        let _running = Running::start();
        c.run(&inputs)
    }
    .map_err(|source| {
        metrics::inc(Counter::Error);
        Error::Execute {
            graph_hash: hash,
            location: roots[0].loc,
            source,
        }
    })?;
    let execute_time = te.elapsed();
    metrics::inc(Counter::Execute);
    metrics::record(Metric::Execute, execute_time);
    let outs: SmallVec<[Arc<Tensor>; 4]> = outs.into_iter().map(Arc::new).collect();
    for (root, out) in roots.iter().zip(&outs) {
        let _ = root.materialized.set(out.clone());
    }
    for (t, i) in owners {
        t.set_node(Arc::new(Node::new_data(
            outs[*i].clone(),
            DataSource::Tensor,
            roots[*i].loc,
        )));
    }
    if cfg.debug >= 2 {
        eprintln!(
            "lazyjit: sync at {sync_loc}: graph {hash:016x}, {} nodes, {} inputs, {}, execute {:.3} ms",
            g.insts.len(),
            g.params.len(),
            if compile_time.is_some() { "compiled" } else { "cache hit" },
            execute_time.as_secs_f64() * 1e3
        );
    }
    let info = SyncInfo {
        graph_hash: hash,
        nodes: g.insts.len(),
        params: g.params.len(),
        outputs: roots.len(),
        cache_hit: compile_time.is_none(),
        compile_time,
        execute_time,
    };
    LAST_SYNC.with(|l| *l.borrow_mut() = Some(info));
    Ok(())
}

/// Replaces a computed op node held by a tensor with a data leaf, so the tensor stops
/// keeping the graph that produced it alive.
fn cut_ir(t: &LazyTensor, n: &Arc<Node>) {
    if let Some(d) = n.materialized.get() {
        t.set_node(Arc::new(Node::new_data(
            d.clone(),
            DataSource::Tensor,
            n.loc,
        )));
    }
}

/// The distinct pending nodes of `tensors`; `None` if nothing is pending.
fn pending_roots(tensors: &[&LazyTensor]) -> Option<Vec<Arc<Node>>> {
    let mut roots: Vec<Arc<Node>> = Vec::new();
    for t in tensors {
        let n = t.node();
        if !n.is_computed() && !roots.iter().any(|r| Arc::ptr_eq(r, &n)) {
            roots.push(n);
        }
    }
    (!roots.is_empty()).then_some(roots)
}

/// Hash of the graph that syncing `tensors` would compile or reuse, without running it
/// (`None` if nothing is pending). Equal hashes mean one cached computation serves both.
pub fn graph_hash(tensors: &[&LazyTensor]) -> Option<u64> {
    let roots = pending_roots(tensors)?;
    let mut st = lock(&EXEC.state);
    st.epoch += 1;
    let epoch = st.epoch;
    let hash = graph::walk(&roots, epoch).hash;
    Some(hash)
}

/// A pending graph as the executor would compile it.
pub(crate) struct PendingProgram {
    pub program: lazyjit_lowering::Program,
    /// The node of each value: parameters, then instructions.
    pub values: Vec<Arc<Node>>,
    pub hash: u64,
}

/// The post-ordered program that syncing `tensors` would run, with the node of each value.
/// `None` if nothing is pending. Taken under the sync lock, so program and nodes agree.
pub(crate) fn pending_program(tensors: &[&LazyTensor]) -> Option<PendingProgram> {
    let roots = pending_roots(tensors)?;
    let mut st = lock(&EXEC.state);
    st.epoch += 1;
    let epoch = st.epoch;
    let g = graph::walk(&roots, epoch);
    let pending = PendingProgram {
        program: g.to_program(),
        values: g.value_nodes(),
        hash: g.hash,
    };
    drop(g);
    Some(pending)
}

/// Recent recompile explanations (up to 64, oldest first): one per cache miss whose roots
/// were created at the same call sites as a cached graph.
///
/// ```
/// use lazyjit::{LazyTensor, Difference};
/// fn step(n: usize) -> lazyjit::Result<LazyTensor> {
///     LazyTensor::ones(&[n], lazyjit::DType::F32)?.exp()
/// }
/// step(3)?.to_vec::<f32>()?;
/// step(4)?.to_vec::<f32>()?; // same call sites, new shape: recompiles
/// let why = lazyjit::last_recompile().expect("explained");
/// assert!(why.differences.iter().any(|d| matches!(d, Difference::Shape { .. })));
/// # Ok::<(), lazyjit::Error>(())
/// ```
pub fn recompile_explanations() -> Vec<RecompileExplanation> {
    lock(&EXEC.state).explanations.iter().cloned().collect()
}

/// The most recent recompile explanation.
pub fn last_recompile() -> Option<RecompileExplanation> {
    lock(&EXEC.state).explanations.back().cloned()
}

thread_local! {
    static LAST_SYNC: std::cell::RefCell<Option<SyncInfo>> = const { std::cell::RefCell::new(None) };
}

/// What the most recent sync on this thread did.
pub fn last_sync() -> Option<SyncInfo> {
    LAST_SYNC.with(|l| l.borrow().clone())
}

/// One computation in the cache.
#[derive(Clone, Debug, PartialEq)]
pub struct CachedComputation {
    /// The graph hash.
    pub graph_hash: u64,
    /// The backend it was compiled for.
    pub backend: BackendKind,
    /// Instructions and parameters of the program.
    pub nodes: usize,
    pub params: usize,
    /// Call sites of the roots that built it.
    pub roots: Vec<SourceLoc>,
    /// Syncs served from the cache.
    pub hits: u64,
    pub compile_time: Duration,
}

/// The cached computations, most recently used first: what compiled, from where, what it
/// cost and how often it was reused.
pub fn cached_computations() -> Vec<CachedComputation> {
    let st = lock(&EXEC.state);
    st.cache
        .entries()
        .into_iter()
        .map(|((graph_hash, backend), e)| CachedComputation {
            graph_hash,
            backend,
            nodes: e.computation.program().insts.len(),
            params: e.computation.program().params.len(),
            roots: e.sites.clone(),
            hits: e.hits,
            compile_time: e.compile_time,
        })
        .collect()
}

/// Computations in the cache.
pub fn cache_len() -> usize {
    lock(&EXEC.state).cache.len()
}

/// Whether a computation with this graph hash is cached for the configured backend.
pub fn is_cached(graph_hash: u64) -> bool {
    let backend = config::get().backend;
    lock(&EXEC.state).cache.contains((graph_hash, backend))
}

/// Empties the computation cache, the device-data cache and the explanation log.
pub fn clear_caches() {
    let mut st = lock(&EXEC.state);
    st.cache.clear();
    st.explanations.clear();
    drop(st);
    lock(&EXEC.data_cache).clear();
}

/// Scalars held by the device-data cache.
pub fn data_cache_len() -> usize {
    lock(&EXEC.data_cache).len()
}

#[cfg(test)]
mod tests {
    use super::*;
    use lazyjit_lowering::{text, Program};

    /// A hash collision must never run the wrong code: plant a computation for a different
    /// program under the exact key of a graph, then sync that graph.
    #[test]
    fn a_colliding_cache_entry_is_detected_and_not_run() {
        let x = LazyTensor::from_vec(vec![1.0f32, 4.0, 9.0], &[3]).unwrap();
        let y = x.sqrt().unwrap();
        let hash = graph_hash(&[&y]).expect("pending");
        let impostor: Program =
            text::parse("param %p0: f32[3]\n%1: f32[3] = neg %p0\nreturn %1\n").unwrap();
        let backend = config::get().backend;
        let wrong = backend::get_ref(backend)
            .compile(&impostor, crate::config::OptLevel::None)
            .unwrap();
        lock(&EXEC.state)
            .cache
            .insert((hash, backend), wrong, vec![], Duration::ZERO);
        let collisions = metrics::counter_value("cache_collision");
        assert_eq!(y.to_vec::<f32>().unwrap(), vec![1.0, 2.0, 3.0]);
        assert!(metrics::counter_value("cache_collision") > collisions);
        let info = last_sync().expect("synced");
        assert!(!info.cache_hit || info.graph_hash != hash);
        // The real program replaced the impostor under that key.
        let again = x.sqrt().unwrap();
        assert_eq!(again.to_vec::<f32>().unwrap(), vec![1.0, 2.0, 3.0]);
    }

    #[test]
    fn explanations_name_a_changed_shape_and_the_call_site() {
        fn f(n: usize) -> LazyTensor {
            LazyTensor::from_vec(vec![2.0f64; n], &[n])
                .unwrap()
                .exp()
                .unwrap()
        }
        f(5).to_vec::<f64>().unwrap();
        f(6).to_vec::<f64>().unwrap();
        let why = recompile_explanations()
            .into_iter()
            .rev()
            .find(|e| {
                e.differences.iter().any(|d| {
                    matches!(d, Difference::InputShape { before, now, .. }
                        if before.dims() == [5] && now.dims() == [6])
                })
            })
            .expect("the shape change is explained");
        assert!(why.roots[0].file().ends_with("executor/mod.rs"));
        assert!(
            why.to_string().contains("shape [5] before, [6] now"),
            "{why}"
        );
    }
}
