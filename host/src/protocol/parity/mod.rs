//! `host parity MANIFEST`: do the plugins compute the same thing? Each plugin runs its parity
//! steps ([`plugin_api::parity`]) in a worker process of its own, from the host's weights and
//! the same first batches with dropout off; the reports are compared against the first
//! plugin's ([`compare`]) and printed as a table. A disagreement names the first step or
//! tensor that diverges.

pub mod compare;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::Context;

use crate::manifest::{Manifest, PluginSpec};
use crate::plugin::parity_worker::ParityOutcome;
use compare::{distances, Divergence, LOSS_TOLERANCE, VALUE_TOLERANCE, WEIGHT_TOLERANCE};

/// Optimizer steps when the user names none.
pub const DEFAULT_STEPS: u32 = 3;

/// One plugin's line of the verdict.
#[derive(Debug)]
pub struct PluginVerdict {
    pub plugin: String,
    pub outcome: ParityOutcome,
    /// Against the reference, when both have reports (`None` for the reference itself).
    pub compared: Option<Result<compare::Distances, Divergence>>,
}

/// Every plugin's verdict, the reference first among those with reports.
#[derive(Debug)]
pub struct ParityVerdict {
    pub reference: Option<String>,
    pub plugins: Vec<PluginVerdict>,
}

impl ParityVerdict {
    /// The first disagreement, as one sentence naming plugin and step or tensor.
    pub fn first_disagreement(&self) -> Option<String> {
        let reference = self.reference.as_deref().unwrap_or("?");
        self.plugins
            .iter()
            .find_map(|p| match (&p.outcome, &p.compared) {
                (ParityOutcome::Failed { message }, _) => {
                    Some(format!("{}: its parity steps failed: {message}", p.plugin))
                }
                (_, Some(Err(d))) => Some(format!("{} disagrees with {reference}: {d}", p.plugin)),
                (_, Some(Ok(d))) => d
                    .divergence
                    .as_ref()
                    .map(|d| format!("{} disagrees with {reference}: {d}", p.plugin)),
                _ => None,
            })
    }

    /// Plugins without parity steps, one note each.
    pub fn unsupported(&self) -> Vec<String> {
        self.plugins
            .iter()
            .filter_map(|p| match p.outcome {
                ParityOutcome::Unsupported { interface } => Some(format!(
                    "plugin {} does not support parity (built against interface {interface})",
                    p.plugin
                )),
                _ => None,
            })
            .collect()
    }
}

/// Runs every (built) plugin's parity steps and compares them.
pub fn check(manifest: &Manifest, steps: u32) -> anyhow::Result<ParityVerdict> {
    let (kept, notes) = manifest.without_missing_optional_plugins()?;
    for note in notes {
        println!("{note}");
    }
    let dir = std::env::temp_dir().join(format!("joulebench-parity-{}", std::process::id()));
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let mut plugins = Vec::new();
    for spec in &kept.plugins {
        println!("parity: {} ({steps} steps)…", spec.name);
        let outcome = run_worker(&kept, spec, steps, &dir)?;
        plugins.push(PluginVerdict {
            plugin: spec.name.clone(),
            outcome,
            compared: None,
        });
    }
    let _ = std::fs::remove_dir_all(&dir);
    let reference = plugins
        .iter()
        .position(|p| matches!(p.outcome, ParityOutcome::Report { .. }));
    if let Some(r) = reference {
        let base = plugins[r].outcome.clone();
        for (i, p) in plugins.iter_mut().enumerate() {
            if i != r && matches!(p.outcome, ParityOutcome::Report { .. }) {
                p.compared = Some(distances(&base, &p.outcome));
            }
        }
    }
    Ok(ParityVerdict {
        reference: reference.map(|r| plugins[r].plugin.clone()),
        plugins,
    })
}

