//! The worker: one process, one plugin, one measured run.
//!
//! `host worker` prepares the data, starts the energy monitor, then runs the phases
//! setup (load + new_trainer) → epoch 1..n (`train_epochs(1)`) → eval, reading every meter at
//! each boundary and streaming [`Event`]s as JSON lines to the host. Frameworks print to
//! stdout freely (TensorFlow does), so the event stream gets its own descriptor: the original
//! stdout is duplicated for events, and fd 1 is pointed at stderr before any plugin code runs.

use std::fs::File;
use std::io::{LineWriter, Write};
use std::os::fd::FromRawFd;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use abi_stable::sabi_trait::TD_Opaque;
use abi_stable::sabi_types::RRef;
use abi_stable::std_types::{RSlice, RStr};
use anyhow::{bail, Context};
use plugin_api::init::{as_tensors, glorot_uniform, OwnedTensor};
use plugin_api::shapes::{ModelShapes, Shape};
use plugin_api::{
    Dataset, Images, KeyValue, Note, ProgressSink, ProgressSink_TO, Session, Tensor,
    MANIFEST_DIR_OPTION,
};

use super::events::{Event, Mark, Phase};
use super::load;
use crate::dataset::{self, PreparedData};
use crate::energy::{EnergyMonitor, Snapshot};
use crate::manifest::{Manifest, PluginSpec};
use crate::plan::{self, Init};

/// What the host asks one worker to do.
#[derive(Debug, Clone)]
pub struct WorkerJob {
    pub manifest: PathBuf,
    /// SHA-256 the manifest had when the campaign started; a changed file is refused.
    pub manifest_sha256: Option<String>,
    /// The plugin's name in the manifest.
    pub plugin: String,
    pub iteration: u32,
    pub samples_csv: Option<PathBuf>,
    /// Only build the trainer (`host run --dry-run`): no meters, no training.
    pub setup_only: bool,
    /// Stdin is the host's lifeline pipe: when it closes, the worker's process group is
    /// killed ([`super::lifeline`]). Off when the worker is started by hand.
    pub watch_host: bool,
}

/// Where events go: the duplicated original stdout.
struct EventSink(Mutex<LineWriter<File>>);

impl EventSink {
    /// Takes over fd 1: events go to a duplicate of it, and fd 1 itself now points at stderr.
    fn take_stdout() -> anyhow::Result<EventSink> {
        Ok(EventSink(Mutex::new(LineWriter::new(claim_stdout()?))))
    }

    fn send(&self, event: &Event) {
        if let Ok(mut w) = self.0.lock() {
            // If the host has gone there is no one to tell; the run ends anyway.
            let _ = writeln!(w, "{}", event.to_line());
        }
    }
}

/// Takes over fd 1 for a process's own messages (the worker's events, check-probe's lines):
/// returns a duplicate of it, and points fd 1 itself at stderr, so that whatever a plugin
/// prints cannot corrupt the stream.
pub(crate) fn claim_stdout() -> anyhow::Result<File> {
    std::io::stdout().flush().ok();
    // SAFETY: fcntl/dup2 on the process's own standard descriptors; the new descriptor is
    // owned by the File from here on. Close-on-exec, so a program the framework starts
    // does not inherit the pipe and keep the host waiting for its end after this process
    // has exited.
    let fd = unsafe { libc::fcntl(1, libc::F_DUPFD_CLOEXEC, 3) };
    if fd < 0 {
        bail!("dup(stdout) failed: {}", std::io::Error::last_os_error());
    }
    if unsafe { libc::dup2(2, 1) } < 0 {
        bail!(
            "dup2(stderr, stdout) failed: {}",
            std::io::Error::last_os_error()
        );
    }
    Ok(unsafe { File::from_raw_fd(fd) })
}

/// Forwards the trainer's progress callbacks as events, at most every 100 ms.
struct ProgressForwarder<'a> {
    sink: &'a EventSink,
    last: Mutex<Option<Instant>>,
}

