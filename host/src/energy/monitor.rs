//! [`EnergyMonitor`]: the opened sources of one process, their unwrapping state, the faults
//! seen so far, and the sampler thread. Snapshots and the sampler go through one mutex, so
//! every reading passes through the same unwrapper whoever takes it.

use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use anyhow::Context;

use super::config::EnergyConfig;
use super::estimate::Estimate;
use super::meter::{base_name, Meter};
use super::sampler::{self, Sampler};
use super::select::select;
use super::unwrap::{max_power_w, Unwrapper};
use super::{procfs, unix_ms_now, DomainInfo, Fault, Snapshot};

/// Faults kept per run; past this one `suppressed` fault says how many more there were, so a
/// counter that misbehaves at every read cannot eat memory.
const MAX_FAULTS: usize = 1000;

struct Counter {
    meter: usize,
    index: usize,
    domain: usize,
    unwrap: Unwrapper,
}

pub(crate) struct State {
    meters: Vec<Box<dyn Meter>>,
    counters: Vec<Counter>,
    pub domains: Vec<DomainInfo>,
    faults: Vec<Fault>,
    suppressed: usize,
    pub opened: Instant,
}

impl State {
    fn open(meters: Vec<Box<dyn Meter>>) -> anyhow::Result<State> {
        let mut domains: Vec<DomainInfo> = Vec::new();
        let mut counters = Vec::new();
        for (mi, meter) in meters.iter().enumerate() {
            let first_domain = domains.len();
            for d in meter.domains() {
                // Two sources never name the same domain in `auto`; should it happen, the
                // source's name keeps the columns apart.
                let name = if domains.iter().any(|x| x.name == d.name) {
                    format!("{}-{}", d.name, meter.source())
                } else {
                    d.name.clone()
                };
                domains.push(DomainInfo {
                    name,
                    source: meter.source().to_string(),
                    measured: meter.measured(),
                    in_total: d.in_total,
                });
            }
            for (ci, spec) in meter.counters().iter().enumerate() {
                let domain = first_domain + spec.domain;
                let bound = meter
                    .max_power_w()
                    .unwrap_or_else(|| max_power_w(&domains[domain].name));
                counters.push((mi, ci, domain, spec.clone(), bound));
            }
        }
        // With no package domain, psys is the CPU's total; it covers the platform's DRAM too,
        // so DRAM then stays out of the total rather than being counted twice.
        let has_package = domains.iter().any(|d| base_name(&d.name) == "package");
        let has_psys = domains.iter().any(|d| base_name(&d.name) == "psys");
        if !has_package && has_psys {
            for d in domains.iter_mut() {
                match base_name(&d.name) {
                    "psys" => d.in_total = true,
                    "dram" => d.in_total = false,
                    _ => {}
                }
            }
        }
        let mut state = State {
            meters,
            counters: Vec::new(),
            domains,
            faults: Vec::new(),
            suppressed: 0,
            opened: Instant::now(),
        };
        for (mi, ci, domain, spec, bound) in counters {
            let meter = &mut state.meters[mi];
            let first = meter
                .read(ci)
                .with_context(|| format!("first reading of {}", meter.counters()[ci].origin))?;
            let unwrap = Unwrapper::new(
                first,
                Instant::now(),
                spec.scale_j,
                spec.modulus,
                bound,
                spec.granularity_s,
            );
            state.counters.push(Counter {
                meter: mi,
                index: ci,
                domain,
                unwrap,
            });
        }
        state.opened = Instant::now();
        Ok(state)
    }

    /// Reads every counter now; cumulative joules per domain.
    pub fn read_all(&mut self) -> Vec<f64> {
        for i in 0..self.counters.len() {
            let (mi, ci, domain) = {
                let c = &self.counters[i];
                (c.meter, c.index, c.domain)
            };
            match self.meters[mi].read(ci) {
                Ok(raw) => {
                    if let Some(flag) = self.counters[i].unwrap.update(raw, Instant::now()) {
                        self.fault(domain, flag.kind, flag.detail);
                    }
                }
                // The next good reading carries this interval's energy, so nothing is lost.
                Err(e) => self.fault(domain, "read-error", format!("{e:#}")),
            }
        }
        let mut joules = vec![0.0; self.domains.len()];
        for c in &self.counters {
            joules[c.domain] += c.unwrap.joules();
        }
        joules
    }

    fn fault(&mut self, domain: usize, kind: &str, detail: String) {
        if self.faults.len() < MAX_FAULTS {
            self.faults.push(Fault {
                domain: self.domains[domain].name.clone(),
                kind: kind.to_string(),
                detail,
                unix_ms: unix_ms_now(),
            });
        } else {
            self.suppressed += 1;
        }
    }

    pub fn faults(&self) -> Vec<Fault> {
        let mut f = self.faults.clone();
        if self.suppressed > 0 {
            f.push(Fault {
                domain: "*".into(),
                kind: "suppressed".into(),
                detail: format!("{} more faults not kept", self.suppressed),
                unix_ms: unix_ms_now(),
            });
        }
        f
    }

