//! What the energy sampler costs, measured side by side in one run (not a timed test):
//!
//! 1. the sampler's own CPU time per second at 200 ms and 10 ms, with this process otherwise
//!    asleep (so the process's CPU time is the sampler's);
//! 2. the slowdown of a single-threaded CPU-bound workload with sampling on vs off, the three
//!    settings interleaved round by round (order rotated) so that drifts in machine load hit
//!    all of them alike, with a control that only wakes a thread every 200 ms; medians of wall
//!    time and of the workload thread's CPU time, and their ratios to "off". On a shared
//!    machine the wall-time ratios carry the machine's noise: part 1 and the CPU-time ratios
//!    are the steadier figures.
//!
//! `cargo bench -p host --bench sampler_overhead`; `SAMPLER_BENCH_ROUNDS` (default 15) and
//! `SAMPLER_BENCH_IDLE_S` (default 3) scale it. Sources are chosen as `auto` would choose them,
//! and each sampler writes its CSV to a temp folder, as a real run does.

use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::time::{Duration, Instant};

use joulebench::energy::{process_cpu_time_s, EnergyConfig, EnergyMonitor};

fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn scratch() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("joulebench-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

fn config(interval_ms: u64) -> EnergyConfig {
    EnergyConfig {
        sample_interval: Duration::from_millis(interval_ms),
        ..Default::default()
    }
}

/// A fixed amount of integer work (a PCG-style mix), about 0.8 s on one core here.
fn workload() -> u64 {
    let mut x = 0x853c_49e6_748f_ea9bu64;
    let mut acc = 0u64;
    for i in 0..200_000_000u64 {
        x = x
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407 ^ i);
        acc ^= x.rotate_right((x >> 59) as u32);
    }
    acc
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// CPU seconds the sampler uses per wall second, and per sample.
fn sampler_cost(interval_ms: u64, idle: Duration, dir: &Path) -> (f64, f64, String) {
    let csv = dir.join(format!("cost-{interval_ms}.csv"));
    let monitor = EnergyMonitor::start(&config(interval_ms), Some(&csv)).expect("start");
    let label = monitor.label();
    let (t0, c0) = (Instant::now(), process_cpu_time_s());
    std::thread::sleep(idle);
    let (wall, cpu) = (t0.elapsed().as_secs_f64(), process_cpu_time_s() - c0);
    monitor.stop().expect("stop");
    let rows = std::fs::read_to_string(&csv)
        .map(|t| t.lines().count().saturating_sub(1))
        .unwrap_or(0)
        .max(1);
    (cpu / wall, cpu / rows as f64, label)
}

#[derive(Clone, Copy)]
enum Setting {
    Off,
    /// A thread that wakes every 200 ms and does nothing: the cost of merely having a second
    /// thread wake up on a busy machine, apart from the sampler's work.
    Wakeups,
    Sampling(u64),
}

impl Setting {
    fn name(self) -> String {
        match self {
            Setting::Off => "off".into(),
            Setting::Wakeups => "wake-only 200 ms".into(),
            Setting::Sampling(ms) => format!("sampling {ms} ms"),
        }
    }
}

/// CPU time of the calling thread, seconds.
fn thread_cpu_s() -> f64 {
    // SAFETY: clock_gettime only writes the timespec we pass; a zeroed one is valid.
    let mut ts: libc::timespec = unsafe { std::mem::zeroed() };
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    ts.tv_sec as f64 + ts.tv_nsec as f64 * 1e-9
}

/// Wall and thread-CPU seconds of one workload run under `setting`.
fn timed_workload(setting: Setting, dir: &Path) -> (f64, f64) {
    let monitor = match setting {
        Setting::Sampling(ms) => Some(
            EnergyMonitor::start(&config(ms), Some(&dir.join(format!("run-{ms}.csv"))))
                .expect("start"),
        ),
        _ => None,
    };
    let (stop, rx) = mpsc::channel::<()>();
    let waker = matches!(setting, Setting::Wakeups).then(|| {
        std::thread::spawn(move || {
            while let Err(RecvTimeoutError::Timeout) = rx.recv_timeout(Duration::from_millis(200)) {
            }
        })
    });
    let (t0, c0) = (Instant::now(), thread_cpu_s());
    std::hint::black_box(workload());
    let secs = (t0.elapsed().as_secs_f64(), thread_cpu_s() - c0);
    drop(stop);
    if let Some(w) = waker {
        w.join().expect("waker");
    }
    if let Some(m) = monitor {
        m.stop().expect("stop");
    }
    secs
}

fn main() {
    // `cargo bench` passes `--bench`; there is nothing else to parse.
    let rounds = env_or("SAMPLER_BENCH_ROUNDS", 15) as usize;
    let idle = Duration::from_secs(env_or("SAMPLER_BENCH_IDLE_S", 3));
    let dir = scratch();
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());

    println!("sampler overhead ({cores} CPUs visible)");
    println!("1. sampler CPU cost, process otherwise idle for {idle:?}");
    let mut label = String::new();
    for ms in [200, 10] {
        let (per_s, per_sample, l) = sampler_cost(ms, idle, &dir);
        label = l;
        println!(
            "   {ms:>3} ms: {:>8.3} ms CPU per s ({:.3} % of one core), {:>7.1} µs per sample",
            per_s * 1e3,
            per_s * 100.0,
            per_sample * 1e6
        );
    }
    println!("   meter: {label}");

    println!("2. CPU-bound workload, {rounds} interleaved rounds: medians, ratio to off");
    let settings = [
        Setting::Off,
        Setting::Wakeups,
        Setting::Sampling(200),
        Setting::Sampling(10),
    ];
    let mut wall: Vec<Vec<f64>> = vec![Vec::new(); settings.len()];
    let mut cpu: Vec<Vec<f64>> = vec![Vec::new(); settings.len()];
    std::hint::black_box(workload()); // warm-up
    for r in 0..rounds {
        for k in 0..settings.len() {
            let i = (r + k) % settings.len();
            let (w, c) = timed_workload(settings[i], &dir);
            wall[i].push(w);
            cpu[i].push(c);
        }
    }
    // Wall time is the slowdown a run sees; the workload thread's own CPU time leaves out
    // waiting for other processes, so on a shared machine it isolates what the sampler does to
    // the workload (caches, migrations) from the machine's noise.
    let wall: Vec<f64> = wall.iter_mut().map(|t| median(t)).collect();
    let cpu: Vec<f64> = cpu.iter_mut().map(|t| median(t)).collect();
    for (i, s) in settings.iter().enumerate() {
        let (rw, rc) = (wall[i] / wall[0], cpu[i] / cpu[0]);
        println!(
            "   {:>16}: wall {:>7.1} ms (ratio {rw:.4}, {:+.2} %)   \
             thread CPU {:>7.1} ms (ratio {rc:.4}, {:+.2} %)",
            s.name(),
            wall[i] * 1e3,
            (rw - 1.0) * 100.0,
            cpu[i] * 1e3,
            (rc - 1.0) * 100.0
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}
