//! The study's "zen mode" checklist: gathered first, then printed, one actionable line each
//! (the way hyperfine reports its warnings). Reported, never enforced.

use std::fmt;
use std::time::Duration;

use super::procs::{busy_processes, BusyProcess, ProcSample};
use super::read;
use super::system::BoostControl;
use super::{Environment, Roots};

/// 1-minute load per logical CPU above which the machine is not quiet.
pub const LOAD_PER_CPU: f64 = 0.5;
/// A process using more than this percent of one CPU is "busy".
pub const BUSY_PERCENT: f64 = 10.0;
/// How many busy processes a warning names.
pub const BUSY_SHOWN: usize = 5;
/// Gap between the two process samples: long enough for 100 Hz ticks to resolve 10 %.
pub const SAMPLE_GAP: Duration = Duration::from_millis(300);
/// Swap use below this is stale pages, not memory pressure.
pub const SWAP_USED_BYTES: u64 = 16 << 20;

#[derive(Debug, Clone, PartialEq)]
pub enum Warning {
    HighLoad {
        load: f64,
        cpus: usize,
    },
    BusyProcesses(Vec<BusyProcess>),
    Governor {
        cpus: Vec<usize>,
        governor: String,
    },
    BoostOn {
        control: BoostControl,
        /// The file to write, under the `Roots` the environment was read from.
        path: String,
    },
    OnBattery {
        supply: String,
        capacity_percent: Option<u8>,
    },
    VirtualMachine {
        energy_measured: bool,
    },
    SwapInUse {
        used_bytes: u64,
    },
    /// On bare metal an estimate means the counters could not be read: usually fixable.
    EnergyEstimated {
        label: String,
        reasons: Vec<String>,
    },
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::HighLoad { load, cpus } => {
                // A CPU count fits f64 exactly.
                #[allow(clippy::cast_precision_loss)]
                let per_cpu = load / *cpus as f64;
                let plural = if *cpus == 1 { "" } else { "s" };
                write!(
                    f,
                    "1-minute load average is {load:.2} on {cpus} CPU{plural} ({per_cpu:.2} per CPU, \
                     quiet is below {LOAD_PER_CPU}): wait for other jobs to finish (`top` shows them)"
                )
            }
            Self::BusyProcesses(procs) => {
                let list: Vec<String> = procs
                    .iter()
                    .map(|p| format!("{} (pid {}, {:.0} % CPU)", p.name, p.pid, p.cpu_percent))
                    .collect();
                write!(
                    f,
                    "other processes are busy: {}: stop them or wait for them before measuring",
                    list.join(", ")
                )
            }
            Self::Governor { cpus, governor } => write!(
                f,
                "cpu{} governor is `{governor}`: `sudo cpupower frequency-set -g performance` \
                 for steadier runs",
                read::cpu_list(cpus)
            ),
            Self::BoostOn { control, path } => {
                let (what, off) = match control {
                    BoostControl::IntelPstateNoTurbo => ("turbo is on (intel_pstate)", "1"),
                    BoostControl::CpufreqBoost | BoostControl::PolicyBoost => ("boost is on", "0"),
                };
                write!(
                    f,
                    "CPU {what}: clocks then follow temperature and runs vary more; \
                     `echo {off} | sudo tee {path}` for reproducible runs"
                )
            }
            Self::OnBattery {
                supply,
                capacity_percent,
            } => {
                let level = capacity_percent.map_or(String::new(), |c| format!(", {c} %"));
                write!(
                    f,
                    "running on battery ({supply} discharging{level}): plug in the charger; on \
                     battery the firmware caps power and the battery's own losses are counted"
                )
            }
            Self::VirtualMachine { energy_measured } => {
                if *energy_measured {
                    write!(
                        f,
                        "running in a virtual machine: the energy counters see the whole host, \
                         other guests included; run on bare metal for clean measurements"
                    )
                } else {
                    write!(
                        f,
                        "running in a virtual machine: no energy counters are visible, so energy \
                         is an estimate from CPU time; run on bare metal for measured joules"
                    )
                }
            }
            Self::SwapInUse { used_bytes } => write!(
                f,
                "{} of swap in use: paging adds noise to time and energy; close memory-hungry \
                 programs (or, if RAM allows, `sudo swapoff -a && sudo swapon -a`)",
                read::bytes(*used_bytes)
            ),
            Self::EnergyEstimated { label, reasons } => {
                let why = if reasons.is_empty() {
                    String::new()
                } else {
                    format!(" ({})", reasons.join("; "))
                };
                write!(
                    f,
                    "energy is an estimate, not measured: {label}{why}; `host meters` shows \
                     which counters are readable"
                )
            }
        }
    }
}

