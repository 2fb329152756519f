//! Violin plots: per group, a Gaussian kernel density (Scott's bandwidth, as SciPy's
//! `gaussian_kde`) mirrored around the group's position, the interquartile box with
//! 1.5·IQR whiskers, the median as a white dot, points beyond the whiskers as circles and
//! values dropped by `clean` as red crosses, so nothing removed is hidden.
//!
//! Two layouts: every group on one shared axis (the study's figures), or each group in its
//! own panel on its own scale ("small multiples"), for when the groups differ by far more
//! than they vary and a shared axis would flatten some violins into lines;
//! [`auto_layout`] picks between them.

use std::path::Path;

use anyhow::anyhow;
use plotters::coord::types::RangedCoordf64;
use plotters::coord::Shift;
use plotters::prelude::*;

use super::font::FAMILY;
use crate::analysis::stats;
use crate::fsx::write_atomically_with;

/// One group's values on one metric.
#[derive(Debug, Clone)]
pub struct ViolinGroup {
    pub name: String,
    pub values: Vec<f64>,
    /// Values `clean` dropped, drawn apart.
    pub dropped: Vec<f64>,
}

/// How groups share the value axis.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// One axis for all groups, side by side.
    Shared,
    /// One panel per group, each on its own scale.
    PerGroup,
}

/// One plot.
#[derive(Debug, Clone)]
pub struct ViolinPlot {
    pub title: String,
    /// Axis label with the unit, e.g. "Energy (J)".
    pub y_label: String,
    pub groups: Vec<ViolinGroup>,
    pub size: (u32, u32),
    pub layout: Layout,
}

/// On a shared axis a group whose values span less than this share of the axis is drawn
/// as a sliver: its shape cannot be seen.
const SLIVER: f64 = 0.05;

/// `PerGroup` when some group would span less than 5 % of a shared axis, else `Shared`.
pub fn auto_layout(groups: &[ViolinGroup]) -> Layout {
    let spans: Vec<f64> = groups
        .iter()
        .filter(|g| g.values.len() >= 2)
        .map(|g| {
            let (lo, hi) = min_max(g.values.iter().copied());
            hi - lo
        })
        .collect();
    let (lo, hi) = min_max(
        groups
            .iter()
            .flat_map(|g| g.values.iter().chain(&g.dropped))
            .copied(),
    );
    let axis = hi - lo;
    let narrowest = spans.iter().copied().fold(f64::INFINITY, f64::min);
    if groups.len() > 1 && axis > 0.0 && narrowest.is_finite() && narrowest < SLIVER * axis {
        Layout::PerGroup
    } else {
        Layout::Shared
    }
}

fn min_max(values: impl Iterator<Item = f64>) -> (f64, f64) {
    values.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
        (lo.min(v), hi.max(v))
    })
}

/// Seaborn's "deep" palette: distinct, and readable for most colour-blind readers.
const PALETTE: [RGBColor; 6] = [
    RGBColor(76, 114, 176),
    RGBColor(221, 132, 82),
    RGBColor(85, 168, 104),
    RGBColor(196, 78, 82),
    RGBColor(129, 114, 179),
    RGBColor(147, 120, 96),
];

/// Points along the density curve.
const GRID: usize = 128;

/// Draws `plot` into `path` as SVG, atomically (a full disk leaves no truncated file).
pub fn write_svg(plot: &ViolinPlot, path: &Path) -> anyhow::Result<()> {
    write_atomically_with(path, |tmp| {
        let root = SVGBackend::new(tmp, plot.size).into_drawing_area();
        draw(plot, &root)?;
        root.present()
            .map_err(|e| anyhow!("cannot write {}: {e}", path.display()))
    })
}

