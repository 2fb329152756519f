//! The one interface every source implements: a list of domains and raw counters.
//!
//! A source reports raw integers in its own unit (µJ, 2^-ESU J, perf counts, mJ). Turning them
//! into joules, adding back wrap-arounds and judging plausibility is not the source's business:
//! `unwrap.rs` does it the same way for all of them.

/// A domain a source offers; its energy is the sum of its counters.
#[derive(Debug, Clone)]
pub(crate) struct DomainSpec {
    /// Kernel words (`package-0`, `dram`, `gpu-0`, ...).
    pub name: String,
    /// See [`super::DomainInfo::in_total`].
    pub in_total: bool,
}

/// One raw counter. Several counters may feed one domain (AMD's per-core energy registers).
#[derive(Debug, Clone)]
pub(crate) struct CounterSpec {
    /// Index into the source's [`Meter::domains`].
    pub domain: usize,
    /// Joules per raw unit.
    pub scale_j: f64,
    /// The value at which the raw counter wraps to zero; `None` when it never wraps in
    /// practice (64-bit kernel-maintained counters).
    pub modulus: Option<u64>,
    /// How long the counter may sit still before it moves: its update period with room for
    /// lateness ([`RAPL_GRANULARITY_S`] for RAPL). Wrap decisions allow for it.
    pub granularity_s: f64,
    /// Where the number comes from, for fault messages (`intel-rapl:0/energy_uj`, `cpu0 0x611`).
    pub origin: String,
}

/// RAPL counters move about every millisecond; 5 ms leaves room for late updates.
pub(crate) const RAPL_GRANULARITY_S: f64 = 0.005;

pub(crate) trait Meter: Send {
    /// `powercap`, `perf`, `msr`, `nvml` or `estimate`.
    fn source(&self) -> &'static str;
    /// False only for the estimate.
    fn measured(&self) -> bool {
        true
    }
    fn domains(&self) -> &[DomainSpec];
    fn counters(&self) -> &[CounterSpec];
    /// Reads counter `index` (of [`Meter::counters`]) now.
    fn read(&mut self, index: usize) -> anyhow::Result<u64>;
    /// The believable-power bound of this source's counters, where the source knows better than
    /// the per-domain default ([`super::unwrap::max_power_w`]).
    fn max_power_w(&self) -> Option<f64> {
        None
    }
    /// One line for `host meters`: what was opened, and what of it was left out and why.
    fn describe(&self) -> String;
}

/// Powercap and perf report `core`, `uncore` and `psys` besides the package; only the package
/// and DRAM (and GPUs) add up without counting a joule twice. Where there is no package
/// domain at all, `psys` stands for the CPU.
pub(crate) fn counts_in_total(name: &str) -> bool {
    let base = base_name(name);
    !matches!(base, "core" | "uncore" | "psys")
}

/// `dram-1` → `dram`, `package-0` → `package`, `gpu-3` → `gpu`, `core` → `core`.
pub(crate) fn base_name(name: &str) -> &str {
    match name.rsplit_once('-') {
        Some((base, n)) if !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()) => base,
        _ => name,
    }
}

/// Appends the package number to subdomain names when there is more than one package, so that
/// `dram` of package 1 becomes `dram-1`; with one package the kernel's plain words stay.
pub(crate) fn package_qualified(name: &str, package: u32, packages: usize) -> String {
    if packages > 1 && base_name(name) == name {
        format!("{name}-{package}")
    } else {
        name.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_names() {
        assert_eq!(base_name("package-0"), "package");
        assert_eq!(base_name("dram"), "dram");
        assert_eq!(base_name("cpu-estimate"), "cpu-estimate");
        assert!(counts_in_total("package-1"));
        assert!(!counts_in_total("core-1"));
        assert_eq!(package_qualified("dram", 1, 2), "dram-1");
        assert_eq!(package_qualified("dram", 0, 1), "dram");
        assert_eq!(package_qualified("package-1", 1, 2), "package-1");
    }
}
