//! The campaign plan: which plugin runs when, the sample order of every epoch, and the seed
//! each trainer gets. Everything here is a pure function of the campaign's seed, so the same
//! seed gives the same plan (and a resumed campaign can recompute what is left).
//!
//! A leaf: it imports nothing from the crate, so the conductor (`protocol`) and the worker
//! (`plugin::worker`) both read it without depending on each other.

mod rng;
mod shard;

pub use rng::SplitMix64;
pub use shard::{runs_of, Shard};

/// Stream identifiers for [`SplitMix64::derive`].
const PLUGIN_ORDER: u64 = 1;
const SAMPLE_ORDER: u64 = 2;
const TRAINER_SEED: u64 = 3;
const INITIAL_WEIGHTS: u64 = 4;

/// Where a run's initial weights come from (`[model] init`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Init {
    /// The host's weights (`plugin_api::init`, seeded by [`weights_seed`]): every plugin of an
    /// iteration starts from the same numbers.
    #[default]
    Host,
    /// Each framework's own initialiser, seeded with the trainer seed (what every campaign
    /// did before the host made weights).
    Framework,
}

impl Init {
    /// `host` or `framework`, as the manifest, runs.csv and campaign.json write it.
    pub fn as_str(self) -> &'static str {
        match self {
            Init::Host => "host",
            Init::Framework => "framework",
        }
    }

    pub fn parse(word: &str) -> Option<Init> {
        [Init::Host, Init::Framework]
            .into_iter()
            .find(|i| i.as_str() == word)
    }
}

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

/// The seed of `iteration`'s host-made initial weights (same for all plugins of an
/// iteration, another stream than the trainer seed's).
pub fn weights_seed(seed: u64, iteration: u32) -> u64 {
    SplitMix64::derive(seed, &[INITIAL_WEIGHTS, iteration as u64]).next_u64()
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

    /// Values computed by the generator before it moved here from `protocol/`: plans of
    /// existing campaigns (and their resumes) depend on every bit of them.
    #[test]
    fn the_plan_of_existing_campaigns_never_changes() {
        let p: Vec<(u32, u32, usize)> = plan(42, 3, 4)
            .iter()
            .map(|r| (r.iteration, r.order, r.plugin))
            .collect();
        assert_eq!(
            p,
            [
                (1, 1, 2),
                (1, 2, 3),
                (1, 3, 1),
                (1, 4, 0),
                (2, 1, 2),
                (2, 2, 1),
                (2, 3, 3),
                (2, 4, 0),
                (3, 1, 1),
                (3, 2, 3),
                (3, 3, 2),
                (3, 4, 0)
            ]
        );
        assert_eq!(
            sample_order(42, 1, 2, 10),
            [7, 8, 1, 6, 2, 0, 9, 3, 5, 4, 5, 6, 8, 2, 0, 7, 3, 4, 9, 1]
        );
        assert_eq!(
            sample_order(7, 3, 1, 12),
            [11, 7, 6, 8, 1, 0, 4, 3, 10, 9, 5, 2]
        );
        assert_eq!(trainer_seed(42, 1), 0x83d0_3f08_8a88_9aa2);
        assert_eq!(trainer_seed(42, 2), 0x9971_f385_a728_fe2e);
        assert_eq!(trainer_seed(7, 30), 0xa0c9_5e44_dece_8cc2);
    }

    #[test]
    fn weights_seeds_are_their_own_stream_per_iteration() {
        assert_eq!(
            weights_seed(42, 1),
            SplitMix64::derive(42, &[4, 1]).next_u64()
        );
        assert_ne!(weights_seed(42, 1), weights_seed(42, 2));
        assert_ne!(weights_seed(42, 1), trainer_seed(42, 1));
        assert_eq!(Init::parse("framework"), Some(Init::Framework));
        assert_eq!(Init::parse(Init::Host.as_str()), Some(Init::Host));
        assert_eq!(Init::parse("glorot"), None);
    }
}
