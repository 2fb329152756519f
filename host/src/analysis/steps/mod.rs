//! The registry of analysis steps: each is named, documented and configured by one
//! `[[analysis]]` table of a manifest (`step = "clean"`, `k = 3.0`, …), and they run in
//! the order given. [`parse`] turns the tables into typed steps once, so a typo is a
//! usage error before anything runs.

mod clean;
pub(crate) mod compare;
mod describe;
mod exec;
mod findings;
mod normality;
mod options;
mod power;
mod report;
mod sequential;
mod table;
mod violin;

use std::path::PathBuf;

use super::data::Table;
use super::ingest::{IngestOptions, Ingested};
use super::metrics::{self, CounterNote, RunFault, WrapPolicy};
use super::per_node;
use super::summary::{GroupMetric, RunCount, StepRecord, Summary};
use crate::energy::plausibility::{PowerBounds, BOUND_DOMAINS};
use options::Options;

/// One `[[analysis]]` table of a manifest: the step's name, its other keys, and the
/// manifest line it starts on (for error messages).
#[derive(Debug, Clone, PartialEq)]
pub struct StepSpec {
    pub step: String,
    pub options: toml::Table,
    pub line: Option<usize>,
}

impl StepSpec {
    /// A step with default options.
    pub fn named(step: &str) -> Self {
        StepSpec {
            step: step.to_string(),
            options: toml::Table::new(),
            line: None,
        }
    }
}

/// A step's entry in the registry: what `host analyze --help` and docs can list.
#[derive(Debug, Clone, Copy)]
pub struct StepInfo {
    pub name: &'static str,
    pub summary: &'static str,
    /// (option, meaning and default).
    pub options: &'static [(&'static str, &'static str)],
}

/// Every step there is, in the order a pipeline usually runs them.
pub const REGISTRY: &[StepInfo] = &[
    StepInfo {
        name: "ingest",
        summary: "how inputs are read (only as the first step)",
        options: INGEST_OPTIONS,
    },
    StepInfo {
        name: "clean",
        summary: "drop counter faults and k-sigma outliers, listing each drop",
        options: clean::OPTIONS,
    },
    StepInfo {
        name: "describe",
        summary: "n, mean, median, sample variance and std (ddof 1), min, max",
        options: &[],
    },
    StepInfo {
        name: "normality",
        summary: "Shapiro–Wilk W and p (Royston 1995) per group and metric",
        options: &[],
    },
    StepInfo {
        name: "compare",
        summary: "pairwise Welch t or Mann–Whitney U, effect sizes, Holm correction",
        options: compare::OPTIONS,
    },
    StepInfo {
        name: "power",
        summary: "runs per group each comparison needs (observed difference, min_effect)",
        options: power::OPTIONS,
    },
    StepInfo {
        name: "findings",
        summary: "confidence intervals, carbon and cost, one ranked sentence per pair",
        options: findings::OPTIONS,
    },
    StepInfo {
        name: "sequential",
        summary: "replay a group-sequential design: when could the campaign have stopped?",
        options: sequential::OPTIONS,
    },
    StepInfo {
        name: "table",
        summary: "tables.md and tables.csv: medians and % change per pair",
        options: table::OPTIONS,
    },
    StepInfo {
        name: "violin",
        summary: "violin plots per metric (SVG and PNG)",
        options: violin::OPTIONS,
    },
    StepInfo {
        name: "report",
        summary: "report.html, self-contained, plots embedded",
        options: report::OPTIONS,
    },
    StepInfo {
        name: "exec",
        summary: "run an external command on tidy.csv and the output folder",
        options: exec::OPTIONS,
    },
];

/// The `ingest` step's options.
const INGEST_OPTIONS: &[(&str, &str)] = &[
    (
        "energy_column",
        "EnergiBridge energy column(s) whose sum is the total, a name or a list: a counter \
         (J) is differenced, a power column (Watts, mWatts) integrated (default: the top-level \
         domains in each file: CPU package, DRAM, every GPU)",
    ),
    (
        "max_power_w",
        "mean-power bounds in W per domain, a table (default package 1000, core 1000, \
         uncore 500, dram 500, psys 2000, gpu 1500): a run above one is a fault",
    ),
];

