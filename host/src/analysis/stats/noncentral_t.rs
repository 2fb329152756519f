//! The noncentral t distribution's CDF, for the power of Welch's t-test
//! (`scipy.stats.nct.cdf`).
//!
//! * `|δ| ≤ 37`: Lenth, R. V. (1989). Algorithm AS 243: Cumulative distribution function
//!   of the non-central t distribution. *Applied Statistics* 38(1), 185–189 — Guenther's
//!   twin series in incomplete beta functions, summed until the error bound is below
//!   1e-13 (about 1e-12 absolute against SciPy/Boost).
//! * `|δ| > 37`: the series' first Poisson weight `e^{−δ²/2}` underflows there (AS 243's
//!   documented limit), so the CDF is integrated instead over the chi variable of its
//!   definition `T = (Z + δ) / √(V/ν)`: `P(T ≤ t) = ∫₀^∞ Φ(t·u/√ν − δ) f_χν(u) du`,
//!   composite Simpson on ±30 around the chi mode, fine enough to resolve where `Φ` turns
//!   (about 1e-9 absolute). Such δ arise in
//!   power analysis only for enormous effects, where this precision is ample.

use super::distributions::{incomplete_beta_pair, ln_beta};
use super::normal_cdf;

const ERROR_MAX: f64 = 1e-13;
const MAX_TERMS: usize = 5_000;
/// Above this `|δ|` the series underflows: integrate instead.
const SERIES_LIMIT: f64 = 37.0;

/// `P(T ≤ t)` for the noncentral t with `df > 0` degrees of freedom and noncentrality
/// `delta`. NaN for a bad `df` or NaN input.
pub fn noncentral_t_cdf(df: f64, delta: f64, t: f64) -> f64 {
    if df.is_nan() || df <= 0.0 || t.is_nan() || delta.is_nan() {
        return f64::NAN;
    }
    if t == f64::INFINITY {
        return 1.0;
    }
    if t == f64::NEG_INFINITY {
        return 0.0;
    }
    if delta.abs() > SERIES_LIMIT {
        return by_integral(df, delta, t);
    }
    // AS 243 works with t ≥ 0: P(T ≤ t; δ) = 1 − P(T ≤ −t; −δ).
    let (tt, del, flip) = if t < 0.0 {
        (-t, -delta, true)
    } else {
        (t, delta, false)
    };
    let upper_part = series(df, del, tt);
    let cdf = upper_part + normal_cdf(-del);
    let cdf = if flip { 1.0 - cdf } else { cdf };
    cdf.clamp(0.0, 1.0)
}

/// `P(T > t)`.
pub fn noncentral_t_sf(df: f64, delta: f64, t: f64) -> f64 {
    // The upper tail of T with δ is the lower tail of −T with −δ.
    noncentral_t_cdf(df, -delta, -t)
}

/// AS 243's twin series for `t ≥ 0`: `P(0 < T ≤ t)`-like part, without `Φ(−δ)`.
fn series(df: f64, del: f64, t: f64) -> f64 {
    let t2 = t * t;
    if t2 == 0.0 {
        return 0.0;
    }
    // x = t²/(t²+ν) and 1 − x formed separately, without cancellation.
    let x = t2 / (t2 + df);
    let y = df / (t2 + df);
    let lambda = del * del;
    let mut p = 0.5 * (-0.5 * lambda).exp();
    let mut q = (2.0 / std::f64::consts::PI).sqrt() * p * del;
    let mut s = 0.5 - p;
    let mut a = 0.5;
    let b = 0.5 * df;
    let rxb = y.powf(b);
    let ln_beta_ab = ln_beta(a, b);
    let (ln_x, ln_y) = (-(df / t2).ln_1p(), -(t2 / df).ln_1p());
    let mut x_odd = incomplete_beta_pair(a, b, x, y, ln_x, ln_y).0;
    let mut g_odd = 2.0 * rxb * (a * ln_x - ln_beta_ab).exp();
    let mut x_even = 1.0 - rxb;
    let mut g_even = b * x * rxb;
    let mut total = p * x_odd + q * x_even;
    let mut en = 1.0;
    for _ in 0..MAX_TERMS {
        a += 1.0;
        x_odd -= g_odd;
        x_even -= g_even;
        g_odd *= x * (a + b - 1.0) / a;
        g_even *= x * (a + b - 0.5) / (a + 0.5);
        p *= lambda / (2.0 * en);
        q *= lambda / (2.0 * en + 1.0);
        s -= p;
        en += 1.0;
        total += p * x_odd + q * x_even;
        let bound = 2.0 * s * (x_odd - g_odd);
        if bound <= ERROR_MAX {
            break;
        }
    }
    total
}

