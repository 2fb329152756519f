//! `burn`: the study's CNN in pure Rust, on burn 0.22's flex CPU backend with autodiff.
//!
//! The model comes from the session's layer list (see [`model`]); training is Adam with the
//! session's hyper-parameters on softmax cross-entropy, over the host's sample order, batch
//! after batch including the last partial one; evaluation runs the whole test set in large
//! batches without dropout.
//!
//! Threads: flex runs its kernels (and gemm's) on rayon's **global** pool, so that pool is
//! built once per process with the session's thread count. The library is never unloaded and
//! the pool outlives every call, but its threads sleep between calls; the calling thread only
//! waits while the pool works, so `threads` compute threads is what the worker gets.
//!
//! Options (`[[plugin]] options` in a manifest):
//! - `eval_batch_size` (default 1000): test images per forward pass in `evaluate()`.

pub mod model;

use std::sync::OnceLock;

use burn::optim::{AdamConfig, GradientsParams, ModuleOptimizer};
use burn::prelude::*;
use plugin_api::epochs::{Batch, BatchStep, Epochs};
use plugin_api::init::OwnedTensor;
use plugin_api::options::OptionKeys;
use plugin_api::parity::{ParityReport, ParitySteps};
use plugin_api::{
    export_plugin, into_trainer, EvalReport, Images, Note, PluginError, PluginInfo, Progress,
    RunInfo, Session, Train, TrainReport, TrainerBox,
};

use model::{cross_entropy, Net, Plan};

/// The burn version this plugin is built against; Cargo.toml pins it exactly (`=0.22.1`) so
/// that this string stays true.
pub const BURN_VERSION: &str = "0.22.1";
const FRAMEWORK: &str = "burn (flex backend, autodiff)";
const DEFAULT_EVAL_BATCH: usize = 1000;
const OPTIONS: OptionKeys<'static> = OptionKeys::new("burn", &["eval_batch_size"]);

fn info() -> PluginInfo {
    PluginInfo::new("burn", "burn", &format!("{BURN_VERSION} (flex)"), &["cpu"])
}

fn new_trainer<'a>(session: &Session<'a>) -> Result<TrainerBox<'a>, PluginError> {
    Ok(into_trainer(BurnTrainer::new(session)?))
}

export_plugin! { info: info, new_trainer: new_trainer }

/// Result of building rayon's global pool, once per process: `Err` holds why it could not be
/// built (it already existed), in which case the existing pool is used as it is.
static POOL: OnceLock<Result<(), String>> = OnceLock::new();

/// Sizes rayon's global pool to `requested` threads (first call in the process wins) and
/// returns the count in effect, with a note when it differs from the request.
fn global_pool(requested: usize) -> (usize, Option<String>) {
    let built = POOL.get_or_init(|| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(requested)
            .thread_name(|i| format!("burn-flex-{i}"))
            .build_global()
            .map_err(|e| e.to_string())
    });
    let actual = rayon::current_num_threads();
    let note = match built {
        Err(e) => Some(format!(
            "rayon's global pool already existed ({e}); using its {actual} thread(s)"
        )),
        Ok(()) if actual != requested => Some(format!(
            "rayon's global pool was built earlier in this process with {actual} thread(s)"
        )),
        Ok(()) => None,
    };
    (actual, note)
}

/// One training run: where it stands in the epochs, the learner, and what evaluation needs.
pub struct BurnTrainer<'a> {
    session: Session<'a>,
    epochs: Epochs<'a>,
    learner: Learner<'a>,
    threads: usize,
    notes: Vec<Note>,
    eval_batch: usize,
}

/// What a training step needs: the plan, its parameters, Adam's state, the training set.
struct Learner<'a> {
    train: Images<'a>,
    plan: Plan,
    /// `None` only after a call failed halfway through an optimizer step (the step consumes
    /// the model); later calls then report an error instead of training a broken model.
    model: Option<Net>,
    optimizer: ModuleOptimizer,
    learning_rate: f64,
    /// The flex device with autodiff; evaluation uses the same device without it.
    device: Device,
}

