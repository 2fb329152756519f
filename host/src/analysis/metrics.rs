//! Deriving the metrics table from raw runs: time (s), energy (J), average power (W),
//! energy-delay product (J·s), then any per-phase or per-domain columns read as is.

use super::data::{CounterTrace, Energy, Metric, RawRun, Row, Table};
use super::ingest::Ingested;

/// What to do when a cumulative counter goes backwards between two samples.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum WrapPolicy {
    /// Add the counter's modulus back at each wrap; `None` infers it per run as the
    /// next power of two above the largest reading.
    Unwrap { wrap_joules: Option<f64> },
    /// Drop the run.
    Drop,
}

impl Default for WrapPolicy {
    fn default() -> Self {
        WrapPolicy::Unwrap { wrap_joules: None }
    }
}

/// A run whose totals cannot be trusted; `clean` drops these.
#[derive(Debug, Clone, PartialEq)]
pub struct RunFault {
    pub group: String,
    pub run: String,
    pub reason: String,
}

/// The four metrics every input yields, in the order tables and plots show them.
pub fn base_metrics() -> Vec<Metric> {
    vec![
        Metric::new("time", "Time", "s"),
        Metric::new("energy", "Energy", "J"),
        Metric::new("power", "Average power", "W"),
        Metric::new("edp", "Energy-delay product", "J·s"),
    ]
}

/// Builds the table for all runs. Faulty runs stay in the table (with whatever totals
/// came out) and are listed, so the caller decides whether to drop them.
pub fn derive(ingested: &Ingested, policy: WrapPolicy) -> (Table, Vec<RunFault>) {
    let mut metrics = base_metrics();
    metrics.extend(ingested.extra_metrics.iter().cloned());
    let mut rows = Vec::with_capacity(ingested.runs.len());
    let mut faults = Vec::new();
    for run in &ingested.runs {
        let fault = |reason: String| RunFault {
            group: run.group.clone(),
            run: run.run.clone(),
            reason,
        };
        let energy = match energy_total(&run.energy, policy) {
            Ok(e) => e,
            Err(reason) => {
                faults.push(fault(reason));
                None
            }
        };
        if let Some(e) = energy {
            if !e.is_finite() {
                faults.push(fault(format!("energy total {e} J is not a finite number")));
            } else if e <= 0.0 {
                faults.push(fault(format!("energy total {e} J is not positive")));
            }
        }
        let energy = energy.filter(|e| e.is_finite());
        if run.time_s <= 0.0 {
            faults.push(fault(format!("duration {} s is not positive", run.time_s)));
        }
        rows.push(Row {
            group: run.group.clone(),
            run: run.run.clone(),
            values: values(run, energy, &metrics),
        });
    }
    (
        Table {
            metrics,
            groups: ingested.groups.clone(),
            rows,
        },
        faults,
    )
}

fn values(run: &RawRun, energy: Option<f64>, metrics: &[Metric]) -> Vec<Option<f64>> {
    let t = run.time_s;
    let finite = |x: f64| x.is_finite().then_some(x);
    metrics
        .iter()
        .map(|m| match m.key.as_str() {
            "time" => finite(t),
            "energy" => energy,
            "power" => energy.filter(|_| t > 0.0).and_then(|e| finite(e / t)),
            "edp" => energy.and_then(|e| finite(e * t)),
            key => run.extras.iter().find(|(k, _)| k == key).map(|(_, v)| *v),
        })
        .collect()
}

/// The run's energy in joules under `policy`; `Err` says why the run must be dropped.
fn energy_total(energy: &Energy, policy: WrapPolicy) -> Result<Option<f64>, String> {
    match energy {
        Energy::Total(e) => Ok(Some(*e)),
        Energy::Counter(trace) => counter_total(trace, policy).map(Some),
    }
}

fn counter_total(trace: &CounterTrace, policy: WrapPolicy) -> Result<f64, String> {
    let Some(first) = trace.wraps.first() else {
        return Ok(trace.forward_j);
    };
    let describe = |w: &crate::analysis::data::Wrap| {
        format!("data row {}: {} J → {} J", w.row, w.before_j, w.after_j)
    };
    match policy {
        WrapPolicy::Drop => Err(format!(
            "energy counter went backwards {} time(s), first at {} (on_wrap = \"drop\")",
            trace.wraps.len(),
            describe(first)
        )),
        WrapPolicy::Unwrap { wrap_joules } => {
            let modulus = match wrap_joules {
                Some(m) => m,
                None => next_power_of_two_above(trace.max_reading_j).ok_or_else(|| {
                    format!(
                        "cannot infer the counter's wrap from a largest reading of {} J",
                        trace.max_reading_j
                    )
                })?,
            };
            let mut total = trace.forward_j;
            for w in &trace.wraps {
                let step = w.after_j - w.before_j + modulus;
                if step < 0.0 {
                    return Err(format!(
                        "energy counter fell by more than its wrap ({modulus} J) at {}: a fault, not a wrap",
                        describe(w)
                    ));
                }
                // A wrap goes from near the top of the range to near zero. A small step back
                // (a glitch, or a reset) would otherwise gain most of a whole range: no sample
                // interval spends half a counter's range.
                if step > modulus / 2.0 {
                    return Err(format!(
                        "energy counter fell by only {} J at {}: as a wrap of {modulus} J that                          would be {} J in one sample, so it is a fault (glitch or reset), not a wrap",
                        crate::analysis::format::num(w.before_j - w.after_j),
                        describe(w),
                        crate::analysis::format::num(step)
                    ));
                }
                total += step;
            }
            Ok(total)
        }
    }
}

/// The smallest power of two strictly above `x` (for x > 0).
pub fn next_power_of_two_above(x: f64) -> Option<f64> {
    if !(x.is_finite() && x > 0.0) {
        return None;
    }
    let mut p = 2f64.powi(x.log2().floor() as i32);
    while p <= x {
        p *= 2.0;
    }
    Some(p)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::data::Wrap;

    #[test]
    fn powers_of_two() {
        assert_eq!(next_power_of_two_above(65500.0), Some(65536.0));
        assert_eq!(next_power_of_two_above(65536.0), Some(131072.0));
        assert_eq!(next_power_of_two_above(0.3), Some(0.5));
        assert_eq!(next_power_of_two_above(0.0), None);
    }

    #[test]
    fn unwraps_and_drops() {
        let trace = CounterTrace {
            forward_j: 1000.0,
            wraps: vec![Wrap {
                row: 3,
                before_j: 65500.0,
                after_j: 100.0,
            }],
            max_reading_j: 65500.0,
        };
        assert_eq!(counter_total(&trace, WrapPolicy::default()), Ok(1136.0));
        assert_eq!(
            counter_total(
                &trace,
                WrapPolicy::Unwrap {
                    wrap_joules: Some(70000.0)
                }
            ),
            Ok(5600.0)
        );
        assert!(counter_total(&trace, WrapPolicy::Drop).is_err());
    }

    #[test]
    fn a_small_step_back_is_a_fault_not_a_wrap() {
        // 100.0 J → 99.9 J: "unwrapping" at the inferred 128 J would add 127.9 J.
        let trace = CounterTrace {
            forward_j: 100.0,
            wraps: vec![Wrap {
                row: 5,
                before_j: 100.0,
                after_j: 99.9,
            }],
            max_reading_j: 100.0,
        };
        let err = counter_total(&trace, WrapPolicy::default()).unwrap_err();
        assert!(err.contains("not a wrap"), "{err}");
    }
}
