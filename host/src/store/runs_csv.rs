//! runs.csv, the one owner of its format: the column list ([`columns`]), the writer
//! ([`RunsCsv`]: one row per run, appended and fsynced as each run ends, so a crash of the host
//! loses at most the run in flight) and the reader everyone else uses ([`RunsReader`]: the
//! resume, the duration forecast and the analysis all look columns up by name).
//!
//! The header is fixed when the file is created: the contract's columns, then per-phase,
//! per-epoch and per-domain columns, then the later additions. A row is each column's cell for
//! one [`RunRecord`], so header and rows cannot disagree.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context;

use super::record::{Phase, RunRecord, RunStatus};

/// One column of runs.csv.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Column {
    Iteration,
    Order,
    Plugin,
    Framework,
    Status,
    TimeS,
    EnergyJ,
    PowerW,
    EdpJs,
    CpuTimeS,
    Accuracy,
    Loss,
    Meter,
    Error,
    /// `setup_time_s`, `train_time_s`, `eval_time_s`.
    PhaseTime(Phase),
    /// `setup_energy_j`, …
    PhaseEnergy(Phase),
    /// `epoch<n>_time_s`, n from 1.
    EpochTime(u32),
    EpochEnergy(u32),
    /// `energy_<domain>_j`, e.g. `energy_package_0_j`.
    Domain(String),
    Threads,
    StartedUnixMs,
    Faults,
    RestS,
    Retry,
    EnergyDynamicJ,
    /// `K/N` for a run of shard K of N (`host run --shard`), empty otherwise.
    Shard,
    /// The machine that measured the run.
    Node,
    /// The plugin's notes, `key=value; key=value` (campaigns before it lack the column).
    Notes,
    /// `init`: `host` or `framework` (campaigns before it lack the column).
    Init,
}

/// The contract's leading columns (the README's runs.csv section); scripts depend on them:
/// extend, don't break.
pub const BASE_COLUMNS: [Column; 14] = [
    Column::Iteration,
    Column::Order,
    Column::Plugin,
    Column::Framework,
    Column::Status,
    Column::TimeS,
    Column::EnergyJ,
    Column::PowerW,
    Column::EdpJs,
    Column::CpuTimeS,
    Column::Accuracy,
    Column::Loss,
    Column::Meter,
    Column::Error,
];

/// The measured phases, in column order.
const PHASES: [Phase; 3] = [Phase::Setup, Phase::Train, Phase::Eval];

/// Every column of a campaign's runs.csv, in order: `epochs` and `domains` fix the extra ones.
pub fn columns(epochs: u32, domains: &[String]) -> Vec<Column> {
    let mut c = BASE_COLUMNS.to_vec();
    for phase in PHASES {
        c.push(Column::PhaseTime(phase));
        c.push(Column::PhaseEnergy(phase));
    }
    for e in 1..=epochs {
        c.push(Column::EpochTime(e));
        c.push(Column::EpochEnergy(e));
    }
    c.extend(domains.iter().map(|d| Column::Domain(d.clone())));
    c.extend([
        Column::Threads,
        Column::StartedUnixMs,
        Column::Faults,
        Column::RestS,
        Column::Retry,
        Column::EnergyDynamicJ,
    ]);
    c.extend(CLUSTER_COLUMNS);
    c.push(Column::Notes);
    c.push(Column::Init);
    c
}

/// Columns added for campaigns sharded across machines (issue 16). A runs.csv written before
/// them lacks them: it is still read, and resumed without them.
const CLUSTER_COLUMNS: [Column; 2] = [Column::Shard, Column::Node];

/// How many columns each later addition put at the end of runs.csv, newest first: `init`
/// (issue 14), `notes` (issue 17), the cluster columns (issue 16).
const LATER_ADDITIONS: [usize; 3] = [1, 1, CLUSTER_COLUMNS.len()];

/// The columns of an existing runs.csv whose header is `header`: this campaign's columns, or
/// the same without the later additions (a file written by an older host: without `init`,
/// also without `notes`, also without the cluster columns). `None` when the header is none of
/// these.
fn accepted_columns(header: &[String], epochs: u32, domains: &[String]) -> Option<Vec<Column>> {
    let mut candidate = columns(epochs, domains);
    let mut candidates = vec![candidate.clone()];
    for added in LATER_ADDITIONS {
        candidate.truncate(candidate.len() - added);
        candidates.push(candidate.clone());
    }
    candidates
        .into_iter()
        .find(|c| c.iter().map(Column::name).eq(header.iter().cloned()))
}

