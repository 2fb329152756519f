//! Fake msr files (regular files read with pread at the register offset) whose 32-bit counters
//! advance while the sampler runs, for Intel (two packages) and AMD (per-core registers summed
//! into `core`): several wraps per second and a reset must give the injected energy within
//! 0.1 %, never decreasing, with a `reset` fault.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::support::energy::*;
use crate::support::temp_dir;
use joulebench::energy::msr::*;
use joulebench::energy::{EnergyConfig, EnergyMonitor, SourceChoice};

/// ESU 26: 2^-26 J per count, so a 32-bit counter spans 64 J.
const ESU: u64 = 26;
const UNIT_J: f64 = 1.0 / (1u64 << ESU) as f64;
const RANGE: u64 = 1 << 32;
const RUN: Duration = Duration::from_secs(4);

fn counter(power_w: f64, start: u64) -> FakeCounter {
    FakeCounter {
        power_w,
        unit_j: UNIT_J,
        modulus: RANGE,
        start,
    }
}

fn msr_file(root: &Path, cpu: u32) -> PathBuf {
    let dir = root.join(cpu.to_string());
    fs::create_dir_all(&dir).expect("mkdir cpu");
    dir.join("msr")
}

fn config(dir: &Path, proc_root: PathBuf, sys: PathBuf) -> EnergyConfig {
    EnergyConfig {
        source: SourceChoice::Msr,
        sample_interval: Duration::from_millis(10),
        msr_root: dir.join("msr"),
        proc_root,
        sys_cpu_root: sys,
        ..Default::default()
    }
}

/// Runs the injector for RUN while checking that snapshots never go back; returns what was
/// injected, the final snapshot's joules and the faults.
fn run(
    monitor: EnergyMonitor,
    injector: Injector,
) -> (Injected, Vec<f64>, Vec<joulebench::energy::Fault>) {
    let t0 = Instant::now();
    let mut last: Vec<f64> = Vec::new();
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
        std::thread::sleep(Duration::from_millis(41));
    }
    let injected = injector.finish();
    let end = monitor.snapshot().expect("snapshot").joules;
    let faults = monitor.stop().expect("stop");
    assert!(injected.reset_done, "the injector never reset the counter");
    (injected, end, faults)
}

fn assert_close(name: &str, got: f64, want: f64, faults: &[joulebench::energy::Fault]) {
    if name.starts_with("package") {
        let wraps = (want / (RANGE as f64 * UNIT_J)).floor();
        assert!(wraps >= 6.0, "{name}: only {wraps} wraps in {RUN:?}");
    }
    let err = rel_err(got, want);
    assert!(
        err < 1e-3,
        "{name}: read {got} J, injected {want} J ({:.4} %); faults {faults:#?}",
        err * 100.0
    );
}

#[test]
fn intel_two_packages_wraps_and_a_reset() {
    let dir = temp_dir("msr-intel");
    let proc_root = fake_proc(&dir, "GenuineIntel", 6, 158, 4);
    let sys = fake_sys_cpu(&dir, &[(0, 0, 0), (1, 0, 1), (2, 1, 0), (3, 1, 1)]);
    let root = dir.join("msr");
    // PP1 (0x641) lies past the end of these files: that domain must be left out, as on CPUs
    // that do not implement it.
    let len = INTEL_PP1_ENERGY;
    let units = (ESU << 8) | 0x3;
    for cpu in [1, 3] {
        write_msr_file(&msr_file(&root, cpu), &[(INTEL_POWER_UNIT, units)], len);
    }
    // Per package: package, core (PP0), dram.
    let counters = vec![
        counter(250.0, RANGE - 1000),
        counter(120.0, 5),
        counter(20.0, 77),
        counter(150.0, RANGE / 2),
        counter(60.0, 0),
        counter(15.0, RANGE - 1),
    ];
    let regs = [INTEL_PKG_ENERGY, INTEL_PP0_ENERGY, INTEL_DRAM_ENERGY];
    let files = [msr_file(&root, 0), msr_file(&root, 2)];
    let write = move |values: &[u64]| {
        for (p, file) in files.iter().enumerate() {
            let mut content = vec![(INTEL_POWER_UNIT, units)];
            content.extend(
                regs.iter()
                    .zip(&values[p * 3..p * 3 + 3])
                    .map(|(r, v)| (*r, *v)),
            );
            write_msr_file(file, &content, len);
        }
    };
    write(&counters.iter().map(|c| c.start).collect::<Vec<_>>());

    let monitor = EnergyMonitor::start(&config(&dir, proc_root, sys), Some(&dir.join("s.csv")))
        .expect("start");
    let names: Vec<String> = monitor.domains().iter().map(|d| d.name.clone()).collect();
    assert_eq!(
        names,
        [
            "package-0",
            "core-0",
            "dram-0",
            "package-1",
            "core-1",
            "dram-1"
        ]
    );
    assert!(
        monitor
            .label()
            .starts_with("measured: msr (package-0 core-0"),
        "{}",
        monitor.label()
    );
    assert!(!monitor.label().contains(','), "{}", monitor.label());
    let reset = ResetPlan {
        counter: 0,
        after: Duration::from_millis(1500),
        window_j: (3.0, 12.0),
        pause: Duration::from_millis(250),
    };
    let totals_of = monitor.domains();
    let injector = Injector::start(counters, Some(reset), write);
    let (injected, end, faults) = run(monitor, injector);

    for (i, d) in totals_of.iter().enumerate() {
        assert_close(&d.name, end[i], injected.joules[i], &faults);
    }
    let resets: Vec<_> = faults.iter().filter(|f| f.kind == "reset").collect();
    assert_eq!(resets.len(), 1, "{faults:#?}");
    assert_eq!(resets[0].domain, "package-0");

    let (header, rows) = read_csv(&dir.join("s.csv"));
    check_layout(&header, &rows);
    for col in [
        "PACKAGE0_ENERGY (J)",
        "PACKAGE1_ENERGY (J)",
        "PP0_0_ENERGY (J)",
        "DRAM1_ENERGY (J)",
    ] {
        assert!(
            header.iter().any(|h| h == col),
            "{col} missing from {header:?}"
        );
    }
    let _ = fs::remove_dir_all(&dir);
}

