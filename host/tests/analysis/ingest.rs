//! Ingest: EnergiBridge folders (the shared real data, a wrapped counter) and runs.csv.

use std::io::Read;

use crate::support::analysis::*;
use joulebench::analysis::data::{Energy, Reading};
use joulebench::analysis::ingest::{load_all, IngestOptions};
use joulebench::analysis::metrics::{derive, WrapPolicy};
use joulebench::error::is_usage;

/// CPU_ENERGY last − first, computed the plain way, for cross-checking.
fn last_minus_first(path: &std::path::Path) -> (f64, f64) {
    let mut text = String::new();
    flate2::read::MultiGzDecoder::new(std::fs::File::open(path).expect("open"))
        .read_to_string(&mut text)
        .expect("gunzip");
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().expect("header").split(',').collect();
    let (ti, ei) = (
        header.iter().position(|h| *h == "Time").expect("Time"),
        header
            .iter()
            .position(|h| *h == "CPU_ENERGY (J)")
            .expect("CPU_ENERGY"),
    );
    let rows: Vec<Vec<f64>> = lines
        .map(|l| {
            l.split(',')
                .map(|f| f.parse().unwrap_or(f64::NAN))
                .collect()
        })
        .collect();
    let (first, last) = (&rows[0], &rows[rows.len() - 1]);
    ((last[ti] - first[ti]) / 1000.0, last[ei] - first[ei])
}

#[test]
fn reads_the_shared_energibridge_runs() {
    let dir = energibridge_mnist();
    let ingested = load_all(&[&dir], &IngestOptions::default()).expect("ingest");
    assert_eq!(ingested.groups, ["jax_jit", "keras", "torch"]);
    let count = |g: &str| ingested.runs.iter().filter(|r| r.group == g).count();
    assert_eq!(
        (count("jax_jit"), count("keras"), count("torch")),
        (31, 38, 37)
    );
    assert!(ingested.ignored.is_empty(), "{:?}", ingested.ignored);
    assert_eq!(
        ingested.energy_source.label(),
        "measured: EnergiBridge CPU_ENERGY (J)"
    );

    // Every run: duration and energy agree with a plain last − first reading (no wraps here).
    let (table, faults) = derive(&ingested, WrapPolicy::default());
    assert!(faults.is_empty(), "{faults:?}");
    let (time, energy) = (0, 1);
    for (raw, row) in ingested.runs.iter().zip(&table.rows) {
        let file = dir.join(&raw.group).join(format!("{}.csv.gz", raw.run));
        let (t, e) = last_minus_first(&file);
        assert!(
            (row.values[time].expect("time") - t).abs() < 1e-9,
            "{}",
            file.display()
        );
        let got = row.values[energy].expect("energy");
        assert!(
            (got - e).abs() <= 1e-9 * e.abs(),
            "{}: {got} vs {e}",
            file.display()
        );
        let power = row.values[2].expect("power");
        assert!(
            (power - e / t).abs() <= 1e-9 * power,
            "power = energy / time"
        );
        let edp = row.values[3].expect("edp");
        assert!((edp - e * t).abs() <= 1e-9 * edp, "edp = energy × time");
    }
}

