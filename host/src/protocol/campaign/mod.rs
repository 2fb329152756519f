//! Driving a campaign: preflight, the folder and its state, the idle baseline and warm-up, the
//! planned runs (each in its own worker), rests, retries and resuming — one module each:
//!
//! - [`preflight`]: plugins load, data verified, meter probed, machine recorded;
//! - [`folder`]: the campaign folder (locked), runs.csv and campaign.json;
//! - [`history`]: what a resumed campaign has done, which failed runs are retried;
//! - [`pacing`]: idle baseline, warm-up, rests;
//! - [`run_loop`]: the runs in order through a [`RunWorker`] (the real one: [`process`]);
//! - [`stopping`]: `[experiment] stop`'s looks, and stopping when the answer is known;
//! - [`dry_run`]: the plan and its expected duration;
//! - [`trainers`]: the dry run's check that every plugin builds its trainer.

mod dry_run;
mod folder;
mod history;
mod pacing;
mod preflight;
mod process;
mod run_loop;
mod stopping;
#[cfg(test)]
mod tests;
mod trainers;

pub use folder::{Campaign, CampaignState, Resumed};
pub use preflight::{preflight, Preflight};
pub use process::ProcessWorker;
pub use run_loop::{RunWorker, WorkerRequest};

use std::path::PathBuf;
use std::sync::atomic::AtomicBool;

use crate::error::usage;
use crate::manifest::Manifest;
use crate::plan::{self, Shard};
use crate::protocol::progress::CampaignProgress;
use crate::shell;
use crate::store::lock::CampaignLock;
use crate::store::record::RunRecord;
use crate::store::runs_csv::ExistingRun;
use history::History;
use run_loop::RunLoop;
use stopping::Stopping;

pub struct CampaignOptions {
    pub out: Option<PathBuf>,
    pub iterations: Option<u32>,
    pub dry_run: bool,
    /// Continue the campaign in this folder.
    pub resume: Option<PathBuf>,
    /// Run only this shard of the plan (`--shard K/N`); a resumed shard keeps its own.
    pub shard: Option<Shard>,
}

pub struct CampaignResult {
    pub dir: PathBuf,
    /// Rows written by this invocation.
    pub records: Vec<RunRecord>,
    /// `ok` rows in runs.csv, those of earlier invocations included.
    pub ok_rows: usize,
    pub interrupted: bool,
    /// Stopped by `[experiment] stop` (now, or by an earlier invocation): the answer was
    /// known, the rest of the plan is not run.
    pub stopped_early: bool,
    /// The folder's lock, for the caller to hold while it analyses the folder (`None` for a
    /// dry run).
    pub lock: Option<CampaignLock>,
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
        Some(dir) => Some(history::open_for_resume(manifest, dir, opts.shard)?),
        None => None,
    };
    let iterations = opts
        .iterations
        .or(resumed.as_ref().map(|r| r.state.iterations))
        .unwrap_or(manifest.experiment.iterations);
    let shard = shard_to_run(opts.shard, resumed.as_ref().map(|r| &r.state), iterations)?;
    if let (Some(s), Some(_)) = (shard, &manifest.experiment.stop) {
        return Err(usage(no_early_stop_in_shards(
            &manifest.path,
            &s.to_string(),
        )));
    }
    let whole = plan::plan(manifest.experiment.seed, iterations, manifest.plugins.len());
    let planned = plan::runs_of(whole.clone(), shard);
    let checked = preflight(manifest)?;
    print_scope(manifest, iterations, whole.len(), shard, planned.len());
    for l in &checked.lines {
        println!("{l}");
    }
    // A dry run builds every trainer before the parity check: an unknown option or an
    // unsupported layer is a manifest error (exit 2) naming the plugin, not a disagreement.
    if opts.dry_run {
        trainers::build_all(manifest, stop)?;
    }
    if opts.dry_run || manifest.experiment.parity {
        crate::protocol::parity::preflight(manifest)?;
    }
    if opts.dry_run {
        dry_run::print_plan(manifest, &whole, shard);
        return Ok(CampaignResult::dry_run());
    }
    let energy = preflight::probe_energy(manifest)?;
    let env = preflight::record_machine(manifest, &checked, &energy);
    let mut campaign = Campaign::open(
        manifest,
        resumed,
        opts.out.as_deref(),
        iterations,
        shard,
        energy.domains.clone(),
        energy.label.clone(),
    )?;
    // A resumed campaign keeps the original environment.json and adds one per resume.
    env.write_json(&campaign.dir.environment_json(&env.captured_at))?;
    println!("results: {}", campaign.dir.root().display());
    let mut worker = ProcessWorker::new(manifest)?;
    let mut result = measure(&mut campaign, &mut worker, stop)
        .map_err(|e| stopped(e, manifest, campaign.dir.root()))?;
    result.lock = Some(campaign.lock);
    Ok(result)
}

/// What the campaign (or its shard) is: iterations × plugins, the runs and epochs.
fn print_scope(
    manifest: &Manifest,
    iterations: u32,
    runs: usize,
    shard: Option<Shard>,
    shard_runs: usize,
) {
    println!(
        "{}: {} iteration(s) × {} plugin(s) = {} runs, {} epoch(s) each",
        manifest.experiment.name,
        iterations,
        manifest.plugins.len(),
        runs,
        manifest.training.epochs
    );
    if let Some(s) = shard {
        println!(
            "shard {s}: iterations {} ({shard_runs} runs)",
            list_iterations(&s.iterations(iterations)),
        );
    }
}

