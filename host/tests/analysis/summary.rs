//! summary.json follows its schema (the module doc of `host/src/analysis/summary.rs`), never
//! holds NaN or infinity (null plus a reason instead), and the default pipeline writes every
//! promised file.

use crate::support::analysis::*;
use joulebench::analysis::{default_pipeline, print_summary};
use serde_json::Value;

const GROUP_KEYS: [&str; 9] = [
    "n",
    "mean",
    "median",
    "variance",
    "std",
    "min",
    "max",
    "shapiro_w",
    "shapiro_p",
];
const COMPARISON_KEYS: [&str; 13] = [
    "a",
    "b",
    "metric",
    "test",
    "statistic",
    "p_value",
    "p_holm",
    "mean_difference",
    "median_difference",
    "median_change_pct",
    "cohens_d",
    "cliffs_delta",
    "why",
];

fn read_json(dir: &std::path::Path) -> (String, Value) {
    let text = std::fs::read_to_string(dir.join("summary.json")).expect("summary.json written");
    let json: Value = serde_json::from_str(&text).expect("valid JSON");
    (text, json)
}

/// Every key present; every null has a reason in the object's `reasons`.
fn check_object(obj: &Value, keys: &[&str], what: &str) {
    let map = obj
        .as_object()
        .unwrap_or_else(|| panic!("{what}: not an object"));
    for key in keys {
        let value = map
            .get(*key)
            .unwrap_or_else(|| panic!("{what}: no `{key}`"));
        if value.is_null() {
            let reason = obj
                .pointer(&format!("/reasons/{key}"))
                .and_then(Value::as_str);
            assert!(
                reason.is_some_and(|r| !r.is_empty()),
                "{what}: `{key}` is null without a reason"
            );
        }
    }
}

fn check_schema(json: &Value) {
    let source = json["energy_source"].as_str().expect("energy_source");
    assert!(
        source.starts_with("measured: ") || source.starts_with("estimate: "),
        "{source}"
    );
    for (group, metrics) in json["groups"].as_object().expect("groups") {
        for (metric, figures) in metrics.as_object().expect("metrics") {
            check_object(figures, &GROUP_KEYS, &format!("groups.{group}.{metric}"));
            assert!(figures["n"].is_u64());
        }
    }
    for (i, c) in json["comparisons"]
        .as_array()
        .expect("comparisons")
        .iter()
        .enumerate()
    {
        check_object(c, &COMPARISON_KEYS, &format!("comparisons[{i}]"));
        let test = c["test"].as_str().expect("test");
        assert!(test == "welch" || test == "mann-whitney", "{test}");
    }
    for d in json["dropped"].as_array().expect("dropped") {
        for key in ["group", "run", "metric", "reason"] {
            assert!(d[key].is_string(), "dropped entry without `{key}`: {d}");
        }
    }
}

#[test]
fn default_pipeline_on_the_shared_data() {
    let tmp = TempDir::new("summary");
    let out = tmp.path().join("analysis");
    let summary = run(&[&energibridge_mnist()], default_pipeline(), &out).expect("analyze");
    let (text, json) = read_json(&out);
    for bad in ["NaN", "Infinity"] {
        assert!(!text.contains(bad), "summary.json holds {bad}");
    }
    check_schema(&json);
    assert_eq!(
        json["energy_source"],
        "measured: EnergiBridge CPU_ENERGY (J)"
    );
    let groups: Vec<&String> = json["groups"].as_object().expect("groups").keys().collect();
    assert_eq!(groups.len(), 3);
    // 3 pairs × 4 metrics, each with a p-value and a Holm p no smaller than it.
    let comparisons = json["comparisons"].as_array().expect("comparisons");
    assert_eq!(comparisons.len(), 12);
    for c in comparisons {
        let (p, holm) = (
            c["p_value"].as_f64().expect("p"),
            c["p_holm"].as_f64().expect("holm"),
        );
        assert!((0.0..=1.0).contains(&p) && holm >= p && holm <= 1.0, "{c}");
    }
    // Describe agrees with the data that survived cleaning.
    let keras = &json["groups"]["keras"]["energy"];
    let n = keras["n"].as_u64().expect("n");
    let dropped = summary
        .dropped
        .iter()
        .filter(|d| d.group == "keras" && d.metric == "energy")
        .count() as u64;
    assert_eq!(n + dropped, 38);
    assert!(
        keras["min"].as_f64() <= keras["median"].as_f64()
            && keras["median"].as_f64() <= keras["max"].as_f64()
    );

    for file in [
        "summary.json",
        "tables.md",
        "tables.csv",
        "report.html",
        "violin-energy.svg",
        "violin-energy.png",
        "violin-time.png",
    ] {
        let meta = std::fs::metadata(out.join(file))
            .unwrap_or_else(|e| panic!("{file}: {e}; warnings: {:?}", summary.warnings));
        assert!(meta.len() > 0, "{file} is empty");
    }
    let png = std::fs::read(out.join("violin-energy.png")).expect("png");
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");

    // The paper-like table line, built from the summary's own medians.
    let c = summary
        .comparisons
        .iter()
        .find(|c| c.a == "keras" && c.b == "torch" && c.metric == "energy")
        .expect("pair");
    let (a, b) = (c.median_a.expect("a"), c.median_b.expect("b"));
    let line = format!(
        "keras {a:.3} J vs torch {b:.3} J, {:+.2} %",
        (b - a) / a * 100.0
    );
    let md = std::fs::read_to_string(out.join("tables.md")).expect("tables.md");
    assert!(md.contains(&line), "tables.md lacks {line:?}");

    let html = std::fs::read_to_string(out.join("report.html")).expect("report.html");
    assert!(html.contains("Energy was <strong>MEASURED</strong> by EnergiBridge CPU_ENERGY (J)"));
    assert!(html.contains("<svg"), "plots are embedded");
    assert!(
        !html.contains("src=\"http") && !html.contains("href=\"http"),
        "works offline"
    );

    let mut printed = Vec::new();
    print_summary(&summary, &mut printed).expect("print");
    let printed = String::from_utf8(printed).expect("utf-8");
    assert!(printed.contains("energy keras"), "{printed}");
}

#[test]
fn constant_and_tiny_groups_give_nulls_with_reasons() {
    let tmp = TempDir::new("constant");
    let mut csv = String::from("iteration,plugin,status,time_s,energy_j\n");
    for i in 0..6 {
        csv.push_str(&format!(
            "{i},flat,ok,10,100\n{i},varied,ok,{},{}\n",
            10 + i,
            100 + i * i
        ));
    }
    csv.push_str("0,single,ok,5,50\n");
    let file = tmp.write("runs.csv", &csv);
    let out = tmp.path().join("out");
    let summary =
        run(&[&file], default_pipeline(), &out).expect("a constant group is not an error");
    let (text, json) = read_json(&out);
    assert!(!text.contains("NaN") && !text.contains("Infinity"));
    check_schema(&json);
    let flat = &json["groups"]["flat"]["energy"];
    assert_eq!(flat["std"], 0.0);
    assert!(
        flat["shapiro_w"].is_null() && flat["reasons"]["shapiro_w"].is_string(),
        "{flat}"
    );
    let single = &json["groups"]["single"]["energy"];
    assert!(
        single["variance"].is_null() && single["reasons"]["variance"].is_string(),
        "{single}"
    );
    let flat_vs_single = summary
        .comparisons
        .iter()
        .find(|c| c.a == "flat" && c.b == "single")
        .expect("compared");
    assert!(flat_vs_single.cohens_d.is_none() && flat_vs_single.reasons.contains_key("cohens_d"));
}
