//! The estimate works on a machine without counters (this VM), follows its documented model,
//! and says everywhere that it is an estimate.

use std::fs;
use std::time::{Duration, Instant};

use crate::support::energy::*;
use crate::support::temp_dir;
use joulebench::energy::{
    process_cpu_time_s, EnergyConfig, EnergyMonitor, SourceChoice, DEFAULT_IDLE_SHARE,
    DEFAULT_TDP_WATTS, ESTIMATE_COLUMN,
};
use joulebench::error::is_usage;

/// Spins until this process has used `cpu` of CPU time (the machine may be shared).
fn busy(cpu: Duration) -> u64 {
    let (t0, c0) = (Instant::now(), process_cpu_time_s());
    let mut x = 1u64;
    while process_cpu_time_s() - c0 < cpu.as_secs_f64() && t0.elapsed() < Duration::from_secs(20) {
        for _ in 0..10_000 {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
        }
    }
    x
}

#[test]
fn estimate_on_this_machine_is_labelled_and_plausible() {
    let dir = temp_dir("estimate");
    let csv = dir.join("samples/1-spin.csv");
    let cfg = EnergyConfig {
        source: SourceChoice::Estimate,
        sample_interval: Duration::from_millis(10),
        ..Default::default()
    };
    let monitor = EnergyMonitor::start(&cfg, Some(&csv)).expect("start");
    assert!(!monitor.measured());
    assert_eq!(
        monitor.label(),
        format!(
            "estimate: cpu-time model; tdp {DEFAULT_TDP_WATTS} W; idle share {DEFAULT_IDLE_SHARE}"
        )
    );
    let domains = monitor.domains();
    assert_eq!(domains.len(), 1);
    assert_eq!(domains[0].name, "cpu-estimate");
    assert_eq!(domains[0].source, "estimate");
    assert!(!domains[0].measured && domains[0].in_total);
    std::hint::black_box(busy(Duration::from_millis(300)));
    let s = monitor.snapshot().expect("snapshot");
    let t = s.elapsed.as_secs_f64();
    let (low, high) = (
        DEFAULT_TDP_WATTS * DEFAULT_IDLE_SHARE * t,
        DEFAULT_TDP_WATTS * t,
    );
    assert!(
        s.joules[0] >= low * 0.95 && s.joules[0] <= high * 1.05,
        "{} J in {t} s: outside [{low}, {high}]",
        s.joules[0]
    );
    assert!(
        s.cpu_time_s >= 0.3,
        "busy 0.3 s of CPU but cpu time {}",
        s.cpu_time_s
    );
    assert_eq!(monitor.total_joules(&s), s.joules[0]);
    let faults = monitor.stop().expect("stop");
    assert!(faults.is_empty(), "{faults:#?}");

    let (header, rows) = read_csv(&csv);
    assert!(header.iter().any(|h| h == ESTIMATE_COLUMN), "{header:?}");
    assert!(!header
        .iter()
        .any(|h| h.contains("PACKAGE") || h == "CPU_ENERGY (J)"));
    let deltas = check_layout(&header, &rows);
    let m = median(&deltas);
    assert!(
        (8.0..=20.0).contains(&m),
        "median Delta {m} ms at a 10 ms interval"
    );
    let _ = fs::remove_dir_all(&dir);
}

#[test]
fn the_model_is_tdp_times_the_idle_share_plus_the_busy_share() {
    // A /proc/stat that never changes: the machine looks idle, so with idle share 1 the power
    // is the TDP exactly, whatever this process does.
    let dir = temp_dir("estimate-model");
    let cfg = EnergyConfig {
        source: SourceChoice::Estimate,
        tdp_watts: 10.0,
        idle_share: 1.0,
        proc_root: fake_proc(&dir, "GenuineIntel", 6, 158, 2),
        ..Default::default()
    };
    let monitor = EnergyMonitor::start(&cfg, None).expect("start");
    std::thread::sleep(Duration::from_millis(300));
    let s = monitor.snapshot().expect("snapshot");
    let want = 10.0 * s.elapsed.as_secs_f64();
    assert!(
        rel_err(s.joules[0], want) < 0.02,
        "{} J, want {want}",
        s.joules[0]
    );
    monitor.stop().expect("stop");

    // Idle share 0 on an idle machine: only this process's own CPU time counts.
    let cfg = EnergyConfig {
        idle_share: 0.0,
        ..cfg
    };
    let monitor = EnergyMonitor::start(&cfg, None).expect("start");
    let before = monitor.snapshot().expect("snapshot");
    std::hint::black_box(busy(Duration::from_millis(300)));
    let after = monitor.snapshot().expect("snapshot");
    let cpu = after.cpu_time_s - before.cpu_time_s;
    // 10 W over 2 CPUs: 5 J per CPU-second.
    let want = 5.0 * cpu;
    let got = after.joules[0] - before.joules[0];
    assert!(
        rel_err(got, want) < 0.25,
        "{got} J for {cpu} s of CPU, want {want}"
    );
    monitor.stop().expect("stop");
    let _ = fs::remove_dir_all(&dir);
}

#[test]
fn auto_without_counters_falls_back_to_the_estimate_and_says_why() {
    let dir = temp_dir("estimate-auto");
    fs::create_dir_all(dir.join("perf")).expect("mkdir");
    let cfg = EnergyConfig {
        powercap_root: dir.join("no-powercap"),
        perf_root: dir.join("perf"),
        msr_root: dir.join("no-msr"),
        ..Default::default()
    };
    let monitor = EnergyMonitor::start(&cfg, None).expect("start");
    assert!(
        monitor.label().starts_with("estimate: "),
        "{}",
        monitor.label()
    );
    assert!(!monitor.label().contains(','));
    assert!(!monitor.measured());
    let unused = monitor.unused_sources();
    for source in ["powercap", "perf", "msr"] {
        let line = unused
            .iter()
            .find(|l| l.starts_with(&format!("{source}: ")))
            .unwrap_or_else(|| panic!("no line for {source}: {unused:#?}"));
        assert!(line.contains("not found"), "{line}");
    }
    // NVML is either used (a GPU machine) or explained.
    let nvml_used = monitor.domains().iter().any(|d| d.source == "nvml");
    assert!(
        nvml_used || unused.iter().any(|l| l.starts_with("nvml: ")),
        "{unused:#?}"
    );
    monitor.stop().expect("stop");
    let _ = fs::remove_dir_all(&dir);
}

#[test]
fn bad_settings_are_usage_errors() {
    for cfg in [
        EnergyConfig {
            tdp_watts: -1.0,
            ..Default::default()
        },
        EnergyConfig {
            tdp_watts: f64::NAN,
            ..Default::default()
        },
        EnergyConfig {
            idle_share: 1.5,
            ..Default::default()
        },
        EnergyConfig {
            sample_interval: Duration::ZERO,
            ..Default::default()
        },
    ] {
        let err = EnergyMonitor::start(&cfg, None).err().expect("must fail");
        assert!(is_usage(&err), "{err:#}");
    }
    for name in ["auto", "powercap", "perf", "msr", "nvml", "estimate"] {
        let choice: SourceChoice = name.parse().expect("parse");
        assert_eq!(choice.to_string(), name);
    }
    let err = "rapl".parse::<SourceChoice>().expect_err("must fail");
    assert!(
        is_usage(&err) && format!("{err}").contains("powercap"),
        "{err}"
    );
}
