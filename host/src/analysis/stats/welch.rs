//! Welch's unequal-variance t-test, two-sided, as
//! `scipy.stats.ttest_ind(a, b, equal_var=False)`.
//!
//! Welch, B. L. (1947). The generalization of "Student's" problem when several
//! different population variances are involved. *Biometrika* 34, 28–35;
//! Satterthwaite, F. E. (1946) for the degrees of freedom.
//! `t = (mean_a − mean_b) / sqrt(v_a/n_a + v_b/n_b)` with ddof-1 variances,
//! `df = (v_a/n_a + v_b/n_b)² / ((v_a/n_a)²/(n_a−1) + (v_b/n_b)²/(n_b−1))`,
//! `p = 2·P(T_df > |t|)`.

use super::describe::{all_finite, is_constant, mean, sum_sq_dev};
use super::distributions::student_t_sf;

/// Result of a two-sample t-test.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TTest {
    /// t statistic (positive when mean(a) > mean(b)).
    pub statistic: f64,
    /// Welch–Satterthwaite degrees of freedom.
    pub df: f64,
    /// Two-sided p-value.
    pub p_value: f64,
}

/// ddof-1 variance the way SciPy's `_var` forms it: `mean((x−m)²)·n/(n−1)`;
/// exactly 0 for constant data.
fn scipy_sample_variance(x: &[f64], m: f64) -> f64 {
    if is_constant(x) {
        return 0.0;
    }
    let n = x.len() as f64;
    (sum_sq_dev(x, m) / n) * (n / (n - 1.0))
}

/// Welch's t-test, two-sided. `Err(reason)` when it is undefined: a group with fewer
/// than two values, NaN/±∞ in the data, or both groups with zero variance.
pub fn welch_t_test(a: &[f64], b: &[f64]) -> Result<TTest, String> {
    if a.len() < 2 || b.len() < 2 {
        return Err(format!(
            "Welch's t-test needs at least 2 values per group, got {} and {}",
            a.len(),
            b.len()
        ));
    }
    if !all_finite(a) || !all_finite(b) {
        return Err("data contain NaN or infinite values".to_string());
    }
    let (Some(ma), Some(mb)) = (mean(a), mean(b)) else {
        return Err("empty group".to_string());
    };
    let (na, nb) = (a.len() as f64, b.len() as f64);
    let vna = scipy_sample_variance(a, ma) / na;
    let vnb = scipy_sample_variance(b, mb) / nb;
    if vna == 0.0 && vnb == 0.0 {
        return Err("both groups have zero variance: the t statistic is undefined".to_string());
    }
    // Scaled by the larger term so that tiny variances cannot underflow to 0/0.
    let scale = vna.max(vnb);
    let (ra, rb) = (vna / scale, vnb / scale);
    let df = (ra + rb) * (ra + rb) / (ra * ra / (na - 1.0) + rb * rb / (nb - 1.0));
    let denom = (vna + vnb).sqrt();
    let statistic = (ma - mb) / denom;
    let p_value = (2.0 * student_t_sf(df, statistic.abs())).min(1.0);
    if !(statistic.is_finite() && df.is_finite() && p_value.is_finite()) {
        return Err("Welch's t-test is numerically undefined for these data".to_string());
    }
    Ok(TTest {
        statistic,
        df,
        p_value,
    })
}
