//! report.html: one self-contained file (styles inline, plots embedded as inline SVG),
//! readable offline. It opens with how energy was obtained and the findings (with how many
//! runs they need, a sequential replay and carbon and cost when computed: see
//! [`super::html_findings`]), then the data, what was dropped, the figures, the tests
//! chosen and why, and the plots.

use std::fmt::Write as _;
use std::path::Path;

use crate::analysis::data::Table;
use crate::analysis::format::{self, opt};
use crate::analysis::report::html_findings;
use crate::analysis::report::tables::{self, test_name};
use crate::analysis::summary::Summary;

const STYLE: &str = "body{font-family:system-ui,-apple-system,'DejaVu Sans',sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222;line-height:1.45}\
h1{font-size:1.6em}h2{margin-top:2em;border-bottom:1px solid #ddd}table{border-collapse:collapse;margin:1em 0;font-size:.92em}\
th,td{border:1px solid #ddd;padding:.3em .6em;text-align:right;vertical-align:top}th{background:#f4f4f4}td.l,th.l{text-align:left}\
.banner{padding:.8em 1em;border-radius:6px;font-size:1.1em;margin:1em 0}.measured{background:#e7f5ea;border:1px solid #7cc08a}\
.estimate{background:#fff2e0;border:1px solid #e0a040}.warn{color:#a05a00}.yes{color:#186a2c;font-weight:bold}.no{color:#777}\
figure{margin:1.5em 0}figure svg{max-width:100%;height:auto}small{color:#666}\
ol.findings li{margin:.35em 0}ol.findings li.decided::marker{color:#186a2c;font-weight:bold}ol.findings li.nodiff,ol.findings li.untested{color:#555}";

/// Escapes text for HTML.
pub fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

