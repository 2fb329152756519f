//! `tch`: the study's CNN on PyTorch's own C++ kernels (libtorch 2.13.0 through the `tch`
//! 0.26 crate), driven from Rust with no Python in the process.
//!
//! Next to the python plugin's PyTorch trainer this isolates the framework's compute from the
//! interpreter's overhead: same kernels, same Adam, same data order, no CPython.
//!
//! What it does with the session:
//! - builds the layer list as libtorch ops on parameters it owns ([`model`]); anything it cannot
//!   build is a `PluginError` naming the layer;
//! - Adam (libtorch's `torch::optim::Adam`) with the session's lr, betas and epsilon, no weight
//!   decay; softmax cross-entropy on the logits (`at::cross_entropy_loss`, mean over the batch);
//! - the host's sample order, batch after batch, the last partial batch included;
//! - intra-op threads = `session.threads`, inter-op threads = the same unless the
//!   `inter_op_threads` option says otherwise, set before any work;
//! - evaluation without gradients in batches of `eval_batch_size` (option, default 1000).
//!
//! Options (`[[plugin]] options` in a manifest): `inter_op_threads`, `eval_batch_size`, spelled
//! as the other plugins spell them; the old spellings `interop_threads` and `eval_batch` are
//! accepted until the next release, with a note. Any other key is refused, so that a typo
//! never silently changes what is measured.

mod model;

use plugin_api::epochs::{Batch, BatchStep, Epochs};
use plugin_api::init::OwnedTensor;
use plugin_api::options::OptionKeys;
use plugin_api::parity::{ParityReport, ParitySteps};
use plugin_api::{
    export_plugin, into_trainer, EvalReport, Note, PluginError, PluginInfo, Progress, RunInfo,
    Session, Train, TrainReport, TrainerBox,
};
use std::sync::atomic::{AtomicI32, Ordering};
use tch::{Device, Kind, Reduction, Tensor};

pub use model::Model;

/// The tch crate this plugin is built with (pinned `=0.26.0` in Cargo.toml).
pub const TCH_VERSION: &str = "0.26.0";
/// The libtorch it links, as build.rs found it (torch-sys 0.26 accepts only 2.13.0).
pub const LIBTORCH_VERSION: &str = env!("JOULEBENCH_LIBTORCH_VERSION");

const FRAMEWORK: &str = "libtorch";
const DEFAULT_EVAL_BATCH: i64 = 1000;
const OPTIONS: OptionKeys<'static> =
    OptionKeys::new("tch", &["inter_op_threads", "eval_batch_size"]).renamed(&[
        // Old spellings (until the next release): the other plugins' names won.
        ("interop_threads", "inter_op_threads"),
        ("eval_batch", "eval_batch_size"),
    ]);

fn framework_version() -> String {
    format!("{LIBTORCH_VERSION} (tch {TCH_VERSION})")
}

/// Devices this build can train on: CUDA only when build.rs linked libtorch_cuda.
pub fn devices() -> &'static [&'static str] {
    if cfg!(libtorch_cuda) {
        &["cpu", "cuda"]
    } else {
        &["cpu"]
    }
}

fn info() -> PluginInfo {
    PluginInfo::new("tch", FRAMEWORK, &framework_version(), devices())
}

fn new_trainer<'a>(session: &Session<'a>) -> Result<TrainerBox<'a>, PluginError> {
    Ok(into_trainer(TchTrainer::new(session)?))
}

export_plugin! { info: info, new_trainer: new_trainer }

/// libtorch errors as plugin errors, with what we were doing.
pub(crate) trait TchResult<T> {
    fn tch(self, doing: &str) -> Result<T, PluginError>;
}

impl<T> TchResult<T> for Result<T, tch::TchError> {
    fn tch(self, doing: &str) -> Result<T, PluginError> {
        self.map_err(|e| PluginError::failed(format!("libtorch failed {doing}: {e}")))
    }
}

/// The inter-op pool size this process set, 0 before the first trainer. libtorch lets a
/// process set it once, before any parallel work; a second trainer in the same process
/// (tests) keeps the first value and reports it.
static INTEROP_SET: AtomicI32 = AtomicI32::new(0);

pub struct TchTrainer<'a> {
    session: Session<'a>,
    epochs: Epochs<'a>,
    learner: Learner,
    test_x: Tensor,
    test_y: Tensor,
    threads: i32,
    interop_threads: i32,
    eval_batch: i64,
    /// Notes from the options (old spellings used).
    option_notes: Vec<Note>,
}

