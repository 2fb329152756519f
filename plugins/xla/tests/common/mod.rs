//! What the xla plugin's tests share: a session builder over owned data, MNIST subsets, and a
//! progress sink that counts batches.
#![allow(dead_code)]

use abi_stable::sabi_trait::TD_Opaque;
use abi_stable::sabi_types::RRef;
use abi_stable::std_types::{RNone, RSlice, RSome, RStr};
use flate2::read::GzDecoder;
use plugin_api::{
    Activation, Dataset, Images, KeyValue, Layer, Optimizer, OptimizerKind, Padding, ProgressSink,
    ProgressSink_TO, Session, Tensor,
};
use std::io::Read;
use std::path::PathBuf;
use std::sync::Mutex;

/// `$MNIST_DIR`, else `../shared/data/mnist` beside the repository (as scripts/test does).
pub fn mnist_dir() -> PathBuf {
    std::env::var_os("MNIST_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/mnist")
        })
}

fn idx(name: &str, header: usize, items: usize, item_len: usize) -> Vec<u8> {
    let path = mnist_dir().join(name);
    let file = std::fs::File::open(&path)
        .unwrap_or_else(|e| panic!("{}: {e} (set MNIST_DIR)", path.display()));
    let mut bytes = vec![0u8; header + items * item_len];
    GzDecoder::new(file)
        .read_exact(&mut bytes)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    bytes.split_off(header)
}

/// The first `count` images of a split ("train" or "t10k"): pixels in [0, 1] and labels.
pub fn mnist(split: &str, count: usize) -> (Vec<f32>, Vec<u8>) {
    let pixels = idx(&format!("{split}-images-idx3-ubyte.gz"), 16, count, 28 * 28);
    let labels = idx(&format!("{split}-labels-idx1-ubyte.gz"), 8, count, 1);
    (
        pixels.iter().map(|&p| f32::from(p) / 255.0).collect(),
        labels,
    )
}

pub fn conv(filters: u32, kernel: u32) -> Layer {
    Layer::Conv2d {
        filters,
        kernel,
        padding: Padding::Same,
        activation: Activation::Relu,
    }
}

pub fn dense(units: u32) -> Layer {
    Layer::Dense {
        units,
        activation: Activation::None,
    }
}

/// A small CNN with every layer kind: learns MNIST subsets in seconds.
pub fn small_cnn() -> Vec<Layer> {
    vec![
        conv(8, 3),
        Layer::MaxPool2d { size: 2, stride: 2 },
        Layer::Flatten,
        Layer::Dropout { rate: 0.1 },
        dense(10),
    ]
}

/// An initial weight: name, shape, values.
pub type Weight = (String, Vec<u32>, Vec<f32>);

/// Owns everything a session borrows.
pub struct Fixture {
    pub model: Vec<Layer>,
    pub train: (Vec<f32>, Vec<u8>),
    pub test: (Vec<f32>, Vec<u8>),
    pub order: Vec<u32>,
    pub epochs: u32,
    pub batch_size: u32,
    pub threads: u32,
    pub device: String,
    pub options: Vec<(String, String)>,
    pub weights: Option<Vec<Weight>>,
}

impl Fixture {
    /// `train` and `test` MNIST images, `epochs` epochs with a different order each epoch.
    pub fn mnist(train: usize, test: usize, epochs: u32) -> Self {
        let mut order = Vec::new();
        for e in 0..epochs as usize {
            // A fixed, epoch-dependent permutation: stride 7 is coprime with the sizes used.
            order.extend((0..train).map(|i| ((i * 7 + e * 13) % train) as u32));
        }
        Fixture {
            model: small_cnn(),
            train: mnist("train", train),
            test: mnist("t10k", test),
            order,
            epochs,
            batch_size: 32,
            threads: 1,
            device: "cpu".into(),
            options: Vec::new(),
            weights: None,
        }
    }

    pub fn session(&self) -> Session<'_> {
        Session {
            plugin_name: RStr::from_str("xla"),
            model: RSlice::from_slice(&self.model),
            optimizer: Optimizer {
                kind: OptimizerKind::Adam,
                learning_rate: 1e-3,
                beta1: 0.9,
                beta2: 0.999,
                epsilon: 1e-8,
            },
            epochs: self.epochs,
            batch_size: self.batch_size,
            seed: 7,
            threads: self.threads,
            device: RStr::from_str(&self.device),
            data: Dataset {
                train: images(&self.train),
                test: images(&self.test),
                classes: 10,
            },
            order: RSlice::from_slice(&self.order),
            initial_weights: RNone,
            options: RSlice::from_slice(&[]),
        }
    }
}

/// `fixture.session()` with its options and initial weights, handed to `body` (they borrow
/// vectors that only live inside this call).
pub fn with_session<R>(fixture: &Fixture, body: impl FnOnce(&Session<'_>) -> R) -> R {
    let options: Vec<KeyValue<'_>> = fixture
        .options
        .iter()
        .map(|(k, v)| KeyValue {
            key: RStr::from_str(k),
            value: RStr::from_str(v),
        })
        .collect();
    let weights: Vec<Tensor<'_>> = fixture
        .weights
        .iter()
        .flatten()
        .map(|(name, shape, values)| Tensor {
            name: RStr::from_str(name),
            shape: RSlice::from_slice(shape),
            values: RSlice::from_slice(values),
        })
        .collect();
    let mut session = fixture.session();
    session.options = RSlice::from_slice(&options);
    if fixture.weights.is_some() {
        session.initial_weights = RSome(RSlice::from_slice(&weights));
    }
    body(&session)
}

fn images((pixels, labels): &(Vec<f32>, Vec<u8>)) -> Images<'_> {
    Images {
        pixels: RSlice::from_slice(pixels),
        labels: RSlice::from_slice(labels),
        count: labels.len() as u32,
        channels: 1,
        height: 28,
        width: 28,
    }
}

/// Records every `batch_done` call.
#[derive(Default)]
pub struct Batches(pub Mutex<Vec<(u32, u64, u64)>>);

impl ProgressSink for Batches {
    fn batch_done(&self, epoch: u32, batch: u64, batches: u64) {
        self.0.lock().unwrap().push((epoch, batch, batches));
    }
}

/// Runs `body` with a `Progress` that records into `batches`.
pub fn with_progress<R>(batches: &Batches, body: impl FnOnce(&plugin_api::Progress<'_>) -> R) -> R {
    let progress = ProgressSink_TO::from_ptr(RRef::new(batches), TD_Opaque);
    body(&progress)
}
