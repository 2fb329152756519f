//! The sampler thread: reads every counter often enough that no wrap goes unseen, and writes
//! one CSV row per interval in EnergiBridge's layout, so EnergiBridge tooling reads our files:
//!
//! ```text
//! Delta,Time,<columns sorted by name>
//! ```
//!
//! `Delta` is milliseconds since the previous row (0 on the first), `Time` Unix milliseconds.
//! Energy columns are cumulative joules since the monitor opened, unwrapped: `PACKAGE_ENERGY
//! (J)` (`PACKAGE0_ENERGY (J)`, `PACKAGE1_...` with several packages), `PP0_ENERGY (J)` (core),
//! `PP1_ENERGY (J)` (uncore), `DRAM_ENERGY (J)`, `PSYS_ENERGY (J)`, `GPU0_ENERGY (J)`. An
//! estimate is written as `CPU_ENERGY_ESTIMATE (J)` and never under a measured column's name:
//! the header itself says the run was estimated. Then `CPU_USAGE_i` (%), `CPU_FREQUENCY_i`
//! (MHz), `USED_MEMORY` and `TOTAL_MEMORY` (bytes), as EnergiBridge writes them.
//!
//! Rows are flushed as they are written (a crashed worker keeps its samples) and the file is
//! fsynced when the monitor stops. The counters are read at the row interval or faster: at
//! least four times per wrap period at the domain's bound power.

use std::fs::{self, File};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::{anyhow, Context};

use super::config::EnergyConfig;
use super::estimate::ESTIMATE_DOMAIN;
use super::meter::base_name;
use super::monitor::{lock, Shared};
use super::procfs::{self, ProcStat};
use super::unix_ms_now;

/// EnergiBridge's default.
pub const DEFAULT_SAMPLE_INTERVAL: Duration = Duration::from_millis(200);

/// `CPU_FREQUENCY_i` and the memory columns are refreshed at most this often (and repeated in
/// between): /proc/cpuinfo costs ~0.1 ms to read on a VM, too much to pay every 10 ms.
pub const SLOW_COLUMNS_REFRESH: Duration = Duration::from_millis(200);

/// The estimate's energy column.
pub const ESTIMATE_COLUMN: &str = "CPU_ENERGY_ESTIMATE (J)";

/// The sample-CSV column of domain `domain`, given every domain name of the run.
pub fn csv_column_for(domain: &str, all_domains: &[String]) -> String {
    if domain == ESTIMATE_DOMAIN {
        return ESTIMATE_COLUMN.to_string();
    }
    let base = base_name(domain);
    let index = domain[base.len()..].trim_start_matches('-');
    let word = match base {
        "package" => "PACKAGE".to_string(),
        "core" => "PP0".to_string(),
        "uncore" => "PP1".to_string(),
        other => other.to_uppercase().replace('-', "_"),
    };
    let several = all_domains.iter().filter(|d| base_name(d) == base).count() > 1;
    let index = if base == "gpu" || several { index } else { "" };
    let sep = if !index.is_empty() && word.ends_with(|c: char| c.is_ascii_digit()) {
        "_"
    } else {
        ""
    };
    format!("{word}{sep}{index}_ENERGY (J)")
}

enum Col {
    Energy(usize),
    Usage(usize),
    Freq(usize),
    UsedMemory,
    TotalMemory,
}

struct CsvOut {
    path: PathBuf,
    out: BufWriter<File>,
    columns: Vec<Col>,
    cpus: Vec<u32>,
    proc_root: PathBuf,
    sys_cpu_root: PathBuf,
    last_stat: Option<ProcStat>,
    last_row_ms: Option<u64>,
    line: String,
    /// Frequencies and (total, used) memory, and when they were read.
    slow: Option<(Instant, Vec<f64>, (u64, u64))>,
}

