//! Driving a campaign: preflight, warm-up, the planned runs (each in its own worker), rests,
//! retries, resuming, and the results folder, written run by run.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;
use serde::{Deserialize, Serialize};

use super::environment::{self, EnergySummary, PluginProvenance, Roots};
use super::forecast;
use super::idle;
use super::progress::CampaignProgress;
use crate::energy::EnergyMonitor;
use crate::error::usage;
use crate::fsx::write_atomically;
use crate::manifest::{Manifest, Rest};
use crate::plan::{self, PlannedRun};
use crate::plugin::{load, supervisor};
use crate::store::record::RunRecord;
use crate::store::runs_csv::{ExistingRun, RunsCsv};
use crate::store::CampaignDir;

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

/// What a campaign folder remembers about how it was started (campaign.json), so that
/// `--resume` recomputes the same plan and refuses an incomparable manifest.
#[derive(Debug, Serialize, Deserialize)]
struct CampaignState {
    manifest_sha256: String,
    iterations: u32,
    seed: u64,
    plugins: Vec<String>,
    host_version: String,
    /// Idle power measured before the first run (W); a resumed campaign keeps it so that
    /// every run's dynamic energy is computed against the same baseline.
    #[serde(default)]
    idle_power_w: Option<f64>,
    /// Idle power measured after the last run, when the manifest asks (drift check).
    #[serde(default)]
    idle_power_after_w: Option<f64>,
    /// Counter faults seen while measuring either baseline.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    idle_faults: Vec<String>,
}

impl CampaignState {
    /// Measures idle power ("before" the first run or "after" the last); its counter faults
    /// are warned about and kept (saved in campaign.json with the state). `None` if stopped.
    fn measure_idle(
        &mut self,
        manifest: &Manifest,
        when: &str,
        stop: &AtomicBool,
    ) -> anyhow::Result<Option<f64>> {
        let duration = manifest.experiment.idle_baseline;
        println!(
            "idle baseline ({when}): measuring {} with nothing running",
            humantime::format_duration(duration)
        );
        let Some(idle) = idle::measure_idle_power(&manifest.energy, duration, stop)? else {
            return Ok(None);
        };
        for f in &idle.faults {
            println!("warning: idle baseline ({when}): counter fault: {f}");
            self.idle_faults.push(format!("{when}: {f}"));
        }
        Ok(Some(idle.watts))
    }

    fn save(&self, dir: &CampaignDir) -> anyhow::Result<()> {
        write_atomically(
            &dir.state_json(),
            serde_json::to_string_pretty(self)?.as_bytes(),
        )
    }
}

/// One run to do: a planned run, or the k-th retry of a failed one.
#[derive(Debug, Clone)]
struct Job {
    run: PlannedRun,
    retry: u32,
}

/// What preflight found: one line per item for the user, and each plugin's provenance.
pub struct Preflight {
    pub lines: Vec<String>,
    pub plugins: Vec<PluginProvenance>,
}