#[test]
fn amd_per_core_registers_add_up_and_a_core_reset_is_flagged() {
    let dir = temp_dir("msr-amd");
    let proc_root = fake_proc(&dir, "AuthenticAMD", 25, 33, 4);
    // Two physical cores, each with two hardware threads. AMD's registers are adjacent
    // (0xC0010299..0xC001029B), so in a regular file they overlap: cpu 0 holds the units (whose
    // ESU byte is 0x..9A) and the package counter (0x..9B, low 32 bits); the core counters are
    // read on each core's last thread, cpus 1 and 3.
    let sys = fake_sys_cpu(&dir, &[(0, 0, 0), (1, 0, 0), (2, 0, 1), (3, 0, 1)]);
    let root = dir.join("msr");
    let len = AMD_PKG_ENERGY + 8;
    let units = (ESU << 8) | 0x3;
    write_msr_file(&msr_file(&root, 2), &[], len);
    let counters = vec![
        counter(200.0, 123),
        counter(60.0, RANGE - 5),
        counter(50.0, 9),
    ];
    let (cpu0, cpu1, cpu3) = (msr_file(&root, 0), msr_file(&root, 1), msr_file(&root, 3));
    let write = move |v: &[u64]| {
        // Units first: the package counter's 8 bytes then overwrite all but the ESU byte.
        write_msr_file(
            &cpu0,
            &[(AMD_POWER_UNIT, units), (AMD_PKG_ENERGY, v[0])],
            len,
        );
        write_msr_file(&cpu1, &[(AMD_CORE_ENERGY, v[1])], len);
        write_msr_file(&cpu3, &[(AMD_CORE_ENERGY, v[2])], len);
    };
    write(&counters.iter().map(|c| c.start).collect::<Vec<_>>());

    let monitor = EnergyMonitor::start(&config(&dir, proc_root, sys), None).expect("start");
    let domains = monitor.domains();
    let names: Vec<&str> = domains.iter().map(|d| d.name.as_str()).collect();
    assert_eq!(names, ["package-0", "core"]);
    assert!(domains[0].in_total && !domains[1].in_total);
    let reset = ResetPlan {
        counter: 2,
        after: Duration::from_millis(1500),
        window_j: (3.0, 12.0),
        pause: Duration::from_millis(250),
    };
    let injector = Injector::start(counters, Some(reset), write);
    let (injected, end, faults) = run(monitor, injector);

    assert_close("package-0", end[0], injected.joules[0], &faults);
    let core = injected.joules[1] + injected.joules[2];
    assert!(
        rel_err(end[1], core) < 1e-3,
        "core: read {} J, injected {core} J",
        end[1]
    );
    let resets: Vec<_> = faults.iter().filter(|f| f.kind == "reset").collect();
    assert_eq!(resets.len(), 1, "{faults:#?}");
    assert_eq!(resets[0].domain, "core");
    let _ = fs::remove_dir_all(&dir);
}

#[test]
fn missing_msr_files_are_explained() {
    let dir = temp_dir("msr-missing");
    let proc_root = fake_proc(&dir, "GenuineIntel", 6, 158, 1);
    let cfg = config(&dir, proc_root, dir.join("sys"));
    let err = EnergyMonitor::start(&cfg, None).err().expect("no msr root");
    assert!(format!("{err:#}").contains("modprobe msr"), "{err:#}");
    // /dev/cpu/0 without msr: the module is not loaded (this VM).
    fs::create_dir_all(dir.join("msr/0")).expect("mkdir");
    let err = EnergyMonitor::start(&cfg, None).err().expect("no msr file");
    let text = format!("{err:#}");
    assert!(
        text.contains("0/msr: not found") && text.contains("modprobe msr"),
        "{text}"
    );
    // A CPU without RAPL registers (file too short): the register is named.
    write_msr_file(&dir.join("msr/0/msr"), &[], 16);
    let err = EnergyMonitor::start(&cfg, None).err().expect("no RAPL");
    assert!(format!("{err:#}").contains("0x606"), "{err:#}");
    let _ = fs::remove_dir_all(&dir);
}

#[test]
fn energy_unit_comes_from_bits_12_to_8() {
    assert_eq!(energy_unit_j(ESU << 8), UNIT_J);
    assert_eq!(energy_unit_j(0xA0E03), 1.0 / 16384.0);
}
