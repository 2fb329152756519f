//! The campaign's folder and what it remembers: creating it (or reopening it to resume) under
//! its lock, the manifest copy, runs.csv, and campaign.json ([`CampaignState`]), saved whenever
//! it changes.
//!
//! A new folder is written in an order a kill at any moment leaves resumable: the lock, the
//! manifest copy, campaign.json (atomically), then runs.csv with its header.

use std::path::Path;

use anyhow::Context;
use serde::{Deserialize, Serialize};

use crate::analysis::looks::LookLog;
use crate::analysis::sequential::Design;
use crate::error::usage;
use crate::fsx::write_atomically;
use crate::manifest::Manifest;
use crate::plan::{self, Init, PlannedRun, Shard};
use crate::protocol::environment::Node;
use crate::store::lock::CampaignLock;
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
    /// `[model] init` of the campaign's runs. Campaigns from before the host made weights
    /// have none saved: their plugins initialised themselves (`framework`).
    #[serde(default = "framework_init")]
    pub init: String,
    /// Counter faults seen while measuring either baseline.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub idle_faults: Vec<String>,
    /// `[experiment] stop`: the design, every look taken and where the campaign stopped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sequential: Option<LookLog>,
}

fn framework_init() -> String {
    Init::Framework.as_str().into()
}

impl CampaignState {
    /// The state of a campaign of `manifest` that has measured nothing yet.
    pub fn new(manifest: &Manifest, iterations: u32, shard: Option<Shard>) -> CampaignState {
        CampaignState {
            manifest_sha256: manifest.sha256.clone(),
            iterations,
            shard,
            seed: manifest.experiment.seed,
            plugins: manifest.plugins.iter().map(|p| p.name.clone()).collect(),
            host_version: env!("CARGO_PKG_VERSION").into(),
            init: manifest.init.as_str().into(),
            idle_power_w: None,
            idle_power_after_w: None,
            idle_faults: Vec::new(),
            sequential: None,
        }
    }

    pub fn save(&self, dir: &CampaignDir) -> anyhow::Result<()> {
        write_atomically(
            &dir.state_json(),
            serde_json::to_string_pretty(self)?.as_bytes(),
        )
    }
}

/// A campaign folder opened to be continued ([`super::history::open_for_resume`]): its lock
/// is held from before campaign.json was read.
pub struct Resumed {
    pub dir: CampaignDir,
    pub state: CampaignState,
    pub lock: CampaignLock,
}

/// A campaign ready to measure: its folder (locked), runs.csv open for appending, its state,
/// and the plan with what is already done.
pub struct Campaign<'m> {
    pub manifest: &'m Manifest,
    pub dir: CampaignDir,
    /// Held until the campaign (and its analysis) is done: one host at a time per folder.
    pub lock: CampaignLock,
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
    /// Creates the folder (`out`, or a fresh one under results/) and locks it, or reopens
    /// `resumed`, and saves campaign.json. `iterations` and `shard` fix the plan; the baselines
    /// and looks a resumed campaign took are kept.
    pub fn open(
        manifest: &'m Manifest,
        resumed: Option<Resumed>,
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
        let mut state = CampaignState::new(manifest, iterations, shard);
        let (dir, lock, csv, existing) = match resumed {
            Some(Resumed {
                dir,
                state: saved,
                lock,
            }) => {
                let (csv, existing) = reopen_runs_csv(&dir, epochs, &domains)?;
                state.idle_power_w = saved.idle_power_w;
                state.idle_power_after_w = saved.idle_power_after_w;
                state.idle_faults = saved.idle_faults;
                // A resumed campaign keeps its looks (the manifest, `stop` included, is the same).
                state.sequential = saved
                    .sequential
                    .or_else(|| design.as_ref().map(LookLog::new));
                state.save(&dir)?;
                (dir, lock, csv, existing)
            }
            None => {
                let dir = CampaignDir::create(out, &manifest.experiment.name)?;
                let lock = CampaignLock::acquire(&dir.lock_file())?;
                dir.refuse_a_campaign()?;
                // Naming the original's folder, so that resuming with the copy finds the same
                // files.
                write_atomically(&dir.manifest_copy(), manifest.portable_text.as_bytes())?;
                state.sequential = design.as_ref().map(LookLog::new);
                state.save(&dir)?;
                let csv = RunsCsv::create(&dir.runs_csv(), epochs, &domains)?;
                (dir, lock, csv, Vec::new())
            }
        };
        Ok(Campaign {
            manifest,
            dir,
            lock,
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

/// runs.csv of a resumed campaign, reopened to append; created afresh when a kill left none,
/// or left it empty, before its header was written.
fn reopen_runs_csv(
    dir: &CampaignDir,
    epochs: u32,
    domains: &[String],
) -> anyhow::Result<(RunsCsv, Vec<ExistingRun>)> {
    dir.make_folders()?;
    let path = dir.runs_csv();
    match std::fs::metadata(&path) {
        Ok(m) if m.len() > 0 => RunsCsv::reopen(&path, epochs, domains),
        found => {
            if found.is_ok() {
                std::fs::remove_file(&path)
                    .with_context(|| format!("cannot replace the empty {}", path.display()))?;
            }
            Ok((RunsCsv::create(&path, epochs, domains)?, Vec::new()))
        }
    }
}
