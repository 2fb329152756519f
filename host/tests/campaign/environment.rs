//! Provenance capture and the quiet-machine checklist, against fake /proc and /sys trees
//! (every warning fires on a noisy tree, none on a quiet one) and once against this machine.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use joulebench::fsx::sha256_file;

use crate::support::{temp_dir, TempDir};
use joulebench::protocol::environment::*;

fn write(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().expect("has parent")).expect("mkdir");
    // Write-then-rename so a concurrent sampler never reads a half-written stat file.
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, text).expect("write");
    std::fs::rename(&tmp, path).expect("rename");
}

/// A `/proc/[pid]/stat` line with the given parent, CPU ticks (as utime) and start time.
fn stat_line(pid: u32, comm: &str, ppid: u32, ticks: u64, start: u64) -> String {
    format!("{pid} ({comm}) R {ppid} {pid} {pid} 0 -1 4194304 100 0 0 0 {ticks} 0 0 0 20 0 1 0 {start} 3133440 391 18446744073709551615 0 0\n")
}

fn cpuinfo(hypervisor: bool) -> String {
    let flags = if hypervisor {
        "fpu sse2 avx2 hypervisor"
    } else {
        "fpu sse2 avx2"
    };
    // 2 cores × 2 threads: processors 0,2 on core 0 and 1,3 on core 1.
    (0..4)
        .map(|p| {
            format!(
                "processor\t: {p}\nvendor_id\t: GenuineFake\nmodel name\t: Fake CPU 9000 @ 3.00GHz\n\
                 cpu MHz\t\t: 1234.5{p}\nphysical id\t: 0\ncore id\t\t: {}\ncpu cores\t: 2\n\
                 flags\t\t: {flags}\n\n",
                p % 2
            )
        })
        .collect()
}

const OWN_CHILD_PID: u32 = 4_000_001;
const BUSY_PID: u32 = 4242;
const IDLE_PID: u32 = 4343;

struct Tree {
    roots: Roots,
    dir: TempDir,
}

impl Tree {
    fn stat(&self, pid: u32) -> PathBuf {
        self.roots.proc_root.join(pid.to_string()).join("stat")
    }
}

/// A machine that breaks every rule of the checklist.
fn noisy_tree() -> Tree {
    let dir = temp_dir("noisy");
    let proc_ = dir.join("proc");
    let sys = dir.join("sys");
    write(&proc_.join("cpuinfo"), &cpuinfo(true));
    write(&proc_.join("loadavg"), "3.50 2.00 1.00 5/300 1234\n");
    write(
        &proc_.join("meminfo"),
        "MemTotal:       16384000 kB\nMemFree:         1000000 kB\nMemAvailable:    8192000 kB\n\
         SwapTotal:       2097152 kB\nSwapFree:        1048576 kB\n",
    );
    write(&proc_.join("sys/kernel/osrelease"), "6.1.0-fake\n");
    write(
        &proc_.join("sys/kernel/version"),
        "#1 SMP PREEMPT_DYNAMIC Fake\n",
    );
    write(&proc_.join("sys/kernel/hostname"), "fakehost\n");
    let me = std::process::id();
    write(
        &proc_.join(format!("{me}/stat")),
        &stat_line(me, "host", 1, 0, 10),
    );
    write(
        &proc_.join(format!("{OWN_CHILD_PID}/stat")),
        &stat_line(OWN_CHILD_PID, "host worker", me, 0, 11),
    );
    write(
        &proc_.join(format!("{BUSY_PID}/stat")),
        &stat_line(BUSY_PID, "cargo (build)", 1, 0, 12),
    );
    write(
        &proc_.join(format!("{IDLE_PID}/stat")),
        &stat_line(IDLE_PID, "sleepy", 1, 0, 13),
    );
    let cpu = sys.join("devices/system/cpu");
    write(&cpu.join("online"), "0-3\n");
    for (n, governor) in [
        (0, "powersave"),
        (1, "powersave"),
        (2, "performance"),
        (3, "powersave"),
    ] {
        let f = cpu.join(format!("cpu{n}/cpufreq"));
        write(&f.join("scaling_governor"), governor);
        write(&f.join("scaling_driver"), "intel_pstate");
        write(&f.join("scaling_cur_freq"), "2800000");
        write(&f.join("scaling_max_freq"), "4700000");
        write(&f.join("cpuinfo_max_freq"), "4700000");
        write(&f.join("energy_performance_preference"), "balance_power");
    }
    write(&cpu.join("intel_pstate/no_turbo"), "0\n");
    write(&cpu.join("intel_pstate/status"), "active\n");
    let ps = sys.join("class/power_supply");
    write(&ps.join("AC/type"), "Mains\n");
    write(&ps.join("AC/online"), "0\n");
    write(&ps.join("BAT0/type"), "Battery\n");
    write(&ps.join("BAT0/status"), "Discharging\n");
    write(&ps.join("BAT0/capacity"), "54\n");
    write(&sys.join("class/dmi/id/sys_vendor"), "FakeCorp\n");
    write(&sys.join("class/dmi/id/product_name"), "Laptop 13\n");
    let os_release = dir.join("os-release");
    write(
        &os_release,
        "NAME=\"Fake\"\nPRETTY_NAME=\"Fake Linux 1.0 (\\\"zen\\\")\"\n",
    );
    Tree {
        roots: Roots {
            proc_root: proc_,
            sys_root: sys,
            os_release,
        },
        dir,
    }
}

