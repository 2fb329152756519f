//! The deterministic generator of the campaign plan and sample orders: plugin-api's
//! SplitMix64, shared with the plugins (seeded weights), so there is one implementation.
//!
//! Not `rand` on purpose: a campaign's plan must be reproducible from its seed for as long as
//! its results are read, and a dependency upgrade that changed a shuffle algorithm would
//! silently change the plan of a resumed campaign. The tests below pin its output here too,
//! because the plan depends on it.

pub use plugin_api::rng::SplitMix64;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shuffle_is_a_reproducible_permutation() {
        let mut a: Vec<u32> = (0..100).collect();
        let mut b = a.clone();
        SplitMix64::new(7).shuffle(&mut a);
        SplitMix64::new(7).shuffle(&mut b);
        assert_eq!(a, b);
        assert_ne!(a, (0..100).collect::<Vec<_>>());
        let mut sorted = a.clone();
        sorted.sort();
        assert_eq!(sorted, (0..100).collect::<Vec<_>>());
    }

    /// SplitMix64's published reference output for seed 0, and one derived stream.
    #[test]
    fn output_matches_the_reference_and_never_changes() {
        let mut r = SplitMix64::new(0);
        assert_eq!(r.next_u64(), 0xe220_a839_7b1d_cdaf);
        assert_eq!(r.next_u64(), 0x6e78_9e6a_a1b9_65f4);
        assert_eq!(
            SplitMix64::derive(42, &[1, 5]).next_u64(),
            0xa0b5_22d1_cbc7_18a9
        );
    }

    #[test]
    fn below_covers_its_range() {
        let mut r = SplitMix64::new(1);
        let mut seen = [false; 5];
        for _ in 0..200 {
            seen[r.below(5) as usize] = true;
        }
        assert!(seen.iter().all(|&s| s));
    }
}