/// The study's pipeline — clean (3σ), describe, normality, compare — then power and
/// findings (which change none of the study's figures, only add to them), table, violin,
/// report.
pub fn default_pipeline() -> Vec<StepSpec> {
    [
        "clean",
        "describe",
        "normality",
        "compare",
        "power",
        "findings",
        "table",
        "violin",
        "report",
    ]
    .into_iter()
    .map(StepSpec::named)
    .collect()
}

/// Checks every step name and option without running anything.
pub fn validate(steps: &[StepSpec]) -> anyhow::Result<()> {
    parse(steps).map(|_| ())
}

/// A validated pipeline.
#[derive(Debug, Clone)]
pub struct Plan {
    pub ingest: IngestOptions,
    pub steps: Vec<Step>,
}

/// A configured step.
#[derive(Debug, Clone)]
pub enum Step {
    Clean(clean::Config),
    Describe,
    Normality,
    Compare(compare::Config),
    Power(power::Config),
    Findings(findings::Config),
    Sequential(sequential::Config),
    Table(table::Config),
    Violin(violin::Config),
    Report(report::Config),
    Exec(exec::Config),
}

/// Parses the `[[analysis]]` tables; any unknown step or option is a usage error.
pub fn parse(specs: &[StepSpec]) -> anyhow::Result<Plan> {
    let mut plan = Plan {
        ingest: IngestOptions::default(),
        steps: Vec::new(),
    };
    for (i, spec) in specs.iter().enumerate() {
        let index = i + 1;
        let info = REGISTRY
            .iter()
            .find(|s| s.name == spec.step)
            .ok_or_else(|| {
                let known: Vec<&str> = REGISTRY.iter().map(|s| s.name).collect();
                crate::error::usage(format!(
                    "{}: unknown step `{}`; known: {}",
                    options::where_(index, &spec.step, spec.line)
                        .replace(&format!(" `{}`", spec.step), ""),
                    spec.step,
                    known.join(", ")
                ))
            })?;
        let known: Vec<&str> = info.options.iter().map(|(k, _)| *k).collect();
        let opts = Options::new(spec, index, &known)?;
        let step = match info.name {
            "ingest" => {
                if index != 1 {
                    return Err(opts.error("`ingest` can only be the first step"));
                }
                plan.ingest.energy_columns = opts.strings("energy_column")?.unwrap_or_default();
                plan.ingest.bounds = power_bounds(&opts, spec)?;
                continue;
            }
            "clean" => Step::Clean(clean::Config::parse(&opts)?),
            "describe" => Step::Describe,
            "normality" => Step::Normality,
            "compare" => Step::Compare(compare::Config::parse(&opts)?),
            "power" => Step::Power(power::Config::parse(&opts)?),
            "findings" => Step::Findings(findings::Config::parse(&opts)?),
            "sequential" => Step::Sequential(sequential::Config::parse(&opts)?),
            "table" => Step::Table(table::Config::parse(&opts)?),
            "violin" => Step::Violin(violin::Config::parse(&opts)?),
            "report" => Step::Report(report::Config::parse(&opts)?),
            _ => Step::Exec(exec::Config::parse(&opts)?),
        };
        plan.steps.push(step);
    }
    Ok(plan)
}

/// `max_power_w = { gpu = 3000 }`: bounds by kernel domain word, each a positive number.
fn power_bounds(opts: &Options, spec: &StepSpec) -> anyhow::Result<PowerBounds> {
    let mut bounds = PowerBounds::default();
    let Some(value) = spec.options.get("max_power_w") else {
        return Ok(bounds);
    };
    let table = value.as_table().ok_or_else(|| {
        opts.error(format!(
            "option `max_power_w` must be a table like {{ gpu = 3000 }}, not {value}"
        ))
    })?;
    for (domain, watts) in table {
        if !BOUND_DOMAINS.contains(&domain.as_str()) {
            return Err(opts.error(format!(
                "option `max_power_w`: unknown domain `{domain}`; known: {}",
                BOUND_DOMAINS.join(", ")
            )));
        }
        let w = match watts {
            toml::Value::Float(f) => *f,
            toml::Value::Integer(i) => *i as f64,
            _ => f64::NAN,
        };
        if !(w.is_finite() && w > 0.0) {
            return Err(opts.error(format!(
                "option `max_power_w`: `{domain}` = {watts}: must be a positive number of watts"
            )));
        }
        bounds.set(domain, w);
    }
    Ok(bounds)
}

