//! Effect sizes: Cohen's d with the pooled standard deviation and Cliff's delta.
//!
//! * Cohen, J. (1988). *Statistical Power Analysis for the Behavioral Sciences*,
//!   2nd ed., §2.2: `d = (mean_a − mean_b) / s_p`,
//!   `s_p = sqrt(((n_a−1)s_a² + (n_b−1)s_b²) / (n_a+n_b−2))`, ddof-1 variances.
//! * Cliff, N. (1993). Dominance statistics: ordinal analyses to answer ordinal
//!   questions. *Psychological Bulletin* 114(3), 494–509:
//!   `δ = P(a > b) − P(a < b)` over all `n_a·n_b` pairs (ties count as neither).

use super::describe::{all_finite, mean, sorted, variance};

/// Cohen's d (a − b over the pooled sd). `None` when a group has fewer than two
/// values, the data hold NaN/±∞, or the pooled standard deviation is 0.
pub fn cohens_d(a: &[f64], b: &[f64]) -> Option<f64> {
    if a.len() < 2 || b.len() < 2 || !all_finite(a) || !all_finite(b) {
        return None;
    }
    let (na, nb) = (a.len() as f64, b.len() as f64);
    let pooled_var =
        ((na - 1.0) * variance(a, 1)? + (nb - 1.0) * variance(b, 1)?) / (na + nb - 2.0);
    let sd = pooled_var.sqrt();
    if sd <= 0.0 || !sd.is_finite() {
        return None;
    }
    let d = (mean(a)? - mean(b)?) / sd;
    d.is_finite().then_some(d)
}

/// Cliff's delta `P(a > b) − P(a < b)`, in `[−1, 1]`. `None` when a group is empty
/// or the data hold NaN/±∞. O((n_a + n_b) log n_b).
pub fn cliffs_delta(a: &[f64], b: &[f64]) -> Option<f64> {
    if a.is_empty() || b.is_empty() || !all_finite(a) || !all_finite(b) {
        return None;
    }
    let sb = sorted(b);
    let mut greater: u128 = 0;
    let mut less: u128 = 0;
    for &x in a {
        let below = sb.partition_point(|&v| v < x);
        let not_above = sb.partition_point(|&v| v <= x);
        greater += below as u128;
        less += (sb.len() - not_above) as u128;
    }
    let pairs = a.len() as f64 * b.len() as f64;
    let diff = if greater >= less {
        (greater - less) as f64
    } else {
        -((less - greater) as f64)
    };
    Some(diff / pairs)
}
