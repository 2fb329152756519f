//! Shared by the integration tests: MNIST subsets, sessions, progress recording.
//!
//! Each framework's test lives in its own file, hence its own process: one embedded
//! interpreter serves one venv, and TensorFlow, PyTorch and XLA fix their thread pools once
//! per process.

#![allow(dead_code)] // each test binary uses a different part of this module

use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use abi_stable::sabi_trait::TD_Opaque;
use abi_stable::sabi_types::RRef;
use abi_stable::std_types::{RNone, RResult, RSlice, RStr};
use plugin_api::{
    Activation, Dataset, Images, KeyValue, Layer, Optimizer, OptimizerKind, Padding, ProgressSink,
    ProgressSink_TO, Session,
};

/// The repository root (this crate is `plugins/python`).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// `.venv/<name>` at the repo root, or `None` (after saying why) when it is missing outside
/// CI; under CI (`CI` set) a missing venv fails the test: .ci/run must create them.
pub fn venv_or_skip(name: &str) -> Option<PathBuf> {
    let venv = repo_root().join(".venv").join(name);
    if venv.join("pyvenv.cfg").is_file() {
        return Some(venv);
    }
    let msg = format!(
        "{} is missing: run scripts/setup-venvs {name}",
        venv.display()
    );
    if std::env::var_os("CI").is_some() {
        panic!("{msg}");
    }
    eprintln!("skipped: {msg}");
    None
}

pub fn trainer_file(name: &str) -> String {
    repo_root()
        .join("plugins/python/trainers")
        .join(name)
        .to_string_lossy()
        .into_owned()
}

pub fn fixture(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
        .to_string_lossy()
        .into_owned()
}

fn mnist_dir() -> PathBuf {
    std::env::var_os("MNIST_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join("../shared/data/mnist"))
}

/// The payload of an IDX file (gzip'd or raw), after its header, and its dimensions.
fn read_idx(stem: &str) -> (Vec<u8>, Vec<usize>) {
    let dir = mnist_dir();
    let (path, gz) = if dir.join(format!("{stem}.gz")).is_file() {
        (dir.join(format!("{stem}.gz")), true)
    } else {
        (dir.join(stem), false)
    };
    let raw =
        std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e} (set MNIST_DIR)", path.display()));
    let bytes = if gz {
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(&raw[..])
            .read_to_end(&mut out)
            .expect("gunzip");
        out
    } else {
        raw
    };
    let ndim = bytes[3] as usize;
    let dims: Vec<usize> = (0..ndim)
        .map(|i| u32::from_be_bytes(bytes[4 + 4 * i..8 + 4 * i].try_into().unwrap()) as usize)
        .collect();
    (bytes[4 + 4 * ndim..].to_vec(), dims)
}

/// The first `n` images (scaled to [0, 1]) and labels of a split.
pub fn mnist(split: &str, n: usize) -> (Vec<f32>, Vec<u8>) {
    let (px, dims) = read_idx(&format!("{split}-images-idx3-ubyte"));
    let (lb, _) = read_idx(&format!("{split}-labels-idx1-ubyte"));
    let per = dims[1] * dims[2];
    let pixels = px[..n * per].iter().map(|&p| p as f32 / 255.0).collect();
    (pixels, lb[..n].to_vec())
}

/// The session seed.
pub const SEED: u64 = 0xdead_beef_cafe_f00d;