impl ProgressSink for ProgressForwarder<'_> {
    fn batch_done(&self, epoch: u32, batch: u64, batches: u64) {
        let Ok(mut last) = self.last.lock() else {
            return;
        };
        let due = last.is_none_or(|t| t.elapsed() >= Duration::from_millis(100));
        if due || batch == batches {
            *last = Some(Instant::now());
            self.sink.send(&Event::Progress {
                epoch,
                batch,
                batches,
            });
        }
    }
}

/// Runs the job; returns the process exit code. Errors are reported as events, not panics.
pub fn run(job: &WorkerJob) -> i32 {
    let sink = match EventSink::take_stdout() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("worker: {e:#}");
            return 1;
        }
    };
    if job.watch_host {
        if let Err(e) = super::lifeline::watch_stdin() {
            sink.send(&Event::Error {
                phase: Phase::Prepare,
                message: format!("{e:#}"),
            });
            return 1;
        }
    }
    match run_phases(job, &sink) {
        Ok(()) => {
            sink.send(&Event::Finished);
            0
        }
        Err(PhaseError { phase, error }) => {
            let message = format!("{error:#}");
            sink.send(&match crate::error::environment_fault(&error) {
                Some(_) => Event::Environment { phase, message },
                None => Event::Error { phase, message },
            });
            1
        }
    }
}

struct PhaseError {
    phase: Phase,
    error: anyhow::Error,
}

trait InPhase<T> {
    fn in_phase(self, phase: Phase) -> Result<T, PhaseError>;
}

impl<T, E: Into<anyhow::Error>> InPhase<T> for Result<T, E> {
    fn in_phase(self, phase: Phase) -> Result<T, PhaseError> {
        self.map_err(|e| PhaseError {
            phase,
            error: e.into(),
        })
    }
}

fn mark(snapshot: &Snapshot) -> Mark {
    Mark {
        mono_s: snapshot.elapsed.as_secs_f64(),
        unix_ms: snapshot.unix_ms,
        joules: snapshot.joules.clone(),
        cpu_time_s: snapshot.cpu_time_s,
    }
}

fn finite(x: f64) -> Option<f64> {
    x.is_finite().then_some(x)
}

fn run_phases(job: &WorkerJob, sink: &EventSink) -> Result<(), PhaseError> {
    let manifest = Manifest::load(&job.manifest).in_phase(Phase::Prepare)?;
    if let Some(expected) = &job.manifest_sha256 {
        if &manifest.sha256 != expected {
            return Err(anyhow::anyhow!(
                "{} changed since the campaign started (SHA-256 {} ≠ {expected}); \
                 runs of one campaign must share one manifest",
                job.manifest.display(),
                manifest.sha256
            ))
            .in_phase(Phase::Prepare);
        }
    }
    let spec = manifest
        .plugins
        .iter()
        .find(|p| p.name == job.plugin)
        .with_context(|| format!("the manifest has no plugin named `{}`", job.plugin))
        .in_phase(Phase::Prepare)?;
    let prepared = dataset::prepare(&manifest.dataset).in_phase(Phase::Prepare)?;
    let order = plan::sample_order(
        manifest.experiment.seed,
        job.iteration,
        manifest.training.epochs,
        prepared.train.count,
    );
    let pairs = option_pairs(spec, &manifest);
    let options = key_values(&pairs);
    let weights = host_weights(&manifest, &prepared, job.iteration).in_phase(Phase::Prepare)?;
    let views = weights.as_deref().map(as_tensors);
    let session = build_session(
        &manifest,
        &spec.name,
        &prepared,
        &order,
        &options,
        plan::trainer_seed(manifest.experiment.seed, job.iteration),
        views.as_deref(),
    );

    if job.setup_only {
        return build_only(&spec.path, &session, sink);
    }
    let monitor = EnergyMonitor::start(&manifest.energy, job.samples_csv.as_deref())
        .in_phase(Phase::Prepare)?;
    sink.send(&Event::Started {
        pid: std::process::id(),
        meter: monitor.label(),
        measured: monitor.measured(),
        domains: monitor.domains().iter().map(|d| d.name.clone()).collect(),
        in_total: monitor.domains().iter().map(|d| d.in_total).collect(),
        unused_sources: monitor.unused_sources(),
    });
    let result = measured_phases(&manifest, &spec.path, &session, &monitor, sink);
    let faults = monitor.stop().in_phase(Phase::Energy)?;
    if !faults.is_empty() {
        sink.send(&Event::Faults {
            faults: faults
                .iter()
                .map(|f| format!("{} {}: {}", f.domain, f.kind, f.detail))
                .collect(),
        });
    }
    result
}

