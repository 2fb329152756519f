//! An opt-in group-sequential design: look at the runs at planned points (e.g. after 5,
//! 10, 15, 20 and 30 runs per group), test every pair of groups on one metric the way
//! `compare` does, and stop as soon as every pair is decided — spending alpha across the
//! looks (Lan–DeMets, see [`stats::boundaries`]) so that the campaign-wide chance of a
//! false "X used less energy than Y" stays at alpha.
//!
//! * Multiplicity: the metric's `m` pairs share alpha by Bonferroni, each pair getting a
//!   design at `alpha / m`. (Holm cannot be applied look by look without recomputing
//!   every earlier look's boundaries; Bonferroni is valid as it is, and the price is small
//!   next to the runs saved — see `tests/analysis/sequential.rs`.)
//! * Each look's test is the pipeline's own choice on the data so far (Welch when both
//!   groups pass Shapiro–Wilk, else Mann–Whitney); its two-sided p-value is compared with
//!   the look's nominal level `2Φ(−c_k)`. Both statistics are asymptotically normal with
//!   independent increments, which is what the boundaries assume; the simulation in the
//!   test checks the resulting error rate at small n.
//! * A pair is decided once its p-value falls below its look's level, and stays decided
//!   (efficacy only: a pair with no difference runs to the last look, where it is reported
//!   as "no detectable difference").
//!
//! [`decide`] is a pure function of the design and the values so far, in recorded order:
//! what `host run` calls at each look of `[experiment] stop` (`protocol/campaign/stopping.rs`,
//! recording the looks with [`super::looks`]), and what [`replay`] uses to ask of a finished
//! campaign when it could have stopped.

use crate::analysis::answers::{LookRecord, PairLook};
use crate::analysis::stats::{self, Spending};
use crate::analysis::steps::compare;

/// A sequential design on one metric.
#[derive(Debug, Clone, PartialEq)]
pub struct Design {
    pub metric: String,
    /// Runs per group at each look, strictly increasing; the last is the most to run.
    pub looks: Vec<usize>,
    /// Campaign-wide alpha for the metric.
    pub alpha: f64,
    pub spending: Spending,
    /// Number of pairs sharing alpha.
    pub pairs: usize,
    /// The z boundary of each look, for one pair at `alpha / pairs`.
    pub bounds: Vec<f64>,
    /// How each look tests a pair (the pipeline's rule by default).
    pub test: compare::Config,
}

impl Design {
    /// A design for `groups` groups; `Err` names what is wrong with the looks or alpha.
    pub fn new(
        metric: &str,
        looks: &[usize],
        alpha: f64,
        spending: Spending,
        groups: usize,
    ) -> Result<Design, String> {
        if groups < 2 {
            return Err(format!("needs at least 2 groups to compare, has {groups}"));
        }
        if looks.first().is_none_or(|&n| n < 2) {
            return Err("the first look needs at least 2 runs per group".into());
        }
        if looks.windows(2).any(|w| w[0] >= w[1]) {
            return Err(format!("looks must increase strictly: {looks:?}"));
        }
        let last = *looks.last().unwrap_or(&1) as f64;
        let fractions: Vec<f64> = looks.iter().map(|&n| n as f64 / last).collect();
        let pairs = groups * (groups - 1) / 2;
        let bounds = stats::boundaries(spending, alpha / pairs as f64, &fractions)?;
        Ok(Design {
            metric: metric.to_string(),
            looks: looks.to_vec(),
            alpha,
            spending,
            pairs,
            bounds,
            test: compare::Config {
                alpha,
                ..compare::Config::default()
            },
        })
    }

    /// Alpha of one pair.
    pub fn pair_alpha(&self) -> f64 {
        self.alpha / self.pairs as f64
    }
}

/// What the looks reached so far decided.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    pub history: Vec<LookRecord>,
    /// 1-based look at which every pair was decided, or the last look was reached.
    pub stopped_at: Option<usize>,
}

impl Outcome {
    /// True when the design says: stop measuring.
    pub fn stop(&self) -> bool {
        self.stopped_at.is_some()
    }

    /// Runs per group at the stop (or at the last look reached).
    pub fn runs_per_group(&self) -> Option<usize> {
        self.history.last().map(|l| l.runs_per_group)
    }

    /// Every pair decided (a difference found) by the stop.
    pub fn all_decided(&self) -> bool {
        self.history
            .last()
            .is_some_and(|l| l.pairs.iter().all(|p| p.decided))
    }
}

