//! Driving a campaign: preflight, warm-up, the planned runs (each in its own worker), rests,
//! and the results folder, written run by run.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;

use super::plan::{self, PlannedRun};
use crate::energy::EnergyMonitor;
use crate::manifest::{Manifest, Rest};
use crate::plugin::events::Event;
use crate::plugin::{load, supervisor};
use crate::store::record::RunRecord;
use crate::store::runs_csv::RunsCsv;
use crate::store::CampaignDir;

pub struct CampaignOptions {
    pub out: Option<PathBuf>,
    pub iterations: Option<u32>,
    pub dry_run: bool,
}

pub struct CampaignResult {
    pub dir: PathBuf,
    pub records: Vec<RunRecord>,
    pub interrupted: bool,
}

/// Checks what can be checked before measuring anything: plugins load and speak our
/// interface, the data is where the manifest says. Returns one line per plugin.
pub fn preflight(manifest: &Manifest) -> anyhow::Result<Vec<String>> {
    let mut lines = Vec::new();
    let mut problems = Vec::new();
    for p in &manifest.plugins {
        match load::load(&p.path) {
            Ok(l) => lines.push(format!(
                "  {:<10} {} {} ({})",
                p.name,
                l.info.framework,
                l.info.framework_version,
                p.path.display()
            )),
            Err(e) => problems.push(format!("  plugin `{}`: {e}", p.name)),
        }
    }
    // Verify the data fully here (once, ~1 s) so a corrupt file stops the campaign before it
    // starts instead of failing every run.
    let data = crate::data::mnist::locate(manifest.dataset.dir.as_deref())
        .and_then(|dir| crate::data::mnist::load(&dir, crate::data::mnist::Verify::Sha256));
    match data {
        Ok(d) => lines.push(format!(
            "  data       MNIST from {} (SHA-256 verified)",
            d.dir.display()
        )),
        Err(e) => problems.push(format!("  data: {e:#}")),
    }
    if !problems.is_empty() {
        return Err(crate::error::usage(format!(
            "{}: cannot start the campaign:\n{}",
            manifest.path.display(),
            problems.join("\n")
        )));
    }
    Ok(lines)
}