/// Draws `plot` into `path` as PNG, atomically.
pub fn write_png(plot: &ViolinPlot, path: &Path) -> anyhow::Result<()> {
    write_atomically_with(path, |tmp| {
        let root = BitMapBackend::new(tmp, plot.size).into_drawing_area();
        draw(plot, &root)?;
        root.present()
            .map_err(|e| anyhow!("cannot write {}: {e}", path.display()))
    })
}

/// Quartiles and whiskers of a sample (NumPy's linear quantiles).
struct BoxStats {
    q1: f64,
    median: f64,
    q3: f64,
    low: f64,
    high: f64,
}

fn box_stats(x: &[f64]) -> Option<BoxStats> {
    let (q1, median, q3) = (
        stats::quantile(x, 0.25)?,
        stats::median(x)?,
        stats::quantile(x, 0.75)?,
    );
    let reach = 1.5 * (q3 - q1);
    let inside = x
        .iter()
        .copied()
        .filter(|v| *v >= q1 - reach && *v <= q3 + reach);
    let low = inside.clone().fold(f64::INFINITY, f64::min);
    let high = inside.fold(f64::NEG_INFINITY, f64::max);
    Some(BoxStats {
        q1,
        median,
        q3,
        low,
        high,
    })
}

fn y_range(groups: &[&ViolinGroup]) -> (f64, f64) {
    let all = groups
        .iter()
        .flat_map(|g| g.values.iter().chain(&g.dropped))
        .copied();
    let (lo, hi) = min_max(all);
    if !lo.is_finite() {
        return (0.0, 1.0);
    }
    let span = if hi > lo {
        hi - lo
    } else {
        lo.abs().max(1.0) * 0.1
    };
    (lo - 0.12 * span, hi + 0.12 * span)
}

fn draw<DB: DrawingBackend>(plot: &ViolinPlot, root: &DrawingArea<DB, Shift>) -> anyhow::Result<()>
where
    DB::ErrorType: 'static,
{
    let e = |err: DrawingAreaErrorKind<DB::ErrorType>| anyhow!("plotting failed: {err}");
    root.fill(&WHITE).map_err(e)?;
    let all: Vec<&ViolinGroup> = plot.groups.iter().collect();
    match plot.layout {
        Layout::Shared => draw_panel(root, &all, 0, Some(&plot.title), &plot.y_label, true),
        Layout::PerGroup => {
            // Narrow panels have no room for a legend box: the title says it instead.
            let dropped = if all.iter().any(|g| !g.dropped.is_empty()) {
                "; red ×: dropped by clean"
            } else {
                ""
            };
            let title = format!("{} — each group on its own scale{dropped}", plot.title);
            // About 0.48 em per character: shrink a long title to fit the width.
            let fit = (plot.size.0 as f64 / (0.48 * title.chars().count() as f64)).floor();
            let size = fit.clamp(12.0, 22.0);
            let area = root
                .titled(&title, (FAMILY, size).into_font().style(FontStyle::Bold))
                .map_err(e)?;
            let panels = area.split_evenly((1, all.len().max(1)));
            for (i, (panel, group)) in panels.iter().zip(&all).enumerate() {
                draw_panel(panel, &[*group], i, None, &plot.y_label, false)?;
            }
            Ok(())
        }
    }
}

/// The chart type every panel draws on: group positions across, values up.
type Chart<'a, DB> = ChartContext<'a, DB, Cartesian2d<RangedCoordf64, RangedCoordf64>>;

