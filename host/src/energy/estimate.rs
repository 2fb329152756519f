//! The estimate: a declared power model over CPU time, for machines with no readable counter.
//!
//! It stands in for a package meter, so that estimated and measured runs mean the same thing
//! (energy of the CPU package while the run lasted). Over each step of `dt` seconds:
//!
//! ```text
//! u     = busy CPU time attributed to the step / (CPUs × dt)                      in [0, 1]
//! power = tdp_watts × (idle_share + (1 − idle_share) × u)
//! energy += power × dt
//! ```
//!
//! - machine busy time comes from /proc/stat (user + nice + system + irq + softirq);
//!   this process's CPU time (user + sys) from getrusage. The larger of the two running
//!   totals is attributed, so that a restricted /proc (containers) still sees at least the
//!   worker's own work; busy time beyond what a step can hold (ticks land in 10 ms lumps)
//!   is carried into the next steps, never cut off.
//! - `tdp_watts` (default [`DEFAULT_TDP_WATTS`]) is the full-load power of all CPUs in
//!   /proc/stat. On a VM, use the host CPU's TDP × your vCPUs / its hardware threads.
//! - `idle_share` (default [`DEFAULT_IDLE_SHARE`]) is the idle power as a share of TDP; linear
//!   utilisation models in the literature put it between 0.2 and 0.5.
//!
//! The defaults are order-of-magnitude guesses: fit for comparing runs on one machine, not
//! for absolute joules. The domain is called `cpu-estimate`, its CSV column
//! `CPU_ENERGY_ESTIMATE (J)`, and every label starts with `estimate:`.

use std::path::PathBuf;
use std::time::Instant;

use super::meter::{CounterSpec, DomainSpec, Meter};
use super::procfs::{self, ProcStat};

/// A mid-range desktop/laptop CPU package.
pub const DEFAULT_TDP_WATTS: f64 = 45.0;
/// Idle power as a share of TDP.
pub const DEFAULT_IDLE_SHARE: f64 = 0.3;

pub(crate) const ESTIMATE_DOMAIN: &str = "cpu-estimate";

pub(crate) struct Estimate {
    tdp_watts: f64,
    idle_share: f64,
    proc_root: PathBuf,
    cpus: f64,
    tick_s: f64,
    last_at: Instant,
    last_stat: Option<ProcStat>,
    last_self_s: f64,
    /// Busy CPU-seconds since open: the machine's (from /proc/stat ticks), this process's
    /// (getrusage), and the larger of the two as attributed so far. Taking the larger of the
    /// running totals, not of each step's, keeps tick rounding from biasing short steps up.
    machine_busy_total_s: f64,
    self_busy_total_s: f64,
    attributed_busy_s: f64,
    /// Busy time attributed but not yet spent: a step can show more ticks than it can hold
    /// (ticks land late); the surplus goes into the next steps instead of being cut off.
    pending_busy_s: f64,
    /// Accumulated microjoules (raw unit of the single counter).
    total_uj: f64,
    domains: Vec<DomainSpec>,
    counters: Vec<CounterSpec>,
}

impl Estimate {
    pub fn new(tdp_watts: f64, idle_share: f64, proc_root: PathBuf) -> Self {
        let last_stat = procfs::read_stat(&proc_root).ok();
        let cpus = last_stat
            .as_ref()
            .map(|s| s.per_cpu.len())
            .filter(|n| *n > 0)
            .or_else(|| std::thread::available_parallelism().ok().map(|n| n.get()))
            .unwrap_or(1);
        Estimate {
            tdp_watts,
            idle_share,
            proc_root,
            cpus: cpus as f64,
            tick_s: 1.0 / procfs::clock_ticks_per_s(),
            last_at: Instant::now(),
            last_stat,
            last_self_s: procfs::process_cpu_time_s(),
            machine_busy_total_s: 0.0,
            self_busy_total_s: 0.0,
            attributed_busy_s: 0.0,
            pending_busy_s: 0.0,
            total_uj: 0.0,
            domains: vec![DomainSpec {
                name: ESTIMATE_DOMAIN.to_string(),
                in_total: true,
            }],
            counters: vec![CounterSpec {
                domain: 0,
                scale_j: 1e-6,
                modulus: None,
                granularity_s: 0.0,
                origin: "cpu-time model".to_string(),
            }],
        }
    }

    /// The model's words for labels: `cpu-time model; tdp 45 W; idle share 0.3` (no commas:
    /// it goes into a CSV cell).
    pub fn model_words(tdp_watts: f64, idle_share: f64) -> String {
        format!("cpu-time model; tdp {tdp_watts} W; idle share {idle_share}")
    }

    fn advance(&mut self) {
        let now = Instant::now();
        let dt = now.saturating_duration_since(self.last_at).as_secs_f64();
        let self_s = procfs::process_cpu_time_s();
        let stat = procfs::read_stat(&self.proc_root).ok();
        let machine_busy_s = match (&stat, &self.last_stat) {
            (Some(now), Some(before)) => {
                now.all.busy.saturating_sub(before.all.busy) as f64 * self.tick_s
            }
            _ => 0.0,
        };
        self.machine_busy_total_s += machine_busy_s;
        self.self_busy_total_s += (self_s - self.last_self_s).max(0.0);
        let attributed = self.machine_busy_total_s.max(self.self_busy_total_s);
        self.pending_busy_s += attributed - self.attributed_busy_s;
        self.attributed_busy_s = attributed;
        if dt > 0.0 {
            let spent = self.pending_busy_s.min(self.cpus * dt);
            self.pending_busy_s -= spent;
            let u = spent / (self.cpus * dt);
            let power = self.tdp_watts * (self.idle_share + (1.0 - self.idle_share) * u);
            self.total_uj += power * dt * 1e6;
        }
        self.last_at = now;
        self.last_self_s = self_s;
        if stat.is_some() {
            self.last_stat = stat;
        }
    }
}

impl Meter for Estimate {
    fn source(&self) -> &'static str {
        "estimate"
    }

    fn measured(&self) -> bool {
        false
    }

    fn domains(&self) -> &[DomainSpec] {
        &self.domains
    }

    fn counters(&self) -> &[CounterSpec] {
        &self.counters
    }

    /// The model never exceeds the declared TDP; 10 % over it means the model is broken, and
    /// a TDP above the per-domain default must not turn every window into a fault.
    fn max_power_w(&self) -> Option<f64> {
        Some(self.tdp_watts * 1.1)
    }

    fn read(&mut self, _index: usize) -> anyhow::Result<u64> {
        self.advance();
        Ok(self.total_uj as u64)
    }

    fn describe(&self) -> String {
        let stat = if self.last_stat.is_some() {
            format!("{}/stat", self.proc_root.display())
        } else {
            format!(
                "{}/stat unreadable, so this process's CPU time only",
                self.proc_root.display()
            )
        };
        format!(
            "{} over {} CPUs ({stat}); NOT a measurement",
            Self::model_words(self.tdp_watts, self.idle_share),
            self.cpus
        )
    }
}
