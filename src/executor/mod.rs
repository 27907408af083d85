//! The lazy graph executor: turns pending IR into device data.
//!
//! It takes roots (distinct pending IR nodes, [`crate::ir::Node`]) and returns one device
//! buffer per root; it knows nothing of tensors (the tensor side, `src/tensor/sync.rs`,
//! collects the roots and writes the buffers back). A computation walks the roots'
//! DAG in post order into a canonical program, hashes it, and looks the hash up in an LRU
//! computation cache. A hit is checked against the cached program instruction by
//! instruction (so a hash collision can never run the wrong code); a miss compiles the
//! program with the configured backend, explains what differs from the graph the same call
//! sites built before, and caches it. The computation then runs on the parameters' device
//! buffers, and each root remembers its result (so nodes still referenced by other pending
//! graphs are not recomputed).
//!
//! It also owns the device-data cache (scalars shared by value) and the cache inspection
//! API ([`cached_computations`], [`recompile_explanations`], [`last_sync`], ...).
//!
//! Computations on different threads may run at once; cache lookups and compiles are
//! serialised.
//!
//! A parameter buffer nothing outside the computation can read again is **donated**: the
//! computation writes an output into it in place (`donate`, `Graph::donatable`; see
//! `docs/executor.md`, "Buffer donation").

mod cache;
mod data_cache;
pub(crate) mod explain;
mod graph;

pub use explain::{Difference, RecompileExplanation};