/// One chart: `groups` side by side on one axis, colours from palette index `first`.
fn draw_panel<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    groups: &[&ViolinGroup],
    first: usize,
    caption: Option<&str>,
    y_label: &str,
    legend: bool,
) -> anyhow::Result<()>
where
    DB::ErrorType: 'static,
{
    let e = |err: DrawingAreaErrorKind<DB::ErrorType>| anyhow!("plotting failed: {err}");
    let (y0, y1) = y_range(groups);
    let mut chart = panel_axes(root, groups, caption, y_label, (y0, y1))?;
    let mut any_dropped = false;
    for (i, group) in groups.iter().enumerate() {
        let x = i as f64;
        let color = PALETTE[(first + i) % PALETTE.len()];
        if let Some(outline) = density_outline(&group.values, x, (y0, y1)) {
            let body = Polygon::new(outline.clone(), color.mix(0.45).filled());
            chart.draw_series(std::iter::once(body)).map_err(e)?;
            let edge = PathElement::new(outline, color.stroke_width(2));
            chart.draw_series(std::iter::once(edge)).map_err(e)?;
        }
        if let Some(b) = box_stats(&group.values) {
            draw_box(&mut chart, &b, &group.values, x, color)?;
        }
        if !group.dropped.is_empty() {
            let crosses = group
                .dropped
                .iter()
                .map(|v| Cross::new((x, *v), 5, RED.stroke_width(2)));
            let series = chart.draw_series(crosses).map_err(e)?;
            if !any_dropped {
                series
                    .label("dropped by clean")
                    .legend(|(lx, ly)| Cross::new((lx, ly), 5, RED.stroke_width(2)));
                any_dropped = true;
            }
        }
    }
    if any_dropped && legend {
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperRight)
            .label_font((FAMILY, 15))
            .background_style(WHITE.mix(0.85))
            .border_style(RGBColor(180, 180, 180))
            .draw()
            .map_err(e)?;
    }
    Ok(())
}

/// The panel's chart with its caption, group names across and a value axis whose large
/// values share one power of ten on the label, not one per tick.
fn panel_axes<'a, DB: DrawingBackend>(
    root: &'a DrawingArea<DB, Shift>,
    groups: &[&ViolinGroup],
    caption: Option<&str>,
    y_label: &str,
    (y0, y1): (f64, f64),
) -> anyhow::Result<Chart<'a, DB>>
where
    DB::ErrorType: 'static,
{
    let e = |err: DrawingAreaErrorKind<DB::ErrorType>| anyhow!("plotting failed: {err}");
    let k = groups.len().max(1);
    let exponent = engineering_exponent(y0.abs().max(y1.abs()));
    let scale = 10f64.powi(exponent);
    let y_label = scaled_label(y_label, exponent);
    let names: Vec<String> = groups
        .iter()
        .map(|g| format!("{} (n = {})", g.name, g.values.len()))
        .collect();
    let mut builder = ChartBuilder::on(root);
    if let Some(caption) = caption {
        builder.caption(caption, (FAMILY, 22).into_font().style(FontStyle::Bold));
    }
    let mut chart = builder
        .margin(20)
        .x_label_area_size(45)
        .y_label_area_size(95)
        .build_cartesian_2d(-0.5f64..(k as f64 - 0.5), y0..y1)
        .map_err(e)?;
    let label_at = |x: &f64| -> String {
        let i = x.round();
        if (x - i).abs() < 1e-6 && i >= 0.0 {
            names.get(i as usize).cloned().unwrap_or_default()
        } else {
            String::new()
        }
    };
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_labels(k)
        .x_label_formatter(&label_at)
        .y_labels(8)
        .y_label_formatter(&|v| tick(*v / scale, (y1 - y0) / scale))
        .y_desc(&y_label)
        .label_style((FAMILY, 16))
        .axis_desc_style((FAMILY, 17))
        .light_line_style(WHITE)
        .bold_line_style(RGBColor(220, 220, 220))
        .draw()
        .map_err(e)?;
    Ok(chart)
}

/// `Energy (J)` with exponent 3 → `Energy (×10³ J)`.
fn scaled_label(y_label: &str, exponent: i32) -> String {
    match exponent {
        0 => y_label.to_string(),
        e => match y_label.rfind('(') {
            Some(i) => format!(
                "{}(×10{} {}",
                &y_label[..i],
                superscript(e),
                &y_label[i + 1..]
            ),
            None => format!("{y_label} (×10{})", superscript(e)),
        },
    }
}

