//! The child side of `host check-plugin` (`host check-probe`, hidden): loads the plugin, runs
//! one kind of probe on a check session, and writes what it saw as JSON lines on its own
//! copy of stdout (fd 1 itself goes to stderr, as in the worker, so plugin output cannot
//! corrupt the stream). Announcing each step first lets the parent name the step a crash or
//! hang happened in.

use std::fs::File;
use std::io::{LineWriter, Write};
use std::path::PathBuf;

use plugin_api::testing::Recorder;
use plugin_api::{ErrorKind, PluginError, PluginModRef, Session, Train, TrainerBox};

use super::session::{CheckSetup, OwnedWeights, EPOCHS};
use super::threads;
use super::{Check, Facts, Line, Probe};
use crate::plugin::load;
use crate::plugin::worker::claim_stdout;

/// What one probe process is asked to do.
#[derive(Debug, Clone)]
pub struct ProbeJob {
    pub file: PathBuf,
    pub manifest: Option<PathBuf>,
    pub options: Vec<(String, String)>,
    pub probe: Probe,
}

struct Out(LineWriter<File>);

impl Out {
    fn send(&mut self, line: &Line) {
        if let Ok(text) = serde_json::to_string(line) {
            // A parent that has gone cannot be told anything.
            let _ = writeln!(self.0, "{text}");
        }
    }

    fn step(&mut self, name: impl Into<String>) {
        self.send(&Line::Step(name.into()));
    }

    fn check(&mut self, name: &str, passed: bool, detail: impl Into<String>) {
        self.send(&Line::Check(Check::new(name, passed, detail.into())));
    }
}

/// Runs the probe; the exit code is 0 unless the probe could not start.
pub fn run(job: &ProbeJob) -> i32 {
    let file = match claim_stdout() {
        Ok(f) => f,
        Err(e) => {
            eprintln!("check-probe: {e:#}");
            return 2;
        }
    };
    let mut out = Out(LineWriter::new(file));
    let setup = match CheckSetup::new(&job.file, job.manifest.as_deref(), &job.options) {
        Ok(s) => s,
        Err(e) => {
            out.send(&Line::Setup(format!("{e:#}")));
            return 0;
        }
    };
    out.step("loading the plugin");
    let loaded = match load::load(&job.file) {
        Ok(l) => l,
        Err(e) => {
            out.check("loads with a matching ABI", false, e.to_string());
            return 0;
        }
    };
    match job.probe {
        Probe::Plain => plain(&mut out, &setup, loaded.module, &loaded.info),
        Probe::Weights => weights(&mut out, &setup, loaded.module),
        Probe::Refusals => refusals(&mut out, &setup, loaded.module),
    }
    0
}

fn new_trainer<'a>(
    module: PluginModRef,
    session: &Session<'a>,
) -> Result<TrainerBox<'a>, PluginError> {
    (module.new_trainer())(session).into_result()
}

/// The main probe: the session, info, the epochs, evaluation twice, one epoch too many.
fn plain(out: &mut Out, setup: &CheckSetup, module: PluginModRef, info: &plugin_api::PluginInfo) {
    out.send(&Line::Session(setup.describe()));
    check_info(out, info);
    let builder = setup.builder(&setup.options, None);
    let session = builder.session();
    out.step("new_trainer()");
    let mut trainer = match new_trainer(module, &session) {
        Ok(t) => t,
        Err(e) => return out.check("new_trainer() builds a trainer", false, e.to_string()),
    };
    out.check("new_trainer() builds a trainer", true, "");
    let run = trainer.run_info();
    out.check(
        "run_info() reports the threads in effect",
        run.threads >= 1,
        format!(
            "{}, {} thread(s)",
            super::framework_label(&run.framework, &run.framework_version),
            run.threads
        ),
    );
    let recorder = Recorder::default();
    let (before, started) = (threads::snapshot(), std::time::Instant::now());
    let Some(losses) = train_every_epoch(out, setup, &mut trainer, &recorder) else {
        return;
    };
    let wall_ms = started.elapsed().as_millis() as u64;
    let busy = threads::busy(&before, &threads::snapshot(), wall_ms);
    let eval = check_evaluation(out, setup, &mut trainer);
    out.step("train_epochs(1) past the session's last epoch");
    let past = Train::train_epochs(&mut trainer, 1, &recorder.progress());
    out.check(
        "training past the session's epochs is a PluginError",
        matches!(&past, Err(e) if e.kind == ErrorKind::Failed),
        match past {
            Err(e) => format!("{:?}: {e}", e.kind),
            Ok(_) => "it trained an epoch the session does not hold".into(),
        },
    );
    out.send(&Line::Facts(Facts {
        losses,
        eval,
        threads: run.threads,
        busy,
        notes: notes(&run.notes),
        refused: None,
    }));
}