    /// How often counters must be read so none can wrap twice unseen: a quarter of the
    /// shortest wrap period at the bound power.
    pub fn max_poll_period(&self) -> Option<Duration> {
        self.counters
            .iter()
            .filter_map(|c| c.unwrap.wrap_period_at_bound_s())
            .map(|s| Duration::from_secs_f64((s / 4.0).max(0.001)))
            .min()
    }
}

pub(crate) type Shared = Arc<Mutex<State>>;

pub(crate) fn lock(state: &Shared) -> MutexGuard<'_, State> {
    // A panic elsewhere while holding the lock leaves plain numbers behind: still usable.
    state.lock().unwrap_or_else(|p| p.into_inner())
}

/// Opened sources for one process (the worker). Shared by the sampler thread and by
/// phase-boundary snapshots, so that unwrapping state is one.
pub struct EnergyMonitor {
    state: Shared,
    sampler: Option<Sampler>,
    label: String,
    unused: Vec<String>,
    descriptions: Vec<(String, String)>,
}

impl EnergyMonitor {
    /// Opens the sources (`auto`: every readable one, else the estimate) and starts the
    /// sampler thread, writing `samples_csv` (parent folders created) when given.
    pub fn start(cfg: &EnergyConfig, samples_csv: Option<&Path>) -> anyhow::Result<EnergyMonitor> {
        cfg.validate()?;
        let selection = select(cfg)?;
        let descriptions = selection
            .meters
            .iter()
            .map(|m| (m.source().to_string(), m.describe()))
            .collect();
        let state = State::open(selection.meters)?;
        let label = make_label(&state.domains, cfg);
        let state = Arc::new(Mutex::new(state));
        let sampler = sampler::spawn(state.clone(), cfg, samples_csv)?;
        Ok(EnergyMonitor {
            state,
            sampler: Some(sampler),
            label,
            unused: selection.unused,
            descriptions,
        })
    }

    pub fn domains(&self) -> Vec<DomainInfo> {
        lock(&self.state).domains.clone()
    }

    /// True when every domain is measured (no estimate anywhere).
    pub fn measured(&self) -> bool {
        lock(&self.state).domains.iter().all(|d| d.measured)
    }

    /// `measured: powercap (package-0 core dram)`, `estimate: cpu-time model; tdp 45 W; idle
    /// share 0.3`, or both joined by ` + ` with the estimate first. No commas: it is a runs.csv
    /// cell.
    pub fn label(&self) -> String {
        self.label.clone()
    }

    /// One line per source not used, saying why.
    pub fn unused_sources(&self) -> Vec<String> {
        self.unused.clone()
    }

    /// `(source, description)` per source in use, for `host meters`.
    pub fn used_sources(&self) -> Vec<(String, String)> {
        self.descriptions.clone()
    }

    /// Reads every domain now (at each phase boundary).
    pub fn snapshot(&self) -> anyhow::Result<Snapshot> {
        let mut state = lock(&self.state);
        let joules = state.read_all();
        Ok(Snapshot {
            unix_ms: unix_ms_now(),
            elapsed: state.opened.elapsed(),
            joules,
            cpu_time_s: procfs::process_cpu_time_s(),
        })
    }

    /// Sum of the domains that do not overlap (see [`DomainInfo::in_total`]).
    pub fn total_joules(&self, snapshot: &Snapshot) -> f64 {
        let state = lock(&self.state);
        state
            .domains
            .iter()
            .zip(&snapshot.joules)
            .filter(|(d, _)| d.in_total)
            .map(|(_, j)| j)
            .sum()
    }

    pub fn faults(&self) -> Vec<Fault> {
        lock(&self.state).faults()
    }

    /// Stops the sampler (after one last row), flushes and fsyncs the CSV; returns the faults.
    pub fn stop(mut self) -> anyhow::Result<Vec<Fault>> {
        if let Some(s) = self.sampler.take() {
            s.stop()?;
        }
        Ok(self.faults())
    }
}

fn make_label(domains: &[DomainInfo], cfg: &EnergyConfig) -> String {
    let mut parts: Vec<String> = Vec::new();
    // An estimate anywhere puts `estimate:` first, so a label starting with `measured:` is
    // all measurement.
    if domains.iter().any(|d| !d.measured) {
        parts.push(format!(
            "estimate: {}",
            Estimate::model_words(cfg.tdp_watts, cfg.idle_share)
        ));
    }
    let mut sources: Vec<&str> = Vec::new();
    for d in domains.iter().filter(|d| d.measured) {
        if !sources.contains(&d.source.as_str()) {
            sources.push(&d.source);
        }
    }
    for s in sources {
        let names: Vec<&str> = domains
            .iter()
            .filter(|d| d.source == s)
            .map(|d| d.name.as_str())
            .collect();
        parts.push(format!("measured: {s} ({})", names.join(" ")));
    }
    parts.join(" + ")
}