/// `∫₀^∞ Φ(t·u/√ν − δ) f_χν(u) du` by composite Simpson.
fn by_integral(df: f64, delta: f64, t: f64) -> f64 {
    let mode = df.sqrt();
    let (lo, hi) = ((mode - 30.0).max(0.0), mode + 30.0);
    // Φ(t·u/√ν − δ) turns from 0 to 1 over a width √ν/|t| in u: ten steps across it at
    // least, and never coarser than 0.005 (the chi density's scale is ~0.7).
    let turn = if t == 0.0 {
        f64::INFINITY
    } else {
        mode / t.abs()
    };
    let step = (turn / 10.0).min(0.005);
    let intervals = (((hi - lo) / step).ceil() as usize).clamp(2, 400_000) & !1;
    let h = (hi - lo) / intervals as f64;
    let ln_norm = (0.5 * df - 1.0) * std::f64::consts::LN_2 + ln_gamma_half(df);
    let f = |u: f64| {
        if u <= 0.0 {
            // f_χν(0) is 0 for ν > 1, the half-normal's √(2/π) for ν = 1, ∞ below.
            return if df == 1.0 {
                (2.0 / std::f64::consts::PI).sqrt() * normal_cdf(-delta)
            } else {
                0.0
            };
        }
        let density = ((df - 1.0) * u.ln() - 0.5 * u * u - ln_norm).exp();
        normal_cdf(t * u / mode - delta) * density
    };
    let mut sum = f(lo) + f(hi);
    for i in 1..intervals {
        let u = lo + h * i as f64;
        sum += if i % 2 == 1 { 4.0 } else { 2.0 } * f(u);
    }
    (sum * h / 3.0).clamp(0.0, 1.0)
}

/// `ln Γ(ν/2)`.
fn ln_gamma_half(df: f64) -> f64 {
    statrs::function::gamma::ln_gamma(0.5 * df)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::stats::student_t_cdf;

    #[test]
    fn zero_noncentrality_is_students_t() {
        for df in [1.0, 3.0, 17.5, 200.0] {
            for t in [-4.0, -1.0, 0.0, 0.7, 2.5, 9.0] {
                let got = noncentral_t_cdf(df, 0.0, t);
                let want = student_t_cdf(df, t);
                assert!((got - want).abs() < 1e-12, "df {df} t {t}: {got} vs {want}");
            }
        }
    }

    #[test]
    fn series_and_integral_agree_where_both_work() {
        for (df, delta, t) in [(4.0, 3.0, 2.0), (20.0, 12.0, 10.0), (7.0, 30.0, 25.0)] {
            let s = noncentral_t_cdf(df, delta, t);
            let i = by_integral(df, delta, t);
            assert!((s - i).abs() < 1e-8, "df {df} δ {delta} t {t}: {s} vs {i}");
        }
    }

    #[test]
    fn large_noncentrality_is_not_rounded_to_certainty() {
        // T = (Z + 40)/√(χ²₁): P(T > 150) = P(|χ₁| < (Z+40)/150) ≈ 0.21, not 1.
        let sf = noncentral_t_sf(1.0, 40.0, 150.0);
        assert!((0.15..0.3).contains(&sf), "{sf}");
        assert!(noncentral_t_cdf(f64::NAN, 1.0, 1.0).is_nan());
    }
}