/// The plugin loaded; its info() names it and its framework.
fn check_info(out: &mut Out, info: &plugin_api::PluginInfo) {
    out.check(
        "loads with a matching ABI",
        true,
        format!(
            "{} — {}",
            info.name,
            super::framework_label(&info.framework, &info.framework_version)
        ),
    );
    out.check(
        "info() names the plugin and framework",
        !info.name.is_empty() && !info.framework.is_empty(),
        format!(
            "name `{}`, framework `{}`, devices {:?}",
            info.name, info.framework, info.devices
        ),
    );
}

/// Every epoch of the session, one `train_epochs(1)` each, checked: every sample once, one
/// finite loss, a progress call per batch. The losses, or `None` when training failed.
fn train_every_epoch(
    out: &mut Out,
    setup: &CheckSetup,
    trainer: &mut TrainerBox<'_>,
    recorder: &Recorder,
) -> Option<Vec<f64>> {
    let samples = setup.train.labels.len();
    let batches = samples.div_ceil(setup.batch_size.max(1) as usize) as u64;
    let (mut losses, mut reported) = (Vec::new(), false);
    for epoch in 0..EPOCHS {
        out.step(format!("train_epochs(1) for epoch {}", epoch + 1));
        let report = match Train::train_epochs(trainer, 1, &recorder.progress()) {
            Ok(r) => r,
            Err(e) => {
                let detail = format!("epoch {}: {e}", epoch + 1);
                out.check("train_epochs(1) succeeds", false, detail);
                return None;
            }
        };
        let calls = recorder.calls();
        let samples_ok = report.samples == samples as u64;
        let loss_ok = report.epoch_losses.len() == 1 && report.epoch_losses[0].is_finite();
        let progress_ok = calls.len() as u64 == batches * u64::from(epoch + 1)
            && calls.last() == Some(&(epoch, batches, batches));
        let ok = samples_ok && loss_ok && progress_ok;
        // Said once: at the first epoch that breaks the protocol, else after the last.
        if !reported && (!ok || epoch + 1 == EPOCHS) {
            reported = true;
            out.check(
                "each epoch: every sample once, one finite loss, progress per batch",
                ok,
                format!(
                    "epoch {}: samples {} of {samples}, losses {:?}, {} progress call(s), \
                     last {:?} (expected {batches} per epoch, the last partial)",
                    epoch + 1,
                    report.samples,
                    report.epoch_losses.as_slice(),
                    calls.len(),
                    calls.last()
                ),
            );
        }
        if !(samples_ok && loss_ok) {
            return None;
        }
        losses.push(report.epoch_losses[0]);
    }
    Some(losses)
}

