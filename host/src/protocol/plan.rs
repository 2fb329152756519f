//! The campaign plan: which plugin runs when, and the seeds each run gets.
//! Everything here is a pure function of the manifest, so the same seed gives the same plan
//! (and a resumed campaign can recompute what is left).

use super::rng::SplitMix64;

/// Stream identifiers for [`SplitMix64::derive`].
const PLUGIN_ORDER: u64 = 1;
const SAMPLE_ORDER: u64 = 2;
const TRAINER_SEED: u64 = 3;

/// One measured run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedRun {
    /// 1-based iteration.
    pub iteration: u32,
    /// 1-based position within the iteration.
    pub order: u32,
    /// Index into the manifest's plugins.
    pub plugin: usize,
}

/// Every iteration runs every plugin once, in an order shuffled per iteration from `seed`.
pub fn plan(seed: u64, iterations: u32, plugins: usize) -> Vec<PlannedRun> {
    let mut runs = Vec::with_capacity(iterations as usize * plugins);
    for iteration in 1..=iterations {
        let mut order: Vec<usize> = (0..plugins).collect();
        SplitMix64::derive(seed, &[PLUGIN_ORDER, iteration as u64]).shuffle(&mut order);
        for (position, plugin) in order.into_iter().enumerate() {
            runs.push(PlannedRun {
                iteration,
                order: position as u32 + 1,
                plugin,
            });
        }
    }
    runs
}

/// The sample order of every epoch of `iteration`: one permutation of `0..samples` per epoch,
/// concatenated. Every plugin of an iteration gets the same order, so they do the same work.
pub fn sample_order(seed: u64, iteration: u32, epochs: u32, samples: usize) -> Vec<u32> {
    let mut rng = SplitMix64::derive(seed, &[SAMPLE_ORDER, iteration as u64]);
    let mut all = Vec::with_capacity(epochs as usize * samples);
    for _ in 0..epochs {
        let mut epoch: Vec<u32> = (0..samples as u32).collect();
        rng.shuffle(&mut epoch);
        all.extend_from_slice(&epoch);
    }
    all
}

/// The seed handed to every trainer of `iteration` (same for all plugins of an iteration).
pub fn trainer_seed(seed: u64, iteration: u32) -> u64 {
    SplitMix64::derive(seed, &[TRAINER_SEED, iteration as u64]).next_u64()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_iteration_is_a_permutation_and_the_plan_is_reproducible() {
        let p = plan(42, 20, 4);
        assert_eq!(p, plan(42, 20, 4));
        assert_eq!(p.len(), 80);
        for it in 1..=20 {
            let mut plugins: Vec<usize> = p
                .iter()
                .filter(|r| r.iteration == it)
                .map(|r| r.plugin)
                .collect();
            plugins.sort();
            assert_eq!(plugins, vec![0, 1, 2, 3]);
        }
        let orders: std::collections::HashSet<Vec<usize>> = (1..=20)
            .map(|it| {
                p.iter()
                    .filter(|r| r.iteration == it)
                    .map(|r| r.plugin)
                    .collect()
            })
            .collect();
        assert!(orders.len() > 5, "orders should vary across iterations");
        assert_ne!(p, plan(43, 20, 4));
    }

    #[test]
    fn sample_order_is_one_permutation_per_epoch() {
        let o = sample_order(1, 1, 3, 50);
        assert_eq!(o.len(), 150);
        for e in 0..3 {
            let mut epoch = o[e * 50..(e + 1) * 50].to_vec();
            epoch.sort();
            assert_eq!(epoch, (0..50).collect::<Vec<_>>());
        }
        assert_ne!(o[..50], o[50..100]);
        assert_eq!(o, sample_order(1, 1, 3, 50));
        assert_ne!(o, sample_order(1, 2, 3, 50));
    }
}
