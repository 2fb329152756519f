//! Writers of EnergiBridge recordings in the column layouts of EnergiBridge's source
//! (tdurieux/EnergiBridge 0.0.7: src/cpu/{intel,amd,apple}.rs, src/gpu/{nvidia,apple}.rs,
//! src/memory.rs, src/main.rs), with the clock EnergiBridge keeps: `Time` is the Unix ms at which
//! an interval began, `Delta` its length up to the moment the row was printed (so the first two
//! rows share a `Time`, the first `Delta` is 0, every `Delta` runs 0–2 ms short of the next
//! `Time`, and the last row, printed after the loop, has a short `Delta`). Columns are sorted by
//! name as EnergiBridge's map is. Each writer also returns the energy it put in, per domain, so
//! tests compare `host analyze` with values derived by hand.
#![allow(dead_code)]

use std::collections::BTreeMap;

use joulebench::plan::SplitMix64;

/// The plan's SplitMix64 as uniform floats, so every run of the tests writes the same files.
pub struct Rng(SplitMix64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(SplitMix64::new(seed))
    }

    /// Uniform in [0, 1): the top 53 bits of the next number.
    pub fn next_f64(&mut self) -> f64 {
        (self.0.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// `mean` ± `spread` × mean, uniform.
    pub fn around(&mut self, mean: f64, spread: f64) -> f64 {
        mean * (1.0 + spread * (2.0 * self.next_f64() - 1.0))
    }
}

/// The clock of `rows` samples `interval_ms` apart: (Delta, Time) per row.
pub fn clock(rng: &mut Rng, rows: usize, interval_ms: u64) -> Vec<(u64, u64)> {
    let mut times = vec![1_740_567_484_631u64, 1_740_567_484_631];
    while times.len() < rows {
        let last = *times.last().expect("time");
        times.push(last + interval_ms + (rng.next_f64() * 2.0) as u64);
    }
    times.truncate(rows);
    (0..rows)
        .map(|k| {
            let delta = match k {
                _ if k + 1 == rows => 5,
                _ => (times[k + 1] - times[k]).saturating_sub((rng.next_f64() * 2.0) as u64),
            };
            (delta, times[k])
        })
        .collect()
}

/// A recording under construction: per row, the value of every column by name.
pub struct Recording {
    clock: Vec<(u64, u64)>,
    rows: Vec<BTreeMap<String, String>>,
}

impl Recording {
    pub fn new(clock: Vec<(u64, u64)>) -> Self {
        let rows = vec![BTreeMap::new(); clock.len()];
        Recording { clock, rows }
    }

    pub fn rows(&self) -> usize {
        self.clock.len()
    }

    /// Seconds from row k's Time to row k+1's (the interval whose energy row k+1's counter adds).
    pub fn seconds_to_next(&self, k: usize) -> f64 {
        (self.clock[k + 1].1 - self.clock[k].1) as f64 / 1000.0
    }

    /// Row k's Delta in seconds.
    pub fn delta_s(&self, k: usize) -> f64 {
        self.clock[k].0 as f64 / 1000.0
    }

    pub fn set(&mut self, row: usize, column: &str, value: impl ToString) {
        self.rows[row].insert(column.to_string(), value.to_string());
    }

    /// The columns every platform writes: per-CPU usage and frequency, memory and swap.
    pub fn add_system_columns(&mut self, rng: &mut Rng, cpus: usize) {
        for k in 0..self.rows() {
            for i in 0..cpus {
                self.set(k, &format!("CPU_USAGE_{i}"), rng.around(60.0, 0.6));
                self.set(k, &format!("CPU_FREQUENCY_{i}"), 3301);
            }
            self.set(k, "TOTAL_MEMORY", 16_487_870_464u64);
            self.set(
                k,
                "USED_MEMORY",
                7_486_099_456u64 + (rng.next_f64() * 1e6) as u64,
            );
            self.set(k, "TOTAL_SWAP", 15_032_385_536u64);
            self.set(k, "USED_SWAP", 0);
        }
    }

    /// The CSV text with separator `sep`.
    pub fn csv(&self, sep: &str) -> String {
        let names: Vec<&String> = self.rows[0].keys().collect();
        let mut out = format!("Delta{sep}Time");
        for n in &names {
            out.push_str(&format!("{sep}{n}"));
        }
        out.push('\n');
        for ((delta, time), row) in self.clock.iter().zip(&self.rows) {
            out.push_str(&format!("{delta}{sep}{time}"));
            for n in &names {
                out.push_str(&format!("{sep}{}", row[*n]));
            }
            out.push('\n');
        }
        out
    }
}

/// The energy a writer put in, per domain, and in the total as runs.csv would add it.
#[derive(Debug, Default, Clone)]
pub struct Truth {
    pub total_j: f64,
    pub domains: BTreeMap<String, f64>,
    pub seconds: f64,
}

/// Σ power × Delta over every row but the last: what a power column holds by EnergiBridge's rule.
fn integrated(rec: &Recording, watts: &[f64]) -> f64 {
    (0..rec.rows() - 1).map(|k| watts[k] * rec.delta_s(k)).sum()
}

/// A cumulative counter in `unit` joules, starting at `start` units, wrapping at `modulus` units,
/// advancing by `watts[k]` over each interval; returns its readings (J) and the energy counted.
fn counter(rec: &Recording, watts: &[f64], unit: f64, start: u64, modulus: u64) -> (Vec<f64>, f64) {
    let mut raw = start;
    let mut readings = vec![raw as f64 * unit];
    let mut energy = 0.0;
    for (k, w) in watts.iter().enumerate().take(rec.rows() - 1) {
        let step = (w * rec.seconds_to_next(k) / unit).round() as u64;
        energy += step as f64 * unit;
        raw = (raw + step) % modulus;
        readings.push(raw as f64 * unit);
    }
    (readings, energy)
}

fn span_s(rec: &Recording) -> f64 {
    (rec.clock[rec.rows() - 1].1 - rec.clock[0].1) as f64 / 1000.0
}

/// macOS: `SYSTEM_POWER (Watts)`, `GPU_POWER (Watts)` (`-g`), and on Intel Macs `CPU_POWER
/// (Watts)`; `CPU_TEMP_<n>`. EnergiBridge's summary (and the total) use CPU_POWER when present,
/// else SYSTEM_POWER.
pub fn macos(rng: &mut Rng, rows: usize, system_w: f64, intel_mac: bool) -> (Recording, Truth) {
    let mut rec = Recording::new(clock(rng, rows, 200));
    rec.add_system_columns(rng, 8);
    let system: Vec<f64> = (0..rows).map(|_| rng.around(system_w, 0.3)).collect();
    let gpu: Vec<f64> = system.iter().map(|s| s * rng.around(0.15, 0.5)).collect();
    let cpu: Vec<f64> = system.iter().map(|s| s * rng.around(0.6, 0.2)).collect();
    for k in 0..rows {
        rec.set(k, "SYSTEM_POWER (Watts)", system[k] as f32 as f64);
        rec.set(k, "GPU_POWER (Watts)", gpu[k] as f32 as f64);
        for t in 0..4 {
            rec.set(k, &format!("CPU_TEMP_{t}"), rng.around(55.0, 0.1));
        }
        if intel_mac {
            rec.set(k, "CPU_POWER (Watts)", cpu[k] as f32 as f64);
        }
    }
    // The file holds f32 readings widened to f64, as EnergiBridge's SMC reads are.
    let f32s = |v: &[f64]| v.iter().map(|x| *x as f32 as f64).collect::<Vec<_>>();
    let mut truth = Truth {
        seconds: span_s(&rec),
        ..Truth::default()
    };
    truth
        .domains
        .insert("system".into(), integrated(&rec, &f32s(&system)));
    truth
        .domains
        .insert("gpu".into(), integrated(&rec, &f32s(&gpu)));
    if intel_mac {
        truth
            .domains
            .insert("cpu".into(), integrated(&rec, &f32s(&cpu)));
    }
    truth.total_j = truth.domains[if intel_mac { "cpu" } else { "system" }];
    (rec, truth)
}

/// Intel (Linux or Windows) with an NVIDIA GPU (`-g`): RAPL counters in 2^-14 J units (32-bit,
/// so they wrap at 2^18 J) for PACKAGE, PP0, PP1, DRAM; `GPU0_POWER (mWatts)` (NVML's integer
/// mW) with usage, memory and temperature. `package_start` sets where the package counter
/// begins (near 2^32 units to wrap). `raw_counts` writes the counts themselves under "(J)", as
/// early-2024 EnergiBridge on Windows did.
pub fn intel_nvidia(
    rng: &mut Rng,
    rows: usize,
    package_w: f64,
    gpu_w: f64,
    package_start: u64,
    raw_counts: bool,
) -> (Recording, Truth) {
    let mut rec = Recording::new(clock(rng, rows, 200));
    rec.add_system_columns(rng, 8);
    let unit = 0.5f64.powi(14);
    let modulus = 1u64 << 32;
    let pkg: Vec<f64> = (0..rows).map(|_| rng.around(package_w, 0.3)).collect();
    let pp0: Vec<f64> = pkg.iter().map(|p| p * 0.7).collect();
    let pp1: Vec<f64> = pkg.iter().map(|p| p * 0.05).collect();
    let dram: Vec<f64> = (0..rows).map(|_| rng.around(3.0, 0.2)).collect();
    let gpu_mw: Vec<f64> = (0..rows)
        .map(|_| rng.around(gpu_w * 1e3, 0.4).round())
        .collect();
    let (pkg_r, pkg_j) = counter(&rec, &pkg, unit, package_start, modulus);
    let (pp0_r, _) = counter(&rec, &pp0, unit, 123_456_789, modulus);
    let (pp1_r, _) = counter(&rec, &pp1, unit, 5_000, modulus);
    let (dram_r, dram_j) = counter(&rec, &dram, unit, 987_654_321, modulus);
    let written = |j: f64| if raw_counts { j / unit } else { j };
    for k in 0..rows {
        rec.set(k, "PACKAGE_ENERGY (J)", written(pkg_r[k]));
        rec.set(k, "PP0_ENERGY (J)", written(pp0_r[k]));
        rec.set(k, "PP1_ENERGY (J)", written(pp1_r[k]));
        rec.set(k, "DRAM_ENERGY (J)", written(dram_r[k]));
        rec.set(k, "GPU0_POWER (mWatts)", gpu_mw[k]);
        rec.set(k, "GPU0_USAGE", rng.around(70.0, 0.3).round());
        rec.set(k, "GPU0_MEMORY_USED", 2_113);
        rec.set(k, "GPU0_MEMORY_TOTAL", 8_192);
        rec.set(k, "GPU0_TEMPERATURE", 61);
    }
    let gpu_w_series: Vec<f64> = gpu_mw.iter().map(|m| m / 1e3).collect();
    let gpu_j = integrated(&rec, &gpu_w_series);
    let mut truth = Truth {
        seconds: span_s(&rec),
        total_j: pkg_j + dram_j + gpu_j,
        ..Truth::default()
    };
    truth.domains.insert("package".into(), pkg_j);
    truth.domains.insert("dram".into(), dram_j);
    truth.domains.insert("gpu0".into(), gpu_j);
    (rec, truth)
}

/// AMD (Linux): `CPU_ENERGY (J)` (the package, 2^-16 J units, wraps at 2^16 J) and per core
/// `CORE<n>_ENERGY (J)`, `CORE<n>_FREQ (MHZ)`, `CORE<n>_PSTATE`, `CORE<n>_VOLT (V)`.
/// `reset_at`: the counter restarts from zero before that row (a driver reload).
pub fn amd(
    rng: &mut Rng,
    rows: usize,
    package_w: f64,
    start_j: f64,
    reset_at: Option<usize>,
) -> (Recording, Truth) {
    let mut rec = Recording::new(clock(rng, rows, 200));
    rec.add_system_columns(rng, 12);
    let unit = 0.5f64.powi(16);
    let pkg: Vec<f64> = (0..rows).map(|_| rng.around(package_w, 0.3)).collect();
    let modulus = if start_j > 65_536.0 {
        1u64 << 40
    } else {
        1u64 << 32
    };
    let (mut readings, mut energy) = counter(&rec, &pkg, unit, (start_j / unit) as u64, modulus);
    if let Some(r) = reset_at {
        // From row r on, the counter counts again from 0: its increments are unchanged, except
        // the one across the restart, which is lost.
        let lost = readings[r] - readings[r - 1];
        let base = readings[r - 1] + lost - rng.around(5.0, 0.5);
        for v in readings.iter_mut().skip(r) {
            *v -= base;
        }
        energy -= lost;
    }
    for (k, reading) in readings.iter().enumerate() {
        rec.set(k, "CPU_ENERGY (J)", reading);
        for c in 0..6 {
            rec.set(
                k,
                &format!("CORE{c}_ENERGY (J)"),
                8150.5 + k as f64 * 0.1 * c as f64,
            );
            rec.set(k, &format!("CORE{c}_FREQ (MHZ)"), 4250);
            rec.set(k, &format!("CORE{c}_PSTATE"), 0);
            rec.set(k, &format!("CORE{c}_VOLT (V)"), 1.2875);
        }
    }
    let mut truth = Truth {
        seconds: span_s(&rec),
        total_j: energy,
        ..Truth::default()
    };
    truth.domains.insert("cpu".into(), energy);
    (rec, truth)
}

/// UTF-16LE with a byte-order mark, as Windows PowerShell's `>` writes.
pub fn utf16le(text: &str) -> Vec<u8> {
    let mut out = vec![0xFF, 0xFE];
    for u in text.encode_utf16() {
        out.extend(u.to_le_bytes());
    }
    out
}

/// The median of `xs`.
pub fn median(xs: &[f64]) -> f64 {
    let mut v = xs.to_vec();
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}
