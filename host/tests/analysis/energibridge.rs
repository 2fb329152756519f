//! EnergiBridge recordings of every layout the reader knows (macOS power only, Intel + NVIDIA,
//! AMD, Windows raw counts, Time in seconds, resets, damaged and re-encoded files), written by the
//! tests in EnergiBridge's own column layouts (see `energibridge/layouts.rs`), and compared
//! with energies derived by hand and with EnergiBridge's own `--summary` rule recomputed by an
//! independent script (`fixtures/energibridge/eb_summary.py`).
//!
//! The folders are kept under `target/tmp/energibridge-layouts/` after a run, so `host analyze`
//! can be tried on them by hand.

mod layouts;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::support::analysis::*;
use joulebench::analysis::{default_pipeline, Summary};
use joulebench::error::is_usage;
use layouts::*;

/// A fresh folder for one layout, kept after the test for trying by hand.
fn layout_dir(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("energibridge-layouts")
        .join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("mkdir");
    dir
}

fn write(dir: &Path, rel: &str, bytes: impl AsRef<[u8]>) {
    let path = dir.join(rel);
    std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
    std::fs::write(&path, bytes).expect("write");
}

/// EnergiBridge's `--summary` energy per group and run, from the independent script.
fn eb_summary(dir: &Path) -> BTreeMap<String, BTreeMap<String, f64>> {
    let script =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/energibridge/eb_summary.py");
    let out = Command::new("python3")
        .arg(&script)
        .arg(dir)
        .output()
        .expect("python3 runs (it is needed by the project's own setup)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("JSON")
}

/// The study's pipeline without plots and report (slow in debug builds, and not what these
/// tests look at).
fn numbers_only() -> Vec<StepSpec> {
    ["clean", "describe", "normality", "compare"]
        .into_iter()
        .map(StepSpec::named)
        .collect()
}

fn analyse(dir: &Path) -> Summary {
    run(&[dir], numbers_only(), &dir.with_extension("out")).expect("analyse")
}

fn median_of(summary: &Summary, group: &str, metric: &str) -> f64 {
    summary
        .groups
        .get(group)
        .and_then(|m| m.get(metric))
        .and_then(|m| m.median)
        .unwrap_or_else(|| panic!("no median of {metric} for {group}"))
}

fn close(a: f64, b: f64, rel: f64) -> bool {
    (a - b).abs() <= rel * b.abs()
}

/// `host analyze ARGS`: exit code and printed text (stdout then stderr).
fn host(args: &[&str]) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_host"))
        .arg("analyze")
        .args(args)
        .output()
        .expect("host runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code().unwrap_or(-1), text)
}

#[test]
fn macos_power_only_recordings_agree_with_energibridges_summary() {
    let dir = layout_dir("macos");
    let mut rng = Rng::new(1);
    let mut truth: BTreeMap<(String, String), Truth> = BTreeMap::new();
    for (group, watts) in [("idle", 6.0), ("busy", 21.0)] {
        for i in 1..=7 {
            let (rec, t) = macos(&mut rng, 120 + 20 * i, watts, false);
            write(&dir, &format!("{group}/run_{i}.csv"), rec.csv(","));
            truth.insert((group.into(), format!("run_{i}")), t);
        }
    }
    let summary = analyse(&dir);
    assert_eq!(
        summary.energy_source,
        "measured: EnergiBridge SYSTEM_POWER (Watts) integrated"
    );
    assert!(
        summary.ignored.is_empty() && summary.dropped.is_empty(),
        "{summary:?}"
    );
    let reference = eb_summary(&dir);
    for group in ["idle", "busy"] {
        let eb: Vec<f64> = reference[group].values().copied().collect();
        let ours = median_of(&summary, group, "energy");
        assert!(
            close(ours, median(&eb), 0.01),
            "{group}: {ours} J vs EnergiBridge's {} J",
            median(&eb)
        );
        // Run by run the rule is EnergiBridge's own, to rounding.
        let by_hand: Vec<f64> = (1..=7)
            .map(|i| truth[&(group.to_string(), format!("run_{i}"))].total_j)
            .collect();
        assert!(close(ours, median(&by_hand), 1e-9), "{group}");
        for (run, e) in &reference[group] {
            assert!(close(
                truth[&(group.to_string(), run.clone())].total_j,
                *e,
                1e-9
            ));
        }
        // GPU_POWER is its own metric, not in the total.
        let gpu: Vec<f64> = (1..=7)
            .map(|i| truth[&(group.to_string(), format!("run_{i}"))].domains["gpu"])
            .collect();
        assert!(close(
            median_of(&summary, group, "energy_gpu"),
            median(&gpu),
            1e-9
        ));
    }
    let gpu = summary
        .energy_columns
        .iter()
        .find(|c| c.column == "GPU_POWER (Watts)")
        .expect("GPU_POWER listed");
    assert!(!gpu.in_total && gpu.why.contains("macOS") && gpu.how.contains("integrated"));
}

#[test]
fn an_intel_mac_uses_cpu_power_as_energibridge_does() {
    let dir = layout_dir("macos-intel");
    let mut rng = Rng::new(2);
    for i in 1..=5 {
        let (rec, _) = macos(&mut rng, 150, 30.0, true);
        write(&dir, &format!("app/run_{i}.csv"), rec.csv(","));
    }
    let summary = analyse(&dir);
    assert_eq!(
        summary.energy_source,
        "measured: EnergiBridge CPU_POWER (Watts) integrated"
    );
    let eb: Vec<f64> = eb_summary(&dir)["app"].values().copied().collect();
    assert!(close(
        median_of(&summary, "app", "energy"),
        median(&eb),
        1e-9
    ));
    assert!(median_of(&summary, "app", "energy_system") > median(&eb));
}

#[test]
fn intel_with_nvidia_adds_the_gpu_and_shows_the_split() {
    let dir = layout_dir("intel-nvidia");
    let mut rng = Rng::new(3);
    let mut truths: BTreeMap<String, Vec<Truth>> = BTreeMap::new();
    for (group, gpu_w) in [("torch", 60.0), ("keras", 45.0)] {
        for i in 1..=6 {
            // The first torch run's package counter passes 2^32 units (2^18 J) mid-run.
            let start = if group == "torch" && i == 1 {
                (1u64 << 32) - (300.0 * 16384.0) as u64
            } else {
                1_000_000_000 + i * 1_000_000
            };
            let (rec, t) = intel_nvidia(&mut rng, 150, 18.0, gpu_w, start, false);
            write(&dir, &format!("{group}/run_{i}.csv"), rec.csv(","));
            truths.entry(group.into()).or_default().push(t);
        }
    }
    let summary = run(&[&dir], default_pipeline(), &dir.with_extension("out")).expect("analyse");
    assert!(summary.dropped.is_empty(), "{:?}", summary.dropped);
    for (group, ts) in &truths {
        let totals: Vec<f64> = ts.iter().map(|t| t.total_j).collect();
        assert!(close(
            median_of(&summary, group, "energy"),
            median(&totals),
            1e-9
        ));
        for domain in ["package", "dram", "gpu0"] {
            let d: Vec<f64> = ts.iter().map(|t| t.domains[domain]).collect();
            let got = median_of(&summary, group, &format!("energy_{domain}"));
            assert!(close(got, median(&d), 1e-9), "{group} {domain}: {got}");
        }
        // The GPU is a real share of the total, not silently left out.
        assert!(median_of(&summary, group, "energy_gpu0") > 0.5 * median(&totals));
    }
    let note = summary.counters.first().expect("the wrap is named");
    assert_eq!(
        (
            note.run.as_str(),
            note.column.as_str(),
            note.wraps,
            note.modulus_j
        ),
        ("run_1", "PACKAGE_ENERGY (J)", 1, Some(262_144.0))
    );
    let not_added: Vec<&str> = summary
        .energy_columns
        .iter()
        .filter(|c| !c.in_total)
        .map(|c| c.column.as_str())
        .collect();
    assert_eq!(not_added, ["PP0_ENERGY (J)", "PP1_ENERGY (J)"]);
    let html =
        std::fs::read_to_string(dir.with_extension("out").join("report.html")).expect("html");
    assert!(html.contains("Energy, GPU0") && html.contains("Energy, PACKAGE"));
    assert!(
        html.contains("torch run run_1: PACKAGE_ENERGY (J) wrapped 1 time(s), unwrapped at 262144.000 J (inferred)"),
        "the report names the unwrapped run and the modulus"
    );
}

#[test]
fn amd_recordings_agree_with_a_plain_reading_and_energibridge() {
    let dir = layout_dir("amd");
    let mut rng = Rng::new(4);
    let mut truths = Vec::new();
    for i in 1..=6 {
        // One run wraps at 2^16 J.
        let start = if i == 3 {
            65_000.0
        } else {
            20_000.0 + 500.0 * i as f64
        };
        let (rec, t) = amd(&mut rng, 400, 40.0, start, None);
        write(&dir, &format!("jax/run_{i}.csv"), rec.csv(","));
        truths.push(t.total_j);
    }
    let summary = analyse(&dir);
    assert_eq!(
        summary.energy_source,
        "measured: EnergiBridge CPU_ENERGY (J)"
    );
    let ours = median_of(&summary, "jax", "energy");
    assert!(close(ours, median(&truths), 1e-9));
    // EnergiBridge's summary leaves out the last interval of a counter (its last row is printed
    // after the loop): within 1 % on runs of 80 s.
    let eb: Vec<f64> = eb_summary(&dir)["jax"].values().copied().collect();
    assert!(close(ours, median(&eb), 0.01), "{ours} vs {}", median(&eb));
    assert_eq!(summary.counters.len(), 1);
    assert_eq!(summary.counters[0].modulus_j, Some(65_536.0));
    assert!(
        summary
            .metrics
            .iter()
            .all(|m| !m.key.starts_with("energy_")),
        "one domain: no split"
    );
}

#[test]
fn a_counter_reset_is_not_read_as_a_wrap() {
    let dir = layout_dir("reset");
    let mut rng = Rng::new(5);
    let mut truth = Vec::new();
    for i in 1..=4 {
        // 130 rows of ~10 W: about 260 J. The second run's counter drops from 2.94 MJ to ~5 J.
        let reset = (i == 2).then_some(60);
        let (rec, t) = amd(&mut rng, 130, 10.0, 2_940_000.0, reset);
        write(&dir, &format!("g/run_{i}.csv"), rec.csv(","));
        truth.push(t.total_j);
    }
    let summary = analyse(&dir);
    let energy = summary
        .groups
        .get("g")
        .and_then(|m| m.get("energy"))
        .expect("energy");
    assert_eq!(energy.n, 4, "{:?}", summary.dropped);
    assert!(
        energy.max.expect("max") < 400.0,
        "a reset read as a wrap adds ~1.25 MJ"
    );
    let note = &summary.counters[0];
    assert_eq!(
        (note.run.as_str(), note.resets, note.wraps),
        ("run_2", 1, 0)
    );
    assert!(summary
        .warnings
        .iter()
        .any(|w| w.contains("run_2") && w.contains("reset")));
    let table = joulebench::analysis::metrics::derive(
        &joulebench::analysis::ingest::load_all(&[&dir], &Default::default()).expect("ingest"),
        Default::default(),
    )
    .0;
    for (row, t) in table.rows.iter().zip(&truth) {
        assert!(
            close(row.values[1].expect("energy"), *t, 1e-9),
            "{}",
            row.run
        );
    }
}

#[test]
fn a_counter_glitch_drops_the_run_with_the_reason() {
    let dir = layout_dir("glitch");
    let mut rng = Rng::new(6);
    for i in 1..=3 {
        let (rec, _) = amd(&mut rng, 100, 30.0, 30_000.0, None);
        let mut text = rec.csv(",");
        if i == 2 {
            // One reading far below its neighbours, far above zero.
            let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
            let header: Vec<&str> = lines[0].split(',').collect();
            let col = header
                .iter()
                .position(|h| *h == "CPU_ENERGY (J)")
                .expect("col");
            let mut fields: Vec<String> = lines[50].split(',').map(str::to_string).collect();
            fields[col] = "12000".into();
            lines[50] = fields.join(",");
            text = lines.join("\n") + "\n";
        }
        write(&dir, &format!("g/run_{i}.csv"), text);
    }
    let summary = analyse(&dir);
    assert_eq!(summary.dropped.len(), 1);
    let d = &summary.dropped[0];
    assert_eq!((d.run.as_str(), d.metric.as_str()), ("run_2", "*"));
    assert!(
        d.reason
            .starts_with("counter glitch: CPU_ENERGY (J) went back at data row 50"),
        "{}",
        d.reason
    );
}

#[test]
fn raw_counts_everywhere_are_one_usage_error_and_one_run_is_dropped() {
    let dir = layout_dir("windows-raw-counts");
    let mut rng = Rng::new(7);
    for i in 1..=5 {
        let (rec, _) = intel_nvidia(&mut rng, 100, 13.0, 30.0, 5_000_000, true);
        write(&dir, &format!("g/run_{i}.csv"), rec.csv(","));
    }
    let err = run(&[&dir], numbers_only(), &dir.with_extension("out")).expect_err("all raw");
    assert!(is_usage(&err), "{err:#}");
    let text = err.to_string();
    assert!(
        text.contains("every run (5) fails the same way")
            && text.contains("values look like raw RAPL counts (units of 2^-14 J), not joules"),
        "{text}"
    );
    assert_eq!(text.lines().count(), 1, "{text}");
    let (code, printed) = host(&[dir.to_str().expect("utf-8"), "--out", "/dev/null/x"]);
    assert_eq!(code, 2, "{printed}");

    // One raw file among good ones: that run is dropped, with the likely cause and the figure.
    let mixed = layout_dir("one-raw-count-run");
    for i in 1..=4 {
        let (rec, _) = intel_nvidia(&mut rng, 100, 13.0, 30.0, 5_000_000, i == 4);
        write(&mixed, &format!("g/run_{i}.csv"), rec.csv(","));
    }
    let summary = analyse(&mixed);
    assert_eq!(summary.dropped.len(), 1);
    let reason = &summary.dropped[0].reason;
    assert!(
        reason.starts_with("values look like raw RAPL counts (units of 2^-14 J), not joules: ")
            && reason.contains("PACKAGE_ENERGY (J) gives ")
            && reason.contains(" W mean power, above the 1,000 W bound")
            && reason.contains("W as 2^-14 J counts"),
        "{reason}"
    );
}

#[test]
fn time_in_seconds_is_named() {
    let dir = layout_dir("time-in-seconds");
    let mut rng = Rng::new(8);
    for i in 1..=4 {
        let (rec, _) = amd(&mut rng, 300, 25.0, 10_000.0, None);
        let text = rec.csv(",");
        let mut out = String::new();
        for (n, line) in text.lines().enumerate() {
            if n == 0 {
                out.push_str(line);
            } else {
                let (delta, rest) = line.split_once(',').expect("delta");
                let (time, rest) = rest.split_once(',').expect("time");
                let seconds = time.parse::<f64>().expect("ms") / 1000.0;
                out.push_str(&format!("{delta},{seconds},{rest}"));
            }
            out.push('\n');
        }
        write(&dir, &format!("g/run_{i}.csv"), out);
    }
    let err = run(&[&dir], numbers_only(), &dir.with_extension("out")).expect_err("seconds");
    assert!(is_usage(&err));
    assert!(
        err.to_string()
            .contains("Time looks like seconds, not milliseconds: e.g. g run run_1: the samples span 0.060 s, but 300 rows 200 ms apart span 59.80 s"),
        "{err}"
    );
}

#[test]
fn damaged_and_reencoded_files_are_read_or_refused_with_their_own_reason() {
    let dir = layout_dir("damaged");
    let mut rng = Rng::new(9);
    let (rec, truth) = amd(&mut rng, 200, 30.0, 40_000.0, None);
    let text = rec.csv(",");
    write(&dir, "g/plain.csv", &text);
    write(&dir, "g/utf16.csv", utf16le(&text.replace('\n', "\r\n")));
    write(&dir, "g/semicolons.csv", rec.csv(";"));
    // Stopped by Ctrl-C: the last row is cut mid-field.
    let cut = text.trim_end().rfind(',').expect("comma") - 3;
    write(&dir, "g/truncated.csv", &text[..cut]);
    write(&dir, "g/empty.csv", "");
    let summary = analyse(&dir);
    let table = joulebench::analysis::metrics::derive(
        &joulebench::analysis::ingest::load_all(&[&dir], &Default::default()).expect("ingest"),
        Default::default(),
    )
    .0;
    let energy = |run: &str| {
        table
            .rows
            .iter()
            .find(|r| r.run == run)
            .and_then(|r| r.values[1])
            .unwrap_or_else(|| panic!("{run} analysed"))
    };
    for run in ["plain", "utf16", "semicolons"] {
        assert!(close(energy(run), truth.total_j, 1e-12), "{run}");
    }
    // The truncated run lost its last interval only.
    assert!(energy("truncated") < truth.total_j && energy("truncated") > 0.98 * truth.total_j);
    assert_eq!(summary.ignored.len(), 1);
    assert!(
        summary.ignored[0].reason.contains("empty file"),
        "{:?}",
        summary.ignored
    );
    let warnings = summary.warnings.join("\n");
    for expected in [
        "1 run(s) ended in a damaged row, dropped (runs kept): g/truncated (last row (data row 200) dropped",
        "1 file(s) were UTF-16LE (as Windows PowerShell's `>` writes), decoded: g/utf16",
        "1 file(s) use `;` as separator (EnergiBridge -s), read: g/semicolons",
    ] {
        assert!(warnings.contains(expected), "{expected:?} in {warnings}");
    }
    // The terminal says why the empty file was ignored.
    let (code, printed) = host(&[
        dir.to_str().expect("utf-8"),
        "--out",
        dir.with_extension("cli").to_str().expect("utf-8"),
    ]);
    assert_eq!(code, 0, "{printed}");
    assert!(
        printed.contains("ignored:\n  1 × empty file: EnergiBridge wrote nothing")
            && printed.contains("or the disk was full): g/empty\n"),
        "{printed}"
    );
}

#[test]
fn energy_column_flag_integrates_a_power_column_and_differences_a_counter() {
    let dir = layout_dir("energy-column");
    let mut rng = Rng::new(10);
    let mut truths = Vec::new();
    for i in 1..=4 {
        let (rec, t) = intel_nvidia(&mut rng, 120, 15.0, 40.0, 2_000_000_000, false);
        write(&dir, &format!("g/run_{i}.csv"), rec.csv(","));
        truths.push(t);
    }
    let out = dir.with_extension("out");
    let (code, printed) = host(&[
        dir.to_str().expect("utf-8"),
        "--energy-column",
        "GPU0_POWER (mWatts)",
        "--out",
        out.to_str().expect("utf-8"),
    ]);
    assert_eq!(code, 0, "{printed}");
    assert!(
        printed.contains("energy measured: EnergiBridge GPU0_POWER (mWatts) integrated"),
        "{printed}"
    );
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).expect("json"))
            .expect("json");
    let gpu: Vec<f64> = truths.iter().map(|t| t.domains["gpu0"]).collect();
    let median_energy = json["groups"]["g"]["energy"]["median"]
        .as_f64()
        .expect("median");
    assert!(close(median_energy, median(&gpu), 1e-9), "{median_energy}");

    // Two columns: their sum.
    let (code, printed) = host(&[
        dir.to_str().expect("utf-8"),
        "--energy-column",
        "PACKAGE_ENERGY (J)",
        "--energy-column",
        "DRAM_ENERGY (J)",
        "--out",
        out.to_str().expect("utf-8"),
    ]);
    assert_eq!(code, 0, "{printed}");
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).expect("json"))
            .expect("json");
    let cpu: Vec<f64> = truths
        .iter()
        .map(|t| t.domains["package"] + t.domains["dram"])
        .collect();
    let median_energy = json["groups"]["g"]["energy"]["median"]
        .as_f64()
        .expect("median");
    assert!(close(median_energy, median(&cpu), 1e-9));

    // A column without a unit is refused, naming what the header must say.
    let (code, printed) = host(&[
        dir.to_str().expect("utf-8"),
        "--energy-column",
        "GPU0_USAGE",
        "--out",
        out.to_str().expect("utf-8"),
    ]);
    assert_eq!(code, 2, "{printed}");
    assert!(
        printed.contains("4 × column `GPU0_USAGE` has no energy or power unit"),
        "{printed}"
    );
}

