//! Property tests on stable Rust: arbitrary bytes and structured mutations fed to every reader
//! of outside input — the manifest, MNIST's IDX files, EnergiBridge CSVs, runs.csv (the
//! analysis's reader and the store's) — and to counter unwrapping. The property is that each
//! returns `Ok` or `Err`, never panics, plus the cheap invariants noted per target.
//!
//! CI runs proptest's default of 256 cases per target (a twentieth of that for those that
//! write files, [`config_files`]). A long run, one million per target:
//! `PROPTEST_CASES=1000000 cargo test -p host --release --test fuzz` (README, Fuzzing).
//! A case that ever failed is kept as a named test in [`regressions`].

mod counters;
mod energibridge;
mod manifest;
mod mnist;
mod regressions;
mod runs_csv;

use proptest::prelude::*;

/// Proptest's configuration for every target: the case count from `PROPTEST_CASES` (default
/// 256), and no failure files written into the source tree (a failure becomes a named test).
pub fn config() -> ProptestConfig {
    ProptestConfig {
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

/// For targets that write files (a folder of MNIST files, a runs.csv to reopen, an
/// EnergiBridge folder): a twentieth of the cases (at least 16), as each case costs a
/// temporary folder; their in-memory readers run the full count in the other targets.
pub fn config_files() -> ProptestConfig {
    let base = config();
    ProptestConfig {
        cases: (base.cases / 20).max(16),
        ..base
    }
}

/// Numbers as text, weighted towards the awkward: extremes, signs, exponents, NaN, infinities,
/// empty cells and words.
pub fn number_text() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => any::<f64>().prop_map(|x| x.to_string()),
        3 => (0u64..100_000).prop_map(|x| x.to_string()),
        2 => (-1e6f64..1e6).prop_map(|x| format!("{x:.3}")),
        1 => prop::sample::select(vec![
            "", "NaN", "inf", "-inf", "-0", "1e308", "-1e308", "1e-320", "0x10", "1,5", " 7 ",
            "18446744073709551616", "4294967296", "-1", "lots",
        ])
        .prop_map(String::from),
        1 => "\\PC{0,8}",
    ]
}