/// Sets the `ingest` step's `energy_column` list to `columns` (what `host analyze
/// --energy-column` gives), adding an `ingest` step first when the pipeline has none.
pub fn with_energy_columns(mut steps: Vec<StepSpec>, columns: &[String]) -> Vec<StepSpec> {
    if columns.is_empty() {
        return steps;
    }
    if steps.first().is_none_or(|s| s.step != "ingest") {
        steps.insert(0, StepSpec::named("ingest"));
    }
    let list = columns
        .iter()
        .map(|c| toml::Value::String(c.clone()))
        .collect();
    steps[0]
        .options
        .insert("energy_column".into(), toml::Value::Array(list));
    steps
}

/// The wrap policy of the pipeline's first `clean` step (what its faults will be judged by).
pub fn clean_policy(plan: &Plan) -> WrapPolicy {
    plan.steps
        .iter()
        .find_map(|s| match s {
            Step::Clean(c) => Some(c.on_wrap),
            _ => None,
        })
        .unwrap_or_default()
}

/// What steps share while the pipeline runs.
pub struct Context {
    pub ingested: Ingested,
    /// The current table: steps read it, `clean` replaces it.
    pub table: Table,
    pub summary: Summary,
    pub out: PathBuf,
    /// Counter faults of the current table that nobody dropped (no `clean` step).
    faults: Vec<RunFault>,
    described: bool,
    normality_tested: bool,
    /// A `findings` step ran (intervals exist or say why not).
    findings: bool,
}

impl Context {
    pub fn new(ingested: Ingested, out: PathBuf) -> Self {
        let derived = metrics::derive_all(&ingested, WrapPolicy::default());
        let (table, faults) = (derived.table, derived.faults);
        let summary = Summary {
            energy_source: ingested.energy_source.label(),
            energy_estimated: ingested.energy_source.is_estimate(),
            inputs: ingested.inputs.clone(),
            metrics: table.metrics.clone(),
            ignored: ingested.ignored.clone(),
            warnings: ingested.warnings.clone(),
            energy_columns: ingested.energy_columns.clone(),
            plugin_notes: ingested.notes.clone(),
            ..Summary::default()
        };
        let mut ctx = Context {
            ingested,
            table,
            summary,
            out,
            faults,
            described: false,
            normality_tested: false,
            findings: false,
        };
        ctx.set_counters(derived.counters);
        ctx
    }

    /// Records the counters that wrapped or were reset under the current derivation, each
    /// also a warning (so the report names the run and the modulus); replaces earlier ones.
    pub fn set_counters(&mut self, notes: Vec<CounterNote>) {
        let old: Vec<String> = self
            .summary
            .counters
            .iter()
            .map(|n| n.to_string())
            .collect();
        self.summary.warnings.retain(|w| !old.contains(w));
        self.summary
            .warnings
            .extend(notes.iter().map(|n| n.to_string()));
        self.summary.counters = notes;
    }

    /// The summary entry of `group` × metric number `m`.
    pub fn group_metric(&mut self, group: &str, m: usize) -> &mut GroupMetric {
        let metric = &self.table.metrics[m];
        let (key, unit) = (metric.key.clone(), metric.unit.clone());
        self.summary
            .groups
            .entry(group, Default::default)
            .entry(&key, || GroupMetric {
                unit,
                ..GroupMetric::default()
            })
    }

    /// Updates `runs` (analysed and ignored per group) from the current table.
    pub fn count_runs(&mut self) {
        for group in self.table.groups.clone() {
            let ignored = self
                .summary
                .ignored
                .iter()
                .filter(|i| i.group == group)
                .count();
            let analysed = self.table.runs_in(&group);
            *self.summary.runs.entry(&group, Default::default) = RunCount { analysed, ignored };
        }
    }

    fn record(&mut self, step: &str, note: String) {
        self.summary.steps.push(StepRecord {
            step: step.to_string(),
            note,
            exec: None,
        });
    }

    /// Completes the summary: run counts, entries for every group and metric, and a
    /// reason for every figure no step computed.
    /// Sets summary.json's `per_node` from the table as it is now (after `clean`).
    pub fn update_per_node(&mut self) {
        let inputs = self.ingested.inputs.len();
        self.summary.per_node = per_node::per_node(&self.table, &self.ingested.runs, inputs);
    }

