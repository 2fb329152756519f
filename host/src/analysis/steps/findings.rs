//! `findings`: confidence intervals, carbon and cost, and one ranked sentence per metric
//! and pair — what the report, tables.md and the terminal lead with. Put it after
//! `compare` (and after `power`, whose runs-needed figures the sentences quote).
//!
//! * Each group's median: the distribution-free order-statistic interval (see
//!   `stats::median_interval` for why not the bootstrap), for every metric.
//! * Each comparison's ratio and difference of medians: bootstrap, percentile (default) or
//!   BCa, `resamples` per pair, each group resampled on its own, from a stream of `seed`
//!   named after the metric and pair, so adding a group never moves another pair's interval.
//! * Carbon and cost: only from factors the user declares (`grid_intensity`, `pue`,
//!   `price_per_kwh`); applied to energy metrics in joules, labelled as derived.

use super::options::Options;
use super::Context;
use crate::analysis::answers::{BootstrapInfo, Carbon, CarbonRow, Factors, Finding, Verdict};
use crate::analysis::factors::{check_currency, Factor};
use crate::analysis::report::findings::{self as words, SentenceContext};
use crate::analysis::stats::{self, BootstrapSpec, CiMethod, Rng};
use crate::analysis::summary::{finite, Comparison};

pub const OPTIONS: &[(&str, &str)] = &[
    ("level", "confidence level of every interval (default 0.95)"),
    ("resamples", "bootstrap resamples per pair (default 10000)"),
    (
        "method",
        "\"percentile\" (default) or \"bca\": the bootstrap interval of a ratio or difference",
    ),
    ("seed", "bootstrap seed (default 42)"),
    (
        "grid_intensity",
        "grid carbon intensity, gCO2e per kWh: adds carbon to energy figures",
    ),
    (
        "pue",
        "power usage effectiveness of the site, at least 1 (default 1)",
    ),
    (
        "price_per_kwh",
        "energy price per kWh: adds cost to energy figures",
    ),
    ("currency", "currency of price_per_kwh (default \"EUR\")"),
];

/// Default bootstrap resamples per pair: the Monte-Carlo error of a 2.5 % quantile is then
/// well below the interval's own width for 5 or more runs per group.
pub const DEFAULT_RESAMPLES: usize = 10_000;
pub const DEFAULT_SEED: u64 = 42;

#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    pub spec: BootstrapSpec,
    pub seed: u64,
    pub factors: Option<Factors>,
}

impl Config {
    pub fn parse(opts: &Options) -> anyhow::Result<Self> {
        let level = opts
            .number_where("level", "between 0.5 and 1 (exclusive)", |l| {
                (0.5..1.0).contains(&l)
            })?
            .unwrap_or(0.95);
        let resamples = opts
            .number_where("resamples", "a whole number from 100 to 1000000", |r| {
                r.fract() == 0.0 && (100.0..=1e6).contains(&r)
            })?
            .map_or(DEFAULT_RESAMPLES, |r| r as usize);
        let method = match opts.choice("method", &["percentile", "bca"])?.as_deref() {
            Some("bca") => CiMethod::Bca,
            _ => CiMethod::Percentile,
        };
        let seed = opts
            .number_where("seed", "a whole number ≥ 0", |s| {
                s.fract() == 0.0 && s >= 0.0
            })?
            .map_or(DEFAULT_SEED, |s| s as u64);
        Ok(Config {
            spec: BootstrapSpec {
                resamples,
                level,
                method,
            },
            seed,
            factors: parse_factors(opts)?,
        })
    }
}

fn parse_factors(opts: &Options) -> anyhow::Result<Option<Factors>> {
    // The rules are the ones `[report]` and `host analyze`'s flags check (analysis::factors).
    let number = |f: Factor| opts.number_where(f.key(), f.rule(), |v| f.accepts(v));
    let grid = number(Factor::GridIntensity)?;
    let price = number(Factor::PricePerKwh)?;
    let pue = number(Factor::Pue)?;
    let currency = opts
        .string("currency")?
        .map(|c| {
            check_currency(&c).map_err(|rule| opts.error(format!("option `currency`: {rule}")))
        })
        .transpose()?;
    if grid.is_none() && price.is_none() {
        if pue.is_some() || currency.is_some() {
            return Err(opts.error(
                "`pue` and `currency` need `grid_intensity` or `price_per_kwh` to apply to",
            ));
        }
        return Ok(None);
    }
    Ok(Some(Factors {
        grid_g_per_kwh: grid,
        pue: pue.unwrap_or(1.0),
        price_per_kwh: price,
        currency: currency.unwrap_or_else(|| "EUR".into()),
    }))
}

