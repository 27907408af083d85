//! Quickstart: the ideas of PyTorch's Lazy Tensor Core tutorial, with lazyjit.
//!
//! ```sh
//! cargo run --release --example quickstart
//! LAZYJIT_DEBUG=1 cargo run --release --example quickstart   # also log every compile
//! ```
//!
//! Ops on a `LazyTensor` only record IR. Reading a value (`to_vec`, `item`), `sync` or
//! `mark_step` compiles the pending graph to native code with Cranelift, or reuses the
//! compiled code when the same graph comes back, and runs it.

use lazyjit::dump::{ir_text_with, DumpOptions};
use lazyjit::metrics::{self, Counter};
use lazyjit::{LazyTensor, Result};

/// The tutorial's data-dependent control flow. `item` needs the value of `maybe`, so it
/// syncs; the graph traced afterwards depends on that value: `t + 2` records an add,
/// the other branch records nothing.
fn add_two_maybe(t: &LazyTensor, maybe: &LazyTensor) -> Result<LazyTensor> {
    Ok(if maybe.item::<i32>()? != 0 {
        t + 2
    } else {
        t.clone()
    })
}

/// One step of a gradient-free update pulling `w` towards `target`:
/// `w - lr * (w - target)`. Every call records the same graph.
fn step(w: &LazyTensor, target: &LazyTensor, lr: f32) -> Result<LazyTensor> {
    Ok(w - (w - target) * lr)
}

fn main() -> Result<()> {
    // 1. Data-dependent control flow.
    println!("== 1. add_two_maybe (data-dependent control flow)");
    let t = LazyTensor::from_vec(vec![1.0f32, 2.0, 3.0], &[3])?;
    for m in [0i32, 1] {
        let maybe = LazyTensor::from_vec(vec![m], &[])?;
        let y = add_two_maybe(&t, &maybe)?;
        println!("maybe = {m}: {:?}", y.to_vec::<f32>()?);
    }

    // 2. A training-style loop: the graph is the same every step, so it compiles once
    //    and every later step is a cache hit. The learning rate changes every step, but
    //    scalars from Rust numbers are inputs of the graph, not constants baked into it,
    //    so a new value does not recompile (only 0 and 1 are inlined).
    println!("\n== 2. ten steps of w = w - lr * (w - target), mark_step after each");
    let target = LazyTensor::from_vec((0..8).map(|i| i as f32).collect(), &[8])?;
    let mut w = LazyTensor::from_vec(vec![0.0f32; 8], &[8])?;
    let (compiles, hits) = (
        metrics::value(Counter::Compile),
        metrics::value(Counter::CacheHit),
    );
    for i in 0..10 {
        let lr = 0.5 / (1.0 + 0.1 * i as f32);
        w = step(&w, &target, lr)?;
        // End of step: compute every pending tensor (here just `w`) in one computation.
        lazyjit::mark_step()?;
    }
    println!("w = {:?}", w.to_vec::<f32>()?);
    println!(
        "compiles: {}, cache hits: {}",
        metrics::value(Counter::Compile) - compiles,
        metrics::value(Counter::CacheHit) - hits
    );

    // 3. Everything the executor counted and timed so far.
    println!("\n== 3. metrics report");
    print!("{}", metrics::report());

    // 4. The IR of a pending tensor: the graph a sync would compile (nothing runs).
    println!("\n== 4. IR of one more step (pending)");
    let next = step(&w, &target, 0.05)?;
    let options = DumpOptions {
        locations: true,
        hashes: false,
    };
    print!("{}", ir_text_with(&[&next], &options));
    println!("pending: {}", next.is_pending());

    // 5. A new shape is a new graph: it recompiles, and the executor explains the
    //    difference from the graph the same call sites built before.
    println!("\n== 5. why did it recompile?");
    let w4 = LazyTensor::from_vec(vec![0.0f32; 4], &[4])?;
    let target4 = LazyTensor::from_vec(vec![1.0f32; 4], &[4])?;
    let y4 = step(&w4, &target4, 0.1)?;
    println!("w4 after one step: {:?}", y4.to_vec::<f32>()?);
    match lazyjit::last_recompile() {
        Some(why) => println!("{why}"),
        None => println!("(no recompile explanation)"),
    }
    Ok(())
}
