//! The campaign protocol through the real binary: rests and warm-up, retries, interruption
//! and resume.

use crate::support::*;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn two_spins(extra_experiment: &str) -> String {
    let spin = plugin("spin");
    manifest(&format!(
        "[[plugin]]\nname = \"a\"\npath = \"{0}\"\n\n[[plugin]]\nname = \"b\"\npath = \"{0}\"\n",
        spin.display()
    ))
    .replace(
        "iterations = 1\n",
        &format!("iterations = 3\n{extra_experiment}"),
    )
}

fn ok_rows(dir: &Path) -> Vec<(String, String, String)> {
    let (h, rows) = read_csv(&dir.join("runs.csv"));
    rows.iter()
        .map(|r| {
            (
                r[col(&h, "iteration")].clone(),
                r[col(&h, "plugin")].clone(),
                r[col(&h, "status")].clone(),
            )
        })
        .collect()
}

fn assert_complete(dir: &Path) {
    let mut rows = ok_rows(dir);
    rows.sort();
    let expected: Vec<(String, String, String)> = (1..=3)
        .flat_map(|i| ["a", "b"].map(|p| (i.to_string(), p.to_string(), "ok".to_string())))
        .collect();
    assert_eq!(rows, expected, "exactly one ok row per (iteration, plugin)");
}

