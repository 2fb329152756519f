//! The host's side of a run: start a worker process, follow its events, enforce the timeout,
//! and turn whatever happened (success, error, panic, crash, hang) into a [`RunOutcome`].

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::Context;

use super::events::{measured_run, Event, Phase};
use super::log_reason;
use crate::store::record::MeasuredRun;

/// How to start one worker.
pub struct WorkerLaunch<'a> {
    pub manifest: &'a Path,
    pub manifest_sha256: &'a str,
    /// The plugin's name in the manifest.
    pub plugin: &'a str,
    pub iteration: u32,
    pub samples_csv: Option<&'a Path>,
    /// The worker's stderr (framework logs, panics) goes here in full.
    pub log: &'a Path,
    pub timeout: Duration,
    /// Pin the worker to these CPUs (the manifest's parsed `[training] cpus`), if set.
    pub cpus: Option<&'a [usize]>,
    /// Extra environment variables for the worker (the plugin's `env` table).
    pub env: &'a [(String, String)],
    /// Only build the trainer (`host run --dry-run`).
    pub setup_only: bool,
}

/// What a worker measured, and how it ended.
#[derive(Debug, Default)]
pub struct RunOutcome {
    /// Everything the worker reported; its `failure` is `None` when the run completed.
    pub measured: MeasuredRun,
    pub interrupted: bool,
    pub wall: Duration,
}

/// Runs one worker to completion (or timeout, or interruption via `stop`).
/// `on_event` sees each event as it arrives (progress display).
pub fn run_worker(
    launch: &WorkerLaunch<'_>,
    stop: &AtomicBool,
    mut on_event: impl FnMut(&Event),
) -> anyhow::Result<RunOutcome> {
    let mut cmd = worker_command(launch)?;
    let started = Instant::now();
    let mut child = cmd.spawn().context("cannot start a worker process")?;
    // The worker's lifeline: held open until the worker has been waited for, and closed by
    // the kernel if the host dies first — which kills the worker's whole process group.
    let lifeline = child.stdin.take();
    let stdout = child
        .stdout
        .take()
        .context("worker stdout was not captured")?;
    let (rx, reader) = read_events(stdout);
    let followed = follow(
        &child,
        &rx,
        started + launch.timeout,
        launch.timeout,
        stop,
        &mut on_event,
    );
    if followed.kill_reason.is_some() {
        // SAFETY: signalling the worker's own process group (its pgid is its pid).
        unsafe { libc::kill(-(child.id() as i32), libc::SIGKILL) };
    }
    let status = child.wait().context("cannot wait for the worker")?;
    drop(lifeline);
    // A leftover that left the process group may still hold the pipe: never wait on it.
    if !followed.leftovers_killed || reader.is_finished() {
        let _ = reader.join();
    }
    if let Some(fault) = environment_fault(&followed.events) {
        return Err(fault);
    }
    let interrupted = followed.interrupted;
    let failure = followed
        .kill_reason
        .or_else(|| failure_of(&followed.events, status, launch.log));
    Ok(RunOutcome {
        measured: measured_run(&followed.events, failure),
        interrupted,
        wall: started.elapsed(),
    })
}

/// A fault of the machine the worker met (a full disk, say): not the run's failure but the
/// campaign's, which stops and leaves the run to do.
fn environment_fault(events: &[Event]) -> Option<anyhow::Error> {
    events.iter().find_map(|e| match e {
        Event::Environment { phase, message } => Some(anyhow::anyhow!(
            "the worker could not go on ({phase}): {message}"
        )),
        _ => None,
    })
}

/// `host worker …` for `launch`: its own process group, pinned to the manifest's CPUs, dying
/// with the host (see [`super::lifeline`]), stdout piped for events and stderr to the run's
/// log.
fn worker_command(launch: &WorkerLaunch<'_>) -> anyhow::Result<Command> {
    let exe =
        std::env::current_exe().context("cannot find the host executable to start a worker")?;
    let log = File::create(launch.log)
        .with_context(|| format!("cannot create worker log {}", launch.log.display()))?;
    let mut cmd = Command::new(exe);
    cmd.arg("worker")
        .arg("--manifest")
        .arg(launch.manifest)
        .arg("--manifest-sha256")
        .arg(launch.manifest_sha256)
        .arg("--plugin")
        .arg(launch.plugin)
        .arg("--iteration")
        .arg(launch.iteration.to_string())
        .arg("--watch-host");
    if let Some(s) = launch.samples_csv {
        cmd.arg("--samples").arg(s);
    }
    if launch.setup_only {
        cmd.arg("--setup-only");
    }
    let cpus = launch.cpus.map(<[usize]>::to_vec);
    cmd.envs(launch.env.iter().map(|(k, v)| (k, v)));
    // Stdin is the lifeline: a pipe the host never writes to.
    cmd.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::from(log));
    // Own process group, so a timeout kills everything the framework started, and the worker's
    // lifeline kills that group when the host dies (kill -9 of the host must not leave anything
    // burning energy). No PR_SET_PDEATHSIG: it would kill the worker before its lifeline could
    // kill the worker's children.
    cmd.process_group(0);
    // SAFETY: only async-signal-safe calls between fork and exec.
    unsafe {
        cmd.pre_exec(move || {
            if let Some(cpus) = &cpus {
                let mut set: libc::cpu_set_t = std::mem::zeroed();
                for &c in cpus {
                    libc::CPU_SET(c, &mut set);
                }
                if libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
            }
            Ok(())
        });
    }
    Ok(cmd)
}

