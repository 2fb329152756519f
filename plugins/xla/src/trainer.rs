//! The trainer: compiles the session's two programs once (in `new`, so compile time lands in
//! the setup phase), keeps the training state on the PJRT device, and runs one train step per
//! batch in the host's order (plugin-api's [`Epochs`] walks the epochs and batches) and one
//! eval step per test batch.

use std::path::Path;
use std::time::Instant;

use plugin_api::epochs::{Batch, BatchStep, Epochs};
use plugin_api::init::OwnedTensor;
use plugin_api::parity::{ParityReport, ParitySteps};
use plugin_api::{
    EvalReport, Images, Note, PluginError, Progress, RunInfo, Session, Train, TrainReport,
};

use crate::batch::Staging;
use crate::options::Options;
use crate::pjrt::{compile_options, Api, Buffer, Client, Executable, PjrtError};
use crate::plan::{self, Step};
use crate::program;
use crate::threads::{self, Busy};
use crate::weights::{self, HostTensor, Origin, ParamSpec};

/// PJRT errors as plugin errors, with what we were doing.
trait Doing<T> {
    fn doing(self, what: &str) -> Result<T, PluginError>;
}

impl<T> Doing<T> for Result<T, PjrtError> {
    fn doing(self, what: &str) -> Result<T, PluginError> {
        self.map_err(|e| PluginError::failed(format!("XLA failed {what}: {e}")))
    }
}

pub struct XlaTrainer<'a> {
    session: Session<'a>,
    epochs: Epochs<'a>,
    learner: Learner<'a>,
    eval: Executable,
    eval_batch: Staging,
    notes: Vec<Note>,
    pool_threads: usize,
}

/// The train step and what it works on: the training state on the device, the training set,
/// and a batch being staged.
struct Learner<'a> {
    train: Images<'a>,
    client: Client,
    step: Executable,
    specs: Vec<ParamSpec>,
    /// The train step's donated state: params.., m.., v.., step, rng, loss_sum.
    state: Vec<Buffer>,
    batch: Staging,
    /// The input's dimensions with the batch dimension left at 0 (filled in per upload).
    input_dims: Vec<i64>,
}

/// The two programs, compiled.
struct Compiled {
    train: Executable,
    eval: Executable,
    seconds: f64,
}

impl<'a> XlaTrainer<'a> {
    pub fn new(session: &Session<'a>) -> Result<Self, PluginError> {
        let options = Options::parse(session)?;
        check_session(session)?;
        let epochs = Epochs::new(session)?;
        let model = session.model_shapes()?;
        let plan = plan::plan(&model)?;
        let specs = weights::specs(&plan);
        let (initial, origin) = weights::initial(session, &model, &specs)?;

        let api = load_api(&options.pjrt_plugin)?;
        threads::apply(session.threads);
        let client = Client::new(api, 1).doing("creating the CPU client")?;
        let pool_threads = threads::pool_threads();
        let compiled = compile(&client, session, &options, &plan, &specs)?;

        let state = initial_state(&client, &specs, &initial, session.seed)?;
        let mut notes = run_notes(api, &client, &options, &specs, origin, compiled.seconds);
        notes.extend(options.notes.iter().cloned());
        let image_len = session.data.train.image_len();
        let learner = Learner {
            train: session.data.train,
            client,
            step: compiled.train,
            specs,
            state,
            batch: Staging::new(session.batch_size as usize, image_len),
            input_dims: input_dims(&plan),
        };
        Ok(XlaTrainer {
            session: *session,
            epochs,
            learner,
            eval: compiled.eval,
            eval_batch: Staging::new(options.eval_batch, image_len),
            notes,
            pool_threads,
        })
    }

    /// The current parameters in the host's layout (`Session::initial_weights` names and
    /// shapes), e.g. to compare with another framework.
    pub fn weights(&self) -> Result<Vec<HostTensor>, PluginError> {
        let learner = &self.learner;
        learner
            .specs
            .iter()
            .zip(&learner.state)
            .map(|(spec, buffer)| {
                let values = buffer.to_host::<f32>().doing("reading a parameter")?;
                Ok(HostTensor {
                    name: spec.name.clone(),
                    shape: spec.host_shape.clone(),
                    values: spec.to_host(&values),
                })
            })
            .collect()
    }

