//! The step registry: the default pipeline, and usage errors for unknown steps and options.

use crate::support::analysis::*;
use joulebench::analysis::{default_pipeline, validate};
use joulebench::error::is_usage;

fn with_line(mut s: StepSpec, line: usize) -> StepSpec {
    s.line = Some(line);
    s
}

/// The study's steps in the study's order, with `power` and `findings` (issue 18) after
/// `compare`, so the tables and the report can lead with the answers.
#[test]
fn default_pipeline_is_the_studys() {
    let names: Vec<String> = default_pipeline().into_iter().map(|s| s.step).collect();
    assert_eq!(
        names,
        [
            "clean",
            "describe",
            "normality",
            "compare",
            "power",
            "findings",
            "table",
            "violin",
            "report"
        ]
    );
    validate(&default_pipeline()).expect("valid");
}

#[test]
fn unknown_option_is_a_usage_error_naming_step_line_and_known_options() {
    let steps = vec![
        StepSpec::named("describe"),
        StepSpec::named("normality"),
        with_line(step("step = \"clean\"\nkk = 3"), 42),
    ];
    let err = validate(&steps).expect_err("kk is unknown");
    assert!(is_usage(&err));
    assert_eq!(err.to_string(), "[[analysis]] step 3 `clean` (line 42): unknown option `kk`; known: k, on_wrap, wrap_joules");
}

#[test]
fn unknown_step_is_a_usage_error_listing_the_registry() {
    let err = validate(&[with_line(step("step = \"cleen\""), 7)]).expect_err("unknown step");
    assert!(is_usage(&err));
    let msg = err.to_string();
    assert!(
        msg.starts_with("[[analysis]] step 1 (line 7): unknown step `cleen`; known: "),
        "{msg}"
    );
    for name in [
        "clean",
        "describe",
        "normality",
        "compare",
        "table",
        "violin",
        "report",
        "exec",
    ] {
        assert!(msg.contains(name), "{msg}");
    }
}

#[test]
fn bad_option_values_are_usage_errors() {
    for bad in [
        "step = \"clean\"\nk = -1",
        "step = \"clean\"\nk = \"three\"",
        "step = \"clean\"\non_wrap = \"ignore\"",
        "step = \"compare\"\nalpha = 1.5",
        "step = \"compare\"\ntest = \"t\"",
        "step = \"violin\"\nformats = [\"gif\"]",
        "step = \"exec\"",
        "step = \"exec\"\ncommand = []",
    ] {
        let err = validate(&[step(bad)]).expect_err(bad);
        assert!(is_usage(&err), "{bad}: {err:#}");
    }
    let err = validate(&[
        StepSpec::named("describe"),
        step("step = \"ingest\"\nenergy_column = \"X\""),
    ])
    .expect_err("ingest late");
    assert!(is_usage(&err) && err.to_string().contains("first"), "{err}");
    validate(&[
        step("step = \"ingest\"\nenergy_column = \"X\""),
        step("step = \"compare\"\ntest = \"welch\"\nalpha = 0.01"),
    ])
    .expect("valid");
}

#[test]
fn unknown_metric_is_a_usage_error_at_run_time() {
    let tmp = TempDir::new("metric");
    let file = tmp.write(
        "runs.csv",
        "iteration,plugin,status,time_s,energy_j\n0,a,ok,1,2\n0,b,ok,1,3\n",
    );
    let err = run(
        &[&file],
        vec![step("step = \"compare\"\nmetrics = [\"joules\"]")],
        tmp.path(),
    )
    .expect_err("unknown metric");
    assert!(
        is_usage(&err) && err.to_string().contains("time, energy, power, edp"),
        "{err}"
    );
}
