//! Helpers of the energy tests: fake /proc and /sys trees, a thread that injects a known
//! energy into fake counters, and a reader of the sampler's CSV. (Temporary folders come from
//! the support module itself.)

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Replaces `path` in one step, as sysfs values change: a reader sees the old or the new
/// content, never half of it.
pub fn write_atomic(path: &Path, bytes: &[u8]) {
    let tmp = path.with_extension("tmp-write");
    fs::write(&tmp, bytes).expect("write temp");
    fs::rename(&tmp, path).expect("rename");
}

/// A fake /proc with cpuinfo (vendor, family, model), stat and meminfo for `cpus` CPUs.
pub fn fake_proc(dir: &Path, vendor: &str, family: u32, model: u32, cpus: u32) -> PathBuf {
    let root = dir.join("proc");
    fs::create_dir_all(&root).expect("mkdir proc");
    let mut cpuinfo = String::new();
    let mut stat = String::from("cpu  100 0 50 800 10 0 0 0 0 0\n");
    for n in 0..cpus {
        cpuinfo.push_str(&format!(
            "processor\t: {n}\nvendor_id\t: {vendor}\ncpu family\t: {family}\nmodel\t\t: {model}\ncpu MHz\t\t: 2400.000\n\n"
        ));
        stat.push_str(&format!("cpu{n} 50 0 25 400 5 0 0 0 0 0\n"));
    }
    fs::write(root.join("cpuinfo"), cpuinfo).expect("cpuinfo");
    fs::write(root.join("stat"), stat).expect("stat");
    fs::write(
        root.join("meminfo"),
        "MemTotal:       16384000 kB\nMemFree:         1000000 kB\nMemAvailable:    8192000 kB\n",
    )
    .expect("meminfo");
    root
}

/// A fake /sys/devices/system/cpu: `(cpu, package, core)` per CPU.
pub fn fake_sys_cpu(dir: &Path, places: &[(u32, u32, u32)]) -> PathBuf {
    let root = dir.join("sys-cpu");
    for (cpu, package, core) in places {
        let topo = root.join(format!("cpu{cpu}/topology"));
        fs::create_dir_all(&topo).expect("mkdir topology");
        fs::write(topo.join("physical_package_id"), format!("{package}\n")).expect("package");
        fs::write(topo.join("core_id"), format!("{core}\n")).expect("core");
    }
    root
}

/// One fake counter: constant power, raw unit, wrap modulus, starting raw value.
#[derive(Clone, Copy, Debug)]
pub struct FakeCounter {
    pub power_w: f64,
    pub unit_j: f64,
    pub modulus: u64,
    pub start: u64,
}

/// Resets counter `counter` once, `after` into the run, at the first moment its value lies in
/// `window_j` (so that no wrap could explain the drop): it holds still for `pause` (longer than
/// the unwrapper's power window, so the recent power is zero), then restarts from zero.
#[derive(Clone, Copy, Debug)]
pub struct ResetPlan {
    pub counter: usize,
    pub after: Duration,
    pub window_j: (f64, f64),
    pub pause: Duration,
}

pub struct Injected {
    /// Joules put into each counter.
    pub joules: Vec<f64>,
    pub reset_done: bool,
    pub updates: u64,
}

/// Time between two writes of the injector.
pub const STEP_S: f64 = 0.001;
/// Most time one write may account for (well within the 5 ms the unwrapper allows a counter to sit still).
pub const MAX_STEP_S: f64 = 0.01;

/// Advances the counters from a thread, about every millisecond, by power × time since the
/// previous write, at most [`MAX_STEP_S`] of it (so the power sags when the thread is late).
pub struct Injector {
    stop: Arc<AtomicBool>,
    handle: JoinHandle<Injected>,
}

