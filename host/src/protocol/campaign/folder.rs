//! The campaign's folder and what it remembers: creating it (or reopening it to resume), the
//! manifest copy, runs.csv, and campaign.json ([`CampaignState`]), saved whenever it changes.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::analysis::looks::LookLog;
use crate::analysis::sequential::Design;
use crate::error::usage;
use crate::fsx::write_atomically;
use crate::manifest::Manifest;
use crate::plan::{self, PlannedRun, Shard};
use crate::protocol::environment::Node;
use crate::store::runs_csv::{ExistingRun, RunsCsv};
use crate::store::CampaignDir;

/// What a campaign folder remembers about how it was started (campaign.json), so that
/// `--resume` recomputes the same plan and refuses an incomparable manifest.
#[derive(Debug, Serialize, Deserialize)]
pub struct CampaignState {
    pub manifest_sha256: String,
    /// The whole campaign's iterations (a shard runs some of them).
    pub iterations: u32,
    /// The shard this folder holds (`host run --shard K/N`); `null` for a whole campaign.
    #[serde(default)]
    pub shard: Option<Shard>,
    pub seed: u64,
    pub plugins: Vec<String>,
    pub host_version: String,
    /// Idle power measured before the first run (W); a resumed campaign keeps it so that
    /// every run's dynamic energy is computed against the same baseline.
    #[serde(default)]
    pub idle_power_w: Option<f64>,
    /// Idle power measured after the last run, when the manifest asks (drift check).
    #[serde(default)]
    pub idle_power_after_w: Option<f64>,
    /// Counter faults seen while measuring either baseline.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub idle_faults: Vec<String>,
    /// `[experiment] stop`: the design, every look taken and where the campaign stopped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sequential: Option<LookLog>,
}

impl CampaignState {
    pub fn save(&self, dir: &CampaignDir) -> anyhow::Result<()> {
        write_atomically(
            &dir.state_json(),
            serde_json::to_string_pretty(self)?.as_bytes(),
        )
    }
}

/// A campaign ready to measure: its folder, runs.csv open for appending, its state, and the
/// plan with what is already done.
pub struct Campaign<'m> {
    pub manifest: &'m Manifest,
    pub dir: CampaignDir,
    pub csv: RunsCsv,
    pub state: CampaignState,
    /// Rows already in runs.csv (a resumed campaign), empty for a new one.
    pub existing: Vec<ExistingRun>,
    /// The runs this folder is to hold: the whole plan, or one shard's part of it.
    pub planned: Vec<PlannedRun>,
    pub shard: Option<Shard>,
    /// The machine measuring (runs.csv's `node`).
    pub node: String,
    /// The energy domains fixed at the start (runs.csv's columns), and the label of the meter
    /// that found them: a run measured on other domains is failed.
    pub domains: Vec<String>,
    pub meter: String,
    /// The sequential design of `[experiment] stop`, for this campaign's plugins.
    pub design: Option<Design>,
}

impl<'m> Campaign<'m> {
    /// Creates the folder (`out`, or a fresh one under results/), or reopens `resumed`, and
    /// saves campaign.json. `iterations` and `shard` fix the plan; the baselines a resumed
    /// campaign measured are kept.
    pub fn open(
        manifest: &'m Manifest,
        resumed: Option<(CampaignDir, CampaignState)>,
        out: Option<&Path>,
        iterations: u32,
        shard: Option<Shard>,
        domains: Vec<String>,
        meter: String,
    ) -> anyhow::Result<Campaign<'m>> {
        let epochs = manifest.training.epochs;
        let design = stop_design(manifest)?;
        let whole = plan::plan(manifest.experiment.seed, iterations, manifest.plugins.len());
        let planned = plan::runs_of(whole, shard);
        let (dir, csv, existing, saved) = match resumed {
            Some((dir, saved)) => {
                let (csv, existing) = RunsCsv::reopen(&dir.runs_csv(), epochs, &domains)?;
                (dir, csv, existing, Some(saved))
            }
            None => {
                let dir = CampaignDir::create(out, &manifest.experiment.name)?;
                write_atomically(&dir.manifest_copy(), manifest.text.as_bytes())?;
                let csv = RunsCsv::create(&dir.runs_csv(), epochs, &domains)?;
                (dir, csv, Vec::new(), None)
            }
        };
        let state = CampaignState {
            manifest_sha256: manifest.sha256.clone(),
            iterations,
            shard,
            seed: manifest.experiment.seed,
            plugins: manifest.plugins.iter().map(|p| p.name.clone()).collect(),
            host_version: env!("CARGO_PKG_VERSION").into(),
            idle_power_w: saved.as_ref().and_then(|s| s.idle_power_w),
            idle_power_after_w: saved.as_ref().and_then(|s| s.idle_power_after_w),
            idle_faults: saved
                .as_ref()
                .map(|s| s.idle_faults.clone())
                .unwrap_or_default(),
            // A resumed campaign keeps its looks (the manifest, `stop` included, is the same).
            sequential: saved
                .and_then(|s| s.sequential)
                .or_else(|| design.as_ref().map(LookLog::new)),
        };
        state.save(&dir)?;
        Ok(Campaign {
            manifest,
            dir,
            csv,
            state,
            existing,
            planned,
            shard,
            node: Node::current().name(),
            domains,
            meter,
            design,
        })
    }
}

/// The design `[experiment] stop` asks for, built once for the plugins this campaign runs
/// (an optional plugin left out may leave fewer than the manifest lists).
fn stop_design(manifest: &Manifest) -> anyhow::Result<Option<Design>> {
    let Some(rule) = &manifest.experiment.stop else {
        return Ok(None);
    };
    rule.design(manifest.plugins.len())
        .map(Some)
        .map_err(|why| {
            usage(format!(
                "{}: [experiment] `stop`: {why}",
                manifest.path.display()
            ))
        })
}
