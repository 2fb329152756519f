//! EnergiBridge folders: each subfolder is a group, each `.csv` or `.csv.gz` inside is
//! one run sampled by EnergiBridge (`Delta,Time,<columns sorted by name>`; `Time` in
//! Unix milliseconds). Which columns hold energy and how the total adds them is
//! `columns.rs`; encodings and separators `decode.rs`; rows, counters and power integration
//! `rows.rs`. Energy totals and their physics checks are made later, in `metrics`.

mod columns;
mod decode;
mod rows;

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};

use anyhow::Context;

use super::{ColumnUse, Ignored, IngestOptions, Ingested};
use crate::analysis::data::{Energy, Metric, RawRun, Sampled};
use rows::RunRead;

/// Reads an EnergiBridge folder. A folder whose CSVs sit directly inside (no
/// subfolders) is one group named after the folder.
pub(super) fn read_folder(dir: &Path, options: &IngestOptions) -> anyhow::Result<Ingested> {
    let mut out = Ingested {
        inputs: vec![dir.display().to_string()],
        ..Ingested::default()
    };
    let groups = find_groups(dir)?;
    let jobs: Vec<(&str, &PathBuf)> = groups
        .iter()
        .flat_map(|(g, files)| files.iter().map(move |f| (g.as_str(), f)))
        .collect();
    for (group, _) in &groups {
        out.groups.push(group.clone());
    }
    let mut notes = Notes::default();
    for ((group, file), result) in jobs.iter().zip(read_all(&jobs, &options.energy_columns)) {
        let run = run_label(file);
        match result {
            Ok(read) => {
                notes.add(group, &run, &read);
                let meter = meter_label(&read.run);
                // An estimate anywhere in the total makes the run an estimate.
                let estimated = read
                    .run
                    .chosen
                    .iter()
                    .any(|c| c.in_total && c.column.estimated);
                let sources = if estimated {
                    &mut out.energy_source.estimated
                } else {
                    &mut out.energy_source.measured
                };
                sources.insert(format!("EnergiBridge {meter}"));
                out.runs.push(RawRun {
                    group: group.to_string(),
                    run,
                    source: file.display().to_string(),
                    time_s: read.run.time_s,
                    meter,
                    energy: Energy::Sampled(read.run.sampled),
                    extras: Vec::new(),
                    node: String::new(),
                });
            }
            Err(err) => out.ignored.push(Ignored {
                group: group.to_string(),
                run,
                status: "unreadable".to_string(),
                reason: format!("{err:#}"),
            }),
        }
    }
    notes.finish(&mut out);
    Ok(out)
}

/// The groups of a folder: its subfolders holding run files, else the folder itself.
fn find_groups(dir: &Path) -> anyhow::Result<Vec<(String, Vec<PathBuf>)>> {
    let mut groups: Vec<(String, Vec<PathBuf>)> = Vec::new();
    for sub in sorted_entries(dir)? {
        if sub.is_dir() {
            let files: Vec<PathBuf> = sorted_entries(&sub)?
                .into_iter()
                .filter(|p| is_run_file(p))
                .collect();
            if !files.is_empty() {
                groups.push((file_name(&sub), files));
            }
        }
    }
    if groups.is_empty() {
        let files: Vec<PathBuf> = sorted_entries(dir)?
            .into_iter()
            .filter(|p| is_run_file(p))
            .collect();
        if !files.is_empty() {
            groups.push((file_name(dir), files));
        }
    }
    Ok(groups)
}

/// What a folder's runs had in common or in particular, gathered into warnings, metrics and
/// the list of columns used.
#[derive(Default)]
struct Notes {
    /// (column, in total, how, why) → runs.
    columns: BTreeMap<(String, bool, String, String), (String, usize)>,
    /// Domains shown as their own metric, in first-seen order.
    shown: Vec<String>,
    repairs: Vec<String>,
    encodings: BTreeMap<&'static str, Vec<String>>,
    separators: BTreeMap<char, Vec<String>>,
}