impl Injector {
    /// `write` stores the raw values (one per counter) wherever the fake source reads them.
    pub fn start(
        counters: Vec<FakeCounter>,
        reset: Option<ResetPlan>,
        write: impl Fn(&[u64]) + Send + 'static,
    ) -> Injector {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let handle = std::thread::spawn(move || {
            let t0 = Instant::now();
            let mut prev_at = t0;
            let mut offsets: Vec<Option<u64>> = vec![None; counters.len()];
            let mut reset_done = false;
            let mut updates = 0u64;
            let mut injected = vec![0u64; counters.len()];
            let mut paused_at: Option<(Instant, u64, u64)> = None;
            loop {
                let last = flag.load(Ordering::SeqCst);
                let now = Instant::now();
                let step_s = now.duration_since(prev_at).as_secs_f64().min(MAX_STEP_S);
                prev_at = now;
                let mut values = Vec::with_capacity(counters.len());
                for (i, c) in counters.iter().enumerate() {
                    // Power × time since the last write, but never more than MAX_STEP_S of it:
                    // when this thread is late (busy machine) the counter slows down instead
                    // of jumping, as a hardware counter never jumps. What was injected stays
                    // exactly known.
                    injected[i] += (c.power_w * step_s / c.unit_j) as u64;
                    let value = match offsets[i] {
                        None => (c.start + injected[i]) % c.modulus,
                        Some(at) => (injected[i] - at) % c.modulus,
                    };
                    values.push(value);
                }
                if let Some(plan) = reset {
                    let i = plan.counter;
                    let c = counters[i];
                    let j = values[i] as f64 * c.unit_j;
                    let window = j >= plan.window_j.0 && j <= plan.window_j.1;
                    match paused_at {
                        None if !reset_done && !last && t0.elapsed() >= plan.after && window => {
                            paused_at = Some((now, values[i], injected[i]));
                        }
                        // Idle before the restart: nothing goes unseen, so the total must
                        // come out exact; the restart itself must be flagged.
                        Some((at, value, held)) if now.duration_since(at) < plan.pause => {
                            injected[i] = held;
                            values[i] = value;
                        }
                        Some((_, _, held)) => {
                            injected[i] = held;
                            offsets[i] = Some(held);
                            values[i] = 0;
                            paused_at = None;
                            reset_done = true;
                        }
                        None => {}
                    }
                }
                write(&values);
                updates += 1;
                if last {
                    break;
                }
                std::thread::sleep(Duration::from_secs_f64(STEP_S));
            }
            Injected {
                joules: counters
                    .iter()
                    .zip(&injected)
                    .map(|(c, n)| *n as f64 * c.unit_j)
                    .collect(),
                reset_done,
                updates,
            }
        });
        Injector { stop, handle }
    }

    /// Stops after one last update; what was injected.
    pub fn finish(self) -> Injected {
        self.stop.store(true, Ordering::SeqCst);
        self.handle.join().expect("injector thread")
    }
}

/// Header and rows of a sample CSV; every cell parsed as f64.
pub fn read_csv(path: &Path) -> (Vec<String>, Vec<Vec<f64>>) {
    let text = fs::read_to_string(path).expect("read csv");
    let mut lines = text.lines();
    let header: Vec<String> = lines
        .next()
        .expect("header")
        .split(',')
        .map(str::to_string)
        .collect();
    let rows = lines
        .map(|l| {
            l.split(',')
                .map(|c| {
                    c.parse::<f64>()
                        .unwrap_or_else(|_| panic!("cell {c:?} in {l:?}"))
                })
                .collect::<Vec<f64>>()
        })
        .collect::<Vec<_>>();
    for r in &rows {
        assert_eq!(r.len(), header.len(), "row length differs from the header");
    }
    (header, rows)
}

/// Checks the EnergiBridge layout: `Delta,Time,` then names sorted; Time never goes back;
/// each energy column never decreases and is never negative. Returns the Deltas.
pub fn check_layout(header: &[String], rows: &[Vec<f64>]) -> Vec<f64> {
    assert_eq!(&header[..2], ["Delta", "Time"], "{header:?}");
    let mut sorted = header[2..].to_vec();
    sorted.sort();
    assert_eq!(&header[2..], &sorted[..], "columns are not sorted by name");
    assert!(header.iter().any(|h| h == "USED_MEMORY"));
    assert!(header.iter().any(|h| h == "TOTAL_MEMORY"));
    assert!(header.iter().any(|h| h.starts_with("CPU_USAGE_")));
    assert!(header.iter().any(|h| h.starts_with("CPU_FREQUENCY_")));
    assert!(rows.len() >= 2, "only {} rows", rows.len());
    assert_eq!(rows[0][0], 0.0, "first Delta must be 0");
    for w in rows.windows(2) {
        assert!(
            w[1][1] >= w[0][1],
            "Time went back: {} then {}",
            w[0][1],
            w[1][1]
        );
    }
    for (i, name) in header
        .iter()
        .enumerate()
        .filter(|(_, h)| h.ends_with("(J)"))
    {
        for w in rows.windows(2) {
            assert!(w[0][i] >= 0.0, "{name} negative");
            assert!(
                w[1][i] >= w[0][i],
                "{name} decreased: {} then {}",
                w[0][i],
                w[1][i]
            );
        }
    }
    rows.iter().skip(1).map(|r| r[0]).collect()
}

pub fn median(values: &[f64]) -> f64 {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Relative error of `got` against `want`.
pub fn rel_err(got: f64, want: f64) -> f64 {
    (got - want).abs() / want.abs()
}

/// Replaces a fake msr file in one step: a sparse file holding each `(register, value)` as 8
/// little-endian bytes at offset `register`, `len` bytes long (registers past it are absent).
pub fn write_msr_file(path: &Path, regs: &[(u64, u64)], len: u64) {
    use std::os::unix::fs::FileExt;
    let tmp = path.with_extension("tmp-write");
    let file = fs::File::create(&tmp).expect("create msr temp");
    file.set_len(len).expect("size msr temp");
    for (reg, value) in regs {
        file.write_all_at(&value.to_le_bytes(), *reg)
            .expect("write register");
    }
    drop(file);
    fs::rename(&tmp, path).expect("rename msr");
}
