//! `host run --dry-run`: the plan, the overhead of warm-up, baselines and rests, and how long
//! the runs should take, from comparable campaigns already measured on this machine; from
//! those campaigns' runs too, how many runs each comparison needs and, under
//! `[experiment] stop`, how many iterations the design should take. With `--shard K/N` it
//! shows shard K's part of the plan and the wall time of every shard: the slowest shard is the
//! campaign's wall time when each runs on its own node.

use std::path::Path;
use std::time::Duration;

use crate::analysis::outlook;
use crate::analysis::report::findings::runs_needed_lines;
use crate::manifest::Manifest;
use crate::plan::{self, PlannedRun, Shard};
use crate::protocol::forecast::{self, Estimate, PluginRate};

/// Prints the plan (of `shard`, or the whole campaign `whole`) and the expected duration.
pub fn print_plan(manifest: &Manifest, whole: &[PlannedRun], shard: Option<Shard>) {
    let planned = plan::runs_of(whole.to_vec(), shard);
    print_order(manifest, &planned);
    print_overhead(manifest, planned.len());
    let rates = forecast::measured_rates(Path::new("results"), manifest);
    print_rates(manifest, &rates);
    let estimate = forecast::campaign_duration(manifest, &planned, &rates);
    let scope = shard.map_or(String::new(), |s| format!(" of shard {s}"));
    print_expected_duration(&estimate, &scope);
    if let Some(s) = shard {
        print_shards(manifest, whole, s.count, &rates);
    }
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

/// Warm-up, idle baselines and rests at their longest.
fn print_overhead(manifest: &Manifest, runs: usize) {
    let e = &manifest.experiment;
    let baselines = if e.idle_baseline_after { 2 } else { 1 };
    println!(
        "overhead: warm-up {} + {baselines} idle baseline(s) of {} + {} rests of up to {} = {}",
        humantime::format_duration(e.warmup),
        humantime::format_duration(e.idle_baseline),
        runs.saturating_sub(1),
        humantime::format_duration(e.rest.longest()),
        humantime::format_duration(forecast::overhead(manifest, runs))
    );
}

/// Each plugin's expected run time and the evidence for it.
fn print_rates(manifest: &Manifest, rates: &std::collections::HashMap<String, PluginRate>) {
    for p in &manifest.plugins {
        if let Some(rate) = rates.get(&p.name) {
            let per_run = forecast::run_duration(manifest, rate);
            println!(
                "  {:<10} ~{} per run (from {} measured run(s): {:.0} training images/s)",
                p.name,
                whole_seconds(per_run),
                rate.runs,
                rate.train_per_s
            );
        }
    }
}

fn print_expected_duration(estimate: &Estimate, scope: &str) {
    let total = whole_seconds(estimate.total);
    if estimate.unknown.is_empty() {
        println!("expected duration{scope}: ~{total}");
    } else {
        println!(
            "expected duration{scope}: at least {total} — no comparable measured runs in results/ \
             for {} (same model, batch size and threads): run a short campaign of this manifest \
             first, e.g. --iterations 1",
            estimate.unknown.join(", ")
        );
    }
}

/// Every shard's expected wall time, and the slowest (the campaign's, one node per shard).
fn print_shards(
    manifest: &Manifest,
    whole: &[PlannedRun],
    count: u32,
    rates: &std::collections::HashMap<String, PluginRate>,
) {
    let walls: Vec<Estimate> = (1..=count)
        .filter_map(|k| Shard::new(k, count).ok())
        .map(|s| forecast::campaign_duration(manifest, &s.select(whole), rates))
        .collect();
    println!("per-shard wall time: {}", same_walls(&walls).join("; "));
    let slowest = walls.iter().map(|e| e.total).max().unwrap_or_default();
    let unsharded = forecast::campaign_duration(manifest, whole, rates).total;
    println!(
        "wall time with {count} shard(s) on {count} node(s): ~{} (slowest shard), against ~{} \
         for the whole campaign on one node{}",
        whole_seconds(slowest),
        whole_seconds(unsharded),
        if walls.iter().any(|e| !e.unknown.is_empty()) {
            " (lower bounds: some plugins have no measured runs)"
        } else {
            ""
        }
    );
}

/// "shards 1–2: ~5h each" per run of shards with the same expected wall time (shards with
/// one iteration more come first, so equal times are neighbours).
fn same_walls(walls: &[Estimate]) -> Vec<String> {
    let mut groups: Vec<(u64, usize, usize)> = Vec::new();
    for (i, e) in walls.iter().enumerate() {
        let secs = e.total.as_secs();
        match groups.last_mut() {
            Some((s, _, last)) if *s == secs => *last = i + 1,
            _ => groups.push((secs, i + 1, i + 1)),
        }
    }
    groups
        .into_iter()
        .map(|(secs, first, last)| {
            let wall = humantime::format_duration(Duration::from_secs(secs));
            match first == last {
                true => format!("shard {first}: ~{wall}"),
                false => format!("shards {first}–{last}: ~{wall} each"),
            }
        })
        .collect()
}

fn whole_seconds(d: Duration) -> humantime::FormattedDuration {
    humantime::format_duration(Duration::from_secs(d.as_secs()))
}
