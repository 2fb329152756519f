//! `{{name}}`: a joulebench plugin, made by `host new-plugin {{name}}`.
//!
//! As generated it trains softmax regression (one dense layer on the flattened pixels) with
//! the session's Adam, in plain Rust on the calling thread: a small but real trainer, so that
//! `host check-plugin` passes before you change anything. Replace `Model` with your
//! framework's model built from `session.model` (the layer list), keeping the rest.
//!
//! Rules of the boundary (plugin-api's documentation says more):
//!
//! - The host loads this library in a fresh **worker process** per measured run and calls
//!   `new_trainer` once, then `train_epochs(1, ..)` once per epoch, then `evaluate()`. It reads
//!   the energy counters between those calls: do the work inside them (nothing lazily
//!   afterwards) and nothing outside them (no thread still computing when a call returns).
//! - Never let a panic unwind into the host: `into_trainer` and `export_plugin!` catch panics
//!   and turn them into `PluginError`s of kind `Panicked`. Do not `exit` or `abort`.
//! - Return errors as `PluginError`s with a sentence a user can act on: `unsupported` (the
//!   session asks for something this plugin cannot do), `setup` (a missing library or file),
//!   `failed` (training went wrong).
//! - Use the session's **sample order**, batch after batch, including the last partial
//!   batch; report progress after each batch; report each epoch's mean training loss.
//! - Honour `session.threads` and report the compute threads in effect in `RunInfo`: the
//!   worker already runs the host's energy sampler thread when `new_trainer` is called, so
//!   setting environment variables here is not thread-safe; use the manifest's `env` table.
//! - Use `session.initial_weights` when given (names `<layer>.weight`, PyTorch layouts), or
//!   say in a `RunInfo` note `initial_weights = "ignored"` that you do not.
//! - The data is borrowed from the host (`f32` pixels in `[0, 1]`, `u8` labels): read it,
//!   never keep it past the trainer's life.
//! - `Note`s are recorded with every run (runs.csv's `notes` column): put there what a reader
//!   needs to trust the figures (thread pools, backends, what was ignored).

use plugin_api::epochs::{Batch, BatchStep, Epochs};
use plugin_api::options::OptionKeys;
use plugin_api::{
    export_plugin, into_trainer, EvalReport, Note, OptimizerKind, PluginError, PluginInfo,
    Progress, RunInfo, Session, Train, TrainReport, TrainerBox,
};

/// Shown by `host plugins` and recorded with every run.
const FRAMEWORK: &str = "{{name}} (softmax regression in plain Rust)";
const VERSION: &str = env!("CARGO_PKG_VERSION");

/// The option keys this plugin reads from the manifest's `options` table; any other key is
/// refused with an error naming it, so a typo cannot pass silently.
const OPTIONS: OptionKeys<'static> = OptionKeys::new("{{name}}", &["verbose"]);

fn info() -> PluginInfo {
    PluginInfo::new("{{name}}", FRAMEWORK, VERSION, &["cpu"])
}

/// Called once per run, in the worker, before the first epoch. Check everything the session
/// asks for here, so that a mistake shows at `host run --dry-run`, not after a warm-up.
fn new_trainer<'a>(session: &Session<'a>) -> Result<TrainerBox<'a>, PluginError> {
    let options = OPTIONS.check(session)?;
    if session.device.as_str() != "cpu" {
        return Err(PluginError::unsupported(format!(
            "{{name}} trains on cpu only, not {}",
            session.device
        )));
    }
    if session.optimizer.kind != OptimizerKind::Adam {
        return Err(PluginError::unsupported("{{name}} implements Adam only"));
    }
    session.check_data()?;
    let mut notes = vec![
        Note::new("model", "softmax regression (the session's layers are not built)"),
        Note::new("threads_note", "computes on the calling thread only"),
    ];
    if session.initial_weights.is_some() {
        notes.push(Note::new("initial_weights", "ignored"));
    }
    notes.extend(options.notes().iter().cloned());
    Ok(into_trainer(Plugin {
        session: *session,
        epochs: Epochs::new(session)?,
        model: Model::new(session),
        notes,
    }))
}

export_plugin! { info: info, new_trainer: new_trainer }

/// The trainer: where training stands, and the model.
struct Plugin<'a> {
    session: Session<'a>,
    epochs: Epochs<'a>,
    model: Model<'a>,
    notes: Vec<Note>,
}

impl Train for Plugin<'_> {
    fn run_info(&self) -> RunInfo {
        RunInfo {
            framework: FRAMEWORK.into(),
            framework_version: VERSION.into(),
            threads: 1, // what took effect, not what was asked for
            notes: self.notes.clone().into(),
        }
    }

    fn train_epochs(
        &mut self,
        epochs: u32,
        progress: &Progress<'_>,
    ) -> Result<TrainReport, PluginError> {
        // Epochs walks the session's order batch by batch, reports progress, and refuses
        // an epoch past the session's last one.
        self.epochs.train(epochs, progress, &mut self.model)
    }

    fn evaluate(&mut self) -> Result<EvalReport, PluginError> {
        let test = self.session.data.test;
        let (mut hits, mut loss) = (0u64, 0.0f64);
        for i in 0..test.count as usize {
            let (logits, label) = self.model.forward(&test, i);
            let probs = softmax(&logits);
            loss -= f64::from(probs[label].max(1e-12)).ln();
            hits += u64::from(argmax(&logits) == label);
        }
        let n = u64::from(test.count);
        Ok(EvalReport {
            accuracy: hits as f64 / n.max(1) as f64,
            loss: loss / n.max(1) as f64,
            samples: n,
            notes: Default::default(),
        })
    }
}

