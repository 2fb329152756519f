//! `[experiment] stop = { metric, looks, spending, alpha }`: the opt-in sequential design
//! `host run` applies while measuring (see [`crate::analysis::sequential`]). Checked here,
//! once, with errors naming the key and its line; the campaign builds its
//! [`Design`](crate::analysis::sequential::Design) from the result.

use toml::Spanned;

use super::raw::RawStop;
use super::source::Source;
use super::StopRule;
use crate::analysis::metrics::base_metrics;
use crate::analysis::sequential::Design;
use crate::analysis::stats::Spending;

/// The validated rule, or `None` when the manifest has no `stop`. `iterations` and `plugins`
/// are the manifest's: the last look must fit in the iterations, and there must be pairs.
pub(super) fn rule(
    src: Source,
    stop: Option<Spanned<RawStop>>,
    iterations: u32,
    plugins: usize,
) -> anyhow::Result<Option<StopRule>> {
    let Some(stop) = stop else {
        return Ok(None);
    };
    let table_line = src.line(stop.span());
    let raw = stop.into_inner();
    let at = |value_span: std::ops::Range<usize>, key: &str, why: String| {
        src.error(
            src.line(value_span),
            format!("[experiment] `stop.{key}`: {why}"),
        )
    };
    let metric = metric(&raw.metric).map_err(|why| at(raw.metric.span(), "metric", why))?;
    let looks: Vec<usize> = raw.looks.get_ref().iter().map(|&n| n as usize).collect();
    check_looks(&looks, iterations).map_err(|why| at(raw.looks.span(), "looks", why))?;
    let spending = match &raw.spending {
        None => Spending::OBrienFleming,
        Some(s) => spending(s.get_ref()).map_err(|why| at(s.span(), "spending", why))?,
    };
    let alpha = match &raw.alpha {
        None => 0.05,
        Some(a) if *a.get_ref() > 0.0 && *a.get_ref() < 1.0 => *a.get_ref(),
        Some(a) => {
            let why = format!("{} is not between 0 and 1", a.get_ref());
            return Err(at(a.span(), "alpha", why));
        }
    };
    if plugins < 2 {
        return Err(src.error(
            table_line,
            "[experiment] `stop` compares plugins pair by pair, so it needs at least 2 [[plugin]] \
             entries",
        ));
    }
    let rule = StopRule {
        metric,
        looks,
        spending,
        alpha,
    };
    // What the campaign will build; refused here rather than after the first runs.
    rule.design(plugins)
        .map_err(|why| src.error(table_line, format!("[experiment] `stop`: {why}")))?;
    Ok(Some(rule))
}

/// One of the metrics every campaign yields (`time`, `energy`, `power`, `edp`).
fn metric(name: &Spanned<String>) -> Result<String, String> {
    let known: Vec<String> = base_metrics().into_iter().map(|m| m.key).collect();
    let name = name.get_ref();
    if known.contains(name) {
        Ok(name.clone())
    } else {
        Err(format!(
            "`{name}` is not a metric a campaign records; use one of {}",
            known.join(", ")
        ))
    }
}

/// At least two looks, each of at least 2 runs per plugin, strictly increasing, the last
/// within the campaign's iterations.
fn check_looks(looks: &[usize], iterations: u32) -> Result<(), String> {
    if looks.len() < 2 {
        return Err(format!(
            "{looks:?} has {} look(s); a sequential design needs at least 2 (one look is a \
             fixed design: set `iterations` instead)",
            looks.len()
        ));
    }
    if looks[0] < 2 {
        return Err(format!(
            "the first look is at {} iteration(s); a test needs at least 2 runs per plugin",
            looks[0]
        ));
    }
    if let Some(w) = looks.windows(2).find(|w| w[0] >= w[1]) {
        return Err(format!(
            "{looks:?} must increase strictly ({} then {})",
            w[0], w[1]
        ));
    }
    let last = looks[looks.len() - 1];
    if last > iterations as usize {
        return Err(format!(
            "the last look ({last}) is after the campaign's {iterations} iteration(s); raise \
             `iterations` to at least {last} or drop the later looks"
        ));
    }
    Ok(())
}

fn spending(name: &str) -> Result<Spending, String> {
    Spending::from_name(name).ok_or_else(|| {
        let names: Vec<String> = Spending::ALL
            .iter()
            .map(|s| format!("\"{}\"", s.name()))
            .collect();
        format!("`{name}` is not known; use {}", names.join(" or "))
    })
}

impl StopRule {
    /// The design for `groups` plugins (the campaign's, once optional ones are settled).
    pub fn design(&self, groups: usize) -> Result<Design, String> {
        Design::new(&self.metric, &self.looks, self.alpha, self.spending, groups)
    }
}
