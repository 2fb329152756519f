//! Inputs at the edges: values near `f64::MAX`, a runs.csv cell that is not a number where a
//! whole number belongs, and failed rows holding partial figures.

use crate::support::analysis::*;
use joulebench::analysis::ingest::{load_all, IngestOptions};
use serde_json::Value;

fn summary_json(out: &std::path::Path) -> Value {
    let text = std::fs::read_to_string(out.join("summary.json")).expect("summary.json");
    serde_json::from_str(&text).expect("valid JSON")
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-12 * b.abs()
}

#[test]
fn values_near_the_largest_float_get_a_mean_median_and_standard_deviation() {
    let tmp = temp_dir("huge-values");
    // Squared deviations of these overflow f64 (1e616), and so do the sums of `sum3`'s.
    let (a, b): (f64, f64) = (1e308, 5e307);
    let (c, d, e): (f64, f64, f64) = (1.5e308, 1.5e308, 1.7e308);
    let csv = format!(
        "iteration,plugin,status,time_s,energy_j\n\
         0,two,ok,1,{a:e}\n1,two,ok,1,{b:e}\n\
         0,sum3,ok,1,{c:e}\n1,sum3,ok,1,{d:e}\n2,sum3,ok,1,{e:e}\n\
         0,one,ok,1,{a:e}\n"
    );
    let file = tmp.write("runs.csv", &csv);
    let out = tmp.path().join("out");
    run(&[&file], vec![step("step = \"describe\"")], &out).expect("described");
    let json = summary_json(&out);
    let energy = |g: &str| json["groups"][g]["energy"].clone();

    // Two values: the sample standard deviation is |a − b| / √2.
    let two = energy("two");
    let std = two["std"].as_f64().unwrap_or_else(|| panic!("{two}"));
    assert!(close(std, (a - b).abs() / 2f64.sqrt()), "{std}");
    assert!(
        close(two["mean"].as_f64().unwrap(), a / 2.0 + b / 2.0),
        "{two}"
    );
    // The variance (~1e615) has no f64: null, and the reason says so, not "needs 2 values".
    assert!(two["variance"].is_null(), "{two}");
    let reason = two["reasons"]["variance"].as_str().unwrap_or_default();
    assert!(reason.contains("too large"), "{reason}");
    assert!(!two["reasons"].to_string().contains("at least 2"), "{two}");

    // Three values whose sum overflows: mean, median and std from their definitions.
    let sum3 = energy("sum3");
    let mean = c / 3.0 + d / 3.0 + e / 3.0;
    assert!(close(sum3["mean"].as_f64().unwrap(), mean), "{sum3}");
    assert_eq!(sum3["median"].as_f64(), Some(c));
    let var_scaled = [c, d, e]
        .iter()
        .map(|x| (x / 1e308 - mean / 1e308).powi(2))
        .sum::<f64>()
        / 2.0;
    let std = sum3["std"].as_f64().unwrap_or_else(|| panic!("{sum3}"));
    assert!(
        (std - var_scaled.sqrt() * 1e308).abs() <= 1e-9 * std,
        "{std}"
    );

    // One value: that reason is the right one there.
    let one = energy("one");
    let reason = one["reasons"]["std"].as_str().unwrap_or_default();
    assert!(reason.contains("needs at least 2 values, has 1"), "{one}");
}

#[test]
fn an_iteration_that_is_not_a_whole_number_is_named_by_file_line_and_column() {
    let tmp = temp_dir("bad-iteration");
    for (rows, at, what) in [
        (
            "0,a,ok,1,2\nx,a,ok,1,2\n",
            "runs.csv:3:1:",
            "`iteration` = \"x\"",
        ),
        (
            "0,a,ok,1,2\n-1,a,ok,1,2\n",
            "runs.csv:3:1:",
            "`iteration` = \"-1\"",
        ),
        ("1.5,a,failed,,\n", "runs.csv:2:1:", "`iteration` = \"1.5\""),
        ("0,a,ok,1,lots\n", "runs.csv:2:5:", "`energy_j` = \"lots\""),
    ] {
        let file = tmp.write(
            "runs.csv",
            &format!("iteration,plugin,status,time_s,energy_j\n{rows}"),
        );
        let err = load_all(&[&file], &IngestOptions::default()).expect_err(rows);
        let message = format!("{err:#}");
        assert!(
            message.contains(at) && message.contains(what),
            "{rows}: {message}"
        );
    }
    // A retry column, when present, holds whole numbers too.
    let file = tmp.write(
        "runs.csv",
        "iteration,plugin,status,time_s,energy_j,retry\n0,a,ok,1,2,once\n",
    );
    let err = load_all(&[&file], &IngestOptions::default()).expect_err("retry");
    assert!(format!("{err:#}").contains("runs.csv:2:6:"), "{err:#}");
}

#[test]
fn failed_rows_are_never_measurements_whatever_their_figures() {
    let tmp = temp_dir("failed-rows");
    // Files written before host run left a failed row's totals empty hold partial figures (a
    // 5 s hang recorded as 0.0005 s) or anything at all: none of it is read.
    let file = tmp.write(
        "runs.csv",
        "iteration,plugin,status,time_s,energy_j\n\
         0,a,ok,10,100\n1,a,failed,0.0005,0.01\n2,a,ok,12,110\n3,a,failed,,\n4,a,failed,x,y\n\
         0,b,ok,20,300\n1,b,ok,21,310\n",
    );
    let ingested = load_all(&[&file], &IngestOptions::default()).expect("read");
    assert_eq!(ingested.runs.len(), 4);
    assert_eq!(ingested.ignored.len(), 3);
    let out = tmp.path().join("out");
    run(&[&file], vec![step("step = \"describe\"")], &out).expect("described");
    let json = summary_json(&out);
    let a = &json["groups"]["a"];
    assert_eq!(a["energy"]["n"].as_u64(), Some(2), "{a}");
    assert_eq!(a["energy"]["mean"].as_f64(), Some(105.0), "{a}");
    assert_eq!(a["time"]["min"].as_f64(), Some(10.0), "{a}");
}
