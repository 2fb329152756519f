//! Per-node medians beside the pooled ones: when the runs of a group were measured on several
//! machines (a campaign sharded across a cluster), each node's median energy and time is shown
//! next to the group's pooled median, so a node effect is visible instead of averaged away.
//!
//! Shown when the runs name their node (runs.csv's `node` column) and come from more than one
//! node or more than one input (merged shards).

use std::collections::HashMap;

use super::data::{RawRun, Table};
use super::stats;

/// The name a pooled row carries in place of a node.
pub const POOLED: &str = "(pooled)";

/// One group's median energy and time on one node, or pooled over all (`node` = [`POOLED`]).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct NodeMedians {
    pub group: String,
    pub node: String,
    /// Runs in the table (after `clean`) with this group and node.
    pub n: usize,
    /// Median energy (J) and time (s); `null` without values.
    pub energy_median: Option<f64>,
    pub time_median: Option<f64>,
}

/// The per-node and pooled medians of every group of `table`, nodes read from `runs`; empty
/// when they should not be shown (see the module documentation).
pub fn per_node(table: &Table, runs: &[RawRun], inputs: usize) -> Vec<NodeMedians> {
    let node_of: HashMap<(&str, &str), &str> = runs
        .iter()
        .filter(|r| !r.node.is_empty())
        .map(|r| ((r.group.as_str(), r.run.as_str()), r.node.as_str()))
        .collect();
    let mut nodes: Vec<&str> = node_of.values().copied().collect();
    nodes.sort_unstable();
    nodes.dedup();
    if nodes.is_empty() || (nodes.len() < 2 && inputs < 2) {
        return Vec::new();
    }
    let metric = |key: &str| table.metrics.iter().position(|m| m.key == key);
    let (energy, time) = (metric("energy"), metric("time"));
    let mut rows = Vec::new();
    for group in &table.groups {
        let mut add = |node: &str, keep: &dyn Fn(&str) -> bool| {
            let picked: Vec<&super::data::Row> = table
                .rows
                .iter()
                .filter(|r| &r.group == group)
                .filter(|r| {
                    keep(
                        node_of
                            .get(&(r.group.as_str(), r.run.as_str()))
                            .copied()
                            .unwrap_or(""),
                    )
                })
                .collect();
            let median = |m: Option<usize>| {
                let m = m?;
                let values: Vec<f64> = picked
                    .iter()
                    .filter_map(|r| r.values.get(m).copied().flatten())
                    .collect();
                stats::median(&values)
            };
            rows.push(NodeMedians {
                group: group.clone(),
                node: node.to_string(),
                n: picked.len(),
                energy_median: median(energy),
                time_median: median(time),
            });
        };
        for node in &nodes {
            add(node, &|n| n == *node);
        }
        add(POOLED, &|_| true);
    }
    rows.retain(|r| r.n > 0 || r.node == POOLED);
    rows
}

/// The tables.md section: one row per group and node, then the group's pooled row.
pub fn markdown(rows: &[NodeMedians]) -> String {
    if rows.is_empty() {
        return String::new();
    }
    let cell = |x: Option<f64>| x.map_or("—".to_string(), super::format::num);
    let mut md = String::from(
        "\n## Per node\n\nMedians of each node's runs beside the pooled median: a node effect \
         shows as nodes that disagree.\n\n| Group | Node | n | Energy (J) | Time (s) |\n\
         |---|---|---:|---:|---:|\n",
    );
    for r in rows {
        md.push_str(&format!(
            "| {} | {} | {} | {} | {} |\n",
            r.group,
            r.node,
            r.n,
            cell(r.energy_median),
            cell(r.time_median)
        ));
    }
    md
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::data::{Energy, Metric, Row};

    fn raw(group: &str, run: &str, node: &str) -> RawRun {
        RawRun {
            group: group.into(),
            run: run.into(),
            source: "runs.csv".into(),
            time_s: 1.0,
            meter: String::new(),
            energy: Energy::Total(1.0),
            extras: Vec::new(),
            node: node.into(),
        }
    }

    fn table(rows: &[(&str, &str, f64, f64)]) -> Table {
        Table {
            metrics: vec![
                Metric::new("time", "Time", "s"),
                Metric::new("energy", "Energy", "J"),
            ],
            groups: vec!["a".into()],
            rows: rows
                .iter()
                .map(|(g, run, t, e)| Row {
                    group: g.to_string(),
                    run: run.to_string(),
                    values: vec![Some(*t), Some(*e)],
                })
                .collect(),
        }
    }

    #[test]
    fn each_nodes_median_sits_beside_the_pooled_one() {
        let runs = [
            raw("a", "1", "n1"),
            raw("a", "2", "n2"),
            raw("a", "3", "n1"),
            raw("a", "4", "n2"),
        ];
        let t = table(&[
            ("a", "1", 1.0, 10.0),
            ("a", "2", 3.0, 30.0),
            ("a", "3", 2.0, 20.0),
            ("a", "4", 5.0, 50.0),
        ]);
        let rows = per_node(&t, &runs, 2);
        let got: Vec<(&str, usize, Option<f64>, Option<f64>)> = rows
            .iter()
            .map(|r| (r.node.as_str(), r.n, r.energy_median, r.time_median))
            .collect();
        assert_eq!(
            got,
            [
                ("n1", 2, Some(15.0), Some(1.5)),
                ("n2", 2, Some(40.0), Some(4.0)),
                (POOLED, 4, Some(25.0), Some(2.5))
            ]
        );
        let md = markdown(&rows);
        assert!(md.contains("| a | n2 | 2 | 40"), "{md}");
    }

    #[test]
    fn one_campaign_on_one_node_or_without_node_names_has_no_table() {
        let t = table(&[("a", "1", 1.0, 10.0)]);
        assert!(per_node(&t, &[raw("a", "1", "n1")], 1).is_empty());
        assert!(per_node(&t, &[raw("a", "1", "")], 3).is_empty());
        // Two shards measured on the same node still show the split (one node, pooled).
        assert_eq!(per_node(&t, &[raw("a", "1", "n1")], 2).len(), 2);
    }
}
