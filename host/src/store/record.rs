//! One row of runs.csv ([`RunRecord`]), computed from what a worker measured
//! ([`MeasuredRun`]), in the store's own terms: the worker's event stream is the plugin
//! module's business, and it fills a `MeasuredRun` (as a test's fake worker does).

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::energy::plausibility::{self, PowerBounds};
use crate::plan::Init;
use crate::plan::Shard;

/// Whether a run counts: `ok` or `failed`, exactly as runs.csv and its readers spell it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RunStatus {
    Ok,
    /// A run is failed until it is shown to have completed.
    #[default]
    Failed,
}

impl RunStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Ok => "ok",
            RunStatus::Failed => "failed",
        }
    }

    /// The status a runs.csv cell names, or `None` for anything else (other tools' CSVs may
    /// hold other words; they are not `ok`).
    pub fn from_cell(cell: &str) -> Option<RunStatus> {
        match cell {
            "ok" => Some(RunStatus::Ok),
            "failed" => Some(RunStatus::Failed),
            _ => None,
        }
    }
}

impl fmt::Display for RunStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where in a run something happens. `Setup`, `Train` and `Eval` are measured (they are the
/// `setup_`, `train_` and `eval_` columns of runs.csv); the others only name where a run failed
/// (`prepare`: before measuring; `energy`: reading the meters; `worker`: the worker process).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Phase {
    Prepare,
    Setup,
    Train,
    Eval,
    Energy,
    Worker,
}

impl Phase {
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Prepare => "prepare",
            Phase::Setup => "setup",
            Phase::Train => "train",
            Phase::Eval => "eval",
            Phase::Energy => "energy",
            Phase::Worker => "worker",
        }
    }
}

impl fmt::Display for Phase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The energy counters and clocks at one instant.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Mark {
    /// Seconds on the worker's monotonic clock since it started measuring.
    pub mono_s: f64,
    /// Wall clock, Unix milliseconds.
    pub unix_ms: u64,
    /// Cumulative joules per domain (same order as [`MeasuredRun::domains`]).
    pub joules: Vec<f64>,
    /// CPU time (user + system) of the worker process so far.
    pub cpu_time_s: f64,
}

/// One completed phase: its readings at start and end (`epoch` counts training epochs from 1).
#[derive(Debug, Clone, PartialEq)]
pub struct PhaseSpan {
    pub phase: Phase,
    pub epoch: Option<u32>,
    pub start: Mark,
    pub end: Mark,
}

/// What a worker measured and reported, whatever became of the run.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MeasuredRun {
    /// The meter's label, e.g. `measured: powercap (package-0 dram)`.
    pub meter: String,
    /// The meter's domains, in the order of every [`Mark::joules`].
    pub domains: Vec<String>,
    /// Per domain: whether it adds to the run's total (sub-domains such as `core` are inside
    /// their package and must not be counted twice).
    pub in_total: Vec<bool>,
    /// Framework and version, as the trainer (or else the plugin) names them.
    pub framework: String,
    pub threads: Option<u32>,
    pub accuracy: Option<f64>,
    pub loss: Option<f64>,
    /// Counter faults flagged during the run (resets, implausible power).
    pub faults: Vec<String>,
    /// The phases that completed, in order.
    pub phases: Vec<PhaseSpan>,
    /// `None` when the run completed; else why it failed, in one line.
    pub failure: Option<String>,
    /// The plugin's notes from run_info, training and evaluation, a key's last value kept.
    pub notes: Vec<(String, String)>,
}

