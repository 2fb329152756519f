//! `summary.json`: the machine-readable result of an analysis. Scripts depend on it, so
//! fields are only ever added, never renamed or removed.
//!
//! ```text
//! { "groups": { "<group>": { "<metric>": {
//!       "n", "mean", "median", "variance", "std", "min", "max", "shapiro_w", "shapiro_p",
//!       "unit", "reasons": { "<field>": "why it is null" } } } },
//!   "comparisons": [ { "a", "b", "metric", "test": "welch" | "mann-whitney", "statistic",
//!       "p_value", "p_holm", "mean_difference", "median_difference", "median_change_pct",
//!       "cohens_d", "cliffs_delta",
//!       "unit", "n_a", "n_b", "median_a", "median_b", "df", "method", "alpha",
//!       "significant", "why", "reasons": { … } } ],
//!   "dropped": [ { "group", "run", "metric", "value", "reason" } ],
//!   "energy_source": "measured: …" | "estimate: …",
//!   "energy_estimated", "inputs", "metrics": [ { "key", "label", "unit" } ],
//!   "runs": { "<group>": { "analysed", "ignored" } }, "ignored": [ { "group", "run", "status", "reason" } ],
//!   "steps": [ { "step", "note", "exec"?: { "command", "exit_code", "success", "stdout", "stderr" } } ],
//!   "files": [ … ], "warnings": [ … ],
//!   "energy_columns"?: [ { "column", "domain", "how", "in_total", "why"?, "runs" } ],
//!   "counters"?: [ { "group", "run", "column", "wraps", "resets", "modulus_j", "modulus" } ],
//!   "per_node"?: [ { "group", "node", "n", "energy_median", "time_median" } ] }
//! ```
//!
//! Added by issue 18 (see [`super::answers`]): `median_ci` on group figures; `median_ratio`,
//! `ratio_ci` and `difference_ci` on comparisons (`[low, high]`, of `median_a / median_b`
//! and `median_a − median_b`); top-level `bootstrap`, `findings`, `power`, `carbon`,
//! `sequential`; `campaign_stop` (a sentence, or null: how a campaign measured under
//! `[experiment] stop` ended, from its campaign.json).
//!
//! Added by issue 16 (merged shards, [`super::per_node`]): `per_node`, one row per group and
//! node and a `(pooled)` row per group, present when runs came from several nodes or inputs.
//!
//! Conventions: variance and std are sample ones (ddof 1); differences are a − b;
//! `median_change_pct` is (median b − median a) / median a × 100; `p_holm` is Holm's
//! step-down adjustment over every comparison of the `compare` step. A number that does
//! not exist (too few values, constant data, a test that cannot run) is `null`, and
//! `reasons` says why under the field's name: the file never holds NaN or infinity.
//! In `dropped`, `metric` is `*` when the whole run was dropped (counter fault, non-positive
//! totals); otherwise one metric's value was dropped (k-sigma outlier) and `value` holds it.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::Context;
use serde::ser::{Serialize, SerializeMap, Serializer};

use super::answers::{BootstrapInfo, Carbon, Finding, PowerReport, SequentialReport};
use super::data::Metric;
use super::ingest::{ColumnUse, Ignored, PluginNotes};
use super::metrics::CounterNote;
use super::per_node::NodeMedians;

/// A map that keeps insertion order when serialised (groups in input order).
#[derive(Debug, Clone, PartialEq)]
pub struct Ordered<T>(pub Vec<(String, T)>);

impl<T> Default for Ordered<T> {
    fn default() -> Self {
        Ordered(Vec::new())
    }
}

impl<T> Ordered<T> {
    pub fn get(&self, key: &str) -> Option<&T> {
        self.0.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    /// The entry for `key`, created with `make` when absent.
    pub fn entry(&mut self, key: &str, make: impl FnOnce() -> T) -> &mut T {
        let pos = match self.0.iter().position(|(k, _)| k == key) {
            Some(p) => p,
            None => {
                self.0.push((key.to_string(), make()));
                self.0.len() - 1
            }
        };
        &mut self.0[pos].1
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &T)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v))
    }
}

impl<T: Serialize> Serialize for Ordered<T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(self.0.len()))?;
        for (k, v) in &self.0 {
            map.serialize_entry(k, v)?;
        }
        map.end()
    }
}

/// Why fields are null, by field name.
pub type Reasons = BTreeMap<String, String>;

/// One group's figures for one metric (`describe` and `normality` fill them).
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct GroupMetric {
    pub n: usize,
    pub mean: Option<f64>,
    pub median: Option<f64>,
    pub variance: Option<f64>,
    pub std: Option<f64>,
    pub min: Option<f64>,
    pub max: Option<f64>,
    pub shapiro_w: Option<f64>,
    pub shapiro_p: Option<f64>,
    pub unit: String,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub reasons: Reasons,
    /// Confidence interval of the median (`findings` step).
    pub median_ci: Option<[f64; 2]>,
}

/// The two-sample test a comparison ran, spelled as summary.json spells it
/// (`"welch"`, `"mann-whitney"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TestKind {
    Welch,
    MannWhitney,
}

impl TestKind {
    pub fn as_str(self) -> &'static str {
        match self {
            TestKind::Welch => "welch",
            TestKind::MannWhitney => "mann-whitney",
        }
    }
}

