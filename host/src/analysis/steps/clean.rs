//! `clean`: counter faults first (wraps unwrapped or dropped; runs with non-positive
//! totals dropped), then k-sigma outliers: a value is dropped when |x − mean| > k·σ with
//! σ the population standard deviation (ddof 0), each group and metric on its own, as
//! the study did. Every drop is listed in summary.json `dropped`.

use super::options::Options;
use super::Context;
use crate::analysis::data::Table;
use crate::analysis::format::num;
use crate::analysis::metrics::{self, RunFault, WrapPolicy};
use crate::analysis::stats;
use crate::analysis::summary::Dropped;

pub const OPTIONS: &[(&str, &str)] = &[
    (
        "k",
        "outlier threshold in population standard deviations (default 3)",
    ),
    (
        "on_wrap",
        "\"unwrap\" (default) or \"drop\" a run whose energy counter wrapped",
    ),
    (
        "wrap_joules",
        "the counter's modulus in J (default: next power of two above the largest reading)",
    ),
];

#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    pub k: f64,
    pub on_wrap: WrapPolicy,
}

impl Config {
    pub fn parse(opts: &Options) -> anyhow::Result<Self> {
        let k = opts
            .number_where("k", "a positive number", |k| k > 0.0)?
            .unwrap_or(3.0);
        let wrap_joules =
            opts.number_where("wrap_joules", "a positive number of joules", |w| w > 0.0)?;
        let on_wrap = match opts.choice("on_wrap", &["unwrap", "drop"])?.as_deref() {
            Some("drop") => {
                if wrap_joules.is_some() {
                    return Err(
                        opts.error("option `wrap_joules` has no use with on_wrap = \"drop\"")
                    );
                }
                WrapPolicy::Drop
            }
            _ => WrapPolicy::Unwrap { wrap_joules },
        };
        Ok(Config { k, on_wrap })
    }
}

/// Rebuilds the table under the wrap policy, drops faulty runs, then outliers.
pub fn run(config: &Config, ctx: &mut Context) -> String {
    let derived = metrics::derive_all(&ctx.ingested, config.on_wrap);
    let mut table = derived.table;
    ctx.set_counters(derived.counters);
    let faulty = drop_faulty_runs(&mut table, derived.faults);
    let outliers = drop_outliers(&mut table, config.k);
    let (runs_dropped, values_dropped) = (faulty.len(), outliers.len());
    ctx.table = table;
    ctx.summary.dropped.extend(faulty);
    ctx.summary.dropped.extend(outliers);
    format!(
        "dropped {runs_dropped} run(s) for counter faults ({}) and {values_dropped} value(s) beyond {}σ",
        wrap_note(config.on_wrap),
        config.k
    )
}

/// Removes every run with a counter fault: one entry per run, its reasons joined (a run can
/// have several faults).
fn drop_faulty_runs(table: &mut Table, faults: Vec<RunFault>) -> Vec<Dropped> {
    let mut faulty: Vec<(String, String, Vec<String>)> = Vec::new();
    for f in faults {
        match faulty
            .iter_mut()
            .find(|(g, r, _)| *g == f.group && *r == f.run)
        {
            Some((_, _, reasons)) => reasons.push(f.reason),
            None => faulty.push((f.group, f.run, vec![f.reason])),
        }
    }
    table.rows.retain(|row| {
        !faulty
            .iter()
            .any(|(g, r, _)| *g == row.group && *r == row.run)
    });
    faulty
        .into_iter()
        .map(|(group, run, reasons)| Dropped {
            group,
            run,
            metric: "*".into(),
            value: None,
            reason: reasons.join("; "),
        })
        .collect()
}

/// Takes out the values beyond `k` population standard deviations of their group's mean,
/// each group and metric on its own.
fn drop_outliers(table: &mut Table, k: f64) -> Vec<Dropped> {
    let mut dropped = Vec::new();
    for group in table.groups.clone() {
        for m in 0..table.metrics.len() {
            let positions: Vec<usize> = table
                .rows
                .iter()
                .enumerate()
                .filter(|(_, r)| r.group == group && r.values[m].is_some())
                .map(|(i, _)| i)
                .collect();
            let sample: Vec<f64> = positions
                .iter()
                .filter_map(|&i| table.rows[i].values[m])
                .collect();
            let flags = stats::sigma_outliers(&sample, k);
            if !flags.iter().any(|&f| f) {
                continue;
            }
            let mean = stats::describe(&sample).map(|d| d.mean).unwrap_or(f64::NAN);
            let sigma = stats::population_std(&sample).unwrap_or(f64::NAN);
            let unit = table.metrics[m].unit.clone();
            let key = table.metrics[m].key.clone();
            for (&i, _) in positions.iter().zip(&flags).filter(|(_, &flag)| flag) {
                let row = &mut table.rows[i];
                let Some(x) = row.values[m].take() else {
                    continue;
                };
                dropped.push(Dropped {
                    group: group.clone(),
                    run: row.run.clone(),
                    metric: key.clone(),
                    value: Some(x),
                    reason: format!(
                        "|x − mean| > {k}σ: x = {} {unit}, mean = {} {unit}, σ = {} {unit} (population, n = {})",
                        num(x),
                        num(mean),
                        num(sigma),
                        sample.len()
                    ),
                });
            }
        }
    }
    dropped
}

/// How the wrap policy treated counters that wrapped, for the step's note.
fn wrap_note(policy: WrapPolicy) -> String {
    match policy {
        WrapPolicy::Drop => "wraps: run dropped".to_string(),
        WrapPolicy::Unwrap {
            wrap_joules: Some(w),
        } => format!("wraps: unwrapped at {w} J"),
        WrapPolicy::Unwrap { wrap_joules: None } => {
            "wraps: unwrapped, modulus inferred".to_string()
        }
    }
}
