//! Energy meters: cumulative joules per domain, read from whatever this machine offers.
//!
//! One file per source, all behind the crate-private [`meter::Meter`] trait:
//!
//! | source     | file          | what it reads                                                     |
//! |------------|---------------|-------------------------------------------------------------------|
//! | `powercap` | `powercap.rs` | RAPL through `/sys/class/powercap/intel-rapl:*` (Intel, and AMD)  |
//! | `perf`     | `perf.rs`     | RAPL through the perf `power` PMU (`perf_event_open`)             |
//! | `msr`      | `msr.rs`      | RAPL registers in `/dev/cpu/N/msr` (Intel and AMD layouts)        |
//! | `nvml`     | `nvml.rs`     | NVIDIA GPUs; `libnvidia-ml` is loaded at run time                 |
//! | `estimate` | `estimate.rs` | a declared power model over CPU time: never a measurement         |
//!
//! Every raw counter is unwrapped on its own (`unwrap.rs`): wrap-arounds are added back, and a
//! backwards jump that cannot be a wrap, or an implausible power, becomes a [`Fault`] that
//! travels with the run. `plausibility.rs` judges a run's totals (mean power per domain,
//! duration against samples) for `host run` and `host analyze` alike. Nothing is dropped silently. [`EnergyMonitor`] opens the sources for
//! one worker process and runs the sampler thread (`sampler.rs`) that both keeps the
//! unwrapping state fresh (reads far faster than the shortest wrap period) and writes the
//! EnergiBridge-layout CSV. Phase-boundary snapshots share that state, so there is one truth.
//!
//! Domain names keep the kernel's words: `package-0`, `core`, `uncore`, `dram`, `psys`,
//! `gpu-0`. On machines with several packages the per-package subdomains get the package
//! number appended (`dram-1`), so names stay unique. The estimate's only domain is
//! `cpu-estimate`, so that no column an estimate fills can be mistaken for a measured one.

mod config;
mod estimate;
mod meter;
mod meters_cmd;
mod monitor;
pub mod msr;
mod nvml;
pub mod perf;
pub mod plausibility;
mod powercap;
mod procfs;
mod sampler;
mod select;
mod topology;
pub mod unwrap;

pub use config::{EnergyConfig, SourceChoice};
pub use estimate::{DEFAULT_IDLE_SHARE, DEFAULT_TDP_WATTS};
pub use meters_cmd::{meters_command, MetersArgs};
pub use monitor::EnergyMonitor;
pub use procfs::process_cpu_time_s;
pub use sampler::{csv_column_for, DEFAULT_SAMPLE_INTERVAL, ESTIMATE_COLUMN};

use std::time::Duration;

/// One energy domain as the outside world sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct DomainInfo {
    /// Kernel words: `package-0`, `core`, `uncore`, `dram`, `psys`, `gpu-0`; `cpu-estimate`
    /// for the estimate.
    pub name: String,
    /// The source that reads it: `powercap`, `perf`, `msr`, `nvml` or `estimate`.
    pub source: String,
    /// False for the estimate.
    pub measured: bool,
    /// Whether [`EnergyMonitor::total_joules`] adds this domain. `core` and `uncore` lie inside
    /// their package and `psys` contains the package and DRAM, so adding them would count the
    /// same joules twice.
    pub in_total: bool,
}

/// Every domain read at one instant.
#[derive(Debug, Clone, PartialEq)]
pub struct Snapshot {
    /// Wall clock, Unix milliseconds.
    pub unix_ms: u64,
    /// Since the meter set was opened.
    pub elapsed: Duration,
    /// Per domain, in the order of [`EnergyMonitor::domains`]; cumulative since open,
    /// unwrapped, never negative.
    pub joules: Vec<f64>,
    /// CPU time of this process (user + sys), seconds.
    pub cpu_time_s: f64,
}

/// A counter reading that was not taken at face value. Recorded with the run, never hidden.
#[derive(Debug, Clone, PartialEq)]
pub struct Fault {
    pub domain: String,
    /// `reset`, `backwards`, `implausible-power`, `gap`, `read-error`, or `suppressed` (too many to keep).
    pub kind: String,
    /// What was seen and what was done about it, in words.
    pub detail: String,
    pub unix_ms: u64,
}

/// Milliseconds since the Unix epoch (0 if the clock is before 1970).
pub(crate) fn unix_ms_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}
