//! Distribution functions: the standard normal and Student's t.
//!
//! SciPy computes these with `scipy.special.ndtr` (Cephes) and `scipy.special.stdtr`.
//! `statrs` 0.19's versions are not used (only its `ln_gamma` is): its `erfc` is only
//! good to about 1e-10 relative (measured against SciPy), and
//! its incomplete beta function loses every digit of Student-t tails below ~1e-15
//! (it evaluates `I_x` at `x = 1 − tiny`). Both matter for the small p-values of
//! strongly separated groups, so this file implements them with textbook methods:
//!
//! * `erf`: the everywhere-positive series `erf(x) = 2/√π · e^{−x²} · Σ 2ⁿ x^{2n+1} /
//!   (1·3·…·(2n+1))` (Abramowitz & Stegun 7.1.6), used for `x < 2`;
//! * `erfc`: Laplace's continued fraction (A&S 7.1.14, DLMF 7.9.2) evaluated with the
//!   modified Lentz method (Thompson & Barnett 1986), used for `x ≥ 2`, with `e^{−x²}`
//!   split as `e^{−m²}·e^{−(2mf+f²)}` (as Cephes' `expx2` does) so the exponent is exact;
//! * the normal CDF uses the same split as Cephes `ndtr`: `½ + ½·erf(x/√2)` for
//!   `|x/√2| < 1/√2`, otherwise `½·erfc(|x|/√2)` (kept in full relative precision);
//! * the Student t tail `P(T > t) = ½·I_x(ν/2, ½)`, `x = ν/(ν+t²)` (A&S 26.7.1), with
//!   the regularized incomplete beta function from its continued fraction (DLMF 8.17.22,
//!   Lentz again), switched to `1 − I_{1−x}(½, ν/2)` where that converges faster
//!   (`x ≥ (a+1)/(a+b+2)`, Press et al., *Numerical Recipes* 3rd ed. §6.4), with both
//!   `x` and `1 − x` formed directly from `t²` and `ν` (no `1 − x` cancellation), and
//!   `ln B(a,b)` via a Stirling-series difference for large `a` (DLMF 5.11.1) so that
//!   large Welch degrees of freedom do not cancel `ln Γ` values of size 10⁴.

use std::f64::consts::{FRAC_1_SQRT_2, PI};

/// `2/√π`.
const TWO_OVER_SQRT_PI: f64 = std::f64::consts::FRAC_2_SQRT_PI;
/// Most iterations any series or continued fraction here may take.
const MAX_ITER: usize = 100_000;

/// `e^{−x²}` without the rounding error of forming `x²` (Cephes `expx2` idea):
/// `x = m + f` with `m` a multiple of 1/128, so `m²` is exact.
fn exp_neg_sq(x: f64) -> f64 {
    let x = x.abs();
    let m = (x * 128.0).floor() / 128.0;
    let f = x - m;
    (-(m * m)).exp() * (-(2.0 * m * f + f * f)).exp()
}

/// `erf(x)` for `0 ≤ x < ~3` from the positive-term series (A&S 7.1.6).
fn erf_series(x: f64) -> f64 {
    let two_x2 = 2.0 * x * x;
    let mut term = x;
    let mut sum = x;
    for n in 1..MAX_ITER {
        term *= two_x2 / (2 * n + 1) as f64;
        sum += term;
        if term <= sum * f64::EPSILON * 0.25 {
            break;
        }
    }
    TWO_OVER_SQRT_PI * exp_neg_sq(x) * sum
}

