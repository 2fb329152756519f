//! A fake powercap tree whose counters advance while the sampler runs: several wraps per
//! second and one reset must still give the injected energy within 0.1 %, never a negative or
//! decreasing total, a `reset` fault, and an EnergiBridge-layout CSV at a 10 ms interval.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::support::energy::*;
use crate::support::temp_dir;
use joulebench::energy::{EnergyConfig, EnergyMonitor, SourceChoice};

/// Zones: package-0 (200 W, 50 J range: 4 wraps/s) and its dram subzone (30 W, 10 J: 3/s).
const ZONES: [(&str, &str, FakeCounter); 2] = [
    (
        "intel-rapl:0",
        "package-0",
        FakeCounter {
            power_w: 200.0,
            unit_j: 1e-6,
            modulus: 50_000_000,
            start: 45_000_000,
        },
    ),
    (
        "intel-rapl:0:0",
        "dram",
        FakeCounter {
            power_w: 30.0,
            unit_j: 1e-6,
            modulus: 10_000_000,
            start: 1_000,
        },
    ),
];

/// Long enough that the energy lost at the reset (what no reader saw before it) is far below
/// 0.1 % of the total.
const RUN: Duration = Duration::from_secs(5);

fn fake_tree(dir: &Path) -> PathBuf {
    let root = dir.join("powercap");
    for (id, name, c) in ZONES {
        let zone = root.join(id);
        fs::create_dir_all(&zone).expect("mkdir zone");
        fs::write(zone.join("name"), format!("{name}\n")).expect("name");
        fs::write(
            zone.join("max_energy_range_uj"),
            format!("{}\n", c.modulus - 1),
        )
        .expect("max");
        fs::write(zone.join("enabled"), "1\n").expect("enabled");
        fs::write(zone.join("energy_uj"), format!("{}\n", c.start)).expect("energy");
    }
    // Not RAPL counters of ours: must be ignored.
    fs::create_dir_all(root.join("intel-rapl-mmio:0")).expect("mmio");
    root
}

fn config(dir: &Path, root: PathBuf) -> EnergyConfig {
    EnergyConfig {
        source: SourceChoice::Powercap,
        sample_interval: Duration::from_millis(10),
        powercap_root: root,
        proc_root: fake_proc(dir, "GenuineIntel", 6, 158, 2),
        sys_cpu_root: dir.join("no-sys"),
        ..Default::default()
    }
}

#[test]
fn wraps_and_a_reset_still_give_the_injected_energy() {
    let dir = temp_dir("powercap");
    let root = fake_tree(&dir);
    let csv = dir.join("samples/1-spin.csv");
    let monitor = EnergyMonitor::start(&config(&dir, root.clone()), Some(&csv)).expect("start");
    let names: Vec<String> = monitor.domains().iter().map(|d| d.name.clone()).collect();
    assert_eq!(names, ["package-0", "dram"]);
    assert!(monitor.measured());
    assert_eq!(monitor.label(), "measured: powercap (package-0 dram)");

    let files: Vec<PathBuf> = ZONES
        .iter()
        .map(|(id, _, _)| root.join(id).join("energy_uj"))
        .collect();
    let reset = ResetPlan {
        counter: 0,
        after: Duration::from_millis(1200),
        window_j: (5.0, 20.0),
        pause: Duration::from_millis(250),
    };
    let injector = Injector::start(ZONES.iter().map(|z| z.2).collect(), Some(reset), move |v| {
        for (f, value) in files.iter().zip(v) {
            write_atomic(f, format!("{value}\n").as_bytes());
        }
    });

    // Snapshots from this thread interleave with the sampler's reads: one unwrapping state.
    let t0 = Instant::now();
    let mut last = vec![0.0; 2];
    while t0.elapsed() < RUN {
        let s = monitor.snapshot().expect("snapshot");
        for (j, l) in s.joules.iter().zip(&last) {
            assert!(
                *j >= 0.0 && j >= l,
                "energy went back: {last:?} → {:?}",
                s.joules
            );
        }
        last = s.joules;
        std::thread::sleep(Duration::from_millis(37));
    }
    let injected = injector.finish();
    let end = monitor.snapshot().expect("snapshot");
    let faults = monitor.stop().expect("stop");

    assert!(injected.reset_done, "the injector never reset the counter");
    for (i, (_, name, c)) in ZONES.iter().enumerate() {
        let wraps = (injected.joules[i] / (c.modulus as f64 * c.unit_j)).floor();
        assert!(wraps >= 4.0, "{name}: only {wraps} wraps in {RUN:?}");
        let err = rel_err(end.joules[i], injected.joules[i]);
        assert!(
            err < 1e-3,
            "{name}: read {} J, injected {} J ({:.4} %); faults {faults:#?}",
            end.joules[i],
            injected.joules[i],
            err * 100.0
        );
    }
    let resets: Vec<_> = faults.iter().filter(|f| f.kind == "reset").collect();
    assert_eq!(resets.len(), 1, "{faults:#?}");
    assert_eq!(resets[0].domain, "package-0");

    let (header, rows) = read_csv(&csv);
    assert!(
        header.contains(&"PACKAGE_ENERGY (J)".to_string()),
        "{header:?}"
    );
    assert!(
        header.contains(&"DRAM_ENERGY (J)".to_string()),
        "{header:?}"
    );
    assert!(!header.iter().any(|h| h.contains("ESTIMATE")));
    let deltas = check_layout(&header, &rows);
    let m = median(&deltas);
    assert!(
        (8.0..=20.0).contains(&m),
        "median Delta {m} ms at a 10 ms interval"
    );
    assert!(rows.len() >= 100, "{} rows in {RUN:?} at 10 ms", rows.len());
    // The CSV's last row is taken at stop: it carries the whole energy too.
    let col = header
        .iter()
        .position(|h| h == "PACKAGE_ENERGY (J)")
        .unwrap_or(0);
    let last_row = rows.last().map(|r| r[col]).unwrap_or(0.0);
    assert!(
        rel_err(last_row, injected.joules[0]) < 1e-3,
        "CSV ends at {last_row} J"
    );
    let _ = fs::remove_dir_all(&dir);
}

