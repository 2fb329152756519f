//! A table of runs for the analysis: `runs.csv` as `host run` writes it (the store owns that
//! format and its reader), or any CSV with at least
//! `iteration,plugin,status,time_s,energy_j`. Rows whose status is not `ok` are ignored
//! and counted; per-phase (`train_time_s`, `train_energy_j`, …) and per-domain
//! (`energy_<domain>_j`) columns become extra metrics.

use std::path::Path;

use anyhow::{anyhow, Context};

use super::{Ignored, Ingested};
use crate::analysis::data::{Energy, Metric, RawRun};
use crate::store::record::RunStatus;
use crate::store::runs_csv::RunsReader;

const REQUIRED: [&str; 5] = ["iteration", "plugin", "status", "time_s", "energy_j"];

/// Where the columns this reader uses stand in the file.
struct Layout {
    iteration: usize,
    plugin: usize,
    status: usize,
    time_s: usize,
    energy_j: usize,
    meter: Option<usize>,
    error: Option<usize>,
    retry: Option<usize>,
    notes: Option<usize>,
    /// The measuring machine (runs.csv of a host that knows clusters).
    node: Option<usize>,
    /// Per-phase and per-domain columns, with their header as written (for errors).
    extras: Vec<(usize, Metric, String)>,
}

pub(super) fn read(path: &Path) -> anyhow::Result<Ingested> {
    read_from(path, RunsReader::open(path)?)
}

/// Reads runs.csv text already in memory, as if from `path` (which errors name).
pub fn read_bytes(path: &Path, bytes: &[u8]) -> anyhow::Result<Ingested> {
    read_from(path, RunsReader::from_bytes(path, bytes)?)
}

fn read_from<R: std::io::Read>(path: &Path, mut csv: RunsReader<R>) -> anyhow::Result<Ingested> {
    let layout = layout(&csv, path)?;
    let mut out = Ingested {
        inputs: vec![path.display().to_string()],
        ..Ingested::default()
    };
    out.extra_metrics = layout.extras.iter().map(|(_, m, _)| m.clone()).collect();
    let mut record = csv::StringRecord::new();
    let mut line = 1usize;
    let mut saw_meter = false;
    while csv
        .read(&mut record)
        .with_context(|| format!("{}: cannot read CSV", path.display()))?
    {
        line += 1;
        let at = format!("{}:{line}", path.display());
        if let Some(meter) = read_row(&layout, &record, at, &mut out)? {
            saw_meter = true;
            classify_meter(&meter, &mut out.energy_source);
        }
    }
    if !saw_meter {
        out.energy_source.measured.insert(format!(
            "unspecified ({} has no `meter` column)",
            path.display()
        ));
    }
    Ok(out)
}

/// Finds the columns, refusing a file without the required ones (a usage error).
fn layout<R: std::io::Read>(csv: &RunsReader<R>, path: &Path) -> anyhow::Result<Layout> {
    let missing = csv.missing(&REQUIRED);
    if !missing.is_empty() {
        return Err(crate::error::usage(format!(
            "{}: not a runs.csv: missing column(s) {}; needs at least {}",
            path.display(),
            missing.join(", "),
            REQUIRED.join(",")
        )));
    }
    let idx = |name: &str| csv.column(name).unwrap_or(usize::MAX);
    Ok(Layout {
        iteration: idx("iteration"),
        plugin: idx("plugin"),
        status: idx("status"),
        time_s: idx("time_s"),
        energy_j: idx("energy_j"),
        meter: csv.column("meter"),
        error: csv.column("error"),
        retry: csv.column("retry"),
        notes: csv.column("notes"),
        node: csv.column("node"),
        extras: csv
            .header()
            .iter()
            .enumerate()
            .filter_map(|(i, h)| extra_metric(h.trim()).map(|m| (i, m, h.clone())))
            .collect(),
    })
}

