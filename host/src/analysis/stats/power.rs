//! How many runs per group a two-sided test needs to detect a difference with a given
//! power — for the test the pipeline would choose.
//!
//! * Welch's t-test, in closed form: with `n` runs per group, standard error
//!   `se = √(s_a²/n + s_b²/n)`, Welch–Satterthwaite `ν`, noncentrality `δ = Δ/se` and
//!   critical value `c = t_{1−α/2, ν}`, power is `P(T'_{ν,δ} > c) + P(T'_{ν,δ} < −c)`,
//!   `T'` noncentral t (e.g. Julious, S. A. (2010). *Sample Sizes for Clinical Trials*,
//!   §3.2, with Welch's degrees of freedom). With equal variances it is exactly
//!   `statsmodels`' `TTestIndPower` (checked in `host/tests/analysis/stats_findings_scipy.rs`).
//! * Mann–Whitney U has no closed form under a general alternative, so its power is
//!   simulated: each replication draws `n` values per group from the pilot data by the
//!   shrunk smoothed bootstrap (Silverman, B. W. (1986). *Density Estimation*, §6.4.1:
//!   a pilot value plus Gaussian kernel noise of Scott's bandwidth, rescaled so the
//!   group's mean and variance are kept), runs [`mann_whitney_u`] exactly as `compare`
//!   does (`auto`: exact when small and tie-free), and counts `p < α`. Replications use
//!   common random numbers across `n` (replication `r` of size `n + 1` extends that of
//!   size `n`), so the estimated power rises smoothly and the search below is stable.
//!
//! The search for the smallest `n` doubles until the power is reached, then bisects. For
//! Mann–Whitney it starts from Noether's approximation (Noether, G. E. (1987). Sample size
//! determination for some common nonparametric tests. *JASA* 82, 645–647:
//! `n ≈ (z_{1−α/2} + z_{1−β})² / (6 (p − ½)²)` per group, `p = P(X < Y)`), and skips the
//! simulation when that approximation is beyond four times the limit.

use super::describe::{all_finite, mean, variance};
use super::inverse::{normal_quantile, student_t_quantile};
use super::mann_whitney::{mann_whitney_u, MannWhitneyMethod};
use super::noncentral_t::{noncentral_t_cdf, noncentral_t_sf};
use super::rng::Rng;

/// The answer of a sample-size search.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum SampleSize {
    /// This many runs per group reach the target power (which is `power`).
    Runs { n: usize, power: f64 },
    /// Not reached within the search's limit of runs per group.
    MoreThan(usize),
}

/// Power of the two-sided Welch t-test at level `alpha` with `n_a`, `n_b` runs, true mean
/// difference `diff` and group standard deviations `sd_a`, `sd_b`. `None` when undefined
/// (fewer than 2 runs, both standard deviations 0, non-finite input).
pub fn welch_power(
    diff: f64,
    sd_a: f64,
    sd_b: f64,
    n_a: usize,
    n_b: usize,
    alpha: f64,
) -> Option<f64> {
    if n_a < 2 || n_b < 2 || !(diff.is_finite() && sd_a.is_finite() && sd_b.is_finite()) {
        return None;
    }
    let (va, vb) = (sd_a * sd_a / n_a as f64, sd_b * sd_b / n_b as f64);
    if va + vb <= 0.0 {
        return None;
    }
    let df = (va + vb).powi(2) / (va * va / (n_a as f64 - 1.0) + vb * vb / (n_b as f64 - 1.0));
    let delta = diff / (va + vb).sqrt();
    let c = student_t_quantile(df, 1.0 - alpha / 2.0);
    let power = noncentral_t_sf(df, delta, c) + noncentral_t_cdf(df, delta, -c);
    power.is_finite().then(|| power.clamp(0.0, 1.0))
}

/// Smallest `n ≤ max_n` runs per group at which [`welch_power`] reaches `target`.
pub fn welch_sample_size(
    diff: f64,
    sd_a: f64,
    sd_b: f64,
    alpha: f64,
    target: f64,
    max_n: usize,
) -> SampleSize {
    let power = |n: usize| welch_power(diff, sd_a, sd_b, n, n, alpha).unwrap_or(0.0);
    search(power, target, 2, max_n)
}