/// `--pipeline FILE` (a file of [[analysis]] tables only) and `--energy-column` together: the
/// flag picks the column, the file's steps and options stay.
#[test]
fn energy_column_flag_and_a_steps_only_pipeline_work_together() {
    let dir = layout_dir("energy-column-pipeline");
    let mut rng = Rng::new(14);
    let mut gpu_j = Vec::new();
    for i in 1..=4 {
        // run_1's GPU draws ~2 kW: above the default 1.5 kW bound, within the file's 3 kW.
        let gpu_w = if i == 1 { 2_000.0 } else { 300.0 };
        let (rec, t) = intel_nvidia(&mut rng, 120, 15.0, gpu_w, 2_000_000_000, false);
        write(&dir, &format!("g/run_{i}.csv"), rec.csv(","));
        gpu_j.push(t.domains["gpu0"]);
    }
    let steps = dir.with_extension("toml");
    write(
        dir.parent().expect("parent"),
        steps.file_name().and_then(|n| n.to_str()).expect("name"),
        "[[analysis]]\nstep = \"ingest\"\nmax_power_w = { gpu = 3000 }\n\n\
         [[analysis]]\nstep = \"describe\"\n",
    );
    let out = dir.with_extension("out");
    let analyse_cli = |pipeline: bool| {
        let mut args = vec![
            dir.to_str().expect("utf-8"),
            "--energy-column",
            "GPU0_POWER (mWatts)",
            "--out",
            out.to_str().expect("utf-8"),
        ];
        if pipeline {
            args.extend(["--pipeline", steps.to_str().expect("utf-8")]);
        }
        let (code, printed) = host(&args);
        assert_eq!(code, 0, "{printed}");
        assert!(
            printed.contains("energy measured: EnergiBridge GPU0_POWER (mWatts) integrated"),
            "{printed}"
        );
        let text = std::fs::read_to_string(out.join("summary.json")).expect("summary.json");
        serde_json::from_str::<serde_json::Value>(&text).expect("json")
    };

    let json = analyse_cli(true);
    let steps_run: Vec<&str> = json["steps"]
        .as_array()
        .expect("steps")
        .iter()
        .filter_map(|s| s["step"].as_str())
        .collect();
    // The file's steps, and no other (ingest reads the inputs; it is no step of the record).
    assert_eq!(steps_run, ["describe"]);
    let energy = &json["groups"]["g"]["energy"];
    assert_eq!(energy["n"].as_u64(), Some(4), "{energy}");
    let median_energy = energy["median"].as_f64().expect("median");
    assert!(
        close(median_energy, median(&gpu_j), 1e-9),
        "{median_energy}"
    );

    // Without the file the default bound applies and run_1 is dropped: the file's option
    // was in force above, not lost to the flag.
    let json = analyse_cli(false);
    assert_eq!(json["groups"]["g"]["energy"]["n"].as_u64(), Some(3));
    assert!(
        json["dropped"]
            .as_array()
            .expect("dropped")
            .iter()
            .any(|d| d["run"] == "run_1" && d["metric"] == "*"),
        "{}",
        json["dropped"]
    );
}

