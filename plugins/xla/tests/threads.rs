//! The session's thread count reaches XLA's CPU client, and XLA really sizes its pool by it.
//!
//! A test binary of its own, with one test: the pool size travels through a process-wide
//! environment variable read when a client is created, so trainers made in parallel test
//! threads would race on it.

use plugin_api::testing::{mnist_dir, SessionBuilder};
use plugin_api::{Activation, Layer, Padding, Train};
use plugin_xla::{threads, XlaTrainer};

/// Trains one epoch; returns (run_info threads, XLAEigen threads alive, cpu_per_wall note).
fn train_one_epoch(builder: &SessionBuilder<'_>) -> (u32, usize, f64) {
    let mut trainer = XlaTrainer::new(&builder.session()).expect("trainer");
    let pool = threads::pool_threads();
    let run = builder.run(&mut trainer);
    let note = |key: &str| {
        run.reports[0]
            .notes
            .iter()
            .find(|n| n.key.as_str() == key)
            .map(|n| n.value.to_string())
            .unwrap_or_else(|| panic!("no {key} note"))
    };
    let cpu_per_wall: f64 = note("cpu_per_wall").parse().expect("a number");
    let busy: usize = note("busy_threads").parse().expect("a count");
    assert!(busy >= 1, "someone computed");
    (trainer.run_info().threads, pool, cpu_per_wall)
}

#[test]
fn the_pool_has_the_sessions_size() {
    let model = [
        Layer::Conv2d {
            filters: 32,
            kernel: 5,
            padding: Padding::Same,
            activation: Activation::Relu,
        },
        Layer::MaxPool2d { size: 2, stride: 2 },
        Layer::Flatten,
        Layer::Dense {
            units: 10,
            activation: Activation::None,
        },
    ];
    let builder = SessionBuilder::mnist(&mnist_dir(), 512, 16)
        .unwrap_or_else(|e| panic!("{e} (set MNIST_DIR)"))
        .plugin_name("xla")
        .model(&model)
        .batch_size(64);

    let (reported, pool, cpu_per_wall) = train_one_epoch(&builder.clone().threads(1));
    assert_eq!((reported, pool), (1, 1), "threads = 1");
    // One thread computes at a time: contention can only lower this, never raise it.
    assert!(
        cpu_per_wall < 1.3,
        "threads = 1 kept {cpu_per_wall} cores busy"
    );

    // The first client (and its pool) is gone with its trainer; the next one is sized anew.
    for want in [2, 3] {
        let (reported, pool, cpu_per_wall) = train_one_epoch(&builder.clone().threads(want));
        assert_eq!((reported, pool), (want, want as usize), "threads = {want}");
        println!("threads {want}: {cpu_per_wall} cores busy");
    }
}
