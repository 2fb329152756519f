//! `host parity MANIFEST`: do the plugins compute the same thing? Each plugin runs its parity
//! steps ([`plugin_api::parity`]) in a worker process of its own, from the host's weights and
//! the same first batches with dropout off, then, in a second worker, the gradient probe (one
//! Adam step whose movement is the gradient: [`Probe::Gradient`]); the reports are compared
//! against the first plugin's ([`compare`]) and printed as a table. A disagreement names the
//! first step or tensor that diverges.

pub mod compare;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::Context;

use crate::manifest::{Manifest, PluginSpec};
use crate::plugin::parity_worker::{ParityOutcome, Probe};
use compare::{distances, Divergence, Report};
use compare::{GRADIENT_TOLERANCE, LOSS_TOLERANCE, VALUE_TOLERANCE, WEIGHT_TOLERANCE};

/// Optimizer steps when the user names none.
pub const DEFAULT_STEPS: u32 = 3;

/// What one plugin's two parity workers came to.
#[derive(Debug, Clone)]
pub enum Outcome {
    Report(Box<Report>),
    /// The trainer has no parity steps (or the plugin predates them).
    Unsupported {
        interface: u32,
    },
    Failed {
        message: String,
    },
}

impl Outcome {
    /// The steps' and the probe's outcomes as one; the first that is not a report wins.
    fn of(steps: ParityOutcome, probe: ParityOutcome) -> Outcome {
        match (steps, probe) {
            (
                ParityOutcome::Report {
                    losses,
                    logits,
                    tensors: movements,
                },
                ParityOutcome::Report {
                    tensors: gradients, ..
                },
            ) => Outcome::Report(Box::new(Report {
                losses,
                logits,
                movements,
                gradients,
            })),
            (ParityOutcome::Unsupported { interface }, _) => Outcome::Unsupported { interface },
            (ParityOutcome::Failed { message }, _) => Outcome::Failed { message },
            (_, ParityOutcome::Failed { message }) => Outcome::Failed {
                message: format!("gradient probe: {message}"),
            },
            (_, ParityOutcome::Unsupported { .. }) => Outcome::Failed {
                message: "the gradient probe found no parity steps, the steps did".into(),
            },
        }
    }
}

/// One plugin's line of the verdict.
#[derive(Debug)]
pub struct PluginVerdict {
    pub plugin: String,
    pub outcome: Outcome,
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
                (Outcome::Failed { message }, _) => {
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
                Outcome::Unsupported { interface } => Some(format!(
                    "plugin {} does not support parity (built against interface {interface})",
                    p.plugin
                )),
                _ => None,
            })
            .collect()
    }
}

