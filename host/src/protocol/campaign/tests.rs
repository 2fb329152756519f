//! The campaign's ordering, resume, retries and interruption, through a fake worker that
//! answers at once: no processes, no data, milliseconds.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::Context;

use super::history::open_for_resume;
use super::*;
use crate::plugin::supervisor::RunOutcome;
use crate::store::record::{Mark, MeasuredRun, Phase, PhaseSpan, RunStatus};

/// What the fake worker does with one run.
#[derive(Clone, Copy, PartialEq)]
enum Act {
    Succeed,
    Fail,
    /// Succeeds, but its meter reports other domains than the campaign's.
    OtherDomains,
    /// Succeeds, its meter reporting this mean power (W) in every phase.
    Draw(f64),
    /// Succeeds with this energy (J) in all (three 1 s phases of a third each).
    Joules(f64),
    /// Raises the stop flag (Ctrl-C) and reports the run interrupted.
    Interrupt,
    /// The disk is full: the worker cannot go on, a fault of the machine, not of the run.
    DiskFull,
}

/// Decides what the fake does: (iteration, plugin, how many runs it was asked before).
type Script = Box<dyn FnMut(u32, &str, usize) -> Act>;

/// A worker that records what it was asked and answers as its script says.
struct FakeWorker {
    asked: Vec<(u32, String)>,
    act: Script,
}

impl FakeWorker {
    fn new(act: impl FnMut(u32, &str, usize) -> Act + 'static) -> Self {
        FakeWorker {
            asked: Vec::new(),
            act: Box::new(act),
        }
    }

    fn always(act: Act) -> Self {
        Self::new(move |_, _, _| act)
    }
}

fn mark(mono_s: f64, joules: f64) -> Mark {
    Mark {
        mono_s,
        unix_ms: 0,
        joules: vec![joules],
        cpu_time_s: 0.0,
    }
}

/// A complete run on one domain: 1 s and `watts` J per phase, one epoch.
fn measured(domain: &str, watts: f64) -> MeasuredRun {
    let span = |phase, i: f64| PhaseSpan {
        phase,
        epoch: (phase == Phase::Train).then_some(1),
        start: mark(i, watts * i),
        end: mark(i + 1.0, watts * (i + 1.0)),
    };
    MeasuredRun {
        meter: format!("fake ({domain})"),
        domains: vec![domain.to_string()],
        in_total: vec![true],
        framework: "fake 1".into(),
        threads: Some(1),
        accuracy: Some(0.9),
        loss: Some(0.1),
        faults: Vec::new(),
        phases: vec![
            span(Phase::Setup, 0.0),
            span(Phase::Train, 1.0),
            span(Phase::Eval, 2.0),
        ],
        failure: None,
        notes: vec![("pool".into(), "2".into())],
    }
}

impl RunWorker for FakeWorker {
    fn run(
        &mut self,
        request: &WorkerRequest<'_>,
        stop: &AtomicBool,
        _on_event: &mut dyn FnMut(&crate::plugin::events::Event),
    ) -> anyhow::Result<RunOutcome> {
        let name = request.plugin.name.clone();
        let act = (self.act)(request.iteration, &name, self.asked.len());
        self.asked.push((request.iteration, name));
        let mut outcome = RunOutcome {
            measured: measured("package-0", 10.0),
            interrupted: false,
            wall: Duration::from_millis(1),
        };
        match act {
            Act::Succeed => {}
            Act::Fail => outcome.measured.failure = Some("train: deliberate".into()),
            Act::OtherDomains => outcome.measured = measured("gpu0", 10.0),
            Act::Draw(watts) => outcome.measured = measured("package-0", watts),
            Act::Joules(joules) => outcome.measured = measured("package-0", joules / 3.0),
            Act::Interrupt => {
                stop.store(true, Ordering::SeqCst);
                outcome.interrupted = true;
            }
            Act::DiskFull => {
                return Err(std::io::Error::from_raw_os_error(libc::ENOSPC))
                    .context(format!("writing {}", request.files.samples.display()))
            }
        }
        Ok(outcome)
    }
}

/// A manifest with plugins a, b, c (never loaded), no rests, `iterations` and `retries`.
fn manifest(dir: &Path, iterations: u32, retries: u32) -> Manifest {
    manifest_with(dir, iterations, retries, "")
}