/// A measured (or failed) run, as written to runs.csv.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RunRecord {
    pub iteration: u32,
    pub order: u32,
    pub plugin: String,
    pub framework: String,
    pub status: RunStatus,
    pub time_s: Option<f64>,
    pub energy_j: Option<f64>,
    pub cpu_time_s: Option<f64>,
    pub accuracy: Option<f64>,
    pub loss: Option<f64>,
    pub meter: String,
    pub error: String,
    pub threads: Option<u32>,
    pub started_unix_ms: Option<u64>,
    /// setup / train / eval: (seconds, joules).
    pub setup: Option<(f64, f64)>,
    pub train: Option<(f64, f64)>,
    pub eval: Option<(f64, f64)>,
    /// Per epoch, in order: (seconds, joules).
    pub epochs: Vec<(f64, f64)>,
    /// Per domain (name, joules over the whole run).
    pub domains: Vec<(String, f64)>,
    /// Counter faults flagged during the run (resets, implausible power), one per entry.
    pub faults: Vec<String>,
    /// Seconds rested before this run (0 for the first).
    pub rest_s: Option<f64>,
    /// 0 for a planned run; k for the k-th retry of a failed one (`retry_failed`).
    pub retry: u32,
    /// energy − idle power × time, when an idle baseline was measured.
    pub energy_dynamic_j: Option<f64>,
    /// Where the run's initial weights came from (`[model] init`).
    pub init: Option<Init>,
    /// The plugin's notes (thread pools, backends, what it ignored), as (key, value).
    pub notes: Vec<(String, String)>,
    /// The shard of the campaign this run belongs to (`host run --shard K/N`).
    pub shard: Option<Shard>,
    /// The machine that measured it (Slurm's node name, else the hostname).
    pub node: String,
}

impl RunRecord {
    pub fn power_w(&self) -> Option<f64> {
        match (self.energy_j, self.time_s) {
            (Some(e), Some(t)) if t > 0.0 => Some(e / t),
            _ => None,
        }
    }

    pub fn edp_js(&self) -> Option<f64> {
        Some(self.energy_j? * self.time_s?)
    }

    pub fn is_ok(&self) -> bool {
        self.status == RunStatus::Ok
    }

    /// Builds the row for a run of `plugin` from what its worker measured.
    pub fn from_measured(iteration: u32, order: u32, plugin: &str, run: &MeasuredRun) -> Self {
        let mut r = RunRecord {
            iteration,
            order,
            plugin: plugin.to_string(),
            framework: run.framework.clone(),
            meter: run.meter.clone(),
            threads: run.threads,
            accuracy: run.accuracy,
            loss: run.loss,
            faults: run.faults.clone(),
            notes: run.notes.clone(),
            ..Default::default()
        };
        r.add_phases(run);
        (r.status, r.error) = match &run.failure {
            None if r.eval.is_some() => (RunStatus::Ok, String::new()),
            None => (
                RunStatus::Failed,
                "worker finished without evaluating".into(),
            ),
            Some(why) => (RunStatus::Failed, why.clone()),
        };
        r.add_whole_run(run);
        r
    }

    /// Seconds and joules of each phase; training sums its epochs.
    fn add_phases(&mut self, run: &MeasuredRun) {
        let mut train: Option<(f64, f64)> = None;
        for span in &run.phases {
            let spent = (
                span.end.mono_s - span.start.mono_s,
                run.total_joules(&span.end) - run.total_joules(&span.start),
            );
            match span.phase {
                Phase::Setup => self.setup = Some(spent),
                Phase::Train => {
                    self.epochs.push(spent);
                    let t = train.get_or_insert((0.0, 0.0));
                    t.0 += spent.0;
                    t.1 += spent.1;
                }
                Phase::Eval => self.eval = Some(spent),
                Phase::Prepare | Phase::Energy | Phase::Worker => {}
            }
        }
        self.train = train;
    }

    /// Time, energy, CPU time and per-domain joules from the start of setup to the end of
    /// evaluation, for a run that completed. A failed run gets only its start time: its
    /// figures would cover just the phases it finished (a run that hung in training would
    /// show its setup's milliseconds as its time), and a reader summing the columns must not
    /// take them for a run's measurement. Its completed phases keep their own columns.
    fn add_whole_run(&mut self, run: &MeasuredRun) {
        let (Some(first), Some(last)) = (run.phases.first(), run.phases.last()) else {
            return;
        };
        if first.phase != Phase::Setup {
            return;
        }
        let (start, end) = (&first.start, &last.end);
        self.started_unix_ms = Some(start.unix_ms);
        if !self.is_ok() {
            return;
        }
        self.time_s = Some(end.mono_s - start.mono_s);
        self.energy_j = Some(run.total_joules(end) - run.total_joules(start));
        self.cpu_time_s = Some(end.cpu_time_s - start.cpu_time_s);
        self.domains = run
            .domains
            .iter()
            .enumerate()
            .map(|(i, d)| {
                let delta = end.joules.get(i).copied().unwrap_or(0.0)
                    - start.joules.get(i).copied().unwrap_or(0.0);
                (d.clone(), delta)
            })
            .collect();
    }

