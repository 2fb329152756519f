//! `power`: how many runs per group each comparison needs — to detect the difference this
//! data shows, and a declared minimum effect (`min_effect = "5%"`) — at the target power,
//! with the test `compare` chose for it (Welch in closed form, Mann–Whitney by simulation
//! from the data; see `stats::power`). Put it after `compare`.
//!
//! The level is the compare step's alpha divided by the number of comparisons that had a
//! p-value (`correction = "bonferroni"`, the default): Holm's strictest step, so a pair
//! with that many runs stays significant whatever the other pairs' p-values are.
//!
//! The minimum effect moves one group's centre to `(1 + e)` times the other's: Welch's
//! mean difference becomes `e·|mean_a|`; for Mann–Whitney, group b's data are shifted so
//! its median is `(1 + e)·median_a`, each group keeping its own spread and shape.

use super::options::Options;
use super::Context;
use crate::analysis::answers::{Needed, PowerEntry, PowerReport, Recommendation};
use crate::analysis::report::words;
use crate::analysis::stats::{self, Pilot, SampleSize, Simulation};
use crate::analysis::summary::{Comparison, TestKind};

pub const OPTIONS: &[(&str, &str)] = &[
    (
        "min_effect",
        "the smallest difference worth detecting, e.g. \"5%\" (default \"5%\")",
    ),
    ("power", "target power (default 0.8)"),
    (
        "correction",
        "\"bonferroni\" (default: alpha over the comparisons) or \"none\"",
    ),
    (
        "replications",
        "simulations per sample size for Mann–Whitney (default 500)",
    ),
    (
        "max_runs",
        "largest sample size searched, per group (default 1000)",
    ),
    ("seed", "simulation seed (default 42)"),
];

#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// As a fraction: 0.05 for "5%".
    pub min_effect: Option<f64>,
    pub target: f64,
    pub bonferroni: bool,
    pub replications: usize,
    pub max_runs: usize,
    pub seed: u64,
}

impl Config {
    pub fn parse(opts: &Options) -> anyhow::Result<Self> {
        let min_effect = match opts.string("min_effect") {
            Ok(Some(text)) => Some(parse_percent(&text).map_err(|e| opts.error(e))?),
            Ok(None) => Some(0.05),
            // A bare number is a fraction: 0.05 is 5 %.
            Err(_) => opts.number_where("min_effect", "a fraction in (0, 10)", |e| {
                e > 0.0 && e < 10.0
            })?,
        };
        let whole = |key: &str, lo: f64, hi: f64, default: usize| -> anyhow::Result<usize> {
            Ok(opts
                .number_where(key, &format!("a whole number from {lo} to {hi}"), |v| {
                    v.fract() == 0.0 && (lo..=hi).contains(&v)
                })?
                .map_or(default, |v| v as usize))
        };
        Ok(Config {
            min_effect,
            target: opts
                .number_where("power", "between 0.5 and 1 (exclusive)", |p| {
                    (0.5..1.0).contains(&p)
                })?
                .unwrap_or(0.8),
            bonferroni: opts
                .choice("correction", &["bonferroni", "none"])?
                .as_deref()
                != Some("none"),
            replications: whole("replications", 100.0, 100_000.0, 500)?,
            max_runs: whole("max_runs", 10.0, 100_000.0, 1000)?,
            seed: whole("seed", 0.0, 9e15, 42)? as u64,
        })
    }
}

/// "5%" or "5 %" → 0.05.
fn parse_percent(text: &str) -> Result<f64, String> {
    let number = text.trim().trim_end_matches('%').trim();
    match number.parse::<f64>() {
        Ok(v) if text.trim().ends_with('%') && v > 0.0 && v < 1000.0 => Ok(v / 100.0),
        _ => Err(format!(
            "option `min_effect` = {text:?}: must be a percentage like \"5%\""
        )),
    }
}

pub fn run(config: &Config, ctx: &mut Context) -> anyhow::Result<String> {
    let family = ctx
        .summary
        .comparisons
        .iter()
        .filter(|c| c.p_value.is_some())
        .count()
        .max(1);
    let alpha_of = |c: &Comparison| {
        if config.bonferroni {
            c.alpha / family as f64
        } else {
            c.alpha
        }
    };
    let mut entries = Vec::new();
    for c in &ctx.summary.comparisons {
        let Some(m) = ctx.table.metrics.iter().position(|x| x.key == c.metric) else {
            continue;
        };
        if c.n_a == 0 || c.n_b == 0 {
            continue; // a metric this data does not have: nothing to plan
        }
        let (xa, xb) = (ctx.table.sample(&c.a, m), ctx.table.sample(&c.b, m));
        entries.push(entry(config, c, &xa, &xb, alpha_of(c)));
    }
    let alpha = ctx.summary.comparisons.first().map_or(0.05, alpha_of);
    let recommended = recommend(config, &entries);
    let note = format!(
        "runs needed for {:.0} % power in {} comparison(s)",
        100.0 * config.target,
        entries.len()
    );
    ctx.summary.power = Some(PowerReport {
        target: config.target,
        alpha,
        family: if config.bonferroni { family } else { 1 },
        correction: if config.bonferroni {
            format!("Bonferroni over {family} comparison(s), Holm's strictest step")
        } else {
            "not adjusted".into()
        },
        min_effect_pct: config.min_effect.map(|e| 100.0 * e),
        replications: config.replications,
        seed: config.seed,
        max_runs: config.max_runs,
        entries,
        recommended,
    });
    Ok(note)
}