impl Notes {
    fn add(&mut self, group: &str, run: &str, read: &FileRead) {
        let label = format!("{group}/{run}");
        for c in &read.run.chosen {
            let key = (
                c.column.header.clone(),
                c.in_total,
                how(&c.column),
                c.why.clone(),
            );
            self.columns
                .entry(key)
                .or_insert_with(|| (c.column.domain.clone(), 0))
                .1 += 1;
            if c.shown && !self.shown.contains(&c.column.domain) {
                self.shown.push(c.column.domain.clone());
            }
        }
        if let Some(r) = &read.run.repair {
            self.repairs.push(format!("{label} ({r})"));
        }
        if let Some(e) = read.encoding {
            self.encodings.entry(e).or_default().push(label.clone());
        }
        if read.separator != b',' {
            self.separators
                .entry(read.separator as char)
                .or_default()
                .push(label);
        }
    }

    fn finish(self, out: &mut Ingested) {
        for ((column, in_total, how, why), (domain, runs)) in self.columns {
            out.energy_columns.push(ColumnUse {
                column,
                domain,
                how,
                in_total,
                why,
                runs,
            });
        }
        // One domain needs no split; several are each their own metric.
        if self.shown.len() > 1 {
            for d in &self.shown {
                out.extra_metrics.push(Metric::new(
                    &format!("energy_{d}"),
                    &format!("Energy, {}", d.to_ascii_uppercase()),
                    "J",
                ));
            }
        }
        if !self.repairs.is_empty() {
            out.warnings.push(format!(
                "{} run(s) ended in a damaged row, dropped (runs kept): {}",
                self.repairs.len(),
                self.repairs.join("; ")
            ));
        }
        for (encoding, runs) in self.encodings {
            out.warnings.push(format!(
                "{} file(s) were {encoding} (as Windows PowerShell's `>` writes), decoded: {}",
                runs.len(),
                examples(&runs)
            ));
        }
        for (sep, runs) in self.separators {
            let name = if sep == '\t' {
                "tab".to_string()
            } else {
                format!("`{sep}`")
            };
            out.warnings.push(format!(
                "{} file(s) use {name} as separator (EnergiBridge -s), read: {}",
                runs.len(),
                examples(&runs)
            ));
        }
    }
}

/// Up to five names, then how many more.
fn examples(names: &[String]) -> String {
    let shown: Vec<&str> = names.iter().take(5).map(String::as_str).collect();
    match names.len() {
        n if n > 5 => format!("{} and {} more", shown.join(", "), n - 5),
        _ => shown.join(", "),
    }
}

/// How a column's energy is obtained, in words.
fn how(c: &columns::EnergyColumn) -> String {
    match c.quantity {
        columns::Quantity::Counter { .. } => format!("counter in {}, differenced", c.unit),
        columns::Quantity::Power { .. } => format!(
            "power in {}, integrated as EnergiBridge's --summary does: Σ value × Delta, \
             every row but the last",
            c.unit
        ),
    }
}

/// The columns the total adds: `CPU_ENERGY (J)`, `PACKAGE_ENERGY (J) + GPU0_POWER (mWatts)
/// integrated`.
fn meter_label(run: &RunRead) -> String {
    run.chosen
        .iter()
        .filter(|c| c.in_total)
        .map(|c| match c.column.quantity {
            columns::Quantity::Counter { .. } => c.column.header.clone(),
            columns::Quantity::Power { .. } => format!("{} integrated", c.column.header),
        })
        .collect::<Vec<_>>()
        .join(" + ")
}

/// A file's run and how the file was decoded.
struct FileRead {
    run: RunRead,
    encoding: Option<&'static str>,
    separator: u8,
}

