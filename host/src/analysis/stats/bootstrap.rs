//! Bootstrap confidence intervals for a group's median and for two groups' median ratio
//! and difference: percentile (Efron & Tibshirani 1993, *An Introduction to the Bootstrap*,
//! §13.3) or BCa, bias-corrected and accelerated (ibid. §14.3, eq. 14.14–14.15).
//!
//! As `scipy.stats.bootstrap(..., method='percentile' | 'BCa')` in SciPy 1.17, except the
//! random draws (our generator is [`Rng`], SciPy's is NumPy's):
//! * each group is resampled on its own (independent samples), `resamples` times;
//! * the interval's ends are the linear (Hyndman & Fan type 7) quantiles of the bootstrap
//!   distribution at `α/2` and `1 − α/2` (percentile), or at BCa's adjusted levels
//!   `Φ(ẑ₀ + (ẑ₀ + z_α) / (1 − â(ẑ₀ + z_α)))`;
//! * `ẑ₀ = Φ⁻¹(p)`, `p` the share of bootstrap values below the estimate, ties counting
//!   half; `â = Σ_j Σ_i U³_ji/n_j³ / (6 (Σ_j Σ_i U²_ji/n_j²)^{3/2})` with the jackknife
//!   influence values `U_ji = (n_j − 1)(θ̄_j − θ_ji)` of each sample `j` in turn (SciPy's
//!   multi-sample generalisation of eq. 14.15).
//!
//! Both [`percentile_levels`]-then-quantile and [`bca_levels`] are deterministic given the
//! bootstrap distribution, and are checked against SciPy on fixed distributions
//! (`host/tests/analysis/stats_findings_scipy.rs`). Coverage is checked by simulation
//! (`host/tests/analysis/stats_bootstrap_coverage.rs`).
//!
//! Speed: a resample's median is read off per-index counts of the sorted sample (a
//! counting sort in O(n)), never by sorting the resample.

use super::describe::{all_finite, mean, median_sorted, sorted};
use super::inverse::normal_quantile;
use super::normal_cdf;
use super::quantile::quantile_sorted;
use super::rng::Rng;

/// How the interval's ends are read off the bootstrap distribution.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CiMethod {
    Percentile,
    Bca,
}

impl CiMethod {
    /// "percentile bootstrap" / "BCa bootstrap", for sentences.
    pub fn words(self) -> &'static str {
        match self {
            CiMethod::Percentile => "percentile bootstrap",
            CiMethod::Bca => "BCa bootstrap",
        }
    }
}

/// What a bootstrap interval is asked for.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BootstrapSpec {
    /// Number of resamples (each group resampled this many times).
    pub resamples: usize,
    /// Confidence level, e.g. 0.95.
    pub level: f64,
    pub method: CiMethod,
}

/// A two-sided interval.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Interval {
    pub low: f64,
    pub high: f64,
}

impl Interval {
    pub fn contains(&self, x: f64) -> bool {
        self.low <= x && x <= self.high
    }
}

/// Intervals for `a` against `b`: the ratio of medians `median(a) / median(b)` and the
/// difference `median(a) − median(b)`, from the same resamples.
#[derive(Debug, Clone, PartialEq)]
pub struct ContrastIntervals {
    pub ratio: Result<Interval, String>,
    pub difference: Result<Interval, String>,
}

/// Fewer values than this in a group and no interval is given: a percentile interval of a
/// median from 2 or 3 values cannot reach its level (for n = 3 the widest possible one,
/// [min, max], covers the true median 75 % of the time).
pub const MIN_VALUES: usize = 5;

fn check(x: &[f64], spec: &BootstrapSpec) -> Result<(), String> {
    if x.len() < MIN_VALUES {
        return Err(format!(
            "a bootstrap interval needs at least {MIN_VALUES} values per group, has {}",
            x.len()
        ));
    }
    if !all_finite(x) {
        return Err("data contain NaN or infinite values".into());
    }
    if spec.resamples < 100 {
        return Err(format!(
            "{} resamples are too few for an interval (at least 100)",
            spec.resamples
        ));
    }
    if !(spec.level > 0.0 && spec.level < 1.0) {
        return Err(format!("confidence level {} is not in (0, 1)", spec.level));
    }
    Ok(())
}

