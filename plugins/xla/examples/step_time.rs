//! Training speed of the study's model on MNIST, without the host: compile time, then the
//! mean time of a train step over one epoch of the first `--train` images.
//!
//!     MNIST_DIR=../shared/data/mnist cargo run --release -p plugin-xla --example step_time -- \
//!         [--threads N] [--train N] [--batch N] [--maxpool-grad mask|scatter] [--dump DIR]
//!
//! For profiles (`perf record -g`) and for comparing program variants quickly; the numbers
//! that go into reports come from `host run` (plugins/xla/bench/).

use std::io::Read;
use std::time::Instant;

use abi_stable::sabi_trait::TD_Opaque;
use abi_stable::sabi_types::RRef;
use abi_stable::std_types::{RNone, RSlice, RStr};
use plugin_api::{
    Activation, Dataset, Images, KeyValue, Layer, Optimizer, OptimizerKind, Padding, ProgressSink,
    ProgressSink_TO, Session, Train,
};
use plugin_xla::XlaTrainer;

struct Quiet;
impl ProgressSink for Quiet {
    fn batch_done(&self, _: u32, _: u64, _: u64) {}
}

fn idx(name: &str, header: usize, items: usize, item_len: usize) -> Vec<u8> {
    let dir = std::env::var("MNIST_DIR").unwrap_or_else(|_| "../shared/data/mnist".into());
    let path = format!("{dir}/{name}");
    let file = std::fs::File::open(&path).unwrap_or_else(|e| panic!("{path}: {e} (set MNIST_DIR)"));
    let mut bytes = vec![0u8; header + items * item_len];
    flate2::read::GzDecoder::new(file)
        .read_exact(&mut bytes)
        .unwrap_or_else(|e| panic!("{path}: {e}"));
    bytes.split_off(header)
}

fn arg(args: &[String], key: &str, default: &str) -> String {
    args.iter()
        .position(|a| a == key)
        .and_then(|i| args.get(i + 1))
        .cloned()
        .unwrap_or_else(|| default.to_string())
}

fn conv(filters: u32, kernel: u32) -> Layer {
    Layer::Conv2d {
        filters,
        kernel,
        padding: Padding::Same,
        activation: Activation::Relu,
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let threads: u32 = arg(&args, "--threads", "1").parse().expect("--threads");
    let train: usize = arg(&args, "--train", "6400").parse().expect("--train");
    let batch: u32 = arg(&args, "--batch", "64").parse().expect("--batch");
    let pool = arg(&args, "--maxpool-grad", "mask");
    let dump = arg(&args, "--dump", "");

    let pixels: Vec<f32> = idx("train-images-idx3-ubyte.gz", 16, train, 784)
        .iter()
        .map(|&p| f32::from(p) / 255.0)
        .collect();
    let labels = idx("train-labels-idx1-ubyte.gz", 8, train, 1);
    let model = [
        conv(64, 3),
        Layer::MaxPool2d { size: 2, stride: 2 },
        conv(128, 5),
        Layer::MaxPool2d { size: 2, stride: 2 },
        Layer::Flatten,
        Layer::Dense {
            units: 10,
            activation: Activation::None,
        },
    ];
    let order: Vec<u32> = (0..train as u32).collect();
    let images = Images {
        pixels: RSlice::from_slice(&pixels),
        labels: RSlice::from_slice(&labels),
        count: train as u32,
        channels: 1,
        height: 28,
        width: 28,
    };
    let mut options = vec![KeyValue {
        key: RStr::from_str("maxpool_grad"),
        value: RStr::from_str(&pool),
    }];
    if !dump.is_empty() {
        options.push(KeyValue {
            key: RStr::from_str("dump_programs"),
            value: RStr::from_str(&dump),
        });
    }
    let session = Session {
        plugin_name: RStr::from_str("xla"),
        model: RSlice::from_slice(&model),
        optimizer: Optimizer {
            kind: OptimizerKind::Adam,
            learning_rate: 1e-3,
            beta1: 0.9,
            beta2: 0.999,
            epsilon: 1e-8,
        },
        epochs: 1,
        batch_size: batch,
        seed: 42,
        threads,
        device: RStr::from_str("cpu"),
        data: Dataset {
            train: images,
            test: images,
            classes: 10,
        },
        order: RSlice::from_slice(&order),
        initial_weights: RNone,
        options: RSlice::from_slice(&options),
    };
    let t = Instant::now();
    let mut trainer = XlaTrainer::new(&session).expect("trainer");
    let setup = t.elapsed().as_secs_f64();
    let progress = ProgressSink_TO::from_ptr(RRef::new(&Quiet), TD_Opaque);
    let t = Instant::now();
    let report = trainer.train_epochs(1, &progress).expect("train");
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