impl<'a> BurnTrainer<'a> {
    pub fn new(session: &Session<'a>) -> Result<Self, PluginError> {
        let eval_batch = check_session(session)?;
        let epochs = Epochs::new(session)?;
        let shapes = session.model_shapes()?;
        let plan = Plan::new(&shapes)?;

        // The pool first: building the model already runs flex kernels.
        let (threads, pool_note) = global_pool((session.threads as usize).max(1));
        let device = Device::flex().autodiff();
        // Seeds burn's RNG, which only dropout masks draw from (the weights come from `seed`
        // through plugin-api's generator, or from the session).
        device.seed(session.seed);
        let model = plan.init(&shapes, session, &device)?;
        let o = session.optimizer;
        let optimizer = AdamConfig::new()
            .with_beta_1(o.beta1 as f32)
            .with_beta_2(o.beta2 as f32)
            .with_epsilon(o.epsilon as f32)
            .init();
        let mut notes = vec![
            Note::new("backend", "flex (pure Rust, rayon + simd), autodiff"),
            Note::new("rayon_threads", threads),
            Note::new("parameters", plan.parameter_count),
            Note::new(
                "initial_weights",
                if session.initial_weights.is_some() {
                    "from the session"
                } else {
                    "glorot-uniform kernels, zero biases, from the seed"
                },
            ),
            Note::new("eval_batch_size", eval_batch),
        ];
        notes.extend(pool_note.map(|n| Note::new("threads_note", n)));
        let learner = Learner {
            train: session.data.train,
            plan,
            model: Some(model),
            optimizer,
            learning_rate: o.learning_rate,
            device,
        };
        Ok(BurnTrainer {
            session: *session,
            epochs,
            learner,
            threads,
            notes,
            eval_batch,
        })
    }
}

/// Checks what the plugin needs of the session before any work, and returns the evaluation
/// batch size (option `eval_batch_size`).
fn check_session(session: &Session<'_>) -> Result<usize, PluginError> {
    let options = OPTIONS.check(session)?;
    if session.device.as_str() != "cpu" {
        return Err(PluginError::unsupported(format!(
            "the burn plugin trains on cpu (flex backend) only, not `{}`",
            session.device
        )));
    }
    let eval_batch = options
        .positive("eval_batch_size")?
        .map_or(DEFAULT_EVAL_BATCH, |n| n as usize);
    session.optimizer.check_adam()?;
    session.check_data()?;
    Ok(eval_batch)
}

impl BatchStep for Learner<'_> {
    /// The epoch's summed loss.
    type Epoch = f64;

    fn begin_epoch(&mut self, _order: &[u32]) -> Result<f64, PluginError> {
        Ok(0.0)
    }

    fn train_batch(&mut self, loss_sum: &mut f64, b: Batch<'_>) -> Result<(), PluginError> {
        let (x, y) = batch(&self.train, b.indices, &self.device);
        let model = self.model.take().ok_or_else(broken_model)?;
        let logits = model.forward(&self.plan, x, true)?;
        let loss = cross_entropy(logits, y);
        // Reading the loss waits for nothing extra: flex computes eagerly.
        let value: f32 = loss.clone().into_scalar();
        let grads = GradientsParams::from_grads(loss.backward(), &model);
        self.model = Some(self.optimizer.step(self.learning_rate, model, grads));
        *loss_sum += f64::from(value) * b.indices.len() as f64;
        Ok(())
    }

    fn end_epoch(&mut self, loss_sum: f64) -> Result<f64, PluginError> {
        Ok(loss_sum)
    }
}

fn broken_model() -> PluginError {
    PluginError::failed("an earlier call failed during an optimizer step; the model is gone")
}

