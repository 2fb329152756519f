//! `report`: report.html, self-contained, with everything the summary knows so far
//! (put it after the steps whose results it should show). summary.json is written at
//! the end of every analysis, with or without this step.

use super::options::Options;
use super::Context;
use crate::analysis::report::html;

pub const OPTIONS: &[(&str, &str)] =
    &[("title", "the page's title (default \"Energy comparison\")")];

#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    pub title: String,
}

impl Config {
    pub fn parse(opts: &Options) -> anyhow::Result<Self> {
        Ok(Config {
            title: opts
                .string("title")?
                .unwrap_or_else(|| "Energy comparison".into()),
        })
    }
}

pub fn run(config: &Config, ctx: &mut Context) -> anyhow::Result<String> {
    ctx.count_runs();
    ctx.update_per_node();
    let page = html::render(&config.title, &ctx.summary, &ctx.table, &ctx.out);
    let path = ctx.out.join("report.html");
    crate::fsx::write_atomically(&path, page.as_bytes())?;
    ctx.summary.files.push("report.html".into());
    Ok("report.html".into())
}