impl Column {
    /// The header cell.
    pub fn name(&self) -> String {
        let fixed = match self {
            Column::Iteration => "iteration",
            Column::Order => "order",
            Column::Plugin => "plugin",
            Column::Framework => "framework",
            Column::Status => "status",
            Column::TimeS => "time_s",
            Column::EnergyJ => "energy_j",
            Column::PowerW => "power_w",
            Column::EdpJs => "edp_js",
            Column::CpuTimeS => "cpu_time_s",
            Column::Accuracy => "accuracy",
            Column::Loss => "loss",
            Column::Meter => "meter",
            Column::Error => "error",
            Column::Threads => "threads",
            Column::StartedUnixMs => "started_unix_ms",
            Column::Faults => "faults",
            Column::RestS => "rest_s",
            Column::Retry => "retry",
            Column::EnergyDynamicJ => "energy_dynamic_j",
            Column::Shard => "shard",
            Column::Node => "node",
            Column::Notes => "notes",
            Column::Init => "init",
            Column::PhaseTime(p) => return format!("{p}_time_s"),
            Column::PhaseEnergy(p) => return format!("{p}_energy_j"),
            Column::EpochTime(e) => return format!("epoch{e}_time_s"),
            Column::EpochEnergy(e) => return format!("epoch{e}_energy_j"),
            Column::Domain(d) => return domain_column(d),
        };
        fixed.to_string()
    }

    /// This column's cell for `r`: numbers in full precision, empty when unknown.
    fn cell(&self, r: &RunRecord) -> String {
        let phase = |p: Phase| match p {
            Phase::Setup => r.setup,
            Phase::Train => r.train,
            Phase::Eval => r.eval,
            Phase::Prepare | Phase::Energy | Phase::Worker => None,
        };
        let epoch = |e: u32| r.epochs.get(e as usize - 1).copied();
        match self {
            Column::Iteration => r.iteration.to_string(),
            Column::Order => r.order.to_string(),
            Column::Plugin => r.plugin.clone(),
            Column::Framework => r.framework.clone(),
            Column::Status => r.status.to_string(),
            Column::TimeS => num(r.time_s),
            Column::EnergyJ => num(r.energy_j),
            Column::PowerW => num(r.power_w()),
            Column::EdpJs => num(r.edp_js()),
            Column::CpuTimeS => num(r.cpu_time_s),
            Column::Accuracy => num(r.accuracy),
            Column::Loss => num(r.loss),
            Column::Meter => r.meter.clone(),
            Column::Error => one_line(&r.error),
            Column::PhaseTime(p) => num(phase(*p).map(|s| s.0)),
            Column::PhaseEnergy(p) => num(phase(*p).map(|s| s.1)),
            Column::EpochTime(e) => num(epoch(*e).map(|s| s.0)),
            Column::EpochEnergy(e) => num(epoch(*e).map(|s| s.1)),
            Column::Domain(d) => num(r.domains.iter().find(|(n, _)| n == d).map(|(_, j)| *j)),
            Column::Threads => r.threads.map(|t| t.to_string()).unwrap_or_default(),
            Column::StartedUnixMs => r.started_unix_ms.map(|t| t.to_string()).unwrap_or_default(),
            Column::Faults => one_line(&r.faults.join("; ")),
            Column::RestS => num(r.rest_s),
            Column::Retry => r.retry.to_string(),
            Column::EnergyDynamicJ => num(r.energy_dynamic_j),
            Column::Shard => r.shard.map(|s| s.to_string()).unwrap_or_default(),
            Column::Node => r.node.clone(),
            Column::Notes => {
                let pairs: Vec<String> = r.notes.iter().map(|(k, v)| format!("{k}={v}")).collect();
                one_line(&pairs.join("; "))
            }
            Column::Init => r.init.map(|i| i.as_str().to_string()).unwrap_or_default(),
        }
    }
}

/// A row already in runs.csv, as much as resuming needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExistingRun {
    pub iteration: u32,
    pub plugin: String,
    pub ok: bool,
    pub retry: u32,
}

/// An open runs.csv that rows are appended to.
pub struct RunsCsv {
    path: PathBuf,
    file: File,
    columns: Vec<Column>,
}

