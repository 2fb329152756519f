//! runs.csv: one row per run, appended and fsynced as each run ends, so a crash of the host
//! loses at most the run in flight.
//!
//! The header is fixed when the file is created: the contract's columns, then per-phase,
//! per-epoch and per-domain columns. A row's domains are matched by name.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context;

use super::record::{RunRecord, RunStatus};

/// The contract's leading columns (DESIGN.md); scripts depend on them: extend, don't break.
pub const BASE_COLUMNS: [&str; 14] = [
    "iteration",
    "order",
    "plugin",
    "framework",
    "status",
    "time_s",
    "energy_j",
    "power_w",
    "edp_js",
    "cpu_time_s",
    "accuracy",
    "loss",
    "meter",
    "error",
];

/// A row already in runs.csv, as much as resuming needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExistingRun {
    pub iteration: u32,
    pub plugin: String,
    pub ok: bool,
    pub retry: u32,
}

pub struct RunsCsv {
    path: PathBuf,
    file: File,
    header: Vec<String>,
    domains: Vec<String>,
    epochs: u32,
}

impl RunsCsv {
    /// Creates `path` with its header (epochs and domains fix the extra columns).
    pub fn create(path: &Path, epochs: u32, domains: &[String]) -> anyhow::Result<RunsCsv> {
        let header = header(epochs, domains);
        let mut file = OpenOptions::new()
            .create_new(true)
            .write(true)
            .open(path)
            .with_context(|| format!("cannot create {}", path.display()))?;
        let mut w = csv::Writer::from_writer(Vec::new());
        w.write_record(&header)?;
        file.write_all(&w.into_inner().context("csv buffer")?)?;
        file.sync_all()?;
        // The new file's name must survive a crash too, not only its bytes.
        crate::fsx::sync_parent(path)
            .with_context(|| format!("cannot sync the folder of {}", path.display()))?;
        Ok(RunsCsv {
            path: path.to_path_buf(),
            file,
            header,
            domains: domains.to_vec(),
            epochs,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn header(&self) -> &[String] {
        &self.header
    }

    /// Reopens an existing runs.csv to append (resume). Its header must be the one this
    /// campaign would write, or the rows would not line up. A last line cut short by a crash
    /// (no newline) is removed: that run is measured again.
    pub fn reopen(
        path: &Path,
        epochs: u32,
        domains: &[String],
    ) -> anyhow::Result<(RunsCsv, Vec<ExistingRun>)> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        let complete = match text.rfind('\n') {
            Some(i) => &text[..=i],
            None => "",
        };
        if complete.len() != text.len() {
            // Cut in place: rewriting the file would empty it first, and a crash then would
            // lose every finished run.
            let repair = || -> std::io::Result<()> {
                let f = std::fs::OpenOptions::new().write(true).open(path)?;
                f.set_len(complete.len() as u64)?;
                f.sync_all()
            };
            repair().with_context(|| format!("cannot repair {}", path.display()))?;
        }
        let expected = header(epochs, domains);
        let mut reader = csv::Reader::from_reader(complete.as_bytes());
        let found: Vec<String> = reader.headers()?.iter().map(String::from).collect();
        if found != expected {
            anyhow::bail!(
                "{}: its columns differ from what this campaign writes (different energy domains or epochs?)\n  found:    {}\n  expected: {}",
                path.display(),
                found.join(","),
                expected.join(",")
            );
        }
        let at = |name: &str| found.iter().position(|h| h == name);
        let (it, pl, st, rt) = (at("iteration"), at("plugin"), at("status"), at("retry"));
        let mut existing = Vec::new();
        for (i, rec) in reader.records().enumerate() {
            let rec =
                rec.with_context(|| format!("{}: row {} is unreadable", path.display(), i + 2))?;
            let field = |c: Option<usize>| c.and_then(|c| rec.get(c)).unwrap_or("");
            existing.push(ExistingRun {
                iteration: field(it)
                    .parse()
                    .with_context(|| format!("{}: row {}: bad iteration", path.display(), i + 2))?,
                plugin: field(pl).to_string(),
                ok: RunStatus::from_cell(field(st)) == Some(RunStatus::Ok),
                retry: field(rt).parse().unwrap_or(0),
            });
        }
        let file = OpenOptions::new()
            .append(true)
            .open(path)
            .with_context(|| format!("cannot append to {}", path.display()))?;
        Ok((
            RunsCsv {
                path: path.to_path_buf(),
                file,
                header: expected,
                domains: domains.to_vec(),
                epochs,
            },
            existing,
        ))
    }

    /// Appends one row and fsyncs it.
    pub fn append(&mut self, r: &RunRecord) -> anyhow::Result<()> {
        let mut w = csv::Writer::from_writer(Vec::new());
        w.write_record(self.row(r))?;
        let bytes = w.into_inner().context("csv buffer")?;
        self.file
            .write_all(&bytes)
            .and_then(|_| self.file.sync_data())
            .with_context(|| format!("cannot append to {}", self.path.display()))
    }

    fn row(&self, r: &RunRecord) -> Vec<String> {
        let mut row = vec![
            r.iteration.to_string(),
            r.order.to_string(),
            r.plugin.clone(),
            r.framework.clone(),
            r.status.to_string(),
            num(r.time_s),
            num(r.energy_j),
            num(r.power_w()),
            num(r.edp_js()),
            num(r.cpu_time_s),
            num(r.accuracy),
            num(r.loss),
            r.meter.clone(),
            one_line(&r.error),
        ];
        for phase in [r.setup, r.train, r.eval] {
            row.push(num(phase.map(|p| p.0)));
            row.push(num(phase.map(|p| p.1)));
        }
        for e in 0..self.epochs as usize {
            let epoch = r.epochs.get(e);
            row.push(num(epoch.map(|p| p.0)));
            row.push(num(epoch.map(|p| p.1)));
        }
        for d in &self.domains {
            row.push(num(r.domains.iter().find(|(n, _)| n == d).map(|(_, j)| *j)));
        }
        row.push(r.threads.map(|t| t.to_string()).unwrap_or_default());
        row.push(r.started_unix_ms.map(|t| t.to_string()).unwrap_or_default());
        row.push(one_line(&r.faults.join("; ")));
        row.push(num(r.rest_s));
        row.push(r.retry.to_string());
        row.push(num(r.energy_dynamic_j));
        row
    }
}

fn header(epochs: u32, domains: &[String]) -> Vec<String> {
    let mut h: Vec<String> = BASE_COLUMNS.iter().map(|s| s.to_string()).collect();
    for phase in ["setup", "train", "eval"] {
        h.push(format!("{phase}_time_s"));
        h.push(format!("{phase}_energy_j"));
    }
    for e in 1..=epochs {
        h.push(format!("epoch{e}_time_s"));
        h.push(format!("epoch{e}_energy_j"));
    }
    for d in domains {
        h.push(domain_column(d));
    }
    h.extend(
        [
            "threads",
            "started_unix_ms",
            "faults",
            "rest_s",
            "retry",
            "energy_dynamic_j",
        ]
        .map(String::from),
    );
    h
}

/// `package-0` → `energy_package_0_j`.
pub fn domain_column(domain: &str) -> String {
    let clean: String = domain
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .collect();
    format!("energy_{clean}_j")
}

/// Full precision, shortest round-trip form; empty when unknown.
fn num(x: Option<f64>) -> String {
    match x {
        Some(v) if v.is_finite() => format!("{v}"),
        _ => String::new(),
    }
}

fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}
