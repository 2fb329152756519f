//! RAPL read straight from model-specific registers: `<root>/<cpu>/msr` (normally
//! /dev/cpu/N/msr, from the `msr` kernel module), 8 bytes read with pread at the register
//! number as offset. Needs root, or `cap_sys_rawio` plus read permission on the files.
//!
//! Intel: `MSR_RAPL_POWER_UNIT` (0x606) gives the energy unit 1/2^ESU J in bits 12:8; package
//! 0x611, PP0/core 0x639, PP1/uncore 0x641, DRAM 0x619. Server parts count DRAM in a fixed
//! 2^-16 J unit whatever ESU says, as the Linux driver knows; see [`INTEL_SERVER_MODELS`].
//! AMD (family 17h+): units 0xC0010299 (same layout), package 0xC001029B, and one core energy
//! register 0xC001029A per physical core, which are summed into `core`.
//! Every counter is 32 bits wide; `unwrap.rs` adds back the wraps.
//!
//! A register the CPU does not implement reads as an I/O error; such domains are left out and
//! named in the description. The files are opened for each read, like powercap's.

use std::fs::{self, File};
use std::io;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use anyhow::anyhow;

use super::meter::{
    counts_in_total, package_qualified, CounterSpec, DomainSpec, Meter, RAPL_GRANULARITY_S,
};
use super::procfs::cpuinfo_field;
use super::topology::{self, CpuPlace};

pub const INTEL_POWER_UNIT: u64 = 0x606;
pub const INTEL_PKG_ENERGY: u64 = 0x611;
pub const INTEL_PP0_ENERGY: u64 = 0x639;
pub const INTEL_PP1_ENERGY: u64 = 0x641;
pub const INTEL_DRAM_ENERGY: u64 = 0x619;
pub const AMD_POWER_UNIT: u64 = 0xC001_0299;
pub const AMD_CORE_ENERGY: u64 = 0xC001_029A;
pub const AMD_PKG_ENERGY: u64 = 0xC001_029B;

/// Family-6 models whose DRAM domain counts in 2^-16 J (Haswell-X, Broadwell-X/-D, Skylake-X,
/// Ice Lake-X/-D, Sapphire/Emerald/Granite Rapids, Sierra Forest, Xeon Phi).
pub const INTEL_SERVER_MODELS: [u32; 13] = [
    0x3F, 0x4F, 0x56, 0x55, 0x6A, 0x6C, 0x8F, 0xCF, 0xAD, 0xAE, 0xAF, 0x57, 0x85,
];

const COUNTER_RANGE: u64 = 1 << 32;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Vendor {
    Intel,
    Amd,
}

pub(crate) struct Msr {
    root: PathBuf,
    vendor: Vendor,
    /// (cpu, register) per counter.
    regs: Vec<(u32, u64)>,
    domains: Vec<DomainSpec>,
    counters: Vec<CounterSpec>,
    notes: Vec<String>,
}

fn msr_path(root: &Path, cpu: u32) -> PathBuf {
    root.join(cpu.to_string()).join("msr")
}

fn read_reg(root: &Path, cpu: u32, reg: u64) -> io::Result<u64> {
    let file = File::open(msr_path(root, cpu))?;
    let mut buf = [0u8; 8];
    file.read_exact_at(&mut buf, reg)?;
    Ok(u64::from_le_bytes(buf))
}

/// The reason a register could not be read, in words a user can act on.
fn explain(root: &Path, cpu: u32, reg: u64, err: &io::Error) -> anyhow::Error {
    let path = msr_path(root, cpu);
    match err.kind() {
        io::ErrorKind::PermissionDenied => anyhow!(
            "{}: permission denied — run as root or give the binary cap_sys_rawio \
             (sudo setcap cap_sys_rawio=ep BINARY) and read access to the file",
            path.display()
        ),
        io::ErrorKind::NotFound => anyhow!(
            "{}: not found — load the msr module (sudo modprobe msr)",
            path.display()
        ),
        _ => anyhow!(
            "{}: register {reg:#x} unreadable ({err}) — this CPU or hypervisor does not \
             expose RAPL registers",
            path.display()
        ),
    }
}

/// CPUs that have an msr file under `root`, ascending.
fn list_cpus(root: &Path) -> anyhow::Result<Vec<u32>> {
    let entries = fs::read_dir(root).map_err(|e| match e.kind() {
        io::ErrorKind::NotFound => anyhow!(
            "{}: not found — no per-CPU device files; load the msr module (sudo modprobe msr)",
            root.display()
        ),
        _ => anyhow!("{}: {e}", root.display()),
    })?;
    let mut cpus: Vec<u32> = entries
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse().ok())
        .collect();
    cpus.sort_unstable();
    let first = cpus.first().copied().unwrap_or(0);
    cpus.retain(|c| msr_path(root, *c).exists());
    if cpus.is_empty() {
        return Err(anyhow!(
            "{}: not found — load the msr module (sudo modprobe msr)",
            msr_path(root, first).display()
        ));
    }
    Ok(cpus)
}

fn vendor(proc_root: &Path) -> Option<Vendor> {
    match cpuinfo_field(proc_root, "vendor_id")?.as_str() {
        "GenuineIntel" => Some(Vendor::Intel),
        "AuthenticAMD" | "HygonGenuine" => Some(Vendor::Amd),
        _ => None,
    }
}