/// Checks what can be checked before measuring anything: plugins load and speak our
/// interface, the data is present and verified.
pub fn preflight(manifest: &Manifest) -> anyhow::Result<Preflight> {
    let mut lines = Vec::new();
    let mut plugins = Vec::new();
    let mut problems = Vec::new();
    for p in &manifest.plugins {
        match load::load(&p.path) {
            Ok(l) => {
                lines.push(format!(
                    "  {:<10} {} {} ({})",
                    p.name,
                    l.info.framework,
                    l.info.framework_version,
                    p.path.display()
                ));
                plugins.push(PluginProvenance {
                    name: p.name.clone(),
                    path: p.path.clone(),
                    sha256: crate::fsx::sha256_file(&p.path)?,
                    framework: l.info.framework.to_string(),
                    framework_version: l.info.framework_version.to_string(),
                });
            }
            Err(e) => problems.push(format!("  plugin `{}`: {e}", p.name)),
        }
    }
    // Verify the data fully here (once, ~1 s) so a corrupt file stops the campaign before it
    // starts instead of failing every run.
    let data =
        crate::dataset::mnist::locate_or_download(manifest.dataset.dir.as_deref(), &mut |l| {
            println!("{l}")
        })
        .and_then(|dir| crate::dataset::mnist::load(&dir, crate::dataset::mnist::Verify::Sha256));
    match data {
        Ok(d) => lines.push(format!(
            "  data       MNIST from {} (SHA-256 verified)",
            d.dir.display()
        )),
        Err(e) => problems.push(format!("  data: {e:#}")),
    }
    if !problems.is_empty() {
        return Err(usage(format!(
            "{}: cannot start the campaign:\n{}",
            manifest.path.display(),
            problems.join("\n")
        )));
    }
    Ok(Preflight { lines, plugins })
}

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
        Some(dir) => Some(open_for_resume(manifest, dir)?),
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
    if opts.dry_run {
        print_plan(manifest, &planned);
        return Ok(CampaignResult {
            dir: PathBuf::new(),
            records: Vec::new(),
            interrupted: false,
        });
    }

    // Learn the meter's domains (they fix runs.csv's columns) and tell the user what measures.
    let probe = EnergyMonitor::start(&manifest.energy, None)?;
    let domains: Vec<String> = probe.domains().into_iter().map(|d| d.name).collect();
    println!("energy: {}", probe.label());
    for why in probe.unused_sources() {
        println!("  not used: {why}");
    }
    let energy = EnergySummary {
        label: probe.label(),
        measured: probe.measured(),
        domains: domains.clone(),
        unused_sources: probe.unused_sources(),
    };
    probe.stop()?;

    // Provenance, and the "is this machine quiet?" checklist: reported, never enforced.
    let roots = Roots::default();
    let mut env = environment::capture(
        &roots,
        &manifest.path,
        &manifest.sha256,
        &checked.plugins,
        &energy,
    );
    let warnings = environment::quiet_machine_warnings(&roots, &env);
    for w in &warnings {
        println!("warning: {w}");
    }
    env.record_warnings(&warnings);

    let saved_idle = resumed.as_ref().map_or((None, None, Vec::new()), |(_, s)| {
        (s.idle_power_w, s.idle_power_after_w, s.idle_faults.clone())
    });
    let (dir, mut csv, existing) = match resumed {
        Some((dir, _)) => {
            let (csv, existing) =
                RunsCsv::reopen(&dir.runs_csv(), manifest.training.epochs, &domains)?;
            (dir, csv, existing)
        }
        None => {
            let dir = CampaignDir::create(opts.out.as_deref(), &manifest.experiment.name)?;
            write_atomically(&dir.manifest_copy(), manifest.text.as_bytes())?;
            let csv = RunsCsv::create(&dir.runs_csv(), manifest.training.epochs, &domains)?;
            (dir, csv, Vec::new())
        }
    };
    let mut state = CampaignState {
        manifest_sha256: manifest.sha256.clone(),
        iterations,
        seed: manifest.experiment.seed,
        plugins: manifest.plugins.iter().map(|p| p.name.clone()).collect(),
        host_version: env!("CARGO_PKG_VERSION").into(),
        idle_power_w: saved_idle.0,
        idle_power_after_w: saved_idle.1,
        idle_faults: saved_idle.2,
    };
    state.save(&dir)?;
    // A resumed campaign keeps the original environment.json and adds one per resume.
    let env_file = dir.environment_json(!existing.is_empty(), &env.captured_at);
    env.write_json(&env_file)?;
    println!("results: {}", dir.root().display());

    let mut history: HistoryIndex = HistoryIndex::from_rows(&existing);
    let mut todo: Vec<Job> = planned
        .iter()
        .filter(|r| !history.has_run(r.iteration, &manifest.plugins[r.plugin].name))
        .map(|r| Job {
            run: r.clone(),
            retry: 0,
        })
        .collect();
    if !existing.is_empty() {
        println!(
            "resuming: {} run(s) already recorded, {} to go",
            existing.len(),
            todo.len()
        );
    }
    let manifest_path = std::fs::canonicalize(&manifest.path)
        .with_context(|| format!("cannot resolve {}", manifest.path.display()))?;

    // The idle baseline comes first, on a machine at rest (before the warm-up heats it).
    if state.idle_power_w.is_none()
        && !manifest.experiment.idle_baseline.is_zero()
        && !todo.is_empty()
    {
        state.idle_power_w = state.measure_idle(manifest, "before", stop)?;
        state.save(&dir)?;
    }
    if let Some(w) = state.idle_power_w {
        println!("idle baseline: {w:.2} W (energy_dynamic_j = energy_j − {w:.2} W × time_s)");
    }
    if !todo.is_empty() {
        warm_up(manifest.experiment.warmup, stop);
    }
    let rest_len = match manifest.experiment.rest {
        Rest::Fixed(d) => d,
        Rest::UntilIdle { max, .. } => max,
    };
    let mut progress = CampaignProgress::new(
        (existing.len() + todo.len()) as u64,
        existing.len() as u64,
        manifest.training.epochs,
        rest_len,
    );
    let mut records = Vec::new();
    let mut interrupted = false;
    let mut rested: Option<f64> = None;
    let mut next = 0;
    loop {
        if next == todo.len() {
            // The plan is done: queue retries of runs that failed and have retries left.
            let retries = history.retries_due(&planned, manifest, manifest.experiment.retry_failed);
            if retries.is_empty() {
                break;
            }
            progress.println(format!("retrying {} failed run(s)", retries.len()));
            todo.extend(retries);
        }
        if stop.load(Ordering::SeqCst) {
            interrupted = true;
            break;
        }
        let job = todo[next].clone();
        next += 1;
        if records.len() + existing.len() > 0 && rested.is_none() {
            rested = Some(rest(manifest, state.idle_power_w, stop, &progress)?.as_secs_f64());
            if stop.load(Ordering::SeqCst) {
                interrupted = true;
                break;
            }
        }
        let spec = &manifest.plugins[job.run.plugin];
        let files = dir.run_files(job.run.iteration, &spec.name, job.retry);
        let (samples, log) = (files.samples, files.log);
        let label = format!(
            "iteration {} · {}{}",
            job.run.iteration,
            spec.name,
            if job.retry > 0 {
                format!(" (retry {})", job.retry)
            } else {
                String::new()
            }
        );
        progress.println(format!(
            "[{}/{}] {label}",
            existing.len() + records.len() + 1,
            existing.len() + todo.len()
        ));
        progress.start_run(&label);
        let launch = supervisor::WorkerLaunch {
            manifest: &manifest_path,
            manifest_sha256: &manifest.sha256,
            plugin: &spec.name,
            iteration: job.run.iteration,
            samples_csv: Some(&samples),
            log: &log,
            timeout: manifest.timeout_for(spec),
            cpus: manifest.training.cpus.as_deref(),
            env: &spec.env,
        };
        let outcome = supervisor::run_worker(&launch, stop, |e| progress.on_event(e))?;
        progress.finish_run(outcome.wall);
        if outcome.interrupted {
            interrupted = true;
            progress
                .println("  interrupted: this run is not recorded and will run again on resume");
            break;
        }
        let mut record = RunRecord::from_measured(
            job.run.iteration,
            job.run.order,
            &spec.name,
            &outcome.measured,
        );
        record.retry = job.retry;
        record.rest_s = Some(rested.take().unwrap_or(0.0));
        record.require_domains(&domains, &energy.label);
        if let (Some(idle), Some(e), Some(t)) = (state.idle_power_w, record.energy_j, record.time_s)
        {
            record.energy_dynamic_j = Some(e - idle * t);
        }
        csv.append(&record)?;
        history.add(job.run.iteration, &spec.name, record.is_ok());
        progress.println(describe_record(&record, &log));
        records.push(record);
    }
    progress.finish();
    if !interrupted && manifest.experiment.idle_baseline_after && !records.is_empty() {
        state.idle_power_after_w = state.measure_idle(manifest, "after", stop)?;
        state.save(&dir)?;
        if let (Some(before), Some(after)) = (state.idle_power_w, state.idle_power_after_w) {
            println!(
                "idle baseline: {before:.2} W before, {after:.2} W after ({:+.1} %)",
                (after - before) / before * 100.0
            );
        }
    }
    if interrupted {
        println!(
            "\nstopped. Finished runs are kept in {}.\nresume with: host run {} --resume {}",
            csv.path().display(),
            manifest.path.display(),
            dir.root().display()
        );
    }
    Ok(CampaignResult {
        dir: dir.root().to_path_buf(),
        records,
        interrupted,
    })
}