    pub fn finish(mut self) -> Summary {
        self.update_per_node();
        for fault in std::mem::take(&mut self.faults) {
            self.summary.warnings.push(format!(
                "{} run {}: {} (kept: no `clean` step)",
                fault.group, fault.run, fault.reason
            ));
        }
        self.count_runs();
        let groups = self.table.groups.clone();
        for group in &groups {
            for m in 0..self.table.metrics.len() {
                let n = self.table.sample(group, m).len();
                let (described, tested) = (self.described, self.normality_tested);
                let gm = self.group_metric(group, m);
                if !described {
                    gm.n = n;
                    for f in ["mean", "median", "variance", "std", "min", "max"] {
                        gm.reasons.insert(
                            f.into(),
                            "not computed: no `describe` step in the pipeline".into(),
                        );
                    }
                }
                if !tested {
                    for f in ["shapiro_w", "shapiro_p"] {
                        gm.reasons.insert(
                            f.into(),
                            "not computed: no `normality` step in the pipeline".into(),
                        );
                    }
                }
            }
        }
        if !self.findings {
            self.no_findings_reasons();
        }
        self.summary
    }

    /// Every interval field says why it is null when no `findings` step ran.
    fn no_findings_reasons(&mut self) {
        let why = "not computed: no `findings` step in the pipeline";
        for (_, metrics) in self.summary.groups.0.iter_mut() {
            for (_, gm) in metrics.0.iter_mut() {
                gm.reasons.insert("median_ci".into(), why.into());
            }
        }
        for c in &mut self.summary.comparisons {
            for f in ["median_ratio", "ratio_ci", "difference_ci"] {
                c.reasons.insert(f.into(), why.into());
            }
        }
    }
}

impl Step {
    /// Runs the step, recording what it did in the summary.
    pub fn run(&self, ctx: &mut Context) -> anyhow::Result<()> {
        match self {
            Step::Clean(c) => {
                let note = clean::run(c, ctx);
                ctx.faults.clear();
                ctx.record("clean", note);
            }
            Step::Describe => {
                let note = describe::run(ctx);
                ctx.described = true;
                ctx.record("describe", note);
            }
            Step::Normality => {
                let note = normality::run(ctx);
                ctx.normality_tested = true;
                ctx.record("normality", note);
            }
            Step::Compare(c) => {
                let note = compare::run(c, ctx)?;
                ctx.record("compare", note);
            }
            Step::Power(c) => {
                let note = power::run(c, ctx)?;
                ctx.record("power", note);
            }
            Step::Findings(c) => {
                let note = findings::run(c, ctx)?;
                ctx.findings = true;
                ctx.record("findings", note);
            }
            Step::Sequential(c) => {
                let note = sequential::run(c, ctx)?;
                ctx.record("sequential", note);
            }
            Step::Table(c) => {
                let note = table::run(c, ctx)?;
                ctx.record("table", note);
            }
            Step::Violin(c) => {
                let note = violin::run(c, ctx)?;
                ctx.record("violin", note);
            }
            Step::Report(c) => {
                let note = report::run(c, ctx)?;
                ctx.record("report", note);
            }
            Step::Exec(c) => {
                let record = exec::run(c, ctx)?;
                ctx.summary.steps.push(record);
            }
        }
        Ok(())
    }
}

/// Metric indices selected by a `metrics = [...]` option (all when `None`); an unknown
/// key is a usage error listing the known ones.
pub(crate) fn select_metrics(
    table: &Table,
    step: &str,
    wanted: &Option<Vec<String>>,
) -> anyhow::Result<Vec<usize>> {
    let Some(wanted) = wanted else {
        return Ok((0..table.metrics.len()).collect());
    };
    wanted
        .iter()
        .map(|key| {
            table
                .metrics
                .iter()
                .position(|m| &m.key == key)
                .ok_or_else(|| {
                    let known: Vec<&str> = table.metrics.iter().map(|m| m.key.as_str()).collect();
                    crate::error::usage(format!(
                        "[[analysis]] `{step}`: unknown metric `{key}`; this data has: {}",
                        known.join(", ")
                    ))
                })
        })
        .collect()
}
