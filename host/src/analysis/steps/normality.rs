//! `normality`: Shapiro–Wilk W and p per group and metric (Royston's AS R94, as SciPy
//! and R compute it). Where the test does not apply (n < 3, n > 5000, constant data) the
//! figures are null and the reason is kept.

use super::Context;
use crate::analysis::stats::{self, Normality};
use crate::analysis::summary::finite;

pub fn run(ctx: &mut Context) -> String {
    let groups = ctx.table.groups.clone();
    let (mut tested, mut skipped) = (0, 0);
    for group in &groups {
        for m in 0..ctx.table.metrics.len() {
            let sample = ctx.table.sample(group, m);
            let gm = ctx.group_metric(group, m);
            match stats::shapiro_wilk(&sample) {
                Normality::Tested { w, p } => {
                    tested += 1;
                    gm.shapiro_w = finite(w);
                    gm.shapiro_p = finite(p);
                    gm.reasons.remove("shapiro_w");
                    gm.reasons.remove("shapiro_p");
                }
                Normality::NotApplicable { reason } => {
                    skipped += 1;
                    // Nothing from an earlier run of this step may stay beside the reason.
                    (gm.shapiro_w, gm.shapiro_p) = (None, None);
                    gm.reasons.insert("shapiro_w".into(), reason.clone());
                    gm.reasons.insert("shapiro_p".into(), reason);
                }
            }
        }
    }
    format!("Shapiro–Wilk on {tested} sample(s); {skipped} not testable")
}
