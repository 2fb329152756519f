//! `sequential`: replays an opt-in group-sequential design on the runs in their input
//! order (a campaign's runs.csv: the order they were recorded; EnergiBridge folders: file
//! names, group by group) and says at which look it would have stopped and why — see
//! [`crate::analysis::sequential`] for the design. The values are the metric's before
//! `clean`, as a campaign stopping on the fly would see them.

use super::options::Options;
use super::Context;
use crate::analysis::answers::SequentialReport;
use crate::analysis::metrics::{self, WrapPolicy};
use crate::analysis::sequential::{replay, Design, Replay};
use crate::analysis::stats::Spending;

pub const OPTIONS: &[(&str, &str)] = &[
    (
        "metric",
        "the metric whose pairs decide (default \"energy\")",
    ),
    (
        "looks",
        "runs per group at each look (default [5, 10, 15, 20, 30])",
    ),
    ("alpha", "campaign-wide alpha for the metric (default 0.05)"),
    ("spending", "\"obrien-fleming\" (default) or \"pocock\""),
];

#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    pub metric: String,
    pub looks: Vec<usize>,
    pub alpha: f64,
    pub spending: Spending,
}

impl Config {
    pub fn parse(opts: &Options) -> anyhow::Result<Self> {
        let looks = opts
            .counts("looks")?
            .unwrap_or_else(|| vec![5, 10, 15, 20, 30]);
        let alpha = opts
            .number_where("alpha", "between 0 and 1", |a| a > 0.0 && a < 1.0)?
            .unwrap_or(0.05);
        let spending = match opts
            .choice("spending", &["obrien-fleming", "pocock"])?
            .as_deref()
        {
            Some("pocock") => Spending::Pocock,
            _ => Spending::OBrienFleming,
        };
        // The group count is only known with the data; check the looks now.
        Design::new("check", &looks, alpha, spending, 2)
            .map_err(|e| opts.error(format!("`looks`: {e}")))?;
        Ok(Config {
            metric: opts.string("metric")?.unwrap_or_else(|| "energy".into()),
            looks,
            alpha,
            spending,
        })
    }
}

pub fn run(config: &Config, ctx: &mut Context) -> anyhow::Result<String> {
    let metrics =
        super::select_metrics(&ctx.table, "sequential", &Some(vec![config.metric.clone()]))?;
    let m = metrics[0];
    let groups = ctx.table.groups.len();
    if groups < 2 {
        return Ok(format!("skipped: {groups} group(s), nothing to compare"));
    }
    let design = Design::new(
        &config.metric,
        &config.looks,
        config.alpha,
        config.spending,
        groups,
    )
    .map_err(|e| crate::error::usage(format!("[[analysis]] `sequential`: {e}")))?;
    // Before `clean`: a campaign stopping on the fly decides on what it has measured.
    let (raw, _faults) = metrics::derive(&ctx.ingested, WrapPolicy::default());
    let key = &ctx.table.metrics[m].key;
    let Some(m) = raw.metrics.iter().position(|x| &x.key == key) else {
        return Ok(format!("skipped: no `{key}` in the data"));
    };
    let runs: Vec<(String, f64)> = raw
        .rows
        .iter()
        .filter_map(|r| Some((r.group.clone(), r.values.get(m).copied().flatten()?)))
        .collect();
    let result = replay(&design, &runs);
    let why = why(&design, &result);
    ctx.summary.sequential = Some(SequentialReport {
        metric: config.metric.clone(),
        looks: config.looks.clone(),
        alpha: config.alpha,
        spending: config.spending.name().into(),
        pair_alpha: design.pair_alpha(),
        order: "input order (runs.csv: as recorded; EnergiBridge folders: by file name)".into(),
        history: result.outcome.history.clone(),
        stopped_at_look: result.outcome.stopped_at,
        runs_used: result.runs_used,
        runs_total: result.runs_total,
        why: why.clone(),
    });
    Ok(why)
}

/// "Would have stopped at look 3 (15 runs per group), after 61 of 106 runs: every energy pair decided."
fn why(design: &Design, r: &Replay) -> String {
    let out = &r.outcome;
    let last = design.looks.len();
    match (out.stopped_at, out.runs_per_group()) {
        (Some(k), Some(n)) if k < last => format!(
            "Would have stopped early at look {k} of {last} ({n} runs per group), after {} of {} runs: every {} pair decided.",
            r.runs_used, r.runs_total, design.metric
        ),
        (Some(_), Some(n)) => {
            let open = out.history.last().map_or(0, |l| l.pairs.iter().filter(|p| !p.decided).count());
            if open == 0 {
                format!("Ran to the last look ({n} runs per group): every {} pair decided only there.", design.metric)
            } else {
                format!("Ran to the last look ({n} runs per group): {open} {} pair(s) show no detectable difference.", design.metric)
            }
        }
        (None, Some(n)) => format!(
            "Still running: {} look(s) reached ({n} runs per group), not every {} pair decided.",
            out.history.len(),
            design.metric
        ),
        (None, None) => format!(
            "Not enough runs for the first look ({} per group).",
            design.looks[0]
        ),
        (Some(_), None) => unreachable!("a stop is always at a look"),
    }
}