use crate::backend;
use crate::config::{self, BackendKind, Config};
use crate::error::{Error, Hex, Result, SourceLoc};
use crate::ir::{Donation, Node};
use crate::logging::{self, log_at};
use crate::metrics::{self, Counter, Metric};
use cache::ComputationCache;
use data_cache::DataCache;
use lazyjit_lowering::{DType, Scalar, Tensor};
use log::Level;
use smallvec::SmallVec;
use std::collections::VecDeque;
use std::sync::{Arc, Condvar, LazyLock, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// Explanations kept for [`recompile_explanations`].
const EXPLANATIONS_KEPT: usize = 64;

struct SyncState {
    epoch: u64,
    cache: ComputationCache<(u64, BackendKind)>,
    explanations: VecDeque<RecompileExplanation>,
}

struct Executor {
    state: Mutex<SyncState>,
    data_cache: Mutex<DataCache>,
    /// Computations running now and threads waiting for none (for `wait_device_ops`).
    running: Mutex<(usize, usize)>,
    idle: Condvar,
}

static EXEC: LazyLock<Executor> = LazyLock::new(|| {
    let cfg = config::get();
    Executor {
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

/// What the last sync did. Its `Debug` prints the graph hash in hex, as every log and dump
/// does.
#[derive(Clone, PartialEq)]
pub struct SyncInfo {
    /// Hash of the synced graph ([`crate::graph_hash`]), the computation cache's key.
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
    /// Time spent running the computation (compile excluded).
    pub execute_time: Duration,
}

impl std::fmt::Debug for SyncInfo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SyncInfo")
            .field("graph_hash", &Hex(self.graph_hash))
            .field("nodes", &self.nodes)
            .field("params", &self.params)
            .field("outputs", &self.outputs)
            .field("cache_hit", &self.cache_hit)
            .field("compile_time", &self.compile_time)
            .field("execute_time", &self.execute_time)
            .finish()
    }
}

/// The shared device-data tensor for a scalar value.
pub(crate) fn cached_scalar(dtype: DType, s: Scalar) -> Arc<Tensor> {
    let cap = config::get().data_cache_capacity;
    let (t, hit) =
        lock(&EXEC.data_cache).get_or_insert(dtype, s, cap, || data_cache::scalar_tensor(dtype, s));
    metrics::inc(if hit {
        Counter::DeviceDataCacheHit
    } else {
        Counter::DeviceDataCacheMiss
    });
    t
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

/// One device buffer per root, in the order of the roots.
pub(crate) type Outputs = SmallVec<[Arc<Tensor>; 4]>;

/// Computes `roots` (distinct nodes with pending IR, at least one) as one computation and
/// returns their values; each root also remembers its value (`Node::materialized`). `loc`
/// is where the sync was asked for (for logs).
pub(crate) fn compute(roots: &[Arc<Node>], loc: SourceLoc) -> Result<Outputs> {
    let t0 = Instant::now();
    metrics::inc(Counter::Sync);
    let cfg = config::get();
    let st = lock(&EXEC.state);
    let (mut st, g) = settled_walk(st, roots, &cfg, loc)?;
    let (c, compile_time, te) = lookup_or_compile(&mut st, &g, roots, &cfg, t0)?;
    let donated = donate(&*c, &g, &cfg);
    drop(st);
    let hash = g.hash;
    run(c, &g, roots, hash, loc, compile_time, te, &cfg, donated)
}

/// A computation ready to run, for a caller that binds its parameters itself
/// ([`crate::CompiledFn`]).
pub(crate) struct Prepared {
    pub computation: Arc<dyn backend::Computation>,
    /// The node of each parameter, in order.
    pub params: Vec<Arc<Node>>,
    pub hash: u64,
}

/// The computation for `roots` (distinct pending nodes) from the cache, or compiled and
/// cached (with its recompile explanation), without running it.
pub(crate) fn prepare(roots: &[Arc<Node>], loc: SourceLoc) -> Result<Prepared> {
    let t0 = Instant::now();
    let cfg = config::get();
    let st = lock(&EXEC.state);
    let (mut st, g) = settled_walk(st, roots, &cfg, loc)?;
    let (computation, _, _) = lookup_or_compile(&mut st, &g, roots, &cfg, t0)?;
    Ok(Prepared {
        computation,
        params: g.params.iter().map(|p| (*p).clone()).collect(),
        hash: g.hash,
    })
}

/// Walks the graph of `roots` under the sync lock, first waiting for any computation that
/// is writing into one of its leaves (a donated buffer).
fn settled_walk<'a, 's>(
    mut st: MutexGuard<'s, SyncState>,
    roots: &'a [Arc<Node>],
    cfg: &Config,
    loc: SourceLoc,
) -> Result<(MutexGuard<'s, SyncState>, graph::Graph<'a>)> {
    let evicted = st.cache.set_capacity(cfg.cache_capacity);
    metrics::add(Counter::CacheEvict, evicted as u64);
    // A donated leaf whose buffer was already written into when this walk began.
    let mut done_before: Option<*const Node> = None;
    loop {
        st.epoch += 1;
        let epoch = st.epoch;
        let g = graph::walk(roots, epoch);
        // A leaf whose buffer another thread's computation is overwriting (or has just
        // overwritten: the state changes outside the sync lock, so a leaf seen in flight
        // during the walk may be done by now). That computation computes the roots above
        // the leaf, so wait for it and walk again: the roots are parameters then.
        let Some(n) = g.donated_param() else {
            return Ok((st, g));
        };
        if done_before == Some(Arc::as_ptr(n)) {
            // Unreachable by the donation rule (only this graph's roots lead to a donated
            // leaf, and they are computed before it is marked done); never read it.
            return Err(Error::data(
                "sync",
                "a pending graph reads a buffer donated to another computation (please report this)",
                loc,
            ));
        }
        if n.donation() == Donation::Done {
            done_before = Some(Arc::as_ptr(n));
        }
        st = wait_for_donation(st, n);
    }
}

/// The cached computation for `g`, or a new one, compiled, explained and cached. Returns it
/// with the compile time (`None` for a cache hit) and the instant execution may start.
fn lookup_or_compile(
    st: &mut SyncState,
    g: &graph::Graph<'_>,
    roots: &[Arc<Node>],
    cfg: &Config,
    t0: Instant,
) -> Result<(Arc<dyn backend::Computation>, Option<Duration>, Instant)> {
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
    if let Some(c) = hit {
        metrics::inc(Counter::CacheHit);
        let t1 = Instant::now();
        metrics::record(Metric::Trace, t1 - t0);
        return Ok((c, None, t1));
    }
    let sites: Vec<SourceLoc> = roots.iter().map(|r| r.loc).collect();
    metrics::inc(Counter::CacheMiss);
    metrics::record(Metric::Trace, t0.elapsed());
    let program = g.to_program();
    let value_locs = g.value_locs();
    let tc = Instant::now();
    let c = backend::get_ref(cfg.backend)
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
            let (differences, more) = explain::diff(e.computation.program(), &program, &value_locs);
            RecompileExplanation {
                graph_hash: hash,
                previous_hash: prev,
                roots: sites.clone(),
                differences,
                more,
                compile_time,
            }
        });
    log_at!(
        logging::COMPILE,
        Level::Debug,
        cfg.debug,
        "compiled graph {}: {} nodes, {} inputs, {} outputs, {:.3} ms ({} backend)",
        Hex(hash),
        program.insts.len(),
        program.params.len(),
        program.outputs.len(),
        compile_time.as_secs_f64() * 1e3,
        cfg.backend.name()
    );
    if let Some(x) = &explanation {
        log_at!(logging::CACHE, Level::Debug, cfg.debug, "{x}");
    }
    if let Some(x) = explanation {
        if st.explanations.len() == EXPLANATIONS_KEPT {
            st.explanations.pop_front();
        }
        st.explanations.push_back(x);
    }
    let evicted = st
        .cache
        .insert((hash, cfg.backend), c.clone(), sites, compile_time);
    metrics::add(Counter::CacheEvict, evicted as u64);
    Ok((c, Some(compile_time), compiled_at))
}

/// Wakes threads waiting for a donated buffer's computation to finish.
static DONATION: (Mutex<()>, Condvar) = (Mutex::new(()), Condvar::new());

/// Releases the sync lock, waits until `n` is no longer being written by a computation,
/// and takes the lock again.
fn wait_for_donation<'s>(st: MutexGuard<'s, SyncState>, n: &Node) -> MutexGuard<'s, SyncState> {
    // Taken before the sync lock is released: the finishing computation changes the state
    // under this lock, so the wake-up cannot be missed.
    let mut g = lock(&DONATION.0);
    drop(st);
    while n.donation() == Donation::InFlight {
        g = DONATION.1.wait(g).unwrap_or_else(|e| e.into_inner());
    }
    drop(g);
    lock(&EXEC.state)
}

