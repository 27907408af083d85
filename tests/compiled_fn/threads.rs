//! Concurrent calls: one compiled function called from several threads at once, with
//! shared and new signatures, gives each caller its own right answer.

use super::*;
use lazyjit::compile;
use std::sync::{Arc, Barrier};

#[test]
fn concurrent_calls_are_correct() {
    const THREADS: usize = 4;
    let g = Arc::new(compile(f).max_versions(3));
    let start = Arc::new(Barrier::new(THREADS));
    let handles: Vec<_> = (0..THREADS)
        .map(|t| {
            let (g, start) = (g.clone(), start.clone());
            std::thread::spawn(move || -> Result<()> {
                start.wait();
                for k in 0..40 {
                    // Two signatures shared by all threads, one of this thread's own.
                    let n = [5, 6, 20 + t][k % 3];
                    let a = ramp(n, 0.01 * (t + 1) as f32, k as f32 * 0.1);
                    let b = ramp(n, -0.02, t as f32);
                    let y = g.call(&[&a, &b])?;
                    assert!(
                        close(&values(&y[0]), &expected(&a, &b)?),
                        "thread {t} call {k}"
                    );
                }
                Ok(())
            })
        })
        .collect();
    for h in handles {
        h.join().expect("no panic").expect("no error");
    }
    let s = g.stats();
    assert_eq!(s.calls, (THREADS * 40) as u64);
    assert!(s.versions <= 3);
}
