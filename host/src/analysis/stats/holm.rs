//! Holm's step-down adjustment of a family of p-values, as
//! `statsmodels.stats.multitest.multipletests(p, method='holm')[1]`.
//!
//! Holm, S. (1979). A simple sequentially rejective multiple test procedure.
//! *Scandinavian Journal of Statistics* 6(2), 65–70. With the p-values sorted
//! ascending, `p_(i)` gets `max_{j ≤ i} (m − j + 1)·p_(j)`, capped at 1.

/// Holm-adjusted p-values, in the input's order, each in `[0, 1]`. Valid p-values
/// are used as given; a NaN is treated as 1 (no evidence) and anything outside
/// `[0, 1]` is clamped into it first, so the output never holds NaN or ±∞.
/// Empty in, empty out.
pub fn holm(p: &[f64]) -> Vec<f64> {
    let m = p.len();
    let clean: Vec<f64> = p
        .iter()
        .map(|&v| if v.is_nan() { 1.0 } else { v.clamp(0.0, 1.0) })
        .collect();
    let mut order: Vec<usize> = (0..m).collect();
    order.sort_by(|&i, &j| clean[i].total_cmp(&clean[j]));
    let mut adjusted = vec![0.0; m];
    let mut running = f64::NEG_INFINITY;
    for (rank, &i) in order.iter().enumerate() {
        let scaled = clean[i] * (m - rank) as f64;
        running = running.max(scaled);
        adjusted[i] = running.min(1.0);
    }
    adjusted
}
