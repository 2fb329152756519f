//! EnergiBridge folders: each subfolder is a group, each `.csv` or `.csv.gz` inside is
//! one run sampled by EnergiBridge (`Delta,Time,<columns sorted by name>`; `Time` in
//! Unix milliseconds, energy columns cumulative joules).

use std::fs::File;
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context};

use super::{Ignored, IngestOptions, Ingested};
use crate::analysis::data::{CounterTrace, Energy, RawRun, Wrap};

/// Energy columns tried in order when none is configured: the whole CPU package on AMD
/// (`CPU_ENERGY`), then Intel's package domain.
pub const DEFAULT_ENERGY_COLUMNS: [&str; 2] = ["CPU_ENERGY (J)", "PACKAGE_ENERGY (J)"];

/// Reads an EnergiBridge folder. A folder whose CSVs sit directly inside (no
/// subfolders) is one group named after the folder.
pub(super) fn read_folder(dir: &Path, options: &IngestOptions) -> anyhow::Result<Ingested> {
    let mut out = Ingested {
        inputs: vec![dir.display().to_string()],
        ..Ingested::default()
    };
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
    let mut columns = std::collections::BTreeSet::new();
    let jobs: Vec<(&str, &PathBuf)> = groups
        .iter()
        .flat_map(|(g, files)| files.iter().map(move |f| (g.as_str(), f)))
        .collect();
    let column = options.energy_column.as_deref();
    for (group, _) in &groups {
        out.groups.push(group.clone());
    }
    for ((group, file), result) in jobs.iter().zip(read_all(&jobs, column)) {
        let run = run_label(file);
        match result {
            Ok((time_s, trace, column)) => {
                columns.insert(column);
                out.runs.push(RawRun {
                    group: group.to_string(),
                    run,
                    source: file.display().to_string(),
                    time_s,
                    energy: Energy::Counter(trace),
                    extras: Vec::new(),
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
    for column in columns {
        out.energy_source
            .measured
            .insert(format!("EnergiBridge {column}"));
    }
    Ok(out)
}

type RunResult = anyhow::Result<(f64, CounterTrace, String)>;

/// Reads the files on all cores (gunzip and CSV parsing dominate an analysis), results
/// in the order of `jobs`.
fn read_all(jobs: &[(&str, &PathBuf)], column: Option<&str>) -> Vec<RunResult> {
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
                        .map(|(_, f)| read_run(f, column))
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

/// Reads one EnergiBridge CSV (gzip-compressed when its name ends in `.gz`) and returns
/// the run's duration in seconds, the energy counter's trace and the column used.
///
/// The counter is followed delta by delta so that a wrap-around is caught at the
/// sample where it happens instead of hiding inside last − first.
pub fn read_run(path: &Path, column: Option<&str>) -> anyhow::Result<(f64, CounterTrace, String)> {
    let file = File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let reader: Box<dyn Read> = if path.extension().is_some_and(|e| e == "gz") {
        Box::new(flate2::read::MultiGzDecoder::new(BufReader::new(file)))
    } else {
        Box::new(BufReader::new(file))
    };
    parse(reader, column).with_context(|| format!("{}", path.display()))
}

fn parse(reader: impl Read, column: Option<&str>) -> anyhow::Result<(f64, CounterTrace, String)> {
    let mut csv = csv::ReaderBuilder::new()
        .has_headers(true)
        .from_reader(reader);
    let headers = csv
        .byte_headers()
        .context("cannot read the CSV header")?
        .clone();
    let find = |name: &str| headers.iter().position(|h| h == name.as_bytes());
    let time_idx =
        find("Time").ok_or_else(|| anyhow!("no `Time` column: not an EnergiBridge CSV"))?;
    let (energy_idx, energy_name) = match column {
        Some(name) => (
            find(name).ok_or_else(|| missing_column(&headers, Some(name)))?,
            name.to_string(),
        ),
        None => DEFAULT_ENERGY_COLUMNS
            .iter()
            .find_map(|name| find(name).map(|i| (i, name.to_string())))
            .ok_or_else(|| missing_column(&headers, None))?,
    };

    let mut first_time: Option<f64> = None;
    let mut last_time = 0.0;
    let mut prev: Option<f64> = None;
    let mut trace = CounterTrace {
        forward_j: 0.0,
        wraps: Vec::new(),
        max_reading_j: f64::NEG_INFINITY,
    };
    let mut record = csv::ByteRecord::new();
    let mut row = 0usize;
    while csv
        .read_byte_record(&mut record)
        .context("cannot read CSV")?
    {
        row += 1;
        let time = field(&record, time_idx, row, "Time")?;
        let energy = field(&record, energy_idx, row, &energy_name)?;
        first_time.get_or_insert(time);
        last_time = time;
        trace.max_reading_j = trace.max_reading_j.max(energy);
        if let Some(p) = prev {
            let delta = energy - p;
            if delta >= 0.0 {
                trace.forward_j += delta;
            } else {
                trace.wraps.push(Wrap {
                    row,
                    before_j: p,
                    after_j: energy,
                });
            }
        }
        prev = Some(energy);
    }
    let first_time = first_time.ok_or_else(|| anyhow!("no samples"))?;
    if row < 2 {
        bail!("only one sample: a run needs at least two");
    }
    Ok(((last_time - first_time) / 1000.0, trace, energy_name))
}

fn field(record: &csv::ByteRecord, idx: usize, row: usize, name: &str) -> anyhow::Result<f64> {
    let raw = record
        .get(idx)
        .ok_or_else(|| anyhow!("data row {row}: missing `{name}` field"))?;
    let text =
        std::str::from_utf8(raw).map_err(|_| anyhow!("data row {row}: `{name}` is not text"))?;
    let value: f64 = text
        .trim()
        .parse()
        .map_err(|_| anyhow!("data row {row}: `{name}` = {text:?} is not a number"))?;
    if !value.is_finite() {
        bail!("data row {row}: `{name}` = {text:?} is not finite");
    }
    Ok(value)
}

fn missing_column(headers: &csv::ByteRecord, wanted: Option<&str>) -> anyhow::Error {
    let energy: Vec<String> = headers
        .iter()
        .map(|h| String::from_utf8_lossy(h).into_owned())
        .filter(|h| h.contains("ENERGY"))
        .collect();
    let wanted = match wanted {
        Some(name) => format!("`{name}`"),
        None => DEFAULT_ENERGY_COLUMNS
            .map(|c| format!("`{c}`"))
            .join(" or "),
    };
    anyhow!(
        "no {wanted} column; energy columns present: {}",
        if energy.is_empty() {
            "none".to_string()
        } else {
            energy.join(", ")
        }
    )
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
    fn wrap_is_caught_where_it_happens() {
        let csv =
            "Delta,Time,CPU_ENERGY (J)\n0,1000,65000\n200,1200,65500\n200,1400,100\n200,1600,600\n";
        let (time, trace, col) = parse(csv.as_bytes(), None).expect("parses");
        assert_eq!(col, "CPU_ENERGY (J)");
        assert!((time - 0.6).abs() < 1e-12);
        assert_eq!(trace.forward_j, 1000.0);
        assert_eq!(
            trace.wraps,
            vec![Wrap {
                row: 3,
                before_j: 65500.0,
                after_j: 100.0
            }]
        );
    }

    #[test]
    fn natural_order() {
        let mut v = vec!["k_10", "k_2", "k_1"];
        v.sort_by(|a, b| natural_cmp(a, b));
        assert_eq!(v, ["k_1", "k_2", "k_10"]);
    }
}
