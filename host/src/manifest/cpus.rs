//! `[training] cpus = "0-1,4"`: the CPUs a worker is pinned to, as `taskset -c` takes them.
//! Parsed once, here, so a bad list is a manifest error before the warm-up (not a failed run),
//! and the supervisor receives the CPU numbers themselves.

/// The most CPUs a `cpu_set_t` holds: a larger number can never be pinned to.
const CPU_SETSIZE: usize = libc::CPU_SETSIZE as usize;

/// Parses a CPU list like "0-1,4". The error says what is wrong, without the key (the caller
/// names file, line and key).
pub fn parse_cpu_list(list: &str) -> Result<Vec<usize>, String> {
    let mut cpus = Vec::new();
    for part in list.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let bad = || format!("`{part}` is not a CPU number or range like 0-3");
        match part.split_once('-') {
            Some((a, b)) => {
                let (a, b): (usize, usize) = (
                    a.trim().parse().map_err(|_| bad())?,
                    b.trim().parse().map_err(|_| bad())?,
                );
                // Checked before expanding, so a huge range is an error, not an allocation.
                if a > b || b >= CPU_SETSIZE {
                    return Err(bad());
                }
                cpus.extend(a..=b);
            }
            None => cpus.push(part.parse().map_err(|_| bad())?),
        }
    }
    if cpus.is_empty() || cpus.iter().any(|&c| c >= CPU_SETSIZE) {
        return Err(format!("`{list}` names no usable CPU"));
    }
    Ok(cpus)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_and_ranges_expand_and_bad_parts_are_named() {
        assert_eq!(parse_cpu_list("0-2, 5"), Ok(vec![0, 1, 2, 5]));
        assert_eq!(parse_cpu_list("3"), Ok(vec![3]));
        assert!(parse_cpu_list("2-1").unwrap_err().contains("`2-1`"));
        assert!(parse_cpu_list("x").unwrap_err().contains("`x`"));
        assert!(parse_cpu_list(" , ")
            .unwrap_err()
            .contains("names no usable CPU"));
        assert!(parse_cpu_list("5000")
            .unwrap_err()
            .contains("names no usable CPU"));
        assert!(parse_cpu_list("0-99999999999").is_err());
    }
}
