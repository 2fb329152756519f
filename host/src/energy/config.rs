//! Which source to use and the settings every source reads (`[energy]` in a manifest).

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use super::estimate::{DEFAULT_IDLE_SHARE, DEFAULT_TDP_WATTS};
use super::sampler::DEFAULT_SAMPLE_INTERVAL;
use crate::error::usage;

/// `[energy] source`: `auto` (default) opens every readable CPU and GPU source and falls back
/// to the estimate; the others insist on one source and fail when it cannot be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SourceChoice {
    #[default]
    Auto,
    Powercap,
    Perf,
    Msr,
    Nvml,
    Estimate,
}

impl SourceChoice {
    pub const NAMES: [&'static str; 6] = ["auto", "powercap", "perf", "msr", "nvml", "estimate"];

    pub fn name(self) -> &'static str {
        match self {
            SourceChoice::Auto => "auto",
            SourceChoice::Powercap => "powercap",
            SourceChoice::Perf => "perf",
            SourceChoice::Msr => "msr",
            SourceChoice::Nvml => "nvml",
            SourceChoice::Estimate => "estimate",
        }
    }
}

impl fmt::Display for SourceChoice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for SourceChoice {
    type Err = anyhow::Error;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s.trim() {
            "auto" => SourceChoice::Auto,
            "powercap" => SourceChoice::Powercap,
            "perf" => SourceChoice::Perf,
            "msr" => SourceChoice::Msr,
            "nvml" => SourceChoice::Nvml,
            "estimate" => SourceChoice::Estimate,
            other => {
                return Err(usage(format!(
                    "unknown energy source {other:?}: expected one of {}",
                    Self::NAMES.join(", ")
                )))
            }
        })
    }
}

/// Settings for one [`super::EnergyMonitor`]. Build it with `..Default::default()` so that
/// fields added later do not break callers.
#[derive(Debug, Clone, PartialEq)]
pub struct EnergyConfig {
    pub source: SourceChoice,
    /// The estimate's full-load power of the whole CPU (all CPUs listed in /proc/stat).
    pub tdp_watts: f64,
    /// The estimate's idle power as a share of `tdp_watts`, in [0, 1].
    pub idle_share: f64,
    /// How often the sampler writes a CSV row (it may read counters more often, see sampler.rs).
    pub sample_interval: Duration,
    /// Default `/sys/class/powercap`.
    pub powercap_root: PathBuf,
    /// Default `/sys/bus/event_source/devices`.
    pub perf_root: PathBuf,
    /// Default `/dev/cpu`.
    pub msr_root: PathBuf,
    /// Default `/proc`: stat, meminfo and cpuinfo (estimate, sampler columns, CPU vendor).
    pub proc_root: PathBuf,
    /// Default `/sys/devices/system/cpu`: topology (one CPU per package for msr) and
    /// `cpufreq` (the sampler's `CPU_FREQUENCY_i`).
    pub sys_cpu_root: PathBuf,
}

impl Default for EnergyConfig {
    fn default() -> Self {
        EnergyConfig {
            source: SourceChoice::Auto,
            tdp_watts: DEFAULT_TDP_WATTS,
            idle_share: DEFAULT_IDLE_SHARE,
            sample_interval: DEFAULT_SAMPLE_INTERVAL,
            powercap_root: PathBuf::from("/sys/class/powercap"),
            perf_root: PathBuf::from("/sys/bus/event_source/devices"),
            msr_root: PathBuf::from("/dev/cpu"),
            proc_root: PathBuf::from("/proc"),
            sys_cpu_root: PathBuf::from("/sys/devices/system/cpu"),
        }
    }
}

impl EnergyConfig {
    /// Checks the numbers a user typed; errors are usage errors (exit 2).
    pub fn validate(&self) -> anyhow::Result<()> {
        if !(self.tdp_watts.is_finite() && self.tdp_watts > 0.0) {
            return Err(usage(format!(
                "[energy] tdp_watts must be a positive number of watts, got {}",
                self.tdp_watts
            )));
        }
        if !(0.0..=1.0).contains(&self.idle_share) {
            return Err(usage(format!(
                "[energy] idle_share must lie between 0 and 1, got {}",
                self.idle_share
            )));
        }
        if self.sample_interval < Duration::from_millis(1) {
            return Err(usage(format!(
                "[energy] sample_interval must be at least 1 ms, got {:?}",
                self.sample_interval
            )));
        }
        Ok(())
    }
}
