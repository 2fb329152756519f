//! The findings in words: one sentence per metric and pair, and the blocks that lead the
//! terminal summary, tables.md and report.html — what differs, by how much, how sure, and
//! how many runs it takes. Nothing here computes statistics; the `findings` and `power`
//! steps did.

use std::io::{self, Write};

use super::words;
use crate::analysis::answers::{Factors, Finding, Needed, PowerEntry, PowerReport, Verdict};
use crate::analysis::summary::{Summary, TestKind};

/// What a sentence needs besides the finding itself.
pub struct SentenceContext<'a> {
    /// Confidence level, e.g. 0.95.
    pub level: f64,
    /// "percentile bootstrap" / "BCa bootstrap".
    pub method: &'a str,
    /// Whether p-values were Holm-adjusted.
    pub holm: bool,
    /// The significance level of the comparisons.
    pub alpha: f64,
    /// The metric's label, e.g. "Energy".
    pub label: &'a str,
    pub power: Option<&'a PowerEntry>,
    pub factors: Option<&'a Factors>,
    /// Why the pair has no p-value, for a `not tested` finding.
    pub untested: Option<&'a str>,
}

/// "used 38.5 % less energy than", by what the metric measures.
fn comparative(f: &Finding, label: &str, pct: &str) -> String {
    let what = label.to_lowercase();
    match f.unit.as_str() {
        "J" => format!("used {pct} less {what} than"),
        "s" => format!("took {pct} less {what} than"),
        "W" => format!("drew {pct} less {what} than"),
        _ => format!("had {} {pct} lower {what} than", words::article(pct)),
    }
}

/// "(measured; " / "(ESTIMATED, not measured; " / "(".
fn opening(f: &Finding) -> String {
    match f.energy.as_deref() {
        Some(source) if source.starts_with("estimate") => {
            "(ESTIMATED energy, not measured; ".into()
        }
        Some(_) => "(measured; ".into(),
        None => "(".into(),
    }
}

fn test_words(test: TestKind) -> &'static str {
    match test {
        TestKind::Welch => "Welch's t-test",
        TestKind::MannWhitney => "Mann–Whitney",
    }
}

/// "; 95 % CI of the ratio [0.611, 0.616], percentile bootstrap".
fn ci_clause(f: &Finding, cx: &SentenceContext) -> String {
    match f.ratio_ci {
        Some([lo, hi]) => format!(
            "; {:.0} % CI of the ratio {}, {}",
            100.0 * cx.level,
            words::interval(lo, hi),
            cx.method
        ),
        None => String::new(),
    }
}

/// "; Mann–Whitney p = 2.1e-13, Holm-adjusted 2.1e-12; Cliff's δ = −1".
fn test_clause(f: &Finding, cx: &SentenceContext) -> String {
    let mut s = String::new();
    if let Some(p) = f.p_value {
        s += &format!("; {} p = {}", test_words(f.test), words::p(p));
        match (cx.holm, f.p_holm) {
            (true, Some(h)) => s += &format!(", Holm-adjusted {}", words::p(h)),
            _ => s += " (not adjusted)",
        }
    }
    if let Some(d) = f.cliffs_delta {
        s += &format!("; Cliff's δ = {}", words::signed(d));
    }
    s
}

/// "; per 1,000 runs 545.5 vs 887.7 gCO2e and EUR 0.341 vs EUR 0.555, derived from …":
/// per run, or per 1,000 (or million) runs when per-run amounts would be specks.
fn carbon_clause(f: &Finding, cx: &SentenceContext) -> String {
    let (Some([l, h]), Some(factors)) = (&f.derived, cx.factors) else {
        return String::new();
    };
    let grams = l.g_co2e.zip(h.g_co2e);
    let costs = l.cost.zip(h.cost);
    if grams.is_none() && costs.is_none() {
        return String::new();
    }
    let big = |pair: Option<(f64, f64)>, floor: f64| pair.is_none_or(|(a, b)| a.max(b) >= floor);
    let (scale, per) = [
        (1.0, "per run"),
        (1e3, "per 1,000 runs"),
        (1e6, "per million runs"),
    ]
    .into_iter()
    .find(|(k, _)| {
        big(grams.map(|(a, b)| (a * k, b * k)), 1.0)
            && big(costs.map(|(a, b)| (a * k, b * k)), 0.01)
    })
    .unwrap_or((1e6, "per million runs"));
    let mut parts = Vec::new();
    if let Some((gl, gh)) = grams {
        parts.push(format!(
            "{} vs {} gCO2e",
            words::amount(gl * scale),
            words::amount(gh * scale)
        ));
    }
    if let Some((cl, ch)) = costs {
        parts.push(format!(
            "{cur} {} vs {cur} {}",
            words::amount(cl * scale),
            words::amount(ch * scale),
            cur = factors.currency
        ));
    }
    format!("; {per} {}, {}", parts.join(" and "), declared(factors))
}

/// "derived from the declared 400 gCO2e/kWh, PUE 1.2, EUR 0.25/kWh": the factors as the
/// user wrote them (shortest form), not rounded.
pub fn declared(factors: &Factors) -> String {
    let mut parts = Vec::new();
    if let Some(g) = factors.grid_g_per_kwh {
        parts.push(format!("{g} gCO2e/kWh"));
    }
    if factors.pue != 1.0 {
        parts.push(format!("PUE {}", factors.pue));
    }
    if let Some(p) = factors.price_per_kwh {
        parts.push(format!("{} {p}/kWh", factors.currency));
    }
    format!("derived from the declared {}", parts.join(", "))
}

