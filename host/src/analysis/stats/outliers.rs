//! k-sigma outliers, as the study cleaned its data: a value is an outlier when
//! `|x − mean| > k·σ`, σ the population standard deviation (ddof 0), computed on the
//! whole sample at once (one pass, not iterated). Same arithmetic as
//! `numpy.abs(x - x.mean()) > k * x.std()`.

use super::describe::{all_finite, is_constant, mean, variance};

/// One flag per value, `true` = outlier (strictly beyond `k` population standard
/// deviations). Constant data, fewer than two values, a NaN `k`, or data holding
/// NaN/±∞ give all `false` (nothing can be judged an outlier).
pub fn sigma_outliers(x: &[f64], k: f64) -> Vec<bool> {
    if x.len() < 2 || !all_finite(x) || is_constant(x) || k.is_nan() {
        return vec![false; x.len()];
    }
    let (Some(m), Some(var)) = (mean(x), variance(x, 0)) else {
        return vec![false; x.len()];
    };
    if !(m.is_finite() && var.is_finite()) {
        return vec![false; x.len()];
    }
    let limit = k * var.sqrt();
    x.iter().map(|&v| (v - m).abs() > limit).collect()
}