/// [`manifest`] with `extra` lines in [experiment] (e.g. `stop = { .. }`).
fn manifest_with(dir: &Path, iterations: u32, retries: u32, extra: &str) -> Manifest {
    let text = format!(
        r#"[experiment]
name = "fake"
seed = 11
iterations = {iterations}
rest = "0s"
retry_failed = {retries}
{extra}

[model]
layers = [{{ kind = "flatten" }}, {{ kind = "dense", units = 10 }}]

[training]
epochs = 1
batch_size = 8

[[plugin]]
name = "a"
path = "a.so"

[[plugin]]
name = "b"
path = "b.so"

[[plugin]]
name = "c"
path = "c.so"
"#
    );
    let path = dir.join("m.toml");
    std::fs::write(&path, &text).unwrap();
    Manifest::parse(&path, text).unwrap()
}

const DOMAINS: [&str; 1] = ["package-0"];

/// Opens a new campaign in `dir/res` (or resumes it) and measures it with `worker`.
fn measure_with(
    manifest: &Manifest,
    dir: &Path,
    resume: bool,
    worker: &mut FakeWorker,
) -> CampaignResult {
    try_measure_with(manifest, dir, resume, worker).unwrap()
}

/// As [`measure_with`], the campaign's error returned.
fn try_measure_with(
    manifest: &Manifest,
    dir: &Path,
    resume: bool,
    worker: &mut FakeWorker,
) -> anyhow::Result<CampaignResult> {
    let out = dir.join("res");
    let resumed = if resume {
        Some(open_for_resume(manifest, &out, None)?)
    } else {
        None
    };
    let iterations = resumed
        .as_ref()
        .map_or(manifest.experiment.iterations, |r| r.state.iterations);
    let domains = DOMAINS.map(String::from).to_vec();
    let mut campaign = Campaign::open(
        manifest,
        resumed,
        Some(&out),
        iterations,
        None,
        domains,
        "fake".into(),
    )?;
    measure(&mut campaign, worker, &AtomicBool::new(false))
}

/// runs.csv's (iteration, plugin, status, retry) rows, in file order.
fn rows(dir: &Path) -> Vec<(u32, String, String, u32)> {
    let mut csv = csv::Reader::from_path(dir.join("res/runs.csv")).unwrap();
    let h = csv.headers().unwrap().clone();
    let at = |name: &str| h.iter().position(|c| c == name).unwrap();
    let (it, pl, st, rt) = (at("iteration"), at("plugin"), at("status"), at("retry"));
    csv.records()
        .map(|r| {
            let r = r.unwrap();
            (
                r[it].parse().unwrap(),
                r[pl].to_string(),
                r[st].to_string(),
                r[rt].parse().unwrap(),
            )
        })
        .collect()
}

fn planned_order(manifest: &Manifest) -> Vec<(u32, String)> {
    plan::plan(manifest.experiment.seed, manifest.experiment.iterations, 3)
        .iter()
        .map(|r| (r.iteration, manifest.plugins[r.plugin].name.clone()))
        .collect()
}

#[test]
fn runs_follow_the_plan_and_are_recorded_in_its_order() {
    let tmp = tempfile::tempdir().unwrap();
    let m = manifest(tmp.path(), 4, 0);
    let mut worker = FakeWorker::always(Act::Succeed);
    let result = measure_with(&m, tmp.path(), false, &mut worker);
    let plan = planned_order(&m);
    assert_eq!(worker.asked, plan);
    // The shuffle did something (else this test would not see an order).
    let by_name: Vec<_> = plan.iter().map(|(_, p)| p.as_str()).collect();
    assert_ne!(
        by_name[..3],
        ["a", "b", "c"][..],
        "seed 11 shuffles iteration 1"
    );
    let recorded: Vec<(u32, String)> = rows(tmp.path())
        .into_iter()
        .map(|(i, p, st, _)| {
            assert_eq!(st, "ok");
            (i, p)
        })
        .collect();
    assert_eq!(recorded, plan);
    assert_eq!((result.records.len(), result.interrupted), (12, false));
}

#[test]
fn failed_runs_are_retried_after_the_plan_up_to_the_limit() {
    let tmp = tempfile::tempdir().unwrap();
    let m = manifest(tmp.path(), 2, 2);
    // b fails in iteration 1 every time; a fails its first attempt in iteration 2 only.
    let mut worker = FakeWorker::new(|iteration, plugin, _| match (iteration, plugin) {
        (1, "b") => Act::Fail,
        _ => Act::Succeed,
    });
    let mut failed_once = false;
    let mut flaky = FakeWorker::new(move |iteration, plugin, _| {
        if (iteration, plugin) == (2, "a") && !failed_once {
            failed_once = true;
            Act::Fail
        } else {
            Act::Succeed
        }
    });

    measure_with(&m, tmp.path(), false, &mut worker);
    let all = rows(tmp.path());
    assert_eq!(
        &worker.asked[..6],
        &planned_order(&m)[..],
        "the plan comes first"
    );
    let retried = all[6..].to_vec();
    assert_eq!(
        retried,
        vec![
            (1, "b".to_string(), "failed".to_string(), 1),
            (1, "b".to_string(), "failed".to_string(), 2),
        ],
        "only the failed run is retried, and only twice"
    );
    assert_eq!(all.len(), 8);

    let tmp = tempfile::tempdir().unwrap();
    let m = manifest(tmp.path(), 2, 2);
    measure_with(&m, tmp.path(), false, &mut flaky);
    let all = rows(tmp.path());
    assert_eq!(all.len(), 7, "a success ends the retries: {all:?}");
    assert_eq!(all[6], (2, "a".to_string(), "ok".to_string(), 1));
}