/// Checks that `dir` holds a campaign this manifest may continue.
fn open_for_resume(
    manifest: &Manifest,
    dir: &Path,
) -> anyhow::Result<(CampaignDir, CampaignState)> {
    let campaign = CampaignDir::open(dir);
    let state_path = campaign.state_json();
    let state: CampaignState =
        serde_json::from_str(&std::fs::read_to_string(&state_path).map_err(|e| {
            usage(format!(
                "{}: not a campaign folder to resume ({e})",
                state_path.display()
            ))
        })?)
        .map_err(|e| usage(format!("{}: unreadable ({e})", state_path.display())))?;
    let saved_path = campaign.manifest_copy();
    let saved = std::fs::read_to_string(&saved_path)
        .map_err(|e| usage(format!("cannot read {} ({e})", saved_path.display())))?;
    let differing = incomparable_sections(&saved, &manifest.text);
    if !differing.is_empty() {
        return Err(usage(format!(
            "{} differs from the manifest this campaign started with ({}) in {}: runs would not be \
             comparable, so the campaign cannot be resumed with it. Resume with the saved copy: \
             host run {} --resume {}",
            manifest.path.display(),
            saved_path.display(),
            differing.join(", "),
            saved_path.display(),
            dir.display()
        )));
    }
    // Same manifest text, but an optional plugin may have been built (or removed) since: the
    // plan's order depends on the plugin list, so runs would line up differently.
    let now: Vec<String> = manifest.plugins.iter().map(|p| p.name.clone()).collect();
    if now != state.plugins {
        return Err(usage(format!(
            "this campaign ran the plugins [{}], but [{}] are available now (an optional plugin \
             was built or removed since): the shuffled plan would differ, so it cannot be \
             resumed. Restore the plugin files it started with, or start a new campaign.",
            state.plugins.join(", "),
            now.join(", ")
        )));
    }
    Ok((campaign, state))
}

