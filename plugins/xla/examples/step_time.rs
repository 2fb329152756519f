//! Training speed of the study's model on MNIST, without the host: compile time, then the
//! mean time of a train step over one epoch of the first `--train` images.
//!
//!     MNIST_DIR=../shared/data/mnist cargo run --release -p plugin-xla --example step_time -- \
//!         [--threads N] [--train N] [--batch N] [--maxpool-grad mask|scatter] [--dump DIR]
//!
//! For profiles (`perf record -g`) and for comparing program variants quickly; the numbers
//! that go into reports come from `host run` (plugins/xla/bench/).

use std::time::Instant;

use plugin_api::testing::{mnist_dir, study_model, Recorder, SessionBuilder};
use plugin_api::{KeyValue, Train};
use plugin_xla::XlaTrainer;

mod common;
use common::arg;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let threads: u32 = arg(&args, "--threads", "1").parse().expect("--threads");
    let train: usize = arg(&args, "--train", "6400").parse().expect("--train");
    let batch: u32 = arg(&args, "--batch", "64").parse().expect("--batch");
    let pool = arg(&args, "--maxpool-grad", "mask");
    let dump = arg(&args, "--dump", "");

    let mut options = vec![KeyValue::new("maxpool_grad", &pool)];
    if !dump.is_empty() {
        options.push(KeyValue::new("dump_programs", &dump));
    }
    let builder = SessionBuilder::mnist(&mnist_dir(), train, 1)
        .unwrap_or_else(|e| panic!("{e} (set MNIST_DIR)"))
        .plugin_name("xla")
        .model(&study_model())
        .batch_size(batch)
        .seed(42)
        .threads(threads)
        .options(&options);
    let session = builder.session();
    let t = Instant::now();
    let mut trainer = XlaTrainer::new(&session).expect("trainer");
    let setup = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let report = trainer
        .train_epochs(1, &Recorder::default().progress())
        .expect("train");
    let secs = t.elapsed().as_secs_f64();
    let steps = train.div_ceil(batch as usize);
    let notes: Vec<String> = report
        .notes
        .iter()
        .map(|n| format!("{}={}", n.key, n.value))
        .collect();
    println!(
        "threads {threads} maxpool_grad {pool}: setup {setup:.2} s, {:.1} ms/step, {:.0} img/s, \
         loss {:.4}, {}",
        1e3 * secs / steps as f64,
        train as f64 / secs,
        report.epoch_losses[0],
        notes.join(" ")
    );
}
