//! `host meters`: explains every source, and `--watch --json` reports energy and power.

use std::fs;
use std::time::Duration;

use crate::support::temp_dir;
use joulebench::energy::{meters_command, MetersArgs};

fn run(args: &MetersArgs) -> String {
    let mut out = Vec::new();
    meters_command(args, &mut out).expect("meters");
    String::from_utf8(out).expect("utf-8")
}

#[test]
fn explains_missing_sources() {
    let dir = temp_dir("meters");
    let args = MetersArgs {
        powercap_root: Some(dir.join("no-powercap")),
        msr_root: Some(dir.join("no-msr")),
        ..Default::default()
    };
    let text = run(&args);
    for source in ["powercap", "perf", "msr", "nvml", "estimate"] {
        assert!(
            text.contains(&format!("  {source} ")),
            "{source} missing:\n{text}"
        );
    }
    assert!(text.contains("no-powercap: not found"), "{text}");
    assert!(text.contains("modprobe msr"), "{text}");
    assert!(text.contains("meter: "), "{text}");
    let _ = fs::remove_dir_all(&dir);
}

#[test]
fn watch_json_reports_energy_and_power() {
    let dir = temp_dir("meters-json");
    let args = MetersArgs {
        powercap_root: Some(dir.join("no-powercap")),
        msr_root: Some(dir.join("no-msr")),
        watch: Some(Duration::from_millis(300)),
        json: true,
    };
    let doc: serde_json::Value = serde_json::from_str(&run(&args)).expect("json");
    let sources = doc["sources"].as_array().expect("sources");
    assert_eq!(sources.len(), 5, "{doc:#}");
    let domains = doc["domains"].as_array().expect("domains");
    assert!(!domains.is_empty());
    for d in domains {
        for key in [
            "name", "source", "measured", "energy_j", "seconds", "power_w",
        ] {
            assert!(d.get(key).is_some(), "{key} missing in {d}");
        }
        let seconds = d["seconds"].as_f64().expect("seconds");
        assert!((0.25..2.0).contains(&seconds), "{seconds}");
        if d["name"] == "cpu-estimate" {
            assert_eq!(d["measured"], false);
            assert!(d["power_w"].as_f64().expect("power") > 0.0);
        }
    }
    let _ = fs::remove_dir_all(&dir);
}

#[test]
fn a_fake_powercap_tree_is_measured() {
    let dir = temp_dir("meters-powercap");
    let zone = dir.join("powercap/intel-rapl:0");
    fs::create_dir_all(&zone).expect("mkdir");
    fs::write(zone.join("name"), "package-0\n").expect("name");
    fs::write(zone.join("energy_uj"), "1000\n").expect("energy");
    fs::write(zone.join("max_energy_range_uj"), "262143328850\n").expect("max");
    let args = MetersArgs {
        powercap_root: Some(dir.join("powercap")),
        msr_root: Some(dir.join("no-msr")),
        watch: Some(Duration::from_millis(100)),
        json: false,
    };
    let text = run(&args);
    assert!(
        text.contains("meter: measured: powercap (package-0)"),
        "{text}"
    );
    assert!(text.contains("estimate  unused  not needed"), "{text}");
    assert!(text.contains("package-0  powercap"), "{text}");
    let _ = fs::remove_dir_all(&dir);
}
