//! TEMPORARY stand-in until the energy module lands: a CPU-time estimate only.
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SourceChoice {
    Auto,
    Powercap,
    Perf,
    Msr,
    Nvml,
    Estimate,
}
impl std::str::FromStr for SourceChoice {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Ok(match s {
            "auto" => Self::Auto,
            "powercap" => Self::Powercap,
            "perf" => Self::Perf,
            "msr" => Self::Msr,
            "nvml" => Self::Nvml,
            "estimate" => Self::Estimate,
            o => return Err(format!("unknown source `{o}`")),
        })
    }
}
#[derive(Debug, Clone)]
pub struct EnergyConfig {
    pub source: SourceChoice,
    pub tdp_watts: f64,
    pub idle_share: f64,
    pub sample_interval: Duration,
    pub powercap_root: PathBuf,
    pub perf_root: PathBuf,
    pub msr_root: PathBuf,
    pub proc_root: PathBuf,
}
impl Default for EnergyConfig {
    fn default() -> Self {
        Self {
            source: SourceChoice::Auto,
            tdp_watts: 15.0,
            idle_share: 0.3,
            sample_interval: Duration::from_millis(200),
            powercap_root: "/sys/class/powercap".into(),
            perf_root: "/sys/bus/event_source/devices".into(),
            msr_root: "/dev/cpu".into(),
            proc_root: "/proc".into(),
        }
    }
}
#[derive(Debug, Clone)]
pub struct DomainInfo {
    pub name: String,
    pub source: String,
    pub measured: bool,
}
#[derive(Debug, Clone)]
pub struct Snapshot {
    pub unix_ms: u64,
    pub elapsed: Duration,
    pub joules: Vec<f64>,
    pub cpu_time_s: f64,
}
#[derive(Debug, Clone)]
pub struct Fault {
    pub domain: String,
    pub kind: String,
    pub detail: String,
    pub unix_ms: u64,
}
pub struct EnergyMonitor {
    start: Instant,
    watts_per_cpu_s: f64,
}
fn cpu_time() -> f64 {
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) };
    ru.ru_utime.tv_sec as f64
        + ru.ru_utime.tv_usec as f64 * 1e-6
        + ru.ru_stime.tv_sec as f64
        + ru.ru_stime.tv_usec as f64 * 1e-6
}
impl EnergyMonitor {
    pub fn start(cfg: &EnergyConfig, _samples_csv: Option<&Path>) -> anyhow::Result<EnergyMonitor> {
        Ok(Self {
            start: Instant::now(),
            watts_per_cpu_s: cfg.tdp_watts,
        })
    }
    pub fn domains(&self) -> Vec<DomainInfo> {
        vec![DomainInfo {
            name: "cpu".into(),
            source: "estimate".into(),
            measured: false,
        }]
    }
    pub fn measured(&self) -> bool {
        false
    }
    pub fn label(&self) -> String {
        format!("estimate: cpu-time x {} W", self.watts_per_cpu_s)
    }
    pub fn unused_sources(&self) -> Vec<String> {
        vec![]
    }
    pub fn snapshot(&self) -> anyhow::Result<Snapshot> {
        let c = cpu_time();
        Ok(Snapshot {
            unix_ms: std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_millis() as u64)
                .unwrap_or(0),
            elapsed: self.start.elapsed(),
            joules: vec![c * self.watts_per_cpu_s],
            cpu_time_s: c,
        })
    }
    pub fn faults(&self) -> Vec<Fault> {
        vec![]
    }
    pub fn stop(self) -> anyhow::Result<Vec<Fault>> {
        Ok(vec![])
    }
}
pub struct MetersArgs {
    pub powercap_root: Option<PathBuf>,
    pub msr_root: Option<PathBuf>,
    pub watch: Option<Duration>,
    pub json: bool,
}
pub fn meters_command(_args: &MetersArgs, out: &mut dyn std::io::Write) -> anyhow::Result<()> {
    writeln!(out, "estimate only (stub)")?;
    Ok(())
}