/// Loads the plugin and builds its trainer, reporting what it says of itself: the dry run's
/// check that the session (options, layers, device) is one the plugin accepts.
fn build_only(
    plugin_path: &Path,
    session: &Session<'_>,
    sink: &EventSink,
) -> Result<(), PhaseError> {
    let loaded = load::load(plugin_path).in_phase(Phase::Setup)?;
    let trainer = (loaded.module.new_trainer())(session)
        .into_result()
        .in_phase(Phase::Setup)?;
    let info = trainer.run_info();
    sink.send(&Event::RunInfo {
        framework: info.framework.to_string(),
        framework_version: info.framework_version.to_string(),
        threads: info.threads,
        notes: pairs(&info.notes),
    });
    Ok(())
}

/// Setup, the epochs and evaluation, each between two readings of the meters.
fn measured_phases(
    manifest: &Manifest,
    plugin_path: &Path,
    session: &Session<'_>,
    monitor: &EnergyMonitor,
    sink: &EventSink,
) -> Result<(), PhaseError> {
    let phases = Phases { monitor, sink };
    let (mut trainer, info) = phases.measure(Phase::Setup, None, || {
        let loaded = load::load(plugin_path).in_phase(Phase::Setup)?;
        sink.send(&Event::Plugin {
            name: loaded.info.name.to_string(),
            framework: loaded.info.framework.to_string(),
            framework_version: loaded.info.framework_version.to_string(),
        });
        let trainer = (loaded.module.new_trainer())(session)
            .into_result()
            .in_phase(Phase::Setup)?;
        let info = trainer.run_info();
        Ok((trainer, info))
    })?;
    sink.send(&Event::RunInfo {
        framework: info.framework.to_string(),
        framework_version: info.framework_version.to_string(),
        threads: info.threads,
        notes: pairs(&info.notes),
    });

    let forwarder = ProgressForwarder {
        sink,
        last: Mutex::new(None),
    };
    let progress = ProgressSink_TO::from_ptr(RRef::new(&forwarder), TD_Opaque);
    for epoch in 1..=manifest.training.epochs {
        let report = phases.measure(Phase::Train, Some(epoch), || {
            trainer
                .train_epochs(1, &progress)
                .into_result()
                .in_phase(Phase::Train)
        })?;
        sink.send(&Event::Trained {
            epoch,
            samples: report.samples,
            loss: report.epoch_losses.last().copied().and_then(finite),
            notes: pairs(&report.notes),
        });
    }

    let eval = phases.measure(Phase::Eval, None, || {
        trainer.evaluate().into_result().in_phase(Phase::Eval)
    })?;
    sink.send(&Event::Evaluated {
        accuracy: finite(eval.accuracy),
        loss: finite(eval.loss),
        samples: eval.samples,
        notes: pairs(&eval.notes),
    });
    Ok(())
}

/// Brackets a phase with meter readings: `phase_start`, the work, `phase_end`.
struct Phases<'a> {
    monitor: &'a EnergyMonitor,
    sink: &'a EventSink,
}