/// What a training step needs: the model, Adam, and the training set as tensors.
struct Learner {
    device: Device,
    model: Model,
    optimizer: tch::COptimizer,
    /// `[n, c, h, w]` float images: on the CPU a view of the host's buffer (see `wrap`).
    train_x: Tensor,
    /// Labels as int64 (what cross-entropy takes): one small copy at setup.
    train_y: Tensor,
}

impl<'a> TchTrainer<'a> {
    pub fn new(session: &Session<'a>) -> Result<Self, PluginError> {
        let options = OPTIONS.check(session)?;
        let device = parse_device(session.device.as_str())?;
        session.optimizer.check_adam()?;
        session.check_data()?;
        let epochs = Epochs::new(session)?;
        let interop = options
            .positive("inter_op_threads")?
            .map(|v| v.min(i32::MAX as u64) as i32);
        let eval_batch = options
            .positive("eval_batch_size")?
            .map_or(DEFAULT_EVAL_BATCH, |v| v.min(i64::MAX as u64) as i64);

        // Threads first: libtorch sizes its pools on first use, so this must precede any
        // tensor work, including the parameter initialisation below.
        let threads = i32::try_from(session.threads)
            .ok()
            .filter(|&t| t >= 1)
            .ok_or_else(|| {
                PluginError::unsupported(format!("threads = {} is not usable", session.threads))
            })?;
        tch::set_num_threads(threads);
        let interop_threads = set_interop_threads(interop.unwrap_or(threads));

        let learner = Learner::new(session, device)?;
        let (test_x, test_y) = wrap(&session.data.test, device)?;
        Ok(TchTrainer {
            session: *session,
            epochs,
            learner,
            test_x,
            test_y,
            threads: tch::get_num_threads(),
            interop_threads,
            eval_batch,
            option_notes: options.notes().to_vec(),
        })
    }
}

impl Learner {
    /// Seeds libtorch, builds the model and Adam, and wraps the training set.
    fn new(session: &Session<'_>, device: Device) -> Result<Self, PluginError> {
        // The seed drives parameter init (CPU generator) and dropout masks.
        tch::manual_seed(session.seed as i64);
        if device != Device::Cpu {
            tch::Cuda::manual_seed_all(session.seed);
        }
        let model = Model::new(session, device)?;
        let o = session.optimizer;
        let mut optimizer =
            tch::COptimizer::adam(o.learning_rate, o.beta1, o.beta2, 0.0, o.epsilon, false)
                .tch("creating Adam")?;
        for p in model.parameters() {
            optimizer
                .add_parameters(p, 0)
                .tch("registering a parameter")?;
        }
        let (train_x, train_y) = wrap(&session.data.train, device)?;
        Ok(Learner {
            device,
            model,
            optimizer,
            train_x,
            train_y,
        })
    }

    /// Forward, backward and an Adam update on `order[start..start + len]`; returns the
    /// batch's mean loss (detached).
    fn step(&mut self, order: &Tensor, start: i64, len: i64) -> Result<Tensor, tch::TchError> {
        let idx = order.f_narrow(0, start, len)?;
        // The gather copies the batch out of the host's buffer: the only per-batch copy of
        // input data, the same one a PyTorch DataLoader makes.
        let x = self.train_x.f_index_select(0, &idx)?;
        let y = self.train_y.f_index_select(0, &idx)?;
        let logits = self.model.forward(&x, true)?;
        let loss = logits.f_cross_entropy_loss::<Tensor>(&y, None, Reduction::Mean, -100, 0.0)?;
        self.optimizer.zero_grad()?;
        loss.f_backward()?;
        self.optimizer.step()?;
        loss.f_detach()
    }
}

/// One epoch as libtorch keeps it: the host's order as an index tensor, and the loss summed
/// on the device, read once at the end (no host sync per batch on a GPU).
struct TchEpoch {
    order: Tensor,
    loss_sum: Tensor,
}

impl BatchStep for Learner {
    type Epoch = TchEpoch;

    fn begin_epoch(&mut self, order: &[u32]) -> Result<TchEpoch, PluginError> {
        // index_select wants int64 indices; one conversion per epoch (n × 8 bytes).
        let order: Vec<i64> = order.iter().map(|&i| i64::from(i)).collect();
        let order = Tensor::f_from_slice(&order)
            .and_then(|t| t.f_to_device(self.device))
            .tch("copying the epoch order")?;
        let loss_sum = Tensor::f_zeros([], (Kind::Double, self.device)).tch("allocating")?;
        Ok(TchEpoch { order, loss_sum })
    }

