//! Deriving the metrics table from raw runs: time (s), energy (J), average power (W),
//! energy-delay product (J·s), then any per-phase or per-domain columns.
//!
//! A sampled run's energy is the sum of its top-level domains (see the EnergiBridge reader),
//! each a counter unwrapped here under `clean`'s policy or a power column already integrated.
//! A backward counter step is a wrap, a reset or a glitch by physics
//! ([`crate::energy::unwrap::classify_backward`] against the run's own mean step); across a
//! reset the energy is the sum of the forward increments. Every total then passes the physics
//! check shared with `host run` ([`crate::energy::plausibility`]); a run that fails any of this
//! is a fault with the reason, which `clean` drops.

use super::data::{CounterTrace, Energy, Metric, RawRun, Reading, Row, Sampled, Table};
use super::format::num;
use super::ingest::Ingested;
use crate::energy::plausibility::{self, DomainTotal, PowerBounds, Timing};
use crate::energy::unwrap::{classify_backward, BackwardStep, StepLimits, RATE_FACTOR};

/// How far the sum of `Delta` may be from the `Time` span when power is integrated with it:
/// on real recordings they differ by under 0.5 % (Delta is truncated to whole ms).
pub const DELTA_TIME_TOLERANCE: f64 = 0.05;

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

/// Everything derived from the raw runs.
#[derive(Debug, Clone, Default)]
pub struct Derived {
    pub table: Table,
    pub faults: Vec<RunFault>,
    pub counters: Vec<CounterNote>,
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
    let d = derive_all(ingested, policy);
    (d.table, d.faults)
}

/// [`derive`], with the counters that wrapped or were reset.
pub fn derive_all(ingested: &Ingested, policy: WrapPolicy) -> Derived {
    let mut metrics = base_metrics();
    metrics.extend(ingested.extra_metrics.iter().cloned());
    let mut out = Derived::default();
    for run in &ingested.runs {
        let fault = |reason: String| RunFault {
            group: run.group.clone(),
            run: run.run.clone(),
            reason,
        };
        let energy = run_energy(run, policy, &ingested.bounds);
        out.faults.extend(energy.faults.into_iter().map(fault));
        out.counters.extend(energy.notes);
        out.table.rows.push(Row {
            group: run.group.clone(),
            run: run.run.clone(),
            values: values(run, energy.total, &energy.domains, &metrics),
        });
    }
    out.table.metrics = metrics;
    out.table.groups = ingested.groups.clone();
    out
}

/// One run's energy: the total, each domain's joules by metric key, and why it cannot be
/// trusted.
#[derive(Default)]
struct RunEnergy {
    total: Option<f64>,
    domains: Vec<(String, f64)>,
    faults: Vec<String>,
    notes: Vec<CounterNote>,
}

fn run_energy(run: &RawRun, policy: WrapPolicy, bounds: &PowerBounds) -> RunEnergy {
    let mut e = match &run.energy {
        Energy::Total(total) => RunEnergy {
            total: Some(*total),
            ..RunEnergy::default()
        },
        Energy::Sampled(s) => sampled_energy(run, s, policy),
    };
    if let Some(total) = e.total {
        if !total.is_finite() {
            e.faults
                .push(format!("energy total is not a finite number: {total} J"));
        } else if total <= 0.0 {
            e.faults
                .push(format!("energy total is not positive: {total} J"));
        }
    }
    e.total = e.total.filter(|t| t.is_finite());
    if run.time_s <= 0.0 {
        e.faults
            .push(format!("duration is not positive: {} s", run.time_s));
    } else if e.faults.is_empty() {
        e.faults.extend(physics(run, &e, bounds));
    }
    e
}

/// Totals per domain (counters unwrapped under `policy`) and their sum over the top-level ones.
fn sampled_energy(run: &RawRun, s: &Sampled, policy: WrapPolicy) -> RunEnergy {
    let mut e = RunEnergy::default();
    let mut total = Some(0.0);
    for d in &s.domains {
        let joules = match &d.reading {
            Reading::Integrated { joules } => Ok(*joules),
            Reading::Counter(trace) => counter_total(trace, policy, &d.column).map(|(j, note)| {
                if let Some(mut note) = note {
                    note.group = run.group.clone();
                    note.run = run.run.clone();
                    e.notes.push(note);
                }
                j
            }),
        };
        match joules {
            Ok(j) => {
                e.domains.push((format!("energy_{}", d.domain), j));
                if d.in_total {
                    total = total.map(|t| t + j);
                }
            }
            Err(reason) => {
                e.faults.push(reason);
                if d.in_total {
                    total = None;
                }
            }
        }
    }
    e.total = total;
    e
}

/// The physics checks of a run whose totals came out: mean power per domain and duration
/// (shared with `host run`), then `Delta` against `Time` where power was integrated.
fn physics(run: &RawRun, e: &RunEnergy, bounds: &PowerBounds) -> Option<String> {
    let mut timing = Timing {
        seconds: run.time_s,
        ..Timing::default()
    };
    let Energy::Sampled(s) = &run.energy else {
        return runs_csv_physics(run, &timing, bounds);
    };
    timing.rows = Some(s.rows);
    timing.interval_s = s.interval_ms.map(|ms| ms / 1000.0);
    timing.first_time = Some(s.first_time);
    let domains: Vec<DomainTotal> = s
        .domains
        .iter()
        .filter_map(|d| {
            let key = format!("energy_{}", d.domain);
            let (_, joules) = e.domains.iter().find(|(k, _)| *k == key)?;
            Some(DomainTotal {
                label: &d.column,
                domain: &d.bound_domain,
                joules: *joules,
                from_power: matches!(d.reading, Reading::Integrated { .. }),
            })
        })
        .collect();
    if let Some(bad) = plausibility::check(&domains, &timing, bounds) {
        return Some(bad.to_string());
    }
    let integrated = domains.iter().any(|d| d.from_power);
    integrated
        .then(|| delta_against_time(s, run.time_s))
        .flatten()
}

