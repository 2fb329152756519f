//! Group-sequential boundaries with alpha spending: at which two-sided z a comparison may
//! be declared at each interim look so that, over all looks, the chance of a false
//! declaration stays at α.
//!
//! * Spending functions (Lan, K. K. G. & DeMets, D. L. (1983). Discrete sequential
//!   boundaries for clinical trials. *Biometrika* 70(3), 659–663), information fraction
//!   `t ∈ (0, 1]`, symmetric two-sided: each side spends `α/2` by the one-sided function,
//!   as R's `ldbounds` (`sides = 2`), `gsDesign` and `rpact` do:
//!   O'Brien–Fleming type, per side `α*(t) = 2 − 2Φ(z_{1−α/4}/√t)` (spends almost nothing
//!   early), so `α(t) = 4Φ(−z_{1−α/4}/√t)` in all;
//!   Pocock type `α(t) = α·ln(1 + (e − 1)t)` (spends evenly).
//! * Boundaries `c_k` solve `P(|Z_1| < c_1, …, |Z_{k−1}| < c_{k−1}, |Z_k| ≥ c_k) =
//!   α(t_k) − α(t_{k−1})` under the canonical joint distribution of the look statistics
//!   (`Cov(Z_j, Z_k) = √(t_j/t_k)`), by the Armitage–McPherson–Rowe recursion on the
//!   score scale `S_k = Z_k√t_k` with independent increments (Jennison, C. & Turnbull,
//!   B. W. (2000). *Group Sequential Methods with Applications to Clinical Trials*,
//!   ch. 19): the sub-density of `S` on the continuation region is carried from look to
//!   look by convolution with the increment's normal density, integrated by composite
//!   Simpson, and each `c_k` is found by bisection.
//! * A test whose statistic is asymptotically normal (Welch's t, Mann–Whitney's U) uses
//!   the boundary through its nominal level: reject at look `k` when `p_k < 2Φ(−c_k)`.
//!
//! Checked against published boundaries and against SciPy's multivariate normal CDF
//! (`host/tests/analysis/stats_findings_scipy.rs`).

use super::inverse::normal_quantile;
use super::normal_cdf;

/// How alpha is spent over the looks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Spending {
    OBrienFleming,
    Pocock,
}

impl Spending {
    /// Every kind, in the order error messages list them.
    pub const ALL: [Spending; 2] = [Spending::OBrienFleming, Spending::Pocock];

    /// The kind a manifest names (`"obrien-fleming"`, `"pocock"`).
    pub fn from_name(name: &str) -> Option<Spending> {
        Self::ALL.into_iter().find(|s| s.name() == name)
    }

    /// The manifest's name for it.
    pub fn name(self) -> &'static str {
        match self {
            Spending::OBrienFleming => "obrien-fleming",
            Spending::Pocock => "pocock",
        }
    }

    /// Cumulative two-sided alpha spent by information fraction `t` (clamped to [0, 1]).
    pub fn spent(self, alpha: f64, t: f64) -> f64 {
        let t = t.clamp(0.0, 1.0);
        if t == 0.0 {
            return 0.0;
        }
        match self {
            Spending::OBrienFleming => {
                let z = normal_quantile(1.0 - alpha / 4.0);
                4.0 * normal_cdf(-z / t.sqrt())
            }
            Spending::Pocock => alpha * (1.0 + (std::f64::consts::E - 1.0) * t).ln(),
        }
    }
}

/// Simpson intervals across the continuation region at each look (even).
const GRID: usize = 240;

/// The two-sided level a test's p-value is compared with at a look whose boundary is `z`.
pub fn nominal_alpha(z: f64) -> f64 {
    if z.is_infinite() {
        0.0
    } else {
        2.0 * normal_cdf(-z)
    }
}

/// A sub-density of the score statistic on a grid over `[-half, half]`.
struct Density {
    half: f64,
    values: Vec<f64>,
}

impl Density {
    fn point(&self, i: usize) -> f64 {
        -self.half + 2.0 * self.half * i as f64 / GRID as f64
    }

    /// Simpson weights times the grid step.
    fn weight(&self, i: usize) -> f64 {
        let h = 2.0 * self.half / GRID as f64;
        let w = if i == 0 || i == GRID {
            1.0
        } else if i % 2 == 1 {
            4.0
        } else {
            2.0
        };
        w * h / 3.0
    }

    /// `∫ g(u) f(u) du`.
    fn integrate(&self, f: impl Fn(f64) -> f64) -> f64 {
        (0..=GRID)
            .map(|i| self.weight(i) * self.values[i] * f(self.point(i)))
            .sum()
    }
}

fn normal_pdf(x: f64) -> f64 {
    (-0.5 * x * x).exp() / (2.0 * std::f64::consts::PI).sqrt()
}

