//! Reading inputs into raw runs: a campaign folder or any `runs.csv`-like file, or an
//! EnergiBridge folder (one subfolder per group, one CSV per run). Several inputs merge.

mod energibridge;
mod runs_table;

/// One file's readers on bytes in memory (what [`load`] does per file, without the folder):
/// for property tests and tools that hold the text already.
pub use energibridge::read_recording as read_energibridge_recording;
pub use runs_table::read_bytes as read_runs_table;

use std::collections::BTreeSet;
use std::path::Path;

use super::data::{Metric, RawRun};
use crate::energy::plausibility::PowerBounds;

/// Options of the optional `ingest` step.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct IngestOptions {
    /// EnergiBridge energy columns whose sum is the total (counters differenced, power
    /// integrated); empty: the top-level domains found in each file's header.
    pub energy_columns: Vec<String>,
    /// Mean-power bounds every run's totals are checked against.
    pub bounds: PowerBounds,
}

/// An energy column read from EnergiBridge files, and what was done with it.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ColumnUse {
    /// The header, e.g. `GPU0_POWER (mWatts)`.
    pub column: String,
    /// Its domain word: its metric is `energy_<domain>` when there are several domains.
    pub domain: String,
    /// `counter in J, differenced` or `power in mWatts, integrated: …`.
    pub how: String,
    pub in_total: bool,
    /// Why the total leaves it out (empty when it is in).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub why: String,
    /// Runs that had it.
    pub runs: usize,
}

/// A run that was read but not analysed: failed in the campaign, or unreadable.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Ignored {
    pub group: String,
    pub run: String,
    /// `failed` (or whatever status runs.csv gave), or `unreadable`.
    pub status: String,
    pub reason: String,
}

/// Where the energy numbers came from, gathered over all inputs.
#[derive(Debug, Clone, Default)]
pub struct EnergySource {
    pub measured: BTreeSet<String>,
    pub estimated: BTreeSet<String>,
}

impl EnergySource {
    /// `measured: ...` or `estimate: ...` as summary.json states it. Any estimated run
    /// makes the whole label an estimate: a mix must never pass for a measurement.
    pub fn label(&self) -> String {
        let join = |s: &BTreeSet<String>| s.iter().cloned().collect::<Vec<_>>().join(", ");
        match (self.measured.is_empty(), self.estimated.is_empty()) {
            (_, true) if !self.measured.is_empty() => format!("measured: {}", join(&self.measured)),
            (true, false) => format!("estimate: {}", join(&self.estimated)),
            (false, false) => format!(
                "estimate: {} (mixed with measured: {})",
                join(&self.estimated),
                join(&self.measured)
            ),
            _ => "measured: unknown source".to_string(),
        }
    }

    pub fn is_estimate(&self) -> bool {
        !self.estimated.is_empty()
    }
}

/// Everything read from the inputs.
#[derive(Debug, Clone, Default)]
pub struct Ingested {
    pub inputs: Vec<String>,
    /// Group names in the order the inputs gave them.
    pub groups: Vec<String>,
    pub runs: Vec<RawRun>,
    /// Metrics read as columns beyond the four derived ones (per phase or domain).
    pub extra_metrics: Vec<Metric>,
    pub ignored: Vec<Ignored>,
    pub energy_source: EnergySource,
    /// Anything a reader should know that is not an error.
    pub warnings: Vec<String>,
    /// EnergiBridge energy columns seen and how each was used.
    pub energy_columns: Vec<ColumnUse>,
    /// Mean-power bounds for the physics check of every run's totals.
    pub bounds: PowerBounds,
    /// Per group, each plugin note (runs.csv's `notes`) of its analysed runs: key and the
    /// distinct values in the order first seen.
    pub notes: PluginNotes,
}

/// Per group, its plugin's notes: each key with its distinct values, in the order first seen.
pub type PluginNotes = Vec<(String, Vec<(String, Vec<String>)>)>;

/// Adds one run's notes cell (`key=value; key=value`) to `group`'s.
pub fn add_notes(notes: &mut PluginNotes, group: &str, cell: &str) {
    let pairs = cell
        .split("; ")
        .filter_map(|p| p.split_once('='))
        .map(|(k, v)| (k.trim(), v.trim()));
    for (key, value) in pairs {
        let at = match notes.iter().position(|(g, _)| g == group) {
            Some(i) => i,
            None => {
                notes.push((group.to_string(), Vec::new()));
                notes.len() - 1
            }
        };
        let keys = &mut notes[at].1;
        let k = match keys.iter().position(|(k, _)| k == key) {
            Some(i) => i,
            None => {
                keys.push((key.to_string(), Vec::new()));
                keys.len() - 1
            }
        };
        if !keys[k].1.iter().any(|v| v == value) {
            keys[k].1.push(value.to_string());
        }
    }
}

