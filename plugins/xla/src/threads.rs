//! The session's thread count, applied to XLA's CPU client, and measured rather than assumed.
//!
//! XLA's CPU client has no create option for its thread pools. It sizes both of them (the
//! `XLAEigen` intra-op pool that runs convolutions, matrix products and parallel loops, and the
//! `XLATfrtCpuClient` pool that runs programs) from `DefaultThreadPoolSize()`, which reads the
//! environment variable `PJRT_NPROC` when the client is created (else it counts the CPUs the
//! process may use). So [`apply`] sets `PJRT_NPROC` just before the client is made, and
//! [`pool_threads`] then counts the `XLAEigen` threads that exist. [`Busy`] measures, per
//! epoch, how much CPU time the process used per second and how many of its threads did the
//! work. (The thread that calls PJRT's execute runs the program's elementwise kernels itself;
//! the pool threads run the parallel parts, convolutions above all.)

use std::collections::HashMap;
use std::time::Instant;

/// The variable XLA's `DefaultThreadPoolSize()` reads (xla/pjrt/utils.cc).
pub const POOL_SIZE_VARIABLE: &str = "PJRT_NPROC";

/// Sets the pool size for the next client this process creates.
///
/// Setting the environment is process-wide and not synchronised with other threads reading
/// it; the worker process calls this once, before any XLA thread exists, from the thread that
/// builds the trainer.
pub fn apply(threads: u32) {
    std::env::set_var(POOL_SIZE_VARIABLE, threads.to_string());
}

/// `read` of each of this process's threads' `/proc/self/task/<tid>/<file>`, by thread id;
/// threads that ended meanwhile, or whose file `read` cannot use, are left out.
fn per_thread<T>(file: &str, read: impl Fn(&str) -> Option<T>) -> HashMap<u32, T> {
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return HashMap::new();
    };
    tasks
        .flatten()
        .filter_map(|t| {
            let tid = t.file_name().to_str()?.parse().ok()?;
            let text = std::fs::read_to_string(t.path().join(file)).ok()?;
            Some((tid, read(&text)?))
        })
        .collect()
}

/// Names of this process's threads, by thread id.
fn thread_names() -> HashMap<u32, String> {
    per_thread("comm", |name| Some(name.trim().to_string()))
}

/// How many threads of XLA's intra-op pool exist (TSL names them `tf_XLAEigen`).
pub fn pool_threads() -> usize {
    thread_names()
        .values()
        .filter(|n| n.contains("XLAEigen"))
        .count()
}

/// CPU seconds used by each thread of this process so far.
fn thread_cpu_seconds() -> HashMap<u32, f64> {
    // SAFETY: sysconf has no preconditions.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as f64;
    per_thread("stat", |stat| {
        // Fields after the command name (which may hold spaces) start at ")"; utime and
        // stime are fields 14 and 15 of the line, 12th and 13th after it.
        let rest = &stat[stat.rfind(')')? + 1..];
        let mut fields = rest.split_whitespace().skip(11);
        let user: f64 = fields.next()?.parse().ok()?;
        let system: f64 = fields.next()?.parse().ok()?;
        Some((user + system) / ticks)
    })
}

/// A measurement of CPU use over a stretch of work.
pub struct Busy {
    start: Instant,
    threads: HashMap<u32, f64>,
}

/// What [`Busy::finish`] found.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct BusyReport {
    /// Process CPU seconds per wall-clock second: how many cores were kept busy on average.
    pub cpu_per_wall: f64,
    /// Threads that did at least a tenth of the process's CPU work: a count that does not
    /// depend on how much of the machine other processes took meanwhile.
    pub busy_threads: usize,
}

impl Busy {
    pub fn start() -> Busy {
        Busy {
            start: Instant::now(),
            threads: thread_cpu_seconds(),
        }
    }

    pub fn finish(self) -> BusyReport {
        let wall = self.start.elapsed().as_secs_f64().max(1e-9);
        let now = thread_cpu_seconds();
        let used: Vec<f64> = now
            .iter()
            .map(|(tid, cpu)| cpu - self.threads.get(tid).copied().unwrap_or(0.0))
            .collect();
        let total: f64 = used.iter().sum();
        BusyReport {
            cpu_per_wall: total / wall,
            busy_threads: used
                .iter()
                .filter(|&&u| u > 0.0 && u >= 0.1 * total)
                .count(),
        }
    }
}