/// The checklist for `env` (as captured from `roots`), plus a live look at other busy
/// processes: `/proc/[pid]/stat` sampled twice, [`SAMPLE_GAP`] apart, leaving out this process
/// and its children. Blocks for about [`SAMPLE_GAP`].
pub fn quiet_machine_warnings(roots: &Roots, env: &Environment) -> Vec<Warning> {
    let mut warnings = Vec::new();
    warnings.extend(high_load(env));
    warnings.extend(busy_now(roots));
    warnings.extend(governors(env));
    warnings.extend(boost_on(roots, env));
    if let Some(battery) = env.power_supply.supplies.iter().find(|s| s.discharging()) {
        warnings.push(Warning::OnBattery {
            supply: battery.name.clone(),
            capacity_percent: battery.capacity_percent,
        });
    }
    let in_vm = env.virtualization.in_vm();
    if in_vm {
        warnings.push(Warning::VirtualMachine {
            energy_measured: env.energy.measured,
        });
    }
    if let Some(used) = env.memory.swap_used_bytes.filter(|&u| u >= SWAP_USED_BYTES) {
        warnings.push(Warning::SwapInUse { used_bytes: used });
    }
    // In a VM the estimate is expected and already explained above.
    if !env.energy.measured && !in_vm {
        warnings.push(Warning::EnergyEstimated {
            label: env.energy.label.clone(),
            reasons: env.energy.unused_sources.clone(),
        });
    }
    warnings
}

fn high_load(env: &Environment) -> Option<Warning> {
    // Without a CPU count from the captured tree, the live one is the best denominator.
    let cpus = env.cpu.logical_threads.unwrap_or_else(|| {
        std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get)
    });
    let load = env.load.as_ref()?;
    // A CPU count fits f64 exactly.
    #[allow(clippy::cast_precision_loss)]
    let limit = LOAD_PER_CPU * cpus as f64;
    (load.one > limit).then_some(Warning::HighLoad {
        load: load.one,
        cpus,
    })
}

/// Other processes busy right now (two samples, [`SAMPLE_GAP`] apart).
fn busy_now(roots: &Roots) -> Option<Warning> {
    let first = ProcSample::read(&roots.proc_root);
    std::thread::sleep(SAMPLE_GAP);
    let second = ProcSample::read(&roots.proc_root);
    let elapsed = second.taken.duration_since(first.taken);
    let mut busy = busy_processes(&first, &second, elapsed, std::process::id(), BUSY_PERCENT);
    busy.truncate(BUSY_SHOWN);
    (!busy.is_empty()).then_some(Warning::BusyProcesses(busy))
}

/// One warning per governor other than `performance`, naming its CPUs in the order listed.
fn governors(env: &Environment) -> Vec<Warning> {
    let mut governors: Vec<(String, Vec<usize>)> = Vec::new();
    for cpu in &env.frequency.cpus {
        match cpu.governor.as_deref() {
            None | Some("performance") => {}
            Some(g) => match governors.iter_mut().find(|(name, _)| name == g) {
                Some((_, list)) => list.push(cpu.cpu),
                None => governors.push((g.to_string(), vec![cpu.cpu])),
            },
        }
    }
    governors
        .into_iter()
        .map(|(governor, cpus)| Warning::Governor { cpus, governor })
        .collect()
}

/// Turbo/boost on, with the file that turns it off.
fn boost_on(roots: &Roots, env: &Environment) -> Option<Warning> {
    let boost = &env.frequency.boost;
    let (Some(true), Some(control)) = (boost.enabled, boost.control) else {
        return None;
    };
    let rel = match control {
        BoostControl::IntelPstateNoTurbo => "devices/system/cpu/intel_pstate/no_turbo",
        BoostControl::CpufreqBoost => "devices/system/cpu/cpufreq/boost",
        BoostControl::PolicyBoost => "devices/system/cpu/cpufreq/policy*/boost",
    };
    Some(Warning::BoostOn {
        control,
        path: roots.sys_root.join(rel).display().to_string(),
    })
}
