//! RAPL through the perf `power` PMU: `<root>/power/type` is the PMU's perf type, each
//! `events/energy-*` file holds the event's terms (`event=0x02`), with `.scale` (joules per
//! count) and `.unit` (`Joules`) beside it. `format/<term>` says which bits of `config` a term
//! fills (`config:0-7`). The events are system-wide, counted on one CPU per package as listed
//! in `<root>/power/cpumask`. The kernel keeps 64-bit totals, so these counters do not wrap.
//!
//! Opening needs `perf_event_paranoid` ≤ 0 or CAP_PERFMON (root has it).

use std::fs;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::{Path, PathBuf};

use anyhow::{anyhow, Context};

use super::meter::{
    counts_in_total, package_qualified, CounterSpec, DomainSpec, Meter, RAPL_GRANULARITY_S,
};
use super::topology::parse_cpu_list;

/// One `events/energy-*` entry, parsed.
#[derive(Debug, Clone, PartialEq)]
pub struct PerfEvent {
    /// `energy-pkg`, `energy-cores`, `energy-gpu`, `energy-ram`, `energy-psys`.
    pub event: String,
    /// The perf `config` value built from the event's terms.
    pub config: u64,
    /// Joules per count.
    pub scale: f64,
    pub unit: String,
}

/// The `power` PMU as sysfs describes it.
#[derive(Debug, Clone, PartialEq)]
pub struct PowerPmu {
    pub pmu_type: u32,
    pub cpus: Vec<u32>,
    pub events: Vec<PerfEvent>,
}

/// Kernel domain word for a perf event name.
pub fn domain_for_event(event: &str) -> Option<&'static str> {
    Some(match event {
        "energy-pkg" => "package",
        "energy-cores" => "core",
        "energy-gpu" => "uncore",
        "energy-ram" => "dram",
        "energy-psys" => "psys",
        _ => return None,
    })
}

/// Bits of `config` a format spec covers: `config:0-7` → (0, 7); `config:12` → (12, 12).
/// Only `config` is supported: RAPL events use nothing else.
pub fn parse_format(spec: &str) -> Option<(u32, u32)> {
    let bits = spec.trim().strip_prefix("config:")?;
    let (lo, hi) = match bits.split_once('-') {
        Some((a, b)) => (a.parse().ok()?, b.parse().ok()?),
        None => {
            let b = bits.parse().ok()?;
            (b, b)
        }
    };
    (lo <= hi && hi < 64).then_some((lo, hi))
}

/// Builds `config` from an event's terms (`event=0x02,umask=0x1`). `format_of` returns the
/// format spec of a term; without one, `event` fills config from bit 0, as RAPL's does.
pub fn parse_event_terms(
    terms: &str,
    format_of: impl Fn(&str) -> Option<String>,
) -> anyhow::Result<u64> {
    let mut config = 0u64;
    for term in terms.trim().split(',').filter(|t| !t.is_empty()) {
        let (name, value) = term.split_once('=').unwrap_or((term, "1"));
        let value = match value.strip_prefix("0x") {
            Some(hex) => u64::from_str_radix(hex, 16),
            None => value.parse(),
        }
        .map_err(|_| anyhow!("event term {term:?}: value is not a number"))?;
        let (lo, hi) = match format_of(name) {
            Some(spec) => parse_format(&spec)
                .ok_or_else(|| anyhow!("format of {name:?} is {spec:?}: not config:LO-HI"))?,
            None if name == "event" => (0, 63),
            None => return Err(anyhow!("event term {name:?} has no format file")),
        };
        let width = hi - lo + 1;
        let mask = if width == 64 {
            u64::MAX
        } else {
            (1u64 << width) - 1
        };
        if value & !mask != 0 {
            return Err(anyhow!("event term {term:?} does not fit config:{lo}-{hi}"));
        }
        config |= value << lo;
    }
    Ok(config)
}

/// Reads `<root>/power` without opening anything.
pub fn discover(root: &Path) -> anyhow::Result<PowerPmu> {
    let pmu = root.join("power");
    let type_file = pmu.join("type");
    let pmu_type = match fs::read_to_string(&type_file) {
        Ok(t) => t
            .trim()
            .parse()
            .map_err(|_| anyhow!("{}: {:?} is not a number", type_file.display(), t.trim()))?,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            return Err(anyhow!(
                "{}: not found — the kernel has no RAPL perf PMU here (virtual machines \
                 usually have none)",
                pmu.display()
            ))
        }
        Err(e) => return Err(anyhow!("{}: {e}", type_file.display())),
    };
    let cpus = fs::read_to_string(pmu.join("cpumask"))
        .ok()
        .and_then(|t| parse_cpu_list(&t))
        .filter(|c| !c.is_empty())
        .unwrap_or_else(|| vec![0]);
    let events_dir = pmu.join("events");
    let mut names: Vec<String> = fs::read_dir(&events_dir)
        .with_context(|| events_dir.display().to_string())?
        .flatten()
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|n| n.starts_with("energy-") && !n.contains('.'))
        .collect();
    names.sort();
    let mut events = Vec::new();
    for name in names {
        let read = |suffix: &str| fs::read_to_string(events_dir.join(format!("{name}{suffix}")));
        let terms = read("").with_context(|| format!("{}/{name}", events_dir.display()))?;
        let config = parse_event_terms(&terms, |term| {
            fs::read_to_string(pmu.join("format").join(term)).ok()
        })
        .with_context(|| format!("{}/{name}", events_dir.display()))?;
        let scale_text = read(".scale").unwrap_or_else(|_| "1".into());
        let scale: f64 = scale_text.trim().parse().map_err(|_| {
            anyhow!(
                "{}/{name}.scale: {:?} is not a number",
                events_dir.display(),
                scale_text.trim()
            )
        })?;
        let unit = read(".unit")
            .map(|u| u.trim().to_string())
            .unwrap_or_default();
        if !(scale.is_finite() && scale > 0.0) || !(unit.is_empty() || unit == "Joules") {
            return Err(anyhow!(
                "{}/{name}: scale {scale} {unit:?} is not a positive number of Joules",
                events_dir.display()
            ));
        }
        events.push(PerfEvent {
            event: name,
            config,
            scale,
            unit,
        });
    }
    if events.is_empty() {
        return Err(anyhow!("{}: no energy-* events", events_dir.display()));
    }
    Ok(PowerPmu {
        pmu_type,
        cpus,
        events,
    })
}