/// Reads the files on all cores (gunzip and CSV parsing dominate an analysis), results
/// in the order of `jobs`.
fn read_all(jobs: &[(&str, &PathBuf)], forced: &[String]) -> Vec<anyhow::Result<FileRead>> {
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(jobs.len().max(1));
    let chunk = jobs.len().div_ceil(threads).max(1);
    std::thread::scope(|scope| {
        let handles: Vec<_> = jobs
            .chunks(chunk)
            .map(|part| {
                scope.spawn(move || {
                    part.iter()
                        .map(|(_, f)| read_run(f, forced))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| {
                h.join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
            })
            .collect()
    })
}

/// One recording's bytes (already gunzipped), read as [`read_folder`] reads each file: its
/// duration in seconds and its energy columns. `forced` names the energy columns to use.
pub fn read_recording(bytes: Vec<u8>, forced: &[String]) -> anyhow::Result<(f64, Sampled)> {
    let decoded = decode::decode(bytes)?;
    let run = rows::read(&decoded, forced)?;
    Ok((run.time_s, run.sampled))
}

/// Reads one EnergiBridge CSV (gzip-compressed when its name ends in `.gz`): `forced` names
/// the energy columns to use, else the total's columns are chosen from the header.
fn read_run(path: &Path, forced: &[String]) -> anyhow::Result<FileRead> {
    let file = File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let mut bytes = Vec::new();
    let read = if path.extension().is_some_and(|e| e == "gz") {
        flate2::read::MultiGzDecoder::new(BufReader::new(file)).read_to_end(&mut bytes)
    } else {
        BufReader::new(file).read_to_end(&mut bytes)
    };
    read.with_context(|| format!("{}: cannot read", path.display()))?;
    let decoded = decode::decode(bytes).with_context(|| format!("{}", path.display()))?;
    let run = rows::read(&decoded, forced).with_context(|| format!("{}", path.display()))?;
    Ok(FileRead {
        run,
        encoding: decoded.encoding,
        separator: decoded.separator,
    })
}

fn sorted_entries(dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let mut entries = std::fs::read_dir(dir)
        .with_context(|| format!("cannot list {}", dir.display()))?
        .map(|e| e.map(|e| e.path()))
        .collect::<Result<Vec<_>, _>>()
        .with_context(|| format!("cannot list {}", dir.display()))?;
    // Natural order (run_2 before run_10) keeps tables and plots in the order people expect.
    entries.sort_by(|a, b| natural_cmp(&file_name(a), &file_name(b)));
    Ok(entries)
}

fn is_run_file(path: &Path) -> bool {
    let name = file_name(path);
    path.is_file() && (name.ends_with(".csv") || name.ends_with(".csv.gz"))
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

fn run_label(path: &Path) -> String {
    let name = file_name(path);
    name.trim_end_matches(".gz")
        .trim_end_matches(".csv")
        .to_string()
}

/// Compares names so that embedded numbers sort by value.
fn natural_cmp(a: &str, b: &str) -> std::cmp::Ordering {
    fn chunks(s: &str) -> Vec<(bool, String)> {
        let mut out: Vec<(bool, String)> = Vec::new();
        for c in s.chars() {
            let digit = c.is_ascii_digit();
            match out.last_mut() {
                Some((d, text)) if *d == digit => text.push(c),
                _ => out.push((digit, c.to_string())),
            }
        }
        out
    }
    let (ca, cb) = (chunks(a), chunks(b));
    for ((da, ta), (db, tb)) in ca.iter().zip(&cb) {
        let ord = if *da && *db {
            let (na, nb) = (ta.trim_start_matches('0'), tb.trim_start_matches('0'));
            na.len().cmp(&nb.len()).then_with(|| na.cmp(nb))
        } else {
            ta.cmp(tb)
        };
        if ord != std::cmp::Ordering::Equal {
            return ord;
        }
    }
    ca.len().cmp(&cb.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn natural_order() {
        let mut v = vec!["k_10", "k_2", "k_1"];
        v.sort_by(|a, b| natural_cmp(a, b));
        assert_eq!(v, ["k_1", "k_2", "k_10"]);
    }
}