/// Two-sided z boundaries `c_1..c_K` for looks at information fractions `fractions`
/// (strictly increasing, in (0, 1]). A look that spends no alpha gets `+∞`.
pub fn boundaries(spending: Spending, alpha: f64, fractions: &[f64]) -> Result<Vec<f64>, String> {
    if !(alpha > 0.0 && alpha < 1.0) {
        return Err(format!("alpha {alpha} is not in (0, 1)"));
    }
    if fractions.is_empty() {
        return Err("no looks".into());
    }
    let mut previous = 0.0;
    for &t in fractions {
        if !(t > previous && t <= 1.0) {
            return Err(format!(
                "information fractions must increase strictly within (0, 1]: {fractions:?}"
            ));
        }
        previous = t;
    }
    let mut bounds = Vec::with_capacity(fractions.len());
    let mut density: Option<Density> = None;
    let (mut t_prev, mut spent_prev) = (0.0, 0.0);
    for &t in fractions {
        let spent = spending.spent(alpha, t);
        let target = spent - spent_prev;
        let c = match &density {
            None => {
                if target <= 0.0 {
                    f64::INFINITY
                } else {
                    normal_quantile(1.0 - target / 2.0)
                }
            }
            Some(g) => next_boundary(g, t, t - t_prev, target),
        };
        bounds.push(c);
        density = Some(carry(density.as_ref(), t, t - t_prev, c));
        t_prev = t;
        spent_prev = spent;
    }
    Ok(bounds)
}

/// The chance of crossing `±c·√t` at this look from the continuation density `g`.
fn exit_probability(g: &Density, t: f64, increment: f64, c: f64) -> f64 {
    let b = c * t.sqrt();
    let sd = increment.sqrt();
    g.integrate(|u| normal_cdf((-b - u) / sd) + normal_cdf((u - b) / sd))
}

/// Bisection for the `c` whose exit probability is `target` (it falls as `c` grows).
fn next_boundary(g: &Density, t: f64, increment: f64, target: f64) -> f64 {
    if target <= 0.0 {
        return f64::INFINITY;
    }
    let (mut lo, mut hi) = (0.0, 40.0);
    if exit_probability(g, t, increment, lo) < target {
        return 0.0; // even c = 0 exits less often than allowed: reject everything left
    }
    for _ in 0..100 {
        let mid = 0.5 * (lo + hi);
        if exit_probability(g, t, increment, mid) > target {
            lo = mid;
        } else {
            hi = mid;
        }
        if hi - lo < 1e-12 {
            break;
        }
    }
    0.5 * (lo + hi)
}

/// The sub-density of `S` at information `t` on the continuation region `|Z| < c`.
fn carry(previous: Option<&Density>, t: f64, increment: f64, c: f64) -> Density {
    // An infinite boundary continues everywhere: 10 sd covers all but 1e-23 of the mass.
    let half = if c.is_finite() {
        c * t.sqrt()
    } else {
        10.0 * t.sqrt()
    };
    let mut next = Density {
        half,
        values: vec![0.0; GRID + 1],
    };
    let sd = increment.sqrt();
    for i in 0..=GRID {
        let s = next.point(i);
        next.values[i] = match previous {
            None => normal_pdf(s / sd) / sd,
            Some(g) => g.integrate(|u| normal_pdf((s - u) / sd) / sd),
        };
    }
    next
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spending_reaches_alpha_at_the_end_and_grows() {
        for s in [Spending::OBrienFleming, Spending::Pocock] {
            assert!((s.spent(0.05, 1.0) - 0.05).abs() < 1e-15);
            assert_eq!(s.spent(0.05, 0.0), 0.0);
            let a: Vec<f64> = [0.2, 0.4, 0.6, 0.8]
                .iter()
                .map(|&t| s.spent(0.05, t))
                .collect();
            assert!(a.windows(2).all(|w| w[0] < w[1]), "{a:?}");
        }
        // O'Brien–Fleming spends almost nothing at a fifth of the information.
        assert!(Spending::OBrienFleming.spent(0.05, 0.2) < 1e-5);
    }

    #[test]
    fn one_look_is_the_fixed_design() {
        let c = boundaries(Spending::OBrienFleming, 0.05, &[1.0]).unwrap();
        assert!((c[0] - 1.959_963_984_540_054).abs() < 1e-12);
    }

    #[test]
    fn published_boundaries_are_reproduced() {
        // Five equally spaced looks, two-sided α = 0.05, as R's ldbounds (`ldBounds(t,
        // iuse = 1 or 2, alpha = 0.05, sides = 2)`) and gsDesign (sfLDOF, sfLDPocock) print
        // them, to 3 decimals.
        let t = [0.2, 0.4, 0.6, 0.8, 1.0];
        let obf = boundaries(Spending::OBrienFleming, 0.05, &t).unwrap();
        for (got, want) in obf.iter().zip([4.877, 3.357, 2.680, 2.290, 2.031]) {
            assert!((got - want).abs() < 1.5e-3, "OBF {obf:?}");
        }
        let pocock = boundaries(Spending::Pocock, 0.05, &t).unwrap();
        for (got, want) in pocock.iter().zip([2.438, 2.427, 2.410, 2.397, 2.386]) {
            assert!((got - want).abs() < 1.5e-3, "Pocock {pocock:?}");
        }
    }

    #[test]
    fn bad_designs_are_refused() {
        assert!(boundaries(Spending::Pocock, 0.05, &[0.5, 0.5]).is_err());
        assert!(boundaries(Spending::Pocock, 0.05, &[0.5, 1.2]).is_err());
        assert!(boundaries(Spending::Pocock, 1.5, &[1.0]).is_err());
        assert!(boundaries(Spending::Pocock, 0.05, &[]).is_err());
    }
}