/// The first 64 bytes of `struct perf_event_attr` (PERF_ATTR_SIZE_VER0); the kernel accepts
/// this size from old callers, and nothing past it is needed for a plain counter.
#[repr(C)]
#[derive(Default)]
struct PerfEventAttr {
    type_: u32,
    size: u32,
    config: u64,
    sample_period: u64,
    sample_type: u64,
    read_format: u64,
    flags: u64,
    wakeup_events: u32,
    bp_type: u32,
    config1: u64,
}

/// From linux/perf_event.h (libc does not carry it).
const PERF_FLAG_FD_CLOEXEC: libc::c_ulong = 1 << 3;

fn perf_event_open(pmu_type: u32, config: u64, cpu: u32) -> io::Result<OwnedFd> {
    let attr = PerfEventAttr {
        type_: pmu_type,
        size: std::mem::size_of::<PerfEventAttr>() as u32,
        config,
        ..Default::default()
    };
    // SAFETY: attr is a valid VER0 attribute block that outlives the call; pid -1 with a CPU
    // asks for a system-wide counter on that CPU; no group; close-on-exec.
    let fd = unsafe {
        libc::syscall(
            libc::SYS_perf_event_open,
            &attr as *const PerfEventAttr,
            -1 as libc::pid_t,
            cpu as libc::c_int,
            -1 as libc::c_int,
            PERF_FLAG_FD_CLOEXEC,
        )
    };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: the kernel just returned this descriptor to us; we are its only owner.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as libc::c_int) })
}

fn explain_open(err: &io::Error, proc_root: &Path) -> String {
    match err.raw_os_error() {
        Some(libc::EACCES) | Some(libc::EPERM) => {
            let paranoid = fs::read_to_string(proc_root.join("sys/kernel/perf_event_paranoid"))
                .map(|s| s.trim().to_string())
                .unwrap_or_else(|_| "?".into());
            format!(
                "permission denied (perf_event_paranoid is {paranoid}) — set \
                 kernel.perf_event_paranoid to 0 or less, run as root, or give the binary \
                 cap_perfmon"
            )
        }
        _ => format!("{err}"),
    }
}

pub(crate) struct Perf {
    root: PathBuf,
    fds: Vec<OwnedFd>,
    domains: Vec<DomainSpec>,
    counters: Vec<CounterSpec>,
}

impl Perf {
    pub fn open(root: &Path, proc_root: &Path) -> anyhow::Result<Perf> {
        let pmu = discover(root)?;
        let mut perf = Perf {
            root: root.to_path_buf(),
            fds: Vec::new(),
            domains: Vec::new(),
            counters: Vec::new(),
        };
        // cpumask lists one CPU per package, in package order.
        for (package, &cpu) in pmu.cpus.iter().enumerate() {
            for ev in &pmu.events {
                let Some(kind) = domain_for_event(&ev.event) else {
                    continue;
                };
                let fd = perf_event_open(pmu.pmu_type, ev.config, cpu).map_err(|e| {
                    anyhow!(
                        "perf_event_open({}/power {} on cpu {cpu}): {}",
                        root.display(),
                        ev.event,
                        explain_open(&e, proc_root)
                    )
                })?;
                let name = if kind == "package" {
                    format!("package-{package}")
                } else {
                    package_qualified(kind, package as u32, pmu.cpus.len())
                };
                perf.domains.push(DomainSpec {
                    in_total: counts_in_total(&name),
                    name,
                });
                perf.counters.push(CounterSpec {
                    domain: perf.domains.len() - 1,
                    scale_j: ev.scale,
                    modulus: None,
                    granularity_s: RAPL_GRANULARITY_S,
                    origin: format!("perf power/{}/ cpu {cpu}", ev.event),
                });
                perf.fds.push(fd);
            }
        }
        if perf.counters.is_empty() {
            return Err(anyhow!("{}/power: no known energy-* event", root.display()));
        }
        Ok(perf)
    }
}

impl Meter for Perf {
    fn source(&self) -> &'static str {
        "perf"
    }

    fn domains(&self) -> &[DomainSpec] {
        &self.domains
    }

    fn counters(&self) -> &[CounterSpec] {
        &self.counters
    }

    fn read(&mut self, index: usize) -> anyhow::Result<u64> {
        let fd = self
            .fds
            .get(index)
            .ok_or_else(|| anyhow!("perf has no counter {index}"))?;
        let mut value = 0u64;
        // SAFETY: reading 8 bytes into a u64 we own from a perf counter descriptor we own.
        let n = unsafe {
            libc::read(
                fd.as_raw_fd(),
                &mut value as *mut u64 as *mut libc::c_void,
                std::mem::size_of::<u64>(),
            )
        };
        if n != std::mem::size_of::<u64>() as isize {
            return Err(anyhow!(
                "reading perf counter {}: {}",
                self.counters[index].origin,
                io::Error::last_os_error()
            ));
        }
        Ok(value)
    }

    fn describe(&self) -> String {
        format!(
            "{} counters from {}/power",
            self.counters.len(),
            self.root.display()
        )
    }
}