/// Softmax regression: `logits = W x + b`, trained with Adam.
struct Model<'a> {
    train: plugin_api::Images<'a>,
    inputs: usize,
    classes: usize,
    /// `classes × inputs` weights, then `classes` biases.
    params: Vec<f32>,
    grad: Vec<f32>,
    adam: Adam,
}

impl<'a> Model<'a> {
    /// Zero weights: softmax regression needs no random start, so the same seed trivially
    /// gives the same run. A real model draws its weights from `session.seed`.
    fn new(session: &Session<'a>) -> Self {
        let inputs = session.data.train.image_len();
        let classes = session.data.classes as usize;
        let len = (inputs + 1) * classes;
        Model {
            train: session.data.train,
            inputs,
            classes,
            params: vec![0.0; len],
            grad: vec![0.0; len],
            adam: Adam::new(session, len),
        }
    }

    /// The logits of image `i` of `images`, and its label.
    fn forward(&self, images: &plugin_api::Images<'_>, i: usize) -> (Vec<f32>, usize) {
        let x = &images.pixels[i * self.inputs..(i + 1) * self.inputs];
        let (weights, biases) = self.params.split_at(self.inputs * self.classes);
        let logits = weights
            .chunks_exact(self.inputs)
            .zip(biases)
            .map(|(w, b)| b + w.iter().zip(x).map(|(w, x)| w * x).sum::<f32>())
            .collect();
        (logits, images.labels[i] as usize)
    }
}

impl BatchStep for Model<'_> {
    type Epoch = f64; // the epoch's loss, summed over its samples

    fn begin_epoch(&mut self, _order: &[u32]) -> Result<f64, PluginError> {
        Ok(0.0)
    }

    /// One optimizer step on the mean loss of the batch.
    fn train_batch(&mut self, loss: &mut f64, batch: Batch<'_>) -> Result<(), PluginError> {
        self.grad.fill(0.0);
        let scale = 1.0 / batch.indices.len() as f32;
        let bias_at = self.inputs * self.classes;
        for &i in batch.indices {
            let (logits, label) = self.forward(&self.train, i as usize);
            let mut probs = softmax(&logits);
            *loss -= f64::from(probs[label].max(1e-12)).ln();
            probs[label] -= 1.0; // d(cross-entropy)/d(logits)
            let x = &self.train.pixels[i as usize * self.inputs..][..self.inputs];
            for (c, d) in probs.iter().enumerate() {
                let row = &mut self.grad[c * self.inputs..(c + 1) * self.inputs];
                row.iter_mut().zip(x).for_each(|(g, x)| *g += d * x * scale);
                self.grad[bias_at + c] += d * scale;
            }
        }
        self.adam.step(&mut self.params, &self.grad);
        Ok(())
    }

    fn end_epoch(&mut self, loss: f64) -> Result<f64, PluginError> {
        Ok(loss)
    }
}

/// Adam with the session's hyper-parameters (not AdamW: no weight decay).
struct Adam {
    lr: f32,
    beta1: f32,
    beta2: f32,
    epsilon: f32,
    steps: i32,
    m: Vec<f32>,
    v: Vec<f32>,
}

impl Adam {
    fn new(session: &Session<'_>, len: usize) -> Self {
        let o = session.optimizer;
        Adam {
            lr: o.learning_rate as f32,
            beta1: o.beta1 as f32,
            beta2: o.beta2 as f32,
            epsilon: o.epsilon as f32,
            steps: 0,
            m: vec![0.0; len],
            v: vec![0.0; len],
        }
    }

    fn step(&mut self, params: &mut [f32], grad: &[f32]) {
        self.steps += 1;
        let c1 = 1.0 - self.beta1.powi(self.steps);
        let c2 = 1.0 - self.beta2.powi(self.steps);
        for (((p, g), m), v) in params.iter_mut().zip(grad).zip(&mut self.m).zip(&mut self.v) {
            *m = self.beta1 * *m + (1.0 - self.beta1) * g;
            *v = self.beta2 * *v + (1.0 - self.beta2) * g * g;
            *p -= self.lr * (*m / c1) / ((*v / c2).sqrt() + self.epsilon);
        }
    }
}

fn softmax(logits: &[f32]) -> Vec<f32> {
    let max = logits.iter().cloned().fold(f32::NEG_INFINITY, f32::max);
    let exp: Vec<f32> = logits.iter().map(|l| (l - max).exp()).collect();
    let sum: f32 = exp.iter().sum();
    exp.iter().map(|e| e / sum).collect()
}

fn argmax(values: &[f32]) -> usize {
    (0..values.len())
        .max_by(|&a, &b| values[a].total_cmp(&values[b]))
        .unwrap_or(0)
}

#[cfg(test)]
mod tests;