impl RunsCsv {
    /// Creates `path` with its header (epochs and domains fix the extra columns).
    pub fn create(path: &Path, epochs: u32, domains: &[String]) -> anyhow::Result<RunsCsv> {
        let columns = columns(epochs, domains);
        let mut file = OpenOptions::new()
            .create_new(true)
            .write(true)
            .open(path)
            .with_context(|| format!("cannot create {}", path.display()))?;
        file.write_all(&csv_line(columns.iter().map(Column::name))?)?;
        file.sync_all()?;
        // The new file's name must survive a crash too, not only its bytes.
        crate::fsx::sync_parent(path)
            .with_context(|| format!("cannot sync the folder of {}", path.display()))?;
        Ok(RunsCsv {
            path: path.to_path_buf(),
            file,
            columns,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn header(&self) -> Vec<String> {
        self.columns.iter().map(Column::name).collect()
    }

    /// Reopens an existing runs.csv to append (resume). Its header must be the one this
    /// campaign would write (or an older host's, without the cluster columns: rows are then
    /// written without them), or the rows would not line up. A last line cut short by a crash
    /// (no newline) is removed: that run is measured again.
    pub fn reopen(
        path: &Path,
        epochs: u32,
        domains: &[String],
    ) -> anyhow::Result<(RunsCsv, Vec<ExistingRun>)> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        let complete = cut_partial_last_line(path, &text)?;
        let mut reader = RunsReader::from_bytes(path, complete.as_bytes())?;
        let Some(columns) = accepted_columns(reader.header(), epochs, domains) else {
            let expected: Vec<String> = columns(epochs, domains).iter().map(Column::name).collect();
            anyhow::bail!(
                "{}: its columns differ from what this campaign writes (different energy domains or epochs?)\n  found:    {}\n  expected: {}",
                path.display(),
                reader.header().join(","),
                expected.join(",")
            );
        };
        let existing = existing_runs(&mut reader, path)?;
        let file = OpenOptions::new()
            .append(true)
            .open(path)
            .with_context(|| format!("cannot append to {}", path.display()))?;
        let csv = RunsCsv {
            path: path.to_path_buf(),
            file,
            columns,
        };
        Ok((csv, existing))
    }

    /// Appends one row and fsyncs it.
    pub fn append(&mut self, r: &RunRecord) -> anyhow::Result<()> {
        let bytes = csv_line(self.columns.iter().map(|c| c.cell(r)))?;
        self.file
            .write_all(&bytes)
            .and_then(|_| self.file.sync_data())
            .with_context(|| format!("cannot append to {}", self.path.display()))
    }
}

/// `text` without a last line cut short by a crash, cut from the file in place too: rewriting
/// the file would empty it first, and a crash then would lose every finished run.
fn cut_partial_last_line<'t>(path: &Path, text: &'t str) -> anyhow::Result<&'t str> {
    let complete = match text.rfind('\n') {
        Some(i) => &text[..=i],
        None => "",
    };
    if complete.len() != text.len() {
        let repair = || -> std::io::Result<()> {
            let f = OpenOptions::new().write(true).open(path)?;
            f.set_len(complete.len() as u64)?;
            f.sync_all()
        };
        repair().with_context(|| format!("cannot repair {}", path.display()))?;
    }
    Ok(complete)
}

fn existing_runs(reader: &mut RunsReader<&[u8]>, path: &Path) -> anyhow::Result<Vec<ExistingRun>> {
    let at = |c: Column| reader.column(&c.name());
    let (it, pl, st, rt) = (
        at(Column::Iteration),
        at(Column::Plugin),
        at(Column::Status),
        at(Column::Retry),
    );
    let mut existing = Vec::new();
    let mut record = csv::StringRecord::new();
    let mut row = 1;
    while reader
        .read(&mut record)
        .with_context(|| format!("{}: row {} is unreadable", path.display(), row + 1))?
    {
        row += 1;
        let field = |c: Option<usize>| c.and_then(|c| record.get(c)).unwrap_or("");
        existing.push(ExistingRun {
            iteration: field(it)
                .parse()
                .with_context(|| format!("{}: row {row}: bad iteration", path.display()))?,
            plugin: field(pl).to_string(),
            ok: RunStatus::from_cell(field(st)) == Some(RunStatus::Ok),
            retry: field(rt).parse().unwrap_or(0),
        });
    }
    Ok(existing)
}