impl Ingested {
    fn merge(&mut self, other: Ingested) {
        self.inputs.extend(other.inputs);
        for g in other.groups {
            if !self.groups.contains(&g) {
                self.groups.push(g);
            }
        }
        // Labels must name one run each: drops, tables and plots refer to runs by them, and two
        // campaigns both number their iterations from 0 (two EnergiBridge folders may both hold
        // keras/run_1.csv). A repeated label gets its source appended.
        let mut taken: BTreeSet<(String, String)> = self
            .runs
            .iter()
            .map(|r| (r.group.clone(), r.run.clone()))
            .collect();
        for mut run in other.runs {
            if !taken.insert((run.group.clone(), run.run.clone())) {
                run.run = format!("{} ({})", run.run, run.source);
                taken.insert((run.group.clone(), run.run.clone()));
            }
            self.runs.push(run);
        }
        for m in other.extra_metrics {
            if !self.extra_metrics.contains(&m) {
                self.extra_metrics.push(m);
            }
        }
        for (group, keys) in other.notes {
            for (key, values) in keys {
                for value in values {
                    add_notes(&mut self.notes, &group, &format!("{key}={value}"));
                }
            }
        }
        self.ignored.extend(other.ignored);
        self.energy_source
            .measured
            .extend(other.energy_source.measured);
        self.energy_source
            .estimated
            .extend(other.energy_source.estimated);
        self.warnings.extend(other.warnings);
        self.energy_columns.extend(other.energy_columns);
    }
}

/// Reads every input and merges them. An input that does not exist or holds nothing
/// analysable is a usage error; a file that cannot be read is a run-time error.
pub fn load_all(inputs: &[impl AsRef<Path>], options: &IngestOptions) -> anyhow::Result<Ingested> {
    let mut all = Ingested {
        bounds: options.bounds.clone(),
        ..Ingested::default()
    };
    for input in inputs {
        all.merge(load(input.as_ref(), options)?);
    }
    if all.runs.is_empty() {
        let names: Vec<String> = inputs
            .iter()
            .map(|p| p.as_ref().display().to_string())
            .collect();
        let reasons = grouped_reasons(&all.ignored);
        return Err(crate::error::usage(format!(
            "{}: no successful run to analyse ({} ignored{})",
            names.join(", "),
            all.ignored.len(),
            if reasons.is_empty() {
                String::new()
            } else {
                format!(": {}", reasons.join("; "))
            }
        )));
    }
    if let Some(w) = mixed_meters(&all.runs) {
        all.warnings.push(w);
    }
    Ok(all)
}

/// "120 × no energy column …: g/run_1, g/run_2, … and 115 more" per distinct reason (the
/// file's path left out), most frequent first.
pub fn grouped_reasons(ignored: &[Ignored]) -> Vec<String> {
    let mut groups: Vec<(String, Vec<String>)> = Vec::new();
    for i in ignored {
        let why = reason_without_source(&i.reason).to_string();
        let run = format!("{}/{}", i.group, i.run);
        match groups.iter_mut().find(|(r, _)| *r == why) {
            Some((_, runs)) => runs.push(run),
            None => groups.push((why, vec![run])),
        }
    }
    groups.sort_by_key(|g| std::cmp::Reverse(g.1.len()));
    groups
        .into_iter()
        .map(|(why, runs)| {
            let shown: Vec<&str> = runs.iter().take(5).map(String::as_str).collect();
            let more = match runs.len() {
                n if n > 5 => format!(" and {} more", n - 5),
                _ => String::new(),
            };
            format!("{} × {why}: {}{more}", runs.len(), shown.join(", "))
        })
        .collect()
}

/// An unreadable file's reason starts with its path (`/x/run_1.csv: empty file`): the cause is
/// what follows.
fn reason_without_source(reason: &str) -> &str {
    match reason
        .split_once(".csv: ")
        .or_else(|| reason.split_once(".csv.gz: "))
    {
        Some((_, why)) => why,
        None => reason,
    }
}

/// A warning when the runs were measured by different meters or domains (say AMD's
/// `CPU_ENERGY` for one group and Intel's `PACKAGE_ENERGY` + `DRAM_ENERGY` for another):
/// their joules do not measure the same thing.
fn mixed_meters(runs: &[RawRun]) -> Option<String> {
    let mut by_meter: Vec<(&str, Vec<&str>)> = Vec::new();
    for r in runs {
        match by_meter.iter_mut().find(|(m, _)| *m == r.meter) {
            Some((_, groups)) if groups.contains(&r.group.as_str()) => {}
            Some((_, groups)) => groups.push(&r.group),
            None => by_meter.push((&r.meter, vec![&r.group])),
        }
    }
    if by_meter.len() < 2 {
        return None;
    }
    let parts: Vec<String> = by_meter
        .iter()
        .map(|(m, groups)| {
            let m = if m.is_empty() { "(no meter named)" } else { m };
            format!("{} ({m})", groups.join(", "))
        })
        .collect();
    Some(format!(
        "runs were measured by different meters or domains, so their energy figures do not \
         measure the same thing: {}",
        parts.join("; ")
    ))
}

/// Reads one input, recognising its kind.
pub fn load(path: &Path, options: &IngestOptions) -> anyhow::Result<Ingested> {
    if !path.exists() {
        return Err(crate::error::usage(format!(
            "{}: no such file or folder",
            path.display()
        )));
    }
    if path.is_file() {
        return runs_table::read(path);
    }
    let campaign = crate::store::CampaignDir::open(path).runs_csv();
    if campaign.is_file() {
        return runs_table::read(&campaign);
    }
    let ingested = energibridge::read_folder(path, options)?;
    if ingested.runs.is_empty() && ingested.ignored.is_empty() {
        return Err(crate::error::usage(format!(
            "{}: neither a campaign folder (no runs.csv) nor an EnergiBridge folder \
             (no subfolder holding .csv or .csv.gz files)",
            path.display()
        )));
    }
    Ok(ingested)
}
