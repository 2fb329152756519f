//! `spin`: a tiny pure-Rust trainer for tests and quick campaigns.
//!
//! It trains multinomial logistic regression (one dense layer, softmax cross-entropy) with
//! Adam, and ignores the session's layer list on purpose: it exists to exercise the host
//! (worker processes, energy snapshots, progress, reports) in seconds, not to compete. It does
//! honour everything else in the session: epochs, batch size, the host's sample order, the
//! optimizer's hyper-parameters, the seed and the thread count. It reaches ~85-90 % on MNIST
//! after one epoch, so "it learns" is a real check.
//!
//! When the layer list *is* softmax regression (`flatten`, then `dense` with one unit per
//! class), it starts from the host's initial weights and answers `host parity`'s steps; its
//! option `adam_epsilon` then replaces the session's ε, a deliberately wrong setting for
//! testing that the parity check catches it.

use plugin_api::epochs::{Batch, BatchStep, Epochs};
use plugin_api::init::OwnedTensor;
use plugin_api::options::OptionKeys;
use plugin_api::parity::{ParityReport, ParitySteps};
use plugin_api::rng::SplitMix64;
use plugin_api::{
    export_plugin, into_trainer, Activation, EvalReport, Layer, Note, PluginError, PluginInfo,
    Progress, RunInfo, Session, Train, TrainReport, TrainerBox,
};

const VERSION: &str = env!("CARGO_PKG_VERSION");
/// `adam_epsilon`: replaces the optimizer's ε (for testing `host parity` only); any other key
/// in a manifest is a mistake worth an error.
const OPTIONS: OptionKeys<'static> = OptionKeys::new("spin", &["adam_epsilon"]);

fn info() -> PluginInfo {
    PluginInfo::new("spin", "spin (softmax regression)", VERSION, &["cpu"])
}

fn new_trainer<'a>(session: &Session<'a>) -> Result<TrainerBox<'a>, PluginError> {
    Ok(into_trainer(Spin::new(session)?))
}

export_plugin! { info: info, new_trainer: new_trainer }

/// A spin trainer: where training stands, and the model.
pub struct Spin<'a> {
    epochs: Epochs<'a>,
    model: Softmax<'a>,
}

/// Softmax regression: `logits = W x + b`, `W` is `classes × inputs`.
struct Softmax<'a> {
    session: Session<'a>,
    inputs: usize,
    classes: usize,
    threads: usize,
    /// Weights then biases, one flat vector so Adam updates them in one loop.
    params: Vec<f32>,
    /// The batch's gradient, one buffer for every batch.
    grad: Vec<f32>,
    adam: Adam,
    /// The dense layer's index when the layer list is softmax regression (weight names).
    dense: Option<usize>,
}

impl<'a> Spin<'a> {
    pub fn new(session: &Session<'a>) -> Result<Self, PluginError> {
        let options = OPTIONS.check(session)?;
        if session.device.as_str() != "cpu" {
            return Err(PluginError::unsupported(format!(
                "spin trains on cpu only, not {}",
                session.device
            )));
        }
        session.check_data()?;
        let epochs = Epochs::new(session)?;
        let inputs = session.data.train.image_len();
        let classes = session.data.classes as usize;
        let mut params = vec![0.0f32; classes * inputs + classes];
        // Small random weights from the seed, so runs are reproducible and symmetry is broken.
        let mut rng = SplitMix64::new(session.seed);
        for w in &mut params[..classes * inputs] {
            *w = (rng.next_f32() - 0.5) * 0.01;
        }
        let dense = softmax_regression(session);
        if dense.is_some() {
            if let Some(given) = session.model_shapes()?.initial_weights(session)? {
                // [classes, inputs] then [classes]: the host's layout is spin's own.
                params[..classes * inputs].copy_from_slice(given[0].weight);
                params[classes * inputs..].copy_from_slice(given[0].bias);
            }
        }
        let mut adam = Adam::new(params.len(), session);
        if let Some(eps) = options.get("adam_epsilon") {
            adam.eps = eps.parse().map_err(|_| {
                PluginError::unsupported(format!("spin: adam_epsilon `{eps}` is not a number"))
            })?;
        }
        let threads = (session.threads as usize).max(1);
        let model = Softmax {
            session: *session,
            inputs,
            classes,
            threads,
            adam,
            grad: vec![0.0; params.len()],
            params,
            dense,
        };
        Ok(Spin { epochs, model })
    }
}