/// `erfc(x)` for `x ≥ 2` from Laplace's continued fraction (A&S 7.1.14):
/// `erfc(x) = e^{−x²}/√π · 1/(x + (1/2)/(x + 1/(x + (3/2)/(x + …))))`.
fn erfc_continued_fraction(x: f64) -> f64 {
    // Modified Lentz for g = x + a1/(x + a2/(x + …)), a_j = j/2.
    let tiny = 1e-300;
    let mut g = x;
    let mut c = x;
    let mut d = 0.0;
    for j in 1..MAX_ITER {
        let a = j as f64 * 0.5;
        d = x + a * d;
        if d.abs() < tiny {
            d = tiny;
        }
        c = x + a / c;
        if c.abs() < tiny {
            c = tiny;
        }
        d = 1.0 / d;
        let delta = c * d;
        g *= delta;
        if (delta - 1.0).abs() <= f64::EPSILON {
            break;
        }
    }
    exp_neg_sq(x) / (PI.sqrt() * g)
}

/// The error function.
pub fn erf(x: f64) -> f64 {
    if x.is_nan() {
        return f64::NAN;
    }
    let ax = x.abs();
    let r = if ax < 2.0 {
        erf_series(ax)
    } else {
        1.0 - erfc_continued_fraction(ax)
    };
    r.copysign(x)
}

/// The complementary error function, full relative precision for large `x`.
pub fn erfc(x: f64) -> f64 {
    if x.is_nan() {
        return f64::NAN;
    }
    if x < 0.0 {
        return 2.0 - erfc(-x);
    }
    if x < 2.0 {
        1.0 - erf_series(x)
    } else if x > 27.3 {
        0.0 // below the smallest subnormal
    } else {
        erfc_continued_fraction(x)
    }
}

/// Standard normal CDF, `P(Z ≤ z)`; agrees with `scipy.special.ndtr`.
pub fn normal_cdf(z: f64) -> f64 {
    if z.is_nan() {
        return f64::NAN;
    }
    let x = z * FRAC_1_SQRT_2;
    if x.abs() < FRAC_1_SQRT_2 {
        0.5 + 0.5 * erf(x)
    } else {
        let y = 0.5 * erfc(x.abs());
        if x > 0.0 {
            1.0 - y
        } else {
            y
        }
    }
}

/// Standard normal survival function, `P(Z > z)`; agrees with `scipy.special.ndtr(-z)`.
pub fn normal_sf(z: f64) -> f64 {
    normal_cdf(-z)
}

/// Stirling-series remainder `ln Γ(z) − [(z−½)ln z − z + ½ln 2π]` for `z ≥ 10`
/// (DLMF 5.11.1, Bernoulli numbers B₂…B₁₆; truncation error < 1e-19 there).
fn stirling_remainder(z: f64) -> f64 {
    let r = 1.0 / (z * z);
    let series = 1.0 / 12.0
        + r * (-1.0 / 360.0
            + r * (1.0 / 1260.0
                + r * (-1.0 / 1680.0
                    + r * (1.0 / 1188.0
                        + r * (-691.0 / 360_360.0
                            + r * (1.0 / 156.0 + r * (-3617.0 / 122_400.0)))))));
    series / z
}

/// `ln Γ(a + b) − ln Γ(a)` for `a, b > 0`, accurate also when `a` is large.
fn ln_gamma_ratio(a: f64, b: f64) -> f64 {
    if a >= 10.0 {
        (a - 0.5) * (b / a).ln_1p() + b * (a + b).ln() - b + stirling_remainder(a + b)
            - stirling_remainder(a)
    } else {
        ln_gamma(a + b) - ln_gamma(a)
    }
}

/// `ln Γ(x)` for `x > 0` from `statrs` (Lanczos approximation, Pugh 2004, ~1e-15).
/// Only called with small arguments (below 10 + b, see [`ln_gamma_ratio`]), where
/// its absolute error is negligible; large ones go through the Stirling difference.
fn ln_gamma(x: f64) -> f64 {
    statrs::function::gamma::ln_gamma(x)
}

/// `ln B(a, b)` with the larger argument handled by [`ln_gamma_ratio`].
pub(super) fn ln_beta(a: f64, b: f64) -> f64 {
    let (big, small) = if a >= b { (a, b) } else { (b, a) };
    ln_gamma(small) - ln_gamma_ratio(big, small)
}

