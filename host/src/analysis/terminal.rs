//! The short summary `host analyze` prints: the findings (when a `findings` step ran),
//! then medians per group, each comparison's test and p, and who wins (the lowest median,
//! when the difference is significant).

use std::io::{self, Write};

use super::format::{self, opt};
use super::ingest::grouped_reasons;
use super::summary::{reason_kind, Dropped, Summary, TestKind};

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
    print_columns(s, w)?;
    writeln!(
        w,
        "runs analysed: {}; ignored: {}; dropped: {}",
        runs.join(", "),
        s.ignored.len(),
        dropped_count(s)
    )?;
    print_ignored(s, w)?;
    print_dropped(s, w)?;
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
    print_per_node(s, w)?;
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
        let test = if c.test == TestKind::Welch {
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

/// The EnergiBridge columns the total adds and how, then those left out and why; columns
/// treated alike share one entry.
fn print_columns(s: &Summary, w: &mut dyn Write) -> io::Result<()> {
    if s.energy_columns.is_empty() {
        return Ok(());
    }
    for (in_total, title) in [(true, "added"), (false, "not added")] {
        let mut alike: Vec<(&str, Vec<&str>)> = Vec::new();
        for c in s.energy_columns.iter().filter(|c| c.in_total == in_total) {
            let how = if in_total { &c.how } else { &c.why };
            match alike.iter_mut().find(|(h, _)| h == how) {
                Some((_, columns)) if !columns.contains(&c.column.as_str()) => {
                    columns.push(&c.column)
                }
                Some(_) => {}
                None => alike.push((how, vec![&c.column])),
            }
        }
        if alike.is_empty() {
            continue;
        }
        let parts: Vec<String> = alike
            .iter()
            .map(|(how, columns)| format!("{} ({how})", columns.join(", ")))
            .collect();
        writeln!(w, "energy columns {title}: {}", parts.join("; "))?;
    }
    Ok(())
}

/// "2 runs and 7 values in 6 runs", "7 values in 6 runs", "0".
fn dropped_count(s: &Summary) -> String {
    let runs = s.dropped.iter().filter(|d| d.metric == "*").count();
    let values: Vec<&Dropped> = s.dropped.iter().filter(|d| d.metric != "*").collect();
    let mut parts = Vec::new();
    if runs > 0 {
        parts.push(format!("{runs} run(s)"));
    }
    if !values.is_empty() {
        parts.push(format!(
            "{} value(s) in {} run(s)",
            values.len(),
            distinct_runs(&values)
        ));
    }
    if parts.is_empty() {
        "0".to_string()
    } else {
        parts.join(" and ")
    }
}

fn distinct_runs(drops: &[&Dropped]) -> usize {
    let mut runs: Vec<(&str, &str)> = drops
        .iter()
        .map(|d| (d.group.as_str(), d.run.as_str()))
        .collect();
    runs.sort_unstable();
    runs.dedup();
    runs.len()
}

/// Why each ignored run was ignored, one line per distinct reason.
fn print_ignored(s: &Summary, w: &mut dyn Write) -> io::Result<()> {
    if s.ignored.is_empty() {
        return Ok(());
    }
    writeln!(w, "ignored:")?;
    for line in grouped_reasons(&s.ignored) {
        writeln!(w, "  {line}")?;
    }
    Ok(())
}

/// Why each run or value was dropped, one line per kind of reason (the text before its first
/// `: `), naming the runs; a reason met once is printed whole.
fn print_dropped(s: &Summary, w: &mut dyn Write) -> io::Result<()> {
    let mut kinds: Vec<(&str, Vec<&Dropped>)> = Vec::new();
    for d in &s.dropped {
        let kind = reason_kind(&d.reason);
        match kinds.iter_mut().find(|(k, _)| *k == kind) {
            Some((_, list)) => list.push(d),
            None => kinds.push((kind, vec![d])),
        }
    }
    if kinds.is_empty() {
        return Ok(());
    }
    writeln!(w, "dropped:")?;
    for (kind, drops) in kinds {
        let runs = distinct_runs(&drops);
        let what = if drops[0].metric == "*" {
            format!("{runs} run(s)")
        } else {
            format!("{} value(s) in {runs} run(s)", drops.len())
        };
        if drops.len() == 1 {
            let d = drops[0];
            let metric = if d.metric == "*" {
                String::new()
            } else {
                format!(" {}", d.metric)
            };
            writeln!(w, "  {what}: {} {}{metric}: {}", d.group, d.run, d.reason)?;
            continue;
        }
        let mut named: Vec<String> = Vec::new();
        for d in &drops {
            let label = format!("{} {}", d.group, d.run);
            match named
                .iter_mut()
                .find(|n| n.starts_with(&format!("{label} (")))
            {
                Some(n) => {
                    n.pop();
                    n.push_str(&format!(", {})", d.metric));
                }
                None if d.metric == "*" => named.push(label),
                None => named.push(format!("{label} ({})", d.metric)),
            }
        }
        writeln!(w, "  {what}: {kind}: {}", named.join(", "))?;
    }
    Ok(())
}

/// Merged shards: each node's median energy and time beside the pooled ones.
fn print_per_node(s: &Summary, w: &mut dyn Write) -> io::Result<()> {
    if s.per_node.is_empty() {
        return Ok(());
    }
    writeln!(w, "\nper node (median energy J, time s)")?;
    for r in &s.per_node {
        writeln!(
            w,
            "  {:<12} {:<14} n = {:<3} {:>12} {:>12}",
            r.group,
            r.node,
            r.n,
            opt(r.energy_median, format::num),
            opt(r.time_median, format::num)
        )?;
    }
    Ok(())
}