fn entry(config: &Config, c: &Comparison, xa: &[f64], xb: &[f64], alpha: f64) -> PowerEntry {
    let observed = needed(config, c, xa, xb, alpha, None);
    let min_effect = config
        .min_effect
        .map(|e| needed(config, c, xa, xb, alpha, Some(e)));
    PowerEntry {
        a: c.a.clone(),
        b: c.b.clone(),
        metric: c.metric.clone(),
        test: c.test,
        observed: Needed {
            effect_pct: c.median_change_pct,
            ..observed
        },
        min_effect,
    }
}

/// Runs per group for the observed difference (`effect` = None) or a relative one.
fn needed(
    config: &Config,
    c: &Comparison,
    xa: &[f64],
    xb: &[f64],
    alpha: f64,
    effect: Option<f64>,
) -> Needed {
    let refuse = |why: &str| Needed {
        effect_pct: effect.map(|e| 100.0 * e),
        reason: Some(why.to_string()),
        ..Needed::default()
    };
    if xa.len() < 2 || xb.len() < 2 {
        return refuse("needs at least 2 runs per group as a pilot");
    }
    let size = if c.test == TestKind::Welch {
        let (Some(da), Some(db)) = (stats::describe(xa), stats::describe(xb)) else {
            return refuse("no values");
        };
        let (sa, sb) = (da.std.unwrap_or(0.0), db.std.unwrap_or(0.0));
        let diff = effect.map_or(da.mean - db.mean, |e| e * da.mean.abs());
        if sa + sb == 0.0 {
            return refuse("both groups are constant: no spread to plan with");
        }
        stats::welch_sample_size(diff, sa, sb, alpha, config.target, config.max_runs)
    } else {
        let (Some(a), Some(b)) = (Pilot::new(xa), Pilot::new(xb)) else {
            return refuse("the pilot data are not usable (non-finite values)");
        };
        let b = match effect {
            None => b,
            Some(e) => {
                let (ma, mb) = (stats::median(xa), stats::median(xb));
                match ma.zip(mb) {
                    Some((ma, mb)) => b.shifted(ma * (1.0 + e) - mb),
                    None => return refuse("no median"),
                }
            }
        };
        let sim = Simulation {
            replications: config.replications,
            seed: config.seed,
        };
        stats::mann_whitney_sample_size(&a, &b, alpha, config.target, config.max_runs, &sim)
    };
    let effect_pct = effect.map(|e| 100.0 * e);
    match size {
        SampleSize::Runs { n, power } => Needed {
            effect_pct,
            runs: Some(n),
            power: Some(power),
            ..Needed::default()
        },
        SampleSize::MoreThan(m) => Needed {
            effect_pct,
            more_than: Some(m),
            reason: Some(format!("not reached within {m} runs per group")),
            ..Needed::default()
        },
    }
}

/// Per metric, enough runs for every pair: to detect the minimum effect when one is
/// declared, else the differences seen.
fn recommend(config: &Config, entries: &[PowerEntry]) -> Vec<Recommendation> {
    let mut metrics: Vec<&str> = Vec::new();
    for e in entries {
        if !metrics.contains(&e.metric.as_str()) {
            metrics.push(&e.metric);
        }
    }
    metrics
        .into_iter()
        .map(|metric| {
            let pick = |e: &PowerEntry| match (&e.min_effect, config.min_effect) {
                (Some(n), Some(_)) => n.clone(),
                _ => e.observed.clone(),
            };
            let needs: Vec<Needed> = entries
                .iter()
                .filter(|e| e.metric == metric)
                .map(pick)
                .collect();
            let more_than = needs.iter().filter_map(|n| n.more_than).max();
            let runs = needs.iter().filter_map(|n| n.runs).max();
            let what = match config.min_effect {
                Some(e) => {
                    let pct = words::percent(100.0 * e);
                    format!(
                        "to detect {} {pct} difference in every pair",
                        words::article(&pct)
                    )
                }
                None => "to confirm every pair's observed difference".into(),
            };
            Recommendation {
                metric: metric.to_string(),
                runs: if more_than.is_some() { None } else { runs },
                more_than,
                why: what,
            }
        })
        .collect()
}