/// The smallest `n` in `2..=max_n` with `power(n) ≥ target`, assuming power grows with
/// `n`: doubling from `start`, then bisection.
fn search(
    mut power_of: impl FnMut(usize) -> f64,
    target: f64,
    start: usize,
    max_n: usize,
) -> SampleSize {
    // Each n is simulated once, however often the search comes back to it.
    let mut seen = std::collections::HashMap::new();
    let mut power = |n: usize| *seen.entry(n).or_insert_with(|| power_of(n));
    let mut high = start.clamp(2, max_n.max(2));
    // Below the start, only the bisection looks (if the start already reaches the target).
    let mut low = 1; // largest n known to fall short (1: no test at all)
    if high > 2 && power(high) >= target {
        low = high / 2;
        while low > 1 && power(low) >= target {
            high = low;
            low /= 2;
        }
    }
    let mut high_power;
    loop {
        high_power = power(high);
        if high_power >= target {
            break;
        }
        if high >= max_n {
            return SampleSize::MoreThan(max_n);
        }
        low = high;
        high = (high * 2).min(max_n);
    }
    while high - low > 1 {
        let mid = low + (high - low) / 2;
        let p = power(mid);
        if p >= target {
            high = mid;
            high_power = p;
        } else {
            low = mid;
        }
    }
    SampleSize::Runs {
        n: high,
        power: high_power,
    }
}

/// A group's pilot data, ready to draw from (shrunk smoothed bootstrap), with an optional
/// shift of its location.
#[derive(Debug, Clone)]
pub struct Pilot {
    values: Vec<f64>,
    mean: f64,
    bandwidth: f64,
    /// `1/√(1 + h²/s²)`: keeps the variance of the drawn values equal to the pilot's.
    shrink: f64,
    shift: f64,
}

impl Pilot {
    /// `None` with fewer than 2 values or non-finite ones.
    pub fn new(values: &[f64]) -> Option<Pilot> {
        if values.len() < 2 || !all_finite(values) {
            return None;
        }
        let m = mean(values)?;
        let sd = variance(values, 1)?.sqrt();
        let bandwidth = sd * (values.len() as f64).powf(-0.2);
        let shrink = if sd > 0.0 {
            1.0 / (1.0 + (bandwidth / sd).powi(2)).sqrt()
        } else {
            1.0
        };
        Some(Pilot {
            values: values.to_vec(),
            mean: m,
            bandwidth,
            shrink,
            shift: 0.0,
        })
    }

    /// The same distribution moved by `shift`.
    pub fn shifted(mut self, shift: f64) -> Pilot {
        self.shift += shift;
        self
    }

    /// One value drawn from the pilot (with its shift).
    pub fn draw(&self, rng: &mut Rng) -> f64 {
        let x = self.values[rng.below(self.values.len())];
        let noise = self.bandwidth * rng.normal();
        self.mean + self.shift + (x - self.mean + noise) * self.shrink
    }
}

/// Simulation settings of [`mann_whitney_power`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Simulation {
    pub replications: usize,
    pub seed: u64,
}

/// Simulated power of the two-sided Mann–Whitney U test (`auto` method) at level `alpha`
/// with `n` runs per group drawn from `a` and `b`.
pub fn mann_whitney_power(a: &Pilot, b: &Pilot, n: usize, alpha: f64, sim: &Simulation) -> f64 {
    let mut rejected = 0usize;
    let (mut xa, mut xb) = (vec![0.0; n], vec![0.0; n]);
    for r in 0..sim.replications as u64 {
        let mut ra = Rng::stream(sim.seed, 2 * r);
        let mut rb = Rng::stream(sim.seed, 2 * r + 1);
        xa.iter_mut().for_each(|v| *v = a.draw(&mut ra));
        xb.iter_mut().for_each(|v| *v = b.draw(&mut rb));
        if let Ok(u) = mann_whitney_u(&xa, &xb, MannWhitneyMethod::Auto) {
            if u.p_value < alpha {
                rejected += 1;
            }
        }
    }
    rejected as f64 / sim.replications.max(1) as f64
}

/// Smallest `n ≤ max_n` runs per group at which [`mann_whitney_power`] reaches `target`.
pub fn mann_whitney_sample_size(
    a: &Pilot,
    b: &Pilot,
    alpha: f64,
    target: f64,
    max_n: usize,
    sim: &Simulation,
) -> SampleSize {
    let guess = noether(a, b, alpha, target);
    if guess > 4.0 * max_n as f64 {
        return SampleSize::MoreThan(max_n);
    }
    let start = (guess / 2.0).floor().clamp(2.0, max_n as f64) as usize;
    search(
        |n| mann_whitney_power(a, b, n, alpha, sim),
        target,
        start,
        max_n,
    )
}