    fn evaluate_all(&mut self) -> Result<(f64, f64, usize), PluginError> {
        let test = self.session.data.test;
        let n = test.count as usize;
        let learner = &self.learner;
        let params = &learner.state[..learner.specs.len()];
        let (mut loss, mut correct) = (0.0, 0.0);
        let mut start = 0;
        while start < n {
            let used = self.eval_batch.fill(&test, start..n);
            let (x, y, mask) = upload(&learner.client, &self.eval_batch, &learner.input_dims)?;
            let mut args: Vec<&Buffer> = params.iter().collect();
            args.extend([&x, &y, &mask]);
            let out = self.eval.execute(&args).doing("in an eval step")?;
            loss += f64::from(out[0].scalar::<f32>().doing("reading the loss")?);
            correct += f64::from(out[1].scalar::<f32>().doing("reading the accuracy")?);
            start += used;
        }
        Ok((loss, correct, n))
    }
}

impl Learner<'_> {
    fn loss_slot(&self) -> usize {
        3 * self.specs.len() + 2
    }
}

/// The epoch's loss sum lives in the donated state on the device (so no step waits to read
/// it): an epoch zeroes it, each step adds to it, and the end of the epoch reads it once.
impl BatchStep for Learner<'_> {
    type Epoch = ();

    fn begin_epoch(&mut self, _order: &[u32]) -> Result<(), PluginError> {
        let slot = self.loss_slot();
        self.state[slot] = self.client.buffer(&[0f32], &[]).doing("zeroing the loss")?;
        Ok(())
    }

    /// One train step; the indices were checked against the training set by `Epochs::new`.
    fn train_batch(&mut self, _: &mut (), batch: Batch<'_>) -> Result<(), PluginError> {
        self.batch
            .fill(&self.train, batch.indices.iter().map(|&i| i as usize));
        let (x, y, mask) = upload(&self.client, &self.batch, &self.input_dims)?;
        let mut args: Vec<&Buffer> = self.state.iter().collect();
        args.extend([&x, &y, &mask]);
        self.state = self.step.execute(&args).doing("in a train step")?;
        Ok(())
    }

    fn end_epoch(&mut self, _: ()) -> Result<f64, PluginError> {
        let slot = self.loss_slot();
        let total = self.state[slot].scalar::<f32>().doing("reading the loss")?;
        Ok(f64::from(total))
    }
}

/// `host parity`'s steps: one train step each (its loss read from the zeroed loss slot),
/// the eval step's logits, and the parameters back in the host's layout.
impl ParitySteps for XlaTrainer<'_> {
    fn step(&mut self, indices: &[u32]) -> Result<f64, PluginError> {
        let learner = &mut self.learner;
        learner.begin_epoch(indices)?;
        learner.train_batch(&mut (), Batch { start: 0, indices })?;
        Ok(learner.end_epoch(())? / indices.len().max(1) as f64)
    }

    fn test_logits(&mut self, indices: &[u32]) -> Result<Vec<f32>, PluginError> {
        let test = self.session.data.test;
        let classes = self.session.data.classes as usize;
        let mut logits = Vec::with_capacity(indices.len() * classes);
        let learner = &self.learner;
        let params = &learner.state[..learner.specs.len()];
        for chunk in indices.chunks(self.eval_batch.size.max(1)) {
            let used = self
                .eval_batch
                .fill(&test, chunk.iter().map(|&i| i as usize));
            let (x, y, mask) = upload(&learner.client, &self.eval_batch, &learner.input_dims)?;
            let mut args: Vec<&Buffer> = params.iter().collect();
            args.extend([&x, &y, &mask]);
            let out = self.eval.execute(&args).doing("in an eval step")?;
            let all = out[2].to_host::<f32>().doing("reading the logits")?;
            logits.extend_from_slice(&all[..used * classes]);
        }
        Ok(logits)
    }

    fn weights(&mut self) -> Result<Vec<OwnedTensor>, PluginError> {
        Ok(XlaTrainer::weights(self)?
            .into_iter()
            .map(|t| {
                let shape = t.shape.iter().map(|&d| d as u32).collect();
                OwnedTensor::new(t.name, shape, t.values)
            })
            .collect())
    }
}

