//! Buffer donation: when nothing outside a computation can read a parameter's buffer again,
//! the update of that parameter is written into it. A training step then allocates no new
//! parameter or optimizer-state memory, which the tests prove by buffer addresses (and the
//! `donated` counter), and a buffer anything else still holds is never donated.

use super::*;
use std::sync::Arc;

/// The address of a computed tensor's buffer.
fn addr(t: &LazyTensor) -> usize {
    t.ir_node().data().expect("computed").buffer().as_ptr() as usize
}

fn host_step(p: &[f32], g: &[f32]) -> Vec<f32> {
    p.iter().zip(g).map(|(p, g)| p * 0.5 + g).collect()
}

/// `steps` updates `p = 0.5 p + g`, each synced; returns the values and the buffer address
/// after each step.
fn train(n: usize, steps: usize) -> Result<(Vec<f32>, Vec<usize>)> {
    let g = LazyTensor::from_vec(ramp(n, -1.0, 0.01), &[n])?;
    let mut p = LazyTensor::from_vec(ramp(n, 2.0, 0.5), &[n])?;
    let mut want = ramp(n, 2.0, 0.5);
    let gh = ramp(n, -1.0, 0.01);
    let mut addrs = Vec::new();
    for _ in 0..steps {
        p = p.mul_scalar(0.5)?.add(&g)?;
        lazyjit::sync(&[&p])?;
        addrs.push(addr(&p));
        want = host_step(&want, &gh);
    }
    let got = p.to_vec::<f32>()?;
    assert_close(&got, &want, 1e-6);
    Ok((got, addrs))
}

#[test]
fn a_training_loop_updates_the_parameter_in_place() -> Result<()> {
    let _serial = serial();
    let before = Counters::now();
    let (_, addrs) = train(1031, 8)?;
    // From the first step on, nothing else holds p's old buffer: every update reuses it.
    assert!(
        addrs.windows(2).all(|w| w[0] == w[1]),
        "addresses moved: {addrs:x?}"
    );
    assert!(
        before.delta(Counter::Donated) >= 7,
        "{}",
        before.delta(Counter::Donated)
    );
    // One compile: donation is a run-time choice, not part of the graph's key.
    assert_eq!(before.delta(Counter::Compile), 1);
    Ok(())
}

#[test]
fn momentum_and_parameter_are_both_updated_in_place() -> Result<()> {
    let _serial = serial();
    let n = 1033;
    let g = LazyTensor::from_vec(ramp(n, 0.5, -0.001), &[n])?;
    let mut p = LazyTensor::from_vec(ramp(n, 1.0, 0.001), &[n])?;
    let mut m = LazyTensor::zeros(&[n], lazyjit::DType::F32)?;
    let (mut ph, mut mh) = (ramp(n, 1.0, 0.001), vec![0.0f32; n]);
    let gh = ramp(n, 0.5, -0.001);
    let before = Counters::now();
    let mut seen = Vec::new();
    for _ in 0..5 {
        m = m.mul_scalar(0.9)?.add(&g)?;
        p = p.sub(&m.mul_scalar(0.1)?)?;
        lazyjit::sync(&[&p, &m])?;
        seen.push((addr(&p), addr(&m)));
        for i in 0..n {
            mh[i] = mh[i] * 0.9 + gh[i];
            ph[i] -= mh[i] * 0.1;
        }
    }
    assert_close(&p.to_vec::<f32>()?, &ph, 1e-5);
    assert_close(&m.to_vec::<f32>()?, &mh, 1e-5);
    // m starts as a (possibly shared) zeros tensor; from the second step on, both buffers
    // stay where they are.
    assert!(
        seen[1..].windows(2).all(|w| w[0] == w[1]),
        "addresses moved: {seen:x?}"
    );
    assert!(before.delta(Counter::Donated) >= 8);
    Ok(())
}

