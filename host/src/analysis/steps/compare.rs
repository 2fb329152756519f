//! `compare`: every pair of groups on every metric. Welch's t-test when both groups pass
//! Shapiro–Wilk (p > alpha), else Mann–Whitney U, two-sided — the study's rule. Reports
//! mean and median differences (a − b), median % change ((b − a) / a), Cohen's d (pooled),
//! Cliff's delta, and Holm-adjusted p over the whole family of comparisons.

use super::options::Options;
use super::{select_metrics, Context};

/// Compared when the step names no metrics.
const HEADLINE_METRICS: [&str; 5] = ["time", "energy", "power", "edp", "energy_dynamic"];
use crate::analysis::format;
use crate::analysis::stats::{self, MannWhitneyMethod, Normality};
use crate::analysis::summary::{finite, Comparison, Reasons};

pub const OPTIONS: &[(&str, &str)] = &[
    ("alpha", "significance level for the normality gate and verdicts (default 0.05)"),
    ("test", "\"auto\" (default: Welch if both normal, else Mann–Whitney), \"welch\" or \"mann-whitney\""),
    ("mann_whitney", "\"auto\" (default, as SciPy), \"exact\" or \"asymptotic\""),
    ("correction", "\"holm\" (default) or \"none\""),
    ("metrics", "metric keys to compare (default: time, energy, power, edp and energy_dynamic where present)"),
];

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum TestChoice {
    Auto,
    Welch,
    MannWhitney,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum MwMethod {
    Auto,
    Exact,
    Asymptotic,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    pub alpha: f64,
    pub test: TestChoice,
    pub mann_whitney: MwMethod,
    pub holm: bool,
    pub metrics: Option<Vec<String>>,
}

impl Default for Config {
    /// The study's choices: alpha 0.05, the Shapiro–Wilk gate, SciPy's Mann–Whitney
    /// method, Holm.
    fn default() -> Self {
        Config {
            alpha: 0.05,
            test: TestChoice::Auto,
            mann_whitney: MwMethod::Auto,
            holm: true,
            metrics: None,
        }
    }
}

impl Config {
    pub fn parse(opts: &Options) -> anyhow::Result<Self> {
        let alpha = opts
            .number_where("alpha", "between 0 and 1", |a| a > 0.0 && a < 1.0)?
            .unwrap_or(0.05);
        let test = match opts
            .choice("test", &["auto", "welch", "mann-whitney"])?
            .as_deref()
        {
            Some("welch") => TestChoice::Welch,
            Some("mann-whitney") => TestChoice::MannWhitney,
            _ => TestChoice::Auto,
        };
        let mann_whitney = match opts
            .choice("mann_whitney", &["auto", "exact", "asymptotic"])?
            .as_deref()
        {
            Some("exact") => MwMethod::Exact,
            Some("asymptotic") => MwMethod::Asymptotic,
            _ => MwMethod::Auto,
        };
        let holm = opts.choice("correction", &["holm", "none"])?.as_deref() != Some("none");
        Ok(Config {
            alpha,
            test,
            mann_whitney,
            holm,
            metrics: opts.strings("metrics")?,
        })
    }
}

pub fn run(config: &Config, ctx: &mut Context) -> anyhow::Result<String> {
    // The Holm family is every comparison made, so by default it holds only the study's
    // headline metrics: adding every per-phase, per-epoch and per-domain column would make
    // the main tests needlessly conservative. Other metrics are one `metrics = [...]` away.
    let headline = config.metrics.clone().or_else(|| {
        Some(
            HEADLINE_METRICS
                .iter()
                .filter(|k| ctx.table.metrics.iter().any(|m| m.key == **k))
                .map(|k| k.to_string())
                .collect(),
        )
    });
    let metrics = select_metrics(&ctx.table, "compare", &headline)?;
    let groups = ctx.table.groups.clone();
    let mut comparisons = Vec::new();
    for &m in &metrics {
        for (i, a) in groups.iter().enumerate() {
            for b in &groups[i + 1..] {
                let xa = ctx.table.sample(a, m);
                let xb = ctx.table.sample(b, m);
                let mut c = compare_pair(config, a, b, &xa, &xb);
                c.metric = ctx.table.metrics[m].key.clone();
                c.unit = ctx.table.metrics[m].unit.clone();
                comparisons.push(c);
            }
        }
    }
    adjust(config, &mut comparisons);
    let welch = comparisons.iter().filter(|c| c.test == "welch").count();
    let significant = comparisons
        .iter()
        .filter(|c| c.significant == Some(true))
        .count();
    let note = format!(
        "{} comparison(s): {welch} Welch t, {} Mann–Whitney U; {significant} significant at alpha = {}{}",
        comparisons.len(),
        comparisons.len() - welch,
        config.alpha,
        if config.holm { " after Holm" } else { "" }
    );
    ctx.summary.comparisons.extend(comparisons);
    Ok(note)
}

/// Holm over the family, then the verdict per comparison.
fn adjust(config: &Config, comparisons: &mut [Comparison]) {
    let with_p: Vec<usize> = (0..comparisons.len())
        .filter(|&i| comparisons[i].p_value.is_some())
        .collect();
    if config.holm {
        let ps: Vec<f64> = with_p
            .iter()
            .filter_map(|&i| comparisons[i].p_value)
            .collect();
        let adjusted = stats::holm(&ps);
        for (&i, &p) in with_p.iter().zip(&adjusted) {
            comparisons[i].p_holm = finite(p);
        }
    }
    for c in comparisons.iter_mut() {
        if c.p_holm.is_none() {
            let why = if !config.holm {
                "correction = \"none\"".to_string()
            } else {
                c.reasons
                    .get("p_value")
                    .cloned()
                    .unwrap_or_else(|| "no p-value".to_string())
            };
            c.reasons.insert("p_holm".into(), why);
        }
        let p = if config.holm { c.p_holm } else { c.p_value };
        c.significant = p.map(|p| p < config.alpha);
    }
}

fn normal(x: &[f64], alpha: f64) -> (bool, String) {
    match stats::shapiro_wilk(x) {
        Normality::Tested { p, .. } if p > alpha => {
            (true, format!("Shapiro–Wilk p = {} > {alpha}", format::p(p)))
        }
        Normality::Tested { p, .. } => (
            false,
            format!("Shapiro–Wilk p = {} ≤ {alpha}", format::p(p)),
        ),
        Normality::NotApplicable { reason } => {
            (false, format!("normality not testable ({reason})"))
        }
    }
}

/// Fewer runs than this in either group and a pair is not tested (its reason says so).
const MIN_RUNS_PER_GROUP: usize = 2;

/// One pair, tested as the pipeline tests it (also used by the sequential design).
pub(crate) fn compare_pair(
    config: &Config,
    a: &str,
    b: &str,
    xa: &[f64],
    xb: &[f64],
) -> Comparison {
    let mut reasons = Reasons::new();
    let use_welch = match config.test {
        TestChoice::Welch => (true, "forced by test = \"welch\"".to_string()),
        TestChoice::MannWhitney => (false, "forced by test = \"mann-whitney\"".to_string()),
        TestChoice::Auto => {
            let (na, wa) = normal(xa, config.alpha);
            let (nb, wb) = normal(xb, config.alpha);
            let verdict = if na && nb {
                "both normal: Welch's t-test"
            } else {
                "not both normal: Mann–Whitney U"
            };
            (na && nb, format!("{a}: {wa}; {b}: {wb}; {verdict}"))
        }
    };
    let (welch, why) = use_welch;
    let mut c = Comparison {
        a: a.to_string(),
        b: b.to_string(),
        n_a: xa.len(),
        n_b: xb.len(),
        alpha: config.alpha,
        why,
        ..Comparison::default()
    };
    c.test = if welch { "welch" } else { "mann-whitney" }.into();
    let smallest = xa.len().min(xb.len());
    if smallest < MIN_RUNS_PER_GROUP {
        // One run against one always gives p = 1 (Mann–Whitney) or no variance (Welch): a
        // number there would look like evidence of no difference.
        let why = format!(
            "needs at least {MIN_RUNS_PER_GROUP} runs in each group to test, has {} and {}",
            xa.len(),
            xb.len()
        );
        reasons.insert("statistic".into(), why.clone());
        reasons.insert("p_value".into(), why);
    } else if welch {
        match stats::welch_t_test(xa, xb) {
            Ok(t) => {
                c.statistic = finite(t.statistic);
                c.p_value = finite(t.p_value);
                c.df = finite(t.df);
            }
            Err(e) => {
                reasons.insert("statistic".into(), e.clone());
                reasons.insert("p_value".into(), e);
            }
        }
    } else {
        let method = match config.mann_whitney {
            MwMethod::Auto => MannWhitneyMethod::Auto,
            MwMethod::Exact => MannWhitneyMethod::Exact,
            MwMethod::Asymptotic => MannWhitneyMethod::Asymptotic,
        };
        match stats::mann_whitney_u(xa, xb, method) {
            Ok(u) => {
                c.statistic = finite(u.statistic);
                c.p_value = finite(u.p_value);
                c.method = Some(
                    match u.method {
                        MannWhitneyMethod::Exact => "exact",
                        MannWhitneyMethod::Asymptotic => "asymptotic",
                        MannWhitneyMethod::Auto => "auto",
                    }
                    .to_string(),
                );
            }
            Err(e) => {
                reasons.insert("statistic".into(), e.clone());
                reasons.insert("p_value".into(), e);
            }
        }
    }
    if c.df.is_none() {
        reasons.insert(
            "df".into(),
            if welch {
                "Welch's test did not run".into()
            } else {
                "Mann–Whitney U has no degrees of freedom".into()
            },
        );
    }
    if c.method.is_none() {
        reasons.insert("method".into(), "only for Mann–Whitney U".into());
    }
    for (field, value) in [("statistic", c.statistic), ("p_value", c.p_value)] {
        if value.is_none() && !reasons.contains_key(field) {
            reasons.insert(field.into(), "the test gave a non-finite value".into());
        }
    }

    let mean = |x: &[f64]| stats::describe(x).map(|d| d.mean);
    c.median_a = stats::median(xa).and_then(finite);
    c.median_b = stats::median(xb).and_then(finite);
    c.mean_difference = mean(xa).zip(mean(xb)).and_then(|(ma, mb)| finite(ma - mb));
    c.median_difference = c
        .median_a
        .zip(c.median_b)
        .and_then(|(ma, mb)| finite(ma - mb));
    c.median_change_pct = c
        .median_a
        .zip(c.median_b)
        .and_then(|(ma, mb)| finite((mb - ma) / ma * 100.0));
    c.cohens_d = stats::cohens_d(xa, xb).and_then(finite);
    c.cliffs_delta = stats::cliffs_delta(xa, xb).and_then(finite);
    let empty = xa.is_empty() || xb.is_empty();
    let why_missing = |field: &str| -> String {
        if empty {
            "a group has no values".into()
        } else {
            match field {
                "median_change_pct" => "median of a is zero".into(),
                "cohens_d" => {
                    "needs at least 2 values per group and a non-zero pooled standard deviation"
                        .into()
                }
                _ => "not defined for these samples".into(),
            }
        }
    };
    for (field, value) in [
        ("median_a", c.median_a),
        ("median_b", c.median_b),
        ("mean_difference", c.mean_difference),
        ("median_difference", c.median_difference),
        ("median_change_pct", c.median_change_pct),
        ("cohens_d", c.cohens_d),
        ("cliffs_delta", c.cliffs_delta),
    ] {
        if value.is_none() {
            reasons.insert(field.into(), why_missing(field));
        }
    }
    c.reasons = reasons;
    c
}