    fn train_batch(&mut self, epoch: &mut TchEpoch, batch: Batch<'_>) -> Result<(), PluginError> {
        let len = batch.indices.len() as i64;
        let loss = self
            .step(&epoch.order, batch.start as i64, len)
            .tch("in a training step")?;
        // In-place ops return the tensor they changed; nothing to keep.
        let _ = tch::no_grad(|| {
            loss.f_mul_scalar(len as f64)
                .and_then(|l| epoch.loss_sum.f_add_(&l))
        })
        .tch("adding up the loss")?;
        Ok(())
    }

    fn end_epoch(&mut self, epoch: TchEpoch) -> Result<f64, PluginError> {
        f64::try_from(&epoch.loss_sum).tch("reading the loss")
    }
}

impl TchTrainer<'_> {
    fn evaluate_all(&self) -> Result<(f64, f64, i64), tch::TchError> {
        let _no_grad = tch::no_grad_guard();
        let n = i64::from(self.session.data.test.count);
        let device = self.learner.device;
        let mut loss = Tensor::f_zeros([], (Kind::Double, device))?;
        let mut hits = Tensor::f_zeros([], (Kind::Int64, device))?;
        let mut start = 0;
        while start < n {
            let len = self.eval_batch.min(n - start);
            // A view, no copy: the test set is evaluated in its stored order.
            let x = self.test_x.f_narrow(0, start, len)?;
            let y = self.test_y.f_narrow(0, start, len)?;
            let logits = self.learner.model.forward(&x, false)?;
            let batch_loss =
                logits.f_cross_entropy_loss::<Tensor>(&y, None, Reduction::Sum, -100, 0.0)?;
            let _ = loss.f_add_(&batch_loss.f_to_kind(Kind::Double)?)?;
            let right = logits.f_argmax(1, false)?.f_eq_tensor(&y)?;
            let _ = hits.f_add_(&right.f_sum(Kind::Int64)?)?;
            start += len;
        }
        let loss = f64::try_from(&loss)?;
        let hits = i64::try_from(&hits)?;
        Ok((loss, hits as f64, n))
    }
}

/// `host parity`'s steps: a training step each (an epoch of one batch), logits of test images,
/// and the parameters, whose layouts are already the host's.
impl ParitySteps for TchTrainer<'_> {
    fn step(&mut self, indices: &[u32]) -> Result<f64, PluginError> {
        tch::set_num_threads(self.threads);
        let mut epoch = self.learner.begin_epoch(indices)?;
        self.learner
            .train_batch(&mut epoch, Batch { start: 0, indices })?;
        Ok(self.learner.end_epoch(epoch)? / indices.len().max(1) as f64)
    }

    fn test_logits(&mut self, indices: &[u32]) -> Result<Vec<f32>, PluginError> {
        let _no_grad = tch::no_grad_guard();
        let idx: Vec<i64> = indices.iter().map(|&i| i64::from(i)).collect();
        let logits = Tensor::f_from_slice(&idx)
            .and_then(|i| i.f_to_device(self.learner.device))
            .and_then(|i| self.test_x.f_index_select(0, &i))
            .and_then(|x| self.learner.model.forward(&x, false))
            .tch("computing logits")?;
        host_floats(&logits).tch("reading logits")
    }

    fn weights(&mut self) -> Result<Vec<OwnedTensor>, PluginError> {
        self.learner
            .model
            .named_parameters()
            .map(|(name, t)| {
                let shape = t.size().iter().map(|&d| d as u32).collect();
                let values = host_floats(t).tch("reading a parameter")?;
                Ok(OwnedTensor::new(name, shape, values))
            })
            .collect()
    }
}

/// A tensor's values as f32 on the host, row-major.
fn host_floats(t: &Tensor) -> Result<Vec<f32>, tch::TchError> {
    let flat = t
        .f_detach()?
        .f_to_device(Device::Cpu)?
        .f_to_kind(Kind::Float)?
        .f_flatten(0, -1)?;
    Vec::<f32>::try_from(&flat)
}

