//! Counter unwrapping: `host run`'s online [`Unwrapper`] over any sequence of raw readings,
//! the shared [`classify_backward`] rule on any numbers, and the analysis's counter totals
//! (through `derive`) on any trace of a sampled counter.

use std::time::{Duration, Instant};

use joulebench::analysis::data::{
    CounterTrace, DomainReading, Energy, RawRun, Reading, Sampled, Wrap,
};
use joulebench::analysis::ingest::Ingested;
use joulebench::analysis::metrics::{derive, WrapPolicy};
use joulebench::energy::unwrap::{classify_backward, BackwardStep, StepLimits, Unwrapper};
use proptest::prelude::*;

use super::config;

/// A raw reading: a step forward, a wrap-like drop, a reset to near zero, or anything.
#[derive(Debug, Clone)]
enum Step {
    Forward(u64),
    Drop(u64),
    Absolute(u64),
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        6 => (0u64..1_000_000).prop_map(Step::Forward),
        2 => any::<u64>().prop_map(Step::Drop),
        2 => prop_oneof![0u64..1000, any::<u64>()].prop_map(Step::Absolute),
    ]
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn unwrapped_joules_are_finite_non_negative_and_never_go_back(
        first in any::<u64>(),
        scale in prop::sample::select(vec![1e-6, 6.103515625e-5, 1e-3, 1.0, 1e6]),
        modulus in prop::option::of(prop_oneof![Just(1u64 << 32), Just(262_143_328_850), any::<u64>()]),
        max_power in prop::sample::select(vec![1.0, 500.0, 2000.0, 1e12]),
        steps in prop::collection::vec((step(), 0u64..2_000_000), 0..40),
    ) {
        let start = Instant::now();
        let mut u = Unwrapper::new(first, start, scale, modulus, max_power, 0.001);
        let (mut raw, mut at, mut last) = (first, start, 0.0);
        for (s, micros) in steps {
            raw = match s {
                Step::Forward(d) => raw.saturating_add(d),
                Step::Drop(d) => raw.saturating_sub(d),
                Step::Absolute(v) => v,
            };
            at += Duration::from_micros(micros);
            let _flag = u.update(raw, at);
            let j = u.joules();
            prop_assert!(j.is_finite() && j >= 0.0, "{j}");
            prop_assert!(j >= last, "went back from {last} to {j}");
            last = j;
        }
    }

    #[test]
    fn a_backward_step_is_a_believable_wrap_a_reset_or_a_glitch(
        before in any::<f64>(), after in any::<f64>(), modulus in any::<Option<f64>>(),
        ceiling in any::<f64>(), expected in any::<Option<f64>>(),
    ) {
        // A NaN ceiling never comes from a bound power; any other is never exceeded.
        prop_assume!(!ceiling.is_nan());
        let limits = StepLimits { ceiling, expected };
        if let BackwardStep::Wrap { step } = classify_backward(before, after, modulus, limits) {
            prop_assert!(step <= ceiling, "{step} > {ceiling}");
        }
    }

    #[test]
    fn a_counter_totals_at_least_its_forward_steps_or_is_faulted(
        forward_j in 0.0f64..1e6, steps in 0usize..1000,
        wraps in prop::collection::vec((0.0f64..70_000.0, 0.0f64..1.0), 0..4),
        extra_max in 0.0f64..1e5,
        given in prop::option::of(prop_oneof![Just(65_536.0), 1.0f64..1e6, Just(0.0), Just(-1.0)]),
        drop in any::<bool>(),
    ) {
        // A wrap goes from `before` to a fraction of it.
        let wraps: Vec<Wrap> = wraps
            .into_iter()
            .enumerate()
            .map(|(i, (before_j, f))| Wrap { row: i + 2, before_j, after_j: before_j * f })
            .collect();
        let max_reading_j = wraps.iter().fold(extra_max, |m, w| m.max(w.before_j));
        let trace = CounterTrace { forward_j, steps, wraps, max_reading_j };
        let run = RawRun {
            node: String::new(),
            group: "g".into(),
            run: "1".into(),
            source: "fuzz".into(),
            time_s: 10.0,
            meter: "fuzz".into(),
            energy: Energy::Sampled(Sampled {
                domains: vec![DomainReading {
                    column: "CPU_ENERGY (J)".into(),
                    domain: "cpu".into(),
                    bound_domain: "package".into(),
                    in_total: true,
                    reading: Reading::Counter(trace),
                }],
                rows: steps + 1,
                interval_ms: Some(200.0),
                delta_sum_ms: Some(10_000.0),
                first_time: 1.7e12,
            }),
            extras: Vec::new(),
        };
        let ingested = Ingested { groups: vec!["g".into()], runs: vec![run], ..Ingested::default() };
        let policy = if drop { WrapPolicy::Drop } else { WrapPolicy::Unwrap { wrap_joules: given } };
        let (table, faults) = derive(&ingested, policy);
        let energy = table.metrics.iter().position(|m| m.key == "energy").expect("energy metric");
        if faults.is_empty() {
            let total = table.rows[0].values[energy];
            prop_assert!(total.is_some_and(|t| t.is_finite() && t >= forward_j), "{total:?}");
        }
    }
}