    /// Fails an `ok` run whose meter saw other domains than the campaign's (`domains`, read by
    /// the `label` meter at the start): runs.csv's columns and what energy_j adds up were fixed
    /// then, and a worker whose source went unreadable (so the estimate stepped in) measured
    /// something else, which must not pass for comparable.
    pub fn require_domains(&mut self, domains: &[String], label: &str) {
        let measured: Vec<&str> = self.domains.iter().map(|(d, _)| d.as_str()).collect();
        if !self.is_ok() || measured.iter().eq(domains.iter()) {
            return;
        }
        self.status = RunStatus::Failed;
        self.error = format!(
            "energy domains changed: the campaign measures [{}] ({label}), this run's meter had \
             [{}] ({})",
            domains.join(" "),
            measured.join(" "),
            self.meter
        );
    }

    /// Fails an `ok` run whose totals physics rules out: a domain's mean power over the run
    /// above its bound (the rule `host analyze` applies to every run it reads). Such a figure
    /// is a unit mistake or a counter fault, never a measurement, and must not be compared.
    pub fn require_plausible(&mut self, bounds: &PowerBounds) {
        let Some(seconds) = self.time_s.filter(|_| self.is_ok()) else {
            return;
        };
        if let Some(bad) = plausibility::check_domains(&self.domains, seconds, bounds) {
            self.status = RunStatus::Failed;
            self.error = format!("implausible energy: {bad}");
        }
    }
}

