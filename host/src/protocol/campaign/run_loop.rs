//! The run loop: the jobs of the plan in order, then retries of failed runs, each through a
//! [`RunWorker`], each recorded in runs.csv as soon as it ends; Ctrl-C stops it between runs
//! (or stops the run in flight, which is then not recorded), and so does `[experiment] stop`
//! once a look decides (see [`super::stopping`]).
//!
//! The worker is a seam (as hyperfine's executor is): the campaign starts `host worker`
//! processes ([`super::process::ProcessWorker`]); tests pass a fake that answers at once, so
//! ordering, resume, retries and interruption are checked without processes or data.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use super::history::{History, Job};
use super::pacing;
use super::stopping::Stopping;
use crate::energy::plausibility::PowerBounds;
use crate::manifest::{Manifest, PluginSpec};
use crate::plan::{PlannedRun, Shard};
use crate::plugin::events::Event;
use crate::plugin::supervisor::RunOutcome;
use crate::protocol::progress::CampaignProgress;
use crate::store::record::RunRecord;
use crate::store::runs_csv::RunsCsv;
use crate::store::{CampaignDir, RunFiles};

/// One run for a worker to do.
pub struct WorkerRequest<'a> {
    pub plugin: &'a PluginSpec,
    pub iteration: u32,
    /// Where its energy samples and its log go.
    pub files: &'a RunFiles,
    /// Its time limit: a worker still running after it is stopped and its run failed.
    pub timeout: Duration,
}

/// Runs one measured run in isolation and reports what it measured.
pub trait RunWorker {
    /// Runs `request` to its end, its timeout, or until `stop` is raised (then the outcome
    /// says `interrupted`). `on_event` sees the worker's events as they arrive (progress).
    /// An `Err` is a fault of the host (a log that cannot be created), which stops the
    /// campaign; the run's own failures are in the outcome.
    fn run(
        &mut self,
        request: &WorkerRequest<'_>,
        stop: &AtomicBool,
        on_event: &mut dyn FnMut(&Event),
    ) -> anyhow::Result<RunOutcome>;
}

/// What the loop did.
pub struct LoopEnd {
    /// Rows written, in order.
    pub records: Vec<RunRecord>,
    pub interrupted: bool,
    /// The sequential design stopped the campaign (the rest of the plan is not run).
    pub stopped_early: bool,
}

/// Everything a run needs besides its job.
pub struct RunLoop<'a> {
    pub manifest: &'a Manifest,
    pub dir: &'a CampaignDir,
    pub planned: &'a [PlannedRun],
    /// The campaign's energy domains and the meter label that found them.
    pub domains: &'a [String],
    pub meter: &'a str,
    /// Idle power (W), when a baseline was measured: each run's dynamic energy is computed
    /// against it.
    pub idle_power_w: Option<f64>,
    /// The shard and the machine, recorded in every row.
    pub shard: Option<Shard>,
    pub node: &'a str,
    /// Runs recorded before this invocation (they count for rests and numbering).
    pub done_before: usize,
    pub worker: &'a mut dyn RunWorker,
    pub progress: CampaignProgress,
    pub stop: &'a AtomicBool,
    /// `[experiment] stop`: looks taken as the runs reach them.
    pub stopping: Option<Stopping<'a>>,
}