/// The dense layer's index when the layer list is `flatten`, `dense` (one unit per class, no
/// activation): the model spin actually trains.
fn softmax_regression(session: &Session<'_>) -> Option<usize> {
    match session.model.as_slice() {
        [Layer::Flatten, Layer::Dense {
            units,
            activation: Activation::None,
        }] if *units == session.data.classes => Some(1),
        _ => None,
    }
}

impl ParitySteps for Softmax<'_> {
    fn step(&mut self, indices: &[u32]) -> Result<f64, PluginError> {
        let mut loss = 0.0;
        self.train_batch(&mut loss, Batch { start: 0, indices })?;
        Ok(loss / indices.len().max(1) as f64)
    }

    fn test_logits(&mut self, indices: &[u32]) -> Result<Vec<f32>, PluginError> {
        let test = &self.session.data.test;
        let (w, b) = self.params.split_at(self.classes * self.inputs);
        let mut out = Vec::with_capacity(indices.len() * self.classes);
        for &i in indices {
            let x = &test.pixels.as_slice()[i as usize * self.inputs..][..self.inputs];
            for c in 0..self.classes {
                let row = &w[c * self.inputs..][..self.inputs];
                out.push(b[c] + row.iter().zip(x).map(|(a, b)| a * b).sum::<f32>());
            }
        }
        Ok(out)
    }

    fn weights(&mut self) -> Result<Vec<OwnedTensor>, PluginError> {
        let index = self.dense.unwrap_or(1);
        let (w, b) = self.params.split_at(self.classes * self.inputs);
        Ok(vec![
            OwnedTensor::new(
                format!("{index}.weight"),
                vec![self.classes as u32, self.inputs as u32],
                w.to_vec(),
            ),
            OwnedTensor::new(
                format!("{index}.bias"),
                vec![self.classes as u32],
                b.to_vec(),
            ),
        ])
    }
}

impl BatchStep for Softmax<'_> {
    /// The epoch's summed loss.
    type Epoch = f64;

    fn begin_epoch(&mut self, _order: &[u32]) -> Result<f64, PluginError> {
        Ok(0.0)
    }

    fn train_batch(&mut self, loss: &mut f64, batch: Batch<'_>) -> Result<(), PluginError> {
        let mut grad = std::mem::take(&mut self.grad);
        *loss += self.gradient(batch.indices, &mut grad);
        let scale = 1.0 / batch.indices.len() as f32;
        grad.iter_mut().for_each(|g| *g *= scale);
        self.adam.step(&mut self.params, &grad);
        self.grad = grad;
        Ok(())
    }

    fn end_epoch(&mut self, loss: f64) -> Result<f64, PluginError> {
        Ok(loss)
    }
}

impl Softmax<'_> {
    /// Summed gradient of the batch's loss into `grad`; returns the summed loss.
    /// The batch is split across `threads` scoped threads, each with its own buffer.
    fn gradient(&self, batch: &[u32], grad: &mut [f32]) -> f64 {
        let per_thread = batch.len().div_ceil(self.threads);
        let mut partials: Vec<(Vec<f32>, f64)> = Vec::new();
        std::thread::scope(|scope| {
            let handles: Vec<_> = batch
                .chunks(per_thread.max(1))
                .map(|chunk| {
                    scope.spawn(move || {
                        let mut g = vec![0.0f32; self.params.len()];
                        let loss = self.accumulate(chunk, &mut g);
                        (g, loss)
                    })
                })
                .collect();
            for handle in handles {
                // A panic in a gradient thread is re-raised here and caught by the ABI guard.
                partials.push(
                    handle
                        .join()
                        .unwrap_or_else(|p| std::panic::resume_unwind(p)),
                );
            }
        });
        grad.iter_mut().for_each(|g| *g = 0.0);
        let mut loss = 0.0;
        for (g, l) in partials {
            grad.iter_mut().zip(&g).for_each(|(a, b)| *a += b);
            loss += l;
        }
        loss
    }

    fn accumulate(&self, samples: &[u32], grad: &mut [f32]) -> f64 {
        let train = &self.session.data.train;
        let mut probs = vec![0.0f32; self.classes];
        let mut loss = 0.0;
        for &i in samples {
            let x = &train.pixels.as_slice()[i as usize * self.inputs..][..self.inputs];
            let label = train.labels.as_slice()[i as usize] as usize;
            loss += self.softmax(x, &mut probs, label);
            probs[label] -= 1.0; // d(loss)/d(logits) = softmax - one_hot
            let (w, b) = grad.split_at_mut(self.classes * self.inputs);
            for (c, &d) in probs.iter().enumerate() {
                let row = &mut w[c * self.inputs..][..self.inputs];
                row.iter_mut().zip(x).for_each(|(g, &xi)| *g += d * xi);
                b[c] += d;
            }
        }
        loss
    }

    /// Writes softmax probabilities into `probs`; returns the cross-entropy for `label`.
    fn softmax(&self, x: &[f32], probs: &mut [f32], label: usize) -> f64 {
        let (w, b) = self.params.split_at(self.classes * self.inputs);
        for (c, p) in probs.iter_mut().enumerate() {
            let row = &w[c * self.inputs..][..self.inputs];
            *p = b[c] + row.iter().zip(x).map(|(a, b)| a * b).sum::<f32>();
        }
        let max = probs.iter().cloned().fold(f32::NEG_INFINITY, f32::max);
        let mut total = 0.0;
        for p in probs.iter_mut() {
            *p = (*p - max).exp();
            total += *p;
        }
        probs.iter_mut().for_each(|p| *p /= total);
        -(probs[label].max(f32::MIN_POSITIVE) as f64).ln()
    }
}