/// The median of one resample (with replacement) of `sorted` data, using `counts` as
/// scratch space (`counts.len() == sorted.len()`).
fn resample_median(sorted: &[f64], counts: &mut [u32], rng: &mut Rng) -> f64 {
    let n = sorted.len();
    counts.iter_mut().for_each(|c| *c = 0);
    for _ in 0..n {
        counts[rng.below(n)] += 1;
    }
    // 0-based ranks of the middle order statistic(s) of the resample.
    let (lo_rank, hi_rank) = if n % 2 == 1 {
        (n / 2, n / 2)
    } else {
        (n / 2 - 1, n / 2)
    };
    let (mut lo, mut hi) = (f64::NAN, f64::NAN);
    let mut seen = 0usize;
    for (value, &c) in sorted.iter().zip(counts.iter()) {
        let next = seen + c as usize;
        if lo.is_nan() && lo_rank < next {
            lo = *value;
        }
        if hi_rank < next {
            hi = *value;
            break;
        }
        seen = next;
    }
    if n % 2 == 1 {
        lo
    } else {
        (0.0 + lo + hi) / 2.0
    }
}

/// `resamples` bootstrap medians of `x` (any order).
pub fn bootstrap_medians(x: &[f64], resamples: usize, rng: &mut Rng) -> Vec<f64> {
    let s = sorted(x);
    let mut counts = vec![0u32; s.len()];
    (0..resamples)
        .map(|_| resample_median(&s, &mut counts, rng))
        .collect()
}

/// Leave-one-out medians of `x`.
fn jackknife_medians(x: &[f64]) -> Vec<f64> {
    (0..x.len())
        .map(|i| {
            let rest: Vec<f64> = x
                .iter()
                .enumerate()
                .filter(|&(j, _)| j != i)
                .map(|(_, v)| *v)
                .collect();
            median_sorted(&sorted(&rest)).unwrap_or(f64::NAN)
        })
        .collect()
}

/// The quantile levels `(α/2, 1 − α/2)` of a percentile interval.
pub fn percentile_levels(level: f64) -> (f64, f64) {
    let alpha = (1.0 - level) / 2.0;
    (alpha, 1.0 - alpha)
}

/// BCa's quantile levels and acceleration `(α₁, α₂, â)` from the estimate, the bootstrap
/// distribution and, per sample, the statistic's leave-one-out (jackknife) values.
/// `Err` when the bias correction is infinite (the estimate lies outside the bootstrap
/// distribution) or the acceleration is undefined (all jackknife values equal).
pub fn bca_levels(
    estimate: f64,
    distribution: &[f64],
    jackknife: &[Vec<f64>],
    level: f64,
) -> Result<(f64, f64, f64), String> {
    let b = distribution.len() as f64;
    let below = distribution.iter().filter(|&&t| t < estimate).count();
    let not_above = distribution.iter().filter(|&&t| t <= estimate).count();
    let share = (below + not_above) as f64 / (2.0 * b);
    let z0 = normal_quantile(share);
    if !z0.is_finite() {
        return Err("BCa: the estimate lies outside its bootstrap distribution".into());
    }
    let (mut num, mut den) = (0.0, 0.0);
    for values in jackknife {
        let n = values.len() as f64;
        let dot = mean(values).ok_or("BCa: a sample has no jackknife values")?;
        let u: Vec<f64> = values.iter().map(|v| (n - 1.0) * (dot - v)).collect();
        num += u.iter().map(|x| x * x * x).sum::<f64>() / (n * n * n);
        den += u.iter().map(|x| x * x).sum::<f64>() / (n * n);
    }
    let a = num / (6.0 * den.powf(1.5));
    if !a.is_finite() {
        return Err("BCa: the acceleration is undefined (jackknife values all equal)".into());
    }
    let z_alpha = normal_quantile((1.0 - level) / 2.0);
    let adjusted = |z: f64| {
        let num = z0 + z;
        normal_cdf(z0 + num / (1.0 - a * num))
    };
    Ok((adjusted(z_alpha), adjusted(-z_alpha), a))
}

