//! The analysis pipeline: ingest runs (a campaign's `runs.csv` or EnergiBridge folders),
//! derive metrics, then run the manifest's ordered `[[analysis]]` steps (clean, describe,
//! normality, compare, table, violin, report, exec) and write `summary.json`.
//!
//! Data flows one way: [`ingest`] → [`metrics`] → [`steps`] → files in the output folder.
//! The statistics themselves live in [`stats`] (pure functions checked against SciPy);
//! this module only decides what to compute and how to present it.

pub mod answers;
mod counters;
pub mod data;
pub mod factors;
pub mod format;
pub mod ingest;
pub mod looks;
pub mod metrics;
pub mod outlook;
pub mod per_node;
pub mod plot;
pub mod report;
pub mod sequential;
pub mod stats;
pub mod steps;
pub mod summary;
mod terminal;

use std::path::PathBuf;

use anyhow::Context;

pub use factors::{apply_factors, ReportFactors};
pub use steps::{default_pipeline, validate, with_energy_columns, StepSpec};
pub use summary::Summary;

/// What `host analyze` (or the end of `host run`) asks for.
#[derive(Debug, Clone)]
pub struct AnalyzeRequest {
    /// Campaign folders, `runs.csv`-like files or EnergiBridge folders; merged.
    pub inputs: Vec<PathBuf>,
    /// The ordered `[[analysis]]` steps; see [`default_pipeline`].
    pub steps: Vec<StepSpec>,
    /// Output folder, created if missing.
    pub out: PathBuf,
}

/// Runs the whole pipeline and writes `out/summary.json` (always) plus whatever the
/// steps write (`tables.md`, `tables.csv`, `violin-*.svg|png`, `report.html`, `tidy.csv`).
///
/// Bad steps or options are usage errors (see [`crate::error::usage`]); unreadable
/// inputs name the file and the cause.
pub fn analyze(req: &AnalyzeRequest) -> anyhow::Result<Summary> {
    analyze_with_notes(req, &[])
}

/// [`analyze`], with warnings found before the analysis (merged shards: missing ones, mixed
/// hardware) carried into summary.json and the report.
pub fn analyze_with_notes(req: &AnalyzeRequest, notes: &[String]) -> anyhow::Result<Summary> {
    let plan = steps::parse(&req.steps)?;
    if req.inputs.is_empty() {
        return Err(crate::error::usage(
            "analyze: no input given (a campaign folder, a runs.csv or an EnergiBridge folder)",
        ));
    }
    let mut ingested = ingest::load_all(&req.inputs, &plan.ingest)?;
    ingested.warnings.extend(notes.iter().cloned());
    // Data that is wrong as a whole (raw counts everywhere, Time in seconds) is a usage error
    // said in one line, not a report of every run dropped.
    let check = metrics::derive_all(&ingested, steps::clean_policy(&plan));
    if let Some(line) = metrics::uniform_failure(&check.faults, ingested.runs.len()) {
        let names: Vec<String> = req.inputs.iter().map(|p| p.display().to_string()).collect();
        return Err(crate::error::usage(format!("{}: {line}", names.join(", "))));
    }
    std::fs::create_dir_all(&req.out)
        .with_context(|| format!("cannot create output folder {}", req.out.display()))?;
    let mut ctx = steps::Context::new(ingested, req.out.clone());
    // Before the steps: report.html (the `report` step) says how a campaign ended.
    ctx.summary.campaign_stop = looks::campaign_stop(&req.inputs);
    for step in &plan.steps {
        step.run(&mut ctx)?;
    }
    let summary = ctx.finish();
    summary::write_json(&summary, &req.out.join("summary.json"))?;
    Ok(summary)
}

/// A short terminal summary: medians per group, the tests and who wins.
pub fn print_summary(summary: &Summary, w: &mut dyn std::io::Write) -> std::io::Result<()> {
    terminal::print(summary, w)
}