type EventLine = Result<Event, String>;

/// A thread that reads the worker's stdout line by line; each line arrives parsed (or as why
/// it could not be) on the channel, which closes when the pipe does.
fn read_events(
    stdout: std::process::ChildStdout,
) -> (mpsc::Receiver<EventLine>, std::thread::JoinHandle<()>) {
    let (tx, rx) = mpsc::channel::<EventLine>();
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if line.trim().is_empty() {
                continue;
            }
            let parsed = serde_json::from_str::<Event>(&line)
                .map_err(|e| format!("unreadable worker event ({e}): {line}"));
            if tx.send(parsed).is_err() {
                break;
            }
        }
    });
    (rx, reader)
}

/// What following a worker's events found.
struct Followed {
    events: Vec<Event>,
    /// Why the worker must be killed (timeout, Ctrl-C), if it must.
    kill_reason: Option<String>,
    interrupted: bool,
    /// The worker had exited and what it left behind was killed.
    leftovers_killed: bool,
}

/// Collects events until the stream ends, the worker exits, `deadline` passes or `stop` is
/// raised.
fn follow(
    child: &Child,
    rx: &mpsc::Receiver<EventLine>,
    deadline: Instant,
    timeout: Duration,
    stop: &AtomicBool,
    on_event: &mut impl FnMut(&Event),
) -> Followed {
    let mut f = Followed {
        events: Vec::new(),
        kill_reason: None,
        interrupted: false,
        leftovers_killed: false,
    };
    loop {
        if stop.load(Ordering::SeqCst) {
            f.interrupted = true;
            f.kill_reason = Some("interrupted by the user".into());
            return f;
        }
        let now = Instant::now();
        if now >= deadline {
            f.kill_reason = Some(format!(
                "timed out after {}",
                humantime::format_duration(timeout)
            ));
            return f;
        }
        match rx.recv_timeout((deadline - now).min(Duration::from_millis(200))) {
            Ok(Ok(event)) => {
                on_event(&event);
                f.events.push(event);
            }
            Ok(Err(bad)) => f.events.push(Event::Error {
                phase: Phase::Worker,
                message: bad,
            }),
            Err(mpsc::RecvTimeoutError::Timeout) => {
                // The pipe stays open while anything the worker forked holds it: once the
                // worker itself has exited, its leftovers are killed rather than waited for.
                if has_exited(child.id()) {
                    f.leftovers_killed = true;
                    // SAFETY: the worker is a zombie (not reaped), so its pid is still its
                    // process group's id and cannot name anyone else.
                    unsafe { libc::kill(-(child.id() as i32), libc::SIGKILL) };
                    while let Ok(Ok(event)) = rx.recv_timeout(Duration::from_millis(200)) {
                        on_event(&event);
                        f.events.push(event);
                    }
                    return f;
                }
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => return f,
        }
    }
}

/// Whether the process `pid` (a child of ours) has exited, without reaping it.
fn has_exited(pid: u32) -> bool {
    // SAFETY: waitid with WNOWAIT only inspects our own child; the siginfo is plain data.
    unsafe {
        let mut info: libc::siginfo_t = std::mem::zeroed();
        let rc = libc::waitid(
            libc::P_PID,
            pid as libc::id_t,
            &mut info,
            libc::WEXITED | libc::WNOHANG | libc::WNOWAIT,
        );
        rc == 0 && info.si_pid() != 0
    }
}

/// Why a finished worker failed, or `None` if it completed.
fn failure_of(events: &[Event], status: ExitStatus, log: &Path) -> Option<String> {
    let reported = events.iter().find_map(|e| match e {
        Event::Error { phase, message } => Some(format!("{phase}: {message}")),
        _ => None,
    });
    let finished = events.iter().any(|e| matches!(e, Event::Finished));
    if let Some(sig) = status.signal() {
        let tail = log_tail(log);
        return Some(format!(
            "worker killed by {}{}{}",
            signal_name(sig),
            reported.map(|r| format!(" after: {r}")).unwrap_or_default(),
            if tail.is_empty() {
                String::new()
            } else {
                format!(" — stderr: {tail}")
            }
        ));
    }
    if let Some(r) = reported {
        return Some(r);
    }
    if !status.success() || !finished {
        let tail = log_tail(log);
        return Some(format!(
            "worker exited with {} before finishing{}",
            status
                .code()
                .map_or("no code".into(), |c| format!("code {c}")),
            if tail.is_empty() {
                String::new()
            } else {
                format!(" — stderr: {tail}")
            }
        ));
    }
    None
}

/// Why the worker's log says it died, on one line: a panic's place and message (its backtrace
/// stays in the log), else its last lines ([`log_reason::summarize`]).
pub fn log_tail(log: &Path) -> String {
    match std::fs::read(log) {
        Ok(bytes) => log_reason::summarize(&String::from_utf8_lossy(&bytes)),
        Err(_) => String::new(),
    }
}

pub fn signal_name(sig: i32) -> String {
    let name = match sig {
        libc::SIGSEGV => "SIGSEGV (segmentation fault)",
        libc::SIGABRT => "SIGABRT (abort)",
        libc::SIGBUS => "SIGBUS (bus error)",
        libc::SIGILL => "SIGILL (illegal instruction)",
        libc::SIGFPE => "SIGFPE (arithmetic error)",
        libc::SIGKILL => "SIGKILL",
        libc::SIGTERM => "SIGTERM",
        libc::SIGINT => "SIGINT",
        _ => return format!("signal {sig}"),
    };
    name.to_string()
}