/// One pairwise test on one metric.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Comparison {
    pub a: String,
    pub b: String,
    pub metric: String,
    pub test: TestKind,
    pub statistic: Option<f64>,
    pub p_value: Option<f64>,
    pub p_holm: Option<f64>,
    pub mean_difference: Option<f64>,
    pub median_difference: Option<f64>,
    pub median_change_pct: Option<f64>,
    pub cohens_d: Option<f64>,
    pub cliffs_delta: Option<f64>,
    pub unit: String,
    pub n_a: usize,
    pub n_b: usize,
    pub median_a: Option<f64>,
    pub median_b: Option<f64>,
    /// Welch's degrees of freedom.
    pub df: Option<f64>,
    /// Mann–Whitney: `exact` or `asymptotic`.
    pub method: Option<String>,
    pub alpha: f64,
    /// Holm-adjusted p below alpha.
    pub significant: Option<bool>,
    /// Why this test was chosen.
    pub why: String,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub reasons: Reasons,
    /// `median_a / median_b` and its bootstrap interval (`findings` step).
    pub median_ratio: Option<f64>,
    pub ratio_ci: Option<[f64; 2]>,
    /// Bootstrap interval of `median_difference`.
    pub difference_ci: Option<[f64; 2]>,
}

impl Comparison {
    /// `a` against `b` by `test`, every figure still to be computed (and `alpha` 0, `metric`,
    /// `unit` and `why` empty, until the step sets them).
    pub fn new(a: &str, b: &str, test: TestKind) -> Self {
        Comparison {
            a: a.to_string(),
            b: b.to_string(),
            metric: String::new(),
            test,
            statistic: None,
            p_value: None,
            p_holm: None,
            mean_difference: None,
            median_difference: None,
            median_change_pct: None,
            cohens_d: None,
            cliffs_delta: None,
            unit: String::new(),
            n_a: 0,
            n_b: 0,
            median_a: None,
            median_b: None,
            df: None,
            method: None,
            alpha: 0.0,
            significant: None,
            why: String::new(),
            reasons: Reasons::new(),
            median_ratio: None,
            ratio_ci: None,
            difference_ci: None,
        }
    }
}

/// A value or run left out of the analysis, and why.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Dropped {
    pub group: String,
    pub run: String,
    /// A metric key, or `*` for the whole run.
    pub metric: String,
    pub value: Option<f64>,
    pub reason: String,
}

/// The kind of a drop or fault reason: the text before its first `: ` ("|x − mean| > 3σ",
/// "counter glitch", "values look like raw RAPL counts (units of 2^-14 J), not joules"), so
/// equal causes group together whatever their figures.
pub fn reason_kind(reason: &str) -> &str {
    reason.split_once(": ").map_or(reason, |(kind, _)| kind)
}

/// Runs per group.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct RunCount {
    pub analysed: usize,
    pub ignored: usize,
}

/// What an `exec` step did.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ExecRecord {
    pub command: Vec<String>,
    pub exit_code: Option<i32>,
    pub success: bool,
    pub stdout: String,
    pub stderr: String,
}

/// What one step did, in a sentence.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct StepRecord {
    pub step: String,
    pub note: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exec: Option<ExecRecord>,
}

/// The whole result; see the module documentation for the JSON layout.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct Summary {
    pub groups: Ordered<Ordered<GroupMetric>>,
    pub comparisons: Vec<Comparison>,
    pub dropped: Vec<Dropped>,
    pub energy_source: String,
    pub energy_estimated: bool,
    pub inputs: Vec<String>,
    pub metrics: Vec<Metric>,
    pub runs: Ordered<RunCount>,
    pub ignored: Vec<Ignored>,
    pub steps: Vec<StepRecord>,
    pub files: Vec<String>,
    pub warnings: Vec<String>,
    /// EnergiBridge energy columns read, and how each was used (counter, integrated power).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub energy_columns: Vec<ColumnUse>,
    /// Runs whose energy counter wrapped (unwrapped at a named modulus) or was reset.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub counters: Vec<CounterNote>,
    pub bootstrap: Option<BootstrapInfo>,
    pub findings: Vec<Finding>,
    pub power: Option<PowerReport>,
    pub carbon: Option<Carbon>,
    pub sequential: Option<SequentialReport>,
    /// Per group, what its plugin noted (runs.csv's `notes`): each key and its distinct values.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub plugin_notes: PluginNotes,
    /// How a campaign measured under `[experiment] stop` ended, in one sentence (read from
    /// its campaign.json): at which look it stopped and why.
    pub campaign_stop: Option<String>,
    /// Per group, each node's median energy and time beside the pooled one (merged shards).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub per_node: Vec<NodeMedians>,
}

impl Summary {
    /// How to name the multiple-comparison correction in words: the size of the Holm family
    /// (the comparisons that had a p-value to adjust), not the count of rows shown.
    pub fn holm_words(&self) -> String {
        let count =
            |has: fn(&Comparison) -> bool| self.comparisons.iter().filter(|c| has(c)).count();
        match count(|c| c.p_holm.is_some()) {
            0 if count(|c| c.p_value.is_some()) == 0 => {
                "not adjusted: no comparison had a p-value".to_string()
            }
            0 => "not adjusted (correction = \"none\")".to_string(),
            n => format!("Holm-adjusted over the {n} comparison(s) that had a p-value"),
        }
    }
}

/// `Some(x)` when `x` is finite: the one gate every number passes on its way to JSON.
pub fn finite(x: f64) -> Option<f64> {
    x.is_finite().then_some(x)
}

/// Writes `summary` as pretty JSON, atomically: it is the analysis's last file, so a
/// summary.json there means the analysis was written whole.
pub fn write_json(summary: &Summary, path: &Path) -> anyhow::Result<()> {
    let text = serde_json::to_string_pretty(summary).context("cannot serialise summary.json")?;
    crate::fsx::write_atomically(path, (text + "\n").as_bytes())
}
