//! `exec`: an external command gets the tidy CSV and the output folder; its exit status
//! and output are reported.

use crate::support::analysis::*;

const RUNS: &str = "iteration,plugin,status,time_s,energy_j\n0,a,ok,10,100\n0,b,ok,20,300\n1,a,ok,11,110\n1,b,failed,,\n";

#[test]
fn runs_a_command_that_sees_the_tidy_csv() {
    let tmp = TempDir::new("exec");
    let file = tmp.write("runs.csv", RUNS);
    let out = tmp.path().join("out");
    let command = r#"step = "exec"
command = 'cp "$1" "$2/seen.csv" && echo "rows: $(wc -l < "$JOULEBENCH_TIDY_CSV")" && echo oops >&2'"#;
    let summary = run(
        &[&file],
        vec![StepSpec::named("clean"), step(command)],
        &out,
    )
    .expect("analyze");
    let record = summary
        .steps
        .last()
        .and_then(|s| s.exec.clone())
        .expect("exec record");
    assert_eq!(record.exit_code, Some(0));
    assert!(record.success);
    // 3 ok runs × 4 metrics + header.
    assert_eq!(record.stdout.trim(), "rows: 13");
    assert_eq!(record.stderr.trim(), "oops");
    let seen = std::fs::read_to_string(out.join("seen.csv")).expect("the command wrote its copy");
    let mut lines = seen.lines();
    assert_eq!(lines.next(), Some("group,run,metric,unit,value"));
    assert!(
        seen.contains("a,0,energy,J,100\n") && seen.contains("b,0,power,W,15\n"),
        "{seen}"
    );
    assert!(!seen.contains("b,1,"), "a failed run has no rows");
}

#[test]
fn argv_form_gets_two_arguments_and_failures_are_reported() {
    let tmp = TempDir::new("exec-fail");
    let file = tmp.write("runs.csv", RUNS);
    let out = tmp.path().join("out");
    let cmd = "step = \"exec\"\ncommand = [\"sh\", \"-c\", \"echo $# $(basename $1); exit 3\", \"argv0\"]";
    let summary =
        run(&[&file], vec![step(cmd)], &out).expect("a failing exec is reported, not fatal");
    let record = summary
        .steps
        .last()
        .and_then(|s| s.exec.clone())
        .expect("exec record");
    assert_eq!((record.exit_code, record.success), (Some(3), false));
    assert_eq!(record.stdout.trim(), "2 tidy.csv");

    let err = run(
        &[&file],
        vec![step(&format!("{cmd}\nrequired = true"))],
        &out,
    )
    .expect_err("required");
    assert!(format!("{err:#}").contains("exit status 3"), "{err:#}");

    let summary = run(
        &[&file],
        vec![step("step = \"exec\"\ncommand = [\"/nonexistent/prog\"]")],
        &out,
    )
    .expect("reported");
    let record = summary
        .steps
        .last()
        .and_then(|s| s.exec.clone())
        .expect("exec record");
    assert!(
        !record.success && record.stderr.contains("cannot start"),
        "{record:?}"
    );
}
