//! EnergiBridge's energy columns, recognised from the header alone: the domain each measures,
//! whether it is a cumulative counter or a power reading, its unit (from the header), and
//! whether the run's total adds it.
//!
//! Layouts, from EnergiBridge's source (0.0.1–0.0.7) and joulebench's own sampler:
//!
//! | platform            | energy columns                                                          |
//! |---------------------|-------------------------------------------------------------------------|
//! | Intel (Linux, Win)  | `PACKAGE_ENERGY (J)`, `DRAM_ENERGY (J)`, `PP0_ENERGY (J)`, `PP1_ENERGY (J)` (`PACAKGE_…` before 0.0.5) |
//! | AMD (Linux, Win)    | `CPU_ENERGY (J)` (the package), `CORE<n>_ENERGY (J)`                    |
//! | NVIDIA (`-g`)       | `GPU<n>_POWER (mWatts)` (before Nov 2023 `GPU<n>_POWER`, also mW)       |
//! | macOS               | `SYSTEM_POWER (Watts)`, `CPU_POWER (Watts)` (Intel Macs), `GPU_POWER (Watts)` (`-g`) |
//! | joulebench samples  | `PACKAGE[<n>]_ENERGY (J)`, `DRAM[<n>]_…`, `PSYS_…`, `GPU<n>_ENERGY (J)`, `CPU_ENERGY_ESTIMATE (J)` |
//!
//! The total adds the top-level domains as runs.csv's `energy_j` does: CPU package(s) (or AMD's
//! `CPU_ENERGY`, or macOS's `CPU_POWER`), DRAM, and every indexed GPU. Cores (`PP0`, `CORE<n>`)
//! and `PP1` lie inside the package and are never added. `PSYS`/`SYSTEM_POWER` cover the whole
//! platform: they are the total only when no CPU domain was measured (and then DRAM, inside them,
//! is not added). macOS's unindexed `GPU_POWER` may be the integrated GPU inside `CPU_POWER`
//! (EnergiBridge reads Intel-GPU SMC keys first) or lie inside `SYSTEM_POWER`: shown, not added.

use anyhow::{anyhow, bail};

/// Counter or power, with the factor to joules or watts.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Quantity {
    /// Cumulative energy; joules per unit.
    Counter { joules_per_unit: f64 },
    /// Instantaneous power; watts per unit.
    Power { watts_per_unit: f64 },
}

/// Where a domain stands in the total.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Role {
    /// CPU package level: `PACKAGE`, AMD `CPU_ENERGY`, macOS `CPU_POWER`, an estimate.
    Cpu,
    Dram,
    /// An indexed (discrete) GPU.
    Gpu,
    /// Inside the package: cores, uncore.
    Inside,
    /// The whole platform: `PSYS`, macOS `SYSTEM_POWER`.
    Platform,
    /// macOS `GPU_POWER`: may lie inside another domain.
    MaybeInside,
    /// A word this table does not know.
    Unknown,
}

/// One recognised energy column.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct EnergyColumn {
    pub index: usize,
    /// The header as written.
    pub header: String,
    /// Lower-case domain word for metric keys: `package`, `cpu`, `gpu0`, `system`.
    pub domain: String,
    /// Kernel word choosing the plausibility bound: `package`, `dram`, `gpu`, `psys`, …
    pub bound_domain: &'static str,
    pub role: Role,
    pub quantity: Quantity,
    /// The unit as the header says it, or as inferred (`mW (not in the header: NVML's unit)`).
    pub unit: String,
    /// joulebench's estimate column: never a measurement.
    pub estimated: bool,
}

/// A chosen column: whether the total adds it, and why not when it does not.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Chosen {
    pub column: EnergyColumn,
    pub in_total: bool,
    /// Shown as its own metric (top-level or overlapping domains, not cores).
    pub shown: bool,
    pub why: String,
}

