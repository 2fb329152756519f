//! The answers of issue 18 as a user meets them: the findings on the study's data (the
//! exact sentence the issue asks for), "no detectable difference" and "not tested" said as
//! such, estimated energy labelled in the sentence, carbon and cost from declared factors,
//! runs needed, the sequential replay step, the violin layout, and usage errors for bad
//! options.

use crate::support::analysis::*;
use joulebench::analysis::answers::Verdict;
use joulebench::analysis::default_pipeline;
use joulebench::analysis::plot::violin::{auto_layout, Layout, ViolinGroup};
use joulebench::error::is_usage;

/// The default pipeline with the `findings` step's options replaced.
fn with_findings(options: &str) -> Vec<StepSpec> {
    default_pipeline()
        .into_iter()
        .map(|s| {
            if s.step == "findings" {
                step(&format!("step = \"findings\"\n{options}"))
            } else {
                s
            }
        })
        .collect()
}

#[test]
fn the_study_leads_with_the_sentence_the_issue_asks_for() {
    let tmp = TempDir::new("findings-study");
    let out = tmp.path().join("analysis");
    let s = run(&[&energibridge_mnist()], default_pipeline(), &out).expect("analyze");
    assert_eq!(s.findings.len(), 12);
    let ranks: Vec<usize> = s.findings.iter().map(|f| f.rank).collect();
    assert_eq!(ranks, (1..=12).collect::<Vec<_>>());
    // Energy first, then time, power, EDP.
    let metrics: Vec<&str> = s.findings.iter().map(|f| f.metric.as_str()).collect();
    assert_eq!(&metrics[..3], ["energy"; 3]);
    assert_eq!(&metrics[3..6], ["time"; 3]);
    let keras_torch = s
        .findings
        .iter()
        .find(|f| f.metric == "energy" && f.lower == "keras" && f.higher == "torch")
        .expect("keras vs torch on energy");
    assert_eq!(
        keras_torch.sentence,
        "keras used 38.5 % less energy than torch (measured; median 4,910 J vs 7,989 J; \
         95 % CI of the ratio [0.611, 0.616], percentile bootstrap; Mann–Whitney p = 2.1e-13, \
         Holm-adjusted 2.1e-12; Cliff's δ = −1)"
    );
    assert_eq!(keras_torch.verdict, Verdict::Lower);
    let [lo, hi] = keras_torch.ratio_ci.expect("interval");
    let ratio = keras_torch.ratio.expect("ratio");
    assert!(lo < ratio && ratio < hi, "{lo} {ratio} {hi}");
    // Within a metric, larger differences first.
    assert!(s.findings[0].ratio < s.findings[1].ratio && s.findings[1].ratio < s.findings[2].ratio);
    // Every group median has an interval holding the median.
    for (_, metrics) in s.groups.iter() {
        for (_, gm) in metrics.iter() {
            let [lo, hi] = gm.median_ci.expect("median interval");
            let m = gm.median.expect("median");
            assert!(lo <= m && m <= hi);
        }
    }
    // The terminal, tables.md and report.html all open with the findings.
    let mut terminal = Vec::new();
    joulebench::analysis::print_summary(&s, &mut terminal).expect("print");
    let terminal = String::from_utf8(terminal).expect("utf-8");
    assert!(
        terminal.starts_with(
            "findings (most important first):\n  1. keras used 68.2 % less energy than jax_jit"
        ),
        "{terminal}"
    );
    assert!(terminal.find(&keras_torch.sentence) < terminal.find("median    "));
    let md = std::fs::read_to_string(out.join("tables.md")).expect("tables.md");
    assert!(
        md.find("## Findings") < md.find("## Medians per group"),
        "{md}"
    );
    assert!(md.contains(&keras_torch.sentence));
    let html = std::fs::read_to_string(out.join("report.html")).expect("report.html");
    for id in ["findings", "runs-needed"] {
        assert!(
            html.contains(&format!("<section id=\"{id}\">")),
            "no section {id}"
        );
    }
    assert!(html.find("id=\"findings\"") < html.find("<h2>Data</h2>"));
    // Runs needed: per metric, enough for every pair; the keras–torch power gap (0.36 %)
    // needs far more runs than the 38–68 % energy gaps.
    let power = s.power.as_ref().expect("power step ran");
    let runs = |metric: &str, a: &str, b: &str| {
        power
            .entries
            .iter()
            .find(|e| e.metric == metric && e.a == a && e.b == b)
            .and_then(|e| e.observed.runs)
            .expect("runs")
    };
    assert!(runs("power", "keras", "torch") > 4 * runs("energy", "keras", "torch"));
    assert_eq!(power.recommended.len(), 4);
}

fn runs_csv(groups: &[(&str, &[f64])], meter: &str) -> String {
    let mut csv = String::from("iteration,plugin,status,time_s,energy_j,meter\n");
    for (g, energies) in groups {
        for (i, e) in energies.iter().enumerate() {
            csv += &format!("{i},{g},ok,{},{e},{meter}\n", 10.0 + (i % 3) as f64 * 0.01);
        }
    }
    csv
}