#[test]
fn ctrl_c_keeps_finished_runs_and_resume_runs_only_the_rest() {
    let tmp = tempfile::tempdir().unwrap();
    let m = manifest(tmp.path(), 3, 0);
    let mut stopping = FakeWorker::new(|_, _, nth| {
        if nth == 4 {
            Act::Interrupt
        } else {
            Act::Succeed
        }
    });
    let first = measure_with(&m, tmp.path(), false, &mut stopping);
    assert!(first.interrupted);
    assert_eq!(first.records.len(), 4, "the run in flight is not recorded");
    let plan = planned_order(&m);
    let kept: Vec<(u32, String)> = rows(tmp.path()).into_iter().map(|r| (r.0, r.1)).collect();
    assert_eq!(kept, plan[..4]);

    let mut rest = FakeWorker::always(Act::Succeed);
    let second = measure_with(&m, tmp.path(), true, &mut rest);
    assert!(!second.interrupted);
    assert_eq!(
        rest.asked,
        plan[4..],
        "resume runs exactly what is missing, in plan order"
    );
    let all: Vec<(u32, String)> = rows(tmp.path()).into_iter().map(|r| (r.0, r.1)).collect();
    assert_eq!(all, plan);

    // Nothing left: a further resume runs nothing.
    let mut idle = FakeWorker::always(Act::Succeed);
    let third = measure_with(&m, tmp.path(), true, &mut idle);
    assert!(idle.asked.is_empty() && third.records.is_empty());
}

#[test]
fn a_resume_retries_a_failure_recorded_before_it_with_the_next_retry_number() {
    let tmp = tempfile::tempdir().unwrap();
    let m = manifest(tmp.path(), 1, 1);
    // c fails; Ctrl-C lands during its retry.
    let mut first = FakeWorker::new(|_, p, nth| match (p, nth) {
        (_, 3) => Act::Interrupt,
        ("c", _) => Act::Fail,
        _ => Act::Succeed,
    });
    let result = measure_with(&m, tmp.path(), false, &mut first);
    assert!(result.interrupted);
    assert_eq!(first.asked.last(), Some(&(1, "c".to_string())));
    assert_eq!(rows(tmp.path()).len(), 3);

    let mut again = FakeWorker::always(Act::Succeed);
    measure_with(&m, tmp.path(), true, &mut again);
    assert_eq!(again.asked, vec![(1, "c".to_string())]);
    let last = rows(tmp.path()).pop().unwrap();
    assert_eq!(last, (1, "c".to_string(), "ok".to_string(), 1));

    // Retries are spent: nothing is left to do.
    let mut idle = FakeWorker::always(Act::Fail);
    measure_with(&m, tmp.path(), true, &mut idle);
    assert!(idle.asked.is_empty());
}

#[test]
fn a_run_measured_on_other_domains_is_failed() {
    let tmp = tempfile::tempdir().unwrap();
    let m = manifest(tmp.path(), 1, 0);
    let mut worker = FakeWorker::new(|_, p, _| {
        if p == "b" {
            Act::OtherDomains
        } else {
            Act::Succeed
        }
    });
    let result = measure_with(&m, tmp.path(), false, &mut worker);
    let b = result.records.iter().find(|r| r.plugin == "b").unwrap();
    assert_eq!(b.status, RunStatus::Failed);
    assert!(
        b.error.contains("energy domains changed") && b.error.contains("gpu0"),
        "{}",
        b.error
    );
    assert!(result
        .records
        .iter()
        .filter(|r| r.plugin != "b")
        .all(|r| r.is_ok()));
}

