//! `host check-plugin`: the plugin authors' conformance test, run in child processes
//! (`host check-probe`, see [`probe`]) so that a plugin that crashes, aborts or hangs gets a
//! failed check with its reason instead of taking the host down.
//!
//! Three kinds of probe, each a fresh process: the main one twice (the session, every
//! protocol step, evaluation twice, threads observed; the second run only for its losses),
//! one with initial weights, one with sessions that must be refused. The parent compares
//! their facts: the loss falls, the same seed gives the same losses, initial weights change
//! them.

pub mod probe;
pub mod session;
pub mod threads;

use std::io::{BufRead, BufReader, Read};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::Context;
use serde::{Deserialize, Serialize};

use super::supervisor::signal_name;

/// One check's verdict.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Check {
    pub name: String,
    pub verdict: Verdict,
    pub detail: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Verdict {
    Pass,
    Fail,
    /// Not applicable to this plugin; the detail says why.
    Skip,
}

impl Check {
    pub fn new(name: &str, passed: bool, detail: String) -> Check {
        let verdict = if passed { Verdict::Pass } else { Verdict::Fail };
        Check {
            name: name.into(),
            verdict,
            detail,
        }
    }
}

/// Which probe a child runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Probe {
    Plain,
    Weights,
    Refusals,
}

/// What a probe reports, one JSON line each.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum Line {
    /// The session it uses, one line per fact.
    Session(Vec<String>),
    /// The call about to be made.
    Step(String),
    Check(Check),
    Facts(Facts),
    /// The check session could not be made (a manifest or data error): not the plugin's fault.
    Setup(String),
}

/// What a probe measured, for the parent's comparisons.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Facts {
    pub losses: Vec<f64>,
    /// Accuracy and loss of the first evaluation.
    pub eval: Option<(f64, f64)>,
    /// Threads reported by run_info().
    pub threads: u32,
    pub busy: threads::Busy,
    pub notes: Vec<(String, String)>,
    /// new_trainer or training refused: (as unsupported, message).
    pub refused: Option<(bool, String)>,
}

/// What `host check-plugin` was asked.
#[derive(Debug, Clone)]
pub struct CheckRequest {
    pub file: PathBuf,
    pub manifest: Option<PathBuf>,
    pub options: Vec<(String, String)>,
    /// For each probe process.
    pub timeout: Duration,
}

/// Everything the probes said: the session, and the verdicts.
#[derive(Debug, Default)]
pub struct CheckReport {
    pub session: Vec<String>,
    pub checks: Vec<Check>,
}

pub use super::events::join_version as framework_label;

/// Runs every probe and the comparisons. Errors only when a probe cannot be started or the
/// check session cannot be made (a usage error).
pub fn check_plugin(request: &CheckRequest) -> anyhow::Result<CheckReport> {
    let mut report = CheckReport::default();
    let Some(first) = run_probe(request, Probe::Plain, &mut report)? else {
        return Ok(report);
    };
    report.checks.push(threads_check(&first));
    if first.losses.len() >= 2 {
        report.checks.push(learning_check(&first.losses));
    } else {
        return Ok(report);
    }
    let mut quiet = CheckReport::default();
    let Some(second) = run_probe(request, Probe::Plain, &mut quiet)? else {
        report.checks.extend(
            quiet
                .checks
                .into_iter()
                .filter(|c| c.verdict == Verdict::Fail),
        );
        return Ok(report);
    };
    report
        .checks
        .push(same_seed_check(&first.losses, &second.losses));
    if let Some(weights) = run_probe(request, Probe::Weights, &mut report)? {
        report.checks.push(weights_check(&first, &weights));
    }
    run_probe(request, Probe::Refusals, &mut report)?;
    Ok(report)
}

/// The threads computing at once during training, on average (CPU time over wall time),
/// against what run_info() reports: more than a quarter thread above it is a plugin whose
/// pools ignore the session. (A busy machine only lowers the figure.)
fn threads_check(facts: &Facts) -> Check {
    let name = "no more threads compute at once than run_info() reports";
    let busy = facts.busy;
    let detail = format!(
        "{:.2} threads on average during training ({} ms CPU in {} ms; {} thread(s) took part, \
         busiest {} ms), {} reported",
        busy.parallelism(),
        busy.cpu_ms,
        busy.wall_ms,
        busy.threads,
        busy.busiest_ms,
        facts.threads
    );
    if busy.wall_ms < 50 {
        return Check {
            name: name.into(),
            verdict: Verdict::Skip,
            detail: format!("{detail}: training too short to tell"),
        };
    }
    let allowed = f64::from(facts.threads.max(1)) + 0.25;
    Check::new(name, busy.parallelism() <= allowed, detail)
}