/// Runs every (built) plugin's parity steps and gradient probe, and compares them.
pub fn check(manifest: &Manifest, steps: u32) -> anyhow::Result<ParityVerdict> {
    let (kept, notes) = manifest.without_missing_optional_plugins()?;
    for note in notes {
        println!("{note}");
    }
    let dir = std::env::temp_dir().join(format!("joulebench-parity-{}", std::process::id()));
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let mut plugins = Vec::new();
    for spec in &kept.plugins {
        println!(
            "parity: {} ({steps} steps, then the gradient probe)…",
            spec.name
        );
        let stepped = run_worker(&kept, spec, steps, Probe::Steps, &dir)?;
        let probed = match stepped {
            ParityOutcome::Report { .. } => run_worker(&kept, spec, 1, Probe::Gradient, &dir)?,
            _ => stepped.clone(),
        };
        plugins.push(PluginVerdict {
            plugin: spec.name.clone(),
            outcome: Outcome::of(stepped, probed),
            compared: None,
        });
    }
    let _ = std::fs::remove_dir_all(&dir);
    let reference = plugins
        .iter()
        .position(|p| matches!(p.outcome, Outcome::Report(_)));
    if let Some(r) = reference {
        let Outcome::Report(base) = plugins[r].outcome.clone() else {
            unreachable!("the reference has a report")
        };
        for (i, p) in plugins.iter_mut().enumerate() {
            if let (true, Outcome::Report(got)) = (i != r, &p.outcome) {
                p.compared = Some(distances(&base, got));
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
    probe: Probe,
    dir: &Path,
) -> anyhow::Result<ParityOutcome> {
    let exe = std::env::current_exe().context("cannot find the host executable")?;
    let probe_name = match probe {
        Probe::Steps => "steps",
        Probe::Gradient => "gradient",
    };
    let out = dir.join(format!("{}.{probe_name}.json", spec.name));
    let log_path = dir.join(format!("{}.{probe_name}.log", spec.name));
    let log = std::fs::File::create(&log_path)?;
    let status = Command::new(exe)
        .arg("parity-worker")
        .arg("--manifest")
        .arg(&manifest.path)
        .arg("--plugin")
        .arg(&spec.name)
        .arg("--steps")
        .arg(steps.to_string())
        .arg("--probe")
        .arg(probe_name)
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
        "parity over {steps} step(s) and the gradient probe, against {reference}; tolerances: \
         each step's loss {LOSS_TOLERANCE:.0e} relative; logits {VALUE_TOLERANCE:.0e} of the \
         largest; each tensor's gradient {GRADIENT_TOLERANCE:.0e} and movement \
         {WEIGHT_TOLERANCE:.0e} relative L2 (‖a − b‖ / ‖b‖)\n\n"
    );
    out.push_str(&format!(
        "{:<10} {:>12} {:>20} {:>9} {:>20} {:>8}\n",
        "plugin", "loss (step)", "worst gradient", "logits", "worst movement", "verdict"
    ));
    for p in &verdict.plugins {
        out.push_str(&format!("{:<10} {}\n", p.plugin, row(p)));
    }
    out
}

/// One plugin's cells after its name.
fn row(p: &PluginVerdict) -> String {
    let cells = |loss: String, gradient: String, logits: String, weights: String, verdict| {
        format!("{loss:>12} {gradient:>20} {logits:>9} {weights:>20} {verdict:>8}")
    };
    let tensor = |d: &compare::TensorDistance| format!("{} {:.1e}", d.name, d.rel);
    let wide = |text: String, verdict: &str| format!("{text:>64} {verdict:>8}");
    match (&p.outcome, &p.compared) {
        (Outcome::Report(r), None) => cells(
            format!("{:.4}", r.losses.last().copied().unwrap_or(f64::NAN)),
            "reference".into(),
            String::new(),
            String::new(),
            "ref",
        ),
        (_, Some(Ok(d))) => cells(
            format!("{:.1e} ({})", d.loss.0, d.loss.1),
            tensor(&d.worst_gradient()),
            format!("{:.1e}", d.logits),
            tensor(&d.worst_weights()),
            if d.divergence.is_none() {
                "pass"
            } else {
                "FAIL"
            },
        ),
        (_, Some(Err(e))) => wide(e.to_string(), "FAIL"),
        (Outcome::Unsupported { interface }, _) => {
            wide(format!("no parity steps (interface {interface})"), "skip")
        }
        (Outcome::Failed { .. }, _) => wide("parity steps failed".into(), "FAIL"),
    }
}

/// Every tensor of every compared plugin: its gradient's and its movement's distance from the
/// reference's, relative (L2) and the largest entry difference.
pub fn tensor_table(verdict: &ParityVerdict) -> String {
    let mut out = format!(
        "{:<10} {:<12} {:>14} {:>14} {:>14} {:>14}\n",
        "plugin", "tensor", "gradient L2", "largest entry", "movement L2", "largest entry"
    );
    for p in &verdict.plugins {
        let Some(Ok(d)) = &p.compared else { continue };
        for (g, w) in d.gradients.iter().zip(&d.weights) {
            out.push_str(&format!(
                "{:<10} {:<12} {:>14.1e} {:>14.1e} {:>14.1e} {:>14.1e}\n",
                p.plugin, g.name, g.rel, g.abs, w.rel, w.abs
            ));
        }
    }
    out
}
