//! Descriptive statistics: `describe`, `median`, `population_std`, and the summation
//! and variance helpers the other files share.
//!
//! Sums use the same pairwise summation as NumPy's `add.reduce` for contiguous float64
//! (`pairwise_sum` in NumPy's `loops_utils.h`: blocks of at most 128 values summed with
//! eight interleaved accumulators, larger ranges split in halves rounded to multiples
//! of eight), so means and variances match `numpy.mean`/`numpy.var` bit for bit in
//! practice, and derived decisions (e.g. k-sigma outliers) do not flip on a last-ulp
//! difference.
//!
//! Inputs are assumed free of NaN; a slice holding NaN or ±∞ gets `None`.

/// Summary of one sample, as `summary.json` reports it.
#[derive(Clone, Debug, PartialEq)]
pub struct Description {
    /// Number of observations.
    pub n: usize,
    /// Arithmetic mean.
    pub mean: f64,
    /// Median (mean of the two middle values for even `n`).
    pub median: f64,
    /// Sample variance, ddof 1; `None` when `n < 2`.
    pub variance: Option<f64>,
    /// Sample standard deviation, ddof 1; `None` when `n < 2`.
    pub std: Option<f64>,
    /// Smallest value.
    pub min: f64,
    /// Largest value.
    pub max: f64,
}

/// NumPy's pairwise summation of a contiguous float64 block (no initial value).
fn pairwise_block(x: &[f64]) -> f64 {
    let n = x.len();
    if n < 8 {
        let mut s = 0.0;
        for &v in x {
            s += v;
        }
        s
    } else if n <= 128 {
        let mut r = [0.0f64; 8];
        r.copy_from_slice(&x[..8]);
        let whole = n - n % 8;
        let mut i = 8;
        while i < whole {
            for (j, acc) in r.iter_mut().enumerate() {
                *acc += x[i + j];
            }
            i += 8;
        }
        let mut s = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
        for &v in &x[whole..] {
            s += v;
        }
        s
    } else {
        let mut half = n / 2;
        half -= half % 8;
        pairwise_block(&x[..half]) + pairwise_block(&x[half..])
    }
}

/// Sum as `numpy.sum` computes it for a 1-D float64 array.
pub(crate) fn sum(x: &[f64]) -> f64 {
    0.0 + pairwise_block(x)
}

/// True when every value is finite.
pub(crate) fn all_finite(x: &[f64]) -> bool {
    x.iter().all(|v| v.is_finite())
}

/// True when all values are equal (and the slice is not empty).
pub(crate) fn is_constant(x: &[f64]) -> bool {
    match x.first() {
        Some(&first) => x.iter().all(|&v| v == first),
        None => false,
    }
}

/// Mean as `numpy.mean`; constant data give that constant exactly (NumPy may be
/// an ulp off there, e.g. for `[0.1; 3]`). `None` when empty.
pub(crate) fn mean(x: &[f64]) -> Option<f64> {
    if x.is_empty() {
        return None;
    }
    if is_constant(x) {
        return Some(x[0]);
    }
    Some(sum(x) / x.len() as f64)
}

/// Sum of squared deviations from `m`, summed the NumPy way.
pub(crate) fn sum_sq_dev(x: &[f64], m: f64) -> f64 {
    let dev: Vec<f64> = x
        .iter()
        .map(|&v| {
            let d = v - m;
            d * d
        })
        .collect();
    sum(&dev)
}

/// Variance with `ddof` as `numpy.var(x, ddof=ddof)`; exactly 0 for constant data.
/// `None` when `n <= ddof`.
pub(crate) fn variance(x: &[f64], ddof: usize) -> Option<f64> {
    let n = x.len();
    if n <= ddof {
        return None;
    }
    if is_constant(x) {
        return Some(0.0);
    }
    let m = mean(x)?;
    Some(sum_sq_dev(x, m) / (n - ddof) as f64)
}

/// A sorted copy (total order, so no panic whatever the input).
pub(crate) fn sorted(x: &[f64]) -> Vec<f64> {
    let mut v = x.to_vec();
    v.sort_by(f64::total_cmp);
    v
}

/// Median of already sorted, non-empty data, as `numpy.median`.
pub(crate) fn median_sorted(s: &[f64]) -> Option<f64> {
    let n = s.len();
    if n == 0 {
        return None;
    }
    if n % 2 == 1 {
        Some(s[n / 2])
    } else {
        Some((0.0 + s[n / 2 - 1] + s[n / 2]) / 2.0)
    }
}

/// Median as `numpy.median`; `None` when empty or not all finite.
pub fn median(x: &[f64]) -> Option<f64> {
    if !all_finite(x) {
        return None;
    }
    median_sorted(&sorted(x)).filter(|m| m.is_finite())
}

/// Population standard deviation (ddof 0) as `numpy.std(x)`; `None` when empty or
/// not all finite.
pub fn population_std(x: &[f64]) -> Option<f64> {
    if !all_finite(x) {
        return None;
    }
    variance(x, 0).map(f64::sqrt).filter(|s| s.is_finite())
}

/// n, mean, median, sample variance and std (ddof 1), min, max.
/// `None` when `x` is empty or holds NaN/±∞. For `n == 1` the variance and standard deviation
/// are `None` (undefined with ddof 1); constant data give exactly 0. Values near `f64::MAX`
/// (1e308) overflow the plain sums: the mean, median and standard deviation are then computed
/// on the values scaled by the largest magnitude ([`scaled`]), and only the variance, whose
/// value (1e616) no `f64` holds, is `None`.
pub fn describe(x: &[f64]) -> Option<Description> {
    if x.is_empty() || !all_finite(x) {
        return None;
    }
    let s = sorted(x);
    let var = variance(x, 1).filter(|v| v.is_finite());
    let std = match var {
        Some(v) => Some(v.sqrt()),
        None if x.len() >= 2 => scaled(x, |y| variance(y, 1).map(f64::sqrt)),
        None => None,
    };
    Some(Description {
        n: x.len(),
        mean: mean(x)
            .filter(|m| m.is_finite())
            .or_else(|| scaled(x, mean))?,
        median: median_sorted(&s)
            .filter(|m| m.is_finite())
            .or_else(|| scaled(&s, median_sorted))?,
        variance: var,
        std,
        min: s[0],
        max: s[s.len() - 1],
    })
}

/// `f(x / c) × c` with `c` the largest |x|: a statistic that scales with the data (mean,
/// median, standard deviation) computed where its sums cannot overflow. `None` when the
/// result is not finite.
fn scaled(x: &[f64], f: impl Fn(&[f64]) -> Option<f64>) -> Option<f64> {
    let c = x.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    if c == 0.0 || !c.is_finite() {
        return None;
    }
    let y: Vec<f64> = x.iter().map(|v| v / c).collect();
    f(&y).map(|r| r * c).filter(|r| r.is_finite())
}
