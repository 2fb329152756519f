//! Shapiro–Wilk W test for normality, Royston's algorithm as SciPy runs it.
//!
//! References:
//! * Royston, P. (1995). Remark AS R94: A remark on algorithm AS 181: the W-test for
//!   normality. *Applied Statistics* 44(4), 547–551. (coefficients `a`, W, p-value)
//! * Royston, P. (1992). Approximating the Shapiro–Wilk W-test for non-normality.
//!   *Statistics and Computing* 2, 117–119. (the normalising transformations)
//! * Beasley, J. D. & Springer, S. G. (1977). Algorithm AS 111: the percentage points
//!   of the normal distribution. *Applied Statistics* 26, 118–121. (`ppnd`)
//! * Hill, I. D. (1973). Algorithm AS 66: the normal integral. *Applied Statistics*
//!   22, 424–427. (`alnorm`, with the 2001 extension of the upper cut-off to 38)
//!
//! SciPy (`scipy.stats.shapiro`) sorts the data, subtracts the value at index `n/2`
//! of the *unsorted* input (gh-15777) and runs AS R94 in double precision, using the
//! AS 111 and AS 66 approximations above rather than exact normal functions; they are
//! reproduced here because the p-value must match SciPy to 1e-9, not the exact
//! normal tail (AS 66 itself is only good to ~1e-9..1e-12).

use super::describe::{all_finite, sorted};
use std::f64::consts::{FRAC_1_SQRT_2, PI};

/// Result of the normality step.
#[derive(Clone, Debug, PartialEq)]
pub enum Normality {
    /// W statistic and its p-value.
    Tested {
        /// Shapiro–Wilk W, in (0, 1].
        w: f64,
        /// p-value of W under normality.
        p: f64,
    },
    /// The test does not apply; the reason is meant for people.
    NotApplicable {
        /// Why no number is given.
        reason: String,
    },
}

/// Royston's p-value floor and zero-range threshold (AS R94 `SMALL`).
const SMALL: f64 = 1e-19;

/// Evaluates `c[0] + c[1]·x + … + c[k]·x^k` by Horner's rule (AS R94 `POLY`).
fn poly(c: &[f64], x: f64) -> f64 {
    let Some((&c0, rest)) = c.split_first() else {
        return 0.0;
    };
    let Some((&last, middle)) = rest.split_last() else {
        return c0;
    };
    let mut p = x * last;
    for &ci in middle.iter().rev() {
        p = (p + ci) * x;
    }
    c0 + p
}

/// AS 111: the normal quantile for `p` in (0, 1), about 7 significant digits.
fn ppnd(p: f64) -> f64 {
    let q = p - 0.5;
    if q.abs() <= 0.42 {
        let r = q * q;
        let num = q
            * (((-25.441_060_496_37 * r + 41.391_197_735_34) * r - 18.615_000_625_29) * r
                + 2.506_628_238_84);
        let den = (((3.130_829_098_33 * r - 21.062_241_018_26) * r + 23.083_367_437_43) * r
            - 8.473_510_930_90)
            * r
            + 1.0;
        return num / den;
    }
    let tail = if q > 0.0 { 1.0 - p } else { p };
    if tail <= 0.0 {
        return 0.0;
    }
    let r = (-tail.ln()).sqrt();
    let num =
        ((2.321_212_768_58 * r + 4.850_141_271_35) * r - 2.297_964_791_34) * r - 2.787_189_311_38;
    let den = (1.637_067_818_97 * r + 3.543_889_247_62) * r + 1.0;
    let v = num / den;
    if q < 0.0 {
        -v
    } else {
        v
    }
}

/// AS 66: upper tail area of the standard normal beyond `x`.
fn alnorm_upper(x: f64) -> f64 {
    let (z, upper) = if x > 0.0 { (x, true) } else { (-x, false) };
    // Beyond these the area is 0 (upper) or 1 (lower) in double precision.
    if !(z <= 7.0 || (upper && z <= 38.0)) {
        return if upper { 0.0 } else { 1.0 };
    }
    let y = 0.5 * z * z;
    let tail = if z <= 1.28 {
        0.5 - z
            * (0.398_942_280_444
                - 0.399_903_438_504 * y
                    / (y + 5.758_854_804_58
                        - 29.821_355_780_8
                            / (y + 2.624_331_216_79 + 48.695_993_069_2 / (y + 5.928_857_244_38))))
    } else {
        0.398_942_280_385 * (-y).exp()
            / (z - 3.8052e-8
                + 1.000_006_153_02
                    / (z + 3.980_647_94e-4
                        + 1.986_153_813_64
                            / (z - 0.151_679_116_635
                                + 5.293_303_249_26
                                    / (z + 4.838_591_280_8
                                        - 15.150_897_245_1
                                            / (z + 0.742_380_924_027
                                                + 30.789_933_034 / (z + 3.990_194_170_11))))))
    };
    if upper {
        tail
    } else {
        1.0 - tail
    }
}

