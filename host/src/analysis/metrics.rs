//! Deriving the metrics table from raw runs: time (s), energy (J), average power (W),
//! energy-delay product (J·s), then any per-phase or per-domain columns.
//!
//! A sampled run's energy is the sum of its top-level domains (see the EnergiBridge reader),
//! each a counter unwrapped under `clean`'s policy ([`super::counters`]) or a power column
//! already integrated. Every total then passes the physics check shared with `host run`
//! ([`crate::energy::plausibility`]); a run that fails any of this is a fault with the reason,
//! which `clean` drops.

use super::counters::counter_total;
pub use super::counters::{next_power_of_two_above, CounterNote, WrapPolicy};
use super::data::{Energy, Metric, RawRun, Reading, Row, Sampled, Table};
use super::format::num;
use super::ingest::Ingested;
use crate::energy::plausibility::{self, DomainTotal, PowerBounds, Timing};

/// How far the sum of `Delta` may be from the `Time` span when power is integrated with it:
/// on real recordings they differ by under 0.5 % (Delta is truncated to whole ms).
pub const DELTA_TIME_TOLERANCE: f64 = 0.05;

/// A run whose totals cannot be trusted; `clean` drops these.
#[derive(Debug, Clone, PartialEq)]
pub struct RunFault {
    pub group: String,
    pub run: String,
    pub reason: String,
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

/// `package_0` (a runs.csv column word) → `package-0` (the kernel name bounds are keyed by),
/// `cpu_estimate` → `cpu-estimate`: runs.csv spells a domain's `-` as `_`, and kernel domain
/// names have no `_`.
fn kernel_domain(word: &str) -> String {
    word.replace('_', "-")
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_csv_domain_words_are_kernel_names_again() {
        assert_eq!(kernel_domain("package_0"), "package-0");
        assert_eq!(kernel_domain("gpu_1"), "gpu-1");
        assert_eq!(kernel_domain("dram"), "dram");
        // So a bound set for `cpu-estimate` applies to runs.csv's energy_cpu_estimate_j.
        assert_eq!(kernel_domain("cpu_estimate"), "cpu-estimate");
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
            node: String::new(),
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
}