#[test]
fn a_clone_of_the_old_handle_keeps_its_buffer() -> Result<()> {
    let _serial = serial();
    let n = 1039;
    let (_, _) = train(n, 1)?; // compile once
    let g = LazyTensor::from_vec(ramp(n, -1.0, 0.01), &[n])?;
    let mut p = LazyTensor::from_vec(ramp(n, 2.0, 0.5), &[n])?;
    let old = p.clone();
    let old_addr = addr(&old);
    let before = Counters::now();
    p = p.mul_scalar(0.5)?.add(&g)?;
    lazyjit::sync(&[&p])?;
    assert_ne!(addr(&p), old_addr);
    assert_eq!(old.to_vec::<f32>()?, ramp(n, 2.0, 0.5));
    assert_eq!(addr(&old), old_addr);
    assert_eq!(before.delta(Counter::Donated), 0);
    Ok(())
}

#[test]
fn a_pending_reader_outside_the_sync_keeps_the_old_value() -> Result<()> {
    let _serial = serial();
    let n = 1049;
    let g = LazyTensor::from_vec(ramp(n, -1.0, 0.01), &[n])?;
    let mut p = LazyTensor::from_vec(ramp(n, 2.0, 0.5), &[n])?;
    let before = Counters::now();
    // A pending tensor reading p, not synced with the update.
    let q = p.mul_scalar(3.0)?;
    p = p.mul_scalar(0.5)?.add(&g)?;
    lazyjit::sync(&[&p])?;
    assert_eq!(before.delta(Counter::Donated), 0);
    let want: Vec<f32> = ramp(n, 2.0, 0.5).iter().map(|x| x * 3.0).collect();
    // Now q's graph is the only reader of the old buffer, so q's own sync may take it.
    assert_close(&q.to_vec::<f32>()?, &want, 1e-6);
    Ok(())
}

#[test]
fn a_pending_intermediate_outside_the_sync_blocks_donation() -> Result<()> {
    let _serial = serial();
    let n = 1051;
    let g = LazyTensor::from_vec(ramp(n, -1.0, 0.01), &[n])?;
    let mut p = LazyTensor::from_vec(ramp(n, 2.0, 0.5), &[n])?;
    let before = Counters::now();
    // `half` is pending, not synced, and reaches p's old buffer.
    let half = p.mul_scalar(0.5)?;
    p = half.add(&g)?;
    lazyjit::sync(&[&p])?;
    assert_eq!(before.delta(Counter::Donated), 0);
    let want: Vec<f32> = ramp(n, 2.0, 0.5).iter().map(|x| x * 0.5).collect();
    assert_close(&half.to_vec::<f32>()?, &want, 1e-6);
    Ok(())
}

#[test]
fn a_user_held_ir_node_keeps_its_buffer() -> Result<()> {
    let _serial = serial();
    let n = 1061;
    let g = LazyTensor::from_vec(ramp(n, -1.0, 0.01), &[n])?;
    let mut p = LazyTensor::from_vec(ramp(n, 2.0, 0.5), &[n])?;
    let node = p.ir_node();
    let before = Counters::now();
    p = p.mul_scalar(0.5)?.add(&g)?;
    lazyjit::sync(&[&p])?;
    assert_eq!(before.delta(Counter::Donated), 0);
    let data = node.data().expect("still data");
    assert_eq!(data.as_slice::<f32>().unwrap(), &ramp(n, 2.0, 0.5)[..]);
    assert_ne!(data.buffer().as_ptr() as usize, addr(&p));
    // The data's Arc itself shared (a computed tensor's buffer held by a user): also kept.
    let mut p = LazyTensor::from_vec(ramp(n, 2.0, 0.5), &[n])?;
    let shared: Arc<lazyjit::lowering::Tensor> = p.ir_node().data().unwrap().clone();
    p = p.mul_scalar(0.5)?.add(&g)?;
    lazyjit::sync(&[&p])?;
    assert_eq!(shared.as_slice::<f32>().unwrap(), &ramp(n, 2.0, 0.5)[..]);
    assert_eq!(before.delta(Counter::Donated), 0);
    Ok(())
}