pub fn render(title: &str, summary: &Summary, table: &Table, out: &Path) -> String {
    let mut h = String::new();
    let _ = write!(h, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{}</title><style>{STYLE}</style></head><body>\n", esc(title));
    let _ = writeln!(h, "<h1>{}</h1>", esc(title));
    banner(&mut h, summary);
    html_findings::findings(&mut h, summary);
    html_findings::runs_needed(&mut h, summary);
    html_findings::sequential(&mut h, summary);
    html_findings::carbon(&mut h, summary);
    overview(&mut h, summary);
    plugin_notes(&mut h, summary);
    dropped(&mut h, summary);
    descriptive(&mut h, summary);
    per_node(&mut h, summary);
    comparisons(&mut h, summary, table);
    plots(&mut h, summary, out);
    ignored(&mut h, summary);
    h.push_str("<p><small>Written by joulebench. Machine-readable figures: summary.json; tables: tables.md, tables.csv.</small></p>\n</body></html>\n");
    h
}

fn banner(h: &mut String, s: &Summary) {
    let (class, word) = if s.energy_estimated {
        ("estimate", "ESTIMATED")
    } else {
        ("measured", "MEASURED")
    };
    let how = s
        .energy_source
        .split_once(": ")
        .map(|(_, how)| how)
        .unwrap_or(&s.energy_source);
    let _ = write!(
        h,
        "<div class=\"banner {class}\">Energy was <strong>{word}</strong> by {}.",
        esc(how)
    );
    if s.energy_estimated {
        h.push_str(" Estimates come from CPU time and a declared TDP: compare them with care.");
    }
    h.push_str("</div>\n");
}

fn overview(h: &mut String, s: &Summary) {
    h.push_str("<h2>Data</h2>\n<p>Inputs: ");
    h.push_str(
        &s.inputs
            .iter()
            .map(|i| format!("<code>{}</code>", esc(i)))
            .collect::<Vec<_>>()
            .join(", "),
    );
    h.push_str("</p>\n<table><tr><th class=\"l\">Group</th><th>Runs analysed</th><th>Runs ignored (failed or unreadable)</th></tr>\n");
    for (g, c) in s.runs.iter() {
        let _ = writeln!(
            h,
            "<tr><td class=\"l\">{}</td><td>{}</td><td>{}</td></tr>",
            esc(g),
            c.analysed,
            c.ignored
        );
    }
    h.push_str("</table>\n<p>Pipeline:</p><ol>\n");
    for step in &s.steps {
        let _ = writeln!(
            h,
            "<li><strong>{}</strong>: {}</li>",
            esc(&step.step),
            esc(&step.note)
        );
    }
    h.push_str("</ol>\n");
    for w in &s.warnings {
        let _ = writeln!(h, "<p class=\"warn\">⚠ {}</p>", esc(w));
    }
}

/// What each plugin said about its settings (thread pools, backend, what it ignored), from
/// runs.csv's `notes`: a value that varied between runs lists its first few.
fn plugin_notes(h: &mut String, s: &Summary) {
    if s.plugin_notes.is_empty() {
        return;
    }
    h.push_str("<h2>Plugin notes</h2>\n<table><tr><th class=\"l\">Group</th><th class=\"l\">Note</th><th class=\"l\">Value</th></tr>\n");
    for (group, keys) in &s.plugin_notes {
        for (key, values) in keys {
            let shown = match values.len() {
                0..=3 => values.join(" · "),
                n => format!(
                    "{} · … ({n} values: varies by run)",
                    values[..3].join(" · ")
                ),
            };
            let _ = writeln!(
                h,
                "<tr><td class=\"l\">{}</td><td class=\"l\">{}</td><td class=\"l\">{}</td></tr>",
                esc(group),
                esc(key),
                esc(&shown)
            );
        }
    }
    h.push_str("</table>\n");
}

fn dropped(h: &mut String, s: &Summary) {
    let _ = writeln!(h, "<h2>Dropped ({})</h2>", s.dropped.len());
    if s.dropped.is_empty() {
        h.push_str("<p>Nothing was dropped.</p>\n");
        return;
    }
    h.push_str("<table><tr><th class=\"l\">Group</th><th class=\"l\">Run</th><th class=\"l\">Metric</th><th class=\"l\">Reason</th></tr>\n");
    for d in &s.dropped {
        let metric = if d.metric == "*" {
            "whole run".to_string()
        } else {
            d.metric.clone()
        };
        let _ = writeln!(
            h,
            "<tr><td class=\"l\">{}</td><td class=\"l\">{}</td><td class=\"l\">{}</td><td class=\"l\">{}</td></tr>",
            esc(&d.group),
            esc(&d.run),
            esc(&metric),
            esc(&d.reason)
        );
    }
    h.push_str("</table>\n");
}

fn descriptive(h: &mut String, s: &Summary) {
    h.push_str("<h2>Descriptive statistics</h2>\n<p>Variance and standard deviation are sample ones (ddof 1). Shapiro–Wilk after Royston (1995).</p>\n");
    for metric in &s.metrics {
        let _ = writeln!(h, "<h3>{}</h3>", esc(&metric.label_with_unit()));
        h.push_str("<table><tr><th class=\"l\">Group</th><th>n</th><th>Mean</th><th>Median</th><th>Median 95 % CI</th><th>Std</th><th>Min</th><th>Max</th><th>Shapiro W</th><th>Shapiro p</th></tr>\n");
        for (g, metrics) in s.groups.iter() {
            let Some(m) = metrics.get(&metric.key) else {
                continue;
            };
            let shapiro_note = m
                .reasons
                .get("shapiro_p")
                .map(|r| format!(" title=\"{}\"", esc(r)))
                .unwrap_or_default();
            let _ = writeln!(
                h,
                "<tr><td class=\"l\">{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td{shapiro_note}>{}</td><td{shapiro_note}>{}</td></tr>",
                esc(g),
                m.n,
                opt(m.mean, format::num),
                opt(m.median, format::num),
                m.median_ci.map_or_else(
                    || format!("<span title=\"{}\">—</span>", esc(m.reasons.get("median_ci").map_or("", String::as_str))),
                    |[lo, hi]| format!("[{}, {}]", format::num(lo), format::num(hi))
                ),
                opt(m.std, format::num),
                opt(m.min, format::num),
                opt(m.max, format::num),
                opt(m.shapiro_w, |x| format!("{x:.4}")),
                opt(m.shapiro_p, format::p),
            );
        }
        h.push_str("</table>\n");
    }
}

/// Each node's medians beside the pooled ones (merged shards); nothing for one campaign.
fn per_node(h: &mut String, s: &Summary) {
    if s.per_node.is_empty() {
        return;
    }
    h.push_str("<h2>Per node</h2>\n<p>Medians of each node's runs beside the pooled median: a node effect shows as nodes that disagree.</p>\n");
    h.push_str("<table><tr><th class=\"l\">Group</th><th class=\"l\">Node</th><th>n</th><th>Energy (J)</th><th>Time (s)</th></tr>\n");
    for r in &s.per_node {
        let _ = writeln!(
            h,
            "<tr><td class=\"l\">{}</td><td class=\"l\">{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&r.group),
            esc(&r.node),
            r.n,
            opt(r.energy_median, format::num),
            opt(r.time_median, format::num)
        );
    }
    h.push_str("</table>\n");
}

fn comparisons(h: &mut String, s: &Summary, table: &Table) {
    h.push_str("<h2>Comparisons</h2>\n");
    if s.comparisons.is_empty() {
        h.push_str("<p>No <code>compare</code> step ran.</p>\n");
        return;
    }
    let alpha = s.comparisons.first().map(|c| c.alpha).unwrap_or(0.05);
    let _ = writeln!(
        h,
        "<p>Each pair on each metric: Welch's t-test when both groups pass Shapiro–Wilk (p &gt; {alpha}), else Mann–Whitney U (two-sided). \
         Change is (median b − median a) / median a. p (Holm) is {}; significant means p (Holm) &lt; {alpha}. \
         Cliff's δ &lt; 0 means a tends to be lower than b.</p>",
        s.holm_words()
    );
    let metrics: Vec<usize> = (0..table.metrics.len()).collect();
    let rows = tables::pair_rows(table, s, &metrics);
    h.push_str("<table><tr><th class=\"l\">Metric</th><th class=\"l\">Medians and change</th><th class=\"l\">Test (why)</th><th>Statistic</th><th>p</th><th>p (Holm)</th><th>Significant</th><th>Ratio a/b [95 % CI]</th><th>Cliff's δ</th><th>Cohen's d</th></tr>\n");
    for r in rows {
        let Some(c) = &r.comparison else { continue };
        let sig = match c.significant {
            Some(true) => "<span class=\"yes\">yes</span>",
            Some(false) => "<span class=\"no\">no</span>",
            None => "—",
        };
        let _ = writeln!(
            h,
            "<tr><td class=\"l\">{}</td><td class=\"l\">{}</td><td class=\"l\">{}<br><small>{}</small></td><td>{}</td><td>{}</td><td>{}</td><td>{sig}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&r.label),
            esc(&r.sentence()),
            esc(&test_name(c)),
            esc(&c.why),
            opt(c.statistic, format::num),
            opt(c.p_value, format::p),
            opt(c.p_holm, format::p),
            ratio_cell(c),
            opt(c.cliffs_delta, |x| format!("{x:.3}")),
            opt(c.cohens_d, |x| format!("{x:.3}")),
        );
    }
    h.push_str("</table>\n");
}

/// "0.615 [0.611, 0.616]".
fn ratio_cell(c: &crate::analysis::summary::Comparison) -> String {
    match (c.median_ratio, c.ratio_ci) {
        (Some(r), Some([lo, hi])) => format!("{r:.3} {}", super::words::interval(lo, hi)),
        (Some(r), None) => format!("{r:.3}"),
        _ => "—".into(),
    }
}

fn plots(h: &mut String, s: &Summary, out: &Path) {
    let svgs: Vec<&String> = s
        .files
        .iter()
        .filter(|f| f.starts_with("violin-") && f.ends_with(".svg"))
        .collect();
    if svgs.is_empty() {
        return;
    }
    h.push_str("<h2>Distributions</h2>\n<p>Violins: kernel density (Scott's bandwidth); box: quartiles; white dot: median; whiskers: 1.5 IQR; circles: points beyond the whiskers; red crosses: values dropped by <code>clean</code>.</p>\n");
    for name in svgs {
        match std::fs::read_to_string(out.join(name)) {
            Ok(svg) => {
                // Inline, without an XML prolog, so the page carries its plots.
                let body = svg.find("<svg").map(|i| &svg[i..]).unwrap_or(&svg);
                let _ = writeln!(h, "<figure>{body}</figure>");
            }
            Err(e) => {
                let _ = writeln!(
                    h,
                    "<p class=\"warn\">cannot embed {}: {}</p>",
                    esc(name),
                    esc(&e.to_string())
                );
            }
        }
    }
}

fn ignored(h: &mut String, s: &Summary) {
    if s.ignored.is_empty() {
        return;
    }
    let _ = writeln!(h, "<h2>Ignored runs ({})</h2>", s.ignored.len());
    h.push_str("<table><tr><th class=\"l\">Group</th><th class=\"l\">Run</th><th class=\"l\">Status</th><th class=\"l\">Reason</th></tr>\n");
    for i in &s.ignored {
        let _ = writeln!(
            h,
            "<tr><td class=\"l\">{}</td><td class=\"l\">{}</td><td class=\"l\">{}</td><td class=\"l\">{}</td></tr>",
            esc(&i.group),
            esc(&i.run),
            esc(&i.status),
            esc(&i.reason)
        );
    }
    h.push_str("</table>\n");
}