/// `host run` judges every run's totals by the rule `host analyze` applies: mean power per
/// domain within its bound (1 kW for a CPU package), else the run is failed with the reason.
#[test]
fn a_run_whose_totals_physics_rules_out_is_failed_with_the_reason() {
    let tmp = tempfile::tempdir().unwrap();
    let m = manifest(tmp.path(), 1, 0);
    // b: 10 MJ in each 1 s phase. a and c: either side of the package's 1,000 W bound.
    let mut worker = FakeWorker::new(|_, p, _| match p {
        "a" => Act::Draw(999.0),
        "b" => Act::Draw(10e6),
        _ => Act::Draw(1_001.0),
    });
    let result = measure_with(&m, tmp.path(), false, &mut worker);
    let record = |name: &str| result.records.iter().find(|r| r.plugin == name).unwrap();
    assert!(record("a").is_ok(), "{}", record("a").error);
    assert_eq!(record("a").energy_j, Some(2_997.0));
    for (name, watts) in [("b", "10,000,000"), ("c", "1,001")] {
        let r = record(name);
        assert_eq!(r.status, RunStatus::Failed, "{name}");
        assert!(
            r.error.starts_with("implausible energy: ")
                && r.error.contains(&format!(
                    "package-0 gives {watts} W mean power, above the 1,000 W bound"
                )),
            "{name}: {}",
            r.error
        );
        // Its figures stay in the row, for whoever looks into it.
        assert!(r.energy_j.is_some());
    }
    // runs.csv says so too, with the reason in `error`.
    let mut csv = csv::Reader::from_path(tmp.path().join("res/runs.csv")).unwrap();
    let h = csv.headers().unwrap().clone();
    let at = |name: &str| h.iter().position(|c| c == name).unwrap();
    let (pl, st, er) = (at("plugin"), at("status"), at("error"));
    for row in csv.records() {
        let row = row.unwrap();
        let expect_ok = &row[pl] == "a";
        assert_eq!(&row[st], if expect_ok { "ok" } else { "failed" });
        assert_eq!(row[er].starts_with("implausible energy: "), !expect_ok);
    }
}

/// Opens shard `shard` of the campaign in `dir/<shard index>` (or resumes it) and measures it.
fn measure_shard(
    manifest: &Manifest,
    dir: &Path,
    shard: Shard,
    resume: bool,
    worker: &mut FakeWorker,
) -> CampaignResult {
    let out = dir.join(shard.index.to_string());
    let resumed = resume.then(|| open_for_resume(manifest, &out, None).unwrap());
    let saved = resumed.as_ref().map(|r| &r.state);
    let shard = shard_to_run(Some(shard), saved, manifest.experiment.iterations).unwrap();
    let domains = DOMAINS.map(String::from).to_vec();
    let iterations = manifest.experiment.iterations;
    let mut campaign = Campaign::open(
        manifest,
        resumed,
        Some(&out),
        iterations,
        shard,
        domains,
        "fake".into(),
    )
    .unwrap();
    measure(&mut campaign, worker, &AtomicBool::new(false)).unwrap()
}

/// Two shards run the unsharded plan's runs between them, each (iteration, plugin) once and
/// in the plan's order, and every row says its shard and node.
#[test]
fn shards_split_the_plan_by_whole_iterations() {
    let tmp = tempfile::tempdir().unwrap();
    let m = manifest(tmp.path(), 5, 0);
    let plan = planned_order(&m);
    let mut union = Vec::new();
    for k in 1..=2 {
        let shard = Shard::new(k, 2).unwrap();
        let mut worker = FakeWorker::always(Act::Succeed);
        let result = measure_shard(&m, tmp.path(), shard, false, &mut worker);
        let expected: Vec<(u32, String)> = plan
            .iter()
            .filter(|(i, _)| shard.holds(*i))
            .cloned()
            .collect();
        assert_eq!(worker.asked, expected, "shard {shard}");
        assert!(result
            .records
            .iter()
            .all(|r| r.shard == Some(shard) && !r.node.is_empty()));
        let csv = std::fs::read_to_string(result.dir.join("runs.csv")).unwrap();
        let header = csv.lines().next().unwrap();
        assert!(header.ends_with(",shard,node,notes,init"), "{header}");
        assert!(csv
            .lines()
            .skip(1)
            .all(|l| l.contains(&format!(",{shard},"))));
        let state: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(result.dir.join("campaign.json")).unwrap(),
        )
        .unwrap();
        assert_eq!(state["shard"], serde_json::json!({"index": k, "count": 2}));
        assert_eq!(state["iterations"], 5, "the whole campaign's iterations");
        union.extend(worker.asked);
    }
    union.sort_by_key(|(i, _)| *i);
    let mut whole = plan.clone();
    whole.sort_by_key(|(i, _)| *i);
    assert_eq!(union, whole, "every planned run exactly once");
}

