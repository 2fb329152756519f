//! Gaussian kernel density estimate, as `scipy.stats.gaussian_kde(x)(grid)` with its
//! defaults: Scott's rule bandwidth factor `n^(−1/5)` (Scott, D. W. (1992).
//! *Multivariate Density Estimation*, Wiley, §6.3; `d = 1`), kernel variance
//! `factor² · s²`, `s²` the ddof-1 sample variance, equal weights `1/n`:
//! `f(g) = 1/n · Σ_i φ((g − x_i)/h) / h`, `h = factor·s`.

use super::describe::{all_finite, is_constant, sum};
use std::f64::consts::PI;

/// Density at each grid point. `None` when the estimate is undefined: fewer than
/// two values, constant data (zero bandwidth; SciPy raises a singular-matrix error),
/// or NaN/±∞ in the data or the grid.
pub fn gaussian_kde(x: &[f64], grid: &[f64]) -> Option<Vec<f64>> {
    if x.len() < 2 || !all_finite(x) || !all_finite(grid) || is_constant(x) {
        return None;
    }
    let (h, n) = bandwidth(x);
    if !(h > 0.0 && h.is_finite()) {
        return None;
    }
    let norm = 1.0 / (n * h * (2.0 * PI).sqrt());
    // SciPy whitens data and grid separately (a triangular solve, which multiplies by
    // the reciprocal of h) and then subtracts. Doing the same keeps far-tail densities
    // of data with a large offset (|x| >> spread) within 1e-15 of SciPy instead of ~1e-9.
    let inv_h = 1.0 / h;
    let whitened: Vec<f64> = x.iter().map(|&xi| xi * inv_h).collect();
    let density = grid
        .iter()
        .map(|&g| {
            let gw = g * inv_h;
            let s: f64 = whitened
                .iter()
                .map(|&xw| {
                    let u = xw - gw;
                    (-0.5 * (u * u)).exp()
                })
                .sum();
            s * norm
        })
        .collect::<Vec<f64>>();
    density.iter().all(|v| v.is_finite()).then_some(density)
}

/// Kernel standard deviation `h` as SciPy forms it: weights `w = 1/n`, effective size
/// `n_eff = 1/Σw²`, Scott's factor `n_eff^(−1/5)`, and the weighted covariance of
/// `numpy.cov(x, aweights=w)` (ddof 1): `Σ w(x − x̄_w)² / (Σw − Σw²/Σw)`.
/// Mathematically `h = s·n^(−1/5)`; following SciPy's arithmetic keeps the far tails
/// of the estimate within rounding of SciPy's. Returns `(h, n)`.
fn bandwidth(x: &[f64]) -> (f64, f64) {
    let n = x.len() as f64;
    let w = 1.0 / n;
    let weights = vec![w; x.len()];
    let w_sum = sum(&weights);
    let w_sq: Vec<f64> = weights.iter().map(|&v| v * v).collect();
    let w_sq_sum = sum(&w_sq);
    let weighted: Vec<f64> = x.iter().map(|&v| v * w).collect();
    let avg = sum(&weighted) / w_sum;
    let fact = w_sum - w_sq_sum / w_sum;
    let sq: Vec<f64> = x
        .iter()
        .map(|&v| {
            let d = v - avg;
            d * (d * w)
        })
        .collect();
    let cov = sum(&sq) * (1.0 / fact);
    let factor = (1.0 / w_sq_sum).powf(-0.2);
    (cov.sqrt() * factor, n)
}
