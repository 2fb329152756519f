//! Test-only plugin: fails in the way its `fault` option names, in the phase its `phase`
//! option names (`setup`, `train` — the default — or `eval`), so the host's tests can check
//! that every kind of failure becomes a `failed` row with its reason while the campaign goes on.
//!
//! Faults: `panic`, `panic_abort` (a panic where unwinding is impossible, inside an
//! `extern "C"` callback as a native framework would call one: Rust prints it, and with
//! `RUST_BACKTRACE` a backtrace, then aborts), `abort` (std::process::abort), `segfault` (a null
//! dereference),
//! `hang` (sleeps for an hour), `error` (returns a PluginError), `leftover` (forks a child that
//! outlives the worker by an hour, as a framework's helper process might, then behaves),
//! `orphan` (forks a child that ignores SIGTERM and sleeps for an hour, writes the child's PID
//! to the file the `pid_file` option names, then hangs: the host's tests kill the host and
//! check that the child dies too), `none` (behaves).
//! Option `require_env = "NAME=VALUE"` fails setup unless the worker's environment has it
//! (tests the manifest's per-plugin `env`).

use plugin_api::options::OptionKeys;
use plugin_api::{
    export_plugin, into_trainer, EvalReport, PluginError, PluginInfo, Progress, RunInfo, Session,
    Train, TrainReport, TrainerBox,
};

fn info() -> PluginInfo {
    PluginInfo::new(
        "faulty",
        "faulty (test only)",
        env!("CARGO_PKG_VERSION"),
        &["cpu"],
    )
}

const OPTIONS: OptionKeys<'static> =
    OptionKeys::new("faulty", &["fault", "phase", "require_env", "pid_file"]);

fn new_trainer<'a>(session: &Session<'a>) -> Result<TrainerBox<'a>, PluginError> {
    let options = OPTIONS.check(session)?;
    if let Some(required) = options.get("require_env") {
        let (name, value) = required.split_once('=').unwrap_or((required, ""));
        let found = std::env::var(name).ok();
        if found.as_deref() != Some(value) {
            return Err(PluginError::setup(format!(
                "environment {name} is {found:?}, expected {value:?}"
            )));
        }
    }
    let fault = options.get("fault").unwrap_or("none").to_string();
    let phase = options.get("phase").unwrap_or("train").to_string();
    if ![
        "panic",
        "panic_abort",
        "abort",
        "segfault",
        "hang",
        "error",
        "leftover",
        "orphan",
        "none",
    ]
    .contains(&fault.as_str())
    {
        return Err(PluginError::unsupported(format!("unknown fault `{fault}`")));
    }
    let faulty = Faulty {
        fault,
        phase,
        pid_file: options.get("pid_file").map(String::from),
        samples: session.data.train.count as u64,
        test: session.data.test.count as u64,
    };
    faulty.maybe_fail("setup")?;
    Ok(into_trainer(faulty))
}

export_plugin! { info: info, new_trainer: new_trainer }

struct Faulty {
    fault: String,
    phase: String,
    pid_file: Option<String>,
    samples: u64,
    test: u64,
}

impl Faulty {
    fn maybe_fail(&self, phase: &str) -> Result<(), PluginError> {
        if self.phase != phase {
            return Ok(());
        }
        match self.fault.as_str() {
            "panic" => panic!("deliberate panic in {phase}"),
            "panic_abort" => {
                extern "C" fn callback() {
                    panic!("deliberate panic in a callback that cannot unwind");
                }
                callback();
                Ok(())
            }
            "abort" => std::process::abort(),
            "segfault" => {
                // A real invalid memory access, as a buggy native framework would make.
                let null: *const u64 = std::ptr::null();
                let value = unsafe { std::ptr::read_volatile(null) };
                Err(PluginError::failed(format!("read {value} from null")))
            }
            "hang" => {
                std::thread::sleep(std::time::Duration::from_secs(3600));
                Ok(())
            }
            "error" => Err(PluginError::failed(format!("deliberate error in {phase}"))),
            "leftover" => {
                // SAFETY: the child only calls async-signal-safe functions (sleep, _exit).
                if unsafe { libc::fork() } == 0 {
                    unsafe {
                        libc::sleep(3600);
                        libc::_exit(0)
                    }
                }
                Ok(())
            }
            "orphan" => self.orphan(),
            _ => Ok(()),
        }
    }

    /// Forks a child that ignores SIGTERM and sleeps, records its PID, then hangs.
    fn orphan(&self) -> Result<(), PluginError> {
        // SAFETY: the child only calls async-signal-safe functions (signal, sleep, _exit).
        let child = unsafe { libc::fork() };
        if child == 0 {
            unsafe {
                libc::signal(libc::SIGTERM, libc::SIG_IGN);
                libc::sleep(3600);
                libc::_exit(0)
            }
        }
        if child < 0 {
            return Err(PluginError::failed("fork failed"));
        }
        if let Some(path) = &self.pid_file {
            // Written whole, then renamed: whoever polls for it never reads a partial PID.
            let tmp = format!("{path}.part");
            std::fs::write(&tmp, child.to_string())
                .and_then(|()| std::fs::rename(&tmp, path))
                .map_err(|e| PluginError::failed(format!("cannot write {path}: {e}")))?;
        }
        std::thread::sleep(std::time::Duration::from_secs(3600));
        Ok(())
    }
}

impl Train for Faulty {
    fn run_info(&self) -> RunInfo {
        RunInfo {
            framework: "faulty (test only)".into(),
            threads: 1,
            ..Default::default()
        }
    }

    fn train_epochs(
        &mut self,
        epochs: u32,
        progress: &Progress<'_>,
    ) -> Result<TrainReport, PluginError> {
        self.maybe_fail("train")?;
        for e in 0..epochs {
            progress.batch_done(e, 1, 1);
        }
        Ok(TrainReport {
            samples: (self.samples * epochs as u64) as _,
            epoch_losses: vec![1.0; epochs as usize].into(),
            ..Default::default()
        })
    }

    fn evaluate(&mut self) -> Result<EvalReport, PluginError> {
        self.maybe_fail("eval")?;
        Ok(EvalReport {
            accuracy: 0.1,
            loss: 2.3,
            samples: self.test,
            notes: Default::default(),
        })
    }
}