/// The box inside a violin: whiskers, the interquartile box, the median as a white dot, and
/// the values beyond the whiskers as circles in the group's colour.
fn draw_box<DB: DrawingBackend>(
    chart: &mut Chart<'_, DB>,
    b: &BoxStats,
    values: &[f64],
    x: f64,
    color: RGBColor,
) -> anyhow::Result<()>
where
    DB::ErrorType: 'static,
{
    let e = |err: DrawingAreaErrorKind<DB::ErrorType>| anyhow!("plotting failed: {err}");
    let dark = RGBColor(40, 40, 40);
    let whisker = PathElement::new(vec![(x, b.low), (x, b.high)], dark.stroke_width(2));
    chart.draw_series(std::iter::once(whisker)).map_err(e)?;
    let quartiles = Rectangle::new([(x - 0.035, b.q1), (x + 0.035, b.q3)], dark.filled());
    chart.draw_series(std::iter::once(quartiles)).map_err(e)?;
    let dot = Circle::new((x, b.median), 5, WHITE.filled());
    chart.draw_series(std::iter::once(dot)).map_err(e)?;
    let ring = Circle::new((x, b.median), 5, dark.stroke_width(1));
    chart.draw_series(std::iter::once(ring)).map_err(e)?;
    let outlying = values.iter().filter(|v| **v < b.low || **v > b.high);
    chart
        .draw_series(outlying.map(|v| Circle::new((x, *v), 4, color.stroke_width(2))))
        .map_err(e)?;
    Ok(())
}

/// The violin's closed outline: the density scaled so its widest point is 0.4 wide on
/// each side, cut two bandwidths beyond the data (as seaborn does) and to the axes.
fn density_outline(values: &[f64], x: f64, (y0, y1): (f64, f64)) -> Option<Vec<(f64, f64)>> {
    let d = stats::describe(values)?;
    let sd = d.std.filter(|s| *s > 0.0)?;
    let bandwidth = sd * (values.len() as f64).powf(-0.2);
    let (lo, hi) = (
        (d.min - 2.0 * bandwidth).max(y0),
        (d.max + 2.0 * bandwidth).min(y1),
    );
    let grid: Vec<f64> = (0..GRID)
        .map(|j| lo + (hi - lo) * j as f64 / (GRID - 1) as f64)
        .collect();
    let density = stats::gaussian_kde(values, &grid)?;
    let peak = density.iter().copied().fold(0.0, f64::max);
    if !(peak > 0.0 && peak.is_finite()) {
        return None;
    }
    let half: Vec<f64> = density.iter().map(|v| 0.4 * v / peak).collect();
    let mut outline: Vec<(f64, f64)> = grid.iter().zip(&half).map(|(y, w)| (x - w, *y)).collect();
    outline.extend(grid.iter().zip(&half).rev().map(|(y, w)| (x + w, *y)));
    Some(outline)
}

/// Axis ticks: as many decimals as the axis span needs to tell ticks apart, no more.
fn tick(v: f64, span: f64) -> String {
    let step = span / 8.0;
    let decimals = if step > 0.0 && step.is_finite() {
        (-step.log10()).ceil().clamp(0.0, 6.0) as usize
    } else {
        3
    };
    format!("{v:.decimals$}")
}

/// 0 below a million, else the multiple of 3 at or below log10(x).
fn engineering_exponent(x: f64) -> i32 {
    if !(x.is_finite() && x >= 1e6) {
        return 0;
    }
    (x.log10() / 3.0).floor() as i32 * 3
}

fn superscript(n: i32) -> String {
    n.to_string()
        .chars()
        .map(|c| match c {
            '-' => '⁻',
            '0' => '⁰',
            '1' => '¹',
            '2' => '²',
            '3' => '³',
            '4' => '⁴',
            '5' => '⁵',
            '6' => '⁶',
            '7' => '⁷',
            '8' => '⁸',
            _ => '⁹',
        })
        .collect()
}
