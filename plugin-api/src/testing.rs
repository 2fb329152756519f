//! Test helpers for plugin authors (cargo feature `testing`): a [`SessionBuilder`] that owns
//! the data a [`Session`] borrows (synthetic digits, or real MNIST read from a folder), a
//! [`Recorder`] that is a progress sink, and [`SessionBuilder::run`], which takes a trainer
//! through the host's steps and checks the protocol on the way.
//!
//! ```toml
//! [dev-dependencies]
//! plugin-api = { path = "../plugin-api", features = ["testing"] }
//! ```
//!
//! A unit test of a (deliberately simple) trainer:
//!
//! ```
//! use plugin_api::epochs::{Batch, BatchStep, Epochs};
//! use plugin_api::testing::SessionBuilder;
//! use plugin_api::{EvalReport, PluginError, Progress, RunInfo, Session, Train, TrainReport};
//!
//! /// Predicts the most frequent training label.
//! struct Majority<'a> { session: Session<'a>, epochs: Epochs<'a>, counts: Counts<'a> }
//! struct Counts<'a> { labels: &'a [u8], seen: [u64; 10] }
//!
//! impl BatchStep for Counts<'_> {
//!     type Epoch = f64;
//!     fn begin_epoch(&mut self, _: &[u32]) -> Result<f64, PluginError> { Ok(0.0) }
//!     fn train_batch(&mut self, loss: &mut f64, batch: Batch<'_>) -> Result<(), PluginError> {
//!         for &i in batch.indices {
//!             self.seen[self.labels[i as usize] as usize] += 1;
//!         }
//!         *loss += 10f64.ln() * batch.indices.len() as f64;
//!         Ok(())
//!     }
//!     fn end_epoch(&mut self, loss: f64) -> Result<f64, PluginError> { Ok(loss) }
//! }
//!
//! impl Train for Majority<'_> {
//!     fn run_info(&self) -> RunInfo { RunInfo { threads: 1, ..Default::default() } }
//!     fn train_epochs(&mut self, n: u32, p: &Progress<'_>) -> Result<TrainReport, PluginError> {
//!         self.epochs.train(n, p, &mut self.counts)
//!     }
//!     fn evaluate(&mut self) -> Result<EvalReport, PluginError> {
//!         let seen = &self.counts.seen;
//!         let best = (0..10).max_by_key(|&c| seen[c]).unwrap_or(0) as u8;
//!         let labels = self.session.data.test.labels.as_slice();
//!         let hits = labels.iter().filter(|&&l| l == best).count();
//!         Ok(EvalReport {
//!             accuracy: hits as f64 / labels.len() as f64,
//!             loss: 10f64.ln(),
//!             samples: labels.len() as u64,
//!             notes: Default::default(),
//!         })
//!     }
//! }
//!
//! let builder = SessionBuilder::synthetic(50, 20).epochs(2).batch_size(16);
//! let session = builder.session();
//! let mut trainer = Majority {
//!     session,
//!     epochs: Epochs::new(&session)?,
//!     counts: Counts { labels: session.data.train.labels.as_slice(), seen: [0; 10] },
//! };
//! // Two calls of train_epochs(1, ..), then evaluate(), then one call too many, each checked.
//! let run = builder.run(&mut trainer);
//! assert_eq!(run.progress.len(), 2 * 4); // 50 = 16 + 16 + 16 + 2
//! assert!(run.eval.accuracy <= 0.2);
//! # Ok::<(), PluginError>(())
//! ```

pub mod reference;

use std::cell::OnceCell;
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use abi_stable::sabi_trait::TD_Opaque;
use abi_stable::sabi_types::RRef;
use abi_stable::std_types::{ROption, RSlice, RStr};

use crate::report::{ErrorKind, EvalReport, PluginError, TrainReport};
use crate::rng::SplitMix64;
use crate::session::{
    Activation, Dataset, Images, KeyValue, Layer, Optimizer, OptimizerKind, Padding, Session,
    Tensor,
};
use crate::trainer::{Progress, ProgressSink, ProgressSink_TO, Train};

