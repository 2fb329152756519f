//! The manifest parser on arbitrary text and on the shipped manifest with one line changed,
//! removed, repeated or cut. Whatever it accepts is within the bounds, and its saved copy
//! parses to the same campaign.

use std::path::Path;

use joulebench::manifest::bounds::{MAX_BATCH_SIZE, MAX_EPOCHS, MAX_ITERATIONS};
use joulebench::manifest::Manifest;
use proptest::prelude::*;

use super::{config, number_text};

const QUICK: &str = include_str!("../../../manifests/quick.toml");

/// Parses `text`; an accepted manifest must hold the invariants.
fn check(text: String) -> Result<(), TestCaseError> {
    let Ok(m) = Manifest::parse(Path::new("manifests/fuzz.toml"), text) else {
        return Ok(());
    };
    let e = &m.experiment;
    prop_assert!((1..=MAX_ITERATIONS).contains(&e.iterations));
    prop_assert!((1..=MAX_EPOCHS).contains(&m.training.epochs));
    prop_assert!((1..=MAX_BATCH_SIZE).contains(&m.training.batch_size));
    prop_assert!(!m.plugins.is_empty());
    // The copy a campaign folder saves is the same campaign, read from elsewhere.
    let copy = Manifest::parse(
        Path::new("/results/c/manifest.toml"),
        m.portable_text.clone(),
    );
    let copy = copy.map_err(|e| TestCaseError::fail(format!("the copy is refused: {e:#}")))?;
    prop_assert_eq!(copy.experiment.iterations, e.iterations);
    prop_assert_eq!(copy.plugins.len(), m.plugins.len());
    for (a, b) in copy.plugins.iter().zip(&m.plugins) {
        prop_assert_eq!(
            joulebench::manifest::absolute(&a.path),
            joulebench::manifest::absolute(&b.path)
        );
    }
    Ok(())
}

/// A value that may replace the right-hand side of a `key = value` line.
fn value() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => number_text(),
        2 => "\\PC{0,12}".prop_map(|s| format!("{s:?}")),
        1 => Just("true".to_string()),
        1 => Just("{ until_idle = true, max = \"1s\", within = 0.5 }".to_string()),
        1 => Just("[]".to_string()),
        1 => Just("\"1000000000h\"".to_string()),
    ]
}

/// One structured change to the lines of a manifest.
#[derive(Debug, Clone)]
enum Change {
    SetValue(usize, String),
    Remove(usize),
    Repeat(usize),
    Insert(usize, String),
    CutAt(usize),
}

fn change() -> impl Strategy<Value = Change> {
    prop_oneof![
        4 => (any::<usize>(), value()).prop_map(|(i, v)| Change::SetValue(i, v)),
        1 => any::<usize>().prop_map(Change::Remove),
        1 => any::<usize>().prop_map(Change::Repeat),
        1 => (any::<usize>(), "\\PC{0,30}").prop_map(|(i, l)| Change::Insert(i, l)),
        1 => any::<usize>().prop_map(Change::CutAt),
    ]
}

fn apply(text: &str, changes: &[Change]) -> String {
    let mut lines: Vec<String> = text.lines().map(String::from).collect();
    for c in changes {
        let n = lines.len().max(1);
        match c {
            Change::SetValue(i, v) => {
                if let Some(line) = lines.get_mut(i % n) {
                    if let Some((key, _)) = line.split_once('=') {
                        *line = format!("{key}= {v}");
                    }
                }
            }
            Change::Remove(i) if !lines.is_empty() => {
                lines.remove(i % n);
            }
            Change::Repeat(i) if !lines.is_empty() => {
                let line = lines[i % n].clone();
                lines.insert(i % n, line);
            }
            Change::Insert(i, l) => lines.insert(i % (lines.len() + 1), l.clone()),
            Change::CutAt(i) => {
                let mut joined = lines.join("\n");
                let mut at = i % (joined.len() + 1);
                while !joined.is_char_boundary(at) {
                    at -= 1;
                }
                joined.truncate(at);
                lines = joined.lines().map(String::from).collect();
            }
            _ => {}
        }
    }
    lines.join("\n")
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn any_text_is_parsed_or_refused(text in "\\PC{0,400}") {
        check(text)?;
    }

    #[test]
    fn any_bytes_read_as_text_are_parsed_or_refused(bytes in prop::collection::vec(any::<u8>(), 0..400)) {
        check(String::from_utf8_lossy(&bytes).into_owned())?;
    }

    #[test]
    fn the_shipped_manifest_changed_is_parsed_or_refused(changes in prop::collection::vec(change(), 1..4)) {
        check(apply(QUICK, &changes))?;
    }
}