pub fn run(config: &Config, ctx: &mut Context) -> anyhow::Result<String> {
    let groups = median_intervals(config, ctx);
    let pairs = contrast_intervals(config, ctx);
    ctx.summary.bootstrap = Some(BootstrapInfo {
        method: match config.spec.method {
            CiMethod::Percentile => "percentile".into(),
            CiMethod::Bca => "bca".into(),
        },
        resamples: config.spec.resamples,
        level: config.spec.level,
        seed: config.seed,
        group_interval: "order statistics (distribution-free, binomial)".into(),
    });
    ctx.summary.carbon = config.factors.as_ref().map(|f| carbon(f, ctx));
    let findings = findings(config, ctx);
    let decided = findings
        .iter()
        .filter(|f| f.verdict == Verdict::Lower)
        .count();
    let note = format!(
        "{} finding(s), {decided} with a detectable difference; intervals for {groups} group median(s) and {pairs} pair(s)",
        findings.len()
    );
    ctx.summary.findings = findings;
    Ok(note)
}

/// Order-statistic intervals of every group's median on every metric.
fn median_intervals(config: &Config, ctx: &mut Context) -> usize {
    let mut done = 0;
    for group in ctx.table.groups.clone() {
        for m in 0..ctx.table.metrics.len() {
            let sample = ctx.table.sample(&group, m);
            let gm = ctx.group_metric(&group, m);
            gm.reasons.remove("median_ci");
            match stats::median_order_interval(&sample, config.spec.level) {
                Ok(i) => {
                    gm.median_ci = Some([i.low, i.high]);
                    done += 1;
                }
                Err(why) => {
                    gm.median_ci = None;
                    gm.reasons.insert("median_ci".into(), why);
                }
            }
        }
    }
    done
}

/// Bootstrap intervals of every comparison's ratio and difference of medians.
fn contrast_intervals(config: &Config, ctx: &mut Context) -> usize {
    let mut done = 0;
    let mut comparisons = std::mem::take(&mut ctx.summary.comparisons);
    for c in &mut comparisons {
        let Some(m) = ctx.table.metrics.iter().position(|x| x.key == c.metric) else {
            continue;
        };
        let (xa, xb) = (ctx.table.sample(&c.a, m), ctx.table.sample(&c.b, m));
        for f in ["median_ratio", "ratio_ci", "difference_ci"] {
            c.reasons.remove(f);
        }
        c.median_ratio = c
            .median_a
            .zip(c.median_b)
            .filter(|(_, b)| *b > 0.0)
            .and_then(|(a, b)| finite(a / b));
        if c.median_ratio.is_none() {
            c.reasons
                .insert("median_ratio".into(), "needs a positive median of b".into());
        }
        let mut rng = Rng::for_key(config.seed, &format!("{}/{}/{}", c.metric, c.a, c.b));
        match stats::contrast_intervals(&xa, &xb, &config.spec, &mut rng) {
            Ok(ci) => {
                done += 1;
                set_interval(c, "ratio_ci", ci.ratio);
                set_interval(c, "difference_ci", ci.difference);
            }
            Err(why) => {
                set_interval(c, "ratio_ci", Err(why.clone()));
                set_interval(c, "difference_ci", Err(why));
            }
        }
    }
    ctx.summary.comparisons = comparisons;
    done
}

fn set_interval(c: &mut Comparison, field: &str, result: Result<stats::Interval, String>) {
    let value = match result {
        Ok(i) => Some([i.low, i.high]),
        Err(why) => {
            c.reasons.insert(field.into(), why);
            None
        }
    };
    match field {
        "ratio_ci" => c.ratio_ci = value,
        _ => c.difference_ci = value,
    }
}

/// Energy metrics in joules: median per group turned into carbon and cost.
fn carbon(factors: &Factors, ctx: &Context) -> Carbon {
    let mut groups = Vec::new();
    for (group, metrics) in ctx.summary.groups.iter() {
        for metric in ctx.table.metrics.iter().filter(|m| m.unit == "J") {
            if let Some(median) = metrics.get(&metric.key).and_then(|g| g.median) {
                groups.push(CarbonRow {
                    group: group.to_string(),
                    metric: metric.key.clone(),
                    median_j: median,
                    per_run: factors.derive(median),
                });
            }
        }
    }
    let mut note = format!("{}; not measured", words::declared(factors));
    if ctx.summary.energy_estimated {
        note += ", and from ESTIMATED energy";
    }
    Carbon {
        factors: factors.clone(),
        note,
        groups,
    }
}

