//! Driving a campaign: preflight, the folder and its state, the idle baseline and warm-up, the
//! planned runs (each in its own worker), rests, retries and resuming — one module each:
//!
//! - [`preflight`]: plugins load, data verified, meter probed, machine recorded;
//! - [`folder`]: the campaign folder, runs.csv and campaign.json;
//! - [`history`]: what a resumed campaign has done, which failed runs are retried;
//! - [`pacing`]: idle baseline, warm-up, rests;
//! - [`run_loop`]: the runs in order through a [`RunWorker`] (the real one: [`process`]);
//! - [`dry_run`]: the plan and its expected duration.

mod dry_run;
mod folder;
mod history;
mod pacing;
mod preflight;
mod process;
mod run_loop;
#[cfg(test)]
mod tests;

pub use folder::{Campaign, CampaignState};
pub use preflight::{preflight, Preflight};
pub use process::ProcessWorker;
pub use run_loop::{RunWorker, WorkerRequest};

use std::path::PathBuf;
use std::sync::atomic::AtomicBool;

use crate::manifest::Manifest;
use crate::plan;
use crate::protocol::progress::CampaignProgress;
use crate::store::record::RunRecord;
use history::History;
use run_loop::RunLoop;

pub struct CampaignOptions {
    pub out: Option<PathBuf>,
    pub iterations: Option<u32>,
    pub dry_run: bool,
    /// Continue the campaign in this folder.
    pub resume: Option<PathBuf>,
}

pub struct CampaignResult {
    pub dir: PathBuf,
    /// Rows written by this invocation.
    pub records: Vec<RunRecord>,
    pub interrupted: bool,
}

/// `host run`: everything from the manifest to the last row of runs.csv.
pub fn run(
    manifest: &Manifest,
    opts: &CampaignOptions,
    stop: &AtomicBool,
) -> anyhow::Result<CampaignResult> {
    let (manifest, skipped) = manifest.without_missing_optional_plugins()?;
    let manifest = &manifest;
    for note in &skipped {
        println!("{note}");
    }
    let resumed = match &opts.resume {
        Some(dir) => Some(history::open_for_resume(manifest, dir)?),
        None => None,
    };
    let iterations = opts
        .iterations
        .or(resumed.as_ref().map(|(_, s)| s.iterations))
        .unwrap_or(manifest.experiment.iterations);
    let planned = plan::plan(manifest.experiment.seed, iterations, manifest.plugins.len());
    let checked = preflight(manifest)?;
    println!(
        "{}: {} iteration(s) × {} plugin(s) = {} runs, {} epoch(s) each",
        manifest.experiment.name,
        iterations,
        manifest.plugins.len(),
        planned.len(),
        manifest.training.epochs
    );
    for l in &checked.lines {
        println!("{l}");
    }
    if opts.dry_run || manifest.experiment.parity {
        crate::protocol::parity::preflight(manifest)?;
    }
    if opts.dry_run {
        dry_run::print_plan(manifest, &planned);
        return Ok(CampaignResult {
            dir: PathBuf::new(),
            records: Vec::new(),
            interrupted: false,
        });
    }
    let energy = preflight::probe_energy(manifest)?;
    let env = preflight::record_machine(manifest, &checked, &energy);
    let mut campaign = Campaign::open(
        manifest,
        resumed,
        opts.out.as_deref(),
        iterations,
        energy.domains.clone(),
        energy.label.clone(),
    )?;
    // A resumed campaign keeps the original environment.json and adds one per resume.
    let continuing = !campaign.existing.is_empty();
    env.write_json(&campaign.dir.environment_json(continuing, &env.captured_at))?;
    println!("results: {}", campaign.dir.root().display());
    let mut worker = ProcessWorker::new(manifest)?;
    measure(&mut campaign, &mut worker, stop)
}

/// Measures what `campaign` has left to do with `worker`: the idle baseline, the warm-up, the
/// runs and their retries, and the closing baseline when the manifest asks for one.
pub fn measure(
    campaign: &mut Campaign<'_>,
    worker: &mut dyn RunWorker,
    stop: &AtomicBool,
) -> anyhow::Result<CampaignResult> {
    let manifest = campaign.manifest;
    let mut history = History::from_rows(&campaign.existing);
    let todo = history.to_do(&campaign.planned, manifest);
    let done_before = campaign.existing.len();
    if done_before > 0 {
        println!(
            "resuming: {done_before} run(s) already recorded, {} to go",
            todo.len()
        );
    }
    // The idle baseline comes first, on a machine at rest (before the warm-up heats it).
    let state = &mut campaign.state;
    if state.idle_power_w.is_none()
        && !manifest.experiment.idle_baseline.is_zero()
        && !todo.is_empty()
    {
        state.idle_power_w =
            pacing::idle_baseline(manifest, "before", stop, &mut state.idle_faults)?;
        state.save(&campaign.dir)?;
    }
    if let Some(w) = state.idle_power_w {
        println!("idle baseline: {w:.2} W (energy_dynamic_j = energy_j − {w:.2} W × time_s)");
    }
    if !todo.is_empty() {
        pacing::warm_up(manifest.experiment.warmup, stop);
    }
    let progress = CampaignProgress::new(
        (done_before + todo.len()) as u64,
        done_before as u64,
        manifest.training.epochs,
        manifest.experiment.rest.longest(),
    );
    let mut runs = RunLoop {
        manifest,
        dir: &campaign.dir,
        planned: &campaign.planned,
        domains: &campaign.domains,
        meter: &campaign.meter,
        idle_power_w: state.idle_power_w,
        done_before,
        worker,
        progress,
        stop,
    };
    let end = runs.run_all(todo, &mut history, &mut campaign.csv)?;
    if !end.interrupted && manifest.experiment.idle_baseline_after && !end.records.is_empty() {
        closing_baseline(campaign, stop)?;
    }
    if end.interrupted {
        println!(
            "\nstopped. Finished runs are kept in {}.\nresume with: host run {} --resume {}",
            campaign.csv.path().display(),
            manifest.path.display(),
            campaign.dir.root().display()
        );
    }
    Ok(CampaignResult {
        dir: campaign.dir.root().to_path_buf(),
        records: end.records,
        interrupted: end.interrupted,
    })
}

/// Idle power again after the last run, compared with the first (drift check).
fn closing_baseline(campaign: &mut Campaign<'_>, stop: &AtomicBool) -> anyhow::Result<()> {
    let state = &mut campaign.state;
    state.idle_power_after_w =
        pacing::idle_baseline(campaign.manifest, "after", stop, &mut state.idle_faults)?;
    state.save(&campaign.dir)?;
    if let (Some(before), Some(after)) = (state.idle_power_w, state.idle_power_after_w) {
        println!(
            "idle baseline: {before:.2} W before, {after:.2} W after ({:+.1} %)",
            (after - before) / before * 100.0
        );
    }
    Ok(())
}