#[test]
fn groups_measured_by_different_meters_are_warned_about() {
    let dir = layout_dir("mixed-meters");
    let mut rng = Rng::new(11);
    for i in 1..=3 {
        let (rec, _) = amd(&mut rng, 100, 30.0, 10_000.0, None);
        write(&dir, &format!("amd/run_{i}.csv"), rec.csv(","));
        let (rec, _) = intel_nvidia(&mut rng, 100, 20.0, 0.0, 7_000_000, false);
        write(&dir, &format!("intel/run_{i}.csv"), rec.csv(","));
    }
    let summary = analyse(&dir);
    let w = summary
        .warnings
        .iter()
        .find(|w| w.starts_with("runs were measured by different meters"))
        .expect("warned");
    assert!(
        w.contains("amd (CPU_ENERGY (J))")
            && w.contains(
                "intel (PACKAGE_ENERGY (J) + DRAM_ENERGY (J) + GPU0_POWER (mWatts) integrated)"
            ),
        "{w}"
    );
}

#[test]
fn power_bounds_are_an_analysis_option() {
    let dir = layout_dir("bounds");
    let mut rng = Rng::new(12);
    for i in 1..=4 {
        let gpu_w = if i == 1 { 1_300.0 } else { 300.0 };
        let (rec, _) = intel_nvidia(&mut rng, 100, 20.0, gpu_w, 7_000_000, false);
        write(&dir, &format!("g/run_{i}.csv"), rec.csv(","));
    }
    let out = dir.with_extension("out");
    let analyse_with = |bound: &str| {
        let mut steps = vec![step(&format!(
            "step = \"ingest\"\nmax_power_w = {{ {bound} }}"
        ))];
        steps.extend(numbers_only());
        run(&[&dir], steps, &out)
    };
    // The default 1.5 kW per GPU lets 1.3 kW through (the run is not a fault; a 3σ outlier
    // at most); a 1 kW bound drops it as implausible.
    let summary = analyse_with("gpu = 1500").expect("analyse");
    assert!(
        summary.dropped.iter().all(|d| d.metric != "*"),
        "{:?}",
        summary.dropped
    );
    let summary = analyse_with("gpu = 1000").expect("analyse");
    let runs: Vec<&str> = summary
        .dropped
        .iter()
        .filter(|d| d.metric == "*")
        .map(|d| d.run.as_str())
        .collect();
    assert_eq!(runs, ["run_1"]);
    let err = analyse_with("fpga = 10").expect_err("unknown domain");
    assert!(
        is_usage(&err) && err.to_string().contains("known: package"),
        "{err}"
    );
}