/// The interval from a bootstrap distribution (sorted in place) at quantile levels `(lo, hi)`.
pub fn interval_at(distribution: &mut [f64], (lo, hi): (f64, f64)) -> Result<Interval, String> {
    if distribution.is_empty() || !all_finite(distribution) {
        return Err("the bootstrap distribution holds non-finite values".into());
    }
    if !(lo.is_finite() && hi.is_finite()) {
        return Err("the interval's quantile levels are not finite".into());
    }
    distribution.sort_by(f64::total_cmp);
    Ok(Interval {
        low: quantile_sorted(distribution, lo.clamp(0.0, 1.0)),
        high: quantile_sorted(distribution, hi.clamp(0.0, 1.0)),
    })
}

/// A statistic of one or two samples whose interval is bootstrapped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Statistic {
    /// `median(x)`, one sample.
    Median,
    /// `median(a) / median(b)`.
    MedianRatio,
    /// `median(a) − median(b)`.
    MedianDifference,
}

impl Statistic {
    fn of(self, medians: &[f64]) -> f64 {
        match self {
            Statistic::Median => medians[0],
            Statistic::MedianRatio => medians[0] / medians[1],
            Statistic::MedianDifference => medians[0] - medians[1],
        }
    }

    /// The estimate on the full data.
    pub fn estimate(self, data: &[&[f64]]) -> f64 {
        let medians: Vec<f64> = data
            .iter()
            .map(|x| median_sorted(&sorted(x)).unwrap_or(f64::NAN))
            .collect();
        self.of(&medians)
    }

    /// Per sample `j`, the statistic with each value of sample `j` left out in turn and
    /// the other samples whole (SciPy's multi-sample jackknife).
    pub fn jackknife(self, data: &[&[f64]]) -> Vec<Vec<f64>> {
        let full: Vec<f64> = data
            .iter()
            .map(|x| median_sorted(&sorted(x)).unwrap_or(f64::NAN))
            .collect();
        (0..data.len())
            .map(|j| {
                jackknife_medians(data[j])
                    .into_iter()
                    .map(|m| {
                        let mut medians = full.clone();
                        medians[j] = m;
                        self.of(&medians)
                    })
                    .collect()
            })
            .collect()
    }
}

/// The interval read off a given bootstrap `distribution` of `statistic` on `data`: the
/// deterministic half of the bootstrap, checked against SciPy on fixed distributions.
pub fn interval_from_distribution(
    statistic: Statistic,
    data: &[&[f64]],
    mut distribution: Vec<f64>,
    level: f64,
    method: CiMethod,
) -> Result<Interval, String> {
    let levels = match method {
        CiMethod::Percentile => percentile_levels(level),
        CiMethod::Bca => {
            let estimate = statistic.estimate(data);
            let jackknife = statistic.jackknife(data);
            let (lo, hi, _) = bca_levels(estimate, &distribution, &jackknife, level)?;
            (lo, hi)
        }
    };
    interval_at(&mut distribution, levels)
}

/// A bootstrap interval for the median of `x`.
pub fn median_interval(x: &[f64], spec: &BootstrapSpec, rng: &mut Rng) -> Result<Interval, String> {
    check(x, spec)?;
    let distribution = bootstrap_medians(x, spec.resamples, rng);
    interval_from_distribution(
        Statistic::Median,
        &[x],
        distribution,
        spec.level,
        spec.method,
    )
}

