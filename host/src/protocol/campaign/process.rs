//! The real [`RunWorker`]: each run in a fresh `host worker` process, supervised by
//! [`crate::plugin::supervisor`].

use std::path::PathBuf;
use std::sync::atomic::AtomicBool;

use anyhow::Context;

use super::run_loop::{RunWorker, WorkerRequest};
use crate::manifest::Manifest;
use crate::plugin::events::Event;
use crate::plugin::supervisor::{self, RunOutcome, WorkerLaunch};

/// Starts workers for one manifest.
pub struct ProcessWorker {
    /// Absolute, so a worker finds it whatever its working folder.
    manifest: PathBuf,
    manifest_sha256: String,
    cpus: Option<Vec<usize>>,
}

impl ProcessWorker {
    pub fn new(manifest: &Manifest) -> anyhow::Result<ProcessWorker> {
        let path = std::fs::canonicalize(&manifest.path)
            .with_context(|| format!("cannot resolve {}", manifest.path.display()))?;
        Ok(ProcessWorker {
            manifest: path,
            manifest_sha256: manifest.sha256.clone(),
            cpus: manifest.training.cpus.clone(),
        })
    }
}

impl RunWorker for ProcessWorker {
    fn run(
        &mut self,
        request: &WorkerRequest<'_>,
        stop: &AtomicBool,
        on_event: &mut dyn FnMut(&Event),
    ) -> anyhow::Result<RunOutcome> {
        let launch = WorkerLaunch {
            manifest: &self.manifest,
            manifest_sha256: &self.manifest_sha256,
            plugin: &request.plugin.name,
            iteration: request.iteration,
            samples_csv: Some(&request.files.samples),
            log: &request.files.log,
            timeout: request.timeout,
            cpus: self.cpus.as_deref(),
            env: &request.plugin.env,
            setup_only: false,
        };
        supervisor::run_worker(&launch, stop, on_event)
    }
}
