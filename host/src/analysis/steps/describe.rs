//! `describe`: n, mean, median, sample variance and standard deviation (ddof 1), min and
//! max per group and metric.

use super::Context;
use crate::analysis::stats;
use crate::analysis::summary::finite;

const FIELDS: [&str; 6] = ["mean", "median", "variance", "std", "min", "max"];

pub fn run(ctx: &mut Context) -> String {
    let groups = ctx.table.groups.clone();
    let mut cells = 0;
    for group in &groups {
        for m in 0..ctx.table.metrics.len() {
            let sample = ctx.table.sample(group, m);
            let gm = ctx.group_metric(group, m);
            gm.n = sample.len();
            // Run again (after another clean, say), the step replaces what it wrote before:
            // no stale value beside a fresh reason, or the other way round.
            (gm.mean, gm.median, gm.variance, gm.std, gm.min, gm.max) =
                (None, None, None, None, None, None);
            for f in FIELDS {
                gm.reasons.remove(f);
            }
            let Some(d) = stats::describe(&sample) else {
                for f in FIELDS {
                    gm.reasons.insert(f.into(), "no values".into());
                }
                continue;
            };
            cells += 1;
            gm.mean = finite(d.mean);
            gm.median = finite(d.median);
            gm.min = finite(d.min);
            gm.max = finite(d.max);
            gm.variance = d.variance.and_then(finite);
            gm.std = d.std.and_then(finite);
            for (field, value) in [("variance", gm.variance), ("std", gm.std)] {
                if value.is_some() {
                    continue;
                }
                let reason = if d.n < 2 {
                    format!("needs at least 2 values, has {}", d.n)
                } else {
                    format!(
                        "too large for a 64-bit float (values up to {:e})",
                        d.max.abs().max(d.min.abs())
                    )
                };
                gm.reasons.insert(field.into(), reason);
            }
        }
    }
    format!("described {cells} group × metric sample(s)")
}
