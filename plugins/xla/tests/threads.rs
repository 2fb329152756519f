//! The session's thread count reaches XLA's CPU client, and XLA really sizes its pool by it.
//!
//! A test binary of its own, with one test: the pool size travels through a process-wide
//! environment variable read when a client is created, so trainers made in parallel test
//! threads would race on it.

mod common;

use common::{with_progress, Batches, Fixture};
use plugin_api::Train;
use plugin_xla::{threads, XlaTrainer};

/// Trains one epoch; returns (run_info threads, XLAEigen threads alive, cpu_per_wall note).
fn train_one_epoch(fixture: &Fixture) -> (u32, usize, f64) {
    let session = fixture.session();
    let mut trainer = XlaTrainer::new(&session).expect("trainer");
    let pool = threads::pool_threads();
    let batches = Batches::default();
    let report = with_progress(&batches, |p| trainer.train_epochs(1, p)).expect("train");
    let note = |key: &str| {
        report
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
    let mut fixture = Fixture::mnist(512, 16, 1);
    fixture.batch_size = 64;
    fixture.model = vec![
        common::conv(32, 5),
        plugin_api::Layer::MaxPool2d { size: 2, stride: 2 },
        plugin_api::Layer::Flatten,
        common::dense(10),
    ];

    fixture.threads = 1;
    let (reported, pool, cpu_per_wall) = train_one_epoch(&fixture);
    assert_eq!((reported, pool), (1, 1), "threads = 1");
    // One thread computes at a time: contention can only lower this, never raise it.
    assert!(
        cpu_per_wall < 1.3,
        "threads = 1 kept {cpu_per_wall} cores busy"
    );

    // The first client (and its pool) is gone with its trainer; the next one is sized anew.
    for want in [2, 3] {
        fixture.threads = want;
        let (reported, pool, cpu_per_wall) = train_one_epoch(&fixture);
        assert_eq!((reported, pool), (want, want as usize), "threads = {want}");
        println!("threads {want}: {cpu_per_wall} cores busy");
    }
}
