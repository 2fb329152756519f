//! The in-memory shapes data takes on its way through the pipeline: raw runs as read,
//! then one value per run and metric (the tidy table every step works on).

use std::path::Path;

/// One energy counter's trace over a run, kept raw so that `clean` can decide how to
/// treat wrap-arounds (unwrap or drop) with its own options.
#[derive(Debug, Clone, PartialEq)]
pub struct CounterTrace {
    /// Sum of the sample-to-sample deltas that were not negative, in joules.
    pub forward_j: f64,
    /// How many deltas were not negative: `forward_j / steps` is the run's mean step.
    pub steps: usize,
    /// Every place where the counter went backwards (a wrap, a reset or a glitch).
    pub wraps: Vec<Wrap>,
    /// The largest reading seen: the wrap modulus is inferred from it.
    pub max_reading_j: f64,
}

impl CounterTrace {
    /// The run's own typical step between two samples (its mean forward step), against which a
    /// backward step is judged; `None` before two samples.
    pub fn mean_step_j(&self) -> Option<f64> {
        (self.steps > 0).then(|| self.forward_j / self.steps as f64)
    }
}

/// A backwards step of a cumulative counter between two consecutive samples.
#[derive(Debug, Clone, PartialEq)]
pub struct Wrap {
    /// 1-based data row of the sample after the wrap.
    pub row: usize,
    pub before_j: f64,
    pub after_j: f64,
}

/// How a run's energy was recorded.
#[derive(Debug, Clone, PartialEq)]
pub enum Energy {
    /// A total already computed by whoever wrote the file (runs.csv `energy_j`).
    Total(f64),
    /// Energy columns sampled over the run (EnergiBridge CSV), one reading per domain.
    Sampled(Sampled),
}

/// The energy columns of one sampled run and how its clock behaved.
#[derive(Debug, Clone, PartialEq)]
pub struct Sampled {
    pub domains: Vec<DomainReading>,
    /// Data rows read (a truncated last row not counted).
    pub rows: usize,
    /// The typical `Delta` between samples in ms (median of the full intervals); `None` without
    /// a `Delta` column.
    pub interval_ms: Option<f64>,
    /// Sum of `Delta` over every row but the last (the span power was integrated over), in ms.
    pub delta_sum_ms: Option<f64>,
    /// The first `Time` value as written (Unix ms if the file is right).
    pub first_time: f64,
}

/// One energy column of a sampled run.
#[derive(Debug, Clone, PartialEq)]
pub struct DomainReading {
    /// The CSV header, e.g. `GPU0_POWER (mWatts)`.
    pub column: String,
    /// The domain's word in metric keys (`energy_<domain>`): `package`, `cpu`, `gpu0`, `dram`.
    pub domain: String,
    /// The kernel domain word whose power bound applies (`package`, `dram`, `gpu`, `psys`, …).
    pub bound_domain: String,
    /// Whether the run's total adds this domain.
    pub in_total: bool,
    pub reading: Reading,
}

/// What a column gives: a counter to difference, or power already integrated over time.
#[derive(Debug, Clone, PartialEq)]
pub enum Reading {
    Counter(CounterTrace),
    /// Joules from a power column: Σ power × `Delta` over every row but the last.
    Integrated {
        joules: f64,
    },
}

/// One successful run as read from an input, before metrics are derived.
#[derive(Debug, Clone)]
pub struct RawRun {
    /// The group it belongs to: a plugin or framework name.
    pub group: String,
    /// A label unique within the group: the iteration or the file name.
    pub run: String,
    /// Where it came from, for messages: a file, or a file and line.
    pub source: String,
    pub time_s: f64,
    /// What measured it: runs.csv's `meter`, or the EnergiBridge columns the total adds.
    pub meter: String,
    pub energy: Energy,
    /// Extra metrics read as they are (per-phase or per-domain columns), by key.
    pub extras: Vec<(String, f64)>,
    /// The machine that measured it (runs.csv's `node`); empty when unknown.
    pub node: String,
}

/// A metric's identity: its key in summary.json and how to print it.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Metric {
    /// `time`, `energy`, `power`, `edp`, or a per-phase key like `train_energy`.
    pub key: String,
    /// Human label, e.g. `Energy`.
    pub label: String,
    /// Unit symbol, e.g. `J`.
    pub unit: String,
}

impl Metric {
    pub fn new(key: &str, label: &str, unit: &str) -> Self {
        Metric {
            key: key.to_string(),
            label: label.to_string(),
            unit: unit.to_string(),
        }
    }

    /// `Energy (J)`: for axes and table headers.
    pub fn label_with_unit(&self) -> String {
        format!("{} ({})", self.label, self.unit)
    }
}

/// One run's metric values after derivation; `None` where missing or dropped.
#[derive(Debug, Clone)]
pub struct Row {
    pub group: String,
    pub run: String,
    pub values: Vec<Option<f64>>,
}

/// The tidy table: runs × metrics, with group order kept as the inputs gave it.
#[derive(Debug, Clone, Default)]
pub struct Table {
    pub metrics: Vec<Metric>,
    pub groups: Vec<String>,
    pub rows: Vec<Row>,
}

impl Table {
    /// The values of one metric for one group, in run order, dropped ones left out.
    pub fn sample(&self, group: &str, metric: usize) -> Vec<f64> {
        self.rows
            .iter()
            .filter(|r| r.group == group)
            .filter_map(|r| r.values.get(metric).copied().flatten())
            .collect()
    }

    /// Number of runs (rows) of a group still present.
    pub fn runs_in(&self, group: &str) -> usize {
        self.rows.iter().filter(|r| r.group == group).count()
    }

    /// Writes the tidy CSV that `exec` hands out: one row per run and metric,
    /// columns `group,run,metric,unit,value`. Dropped values are left out. Written
    /// atomically: a program handed it never reads a partial file.
    pub fn write_tidy_csv(&self, path: &Path) -> anyhow::Result<()> {
        let mut w = csv::Writer::from_writer(Vec::new());
        w.write_record(["group", "run", "metric", "unit", "value"])?;
        for row in &self.rows {
            for (metric, value) in self.metrics.iter().zip(&row.values) {
                if let Some(v) = value {
                    w.write_record([
                        row.group.as_str(),
                        row.run.as_str(),
                        metric.key.as_str(),
                        metric.unit.as_str(),
                        &format!("{v}"),
                    ])?;
                }
            }
        }
        let bytes = w
            .into_inner()
            .map_err(|e| anyhow::anyhow!("{}", e.error()))?;
        crate::fsx::write_atomically(path, &bytes)
    }
}
