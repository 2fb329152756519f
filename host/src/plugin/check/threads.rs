//! How many of this process's threads computed during a stretch of time: on-CPU time per
//! thread from `/proc/self/task/<tid>/schedstat` (nanoseconds; `stat`'s clock ticks are too
//! coarse for a check's short sessions), read before and after.

use std::collections::HashMap;

/// On-CPU nanoseconds of each thread of this process, by thread id.
pub fn snapshot() -> HashMap<u32, u64> {
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return HashMap::new();
    };
    tasks
        .flatten()
        .filter_map(|t| {
            let tid = t.file_name().to_str()?.parse().ok()?;
            let text = std::fs::read_to_string(t.path().join("schedstat")).ok()?;
            Some((tid, text.split_whitespace().next()?.parse().ok()?))
        })
        .collect()
}

/// What the threads did between two snapshots.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Busy {
    /// Threads that computed at least a fifth as much as the busiest one.
    pub threads: usize,
    /// The busiest thread's on-CPU time, in milliseconds.
    pub busiest_ms: u64,
}

/// Counts the threads (including ones started meanwhile) whose on-CPU time grew by at least
/// a fifth of the busiest thread's growth: helpers that wake now and then do not count.
pub fn busy(before: &HashMap<u32, u64>, after: &HashMap<u32, u64>) -> Busy {
    let deltas: Vec<u64> = after
        .iter()
        .map(|(tid, ns)| ns.saturating_sub(before.get(tid).copied().unwrap_or(0)))
        .collect();
    let most = deltas.iter().copied().max().unwrap_or(0);
    Busy {
        threads: deltas.iter().filter(|&&d| d > 0 && d * 5 >= most).count(),
        busiest_ms: most / 1_000_000,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn threads_that_computed_are_counted_and_idle_ones_are_not() {
        let spin = |ms: u64| {
            let start = std::time::Instant::now();
            let mut x = 0u64;
            while start.elapsed().as_millis() < u128::from(ms) {
                x = x.wrapping_mul(31).wrapping_add(1);
            }
            std::hint::black_box(x);
        };
        let before = snapshot();
        assert!(!before.is_empty(), "no /proc/self/task");
        let sleeper =
            std::thread::spawn(|| std::thread::sleep(std::time::Duration::from_millis(200)));
        let worker = std::thread::spawn(move || spin(200));
        spin(200);
        worker.join().unwrap();
        let after = snapshot();
        sleeper.join().unwrap();
        // The test harness runs other tests' threads too: at least this one and its helper.
        let b = busy(&before, &after);
        assert!(b.threads >= 2, "{b:?}");
        assert!(b.busiest_ms >= 100, "{b:?}");
    }

    #[test]
    fn growth_below_a_fifth_of_the_busiest_is_not_busy() {
        let before = HashMap::from([(1, 0), (2, 0), (3, 100)]);
        let after = HashMap::from([
            (1, 1_000_000_000),
            (2, 199_999_999),
            (3, 100),
            (4, 300_000_000),
        ]);
        assert_eq!(
            busy(&before, &after),
            Busy {
                threads: 2,
                busiest_ms: 1000
            }
        );
    }
}
