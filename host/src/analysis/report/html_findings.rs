//! The sections report.html opens with (issue 18): the findings, how many runs a
//! comparison needs, what a sequential design would have decided, and carbon and cost.
//! Each section carries an `id` (`findings`, `runs-needed`, `sequential`, `carbon`) so a
//! reader can link to it and the browser test can find it.

use std::fmt::Write as _;

use super::html::esc;
use super::words;
use crate::analysis::answers::{Needed, Verdict};
use crate::analysis::summary::{Summary, TestKind};

/// `<section id="findings">`: the ranked sentences, decided ones marked.
pub fn findings(h: &mut String, s: &Summary) {
    h.push_str("<section id=\"findings\"><h2>Findings</h2>\n");
    if let Some(stop) = &s.campaign_stop {
        let _ = writeln!(
            h,
            "<p id=\"campaign-stop\"><strong>{}</strong></p>",
            esc(stop)
        );
    }
    if s.findings.is_empty() {
        h.push_str("<p>No <code>findings</code> step ran, or there was nothing to compare.</p></section>\n");
        return;
    }
    h.push_str("<ol class=\"findings\">\n");
    for f in &s.findings {
        let class = match f.verdict {
            Verdict::Lower => "decided",
            Verdict::NoDetectableDifference => "nodiff",
            Verdict::NotTested => "untested",
        };
        let _ = writeln!(h, "<li class=\"{class}\">{}</li>", esc(&f.sentence));
    }
    h.push_str("</ol>\n");
    if let Some(b) = &s.bootstrap {
        let _ = writeln!(
            h,
            "<p><small>{:.0} % confidence intervals: of each ratio and difference of medians by {} ({} resamples per pair, each group resampled on its own, seed {}); of each group's median by {}. p-values: {}.</small></p>",
            100.0 * b.level,
            if b.method == "bca" { "BCa bootstrap" } else { "percentile bootstrap" },
            b.resamples,
            b.seed,
            esc(&b.group_interval),
            esc(&s.holm_words())
        );
    }
    h.push_str("</section>\n");
}

fn needed_cell(n: Option<&Needed>) -> String {
    match n {
        Some(Needed { runs: Some(r), .. }) => r.to_string(),
        Some(Needed {
            more_than: Some(m), ..
        }) => format!("&gt; {m}"),
        Some(Needed {
            reason: Some(why), ..
        }) => format!("<span title=\"{}\">—</span>", esc(why)),
        _ => "—".into(),
    }
}

/// `<section id="runs-needed">`: per pair, runs to detect the observed difference and the
/// declared minimum effect; per metric, the recommendation.
pub fn runs_needed(h: &mut String, s: &Summary) {
    let Some(p) = &s.power else {
        return;
    };
    let _ = writeln!(
        h,
        "<section id=\"runs-needed\"><h2>How many runs</h2>\n<p>Runs per group for {:.0} % power with the test <code>compare</code> chose, at alpha {} per comparison ({}). Welch's t-test in closed form (noncentral t); Mann–Whitney by {} simulations per size from this data (seed {}).</p>",
        100.0 * p.target,
        words::p(p.alpha),
        esc(&p.correction),
        p.replications,
        p.seed
    );
    h.push_str("<ul>\n");
    for r in &p.recommended {
        let runs = match (r.runs, r.more_than) {
            (Some(n), _) => format!("<strong>{n}</strong>"),
            (None, Some(m)) => format!("more than {m}"),
            _ => "not known".into(),
        };
        let _ = writeln!(
            h,
            "<li>{}: {runs} runs per group {}</li>",
            esc(&r.metric),
            esc(&r.why)
        );
    }
    h.push_str("</ul>\n");
    let min_label = p.min_effect_pct.map_or("—".to_string(), |e| {
        format!("to detect {}", words::percent(e))
    });
    let _ = writeln!(
        h,
        "<table><tr><th class=\"l\">Metric</th><th class=\"l\">Pair</th><th class=\"l\">Test</th><th>Observed change</th><th>Runs for the observed difference</th><th>Runs {}</th></tr>",
        esc(&min_label)
    );
    for e in &p.entries {
        let _ = writeln!(
            h,
            "<tr><td class=\"l\">{}</td><td class=\"l\">{} vs {}</td><td class=\"l\">{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&e.metric),
            esc(&e.a),
            esc(&e.b),
            match e.test {
                TestKind::Welch => "Welch t",
                TestKind::MannWhitney => "Mann–Whitney U",
            },
            e.observed.effect_pct.map_or("—".into(), crate::analysis::format::pct),
            needed_cell(Some(&e.observed)),
            needed_cell(e.min_effect.as_ref()),
        );
    }
    h.push_str("</table></section>\n");
}

/// `<section id="sequential">`: the replayed design, look by look.
pub fn sequential(h: &mut String, s: &Summary) {
    let Some(q) = &s.sequential else {
        return;
    };
    let _ = writeln!(
        h,
        "<section id=\"sequential\"><h2>Stopping early</h2>\n<p><strong>{}</strong></p>\n<p>Design: looks at {} runs per group, {} alpha spending, alpha {} in all ({} per pair); runs taken in {}.</p>",
        esc(&q.why),
        q.looks.iter().map(|n| n.to_string()).collect::<Vec<_>>().join(", "),
        esc(&q.spending),
        q.alpha,
        words::p(q.pair_alpha),
        esc(&q.order)
    );
    h.push_str("<table><tr><th>Look</th><th>Runs per group</th><th class=\"l\">Pair</th><th>p</th><th>Level spent here</th><th class=\"l\">Decided</th></tr>\n");
    for look in &q.history {
        for pair in &look.pairs {
            let _ = writeln!(
                h,
                "<tr><td>{}</td><td>{}</td><td class=\"l\">{} vs {}</td><td>{}</td><td>{}</td><td class=\"l\">{}</td></tr>",
                look.look,
                look.runs_per_group,
                esc(&pair.a),
                esc(&pair.b),
                pair.p_value.map_or("—".into(), words::p),
                words::p(pair.nominal_alpha),
                if pair.decided { "yes" } else { "not yet" }
            );
        }
    }
    h.push_str("</table></section>\n");
}

/// `<section id="carbon">`: per group and energy metric, carbon and cost per run.
pub fn carbon(h: &mut String, s: &Summary) {
    let Some(c) = &s.carbon else {
        return;
    };
    let _ = writeln!(
        h,
        "<section id=\"carbon\"><h2>Carbon and cost</h2>\n<p>{}.</p>\n<table><tr><th class=\"l\">Group</th><th class=\"l\">Metric</th><th>Median energy (J)</th><th>kWh at the wall</th><th>gCO2e per run</th><th>Cost per run ({})</th></tr>",
        esc(&c.note),
        esc(&c.factors.currency)
    );
    for row in &c.groups {
        let _ = writeln!(
            h,
            "<tr><td class=\"l\">{}</td><td class=\"l\">{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&row.group),
            esc(&row.metric),
            words::amount(row.median_j),
            words::amount(row.per_run.kwh),
            row.per_run.g_co2e.map_or("—".into(), words::amount),
            row.per_run.cost.map_or("—".into(), words::amount),
        );
    }
    h.push_str("</table></section>\n");
}
