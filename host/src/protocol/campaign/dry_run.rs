//! `host run --dry-run`: the plan, the overhead of warm-up, baseline and rests, and how long
//! the runs should take, from comparable campaigns already measured on this machine.

use std::path::Path;
use std::time::Duration;

use crate::manifest::Manifest;
use crate::plan::PlannedRun;
use crate::protocol::forecast;

/// Prints the plan and the expected duration.
pub fn print_plan(manifest: &Manifest, planned: &[PlannedRun]) {
    print_order(manifest, planned);
    let overhead = print_overhead(manifest, planned.len());
    print_expected_duration(manifest, planned, overhead);
}

/// Past this many iterations the plan is shown in summary: its first and last few.
const FULL_PLAN_ITERATIONS: usize = 50;
/// Iterations shown at each end of a summarised plan.
const SUMMARY_ENDS: usize = 3;

/// One line per iteration: the plugins in their shuffled order; a long plan shows its first
/// and last [`SUMMARY_ENDS`] iterations and how many lie between.
fn print_order(manifest: &Manifest, planned: &[PlannedRun]) {
    println!("plan (seed {}):", manifest.experiment.seed);
    for line in order_lines(manifest, planned) {
        println!("{line}");
    }
}

/// The plan's lines (see [`print_order`]).
fn order_lines(manifest: &Manifest, planned: &[PlannedRun]) -> Vec<String> {
    let mut lines: Vec<String> = Vec::new();
    let mut iteration = None;
    for r in planned {
        if iteration != Some(r.iteration) {
            iteration = Some(r.iteration);
            lines.push(format!("  iteration {:>3}:", r.iteration));
        }
        if let Some(line) = lines.last_mut() {
            line.push(' ');
            line.push_str(&manifest.plugins[r.plugin].name);
        }
    }
    if lines.len() <= FULL_PLAN_ITERATIONS {
        return lines;
    }
    let hidden = lines.len() - 2 * SUMMARY_ENDS;
    let mut summary: Vec<String> = lines[..SUMMARY_ENDS].to_vec();
    summary.push(format!(
        "  … {hidden} more iterations, each running the {} plugin(s) once in a shuffled order …",
        manifest.plugins.len()
    ));
    summary.extend_from_slice(&lines[lines.len() - SUMMARY_ENDS..]);
    summary
}

/// Warm-up, idle baseline and rests at their longest; returns their sum.
fn print_overhead(manifest: &Manifest, runs: usize) -> Duration {
    let e = &manifest.experiment;
    let rest = e.rest.longest();
    let rests = runs.saturating_sub(1);
    // Saturating: durations a manifest may hold must not overflow the sum.
    let overhead = e
        .warmup
        .saturating_add(e.idle_baseline)
        .saturating_add(rest.saturating_mul(u32::try_from(rests).unwrap_or(u32::MAX)));
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
        total =
            total.saturating_add(per_run.saturating_mul(u32::try_from(runs).unwrap_or(u32::MAX)));
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