/// Continued fraction of the incomplete beta function (DLMF 8.17.22):
/// `I_x(a,b) = x^a (1−x)^b / (a B(a,b)) · 1/(1+ d₁/(1+ d₂/(1+ …)))`, returns the
/// fraction `1/(1+d₁/(1+…))`. Converges fast for `x < (a+1)/(a+b+2)`.
fn beta_continued_fraction(a: f64, b: f64, x: f64) -> f64 {
    let tiny = 1e-300;
    // Lentz for f = 1/(1 + d1/(1 + d2/(1 + …))): start from b0 = 1 with the leading
    // numerator 1, i.e. evaluate F = 1 + d1/(1 + d2/(…)) and return 1/F.
    let mut f = 1.0;
    let mut c = 1.0;
    let mut d = 0.0;
    for j in 1..MAX_ITER {
        let m = (j / 2) as f64;
        let dj = if j % 2 == 0 {
            m * (b - m) * x / ((a + 2.0 * m - 1.0) * (a + 2.0 * m))
        } else {
            -(a + m) * (a + b + m) * x / ((a + 2.0 * m) * (a + 2.0 * m + 1.0))
        };
        d = 1.0 + dj * d;
        if d.abs() < tiny {
            d = tiny;
        }
        c = 1.0 + dj / c;
        if c.abs() < tiny {
            c = tiny;
        }
        d = 1.0 / d;
        let delta = c * d;
        f *= delta;
        if (delta - 1.0).abs() <= f64::EPSILON && j > 2 {
            break;
        }
    }
    1.0 / f
}

/// Regularized incomplete beta `(I_x(a,b), 1 − I_x(a,b))`, given `x`, `y = 1 − x`
/// (both formed by the caller without cancellation) and their logarithms.
pub(super) fn incomplete_beta_pair(
    a: f64,
    b: f64,
    x: f64,
    y: f64,
    ln_x: f64,
    ln_y: f64,
) -> (f64, f64) {
    if x <= 0.0 {
        return (0.0, 1.0);
    }
    if y <= 0.0 {
        return (1.0, 0.0);
    }
    let ln_front = a * ln_x + b * ln_y - ln_beta(a, b);
    let front = ln_front.exp();
    if x < (a + 1.0) / (a + b + 2.0) {
        let i = front / a * beta_continued_fraction(a, b, x);
        (i, 1.0 - i)
    } else {
        let j = front / b * beta_continued_fraction(b, a, y);
        (1.0 - j, j)
    }
}

/// Upper tail `P(T > t)` of Student's t for `t ≥ 0`, `df > 0`.
fn student_t_upper_tail(df: f64, t: f64) -> f64 {
    let t2 = t * t;
    if t2 == 0.0 {
        return 0.5;
    }
    if t2.is_infinite() {
        return 0.0;
    }
    let x = df / (df + t2);
    let y = t2 / (df + t2);
    let ln_x = -(t2 / df).ln_1p();
    let ln_y = -(df / t2).ln_1p();
    let (i, _) = incomplete_beta_pair(0.5 * df, 0.5, x, y, ln_x, ln_y);
    0.5 * i
}

/// Student t CDF `P(T ≤ t)`; agrees with `scipy.special.stdtr(df, t)`.
/// Returns NaN when `df` is not a positive number or `t` is NaN.
pub fn student_t_cdf(df: f64, t: f64) -> f64 {
    if df.is_nan() || df <= 0.0 || t.is_nan() {
        return f64::NAN;
    }
    if df.is_infinite() {
        return normal_cdf(t);
    }
    let tail = student_t_upper_tail(df, t.abs());
    if t < 0.0 {
        tail
    } else {
        1.0 - tail
    }
}

/// Student t survival function `P(T > t)`; agrees with `scipy.special.stdtr(df, -t)`.
pub fn student_t_sf(df: f64, t: f64) -> f64 {
    student_t_cdf(df, -t)
}
