//! `table`: tables.md and tables.csv, per pair the medians of each metric and the %
//! change, with the test from `compare` when it ran before.

use super::options::Options;
use super::{select_metrics, Context};
use crate::analysis::per_node;
use crate::analysis::report::tables;
use crate::fsx::write_atomically;

pub const OPTIONS: &[(&str, &str)] = &[("metrics", "metric keys to tabulate (default: all)")];

#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    pub metrics: Option<Vec<String>>,
}

impl Config {
    pub fn parse(opts: &Options) -> anyhow::Result<Self> {
        Ok(Config {
            metrics: opts.strings("metrics")?,
        })
    }
}

pub fn run(config: &Config, ctx: &mut Context) -> anyhow::Result<String> {
    let metrics = select_metrics(&ctx.table, "table", &config.metrics)?;
    let rows = tables::pair_rows(&ctx.table, &ctx.summary, &metrics);
    ctx.update_per_node();
    let mut md = tables::markdown(&ctx.table, &ctx.summary, &rows, &metrics);
    md.push_str(&per_node::markdown(&ctx.summary.per_node));
    let (md_path, csv_path) = (ctx.out.join("tables.md"), ctx.out.join("tables.csv"));
    write_atomically(&md_path, md.as_bytes())?;
    write_atomically(&csv_path, &tables::csv(&rows)?)?;
    ctx.summary
        .files
        .extend(["tables.md".to_string(), "tables.csv".to_string()]);
    Ok(format!("tables.md and tables.csv: {} row(s)", rows.len()))
}
