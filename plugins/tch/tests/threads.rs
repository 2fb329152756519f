//! The session's thread count reaches libtorch, and libtorch really uses that many threads.
//!
//! A test binary of its own, with one test: libtorch's thread settings are process-wide, so
//! other tests running in parallel threads would make these numbers meaningless.

use plugin_api::testing::{mnist_dir, small_cnn, Recorder, SessionBuilder};
use plugin_api::{Activation, Layer, Padding, Train};
use plugin_tch::TchTrainer;

/// Threads of this process, from /proc (Linux only, like the host's energy meters).
fn os_threads() -> usize {
    std::fs::read_dir("/proc/self/task").map_or(0, |d| d.count())
}

fn train_one_epoch(builder: &SessionBuilder<'_>) -> (u32, i32, usize) {
    let session = builder.session();
    let mut trainer = TchTrainer::new(&session).expect("trainer");
    let in_effect = tch::get_num_threads();
    let recorder = Recorder::default();
    trainer
        .train_epochs(1, &recorder.progress())
        .expect("train");
    (trainer.run_info().threads, in_effect, os_threads())
}

#[test]
fn thread_setting_takes_effect() {
    let before = os_threads();
    // The small CNN with a convolution wide enough that libtorch parallelises it when
    // allowed to.
    let mut model = small_cnn();
    model[0] = Layer::Conv2d {
        filters: 32,
        kernel: 5,
        padding: Padding::Same,
        activation: Activation::Relu,
    };
    let builder = SessionBuilder::mnist(&mnist_dir(), 256, 16)
        .unwrap_or_else(|e| panic!("{e} (set MNIST_DIR)"))
        .model(&model)
        .batch_size(64);

    let (reported, in_effect, after_one) = train_one_epoch(&builder.clone().threads(1));
    assert_eq!((reported, in_effect), (1, 1));
    assert_eq!(tch::get_num_interop_threads(), 1, "interop follows threads");
    // With one thread libtorch's OpenMP regions run on the calling thread: no pool appears.
    assert_eq!(after_one, before, "threads = 1 started worker threads");

    let (reported, in_effect, after_two) = train_one_epoch(&builder.threads(2));
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
