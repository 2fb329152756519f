//! What the pipeline publishes — after the 3σ clean, every group's figures and every
//! comparison's test, statistic, p, Holm p, differences and effect sizes — against an
//! independent pandas + SciPy pipeline (`bench/analysis/analyze.py`), on the real EnergiBridge
//! recordings and on a synthetic runs.csv that takes every branch (Welch, Mann–Whitney exact,
//! Mann–Whitney asymptotic with ties). Fixtures: `tests/fixtures/scipy/generate_pipeline.py`.
//!
//! Tolerance: 1e-9 relative, no absolute floor; test names, counts and drops exactly.

use std::path::{Path, PathBuf};

use crate::support::analysis::*;
use joulebench::analysis::summary::Summary;
use serde_json::Value;

const REL_TOL: f64 = 1e-9;

fn fixture_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/scipy")
}

fn fixtures() -> Value {
    let path = fixture_dir().join("pipeline_fixtures.json");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    serde_json::from_str(&text).expect("fixture JSON parses")
}

fn steps() -> Vec<StepSpec> {
    ["clean", "describe", "normality", "compare"]
        .into_iter()
        .map(StepSpec::named)
        .collect()
}

#[derive(Default)]
struct Check {
    failures: Vec<String>,
    count: usize,
}

impl Check {
    fn close(&mut self, what: &str, got: Option<f64>, expected: &Value) {
        self.count += 1;
        let want = expected.as_f64();
        let ok = match (got, want) {
            (Some(g), Some(w)) => g == w || (w != 0.0 && ((g - w) / w).abs() <= REL_TOL),
            _ => false,
        };
        if !ok {
            self.failures
                .push(format!("{what}: host {got:?}, SciPy {want:?}"));
        }
    }

    fn same(&mut self, what: &str, got: &str, expected: &Value) {
        self.count += 1;
        if expected.as_str() != Some(got) {
            self.failures
                .push(format!("{what}: host {got:?}, SciPy {expected}"));
        }
    }

    fn finish(self, name: &str) {
        assert!(
            self.failures.is_empty(),
            "{name}: {} of {} figures differ:\n{}",
            self.failures.len(),
            self.count,
            self.failures.join("\n")
        );
        println!("{name}: {} figures agree", self.count);
    }
}

fn check_against(summary: &Summary, expected: &Value, name: &str) {
    let mut check = Check::default();

    // Drops: the same values of the same runs.
    let mut got: Vec<String> = summary
        .dropped
        .iter()
        .map(|d| format!("{} {} {} {:?}", d.group, d.run, d.metric, d.value))
        .collect();
    let mut want: Vec<String> = expected["dropped"]
        .as_array()
        .expect("dropped")
        .iter()
        .map(|d| {
            format!(
                "{} {} {} {:?}",
                d["group"].as_str().unwrap_or(""),
                d["run"].as_str().unwrap_or(""),
                d["metric"].as_str().unwrap_or(""),
                d["value"].as_f64()
            )
        })
        .collect();
    got.sort();
    want.sort();
    assert_eq!(got, want, "{name}: dropped values");

    for (group, metrics) in expected["groups"].as_object().expect("groups") {
        for (metric, figures) in metrics.as_object().expect("metrics") {
            let what = format!("{group}.{metric}");
            let Some(gm) = summary.groups.get(group).and_then(|g| g.get(metric)) else {
                check.failures.push(format!("{what}: missing"));
                continue;
            };
            assert_eq!(Some(gm.n as u64), figures["n"].as_u64(), "{what}.n");
            for (key, value) in [
                ("mean", gm.mean),
                ("median", gm.median),
                ("variance", gm.variance),
                ("std", gm.std),
                ("min", gm.min),
                ("max", gm.max),
                ("shapiro_w", gm.shapiro_w),
                ("shapiro_p", gm.shapiro_p),
            ] {
                check.close(&format!("{what}.{key}"), value, &figures[key]);
            }
        }
    }

    let expected_comparisons = expected["comparisons"].as_array().expect("comparisons");
    assert_eq!(
        summary.comparisons.len(),
        expected_comparisons.len(),
        "{name}: number of comparisons"
    );
    for e in expected_comparisons {
        let key = |k: &str| e[k].as_str().unwrap_or("").to_string();
        let (a, b, metric) = (key("a"), key("b"), key("metric"));
        let what = format!("{a} vs {b} {metric}");
        let Some(c) = summary
            .comparisons
            .iter()
            .find(|c| c.a == a && c.b == b && c.metric == metric)
        else {
            check.failures.push(format!("{what}: missing"));
            continue;
        };
        check.same(&format!("{what} test"), c.test.as_str(), &e["test"]);
        for (field, value) in [
            ("statistic", c.statistic),
            ("p_value", c.p_value),
            ("p_holm", c.p_holm),
            ("mean_difference", c.mean_difference),
            ("median_difference", c.median_difference),
            ("median_change_pct", c.median_change_pct),
            ("cohens_d", c.cohens_d),
            ("cliffs_delta", c.cliffs_delta),
        ] {
            check.close(&format!("{what} {field}"), value, &e[field]);
        }
    }
    check.finish(name);
}

#[test]
fn the_real_energibridge_recordings_give_scipys_figures() {
    let tmp = TempDir::new("pipeline-scipy-eb");
    let out = tmp.path().join("out");
    let summary = run(&[&energibridge_mnist()], steps(), &out).expect("analyze");
    check_against(
        &summary,
        &fixtures()["energibridge_mnist"],
        "energibridge-mnist",
    );
}

#[test]
fn every_branch_of_compare_gives_scipys_figures() {
    let expected = fixtures();
    let tests: Vec<&str> = expected["synthetic"]["comparisons"]
        .as_array()
        .expect("comparisons")
        .iter()
        .filter_map(|c| c["test"].as_str())
        .collect();
    // The fixture must exercise both tests, or this checks less than it claims.
    assert!(tests.contains(&"welch") && tests.contains(&"mann-whitney"));

    let tmp = TempDir::new("pipeline-scipy-synthetic");
    let out = tmp.path().join("out");
    let input = fixture_dir().join("pipeline_synthetic_runs.csv");
    let summary = run(&[&input], steps(), &out).expect("analyze");
    check_against(&summary, &expected["synthetic"], "synthetic");
}