impl MeasuredRun {
    /// Joules of the domains the meter says add to the total.
    fn total_joules(&self, mark: &Mark) -> f64 {
        self.in_total
            .iter()
            .zip(&mark.joules)
            .filter(|(counted, _)| **counted)
            .map(|(_, j)| *j)
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mark(mono_s: f64, package: f64, core: f64) -> Mark {
        Mark {
            mono_s,
            unix_ms: 1_000 + (mono_s * 1000.0) as u64,
            joules: vec![package, core],
            cpu_time_s: mono_s / 2.0,
        }
    }

    fn span(phase: Phase, epoch: Option<u32>, t: (f64, f64), e: (f64, f64)) -> PhaseSpan {
        PhaseSpan {
            phase,
            epoch,
            start: mark(t.0, e.0, e.0 / 2.0),
            end: mark(t.1, e.1, e.1 / 2.0),
        }
    }

    fn complete() -> MeasuredRun {
        MeasuredRun {
            meter: "measured: powercap (package-0 core)".into(),
            domains: vec!["package-0".into(), "core".into()],
            in_total: vec![true, false],
            framework: "spin 1".into(),
            threads: Some(2),
            accuracy: Some(0.9),
            loss: Some(0.3),
            faults: vec![],
            phases: vec![
                span(Phase::Setup, None, (0.0, 1.0), (10.0, 20.0)),
                span(Phase::Train, Some(1), (1.0, 3.0), (20.0, 60.0)),
                span(Phase::Train, Some(2), (3.0, 4.0), (60.0, 70.0)),
                span(Phase::Eval, None, (4.0, 4.5), (70.0, 75.0)),
            ],
            failure: None,
            notes: vec![("pool".into(), "2".into())],
        }
    }

    #[test]
    fn a_complete_run_sums_its_phases_and_counts_only_top_level_domains() {
        let r = RunRecord::from_measured(3, 2, "spin", &complete());
        assert_eq!(r.notes, [("pool".to_string(), "2".to_string())]);
        assert_eq!(r.status, RunStatus::Ok);
        assert_eq!((r.time_s, r.energy_j), (Some(4.5), Some(65.0)));
        assert_eq!(r.setup, Some((1.0, 10.0)));
        assert_eq!(r.train, Some((3.0, 50.0)));
        assert_eq!(r.epochs, vec![(2.0, 40.0), (1.0, 10.0)]);
        assert_eq!(r.eval, Some((0.5, 5.0)));
        assert_eq!(r.cpu_time_s, Some(2.25));
        assert_eq!(r.started_unix_ms, Some(1_000));
        // The sub-domain is reported, not added to energy_j.
        assert_eq!(
            r.domains,
            vec![("package-0".into(), 65.0), ("core".into(), 32.5)]
        );
        assert_eq!((r.iteration, r.order, r.plugin.as_str()), (3, 2, "spin"));
    }

    #[test]
    fn a_run_without_evaluation_or_with_a_failure_is_failed() {
        let mut run = complete();
        run.phases.pop();
        let r = RunRecord::from_measured(1, 1, "spin", &run);
        assert_eq!(r.status, RunStatus::Failed);
        assert_eq!(r.error, "worker finished without evaluating");
        // What was measured before is kept, phase by phase; the whole-run figures, which would
        // cover only those phases, are left empty.
        assert_eq!(r.train, Some((3.0, 50.0)));
        assert_eq!((r.time_s, r.energy_j, r.cpu_time_s), (None, None, None));
        assert!(r.domains.is_empty() && r.started_unix_ms.is_some());
        assert_eq!((r.power_w(), r.edp_js()), (None, None));

        let mut run = complete();
        run.failure = Some("eval: boom".into());
        let r = RunRecord::from_measured(1, 1, "spin", &run);
        assert_eq!(
            (r.status, r.error.as_str()),
            (RunStatus::Failed, "eval: boom")
        );
    }

    #[test]
    fn other_domains_fail_an_ok_run_and_leave_a_failed_one_alone() {
        let mut r = RunRecord::from_measured(1, 1, "spin", &complete());
        r.require_domains(&["package-0".into(), "core".into()], "powercap");
        assert!(r.is_ok());
        r.require_domains(&["package-0".into()], "powercap");
        assert_eq!(r.status, RunStatus::Failed);
        assert!(r.error.starts_with("energy domains changed"), "{}", r.error);

        let mut failed = RunRecord::from_measured(1, 1, "spin", &MeasuredRun::default());
        failed.error = "setup: no".into();
        failed.require_domains(&["package-0".into()], "powercap");
        assert_eq!(failed.error, "setup: no");
    }

    #[test]
    fn implausible_totals_fail_an_ok_run_and_leave_a_failed_one_alone() {
        let bounds = PowerBounds::default();
        // 65 J in 4.5 s: about 14 W on package-0.
        let mut r = RunRecord::from_measured(1, 1, "spin", &complete());
        r.require_plausible(&bounds);
        assert!(r.is_ok(), "{}", r.error);

        // Raw RAPL counts (2^-14 J) read as joules: 65 × 16,384 J in 4.5 s, ~237 kW.
        let mut raw = complete();
        for span in &mut raw.phases {
            for m in [&mut span.start, &mut span.end] {
                m.joules.iter_mut().for_each(|j| *j *= 16_384.0);
            }
        }
        let mut r = RunRecord::from_measured(1, 1, "spin", &raw);
        r.require_plausible(&bounds);
        assert_eq!(r.status, RunStatus::Failed);
        assert!(
            r.error.starts_with(
                "implausible energy: values look like raw RAPL counts (units of 2^-14 J), not \
                 joules: package-0 gives 236,658 W mean power, above the 1,000 W bound"
            ),
            "{}",
            r.error
        );

        // A bound set higher lets the same run pass; an earlier failure keeps its reason.
        let mut generous = PowerBounds::default();
        generous.set("package", 1e6);
        generous.set("core", 1e6);
        let mut r = RunRecord::from_measured(1, 1, "spin", &raw);
        r.require_plausible(&generous);
        assert!(r.is_ok(), "{}", r.error);
        raw.failure = Some("eval: boom".into());
        let mut r = RunRecord::from_measured(1, 1, "spin", &raw);
        r.require_plausible(&bounds);
        assert_eq!(r.error, "eval: boom");
    }

    #[test]
    fn status_and_phase_have_one_spelling() {
        assert_eq!(serde_json::to_string(&RunStatus::Ok).unwrap(), "\"ok\"");
        assert_eq!(RunStatus::from_cell("failed"), Some(RunStatus::Failed));
        assert_eq!(RunStatus::from_cell("skipped"), None);
        assert_eq!(serde_json::to_string(&Phase::Train).unwrap(), "\"train\"");
        assert_eq!(Phase::Train.to_string(), "train");
    }
}