/// `host run`'s parity check (with `--dry-run`, or as the preflight `[experiment] parity =
/// true` asks for): the table, then an error naming the first disagreement, so that a
/// campaign of plugins computing different things never starts. Plugins without parity
/// steps are noted, not refused.
pub fn preflight(manifest: &Manifest) -> anyhow::Result<()> {
    let verdict = check(manifest, DEFAULT_STEPS)?;
    println!("\n{}", table(&verdict, DEFAULT_STEPS));
    for note in verdict.unsupported() {
        println!("{note}");
    }
    if let Some(why) = verdict.first_disagreement() {
        anyhow::bail!(
            "parity: {why}\nthe plugins do not compute the same thing, so the campaign does not \
             start (`host parity {}` shows the table again)",
            manifest.path.display()
        );
    }
    if verdict.reference.is_none() {
        println!("parity: no plugin of the manifest has parity steps; nothing was compared");
    }
    Ok(())
}

/// One plugin's parity steps in `host parity-worker`; its output goes to a log in `dir`.
fn run_worker(
    manifest: &Manifest,
    spec: &PluginSpec,
    steps: u32,
    dir: &Path,
) -> anyhow::Result<ParityOutcome> {
    let exe = std::env::current_exe().context("cannot find the host executable")?;
    let out = dir.join(format!("{}.json", spec.name));
    let log_path = dir.join(format!("{}.log", spec.name));
    let log = std::fs::File::create(&log_path)?;
    let status = Command::new(exe)
        .arg("parity-worker")
        .arg("--manifest")
        .arg(&manifest.path)
        .arg("--plugin")
        .arg(&spec.name)
        .arg("--steps")
        .arg(steps.to_string())
        .arg("--out")
        .arg(&out)
        .envs(spec.env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .stdout(Stdio::from(log.try_clone()?))
        .stderr(Stdio::from(log))
        .status()
        .context("cannot start a parity worker")?;
    match std::fs::read(&out) {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .with_context(|| format!("{}: unreadable parity outcome", out.display())),
        Err(_) => Ok(ParityOutcome::Failed {
            message: format!(
                "the worker ended ({status}) without an outcome; {}",
                tail(&log_path)
            ),
        }),
    }
}

/// The last lines of a worker's log, for an error message.
fn tail(log: &PathBuf) -> String {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let lines: Vec<&str> = text.lines().rev().take(5).collect();
    let lines: Vec<&str> = lines.into_iter().rev().collect();
    format!("its output ended with:\n{}", lines.join("\n"))
}

/// The table: one row per plugin, its distances from the reference and a verdict.
pub fn table(verdict: &ParityVerdict, steps: u32) -> String {
    let reference = verdict.reference.as_deref().unwrap_or("(none)");
    let mut out = format!(
        "parity over {steps} step(s), against {reference}; tolerances: loss {LOSS_TOLERANCE:.0e} \
         relative, logits {VALUE_TOLERANCE:.0e} and weights {WEIGHT_TOLERANCE:.0e} of the \
         reference's largest value\n\n"
    );
    out.push_str(&format!(
        "{:<10} {:>12} {:>12} {:>26} {:>8}\n",
        "plugin", "loss (step)", "logits", "worst weight", "verdict"
    ));
    for p in &verdict.plugins {
        let row = match (&p.outcome, &p.compared) {
            (ParityOutcome::Report { losses, .. }, None) => format!(
                "{:>12} {:>12} {:>26} {:>8}",
                format!("{:.4}", losses.last().copied().unwrap_or(f64::NAN)),
                "reference",
                "",
                "ref"
            ),
            (_, Some(Ok(d))) => format!(
                "{:>12} {:>12} {:>26} {:>8}",
                format!("{:.1e} ({})", d.loss.0, d.loss.1),
                format!("{:.1e}", d.logits),
                format!("{} {:.1e}", d.worst_tensor.0, d.worst_tensor.2),
                if d.divergence.is_none() {
                    "pass"
                } else {
                    "FAIL"
                }
            ),
            (_, Some(Err(e))) => format!("{e:>60} {:>8}", "FAIL"),
            (ParityOutcome::Unsupported { interface }, _) => {
                format!(
                    "{:>52} {:>8}",
                    format!("no parity steps (interface {interface})"),
                    "skip"
                )
            }
            (ParityOutcome::Failed { .. }, _) => {
                format!("{:>52} {:>8}", "parity steps failed", "FAIL")
            }
        };
        out.push_str(&format!("{:<10} {row}\n", p.plugin));
    }
    out
}
