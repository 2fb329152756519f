//! The command line itself: clap refuses bad flags with exit 2, every `meters` flag is
//! explained, a closed pipe ends a listing quietly, `--pipeline` takes a steps-only file, and
//! the carbon and cost flags override its `[report]` and refuse bad values by name.

use std::process::{Command, Stdio};

use crate::support::*;

#[test]
fn bad_flags_are_usage_errors_that_name_the_flag() {
    let dir = temp_dir("cli-usage");
    for (args, names) in [
        (
            &["run", "m.toml", "--out", "a", "--resume", "b"][..],
            "--out",
        ),
        (&["run", "m.toml", "--iterations", "0"][..], "--iterations"),
        (
            &["check-plugin", "x.so", "--option", "novalue"][..],
            "KEY=VALUE",
        ),
        (&["meters", "--watch", "5"][..], "not a duration"),
    ] {
        let out = host(&dir, args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", text(&out));
        assert!(text(&out).contains(names), "{args:?}: {}", text(&out));
    }
}

#[test]
fn every_meters_flag_has_help() {
    let out = host(&root(), &["meters", "--help"]);
    assert!(out.status.success(), "{}", text(&out));
    let help = text(&out);
    for flag in ["--powercap-root", "--msr-root", "--watch", "--json"] {
        let line = help
            .lines()
            .find(|l| l.trim_start().starts_with(flag))
            .unwrap_or_else(|| panic!("no {flag} in {help}"));
        let words = line
            .split_whitespace()
            .filter(|w| !w.starts_with("--") && !w.starts_with('<'))
            .count();
        assert!(words >= 2, "{flag} has no help text: {line:?}");
    }
}

#[test]
fn a_closed_pipe_ends_a_listing_quietly() {
    // A pipe whose reading end is already closed: the first write fails with EPIPE, as when
    // `| head -1` has read its line and gone.
    let mut fds = [0; 2];
    assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0);
    unsafe { libc::close(fds[0]) };
    let write_end = unsafe { <std::fs::File as std::os::fd::FromRawFd>::from_raw_fd(fds[1]) };
    let out = Command::new(env!("CARGO_BIN_EXE_host"))
        .args(["plugins", plugins_dir().to_str().unwrap()])
        .stdout(Stdio::from(write_end))
        .stderr(Stdio::piped())
        .output()
        .expect("host runs");
    assert_eq!(
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stderr).as_ref()
        ),
        (Some(0), ""),
    );
}

#[test]
fn analyze_takes_a_pipeline_file_of_steps_only() {
    let dir = temp_dir("cli-pipeline");
    std::fs::write(
        dir.join("runs.csv"),
        "iteration,plugin,status,time_s,energy_j\n1,a,ok,1,10\n2,a,ok,1.1,11\n1,b,ok,2,20\n2,b,ok,2.2,21\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("steps.toml"),
        "[[analysis]]\nstep = \"describe\"\n",
    )
    .unwrap();
    let out = host(
        &dir,
        &[
            "analyze",
            "runs.csv",
            "--pipeline",
            "steps.toml",
            "--out",
            "an",
        ],
    );
    assert!(out.status.success(), "{}", text(&out));
    let summary = std::fs::read_to_string(dir.join("an/summary.json")).unwrap();
    assert!(summary.contains("\"describe\""), "{summary}");
    assert!(
        !summary.contains("\"compare\""),
        "only the file's steps run: {summary}"
    );

    std::fs::write(
        dir.join("steps.toml"),
        "[[analysis]]\nstep = \"describe\"\n\n[[analysys]]\nstep = \"compare\"\n",
    )
    .unwrap();
    let out = host(&dir, &["analyze", "runs.csv", "--pipeline", "steps.toml"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        text(&out).contains("steps.toml:4") && text(&out).contains("analysys"),
        "{}",
        text(&out)
    );
}

/// a: 1 kWh per run, b: 2 kWh, six runs each.
fn kwh_runs_csv() -> String {
    let mut csv = String::from("iteration,plugin,status,time_s,energy_j\n");
    for (i, wobble) in [0.0, 1e3, -1e3, 2e3, -2e3, 5e2].iter().enumerate() {
        csv += &format!(
            "{i},a,ok,10,{}\n{i},b,ok,20,{}\n",
            3.6e6 + wobble,
            7.2e6 + wobble
        );
    }
    csv
}

/// summary.json's per-run carbon row of group `g`'s energy, and the factors it used.
fn carbon_of(dir: &std::path::Path, g: &str) -> (serde_json::Value, serde_json::Value) {
    let text = std::fs::read_to_string(dir.join("summary.json")).expect("summary.json");
    let s: serde_json::Value = serde_json::from_str(&text).expect("json");
    let rows = s["carbon"]["groups"].as_array().expect("carbon rows");
    let row = rows
        .iter()
        .find(|r| r["group"] == g && r["metric"] == "energy")
        .unwrap_or_else(|| panic!("no energy row for {g}: {text}"));
    (row["per_run"].clone(), s["carbon"]["factors"].clone())
}

#[test]
fn analyze_takes_carbon_and_cost_factors_as_flags_over_the_report_table() {
    let dir = temp_dir("cli-factors");
    std::fs::write(dir.join("runs.csv"), kwh_runs_csv()).unwrap();
    let flags = [
        "--grid-intensity",
        "400",
        "--pue",
        "1.5",
        "--price-per-kwh",
        "0.25",
        "--currency",
        "CHF",
    ];
    let mut args = vec!["analyze", "runs.csv", "--out", "flags"];
    args.extend(flags);
    let out = host(&dir, &args);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("gCO2e") && text(&out).contains("CHF"),
        "the findings quote carbon and cost: {}",
        text(&out)
    );
    let (a, factors) = carbon_of(&dir.join("flags"), "a");
    // 1 kWh × PUE 1.5 = 1.5 kWh at the wall: 600 gCO2e, CHF 0.375.
    assert!((a["kwh"].as_f64().unwrap() - 1.5).abs() < 1e-3, "{a}");
    assert!((a["g_co2e"].as_f64().unwrap() - 600.0).abs() < 0.5, "{a}");
    assert!((a["cost"].as_f64().unwrap() - 0.375).abs() < 1e-3, "{a}");
    assert_eq!(factors["currency"], "CHF");

    // A pipeline file's [report] applies; a flag overrides only the factor it names.
    std::fs::write(
        dir.join("factors.toml"),
        "[report]\ngrid_intensity = 100\nprice_per_kwh = 0.5\n",
    )
    .unwrap();
    let base = ["analyze", "runs.csv", "--pipeline", "factors.toml", "--out"];
    let out = host(&dir, &[&base[..], &["report"]].concat());
    assert!(out.status.success(), "{}", text(&out));
    let (a, factors) = carbon_of(&dir.join("report"), "a");
    assert!((a["g_co2e"].as_f64().unwrap() - 100.0).abs() < 0.1, "{a}");
    assert!((a["cost"].as_f64().unwrap() - 0.5).abs() < 1e-3, "{a}");
    assert_eq!(factors["currency"], "EUR", "the default currency");
    let out = host(
        &dir,
        &[&base[..], &["both", "--grid-intensity", "50"]].concat(),
    );
    assert!(out.status.success(), "{}", text(&out));
    let (a, _) = carbon_of(&dir.join("both"), "a");
    assert!((a["g_co2e"].as_f64().unwrap() - 50.0).abs() < 0.1, "{a}");
    assert!((a["cost"].as_f64().unwrap() - 0.5).abs() < 1e-3, "{a}");

    // Without factors, no carbon.
    let out = host(&dir, &["analyze", "runs.csv", "--out", "plain"]);
    assert!(out.status.success(), "{}", text(&out));
    let plain = std::fs::read_to_string(dir.join("plain/summary.json")).unwrap();
    assert!(plain.contains("\"carbon\": null"), "{plain}");
}