/// Noether's runs per group, with `p = P(X < Y) + ½P(X = Y)` from the pilots' values.
fn noether(a: &Pilot, b: &Pilot, alpha: f64, target: f64) -> f64 {
    let (mut below, mut ties) = (0usize, 0usize);
    for x in &a.values {
        for y in &b.values {
            let (x, y) = (x + a.shift, y + b.shift);
            below += usize::from(x < y);
            ties += usize::from(x == y);
        }
    }
    let pairs = (a.values.len() * b.values.len()) as f64;
    let p = (below as f64 + 0.5 * ties as f64) / pairs;
    let z = normal_quantile(1.0 - alpha / 2.0) + normal_quantile(target);
    z * z / (6.0 * (p - 0.5).powi(2))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::stats::normal_quantile;

    #[test]
    fn welch_power_grows_with_n_and_with_the_difference() {
        let p = |diff: f64, n| welch_power(diff, 1.0, 1.0, n, n, 0.05).unwrap();
        assert!(p(0.5, 10) < p(0.5, 20) && p(0.5, 20) < p(0.5, 80));
        assert!(p(0.2, 30) < p(0.5, 30) && p(0.5, 30) < p(1.0, 30));
        // No difference: power is the level itself.
        assert!((p(0.0, 25) - 0.05).abs() < 1e-12);
        assert_eq!(welch_power(1.0, 0.0, 0.0, 5, 5, 0.05), None);
        assert_eq!(welch_power(1.0, 1.0, 1.0, 1, 5, 0.05), None);
    }

    #[test]
    fn welch_sample_size_is_near_the_normal_approximation() {
        // n ≈ 2(z_{α/2} + z_β)²/d² + ~1 for d = 0.5: 62.8 + 1 → 64 (statsmodels: 63.77).
        let SampleSize::Runs { n, power } = welch_sample_size(0.5, 1.0, 1.0, 0.05, 0.8, 10_000)
        else {
            panic!("not reached");
        };
        let z = normal_quantile(0.975) + normal_quantile(0.8);
        let approx = 2.0 * z * z / 0.25;
        assert_eq!(n, 64, "approximation {approx}");
        assert!(power >= 0.8);
        assert!(welch_power(0.5, 1.0, 1.0, 63, 63, 0.05).unwrap() < 0.8);
        assert_eq!(
            welch_sample_size(0.0, 1.0, 1.0, 0.05, 0.8, 500),
            SampleSize::MoreThan(500)
        );
    }

    #[test]
    fn smoothed_bootstrap_keeps_mean_and_variance() {
        let values: Vec<f64> = (0..20).map(|i| (i * i) as f64).collect();
        let pilot = Pilot::new(&values).unwrap().shifted(10.0);
        let mut rng = Rng::new(4);
        let draws: Vec<f64> = (0..200_000).map(|_| pilot.draw(&mut rng)).collect();
        let (m0, v0) = (mean(&values).unwrap(), variance(&values, 1).unwrap());
        // The bootstrap's own variance is the ddof-0 one.
        let v0 = v0 * 19.0 / 20.0;
        let (m, v) = (mean(&draws).unwrap(), variance(&draws, 1).unwrap());
        assert!(
            (m - m0 - 10.0).abs() < 0.01 * v0.sqrt(),
            "mean {m} vs {m0}+10"
        );
        assert!((v / v0 - 1.0).abs() < 0.02, "variance {v} vs {v0}");
    }

    #[test]
    fn search_finds_the_smallest_n_from_any_start() {
        let power = |n: usize| if n >= 37 { 0.9 } else { 0.1 };
        for start in [2, 5, 36, 37, 38, 100, 500] {
            assert_eq!(
                search(power, 0.8, start, 400),
                SampleSize::Runs { n: 37, power: 0.9 },
                "start {start}"
            );
        }
        assert_eq!(search(power, 0.8, 2, 30), SampleSize::MoreThan(30));
    }

    #[test]
    fn mann_whitney_needs_a_little_more_than_welch_on_normal_data() {
        // Normal pilots, 1 sd apart: Welch needs 17; Mann–Whitney's efficiency 3/π ≈ 0.955
        // asks for about 18; the simulation must land close.
        let mut rng = Rng::new(8);
        let base: Vec<f64> = (0..400).map(|_| rng.normal()).collect();
        let a = Pilot::new(&base).unwrap();
        let b = Pilot::new(&base).unwrap().shifted(1.0);
        let sim = Simulation {
            replications: 1000,
            seed: 3,
        };
        let SampleSize::Runs { n, .. } = mann_whitney_sample_size(&a, &b, 0.05, 0.8, 200, &sim)
        else {
            panic!("not reached");
        };
        assert!((16..=21).contains(&n), "n = {n}");
        // Identical groups never reach 80 %: rejections stay near α.
        let null = mann_whitney_power(&a, &a, 30, 0.05, &sim);
        assert!(null < 0.08, "null rejection rate {null}");
    }
}