/// The study's model (manifests/mnist.toml).
pub const STUDY_MODEL: [Layer; 6] = [
    Layer::Conv2d {
        filters: 64,
        kernel: 3,
        padding: Padding::Same,
        activation: Activation::Relu,
    },
    Layer::MaxPool2d { size: 2, stride: 2 },
    Layer::Conv2d {
        filters: 128,
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

/// Owned data and options a `Session` borrows.
pub struct Fixture {
    pub train_px: Vec<f32>,
    pub train_lb: Vec<u8>,
    pub test_px: Vec<f32>,
    pub test_lb: Vec<u8>,
    pub order: Vec<u32>,
    pub options: Vec<(String, String)>,
    pub epochs: u32,
    pub threads: u32,
    pub batch_size: u32,
}

impl Fixture {
    /// `train` MNIST training images in a fixed shuffled order per epoch, `test` test images.
    pub fn mnist(train: usize, test: usize, epochs: u32, options: &[(&str, &str)]) -> Self {
        let (train_px, train_lb) = mnist("train", train);
        let (test_px, test_lb) = mnist("t10k", test);
        // A simple LCG shuffle per epoch: any fixed permutation will do.
        let mut order = Vec::with_capacity(train * epochs as usize);
        let mut state = 0x2545_f491_4f6c_dd1du64;
        for _ in 0..epochs {
            let mut perm: Vec<u32> = (0..train as u32).collect();
            for i in (1..perm.len()).rev() {
                state = state
                    .wrapping_mul(6_364_136_223_846_793_005)
                    .wrapping_add(1_442_695_040_888_963_407);
                perm.swap(i, (state >> 33) as usize % (i + 1));
            }
            order.extend(perm);
        }
        let options: Vec<(String, String)> = options
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Fixture {
            train_px,
            train_lb,
            test_px,
            test_lb,
            order,
            options,
            epochs,
            threads: 1,
            batch_size: 64,
        }
    }

    pub fn key_values(&self) -> Vec<KeyValue<'_>> {
        self.options
            .iter()
            .map(|(k, v)| KeyValue {
                key: RStr::from_str(k),
                value: RStr::from_str(v),
            })
            .collect()
    }

    pub fn session<'a>(&'a self, name: &'a str, kv: &'a [KeyValue<'a>]) -> Session<'a> {
        let images = |px: &'a [f32], lb: &'a [u8]| Images {
            pixels: RSlice::from_slice(px),
            labels: RSlice::from_slice(lb),
            count: lb.len() as u32,
            channels: 1,
            height: 28,
            width: 28,
        };
        Session {
            plugin_name: RStr::from_str(name),
            model: RSlice::from_slice(&STUDY_MODEL),
            optimizer: Optimizer {
                kind: OptimizerKind::Adam,
                learning_rate: 1e-3,
                beta1: 0.9,
                beta2: 0.999,
                epsilon: 1e-8,
            },
            epochs: self.epochs,
            batch_size: self.batch_size,
            // A full 64-bit seed, as the host derives them: frameworks that take 32 bits must fold it.
            seed: SEED,
            threads: self.threads,
            device: RStr::from_str("cpu"),
            data: Dataset {
                train: images(&self.train_px, &self.train_lb),
                test: images(&self.test_px, &self.test_lb),
                classes: 10,
            },
            order: RSlice::from_slice(&self.order),
            initial_weights: RNone,
            options: RSlice::from_slice(kv),
        }
    }
}

/// Records every progress call.
#[derive(Default)]
pub struct Recorder(pub Mutex<Vec<(u32, u64, u64)>>);

impl ProgressSink for Recorder {
    fn batch_done(&self, epoch: u32, batch: u64, batches: u64) {
        self.0.lock().unwrap().push((epoch, batch, batches));
    }
}

/// Trains the study's model on an MNIST subset for two epochs with one thread, through the
/// plugin's own entry point, and checks what a user would: the loss falls, accuracy is well
/// above chance, progress covers every batch, and the thread setting took effect.
pub fn learns(plugin: &str, trainer: &str, framework_prefix: &str, thread_note: &str) {
    let Some(venv) = venv_or_skip(plugin) else {
        return;
    };
    let (train, test, epochs) = (1500, 1000, 2);
    let fx = Fixture::mnist(
        train,
        test,
        epochs,
        &[
            ("trainer", &trainer_file(trainer)),
            ("venv", &venv.to_string_lossy()),
        ],
    );
    let kv = fx.key_values();
    let session = fx.session(plugin, &kv);
    let mut trainer = match plugin_python::new_trainer(&session) {
        Ok(t) => t,
        Err(e) => panic!("new_trainer: {e}"),
    };

    let info = trainer.run_info();
    eprintln!(
        "{} | threads {} | {:?}",
        info.framework, info.threads, info.notes
    );
    assert!(
        info.framework.as_str().starts_with(framework_prefix),
        "framework {}",
        info.framework
    );
    assert_eq!(info.threads, 1, "threads in effect");
    let note = |key: &str| {
        info.notes
            .iter()
            .find(|n| n.key.as_str() == key)
            .map(|n| n.value.to_string())
    };
    assert_eq!(
        note(thread_note).as_deref(),
        Some("1"),
        "note {thread_note}"
    );
    let python = note("python").unwrap_or_default();
    assert!(
        python.contains(plugin_python::PYTHON_LIBDIR),
        "libpython should come from {}: {python}",
        plugin_python::PYTHON_LIBDIR
    );

    let recorder = Recorder::default();
    let progress = ProgressSink_TO::from_ptr(RRef::new(&recorder), TD_Opaque);
    let batches = train.div_ceil(64) as u64;
    let mut losses = Vec::new();
    for epoch in 0..epochs {
        let report = match trainer.train_epochs(1, &progress) {
            RResult::ROk(r) => r,
            RResult::RErr(e) => panic!("train_epochs: {e}"),
        };
        assert_eq!(report.samples, train as u64);
        assert_eq!(report.epoch_losses.len(), 1);
        losses.push(report.epoch_losses[0]);
        let calls = recorder.0.lock().unwrap().clone();
        assert_eq!(calls.last().copied(), Some((epoch, batches, batches)));
        assert_eq!(calls.len() as u64, batches * (epoch as u64 + 1));
    }
    let eval = match trainer.evaluate() {
        RResult::ROk(r) => r,
        RResult::RErr(e) => panic!("evaluate: {e}"),
    };
    eprintln!(
        "losses {losses:?}, accuracy {}, test loss {}",
        eval.accuracy, eval.loss
    );
    assert!(losses.iter().all(|l| l.is_finite()));
    assert!(losses[1] < losses[0], "loss should fall: {losses:?}");
    assert!(
        losses[0] < 2.3,
        "first epoch should learn something: {losses:?}"
    );
    assert_eq!(eval.samples, test as u64);
    assert!(
        eval.accuracy > 0.6,
        "accuracy {} (chance: 0.1)",
        eval.accuracy
    );
    assert!(
        eval.loss.is_finite() && eval.loss < 1.5,
        "test loss {}",
        eval.loss
    );
}