/// A runs.csv — or any CSV with a header — read row by row, its columns found by name.
pub struct RunsReader<R: std::io::Read> {
    csv: csv::Reader<R>,
    header: Vec<String>,
}

impl RunsReader<std::io::BufReader<File>> {
    /// Opens `path` and reads its header.
    pub fn open(path: &Path) -> anyhow::Result<Self> {
        let file = File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
        Self::new(path, std::io::BufReader::new(file))
    }
}

impl<'a> RunsReader<&'a [u8]> {
    /// Reads CSV text already in memory (`path` names it in errors).
    pub fn from_bytes(path: &Path, bytes: &'a [u8]) -> anyhow::Result<Self> {
        Self::new(path, bytes)
    }
}

impl<R: std::io::Read> RunsReader<R> {
    fn new(path: &Path, input: R) -> anyhow::Result<Self> {
        let mut csv = csv::Reader::from_reader(input);
        let header = csv
            .headers()
            .with_context(|| format!("{}: cannot read the CSV header", path.display()))?
            .iter()
            .map(String::from)
            .collect();
        Ok(RunsReader { csv, header })
    }

    /// The header as written.
    pub fn header(&self) -> &[String] {
        &self.header
    }

    /// The position of the column called `name` (surrounding blanks in the header ignored).
    pub fn column(&self, name: &str) -> Option<usize> {
        self.header.iter().position(|h| h.trim() == name)
    }

    /// Which of `names` the header lacks.
    pub fn missing<'n>(&self, names: &[&'n str]) -> Vec<&'n str> {
        names
            .iter()
            .copied()
            .filter(|n| self.column(n).is_none())
            .collect()
    }

    /// Reads the next row into `record`; false at the end.
    pub fn read(&mut self, record: &mut csv::StringRecord) -> csv::Result<bool> {
        self.csv.read_record(record)
    }
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

