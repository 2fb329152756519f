//! Shards: one campaign's iterations dealt out to N machines. Shard K of N (K counted from 1,
//! as `sbatch --array=1-N` numbers its tasks) runs iterations K, K+N, K+2N, … of the
//! campaign's one plan, so every iteration keeps its plugin order, sample order and trainer
//! seed, and the shards together run every planned run exactly once.
//!
//! A shard is whole iterations, never a slice of one: the plugins of an iteration are compared
//! on the same machine, in the same shuffled order, after the same rests.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::PlannedRun;

/// Shard `index` of `count` (1 ≤ index ≤ count).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Shard {
    pub index: u32,
    pub count: u32,
}

impl Shard {
    /// Shard `index` of `count`, or why not.
    pub fn new(index: u32, count: u32) -> Result<Shard, String> {
        if count == 0 {
            return Err("the number of shards must be at least 1".into());
        }
        if index == 0 {
            return Err(format!(
                "shards are numbered from 1: use 1/{count} … {count}/{count} \
                 (sbatch --array=1-{count} numbers its tasks the same way)"
            ));
        }
        if index > count {
            return Err(format!(
                "shard {index} of {count} does not exist: K must be between 1 and {count}"
            ));
        }
        Ok(Shard { index, count })
    }

    /// Whether `iteration` (from 1) belongs to this shard.
    pub fn holds(&self, iteration: u32) -> bool {
        iteration >= 1 && (iteration - 1) % self.count == self.index - 1
    }

    /// This shard's iterations among `1..=iterations`, in order.
    pub fn iterations(&self, iterations: u32) -> Vec<u32> {
        (self.index..=iterations)
            .step_by(self.count as usize)
            .collect()
    }

    /// The runs of `planned` (a whole campaign's plan) that belong to this shard, in plan order.
    pub fn select(&self, planned: &[PlannedRun]) -> Vec<PlannedRun> {
        planned
            .iter()
            .filter(|r| self.holds(r.iteration))
            .cloned()
            .collect()
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

impl FromStr for Shard {
    type Err = String;

    /// `K/N`, e.g. `2/5`.
    fn from_str(text: &str) -> Result<Shard, String> {
        let bad = || format!("`{text}`: expected K/N, e.g. 1/4 (shard K of N, K from 1)");
        let (k, n) = text.trim().split_once('/').ok_or_else(bad)?;
        let k: u32 = k.trim().parse().map_err(|_| bad())?;
        let n: u32 = n.trim().parse().map_err(|_| bad())?;
        Shard::new(k, n).map_err(|why| format!("`{text}`: {why}"))
    }
}

/// The runs of the campaign's plan this invocation does: all of them, or one shard's.
pub fn runs_of(planned: Vec<PlannedRun>, shard: Option<Shard>) -> Vec<PlannedRun> {
    match shard {
        Some(s) => s.select(&planned),
        None => planned,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::plan;

    #[test]
    fn parses_k_of_n_and_refuses_the_rest_with_reasons() {
        assert_eq!("2/5".parse(), Ok(Shard { index: 2, count: 5 }));
        assert_eq!(" 1 / 1 ".parse(), Ok(Shard { index: 1, count: 1 }));
        let err = |t: &str| t.parse::<Shard>().unwrap_err();
        assert!(err("0/4").contains("numbered from 1"), "{}", err("0/4"));
        assert!(err("5/4").contains("between 1 and 4"), "{}", err("5/4"));
        assert!(err("1/0").contains("at least 1"), "{}", err("1/0"));
        for bad in ["3", "a/b", "1/2/3", "-1/2", ""] {
            assert!(err(bad).contains("expected K/N"), "{bad}: {}", err(bad));
        }
    }

    #[test]
    fn shards_partition_the_iterations() {
        let iterations = 30;
        for count in [1, 2, 5, 7, 30, 31] {
            let mut all: Vec<u32> = (1..=count)
                .flat_map(|k| Shard::new(k, count).unwrap().iterations(iterations))
                .collect();
            all.sort_unstable();
            assert_eq!(all, (1..=iterations).collect::<Vec<_>>(), "N = {count}");
        }
        let s = Shard::new(2, 5).unwrap();
        assert_eq!(s.iterations(12), vec![2, 7, 12]);
        assert!(s.holds(7) && !s.holds(8) && !s.holds(0));
    }

    /// A shard's runs are the unsharded plan's runs of its iterations, in the same order and
    /// with their iteration numbers (from which the worker derives sample order and trainer
    /// seed): sharding changes who measures, never what is measured.
    #[test]
    fn a_shard_runs_exactly_the_unsharded_plans_iterations() {
        let (seed, iterations, plugins) = (42, 11, 5);
        let whole = plan(seed, iterations, plugins);
        let mut union = Vec::new();
        for k in 1..=3 {
            let shard = Shard::new(k, 3).unwrap();
            let runs = runs_of(whole.clone(), Some(shard));
            let expected: Vec<PlannedRun> = whole
                .iter()
                .filter(|r| (r.iteration - 1) % 3 == k - 1)
                .cloned()
                .collect();
            assert_eq!(runs, expected, "shard {shard}");
            union.extend(runs);
        }
        union.sort_by_key(|r| (r.iteration, r.order));
        assert_eq!(union, whole);
        assert_eq!(runs_of(whole.clone(), None), whole);
    }
}
