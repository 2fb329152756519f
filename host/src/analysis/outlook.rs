//! What earlier campaigns say before a new one runs (`host run --dry-run`): the runs per
//! plugin the `power` step recommends on their runs (its defaults: 80 % power, a 5 %
//! minimum effect, Bonferroni over the comparisons), and, for a sequential design, how many
//! iterations it should take — expected, by replaying the design on campaigns resampled
//! from the earlier runs, against its maximum (the last look).
//!
//! The resampling draws each plugin's runs with replacement from its earlier values of the
//! design's metric (as a look reads them: `ok` rows, before `clean`), so the expectation
//! holds for differences and spreads like those already seen, not for any effect.

use std::path::PathBuf;

use super::answers::PowerReport;
use super::ingest::{self, IngestOptions};
use super::metrics::{self, WrapPolicy};
use super::sequential::{decide, Design};
use super::stats::Rng;
use super::steps::{self, Context, StepSpec};

/// Campaigns resampled for the expected iterations.
pub const REPLICATIONS: usize = 200;
const SEED: u64 = 42;

/// Iterations a sequential design is expected to take.
#[derive(Debug, Clone, PartialEq)]
pub struct Expected {
    /// Mean over the resampled campaigns of the iterations at the stop.
    pub mean: f64,
    /// The last look: the most it can take.
    pub maximum: usize,
    /// Share of resampled campaigns that stopped before the last look.
    pub early: f64,
    pub replications: usize,
}

/// The earlier runs of `plugins` in `inputs`, read as the analysis reads them.
fn pilot(inputs: &[PathBuf], plugins: &[String]) -> anyhow::Result<ingest::Ingested> {
    let mut ingested = ingest::load_all(inputs, &IngestOptions::default())?;
    ingested.runs.retain(|r| plugins.contains(&r.group));
    ingested.groups.retain(|g| plugins.contains(g));
    Ok(ingested)
}

/// The `power` step's report on the earlier runs of `plugins` (after `clean` and `compare`,
/// all with their defaults). Nothing is written.
pub fn runs_needed(inputs: &[PathBuf], plugins: &[String]) -> anyhow::Result<PowerReport> {
    let ingested = pilot(inputs, plugins)?;
    let specs: Vec<StepSpec> = ["clean", "compare", "power"]
        .into_iter()
        .map(StepSpec::named)
        .collect();
    let plan = steps::parse(&specs)?;
    // No step of these writes a file: the output folder is never created.
    let mut ctx = Context::new(ingested, PathBuf::new());
    for step in &plan.steps {
        step.run(&mut ctx)?;
    }
    ctx.finish()
        .power
        .ok_or_else(|| anyhow::anyhow!("the power step gave no report"))
}

/// The iterations `design` is expected to take on campaigns like those in `inputs`;
/// `Err` says why it cannot tell (a plugin with fewer than 2 earlier runs).
pub fn expected_iterations(
    inputs: &[PathBuf],
    plugins: &[String],
    design: &Design,
) -> anyhow::Result<Expected> {
    let ingested = pilot(inputs, plugins)?;
    let (table, _faults) = metrics::derive(&ingested, WrapPolicy::default());
    let Some(m) = table.metrics.iter().position(|x| x.key == design.metric) else {
        anyhow::bail!("the earlier runs have no `{}`", design.metric);
    };
    let mut pilots: Vec<(String, Vec<f64>)> = Vec::new();
    for plugin in plugins {
        let values: Vec<f64> = table
            .rows
            .iter()
            .filter(|r| &r.group == plugin)
            .filter_map(|r| r.values.get(m).copied().flatten())
            .collect();
        if values.len() < 2 {
            anyhow::bail!("{plugin} has {} earlier run(s), needs 2", values.len());
        }
        pilots.push((plugin.clone(), values));
    }
    Ok(simulate(design, &pilots, REPLICATIONS, SEED))
}

/// Replays `design` on `replications` campaigns drawn with replacement from `pilots`.
pub fn simulate(
    design: &Design,
    pilots: &[(String, Vec<f64>)],
    replications: usize,
    seed: u64,
) -> Expected {
    let maximum = design.looks.last().copied().unwrap_or(0);
    let (mut total, mut early) = (0usize, 0usize);
    for r in 0..replications {
        let mut rng = Rng::stream(seed, r as u64);
        let campaign: Vec<(String, Vec<f64>)> = pilots
            .iter()
            .map(|(name, values)| {
                let drawn = (0..maximum)
                    .map(|_| values[rng.below(values.len())])
                    .collect();
                (name.clone(), drawn)
            })
            .collect();
        let n = decide(design, &campaign)
            .runs_per_group()
            .unwrap_or(maximum);
        total += n;
        early += usize::from(n < maximum);
    }
    Expected {
        mean: total as f64 / replications.max(1) as f64,
        maximum,
        early: early as f64 / replications.max(1) as f64,
        replications,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::stats::Spending;

    fn spread(centre: f64) -> Vec<f64> {
        (0..8).map(|i| centre + (i as f64 - 3.5) * 0.5).collect()
    }

    #[test]
    fn far_apart_pilots_are_expected_to_stop_at_the_first_look_and_equal_ones_at_the_last() {
        let design = Design::new("energy", &[5, 10, 20], 0.05, Spending::OBrienFleming, 2).unwrap();
        let apart = [
            ("a".to_string(), spread(100.0)),
            ("b".to_string(), spread(200.0)),
        ];
        let e = simulate(&design, &apart, 50, 1);
        // Every resampled campaign stops early: at 5 when its draws pass Shapiro–Wilk
        // (Welch decides at once), at 10 otherwise (Mann–Whitney's smallest p at 5 + 5 runs,
        // 0.008, is above the first look's level).
        assert_eq!((e.maximum, e.early), (20, 1.0));
        assert!((5.0..10.0).contains(&e.mean), "{e:?}");
        // Drawn from the same values, pairs are rarely decided: nearly every campaign runs
        // to the last look (an early stop here would be a false positive, rate ≤ alpha).
        let same = [
            ("a".to_string(), spread(100.0)),
            ("b".to_string(), spread(100.0)),
        ];
        let e = simulate(&design, &same, 50, 1);
        assert!(e.early <= 0.1 && e.mean > 18.0, "{e:?}");
    }
}
