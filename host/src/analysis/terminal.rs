//! The short summary `host analyze` prints: the findings (when a `findings` step ran),
//! then medians per group, each comparison's test and p, and who wins (the lowest median,
//! when the difference is significant).

use std::io::{self, Write};

use super::format::{self, opt};
use super::summary::Summary;

pub fn print(s: &Summary, w: &mut dyn Write) -> io::Result<()> {
    // The answers first (issue 18); the figures behind them follow.
    super::report::findings::print_terminal(s, w)?;
    let groups: Vec<&str> = s.groups.iter().map(|(g, _)| g).collect();
    let runs: Vec<String> = s
        .runs
        .iter()
        .map(|(g, c)| format!("{g} {}", c.analysed))
        .collect();
    writeln!(w, "energy {}", s.energy_source)?;
    writeln!(
        w,
        "runs analysed: {}; ignored: {}; dropped: {}",
        runs.join(", "),
        s.ignored.len(),
        s.dropped.len()
    )?;
    for warning in &s.warnings {
        writeln!(w, "warning: {warning}")?;
    }
    let width = s
        .metrics
        .iter()
        .map(|m| m.label_with_unit().chars().count())
        .max()
        .unwrap_or(6)
        .max(6);
    write!(w, "\nmedian{}", " ".repeat(width - 6))?;
    for g in &groups {
        write!(w, " {g:>14}")?;
    }
    writeln!(w)?;
    for metric in &s.metrics {
        let label = metric.label_with_unit();
        write!(w, "{label}{}", " ".repeat(width - label.chars().count()))?;
        for g in &groups {
            let median = s
                .groups
                .get(g)
                .and_then(|m| m.get(&metric.key))
                .and_then(|m| m.median);
            write!(w, " {:>14}", opt(median, format::num))?;
        }
        writeln!(w)?;
    }
    if !s.comparisons.is_empty() {
        let alpha = s.comparisons[0].alpha;
        writeln!(
            w,
            "\ntests (two-sided; alpha {alpha}; p {}):",
            s.holm_words()
        )?;
    }
    let mut metric = "";
    for (i, c) in s.comparisons.iter().enumerate() {
        if c.metric != metric {
            metric = &c.metric;
            writeln!(w, "{metric}")?;
            // Pairs without a p-value are summed up in one line per metric, not listed.
            let untested: Vec<&str> = s.comparisons[i..]
                .iter()
                .take_while(|x| x.metric == c.metric)
                .filter(|x| x.p_value.is_none())
                .map(|x| {
                    x.reasons
                        .get("p_value")
                        .map_or("no p-value", String::as_str)
                })
                .collect();
            if let Some(first) = untested.first() {
                writeln!(w, "  {} pair(s) not tested: {first}", untested.len())?;
            }
        }
        if c.p_value.is_none() {
            continue;
        }
        let test = if c.test == "welch" {
            "Welch t"
        } else {
            "Mann–Whitney U"
        };
        let verdict = match (c.significant, c.median_a.zip(c.median_b)) {
            (Some(true), Some((a, b))) if a < b => format!("{} lower", c.a),
            (Some(true), Some((a, b))) if b < a => format!("{} lower", c.b),
            (Some(true), _) => "significant".to_string(),
            (Some(false), _) => "no significant difference".to_string(),
            (None, _) => "not tested".to_string(),
        };
        let pair = format!(
            "{} {} vs {} {}, {}",
            c.a,
            opt(c.median_a, |x| format::with_unit(x, &c.unit)),
            c.b,
            opt(c.median_b, |x| format::with_unit(x, &c.unit)),
            opt(c.median_change_pct, format::pct),
        );
        writeln!(
            w,
            "  {pair:<60} {test:<14} p = {:<9} Holm {:<9} → {verdict}",
            opt(c.p_value, format::p),
            opt(c.p_holm, format::p),
        )?;
    }
    let lowest: Vec<String> = s
        .metrics
        .iter()
        .filter_map(|m| {
            let best = groups
                .iter()
                .filter_map(|g| s.groups.get(g)?.get(&m.key)?.median.map(|v| (*g, v)))
                .min_by(|a, b| a.1.total_cmp(&b.1))?;
            Some(format!("{} {}", m.key, best.0))
        })
        .collect();
    if !lowest.is_empty() {
        writeln!(w, "\nlowest median: {}", lowest.join(" · "))?;
    }
    Ok(())
}