#[test]
fn no_difference_and_untested_pairs_say_so_and_estimates_are_labelled() {
    let tmp = TempDir::new("findings-nodiff");
    let a = [100.0, 101.5, 99.2, 100.4, 98.9, 101.1, 100.2, 99.7];
    let b = [100.3, 99.4, 101.0, 100.9, 99.1, 100.6, 99.8, 100.1];
    let lone = [250.0];
    let file = tmp.write(
        "runs.csv",
        &runs_csv(&[("a", &a), ("b", &b), ("lone", &lone)], "estimate"),
    );
    let s = run(&[&file], default_pipeline(), &tmp.path().join("out")).expect("analyze");
    let energy: Vec<_> = s.findings.iter().filter(|f| f.metric == "energy").collect();
    let ab = energy
        .iter()
        .find(|f| f.lower != "lone" && f.higher != "lone")
        .expect("a vs b");
    assert_eq!(ab.verdict, Verdict::NoDetectableDifference);
    assert!(
        ab.sentence
            .contains(": no detectable difference in energy (ESTIMATED energy, not measured;"),
        "{}",
        ab.sentence
    );
    let untested = energy
        .iter()
        .find(|f| f.higher == "lone")
        .expect("pair with lone");
    assert_eq!(untested.verdict, Verdict::NotTested);
    assert!(
        untested
            .sentence
            .contains("not tested, needs at least 2 runs in each group"),
        "{}",
        untested.sentence
    );
    // Ranked: decided (none here), then no detectable difference, then untested.
    let order: Vec<Verdict> = energy.iter().map(|f| f.verdict).collect();
    assert_eq!(order.first(), Some(&Verdict::NoDetectableDifference));
    assert_eq!(order.last(), Some(&Verdict::NotTested));
    // Time is not energy: no "measured"/"estimated" label there.
    let time = s
        .findings
        .iter()
        .find(|f| f.metric == "time")
        .expect("time");
    assert!(
        time.energy.is_none() && !time.sentence.contains("ESTIMATED"),
        "{}",
        time.sentence
    );
    // One run: no interval, and the reason says how many are needed.
    let lone_energy = s
        .groups
        .get("lone")
        .and_then(|m| m.get("energy"))
        .expect("lone");
    assert!(lone_energy.median_ci.is_none());
    assert!(
        lone_energy.reasons["median_ci"].contains("6 or more"),
        "{:?}",
        lone_energy.reasons
    );
}

#[test]
fn carbon_and_cost_come_from_declared_factors_only() {
    let tmp = TempDir::new("findings-carbon");
    // 3.6 MJ = 1 kWh per run for a, 7.2 MJ for b.
    let a = [3.6e6, 3.59e6, 3.61e6, 3.6e6, 3.605e6, 3.595e6];
    let b = [7.2e6, 7.21e6, 7.19e6, 7.2e6, 7.205e6, 7.195e6];
    let file = tmp.write(
        "runs.csv",
        &runs_csv(&[("a", &a), ("b", &b)], "measured: powercap (package-0)"),
    );
    let steps =
        with_findings("grid_intensity = 400\npue = 1.5\nprice_per_kwh = 0.25\ncurrency = \"CHF\"");
    let s = run(&[&file], steps, &tmp.path().join("out")).expect("analyze");
    let carbon = s.carbon.as_ref().expect("carbon");
    let row = carbon
        .groups
        .iter()
        .find(|r| r.group == "a" && r.metric == "energy")
        .expect("a");
    assert!((row.per_run.kwh - 1.5).abs() < 1e-9, "1 kWh × PUE 1.5");
    assert!((row.per_run.g_co2e.expect("g") - 600.0).abs() < 1e-6);
    assert!((row.per_run.cost.expect("cost") - 0.375).abs() < 1e-9);
    assert!(
        carbon.note.contains(
            "derived from the declared 400 gCO2e/kWh, PUE 1.5, CHF 0.25/kWh; not measured"
        ),
        "{}",
        carbon.note
    );
    let f = s
        .findings
        .iter()
        .find(|f| f.metric == "energy")
        .expect("energy finding");
    assert!(
        f.sentence.contains(
            "per run 600.0 vs 1,200 gCO2e and CHF 0.3750 vs CHF 0.7500, derived from the declared"
        ),
        "{}",
        f.sentence
    );
    // Time and power get no carbon: only energy in joules converts.
    assert!(s
        .findings
        .iter()
        .filter(|f| f.unit != "J")
        .all(|f| f.derived.is_none()));
    // Without factors, nothing is derived.
    let plain = run(&[&file], default_pipeline(), &tmp.path().join("plain")).expect("analyze");
    assert!(plain.carbon.is_none() && plain.findings.iter().all(|f| !f.sentence.contains("gCO2e")));
}

