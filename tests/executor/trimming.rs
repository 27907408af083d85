//! Graph trimming (by depth and by node count, shared subgraphs counted once) and long
//! chains that hash, drop and sync without recursion.

use super::*;

#[test]
fn trimming_syncs_a_growing_graph() -> Result<()> {
    let _serial = serial();
    config::with(
        |c| c.trim_graph_depth = 50,
        || -> Result<()> {
            let x = LazyTensor::from_vec(ramp(53, 0.0, 1.0), &[53])?;
            let before = Counters::now();
            let mut y = x.clone();
            for _ in 0..200 {
                y = y.add_scalar(0.5f32)?; // one recorded node per op
            }
            let trims = before.delta(Counter::Trim);
            assert!(
                (3..=4).contains(&trims),
                "200 ops with a trim size of 50: {trims} trims"
            );
            assert_eq!(before.delta(Counter::Execute), trims);
            assert!(
                y.is_pending(),
                "the ops after the last trim are still pending"
            );
            assert_eq!(y.to_vec::<f32>()?, ramp(53, 100.0, 1.0));
            // The trimmed pieces have one shape: they reuse one computation.
            assert!(
                before.delta(Counter::Compile) <= 2,
                "{} compiles",
                before.delta(Counter::Compile)
            );
            Ok(())
        },
    )
}

/// A balanced tree of pending adds over `leaves` distinct leaves: `leaves - 1` pending
/// nodes at depth log2(leaves), which a depth bound alone never trims.
fn balanced_tree(leaves: usize, len: usize) -> Result<LazyTensor> {
    let mut level = (0..leaves)
        .map(|i| LazyTensor::from_vec(ramp(len, i as f32, 0.0), &[len]))
        .collect::<Result<Vec<_>>>()?;
    while level.len() > 1 {
        level = level
            .chunks(2)
            .map(|p| p[0].add(&p[1]))
            .collect::<Result<Vec<_>>>()?;
    }
    Ok(level.pop().expect("one root"))
}

#[test]
fn trimming_bounds_wide_shallow_graphs_by_node_count() -> Result<()> {
    let _serial = serial();
    config::with(
        |c| c.trim_graph_nodes = 100,
        || -> Result<()> {
            let before = Counters::now();
            // 1,023 pending adds at depth 10, built level by level: each subtree over 128
            // leaves (127 nodes) passes the limit of 100 when its root is recorded, so the
            // eight of them are trimmed, and the levels above hold 7 pending nodes.
            let root = balanced_tree(1024, 7)?;
            let trims = before.delta(Counter::Trim);
            assert_eq!(trims, 8, "1,023 nodes with a node limit of 100");
            assert!(root.ir_node().count_pending(usize::MAX) <= 100);
            let want = (0..1024).map(|i| i as f32).sum::<f32>();
            assert_eq!(root.to_vec::<f32>()?, vec![want; 7]);
            Ok(())
        },
    )
}

#[test]
fn shared_subgraphs_are_counted_once_when_trimming_by_nodes() -> Result<()> {
    let _serial = serial();
    config::with(
        |c| c.trim_graph_nodes = 100,
        || -> Result<()> {
            let before = Counters::now();
            // y = y + y forty times: a bound summed over operands is 2^40, but the graph
            // holds 40 distinct nodes, so nothing is trimmed.
            let mut y = LazyTensor::from_vec(vec![1.0f32; 9], &[9])?;
            for _ in 0..40 {
                y = y.add(&y)?;
            }
            assert_eq!(before.delta(Counter::Trim), 0);
            assert_eq!(y.ir_node().count_pending(usize::MAX), 40);
            assert_eq!(y.to_vec::<f32>()?, vec![2f32.powi(40); 9]);
            // Past the limit in distinct nodes it is trimmed.
            let before = Counters::now();
            let mut z = LazyTensor::from_vec(vec![0.0f32; 9], &[9])?;
            for _ in 0..150 {
                z = z.add(&z)?.mul_scalar(0.5f32)?;
            }
            assert!(before.delta(Counter::Trim) >= 2);
            assert_eq!(z.to_vec::<f32>()?, vec![0.0; 9]);
            Ok(())
        },
    )
}

/// A chain of `n` adds, recorded without any trim.
fn long_chain(n: usize) -> Result<LazyTensor> {
    let mut y = LazyTensor::from_vec(vec![1.0f32; 8], &[8])?;
    for _ in 0..n {
        y = y.add_scalar(0.5f32)?;
    }
    Ok(y)
}

/// Runs `f` on a thread with the default 2 MiB stack, with trimming off.
fn on_small_stack<T: Send + 'static>(f: impl FnOnce() -> Result<T> + Send + 'static) -> Result<T> {
    std::thread::Builder::new()
        .stack_size(2 << 20)
        .spawn(move || config::with(|c| c.trim_graph_depth = usize::MAX, f))
        .expect("spawn")
        .join()
        .expect("the thread panicked")
}

#[test]
fn long_chain_hashes_and_drops_without_recursion() -> Result<()> {
    let _serial = serial();
    let live = lazyjit::live_tensors();
    on_small_stack(|| {
        let y = long_chain(100_000)?;
        assert!(y.is_pending());
        assert!(lazyjit::graph_hash(&[&y]).is_some()); // the post-order walk is iterative
        drop(y); // so is dropping the chain
        Ok(())
    })?;
    assert_eq!(lazyjit::live_tensors(), live);
    Ok(())
}

#[test]
fn long_chain_syncs_on_the_reference_backend() -> Result<()> {
    let _serial = serial();
    let v = on_small_stack(|| {
        config::with(
            |c| c.backend = BackendKind::Reference,
            || long_chain(3_000)?.to_vec::<f32>(),
        )
    })?;
    assert_eq!(v, vec![1_501.0; 8]);
    Ok(())
}

/// The planner and emitter recurse along fused chains; deep programs compile on a thread
/// with a stack sized for them, so the caller's small stack never overflows.
#[test]
fn long_chain_syncs_on_cranelift() -> Result<()> {
    let _serial = serial();
    let v = on_small_stack(|| {
        config::with(
            |c| c.backend = BackendKind::Cranelift,
            || long_chain(3_000)?.to_vec::<f32>(),
        )
    })?;
    assert_eq!(v, vec![1_501.0; 8]);
    Ok(())
}