/// Evaluates every look the data reach (each group's values in recorded order) and stops
/// at the first look where every pair is decided, or at the last look.
pub fn decide(design: &Design, groups: &[(String, Vec<f64>)]) -> Outcome {
    let mut history: Vec<LookRecord> = Vec::new();
    let last = design.looks.len();
    for (k, &n) in design.looks.iter().enumerate() {
        if groups.iter().any(|(_, v)| v.len() < n) {
            break; // not reached yet
        }
        let level = stats::nominal_alpha(design.bounds[k]);
        let before = history.last().map(|l| l.pairs.clone());
        let mut pairs = Vec::new();
        for (i, (a, xa)) in groups.iter().enumerate() {
            for (b, xb) in &groups[i + 1..] {
                let was = before
                    .as_ref()
                    .and_then(|p| p.iter().find(|p| &p.a == a && &p.b == b))
                    .is_some_and(|p| p.decided);
                let c = compare::compare_pair(&design.test, a, b, &xa[..n], &xb[..n]);
                let p = c.p_value;
                pairs.push(PairLook {
                    a: a.clone(),
                    b: b.clone(),
                    n_a: n,
                    n_b: n,
                    test: c.test,
                    p_value: p,
                    nominal_alpha: level,
                    decided: was || p.is_some_and(|p| p < level),
                });
            }
        }
        let stop = pairs.iter().all(|p| p.decided) || k + 1 == last;
        history.push(LookRecord {
            look: k + 1,
            runs_per_group: n,
            pairs,
            stop,
        });
        if stop {
            return Outcome {
                history,
                stopped_at: Some(k + 1),
            };
        }
    }
    Outcome {
        history,
        stopped_at: None,
    }
}

/// A design replayed on a finished campaign's runs in their recorded order.
#[derive(Debug, Clone, PartialEq)]
pub struct Replay {
    pub outcome: Outcome,
    /// Runs (all groups together) recorded when the stopping look was reached, or all.
    pub runs_used: usize,
    pub runs_total: usize,
}

/// Replays `runs` — (group, value) in the order they were recorded — through `design`:
/// each look happens when every group has reached its planned number of runs.
pub fn replay(design: &Design, runs: &[(String, f64)]) -> Replay {
    let mut groups: Vec<(String, Vec<f64>)> = Vec::new();
    for (g, _) in runs {
        if !groups.iter().any(|(name, _)| name == g) {
            groups.push((g.clone(), Vec::new()));
        }
    }
    let mut outcome = decide(design, &groups);
    for (i, (g, v)) in runs.iter().enumerate() {
        if let Some((_, values)) = groups.iter_mut().find(|(name, _)| name == g) {
            values.push(*v);
        }
        // Only when a new look is reached can the decision change.
        let reached = design
            .looks
            .iter()
            .take_while(|&&n| groups.iter().all(|(_, v)| v.len() >= n))
            .count();
        if reached > outcome.history.len() {
            outcome = decide(design, &groups);
            if outcome.stop() {
                return Replay {
                    outcome,
                    runs_used: i + 1,
                    runs_total: runs.len(),
                };
            }
        }
    }
    Replay {
        outcome,
        runs_used: runs.len(),
        runs_total: runs.len(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn group(name: &str, centre: f64, n: usize) -> (String, Vec<f64>) {
        let values = (0..n)
            .map(|i| centre + ((i * 37 % 11) as f64 - 5.0) * 0.1)
            .collect();
        (name.to_string(), values)
    }

    #[test]
    fn far_apart_groups_stop_at_the_first_look() {
        let d = Design::new("energy", &[5, 10, 20], 0.05, Spending::OBrienFleming, 2).unwrap();
        let out = decide(&d, &[group("a", 10.0, 20), group("b", 20.0, 20)]);
        assert_eq!(out.stopped_at, Some(1));
        assert!(out.all_decided());
        assert_eq!(out.runs_per_group(), Some(5));
    }

    #[test]
    fn identical_groups_run_to_the_last_look_undecided() {
        let d = Design::new("energy", &[5, 10, 20], 0.05, Spending::OBrienFleming, 2).unwrap();
        let out = decide(&d, &[group("a", 10.0, 20), group("b", 10.0, 20)]);
        assert_eq!(out.stopped_at, Some(3));
        assert!(!out.all_decided());
        // Not enough data for the last look: no stop yet.
        let out = decide(&d, &[group("a", 10.0, 12), group("b", 10.0, 12)]);
        assert_eq!((out.stopped_at, out.history.len()), (None, 2));
    }

    #[test]
    fn replay_counts_the_runs_recorded_until_the_stop() {
        let d = Design::new("energy", &[5, 10], 0.05, Spending::OBrienFleming, 2).unwrap();
        let (a, b) = (group("a", 10.0, 10), group("b", 20.0, 10));
        // Interleaved a, b, a, b, …: look 1 is reached at the 10th run.
        let runs: Vec<(String, f64)> =
            a.1.iter()
                .zip(&b.1)
                .flat_map(|(x, y)| [("a".to_string(), *x), ("b".to_string(), *y)])
                .collect();
        let r = replay(&d, &runs);
        assert_eq!(
            (r.outcome.stopped_at, r.runs_used, r.runs_total),
            (Some(1), 10, 20)
        );
    }

    #[test]
    fn bad_designs_are_refused() {
        let s = Spending::Pocock;
        assert!(Design::new("e", &[5, 5], 0.05, s, 2).is_err());
        assert!(Design::new("e", &[1, 5], 0.05, s, 2).is_err());
        assert!(Design::new("e", &[], 0.05, s, 2).is_err());
        assert!(Design::new("e", &[5], 0.05, s, 1).is_err());
        assert!(Design::new("e", &[5], 1.5, s, 2).is_err());
    }
}
