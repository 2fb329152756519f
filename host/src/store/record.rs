//! One row of runs.csv, computed from what a worker reported.

use crate::plugin::events::{Event, Mark};
use crate::plugin::supervisor::RunOutcome;

/// A measured (or failed) run, as written to runs.csv.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RunRecord {
    pub iteration: u32,
    pub order: u32,
    pub plugin: String,
    pub framework: String,
    /// `ok` or `failed`.
    pub status: String,
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

    /// Builds the row for a run of `plugin` from its worker's outcome.
    pub fn from_outcome(
        iteration: u32,
        order: u32,
        plugin: &str,
        outcome: &RunOutcome,
    ) -> RunRecord {
        let mut r = RunRecord {
            iteration,
            order,
            plugin: plugin.to_string(),
            ..Default::default()
        };
        let mut domains: Vec<String> = Vec::new();
        let mut in_total: Vec<bool> = Vec::new();
        for e in &outcome.events {
            match e {
                Event::Started {
                    meter,
                    domains: d,
                    in_total: t,
                    ..
                } => {
                    r.meter = meter.clone();
                    domains = d.clone();
                    in_total = t.clone();
                }
                Event::Plugin {
                    framework,
                    framework_version,
                    ..
                } if r.framework.is_empty() => {
                    r.framework = join_version(framework, framework_version);
                }
                Event::RunInfo {
                    framework,
                    framework_version,
                    threads,
                    ..
                } => {
                    r.framework = join_version(framework, framework_version);
                    r.threads = Some(*threads);
                }
                Event::Evaluated { accuracy, loss, .. } => {
                    r.accuracy = *accuracy;
                    r.loss = *loss;
                }
                Event::Faults { faults } => r.faults.extend(faults.iter().cloned()),
                _ => {}
            }
        }
        let phases = outcome.phases();
        let span = |s: &Mark, e: &Mark| {
            (
                e.mono_s - s.mono_s,
                total_energy(&in_total, &e.joules) - total_energy(&in_total, &s.joules),
            )
        };
        let mut train: Option<(f64, f64)> = None;
        for (phase, _, start, end) in &phases {
            let (secs, joules) = span(start, end);
            match phase.as_str() {
                "setup" => r.setup = Some((secs, joules)),
                "epoch" => {
                    r.epochs.push((secs, joules));
                    let t = train.get_or_insert((0.0, 0.0));
                    t.0 += secs;
                    t.1 += joules;
                }
                "eval" => r.eval = Some((secs, joules)),
                _ => {}
            }
        }
        r.train = train;
        if let (Some((first, _, start, _)), Some((_, _, _, end))) = (phases.first(), phases.last())
        {
            if first == "setup" {
                r.started_unix_ms = Some(start.unix_ms);
                r.time_s = Some(end.mono_s - start.mono_s);
                r.energy_j = Some(
                    total_energy(&in_total, &end.joules) - total_energy(&in_total, &start.joules),
                );
                r.cpu_time_s = Some(end.cpu_time_s - start.cpu_time_s);
                r.domains = domains
                    .iter()
                    .enumerate()
                    .map(|(i, d)| {
                        let delta = end.joules.get(i).copied().unwrap_or(0.0)
                            - start.joules.get(i).copied().unwrap_or(0.0);
                        (d.clone(), delta)
                    })
                    .collect();
            }
        }
        match &outcome.failure {
            None if r.eval.is_some() => r.status = "ok".into(),
            None => {
                r.status = "failed".into();
                r.error = "worker finished without evaluating".into();
            }
            Some(why) => {
                r.status = "failed".into();
                r.error = why.clone();
            }
        }
        r
    }
}

impl RunRecord {
    /// Fails an `ok` run whose meter saw other domains than the campaign's (`domains`, read by
    /// the `label` meter at the start): runs.csv's columns and what energy_j adds up were fixed
    /// then, and a worker whose source went unreadable (so the estimate stepped in) measured
    /// something else, which must not pass for comparable.
    pub fn require_domains(&mut self, domains: &[String], label: &str) {
        let measured: Vec<&str> = self.domains.iter().map(|(d, _)| d.as_str()).collect();
        if self.status != "ok" || measured.iter().eq(domains.iter()) {
            return;
        }
        self.status = "failed".into();
        self.error = format!(
            "energy domains changed: the campaign measures [{}] ({label}), this run's meter had \
             [{}] ({})",
            domains.join(" "),
            measured.join(" "),
            self.meter
        );
    }
}

fn join_version(framework: &str, version: &str) -> String {
    if version.is_empty() || framework.contains(version) {
        framework.to_string()
    } else {
        format!("{framework} {version}")
    }
}

/// Joules of the domains the meter says add to the total.
fn total_energy(in_total: &[bool], joules: &[f64]) -> f64 {
    in_total
        .iter()
        .zip(joules)
        .filter(|(counted, _)| **counted)
        .map(|(_, j)| *j)
        .sum()
}
