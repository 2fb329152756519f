//! Which CPU to read for each package and each core (RAPL registers are per package, AMD's
//! core energy registers per physical core), from `<sys_cpu_root>/cpuN/topology/`.

use std::fs;
use std::path::Path;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct CpuPlace {
    pub cpu: u32,
    pub package: u32,
    pub core: u32,
}

/// Places of `cpus`. A CPU whose topology cannot be read is taken to be its own core on
/// package 0: right for one-socket machines, and said in the msr source's description.
pub(crate) fn places(sys_cpu_root: &Path, cpus: &[u32]) -> (Vec<CpuPlace>, bool) {
    let mut complete = true;
    let read = |cpu: u32, file: &str| -> Option<u32> {
        let p = sys_cpu_root.join(format!("cpu{cpu}/topology/{file}"));
        fs::read_to_string(p).ok()?.trim().parse().ok()
    };
    let places = cpus
        .iter()
        .map(|&cpu| {
            let package = read(cpu, "physical_package_id");
            let core = read(cpu, "core_id");
            complete &= package.is_some() && core.is_some();
            CpuPlace {
                cpu,
                package: package.unwrap_or(0),
                core: core.unwrap_or(cpu),
            }
        })
        .collect();
    (places, complete)
}

/// The lowest-numbered CPU of each package, by package.
pub(crate) fn one_per_package(places: &[CpuPlace]) -> Vec<CpuPlace> {
    let mut sorted = places.to_vec();
    sorted.sort_by_key(|p| (p.package, p.cpu));
    sorted.dedup_by_key(|p| p.package);
    sorted
}

/// The highest-numbered CPU of each (package, core): SMT siblings share one core register,
/// and taking the last sibling keeps the package's CPU (the lowest) from serving two adjacent
/// registers where a sibling exists. That is no matter to the kernel's msr device, but it lets
/// regular files, where adjacent registers would overlap, stand in for it in tests.
pub(crate) fn one_per_core(places: &[CpuPlace]) -> Vec<CpuPlace> {
    let mut sorted = places.to_vec();
    sorted.sort_by_key(|p| (p.package, p.core, std::cmp::Reverse(p.cpu)));
    sorted.dedup_by_key(|p| (p.package, p.core));
    sorted
}

/// Parses a kernel CPU list (`0`, `0,28`, `0-3,8`).
pub(crate) fn parse_cpu_list(text: &str) -> Option<Vec<u32>> {
    let mut cpus = Vec::new();
    for part in text.trim().split(',').filter(|p| !p.is_empty()) {
        match part.split_once('-') {
            Some((a, b)) => {
                let (a, b): (u32, u32) = (a.parse().ok()?, b.parse().ok()?);
                if b < a || b - a > 65_536 {
                    return None;
                }
                cpus.extend(a..=b);
            }
            None => cpus.push(part.parse().ok()?),
        }
    }
    Some(cpus)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_lists() {
        assert_eq!(parse_cpu_list("0\n"), Some(vec![0]));
        assert_eq!(parse_cpu_list("0,28"), Some(vec![0, 28]));
        assert_eq!(parse_cpu_list("0-2,8"), Some(vec![0, 1, 2, 8]));
        assert_eq!(parse_cpu_list("x"), None);
    }

    #[test]
    fn one_cpu_each() {
        let p = |cpu, package, core| CpuPlace { cpu, package, core };
        let all = [p(0, 0, 0), p(1, 0, 0), p(2, 0, 1), p(3, 1, 0), p(4, 1, 0)];
        assert_eq!(one_per_package(&all), vec![p(0, 0, 0), p(3, 1, 0)]);
        assert_eq!(one_per_core(&all).len(), 3);
    }
}
