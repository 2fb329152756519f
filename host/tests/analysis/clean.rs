//! `clean`: exactly the values beyond k population standard deviations are dropped,
//! each metric on its own, and every drop is listed.

use crate::support::analysis::*;
use joulebench::analysis::ingest::{load_all, IngestOptions};
use joulebench::analysis::metrics::{derive, WrapPolicy};

/// runs.csv text: group `a` with energies `energy`, time fixed except where given.
fn runs_csv(energy: &[f64]) -> String {
    let mut text = String::from("iteration,plugin,status,time_s,energy_j\n");
    for (i, e) in energy.iter().enumerate() {
        text.push_str(&format!("{i},a,ok,{},{e}\n", 10.0 + (i % 3) as f64 * 0.1));
        text.push_str(&format!(
            "{i},b,ok,{},{}\n",
            11.0 + (i % 2) as f64 * 0.1,
            200.0 + (i % 4) as f64
        ));
    }
    text
}

fn one_outlier() -> Vec<f64> {
    // 19 values near 100 and one at 1000: its z-score (population σ) is about 4.36.
    let mut v: Vec<f64> = (0..19).map(|i| 100.0 + (i % 5) as f64).collect();
    v.insert(7, 1000.0);
    v
}

#[test]
fn drops_exactly_the_three_sigma_value_of_that_metric() {
    let tmp = TempDir::new("clean");
    let file = tmp.write("runs.csv", &runs_csv(&one_outlier()));
    let out = tmp.path().join("out");
    let summary = run(
        &[&file],
        vec![StepSpec::named("clean"), StepSpec::named("describe")],
        &out,
    )
    .expect("analyze");

    let energy_drops: Vec<_> = summary
        .dropped
        .iter()
        .filter(|d| d.metric == "energy")
        .collect();
    assert_eq!(energy_drops.len(), 1, "{:?}", summary.dropped);
    let d = energy_drops[0];
    assert_eq!(
        (d.group.as_str(), d.run.as_str(), d.value),
        ("a", "7", Some(1000.0))
    );
    assert!(d.reason.contains("3σ"), "{}", d.reason);

    let a = summary.groups.get("a").expect("a");
    assert_eq!(a.get("energy").map(|m| m.n), Some(19));
    assert_eq!(a.get("energy").and_then(|m| m.max), Some(104.0));
    assert_eq!(
        a.get("time").map(|m| m.n),
        Some(20),
        "time is filtered on its own, not with energy"
    );
    assert_eq!(
        summary
            .groups
            .get("b")
            .and_then(|m| m.get("energy"))
            .map(|m| m.n),
        Some(20)
    );
    // Power and EDP of the same run are large too: dropped on their own merit.
    assert!(
        summary
            .dropped
            .iter()
            .all(|d| d.run == "7" && d.group == "a"),
        "{:?}",
        summary.dropped
    );
}

#[test]
fn k_is_honoured() {
    let tmp = TempDir::new("clean-k");
    let file = tmp.write("runs.csv", &runs_csv(&one_outlier()));
    let out = tmp.path().join("out");
    // The largest z-score possible with n = 20 is sqrt(19) ≈ 4.36 < 5: nothing goes.
    let summary = run(&[&file], vec![step("step = \"clean\"\nk = 5")], &out).expect("analyze");
    assert!(summary.dropped.is_empty(), "{:?}", summary.dropped);
    let summary = run(&[&file], vec![step("step = \"clean\"\nk = 4.3")], &out).expect("analyze");
    assert_eq!(
        summary
            .dropped
            .iter()
            .filter(|d| d.metric == "energy")
            .count(),
        1
    );
}

#[test]
fn non_positive_totals_drop_the_run() {
    let tmp = TempDir::new("clean-neg");
    let file = tmp.write("runs.csv", "iteration,plugin,status,time_s,energy_j\n0,a,ok,10,100\n1,a,ok,10,-5\n2,a,ok,0,50\n3,a,ok,11,101\n");
    let out = tmp.path().join("out");
    let summary = run(&[&file], vec![StepSpec::named("clean")], &out).expect("analyze");
    let runs: Vec<(&str, &str)> = summary
        .dropped
        .iter()
        .map(|d| (d.run.as_str(), d.metric.as_str()))
        .collect();
    assert_eq!(runs, [("1", "*"), ("2", "*")]);
    assert_eq!(summary.runs.get("a").map(|c| c.analysed), Some(2));
}

#[test]
fn a_faulty_run_drops_only_itself_when_two_inputs_share_its_label() {
    // Two campaigns both number iterations from 0: iteration 1 of `a` is faulty in the first
    // and healthy in the second. Only the faulty one may go.
    let tmp = TempDir::new("clean-labels");
    let first = tmp.write(
        "first.csv",
        "iteration,plugin,status,time_s,energy_j\n0,a,ok,10,100\n1,a,ok,10,-5\n",
    );
    let second = tmp.write(
        "second.csv",
        "iteration,plugin,status,time_s,energy_j\n0,a,ok,10,102\n1,a,ok,10,101\n",
    );
    let out = tmp.path().join("out");
    let summary = run(&[&first, &second], vec![StepSpec::named("clean")], &out).expect("analyze");
    assert_eq!(summary.dropped.len(), 1, "{:?}", summary.dropped);
    assert_eq!(summary.dropped[0].run, "1");
    assert!(summary.dropped[0].reason.contains("not positive"));
    assert_eq!(summary.runs.get("a").map(|c| c.analysed), Some(3));
}

#[test]
fn the_shared_data_loses_exactly_its_three_sigma_values() {
    let dir = energibridge_mnist();
    let tmp = TempDir::new("clean-shared");
    let summary = run(&[&dir], vec![StepSpec::named("clean")], tmp.path()).expect("analyze");

    // Independently: population mean and σ per group and metric, |x − mean| > 3σ.
    let ingested = load_all(&[&dir], &IngestOptions::default()).expect("ingest");
    let (table, _) = derive(&ingested, WrapPolicy::default());
    let mut expected = Vec::new();
    for group in &table.groups {
        for (m, metric) in table.metrics.iter().enumerate() {
            let rows: Vec<_> = table.rows.iter().filter(|r| &r.group == group).collect();
            let x: Vec<f64> = rows.iter().map(|r| r.values[m].expect("value")).collect();
            let n = x.len() as f64;
            let mean = x.iter().sum::<f64>() / n;
            let sigma = (x.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n).sqrt();
            for (r, v) in rows.iter().zip(&x) {
                if (v - mean).abs() > 3.0 * sigma {
                    expected.push((group.clone(), r.run.clone(), metric.key.clone()));
                }
            }
        }
    }
    let mut got: Vec<_> = summary
        .dropped
        .iter()
        .map(|d| (d.group.clone(), d.run.clone(), d.metric.clone()))
        .collect();
    got.sort();
    expected.sort();
    assert!(!expected.is_empty(), "the real data has a few outliers");
    assert_eq!(got, expected);
}