/// Recognises `WORD_ENERGY (unit)` and `WORD_POWER (unit)`; `None` for anything else.
pub(crate) fn recognise(index: usize, header: &str) -> Option<EnergyColumn> {
    let header = header.trim();
    let (name, unit) = match header.strip_suffix(')').and_then(|h| h.rsplit_once(" (")) {
        Some((name, unit)) => (name.trim(), Some(unit.trim())),
        None => (header, None),
    };
    let (word, estimated, is_power) = if let Some(w) = name.strip_suffix("_ENERGY_ESTIMATE") {
        (w, true, false)
    } else if let Some(w) = name.strip_suffix("_ENERGY") {
        (w, false, false)
    } else if let Some(w) = name.strip_suffix("_POWER") {
        (w, false, true)
    } else {
        return None;
    };
    if word.is_empty() {
        return None;
    }
    let (quantity, unit) = quantity(word, unit, is_power)?;
    let (role, bound_domain) = if estimated {
        (Role::Cpu, "cpu-estimate")
    } else {
        role(word, is_power)
    };
    let domain = if estimated {
        format!("{}_estimate", word.to_ascii_lowercase())
    } else {
        word.to_ascii_lowercase()
    };
    Some(EnergyColumn {
        index,
        header: header.to_string(),
        domain,
        bound_domain,
        role,
        quantity,
        unit,
        estimated,
    })
}

fn quantity(word: &str, unit: Option<&str>, is_power: bool) -> Option<(Quantity, String)> {
    let counter = |f: f64| Quantity::Counter { joules_per_unit: f };
    let power = |f: f64| Quantity::Power { watts_per_unit: f };
    let q = match (is_power, unit) {
        (false, Some("J")) => counter(1.0),
        (false, Some("mJ")) => counter(1e-3),
        (false, Some("uJ" | "µJ" | "μJ")) => counter(1e-6),
        (true, Some("W" | "Watts")) => power(1.0),
        (true, Some("mW" | "mWatts")) => power(1e-3),
        // EnergiBridge before November 2023 wrote NVML's reading, in milliwatts, unlabelled.
        (true, None) if gpu_index(word).is_some() => {
            return Some((
                power(1e-3),
                "mW (not in the header: NVML's unit, as EnergiBridge wrote it before 2023-11)"
                    .to_string(),
            ))
        }
        _ => return None,
    };
    Some((q, unit.unwrap_or_default().to_string()))
}

