//! The sequential design (analysis/sequential.rs) by simulation, with fixed seeds:
//!
//! 1. Under the null (identical groups) the chance that any pair is declared different at
//!    any look stays at alpha: the rate must be ≤ α + 2.58 Monte-Carlo standard errors.
//!    The same simulation testing at α at every look ("peeking") must exceed α by far:
//!    proof that the check can fail.
//! 2. Under the study's own effect sizes (groups drawn from the recorded EnergiBridge runs
//!    by the smoothed bootstrap), the expected number of runs per group at the stop is far
//!    below the fixed design's 30.
//! 3. The study's 106 runs replayed in the order they were recorded (the first `Time`
//!    stamp of each file): at which look the design would have stopped.
//!
//! Design everywhere: looks at 5, 10, 15, 20 and 30 runs per group, O'Brien–Fleming-type
//! spending, alpha 0.05 shared by the metric's pairs (Bonferroni).

use std::io::{BufRead, BufReader};
use std::path::Path;

use crate::support::analysis::*;
use joulebench::analysis::ingest::{load_all, IngestOptions};
use joulebench::analysis::metrics::{derive, WrapPolicy};
use joulebench::analysis::sequential::{decide, replay, Design};
use joulebench::analysis::stats::{Pilot, Rng, Spending};

const LOOKS: [usize; 5] = [5, 10, 15, 20, 30];
const ALPHA: f64 = 0.05;

fn design(groups: usize) -> Design {
    Design::new("energy", &LOOKS, ALPHA, Spending::OBrienFleming, groups).expect("design")
}

/// Draws `n` values per group from `draw(group, rng)`, for replication `r`.
fn campaign(
    names: &[&str],
    seed: u64,
    r: u64,
    mut draw: impl FnMut(usize, &mut Rng) -> f64,
) -> Vec<(String, Vec<f64>)> {
    let n = *LOOKS.last().expect("looks");
    names
        .iter()
        .enumerate()
        .map(|(g, name)| {
            let mut rng = Rng::stream(seed, r * 16 + g as u64);
            (
                name.to_string(),
                (0..n).map(|_| draw(g, &mut rng)).collect(),
            )
        })
        .collect()
}

/// Share of null campaigns in which some pair was declared different.
fn null_rejection_rate(design: &Design, groups: usize, replications: u64, skewed: bool) -> f64 {
    let names = ["a", "b", "c", "d"];
    let mut rejected = 0;
    for r in 0..replications {
        let data = campaign(&names[..groups], 0x5EED, r, |_, rng| {
            let z = rng.normal();
            if skewed {
                4900.0 * (0.3 * z).exp()
            } else {
                4900.0 + 25.0 * z
            }
        });
        let out = decide(design, &data);
        rejected += usize::from(
            out.history
                .iter()
                .any(|l| l.pairs.iter().any(|p| p.decided)),
        );
    }
    rejected as f64 / replications as f64
}

fn upper_bound(alpha: f64, replications: u64) -> f64 {
    alpha + 2.58 * (alpha * (1.0 - alpha) / replications as f64).sqrt()
}

#[test]
fn under_the_null_the_false_positive_rate_stays_at_alpha() {
    let reps = 1500;
    let three = null_rejection_rate(&design(3), 3, reps, false);
    let two_skewed = null_rejection_rate(&design(2), 2, reps, true);
    println!(
        "null, 3 normal groups: {:.2} % of campaigns declared a difference; 2 skewed groups: {:.2} % (alpha 5 %, bound {:.2} %)",
        100.0 * three,
        100.0 * two_skewed,
        100.0 * upper_bound(ALPHA, reps)
    );
    assert!(three <= upper_bound(ALPHA, reps), "3 groups: {three}");
    assert!(
        two_skewed <= upper_bound(ALPHA, reps),
        "2 skewed groups: {two_skewed}"
    );
    // Not vacuous: one pair at its full alpha rejects about alpha of the time.
    assert!(
        two_skewed >= 0.02,
        "2 skewed groups: {two_skewed} (too conservative to be right)"
    );
}

#[test]
fn peeking_without_spending_inflates_the_rate() {
    // The same looks, each tested at the full alpha: what the design exists to prevent.
    let mut naive = design(2);
    naive.bounds = vec![1.959_963_984_540_054; LOOKS.len()];
    let reps = 600;
    let rate = null_rejection_rate(&naive, 2, reps, false);
    println!("null, 2 groups, alpha at every look: {:.1} %", 100.0 * rate);
    assert!(
        rate > upper_bound(ALPHA, reps) + 0.02,
        "peeking gave only {rate}"
    );
}

