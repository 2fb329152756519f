//! `violin`: one plot per metric, as `violin-<metric>.svg` and `.png` in the output
//! folder: groups side by side on one axis, or each on its own scale when a shared axis
//! would flatten some of them (`layout`).

use super::options::Options;
use super::{select_metrics, Context};
use crate::analysis::plot::{font, violin};

pub const OPTIONS: &[(&str, &str)] = &[
    ("metrics", "metric keys to plot (default: all)"),
    ("formats", "any of \"svg\", \"png\" (default both)"),
    ("width", "pixels (default 1000)"),
    ("height", "pixels (default 650)"),
    ("layout", "\"auto\" (default: own scales when a group would be a sliver on a shared axis), \"shared\" (the study's) or \"per-group\""),
];

/// The `layout` option.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LayoutChoice {
    Auto,
    Fixed(violin::Layout),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    pub metrics: Option<Vec<String>>,
    pub svg: bool,
    pub png: bool,
    pub size: (u32, u32),
    pub layout: LayoutChoice,
}

impl Config {
    pub fn parse(opts: &Options) -> anyhow::Result<Self> {
        let formats = opts
            .strings("formats")?
            .unwrap_or_else(|| vec!["svg".into(), "png".into()]);
        if let Some(bad) = formats.iter().find(|f| *f != "svg" && *f != "png") {
            return Err(opts.error(format!(
                "option `formats`: unknown format {bad:?}; known: \"svg\", \"png\""
            )));
        }
        let px = |key: &str, default: f64| -> anyhow::Result<u32> {
            Ok(opts
                .number_where(key, "between 200 and 8000 pixels", |v| {
                    (200.0..=8000.0).contains(&v)
                })?
                .unwrap_or(default) as u32)
        };
        Ok(Config {
            metrics: opts.strings("metrics")?,
            svg: formats.iter().any(|f| f == "svg"),
            png: formats.iter().any(|f| f == "png"),
            size: (px("width", 1000.0)?, px("height", 650.0)?),
            layout: match opts
                .choice("layout", &["auto", "shared", "per-group"])?
                .as_deref()
            {
                Some("shared") => LayoutChoice::Fixed(violin::Layout::Shared),
                Some("per-group") => LayoutChoice::Fixed(violin::Layout::PerGroup),
                _ => LayoutChoice::Auto,
            },
        })
    }
}

pub fn run(config: &Config, ctx: &mut Context) -> anyhow::Result<String> {
    let metrics = select_metrics(&ctx.table, "violin", &config.metrics)?;
    if let Err(why) = font::ensure() {
        ctx.summary
            .warnings
            .push(format!("violin plots skipped: {why}"));
        return Ok(format!("skipped: {why}"));
    }
    let mut written = 0;
    for m in metrics {
        let metric = ctx.table.metrics[m].clone();
        let groups: Vec<violin::ViolinGroup> = ctx
            .table
            .groups
            .iter()
            .map(|g| violin::ViolinGroup {
                name: g.clone(),
                values: ctx.table.sample(g, m),
                dropped: ctx
                    .summary
                    .dropped
                    .iter()
                    .filter(|d| d.group == *g && d.metric == metric.key)
                    .filter_map(|d| d.value)
                    .collect(),
            })
            .collect();
        let plot = violin::ViolinPlot {
            title: format!(
                "{} per run ({})",
                metric.label,
                energy_phrase(&ctx.summary.energy_source)
            ),
            y_label: metric.label_with_unit(),
            layout: match config.layout {
                LayoutChoice::Auto => violin::auto_layout(&groups),
                LayoutChoice::Fixed(layout) => layout,
            },
            groups,
            size: config.size,
        };
        let stem = format!("violin-{}", metric.key);
        if config.svg {
            violin::write_svg(&plot, &ctx.out.join(format!("{stem}.svg")))?;
            ctx.summary.files.push(format!("{stem}.svg"));
            written += 1;
        }
        if config.png {
            violin::write_png(&plot, &ctx.out.join(format!("{stem}.png")))?;
            ctx.summary.files.push(format!("{stem}.png"));
            written += 1;
        }
    }
    Ok(format!("{written} plot file(s)"))
}

/// "energy measured by EnergiBridge CPU_ENERGY (J)" from summary.json's label.
fn energy_phrase(source: &str) -> String {
    match source.split_once(": ") {
        Some(("estimate", how)) => format!("energy estimated: {how}"),
        Some((_, how)) => format!("energy measured by {how}"),
        None => format!("energy: {source}"),
    }
}