#[test]
fn a_shard_resumes_its_own_runs_and_refuses_another_shard_number() {
    let tmp = tempfile::tempdir().unwrap();
    let m = manifest(tmp.path(), 5, 0);
    let shard = Shard::new(2, 2).unwrap();
    let mut stopping = FakeWorker::new(|_, _, nth| {
        if nth == 2 {
            Act::Interrupt
        } else {
            Act::Succeed
        }
    });
    assert!(measure_shard(&m, tmp.path(), shard, false, &mut stopping).interrupted);
    let mut rest = FakeWorker::always(Act::Succeed);
    measure_shard(&m, tmp.path(), shard, true, &mut rest);
    let expected: Vec<(u32, String)> = planned_order(&m)
        .into_iter()
        .filter(|(i, _)| shard.holds(*i))
        .collect();
    assert_eq!(rest.asked, expected[2..], "only the shard's missing runs");

    let saved = open_for_resume(&m, &tmp.path().join("2"), None)
        .unwrap()
        .state;
    assert_eq!(shard_to_run(None, Some(&saved), 5).unwrap(), Some(shard));
    let other = Shard::new(1, 2).unwrap();
    let err = shard_to_run(Some(other), Some(&saved), 5).unwrap_err();
    assert!(crate::error::is_usage(&err), "{err:#}");
    assert!(format!("{err}").contains("holds shard 2/2"), "{err}");
    // More shards than iterations leaves this one empty: refused.
    let err = shard_to_run(Shard::new(6, 6).ok(), None, 5).unwrap_err();
    assert!(format!("{err}").contains("at most 5 shard(s)"), "{err}");
}

/// campaign.json's `sequential` record.
fn look_log(dir: &Path) -> crate::analysis::looks::LookLog {
    let text = std::fs::read_to_string(dir.join("res/campaign.json")).unwrap();
    let state: CampaignState = serde_json::from_str(&text).unwrap();
    state.sequential.expect("campaign.json records the design")
}

/// An energy near `centre` J: the iteration picks a spread of ±2 J that looks normal
/// (a permutation of −2..=2 every five iterations), so the looks test with Welch.
fn near(centre: f64, iteration: u32) -> Act {
    Act::Joules(centre + ((iteration * 2) % 5) as f64 - 2.0)
}

/// a ≈ 100 J, b ≈ 200 J, c ≈ 300 J: every pair is far apart at 5 runs each.
fn far_apart() -> FakeWorker {
    FakeWorker::new(|iteration, plugin, _| match plugin {
        "a" => near(100.0, iteration),
        "b" => near(200.0, iteration),
        _ => near(300.0, iteration),
    })
}

const STOP: &str =
    r#"stop = { metric = "energy", looks = [5, 10, 20], spending = "obrien-fleming" }"#;

#[test]
fn clearly_different_plugins_stop_at_the_first_look_and_a_resume_runs_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let m = manifest_with(tmp.path(), 20, 0, STOP);
    let mut worker = far_apart();
    let result = measure_with(&m, tmp.path(), false, &mut worker);
    assert!(result.stopped_early && !result.interrupted);
    // Exactly the first five iterations, in plan order; nothing after the look.
    assert_eq!(worker.asked, planned_order(&m)[..15]);
    assert_eq!(rows(tmp.path()).len(), 15);
    let log = look_log(tmp.path());
    assert_eq!((log.stopped_at, log.runs_at_stop), (Some(1), Some(15)));
    assert_eq!(log.history.len(), 1);
    let look = &log.history[0];
    assert_eq!((look.look, look.runs_per_group, look.stop), (1, 5, true));
    assert_eq!(look.pairs.len(), 3);
    for p in &look.pairs {
        assert!(p.decided, "{p:?}");
        assert!(p.p_value.is_some_and(|v| v < p.nominal_alpha), "{p:?}");
        assert_eq!((p.n_a, p.n_b), (5, 5));
    }
    // The record holds the design: one boundary per look, alpha shared by the 3 pairs.
    assert_eq!(log.looks, [5, 10, 20]);
    assert_eq!(log.boundaries_z.len(), 3);
    assert!((log.pair_alpha - 0.05 / 3.0).abs() < 1e-15);
    // The decision is the analysis's own on the same values (the replay agrees).
    let design = m.experiment.stop.as_ref().unwrap().design(3).unwrap();
    let runs_csv = tmp.path().join("res/runs.csv");
    let names: Vec<String> = ["a", "b", "c"].map(String::from).to_vec();
    let values = crate::analysis::looks::values_so_far(&runs_csv, "energy", &names).unwrap();
    assert_eq!(
        values.iter().map(|(_, v)| v.len()).collect::<Vec<_>>(),
        [5, 5, 5]
    );
    let again = crate::analysis::sequential::decide(&design, &values);
    assert_eq!(again.history, log.history);

    // A resume after the stop runs nothing and keeps the record.
    let mut idle = FakeWorker::always(Act::Succeed);
    let resumed = measure_with(&m, tmp.path(), true, &mut idle);
    assert!(idle.asked.is_empty() && resumed.records.is_empty());
    assert!(resumed.stopped_early);
    assert_eq!(rows(tmp.path()).len(), 15);
    assert_eq!(look_log(tmp.path()), log);
}

