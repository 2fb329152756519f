//! Provenance: what machine, software and inputs a campaign ran on (`environment.json`), and
//! the study's "zen mode" checklist of reasons the machine may not be quiet enough to measure.
//!
//! Everything is read from `/proc`, `/sys` and `/etc/os-release` through [`Roots`], so tests
//! run against fake trees. A missing file is normal (no cpufreq in a VM, no battery on a
//! desktop): the field is recorded as `null` and capture never fails. Warnings are reported,
//! never enforced: a researcher may knowingly measure on a noisy machine.

mod node;
mod procs;
mod read;
mod system;
mod warnings;

use std::path::{Path, PathBuf};

use anyhow::Context;
use serde::{Deserialize, Serialize};

pub use node::{Node, SlurmJob};
pub use procs::{busy_processes, ticks_per_second, BusyProcess, ProcSample};
pub use system::{
    Boost, BoostControl, Cpu, CpuFrequency, Frequency, Load, Machine, Memory, Os, PowerSupply,
    Supply, Virtualization,
};
pub use warnings::{
    quiet_machine_warnings, Warning, BUSY_PERCENT, BUSY_SHOWN, LOAD_PER_CPU, SAMPLE_GAP,
    SWAP_USED_BYTES,
};

/// Format version of `environment.json`; bump when a field changes meaning.
pub const SCHEMA_VERSION: u32 = 1;

/// Where the system is read from. `Default` is the real machine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Roots {
    /// `/proc`: cpuinfo, meminfo, loadavg, per-process stat, kernel release.
    pub proc_root: PathBuf,
    /// `/sys`: cpufreq, boost controls, topology, power supplies, DMI.
    pub sys_root: PathBuf,
    /// `/etc/os-release` (falls back to `/usr/lib/os-release` only when this is the default).
    pub os_release: PathBuf,
}

impl Default for Roots {
    fn default() -> Self {
        Self {
            proc_root: "/proc".into(),
            sys_root: "/sys".into(),
            os_release: DEFAULT_OS_RELEASE.into(),
        }
    }
}

const DEFAULT_OS_RELEASE: &str = "/etc/os-release";

/// One plugin as loaded: the file's hash pins the exact build, the framework fields are what
/// the plugin itself reported.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PluginProvenance {
    pub name: String,
    pub path: PathBuf,
    pub sha256: String,
    pub framework: String,
    pub framework_version: String,
}

/// The energy sources the campaign uses, as the meter chose them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnergySummary {
    /// e.g. `powercap` or `estimate: CPU time × 15 W TDP`.
    pub label: String,
    /// False when energy is estimated: every output must say so.
    pub measured: bool,
    pub domains: Vec<String>,
    /// Sources tried and not used, each with its reason (`msr: /dev/cpu/0/msr: permission denied`).
    pub unused_sources: Vec<String>,
}

/// This binary: the version alone does not pin a build between releases, the commit does.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostBuild {
    pub version: String,
    /// `git rev-parse HEAD` at build time (see build.rs), or `unknown` outside a checkout.
    pub git_commit: String,
}

impl HostBuild {
    pub fn current() -> Self {
        Self {
            version: env!("CARGO_PKG_VERSION").to_string(),
            git_commit: option_env!("JOULEBENCH_GIT_COMMIT")
                .filter(|c| !c.is_empty())
                .unwrap_or("unknown")
                .to_string(),
        }
    }
}

/// The manifest exactly as run: its hash is what `--resume` compares.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManifestProvenance {
    pub path: PathBuf,
    pub sha256: String,
}

/// Written as `results/<campaign>/environment.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Environment {
    pub schema_version: u32,
    /// UTC, RFC 3339, seconds.
    pub captured_at: String,
    pub host: HostBuild,
    pub manifest: ManifestProvenance,
    pub plugins: Vec<PluginProvenance>,
    pub energy: EnergySummary,
    /// The hostname and, under Slurm, the job (id, array task, node list, allocated CPUs).
    #[serde(default)]
    pub node: Node,
    pub os: Os,
    pub machine: Machine,
    pub virtualization: Virtualization,
    pub cpu: Cpu,
    pub frequency: Frequency,
    pub memory: Memory,
    /// At capture time; `null` when `/proc/loadavg` is unreadable.
    pub load: Option<Load>,
    pub power_supply: PowerSupply,
    /// The quiet-machine warnings as shown before the campaign. `capture` leaves this empty:
    /// the caller fills it from [`quiet_machine_warnings`] so the record says what was ignored.
    pub warnings: Vec<String>,
}

impl Environment {
    /// Records the warnings shown to the user (one line each) in the provenance.
    pub fn record_warnings(&mut self, warnings: &[Warning]) {
        self.warnings = warnings.iter().map(ToString::to_string).collect();
    }

    /// Writes pretty JSON atomically ([`crate::fsx::write_atomically`]): the file must survive
    /// a crash of the campaign, and a full disk must leave no empty or partial file.
    pub fn write_json(&self, path: &Path) -> anyhow::Result<()> {
        let mut text = serde_json::to_string_pretty(self).context("serialise environment")?;
        text.push('\n');
        crate::fsx::write_atomically(path, text.as_bytes())
    }
}

/// Reads the machine. Never fails: what cannot be read is `null`.
pub fn capture(
    roots: &Roots,
    manifest_path: &Path,
    manifest_sha256: &str,
    plugins: &[PluginProvenance],
    energy: &EnergySummary,
) -> Environment {
    let cpuinfo = system::CpuInfo::read(&roots.proc_root);
    Environment {
        schema_version: SCHEMA_VERSION,
        captured_at: humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string(),
        host: HostBuild::current(),
        manifest: ManifestProvenance {
            path: manifest_path.to_path_buf(),
            sha256: manifest_sha256.to_string(),
        },
        plugins: plugins.to_vec(),
        energy: energy.clone(),
        node: Node::read(&roots.proc_root, |k| std::env::var(k).ok()),
        os: Os::read(roots),
        machine: Machine::read(&roots.sys_root),
        virtualization: Virtualization::read(&roots.sys_root, &cpuinfo),
        cpu: Cpu::read(&roots.sys_root, &cpuinfo),
        frequency: Frequency::read(&roots.sys_root, &cpuinfo),
        memory: Memory::read(&roots.proc_root),
        load: Load::read(&roots.proc_root),
        power_supply: PowerSupply::read(&roots.sys_root),
        warnings: Vec::new(),
    }
}
