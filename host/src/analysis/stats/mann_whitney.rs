//! Mann–Whitney U test, two-sided, as `scipy.stats.mannwhitneyu(a, b,
//! alternative='two-sided', use_continuity=True, method=...)` in SciPy 1.17.
//!
//! * Mann, H. B. & Whitney, D. R. (1947). On a test of whether one of two random
//!   variables is stochastically larger than the other. *Ann. Math. Statist.* 18, 50–60.
//! * Statistic: `U1 = R1 − n1(n1+1)/2`, `R1` the sum of the mid-ranks of `a` in the
//!   pooled sample; the p-value uses `U = max(U1, n1·n2 − U1)` and doubles one tail.
//! * `'auto'` (SciPy's rule): exact when `min(n1, n2) ≤ 8` (strictly: not both > 8)
//!   and there are no ties anywhere in the pooled sample, else asymptotic.
//! * Exact: the null distribution of U is the coefficient list of the Gaussian
//!   binomial `[n1+n2 choose n1]_q = Π_{i=1}^{n1} (1 − q^{n2+i}) / (1 − q^i)`
//!   (Andrews, *The Theory of Partitions*, 1976, Thm 3.1; the counting identity behind
//!   Mann & Whitney's recursion and Löffler 1983, which SciPy implements), built
//!   factor by factor in exact 128-bit integers. `p = 2·P(U' ≤ n1·n2 − ⌊U⌋)`,
//!   clipped to 1. Like SciPy, no tie correction (a tied U is truncated to an integer).
//! * Asymptotic: `z = (U − n1n2/2 − ½) / σ`,
//!   `σ² = n1n2/12 · ((n+1) − Σ(t³−t)/(n(n−1)))` (tie correction, e.g. Hollander &
//!   Wolfe, *Nonparametric Statistical Methods*, 1999, §4.1), `p = 2·Φ(−z)`, clipped
//!   to 1; when every value is tied σ = 0 and p = 1 (as SciPy's `−∞` z gives).

use super::describe::all_finite;
use super::distributions::normal_cdf;

/// How the p-value is (to be) computed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MannWhitneyMethod {
    /// SciPy's choice: exact for small samples without ties, else asymptotic.
    Auto,
    /// Exact null distribution of U (no tie correction).
    Exact,
    /// Normal approximation with tie and continuity correction.
    Asymptotic,
}

/// Result of a Mann–Whitney U test.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct UTest {
    /// U1, the statistic of sample `a` (as SciPy reports it).
    pub statistic: f64,
    /// Two-sided p-value.
    pub p_value: f64,
    /// The method actually used: `Exact` or `Asymptotic`, never `Auto`.
    pub method: MannWhitneyMethod,
}

/// Largest `n1·n2·min(n1, n2)` (work) and `n1·n2` (memory: one 16-byte count per
/// value of U) for which a forced exact test is attempted; SciPy's own recursion is
/// far slower long before these sizes.
const EXACT_WORK_LIMIT: u128 = 2_000_000_000;
const EXACT_SIZE_LIMIT: u128 = 10_000_000;

/// Mid-ranks of the pooled sample and the sizes of its tie groups.
fn pooled_ranks(a: &[f64], b: &[f64]) -> (Vec<f64>, Vec<usize>) {
    let pooled: Vec<f64> = a.iter().chain(b.iter()).copied().collect();
    let mut order: Vec<usize> = (0..pooled.len()).collect();
    order.sort_by(|&i, &j| pooled[i].total_cmp(&pooled[j]));
    let mut ranks = vec![0.0; pooled.len()];
    let mut ties = Vec::new();
    let mut start = 0;
    while start < order.len() {
        let mut end = start + 1;
        while end < order.len() && pooled[order[end]] == pooled[order[start]] {
            end += 1;
        }
        // Positions start..end (0-based) share the mean of ranks start+1..=end.
        let mid = (start + 1 + end) as f64 / 2.0;
        for &i in &order[start..end] {
            ranks[i] = mid;
        }
        ties.push(end - start);
        start = end;
    }
    (ranks, ties)
}

/// `binom(n1 + n2, n1)` exactly, when it fits in a u128.
fn binomial_u128(n1: u128, n2: u128) -> Option<u128> {
    let mut c: u128 = 1;
    for i in 1..=n1 {
        // c·(n2+i)/i is an integer at every step (it is binom(n2+i, i)).
        c = c.checked_mul(n2 + i)? / i;
    }
    Some(c)
}