#[test]
fn identical_plugins_run_to_the_last_look_undecided() {
    let tmp = tempfile::tempdir().unwrap();
    // 12 iterations planned, the last look at 10: the design's maximum ends the campaign.
    let m = manifest_with(
        tmp.path(),
        12,
        0,
        r#"stop = { metric = "energy", looks = [5, 10], spending = "pocock", alpha = 0.05 }"#,
    );
    let mut worker = FakeWorker::new(|iteration, _, _| near(150.0, iteration));
    let result = measure_with(&m, tmp.path(), false, &mut worker);
    assert!(result.stopped_early);
    assert_eq!(rows(tmp.path()).len(), 30);
    assert_eq!(worker.asked, planned_order(&m)[..30]);
    let log = look_log(tmp.path());
    assert_eq!(log.stopped_at, Some(2));
    let looks: Vec<(usize, usize, bool)> = log
        .history
        .iter()
        .map(|l| (l.look, l.runs_per_group, l.stop))
        .collect();
    assert_eq!(looks, [(1, 5, false), (2, 10, true)]);
    assert!(log
        .history
        .iter()
        .all(|l| l.pairs.iter().all(|p| !p.decided)));
    assert!(
        log.sentence().contains("no detectable difference"),
        "{}",
        log.sentence()
    );
}

#[test]
fn a_resumed_campaign_keeps_its_looks_and_takes_only_the_new_ones() {
    let tmp = tempfile::tempdir().unwrap();
    let m = manifest_with(
        tmp.path(),
        10,
        0,
        r#"stop = { metric = "energy", looks = [3, 6, 10] }"#,
    );
    // Identical plugins; Ctrl-C during the 13th run (iteration 5), after the first look.
    let mut first = FakeWorker::new(|iteration, _, nth| {
        if nth == 12 {
            Act::Interrupt
        } else {
            near(150.0, iteration)
        }
    });
    assert!(measure_with(&m, tmp.path(), false, &mut first).interrupted);
    let before = look_log(tmp.path());
    assert_eq!((before.history.len(), before.stopped_at), (1, None));

    let mut rest = FakeWorker::new(|iteration, _, _| near(150.0, iteration));
    let second = measure_with(&m, tmp.path(), true, &mut rest);
    assert_eq!(rest.asked, planned_order(&m)[12..]);
    assert!(second.stopped_early, "the last look ends it");
    let after = look_log(tmp.path());
    assert_eq!(after.history.len(), 3);
    assert_eq!(
        after.history[0], before.history[0],
        "look 1 is not taken again"
    );
    assert_eq!((after.stopped_at, after.runs_at_stop), (Some(3), Some(30)));
}

#[test]
fn a_failed_run_delays_the_look_until_its_plugin_has_enough_ok_runs() {
    let tmp = tempfile::tempdir().unwrap();
    let m = manifest_with(tmp.path(), 20, 0, STOP);
    // b fails in iteration 2: its fifth ok run is in iteration 6.
    let mut worker = FakeWorker::new(|iteration, plugin, _| match (plugin, iteration) {
        ("b", 2) => Act::Fail,
        ("a", _) => near(100.0, iteration),
        ("b", _) => near(200.0, iteration),
        _ => near(300.0, iteration),
    });
    measure_with(&m, tmp.path(), false, &mut worker);
    let plan = planned_order(&m);
    let b_in_6 = plan
        .iter()
        .position(|r| *r == (6, "b".to_string()))
        .unwrap();
    assert_eq!(worker.asked, plan[..=b_in_6]);
    let log = look_log(tmp.path());
    assert_eq!(
        (log.stopped_at, log.runs_at_stop),
        (Some(1), Some(b_in_6 + 1))
    );
}

/// A short pipeline: the findings, tables.md and report.html (no power simulation).
fn report_steps() -> Vec<crate::analysis::StepSpec> {
    [
        "clean", "describe", "compare", "findings", "table", "report",
    ]
    .into_iter()
    .map(crate::analysis::StepSpec::named)
    .collect()
}