/// Side of the synthetic digits, as MNIST's.
const SIDE: usize = 28;

/// Images and labels owned by the test.
#[derive(Clone, Debug, PartialEq)]
pub struct OwnedImages {
    /// `count × channels × height × width` values in `[0, 1]`.
    pub pixels: Vec<f32>,
    pub labels: Vec<u8>,
    pub channels: u32,
    pub height: u32,
    pub width: u32,
}

impl OwnedImages {
    /// The images as a session lends them.
    pub fn images(&self) -> Images<'_> {
        Images {
            pixels: RSlice::from_slice(&self.pixels),
            labels: RSlice::from_slice(&self.labels),
            count: self.labels.len() as u32,
            channels: self.channels,
            height: self.height,
            width: self.width,
        }
    }
}

/// `count` synthetic 28×28 "digits": image `i` is class `(7i + offset) mod 10`, which lights
/// a horizontal band at rows `2c+3 .. 2c+6` over faint deterministic noise. A small model
/// learns them from a few hundred samples, but not in one step.
pub fn synthetic_digits(count: usize, offset: usize) -> OwnedImages {
    let mut pixels = vec![0.0f32; count * SIDE * SIDE];
    let mut labels = Vec::with_capacity(count);
    for (i, image) in pixels.chunks_exact_mut(SIDE * SIDE).enumerate() {
        let class = (i * 7 + offset) % 10;
        labels.push(class as u8);
        for (p, v) in image.iter_mut().enumerate() {
            *v = ((p * 7 + i * 13) % 17) as f32 / 40.0;
        }
        for row in 2 * class + 3..2 * class + 6 {
            image[row * SIDE + 4..row * SIDE + 24].fill(1.0);
        }
    }
    OwnedImages {
        pixels,
        labels,
        channels: 1,
        height: SIDE as u32,
        width: SIDE as u32,
    }
}

/// Which MNIST file pair to read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Split {
    /// `train-*-idx?-ubyte[.gz]`, 60,000 images.
    Train,
    /// `t10k-*-idx?-ubyte[.gz]`, 10,000 images.
    Test,
}

/// Where MNIST is looked for: `$MNIST_DIR`, else the host's download cache
/// (`$XDG_CACHE_HOME/joulebench/mnist` or `~/.cache/joulebench/mnist`).
pub fn mnist_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("MNIST_DIR") {
        return PathBuf::from(dir);
    }
    std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .unwrap_or_default()
        .join("joulebench/mnist")
}

/// The first `count` images of a split from the IDX files in `dir` (raw or `.gz`), scaled to
/// `[0, 1]` as the host scales them. Errors name the file.
pub fn read_mnist(dir: &Path, split: Split, count: usize) -> io::Result<OwnedImages> {
    let stem = match split {
        Split::Train => "train",
        Split::Test => "t10k",
    };
    let (dims, pixels) = read_idx(dir, &format!("{stem}-images-idx3-ubyte"), count)?;
    let (_, labels) = read_idx(dir, &format!("{stem}-labels-idx1-ubyte"), count)?;
    let [_, height, width] = dims[..] else {
        return Err(io::Error::other(format!(
            "{stem} images in {}: expected 3 dimensions, found {dims:?}",
            dir.display()
        )));
    };
    Ok(OwnedImages {
        pixels: pixels.iter().map(|&p| f32::from(p) / 255.0).collect(),
        labels,
        channels: 1,
        height,
        width,
    })
}