/// One CSV line (quoted where needed, newline-terminated).
fn csv_line<I: IntoIterator<Item = String>>(cells: I) -> anyhow::Result<Vec<u8>> {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(cells)?;
    w.into_inner().context("csv buffer")
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::Shard;

    const HEADER: &str = "iteration,order,plugin,framework,status,time_s,energy_j,power_w,edp_js,\
cpu_time_s,accuracy,loss,meter,error,setup_time_s,setup_energy_j,train_time_s,train_energy_j,\
eval_time_s,eval_energy_j,epoch1_time_s,epoch1_energy_j,epoch2_time_s,epoch2_energy_j,\
energy_package_0_j,threads,started_unix_ms,faults,rest_s,retry,energy_dynamic_j,shard,node,notes,init";

    fn record() -> RunRecord {
        RunRecord {
            iteration: 2,
            order: 1,
            plugin: "spin".into(),
            framework: "spin 1".into(),
            status: RunStatus::Ok,
            time_s: Some(2.0),
            energy_j: Some(10.0),
            cpu_time_s: Some(1.5),
            accuracy: Some(0.75),
            loss: None,
            meter: "estimate: x".into(),
            error: "two\n lines".into(),
            threads: Some(1),
            started_unix_ms: Some(99),
            setup: Some((0.5, 1.0)),
            train: Some((1.0, 8.0)),
            eval: Some((0.5, 1.0)),
            epochs: vec![(0.25, 3.0)],
            domains: vec![("package-0".into(), 10.0)],
            faults: vec!["a".into(), "b".into()],
            rest_s: Some(0.0),
            retry: 1,
            energy_dynamic_j: Some(4.0),
            shard: Some(Shard { index: 2, count: 3 }),
            node: "n01".into(),
            notes: vec![
                ("backend".into(), "flex, rayon".into()),
                ("initial_weights".into(), "ignored\n".into()),
            ],
            init: Some(crate::plan::Init::Host),
        }
    }

    #[test]
    fn header_and_rows_follow_one_column_list() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("runs.csv");
        let domains = vec!["package-0".to_string()];
        let mut csv = RunsCsv::create(&path, 2, &domains).unwrap();
        assert_eq!(csv.header().join(","), HEADER);
        csv.append(&record()).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(
            text.lines().nth(1).unwrap(),
            "2,1,spin,spin 1,ok,2,10,5,20,1.5,0.75,,estimate: x,two lines,0.5,1,1,8,0.5,1,\
             0.25,3,,,10,1,99,a; b,0,1,4,2/3,n01,\"backend=flex, rayon; initial_weights=ignored\",host"
        );
        assert!(
            RunsCsv::create(&path, 2, &domains).is_err(),
            "never overwrites"
        );
    }

    #[test]
    fn reopen_cuts_a_partial_line_and_refuses_other_columns() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("runs.csv");
        let domains = vec!["package-0".to_string()];
        let mut csv = RunsCsv::create(&path, 2, &domains).unwrap();
        csv.append(&record()).unwrap();
        let mut failed = record();
        failed.status = RunStatus::Failed;
        failed.retry = 0;
        csv.append(&failed).unwrap();
        drop(csv);
        let mut f = OpenOptions::new().append(true).open(&path).unwrap();
        f.write_all(b"3,2,sp").unwrap();

        let (_, existing) = RunsCsv::reopen(&path, 2, &domains).unwrap();
        let ok = |ok, retry| ExistingRun {
            iteration: 2,
            plugin: "spin".into(),
            ok,
            retry,
        };
        assert_eq!(existing, vec![ok(true, 1), ok(false, 0)]);
        assert!(std::fs::read_to_string(&path).unwrap().ends_with('\n'));

        let err = RunsCsv::reopen(&path, 3, &domains).err().unwrap();
        assert!(format!("{err:#}").contains("columns differ"), "{err:#}");
    }

    /// A campaign started by a host without the `shard`, `node`, `notes` and `init` columns
    /// (or without the later ones only) resumes: its rows keep lining up with its own header.
    #[test]
    fn an_older_runs_csv_without_cluster_columns_is_resumed_as_it_is() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("runs.csv");
        let old_header = HEADER.strip_suffix(",shard,node,notes,init").unwrap();
        std::fs::write(&path, format!("{old_header}\n")).unwrap();
        let domains = vec!["package-0".to_string()];
        let (mut csv, existing) = RunsCsv::reopen(&path, 2, &domains).unwrap();
        assert!(existing.is_empty());
        assert_eq!(csv.header().join(","), old_header);
        csv.append(&record()).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        let row = text.lines().nth(1).unwrap();
        assert_eq!(
            row.split(',').count(),
            old_header.split(',').count(),
            "{row}"
        );
        assert!(row.ends_with(",1,4"), "no shard or node cell: {row}");

        // A header from before `init` keeps the notes.
        let without_init = HEADER.strip_suffix(",init").unwrap();
        std::fs::write(&path, format!("{without_init}\n")).unwrap();
        let (mut csv, _) = RunsCsv::reopen(&path, 2, &domains).unwrap();
        assert_eq!(csv.header().join(","), without_init);
        csv.append(&record()).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        let row = text.lines().nth(1).unwrap();
        assert!(row.ends_with("ignored\""), "no init cell: {row}");

        // A header from before `notes` only keeps the cluster columns.
        let without_notes = HEADER.strip_suffix(",notes,init").unwrap();
        std::fs::write(&path, format!("{without_notes}\n")).unwrap();
        let (mut csv, _) = RunsCsv::reopen(&path, 2, &domains).unwrap();
        assert_eq!(csv.header().join(","), without_notes);
        csv.append(&record()).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        let row = text.lines().nth(1).unwrap();
        assert!(row.ends_with(",2/3,n01"), "no notes cell: {row}");

        // Some other subset of the columns is still refused.
        let cut = HEADER.strip_suffix(",node,notes,init").unwrap();
        std::fs::write(&path, format!("{cut}\n")).unwrap();
        let err = RunsCsv::reopen(&path, 2, &domains).err().unwrap();
        assert!(format!("{err:#}").contains("columns differ"), "{err:#}");
    }

    #[test]
    fn the_reader_finds_columns_by_name() {
        let text = " plugin ,status\na,ok\n";
        let mut r = RunsReader::from_bytes(Path::new("x.csv"), text.as_bytes()).unwrap();
        assert_eq!(r.column("status"), Some(1));
        assert_eq!(r.column("plugin"), Some(0));
        assert_eq!(r.missing(&["plugin", "time_s"]), vec!["time_s"]);
        let mut rec = csv::StringRecord::new();
        assert!(r.read(&mut rec).unwrap());
        assert_eq!(rec.get(1), Some("ok"));
        assert!(!r.read(&mut rec).unwrap());
    }
}