/// The analysis of a stopped campaign's folder says, in the findings, that it stopped
/// early, at which look and why: summary.json, the terminal, tables.md and report.html.
#[test]
fn the_report_of_a_stopped_campaign_says_where_and_why_it_stopped() {
    let tmp = tempfile::tempdir().unwrap();
    let m = manifest_with(tmp.path(), 20, 0, STOP);
    let mut worker = far_apart();
    measure_with(&m, tmp.path(), false, &mut worker);
    let out = tmp.path().join("analysis");
    let req = crate::analysis::AnalyzeRequest {
        inputs: vec![tmp.path().join("res")],
        steps: report_steps(),
        out: out.clone(),
    };
    let summary = crate::analysis::analyze(&req).unwrap();
    let want = "The campaign stopped early at look 1 of 3 (5 iterations, 15 runs): every energy pair was decided";
    let stop = summary.campaign_stop.clone().unwrap_or_default();
    assert!(stop.starts_with(want), "{stop}");
    let json = std::fs::read_to_string(out.join("summary.json")).unwrap();
    let json: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(json["campaign_stop"].as_str(), Some(stop.as_str()));
    let mut terminal = Vec::new();
    crate::analysis::print_summary(&summary, &mut terminal).unwrap();
    let terminal = String::from_utf8(terminal).unwrap();
    assert!(terminal.starts_with(want), "{terminal}");
    let tables = std::fs::read_to_string(out.join("tables.md")).unwrap();
    assert!(
        tables.contains(&format!("## Findings\n\n{want}")),
        "{tables}"
    );
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    let findings = html.find("<section id=\"findings\">").unwrap();
    let said = html
        .find("<p id=\"campaign-stop\"><strong>The campaign stopped early at look 1 of 3")
        .unwrap();
    assert!(
        said > findings && said < findings + 200,
        "in the findings section"
    );

    // A campaign measured without `stop` says nothing of the kind.
    let plain = tempfile::tempdir().unwrap();
    let m = manifest(plain.path(), 3, 0);
    measure_with(
        &m,
        plain.path(),
        false,
        &mut FakeWorker::always(Act::Succeed),
    );
    let req = crate::analysis::AnalyzeRequest {
        inputs: vec![plain.path().join("res")],
        steps: report_steps(),
        out: plain.path().join("analysis"),
    };
    assert_eq!(crate::analysis::analyze(&req).unwrap().campaign_stop, None);
}

/// A host killed between a run's row and its look's record: the resume takes the look
/// first, and when it stops the campaign, runs nothing.
#[test]
fn a_look_missed_by_a_crash_is_taken_when_the_campaign_resumes() {
    let tmp = tempfile::tempdir().unwrap();
    let m = manifest_with(tmp.path(), 20, 0, STOP);
    let mut worker = far_apart();
    measure_with(&m, tmp.path(), false, &mut worker);
    let taken = look_log(tmp.path());
    // campaign.json as it was before the look: no history, not stopped.
    let path = tmp.path().join("res/campaign.json");
    let mut state: CampaignState =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let log = state.sequential.as_mut().unwrap();
    (log.history, log.stopped_at, log.runs_at_stop) = (Vec::new(), None, None);
    std::fs::write(&path, serde_json::to_string(&state).unwrap()).unwrap();

    let mut idle = FakeWorker::always(Act::Succeed);
    let resumed = measure_with(&m, tmp.path(), true, &mut idle);
    assert!(idle.asked.is_empty() && resumed.stopped_early);
    assert_eq!(look_log(tmp.path()), taken);
}

#[test]
fn a_full_disk_stops_the_campaign_and_leaves_its_run_to_do_for_the_resume() {
    let tmp = tempfile::tempdir().unwrap();
    let m = manifest(tmp.path(), 2, 1);
    let mut filling = FakeWorker::new(|_, _, nth| {
        if nth == 2 {
            Act::DiskFull
        } else {
            Act::Succeed
        }
    });
    let err = try_measure_with(&m, tmp.path(), false, &mut filling)
        .err()
        .expect("a full disk stops the campaign");
    assert_eq!(
        crate::error::environment_fault(&err),
        Some(crate::error::EnvironmentFault::NoSpace),
        "{err:#}"
    );
    assert_eq!(filling.asked.len(), 3, "nothing runs after the fault");
    let plan = planned_order(&m);
    let kept: Vec<(u32, String, String, u32)> = rows(tmp.path());
    assert_eq!(
        kept.len(),
        2,
        "the run that met the full disk is not recorded"
    );
    assert!(kept.iter().all(|r| r.2 == "ok"), "{kept:?}");

    let mut freed = FakeWorker::always(Act::Succeed);
    measure_with(&m, tmp.path(), true, &mut freed);
    assert_eq!(
        freed.asked,
        plan[2..],
        "the resume measures it, then the rest"
    );
    let all: Vec<(u32, String)> = rows(tmp.path()).into_iter().map(|r| (r.0, r.1)).collect();
    assert_eq!(all, plan);
}