impl RunLoop<'_> {
    /// Runs `todo`, then the retries that fall due, appending each record to `csv`.
    pub fn run_all(
        &mut self,
        mut todo: Vec<Job>,
        history: &mut History,
        csv: &mut RunsCsv,
    ) -> anyhow::Result<LoopEnd> {
        let retry_max = self.manifest.experiment.retry_failed;
        let mut records = Vec::new();
        let mut next = 0;
        let mut stopped_early = false;
        let interrupted = loop {
            if next == todo.len() {
                // The plan is done: queue retries of runs that failed and have retries left.
                let retries = history.retries_due(self.planned, self.manifest, retry_max);
                if retries.is_empty() {
                    break false;
                }
                self.progress
                    .println(format!("retrying {} failed run(s)", retries.len()));
                todo.extend(retries);
            }
            if self.stopped() {
                break true;
            }
            let job = &todo[next];
            next += 1;
            // Every run but the campaign's first rests first.
            let rested = if self.done_before + records.len() > 0 {
                let rested =
                    pacing::rest(self.manifest, self.idle_power_w, self.stop, &self.progress)?;
                if self.stopped() {
                    break true;
                }
                rested
            } else {
                Duration::ZERO
            };
            let position = (
                self.done_before + records.len() + 1,
                self.done_before + todo.len(),
            );
            let Some(record) = self.run_one(job, position, rested)? else {
                break true;
            };
            csv.append(&record)?;
            history.add(record.iteration, &record.plugin, record.is_ok());
            if let Some(stopping) = self.stopping.as_mut() {
                stopping.count(&record.plugin, record.is_ok());
                let progress = &self.progress;
                stopped_early = stopping.look(&mut |line| progress.println(line))?;
            }
            records.push(record);
            if stopped_early {
                break false;
            }
        };
        self.progress.finish();
        Ok(LoopEnd {
            records,
            interrupted,
            stopped_early,
        })
    }

    /// Runs one job (`position` = its number and the current total, for the user) and returns
    /// its row; `None` when it was interrupted (nothing to record: it runs again on resume).
    pub fn run_one(
        &mut self,
        job: &Job,
        position: (usize, usize),
        rested: Duration,
    ) -> anyhow::Result<Option<RunRecord>> {
        let spec = &self.manifest.plugins[job.run.plugin];
        let files = self.dir.run_files(job.run.iteration, &spec.name, job.retry);
        let label = format!(
            "iteration {} · {}{}",
            job.run.iteration,
            spec.name,
            if job.retry > 0 {
                format!(" (retry {})", job.retry)
            } else {
                String::new()
            }
        );
        self.progress
            .println(format!("[{}/{}] {label}", position.0, position.1));
        self.progress.start_run(&label);
        let request = WorkerRequest {
            plugin: spec,
            iteration: job.run.iteration,
            files: &files,
            timeout: self.manifest.timeout_for(spec),
        };
        let progress = &mut self.progress;
        let outcome = self
            .worker
            .run(&request, self.stop, &mut |e| progress.on_event(e))?;
        self.progress.finish_run(outcome.wall);
        if outcome.interrupted {
            self.progress
                .println("  interrupted: this run is not recorded and will run again on resume");
            return Ok(None);
        }
        let mut record = RunRecord::from_measured(
            job.run.iteration,
            job.run.order,
            &spec.name,
            &outcome.measured,
        );
        record.retry = job.retry;
        record.init = Some(self.manifest.init);
        record.shard = self.shard;
        record.node = self.node.to_string();
        record.rest_s = Some(rested.as_secs_f64());
        record.require_domains(self.domains, self.meter);
        // The default bounds, as `host analyze` applies them to runs.csv unless its pipeline
        // sets others.
        record.require_plausible(&PowerBounds::default());
        if let (Some(idle), Some(e), Some(t)) = (self.idle_power_w, record.energy_j, record.time_s)
        {
            record.energy_dynamic_j = Some(e - idle * t);
        }
        self.progress.println(describe(&record, &files.log));
        Ok(Some(record))
    }

    fn stopped(&self) -> bool {
        self.stop.load(Ordering::SeqCst)
    }
}

/// The line printed when a run ends.
fn describe(r: &RunRecord, log: &Path) -> String {
    if r.is_ok() {
        format!(
            "  ok: {:.2} s, {:.1} J ({}), accuracy {}",
            r.time_s.unwrap_or(0.0),
            r.energy_j.unwrap_or(0.0),
            r.meter,
            r.accuracy
                .map(|a| format!("{:.2} %", a * 100.0))
                .unwrap_or_else(|| "-".into())
        )
    } else {
        format!("  FAILED: {} (log: {})", r.error, log.display())
    }
}
