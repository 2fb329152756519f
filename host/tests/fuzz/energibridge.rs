//! The EnergiBridge reader on arbitrary bytes and on recordings made of its own columns with
//! any values, separators, encodings, damaged rows and gzip, through `load_all` and `derive`
//! (counter wraps, power integration, the physics checks) as `host analyze` reads them: one
//! recording in memory, and whole folders (fewer cases: each writes files).

use std::io::Write;

use joulebench::analysis::data::{Energy, RawRun};
use joulebench::analysis::ingest::{
    load_all, read_energibridge_recording, IngestOptions, Ingested,
};
use joulebench::analysis::metrics::{derive, WrapPolicy};
use proptest::prelude::*;

use super::{config, config_files, number_text};

/// The wrap policies `clean` offers: infer the modulus, drop the run, or a given modulus.
const POLICIES: [WrapPolicy; 3] = [
    WrapPolicy::Unwrap { wrap_joules: None },
    WrapPolicy::Drop,
    WrapPolicy::Unwrap {
        wrap_joules: Some(65_536.0),
    },
];

/// Headers EnergiBridge writes, and a few it does not.
const HEADERS: [&str; 14] = [
    "CPU_ENERGY (J)",
    "PACKAGE_ENERGY (J)",
    "DRAM_ENERGY (J)",
    "CORE0_ENERGY (J)",
    "SYSTEM_POWER (Watts)",
    "CPU_POWER (Watts)",
    "GPU0_POWER (mWatts)",
    "GPU1_POWER",
    "CPU_ENERGY_ESTIMATE (J)",
    "PP0_ENERGY (uJ)",
    "CPU_USAGE_0",
    "TOTAL_MEMORY",
    "_ENERGY (J)",
    "X (Y",
];

/// A recording: `Delta,Time,` (each maybe left out) and some of [`HEADERS`], then rows.
#[derive(Debug, Clone)]
struct Recording {
    delta: bool,
    time: bool,
    columns: Vec<usize>,
    rows: Vec<Vec<String>>,
    separator: u8,
    /// Cut the text at this byte (a recording stopped mid-row).
    cut: Option<usize>,
    gzip: bool,
    utf16: bool,
}

/// Row values that mostly look like a recording (a clock that advances, counters that grow)
/// and sometimes do not.
fn cell() -> impl Strategy<Value = String> {
    prop_oneof![6 => (0u64..5_000_000).prop_map(|x| x.to_string()), 3 => number_text()]
}

fn recording() -> impl Strategy<Value = Recording> {
    (
        any::<bool>(),
        prop::bool::weighted(0.9),
        prop::collection::vec(0..HEADERS.len(), 0..4),
        prop::collection::vec(prop::collection::vec(cell(), 0..7), 0..12),
        prop::sample::select(vec![b',', b';', b'\t']),
        prop::option::weighted(0.2, any::<usize>()),
        prop::bool::weighted(0.2),
        prop::bool::weighted(0.1),
    )
        .prop_map(
            |(delta, time, columns, rows, separator, cut, gzip, utf16)| Recording {
                delta,
                time,
                columns,
                rows,
                separator,
                cut,
                gzip,
                utf16,
            },
        )
}

impl Recording {
    fn bytes(&self) -> Vec<u8> {
        let sep = (self.separator as char).to_string();
        let mut header: Vec<&str> = Vec::new();
        if self.delta {
            header.push("Delta");
        }
        if self.time {
            header.push("Time");
        }
        header.extend(self.columns.iter().map(|&i| HEADERS[i]));
        let mut text = header.join(&sep) + "\n";
        for row in &self.rows {
            text.push_str(&row.join(&sep));
            text.push('\n');
        }
        if let Some(at) = self.cut {
            let mut at = at % (text.len() + 1);
            while !text.is_char_boundary(at) {
                at -= 1;
            }
            text.truncate(at);
        }
        if self.utf16 {
            let mut bytes = vec![0xFF, 0xFE];
            bytes.extend(text.encode_utf16().flat_map(u16::to_le_bytes));
            return bytes;
        }
        text.into_bytes()
    }
}

/// Writes each run under `group/`, then reads the folder as `host analyze` would.
fn analyse(runs: &[(Vec<u8>, bool)]) -> Result<(), TestCaseError> {
    let dir = tempfile::tempdir().expect("temp dir");
    let group = dir.path().join("group");
    std::fs::create_dir_all(&group).expect("mkdir");
    for (i, (bytes, gz)) in runs.iter().enumerate() {
        let (name, bytes) = if *gz {
            let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            enc.write_all(bytes).expect("gzip in memory");
            (
                format!("run_{i}.csv.gz"),
                enc.finish().expect("gzip in memory"),
            )
        } else {
            (format!("run_{i}.csv"), bytes.clone())
        };
        std::fs::write(group.join(name), bytes).expect("write");
    }
    let Ok(ingested) = load_all(&[dir.path()], &IngestOptions::default()) else {
        return Ok(());
    };
    prop_assert_eq!(ingested.runs.len() + ingested.ignored.len(), runs.len());
    for policy in POLICIES {
        let (table, _faults) = derive(&ingested, policy);
        prop_assert_eq!(table.rows.len(), ingested.runs.len());
    }
    Ok(())
}

/// One recording's bytes through the reader, then `derive` under each wrap policy.
fn read_one(bytes: Vec<u8>) -> Result<(), TestCaseError> {
    let Ok((time_s, sampled)) = read_energibridge_recording(bytes, &[]) else {
        return Ok(());
    };
    prop_assert!(sampled.rows >= 1);
    let run = RawRun {
        node: String::new(),
        group: "g".into(),
        run: "1".into(),
        source: "fuzz".into(),
        time_s,
        meter: "fuzz".into(),
        energy: Energy::Sampled(sampled),
        extras: Vec::new(),
    };
    let ingested = Ingested {
        groups: vec!["g".into()],
        runs: vec![run],
        ..Ingested::default()
    };
    for policy in POLICIES {
        let (table, _faults) = derive(&ingested, policy);
        prop_assert_eq!(table.rows.len(), 1);
    }
    Ok(())
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn any_bytes_are_a_recording_or_refused(bytes in prop::collection::vec(any::<u8>(), 0..300)) {
        read_one(bytes)?;
    }

    #[test]
    fn recordings_of_any_values_are_read_or_refused(rec in recording()) {
        read_one(rec.bytes())?;
    }
}

proptest! {
    #![proptest_config(config_files())]

    #[test]
    fn any_bytes_in_a_folder_are_a_run_or_an_unreadable_one(bytes in prop::collection::vec(any::<u8>(), 0..300), gz in prop::bool::weighted(0.1)) {
        analyse(&[(bytes, gz)])?;
    }

    #[test]
    fn folders_of_recordings_are_read_or_refused(recs in prop::collection::vec(recording(), 1..3)) {
        let runs: Vec<(Vec<u8>, bool)> = recs.iter().map(|r| (r.bytes(), r.gzip)).collect();
        analyse(&runs)?;
    }
}