/// An unsigned-byte IDX file's dimensions and its first `items` items.
fn read_idx(dir: &Path, stem: &str, items: usize) -> io::Result<(Vec<u32>, Vec<u8>)> {
    let gz = dir.join(format!("{stem}.gz"));
    let (path, bytes) = if gz.is_file() {
        let mut bytes = Vec::new();
        flate2::read::GzDecoder::new(std::fs::File::open(&gz)?).read_to_end(&mut bytes)?;
        (gz, bytes)
    } else {
        let raw = dir.join(stem);
        let bytes = std::fs::read(&raw)
            .map_err(|e| io::Error::new(e.kind(), format!("{}[.gz]: {e}", raw.display())))?;
        (raw, bytes)
    };
    let bad = |why: &str| io::Error::other(format!("{}: {why}", path.display()));
    let ndim = match bytes.get(..4) {
        Some([0, 0, 0x08, n]) => *n as usize,
        _ => return Err(bad("not an unsigned-byte IDX file")),
    };
    let header = bytes
        .get(4..4 + 4 * ndim)
        .ok_or_else(|| bad("truncated header"))?;
    let dims: Vec<u32> = header
        .chunks_exact(4)
        .map(|d| u32::from_be_bytes([d[0], d[1], d[2], d[3]]))
        .collect();
    let available = dims.first().copied().unwrap_or(0) as usize;
    if items > available {
        return Err(bad(&format!(
            "holds {available} items, {items} were asked for"
        )));
    }
    let item_len: usize = dims.iter().skip(1).map(|&d| d as usize).product();
    let body = &bytes[4 + 4 * ndim..];
    let data = body
        .get(..items * item_len)
        .ok_or_else(|| bad("shorter than its header says"))?;
    Ok((dims, data.to_vec()))
}

/// A small CNN with every layer kind (the model `host check-plugin` uses, plus a dropout):
/// conv2d 4×3×3 `same` + ReLU, 2×2 max-pool, flatten, dropout 0.1, dense 10.
pub fn small_cnn() -> Vec<Layer> {
    vec![
        Layer::Conv2d {
            filters: 4,
            kernel: 3,
            padding: Padding::Same,
            activation: Activation::Relu,
        },
        Layer::MaxPool2d { size: 2, stride: 2 },
        Layer::Flatten,
        Layer::Dropout { rate: 0.1 },
        Layer::Dense {
            units: 10,
            activation: Activation::None,
        },
    ]
}

/// A model for weight-loading checks, small enough for [`reference`]'s naive arithmetic:
/// conv2d 3×3×3 `same` + ReLU, 2×2 max-pool, conv2d 4×5×5 `same` + ReLU, 2×2 max-pool, flatten
/// (of 4 channels, so a wrong flatten order shows), dense 10.
pub fn parity_model() -> Vec<Layer> {
    two_conv_model((3, 3), (4, 5))
}

/// The study's model (`manifests/mnist.toml`).
pub fn study_model() -> Vec<Layer> {
    two_conv_model((64, 3), (128, 5))
}

/// Conv2d (filters, kernel) `same` + ReLU, 2×2 max-pool, the second conv2d and max-pool,
/// flatten, dense 10: the study's shape at any size.
fn two_conv_model(first: (u32, u32), second: (u32, u32)) -> Vec<Layer> {
    let conv = |(filters, kernel): (u32, u32)| Layer::Conv2d {
        filters,
        kernel,
        padding: Padding::Same,
        activation: Activation::Relu,
    };
    vec![
        conv(first),
        Layer::MaxPool2d { size: 2, stride: 2 },
        conv(second),
        Layer::MaxPool2d { size: 2, stride: 2 },
        Layer::Flatten,
        Layer::Dense {
            units: 10,
            activation: Activation::None,
        },
    ]
}