/// `P(U ≤ k)` under the null for sizes (`small`, `large`), `small ≤ large`.
fn exact_cdf(small: usize, large: usize, k: usize) -> f64 {
    // Integer path: every coefficient (and each intermediate) is bounded by
    // binom(n, small), so i128 is exact while that fits.
    if let Some(total) = binomial_u128(small as u128, large as u128) {
        if total < (1u128 << 126) {
            let mut c = vec![0i128; k + 1];
            c[0] = 1;
            for i in 1..=small {
                let m = large + i;
                // multiply by (1 − q^m)
                for u in (m..=k).rev() {
                    c[u] -= c[u - m];
                }
                // divide by (1 − q^i): prefix sums with stride i
                for u in i..=k {
                    c[u] += c[u - i];
                }
            }
            let count: i128 = c.iter().sum();
            return count as f64 / total as f64;
        }
    }
    // Too large for exact integers: the same recurrence on probabilities, scaled by
    // 1/binom as we go (rounding ~1e-13 relative; SciPy switches to floats too).
    let mut c = vec![0.0f64; k + 1];
    c[0] = 1.0;
    for i in 1..=small {
        let m = large + i;
        for u in (m..=k).rev() {
            c[u] -= c[u - m];
        }
        for u in i..=k {
            c[u] += c[u - i];
        }
        let step = (large + i) as f64 / i as f64;
        for v in c.iter_mut() {
            *v /= step;
        }
    }
    c.iter().sum()
}

/// Mann–Whitney U test, two-sided, with continuity correction in the asymptotic case.
/// `Err(reason)` when a group is empty, the data hold NaN/±∞, or a forced exact test
/// would be too large to compute.
pub fn mann_whitney_u(a: &[f64], b: &[f64], method: MannWhitneyMethod) -> Result<UTest, String> {
    let (n1, n2) = (a.len(), b.len());
    if n1 == 0 || n2 == 0 {
        return Err(format!(
            "Mann-Whitney U needs at least 1 value per group, got {n1} and {n2}"
        ));
    }
    if !all_finite(a) || !all_finite(b) {
        return Err("data contain NaN or infinite values".to_string());
    }
    let (ranks, ties) = pooled_ranks(a, b);
    let has_ties = ties.iter().any(|&t| t > 1);
    let r1: f64 = ranks[..n1].iter().sum();
    let (f1, f2) = (n1 as f64, n2 as f64);
    let u1 = r1 - f1 * (f1 + 1.0) / 2.0;
    let u2 = f1 * f2 - u1;
    let u = u1.max(u2);

    let exact_too_large = {
        let (small, n1, n2) = (n1.min(n2) as u128, n1 as u128, n2 as u128);
        small * n1 * n2 > EXACT_WORK_LIMIT || n1 * n2 > EXACT_SIZE_LIMIT
    };
    let used = match method {
        MannWhitneyMethod::Auto => {
            // SciPy's rule; past the exact limits (a handful of values against millions) the
            // normal approximation is excellent, so `auto` never fails where SciPy answers.
            if (n1 > 8 && n2 > 8) || has_ties || exact_too_large {
                MannWhitneyMethod::Asymptotic
            } else {
                MannWhitneyMethod::Exact
            }
        }
        other => other,
    };

    let p = if used == MannWhitneyMethod::Exact {
        let (small, large) = (n1.min(n2), n1.max(n2));
        if exact_too_large {
            return Err(format!(
                "exact Mann-Whitney distribution for n = {n1} and {n2} is too large; use the asymptotic method"
            ));
        }
        let k = u.floor() as usize; // as SciPy: U cast to an integer
        let kc = (n1 * n2).saturating_sub(k);
        2.0 * exact_cdf(small, large, kc)
    } else {
        let n = f1 + f2;
        let tie_term: f64 = ties
            .iter()
            .map(|&t| {
                let t = t as f64;
                t * t * t - t
            })
            .sum();
        let var_factor = (n + 1.0) - tie_term / (n * (n - 1.0));
        let s = ((n1 * n2) as f64 / 12.0 * var_factor).sqrt();
        let numerator = u - f1 * f2 / 2.0 - 0.5;
        if s > 0.0 {
            2.0 * normal_cdf(-(numerator / s))
        } else {
            1.0 // every observation tied: no evidence either way
        }
    };
    let p_value = p.clamp(0.0, 1.0);
    if !p_value.is_finite() || !u1.is_finite() {
        return Err("Mann-Whitney U is numerically undefined for these data".to_string());
    }
    Ok(UTest {
        statistic: u1,
        p_value,
        method: used,
    })
}