#[test]
fn a_wrapped_counter_is_unwrapped_where_it_happens() {
    let tmp = TempDir::new("wrap");
    // Wraps at 2^16 J between the 2nd and 3rd samples: 500 + (100 + 65536 − 65500) + 500 J.
    // Samples 2 s apart, so that 1136 J (and 5600 J at a 70,000 J modulus) in 6 s is a power a
    // CPU package can draw: the physics check drops anything above 1 kW.
    tmp.write(
        "eb/g/run_1.csv",
        &energibridge_csv(&[
            (1_000, 65_000.0),
            (3_000, 65_500.0),
            (5_000, 100.0),
            (7_000, 600.0),
        ]),
    );
    tmp.write(
        "eb/g/run_2.csv",
        &energibridge_csv(&[(1_000, 10.0), (3_000, 1_146.0)]),
    );
    let ingested = load_all(&[tmp.path().join("eb")], &IngestOptions::default()).expect("ingest");
    let Energy::Sampled(sampled) = &ingested.runs[0].energy else {
        panic!("sampled run expected")
    };
    let Reading::Counter(trace) = &sampled.domains[0].reading else {
        panic!("counter expected")
    };
    assert_eq!(trace.wraps.len(), 1);
    assert_eq!(
        trace.wraps[0].row, 3,
        "the wrap is found at the sample where it happens"
    );

    let out = tmp.path().join("out");
    let summary = run(
        &[&tmp.path().join("eb")],
        vec![step("step = \"clean\"\nk = 3"), StepSpec::named("describe")],
        &out,
    )
    .expect("analyze");
    let energy = summary
        .groups
        .get("g")
        .and_then(|m| m.get("energy"))
        .expect("energy");
    assert_eq!(
        (energy.n, energy.min, energy.max),
        (2, Some(1136.0), Some(1136.0))
    );
    assert!(summary.dropped.is_empty(), "{:?}", summary.dropped);

    // An explicit modulus is used as given.
    let summary = run(
        &[&tmp.path().join("eb")],
        vec![
            step("step = \"clean\"\nwrap_joules = 70000.0"),
            StepSpec::named("describe"),
        ],
        &out,
    )
    .expect("analyze");
    let energy = summary
        .groups
        .get("g")
        .and_then(|m| m.get("energy"))
        .expect("energy");
    assert_eq!((energy.min, energy.max), (Some(1136.0), Some(5600.0)));

    // on_wrap = "drop" drops the whole run and says why.
    let summary = run(
        &[&tmp.path().join("eb")],
        vec![step("step = \"clean\"\non_wrap = \"drop\"")],
        &out,
    )
    .expect("analyze");
    assert_eq!(summary.dropped.len(), 1);
    let d = &summary.dropped[0];
    assert_eq!(
        (d.group.as_str(), d.run.as_str(), d.metric.as_str()),
        ("g", "run_1", "*")
    );
    assert!(d.reason.contains("data row 3"), "{}", d.reason);
    assert_eq!(summary.runs.get("g").map(|c| c.analysed), Some(1));
}

#[test]
fn energy_column_is_configurable_and_named_when_missing() {
    let tmp = TempDir::new("column");
    tmp.write(
        "eb/g/a.csv",
        "Delta,Time,PACKAGE_ENERGY (J),DRAM_ENERGY (J)\n0,0,5,1\n100,1000,15,3\n",
    );
    let ingested = load_all(&[tmp.path().join("eb")], &IngestOptions::default()).expect("ingest");
    // Issue 12: the total adds DRAM to the package, as runs.csv's energy_j does.
    assert_eq!(
        ingested.energy_source.label(),
        "measured: EnergiBridge PACKAGE_ENERGY (J) + DRAM_ENERGY (J)"
    );
    let options = IngestOptions {
        energy_columns: vec!["DRAM_ENERGY (J)".into()],
        ..IngestOptions::default()
    };
    let ingested = load_all(&[tmp.path().join("eb")], &options).expect("ingest");
    let (table, _) = derive(&ingested, WrapPolicy::default());
    assert_eq!(table.rows[0].values[1], Some(2.0));

    let options = IngestOptions {
        energy_columns: vec!["GPU0_ENERGY (J)".into()],
        ..IngestOptions::default()
    };
    let err = load_all(&[tmp.path().join("eb")], &options).expect_err("no such column");
    assert!(format!("{err:#}").contains("no successful run"), "{err:#}");
    let ingested = joulebench::analysis::ingest::load(&tmp.path().join("eb"), &options)
        .expect("reads, ignoring the run");
    assert_eq!(ingested.ignored.len(), 1);
    let reason = &ingested.ignored[0].reason;
    assert!(
        reason.contains("a.csv")
            && reason.contains("GPU0_ENERGY (J)")
            && reason.contains("PACKAGE_ENERGY (J)"),
        "{reason}"
    );
}

