//! `host run --dry-run`: the plan, the overhead of warm-up, baseline and rests, and how long
//! the runs should take, from comparable campaigns already measured on this machine; from
//! those campaigns' runs too, how many runs each comparison needs and, under
//! `[experiment] stop`, how many iterations the design should take.

use std::path::Path;
use std::time::Duration;

use crate::analysis::outlook;
use crate::analysis::report::findings::runs_needed_lines;
use crate::manifest::Manifest;
use crate::plan::PlannedRun;
use crate::protocol::forecast;

/// Prints the plan and the expected duration.
pub fn print_plan(manifest: &Manifest, planned: &[PlannedRun]) {
    print_order(manifest, planned);
    let overhead = print_overhead(manifest, planned.len());
    print_expected_duration(manifest, planned, overhead);
    print_outlook(manifest);
}

/// Runs needed, and a sequential design's expected iterations, from comparable campaigns
/// in results/ (nothing when there are none: the duration line already says so).
fn print_outlook(manifest: &Manifest) {
    let inputs = forecast::comparable_campaigns(Path::new("results"), manifest);
    if inputs.is_empty() {
        return;
    }
    let plugins: Vec<String> = manifest.plugins.iter().map(|p| p.name.clone()).collect();
    let from = format!("from {} earlier campaign(s) in results/", inputs.len());
    match outlook::runs_needed(&inputs, &plugins) {
        Ok(power) => {
            for line in runs_needed_lines(&power) {
                println!("{line}");
            }
            println!("  ({from})");
        }
        Err(e) => println!("runs needed: not computed {from}: {e:#}"),
    }
    let Some(rule) = &manifest.experiment.stop else {
        return;
    };
    let expected = rule
        .design(plugins.len())
        .map_err(anyhow::Error::msg)
        .and_then(|design| outlook::expected_iterations(&inputs, &plugins, &design));
    match expected {
        Ok(e) => println!(
            "stop on {}: ~{:.1} iterations expected, at most {} ({:.0} % of {} campaigns resampled \
             {from} stopped before the last look)",
            rule.metric,
            e.mean,
            e.maximum,
            100.0 * e.early,
            e.replications
        ),
        Err(e) => println!(
            "stop on {}: expected iterations not computed {from}: {e:#}",
            rule.metric
        ),
    }
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
