//! Paper-like tables: per pair of groups, each metric's medians and % change —
//! "keras 120.000 s vs torch 150.000 s, +25.00 %" — with the test that backs it.

use crate::analysis::data::Table;
use crate::analysis::format::{self, opt};
use crate::analysis::stats;
use crate::analysis::summary::{Comparison, Summary, TestKind};

/// One row of a pair's table.
#[derive(Debug, Clone)]
pub struct PairRow {
    pub a: String,
    pub b: String,
    pub metric: String,
    pub label: String,
    pub unit: String,
    pub median_a: Option<f64>,
    pub median_b: Option<f64>,
    pub change_pct: Option<f64>,
    pub comparison: Option<Comparison>,
}

impl PairRow {
    /// "keras 120.000 s vs torch 150.000 s, +25.00 %".
    pub fn sentence(&self) -> String {
        let med = |g: &str, m: Option<f64>| {
            format!("{g} {}", opt(m, |x| format::with_unit(x, &self.unit)))
        };
        format!(
            "{} vs {}, {}",
            med(&self.a, self.median_a),
            med(&self.b, self.median_b),
            opt(self.change_pct, format::pct)
        )
    }
}

/// Every pair × metric in `metrics`, medians taken from the table as it is now.
pub fn pair_rows(table: &Table, summary: &Summary, metrics: &[usize]) -> Vec<PairRow> {
    let mut rows = Vec::new();
    for (i, a) in table.groups.iter().enumerate() {
        for b in &table.groups[i + 1..] {
            for &m in metrics {
                let metric = &table.metrics[m];
                let median_a = stats::median(&table.sample(a, m)).filter(|x| x.is_finite());
                let median_b = stats::median(&table.sample(b, m)).filter(|x| x.is_finite());
                let change_pct = median_a
                    .zip(median_b)
                    .map(|(x, y)| (y - x) / x * 100.0)
                    .filter(|x| x.is_finite());
                let comparison = summary
                    .comparisons
                    .iter()
                    .find(|c| c.a == *a && c.b == *b && c.metric == metric.key)
                    .cloned();
                rows.push(PairRow {
                    a: a.clone(),
                    b: b.clone(),
                    metric: metric.key.clone(),
                    label: metric.label_with_unit(),
                    unit: metric.unit.clone(),
                    median_a,
                    median_b,
                    change_pct,
                    comparison,
                });
            }
        }
    }
    rows
}

/// "Welch t" / "Mann–Whitney U (exact)".
pub fn test_name(c: &Comparison) -> String {
    match (c.test, c.method.as_deref()) {
        (TestKind::Welch, _) => "Welch t".to_string(),
        (_, Some(method)) => format!("Mann–Whitney U ({method})"),
        _ => "Mann–Whitney U".to_string(),
    }
}

/// tables.md.
pub fn markdown(table: &Table, summary: &Summary, rows: &[PairRow], metrics: &[usize]) -> String {
    let mut md = String::new();
    md.push_str("# Results\n\n");
    md.push_str(&format!("Energy: {}.\n\n", summary.energy_source));
    md.push_str(&super::findings::markdown(summary));
    md.push_str("## Medians per group\n\n| Metric |");
    for g in &table.groups {
        md.push_str(&format!(" {g} |"));
    }
    md.push_str("\n|---|");
    md.push_str(&"---:|".repeat(table.groups.len()));
    md.push('\n');
    for &m in metrics {
        md.push_str(&format!("| {} |", table.metrics[m].label_with_unit()));
        for g in &table.groups {
            let sample = table.sample(g, m);
            let med = stats::median(&sample).filter(|x| x.is_finite());
            md.push_str(&format!(
                " {} (n = {}) |",
                opt(med, format::num),
                sample.len()
            ));
        }
        md.push('\n');
    }
    let mut pair: Option<(String, String)> = None;
    for r in rows {
        if pair.as_ref() != Some(&(r.a.clone(), r.b.clone())) {
            pair = Some((r.a.clone(), r.b.clone()));
            md.push_str(&format!(
                "\n## {} vs {}\n\nChange is (median {} − median {}) / median {}. p (Holm) is {}.\n\n",
                r.a,
                r.b,
                r.b,
                r.a,
                r.a,
                summary.holm_words()
            ));
            md.push_str("| Metric | Medians and change | Test | p | p (Holm) | Cliff's δ | Cohen's d |\n|---|---|---|---:|---:|---:|---:|\n");
        }
        let (test, p, ph, delta, d) = match &r.comparison {
            Some(c) => (
                test_name(c),
                opt(c.p_value, format::p),
                opt(c.p_holm, format::p),
                opt(c.cliffs_delta, |x| format!("{x:.3}")),
                opt(c.cohens_d, |x| format!("{x:.3}")),
            ),
            None => ("—".into(), "—".into(), "—".into(), "—".into(), "—".into()),
        };
        md.push_str(&format!(
            "| {} | {} | {test} | {p} | {ph} | {delta} | {d} |\n",
            r.label,
            r.sentence()
        ));
    }
    md
}

/// tables.csv: one row per pair and metric.
pub fn csv(rows: &[PairRow]) -> anyhow::Result<Vec<u8>> {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record([
        "a",
        "b",
        "metric",
        "unit",
        "median_a",
        "median_b",
        "median_change_pct",
        "test",
        "statistic",
        "p_value",
        "p_holm",
        "cohens_d",
        "cliffs_delta",
        "summary",
    ])?;
    // Debug formatting round-trips and switches to exponents for tiny p-values.
    let cell = |x: Option<f64>| x.map(|v| format!("{v:?}")).unwrap_or_default();
    for r in rows {
        let c = r.comparison.as_ref();
        w.write_record([
            r.a.clone(),
            r.b.clone(),
            r.metric.clone(),
            r.unit.clone(),
            cell(r.median_a),
            cell(r.median_b),
            cell(r.change_pct),
            c.map(|c| c.test.as_str()).unwrap_or_default().to_string(),
            cell(c.and_then(|c| c.statistic)),
            cell(c.and_then(|c| c.p_value)),
            cell(c.and_then(|c| c.p_holm)),
            cell(c.and_then(|c| c.cohens_d)),
            cell(c.and_then(|c| c.cliffs_delta)),
            r.sentence(),
        ])?;
    }
    w.into_inner().map_err(|e| anyhow::anyhow!("{}", e.error()))
}