/// The parameters donated to one run: marked in flight under the sync lock, marked done
/// (or back to none if the run failed) when dropped, waking waiting walks.
struct Donated<'a> {
    /// One flag per parameter.
    flags: SmallVec<[bool; 8]>,
    nodes: SmallVec<[&'a Arc<Node>; 4]>,
    done: bool,
}

impl Drop for Donated<'_> {
    fn drop(&mut self) {
        let state = if self.done {
            Donation::Done
        } else {
            Donation::None
        };
        let _g = lock(&DONATION.0);
        for n in &self.nodes {
            n.set_donation(state);
        }
        DONATION.1.notify_all();
    }
}

/// Which parameters to donate to `c`'s run of `g` (see `docs/executor.md`, "Buffer
/// donation"): those the computation can write an output into (`aliasable`) whose buffer
/// nothing outside the graph can read again (`Graph::donatable`). They are marked in flight
/// here, under the sync lock, so a concurrent walk that meets one waits for this run.
fn donate<'a>(
    c: &dyn backend::Computation,
    g: &graph::Graph<'a>,
    cfg: &Config,
) -> Option<Donated<'a>> {
    if !cfg.donate || c.aliasable().iter().all(Option::is_none) {
        return None;
    }
    let ok = g.donatable();
    let mut flags: SmallVec<[bool; 8]> = SmallVec::from_elem(false, g.params.len());
    let mut nodes = SmallVec::new();
    for q in c.aliasable().iter().flatten() {
        if ok[*q] && !flags[*q] {
            flags[*q] = true;
            g.params[*q].set_donation(Donation::InFlight);
            nodes.push(g.params[*q]);
        }
    }
    (!nodes.is_empty()).then_some(Donated {
        flags,
        nodes,
        done: false,
    })
}