/// The same machine, quietened: every warning's cause removed.
fn quiet_tree() -> Tree {
    let t = noisy_tree();
    let proc_ = &t.roots.proc_root;
    let sys = &t.roots.sys_root;
    write(&proc_.join("cpuinfo"), &cpuinfo(false));
    write(&proc_.join("loadavg"), "0.10 0.20 0.30 1/300 1234\n");
    write(
        &proc_.join("meminfo"),
        "MemTotal:       16384000 kB\nMemAvailable:    8192000 kB\n\
         SwapTotal:       2097152 kB\nSwapFree:        2097000 kB\n",
    );
    let cpu = sys.join("devices/system/cpu");
    for n in 0..4 {
        write(
            &cpu.join(format!("cpu{n}/cpufreq/scaling_governor")),
            "performance",
        );
    }
    write(&cpu.join("intel_pstate/no_turbo"), "1\n");
    let ps = sys.join("class/power_supply");
    write(&ps.join("AC/online"), "1\n");
    write(&ps.join("BAT0/status"), "Full\n");
    t
}

fn plugin() -> PluginProvenance {
    PluginProvenance {
        name: "spin".into(),
        path: "/x/libplugin_spin.so".into(),
        sha256: "ab".repeat(32),
        framework: "spin".into(),
        framework_version: "0.1.0".into(),
    }
}

fn energy(measured: bool) -> EnergySummary {
    EnergySummary {
        label: if measured {
            "powercap".into()
        } else {
            "estimate: CPU time × 15 W".into()
        },
        measured,
        domains: vec!["package-0".into()],
        unused_sources: vec!["msr: /dev/cpu/0/msr: permission denied".into()],
    }
}

fn capture_tree(t: &Tree, measured: bool) -> Environment {
    capture(
        &t.roots,
        Path::new("manifests/quick.toml"),
        &"cd".repeat(32),
        &[plugin()],
        &energy(measured),
    )
}

