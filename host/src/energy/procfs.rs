//! Small readers of /proc and /sys that the estimate and the sampler's extra columns need.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// CPU time of one CPU line of /proc/stat, in clock ticks.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub(crate) struct CpuTicks {
    pub busy: u64,
    pub total: u64,
}

impl CpuTicks {
    /// Busy share of the ticks between `earlier` and `self`, in [0, 1].
    pub fn usage_since(&self, earlier: &CpuTicks) -> f64 {
        let total = self.total.saturating_sub(earlier.total);
        if total == 0 {
            return 0.0;
        }
        (self.busy.saturating_sub(earlier.busy) as f64 / total as f64).clamp(0.0, 1.0)
    }
}

/// `/proc/stat`: the aggregate `cpu` line and one per CPU (`cpuN`, in file order).
#[derive(Debug, Clone, Default)]
pub(crate) struct ProcStat {
    pub all: CpuTicks,
    pub per_cpu: Vec<(u32, CpuTicks)>,
}

/// /proc/stat costs ~70 µs to read on a VM; the estimate and the sampler's usage columns both
/// want it at the same instant, so one read serves both when they are this close.
const STAT_REUSE: Duration = Duration::from_millis(2);

type StatCache = Option<(PathBuf, Instant, ProcStat)>;
static STAT_CACHE: Mutex<StatCache> = Mutex::new(None);

pub(crate) fn read_stat(proc_root: &Path) -> io::Result<ProcStat> {
    let mut cache = STAT_CACHE.lock().unwrap_or_else(|p| p.into_inner());
    if let Some((root, at, stat)) = cache.as_ref() {
        if root == proc_root && at.elapsed() < STAT_REUSE {
            return Ok(stat.clone());
        }
    }
    let stat = parse_stat(&fs::read_to_string(proc_root.join("stat"))?);
    *cache = Some((proc_root.to_path_buf(), Instant::now(), stat.clone()));
    Ok(stat)
}

/// Busy = user + nice + system + irq + softirq; total adds idle, iowait and steal. Guest time
/// is already inside user, so it is not added again.
pub(crate) fn parse_stat(text: &str) -> ProcStat {
    let mut stat = ProcStat::default();
    for line in text.lines() {
        let mut fields = line.split_ascii_whitespace();
        let Some(label) = fields.next() else { continue };
        let Some(rest) = label.strip_prefix("cpu") else {
            continue;
        };
        let v: Vec<u64> = fields.take(8).map(|f| f.parse().unwrap_or(0)).collect();
        let get = |i: usize| v.get(i).copied().unwrap_or(0);
        let busy = get(0) + get(1) + get(2) + get(5) + get(6);
        let ticks = CpuTicks {
            busy,
            total: busy + get(3) + get(4) + get(7),
        };
        if rest.is_empty() {
            stat.all = ticks;
        } else if let Ok(n) = rest.parse() {
            stat.per_cpu.push((n, ticks));
        }
    }
    stat
}

/// `(total, used)` bytes from /proc/meminfo; used = MemTotal − MemAvailable.
pub(crate) fn read_memory(proc_root: &Path) -> io::Result<(u64, u64)> {
    let text = fs::read_to_string(proc_root.join("meminfo"))?;
    let field = |name: &str| -> Option<u64> {
        text.lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|rest| rest.trim_start_matches(':').split_whitespace().next())
            .and_then(|kb| kb.parse::<u64>().ok())
            .map(|kb| kb * 1024)
    };
    let total = field("MemTotal").unwrap_or(0);
    let available = field("MemAvailable")
        .or_else(|| field("MemFree"))
        .unwrap_or(0);
    Ok((total, total.saturating_sub(available)))
}

/// Current frequency of each CPU in MHz: cpufreq's `scaling_cur_freq` where the kernel has
/// it, else the `cpu MHz` lines of /proc/cpuinfo (VMs), else 0.
pub(crate) fn cpu_freq_mhz(sys_cpu_root: &Path, proc_root: &Path, cpus: &[u32]) -> Vec<f64> {
    let from_sysfs: Vec<Option<f64>> = cpus
        .iter()
        .map(|n| {
            let p = sys_cpu_root.join(format!("cpu{n}/cpufreq/scaling_cur_freq"));
            fs::read_to_string(p)
                .ok()
                .and_then(|s| s.trim().parse::<f64>().ok())
                .map(|khz| khz / 1000.0)
        })
        .collect();
    if from_sysfs.iter().all(Option::is_some) {
        return from_sysfs.into_iter().map(|f| f.unwrap_or(0.0)).collect();
    }
    let mhz = cpuinfo_mhz(proc_root);
    cpus.iter()
        .zip(from_sysfs)
        .map(|(n, f)| f.or_else(|| mhz.get(*n as usize).copied()).unwrap_or(0.0))
        .collect()
}

fn cpuinfo_mhz(proc_root: &Path) -> Vec<f64> {
    let Ok(text) = fs::read_to_string(proc_root.join("cpuinfo")) else {
        return Vec::new();
    };
    text.lines()
        .filter(|l| l.starts_with("cpu MHz"))
        .map(|l| {
            l.split(':')
                .nth(1)
                .and_then(|v| v.trim().parse().ok())
                .unwrap_or(0.0)
        })
        .collect()
}

/// The first value of `key` in /proc/cpuinfo (`vendor_id`, `cpu family`, `model`).
pub(crate) fn cpuinfo_field(proc_root: &Path, key: &str) -> Option<String> {
    let text = fs::read_to_string(proc_root.join("cpuinfo")).ok()?;
    text.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        (k.trim() == key).then(|| v.trim().to_string())
    })
}

/// CPU time (user + sys) of this whole process in seconds, from getrusage.
pub fn process_cpu_time_s() -> f64 {
    // SAFETY: getrusage only writes into the struct we pass; a zeroed rusage is valid.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    let rc = unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) };
    if rc != 0 {
        return 0.0;
    }
    let tv = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 * 1e-6;
    tv(ru.ru_utime) + tv(ru.ru_stime)
}

/// Clock ticks per second for /proc/stat (almost always 100).
pub(crate) fn clock_ticks_per_s() -> f64 {
    // SAFETY: sysconf has no preconditions.
    let t = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if t > 0 {
        t as f64
    } else {
        100.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_lines() {
        let s = parse_stat(
            "cpu  10 0 5 80 5 0 0 0 0 0\ncpu0 4 0 2 40 2 0 0 0 0 0\ncpu1 6 0 3 40 3 0 0 0 0 0\nintr 1\n",
        );
        assert_eq!(
            s.all,
            CpuTicks {
                busy: 15,
                total: 100
            }
        );
        assert_eq!(s.per_cpu.len(), 2);
        assert_eq!(s.per_cpu[1].0, 1);
    }
}
