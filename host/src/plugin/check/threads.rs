//! How many of this process's threads computed during a stretch of time: on-CPU time per
//! thread from `/proc/self/task/<tid>/schedstat` (nanoseconds; `stat`'s clock ticks are too
//! coarse for a check's short sessions), read before and after.

use std::collections::HashMap;

/// On-CPU nanoseconds of each thread of this process, by thread id.
pub fn snapshot() -> HashMap<u32, u64> {
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return HashMap::new();
    };
    tasks
        .flatten()
        .filter_map(|t| {
            let tid = t.file_name().to_str()?.parse().ok()?;
            let text = std::fs::read_to_string(t.path().join("schedstat")).ok()?;
            Some((tid, text.split_whitespace().next()?.parse().ok()?))
        })
        .collect()
}

/// What the threads did between two snapshots `wall_ms` apart.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Busy {
    /// Threads that computed at least a fifth as much as the busiest one (work that hops
    /// from thread to thread counts each, so this can exceed the threads used at once).
    pub threads: usize,
    /// The busiest thread's on-CPU time, in milliseconds.
    pub busiest_ms: u64,
    /// All threads' on-CPU time, in milliseconds.
    pub cpu_ms: u64,
    pub wall_ms: u64,
}

impl Busy {
    /// Threads computing at once, on average: CPU time over wall time.
    pub fn parallelism(&self) -> f64 {
        self.cpu_ms as f64 / self.wall_ms.max(1) as f64
    }
}

/// Counts the threads (including ones started meanwhile) whose on-CPU time grew by at least
/// a fifth of the busiest thread's growth (helpers that wake now and then do not count), and
/// sums the growth.
pub fn busy(before: &HashMap<u32, u64>, after: &HashMap<u32, u64>, wall_ms: u64) -> Busy {
    let deltas: Vec<u64> = after
        .iter()
        .map(|(tid, ns)| ns.saturating_sub(before.get(tid).copied().unwrap_or(0)))
        .collect();
    let most = deltas.iter().copied().max().unwrap_or(0);
    Busy {
        threads: deltas.iter().filter(|&&d| d > 0 && d * 5 >= most).count(),
        busiest_ms: most / 1_000_000,
        cpu_ms: deltas.iter().sum::<u64>() / 1_000_000,
        wall_ms,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Spins until this thread has been on a CPU for `ms` (not wall time: the machine may
    /// be busy); returns its thread id.
    fn compute_for(ms: u64) -> u32 {
        let on_cpu_ms = || {
            let mut t = libc::timespec {
                tv_sec: 0,
                tv_nsec: 0,
            };
            // SAFETY: a valid out-pointer for the calling thread's CPU clock.
            unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut t) };
            t.tv_sec as u64 * 1000 + t.tv_nsec as u64 / 1_000_000
        };
        let start = on_cpu_ms();
        let mut x = 0u64;
        while on_cpu_ms() - start < ms {
            x = std::hint::black_box(x.wrapping_mul(31).wrapping_add(1));
        }
        // SAFETY: gettid has no preconditions.
        unsafe { libc::gettid() as u32 }
    }

    /// A thread that runs `work`, sends its thread id, and stays alive (idle) until told to
    /// end: a finished thread leaves /proc/self/task.
    fn thread_doing(
        work: fn() -> u32,
    ) -> (
        u32,
        std::sync::mpsc::Sender<()>,
        std::thread::JoinHandle<()>,
    ) {
        let (tid_tx, tid_rx) = std::sync::mpsc::channel();
        let (end_tx, end_rx) = std::sync::mpsc::channel::<()>();
        let handle = std::thread::spawn(move || {
            tid_tx.send(work()).unwrap();
            let _ = end_rx.recv();
        });
        (tid_rx.recv().unwrap(), end_tx, handle)
    }

    #[test]
    fn the_time_threads_spent_computing_is_seen_and_idling_is_not() {
        let before = snapshot();
        assert!(!before.is_empty(), "no /proc/self/task");
        // SAFETY: gettid has no preconditions.
        let (idle, idle_end, idle_thread) = thread_doing(|| unsafe { libc::gettid() as u32 });
        let (worker, worker_end, worker_thread) = thread_doing(|| compute_for(100));
        let me = compute_for(100);
        let after = snapshot();
        for (end, thread) in [(idle_end, idle_thread), (worker_end, worker_thread)] {
            end.send(()).unwrap();
            thread.join().unwrap();
        }
        let grew = |tid: u32| after[&tid] - before.get(&tid).copied().unwrap_or(0);
        // schedstat may lag a running thread's clock by a scheduler tick or so.
        assert!(grew(me) >= 80_000_000, "{}", grew(me));
        assert!(grew(worker) >= 80_000_000, "{}", grew(worker));
        assert!(grew(idle) < 20_000_000, "{}", grew(idle));
    }

    #[test]
    fn growth_below_a_fifth_of_the_busiest_is_not_busy() {
        let before = HashMap::from([(1, 0), (2, 0), (3, 100)]);
        let after = HashMap::from([
            (1, 1_000_000_000),
            (2, 199_999_999),
            (3, 100),
            (4, 300_000_000),
        ]);
        let b = busy(&before, &after, 1000);
        assert_eq!(
            b,
            Busy {
                threads: 2,
                busiest_ms: 1000,
                cpu_ms: 1499,
                wall_ms: 1000
            }
        );
        assert_eq!(b.parallelism(), 1.499);
    }
}