/// Top-level manifest sections (or `experiment.<key>`) that differ in a way that changes what
/// is measured. The analysis steps and the number of iterations may change on resume.
fn incomparable_sections(saved: &str, current: &str) -> Vec<String> {
    let parse = |t: &str| t.parse::<toml::Table>().unwrap_or_default();
    let (mut a, mut b) = (parse(saved), parse(current));
    let mut differing = Vec::new();
    for table in [&mut a, &mut b] {
        table.remove("analysis");
        if let Some(toml::Value::Table(e)) = table.get_mut("experiment") {
            e.remove("iterations");
        }
    }
    let keys: std::collections::BTreeSet<&String> = a.keys().chain(b.keys()).collect();
    for k in keys {
        if a.get(k) != b.get(k) {
            differing.push(format!("[{k}]"));
        }
    }
    differing
}

/// Which (iteration, plugin) runs exist, which succeeded, and how often each was retried.
#[derive(Default)]
struct HistoryIndex {
    /// (iteration, plugin) → (any ok, highest retry number)
    runs: HashMap<(u32, String), (bool, u32)>,
}

impl HistoryIndex {
    fn from_rows(rows: &[ExistingRun]) -> Self {
        let mut h = HistoryIndex::default();
        for r in rows {
            let e = h
                .runs
                .entry((r.iteration, r.plugin.clone()))
                .or_insert((false, 0));
            e.0 |= r.ok;
            e.1 = e.1.max(r.retry);
        }
        h
    }

    fn has_run(&self, iteration: u32, plugin: &str) -> bool {
        self.runs.contains_key(&(iteration, plugin.to_string()))
    }

    /// Records a finished run (its retry number was counted when it was queued).
    fn add(&mut self, iteration: u32, plugin: &str, ok: bool) {
        self.runs
            .entry((iteration, plugin.to_string()))
            .or_insert((false, 0))
            .0 |= ok;
    }

    /// Retries to run now: runs with no success and fewer than `max` retries so far.
    fn retries_due(&mut self, planned: &[PlannedRun], manifest: &Manifest, max: u32) -> Vec<Job> {
        let mut jobs = Vec::new();
        for r in planned {
            let name = &manifest.plugins[r.plugin].name;
            if let Some(e) = self.runs.get_mut(&(r.iteration, name.clone())) {
                if !e.0 && e.1 < max {
                    e.1 += 1;
                    jobs.push(Job {
                        run: r.clone(),
                        retry: e.1,
                    });
                }
            }
        }
        jobs
    }
}

fn print_plan(manifest: &Manifest, planned: &[PlannedRun]) {
    println!("plan (seed {}):", manifest.experiment.seed);
    let mut iteration = 0;
    let mut line = String::new();
    for r in planned {
        if r.iteration != iteration {
            if !line.is_empty() {
                println!("{line}");
            }
            iteration = r.iteration;
            line = format!("  iteration {iteration:>3}:");
        }
        line.push(' ');
        line.push_str(&manifest.plugins[r.plugin].name);
    }
    if !line.is_empty() {
        println!("{line}");
    }
    let rest = match manifest.experiment.rest {
        Rest::Fixed(d) => d,
        Rest::UntilIdle { max, .. } => max,
    };
    let overhead = manifest.experiment.warmup
        + manifest.experiment.idle_baseline
        + rest * planned.len().saturating_sub(1) as u32;
    println!(
        "overhead: warm-up {} + idle baseline {} + {} rests of up to {} = {}",
        humantime::format_duration(manifest.experiment.warmup),
        humantime::format_duration(manifest.experiment.idle_baseline),
        planned.len().saturating_sub(1),
        humantime::format_duration(rest),
        humantime::format_duration(overhead)
    );

    // Run times: extrapolated from comparable campaigns already measured on this machine.
    let rates = forecast::measured_rates(Path::new("results"), manifest);
    let mut total = overhead;
    let mut unknown = Vec::new();
    for p in &manifest.plugins {
        match rates.get(&p.name) {
            Some(rate) => {
                let per_run = forecast::run_duration(manifest, rate);
                total += per_run
                    * planned
                        .iter()
                        .filter(|r| manifest.plugins[r.plugin].name == p.name)
                        .count() as u32;
                println!(
                    "  {:<10} ~{} per run (from {} measured run(s): {:.0} training images/s)",
                    p.name,
                    humantime::format_duration(Duration::from_secs(per_run.as_secs())),
                    rate.runs,
                    rate.train_per_s
                );
            }
            None => unknown.push(p.name.as_str()),
        }
    }
    if unknown.is_empty() {
        println!(
            "expected duration: ~{}",
            humantime::format_duration(Duration::from_secs(total.as_secs()))
        );
    } else {
        println!(
            "expected duration: at least {} — no comparable measured runs in results/ for {} \
             (same model, batch size and threads): run a short campaign of this manifest first, \
             e.g. --iterations 1",
            humantime::format_duration(Duration::from_secs(total.as_secs())),
            unknown.join(", ")
        );
    }
}