#[test]
fn factors_from_outside_the_pipeline_land_in_the_findings_step() {
    use joulebench::analysis::{apply_factors, validate, ReportFactors};
    let factors = ReportFactors {
        grid_intensity: Some(250.0),
        pue: Some(1.3),
        price_per_kwh: None,
        currency: None,
    };
    // Default pipeline: its findings step gets them, overriding what it said.
    let mut steps = with_findings("grid_intensity = 999");
    apply_factors(&mut steps, &factors);
    let findings: Vec<&StepSpec> = steps.iter().filter(|s| s.step == "findings").collect();
    assert_eq!(findings.len(), 1);
    assert_eq!(
        findings[0].options["grid_intensity"].as_float(),
        Some(250.0)
    );
    assert_eq!(findings[0].options["pue"].as_float(), Some(1.3));
    validate(&steps).expect("valid");
    // A pipeline without one gets one after `compare`.
    let mut steps = vec![
        StepSpec::named("clean"),
        StepSpec::named("compare"),
        StepSpec::named("table"),
    ];
    apply_factors(&mut steps, &factors);
    let names: Vec<&str> = steps.iter().map(|s| s.step.as_str()).collect();
    assert_eq!(names, ["clean", "compare", "findings", "table"]);
    // No factors: nothing changes. Bad factors: the usual usage error.
    let mut plain = default_pipeline();
    apply_factors(&mut plain, &ReportFactors::default());
    assert_eq!(plain, default_pipeline());
    let mut bad = default_pipeline();
    apply_factors(
        &mut bad,
        &ReportFactors {
            pue: Some(0.2),
            grid_intensity: Some(1.0),
            ..ReportFactors::default()
        },
    );
    assert!(is_usage(&validate(&bad).expect_err("PUE below 1")));
}

#[test]
fn bad_options_are_usage_errors_naming_the_option() {
    let tmp = TempDir::new("findings-bad");
    let file = tmp.write(
        "runs.csv",
        &runs_csv(&[("a", &[1.0, 2.0]), ("b", &[3.0, 4.0])], "x"),
    );
    let cases = [
        (
            with_findings("pue = 1.2"),
            "need `grid_intensity` or `price_per_kwh`",
        ),
        (
            with_findings("pue = 0.5\ngrid_intensity = 300"),
            "`pue` = 0.5",
        ),
        (with_findings("method = \"basic\""), "`method`"),
        (with_findings("resamples = 10"), "`resamples`"),
        (
            vec![step("step = \"power\"\nmin_effect = \"five\"")],
            "`min_effect`",
        ),
        (
            vec![step("step = \"sequential\"\nlooks = [10, 5]")],
            "`looks`",
        ),
        (
            vec![step("step = \"sequential\"\nspending = \"linear\"")],
            "`spending`",
        ),
    ];
    for (steps, want) in cases {
        let err = run(&[&file], steps, &tmp.path().join("out")).expect_err(want);
        assert!(is_usage(&err), "{err:#}");
        assert!(format!("{err:#}").contains(want), "{err:#} lacks {want}");
    }
}

#[test]
fn the_sequential_step_says_when_the_campaign_could_have_stopped() {
    let tmp = TempDir::new("findings-seq");
    // Interleaved like a campaign: a, b, a, b, … with b 20 % above a.
    let mut csv = String::from("iteration,plugin,status,time_s,energy_j\n");
    for i in 0..30 {
        let wobble = ((i * 37) % 11) as f64;
        csv += &format!(
            "{i},a,ok,10,{}\n{i},b,ok,10,{}\n",
            100.0 + wobble,
            120.0 + wobble
        );
    }
    let file = tmp.write("runs.csv", &csv);
    let mut steps = default_pipeline();
    steps.insert(6, step("step = \"sequential\"\nlooks = [5, 10, 20, 30]"));
    let s = run(&[&file], steps, &tmp.path().join("out")).expect("analyze");
    let q = s.sequential.as_ref().expect("sequential");
    let stop = q.stopped_at_look.expect("stopped");
    assert!(stop < 4, "should stop before the last look: {q:?}");
    assert_eq!(
        q.runs_used,
        2 * q.looks[stop - 1],
        "interleaved: both groups at the look"
    );
    assert!(
        q.why
            .starts_with(&format!("Would have stopped early at look {stop} of 4")),
        "{}",
        q.why
    );
    let html = std::fs::read_to_string(tmp.path().join("out/report.html")).expect("report");
    assert!(html.contains("<section id=\"sequential\">") && html.contains(&q.why));
}

#[test]
fn violins_get_their_own_scale_only_when_a_shared_axis_would_flatten_them() {
    let group = |name: &str, centre: f64, spread: f64| ViolinGroup {
        name: name.into(),
        values: (0..20)
            .map(|i| centre + spread * ((i * 7 % 13) as f64 / 13.0 - 0.5))
            .collect(),
        dropped: Vec::new(),
    };
    // keras/torch-like: 30 J spreads, thousands apart.
    let far = [
        group("a", 4900.0, 30.0),
        group("b", 8000.0, 30.0),
        group("c", 15500.0, 900.0),
    ];
    assert_eq!(auto_layout(&far), Layout::PerGroup);
    let near = [group("a", 100.0, 10.0), group("b", 104.0, 10.0)];
    assert_eq!(auto_layout(&near), Layout::Shared);
    assert_eq!(auto_layout(&far[..1]), Layout::Shared);
}