#[test]
fn delta_that_disagrees_with_time_makes_integrated_power_a_fault() {
    let dir = layout_dir("delta-time");
    let mut rng = Rng::new(13);
    for i in 1..=3 {
        let (rec, _) = macos(&mut rng, 150, 10.0, false);
        let mut text = rec.csv(",");
        if i == 1 {
            // 40 rows deleted from the middle: Time jumps, Delta does not.
            let lines: Vec<&str> = text.lines().collect();
            text = [&lines[..50], &lines[90..]].concat().join("\n") + "\n";
        }
        write(&dir, &format!("g/run_{i}.csv"), text);
    }
    let summary = analyse(&dir);
    let d = summary
        .dropped
        .iter()
        .find(|d| d.metric == "*")
        .expect("dropped");
    assert_eq!(d.run, "run_1");
    assert!(
        d.reason.starts_with("Delta and Time disagree: "),
        "{}",
        d.reason
    );
}

#[test]
fn joulebench_samples_and_estimates_are_read_for_what_they_are() {
    let dir = layout_dir("joulebench-samples");
    // joulebench's own sampler: two packages (summed), PSYS (not added beside them), an
    // NVML GPU counter; and an estimated run, which must never pass for a measurement.
    let mut measured = String::from(
        "Delta,Time,CPU_USAGE_0,GPU0_ENERGY (J),PACKAGE0_ENERGY (J),PACKAGE1_ENERGY (J),PP0_0_ENERGY (J),PSYS_ENERGY (J)\n",
    );
    let mut estimated = String::from("Delta,Time,CPU_ENERGY_ESTIMATE (J),CPU_USAGE_0\n");
    for k in 0..51u32 {
        let t = 1_700_000_000_000u64 + 200 * u64::from(k);
        let s = f64::from(k) * 0.2;
        let delta = if k == 0 { 0 } else { 200 };
        measured.push_str(&format!(
            "{delta},{t},50,{},{},{},{},{}\n",
            100.0 * s,
            20.0 * s,
            30.0 * s,
            10.0 * s,
            200.0 * s
        ));
        estimated.push_str(&format!("{delta},{t},{},50\n", 25.0 * s));
    }
    write(&dir, "m/run_1.csv", &measured);
    write(&dir, "m/run_2.csv", &measured);
    let summary = analyse(&dir);
    // 10 s: 100 + 20 + 30 W.
    assert!(close(median_of(&summary, "m", "energy"), 1_500.0, 1e-9));
    assert!(close(
        median_of(&summary, "m", "energy_psys"),
        2_000.0,
        1e-9
    ));
    let psys = summary
        .energy_columns
        .iter()
        .find(|c| c.column == "PSYS_ENERGY (J)")
        .expect("listed");
    assert!(!psys.in_total, "{psys:?}");

    let est = layout_dir("joulebench-estimate");
    write(&est, "e/run_1.csv", &estimated);
    write(&est, "e/run_2.csv", &estimated);
    let summary = analyse(&est);
    assert_eq!(
        summary.energy_source,
        "estimate: EnergiBridge CPU_ENERGY_ESTIMATE (J)"
    );
    assert!(summary.energy_estimated);
}