fn describe_record(r: &RunRecord, log: &Path) -> String {
    if r.is_ok() {
        format!(
            "  ok: {:.2} s, {:.1} J ({}), accuracy {}",
            r.time_s.unwrap_or(0.0),
            r.energy_j.unwrap_or(0.0),
            r.meter,
            r.accuracy
                .map(|a| format!("{:.2} %", a * 100.0))
                .unwrap_or_else(|| "-".into())
        )
    } else {
        format!("  FAILED: {} (log: {})", r.error, log.display())
    }
}

/// Keeps every allowed core busy for `duration` before the first measured run (the study
/// multiplied large matrices; any steady all-core load brings clocks and temperature to a
/// steady state). Logged, never measured.
fn warm_up(duration: Duration, stop: &AtomicBool) {
    if duration.is_zero() {
        return;
    }
    println!(
        "warm-up: {} of all-core load",
        humantime::format_duration(duration)
    );
    let deadline = Instant::now() + duration;
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    std::thread::scope(|s| {
        for _ in 0..cores {
            s.spawn(|| {
                let mut x = 1.0001f64;
                while Instant::now() < deadline && !stop.load(Ordering::Relaxed) {
                    for _ in 0..100_000 {
                        x = (x * 1.000_000_1).sqrt() + 0.5;
                    }
                    std::hint::black_box(x);
                }
            });
        }
    });
}

/// Rests between runs so that heat and power from one run do not leak into the next: a
/// fixed time, or until power is back within a fraction of the idle baseline (at most `max`).
fn rest(
    manifest: &Manifest,
    idle_w: Option<f64>,
    stop: &AtomicBool,
    progress: &CampaignProgress,
) -> anyhow::Result<Duration> {
    let started = Instant::now();
    match (&manifest.experiment.rest, idle_w) {
        (Rest::Fixed(d), _) => {
            idle::sleep_unless_stopped(*d, stop);
        }
        (Rest::UntilIdle { max, within }, Some(idle)) => {
            let (_, power) = idle::rest_until_idle(&manifest.energy, idle, *max, *within, stop)?;
            if let Some(p) = power.filter(|p| *p > idle * (1.0 + within)) {
                progress.println(format!(
                    "  rest: power still {p:.2} W after {} (idle {idle:.2} W); going on",
                    humantime::format_duration(*max)
                ));
            }
        }
        // No baseline (interrupted while measuring it): the conservative choice is the maximum.
        (Rest::UntilIdle { max, .. }, None) => {
            idle::sleep_unless_stopped(*max, stop);
        }
    }
    Ok(started.elapsed())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_measurement_sections_block_a_resume() {
        let a = "[experiment]\niterations = 3\nseed = 1\n[training]\nepochs = 1\n[[analysis]]\nstep = \"clean\"\n";
        let more_iterations = a.replace("iterations = 3", "iterations = 10");
        let other_analysis = a.replace("\"clean\"", "\"describe\"");
        assert!(incomparable_sections(a, &more_iterations).is_empty());
        assert!(incomparable_sections(a, &other_analysis).is_empty());
        let other_epochs = a.replace("epochs = 1", "epochs = 2");
        assert_eq!(incomparable_sections(a, &other_epochs), vec!["[training]"]);
        let other_seed = a.replace("seed = 1", "seed = 2");
        assert_eq!(incomparable_sections(a, &other_seed), vec!["[experiment]"]);
    }
}