/// `GPU3` → 3.
fn gpu_index(word: &str) -> Option<u32> {
    word.strip_prefix("GPU")
        .filter(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
        .and_then(|n| n.parse().ok())
}

/// `PACKAGE`, `PACKAGE1`, `PACKAGE_1` all have the base `PACKAGE`.
fn has_base(word: &str, base: &str) -> bool {
    word.strip_prefix(base).is_some_and(|rest| {
        rest.trim_start_matches('_')
            .bytes()
            .all(|b| b.is_ascii_digit())
    })
}

fn role(word: &str, is_power: bool) -> (Role, &'static str) {
    if gpu_index(word).is_some() {
        return (Role::Gpu, "gpu");
    }
    if word == "GPU" && is_power {
        return (Role::MaybeInside, "gpu");
    }
    if word == "CPU" || has_base(word, "PACKAGE") || has_base(word, "PACAKGE") {
        return (Role::Cpu, "package");
    }
    if has_base(word, "DRAM") {
        return (Role::Dram, "dram");
    }
    if has_base(word, "PP0") || has_base(word, "CORE") {
        return (Role::Inside, "core");
    }
    if has_base(word, "PP1") || word == "UNCORE" {
        return (Role::Inside, "uncore");
    }
    if word == "PSYS" || word == "SYSTEM" {
        return (Role::Platform, "psys");
    }
    (Role::Unknown, "other")
}

/// The columns a run uses: those named (`forced`, each added to the total), or by default the
/// top-level domains of the module table. An error names what is there.
pub(crate) fn choose(headers: &[String], forced: &[String]) -> anyhow::Result<Vec<Chosen>> {
    let all: Vec<EnergyColumn> = headers
        .iter()
        .enumerate()
        .filter_map(|(i, h)| recognise(i, h))
        .collect();
    if !forced.is_empty() {
        return forced
            .iter()
            .map(|name| choose_named(headers, &all, name))
            .collect();
    }
    let has = |role: Role| all.iter().any(|c| c.role == role);
    let (cpu, platform) = (has(Role::Cpu), has(Role::Platform));
    let mut chosen: Vec<Chosen> = all
        .into_iter()
        .map(|column| {
            let (in_total, why) = match column.role {
                Role::Cpu | Role::Gpu => (true, String::new()),
                Role::Dram if platform && !cpu => (
                    false,
                    "inside the platform's power (counted instead)".into(),
                ),
                Role::Dram => (true, String::new()),
                Role::Platform if cpu => (
                    false,
                    "the whole platform, which holds the CPU domains (counted instead)".into(),
                ),
                Role::Platform => (true, String::new()),
                Role::Inside => (false, "inside the CPU package: never added".into()),
                Role::MaybeInside => (
                    false,
                    "on macOS it may lie inside CPU_POWER (integrated GPU) or SYSTEM_POWER: \
                     shown, not added"
                        .into(),
                ),
                Role::Unknown => (
                    false,
                    "unknown domain: name it with --energy-column to use it".into(),
                ),
            };
            let shown = !matches!(column.role, Role::Inside | Role::Unknown);
            Chosen {
                column,
                in_total,
                shown,
                why,
            }
        })
        .collect();
    if !chosen.iter().any(|c| c.in_total) {
        bail!("{}", no_energy_column(headers, &chosen));
    }
    // CPU first, then DRAM, GPUs, the platform (header order within each): the order of the
    // meter's label, the per-domain metrics and the physics checks.
    chosen.sort_by_key(|c| c.column.role as u8);
    Ok(chosen)
}

fn choose_named(headers: &[String], all: &[EnergyColumn], name: &str) -> anyhow::Result<Chosen> {
    let Some(index) = headers.iter().position(|h| h.trim() == name.trim()) else {
        return Err(anyhow!(
            "no `{name}` column; energy columns present: {}",
            listed(headers)
        ));
    };
    let column = all
        .iter()
        .find(|c| c.index == index)
        .cloned()
        .ok_or_else(|| {
            anyhow!(
                "column `{name}` has no energy or power unit this reader knows: its header must \
             end in (J), (mJ), (uJ), (Watts), (W), (mWatts) or (mW)"
            )
        })?;
    Ok(Chosen {
        column,
        in_total: true,
        shown: true,
        why: String::new(),
    })
}

fn no_energy_column(headers: &[String], chosen: &[Chosen]) -> String {
    let mut text = format!(
        "no energy column this reader adds to a total; energy columns present: {}",
        listed(headers)
    );
    if let Some(c) = chosen.first() {
        text.push_str(&format!(" (`{}`: {})", c.column.header, c.why));
    }
    text.push_str("; name one with --energy-column");
    text
}

/// Every header that mentions ENERGY or POWER, or `none`.
fn listed(headers: &[String]) -> String {
    let energy: Vec<&str> = headers
        .iter()
        .map(|h| h.trim())
        .filter(|h| h.contains("ENERGY") || h.contains("POWER"))
        .collect();
    if energy.is_empty() {
        "none".to_string()
    } else {
        energy.join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(text: &str) -> Vec<String> {
        text.split(',').map(str::to_string).collect()
    }

    fn totals(text: &str) -> Vec<String> {
        choose(&headers(text), &[])
            .expect("chosen")
            .into_iter()
            .filter(|c| c.in_total)
            .map(|c| c.column.header)
            .collect()
    }

    #[test]
    fn units_come_from_the_header() {
        let c = recognise(3, "GPU0_POWER (mWatts)").expect("power");
        assert_eq!(
            c.quantity,
            Quantity::Power {
                watts_per_unit: 1e-3
            }
        );
        assert_eq!((c.domain.as_str(), c.role), ("gpu0", Role::Gpu));
        let c = recognise(0, "SYSTEM_POWER (Watts)").expect("power");
        assert_eq!(
            c.quantity,
            Quantity::Power {
                watts_per_unit: 1.0
            }
        );
        let c = recognise(0, "PACKAGE_ENERGY (uJ)").expect("counter");
        assert_eq!(
            c.quantity,
            Quantity::Counter {
                joules_per_unit: 1e-6
            }
        );
        assert!(recognise(0, "GPU1_POWER")
            .expect("old NVIDIA")
            .unit
            .starts_with("mW"));
        for other in [
            "CPU_USAGE_0",
            "CORE0_VOLT (V)",
            "GPU0_MEMORY_USED",
            "SYSTEM_POWER",
        ] {
            assert_eq!(recognise(0, other), None, "{other}");
        }
    }

    #[test]
    fn totals_add_top_level_domains_only() {
        // Intel + NVIDIA: package, DRAM and the GPU; cores and uncore never.
        assert_eq!(
            totals("Delta,Time,DRAM_ENERGY (J),GPU0_POWER (mWatts),PACKAGE_ENERGY (J),PP0_ENERGY (J),PP1_ENERGY (J)"),
            ["PACKAGE_ENERGY (J)", "DRAM_ENERGY (J)", "GPU0_POWER (mWatts)"]
        );
        // EnergiBridge before 0.0.5 misspelt the package.
        assert_eq!(
            totals("Delta,Time,DRAM_ENERGY (J),PACAKGE_ENERGY (J),PP0_ENERGY (J)"),
            ["PACAKGE_ENERGY (J)", "DRAM_ENERGY (J)"]
        );
        // AMD: CPU_ENERGY, never the cores.
        assert_eq!(
            totals("Delta,Time,CORE0_ENERGY (J),CPU_ENERGY (J)"),
            ["CPU_ENERGY (J)"]
        );
        // Two sockets of joulebench's sampler.
        assert_eq!(
            totals("Delta,Time,PACKAGE0_ENERGY (J),PACKAGE1_ENERGY (J),PSYS_ENERGY (J)"),
            ["PACKAGE0_ENERGY (J)", "PACKAGE1_ENERGY (J)"]
        );
        // macOS: CPU_POWER when there is one, else SYSTEM_POWER; GPU_POWER never.
        assert_eq!(
            totals("Delta,Time,CPU_POWER (Watts),GPU_POWER (Watts),SYSTEM_POWER (Watts)"),
            ["CPU_POWER (Watts)"]
        );
        assert_eq!(
            totals("Delta,Time,GPU_POWER (Watts),SYSTEM_POWER (Watts)"),
            ["SYSTEM_POWER (Watts)"]
        );
        // PSYS alone holds DRAM.
        assert_eq!(
            totals("Delta,Time,DRAM_ENERGY (J),PSYS_ENERGY (J)"),
            ["PSYS_ENERGY (J)"]
        );
    }

    #[test]
    fn named_columns_are_used_as_their_unit_says() {
        let h = headers("Delta,Time,CPU_POWER (Watts),MY_THING,CPU_ENERGY (J)");
        let chosen = choose(&h, &["CPU_POWER (Watts)".to_string()]).expect("named");
        assert_eq!(
            chosen[0].column.quantity,
            Quantity::Power {
                watts_per_unit: 1.0
            }
        );
        let err = choose(&h, &["MY_THING".to_string()]).expect_err("no unit");
        assert!(err.to_string().contains("(Watts)"), "{err}");
        let err = choose(&h, &["GPU0_ENERGY (J)".to_string()]).expect_err("absent");
        assert!(
            err.to_string()
                .contains("energy columns present: CPU_POWER (Watts), CPU_ENERGY (J)"),
            "{err}"
        );
        let err = choose(&headers("Delta,Time,CPU_USAGE_0"), &[]).expect_err("none");
        assert!(err.to_string().contains("present: none"), "{err}");
    }
}