impl Phases<'_> {
    fn measure<T>(
        &self,
        phase: Phase,
        epoch: Option<u32>,
        work: impl FnOnce() -> Result<T, PhaseError>,
    ) -> Result<T, PhaseError> {
        let at = self.mark(phase)?;
        self.sink.send(&Event::PhaseStart { phase, epoch, at });
        let done = work()?;
        let at = self.mark(phase)?;
        self.sink.send(&Event::PhaseEnd { phase, epoch, at });
        Ok(done)
    }

    fn mark(&self, phase: Phase) -> Result<Mark, PhaseError> {
        self.monitor.snapshot().map(|s| mark(&s)).in_phase(phase)
    }
}

/// A plugin's notes as (key, value) pairs.
fn pairs(notes: &[Note]) -> Vec<(String, String)> {
    notes
        .iter()
        .map(|n| (n.key.to_string(), n.value.to_string()))
        .collect()
}

/// The plugin's options, plus `manifest_dir` unless the manifest sets it: plugins resolve
/// relative paths in their options (a trainer file, a venv) against the manifest's folder (or
/// the one its `paths_relative_to` names, as in the copy a campaign folder saves), as the host
/// does for its own paths.
pub(crate) fn option_pairs(spec: &PluginSpec, manifest: &Manifest) -> Vec<(String, String)> {
    let mut pairs = spec.options.clone();
    if !pairs.iter().any(|(k, _)| k == MANIFEST_DIR_OPTION) {
        let dir = std::fs::canonicalize(crate::manifest::absolute(&manifest.base_dir))
            .map(|d| d.to_string_lossy().into_owned())
            .unwrap_or_default();
        pairs.push((MANIFEST_DIR_OPTION.to_string(), dir));
    }
    pairs
}

/// `pairs` as the ABI's borrowed key/values.
pub(crate) fn key_values(pairs: &[(String, String)]) -> Vec<KeyValue<'_>> {
    pairs
        .iter()
        .map(|(k, v)| KeyValue {
            key: RStr::from_str(k),
            value: RStr::from_str(v),
        })
        .collect()
}

/// `iteration`'s initial weights when the manifest has the host make them (`[model] init`),
/// for the model walked on the prepared images.
pub fn host_weights(
    manifest: &Manifest,
    data: &PreparedData,
    iteration: u32,
) -> anyhow::Result<Option<Vec<OwnedTensor>>> {
    if manifest.init != Init::Host {
        return Ok(None);
    }
    let input = Shape::image(1, data.train.rows, data.train.cols);
    let model = ModelShapes::walk(input, &manifest.model)?;
    let seed = plan::weights_seed(manifest.experiment.seed, iteration);
    Ok(Some(glorot_uniform(&model, seed)))
}

/// The ABI session over the host's buffers.
pub fn build_session<'a>(
    manifest: &'a Manifest,
    plugin_name: &'a str,
    data: &'a PreparedData,
    order: &'a [u32],
    options: &'a [KeyValue<'a>],
    seed: u64,
    weights: Option<&'a [Tensor<'a>]>,
) -> Session<'a> {
    let images = |split: &'a dataset::PreparedSplit| Images {
        pixels: RSlice::from_slice(&split.pixels),
        labels: RSlice::from_slice(&split.labels),
        count: split.count as u32,
        channels: 1,
        height: split.rows as u32,
        width: split.cols as u32,
    };
    Session {
        plugin_name: RStr::from_str(plugin_name),
        model: RSlice::from_slice(&manifest.model),
        optimizer: manifest.training.optimizer,
        epochs: manifest.training.epochs,
        batch_size: manifest.training.batch_size,
        seed,
        threads: manifest.training.threads,
        device: RStr::from_str(&manifest.training.device),
        data: Dataset {
            train: images(&data.train),
            test: images(&data.test),
            classes: data.classes,
        },
        order: RSlice::from_slice(order),
        initial_weights: weights.map(RSlice::from_slice).into(),
        options: RSlice::from_slice(options),
    }
}