#[allow(clippy::too_many_arguments)]
fn run(
    c: Arc<dyn backend::Computation>,
    g: &graph::Graph<'_>,
    roots: &[Arc<Node>],
    hash: u64,
    sync_loc: SourceLoc,
    compile_time: Option<Duration>,
    te: Instant,
    cfg: &Config,
    mut donated: Option<Donated<'_>>,
) -> Result<Outputs> {
    let inputs = g.param_data();
    let outs = {
        let _running = Running::start();
        match &donated {
            // SAFETY: each donated parameter's buffer belongs to a device-data leaf that
            // alone holds its `Arc<Tensor>`, and the leaf is reachable only through this
            // graph (`Graph::donatable`, checked under the sync lock): no tensor, user
            // handle or other pending graph can read it. It was marked in flight under the
            // same lock, so a concurrent walk reaching it (through a root of this sync) waits
            // until the roots are computed, and `Node::data` hides it. After the run the
            // buffer is handed out as the output (the same `Arc`) and the leaf is marked done.
            Some(d) => unsafe { c.run_in_place(&inputs, &d.flags) },
            None => c.run(&inputs).map(|v| v.into_iter().map(Some).collect()),
        }
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
    let aliasable = c.aliasable();
    let mut in_place = 0u64;
    let outs: Outputs = outs
        .into_iter()
        .enumerate()
        .map(|(i, o)| match o {
            Some(t) => Arc::new(t),
            None => {
                in_place += 1;
                let q = aliasable[i].expect("an in-place output aliases a parameter");
                g.param_arc(q)
                    .expect("donated parameters are data leaves")
                    .clone()
            }
        })
        .collect();
    for (root, out) in roots.iter().zip(&outs) {
        let _ = root.materialized.set(out.clone());
    }
    // The roots are computed: walks waiting on the donated leaves may go on.
    if let Some(d) = donated.as_mut() {
        d.done = true;
    }
    drop(donated);
    metrics::add(Counter::Donated, in_place);
    log_at!(
        logging::SYNC,
        Level::Trace,
        cfg.debug,
        "sync at {sync_loc}: graph {}, {} nodes, {} inputs, {}, execute {:.3} ms",
        Hex(hash),
        g.insts.len(),
        g.params.len(),
        if compile_time.is_some() {
            "compiled"
        } else {
            "cache hit"
        },
        execute_time.as_secs_f64() * 1e3
    );
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
    Ok(outs)
}

/// Hash of the graph that computing `roots` (distinct pending nodes) would compile or
/// reuse, without running it.
pub(crate) fn roots_hash(roots: &[Arc<Node>]) -> u64 {
    let mut st = lock(&EXEC.state);
    st.epoch += 1;
    let epoch = st.epoch;
    graph::walk(roots, epoch).hash
}

/// A pending graph as the executor would compile it.
pub(crate) struct PendingProgram {
    pub program: lazyjit_lowering::Program,
    /// The node of each value: parameters, then instructions.
    pub values: Vec<Arc<Node>>,
    pub hash: u64,
}

/// The post-ordered program that computing `roots` (distinct pending nodes) would run,
/// with the node of each value. Taken under the sync lock, so program and nodes agree.
pub(crate) fn pending_program(roots: &[Arc<Node>]) -> PendingProgram {
    let mut st = lock(&EXEC.state);
    st.epoch += 1;
    let epoch = st.epoch;
    let g = graph::walk(roots, epoch);
    let pending = PendingProgram {
        program: g.to_program(),
        values: g.value_nodes(),
        hash: g.hash,
    };
    drop(g);
    pending
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

/// One computation in the cache. Its `Debug` prints the graph hash in hex.
#[derive(Clone, PartialEq)]
pub struct CachedComputation {
    /// The graph hash.
    pub graph_hash: u64,
    /// The backend it was compiled for.
    pub backend: BackendKind,
    /// Instructions of the program.
    pub nodes: usize,
    /// Parameters (device-data inputs) of the program.
    pub params: usize,
    /// Call sites of the roots that built it.
    pub roots: Vec<SourceLoc>,
    /// Syncs served from the cache.
    pub hits: u64,
    /// Time the compile took.
    pub compile_time: Duration,
}

impl std::fmt::Debug for CachedComputation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CachedComputation")
            .field("graph_hash", &Hex(self.graph_hash))
            .field("backend", &self.backend)
            .field("nodes", &self.nodes)
            .field("params", &self.params)
            .field("roots", &self.roots)
            .field("hits", &self.hits)
            .field("compile_time", &self.compile_time)
            .finish()
    }
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
    use crate::ir::{DataSource, Operands};
    use lazyjit_lowering::{text, Op, Program, UnaryOp};

    fn leaf<T: lazyjit_lowering::Element>(v: Vec<T>) -> Arc<Node> {
        let n = v.len();
        let t = Tensor::from_vec(v, vec![n]).unwrap();
        Arc::new(Node::new_data(
            Arc::new(t),
            DataSource::Tensor,
            SourceLoc::caller(),
        ))
    }

    /// `op(x)`, created at the caller's line: tests running in parallel must not share a
    /// call site, or one's recompile explanation compares against the other's graph.
    #[track_caller]
    fn unary(op: UnaryOp, x: &Arc<Node>) -> Arc<Node> {
        let ty = x.ty().clone();
        let operands: Operands = [x.clone()].into_iter().collect();
        Arc::new(Node::new_op(
            Op::Unary(op),
            operands,
            ty,
            SourceLoc::caller(),
        ))
    }

    fn values<T: lazyjit_lowering::Element + Clone>(outs: &Outputs) -> Vec<T> {
        outs[0].as_slice::<T>().unwrap().to_vec()
    }

    /// A hash collision must never run the wrong code: plant a computation for a different
    /// program under the exact key of a graph, then compute that graph.
    #[test]
    fn a_colliding_cache_entry_is_detected_and_not_run() {
        let x = leaf(vec![1.0f32, 4.0, 9.0]);
        let y = unary(UnaryOp::Sqrt, &x);
        let hash = roots_hash(std::slice::from_ref(&y));
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
        let outs = compute(&[y], SourceLoc::caller()).unwrap();
        assert_eq!(values::<f32>(&outs), vec![1.0, 2.0, 3.0]);
        assert!(metrics::counter_value("cache_collision") > collisions);
        let info = last_sync().expect("synced");
        assert!(!info.cache_hit || info.graph_hash != hash);
        // The real program replaced the impostor under that key.
        let again = unary(UnaryOp::Sqrt, &x);
        let outs = compute(&[again], SourceLoc::caller()).unwrap();
        assert_eq!(values::<f32>(&outs), vec![1.0, 2.0, 3.0]);
    }

    #[test]
    fn explanations_name_a_changed_shape_and_the_call_site() {
        fn f(n: usize) -> Vec<f64> {
            let y = unary(UnaryOp::Exp, &leaf(vec![2.0f64; n]));
            values(&compute(&[y], SourceLoc::caller()).unwrap())
        }
        f(5);
        f(6);
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