/// Adds one row (`at` = file:line) as a run, or as an ignored one when its status is not
/// `ok`. Returns its meter cell, if the file has that column and the run counts.
fn read_row(
    layout: &Layout,
    record: &csv::StringRecord,
    at: String,
    out: &mut Ingested,
) -> anyhow::Result<Option<String>> {
    let get = |i: usize| record.get(i).unwrap_or("").trim();
    // Errors name the cell as `file:line:column` (1-based), like the manifest's.
    let cell = |i: usize| format!("{at}:{}", i + 1);
    let whole = |i: usize, name: &str| -> anyhow::Result<u64> {
        let text = get(i);
        text.parse::<u64>().map_err(|_| {
            anyhow!(
                "{}: `{name}` = {text:?} is not a whole number (runs are numbered 0, 1, 2, …)",
                cell(i)
            )
        })
    };
    let group = get(layout.plugin).to_string();
    let iteration = whole(layout.iteration, "iteration")?;
    // A retried run keeps its iteration; the label tells the attempts apart.
    let run = match layout.retry.filter(|&i| !get(i).is_empty()) {
        Some(i) => match whole(i, "retry")? {
            0 => iteration.to_string(),
            r => format!("{iteration} retry {r}"),
        },
        None => iteration.to_string(),
    };
    if !out.groups.contains(&group) {
        out.groups.push(group.clone());
    }
    let status = get(layout.status);
    // A failed run's time_s and energy_j (left empty by `host run`, partial figures in files
    // written before) are never read: they are not measurements of a whole run.
    if RunStatus::from_cell(status) != Some(RunStatus::Ok) {
        let reason = layout
            .error
            .map(get)
            .filter(|e| !e.is_empty())
            .unwrap_or("no error message");
        out.ignored.push(Ignored {
            group,
            run,
            status: if status.is_empty() {
                "(empty)".to_string()
            } else {
                status.to_string()
            },
            reason: reason.to_string(),
        });
        return Ok(None);
    }
    if let Some(cell) = layout.notes.map(get).filter(|c| !c.is_empty()) {
        super::add_notes(&mut out.notes, &group, cell);
    }
    let number = |i: usize, name: &str| -> anyhow::Result<f64> {
        let text = get(i);
        let v: f64 = text
            .parse()
            .map_err(|_| anyhow!("{}: `{name}` = {text:?} is not a number", cell(i)))?;
        if v.is_finite() {
            Ok(v)
        } else {
            Err(anyhow!("{}: `{name}` = {text:?} is not finite", cell(i)))
        }
    };
    let time_s = number(layout.time_s, "time_s")?;
    let energy_j = number(layout.energy_j, "energy_j")?;
    let mut extras = Vec::new();
    for (i, metric, header) in &layout.extras {
        // An empty cell means the phase did not happen in that run: missing, not zero.
        if !get(*i).is_empty() {
            extras.push((metric.key.clone(), number(*i, header)?));
        }
    }
    out.runs.push(RawRun {
        group,
        run,
        source: at.clone(),
        time_s,
        meter: layout.meter.map(get).unwrap_or_default().to_string(),
        energy: Energy::Total(energy_j),
        extras,
        node: layout.node.map(get).unwrap_or_default().to_string(),
    });
    Ok(layout.meter.map(|i| get(i).to_string()))
}

/// Sorts a `meter` cell into measured and estimated sources. `host run` writes labels
/// like `measured: powercap (package-0 dram)` or `estimate: … + measured: nvml (gpu0)`;
/// other tools may write a bare name (`powercap`, `estimate`).
fn classify_meter(meter: &str, source: &mut super::EnergySource) {
    if meter.is_empty() {
        source.measured.insert("unnamed meter".to_string());
        return;
    }
    for part in meter.split(" + ").map(str::trim) {
        if let Some(what) = part.strip_prefix("estimate:") {
            source.estimated.insert(what.trim().to_string());
        } else if part == "estimate" {
            source
                .estimated
                .insert("CPU time × declared TDP".to_string());
        } else {
            let what = part.strip_prefix("measured:").unwrap_or(part);
            source.measured.insert(what.trim().to_string());
        }
    }
}

