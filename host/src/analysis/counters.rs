//! One sampled energy counter's joules under `clean`'s policy: its backward steps told apart by
//! physics ([`classify_backward`], the rule `host run`'s unwrapper uses too) against the run's
//! own mean step. A wrap adds the modulus back (given as `wrap_joules`, else the next power of
//! two above the largest reading); across a reset the energy is the sum of the forward
//! increments; a glitch is a fault that drops the run. Every wrapped or reset run is named.

use super::data::CounterTrace;
use super::format::num;
use crate::energy::unwrap::{classify_backward, BackwardStep, StepLimits, RATE_FACTOR};

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

/// A counter that wrapped or was reset during a run, and how it was read.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct CounterNote {
    pub group: String,
    pub run: String,
    pub column: String,
    pub wraps: usize,
    pub resets: usize,
    /// The modulus wraps were unwrapped at.
    pub modulus_j: Option<f64>,
    /// `inferred` (next power of two above the largest reading) or `given` (`wrap_joules`).
    pub modulus: &'static str,
}

impl std::fmt::Display for CounterNote {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} run {}: {}", self.group, self.run, self.column)?;
        if self.wraps > 0 {
            write!(
                f,
                " wrapped {} time(s), unwrapped at {} J ({})",
                self.wraps,
                self.modulus_j.map_or("?".into(), num),
                self.modulus
            )?;
            if self.resets > 0 {
                write!(f, ";")?;
            }
        }
        if self.resets > 0 {
            write!(
                f,
                " was reset {} time(s): energy is the sum of the {} segments' increments",
                self.resets,
                self.resets + 1
            )?;
        }
        Ok(())
    }
}

/// One counter's joules under `policy`, with a note when it wrapped or was reset; `Err` says
/// why the run must be dropped.
pub(crate) fn counter_total(
    trace: &CounterTrace,
    policy: WrapPolicy,
    column: &str,
) -> Result<(f64, Option<CounterNote>), String> {
    let Some(first) = trace.wraps.first() else {
        return Ok((trace.forward_j, None));
    };
    let describe = |w: &crate::analysis::data::Wrap| {
        format!("data row {}: {} J → {} J", w.row, w.before_j, w.after_j)
    };
    let wrap_joules = match policy {
        WrapPolicy::Drop => {
            return Err(format!(
                "counter went backwards (on_wrap = \"drop\"): {column} {} time(s), first at {}",
                trace.wraps.len(),
                describe(first)
            ))
        }
        WrapPolicy::Unwrap { wrap_joules } => wrap_joules,
    };
    let (modulus, how) = match wrap_joules {
        Some(m) => (m, "given"),
        None => (
            next_power_of_two_above(trace.max_reading_j).ok_or_else(|| {
                format!(
                    "counter glitch: cannot infer {column}'s wrap from a largest reading of {} J",
                    trace.max_reading_j
                )
            })?,
            "inferred",
        ),
    };
    let mean = trace.mean_step_j().unwrap_or(0.0);
    // No sample interval spends half a counter's range: above that, a "wrap" would be a glitch
    // gaining most of a range (100 J → 99.9 J "wrapping" at an inferred 128 J).
    let limits = StepLimits {
        ceiling: modulus / 2.0,
        expected: Some(mean),
    };
    let mut note = CounterNote {
        group: String::new(),
        run: String::new(),
        column: column.to_string(),
        wraps: 0,
        resets: 0,
        modulus_j: None,
        modulus: how,
    };
    let mut total = trace.forward_j;
    for w in &trace.wraps {
        match classify_backward(w.before_j, w.after_j, Some(modulus), limits) {
            BackwardStep::Wrap { step } => {
                total += step;
                note.wraps += 1;
                note.modulus_j = Some(modulus);
            }
            // A restart: the forward increments of each segment are the energy.
            BackwardStep::Reset => note.resets += 1,
            BackwardStep::Glitch => {
                return Err(format!(
                    "counter glitch: {column} went back at {}: not a wrap (at {} J, {how}, that \
                     would be {} J in one sample, over {RATE_FACTOR}× the run's mean step of {} J) \
                     and not a reset ({} J is too far from zero)",
                    describe(w),
                    num(modulus),
                    num(modulus - w.before_j + w.after_j),
                    num(mean),
                    num(w.after_j)
                ))
            }
        }
    }
    Ok((total, Some(note)))
}

/// The smallest power of two strictly above `x` (for x > 0).
pub fn next_power_of_two_above(x: f64) -> Option<f64> {
    if !(x.is_finite() && x > 0.0) {
        return None;
    }
    // powf, not powi: powi(2, -1064) underflows to 0 for a subnormal x, and 0 doubled stays 0
    // for ever (found by tests/fuzz: a reading of 1e-320 J hung the analysis). powf gives
    // the exact subnormal power; the floor at the least subnormal is a second guard.
    let mut p = 2f64.powf(x.log2().floor()).max(f64::from_bits(1));
    while p <= x {
        p *= 2.0;
    }
    // Above 2^1023 the next power is no f64.
    p.is_finite().then_some(p)
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
            steps: 2,
            wraps: vec![Wrap {
                row: 3,
                before_j: 65500.0,
                after_j: 100.0,
            }],
            max_reading_j: 65500.0,
        };
        let total = |policy| counter_total(&trace, policy, "C").map(|(j, _)| j);
        assert_eq!(total(WrapPolicy::default()), Ok(1136.0));
        assert_eq!(
            total(WrapPolicy::Unwrap {
                wrap_joules: Some(70000.0)
            }),
            Ok(5600.0)
        );
        assert!(total(WrapPolicy::Drop).is_err());
        let (_, note) = counter_total(&trace, WrapPolicy::default(), "C").expect("unwraps");
        let note = note.expect("noted");
        assert_eq!(
            (note.wraps, note.resets, note.modulus_j),
            (1, 0, Some(65536.0))
        );
    }

    #[test]
    fn a_small_step_back_is_a_fault_not_a_wrap() {
        // 100.0 J → 99.9 J: "unwrapping" at the inferred 128 J would add 127.9 J.
        let trace = CounterTrace {
            forward_j: 100.0,
            steps: 4,
            wraps: vec![Wrap {
                row: 5,
                before_j: 100.0,
                after_j: 99.9,
            }],
            max_reading_j: 100.0,
        };
        let err = counter_total(&trace, WrapPolicy::default(), "C").unwrap_err();
        assert!(err.contains("not a wrap"), "{err}");
        assert!(err.starts_with("counter glitch: "), "{err}");
    }
}
