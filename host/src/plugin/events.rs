//! The worker → host stream: one JSON object per line on the worker's event pipe.

use serde::{Deserialize, Serialize};

/// The energy counters and clocks at one instant.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Mark {
    /// Seconds on the worker's monotonic clock since it started measuring.
    pub mono_s: f64,
    /// Wall clock, Unix milliseconds.
    pub unix_ms: u64,
    /// Cumulative joules per domain (same order as `Started::domains`).
    pub joules: Vec<f64>,
    /// CPU time (user + system) of the worker process so far.
    pub cpu_time_s: f64,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    /// The worker is measuring: which meter, which domains.
    Started {
        pid: u32,
        meter: String,
        measured: bool,
        domains: Vec<String>,
        /// Per domain: whether it adds to the run's total (sub-domains such as `core` are
        /// inside their package and must not be counted twice). The meter decides.
        in_total: Vec<bool>,
        unused_sources: Vec<String>,
    },
    /// The plugin loaded; its static info.
    Plugin {
        name: String,
        framework: String,
        framework_version: String,
    },
    /// The trainer exists; what it says took effect.
    RunInfo {
        framework: String,
        framework_version: String,
        threads: u32,
        notes: Vec<(String, String)>,
    },
    /// A phase (`setup`, `epoch` n, `eval`) began.
    PhaseStart {
        phase: String,
        epoch: Option<u32>,
        at: Mark,
    },
    /// A phase ended successfully.
    PhaseEnd {
        phase: String,
        epoch: Option<u32>,
        at: Mark,
    },
    /// Batches done within an epoch (throttled).
    Progress {
        epoch: u32,
        batch: u64,
        batches: u64,
    },
    Trained {
        epoch: u32,
        samples: u64,
        loss: Option<f64>,
        notes: Vec<(String, String)>,
    },
    Evaluated {
        accuracy: Option<f64>,
        loss: Option<f64>,
        samples: u64,
        notes: Vec<(String, String)>,
    },
    /// Counter faults the meters flagged (resets, implausible power).
    Faults { faults: Vec<String> },
    /// The run failed in `phase`.
    Error { phase: String, message: String },
    /// The run completed.
    Finished,
}

impl Event {
    pub fn to_line(&self) -> String {
        // Serialising these plain structs cannot fail; keep a readable fallback anyway.
        serde_json::to_string(self).unwrap_or_else(|e| {
            format!("{{\"event\":\"error\",\"phase\":\"worker\",\"message\":\"{e}\"}}")
        })
    }
}