/// Waits until runs.csv holds at least `n` rows.
fn wait_for_rows(csv: &Path, n: usize, limit: Duration) {
    let start = Instant::now();
    while start.elapsed() < limit {
        if let Ok(t) = std::fs::read_to_string(csv) {
            if t.lines().count() > n {
                return;
            }
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("runs.csv did not reach {n} rows in {limit:?}");
}

fn spawn_host(dir: &Path, args: &[&str]) -> std::process::Child {
    Command::new(env!("CARGO_BIN_EXE_host"))
        .current_dir(dir)
        .env("MNIST_DIR", mnist_dir())
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("host starts")
}

#[test]
fn kill_9_then_resume_ends_with_every_run_exactly_once() {
    let dir = temp_dir("kill9-resume");
    std::fs::write(dir.join("m.toml"), two_spins("")).unwrap();
    let mut child = spawn_host(&dir, &["run", "m.toml", "--out", "res"]);
    wait_for_rows(&dir.join("res/runs.csv"), 2, Duration::from_secs(120));
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let before = ok_rows(&dir.join("res")).len();
    assert!(
        before < 6,
        "the kill should land mid-campaign ({before} rows)"
    );

    let out = host(&dir, &["run", "m.toml", "--resume", "res"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("resuming:"), "{}", text(&out));
    assert_complete(&dir.join("res"));
}

#[test]
fn sigint_keeps_finished_runs_prints_the_resume_command_and_resumes() {
    let dir = temp_dir("sigint-resume");
    std::fs::write(dir.join("m.toml"), two_spins("")).unwrap();
    let child = spawn_host(&dir, &["run", "m.toml", "--out", "res"]);
    wait_for_rows(&dir.join("res/runs.csv"), 1, Duration::from_secs(120));
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(130), "{}", text(&out));
    let t = text(&out);
    assert!(
        t.contains("resume with: host run m.toml --resume res"),
        "{t}"
    );
    // Whatever was recorded is well-formed and complete rows only.
    let rows = ok_rows(&dir.join("res"));
    assert!(!rows.is_empty() && rows.len() < 6, "{rows:?}");
    assert!(rows.iter().all(|r| r.2 == "ok"));

    let out = host(&dir, &["run", "m.toml", "--resume", "res"]);
    assert!(out.status.success(), "{}", text(&out));
    assert_complete(&dir.join("res"));
}

#[test]
fn resume_refuses_a_manifest_that_changes_what_is_measured() {
    let dir = temp_dir("resume-changed");
    let m = two_spins("").replace("iterations = 3", "iterations = 1");
    std::fs::write(dir.join("m.toml"), &m).unwrap();
    let out = host(&dir, &["run", "m.toml", "--out", "res"]);
    assert!(out.status.success(), "{}", text(&out));

    std::fs::write(
        dir.join("m.toml"),
        m.replace("batch_size = 32", "batch_size = 16"),
    )
    .unwrap();
    let out = host(&dir, &["run", "m.toml", "--resume", "res"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        text(&out).contains("[training]") && text(&out).contains("cannot be resumed"),
        "{}",
        text(&out)
    );

    // More iterations are fine, and so are new [report] factors (they change no measurement):
    // the campaign grows, the finished runs stay, and its analysis takes the factors.
    std::fs::write(
        dir.join("m.toml"),
        format!("{m}\n[report]\ngrid_intensity = 300\ncurrency = \"CHF\"\n"),
    )
    .unwrap();
    let out = host(
        &dir,
        &["run", "m.toml", "--resume", "res", "--iterations", "3"],
    );
    assert!(out.status.success(), "{}", text(&out));
    assert_complete(&dir.join("res"));
    let summary = std::fs::read_to_string(dir.join("res/analysis/summary.json")).unwrap();
    let summary: serde_json::Value = serde_json::from_str(&summary).unwrap();
    let factors = &summary["carbon"]["factors"];
    assert_eq!(factors["grid_g_per_kwh"], 300.0, "{summary}");
    assert_eq!(factors["currency"], "CHF", "{summary}");
}

#[test]
fn warm_up_and_rests_are_honoured_and_recorded() {
    let dir = temp_dir("rests");
    let m = two_spins("warmup = \"2s\"\n")
        .replace("iterations = 3", "iterations = 1")
        .replace("rest = \"0s\"", "rest = \"1500ms\"");
    std::fs::write(dir.join("m.toml"), m).unwrap();
    let start = Instant::now();
    let out = host(&dir, &["run", "m.toml", "--out", "res"]);
    let wall = start.elapsed();
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("warm-up: 2s"), "{}", text(&out));
    assert!(
        wall >= Duration::from_millis(3500),
        "warm-up 2 s + rest 1.5 s, took {wall:?}"
    );
    let (h, rows) = read_csv(&dir.join("res/runs.csv"));
    let rests: Vec<f64> = rows
        .iter()
        .map(|r| r[col(&h, "rest_s")].parse().unwrap())
        .collect();
    assert_eq!(rests[0], 0.0, "no rest before the first run");
    assert!(
        (1.4..3.0).contains(&rests[1]),
        "rest before the second run: {}",
        rests[1]
    );
}

#[test]
fn failed_runs_are_retried_at_the_end_and_marked() {
    let dir = temp_dir("retries");
    let m = manifest(&format!(
        "[[plugin]]\nname = \"spin\"\npath = \"{}\"\n\n[[plugin]]\nname = \"bad\"\npath = \"{}\"\noptions = {{ fault = \"error\" }}\n",
        plugin("spin").display(),
        plugin("faulty").display()
    ))
    .replace("run_timeout", "retry_failed = 2\nrun_timeout");
    std::fs::write(dir.join("m.toml"), m).unwrap();
    let out = host(&dir, &["run", "m.toml", "--out", "res"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let (h, rows) = read_csv(&dir.join("res/runs.csv"));
    let bad: Vec<(String, String)> = rows
        .iter()
        .filter(|r| r[col(&h, "plugin")] == "bad")
        .map(|r| (r[col(&h, "status")].clone(), r[col(&h, "retry")].clone()))
        .collect();
    let failed = |n: &str| ("failed".to_string(), n.to_string());
    assert_eq!(bad, vec![failed("0"), failed("1"), failed("2")]);
    let spin: Vec<&Vec<String>> = rows
        .iter()
        .filter(|r| r[col(&h, "plugin")] == "spin")
        .collect();
    assert_eq!(spin.len(), 1, "a run that succeeded is not retried");
}

#[test]
fn idle_baseline_gives_dynamic_energy_and_rests_wait_for_idle_at_most_max() {
    let dir = temp_dir("idle");
    let m = two_spins("idle_baseline = \"1s\"\nidle_baseline_after = true\n")
        .replace("iterations = 3", "iterations = 1")
        .replace(
            "rest = \"0s\"",
            "rest = { until_idle = true, max = \"3s\", within = 0.05 }",
        );
    std::fs::write(dir.join("m.toml"), m).unwrap();
    let out = host(&dir, &["run", "m.toml", "--out", "res"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("idle baseline:"), "{}", text(&out));

    let state: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("res/campaign.json")).unwrap())
            .unwrap();
    let idle = state["idle_power_w"].as_f64().expect("idle power recorded");
    assert!(
        idle > 0.0 && state["idle_power_after_w"].as_f64().is_some(),
        "{state}"
    );

    let (h, rows) = read_csv(&dir.join("res/runs.csv"));
    for r in &rows {
        let f = |c: &str| r[col(&h, c)].parse::<f64>().unwrap();
        let expected = f("energy_j") - idle * f("time_s");
        assert!(
            (f("energy_dynamic_j") - expected).abs() <= 1e-9 * f("energy_j").abs().max(1.0),
            "{r:?}"
        );
    }
    let rest: f64 = rows[1][col(&h, "rest_s")].parse().unwrap();
    assert!(
        rest > 0.0 && rest < 4.5,
        "rest until idle is bounded by max = 3 s: {rest}"
    );
}

#[test]
fn resting_until_idle_without_a_baseline_is_a_manifest_error() {
    let dir = temp_dir("idle-missing");
    let m = two_spins("").replace("rest = \"0s\"", "rest = { until_idle = true }");
    std::fs::write(dir.join("m.toml"), m).unwrap();
    let out = host(&dir, &["run", "m.toml", "--dry-run"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        text(&out).contains("needs `idle_baseline`"),
        "{}",
        text(&out)
    );
}

#[test]
fn a_run_whose_meter_lost_its_counters_is_failed_not_mixed_in() {
    // The campaign starts on a (fake) powercap package counter; it disappears during the rest
    // after the first run, so the next worker's `auto` meter can only estimate. That run must
    // not become an `ok` row with empty package columns and an estimated energy_j.
    let dir = temp_dir("domains-changed");
    let zone = dir.join("powercap/intel-rapl:0");
    std::fs::create_dir_all(&zone).unwrap();
    for (file, value) in [
        ("name", "package-0"),
        ("energy_uj", "1000"),
        ("max_energy_range_uj", "262143328850"),
        ("enabled", "1"),
    ] {
        std::fs::write(zone.join(file), format!("{value}\n")).unwrap();
    }
    let m = manifest(&format!(
        "[[plugin]]\nname = \"a\"\npath = \"{}\"\n\n[energy]\nsource = \"auto\"\npowercap_root = \"powercap\"\n",
        plugin("spin").display()
    ))
    .replace("iterations = 1\nrest = \"0s\"", "iterations = 2\nrest = \"5s\"");
    std::fs::write(dir.join("m.toml"), m).unwrap();
    let child = spawn_host(&dir, &["run", "m.toml", "--out", "res"]);
    let csv = dir.join("res/runs.csv");
    wait_for_rows(&csv, 1, Duration::from_secs(120));
    std::fs::remove_dir_all(dir.join("powercap")).unwrap();
    let out = child.wait_with_output().expect("host ends");
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));

    let (h, rows) = read_csv(&csv);
    assert_eq!(rows.len(), 2, "{rows:?}");
    let (status, error) = (col(&h, "status"), col(&h, "error"));
    assert_eq!(rows[0][status], "ok", "{:?}", rows[0]);
    assert_eq!(rows[0][col(&h, "meter")], "measured: powercap (package-0)");
    assert_eq!(rows[1][status], "failed", "{:?}", rows[1]);
    assert!(
        rows[1][error].contains("energy domains changed") && rows[1][error].contains("estimate"),
        "{}",
        rows[1][error]
    );
}

/// `--dry-run` with an earlier campaign of the same manifest in results/ prints the runs each
/// comparison needs and, under `[experiment] stop`, the iterations the design is expected to
/// take against its maximum; without one it prints neither.
#[test]
fn dry_run_forecasts_runs_needed_and_the_iterations_a_stop_design_takes() {
    let dir = temp_dir("dry-run-outlook");
    let m = two_spins("stop = { metric = \"energy\", looks = [5, 10, 20] }\n")
        .replace("iterations = 3", "iterations = 20");
    dir.write("m.toml", &m);
    let out = host(&dir, &["run", "m.toml", "--dry-run"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(!text(&out).contains("runs needed") && !text(&out).contains("stop on energy"));

    // An earlier campaign of this manifest: a ≈ 100 J, b ≈ 200 J, 8 runs each.
    dir.write("results/earlier/manifest.toml", &m);
    let mut csv = String::from("iteration,plugin,status,time_s,energy_j\n");
    for i in 1..=8 {
        for (plugin, joules) in [("a", 100.0), ("b", 200.0)] {
            csv += &format!(
                "{i},{plugin},ok,{},{}\n",
                1.0 + 0.01 * i as f64,
                joules + 0.7 * i as f64
            );
        }
    }
    dir.write("results/earlier/runs.csv", &csv);
    let out = host(&dir, &["run", "m.toml", "--dry-run"]);
    let said = text(&out);
    assert!(out.status.success(), "{said}");
    assert!(
        said.contains("runs needed per group for 80 % power"),
        "{said}"
    );
    assert!(said.contains("  energy: "), "{said}");
    let line = said
        .lines()
        .find(|l| l.starts_with("stop on energy: ~"))
        .unwrap_or_else(|| panic!("no expected iterations in {said}"));
    let expected: f64 = line["stop on energy: ~".len()..]
        .split(' ')
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{line}"));
    assert!(line.contains("at most 20"), "{line}");
    // Groups 100 J apart with a spread of a few J: every resampled campaign stops early.
    assert!((5.0..20.0).contains(&expected), "{line}");

    // A campaign of other plugins is no pilot for this one.
    dir.write(
        "results/earlier/manifest.toml",
        &m.replace("name = \"b\"", "name = \"c\""),
    );
    let out = host(&dir, &["run", "m.toml", "--dry-run"]);
    assert!(!text(&out).contains("runs needed"), "{}", text(&out));
}
