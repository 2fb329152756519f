//! A sequential design applied while measuring (`[experiment] stop`): the values a look
//! reads from runs.csv, the record campaign.json keeps of every look ([`LookLog`], its
//! `sequential` field), the line `host run` prints per look, and the sentence a report
//! gives of how the campaign ended.
//!
//! A look reads the runs the way the `sequential` step replays them: runs.csv's `ok` rows
//! through the analysis's own reader and derivation (failed rows ignored, no outlier
//! removal: a campaign decides on what it measured), each plugin's values in recorded
//! order. So replaying the design on a stopped campaign's runs.csv gives the same looks.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::answers::LookRecord;
use super::ingest::{self, IngestOptions};
use super::metrics::{self, WrapPolicy};
use super::sequential::{Design, Outcome};
use crate::store::CampaignDir;

/// Each group's values of `metric` in the `ok` rows of `runs_csv`, in recorded order, for
/// `groups` in that order (a group with no row gets none).
pub fn values_so_far(
    runs_csv: &Path,
    metric: &str,
    groups: &[String],
) -> anyhow::Result<Vec<(String, Vec<f64>)>> {
    let ingested = ingest::load_all(&[runs_csv], &IngestOptions::default())?;
    let (table, _faults) = metrics::derive(&ingested, WrapPolicy::default());
    let Some(m) = table.metrics.iter().position(|x| x.key == metric) else {
        anyhow::bail!("{}: no `{metric}` metric", runs_csv.display());
    };
    let mut out: Vec<(String, Vec<f64>)> = groups.iter().map(|g| (g.clone(), Vec::new())).collect();
    for row in &table.rows {
        let value = row.values.get(m).copied().flatten();
        if let (Some((_, values)), Some(v)) = (out.iter_mut().find(|(g, _)| *g == row.group), value)
        {
            values.push(v);
        }
    }
    Ok(out)
}

/// What campaign.json records of a sequential design while the campaign measures.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LookLog {
    pub metric: String,
    /// Runs per plugin (iterations) at each planned look.
    pub looks: Vec<usize>,
    pub spending: String,
    /// Campaign-wide alpha, and each pair's share of it (Bonferroni).
    pub alpha: f64,
    pub pair_alpha: f64,
    /// Each look's two-sided z boundary for one pair; null where a look spends nothing.
    pub boundaries_z: Vec<Option<f64>>,
    /// Every look taken so far, each pair's test, p-value, level and decision.
    pub history: Vec<LookRecord>,
    /// The 1-based look at which the campaign stopped; null while it may go on.
    pub stopped_at: Option<usize>,
    /// Rows in runs.csv (every plugin, retries included) when it stopped.
    pub runs_at_stop: Option<usize>,
}

impl LookLog {
    /// The log of `design` before any look.
    pub fn new(design: &Design) -> LookLog {
        LookLog {
            metric: design.metric.clone(),
            looks: design.looks.clone(),
            spending: design.spending.name().into(),
            alpha: design.alpha,
            pair_alpha: design.pair_alpha(),
            boundaries_z: design
                .bounds
                .iter()
                .map(|&z| z.is_finite().then_some(z))
                .collect(),
            history: Vec::new(),
            stopped_at: None,
            runs_at_stop: None,
        }
    }

    /// Takes `outcome` (every look reached so far) as the record; `runs` rows are recorded.
    pub fn update(&mut self, outcome: &Outcome, runs: usize) {
        self.history = outcome.history.clone();
        if let Some(k) = outcome.stopped_at {
            self.stopped_at = Some(k);
            self.runs_at_stop = Some(runs);
        }
    }

    /// "look 2 of 5 at 10 iterations: energy decided for 3 of 3 pairs → stopping".
    pub fn line(&self, look: &LookRecord) -> String {
        let decided = look.pairs.iter().filter(|p| p.decided).count();
        format!(
            "look {} of {} at {} iterations: {} decided for {decided} of {} pairs → {}",
            look.look,
            self.looks.len(),
            look.runs_per_group,
            self.metric,
            look.pairs.len(),
            if look.stop { "stopping" } else { "continuing" }
        )
    }

    /// How the campaign ended (or stands), for the report's findings.
    pub fn sentence(&self) -> String {
        let total = self.looks.len();
        let shared = match self.history.last().map_or(0, |l| l.pairs.len()) {
            1 => "on its one pair".to_string(),
            n => format!("shared by {n} pairs"),
        };
        let design = format!(
            "{} alpha spending, alpha {} {shared}",
            self.spending, self.alpha
        );
        let Some(last) = self.history.last() else {
            return format!(
                "Measured under a sequential design on {}: no look reached yet (the first is at {} iterations).",
                self.metric, self.looks[0]
            );
        };
        let n = last.runs_per_group;
        let open = last.pairs.iter().filter(|p| !p.decided).count();
        match self.stopped_at {
            Some(k) if k < total => format!(
                "The campaign stopped early at look {k} of {total} ({n} iterations{}): every {} pair was decided ({design}).",
                self.runs_at_stop.map(|r| format!(", {r} runs")).unwrap_or_default(),
                self.metric
            ),
            Some(_) if open == 0 => format!(
                "The campaign ran to its last look ({n} iterations): every {} pair was decided only there ({design}).",
                self.metric
            ),
            Some(_) => format!(
                "The campaign ran to its last look ({n} iterations): {open} {} pair(s) undecided, no detectable difference ({design}).",
                self.metric
            ),
            None => format!(
                "The campaign measured under a sequential design has taken {} of {total} looks ({n} iterations) without stopping: {open} {} pair(s) undecided.",
                self.history.len(),
                self.metric
            ),
        }
    }
}

/// campaign.json as far as the analysis reads it.
#[derive(Deserialize)]
struct CampaignFile {
    #[serde(default)]
    sequential: Option<LookLog>,
}

/// The sentence of each input that is a campaign measured under `[experiment] stop` (its
/// folder, or its runs.csv), prefixed with the folder when there are several inputs.
/// Inputs without such a record add nothing; an unreadable campaign.json is no record.
pub fn campaign_stop(inputs: &[PathBuf]) -> Option<String> {
    let sentences: Vec<String> = inputs
        .iter()
        .filter_map(|input| {
            let folder = if input.is_dir() {
                input.as_path()
            } else {
                input.parent()?
            };
            let text = std::fs::read_to_string(CampaignDir::open(folder).state_json()).ok()?;
            let log = serde_json::from_str::<CampaignFile>(&text)
                .ok()?
                .sequential?;
            Some(if inputs.len() > 1 {
                format!("{}: {}", folder.display(), log.sentence())
            } else {
                log.sentence()
            })
        })
        .collect();
    (!sentences.is_empty()).then(|| sentences.join(" "))
}