impl Train for XlaTrainer<'_> {
    fn parity(&mut self, steps: u32) -> Option<Result<ParityReport, PluginError>> {
        let session = self.session;
        Some(plugin_api::parity::run(&session, steps, self))
    }

    fn run_info(&self) -> RunInfo {
        RunInfo {
            framework: crate::FRAMEWORK.into(),
            framework_version: crate::framework_version().into(),
            threads: self.pool_threads as u32,
            notes: self.notes.clone().into(),
        }
    }

    /// One epoch at a time, each with its CPU-use notes.
    fn train_epochs(
        &mut self,
        epochs: u32,
        progress: &Progress<'_>,
    ) -> Result<TrainReport, PluginError> {
        let mut report = TrainReport::default();
        for _ in 0..epochs {
            let busy = Busy::start();
            let epoch = self.epochs.train(1, progress, &mut self.learner)?;
            let used = busy.finish();
            report.samples += epoch.samples;
            report.epoch_losses.extend(epoch.epoch_losses);
            report.notes.push(Note::new(
                "cpu_per_wall",
                format!("{:.2}", used.cpu_per_wall),
            ));
            report
                .notes
                .push(Note::new("busy_threads", used.busy_threads));
        }
        Ok(report)
    }

    fn evaluate(&mut self) -> Result<EvalReport, PluginError> {
        let (loss, correct, n) = self.evaluate_all()?;
        let n_f = (n as f64).max(1.0);
        Ok(EvalReport {
            accuracy: correct / n_f,
            loss: loss / n_f,
            samples: n as u64,
            notes: Default::default(),
        })
    }
}

/// What the model walk and the epochs do not check: device, threads, optimizer, data.
fn check_session(session: &Session<'_>) -> Result<(), PluginError> {
    if session.device.as_str() != "cpu" {
        return Err(PluginError::unsupported(format!(
            "device {:?}: the xla plugin runs XLA's CPU client only (xla-cpu-pjrt)",
            session.device.as_str()
        )));
    }
    if session.threads == 0 {
        return Err(PluginError::unsupported("threads = 0 is not usable"));
    }
    session.optimizer.check_adam()?;
    session.check_data()
}

/// Writes the train and eval steps for `plan` and compiles them (dumping them first when
/// `dump_programs` asks).
fn compile(
    client: &Client,
    session: &Session<'_>,
    options: &Options,
    plan: &[Step],
    specs: &[ParamSpec],
) -> Result<Compiled, PluginError> {
    let started = Instant::now();
    let train_text = program::train_step(
        plan,
        specs,
        &session.optimizer,
        i64::from(session.batch_size),
        options.pool_grad,
    );
    let eval_text = program::eval_step(plan, specs, options.eval_batch as i64);
    if let Some(dir) = &options.dump_programs {
        dump(
            dir,
            &[("train.mlir", &train_text), ("eval.mlir", &eval_text)],
        )?;
    }
    let compile = compile_options::encode(&[]);
    let train = client
        .compile(&train_text, &compile)
        .doing("compiling the train step")?;
    let eval = client
        .compile(&eval_text, &compile)
        .doing("compiling the eval step")?;
    Ok(Compiled {
        train,
        eval,
        seconds: started.elapsed().as_secs_f64(),
    })
}

fn load_api(path: &Path) -> Result<&'static Api, PluginError> {
    if !path.is_file() {
        return Err(PluginError::setup(format!(
            "XLA's CPU plugin {} is missing: run plugins/xla/setup-pjrt (or point the \
             `pjrt_plugin` option or ${} at an xla_cpu_pjrt.so)",
            path.display(),
            crate::options::PJRT_PLUGIN_VARIABLE
        )));
    }
    Api::load(path).map_err(|e| PluginError::setup(format!("loading XLA's CPU plugin: {e}")))
}