#[test]
fn bad_carbon_and_cost_flags_are_usage_errors_naming_the_flag() {
    let dir = temp_dir("cli-factors-bad");
    std::fs::write(dir.join("runs.csv"), kwh_runs_csv()).unwrap();
    for (flags, names) in [
        (&["--grid-intensity", "0"][..], "--grid-intensity"),
        (&["--grid-intensity", "-400"][..], "--grid-intensity"),
        (&["--grid-intensity", "lots"][..], "--grid-intensity"),
        (&["--grid-intensity", "inf"][..], "--grid-intensity"),
        (&["--pue", "0.9", "--grid-intensity", "1"][..], "--pue"),
        (&["--price-per-kwh", "-1"][..], "--price-per-kwh"),
        (
            &["--price-per-kwh", "1", "--currency", " "][..],
            "--currency",
        ),
        (&["--pue", "1.2"][..], "--pue and --currency need"),
        (&["--currency", "CHF"][..], "--pue and --currency need"),
    ] {
        let args = [&["analyze", "runs.csv", "--out", "an"][..], flags].concat();
        let out = host(&dir, &args);
        assert_eq!(out.status.code(), Some(2), "{flags:?}: {}", text(&out));
        assert!(text(&out).contains(names), "{flags:?}: {}", text(&out));
        assert!(
            !dir.join("an").exists(),
            "{flags:?}: refused before analysing"
        );
    }
}

/// `[experiment] stop` is checked when the manifest loads: a bad key is a usage error
/// naming `stop.<key>` and its line, before anything runs.
#[test]
fn a_bad_stop_table_is_a_manifest_error_naming_the_key() {
    let dir = temp_dir("cli-stop");
    let two =
        "[[plugin]]\nname = \"a\"\npath = \"a.so\"\n\n[[plugin]]\nname = \"b\"\npath = \"b.so\"\n";
    let with = |stop: &str| {
        manifest(two).replace(
            "iterations = 1\n",
            &format!("iterations = 10\nstop = {stop}\n"),
        )
    };
    let line = with("{}")
        .lines()
        .position(|l| l.starts_with("stop = "))
        .unwrap()
        + 1;
    for (stop, key) in [
        (r#"{ metric = "energy", looks = [5, 5] }"#, "`stop.looks`"),
        (r#"{ metric = "energy", looks = [5, 20] }"#, "`stop.looks`"),
        (r#"{ metric = "watts", looks = [5, 10] }"#, "`stop.metric`"),
        (
            r#"{ metric = "energy", looks = [5, 10], spending = "obf" }"#,
            "`stop.spending`",
        ),
        (
            r#"{ metric = "energy", looks = [5, 10], alpha = 0 }"#,
            "`stop.alpha`",
        ),
        (
            r#"{ metric = "energy", looks = [5, 10], alhpa = 0.1 }"#,
            "alhpa",
        ),
    ] {
        std::fs::write(dir.join("m.toml"), with(stop)).unwrap();
        let out = host(&dir, &["run", "m.toml", "--dry-run"]);
        assert_eq!(out.status.code(), Some(2), "{stop}: {}", text(&out));
        assert!(
            text(&out).contains(key) && text(&out).contains(&format!("m.toml:{line}")),
            "{stop}: {}",
            text(&out)
        );
    }
}
