//! The deterministic generator of the campaign plan and sample orders: plugin-api's
//! SplitMix64, shared with the plugins (seeded weights), so there is one implementation.
//!
//! Not `rand` on purpose: a campaign's plan must be reproducible from its seed for as long as
//! its results are read, and a dependency upgrade that changed a shuffle algorithm would
//! silently change the plan of a resumed campaign. plugin-api tests the generator; the test
//! below pins its output here too, because every campaign's plan depends on it.

pub use plugin_api::rng::SplitMix64;

#[cfg(test)]
mod tests {
    use super::*;

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
}
