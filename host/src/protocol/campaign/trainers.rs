//! `host run --dry-run`'s trainer check: each plugin's trainer built once in a worker, so
//! that an unknown option or an unsupported layer shows before any warm-up.

use std::sync::atomic::AtomicBool;

use anyhow::Context;

use crate::error::usage;
use crate::manifest::Manifest;
use crate::plugin::check::framework_label;
use crate::plugin::events::Event;
use crate::plugin::supervisor::{self, WorkerLaunch};

/// Builds each plugin's trainer once, in a worker as a run would (same session, environment
/// and CPUs; no meters, no training), and prints what each reports. Every plugin that cannot
/// build one is listed in one usage error.
pub fn build_all(manifest: &Manifest, stop: &AtomicBool) -> anyhow::Result<()> {
    let path = std::fs::canonicalize(&manifest.path)
        .with_context(|| format!("cannot resolve {}", manifest.path.display()))?;
    println!("trainers (built once in a worker, nothing measured):");
    let mut problems = Vec::new();
    for plugin in &manifest.plugins {
        let log = std::env::temp_dir().join(format!(
            "joulebench-dry-run-{}-{}.log",
            std::process::id(),
            plugin.name
        ));
        let launch = WorkerLaunch {
            manifest: &path,
            manifest_sha256: &manifest.sha256,
            plugin: &plugin.name,
            iteration: 1,
            samples_csv: None,
            log: &log,
            timeout: plugin.timeout.unwrap_or(manifest.experiment.run_timeout),
            cpus: manifest.training.cpus.as_deref(),
            env: &plugin.env,
            setup_only: true,
        };
        let mut said = None;
        let outcome = supervisor::run_worker(&launch, stop, |event| {
            if let Event::RunInfo {
                framework,
                framework_version,
                threads,
                ..
            } = event
            {
                said = Some(format!(
                    "{}, {threads} thread(s)",
                    framework_label(framework, framework_version)
                ));
            }
        });
        let _ = std::fs::remove_file(&log);
        match outcome?.measured.failure {
            None => println!("  {:<10} {}", plugin.name, said.unwrap_or_default()),
            Some(why) => problems.push(format!("  plugin `{}`: {why}", plugin.name)),
        }
    }
    if problems.is_empty() {
        return Ok(());
    }
    Err(usage(format!(
        "{}: the dry run could not build every trainer:\n{}",
        manifest.path.display(),
        problems.join("\n")
    )))
}
