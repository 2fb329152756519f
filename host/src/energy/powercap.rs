//! RAPL through the powercap sysfs class (`intel_rapl` driver; AMD kernels ≥ 5.8 expose their
//! RAPL the same way, under the same `intel-rapl` names).
//!
//! `<root>` (normally /sys/class/powercap) lists every zone flat: `intel-rapl:N` for a package
//! or `psys`, `intel-rapl:N:M` for its subzones (`core`, `uncore`, `dram`). Each zone has
//! `name`, `energy_uj` and `max_energy_range_uj`; `energy_uj` wraps to zero after
//! `max_energy_range_uj`, so the raw modulus is that value + 1. `intel-rapl-mmio:*` zones are
//! the same package seen through MMIO and are skipped so nothing is counted twice. `enabled`
//! governs power *limiting*, not counting, so disabled zones are still read.
//!
//! Files are opened afresh for each read: it costs a few microseconds and keeps working when a
//! zone file is replaced (fake trees in tests, driver reloads).

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use anyhow::{anyhow, Context};

use super::meter::{
    counts_in_total, package_qualified, CounterSpec, DomainSpec, Meter, RAPL_GRANULARITY_S,
};

pub(crate) struct Powercap {
    root: PathBuf,
    files: Vec<PathBuf>,
    domains: Vec<DomainSpec>,
    counters: Vec<CounterSpec>,
}

struct Zone {
    id: String,
    top: u32,
    sub: Option<u32>,
    name: String,
}

/// `intel-rapl:1:0` → `(1, Some(0))`; anything else (`intel-rapl-mmio:0`, `dtpm`) → `None`.
fn parse_zone_id(id: &str) -> Option<(u32, Option<u32>)> {
    let rest = id.strip_prefix("intel-rapl:")?;
    let mut parts = rest.split(':');
    let top = parts.next()?.parse().ok()?;
    let sub = match parts.next() {
        Some(s) => Some(s.parse().ok()?),
        None => None,
    };
    parts.next().is_none().then_some((top, sub))
}

fn read_trimmed(path: &Path) -> io::Result<String> {
    Ok(fs::read_to_string(path)?.trim().to_string())
}

fn read_u64(path: &Path) -> anyhow::Result<u64> {
    let text = read_trimmed(path).with_context(|| path.display().to_string())?;
    text.parse()
        .map_err(|_| anyhow!("{}: {text:?} is not a whole number", path.display()))
}

/// Explains an unreadable `energy_uj`, which is the usual failure on real machines.
fn why_unreadable(path: &Path, err: &io::Error) -> anyhow::Error {
    if err.kind() == io::ErrorKind::PermissionDenied {
        anyhow!(
            "{}: permission denied — energy_uj is root-only since Linux 5.10; run as root or \
             `sudo chmod a+r {}/intel-rapl:*/energy_uj`",
            path.display(),
            path.parent()
                .and_then(Path::parent)
                .unwrap_or(Path::new("/sys/class/powercap"))
                .display()
        )
    } else {
        anyhow!("{}: {err}", path.display())
    }
}

impl Powercap {
    pub fn open(root: &Path) -> anyhow::Result<Powercap> {
        let entries = fs::read_dir(root).map_err(|e| {
            if e.kind() == io::ErrorKind::NotFound {
                anyhow!(
                    "{}: not found — this kernel exposes no powercap class (VM, non-x86, or \
                     CONFIG_POWERCAP off)",
                    root.display()
                )
            } else {
                anyhow!("{}: {e}", root.display())
            }
        })?;
        let mut zones = Vec::new();
        for entry in entries.flatten() {
            let id = entry.file_name().to_string_lossy().into_owned();
            let Some((top, sub)) = parse_zone_id(&id) else {
                continue;
            };
            let name = read_trimmed(&entry.path().join("name"))
                .with_context(|| format!("{}/name", entry.path().display()))?;
            zones.push(Zone { id, top, sub, name });
        }
        if zones.is_empty() {
            return Err(anyhow!(
                "no intel-rapl zones under {} — load intel_rapl_msr (Intel) or the rapl driver \
                 (AMD); virtual machines usually expose none",
                root.display()
            ));
        }
        zones.sort_by_key(|z| (z.top, z.sub));
        let packages = zones
            .iter()
            .filter(|z| z.sub.is_none() && z.name.starts_with("package"))
            .count();
        // The package number of each top zone, for naming its subzones (`dram-1`).
        let package_of = |top: u32| -> u32 {
            zones
                .iter()
                .find(|z| z.top == top && z.sub.is_none())
                .and_then(|z| z.name.strip_prefix("package-"))
                .and_then(|n| n.parse().ok())
                .unwrap_or(top)
        };
        let mut pc = Powercap {
            root: root.to_path_buf(),
            files: Vec::new(),
            domains: Vec::new(),
            counters: Vec::new(),
        };
        for z in &zones {
            let dir = root.join(&z.id);
            let energy = dir.join("energy_uj");
            if let Err(e) = fs::read_to_string(&energy) {
                return Err(why_unreadable(&energy, &e));
            }
            read_u64(&energy)?;
            // Without a range the counter is treated as never wrapping: a drop is then a reset.
            let modulus = read_u64(&dir.join("max_energy_range_uj"))
                .ok()
                .filter(|m| *m > 0)
                .and_then(|m| m.checked_add(1));
            let name = match z.sub {
                Some(_) => package_qualified(&z.name, package_of(z.top), packages),
                None => z.name.clone(),
            };
            pc.domains.push(DomainSpec {
                in_total: counts_in_total(&name),
                name,
            });
            pc.counters.push(CounterSpec {
                domain: pc.domains.len() - 1,
                scale_j: 1e-6,
                modulus,
                granularity_s: RAPL_GRANULARITY_S,
                origin: format!("{}/energy_uj", z.id),
            });
            pc.files.push(energy);
        }
        Ok(pc)
    }
}

impl Meter for Powercap {
    fn source(&self) -> &'static str {
        "powercap"
    }

    fn domains(&self) -> &[DomainSpec] {
        &self.domains
    }

    fn counters(&self) -> &[CounterSpec] {
        &self.counters
    }

    fn read(&mut self, index: usize) -> anyhow::Result<u64> {
        let path = self
            .files
            .get(index)
            .ok_or_else(|| anyhow!("powercap has no counter {index}"))?;
        read_u64(path)
    }

    fn describe(&self) -> String {
        format!(
            "{} zones under {}",
            self.counters.len(),
            self.root.display()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::parse_zone_id;

    #[test]
    fn zone_ids() {
        assert_eq!(parse_zone_id("intel-rapl:0"), Some((0, None)));
        assert_eq!(parse_zone_id("intel-rapl:1:2"), Some((1, Some(2))));
        assert_eq!(parse_zone_id("intel-rapl-mmio:0"), None);
        assert_eq!(parse_zone_id("intel-rapl:x"), None);
        assert_eq!(parse_zone_id("intel-rapl:0:1:2"), None);
    }
}