impl CampaignResult {
    /// A dry run's: nothing measured, no folder.
    fn dry_run() -> CampaignResult {
        CampaignResult {
            dir: PathBuf::new(),
            records: Vec::new(),
            ok_rows: 0,
            interrupted: false,
            stopped_early: false,
            lock: None,
        }
    }
}

/// A campaign stopped by a fault of the host or the machine (a full disk, a read-only folder):
/// what was recorded stays, and the runs not recorded are still to do.
fn stopped(err: anyhow::Error, manifest: &Manifest, dir: &std::path::Path) -> anyhow::Error {
    let cause = match crate::error::environment_fault(&err) {
        Some(fault) => format!(" ({fault})"),
        None => String::new(),
    };
    err.context(format!(
        "the campaign stopped{cause}; finished runs are kept and the others are still to do: \
         once the cause is fixed, resume with: host run {} --resume {}",
        shell::quote_path(&manifest.path),
        shell::quote_path(dir)
    ))
}

/// The shard this invocation runs: `--shard`, or the resumed folder's own (they must agree:
/// a folder holds one shard's runs). A shard without iterations is an error.
fn shard_to_run(
    asked: Option<Shard>,
    resumed: Option<&CampaignState>,
    iterations: u32,
) -> anyhow::Result<Option<Shard>> {
    if let (Some(a), Some(saved)) = (asked, resumed) {
        if Some(a) != saved.shard {
            let held = saved
                .shard
                .map_or("the whole campaign (no shard)".into(), |s| {
                    format!("shard {s}")
                });
            return Err(usage(format!(
                "--shard {a}: the folder to resume holds {held}; resume it without --shard \
                 (it keeps its own)"
            )));
        }
    }
    let shard = resumed.map_or(asked, |saved| saved.shard);
    if let Some(s) = shard {
        if s.index > iterations {
            return Err(usage(format!(
                "--shard {s}: the campaign has {iterations} iteration(s), so shard {} has \
                 none; use at most {iterations} shard(s)",
                s.index
            )));
        }
    }
    Ok(shard)
}

/// Why `[experiment] stop` and shards do not mix: each shard would look at its own
/// iterations only, and stop on a part of the evidence.
pub fn no_early_stop_in_shards(manifest: &std::path::Path, shards: &str) -> String {
    format!(
        "{}: [experiment] stop cannot run in shards ({shards}): each shard would decide on \
         its own iterations alone. Remove `stop` to shard the campaign, or run it unsharded",
        manifest.display()
    )
}

/// `1, 3, 5` (the first few and a count when there are many).
fn list_iterations(iterations: &[u32]) -> String {
    let shown: Vec<String> = iterations.iter().take(8).map(u32::to_string).collect();
    match iterations.len() {
        n if n > 8 => format!("{}, … ({n} in all)", shown.join(", ")),
        _ => shown.join(", "),
    }
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
    if already_stopped(campaign)? {
        return Ok(CampaignResult {
            dir: campaign.dir.root().to_path_buf(),
            records: Vec::new(),
            ok_rows: ok_rows(&campaign.existing),
            interrupted: false,
            stopped_early: true,
            lock: None,
        });
    }
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
        shard: campaign.shard,
        node: &campaign.node,
        done_before,
        worker,
        progress,
        stop,
        stopping: campaign.design.as_ref().map(|design| {
            Stopping::new(
                design,
                &campaign.dir,
                &mut campaign.state,
                plugin_names(manifest),
                &campaign.existing,
            )
        }),
    };
    let end = runs.run_all(todo, &mut history, &mut campaign.csv)?;
    if !end.interrupted && manifest.experiment.idle_baseline_after && !end.records.is_empty() {
        closing_baseline(campaign, stop)?;
    }
    if end.interrupted {
        println!(
            "\nstopped. Finished runs are kept in {}.\nresume with: host run {} --resume {}",
            campaign.csv.path().display(),
            shell::quote_path(&manifest.path),
            shell::quote_path(campaign.dir.root())
        );
    }
    Ok(CampaignResult {
        dir: campaign.dir.root().to_path_buf(),
        ok_rows: ok_rows(&campaign.existing) + end.records.iter().filter(|r| r.is_ok()).count(),
        records: end.records,
        interrupted: end.interrupted,
        stopped_early: end.stopped_early,
        lock: None,
    })
}

fn ok_rows(existing: &[ExistingRun]) -> usize {
    existing.iter().filter(|r| r.ok).count()
}

fn plugin_names(manifest: &Manifest) -> Vec<String> {
    manifest.plugins.iter().map(|p| p.name.clone()).collect()
}

/// True when `[experiment] stop` has already stopped this campaign (a resume after the
/// stop), or the runs recorded reach a look not taken yet that stops it (a resume after a
/// crash between a run and its look); says so. Notes a plan that ends before the last look.
fn already_stopped(campaign: &mut Campaign<'_>) -> anyhow::Result<bool> {
    let Some(design) = &campaign.design else {
        return Ok(false);
    };
    let last = design.looks.last().copied().unwrap_or(0);
    if (campaign.state.iterations as usize) < last {
        println!(
            "note: {} iteration(s) end the campaign before the last look of `stop` ({last}): \
             the looks after {} iterations will not be taken",
            campaign.state.iterations, campaign.state.iterations
        );
    }
    let names = plugin_names(campaign.manifest);
    let mut stopping = Stopping::new(
        design,
        &campaign.dir,
        &mut campaign.state,
        names,
        &campaign.existing,
    );
    if let Some(sentence) = stopping.stopped() {
        println!("{sentence}");
    } else if !stopping.look(&mut |line| println!("{line}"))? {
        return Ok(false);
    }
    println!(
        "nothing left to run: {} run(s) recorded, the rest of the plan is not needed",
        campaign.existing.len()
    );
    Ok(true)
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