const RUNS_CSV: &str = "\
iteration,order,plugin,framework,status,time_s,energy_j,power_w,edp_js,cpu_time_s,accuracy,loss,meter,error,train_time_s,train_energy_j
0,0,burn,Burn,ok,10.0,100.0,10,1000,9,0.98,0.1,powercap,,8.0,80.0
0,1,spin,Spin,failed,,,,,,,,powercap,worker crashed (SIGSEGV),,
1,0,spin,Spin,ok,20.0,300.0,15,6000,19,0.97,0.1,powercap,,18.0,270.0
1,1,burn,Burn,ok,12.0,110.0,9.1,1320,11,0.98,0.1,powercap,,9.0,85.0
2,0,burn,Burn,timeout,,,,,,,,powercap,timed out after 600 s,,
2,1,spin,Spin,ok,22.0,310.0,14,6820,21,0.97,0.1,powercap,,,
";

#[test]
fn runs_csv_counts_failed_rows_and_reads_phases() {
    let tmp = TempDir::new("runs");
    let file = tmp.write("campaign/runs.csv", RUNS_CSV);
    for input in [file.clone(), tmp.path().join("campaign")] {
        let ingested = load_all(&[&input], &IngestOptions::default()).expect("ingest");
        assert_eq!(ingested.groups, ["burn", "spin"]);
        assert_eq!(ingested.runs.len(), 4);
        assert_eq!(ingested.ignored.len(), 2);
        assert_eq!(ingested.ignored[0].group, "spin");
        assert_eq!(ingested.ignored[0].reason, "worker crashed (SIGSEGV)");
        assert_eq!(ingested.ignored[1].status, "timeout");
        assert_eq!(ingested.energy_source.label(), "measured: powercap");
        let keys: Vec<&str> = ingested
            .extra_metrics
            .iter()
            .map(|m| m.key.as_str())
            .collect();
        assert_eq!(keys, ["train_time", "train_energy"]);
    }
    let out = tmp.path().join("out");
    let summary = run(&[&file], vec![StepSpec::named("describe")], &out).expect("analyze");
    let burn = summary.runs.get("burn").expect("burn");
    assert_eq!((burn.analysed, burn.ignored), (2, 1));
    let spin_train = summary
        .groups
        .get("spin")
        .and_then(|m| m.get("train_energy"))
        .expect("train_energy");
    assert_eq!(spin_train.n, 1, "an empty phase cell is missing, not zero");
    let burn_power = summary
        .groups
        .get("burn")
        .and_then(|m| m.get("power"))
        .expect("power");
    assert_eq!(burn_power.max, Some(10.0));
}

#[test]
fn an_estimated_meter_is_never_called_measured() {
    let tmp = TempDir::new("estimate");
    let text = RUNS_CSV.replace(",powercap,,8.0", ",estimate,,8.0");
    let file = tmp.write("runs.csv", &text);
    let ingested = load_all(&[&file], &IngestOptions::default()).expect("ingest");
    assert!(
        ingested.energy_source.label().starts_with("estimate: "),
        "{}",
        ingested.energy_source.label()
    );
}

#[test]
fn bad_inputs_are_usage_errors_naming_the_file() {
    let tmp = TempDir::new("bad");
    let missing = tmp.path().join("nope");
    let err = load_all(&[&missing], &IngestOptions::default()).expect_err("missing");
    assert!(
        is_usage(&err) && err.to_string().contains("nope"),
        "{err:#}"
    );

    let file = tmp.write("other.csv", "a,b\n1,2\n");
    let err = load_all(&[&file], &IngestOptions::default()).expect_err("not runs.csv");
    assert!(is_usage(&err), "{err:#}");
    assert!(
        err.to_string().contains("other.csv") && err.to_string().contains("iteration"),
        "{err}"
    );

    let file = tmp.write(
        "bad/runs.csv",
        "iteration,plugin,status,time_s,energy_j\n0,x,ok,1.5,lots\n",
    );
    let err = load_all(&[&file], &IngestOptions::default()).expect_err("bad number");
    assert!(
        format!("{err:#}").contains("runs.csv:2") && format!("{err:#}").contains("lots"),
        "{err:#}"
    );

    let empty = tmp.path().join("empty");
    std::fs::create_dir_all(&empty).expect("mkdir");
    let err = load_all(&[&empty], &IngestOptions::default()).expect_err("nothing there");
    assert!(
        is_usage(&err) && err.to_string().contains("EnergiBridge"),
        "{err:#}"
    );
}
