//! The machine's static description: CPU, frequency policy, memory, OS, power supply.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::read;
use super::{Roots, DEFAULT_OS_RELEASE};

/// `/proc/cpuinfo` as one key/value map per `processor` block.
pub(super) struct CpuInfo {
    blocks: Vec<BTreeMap<String, String>>,
}

impl CpuInfo {
    pub(super) fn read(proc_root: &Path) -> Self {
        let text = std::fs::read_to_string(proc_root.join("cpuinfo")).unwrap_or_default();
        let mut blocks = Vec::new();
        let mut block = BTreeMap::new();
        for line in text.lines() {
            if line.trim().is_empty() {
                if !block.is_empty() {
                    blocks.push(std::mem::take(&mut block));
                }
                continue;
            }
            if let Some((k, v)) = line.split_once(':') {
                block.insert(k.trim().to_string(), v.trim().to_string());
            }
        }
        if !block.is_empty() {
            blocks.push(block);
        }
        // Some architectures (arm64) end with a machine-wide block without `processor`;
        // keep it for model lookups but count only the per-processor blocks.
        Self { blocks }
    }

    fn processors(&self) -> impl Iterator<Item = &BTreeMap<String, String>> {
        self.blocks.iter().filter(|b| b.contains_key("processor"))
    }

    /// First value of any of `keys`, in that order of preference, across all blocks.
    fn first(&self, keys: &[&str]) -> Option<String> {
        keys.iter().find_map(|k| {
            self.blocks
                .iter()
                .find_map(|b| b.get(*k).filter(|v| !v.is_empty()).cloned())
        })
    }

    fn has_flag(&self, flag: &str) -> bool {
        self.processors().any(|b| {
            b.get("flags")
                .is_some_and(|f| f.split_whitespace().any(|x| x == flag))
        })
    }

    /// `cpu MHz` of processor `cpu` (x86 only), a fallback when cpufreq is absent.
    fn mhz(&self, cpu: usize) -> Option<f64> {
        self.processors()
            .find(|b| b.get("processor").and_then(|p| p.parse().ok()) == Some(cpu))
            .and_then(|b| b.get("cpu MHz"))
            .and_then(|v| v.parse().ok())
    }
}