/// The AS R94 coefficients `a[0..n/2]` (positive; the lower half of the sorted
/// sample is weighted by `−a[i]`, the upper half by `+a[i]`).
fn coefficients(n: usize) -> Vec<f64> {
    let half = n / 2;
    if n == 3 {
        return vec![FRAC_1_SQRT_2];
    }
    const C1: [f64; 6] = [0.0, 0.221157, -0.147981, -2.071190, 4.434685, -2.706056];
    const C2: [f64; 6] = [0.0, 0.042981, -0.293762, -1.752461, 5.682633, -3.582633];
    let an = n as f64;
    let an25 = an + 0.25;
    let mut m: Vec<f64> = (0..half)
        .map(|i| ppnd((i as f64 + 1.0 - 0.375) / an25))
        .collect();
    let mut summ2 = 0.0;
    for &mi in &m {
        summ2 += mi * mi;
    }
    summ2 *= 2.0;
    let ssumm2 = summ2.sqrt();
    let rsn = 1.0 / an.sqrt();
    let a1 = poly(&C1, rsn) - m[0] / ssumm2;
    let (first_scaled, fac) = if n > 5 {
        let a2 = -m[1] / ssumm2 + poly(&C2, rsn);
        let fac = ((summ2 - 2.0 * (m[0] * m[0]) - 2.0 * (m[1] * m[1]))
            / (1.0 - 2.0 * (a1 * a1) - 2.0 * (a2 * a2)))
            .sqrt();
        m[1] = a2;
        (2, fac)
    } else {
        let fac = ((summ2 - 2.0 * (m[0] * m[0])) / (1.0 - 2.0 * (a1 * a1))).sqrt();
        (1, fac)
    };
    m[0] = a1;
    for v in m.iter_mut().skip(first_scaled) {
        *v *= -1.0 / fac;
    }
    m
}

/// Shapiro–Wilk test as `scipy.stats.shapiro(x)`.
///
/// `NotApplicable` (with a reason) when `n < 3`, `n > 5000` (the range AS R94 is
/// calibrated for), the data hold NaN/±∞, or the data have zero range (constant).
///
/// Long on purpose: it follows Royston's AS R94 (and SciPy's `swilk.c`) step by step, so a
/// reader can check each line against the algorithm; split up, the correspondence is lost.
pub fn shapiro_wilk(x: &[f64]) -> Normality {
    let n = x.len();
    if n < 3 {
        return Normality::NotApplicable {
            reason: format!("Shapiro-Wilk needs at least 3 values, got {n}"),
        };
    }
    if n > 5000 {
        return Normality::NotApplicable {
            reason: format!("Shapiro-Wilk (Royston AS R94) is calibrated for n <= 5000, got {n}"),
        };
    }
    if !all_finite(x) {
        return Normality::NotApplicable {
            reason: "data contain NaN or infinite values".to_string(),
        };
    }
    // As SciPy: sort, then subtract the value at index n/2 of the unsorted input.
    let centre = x[n / 2];
    let y: Vec<f64> = sorted(x).into_iter().map(|v| v - centre).collect();
    let range = y[n - 1] - y[0];
    if range < SMALL {
        return Normality::NotApplicable {
            reason: "all values are equal (zero range): normality is undefined".to_string(),
        };
    }
    let a = coefficients(n);
    // Weight of the i-th order statistic: −a[i] in the lower half, +a[n−1−i] in the
    // upper half, 0 for the middle one when n is odd.
    let weight = |i: usize| -> f64 {
        let mirror = n - 1 - i;
        match i.cmp(&mirror) {
            std::cmp::Ordering::Less => -a[i],
            std::cmp::Ordering::Greater => a[mirror],
            std::cmp::Ordering::Equal => 0.0,
        }
    };
    let an = n as f64;
    let mut sa = 0.0;
    let mut sx = 0.0;
    for (i, &yi) in y.iter().enumerate() {
        sa += weight(i);
        sx += yi / range;
    }
    sa /= an;
    sx /= an;
    let (mut ssa, mut ssx, mut sax) = (0.0, 0.0, 0.0);
    for (i, &yi) in y.iter().enumerate() {
        let asa = weight(i) - sa;
        let xsx = yi / range - sx;
        ssa += asa * asa;
        ssx += xsx * xsx;
        sax += asa * xsx;
    }
    let ssassx = (ssa * ssx).sqrt();
    let w1 = (ssassx - sax) * (ssassx + sax) / (ssa * ssx);
    let w = 1.0 - w1;
    if !w.is_finite() {
        return Normality::NotApplicable {
            reason: "W could not be computed (values too large or too close together)".to_string(),
        };
    }

    if n == 3 {
        // Exact distribution for n = 3; W >= 3/4 in theory (SciPy clamps, gh-18322).
        if w < 0.75 {
            return Normality::Tested { w: 0.75, p: 0.0 };
        }
        let p = 1.0 - 6.0 / PI * w.sqrt().acos();
        return Normality::Tested { w, p };
    }

    let ln_w1 = w1.ln();
    let ln_n = an.ln();
    let (y_stat, mean, sd) = if n <= 11 {
        const G: [f64; 2] = [-2.273, 0.459];
        const C3: [f64; 4] = [0.5440, -0.39978, 0.025054, -6.714e-4];
        const C4: [f64; 4] = [1.3822, -0.77857, 0.062767, -0.0020322];
        let gamma = poly(&G, an);
        if ln_w1 >= gamma {
            return Normality::Tested { w, p: SMALL };
        }
        (-(gamma - ln_w1).ln(), poly(&C3, an), poly(&C4, an).exp())
    } else {
        const C5: [f64; 4] = [-1.5861, -0.31082, -0.083751, 0.0038915];
        const C6: [f64; 3] = [-0.4803, -0.082676, 0.0030302];
        (ln_w1, poly(&C5, ln_n), poly(&C6, ln_n).exp())
    };
    let p = alnorm_upper((y_stat - mean) / sd);
    if w.is_finite() && p.is_finite() {
        Normality::Tested { w, p }
    } else {
        Normality::NotApplicable {
            reason: "W could not be computed (numerically degenerate data)".to_string(),
        }
    }
}