/// Recognises per-phase and per-domain columns; the main ones are derived, not read.
fn extra_metric(column: &str) -> Option<Metric> {
    if let Some(domain) = column
        .strip_prefix("energy_")
        .and_then(|c| c.strip_suffix("_j"))
    {
        if !domain.is_empty() {
            return Some(Metric::new(
                &format!("energy_{domain}"),
                &format!("Energy, {domain}"),
                "J",
            ));
        }
    }
    let phase_metric = |suffix: &str, what: &str, unit: &str| {
        column
            .strip_suffix(suffix)
            .filter(|p| !p.is_empty() && *p != "cpu")
            .map(|phase| {
                Metric::new(
                    &format!("{phase}_{what}"),
                    &format!("{} {what}", capitalise(phase)),
                    unit,
                )
            })
    };
    phase_metric("_time_s", "time", "s")
        .or_else(|| phase_metric("_energy_j", "energy", "J"))
        .or_else(|| phase_metric("_power_w", "power", "W"))
}

/// `train` → `Train`, `epoch2` → `Epoch 2`.
fn capitalise(s: &str) -> String {
    if let Some(n) = s
        .strip_prefix("epoch")
        .filter(|n| !n.is_empty() && n.chars().all(|c| c.is_ascii_digit()))
    {
        return format!("Epoch {n}");
    }
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().collect::<String>() + c.as_str(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_host_meter_labels() {
        let mut s = super::super::EnergySource::default();
        classify_meter("measured: powercap (package-0 dram)", &mut s);
        assert_eq!(s.label(), "measured: powercap (package-0 dram)");
        classify_meter("estimate: 45 W TDP + measured: nvml (gpu0)", &mut s);
        assert_eq!(
            s.label(),
            "estimate: 45 W TDP (mixed with measured: nvml (gpu0), powercap (package-0 dram))"
        );
    }

    #[test]
    fn recognises_phase_and_domain_columns() {
        assert_eq!(
            extra_metric("train_energy_j").map(|m| m.key),
            Some("train_energy".into())
        );
        assert_eq!(
            extra_metric("setup_time_s").map(|m| m.label),
            Some("Setup time".into())
        );
        assert_eq!(
            extra_metric("energy_dram_j").map(|m| m.key),
            Some("energy_dram".into())
        );
        assert_eq!(extra_metric("cpu_time_s"), None);
        assert_eq!(extra_metric("time_s"), None);
        assert_eq!(extra_metric("energy_j"), None);
    }

    #[test]
    fn notes_of_analysed_runs_are_kept_per_group_and_key_and_old_files_have_none() {
        let dir = tempfile::tempdir().unwrap();
        let csv = dir.path().join("runs.csv");
        std::fs::write(
            &csv,
            "iteration,plugin,status,time_s,energy_j,notes\n\
             1,a,ok,1,2,pool=rayon; epoch_s=0.5\n\
             2,a,ok,1,2,pool=rayon; epoch_s=0.7\n\
             3,a,failed,,,pool=never shown\n\
             1,b,ok,1,2,\n",
        )
        .unwrap();
        let read = read(&csv).unwrap();
        let strings = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            read.notes,
            vec![(
                "a".to_string(),
                vec![
                    ("pool".to_string(), strings(&["rayon"])),
                    ("epoch_s".to_string(), strings(&["0.5", "0.7"])),
                ]
            )]
        );
        std::fs::write(
            &csv,
            "iteration,plugin,status,time_s,energy_j\n1,a,ok,1,2\n",
        )
        .unwrap();
        assert!(read_csv_notes(&csv).is_empty());
    }

    fn read_csv_notes(path: &Path) -> super::super::PluginNotes {
        read(path).unwrap().notes
    }
}
