//! `host check-plugin`: the plugin authors' conformance test. Loads a plugin, gives it a tiny
//! synthetic session (48 training images, 20 test images, a small CNN, one epoch, a last
//! partial batch), and checks that what comes back is sane.

use std::path::Path;
use std::sync::Mutex;

use abi_stable::sabi_trait::TD_Opaque;
use abi_stable::sabi_types::RRef;
use abi_stable::std_types::{RNone, RResult, RSlice, RStr};
use plugin_api::{
    Activation, Dataset, EvalReport, Images, KeyValue, Layer, Optimizer, OptimizerKind, Padding,
    PluginError, PluginInfo, ProgressSink, ProgressSink_TO, Session, TrainReport,
};

use super::load;

/// One check's verdict.
pub struct Check {
    pub name: &'static str,
    pub passed: bool,
    pub detail: String,
}

const TRAIN: usize = 48;
const TEST: usize = 20;
const SIDE: usize = 28;
const BATCH: u32 = 20; // 48 = 20 + 20 + 8: the last batch is partial on purpose

/// Records progress calls so the check can see them.
#[derive(Default)]
struct Recorder(Mutex<Vec<(u32, u64, u64)>>);

impl ProgressSink for Recorder {
    fn batch_done(&self, epoch: u32, batch: u64, batches: u64) {
        if let Ok(mut v) = self.0.lock() {
            v.push((epoch, batch, batches));
        }
    }
}

/// Synthetic digits: class `c` lights a horizontal band at rows `2c..2c+3`, plus faint noise,
/// so a model can learn it from a few dozen samples.
fn synthetic(count: usize, offset: usize) -> (Vec<f32>, Vec<u8>) {
    let mut pixels = vec![0.0f32; count * SIDE * SIDE];
    let mut labels = Vec::with_capacity(count);
    for i in 0..count {
        let class = (i + offset) % 10;
        labels.push(class as u8);
        let image = &mut pixels[i * SIDE * SIDE..][..SIDE * SIDE];
        for (p, v) in image.iter_mut().enumerate() {
            *v = ((p * 7 + i * 13) % 17) as f32 / 170.0;
        }
        for row in 2 * class + 3..2 * class + 6 {
            for col in 4..24 {
                image[row * SIDE + col] = 1.0;
            }
        }
    }
    (pixels, labels)
}

fn images<'a>(px: &'a [f32], lb: &'a [u8], n: usize) -> Images<'a> {
    Images {
        pixels: RSlice::from_slice(px),
        labels: RSlice::from_slice(lb),
        count: n as u32,
        channels: 1,
        height: SIDE as u32,
        width: SIDE as u32,
    }
}

/// The verdicts so far.
#[derive(Default)]
struct Checks(Vec<Check>);

impl Checks {
    fn push(&mut self, name: &'static str, passed: bool, detail: String) {
        self.0.push(Check {
            name,
            passed,
            detail,
        });
    }
}

/// The buffers a tiny session borrows: synthetic digits, a small CNN, a reversed order.
struct TinyData {
    train: (Vec<f32>, Vec<u8>),
    test: (Vec<f32>, Vec<u8>),
    model: [Layer; 4],
    order: Vec<u32>,
}

impl TinyData {
    fn new() -> Self {
        TinyData {
            train: synthetic(TRAIN, 0),
            test: synthetic(TEST, 3),
            model: [
                Layer::Conv2d {
                    filters: 4,
                    kernel: 3,
                    padding: Padding::Same,
                    activation: Activation::Relu,
                },
                Layer::MaxPool2d { size: 2, stride: 2 },
                Layer::Flatten,
                Layer::Dense {
                    units: 10,
                    activation: Activation::None,
                },
            ],
            order: (0..TRAIN as u32).rev().collect(),
        }
    }