/// Owns everything a [`Session`] borrows, with the session's settings; `'a` is the life of
/// the options and initial weights, which the test owns.
///
/// Defaults: plugin name `test`, [`small_cnn`], Adam (lr 1e-3, betas 0.9/0.999, ε 1e-8),
/// 1 epoch, batch size 32, seed 7, 1 thread, `cpu`, 10 classes, no options, no initial
/// weights. The sample order is a different seeded permutation each epoch.
#[derive(Clone, Debug)]
pub struct SessionBuilder<'a> {
    plugin_name: String,
    model: Vec<Layer>,
    optimizer: Optimizer,
    epochs: u32,
    batch_size: u32,
    seed: u64,
    threads: u32,
    device: String,
    train: OwnedImages,
    test: OwnedImages,
    classes: u32,
    options: Vec<KeyValue<'a>>,
    initial_weights: Option<Vec<Tensor<'a>>>,
    /// Made on first use from the epochs, the training-set size and the seed.
    order: OnceCell<Vec<u32>>,
}

impl<'a> SessionBuilder<'a> {
    /// A session over these images (`classes` defaults to 10).
    pub fn from_images(train: OwnedImages, test: OwnedImages) -> Self {
        SessionBuilder {
            plugin_name: "test".into(),
            model: small_cnn(),
            optimizer: Optimizer {
                kind: OptimizerKind::Adam,
                learning_rate: 1e-3,
                beta1: 0.9,
                beta2: 0.999,
                epsilon: 1e-8,
            },
            epochs: 1,
            batch_size: 32,
            seed: 7,
            threads: 1,
            device: "cpu".into(),
            train,
            test,
            classes: 10,
            options: Vec::new(),
            initial_weights: None,
            order: OnceCell::new(),
        }
    }

    /// `train` and `test` [`synthetic_digits`] (the test set starts at another class).
    pub fn synthetic(train: usize, test: usize) -> Self {
        Self::from_images(synthetic_digits(train, 0), synthetic_digits(test, 3))
    }

    /// The first `train` and `test` images of real MNIST from `dir` (see [`mnist_dir`]).
    pub fn mnist(dir: &Path, train: usize, test: usize) -> io::Result<Self> {
        Ok(Self::from_images(
            read_mnist(dir, Split::Train, train)?,
            read_mnist(dir, Split::Test, test)?,
        ))
    }

    pub fn plugin_name(self, name: &str) -> Self {
        SessionBuilder {
            plugin_name: name.into(),
            ..self
        }
    }

    pub fn model(self, model: &[Layer]) -> Self {
        SessionBuilder {
            model: model.to_vec(),
            ..self
        }
    }

    pub fn optimizer(self, optimizer: Optimizer) -> Self {
        SessionBuilder { optimizer, ..self }
    }

    pub fn learning_rate(mut self, learning_rate: f64) -> Self {
        self.optimizer.learning_rate = learning_rate;
        self
    }

    /// Also makes a new sample order.
    pub fn epochs(self, epochs: u32) -> Self {
        SessionBuilder {
            epochs,
            order: OnceCell::new(),
            ..self
        }
    }

    pub fn batch_size(self, batch_size: u32) -> Self {
        SessionBuilder { batch_size, ..self }
    }

    /// The trainer's seed; the sample order derives from it too.
    pub fn seed(self, seed: u64) -> Self {
        SessionBuilder {
            seed,
            order: OnceCell::new(),
            ..self
        }
    }

    pub fn threads(self, threads: u32) -> Self {
        SessionBuilder { threads, ..self }
    }

    pub fn device(self, device: &str) -> Self {
        SessionBuilder {
            device: device.into(),
            ..self
        }
    }

    pub fn classes(self, classes: u32) -> Self {
        SessionBuilder { classes, ..self }
    }