/// Bootstrap intervals for `median(a) / median(b)` and `median(a) − median(b)`.
/// The ratio needs positive values in both groups (it is a ratio of amounts).
pub fn contrast_intervals(
    a: &[f64],
    b: &[f64],
    spec: &BootstrapSpec,
    rng: &mut Rng,
) -> Result<ContrastIntervals, String> {
    check(a, spec)?;
    check(b, spec)?;
    // Draw all of a's resamples, then all of b's (as SciPy does, sample by sample).
    let da = bootstrap_medians(a, spec.resamples, rng);
    let db = bootstrap_medians(b, spec.resamples, rng);
    let both: [&[f64]; 2] = [a, b];
    let contrast = |statistic: Statistic| {
        let medians = da.iter().zip(&db).map(|(x, y)| statistic.of(&[*x, *y]));
        interval_from_distribution(statistic, &both, medians.collect(), spec.level, spec.method)
    };
    let positive = |x: &[f64]| x.iter().all(|v| *v > 0.0);
    let ratio = if positive(a) && positive(b) {
        contrast(Statistic::MedianRatio)
    } else {
        Err("a ratio of medians needs positive values in both groups".into())
    };
    Ok(ContrastIntervals {
        ratio,
        difference: contrast(Statistic::MedianDifference),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resampled_median_equals_the_median_of_the_resample() {
        // The counting shortcut must give exactly what sorting the resample gives.
        for n in [1usize, 2, 5, 6, 31] {
            let x: Vec<f64> = (0..n).map(|i| ((i * 7919) % 101) as f64 * 0.37).collect();
            let s = sorted(&x);
            let mut counts = vec![0u32; n];
            let (mut r1, mut r2) = (Rng::new(5), Rng::new(5));
            for _ in 0..200 {
                let fast = resample_median(&s, &mut counts, &mut r1);
                let draws: Vec<f64> = (0..n).map(|_| s[r2.below(n)]).collect();
                let slow = median_sorted(&sorted(&draws)).unwrap();
                assert_eq!(fast, slow, "n = {n}");
            }
        }
    }

    #[test]
    fn too_few_values_or_resamples_are_refused_with_a_reason() {
        let spec = BootstrapSpec {
            resamples: 1000,
            level: 0.95,
            method: CiMethod::Percentile,
        };
        let mut rng = Rng::new(1);
        let err = median_interval(&[1.0, 2.0, 3.0], &spec, &mut rng).unwrap_err();
        assert!(err.contains("at least 5 values"), "{err}");
        let few = BootstrapSpec {
            resamples: 10,
            ..spec
        };
        let err = median_interval(&[1.0, 2.0, 3.0, 4.0, 5.0], &few, &mut rng).unwrap_err();
        assert!(err.contains("too few"), "{err}");
        let with_nan = [1.0, 2.0, f64::NAN, 4.0, 5.0];
        assert!(median_interval(&with_nan, &spec, &mut rng).is_err());
    }

    #[test]
    fn ratio_refuses_non_positive_values_but_difference_is_given() {
        let spec = BootstrapSpec {
            resamples: 500,
            level: 0.95,
            method: CiMethod::Percentile,
        };
        let a = [-1.0, 0.5, 1.0, 2.0, 3.0, 4.0];
        let b = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0];
        let c = contrast_intervals(&a, &b, &spec, &mut Rng::new(3)).unwrap();
        assert!(c.ratio.unwrap_err().contains("positive"));
        let d = c.difference.unwrap();
        assert!(d.low < d.high);
    }

    #[test]
    fn constant_data_give_a_point_interval_and_bca_says_why_it_cannot() {
        let x = [5.0; 8];
        let pct = BootstrapSpec {
            resamples: 200,
            level: 0.95,
            method: CiMethod::Percentile,
        };
        let i = median_interval(&x, &pct, &mut Rng::new(2)).unwrap();
        assert_eq!((i.low, i.high), (5.0, 5.0));
        let bca = BootstrapSpec {
            method: CiMethod::Bca,
            ..pct
        };
        // Every bootstrap median equals the estimate: ẑ₀ = Φ⁻¹(½) = 0 but â is 0/0.
        let err = median_interval(&x, &bca, &mut Rng::new(2)).unwrap_err();
        assert!(err.contains("acceleration"), "{err}");
    }

    #[test]
    fn separated_groups_give_a_ratio_interval_around_the_ratio_of_medians() {
        // Distinct values (with ties, every leave-one-out median can be the same and BCa's
        // acceleration is 0/0: see the constant-data test).
        let a: Vec<f64> = (0..30)
            .map(|i| 100.0 + ((i * 37) % 61) as f64 / 10.0)
            .collect();
        let b: Vec<f64> = (0..30)
            .map(|i| 200.0 + ((i * 13) % 41) as f64 / 10.0)
            .collect();
        let (ma, mb) = (
            crate::analysis::stats::median(&a).unwrap(),
            crate::analysis::stats::median(&b).unwrap(),
        );
        for method in [CiMethod::Percentile, CiMethod::Bca] {
            let spec = BootstrapSpec {
                resamples: 2000,
                level: 0.95,
                method,
            };
            let c = contrast_intervals(&a, &b, &spec, &mut Rng::new(9)).unwrap();
            let r = c.ratio.unwrap();
            let d = c.difference.unwrap();
            assert!(
                r.contains(ma / mb) && r.high < 0.53 && r.low > 0.49,
                "{r:?}"
            );
            assert!(
                d.contains(ma - mb) && d.low > -103.0 && d.high < -95.0,
                "{d:?}"
            );
        }
    }
}
