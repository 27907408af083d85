//! The `train_mnist` example's model and loops (included from `examples/train_mnist/`) on
//! the digits data: a short run learns, compiles a fixed small number of graphs, and a
//! training step in steady state reuses every parameter and optimizer-state buffer.

#[path = "support/mod.rs"]
mod support;

#[path = "../examples/train_mnist/model.rs"]
mod model;

use lazyjit::data::{Dataset, Split};
use lazyjit::metrics::Counter;
use lazyjit::nn::Module;
use lazyjit::optim::Optimizer;
use lazyjit::LazyTensor;
use model::{evaluate, optimizer, train_epoch, train_step, ModelKind, Net};
use std::path::Path;

fn digits(split: Split) -> Dataset {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/data/digits");
    Dataset::load(&dir, split).expect("the digits data is in the repository")
}

/// A few epochs of the tutorial recipe: the loss falls, test accuracy rises well above
/// chance, and the whole run compiles exactly three graphs — the training step for full
/// batches of 64, the step for the short last batch (1500 = 23·64 + 28), and the
/// evaluation forward pass on the 297 test images — whatever the number of epochs.
#[test]
fn the_tutorial_network_learns_the_digits_and_compiles_three_graphs() {
    let _serial = support::serial();
    lazyjit::clear_caches(); // counts compiles from nothing, whichever test ran first
    let (train, test) = (digits(Split::Train), digits(Split::Test));
    let mut net = Net::new(ModelKind::Cnn, train.rows(), train.cols(), 1).unwrap();
    let (mut opt, mut sched) = optimizer(&net, 1.0, 0.7).unwrap();
    let (_, untrained) = evaluate(&mut net, &test, 1000).unwrap();
    let before = support::Counters::now();
    let mut compiles_per_epoch = Vec::new();
    let mut epoch_losses = Vec::new();
    let mut accuracies = Vec::new();
    for epoch in 0..3 {
        let start = support::Counters::now();
        let mut losses = Vec::new();
        train_epoch(
            &mut net,
            &mut opt,
            &train,
            64,
            0,
            100 + epoch,
            |_, _, loss| {
                losses.push(loss.item::<f32>()?);
                Ok(())
            },
        )
        .unwrap();
        let (_, acc) = evaluate(&mut net, &test, 1000).unwrap();
        sched.step(&mut opt);
        compiles_per_epoch.push(start.delta(Counter::Compile));
        epoch_losses.push(losses.iter().sum::<f32>() / losses.len() as f32);
        accuracies.push(acc);
    }
    // The very first evaluation (before training) compiled the eval graph already.
    assert_eq!(compiles_per_epoch, vec![2, 0, 0], "{compiles_per_epoch:?}");
    assert_eq!(before.delta(Counter::Compile), 2);
    assert!(
        epoch_losses.windows(2).all(|w| w[1] < w[0]),
        "mean training loss per epoch falls: {epoch_losses:?}"
    );
    assert!(
        accuracies[2] > untrained + 0.5 && accuracies[2] > 0.8,
        "accuracy rises: {untrained} before, {accuracies:?}"
    );
    assert!((opt.lr() - 0.343).abs() < 1e-9, "StepLR: {}", opt.lr());
}

fn address(t: &LazyTensor) -> usize {
    t.ir_node().data().expect("computed").buffer().as_ptr() as usize
}

/// In steady state a training step allocates no new parameter or optimizer-state memory:
/// every update is written into the buffer of the value it replaces (buffer donation).
#[test]
fn a_steady_state_step_reuses_every_parameter_and_state_buffer() {
    let _serial = support::serial();
    let train = digits(Split::Train);
    let net = Net::new(ModelKind::Cnn, train.rows(), train.cols(), 3).unwrap();
    let (mut opt, _) = optimizer(&net, 1.0, 0.7).unwrap();
    let batch: Vec<usize> = (0..64).collect();
    let (x, y) = train.batch(&batch).unwrap();
    let snapshot = |opt: &lazyjit::optim::Adadelta| -> Vec<usize> {
        let mut a: Vec<usize> = net.parameters().iter().map(address).collect();
        for i in 0..net.parameters().len() {
            let (v, u) = opt.state(i).expect("state after a step");
            a.push(address(v));
            a.push(address(u));
        }
        a
    };
    train_step(&net, &mut opt, &x, &y).unwrap();
    train_step(&net, &mut opt, &x, &y).unwrap();
    let steady = snapshot(&opt);
    assert_eq!(steady.len(), 3 * net.parameters().len());
    let donated = support::Counters::now();
    for _ in 0..3 {
        train_step(&net, &mut opt, &x, &y).unwrap();
        assert_eq!(snapshot(&opt), steady, "parameter or state buffers moved");
    }
    assert_eq!(
        donated.delta(Counter::Donated),
        3 * steady.len() as u64,
        "every parameter and state update is written in place"
    );
}

/// `--model mlp`: flatten, 64 → 128 → 10; two epochs take it far above chance.
#[test]
fn the_mlp_learns_the_digits() {
    let _serial = support::serial();
    let (train, test) = (digits(Split::Train), digits(Split::Test));
    let mut net = Net::new(ModelKind::Mlp, train.rows(), train.cols(), 5).unwrap();
    assert_eq!(net.num_parameters(), 64 * 128 + 128 + 128 * 10 + 10);
    let (mut opt, _) = optimizer(&net, 1.0, 0.7).unwrap();
    for epoch in 0..2 {
        train_epoch(&mut net, &mut opt, &train, 64, 0, epoch, |_, _, _| Ok(())).unwrap();
    }
    let (loss, acc) = evaluate(&mut net, &test, 1000).unwrap();
    assert!(acc > 0.8 && loss < 1.0, "accuracy {acc}, loss {loss}");
}