/// "; about 12 runs per group would detect a difference this size (80 % power)".
fn runs_clause(needed: Option<&Needed>, target: f64) -> String {
    match needed {
        Some(Needed { runs: Some(n), .. }) => format!(
            "; about {n} runs per group would detect a difference this size ({:.0} % power)",
            100.0 * target
        ),
        Some(Needed {
            more_than: Some(n), ..
        }) => {
            format!("; even {n} runs per group would not reliably detect a difference this small")
        }
        _ => String::new(),
    }
}

/// The finding as one sentence (see the module documentation of `answers`).
pub fn sentence(f: &Finding, cx: &SentenceContext, power: Option<&PowerReport>) -> String {
    let unit = |x: Option<f64>| x.map_or("n/a".into(), |v| words::with_unit(v, &f.unit));
    let medians = format!(
        "median {} vs {}",
        unit(f.median_lower),
        unit(f.median_higher)
    );
    let clauses = format!(
        "{}{}{}",
        ci_clause(f, cx),
        test_clause(f, cx),
        carbon_clause(f, cx)
    );
    let what = cx.label.to_lowercase();
    let (lower, higher, open) = (&f.lower, &f.higher, opening(f));
    match f.verdict {
        Verdict::Lower => {
            let pct = f.less_pct.map_or("n/a".into(), words::percent);
            let says = comparative(f, cx.label, &pct);
            format!("{lower} {says} {higher} {open}{medians}{clauses})")
        }
        Verdict::NoDetectableDifference => {
            let target = power.map_or(0.8, |p| p.target);
            let runs = runs_clause(cx.power.map(|p| &p.observed), target);
            // Below alpha alone but not after the family's correction: say which.
            let after = match (cx.holm, f.p_value) {
                (true, Some(p)) if p < cx.alpha => " after Holm's correction",
                _ => "",
            };
            format!(
                "{lower} and {higher}: no detectable difference in {what}{after} {open}{medians}{clauses}{runs})"
            )
        }
        Verdict::NotTested => {
            let why = cx.untested.unwrap_or("no p-value");
            format!("{lower} vs {higher} on {what}: not tested, {why} {open}{medians}{clauses})")
        }
    }
}

/// The findings and runs-needed lines that open the terminal summary: every finding of the
/// first metric (energy when there is one) and every detected difference; the rest are
/// counted and left to tables.md and report.html.
pub fn print_terminal(s: &Summary, w: &mut dyn Write) -> io::Result<()> {
    if let Some(stop) = &s.campaign_stop {
        writeln!(w, "{stop}")?;
    }
    let Some(first) = s.findings.first() else {
        return Ok(());
    };
    writeln!(w, "findings (most important first):")?;
    let mut left = 0;
    for f in &s.findings {
        if f.metric == first.metric || f.verdict == Verdict::Lower {
            writeln!(w, "{:>3}. {}", f.rank, f.sentence)?;
        } else {
            left += 1;
        }
    }
    if left > 0 {
        writeln!(
            w,
            "     … and {left} more on other metrics with no detectable difference or too few runs (tables.md, report.html)"
        )?;
    }
    if let Some(power) = &s.power {
        for line in runs_needed_lines(power) {
            writeln!(w, "{line}")?;
        }
    }
    if let Some(carbon) = &s.carbon {
        writeln!(w, "carbon and cost: {}", carbon.note)?;
    }
    writeln!(w)
}

/// "runs per group for 80 % power (…): energy: 4 to detect 5 %; …".
pub fn runs_needed_lines(power: &PowerReport) -> Vec<String> {
    let mut lines = vec![format!(
        "runs needed per group for {:.0} % power at alpha {} per comparison ({}):",
        100.0 * power.target,
        words::p(power.alpha),
        power.correction
    )];
    for r in &power.recommended {
        let runs = match (r.runs, r.more_than) {
            (Some(n), _) => n.to_string(),
            (None, Some(m)) => format!("more than {m}"),
            _ => "n/a".into(),
        };
        lines.push(format!("  {}: {runs} ({})", r.metric, r.why));
    }
    lines
}

/// The `## Findings` section of tables.md.
pub fn markdown(s: &Summary) -> String {
    let stop = s
        .campaign_stop
        .as_ref()
        .map(|stop| format!("{stop}\n\n"))
        .unwrap_or_default();
    if s.findings.is_empty() {
        return stop;
    }
    let mut md = format!("## Findings\n\n{stop}");
    for f in &s.findings {
        md += &format!("{}. {}\n", f.rank, f.sentence);
    }
    if let Some(b) = &s.bootstrap {
        md += &format!(
            "\nIntervals: {:.0} % CI of each ratio and difference of medians by {} ({} resamples per pair, seed {}); of each group's median: {}.\n",
            100.0 * b.level,
            if b.method == "bca" { "BCa bootstrap" } else { "percentile bootstrap" },
            b.resamples,
            b.seed,
            b.group_interval
        );
    }
    if let Some(power) = &s.power {
        md += "\n## How many runs\n\n";
        for line in runs_needed_lines(power) {
            md += &format!("{line}\n");
        }
    }
    if let Some(carbon) = &s.carbon {
        md += &format!("\nCarbon and cost: {}.\n", carbon.note);
    }
    md + "\n"
}
