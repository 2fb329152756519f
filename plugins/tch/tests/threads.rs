//! The session's thread count reaches libtorch, and libtorch really uses that many threads.
//!
//! A test binary of its own, with one test: libtorch's thread settings are process-wide, so
//! other tests running in parallel threads would make these numbers meaningless.

mod common;

use common::{with_progress, Batches, Fixture};
use plugin_api::Train;
use plugin_tch::TchTrainer;

/// Threads of this process, from /proc (Linux only, like the host's energy meters).
fn os_threads() -> usize {
    std::fs::read_dir("/proc/self/task").map_or(0, |d| d.count())
}

fn train_one_epoch(fixture: &Fixture) -> (u32, i32, usize) {
    let session = fixture.session();
    let mut trainer = TchTrainer::new(&session).expect("trainer");
    let in_effect = tch::get_num_threads();
    let batches = Batches::default();
    with_progress(&batches, |p| trainer.train_epochs(1, p)).expect("train");
    (trainer.run_info().threads, in_effect, os_threads())
}

#[test]
fn thread_setting_takes_effect() {
    let before = os_threads();
    let mut fixture = Fixture::mnist(256, 16, 1);
    // Wide enough layers that libtorch parallelises the convolution when allowed to.
    fixture.model = vec![
        common::conv(32, 5),
        plugin_api::Layer::MaxPool2d { size: 2, stride: 2 },
        plugin_api::Layer::Flatten,
        common::dense(10),
    ];
    fixture.batch_size = 64;

    fixture.threads = 1;
    let (reported, in_effect, after_one) = train_one_epoch(&fixture);
    assert_eq!((reported, in_effect), (1, 1));
    assert_eq!(tch::get_num_interop_threads(), 1, "interop follows threads");
    // With one thread libtorch's OpenMP regions run on the calling thread: no pool appears.
    assert_eq!(after_one, before, "threads = 1 started worker threads");

    fixture.threads = 2;
    let (reported, in_effect, after_two) = train_one_epoch(&fixture);
    assert_eq!((reported, in_effect), (2, 2));
    assert!(
        after_two > after_one,
        "threads = 2 started no worker thread"
    );

    // The host may call train_epochs from another thread than new_trainer's; libtorch applies
    // the process-wide count to every thread that computes.
    let elsewhere = std::thread::spawn(tch::get_num_threads).join().unwrap();
    assert_eq!(elsewhere, 2);
}