/// Where a metric comes in the ranking: energy first (what this tool is for), then time,
/// then the rest in table order.
fn metric_rank(key: &str, table_index: usize) -> usize {
    match key {
        "energy" => 0,
        "energy_dynamic" => 1,
        "time" => 2,
        "power" => 3,
        "edp" => 4,
        _ => 5 + table_index,
    }
}

/// One finding per comparison, ranked, each with its sentence.
fn findings(config: &Config, ctx: &Context) -> Vec<Finding> {
    let energy_units = ["J", "W", "J·s"];
    let mut out: Vec<(usize, Finding, Option<String>)> = Vec::new();
    for c in &ctx.summary.comparisons {
        let Some(index) = ctx.table.metrics.iter().position(|m| m.key == c.metric) else {
            continue;
        };
        if c.n_a == 0 || c.n_b == 0 {
            continue; // a metric this data does not have (e.g. no idle baseline): no finding
        }
        let mut f = finding(c);
        if energy_units.contains(&c.unit.as_str()) {
            f.energy = Some(ctx.summary.energy_source.clone());
        }
        if let (Some(factors), "J") = (&config.factors, c.unit.as_str()) {
            if let (Some(l), Some(h)) = (f.median_lower, f.median_higher) {
                f.derived = Some([factors.derive(l), factors.derive(h)]);
            }
        }
        let untested = c.reasons.get("p_value").cloned();
        out.push((metric_rank(&c.metric, index), f, untested));
    }
    // Decided differences first, largest first; then no detectable difference; then untested.
    out.sort_by(|(ra, a, _), (rb, b, _)| {
        let key = |f: &Finding| match f.verdict {
            Verdict::Lower => 0,
            Verdict::NoDetectableDifference => 1,
            Verdict::NotTested => 2,
        };
        let size = |f: &Finding| f.ratio.map_or(0.0, |r| -r.ln().abs());
        (ra, key(a))
            .cmp(&(rb, key(b)))
            .then(size(a).total_cmp(&size(b)))
    });
    let holm = ctx.summary.comparisons.iter().any(|c| c.p_holm.is_some());
    out.into_iter()
        .enumerate()
        .map(|(i, (_, mut f, untested))| {
            f.rank = i + 1;
            let label = ctx
                .table
                .metrics
                .iter()
                .find(|m| m.key == f.metric)
                .map_or(f.metric.clone(), |m| m.label.clone());
            let power = ctx.summary.power.as_ref();
            let entry = power.and_then(|p| {
                p.entries.iter().find(|e| {
                    e.metric == f.metric
                        && ((e.a == f.lower && e.b == f.higher)
                            || (e.a == f.higher && e.b == f.lower))
                })
            });
            let cx = SentenceContext {
                level: config.spec.level,
                method: config.spec.method.words(),
                holm,
                alpha: ctx.summary.comparisons.first().map_or(0.05, |c| c.alpha),
                label: &label,
                power: entry,
                factors: config.factors.as_ref(),
                untested: untested.as_deref(),
            };
            f.sentence = words::sentence(&f, &cx, power);
            f
        })
        .collect()
}

/// The comparison seen from the group with the lower median.
fn finding(c: &Comparison) -> Finding {
    let a_lower = match (c.median_a, c.median_b) {
        (Some(a), Some(b)) => a <= b,
        _ => true,
    };
    let (lower, higher, ml, mh) = if a_lower {
        (&c.a, &c.b, c.median_a, c.median_b)
    } else {
        (&c.b, &c.a, c.median_b, c.median_a)
    };
    // The interval of b/a is the interval of a/b inverted: the same event covers both.
    let ratio_ci = c.ratio_ci.map(|[lo, hi]| {
        if a_lower {
            [lo, hi]
        } else {
            [1.0 / hi, 1.0 / lo]
        }
    });
    let ratio = ml
        .zip(mh)
        .filter(|(_, h)| *h > 0.0)
        .and_then(|(l, h)| finite(l / h));
    let verdict = match c.significant {
        Some(true) => Verdict::Lower,
        Some(false) => Verdict::NoDetectableDifference,
        None => Verdict::NotTested,
    };
    Finding {
        rank: 0,
        metric: c.metric.clone(),
        lower: lower.clone(),
        higher: higher.clone(),
        verdict,
        sentence: String::new(),
        unit: c.unit.clone(),
        median_lower: ml,
        median_higher: mh,
        ratio,
        ratio_ci,
        less_pct: ratio.map(|r| (1.0 - r) * 100.0),
        test: c.test,
        p_value: c.p_value,
        p_holm: c.p_holm,
        cliffs_delta: c.cliffs_delta.map(|d| if a_lower { d } else { -d }),
        energy: None,
        derived: None,
    }
}
