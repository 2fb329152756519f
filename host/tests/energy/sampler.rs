//! The sampler's EnergiBridge layout: column names, order, intervals, and a finished file.

use std::fs;
use std::time::Duration;

use crate::support::energy::*;
use crate::support::temp_dir;
use joulebench::energy::{
    csv_column_for, EnergyConfig, EnergyMonitor, SourceChoice, DEFAULT_SAMPLE_INTERVAL,
    ESTIMATE_COLUMN,
};

#[test]
fn column_names() {
    let one: Vec<String> = ["package-0", "core", "uncore", "dram", "psys", "gpu-0"]
        .map(String::from)
        .to_vec();
    let want = [
        "PACKAGE_ENERGY (J)",
        "PP0_ENERGY (J)",
        "PP1_ENERGY (J)",
        "DRAM_ENERGY (J)",
        "PSYS_ENERGY (J)",
        "GPU0_ENERGY (J)",
    ];
    for (d, w) in one.iter().zip(want) {
        assert_eq!(csv_column_for(d, &one), w);
    }
    let two: Vec<String> = [
        "package-0",
        "dram-0",
        "core-0",
        "package-1",
        "dram-1",
        "core-1",
    ]
    .map(String::from)
    .to_vec();
    assert_eq!(csv_column_for("package-1", &two), "PACKAGE1_ENERGY (J)");
    assert_eq!(csv_column_for("dram-0", &two), "DRAM0_ENERGY (J)");
    assert_eq!(csv_column_for("core-1", &two), "PP0_1_ENERGY (J)");
    assert_eq!(csv_column_for("cpu-estimate", &two), ESTIMATE_COLUMN);
}

fn run(interval: Duration, for_: Duration) -> (Vec<String>, Vec<Vec<f64>>, String) {
    let dir = temp_dir("sampler");
    let csv = dir.join("deep/er/samples.csv");
    let cfg = EnergyConfig {
        source: SourceChoice::Estimate,
        sample_interval: interval,
        ..Default::default()
    };
    let monitor = EnergyMonitor::start(&cfg, Some(&csv)).expect("start");
    std::thread::sleep(for_);
    monitor.stop().expect("stop");
    let text = fs::read_to_string(&csv).expect("read");
    let (header, rows) = read_csv(&csv);
    let _ = fs::remove_dir_all(&dir);
    (header, rows, text)
}

#[test]
fn ten_milliseconds_works() {
    let (header, rows, text) = run(Duration::from_millis(10), Duration::from_millis(1000));
    assert!(text.ends_with('\n'), "the last row is complete");
    let deltas = check_layout(&header, &rows);
    let m = median(&deltas);
    assert!((8.0..=20.0).contains(&m), "median Delta {m} ms");
    assert!(rows.len() >= 40, "{} rows in 1 s at 10 ms", rows.len());
    // Delta is the gap between consecutive Times.
    for w in rows.windows(2) {
        assert_eq!(w[1][0], w[1][1] - w[0][1]);
    }
}

#[test]
fn the_default_interval_is_energibridges() {
    assert_eq!(DEFAULT_SAMPLE_INTERVAL, Duration::from_millis(200));
    let (header, rows, _) = run(DEFAULT_SAMPLE_INTERVAL, Duration::from_millis(1100));
    check_layout(&header, &rows);
    // A row at start, one per 200 ms, one at stop.
    assert!(
        (5..=9).contains(&rows.len()),
        "{} rows in 1.1 s at 200 ms",
        rows.len()
    );
}