/// A runs.csv row's per-domain columns (`energy_package_0_j` is domain `package-0`) against
/// its duration; `energy_dynamic_j` (energy above idle) is no domain.
fn runs_csv_physics(run: &RawRun, timing: &Timing, bounds: &PowerBounds) -> Option<String> {
    let named: Vec<(String, String, f64)> = run
        .extras
        .iter()
        .filter_map(|(key, joules)| {
            let word = key.strip_prefix("energy_").filter(|w| *w != "dynamic")?;
            Some((format!("energy_{word}_j"), kernel_domain(word), *joules))
        })
        .collect();
    let domains: Vec<DomainTotal> = named
        .iter()
        .map(|(label, domain, joules)| DomainTotal {
            label,
            domain,
            joules: *joules,
            from_power: false,
        })
        .collect();
    plausibility::check(&domains, timing, bounds).map(|bad| bad.to_string())
}

/// `package_0` (a runs.csv column word) → `package-0` (the kernel name bounds are keyed by).
fn kernel_domain(word: &str) -> String {
    match word.rsplit_once('_') {
        Some((base, n)) if !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()) => {
            format!("{base}-{n}")
        }
        _ => word.to_string(),
    }
}

/// Power integrated with `Delta` is only right if `Delta` agrees with the `Time` span.
fn delta_against_time(s: &Sampled, time_s: f64) -> Option<String> {
    let sum_s = s.delta_sum_ms? / 1000.0;
    let off = (sum_s - time_s) / time_s;
    (off.abs() > DELTA_TIME_TOLERANCE).then(|| {
        format!(
            "Delta and Time disagree: Delta sums to {} s over the rows, Time spans {} s ({:+.1} %); \
             rows missing or a clock changed, so power integrated with Delta would be wrong",
            num(sum_s),
            num(time_s),
            off * 100.0
        )
    })
}

fn values(
    run: &RawRun,
    energy: Option<f64>,
    domains: &[(String, f64)],
    metrics: &[Metric],
) -> Vec<Option<f64>> {
    let t = run.time_s;
    let finite = |x: f64| x.is_finite().then_some(x);
    metrics
        .iter()
        .map(|m| match m.key.as_str() {
            "time" => finite(t),
            "energy" => energy,
            "power" => energy.filter(|_| t > 0.0).and_then(|e| finite(e / t)),
            "edp" => energy.and_then(|e| finite(e * t)),
            key => run
                .extras
                .iter()
                .chain(domains)
                .find(|(k, _)| k == key)
                .map(|(_, v)| *v),
        })
        .collect()
}

/// One counter's joules under `policy`, with a note when it wrapped or was reset; `Err` says
/// why the run must be dropped.
fn counter_total(
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

/// When every run has a fault of the same kind (the text before its first `: `), the one line
/// that says so: the data as a whole is wrong, not some runs.
pub fn uniform_failure(faults: &[RunFault], runs: usize) -> Option<String> {
    let first = faults.first()?;
    let kind = super::summary::reason_kind(&first.reason);
    let mut failed: Vec<(&str, &str)> = faults
        .iter()
        .map(|f| (f.group.as_str(), f.run.as_str()))
        .collect();
    failed.sort_unstable();
    failed.dedup();
    let alike = faults
        .iter()
        .all(|f| super::summary::reason_kind(&f.reason) == kind);
    let detail = first.reason.strip_prefix(kind).unwrap_or(&first.reason);
    let detail = detail.strip_prefix(": ").unwrap_or(detail);
    (failed.len() == runs && alike).then(|| {
        format!(
            "every run ({runs}) fails the same way, so none can be analysed: {kind}: e.g. {} \
             run {}: {detail}",
            first.group, first.run
        )
    })
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
    fn runs_csv_domains_pass_the_physics_check_too() {
        let run = |package_j: f64| RawRun {
            group: "g".into(),
            run: "0".into(),
            source: "runs.csv:2".into(),
            time_s: 100.0,
            meter: "measured: powercap (package-0 dram)".into(),
            energy: Energy::Total(package_j + 300.0),
            extras: vec![
                ("energy_package_0".into(), package_j),
                ("energy_dram".into(), 300.0),
                ("energy_dynamic".into(), -5.0),
            ],
        };
        let ingested = Ingested {
            groups: vec!["g".into()],
            runs: vec![run(4_000.0), run(4_000.0 * 16_384.0)],
            ..Ingested::default()
        };
        let (_, faults) = derive(&ingested, WrapPolicy::default());
        assert_eq!(faults.len(), 1, "{faults:?}");
        assert!(
            faults[0].reason.starts_with(
                "values look like raw RAPL counts (units of 2^-14 J), not joules: \
                 energy_package_0_j gives 655,360 W mean power"
            ),
            "{}",
            faults[0].reason
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