fn learning_check(losses: &[f64]) -> Check {
    let (first, last) = (losses[0], losses[losses.len() - 1]);
    Check::new(
        "the loss falls over the epochs",
        last < first,
        format!("epoch losses {}", join(losses)),
    )
}

fn same_seed_check(a: &[f64], b: &[f64]) -> Check {
    let close = a.len() == b.len()
        && a.iter()
            .zip(b)
            .all(|(x, y)| (x - y).abs() <= 1e-6 * x.abs().max(1.0));
    Check::new(
        "the same seed gives the same losses (two processes)",
        close,
        format!("{} and {}", join(a), join(b)),
    )
}

fn weights_check(plain: &Facts, given: &Facts) -> Check {
    let name = "initial weights are used when given";
    let ignored = given
        .notes
        .iter()
        .any(|(k, v)| k == "initial_weights" && v == "ignored");
    let skip = |detail: String| Check {
        name: name.into(),
        verdict: Verdict::Skip,
        detail,
    };
    match &given.refused {
        Some((true, why)) => return skip(format!("the plugin refuses them as unsupported: {why}")),
        Some((false, why)) => return Check::new(name, false, why.clone()),
        None if ignored => return skip("the plugin reports initial_weights = ignored".into()),
        None => {}
    }
    Check::new(
        name,
        given.losses.len() == plain.losses.len() && given.losses != plain.losses,
        format!(
            "losses with them {}, without {}",
            join(&given.losses),
            join(&plain.losses)
        ),
    )
}

fn join(values: &[f64]) -> String {
    let shown: Vec<String> = values.iter().map(|v| format!("{v:.6}")).collect();
    format!("[{}]", shown.join(", "))
}

/// Runs one probe process to its end or its timeout, adding its session and checks to
/// `report`; its facts, or `None` when it ended without them (then a failed check says why).
fn run_probe(
    request: &CheckRequest,
    probe: Probe,
    report: &mut CheckReport,
) -> anyhow::Result<Option<Facts>> {
    let mut child = probe_command(request, probe)?
        .spawn()
        .context("cannot start a check-probe process")?;
    let stdout = child.stdout.take().context("probe stdout")?;
    let stderr = child.stderr.take().context("probe stderr")?;
    let (tx, rx) = mpsc::channel::<Line>();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if let Ok(parsed) = serde_json::from_str::<Line>(&line) {
                if tx.send(parsed).is_err() {
                    break;
                }
            }
        }
    });
    let log = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = BufReader::new(stderr).read_to_string(&mut text);
        text
    });
    let deadline = Instant::now() + request.timeout;
    let (mut step, mut facts, mut timed_out) = (String::from("starting"), None, false);
    loop {
        match rx.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
            Ok(Line::Session(lines)) => report.session = lines,
            Ok(Line::Step(s)) => step = s,
            Ok(Line::Check(c)) => report.checks.push(c),
            Ok(Line::Facts(f)) => facts = Some(f),
            Ok(Line::Setup(why)) => return Err(crate::error::usage(why)),
            Err(mpsc::RecvTimeoutError::Timeout) => {
                timed_out = true;
                // SAFETY: signalling the probe's own process group (its pgid is its pid).
                unsafe { libc::kill(-(child.id() as i32), libc::SIGKILL) };
                break;
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
        }
    }
    let status = child.wait().context("cannot wait for the probe")?;
    let stderr = if timed_out {
        String::new()
    } else {
        log.join().unwrap_or_default()
    };
    if let Some(why) = abnormal_end(timed_out, status, request.timeout) {
        let tail = last_lines(&stderr, 3);
        report.checks.push(Check::new(
            "no crash, abort or hang",
            false,
            format!("during {step}: {why}{tail}"),
        ));
        return Ok(None);
    }
    Ok(facts)
}