fn input_dims(plan: &[Step]) -> Vec<i64> {
    // The batch dimension is filled in per upload.
    plan.first().map(|s| s.input.dims(0)).unwrap_or_default()
}

/// The staged batch as device buffers: pixels, labels, mask.
fn upload(
    client: &Client,
    batch: &Staging,
    input_dims: &[i64],
) -> Result<(Buffer, Buffer, Buffer), PluginError> {
    let mut dims = input_dims.to_vec();
    dims[0] = batch.size as i64;
    let n = [batch.size as i64];
    Ok((
        client
            .buffer(&batch.pixels, &dims)
            .doing("copying a batch")?,
        client.buffer(&batch.labels, &n).doing("copying labels")?,
        client.buffer(&batch.mask, &n).doing("copying a mask")?,
    ))
}

/// Parameters, zero moments, step 0, the dropout generator's state from the seed, loss 0.
fn initial_state(
    client: &Client,
    specs: &[ParamSpec],
    initial: &[Vec<f32>],
    seed: u64,
) -> Result<Vec<Buffer>, PluginError> {
    let mut state = Vec::with_capacity(3 * specs.len() + 3);
    for (spec, values) in specs.iter().zip(initial) {
        state.push(
            client
                .buffer(values, &spec.xla_shape)
                .doing("copying a parameter")?,
        );
    }
    for _ in 0..2 {
        for spec in specs {
            let zeros = vec![0f32; spec.count()];
            state.push(
                client
                    .buffer(&zeros, &spec.xla_shape)
                    .doing("zeroing a moment")?,
            );
        }
    }
    state.push(client.buffer(&[0i32], &[]).doing("setting the step")?);
    // Philox key and counter: the seed, and a constant that keeps dropout's stream apart
    // from anything else seeded with the same number.
    state.push(
        client
            .buffer(&[seed, 0x6a6f_756c_6562_656e], &[2])
            .doing("seeding")?,
    );
    state.push(client.buffer(&[0f32], &[]).doing("zeroing the loss")?);
    Ok(state)
}

fn run_notes(
    api: &Api,
    client: &Client,
    options: &Options,
    specs: &[ParamSpec],
    origin: Origin,
    compile_s: f64,
) -> Vec<Note> {
    let (major, minor) = api.version();
    let mut notes = vec![
        Note::new("pjrt_plugin", api.path().display()),
        Note::new("pjrt_c_api", format!("{major}.{minor}")),
        Note::new(
            threads::POOL_SIZE_VARIABLE,
            std::env::var(threads::POOL_SIZE_VARIABLE).unwrap_or_default(),
        ),
        Note::new(
            "parameters",
            specs.iter().map(ParamSpec::count).sum::<usize>(),
        ),
        Note::new(
            "initial_weights",
            match origin {
                Origin::Host => "host",
                Origin::Seed => "seed (PyTorch's default init, SplitMix64)",
            },
        ),
        Note::new("compile_s", format!("{compile_s:.3}")),
        Note::new("partial_batch", "padded to batch_size, masked"),
        Note::new(
            "maxpool_grad",
            format!("{:?}", options.pool_grad).to_lowercase(),
        ),
        Note::new("eval_batch_size", options.eval_batch),
        Note::new(
            "programs",
            "StableHLO generated in Rust from the layer list",
        ),
    ];
    if let Ok(platform) = client.platform_version() {
        notes.push(Note::new("platform_version", platform));
    }
    for (key, value) in api.attributes().unwrap_or_default() {
        notes.push(Note::new(key, value));
    }
    notes
}

fn dump(dir: &Path, files: &[(&str, &str)]) -> Result<(), PluginError> {
    std::fs::create_dir_all(dir).map_err(|e| {
        PluginError::setup(format!(
            "dump_programs: cannot create {}: {e}",
            dir.display()
        ))
    })?;
    for (name, text) in files {
        let path = dir.join(name);
        std::fs::write(&path, text).map_err(|e| {
            PluginError::setup(format!(
                "dump_programs: cannot write {}: {e}",
                path.display()
            ))
        })?;
    }
    Ok(())
}