    /// Replaces the options (the host would add `manifest_dir`; add it here when the plugin
    /// resolves paths).
    pub fn options(self, options: &[KeyValue<'a>]) -> Self {
        SessionBuilder {
            options: options.to_vec(),
            ..self
        }
    }

    /// Adds one option.
    pub fn option(mut self, key: &'a str, value: &'a str) -> Self {
        self.options.push(KeyValue::new(key, value));
        self
    }

    /// Initial weights, named and laid out as [`Tensor`] documents.
    pub fn initial_weights(self, weights: &[Tensor<'a>]) -> Self {
        SessionBuilder {
            initial_weights: Some(weights.to_vec()),
            ..self
        }
    }

    pub fn train(&self) -> &OwnedImages {
        &self.train
    }

    pub fn test(&self) -> &OwnedImages {
        &self.test
    }

    /// The training images, to change (a wrong label, a size that lies); the sample order is
    /// made anew.
    pub fn train_mut(&mut self) -> &mut OwnedImages {
        self.order = OnceCell::new();
        &mut self.train
    }

    pub fn test_mut(&mut self) -> &mut OwnedImages {
        &mut self.test
    }

    /// `epochs` permutations of the training set, one after the other.
    pub fn order(&self) -> &[u32] {
        self.order.get_or_init(|| {
            let n = self.train.labels.len() as u32;
            (0..self.epochs)
                .flat_map(|e| {
                    let mut epoch: Vec<u32> = (0..n).collect();
                    SplitMix64::derive(self.seed, &[ORDER_STREAM, u64::from(e)])
                        .shuffle(&mut epoch);
                    epoch
                })
                .collect()
        })
    }

    /// The session, borrowing from this builder.
    pub fn session(&self) -> Session<'_> {
        Session {
            plugin_name: RStr::from_str(&self.plugin_name),
            model: RSlice::from_slice(&self.model),
            optimizer: self.optimizer,
            epochs: self.epochs,
            batch_size: self.batch_size,
            seed: self.seed,
            threads: self.threads,
            device: RStr::from_str(&self.device),
            data: Dataset {
                train: self.train.images(),
                test: self.test.images(),
                classes: self.classes,
            },
            order: RSlice::from_slice(self.order()),
            initial_weights: match &self.initial_weights {
                Some(w) => ROption::RSome(RSlice::from_slice(w)),
                None => ROption::RNone,
            },
            options: RSlice::from_slice(&self.options),
        }
    }
}

/// Stream of [`SplitMix64::derive`] for the sample order (`"order"` in ASCII), apart from the
/// trainer's seed.
const ORDER_STREAM: u64 = 0x006f_7264_6572;

/// A progress sink that keeps every call, `(epoch, batch, batches)`.
#[derive(Debug, Default)]
pub struct Recorder(Mutex<Vec<(u32, u64, u64)>>);

impl Recorder {
    /// The `Progress` to hand to `train_epochs`.
    pub fn progress(&self) -> Progress<'_> {
        ProgressSink_TO::from_ptr(RRef::new(self), TD_Opaque)
    }

    /// Every call so far.
    pub fn calls(&self) -> Vec<(u32, u64, u64)> {
        self.0.lock().map(|c| c.clone()).unwrap_or_default()
    }
}

impl ProgressSink for Recorder {
    fn batch_done(&self, epoch: u32, batch: u64, batches: u64) {
        if let Ok(mut calls) = self.0.lock() {
            calls.push((epoch, batch, batches));
        }
    }
}

/// What [`SessionBuilder::run`] saw.
#[derive(Clone, Debug)]
pub struct Run {
    /// One report per `train_epochs(1, ..)` call.
    pub reports: Vec<TrainReport>,
    /// The loss of each epoch, in order.
    pub losses: Vec<f64>,
    /// Every progress call.
    pub progress: Vec<(u32, u64, u64)>,
    pub eval: EvalReport,
}