pub fn run(
    manifest: &Manifest,
    opts: &CampaignOptions,
    stop: &AtomicBool,
) -> anyhow::Result<CampaignResult> {
    let iterations = opts.iterations.unwrap_or(manifest.experiment.iterations);
    let planned = plan::plan(manifest.experiment.seed, iterations, manifest.plugins.len());
    let plugin_lines = preflight(manifest)?;
    println!(
        "{}: {} iteration(s) × {} plugin(s) = {} runs, {} epoch(s) each",
        manifest.experiment.name,
        iterations,
        manifest.plugins.len(),
        planned.len(),
        manifest.training.epochs
    );
    for l in &plugin_lines {
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

    let dir = CampaignDir::create(opts.out.as_deref(), &manifest.experiment.name)?;
    dir.write_synced(&dir.manifest_copy(), manifest.text.as_bytes())?;
    let manifest_path = std::fs::canonicalize(&manifest.path)
        .with_context(|| format!("cannot resolve {}", manifest.path.display()))?;

    // Learn the meter's domains (they fix runs.csv's columns) and tell the user what measures.
    let probe = EnergyMonitor::start(&manifest.energy, None)?;
    let domains: Vec<String> = probe.domains().into_iter().map(|d| d.name).collect();
    println!("energy: {}", probe.label());
    for why in probe.unused_sources() {
        println!("  not used: {why}");
    }
    probe.stop()?;
    let mut csv = RunsCsv::create(&dir.runs_csv(), manifest.training.epochs, &domains)?;
    println!("results: {}", dir.root.display());

    warm_up(manifest.experiment.warmup, stop);

    let mut records = Vec::new();
    let mut interrupted = false;
    for (i, run) in planned.iter().enumerate() {
        if stop.load(Ordering::SeqCst) {
            interrupted = true;
            break;
        }
        let spec = &manifest.plugins[run.plugin];
        let stem = supervisor::run_file_stem(run.iteration, &spec.name);
        let samples = dir.samples(&stem);
        let log = dir.log(&stem);
        println!(
            "[{}/{}] iteration {} · {} (order {})",
            i + 1,
            planned.len(),
            run.iteration,
            spec.name,
            run.order
        );
        let launch = supervisor::WorkerLaunch {
            manifest: &manifest_path,
            manifest_sha256: &manifest.sha256,
            plugin: run.plugin,
            iteration: run.iteration,
            samples_csv: Some(&samples),
            log: &log,
            timeout: manifest.timeout_for(spec),
            cpus: manifest.training.cpus.as_deref(),
        };
        let mut progress = ProgressLine::new(manifest.training.epochs);
        let outcome = supervisor::run_worker(&launch, stop, |e| progress.on_event(e))?;
        progress.finish();
        if outcome.interrupted {
            interrupted = true;
            println!("  interrupted: this run is not recorded");
            break;
        }
        let record = RunRecord::from_outcome(run.iteration, run.order, &spec.name, &outcome);
        csv.append(&record)?;
        print_record(&record, &log);
        records.push(record);
        if i + 1 < planned.len() {
            rest(&manifest.experiment.rest, stop);
        }
    }
    Ok(CampaignResult {
        dir: dir.root,
        records,
        interrupted,
    })
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
    let rests = planned.len().saturating_sub(1) as u32;
    let rest = match manifest.experiment.rest {
        Rest::Fixed(d) => d,
        Rest::UntilIdle { max, .. } => max,
    };
    println!(
        "fixed overhead: warm-up {} + rests up to {} (run times come on top)",
        humantime::format_duration(manifest.experiment.warmup),
        humantime::format_duration(rest * rests)
    );
}

fn print_record(r: &RunRecord, log: &Path) {
    if r.status == "ok" {
        println!(
            "  ok: {:.2} s, {:.1} J ({}), accuracy {}",
            r.time_s.unwrap_or(0.0),
            r.energy_j.unwrap_or(0.0),
            r.meter,
            r.accuracy
                .map(|a| format!("{:.2} %", a * 100.0))
                .unwrap_or_else(|| "-".into())
        );
    } else {
        println!("  FAILED: {} (log: {})", r.error, log.display());
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

/// Rests between runs so that heat and power from one run do not leak into the next.
fn rest(rest: &Rest, stop: &AtomicBool) {
    let duration = match rest {
        Rest::Fixed(d) => *d,
        // Until-idle resting needs the idle baseline (campaign protocol); until then rest
        // for the maximum, which is the conservative choice.
        Rest::UntilIdle { max, .. } => *max,
    };
    let deadline = Instant::now() + duration;
    while Instant::now() < deadline && !stop.load(Ordering::SeqCst) {
        std::thread::sleep(Duration::from_millis(50).min(deadline - Instant::now()));
    }
}

/// A one-line progress display: redrawn in place on a terminal, sparse log lines otherwise.
struct ProgressLine {
    epochs: u32,
    tty: bool,
    drawn: bool,
}

impl ProgressLine {
    fn new(epochs: u32) -> Self {
        ProgressLine {
            epochs,
            tty: std::io::stdout().is_terminal(),
            drawn: false,
        }
    }

    fn on_event(&mut self, event: &Event) {
        match event {
            Event::Progress {
                epoch,
                batch,
                batches,
            } if self.tty => {
                print!(
                    "\r  epoch {}/{} batch {batch}/{batches}   ",
                    epoch + 1,
                    self.epochs
                );
                let _ = std::io::stdout().flush();
                self.drawn = true;
            }
            Event::Trained { epoch, loss, .. } => {
                self.finish();
                println!(
                    "  epoch {epoch}/{}: loss {}",
                    self.epochs,
                    loss.map(|l| format!("{l:.4}"))
                        .unwrap_or_else(|| "-".into())
                );
            }
            _ => {}
        }
    }

    fn finish(&mut self) {
        if self.drawn {
            print!("\r{:60}\r", "");
            let _ = std::io::stdout().flush();
            self.drawn = false;
        }
    }
}
