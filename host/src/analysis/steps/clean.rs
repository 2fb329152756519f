//! `clean`: counter faults first (wraps unwrapped or dropped; runs with non-positive
//! totals dropped), then k-sigma outliers: a value is dropped when |x − mean| > k·σ with
//! σ the population standard deviation (ddof 0), each group and metric on its own, as
//! the study did. Every drop is listed in summary.json `dropped`.

use super::options::Options;
use super::Context;
use crate::analysis::format::num;
use crate::analysis::metrics::{self, WrapPolicy};
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
    let (mut table, faults) = (derived.table, derived.faults);
    ctx.set_counters(derived.counters);
    let mut dropped = Vec::new();
    // One entry per run, its reasons joined: a run can have several faults.
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
    let runs_dropped = faulty.len();
    for (group, run, reasons) in faulty {
        dropped.push(Dropped {
            group,
            run,
            metric: "*".into(),
            value: None,
            reason: reasons.join("; "),
        });
    }

    let mut values_dropped = 0;
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
            let flags = stats::sigma_outliers(&sample, config.k);
            if !flags.iter().any(|&f| f) {
                continue;
            }
            let mean = stats::describe(&sample).map(|d| d.mean).unwrap_or(f64::NAN);
            let sigma = stats::population_std(&sample).unwrap_or(f64::NAN);
            for (&i, &flag) in positions.iter().zip(&flags) {
                if !flag {
                    continue;
                }
                let row = &mut table.rows[i];
                let Some(x) = row.values[m].take() else {
                    continue;
                };
                values_dropped += 1;
                let unit = &table.metrics[m].unit;
                dropped.push(Dropped {
                    group: group.clone(),
                    run: row.run.clone(),
                    metric: table.metrics[m].key.clone(),
                    value: Some(x),
                    reason: format!(
                        "|x − mean| > {}σ: x = {} {unit}, mean = {} {unit}, σ = {} {unit} (population, n = {})",
                        config.k,
                        num(x),
                        num(mean),
                        num(sigma),
                        sample.len()
                    ),
                });
            }
        }
    }
    ctx.table = table;
    ctx.summary.dropped.extend(dropped);
    let wrap = match config.on_wrap {
        WrapPolicy::Drop => "wraps: run dropped".to_string(),
        WrapPolicy::Unwrap {
            wrap_joules: Some(w),
        } => format!("wraps: unwrapped at {w} J"),
        WrapPolicy::Unwrap { wrap_joules: None } => {
            "wraps: unwrapped, modulus inferred".to_string()
        }
    };
    format!(
        "dropped {runs_dropped} run(s) for counter faults ({wrap}) and {values_dropped} value(s) beyond {}σ",
        config.k
    )
}