/// `evaluate()` twice: the whole test set, sane figures, the same both times. The first
/// accuracy and loss.
fn check_evaluation(
    out: &mut Out,
    setup: &CheckSetup,
    trainer: &mut TrainerBox<'_>,
) -> Option<(f64, f64)> {
    out.step("evaluate()");
    let first = Train::evaluate(trainer);
    out.step("evaluate() a second time");
    let second = Train::evaluate(trainer);
    let (a, b) = match (first, second) {
        (Ok(a), Ok(b)) => (a, b),
        (Err(e), _) | (_, Err(e)) => {
            out.check("evaluate() succeeds", false, e.to_string());
            return None;
        }
    };
    let test = setup.test.labels.len();
    out.check(
        "evaluate() covers the test set: accuracy in [0, 1], a finite loss",
        (0.0..=1.0).contains(&a.accuracy) && a.loss.is_finite() && a.samples == test as u64,
        format!(
            "accuracy {:.3}, loss {:.4}, samples {} of {test}",
            a.accuracy, a.loss, a.samples
        ),
    );
    out.check(
        "evaluate() is repeatable (no updates, no dropout)",
        a.accuracy == b.accuracy && a.loss == b.loss,
        format!(
            "accuracy {} then {}, loss {} then {}",
            a.accuracy, b.accuracy, a.loss, b.loss
        ),
    );
    Some((a.accuracy, a.loss))
}

fn notes(notes: &[plugin_api::Note]) -> Vec<(String, String)> {
    notes
        .iter()
        .map(|n| (n.key.to_string(), n.value.to_string()))
        .collect()
}

/// The same session with initial weights: the epoch losses, for the parent to compare.
fn weights(out: &mut Out, setup: &CheckSetup, module: PluginModRef) {
    let Some(owned) = OwnedWeights::new(setup) else {
        return out.send(&Line::Setup("the model cannot be walked".into()));
    };
    let tensors = owned.tensors();
    let builder = setup.builder(&setup.options, Some(&tensors));
    let session = builder.session();
    out.step("new_trainer() with initial weights");
    let mut facts = Facts::default();
    let mut trainer = match new_trainer(module, &session) {
        Ok(t) => t,
        Err(e) => {
            facts.refused = Some((e.kind == ErrorKind::Unsupported, e.to_string()));
            return out.send(&Line::Facts(facts));
        }
    };
    let run = trainer.run_info();
    facts.notes = notes(&run.notes);
    let recorder = Recorder::default();
    for epoch in 0..EPOCHS {
        out.step(format!(
            "train_epochs(1) for epoch {} with initial weights",
            epoch + 1
        ));
        match Train::train_epochs(&mut trainer, 1, &recorder.progress()) {
            Ok(r) => facts.losses.extend(r.epoch_losses.iter().copied()),
            Err(e) => {
                facts.refused = Some((false, format!("epoch {}: {e}", epoch + 1)));
                break;
            }
        }
    }
    out.send(&Line::Facts(facts));
}

/// Sessions every plugin must refuse with a PluginError: an unknown option, a device that
/// does not exist.
fn refusals(out: &mut Out, setup: &CheckSetup, module: PluginModRef) {
    let key = "joulebench_check_no_such_option";
    let mut options = setup.options.clone();
    options.push((key.into(), "1".into()));
    let builder = setup.builder(&options, None);
    out.step(format!("new_trainer() with an unknown option `{key}`"));
    let result = new_trainer(module, &builder.session());
    out.check(
        "an unknown option is refused, naming it",
        matches!(&result, Err(e) if e.message.contains(key) && e.kind != ErrorKind::Panicked),
        match result {
            Ok(_) => "accepted: a typo in a manifest's options would pass silently".into(),
            Err(e) => format!("{:?}: {e}", e.kind),
        },
    );
    let odd = CheckSetup {
        device: "no-such-device:7".into(),
        ..setup.clone()
    };
    let builder = odd.builder(&odd.options, None);
    out.step("new_trainer() on device `no-such-device:7`");
    let result = new_trainer(module, &builder.session());
    out.check(
        "an impossible device is refused with a PluginError (not a panic)",
        matches!(&result, Err(e) if e.kind != ErrorKind::Panicked),
        match result {
            Ok(_) => "accepted".into(),
            Err(e) => format!("{:?}: {e}", e.kind),
        },
    );
}