/// Keeps the fake busy process burning one CPU's worth of ticks until dropped, so the live
/// two-sample check in `quiet_machine_warnings` sees it.
struct Burner {
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Burner {
    fn start(paths: Vec<(PathBuf, u32, &'static str, u32, u64)>) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let running = Arc::new(AtomicBool::new(false));
        let running_flag = Arc::clone(&running);
        let hz = ticks_per_second();
        let thread = std::thread::spawn(move || {
            let t0 = Instant::now();
            while !flag.load(Ordering::Relaxed) {
                // Exactly 100 % of a CPU in clock ticks since the start.
                let ticks = u64::try_from(t0.elapsed().as_millis()).expect("small") * hz / 1000;
                for (path, pid, comm, ppid, start) in &paths {
                    write(path, &stat_line(*pid, comm, *ppid, ticks, *start));
                }
                if ticks > 0 {
                    running_flag.store(true, Ordering::Relaxed);
                }
                std::thread::sleep(Duration::from_millis(5));
            }
        });
        // The warnings sample twice, 300 ms apart: on a loaded machine a thread that has not
        // started yet would make the burner look idle. Wait until it has really begun.
        let deadline = Instant::now() + Duration::from_secs(30);
        while !running.load(Ordering::Relaxed) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
        Self {
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for Burner {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

#[test]
fn capture_reads_the_fake_tree() {
    let t = noisy_tree();
    let env = capture_tree(&t, false);
    assert_eq!(env.schema_version, SCHEMA_VERSION);
    assert_eq!(env.cpu.model.as_deref(), Some("Fake CPU 9000 @ 3.00GHz"));
    assert_eq!(env.cpu.vendor.as_deref(), Some("GenuineFake"));
    assert_eq!(env.cpu.logical_threads, Some(4));
    assert_eq!(env.cpu.physical_cores, Some(2));
    assert_eq!(env.cpu.packages, Some(1));
    assert_eq!(env.cpu.online.as_deref(), Some("0-3"));
    assert_eq!(env.cpu.smt_active, None, "absent file is null, not a guess");
    assert_eq!(env.os.kernel.as_deref(), Some("6.1.0-fake"));
    assert_eq!(env.os.hostname.as_deref(), Some("fakehost"));
    assert_eq!(
        env.os.pretty_name.as_deref(),
        Some("Fake Linux 1.0 (\"zen\")")
    );
    assert_eq!(env.memory.total_bytes, Some(16_384_000 * 1024));
    assert_eq!(env.memory.available_bytes, Some(8_192_000 * 1024));
    assert_eq!(env.memory.swap_total_bytes, Some(2_097_152 * 1024));
    assert_eq!(env.memory.swap_used_bytes, Some(1_048_576 * 1024));
    let load = env.load.as_ref().expect("loadavg read");
    assert_eq!((load.one, load.five, load.fifteen), (3.5, 2.0, 1.0));
    assert!(env.virtualization.hypervisor_flag);
    assert_eq!(env.machine.vendor.as_deref(), Some("FakeCorp"));
    assert_eq!(env.machine.product.as_deref(), Some("Laptop 13"));

    let f = &env.frequency;
    assert_eq!(f.cpus.len(), 4);
    let governors: Vec<_> = f.cpus.iter().map(|c| c.governor.as_deref()).collect();
    assert_eq!(
        governors,
        [
            Some("powersave"),
            Some("powersave"),
            Some("performance"),
            Some("powersave")
        ]
    );
    assert_eq!(f.cpus[0].current_mhz, Some(2800.0));
    assert_eq!(f.cpus[0].current_mhz_source.as_deref(), Some("cpufreq"));
    assert_eq!(f.cpus[0].max_mhz, Some(4700.0));
    assert_eq!(f.cpus[0].hardware_max_mhz, Some(4700.0));
    assert_eq!(f.cpus[0].driver.as_deref(), Some("intel_pstate"));
    assert_eq!(
        f.cpus[0].energy_performance_preference.as_deref(),
        Some("balance_power")
    );
    assert_eq!(f.boost.enabled, Some(true), "no_turbo = 0 means turbo on");
    assert_eq!(f.boost.control, Some(BoostControl::IntelPstateNoTurbo));
    assert_eq!(f.boost.intel_pstate.as_deref(), Some("active"));
    assert_eq!(f.boost.amd_pstate, None);

    assert_eq!(env.power_supply.on_battery, Some(true));
    let bat = env
        .power_supply
        .supplies
        .iter()
        .find(|s| s.name == "BAT0")
        .expect("battery listed");
    assert_eq!(bat.capacity_percent, Some(54));

    assert_eq!(env.manifest.path, Path::new("manifests/quick.toml"));
    assert_eq!(env.manifest.sha256, "cd".repeat(32));
    assert_eq!(env.plugins, vec![plugin()]);
    assert_eq!(env.energy, energy(false));
    assert_eq!(env.host.version, env!("CARGO_PKG_VERSION"));
    assert!(!env.host.git_commit.is_empty());
    assert!(env.warnings.is_empty());
    humantime::parse_rfc3339(&env.captured_at).expect("RFC 3339 timestamp");
    assert!(env.captured_at.ends_with('Z'), "UTC: {}", env.captured_at);
}

#[test]
fn missing_files_are_null_never_an_error() {
    let dir = temp_dir("empty");
    let roots = Roots {
        proc_root: dir.join("proc"),
        sys_root: dir.join("sys"),
        os_release: dir.join("os-release"),
    };
    let env = capture(&roots, Path::new("m.toml"), "00", &[], &energy(true));
    assert_eq!(env.cpu.model, None);
    assert_eq!(env.cpu.logical_threads, None);
    assert_eq!(env.cpu.physical_cores, None);
    assert!(env.frequency.cpus.is_empty());
    assert_eq!(env.frequency.boost.enabled, None);
    assert_eq!(env.memory.total_bytes, None);
    assert_eq!(env.load, None);
    assert_eq!(env.os.pretty_name, None);
    assert_eq!(env.power_supply.on_battery, None);
    assert!(!env.virtualization.in_vm());
    let json = serde_json::to_value(&env).expect("serialises");
    assert!(json["cpu"]["model"].is_null());
    assert!(json["load"].is_null());
    // Nothing to complain about that can be read, and measured energy: no warnings.
    assert_eq!(quiet_machine_warnings(&roots, &env), vec![]);
}

#[test]
fn cpufreq_absent_falls_back_to_cpuinfo_mhz_and_sysfs_topology() {
    let dir = temp_dir("vm");
    let proc_ = dir.join("proc");
    let sys = dir.join("sys");
    // arm64-style cpuinfo: no physical/core ids; sysfs topology must supply the cores.
    write(
        &proc_.join("cpuinfo"),
        "processor\t: 0\nBogoMIPS\t: 50.00\ncpu MHz\t\t: 2000.0\n\n\
         processor\t: 1\nBogoMIPS\t: 50.00\ncpu MHz\t\t: 2000.0\n\nHardware\t: Fake SoC\n",
    );
    for n in 0..2 {
        let topo = sys.join(format!("devices/system/cpu/cpu{n}/topology"));
        write(&topo.join("physical_package_id"), "0");
        write(&topo.join("core_id"), &n.to_string());
    }
    write(&sys.join("devices/system/cpu/cpufreq/policy0/boost"), "1");
    let roots = Roots {
        proc_root: proc_,
        sys_root: sys,
        os_release: dir.join("none"),
    };
    let env = capture(&roots, Path::new("m.toml"), "00", &[], &energy(true));
    assert_eq!(env.cpu.model.as_deref(), Some("Fake SoC"));
    assert_eq!(env.cpu.logical_threads, Some(2));
    assert_eq!(env.cpu.physical_cores, Some(2));
    assert_eq!(env.frequency.cpus[1].governor, None);
    assert_eq!(env.frequency.cpus[1].current_mhz, Some(2000.0));
    assert_eq!(
        env.frequency.cpus[1].current_mhz_source.as_deref(),
        Some("cpuinfo")
    );
    assert_eq!(env.frequency.boost.control, Some(BoostControl::PolicyBoost));
    let w = quiet_machine_warnings(&roots, &env);
    assert!(
        matches!(
            w.as_slice(),
            [Warning::BoostOn {
                control: BoostControl::PolicyBoost,
                ..
            }]
        ),
        "{w:?}"
    );
    assert!(w[0].to_string().contains("policy*/boost"), "{}", w[0]);
}

#[test]
fn every_warning_fires_on_a_noisy_machine() {
    let t = noisy_tree();
    let env = capture_tree(&t, false);
    let me = std::process::id();
    // The busy stranger burns a CPU, and so do we and our worker, which must not be named.
    let _burner = Burner::start(vec![
        (t.stat(BUSY_PID), BUSY_PID, "cargo (build)", 1, 12),
        (t.stat(me), me, "host", 1, 10),
        (t.stat(OWN_CHILD_PID), OWN_CHILD_PID, "host worker", me, 11),
    ]);
    let warnings = quiet_machine_warnings(&t.roots, &env);
    let lines: Vec<String> = warnings.iter().map(ToString::to_string).collect();
    let all = lines.join("\n");
    for line in &lines {
        assert!(!line.contains('\n'), "one line each: {line:?}");
    }

    assert!(
        warnings.contains(&Warning::HighLoad { load: 3.5, cpus: 4 }),
        "{all}"
    );

    let busy = warnings
        .iter()
        .find_map(|w| match w {
            Warning::BusyProcesses(p) => Some(p),
            _ => None,
        })
        .unwrap_or_else(|| panic!("no busy-process warning in:\n{all}"));
    assert_eq!(
        busy.iter().map(|p| p.pid).collect::<Vec<_>>(),
        [BUSY_PID],
        "only the stranger, not our own tree nor the idle process: {busy:?}"
    );
    assert!(busy[0].cpu_percent > 50.0, "{busy:?}");
    assert_eq!(busy[0].name, "cargo (build)");

    assert!(
        warnings.contains(&Warning::Governor {
            cpus: vec![0, 1, 3],
            governor: "powersave".into()
        }),
        "{all}"
    );
    assert!(all.contains("cpu0-1,3 governor is `powersave`"), "{all}");
    assert!(
        all.contains("sudo cpupower frequency-set -g performance"),
        "{all}"
    );

    assert!(
        warnings.iter().any(|w| matches!(
            w,
            Warning::BoostOn { control: BoostControl::IntelPstateNoTurbo, path } if path.ends_with("intel_pstate/no_turbo")
        )),
        "{all}"
    );
    assert!(all.contains("`echo 1 | sudo tee "), "{all}");

    assert!(
        warnings.contains(&Warning::OnBattery {
            supply: "BAT0".into(),
            capacity_percent: Some(54)
        }),
        "{all}"
    );
    assert!(
        warnings.contains(&Warning::VirtualMachine {
            energy_measured: false
        }),
        "{all}"
    );
    assert!(all.contains("energy is an estimate from CPU time"), "{all}");
    assert!(
        warnings.contains(&Warning::SwapInUse {
            used_bytes: 1_048_576 * 1024
        }),
        "{all}"
    );
    assert!(all.contains("1.0 GiB of swap in use"), "{all}");
    // In a VM the estimate is explained by the VM line; no separate estimate line.
    assert!(
        !warnings
            .iter()
            .any(|w| matches!(w, Warning::EnergyEstimated { .. })),
        "{all}"
    );
    assert_eq!(warnings.len(), 7, "{all}");
}

#[test]
fn no_warning_on_a_quiet_machine() {
    let t = quiet_tree();
    let env = capture_tree(&t, true);
    assert_eq!(env.power_supply.on_battery, Some(false));
    assert_eq!(env.frequency.boost.enabled, Some(false));
    // 152 KiB of stale swap is not pressure.
    assert_eq!(env.memory.swap_used_bytes, Some(152 * 1024));
    let warnings = quiet_machine_warnings(&t.roots, &env);
    assert!(warnings.is_empty(), "{warnings:#?}");
}

#[test]
fn estimate_on_bare_metal_says_why() {
    let t = quiet_tree();
    let env = capture_tree(&t, false);
    let warnings = quiet_machine_warnings(&t.roots, &env);
    assert_eq!(warnings.len(), 1, "{warnings:#?}");
    let line = warnings[0].to_string();
    assert!(line.contains("estimate"), "{line}");
    assert!(
        line.contains("msr: /dev/cpu/0/msr: permission denied"),
        "{line}"
    );
}

#[test]
fn vm_with_measured_energy_says_counters_are_shared() {
    let t = noisy_tree();
    let env = capture_tree(&t, true);
    let w = Warning::VirtualMachine {
        energy_measured: true,
    };
    assert!(quiet_machine_warnings(&t.roots, &env).contains(&w));
    assert!(w.to_string().contains("other guests"));
}

#[test]
fn busy_processes_from_two_samples() {
    let t = noisy_tree();
    let hz = ticks_per_second();
    let me = std::process::id();
    let first = ProcSample::read(&t.roots.proc_root);
    assert_eq!(first.len(), 4);
    write(
        &t.stat(BUSY_PID),
        &stat_line(BUSY_PID, "cargo (build)", 1, hz / 2, 12),
    );
    // 5 % of a CPU over one second: below the 10 % threshold.
    write(
        &t.stat(IDLE_PID),
        &stat_line(IDLE_PID, "sleepy", 1, hz / 20, 13),
    );
    let second = ProcSample::read(&t.roots.proc_root);
    let busy = busy_processes(&first, &second, Duration::from_secs(1), me, 10.0);
    assert_eq!(busy.len(), 1, "{busy:?}");
    assert_eq!(busy[0].pid, BUSY_PID);
    assert!((busy[0].cpu_percent - 50.0).abs() < 1e-9, "{busy:?}");
    // A lower threshold shows both, busiest first.
    let all = busy_processes(&first, &second, Duration::from_secs(1), me, 1.0);
    assert_eq!(
        all.iter().map(|p| p.pid).collect::<Vec<_>>(),
        [BUSY_PID, IDLE_PID]
    );
    // A reused pid (different start time) is not counted as the old process's CPU.
    write(
        &t.stat(BUSY_PID),
        &stat_line(BUSY_PID, "other", 1, hz * 9, 99),
    );
    let third = ProcSample::read(&t.roots.proc_root);
    let busy = busy_processes(&first, &third, Duration::from_secs(1), me, 10.0);
    assert!(busy.is_empty(), "{busy:?}");
    // Excluding a tree by its root removes the root and its descendants.
    let busy = busy_processes(&first, &second, Duration::from_secs(1), BUSY_PID, 10.0);
    assert!(busy.is_empty(), "{busy:?}");
}

#[test]
fn sha256_of_a_file() {
    let dir = temp_dir("sha");
    let f = dir.join("abc");
    std::fs::write(&f, "abc").expect("write");
    assert_eq!(
        sha256_file(&f).expect("hash"),
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    );
    // Larger than one read buffer, so chunking is exercised: 1 MiB of 'a'.
    let big = dir.join("big");
    std::fs::write(&big, vec![b'a'; 1 << 20]).expect("write");
    assert_eq!(
        sha256_file(&big).expect("hash"),
        "9bc1b2a288b26af7257a36277ae3816a7d4f16e89c1e7e77d0a5c48bad62b360"
    );
    let err = sha256_file(&dir.join("missing")).expect_err("missing file is an error");
    assert!(format!("{err:#}").contains("missing"), "{err:#}");
}

#[test]
fn written_json_reads_back() {
    let t = noisy_tree();
    let mut env = capture_tree(&t, false);
    env.record_warnings(&[Warning::SwapInUse {
        used_bytes: 1 << 30,
    }]);
    let path = t.dir.join("environment.json");
    env.write_json(&path).expect("write");
    let text = std::fs::read_to_string(&path).expect("read");
    let back: Environment = serde_json::from_str(&text).expect("parse");
    assert_eq!(back, env);
    let v: serde_json::Value = serde_json::from_str(&text).expect("json");
    assert_eq!(v["plugins"][0]["sha256"], "ab".repeat(32));
    assert_eq!(v["energy"]["measured"], false);
    assert_eq!(v["frequency"]["boost"]["control"], "intel_pstate_no_turbo");
    assert!(v["warnings"][0]
        .as_str()
        .expect("string")
        .starts_with("1.0 GiB of swap"));
}

/// The real machine: capture never fails and always serialises; print it for the record.
#[test]
fn real_machine_capture_serialises() {
    let roots = Roots::default();
    let env = capture(
        &roots,
        Path::new("manifests/quick.toml"),
        "00",
        &[],
        &energy(false),
    );
    let json = serde_json::to_string_pretty(&env).expect("serialises");
    println!("{json}");
    // Linux always has these; a null here is a parsing bug, not a quirk of the machine.
    let threads = env.cpu.logical_threads.expect("logical threads");
    assert!(threads >= 1);
    assert_eq!(env.frequency.cpus.len(), threads);
    let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").expect("osrelease");
    assert_eq!(env.os.kernel.as_deref(), Some(release.trim()));
    assert!(env.memory.total_bytes.is_some_and(|b| b > 0));
    assert!(env.load.is_some());
    let warnings = quiet_machine_warnings(&roots, &env);
    for w in &warnings {
        println!("warning: {w}");
    }
}