fn cpu_dirs(sys_root: &Path) -> Vec<(usize, std::path::PathBuf)> {
    read::numbered_entries(&sys_root.join("devices/system/cpu"), "cpu")
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cpu {
    pub model: Option<String>,
    pub vendor: Option<String>,
    /// Distinct (package, core) pairs: what a "core" means for SMT.
    pub physical_cores: Option<usize>,
    /// Hardware threads the OS sees (`processor` entries).
    pub logical_threads: Option<usize>,
    pub packages: Option<usize>,
    /// Kernel cpulist of online CPUs, e.g. `0-7`.
    pub online: Option<String>,
    pub smt_active: Option<bool>,
}

impl Cpu {
    pub(super) fn read(sys_root: &Path, info: &CpuInfo) -> Self {
        let cpu_dirs = cpu_dirs(sys_root);
        // cpuinfo's `physical id`/`core id` exist on x86; elsewhere sysfs topology says the same.
        let mut cores = BTreeSet::new();
        for b in info.processors() {
            if let (Some(p), Some(c)) = (b.get("physical id"), b.get("core id")) {
                cores.insert((p.clone(), c.clone()));
            }
        }
        if cores.is_empty() {
            for (_, dir) in &cpu_dirs {
                let topo = dir.join("topology");
                if let (Some(p), Some(c)) = (
                    read::text(&topo.join("physical_package_id")),
                    read::text(&topo.join("core_id")),
                ) {
                    cores.insert((p, c));
                }
            }
        }
        let packages: BTreeSet<&String> = cores.iter().map(|(p, _)| p).collect();
        let listed = info.processors().count();
        let logical_threads = if listed > 0 {
            Some(listed)
        } else {
            (!cpu_dirs.is_empty()).then_some(cpu_dirs.len())
        };
        Self {
            // x86 `model name`; arm64 and others name it differently or only in a last block.
            model: info.first(&[
                "model name",
                "Processor",
                "cpu model",
                "Hardware",
                "cpu",
                "uarch",
            ]),
            vendor: info.first(&["vendor_id", "vendor", "CPU implementer", "mvendorid"]),
            physical_cores: (!cores.is_empty()).then_some(cores.len()),
            logical_threads,
            packages: (!packages.is_empty()).then_some(packages.len()),
            online: read::text(&sys_root.join("devices/system/cpu/online")),
            smt_active: read::switch(&sys_root.join("devices/system/cpu/smt/active")),
        }
    }
}

/// Which knob says whether boost is on; each has a different off switch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BoostControl {
    /// `devices/system/cpu/intel_pstate/no_turbo` (1 = turbo off).
    IntelPstateNoTurbo,
    /// `devices/system/cpu/cpufreq/boost` (acpi-cpufreq, amd-pstate passive; 1 = on).
    CpufreqBoost,
    /// `devices/system/cpu/cpufreq/policy*/boost` (per-policy, newer amd-pstate; 1 = on).
    PolicyBoost,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Boost {
    /// Turbo/boost on; `null` when no knob exists (VMs, fixed-clock CPUs).
    pub enabled: Option<bool>,
    pub control: Option<BoostControl>,
    /// `intel_pstate/status` (`active`, `passive`, `off`) where present.
    pub intel_pstate: Option<String>,
    /// `amd_pstate/status` (`active`, `passive`, `guided`) where present.
    pub amd_pstate: Option<String>,
}

impl Boost {
    fn read(sys_root: &Path) -> Self {
        let cpu = sys_root.join("devices/system/cpu");
        let intel_pstate = read::text(&cpu.join("intel_pstate/status"));
        let amd_pstate = read::text(&cpu.join("amd_pstate/status"));
        // intel_pstate ignores cpufreq/boost, so its no_turbo wins when present.
        let (enabled, control) =
            if let Some(no_turbo) = read::switch(&cpu.join("intel_pstate/no_turbo")) {
                (Some(!no_turbo), Some(BoostControl::IntelPstateNoTurbo))
            } else if let Some(on) = read::switch(&cpu.join("cpufreq/boost")) {
                (Some(on), Some(BoostControl::CpufreqBoost))
            } else {
                let policies: Vec<bool> = read::numbered_entries(&cpu.join("cpufreq"), "policy")
                    .iter()
                    .filter_map(|(_, p)| read::switch(&p.join("boost")))
                    .collect();
                if policies.is_empty() {
                    (None, None)
                } else {
                    // Any boosting policy makes timings depend on temperature.
                    (
                        Some(policies.contains(&true)),
                        Some(BoostControl::PolicyBoost),
                    )
                }
            };
        Self {
            enabled,
            control,
            intel_pstate,
            amd_pstate,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CpuFrequency {
    pub cpu: usize,
    pub governor: Option<String>,
    pub driver: Option<String>,
    /// `energy_performance_preference` (intel_pstate/amd-pstate active mode).
    pub energy_performance_preference: Option<String>,
    pub current_mhz: Option<f64>,
    /// `cpufreq` (scaling_cur_freq) or `cpuinfo` (`cpu MHz`, e.g. in VMs without cpufreq).
    pub current_mhz_source: Option<String>,
    /// The policy's ceiling (`scaling_max_freq`).
    pub max_mhz: Option<f64>,
    /// The hardware's ceiling (`cpuinfo_max_freq`).
    pub hardware_max_mhz: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Frequency {
    pub boost: Boost,
    /// One entry per CPU the kernel lists; fields are `null` without cpufreq.
    pub cpus: Vec<CpuFrequency>,
}

fn khz_as_mhz(path: &Path) -> Option<f64> {
    read::number::<u64>(path).map(|khz| {
        // kHz values are far below 2^53: exact in f64.
        #[allow(clippy::cast_precision_loss)]
        let khz = khz as f64;
        khz / 1000.0
    })
}

impl Frequency {
    pub(super) fn read(sys_root: &Path, info: &CpuInfo) -> Self {
        let mut ids: Vec<usize> = cpu_dirs(sys_root).into_iter().map(|(n, _)| n).collect();
        if ids.is_empty() {
            ids = info
                .processors()
                .filter_map(|b| b.get("processor")?.parse().ok())
                .collect();
        }
        let cpus = ids
            .into_iter()
            .map(|cpu| {
                let f = sys_root.join(format!("devices/system/cpu/cpu{cpu}/cpufreq"));
                let mut current_mhz = khz_as_mhz(&f.join("scaling_cur_freq"));
                let mut current_mhz_source = current_mhz.map(|_| "cpufreq".to_string());
                if current_mhz.is_none() {
                    current_mhz = info.mhz(cpu);
                    current_mhz_source = current_mhz.map(|_| "cpuinfo".to_string());
                }
                CpuFrequency {
                    cpu,
                    governor: read::text(&f.join("scaling_governor")),
                    driver: read::text(&f.join("scaling_driver")),
                    energy_performance_preference: read::text(
                        &f.join("energy_performance_preference"),
                    ),
                    current_mhz,
                    current_mhz_source,
                    max_mhz: khz_as_mhz(&f.join("scaling_max_freq")),
                    hardware_max_mhz: khz_as_mhz(&f.join("cpuinfo_max_freq")),
                }
            })
            .collect();
        Self {
            boost: Boost::read(sys_root),
            cpus,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Memory {
    pub total_bytes: Option<u64>,
    pub available_bytes: Option<u64>,
    pub swap_total_bytes: Option<u64>,
    pub swap_used_bytes: Option<u64>,
}

impl Memory {
    pub(super) fn read(proc_root: &Path) -> Self {
        let text = std::fs::read_to_string(proc_root.join("meminfo")).unwrap_or_default();
        let field = |name: &str| -> Option<u64> {
            let line = text.lines().find(|l| l.split(':').next() == Some(name))?;
            let kib: u64 = line
                .split(':')
                .nth(1)?
                .split_whitespace()
                .next()?
                .parse()
                .ok()?;
            kib.checked_mul(1024)
        };
        let swap_total_bytes = field("SwapTotal");
        Self {
            total_bytes: field("MemTotal"),
            available_bytes: field("MemAvailable"),
            swap_total_bytes,
            swap_used_bytes: swap_total_bytes
                .zip(field("SwapFree"))
                .map(|(t, f)| t.saturating_sub(f)),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Load {
    pub one: f64,
    pub five: f64,
    pub fifteen: f64,
}

impl Load {
    pub(super) fn read(proc_root: &Path) -> Option<Self> {
        let text = read::text(&proc_root.join("loadavg"))?;
        let mut it = text.split_whitespace().map(str::parse::<f64>);
        Some(Self {
            one: it.next()?.ok()?,
            five: it.next()?.ok()?,
            fifteen: it.next()?.ok()?,
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Os {
    /// `PRETTY_NAME` from os-release.
    pub pretty_name: Option<String>,
    /// Kernel release (`uname -r`).
    pub kernel: Option<String>,
    /// Kernel build (`uname -v`).
    pub kernel_version: Option<String>,
    pub arch: String,
    pub hostname: Option<String>,
}

impl Os {
    pub(super) fn read(roots: &Roots) -> Self {
        let kernel_dir = roots.proc_root.join("sys/kernel");
        let uname = uname();
        let mut pretty_name = pretty_name(&roots.os_release);
        // os-release(5): /usr/lib/os-release is the fallback, but only for the real path, so a
        // fake tree never picks up the host's file.
        if pretty_name.is_none() && roots.os_release == Path::new(DEFAULT_OS_RELEASE) {
            pretty_name = pretty_name_at("/usr/lib/os-release");
        }
        Self {
            pretty_name,
            kernel: read::text(&kernel_dir.join("osrelease"))
                .or_else(|| uname.as_ref().map(|u| u.0.clone())),
            kernel_version: read::text(&kernel_dir.join("version"))
                .or_else(|| uname.as_ref().map(|u| u.1.clone())),
            arch: std::env::consts::ARCH.to_string(),
            hostname: read::text(&kernel_dir.join("hostname")),
        }
    }
}

fn pretty_name_at(path: &str) -> Option<String> {
    pretty_name(Path::new(path))
}

fn pretty_name(path: &Path) -> Option<String> {
    let text = std::fs::read_to_string(path).ok()?;
    let value = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("PRETTY_NAME="))?
        .trim();
    // Shell-style quoting, as os-release(5) specifies.
    let unquoted = value
        .strip_prefix('"')
        .and_then(|v| v.strip_suffix('"'))
        .or_else(|| value.strip_prefix('\'').and_then(|v| v.strip_suffix('\'')))
        .unwrap_or(value);
    let unescaped = unquoted
        .replace("\\\"", "\"")
        .replace("\\$", "$")
        .replace("\\`", "`")
        .replace("\\\\", "\\");
    (!unescaped.is_empty()).then_some(unescaped)
}

/// (release, version) from uname(2): the fallback when /proc/sys/kernel is not mounted.
fn uname() -> Option<(String, String)> {
    // SAFETY: utsname is plain old data, so all-zero is a valid value; uname only writes
    // NUL-terminated strings into its fixed-size arrays.
    let mut u: libc::utsname = unsafe { std::mem::zeroed() };
    // SAFETY: `u` is a valid, writable utsname.
    if unsafe { libc::uname(&raw mut u) } != 0 {
        return None;
    }
    let field = |chars: &[libc::c_char]| {
        // c_char is i8 or u8 by platform; reinterpret each as a byte, stopping at NUL.
        #[allow(clippy::cast_sign_loss)]
        let bytes: Vec<u8> = chars
            .iter()
            .take_while(|c| **c != 0)
            .map(|c| *c as u8)
            .collect();
        String::from_utf8_lossy(&bytes).into_owned()
    };
    Some((field(&u.release), field(&u.version)))
}

/// DMI says which machine (laptop model, cloud instance type): useful to compare studies.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Machine {
    pub vendor: Option<String>,
    pub product: Option<String>,
}

impl Machine {
    pub(super) fn read(sys_root: &Path) -> Self {
        let dmi = sys_root.join("class/dmi/id");
        Self {
            vendor: read::text(&dmi.join("sys_vendor")),
            product: read::text(&dmi.join("product_name")),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Virtualization {
    /// The `hypervisor` CPU flag (x86): set inside virtual machines.
    pub hypervisor_flag: bool,
    /// `/sys/hypervisor/type` (e.g. `xen`) where the kernel exposes it.
    pub hypervisor_type: Option<String>,
}

impl Virtualization {
    pub(super) fn read(sys_root: &Path, info: &CpuInfo) -> Self {
        Self {
            hypervisor_flag: info.has_flag("hypervisor"),
            hypervisor_type: read::text(&sys_root.join("hypervisor/type")),
        }
    }

    pub fn in_vm(&self) -> bool {
        self.hypervisor_flag || self.hypervisor_type.is_some()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Supply {
    pub name: String,
    /// `Battery`, `Mains`, `USB`, …
    pub kind: Option<String>,
    /// Batteries: `Charging`, `Discharging`, `Full`, `Not charging`.
    pub status: Option<String>,
    /// Mains/USB: plugged in.
    pub online: Option<bool>,
    pub capacity_percent: Option<u8>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PowerSupply {
    /// True if a battery is discharging; `null` when the machine lists no supply at all.
    pub on_battery: Option<bool>,
    pub supplies: Vec<Supply>,
}

impl PowerSupply {
    pub(super) fn read(sys_root: &Path) -> Self {
        let dir = sys_root.join("class/power_supply");
        let mut names: Vec<_> = std::fs::read_dir(&dir)
            .map(|entries| entries.flatten().map(|e| e.file_name()).collect())
            .unwrap_or_default();
        names.sort();
        let supplies: Vec<Supply> = names
            .into_iter()
            .map(|name| {
                let path = dir.join(&name);
                Supply {
                    name: name.to_string_lossy().into_owned(),
                    kind: read::text(&path.join("type")),
                    status: read::text(&path.join("status")),
                    online: read::switch(&path.join("online")),
                    capacity_percent: read::number(&path.join("capacity")),
                }
            })
            .collect();
        let on_battery = (!supplies.is_empty()).then(|| supplies.iter().any(Supply::discharging));
        Self {
            on_battery,
            supplies,
        }
    }
}

impl Supply {
    pub fn discharging(&self) -> bool {
        self.kind.as_deref() == Some("Battery") && self.status.as_deref() == Some("Discharging")
    }
}
