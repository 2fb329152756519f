//! Inputs that once broke a reader, each a named test (found by the targets in this binary).

use joulebench::analysis::data::{
    CounterTrace, DomainReading, Energy, RawRun, Reading, Sampled, Wrap,
};
use joulebench::analysis::ingest::{read_energibridge_recording, Ingested};
use joulebench::analysis::metrics::{derive, next_power_of_two_above, WrapPolicy};

/// Found by `energibridge::recordings_of_any_values_are_read_or_refused` (a release run of a
/// million cases, which hung): a counter whose largest reading is subnormal (1e-320 J) and that goes
/// back once hung the analysis for ever: the inferred wrap modulus started from
/// `2f64.powi(-1064)`, which is 0, and 0 doubled stays 0.
#[test]
fn a_subnormal_counter_reading_neither_hangs_nor_wraps_at_zero() {
    for x in [1e-320, f64::from_bits(1), f64::MIN_POSITIVE, 5e-324] {
        let p = next_power_of_two_above(x).expect("a power of two above a positive number");
        assert!(p > x && p / 2.0 <= x, "{x:e} → {p:e}");
    }
    // Above 2^1023 there is no next power of two in f64.
    assert_eq!(next_power_of_two_above(f64::MAX), None);
    assert_eq!(next_power_of_two_above(1.5e308), None);

    // The recording as EnergiBridge would write it, through the reader and derive.
    let csv = "Delta,Time,CPU_ENERGY (J)\n0,1000,1e-320\n200,1200,0\n200,1400,1e-321\n";
    let (time_s, sampled) =
        read_energibridge_recording(csv.as_bytes().to_vec(), &[]).expect("readable");
    let run = RawRun {
        node: String::new(),
        group: "g".into(),
        run: "1".into(),
        source: "regression".into(),
        time_s,
        meter: "EnergiBridge".into(),
        energy: Energy::Sampled(sampled),
        extras: Vec::new(),
    };
    let ingested = Ingested {
        groups: vec!["g".into()],
        runs: vec![run],
        ..Ingested::default()
    };
    let (table, _faults) = derive(&ingested, WrapPolicy::default());
    assert_eq!(table.rows.len(), 1);

    // And a trace built directly, with the reading near f64::MAX, where no modulus exists.
    let trace = CounterTrace {
        forward_j: 1.0,
        steps: 2,
        wraps: vec![Wrap {
            row: 3,
            before_j: 1.6e308,
            after_j: 1.0,
        }],
        max_reading_j: 1.6e308,
    };
    let mut huge = ingested.clone();
    huge.runs[0].energy = Energy::Sampled(Sampled {
        domains: vec![DomainReading {
            column: "CPU_ENERGY (J)".into(),
            domain: "cpu".into(),
            bound_domain: "package".into(),
            in_total: true,
            reading: Reading::Counter(trace),
        }],
        rows: 3,
        interval_ms: Some(200.0),
        delta_sum_ms: Some(400.0),
        first_time: 1000.0,
    });
    let (_table, faults) = derive(&huge, WrapPolicy::default());
    assert!(
        faults.iter().any(|f| f.reason.contains("cannot infer")),
        "{faults:?}"
    );
}