/// The study's values of one metric per group, in recorded order (first `Time` stamp),
/// with the group of each run: everything the pipeline derives, before `clean`.
fn study_runs(metric: &str) -> Vec<(String, f64)> {
    let dir = energibridge_mnist();
    let ingested = load_all(&[&dir], &IngestOptions::default()).expect("ingest");
    let (table, _faults) = derive(&ingested, WrapPolicy::default());
    let m = table
        .metrics
        .iter()
        .position(|x| x.key == metric)
        .expect("metric");
    let mut runs: Vec<(u64, String, f64)> = table
        .rows
        .iter()
        .filter_map(|row| {
            let value = row.values[m]?;
            let file = dir.join(&row.group).join(format!("{}.csv.gz", row.run));
            Some((first_time(&file), row.group.clone(), value))
        })
        .collect();
    runs.sort_by_key(|(t, _, _)| *t);
    runs.into_iter().map(|(_, g, v)| (g, v)).collect()
}

/// The `Time` (Unix ms) of a run file's first sample.
fn first_time(path: &Path) -> u64 {
    let file = std::fs::File::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut lines = BufReader::new(flate2::read::GzDecoder::new(file)).lines();
    let header = lines.next().expect("header").expect("text");
    let column = header
        .split(',')
        .position(|c| c == "Time")
        .expect("Time column");
    let first = lines.next().expect("a sample").expect("text");
    first
        .split(',')
        .nth(column)
        .expect("Time")
        .parse()
        .expect("integer")
}

#[test]
fn the_studys_runs_replayed_in_recorded_order() {
    for metric in ["energy", "power"] {
        let runs = study_runs(metric);
        assert_eq!(runs.len(), 106);
        let r = replay(&design(3), &runs);
        let stop = r
            .outcome
            .stopped_at
            .expect("the study reaches the last look");
        let last = r.outcome.history.last().expect("a look");
        println!(
            "study replay, {metric}: stopped at look {stop} ({} runs per group), after {} of the {} recorded runs; every pair decided: {}",
            last.runs_per_group,
            r.runs_used,
            r.runs_total,
            r.outcome.all_decided()
        );
        for p in &last.pairs {
            println!(
                "  {} vs {}: p = {:?} vs level {:.3e} → {}",
                p.a,
                p.b,
                p.p_value,
                p.nominal_alpha,
                if p.decided { "decided" } else { "not decided" }
            );
        }
        if metric == "energy" {
            // Every energy difference is over 38 % with Cliff's δ = −1, yet Mann–Whitney's
            // smallest p at 5 and 10 runs per group (0.0079, 1.8e-4) cannot pass the early
            // O'Brien–Fleming levels at alpha/3: look 3 (15 per group) decides them all.
            assert_eq!(stop, 3);
            assert!(r.outcome.all_decided());
            assert!(r.runs_used < r.runs_total, "used {} runs", r.runs_used);
            let pocock = Design::new("energy", &LOOKS, ALPHA, Spending::Pocock, 3).expect("design");
            let p = replay(&pocock, &runs);
            println!(
                "  (Pocock-type spending would stop at look {:?}, after {} runs)",
                p.outcome.stopped_at, p.runs_used
            );
        }
    }
}

/// Expected runs per group at the stop when groups are drawn from the study's data.
fn expected_runs(metric: &str, replications: u64) -> (f64, f64) {
    let runs = study_runs(metric);
    let mut names: Vec<String> = Vec::new();
    for (g, _) in &runs {
        if !names.contains(g) {
            names.push(g.clone());
        }
    }
    let pilots: Vec<Pilot> = names
        .iter()
        .map(|g| {
            let values: Vec<f64> = runs
                .iter()
                .filter(|(x, _)| x == g)
                .map(|(_, v)| *v)
                .collect();
            Pilot::new(&values).expect("pilot")
        })
        .collect();
    let name_refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let d = design(names.len());
    let (mut total, mut all_decided) = (0usize, 0usize);
    for r in 0..replications {
        let data = campaign(&name_refs, 0xE5, r, |g, rng| pilots[g].draw(rng));
        let out = decide(&d, &data);
        total += out.runs_per_group().expect("a look");
        all_decided += usize::from(out.all_decided());
    }
    (
        total as f64 / replications as f64,
        all_decided as f64 / replications as f64,
    )
}

#[test]
fn under_the_studys_effects_it_stops_far_earlier_than_30_runs() {
    for (metric, reps) in [("energy", 200), ("power", 300)] {
        let (mean, decided) = expected_runs(metric, reps);
        println!(
            "study effects, {metric}: expected {mean:.1} runs per group at the stop vs 30 fixed ({:.0} % fewer); every pair decided in {:.0} % of campaigns",
            100.0 * (1.0 - mean / 30.0),
            100.0 * decided
        );
        assert!(mean < 30.0, "{metric}: {mean}");
        if metric == "energy" {
            // Decided by look 3 (15 runs) at the latest: at least half the fixed design saved.
            assert!(mean <= 15.0, "energy: {mean} runs per group");
            assert_eq!(decided, 1.0);
        }
    }
}
