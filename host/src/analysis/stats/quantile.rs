//! Quantiles as `numpy.quantile(x, q)` with its default method `'linear'`
//! (Hyndman & Fan 1996, definition 7): virtual index `h = (n − 1)·q`, linear
//! interpolation between the order statistics around it, using NumPy's two-sided
//! `_lerp` (`a + (b−a)·t` for `t < ½`, `b − (b−a)·(1−t)` otherwise) so results are
//! monotone and exact at the ends.

use super::describe::{all_finite, sorted};

/// The `q`-quantile of `x` (unsorted is fine), `q` in `[0, 1]`.
/// `None` when `x` is empty, holds NaN/±∞, `q` is outside `[0, 1]` or NaN, or the
/// interpolation overflows (neighbours near ±`f64::MAX`).
pub fn quantile(x: &[f64], q: f64) -> Option<f64> {
    if x.is_empty() || !all_finite(x) || !(0.0..=1.0).contains(&q) {
        return None;
    }
    let s = sorted(x);
    Some(quantile_sorted(&s, q)).filter(|v| v.is_finite())
}

/// Quantile of sorted, non-empty data; `q` must be in `[0, 1]`.
pub(crate) fn quantile_sorted(s: &[f64], q: f64) -> f64 {
    let n = s.len();
    let last = n - 1;
    let virtual_index = last as f64 * q;
    if virtual_index >= last as f64 {
        return s[last];
    }
    let below = virtual_index.floor();
    let i = below as usize;
    let t = virtual_index - below;
    let (a, b) = (s[i], s[(i + 1).min(last)]);
    let diff = b - a;
    if t >= 0.5 {
        b - diff * (1.0 - t)
    } else {
        a + diff * t
    }
}