impl Run {
    /// Panics unless the run learned: every loss finite and positive, the first epoch's below
    /// chance (ln 10), each epoch's below the one before, a test accuracy above `min_accuracy`
    /// and a test loss below the first epoch's, and `batches` progress calls per epoch ending
    /// `(epoch, batches, batches)`.
    pub fn assert_learned(&self, batches: u64, min_accuracy: f64) {
        let (losses, eval) = (&self.losses, &self.eval);
        println!("losses {losses:?}, test accuracy {:.3}", eval.accuracy);
        assert!(
            losses.iter().all(|l| l.is_finite() && *l > 0.0),
            "{losses:?}"
        );
        assert!(losses[0] < 10f64.ln(), "epoch 1 beats chance: {losses:?}");
        assert!(losses.windows(2).all(|w| w[1] < w[0]), "{losses:?}");
        assert!(
            eval.accuracy > min_accuracy,
            "accuracy {} (at least {min_accuracy} expected)",
            eval.accuracy
        );
        assert!(
            eval.loss.is_finite() && eval.loss < losses[0],
            "loss {}",
            eval.loss
        );
        let epochs = losses.len() as u64;
        assert_eq!(self.progress.len() as u64, epochs * batches);
        for epoch in 0..epochs {
            let last = self.progress[((epoch + 1) * batches - 1) as usize];
            assert_eq!(last, (epoch as u32, batches, batches));
        }
    }
}

impl SessionBuilder<'_> {
    /// Takes `trainer` (built from [`Self::session`]) through the host's steps: one
    /// `train_epochs(1, ..)` per epoch, `evaluate()`, then one `train_epochs(1, ..)` past the
    /// last epoch. Panics, naming the step, when a step fails or breaks the protocol: every
    /// sample trained once per epoch, one finite loss per call, a progress call per batch
    /// ending `(epoch, batches, batches)`, every test sample evaluated, an accuracy in
    /// `[0, 1]`, a finite loss, and a [`ErrorKind::Failed`] error past the last epoch.
    pub fn run(&self, trainer: &mut impl Train) -> Run {
        let (samples, batch) = (self.train.labels.len(), self.batch_size.max(1) as usize);
        let batches = samples.div_ceil(batch) as u64;
        let recorder = Recorder::default();
        let progress = recorder.progress();
        let mut reports = Vec::new();
        for epoch in 0..self.epochs {
            let report = trainer
                .train_epochs(1, &progress)
                .unwrap_or_else(|e| panic!("train_epochs(1) for epoch {}: {e}", epoch + 1));
            assert_eq!(
                report.samples,
                samples as u64,
                "epoch {}: samples",
                epoch + 1
            );
            let losses = report.epoch_losses.as_slice();
            assert!(
                losses.len() == 1 && losses[0].is_finite(),
                "epoch {}: one finite loss expected, got {losses:?}",
                epoch + 1
            );
            let calls = recorder.calls();
            assert_eq!(
                (calls.len() as u64, calls.last().copied()),
                (
                    batches * (u64::from(epoch) + 1),
                    Some((epoch, batches, batches))
                ),
                "epoch {}: a progress call per batch ({samples} samples in batches of {batch})",
                epoch + 1
            );
            reports.push(report);
        }
        let eval = trainer
            .evaluate()
            .unwrap_or_else(|e| panic!("evaluate(): {e}"));
        assert_eq!(
            eval.samples,
            self.test.labels.len() as u64,
            "evaluated samples"
        );
        assert!(
            (0.0..=1.0).contains(&eval.accuracy) && eval.loss.is_finite(),
            "evaluate(): accuracy {} and loss {}",
            eval.accuracy,
            eval.loss
        );
        match trainer.train_epochs(1, &progress) {
            Ok(_) => panic!("train_epochs past the session's last epoch succeeded"),
            Err(e) => assert_eq!(e.kind, ErrorKind::Failed, "past the last epoch: {e}"),
        }
        Run {
            losses: reports.iter().map(|r| r.epoch_losses[0]).collect(),
            reports,
            progress: recorder.calls(),
            eval,
        }
    }
}

