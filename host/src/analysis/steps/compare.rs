//! `compare`: every pair of groups on every metric. Welch's t-test when both groups pass
//! Shapiro–Wilk (p > alpha), else Mann–Whitney U, two-sided — the study's rule. Reports
//! mean and median differences (a − b), median % change ((b − a) / a), Cohen's d (pooled),
//! Cliff's delta, and Holm-adjusted p over the whole family of comparisons.

use super::options::Options;
use super::{select_metrics, Context};
use crate::analysis::format;
use crate::analysis::stats::{self, MannWhitneyMethod, Normality};
/// The test kinds are summary.json's vocabulary; `compare::TestKind` names them here too.
pub use crate::analysis::summary::TestKind;
use crate::analysis::summary::{finite, Comparison, Reasons};

/// Compared when the step names no metrics.
const HEADLINE_METRICS: [&str; 5] = ["time", "energy", "power", "edp", "energy_dynamic"];

pub const OPTIONS: &[(&str, &str)] = &[
    ("alpha", "significance level for the normality gate and verdicts (default 0.05)"),
    ("test", "\"auto\" (default: Welch if both normal, else Mann–Whitney), \"welch\" or \"mann-whitney\""),
    ("mann_whitney", "\"auto\" (default, as SciPy), \"exact\" or \"asymptotic\""),
    ("correction", "\"holm\" (default) or \"none\""),
    ("metrics", "metric keys to compare (default: time, energy, power, edp and energy_dynamic where present)"),
];

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum MwMethod {
    Auto,
    Exact,
    Asymptotic,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    pub alpha: f64,
    /// `None`: Welch's t-test where both groups pass Shapiro–Wilk, else Mann–Whitney U.
    pub test: Option<TestKind>,
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
            test: None,
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
            Some("welch") => Some(TestKind::Welch),
            Some("mann-whitney") => Some(TestKind::MannWhitney),
            _ => None,
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
    let welch = comparisons
        .iter()
        .filter(|c| c.test == TestKind::Welch)
        .count();
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

/// One pair on one metric: the test (chosen by `config`), its statistic and p-value, the
/// differences and effect sizes, and for every field left empty, why. Also used by the
/// sequential design.
pub(crate) fn compare_pair(
    config: &Config,
    a: &str,
    b: &str,
    xa: &[f64],
    xb: &[f64],
) -> Comparison {
    let (kind, why) = choose_test(config, a, b, xa, xb);
    let mut c = Comparison {
        n_a: xa.len(),
        n_b: xb.len(),
        alpha: config.alpha,
        why,
        ..Comparison::new(a, b, kind)
    };
    let mut reasons = Reasons::new();
    run_test(config, kind, xa, xb, &mut c, &mut reasons);
    add_effect_sizes(xa, xb, &mut c, &mut reasons);
    c.reasons = reasons;
    c
}

/// The test `config` asks for, or the study's rule (Welch when both groups look normal),
/// with the reason in words.
fn choose_test(config: &Config, a: &str, b: &str, xa: &[f64], xb: &[f64]) -> (TestKind, String) {
    match config.test {
        Some(TestKind::Welch) => (TestKind::Welch, "forced by test = \"welch\"".to_string()),
        Some(TestKind::MannWhitney) => (
            TestKind::MannWhitney,
            "forced by test = \"mann-whitney\"".to_string(),
        ),
        None => {
            let (na, wa) = normal(xa, config.alpha);
            let (nb, wb) = normal(xb, config.alpha);
            let (kind, verdict) = if na && nb {
                (TestKind::Welch, "both normal: Welch's t-test")
            } else {
                (TestKind::MannWhitney, "not both normal: Mann–Whitney U")
            };
            (kind, format!("{a}: {wa}; {b}: {wb}; {verdict}"))
        }
    }
}

/// The statistic, p-value, and degrees of freedom (Welch) or method (Mann–Whitney); each one
/// missing gets its reason.
fn run_test(
    config: &Config,
    kind: TestKind,
    xa: &[f64],
    xb: &[f64],
    c: &mut Comparison,
    reasons: &mut Reasons,
) {
    let smallest = xa.len().min(xb.len());
    let outcome = if smallest < MIN_RUNS_PER_GROUP {
        // One run against one always gives p = 1 (Mann–Whitney) or no variance (Welch): a
        // number there would look like evidence of no difference.
        Err(format!(
            "needs at least {MIN_RUNS_PER_GROUP} runs in each group to test, has {} and {}",
            xa.len(),
            xb.len()
        ))
    } else {
        match kind {
            TestKind::Welch => stats::welch_t_test(xa, xb).map(|t| {
                c.statistic = finite(t.statistic);
                c.p_value = finite(t.p_value);
                c.df = finite(t.df);
            }),
            TestKind::MannWhitney => mann_whitney(config, xa, xb, c),
        }
    };
    if let Err(why) = outcome {
        reasons.insert("statistic".into(), why.clone());
        reasons.insert("p_value".into(), why);
    }
    if c.df.is_none() {
        let why = match kind {
            TestKind::Welch => "Welch's test did not run",
            TestKind::MannWhitney => "Mann–Whitney U has no degrees of freedom",
        };
        reasons.insert("df".into(), why.into());
    }
    if c.method.is_none() {
        reasons.insert("method".into(), "only for Mann–Whitney U".into());
    }
    for (field, value) in [("statistic", c.statistic), ("p_value", c.p_value)] {
        if value.is_none() && !reasons.contains_key(field) {
            reasons.insert(field.into(), "the test gave a non-finite value".into());
        }
    }
}

fn mann_whitney(config: &Config, xa: &[f64], xb: &[f64], c: &mut Comparison) -> Result<(), String> {
    let method = match config.mann_whitney {
        MwMethod::Auto => MannWhitneyMethod::Auto,
        MwMethod::Exact => MannWhitneyMethod::Exact,
        MwMethod::Asymptotic => MannWhitneyMethod::Asymptotic,
    };
    let u = stats::mann_whitney_u(xa, xb, method)?;
    c.statistic = finite(u.statistic);
    c.p_value = finite(u.p_value);
    let method = match u.method {
        MannWhitneyMethod::Exact => "exact",
        MannWhitneyMethod::Asymptotic => "asymptotic",
        MannWhitneyMethod::Auto => "auto",
    };
    c.method = Some(method.to_string());
    Ok(())
}

/// Medians, differences, median % change, Cohen's d and Cliff's delta; each one missing
/// gets its reason.
fn add_effect_sizes(xa: &[f64], xb: &[f64], c: &mut Comparison, reasons: &mut Reasons) {
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
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_test_kind_has_summary_jsons_spelling() {
        for kind in [TestKind::Welch, TestKind::MannWhitney] {
            let json = serde_json::to_string(&kind).unwrap();
            assert_eq!(json, format!("\"{}\"", kind.as_str()));
            assert_eq!(serde_json::from_str::<TestKind>(&json).unwrap(), kind);
        }
        assert_eq!(TestKind::MannWhitney.as_str(), "mann-whitney");
    }

    #[test]
    fn forcing_a_test_says_so_and_one_run_per_group_is_not_tested() {
        let config = Config {
            alpha: 0.05,
            test: Some(TestKind::MannWhitney),
            mann_whitney: MwMethod::Auto,
            holm: true,
            metrics: None,
        };
        let c = compare_pair(&config, "a", "b", &[1.0, 2.0, 3.0], &[4.0, 5.0, 6.0]);
        assert_eq!(
            (c.test, c.why.as_str()),
            (TestKind::MannWhitney, "forced by test = \"mann-whitney\"")
        );
        assert!(c.p_value.is_some() && c.df.is_none());
        let c = compare_pair(&config, "a", "b", &[1.0], &[4.0, 5.0]);
        assert_eq!(c.p_value, None);
        assert!(
            c.reasons["p_value"].contains("needs at least 2 runs"),
            "{:?}",
            c.reasons
        );
    }
}
