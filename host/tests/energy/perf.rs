//! The perf `power` PMU without the PMU: event files, formats, scale and unit are parsed from
//! a fake sysfs tree, and every way of not having it is explained.

use std::fs;
use std::path::{Path, PathBuf};

use crate::support::temp_dir;
use joulebench::energy::perf::*;
use joulebench::energy::{EnergyConfig, EnergyMonitor, SourceChoice};

const SCALE: &str = "2.3283064365386962890625e-10";

fn fake_pmu(dir: &Path, pmu_type: &str) -> PathBuf {
    let root = dir.join("devices");
    let pmu = root.join("power");
    fs::create_dir_all(pmu.join("events")).expect("mkdir");
    fs::create_dir_all(pmu.join("format")).expect("mkdir");
    fs::write(pmu.join("type"), format!("{pmu_type}\n")).expect("type");
    fs::write(pmu.join("cpumask"), "0,28\n").expect("cpumask");
    fs::write(pmu.join("format/event"), "config:0-7\n").expect("format");
    for (name, code) in [("energy-pkg", 2), ("energy-ram", 3), ("energy-cores", 1)] {
        let ev = pmu.join("events").join(name);
        fs::write(&ev, format!("event=0x{code:02x}\n")).expect("event");
        fs::write(
            ev.with_file_name(format!("{name}.scale")),
            format!("{SCALE}\n"),
        )
        .expect("scale");
        fs::write(ev.with_file_name(format!("{name}.unit")), "Joules\n").expect("unit");
    }
    // Not an energy event: ignored.
    fs::write(pmu.join("events/cycles"), "event=0x3c\n").expect("cycles");
    root
}

#[test]
fn event_terms_and_formats() {
    assert_eq!(parse_format("config:0-7\n"), Some((0, 7)));
    assert_eq!(parse_format("config:12"), Some((12, 12)));
    assert_eq!(parse_format("config1:0-7"), None);
    assert_eq!(parse_format("config:9-3"), None);
    let none = |_: &str| None;
    assert_eq!(parse_event_terms("event=0x02\n", none).expect("parse"), 2);
    let formats = |t: &str| match t {
        "event" => Some("config:0-7".to_string()),
        "umask" => Some("config:8-15".to_string()),
        _ => None,
    };
    assert_eq!(
        parse_event_terms("event=0x02,umask=0x1", formats).expect("parse"),
        0x102
    );
    assert!(
        parse_event_terms("event=0x1ff", formats).is_err(),
        "does not fit 8 bits"
    );
    assert!(parse_event_terms("event=zz", formats).is_err());
    assert!(
        parse_event_terms("edge=1", formats).is_err(),
        "no format for edge"
    );
    assert_eq!(domain_for_event("energy-pkg"), Some("package"));
    assert_eq!(domain_for_event("energy-ram"), Some("dram"));
    assert_eq!(domain_for_event("energy-gpu"), Some("uncore"));
    assert_eq!(domain_for_event("energy-psys"), Some("psys"));
}

#[test]
fn a_fake_pmu_is_parsed() {
    let dir = temp_dir("perf-parse");
    let pmu = discover(&fake_pmu(&dir, "23")).expect("discover");
    assert_eq!(pmu.pmu_type, 23);
    assert_eq!(pmu.cpus, [0, 28]);
    let names: Vec<&str> = pmu.events.iter().map(|e| e.event.as_str()).collect();
    assert_eq!(names, ["energy-cores", "energy-pkg", "energy-ram"]);
    let pkg = &pmu.events[1];
    assert_eq!(pkg.config, 2);
    assert_eq!(pkg.unit, "Joules");
    assert_eq!(pkg.scale, 1.0 / (1u64 << 32) as f64);
    let _ = fs::remove_dir_all(&dir);
}

#[test]
fn bad_event_files_are_errors_not_guesses() {
    let dir = temp_dir("perf-bad");
    let root = fake_pmu(&dir, "23");
    fs::write(root.join("power/events/energy-pkg.unit"), "Watts\n").expect("unit");
    let err = discover(&root).expect_err("must fail");
    assert!(format!("{err:#}").contains("Joules"), "{err:#}");
    fs::write(root.join("power/type"), "x\n").expect("type");
    assert!(discover(&root).is_err());
    let _ = fs::remove_dir_all(&dir);
}

#[test]
fn absence_and_refusal_are_explained() {
    let dir = temp_dir("perf-absent");
    fs::create_dir_all(dir.join("empty")).expect("mkdir");
    let cfg = |root: PathBuf| EnergyConfig {
        source: SourceChoice::Perf,
        perf_root: root,
        ..Default::default()
    };
    let err = EnergyMonitor::start(&cfg(dir.join("empty")), None)
        .err()
        .expect("no PMU");
    let text = format!("{err:#}");
    assert!(
        text.contains("power: not found") && text.contains("no RAPL perf PMU"),
        "{text}"
    );
    // A PMU type the kernel does not have: perf_event_open refuses, and says so.
    let err = EnergyMonitor::start(&cfg(fake_pmu(&dir, "4000000")), None)
        .err()
        .expect("refused");
    let text = format!("{err:#}");
    assert!(
        text.contains("perf_event_open") && text.contains("energy-"),
        "{text}"
    );
    let _ = fs::remove_dir_all(&dir);
}
