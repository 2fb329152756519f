//! `host run --dry-run`: each plugin's trainer built once in a worker (so that an unknown
//! option or an unsupported layer shows before any warm-up), the plan, the overhead of
//! warm-up, baseline and rests, and how long the runs should take, from comparable campaigns
//! already measured on this machine.

use std::path::Path;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use anyhow::Context;

use crate::error::usage;
use crate::manifest::Manifest;
use crate::plan::PlannedRun;
use crate::plugin::check::framework_label;
use crate::plugin::events::Event;
use crate::plugin::supervisor::{self, WorkerLaunch};
use crate::protocol::forecast;

/// Builds each plugin's trainer once, in a worker as a run would (same session, environment
/// and CPUs; no meters, no training), and prints what each reports. Every plugin that cannot
/// build one is listed in one usage error.
pub fn build_trainers(manifest: &Manifest, stop: &AtomicBool) -> anyhow::Result<()> {
    let path = std::fs::canonicalize(&manifest.path)
        .with_context(|| format!("cannot resolve {}", manifest.path.display()))?;
    println!("trainers (built once in a worker, nothing measured):");
    let mut problems = Vec::new();
    for plugin in &manifest.plugins {
        let log = std::env::temp_dir().join(format!(
            "joulebench-dry-run-{}-{}.log",
            std::process::id(),
            plugin.name
        ));
        let launch = WorkerLaunch {
            manifest: &path,
            manifest_sha256: &manifest.sha256,
            plugin: &plugin.name,
            iteration: 1,
            samples_csv: None,
            log: &log,
            timeout: plugin.timeout.unwrap_or(manifest.experiment.run_timeout),
            cpus: manifest.training.cpus.as_deref(),
            env: &plugin.env,
            setup_only: true,
        };
        let mut said = None;
        let outcome = supervisor::run_worker(&launch, stop, |event| {
            if let Event::RunInfo {
                framework,
                framework_version,
                threads,
                ..
            } = event
            {
                said = Some(format!(
                    "{}, {threads} thread(s)",
                    framework_label(framework, framework_version)
                ));
            }
        });
        let _ = std::fs::remove_file(&log);
        match outcome?.measured.failure {
            None => println!("  {:<10} {}", plugin.name, said.unwrap_or_default()),
            Some(why) => problems.push(format!("  plugin `{}`: {why}", plugin.name)),
        }
    }
    if problems.is_empty() {
        return Ok(());
    }
    Err(usage(format!(
        "{}: the dry run could not build every trainer:\n{}",
        manifest.path.display(),
        problems.join("\n")
    )))
}

/// Prints the plan and the expected duration.
pub fn print_plan(manifest: &Manifest, planned: &[PlannedRun]) {
    print_order(manifest, planned);
    let overhead = print_overhead(manifest, planned.len());
    print_expected_duration(manifest, planned, overhead);
}

/// One line per iteration: the plugins in their shuffled order.
fn print_order(manifest: &Manifest, planned: &[PlannedRun]) {
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
}

/// Warm-up, idle baseline and rests at their longest; returns their sum.
fn print_overhead(manifest: &Manifest, runs: usize) -> Duration {
    let e = &manifest.experiment;
    let rest = e.rest.longest();
    let rests = runs.saturating_sub(1);
    let overhead = e.warmup + e.idle_baseline + rest * rests as u32;
    println!(
        "overhead: warm-up {} + idle baseline {} + {} rests of up to {} = {}",
        humantime::format_duration(e.warmup),
        humantime::format_duration(e.idle_baseline),
        rests,
        humantime::format_duration(rest),
        humantime::format_duration(overhead)
    );
    overhead
}

/// Run times extrapolated from comparable campaigns already measured on this machine.
fn print_expected_duration(manifest: &Manifest, planned: &[PlannedRun], overhead: Duration) {
    let rates = forecast::measured_rates(Path::new("results"), manifest);
    let mut total = overhead;
    let mut unknown = Vec::new();
    for p in &manifest.plugins {
        let Some(rate) = rates.get(&p.name) else {
            unknown.push(p.name.as_str());
            continue;
        };
        let per_run = forecast::run_duration(manifest, rate);
        let runs = planned
            .iter()
            .filter(|r| manifest.plugins[r.plugin].name == p.name)
            .count();
        total += per_run * runs as u32;
        println!(
            "  {:<10} ~{} per run (from {} measured run(s): {:.0} training images/s)",
            p.name,
            humantime::format_duration(Duration::from_secs(per_run.as_secs())),
            rate.runs,
            rate.train_per_s
        );
    }
    let total = humantime::format_duration(Duration::from_secs(total.as_secs()));
    if unknown.is_empty() {
        println!("expected duration: ~{total}");
    } else {
        println!(
            "expected duration: at least {total} — no comparable measured runs in results/ for {} \
             (same model, batch size and threads): run a short campaign of this manifest first, \
             e.g. --iterations 1",
            unknown.join(", ")
        );
    }
}
