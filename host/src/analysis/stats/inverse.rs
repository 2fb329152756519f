//! Quantile functions: the standard normal's and Student t's.
//!
//! * [`normal_quantile`]: Wichura, M. J. (1988). Algorithm AS 241: The percentage points
//!   of the normal distribution. *Applied Statistics* 37(3), 477–484 (`PPND16`, about
//!   1e-16 relative), as `scipy.special.ndtri`.
//! * [`student_t_quantile`]: the root of [`student_t_sf`] by bisection to the last bits,
//!   as `scipy.stats.t.ppf`. Bisection is slow next to a Newton iteration but cannot
//!   diverge, and the callers (power analysis) need a handful of quantiles, not millions.

use super::distributions::student_t_sf;

/// Evaluates a polynomial with coefficients from the constant term up (Horner).
fn poly(c: &[f64], x: f64) -> f64 {
    c.iter().rev().fold(0.0, |acc, &k| acc * x + k)
}

#[allow(clippy::excessive_precision)] // AS 241's coefficients, as printed
const A: [f64; 8] = [
    3.387_132_872_796_366_6,
    133.141_667_891_784_38,
    1_971.590_950_306_551_3,
    13_731.693_765_509_461,
    45_921.953_931_549_87,
    67_265.770_927_008_7,
    33_430.575_583_588_13,
    2_509.080_928_730_122_7,
];
#[allow(clippy::excessive_precision)] // AS 241's coefficients, as printed
const B: [f64; 8] = [
    1.0,
    42.313_330_701_600_91,
    687.187_007_492_057_9,
    5_394.196_021_424_751,
    21_213.794_301_586_597,
    39_307.895_800_092_71,
    28_729.085_735_721_943,
    5_226.495_278_852_854_5,
];
#[allow(clippy::excessive_precision)] // AS 241's coefficients, as printed
const C: [f64; 8] = [
    1.423_437_110_749_683_5,
    4.630_337_846_156_545,
    5.769_497_221_460_691,
    3.647_848_324_763_204_5,
    1.270_458_252_452_368_4,
    0.241_780_725_177_450_6,
    0.022_723_844_989_269_184,
    7.745_450_142_783_414e-4,
];
#[allow(clippy::excessive_precision)] // AS 241's coefficients, as printed
const D: [f64; 8] = [
    1.0,
    2.053_191_626_637_759,
    1.676_384_830_183_803_8,
    0.689_767_334_985_1,
    0.148_103_976_427_480_08,
    0.015_198_666_563_616_457,
    5.475_938_084_995_345e-4,
    1.050_750_071_644_416_8e-9,
];
#[allow(clippy::excessive_precision)] // AS 241's coefficients, as printed
const E: [f64; 8] = [
    6.657_904_643_501_103,
    5.463_784_911_164_114,
    1.784_826_539_917_291_3,
    0.296_560_571_828_504_9,
    0.026_532_189_526_576_124,
    0.001_242_660_947_388_078_4,
    2.711_555_568_743_487_6e-5,
    2.010_334_399_292_288_1e-7,
];
#[allow(clippy::excessive_precision)] // AS 241's coefficients, as printed
const F: [f64; 8] = [
    1.0,
    0.599_832_206_555_887_9,
    0.136_929_880_922_735_8,
    0.014_875_361_290_850_615,
    7.868_691_311_456_133e-4,
    1.846_318_317_510_054_8e-5,
    1.421_511_758_316_446e-7,
    2.044_263_103_389_939_7e-15,
];

/// `Φ⁻¹(p)`: `−∞` at 0, `+∞` at 1, NaN outside `[0, 1]`.
pub fn normal_quantile(p: f64) -> f64 {
    if p.is_nan() || !(0.0..=1.0).contains(&p) {
        return f64::NAN;
    }
    if p == 0.0 {
        return f64::NEG_INFINITY;
    }
    if p == 1.0 {
        return f64::INFINITY;
    }
    let q = p - 0.5;
    if q.abs() <= 0.425 {
        let r = 0.180_625 - q * q;
        return q * poly(&A, r) / poly(&B, r);
    }
    let tail = if q < 0.0 { p } else { 1.0 - p };
    let mut r = (-tail.ln()).sqrt();
    let value = if r <= 5.0 {
        r -= 1.6;
        poly(&C, r) / poly(&D, r)
    } else {
        r -= 5.0;
        poly(&E, r) / poly(&F, r)
    };
    if q < 0.0 {
        -value
    } else {
        value
    }
}

/// The `p`-quantile of Student's t with `df` degrees of freedom; NaN for a bad `df` or
/// `p` outside `[0, 1]`, `∓∞` at 0 and 1.
pub fn student_t_quantile(df: f64, p: f64) -> f64 {
    if p.is_nan() || !(0.0..=1.0).contains(&p) || df.is_nan() || df <= 0.0 {
        return f64::NAN;
    }
    if p == 0.0 {
        return f64::NEG_INFINITY;
    }
    if p == 1.0 {
        return f64::INFINITY;
    }
    if p == 0.5 {
        return 0.0;
    }
    // Solve P(T > t) = tail for t > 0; the sign comes from the side of ½.
    let (tail, sign) = if p < 0.5 { (p, -1.0) } else { (1.0 - p, 1.0) };
    let mut hi = normal_quantile(1.0 - tail).max(1.0);
    while student_t_sf(df, hi) > tail {
        hi *= 2.0;
        if !hi.is_finite() {
            return sign * f64::INFINITY;
        }
    }
    let mut lo = 0.0;
    for _ in 0..200 {
        let mid = 0.5 * (lo + hi);
        if mid <= lo || mid >= hi {
            break;
        }
        if student_t_sf(df, mid) > tail {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    sign * 0.5 * (lo + hi)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::stats::{normal_cdf, student_t_cdf};

    #[test]
    fn quantiles_invert_their_cdfs() {
        for p in [
            1e-300,
            1e-20,
            1e-5,
            0.0125,
            0.3,
            0.5,
            0.7,
            0.975,
            1.0 - 1e-12,
        ] {
            let z = normal_quantile(p);
            let back = normal_cdf(z);
            assert!(((back - p) / p).abs() < 1e-12, "p {p}: z {z}, Φ(z) {back}");
        }
        for df in [1.0, 2.5, 9.0, 57.3, 1e6] {
            for p in [1e-9, 0.001, 0.025, 0.2, 0.5, 0.8, 0.975, 0.999] {
                let t = student_t_quantile(df, p);
                let back = student_t_cdf(df, t);
                assert!(
                    ((back - p) / p).abs() < 1e-10,
                    "df {df} p {p}: t {t} → {back}"
                );
            }
        }
    }

    #[test]
    fn edges_are_infinite_and_bad_input_is_nan() {
        assert_eq!(normal_quantile(0.0), f64::NEG_INFINITY);
        assert_eq!(normal_quantile(1.0), f64::INFINITY);
        assert!(normal_quantile(1.5).is_nan() && normal_quantile(f64::NAN).is_nan());
        assert!(student_t_quantile(0.0, 0.3).is_nan());
        assert!(student_t_quantile(3.0, -0.1).is_nan());
        assert_eq!(student_t_quantile(3.0, 1.0), f64::INFINITY);
    }
}