#[test]
fn donation_off_gives_new_buffers_and_the_same_values() -> Result<()> {
    let _serial = serial();
    let n = 1063;
    let (on, _) = train(n, 5)?;
    let before = Counters::now();
    let (off, addrs) = config::with(|c| c.donate = false, || train(n, 5))?;
    assert_eq!(on, off);
    assert_eq!(before.delta(Counter::Donated), 0);
    assert!(
        addrs.windows(2).any(|w| w[0] != w[1]),
        "without donation every step writes a new buffer: {addrs:x?}"
    );
    Ok(())
}

#[test]
fn the_reference_backend_gives_the_same_results() -> Result<()> {
    let _serial = serial();
    let n = 1069;
    let (jit, _) = train(n, 6)?;
    let (reference, _) = config::with(|c| c.backend = BackendKind::Reference, || train(n, 6))?;
    assert_close(&jit, &reference, 1e-6);
    Ok(())
}

#[test]
fn threads_syncing_the_same_update_read_the_right_values() -> Result<()> {
    let _serial = serial();
    let n = 4099;
    let g = LazyTensor::from_vec(ramp(n, -1.0, 0.01), &[n])?;
    let want = host_step(&ramp(n, 2.0, 0.5), &ramp(n, -1.0, 0.01));
    for _ in 0..100 {
        let p = LazyTensor::from_vec(ramp(n, 2.0, 0.5), &[n])?;
        let t = p.mul_scalar(0.5)?.add(&g)?;
        drop(p);
        std::thread::scope(|s| {
            let hs: Vec<_> = (0..3)
                .map(|_| {
                    let t = t.clone();
                    s.spawn(move || t.to_vec::<f32>())
                })
                .collect();
            for h in hs {
                let got = h.join().unwrap().unwrap();
                assert_close(&got, &want, 1e-6);
            }
        });
    }
    Ok(())
}

#[test]
fn a_donated_leaf_seen_through_a_kept_root_has_no_data() -> Result<()> {
    let _serial = serial();
    let n = 1087;
    let g = LazyTensor::from_vec(ramp(n, -1.0, 0.01), &[n])?;
    let mut p = LazyTensor::from_vec(ramp(n, 2.0, 0.5), &[n])?;
    let old = addr(&p);
    p = p.mul_scalar(0.5)?.add(&g)?;
    // A root held by the user: roots may be referenced from outside (the sync computes
    // them), so the old buffer is still donated; its leaf then reports no data.
    let root = p.ir_node();
    let before = Counters::now();
    lazyjit::sync(&[&p])?;
    assert_eq!(before.delta(Counter::Donated), 1);
    assert_eq!(addr(&p), old);
    let leaf = root.operands()[0].operands()[0].clone();
    assert!(leaf.data().is_none(), "a donated leaf hides its buffer");
    assert_eq!(
        root.data().map(|d| d.buffer().as_ptr() as usize),
        Some(old),
        "the root's value is the donated buffer"
    );
    Ok(())
}

#[test]
fn mark_step_donates_too() -> Result<()> {
    let _serial = serial();
    let n = 1091;
    let g = LazyTensor::from_vec(ramp(n, -1.0, 0.01), &[n])?;
    let mut p = LazyTensor::from_vec(ramp(n, 2.0, 0.5), &[n])?;
    let mut want = ramp(n, 2.0, 0.5);
    let gh = ramp(n, -1.0, 0.01);
    let mut addrs = Vec::new();
    for _ in 0..4 {
        p = p.mul_scalar(0.5)?.add(&g)?;
        lazyjit::mark_step()?;
        addrs.push(addr(&p));
        want = host_step(&want, &gh);
    }
    assert_close(&p.to_vec::<f32>()?, &want, 1e-6);
    assert!(addrs.windows(2).all(|w| w[0] == w[1]), "{addrs:x?}");
    Ok(())
}
