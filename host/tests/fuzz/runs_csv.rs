//! runs.csv's two readers — the analysis's (`host analyze`) and the store's (`--resume`) — on
//! arbitrary bytes and on files with the real header and rows of any cells, cut anywhere.

use std::path::Path;

use joulebench::analysis::ingest::read_runs_table;
use joulebench::store::runs_csv::{columns, Column, RunsCsv};
use proptest::prelude::*;

use super::{config, config_files, number_text};

/// A cell for `column`: mostly what host run writes there, sometimes anything.
fn cell(column: &Column) -> BoxedStrategy<String> {
    let usual = match column {
        Column::Status => prop::sample::select(vec!["ok", "failed", "", "OK", "skipped"])
            .prop_map(String::from)
            .boxed(),
        Column::Plugin | Column::Framework | Column::Meter | Column::Error | Column::Faults => {
            "[a-z ,\"]{0,6}".boxed()
        }
        Column::Iteration | Column::Order | Column::Retry | Column::Threads => {
            (0u32..5).prop_map(|x| x.to_string()).boxed()
        }
        _ => number_text().boxed(),
    };
    prop_oneof![8 => usual, 1 => number_text(), 1 => "\\PC{0,6}"].boxed()
}

/// A runs.csv as `host run` lays it out for 2 epochs and one domain: its header, rows of
/// cells (a row may be short or long), maybe cut at a byte.
fn runs_csv() -> impl Strategy<Value = String> {
    let columns = columns(2, &["package-0".to_string()]);
    let header: Vec<String> = columns.iter().map(Column::name).collect();
    let row = columns.into_iter().map(|c| cell(&c)).collect::<Vec<_>>();
    (
        prop::collection::vec((row, 0usize..3), 0..6),
        prop::option::weighted(0.3, any::<usize>()),
    )
        .prop_map(move |(rows, cut)| {
            let mut text = header.join(",") + "\n";
            for (cells, shape) in rows {
                let cells = match shape {
                    0 => cells,
                    1 => cells[..cells.len() / 2].to_vec(),
                    _ => [cells.clone(), cells].concat(),
                };
                let quoted: Vec<String> = cells
                    .iter()
                    .map(|c| {
                        if c.contains([',', '"', '\n']) {
                            format!("\"{}\"", c.replace('"', "\"\""))
                        } else {
                            c.clone()
                        }
                    })
                    .collect();
                text.push_str(&quoted.join(","));
                text.push('\n');
            }
            if let Some(at) = cut {
                let mut at = at % (text.len() + 1);
                while !text.is_char_boundary(at) {
                    at -= 1;
                }
                text.truncate(at);
            }
            text
        })
}

/// `host analyze`'s reader on `bytes`: every row it takes has finite figures, and every row
/// is taken or ignored.
fn analyse(bytes: &[u8]) -> Result<(), TestCaseError> {
    let Ok(ingested) = read_runs_table(Path::new("fuzz/runs.csv"), bytes) else {
        return Ok(());
    };
    for run in &ingested.runs {
        prop_assert!(run.time_s.is_finite(), "{run:?}");
    }
    let rows = csv::Reader::from_reader(bytes).into_records().count();
    prop_assert_eq!(ingested.runs.len() + ingested.ignored.len(), rows);
    Ok(())
}

/// `--resume`'s reader on `bytes` written as runs.csv: it finds no more runs than lines.
fn reopen(bytes: &[u8]) -> Result<(), TestCaseError> {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("runs.csv");
    std::fs::write(&path, bytes).expect("write");
    if let Ok((_csv, existing)) = RunsCsv::reopen(&path, 2, &["package-0".to_string()]) {
        let lines = std::fs::read_to_string(&path)
            .expect("still text")
            .lines()
            .count();
        prop_assert!(existing.len() < lines.max(1));
    }
    Ok(())
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn any_bytes_are_analysed_or_refused(bytes in prop::collection::vec(any::<u8>(), 0..300)) {
        analyse(&bytes)?;
    }

    #[test]
    fn the_real_header_over_any_rows_is_analysed_or_refused(text in runs_csv()) {
        analyse(text.as_bytes())?;
    }
}

proptest! {
    #![proptest_config(config_files())]

    #[test]
    fn any_bytes_are_reopened_or_refused(bytes in prop::collection::vec(any::<u8>(), 0..300)) {
        reopen(&bytes)?;
    }

    #[test]
    fn the_real_header_over_any_rows_is_reopened_or_refused(text in runs_csv()) {
        reopen(text.as_bytes())?;
    }
}