/// Why a probe ended abnormally (killed at its timeout, by a signal, or with a failure
/// status), or `None` when it exited normally.
fn abnormal_end(
    timed_out: bool,
    status: std::process::ExitStatus,
    timeout: Duration,
) -> Option<String> {
    if timed_out {
        Some(format!("no answer within {timeout:?}: killed"))
    } else if let Some(sig) = status.signal() {
        Some(format!("the process was killed by {}", signal_name(sig)))
    } else if !status.success() {
        Some(format!("the process exited with {status}"))
    } else {
        None
    }
}

/// ` — stderr: …` with the last `n` non-empty lines, or nothing.
fn last_lines(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    if lines.is_empty() {
        return String::new();
    }
    format!(
        " — stderr: {}",
        lines[lines.len().saturating_sub(n)..].join(" | ")
    )
}

/// `host check-probe …` in its own process group, dying with the host.
fn probe_command(request: &CheckRequest, probe: Probe) -> anyhow::Result<Command> {
    let exe = std::env::current_exe().context("cannot find the host executable")?;
    let mut cmd = Command::new(exe);
    cmd.arg("check-probe")
        .arg(&request.file)
        .arg("--probe")
        .arg(
            clap::ValueEnum::to_possible_value(&probe)
                .map(|v| v.get_name().to_string())
                .unwrap_or_default(),
        );
    if let Some(m) = &request.manifest {
        cmd.arg("--manifest").arg(m);
    }
    for (k, v) in &request.options {
        cmd.arg("--option").arg(format!("{k}={v}"));
    }
    if let Some(m) = &request.manifest {
        // The manifest's per-plugin environment, as a campaign's worker gets it.
        if let Ok(manifest) = crate::manifest::Manifest::load(m) {
            let wanted = std::fs::canonicalize(&request.file).ok();
            if let Some(spec) = manifest
                .plugins
                .iter()
                .find(|p| std::fs::canonicalize(&p.path).ok() == wanted)
            {
                cmd.envs(spec.env.iter().map(|(k, v)| (k, v)));
            }
        }
    }
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0);
    // SAFETY: only an async-signal-safe call between fork and exec.
    unsafe {
        cmd.pre_exec(|| {
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
            Ok(())
        });
    }
    Ok(cmd)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_version_already_in_the_framework_name_is_not_repeated() {
        assert_eq!(framework_label("candle 0.11.1", "0.11.1"), "candle 0.11.1");
        assert_eq!(
            framework_label("jax 0.10.2 / optax 0.2.8", "0.10.2"),
            "jax 0.10.2 / optax 0.2.8"
        );
        assert_eq!(framework_label("burn", "0.22.1"), "burn 0.22.1");
        assert_eq!(framework_label("spin", ""), "spin");
    }

    #[test]
    fn comparisons_name_what_they_saw() {
        assert_eq!(learning_check(&[2.3, 2.0, 1.9]).verdict, Verdict::Pass);
        assert_eq!(learning_check(&[2.3, 2.3, 2.3]).verdict, Verdict::Fail);
        assert_eq!(
            same_seed_check(&[1.0, 0.5], &[1.0, 0.5]).verdict,
            Verdict::Pass
        );
        assert_eq!(
            same_seed_check(&[1.0, 0.5], &[1.0, 0.51]).verdict,
            Verdict::Fail
        );
        let plain = Facts {
            losses: vec![2.0, 1.0],
            ..Default::default()
        };
        let same = Facts {
            losses: vec![2.0, 1.0],
            ..Default::default()
        };
        assert_eq!(weights_check(&plain, &same).verdict, Verdict::Fail);
        let ignored = Facts {
            notes: vec![("initial_weights".into(), "ignored".into())],
            ..same.clone()
        };
        assert_eq!(weights_check(&plain, &ignored).verdict, Verdict::Skip);
        let busy = |cpu_ms, wall_ms| Facts {
            threads: 2,
            busy: threads::Busy {
                threads: 3,
                busiest_ms: 100,
                cpu_ms,
                wall_ms,
            },
            ..Default::default()
        };
        assert_eq!(threads_check(&busy(1000, 500)).verdict, Verdict::Pass);
        assert_eq!(threads_check(&busy(1100, 500)).verdict, Verdict::Pass);
        assert_eq!(threads_check(&busy(1200, 500)).verdict, Verdict::Fail);
        assert_eq!(threads_check(&busy(100, 30)).verdict, Verdict::Skip);
    }
}
