//! The campaign's ordering, resume, retries and interruption, through a fake worker that
//! answers at once: no processes, no data, milliseconds.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

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
    /// Raises the stop flag (Ctrl-C) and reports the run interrupted.
    Interrupt,
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
            Act::Interrupt => {
                stop.store(true, Ordering::SeqCst);
                outcome.interrupted = true;
            }
        }
        Ok(outcome)
    }
}

/// A manifest with plugins a, b, c (never loaded), no rests, `iterations` and `retries`.
fn manifest(dir: &Path, iterations: u32, retries: u32) -> Manifest {
    let text = format!(
        r#"[experiment]
name = "fake"
seed = 11
iterations = {iterations}
rest = "0s"
retry_failed = {retries}

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
    let out = dir.join("res");
    let resumed = resume.then(|| open_for_resume(manifest, &out).unwrap());
    let iterations = resumed
        .as_ref()
        .map_or(manifest.experiment.iterations, |(_, s)| s.iterations);
    let domains = DOMAINS.map(String::from).to_vec();
    let mut campaign = Campaign::open(
        manifest,
        resumed,
        Some(&out),
        iterations,
        domains,
        "fake".into(),
    )
    .unwrap();
    measure(&mut campaign, worker, &AtomicBool::new(false)).unwrap()
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
    let e = open_for_resume(&framework, &tmp.path().join("res")).unwrap_err();
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
    assert!(open_for_resume(&m, &tmp.path().join("res")).is_err());
    assert!(open_for_resume(&framework, &tmp.path().join("res")).is_ok());
}