#[test]
fn a_missing_or_empty_tree_is_explained() {
    let dir = temp_dir("powercap-missing");
    let err = EnergyMonitor::start(&config(&dir, dir.join("nothing-here")), None)
        .err()
        .expect("must fail");
    let text = format!("{err:#}");
    assert!(
        text.contains("powercap") && text.contains("not found"),
        "{text}"
    );
    let empty = dir.join("empty");
    fs::create_dir_all(&empty).expect("mkdir");
    let err = EnergyMonitor::start(&config(&dir, empty), None)
        .err()
        .expect("must fail");
    assert!(
        format!("{err:#}").contains("no intel-rapl zones"),
        "{err:#}"
    );
    let _ = fs::remove_dir_all(&dir);
}

/// A static tree with the given (zone id, name) pairs, every counter at `uj`.
fn static_tree(dir: &Path, zones: &[(&str, &str)], uj: u64) -> PathBuf {
    let root = dir.join("powercap");
    for (id, name) in zones {
        let zone = root.join(id);
        fs::create_dir_all(&zone).expect("mkdir zone");
        fs::write(zone.join("name"), format!("{name}\n")).expect("name");
        fs::write(zone.join("max_energy_range_uj"), "262143328850\n").expect("max");
        fs::write(zone.join("enabled"), "1\n").expect("enabled");
        fs::write(zone.join("energy_uj"), format!("{uj}\n")).expect("energy");
    }
    root
}

/// Names of the domains that add up to a run's `energy_j`.
fn totalled(monitor: &EnergyMonitor) -> Vec<String> {
    monitor
        .domains()
        .into_iter()
        .filter(|d| d.in_total)
        .map(|d| d.name)
        .collect()
}

#[test]
fn core_uncore_and_psys_never_add_to_the_package_total() {
    let dir = temp_dir("powercap-total");
    let zones = [
        ("intel-rapl:0", "package-0"),
        ("intel-rapl:0:0", "core"),
        ("intel-rapl:0:1", "uncore"),
        ("intel-rapl:0:2", "dram"),
        ("intel-rapl:1", "psys"),
    ];
    let root = static_tree(&dir, &zones, 1_000_000);
    let monitor = EnergyMonitor::start(&config(&dir, root.clone()), None).expect("start");
    assert_eq!(totalled(&monitor), ["package-0", "dram"]);

    // Advance each zone by a different amount: the total is package + dram, nothing else.
    let joules = [(0, 10.0), (1, 7.0), (2, 1.0), (3, 2.0), (4, 20.0)];
    for (i, j) in joules {
        let uj = 1_000_000 + (j * 1e6) as u64;
        write_atomic(
            &root.join(zones[i].0).join("energy_uj"),
            format!("{uj}\n").as_bytes(),
        );
    }
    let s = monitor.snapshot().expect("snapshot");
    let total = monitor.total_joules(&s);
    assert!((total - 12.0).abs() < 1e-9, "total {total} J of {s:?}");
    monitor.stop().expect("stop");
    let _ = fs::remove_dir_all(&dir);
}

#[test]
fn psys_alone_stands_for_the_cpu_and_covers_dram() {
    let dir = temp_dir("powercap-psys");
    let zones = [("intel-rapl:1", "psys"), ("intel-rapl:1:0", "dram")];
    let root = static_tree(&dir, &zones, 0);
    let monitor = EnergyMonitor::start(&config(&dir, root), None).expect("start");
    assert_eq!(totalled(&monitor), ["psys"]);
    monitor.stop().expect("stop");
    let _ = fs::remove_dir_all(&dir);
}