/// The images and labels of `indices` as tensors `[n, c, h, w]` and `[n, 1]` on `device`.
/// Indices were checked against the set's size: the order by `Epochs::new`, the data by
/// `Session::check_data`.
fn batch(images: &Images<'_>, indices: &[u32], device: &Device) -> (Tensor<4>, Tensor<2, Int>) {
    let len = images.image_len();
    let pixels = images.pixels.as_slice();
    let labels = images.labels.as_slice();
    let mut x = Vec::with_capacity(indices.len() * len);
    let mut y = Vec::with_capacity(indices.len());
    for &i in indices {
        let i = i as usize;
        x.extend_from_slice(&pixels[i * len..(i + 1) * len]);
        y.push(i64::from(labels[i]));
    }
    let shape = [
        indices.len(),
        images.channels as usize,
        images.height as usize,
        images.width as usize,
    ];
    (
        Tensor::from_data(TensorData::new(x, shape), device),
        Tensor::from_data(TensorData::new(y, [indices.len(), 1]), device),
    )
}

/// `host parity`'s steps: a training step each, logits of test images, the parameters in the
/// host's layouts.
impl ParitySteps for BurnTrainer<'_> {
    fn step(&mut self, indices: &[u32]) -> Result<f64, PluginError> {
        let mut loss_sum = 0.0;
        self.learner
            .train_batch(&mut loss_sum, Batch { start: 0, indices })?;
        Ok(loss_sum / indices.len().max(1) as f64)
    }

    fn test_logits(&mut self, indices: &[u32]) -> Result<Vec<f32>, PluginError> {
        let learner = &self.learner;
        let model = learner.model.as_ref().ok_or_else(broken_model)?.valid();
        let device = learner.device.clone().inner();
        let (x, _) = batch(&self.session.data.test, indices, &device);
        let logits = model.forward(&learner.plan, x, false)?;
        logits
            .into_data()
            .try_to_vec::<f32>()
            .map_err(|e| PluginError::failed(format!("reading logits: {e:?}")))
    }

    fn weights(&mut self) -> Result<Vec<OwnedTensor>, PluginError> {
        let learner = &self.learner;
        let model = learner.model.as_ref().ok_or_else(broken_model)?;
        learner.plan.host_weights(model)
    }
}

impl Train for BurnTrainer<'_> {
    fn parity(&mut self, steps: u32) -> Option<Result<ParityReport, PluginError>> {
        let session = self.session;
        Some(plugin_api::parity::run(&session, steps, self))
    }

    fn run_info(&self) -> RunInfo {
        RunInfo {
            framework: FRAMEWORK.into(),
            framework_version: BURN_VERSION.into(),
            threads: self.threads as u32,
            notes: self.notes.clone().into(),
        }
    }

    fn train_epochs(
        &mut self,
        epochs: u32,
        progress: &Progress<'_>,
    ) -> Result<TrainReport, PluginError> {
        self.epochs.train(epochs, progress, &mut self.learner)
    }

    fn evaluate(&mut self) -> Result<EvalReport, PluginError> {
        let test = self.session.data.test;
        let n = test.count as usize;
        let learner = &self.learner;
        // `valid()` drops autodiff: no graph is recorded while evaluating.
        let model = learner.model.as_ref().ok_or_else(broken_model)?.valid();
        let device = learner.device.clone().inner();
        let indices: Vec<u32> = (0..test.count).collect();
        let (mut hits, mut loss_sum) = (0usize, 0.0f64);
        for chunk in indices.chunks(self.eval_batch) {
            let (x, y) = batch(&test, chunk, &device);
            let logits = model.forward(&learner.plan, x, false)?;
            let predicted = logits.clone().argmax(1).into_data();
            let summed: f32 = burn::tensor::activation::log_softmax(logits, 1)
                .gather(1, y)
                .sum()
                .neg()
                .into_scalar();
            loss_sum += f64::from(summed);
            hits += predicted
                .iter::<i64>()
                .zip(chunk)
                .filter(|&(p, &i)| p == i64::from(test.labels[i as usize]))
                .count();
        }
        Ok(EvalReport {
            accuracy: hits as f64 / n.max(1) as f64,
            loss: loss_sum / n.max(1) as f64,
            samples: n as u64,
            notes: Default::default(),
        })
    }
}
