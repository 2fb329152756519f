//! A small seeded generator that the host and every plugin can share.
//!
//! Written here rather than taken from `rand` on purpose: a campaign's plan (plugin order,
//! sample order, trainer seeds) and a plugin's seeded initial weights must be reproducible
//! from the seed for as long as results are read, and a dependency upgrade that changed an
//! algorithm would silently change them. The outputs are pinned by tests below.

/// SplitMix64 (Steele, Lea & Flood 2014): 64-bit state, passes BigCrush, trivially seedable.
///
/// ```
/// use plugin_api::rng::SplitMix64;
///
/// let mut order: Vec<u32> = (0..10).collect();
/// SplitMix64::new(7).shuffle(&mut order);
/// assert_eq!(order, [8, 1, 5, 9, 0, 4, 3, 2, 6, 7]);
/// ```
#[derive(Debug, Clone)]
pub struct SplitMix64(u64);

impl SplitMix64 {
    pub fn new(seed: u64) -> Self {
        SplitMix64(seed)
    }

    /// A generator for a sub-stream, e.g. `derive(seed, &[SAMPLE_ORDER, iteration])`,
    /// independent of how many numbers other streams drew.
    pub fn derive(seed: u64, path: &[u64]) -> Self {
        let mut state = seed;
        for &p in path {
            state = SplitMix64(state ^ p.wrapping_mul(0xD6E8_FEB8_6659_FD93)).next_u64();
        }
        SplitMix64(state)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `[0, 1)` with 24 bits of precision (every value is exact in `f32`).
    pub fn next_f32(&mut self) -> f32 {
        (self.next_u64() >> 40) as f32 / (1u64 << 24) as f32
    }

    /// Uniform in `0..n` without modulo bias (rejection sampling), `n > 0`.
    pub fn below(&mut self, n: u64) -> u64 {
        let zone = u64::MAX - (u64::MAX % n);
        loop {
            let x = self.next_u64();
            if x < zone {
                return x % n;
            }
        }
    }

    /// Fisher–Yates shuffle in place.
    pub fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            let j = self.below(i as u64 + 1) as usize;
            items.swap(i, j);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Pinned: computed with host/src/protocol/rng.rs as it stood when this copy was made
    // (and the first value is SplitMix64's published output for seed 0). Campaign plans and
    // seeded weights depend on these numbers: a change here is a change of every plan.
    #[test]
    fn outputs_are_pinned() {
        let mut r = SplitMix64::new(0);
        assert_eq!(
            [r.next_u64(), r.next_u64(), r.next_u64()],
            [0xe220a8397b1dcdaf, 0x6e789e6aa1b965f4, 0x06c45d188009454f]
        );
        let mut r = SplitMix64::new(42);
        assert_eq!(
            [r.next_u64(), r.next_u64()],
            [0xbdd732262feb6e95, 0x28efe333b266f103]
        );
        let mut r = SplitMix64::derive(42, &[1, 3]);
        assert_eq!(
            [r.next_u64(), r.next_u64()],
            [0x306b3fd631103cf0, 0x379f7c8da8f8ec56]
        );
        assert_eq!(SplitMix64::derive(7, &[]).next_u64(), 0x63cbe1e459320dd7);
        let mut r = SplitMix64::new(9);
        let below: Vec<u64> = (0..8).map(|_| r.below(10)).collect();
        assert_eq!(below, [8, 6, 8, 4, 1, 0, 8, 5]);
        let mut a: Vec<u32> = (0..10).collect();
        SplitMix64::derive(42, &[2, 0]).shuffle(&mut a);
        assert_eq!(a, [6, 7, 4, 5, 9, 8, 2, 1, 0, 3]);
        let mut r = SplitMix64::new(11);
        let f: Vec<f32> = (0..4).map(|_| r.next_f32()).collect();
        assert_eq!(f, [0.31624436, 0.2623651, 0.63804233, 0.504614]);
    }

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

    #[test]
    fn below_covers_its_range_and_next_f32_stays_below_one() {
        let mut r = SplitMix64::new(1);
        let mut seen = [false; 5];
        for _ in 0..200 {
            seen[r.below(5) as usize] = true;
        }
        assert!(seen.iter().all(|&s| s));
        assert!((0..10_000).all(|_| (0.0..1.0).contains(&r.next_f32())));
    }
}