impl CsvOut {
    fn create(path: &Path, domains: &[String], cfg: &EnergyConfig) -> anyhow::Result<CsvOut> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        }
        let file = File::create(path).with_context(|| format!("creating {}", path.display()))?;
        let stat = procfs::read_stat(&cfg.proc_root).ok();
        let cpus: Vec<u32> = stat
            .as_ref()
            .map(|s| s.per_cpu.iter().map(|(n, _)| *n).collect())
            .unwrap_or_default();
        let mut named: Vec<(String, Col)> = Vec::new();
        for (i, d) in domains.iter().enumerate() {
            named.push((csv_column_for(d, domains), Col::Energy(i)));
        }
        for (i, n) in cpus.iter().enumerate() {
            named.push((format!("CPU_USAGE_{n}"), Col::Usage(i)));
            named.push((format!("CPU_FREQUENCY_{n}"), Col::Freq(i)));
        }
        named.push(("USED_MEMORY".into(), Col::UsedMemory));
        named.push(("TOTAL_MEMORY".into(), Col::TotalMemory));
        // Byte order, as EnergiBridge's sorted map writes them (CPU_USAGE_10 before _2).
        named.sort_by(|a, b| a.0.cmp(&b.0));
        let mut out = BufWriter::new(file);
        let header: Vec<&str> = named.iter().map(|(n, _)| n.as_str()).collect();
        writeln!(out, "Delta,Time,{}", header.join(","))
            .and_then(|_| out.flush())
            .with_context(|| format!("writing {}", path.display()))?;
        Ok(CsvOut {
            path: path.to_path_buf(),
            out,
            columns: named.into_iter().map(|(_, c)| c).collect(),
            cpus,
            proc_root: cfg.proc_root.clone(),
            sys_cpu_root: cfg.sys_cpu_root.clone(),
            last_stat: stat,
            last_row_ms: None,
            line: String::new(),
            slow: None,
        })
    }

    fn row(&mut self, joules: &[f64]) -> anyhow::Result<()> {
        use std::fmt::Write as _;
        let now_ms = unix_ms_now();
        let delta = self.last_row_ms.map_or(0, |t| now_ms.saturating_sub(t));
        self.last_row_ms = Some(now_ms);
        let stat = procfs::read_stat(&self.proc_root).ok();
        let usage: Vec<f64> = match (&stat, &self.last_stat) {
            (Some(now), Some(before)) => now
                .per_cpu
                .iter()
                .zip(&before.per_cpu)
                .map(|((_, a), (_, b))| 100.0 * a.usage_since(b))
                .collect(),
            _ => Vec::new(),
        };
        if stat.is_some() {
            self.last_stat = stat;
        }
        let stale = self
            .slow
            .as_ref()
            .is_none_or(|(at, _, _)| at.elapsed() >= SLOW_COLUMNS_REFRESH);
        if stale {
            let freq = procfs::cpu_freq_mhz(&self.sys_cpu_root, &self.proc_root, &self.cpus);
            let memory = procfs::read_memory(&self.proc_root).unwrap_or((0, 0));
            self.slow = Some((Instant::now(), freq, memory));
        }
        let (freq, (total_mem, used_mem)) = match &self.slow {
            Some((_, f, m)) => (f.as_slice(), *m),
            None => (&[][..], (0, 0)),
        };
        self.line.clear();
        let _ = write!(self.line, "{delta},{now_ms}");
        for col in &self.columns {
            let _ = match *col {
                Col::Energy(i) => {
                    write!(self.line, ",{:.6}", joules.get(i).copied().unwrap_or(0.0))
                }
                Col::Usage(i) => write!(self.line, ",{:.2}", usage.get(i).copied().unwrap_or(0.0)),
                Col::Freq(i) => write!(self.line, ",{:.0}", freq.get(i).copied().unwrap_or(0.0)),
                Col::UsedMemory => write!(self.line, ",{used_mem}"),
                Col::TotalMemory => write!(self.line, ",{total_mem}"),
            };
        }
        self.line.push('\n');
        self.out
            .write_all(self.line.as_bytes())
            .and_then(|_| self.out.flush())
            .with_context(|| format!("writing {}", self.path.display()))
    }

    fn finish(mut self) -> anyhow::Result<()> {
        self.out
            .flush()
            .and_then(|_| self.out.get_ref().sync_all())
            .with_context(|| format!("syncing {}", self.path.display()))
    }
}

/// The running sampler; dropping it stops the thread too.
pub(crate) struct Sampler {
    stop: Option<mpsc::Sender<()>>,
    handle: Option<JoinHandle<anyhow::Result<()>>>,
}

impl Sampler {
    /// Stops after one last reading and row; the CSV's first write error, if any.
    pub fn stop(mut self) -> anyhow::Result<()> {
        self.halt()
    }

    fn halt(&mut self) -> anyhow::Result<()> {
        drop(self.stop.take());
        match self.handle.take() {
            Some(h) => h
                .join()
                .map_err(|_| anyhow!("the energy sampler thread panicked"))?,
            None => Ok(()),
        }
    }
}

impl Drop for Sampler {
    fn drop(&mut self) {
        let _ = self.halt();
    }
}

pub(crate) fn spawn(
    state: Shared,
    cfg: &EnergyConfig,
    csv: Option<&Path>,
) -> anyhow::Result<Sampler> {
    let (interval, poll, mut out) = {
        let s = lock(&state);
        let names: Vec<String> = s.domains.iter().map(|d| d.name.clone()).collect();
        let out = csv.map(|p| CsvOut::create(p, &names, cfg)).transpose()?;
        let poll = s
            .max_poll_period()
            .map_or(cfg.sample_interval, |p| p.min(cfg.sample_interval));
        (cfg.sample_interval, poll, out)
    };
    let (tx, rx) = mpsc::channel::<()>();
    let handle = std::thread::Builder::new()
        .name("energy-sampler".into())
        .spawn(move || -> anyhow::Result<()> {
            // A write error stops the CSV, never the reading: unwrapping must go on.
            let mut error: Option<anyhow::Error> = None;
            let mut write = |out: &mut Option<CsvOut>, joules: &[f64]| {
                if let Some(o) = out.as_mut() {
                    if let Err(e) = o.row(joules) {
                        error.get_or_insert(e);
                        *out = None;
                    }
                }
            };
            let joules = lock(&state).read_all();
            write(&mut out, &joules);
            let mut last_row = Instant::now();
            let mut next = Instant::now();
            loop {
                let now = Instant::now();
                while next <= now {
                    next += poll;
                }
                match rx.recv_timeout(next - now) {
                    Err(RecvTimeoutError::Timeout) => {}
                    Ok(()) | Err(RecvTimeoutError::Disconnected) => break,
                }
                let joules = lock(&state).read_all();
                // Half a poll of slack keeps rows on the interval when poll == interval.
                if last_row.elapsed() + poll / 2 >= interval {
                    last_row = Instant::now();
                    write(&mut out, &joules);
                }
            }
            let joules = lock(&state).read_all();
            write(&mut out, &joules);
            if let Some(e) = error {
                return Err(e);
            }
            out.map_or(Ok(()), CsvOut::finish)
        })
        .context("starting the energy sampler thread")?;
    Ok(Sampler {
        stop: Some(tx),
        handle: Some(handle),
    })
}
