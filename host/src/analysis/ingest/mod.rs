//! Reading inputs into raw runs: a campaign folder or any `runs.csv`-like file, or an
//! EnergiBridge folder (one subfolder per group, one CSV per run). Several inputs merge.

mod energibridge;
mod runs_table;

use std::collections::BTreeSet;
use std::path::Path;

use super::data::{Metric, RawRun};

pub use energibridge::{read_run as read_energibridge_run, DEFAULT_ENERGY_COLUMNS};

/// Options of the optional `ingest` step.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct IngestOptions {
    /// EnergiBridge energy column; `None` tries [`DEFAULT_ENERGY_COLUMNS`] in order.
    pub energy_column: Option<String>,
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
        self.ignored.extend(other.ignored);
        self.energy_source
            .measured
            .extend(other.energy_source.measured);
        self.energy_source
            .estimated
            .extend(other.energy_source.estimated);
        self.warnings.extend(other.warnings);
    }
}

/// Reads every input and merges them. An input that does not exist or holds nothing
/// analysable is a usage error; a file that cannot be read is a run-time error.
pub fn load_all(inputs: &[impl AsRef<Path>], options: &IngestOptions) -> anyhow::Result<Ingested> {
    let mut all = Ingested::default();
    for input in inputs {
        all.merge(load(input.as_ref(), options)?);
    }
    if all.runs.is_empty() {
        let names: Vec<String> = inputs
            .iter()
            .map(|p| p.as_ref().display().to_string())
            .collect();
        return Err(crate::error::usage(format!(
            "{}: no successful run to analyse ({} ignored)",
            names.join(", "),
            all.ignored.len()
        )));
    }
    Ok(all)
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
