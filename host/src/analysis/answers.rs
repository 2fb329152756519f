//! What summary.json adds to answer a reader's questions directly (issue 18): the
//! findings, one sentence per metric and pair, ranked; how the intervals were made; how
//! many runs a comparison needs; carbon and cost derived from declared factors; and what a
//! sequential design would have decided look by look. All additive: the fields of
//! `groups` and `comparisons` that existed before keep their meaning and values.
//!
//! ```text
//! "bootstrap": { "method", "resamples", "level", "seed", "group_interval" } | null,
//! "findings": [ { "rank", "metric", "lower", "higher", "verdict", "sentence", "unit",
//!     "median_lower", "median_higher", "ratio", "ratio_ci", "less_pct", "test",
//!     "p_value", "p_holm", "cliffs_delta", "energy", "derived" } ],
//! "power": { "target", "alpha", "family", "correction", "min_effect_pct",
//!     "replications", "seed", "max_runs", "entries": [ { "a", "b", "metric", "test",
//!     "observed_change_pct", "observed", "min_effect" } ], "recommended": [ … ] } | null,
//! "carbon": { "factors", "note", "groups": [ { "group", "metric", "median_j", "per_run" } ] } | null,
//! "sequential": { … see [`SequentialReport`] } | null
//! ```
//!
//! `ratio` is `median_lower / median_higher` and `less_pct` is `(1 − ratio) × 100`: the
//! finding is always phrased from the group with the lower median. Intervals are
//! `[low, high]` pairs. `energy` says how energy was obtained (`measured: …` or
//! `estimate: …`) on metrics derived from it (energy, power, EDP), null on time.

use serde::{Deserialize, Serialize};

use super::summary::TestKind;

/// How the intervals were made.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BootstrapInfo {
    /// Interval of a ratio or difference of medians: `percentile` or `bca`.
    pub method: String,
    pub resamples: usize,
    pub level: f64,
    pub seed: u64,
    /// Interval of one group's median: distribution-free order statistics.
    pub group_interval: String,
}

/// A finding's verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    /// The lower group is lower, significantly (Holm-adjusted p below alpha).
    Lower,
    NoDetectableDifference,
    /// No p-value (too few runs, or the test could not run).
    NotTested,
}

/// One metric, one pair, one sentence.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Finding {
    /// 1 = the first thing to read.
    pub rank: usize,
    pub metric: String,
    /// The group with the lower median (the sentence's subject).
    pub lower: String,
    pub higher: String,
    pub verdict: Verdict,
    pub sentence: String,
    pub unit: String,
    pub median_lower: Option<f64>,
    pub median_higher: Option<f64>,
    /// `median_lower / median_higher`.
    pub ratio: Option<f64>,
    pub ratio_ci: Option<[f64; 2]>,
    /// `(1 − ratio) × 100`.
    pub less_pct: Option<f64>,
    /// The test `compare` ran (`welch` or `mann-whitney`).
    pub test: TestKind,
    pub p_value: Option<f64>,
    pub p_holm: Option<f64>,
    /// Cliff's δ of lower against higher (−1: every run of `lower` below every run of `higher`).
    pub cliffs_delta: Option<f64>,
    /// How energy was obtained, on energy-derived metrics.
    pub energy: Option<String>,
    /// Carbon and cost per run of each group, from the declared factors (energy in joules only).
    pub derived: Option<[Derived; 2]>,
}

/// Factors declared by the user; nothing is looked up.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Factors {
    /// Grid carbon intensity, gCO2e per kWh.
    pub grid_g_per_kwh: Option<f64>,
    /// Power usage effectiveness of the facility (1 = none declared).
    pub pue: f64,
    pub price_per_kwh: Option<f64>,
    pub currency: String,
}

/// One amount of energy turned into carbon and cost.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Derived {
    /// Energy at the wall: measured (or estimated) energy × PUE, in kWh.
    pub kwh: f64,
    pub g_co2e: Option<f64>,
    pub cost: Option<f64>,
}

impl Factors {
    /// Carbon and cost of `joules` of measured energy.
    pub fn derive(&self, joules: f64) -> Derived {
        let kwh = joules / 3.6e6 * self.pue;
        Derived {
            kwh,
            g_co2e: self.grid_g_per_kwh.map(|g| kwh * g),
            cost: self.price_per_kwh.map(|p| kwh * p),
        }
    }
}

/// Carbon and cost per group, per energy metric.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Carbon {
    pub factors: Factors,
    /// "derived from declared factors, not measured" (and "from ESTIMATED energy" if so).
    pub note: String,
    pub groups: Vec<CarbonRow>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CarbonRow {
    pub group: String,
    pub metric: String,
    pub median_j: f64,
    pub per_run: Derived,
}

/// Runs per group a comparison needs.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Needed {
    /// The relative difference of medians aimed at, in % of the first group's median.
    pub effect_pct: Option<f64>,
    pub runs: Option<usize>,
    /// Not reached within this many runs per group.
    pub more_than: Option<usize>,
    /// Power at `runs`.
    pub power: Option<f64>,
    /// Why `runs` is null (and `more_than` too).
    pub reason: Option<String>,
}

/// One comparison's sample sizes.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PowerEntry {
    pub a: String,
    pub b: String,
    pub metric: String,
    /// The test `compare` chose, whose power this is.
    pub test: TestKind,
    /// To detect the difference seen in this data.
    pub observed: Needed,
    /// To detect the declared minimum effect.
    pub min_effect: Option<Needed>,
}

/// Runs per group recommended for a metric: enough for every pair of it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Recommendation {
    pub metric: String,
    pub runs: Option<usize>,
    pub more_than: Option<usize>,
    pub why: String,
}

/// The `power` step's result.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PowerReport {
    pub target: f64,
    /// The level each comparison is tested at here (alpha over the Holm family size).
    pub alpha: f64,
    /// Size of the family alpha was divided by.
    pub family: usize,
    pub correction: String,
    pub min_effect_pct: Option<f64>,
    /// Simulation replications per sample size (Mann–Whitney).
    pub replications: usize,
    pub seed: u64,
    pub max_runs: usize,
    pub entries: Vec<PowerEntry>,
    pub recommended: Vec<Recommendation>,
}

/// One pair at one look of a sequential design.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PairLook {
    pub a: String,
    pub b: String,
    pub n_a: usize,
    pub n_b: usize,
    pub test: TestKind,
    pub p_value: Option<f64>,
    /// The two-sided level this look spends on this pair (a p-value below it decides).
    pub nominal_alpha: f64,
    /// Decided at this look or before.
    pub decided: bool,
}

/// One look of a sequential design.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LookRecord {
    /// 1-based.
    pub look: usize,
    /// Planned runs per group at this look.
    pub runs_per_group: usize,
    pub pairs: Vec<PairLook>,
    /// Every pair decided (or the last look).
    pub stop: bool,
}

/// A sequential design replayed on the runs in their recorded order.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SequentialReport {
    pub metric: String,
    pub looks: Vec<usize>,
    pub alpha: f64,
    pub spending: String,
    /// Alpha per pair: `alpha / pairs` (Bonferroni across the metric's pairs).
    pub pair_alpha: f64,
    pub order: String,
    pub history: Vec<LookRecord>,
    /// The look at which it stopped, if it stopped before running out of data.
    pub stopped_at_look: Option<usize>,
    /// Runs (all groups) recorded up to the moment it stopped, and in all.
    pub runs_used: usize,
    pub runs_total: usize,
    pub why: String,
}