/// `new_trainer`'s error, for tests of what a plugin refuses; panics if it built a trainer.
pub fn expect_refusal<T>(built: Result<T, PluginError>) -> PluginError {
    match built {
        Ok(_) => panic!("the session was accepted, but it should have been refused"),
        Err(e) => e,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn synthetic_sessions_are_consistent_and_deterministic() {
        let builder = SessionBuilder::synthetic(30, 12).epochs(3);
        let session = builder.session();
        session.check_data().expect("consistent data");
        assert_eq!(session.data.train.count, 30);
        assert_eq!(session.data.test.labels[0], 3);
        let order = session.order.as_slice();
        assert_eq!(order.len(), 90);
        for epoch in order.chunks(30) {
            let mut sorted = epoch.to_vec();
            sorted.sort();
            assert_eq!(sorted, (0..30).collect::<Vec<_>>());
        }
        assert_ne!(order[..30], order[30..60], "each epoch has its own order");
        let again = SessionBuilder::synthetic(30, 12).epochs(3);
        assert_eq!(again.order(), order);
        assert_eq!(again.train(), builder.train());
        assert_ne!(
            SessionBuilder::synthetic(30, 12).epochs(3).seed(8).order(),
            order
        );
        // Ten classes, each image its label's band at full brightness.
        let t = builder.train();
        for (image, &label) in t.pixels.chunks(784).zip(&t.labels) {
            let row = 2 * label as usize + 4;
            assert_eq!(image[row * 28 + 10], 1.0);
            assert!(image[(row + 3) * 28 + 10] < 1.0);
        }
    }

    #[test]
    fn options_and_weights_reach_the_session() {
        let values = [0.5f32; 4];
        let weights = [Tensor::new("0.bias", &[4], &values)];
        let builder = SessionBuilder::synthetic(2, 2)
            .option("a", "1")
            .option("b", "2")
            .initial_weights(&weights)
            .threads(3)
            .device("cuda:0")
            .plugin_name("mine");
        let s = builder.session();
        assert_eq!(
            (s.option("a"), s.option("b"), s.option("c")),
            (Some("1"), Some("2"), None)
        );
        let given = s.initial_weights.into_option().expect("weights");
        assert_eq!(given[0].values.as_slice(), &values);
        assert_eq!(
            (s.threads, s.device.as_str(), s.plugin_name.as_str()),
            (3, "cuda:0", "mine")
        );
    }

    #[test]
    fn a_changed_training_set_gets_a_new_order() {
        let mut builder = SessionBuilder::synthetic(6, 2);
        assert_eq!(builder.order().len(), 6);
        builder.train_mut().labels.truncate(4);
        builder.train_mut().pixels.truncate(4 * 784);
        assert_eq!(builder.order().len(), 4);
        builder.session().check_data().expect("still consistent");
        builder.train_mut().labels[1] = 10;
        let e = builder.session().check_data().unwrap_err();
        assert!(e.message.contains("label 10"), "{e}");
    }

    #[test]
    fn mnist_is_read_and_a_missing_folder_is_named() {
        let e = SessionBuilder::mnist(Path::new("/nonexistent/mnist"), 1, 1).unwrap_err();
        assert!(e.to_string().contains("/nonexistent/mnist"), "{e}");
        let dir = mnist_dir();
        if !dir.join("train-labels-idx1-ubyte.gz").is_file() && std::env::var_os("CI").is_none() {
            eprintln!("skipped: no MNIST in {} (set MNIST_DIR)", dir.display());
            return;
        }
        let builder = SessionBuilder::mnist(&dir, 100, 10).expect("MNIST");
        // The first training labels of MNIST, and its first test label.
        assert_eq!(builder.train().labels[..8], [5, 0, 4, 1, 9, 2, 1, 3]);
        assert_eq!(builder.test().labels[0], 7);
        builder.session().check_data().expect("consistent");
        let max = builder.train().pixels.iter().cloned().fold(0.0, f32::max);
        assert_eq!(max, 1.0);
        let e = read_mnist(&dir, Split::Test, 10_001).unwrap_err();
        assert!(e.to_string().contains("holds 10000 items"), "{e}");
    }
}