impl Spin<'_> {
    /// What it ignores, said where runs record it (`host check-plugin` reads the second).
    fn notes(&self) -> Vec<Note> {
        let mut notes = vec![Note::new(
            "model",
            "softmax regression; the layer list is ignored",
        )];
        if self.model.session.initial_weights.is_some() {
            notes.push(Note::new("initial_weights", "ignored"));
        }
        notes
    }
}

impl Train for Spin<'_> {
    fn run_info(&self) -> RunInfo {
        RunInfo {
            framework: "spin (softmax regression)".into(),
            framework_version: VERSION.into(),
            threads: self.model.threads as u32,
            notes: self.notes().into(),
        }
    }

    fn train_epochs(
        &mut self,
        epochs: u32,
        progress: &Progress<'_>,
    ) -> Result<TrainReport, PluginError> {
        self.epochs.train(epochs, progress, &mut self.model)
    }

    /// Only for softmax regression, the one model spin really trains.
    fn parity(&mut self, steps: u32) -> Option<Result<ParityReport, PluginError>> {
        self.model.dense?;
        let session = self.model.session;
        Some(plugin_api::parity::run(&session, steps, &mut self.model))
    }

    fn evaluate(&mut self) -> Result<EvalReport, PluginError> {
        let model = &self.model;
        let test = &model.session.data.test;
        let n = test.count as usize;
        let mut probs = vec![0.0f32; model.classes];
        let (mut hits, mut loss) = (0usize, 0.0f64);
        for i in 0..n {
            let x = &test.pixels.as_slice()[i * model.inputs..][..model.inputs];
            let label = test.labels.as_slice()[i] as usize;
            loss += model.softmax(x, &mut probs, label);
            let predicted = (0..model.classes)
                .max_by(|&a, &b| probs[a].total_cmp(&probs[b]))
                .unwrap_or(0);
            hits += usize::from(predicted == label);
        }
        Ok(EvalReport {
            accuracy: hits as f64 / n.max(1) as f64,
            loss: loss / n.max(1) as f64,
            samples: n as u64,
            notes: Default::default(),
        })
    }
}

/// Adam (Kingma & Ba 2015) with bias correction, the session's hyper-parameters.
struct Adam {
    m: Vec<f32>,
    v: Vec<f32>,
    t: i32,
    lr: f32,
    beta1: f32,
    beta2: f32,
    eps: f32,
}

impl Adam {
    fn new(len: usize, session: &Session<'_>) -> Self {
        let o = session.optimizer;
        Adam {
            m: vec![0.0; len],
            v: vec![0.0; len],
            t: 0,
            lr: o.learning_rate as f32,
            beta1: o.beta1 as f32,
            beta2: o.beta2 as f32,
            eps: o.epsilon as f32,
        }
    }

    fn step(&mut self, params: &mut [f32], grad: &[f32]) {
        self.t += 1;
        let c1 = 1.0 - self.beta1.powi(self.t);
        let c2 = 1.0 - self.beta2.powi(self.t);
        for i in 0..params.len() {
            self.m[i] = self.beta1 * self.m[i] + (1.0 - self.beta1) * grad[i];
            self.v[i] = self.beta2 * self.v[i] + (1.0 - self.beta2) * grad[i] * grad[i];
            let m_hat = self.m[i] / c1;
            let v_hat = self.v[i] / c2;
            params[i] -= self.lr * m_hat / (v_hat.sqrt() + self.eps);
        }
    }
}