    /// One epoch of 48 images in batches of 20 (the last one partial), one thread, seed 7.
    fn session<'a>(&'a self, plugin: &'a str, options: &'a [KeyValue<'a>]) -> Session<'a> {
        Session {
            plugin_name: RStr::from_str(plugin),
            model: RSlice::from_slice(&self.model),
            optimizer: Optimizer {
                kind: OptimizerKind::Adam,
                learning_rate: 1e-3,
                beta1: 0.9,
                beta2: 0.999,
                epsilon: 1e-8,
            },
            epochs: 1,
            batch_size: BATCH,
            seed: 7,
            threads: 1,
            device: RStr::from_str("cpu"),
            data: Dataset {
                train: images(&self.train.0, &self.train.1, TRAIN),
                test: images(&self.test.0, &self.test.1, TEST),
                classes: 10,
            },
            order: RSlice::from_slice(&self.order),
            initial_weights: RNone,
            options: RSlice::from_slice(options),
        }
    }
}

/// Runs every check; never panics on a misbehaving plugin (its panics are caught by the ABI
/// guard; a crash ends this process, which is itself the verdict).
pub fn check_plugin(path: &Path, options: &[(String, String)]) -> Vec<Check> {
    let mut checks = Checks::default();
    let loaded = match load::load(path) {
        Ok(l) => l,
        Err(e) => {
            checks.push("loads with a matching ABI", false, e.to_string());
            return checks.0;
        }
    };
    check_info(&loaded.info, &mut checks);
    let data = TinyData::new();
    let kv: Vec<KeyValue<'_>> = options
        .iter()
        .map(|(k, v)| KeyValue {
            key: RStr::from_str(k),
            value: RStr::from_str(v),
        })
        .collect();
    let session = data.session(loaded.info.name.as_str(), &kv);
    let mut trainer = match (loaded.module.new_trainer())(&session) {
        RResult::ROk(t) => {
            checks.push("new_trainer() builds a trainer", true, String::new());
            t
        }
        RResult::RErr(e) => {
            checks.push("new_trainer() builds a trainer", false, e.to_string());
            return checks.0;
        }
    };
    let run = trainer.run_info();
    checks.push(
        "run_info() reports threads in effect",
        run.threads >= 1,
        format!(
            "{} {}, {} thread(s)",
            run.framework, run.framework_version, run.threads
        ),
    );
    let recorder = Recorder::default();
    let progress = ProgressSink_TO::from_ptr(RRef::new(&recorder), TD_Opaque);
    check_training(trainer.train_epochs(1, &progress), &recorder, &mut checks);
    check_evaluation(trainer.evaluate(), &mut checks);
    let past = trainer.train_epochs(1, &progress);
    checks.push(
        "training past the session's epochs is an error, not a crash",
        past.is_err(),
        match past {
            RResult::RErr(e) => format!("error: {e}"),
            RResult::ROk(_) => "it trained a second epoch the session does not hold".into(),
        },
    );
    checks.0
}

/// The plugin loaded; its info() names it and its framework.
fn check_info(info: &PluginInfo, checks: &mut Checks) {
    checks.push(
        "loads with a matching ABI",
        true,
        format!(
            "{} — {} {}",
            info.name, info.framework, info.framework_version
        ),
    );
    checks.push(
        "info() names the plugin and framework",
        !info.name.is_empty() && !info.framework.is_empty(),
        format!(
            "name `{}`, framework `{}`, devices {:?}",
            info.name, info.framework, info.devices
        ),
    );
}

/// One epoch: every sample once, one finite loss, progress for every batch.
fn check_training(
    result: RResult<TrainReport, PluginError>,
    recorder: &Recorder,
    checks: &mut Checks,
) {
    let r = match result {
        RResult::ROk(r) => r,
        RResult::RErr(e) => return checks.push("train_epochs(1) succeeds", false, e.to_string()),
    };
    checks.push(
        "train_epochs(1) counts every sample once",
        r.samples == TRAIN as u64,
        format!("samples {} (expected {TRAIN})", r.samples),
    );
    let losses: Vec<f64> = r.epoch_losses.to_vec();
    checks.push(
        "train_epochs(1) reports one finite loss",
        losses.len() == 1 && losses.iter().all(|l| l.is_finite() && *l >= 0.0),
        format!("epoch losses {losses:?}"),
    );
    let calls = recorder.0.lock().map(|v| v.clone()).unwrap_or_default();
    let last = calls.last().copied();
    checks.push(
        "progress reports every batch, the last one partial",
        last == Some((0, 3, 3)),
        format!(
            "{} call(s), last {:?} (expected (epoch 0, batch 3, of 3))",
            calls.len(),
            last
        ),
    );
}

/// Evaluation: accuracy in [0, 1], a finite loss, the whole test set.
fn check_evaluation(result: RResult<EvalReport, PluginError>, checks: &mut Checks) {
    let r = match result {
        RResult::ROk(r) => r,
        RResult::RErr(e) => return checks.push("evaluate() succeeds", false, e.to_string()),
    };
    checks.push(
        "evaluate() reports accuracy in [0, 1] and a finite loss",
        (0.0..=1.0).contains(&r.accuracy) && r.loss.is_finite(),
        format!("accuracy {:.3}, loss {:.4}", r.accuracy, r.loss),
    );
    checks.push(
        "evaluate() covers the whole test set",
        r.samples == TEST as u64,
        format!("samples {} (expected {TEST})", r.samples),
    );
}
