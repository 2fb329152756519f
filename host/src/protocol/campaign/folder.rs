//! The campaign's folder and what it remembers: creating it (or reopening it to resume), the
//! manifest copy, runs.csv, and campaign.json ([`CampaignState`]), saved whenever it changes.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::fsx::write_atomically;
use crate::manifest::Manifest;
use crate::plan::{self, Init, PlannedRun};
use crate::store::runs_csv::{ExistingRun, RunsCsv};
use crate::store::CampaignDir;

/// What a campaign folder remembers about how it was started (campaign.json), so that
/// `--resume` recomputes the same plan and refuses an incomparable manifest.
#[derive(Debug, Serialize, Deserialize)]
pub struct CampaignState {
    pub manifest_sha256: String,
    pub iterations: u32,
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
}

fn framework_init() -> String {
    Init::Framework.as_str().into()
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
    pub planned: Vec<PlannedRun>,
    /// The energy domains fixed at the start (runs.csv's columns), and the label of the meter
    /// that found them: a run measured on other domains is failed.
    pub domains: Vec<String>,
    pub meter: String,
}

impl<'m> Campaign<'m> {
    /// Creates the folder (`out`, or a fresh one under results/), or reopens `resumed`, and
    /// saves campaign.json. `iterations` fixes the plan; the baselines a resumed campaign
    /// measured are kept.
    pub fn open(
        manifest: &'m Manifest,
        resumed: Option<(CampaignDir, CampaignState)>,
        out: Option<&Path>,
        iterations: u32,
        domains: Vec<String>,
        meter: String,
    ) -> anyhow::Result<Campaign<'m>> {
        let epochs = manifest.training.epochs;
        let planned = plan::plan(manifest.experiment.seed, iterations, manifest.plugins.len());
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
            seed: manifest.experiment.seed,
            plugins: manifest.plugins.iter().map(|p| p.name.clone()).collect(),
            host_version: env!("CARGO_PKG_VERSION").into(),
            init: manifest.init.as_str().into(),
            idle_power_w: saved.as_ref().and_then(|s| s.idle_power_w),
            idle_power_after_w: saved.as_ref().and_then(|s| s.idle_power_after_w),
            idle_faults: saved.map(|s| s.idle_faults).unwrap_or_default(),
        };
        state.save(&dir)?;
        Ok(Campaign {
            manifest,
            dir,
            csv,
            state,
            existing,
            planned,
            domains,
            meter,
        })
    }
}
