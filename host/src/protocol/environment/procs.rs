//! Other busy processes: CPU time from `/proc/[pid]/stat`, sampled twice.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::time::{Duration, Instant};

/// One reading of every process's accumulated CPU time.
#[derive(Debug, Clone)]
pub struct ProcSample {
    pub taken: Instant,
    procs: BTreeMap<u32, ProcStat>,
}

#[derive(Debug, Clone)]
struct ProcStat {
    comm: String,
    ppid: u32,
    /// utime + stime, in clock ticks.
    ticks: u64,
    /// Clock ticks after boot at which the process started: tells a reused pid apart.
    start: u64,
}

impl ProcSample {
    /// Reads every `[pid]/stat` under `proc_root`. Processes that exit mid-read, or whose stat
    /// cannot be parsed, are skipped: the sample is a best effort by nature.
    pub fn read(proc_root: &Path) -> Self {
        let taken = Instant::now();
        let mut procs = BTreeMap::new();
        if let Ok(entries) = std::fs::read_dir(proc_root) {
            for entry in entries.flatten() {
                let Some(pid) = entry
                    .file_name()
                    .to_str()
                    .and_then(|n| n.parse::<u32>().ok())
                else {
                    continue;
                };
                let Ok(text) = std::fs::read_to_string(entry.path().join("stat")) else {
                    continue;
                };
                if let Some(stat) = parse_stat(&text) {
                    procs.insert(pid, stat);
                }
            }
        }
        Self { taken, procs }
    }

    pub fn len(&self) -> usize {
        self.procs.len()
    }

    pub fn is_empty(&self) -> bool {
        self.procs.is_empty()
    }

    /// `root` and all its descendants (by parent pid).
    fn tree_of(&self, root: u32) -> BTreeSet<u32> {
        let mut tree = BTreeSet::from([root]);
        // Parents can have higher pids than children after pid wrap, so iterate to a fixpoint.
        loop {
            let before = tree.len();
            for (pid, stat) in &self.procs {
                if tree.contains(&stat.ppid) {
                    tree.insert(*pid);
                }
            }
            if tree.len() == before {
                return tree;
            }
        }
    }
}

/// `pid (comm) state ppid …`: comm may itself hold spaces and parentheses, so the fields
/// start after the *last* `)`.
fn parse_stat(text: &str) -> Option<ProcStat> {
    let open = text.find('(')?;
    let close = text.rfind(')')?;
    let comm = text.get(open + 1..close)?.to_string();
    let fields: Vec<&str> = text.get(close + 1..)?.split_whitespace().collect();
    // proc(5) numbers from pid = 1: state is 3, ppid 4, utime 14, stime 15, starttime 22.
    let field = |n: usize| fields.get(n - 3).and_then(|v| v.parse::<u64>().ok());
    Some(ProcStat {
        comm,
        ppid: u32::try_from(field(4)?).ok()?,
        ticks: field(14)?.checked_add(field(15)?)?,
        start: field(22)?,
    })
}

/// Clock ticks per second for `/proc/[pid]/stat` times (`getconf CLK_TCK`, 100 on Linux).
pub fn ticks_per_second() -> u64 {
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    u64::try_from(hz).ok().filter(|&h| h > 0).unwrap_or(100)
}

/// A process that used CPU between two samples.
#[derive(Debug, Clone, PartialEq)]
pub struct BusyProcess {
    pub pid: u32,
    pub name: String,
    /// Percent of one CPU (a process with 4 busy threads can show 400).
    pub cpu_percent: f64,
}

/// Processes above `min_percent` of a CPU between `first` and `second` taken `elapsed` apart,
/// busiest first, leaving out `exclude_tree_of` and its descendants (ourselves and our
/// workers). Processes absent from either sample, or whose pid was reused, are left out.
pub fn busy_processes(
    first: &ProcSample,
    second: &ProcSample,
    elapsed: Duration,
    exclude_tree_of: u32,
    min_percent: f64,
) -> Vec<BusyProcess> {
    let seconds = elapsed.as_secs_f64();
    if seconds <= 0.0 {
        return Vec::new();
    }
    let ours = second.tree_of(exclude_tree_of);
    // Tick counts stay far below 2^53: exact in f64.
    #[allow(clippy::cast_precision_loss)]
    let hz = ticks_per_second() as f64;
    let mut busy: Vec<BusyProcess> = second
        .procs
        .iter()
        .filter(|(pid, _)| !ours.contains(pid))
        .filter_map(|(pid, now)| {
            let before = first.procs.get(pid).filter(|b| b.start == now.start)?;
            #[allow(clippy::cast_precision_loss)]
            let ticks = now.ticks.saturating_sub(before.ticks) as f64;
            let cpu_percent = ticks / hz / seconds * 100.0;
            (cpu_percent > min_percent).then(|| BusyProcess {
                pid: *pid,
                name: now.comm.clone(),
                cpu_percent,
            })
        })
        .collect();
    busy.sort_by(|a, b| {
        b.cpu_percent
            .total_cmp(&a.cpu_percent)
            .then(a.pid.cmp(&b.pid))
    });
    busy
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_with_parentheses_and_spaces_in_comm() {
        let s = "42 (my (odd) name) S 7 42 42 0 -1 4194304 1 0 0 0 150 50 0 0 20 0 1 0 9999 0 0";
        let p = parse_stat(s).expect("parses");
        assert_eq!(p.comm, "my (odd) name");
        assert_eq!(p.ppid, 7);
        assert_eq!(p.ticks, 200);
        assert_eq!(p.start, 9999);
    }

    #[test]
    fn truncated_stat_is_skipped() {
        assert!(parse_stat("42 (x) S 7 42").is_none());
        assert!(parse_stat("garbage").is_none());
    }
}