impl Train for TchTrainer<'_> {
    fn parity(&mut self, steps: u32) -> Option<Result<ParityReport, PluginError>> {
        let session = self.session;
        Some(plugin_api::parity::run(&session, steps, self))
    }

    fn run_info(&self) -> RunInfo {
        let device = self.learner.device;
        let mut notes = vec![
            Note::new("libtorch", LIBTORCH_VERSION),
            Note::new("tch", TCH_VERSION),
            Note::new("device", format!("{device:?}").to_lowercase()),
            Note::new("inter_op_threads", self.interop_threads),
            Note::new("parameters", self.learner.model.parameter_count()),
            Note::new("eval_batch_size", self.eval_batch),
            Note::new("openmp", tch::utils::has_openmp()),
            Note::new("mkldnn", tch::utils::has_mkldnn()),
        ];
        if device == Device::Cpu {
            notes.push(Note::new("input", "host buffers wrapped without copying"));
        }
        notes.extend(self.option_notes.iter().cloned());
        RunInfo {
            framework: FRAMEWORK.into(),
            framework_version: framework_version().into(),
            threads: self.threads as u32,
            notes: notes.into(),
        }
    }

    fn train_epochs(
        &mut self,
        epochs: u32,
        progress: &Progress<'_>,
    ) -> Result<TrainReport, PluginError> {
        // The host may call from another thread than new_trainer's; libtorch applies its
        // global count to each new thread lazily, so this is a cheap guarantee, not a change.
        tch::set_num_threads(self.threads);
        self.epochs.train(epochs, progress, &mut self.learner)
    }

    fn evaluate(&mut self) -> Result<EvalReport, PluginError> {
        tch::set_num_threads(self.threads);
        let (loss, hits, n) = self.evaluate_all().tch("evaluating")?;
        let n_f = (n as f64).max(1.0);
        Ok(EvalReport {
            accuracy: hits / n_f,
            loss: loss / n_f,
            samples: n as u64,
            notes: Default::default(),
        })
    }
}

fn parse_device(name: &str) -> Result<Device, PluginError> {
    if name == "cpu" {
        return Ok(Device::Cpu);
    }
    let index = match name.strip_prefix("cuda") {
        Some("") => 0,
        Some(rest) => rest
            .strip_prefix(':')
            .and_then(|i| i.parse::<usize>().ok())
            .ok_or_else(|| {
                PluginError::unsupported(format!("device {name:?} is not understood"))
            })?,
        None => {
            return Err(PluginError::unsupported(format!(
                "the tch plugin trains on cpu or cuda[:N], not {name:?}"
            )))
        }
    };
    if !cfg!(libtorch_cuda) {
        return Err(PluginError::unsupported(format!(
            "device {name}: this build links libtorch without CUDA; rebuild on a GPU machine \
             with LIBTORCH=\"$(plugins/tch/setup-libtorch --cuda)\" (see plugins/tch/README.md)"
        )));
    }
    let count = tch::Cuda::device_count();
    if !tch::Cuda::is_available() || index as i64 >= count {
        return Err(PluginError::unsupported(format!(
            "device {name}: libtorch sees {count} CUDA device(s)"
        )));
    }
    Ok(Device::Cuda(index))
}

/// Sets libtorch's inter-op pool once per process and returns the size in effect.
fn set_interop_threads(want: i32) -> i32 {
    if INTEROP_SET
        .compare_exchange(0, want, Ordering::SeqCst, Ordering::SeqCst)
        .is_ok()
    {
        // A second set (or one after parallel work began) is a libtorch error that tch turns
        // into a panic; the flag above prevents the first case, and catching covers the second
        // (nothing is left half-done: the pool keeps its previous size).
        let _ = std::panic::catch_unwind(|| tch::set_num_interop_threads(want));
    }
    tch::get_num_interop_threads()
}

/// The host's images and labels as tensors.
///
/// Pixels: `from_blob` makes a tensor over the host's `f32` buffer without copying. That is
/// sound because (1) the buffer is borrowed from the host for `'a`, and the tensor lives in a
/// `TchTrainer<'a>`, so it cannot outlive it; (2) nothing writes through it: it never requires
/// grad and is only read by `index_select`/`narrow` (which allocate or view, never write),
/// and autograd keeps no reference to it past a step because it is not a leaf that needs a
/// gradient; (3) the slice length was checked against `[n, c, h, w]` in `check_images`.
/// On a GPU the view is copied to the device once, here.
///
/// Labels: the host gives `u8`; cross-entropy wants int64, so they are converted once.
fn wrap(images: &plugin_api::Images<'_>, device: Device) -> Result<(Tensor, Tensor), PluginError> {
    let n = i64::from(images.count);
    let shape = [
        n,
        i64::from(images.channels),
        i64::from(images.height),
        i64::from(images.width),
    ];
    let pixels = images.pixels.as_slice();
    // SAFETY: see above; the pointer is valid for `n·c·h·w` f32 values, properly aligned.
    let x = unsafe {
        Tensor::f_from_blob(
            pixels.as_ptr().cast::<u8>(),
            &shape,
            &[],
            Kind::Float,
            Device::Cpu,
        )
    }
    .and_then(|t| t.f_to_device(device))
    .tch("wrapping the images")?;
    let y = Tensor::f_from_slice(images.labels.as_slice())
        .and_then(|t| t.f_to_kind(Kind::Int64))
        .and_then(|t| t.f_to_device(device))
        .tch("converting the labels")?;
    Ok((x, y))
}