#[test]
fn a_second_host_is_refused_while_the_first_holds_the_folder() {
    let tmp = tempfile::tempdir().unwrap();
    let m = manifest(tmp.path(), 2, 0);
    let mut stopping = FakeWorker::always(Act::Interrupt);
    measure_with(&m, tmp.path(), false, &mut stopping);
    let first = open_for_resume(&m, &tmp.path().join("res"), None).unwrap();
    let mut second = FakeWorker::always(Act::Succeed);
    let err = try_measure_with(&m, tmp.path(), true, &mut second)
        .err()
        .expect("the folder is locked");
    assert!(crate::error::is_usage(&err), "{err:#}");
    assert!(
        format!("{err:#}").contains(&format!("PID {}", std::process::id())),
        "{err:#}"
    );
    assert!(second.asked.is_empty());
    drop(first);
    measure_with(&m, tmp.path(), true, &mut second);
    assert_eq!(rows(tmp.path()).len(), 6);
}

/// A kill between creating the folder and saving campaign.json left runs.csv (empty, or its
/// header only) or nothing beside the manifest copy: the resume starts the campaign.
#[test]
fn a_folder_killed_before_its_first_campaign_json_is_resumed() {
    for runs_csv in [None, Some(""), Some("header")] {
        let tmp = tempfile::tempdir().unwrap();
        let m = manifest(tmp.path(), 2, 0);
        let mut stopping = FakeWorker::always(Act::Interrupt);
        measure_with(&m, tmp.path(), false, &mut stopping);
        let res = tmp.path().join("res");
        std::fs::remove_file(res.join("campaign.json")).unwrap();
        match runs_csv {
            None => std::fs::remove_file(res.join("runs.csv")).unwrap(),
            Some("") => std::fs::write(res.join("runs.csv"), "").unwrap(),
            Some(_) => assert_eq!(
                std::fs::read_to_string(res.join("runs.csv"))
                    .unwrap()
                    .lines()
                    .count(),
                1
            ),
        }
        let mut rest = FakeWorker::always(Act::Succeed);
        let result = measure_with(&m, tmp.path(), true, &mut rest);
        assert_eq!(rest.asked, planned_order(&m), "{runs_csv:?}");
        assert_eq!(result.ok_rows, 6);
        assert_eq!(rows(tmp.path()).len(), 6, "{runs_csv:?}");
        assert!(res.join("campaign.json").is_file());
    }
    // A folder with rows but no campaign.json is not guessed at.
    let tmp = tempfile::tempdir().unwrap();
    let m = manifest(tmp.path(), 1, 0);
    measure_with(&m, tmp.path(), false, &mut FakeWorker::always(Act::Succeed));
    std::fs::remove_file(tmp.path().join("res/campaign.json")).unwrap();
    let err = open_for_resume(&m, &tmp.path().join("res"), None)
        .err()
        .unwrap();
    assert!(
        format!("{err:#}").contains("not a campaign folder"),
        "{err:#}"
    );
}

/// A campaign records its init in campaign.json and runs.csv; a resume that would change it
/// is refused, and one from before the host made weights (no init saved) resumes only with
/// `init = "framework"` written.
#[test]
fn a_resume_refuses_a_changed_init() {
    let tmp = tempfile::tempdir().unwrap();
    let m = manifest(tmp.path(), 1, 0);
    let mut once = FakeWorker::new(|_, _, nth| {
        if nth == 1 {
            Act::Interrupt
        } else {
            Act::Succeed
        }
    });
    measure_with(&m, tmp.path(), false, &mut once);
    let csv = std::fs::read_to_string(tmp.path().join("res/runs.csv")).unwrap();
    let mut lines = csv.lines();
    assert!(lines.next().unwrap().ends_with(",init"));
    assert!(lines.next().unwrap().ends_with(",host"));

    let framework_text = m
        .text
        .replace("[training]", "init = \"framework\"\n[training]");
    let framework = Manifest::parse(&m.path, framework_text).unwrap();
    let Err(e) = open_for_resume(&framework, &tmp.path().join("res"), None) else {
        panic!("a resume that changes init must be refused");
    };
    assert!(
        format!("{e:#}").contains("started from `host` initial weights"),
        "{e:#}"
    );

    // An older campaign.json, without `init`: its runs used the frameworks' own weights.
    let state_path = tmp.path().join("res/campaign.json");
    let mut state: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&state_path).unwrap()).unwrap();
    state.as_object_mut().unwrap().remove("init");
    std::fs::write(&state_path, state.to_string()).unwrap();
    assert!(open_for_resume(&m, &tmp.path().join("res"), None).is_err());
    assert!(open_for_resume(&framework, &tmp.path().join("res"), None).is_ok());
}