fn intel_server(proc_root: &Path) -> bool {
    let family = cpuinfo_field(proc_root, "cpu family").and_then(|f| f.parse::<u32>().ok());
    let model = cpuinfo_field(proc_root, "model").and_then(|m| m.parse::<u32>().ok());
    family == Some(6) && model.is_some_and(|m| INTEL_SERVER_MODELS.contains(&m))
}

/// Joules per count from a units register: bits 12:8 hold ESU, the unit is 1/2^ESU J.
pub fn energy_unit_j(units_register: u64) -> f64 {
    0.5f64.powi(((units_register >> 8) & 0x1f) as i32)
}

impl Msr {
    pub fn open(root: &Path, proc_root: &Path, sys_cpu_root: &Path) -> anyhow::Result<Msr> {
        let cpus = list_cpus(root)?;
        let first = cpus[0];
        // Probe the first CPU: its error is the one that explains the whole source.
        let vendor = match vendor(proc_root) {
            Some(v) => v,
            None if read_reg(root, first, INTEL_POWER_UNIT).is_ok() => Vendor::Intel,
            None => Vendor::Amd,
        };
        let unit_reg = match vendor {
            Vendor::Intel => INTEL_POWER_UNIT,
            Vendor::Amd => AMD_POWER_UNIT,
        };
        let units =
            read_reg(root, first, unit_reg).map_err(|e| explain(root, first, unit_reg, &e))?;
        let unit = energy_unit_j(units);
        let (places, complete) = topology::places(sys_cpu_root, &cpus);
        let mut msr = Msr {
            root: root.to_path_buf(),
            vendor,
            regs: Vec::new(),
            domains: Vec::new(),
            counters: Vec::new(),
            notes: Vec::new(),
        };
        if !complete {
            msr.notes.push(format!(
                "topology under {} incomplete: one package assumed",
                sys_cpu_root.display()
            ));
        }
        let packages = topology::one_per_package(&places);
        match vendor {
            Vendor::Intel => {
                let dram_unit = if intel_server(proc_root) {
                    0.5f64.powi(16)
                } else {
                    unit
                };
                for p in &packages {
                    msr.add(p, &packages, "package", INTEL_PKG_ENERGY, unit);
                    msr.add(p, &packages, "core", INTEL_PP0_ENERGY, unit);
                    msr.add(p, &packages, "uncore", INTEL_PP1_ENERGY, unit);
                    msr.add(p, &packages, "dram", INTEL_DRAM_ENERGY, dram_unit);
                }
            }
            Vendor::Amd => {
                let cores = topology::one_per_core(&places);
                for p in &packages {
                    msr.add(p, &packages, "package", AMD_PKG_ENERGY, unit);
                    for c in cores.iter().filter(|c| c.package == p.package) {
                        msr.add(c, &packages, "core", AMD_CORE_ENERGY, unit);
                    }
                }
            }
        }
        if msr.counters.is_empty() {
            return Err(anyhow!(
                "{}: no RAPL energy register readable ({})",
                msr_path(root, first).display(),
                msr.notes.join("; ")
            ));
        }
        Ok(msr)
    }

    /// Adds one register of one CPU to the domain `kind` of its package, if it reads.
    fn add(&mut self, at: &CpuPlace, packages: &[CpuPlace], kind: &str, reg: u64, unit: f64) {
        if let Err(e) = read_reg(&self.root, at.cpu, reg) {
            self.notes
                .push(format!("{kind} register {reg:#x} on cpu {}: {e}", at.cpu));
            return;
        }
        let name = if kind == "package" {
            format!("package-{}", at.package)
        } else {
            package_qualified(kind, at.package, packages.len())
        };
        let domain = match self.domains.iter().position(|d| d.name == name) {
            Some(i) => i,
            None => {
                self.domains.push(DomainSpec {
                    in_total: counts_in_total(&name),
                    name,
                });
                self.domains.len() - 1
            }
        };
        self.regs.push((at.cpu, reg));
        self.counters.push(CounterSpec {
            domain,
            scale_j: unit,
            modulus: Some(COUNTER_RANGE),
            granularity_s: RAPL_GRANULARITY_S,
            origin: format!("cpu {} register {reg:#x}", at.cpu),
        });
    }
}

impl Meter for Msr {
    fn source(&self) -> &'static str {
        "msr"
    }

    fn domains(&self) -> &[DomainSpec] {
        &self.domains
    }

    fn counters(&self) -> &[CounterSpec] {
        &self.counters
    }

    fn read(&mut self, index: usize) -> anyhow::Result<u64> {
        let (cpu, reg) = *self
            .regs
            .get(index)
            .ok_or_else(|| anyhow!("msr has no counter {index}"))?;
        let value = read_reg(&self.root, cpu, reg)
            .map_err(|e| anyhow!("{} {reg:#x}: {e}", msr_path(&self.root, cpu).display()))?;
        Ok(value & (COUNTER_RANGE - 1))
    }

    fn describe(&self) -> String {
        let mut s = format!(
            "{:?} registers, {} counters under {}",
            self.vendor,
            self.counters.len(),
            self.root.display()
        );
        if !self.notes.is_empty() {
            s.push_str("; left out: ");
            s.push_str(&self.notes.join("; "));
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::energy_unit_j;

    #[test]
    fn units() {
        // A typical Intel value: ESU 14 → 61 µJ.
        assert!((energy_unit_j(0x000A_0E03) - 6.103515625e-5).abs() < 1e-15);
    }
}
