//! `host parity-worker`: one plugin's parity steps in a process of its own (frameworks fix
//! their thread pools and interpreters once per process, as for a measured run). It builds
//! the session of iteration 1 with the host's weights (whatever `[model] init` says: parity
//! needs one start for all) and every dropout rate set to 0, asks the trainer for its parity
//! steps, and writes a [`ParityOutcome`] as JSON to the file the parent named.
//!
//! The [`Probe::Gradient`] job reads the plugin's gradient through its own optimizer: one Adam
//! step with learning rate = ε = [`GRADIENT_SCALE`] moves a weight by `u = g / (1 + |g| / S)`,
//! so `g = u / (1 − |u| / S)` exactly, and a gradient near zero moves its weight by nearly
//! nothing. (With the manifest's ε = 1e-8, Adam's first step is `lr · sign(g)` for every
//! gradient above 1e-8: a gradient that is zero up to f32 rounding moves by ±lr in whatever
//! direction the rounding picked, which says nothing about whether two plugins agree.)

use std::path::PathBuf;

use anyhow::Context;
use plugin_api::init::{as_tensors, OwnedTensor};
use plugin_api::Layer;
use serde::{Deserialize, Serialize};

use super::load;
use super::worker::{build_session, host_weights, key_values, option_pairs};
use crate::dataset;
use crate::manifest::Manifest;
use crate::plan::{self, Init};

/// The iteration whose order, trainer seed and weights the parity check uses.
pub const PARITY_ITERATION: u32 = 1;

/// Learning rate and ε of the gradient probe's Adam step: large enough that the step is the
/// gradient itself to f32 precision (`|g| / S` ≈ 1e-8 for the study's largest gradients; the
/// inversion is exact anyway), and a value no framework defaults to, so a plugin that ignores
/// the session's learning rate or ε is caught.
pub const GRADIENT_SCALE: f64 = 1e6;

/// What a parity worker asks its plugin for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Probe {
    /// The job's steps with the manifest's optimizer, read back as each weight's movement.
    Steps,
    /// One Adam step at learning rate = ε = [`GRADIENT_SCALE`], read back as each tensor's
    /// gradient on the first batch, at the host's initial weights.
    Gradient,
}

/// One tensor of the weights a plugin handed back.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct NamedTensor {
    pub name: String,
    pub shape: Vec<u32>,
    pub values: Vec<f32>,
}

impl From<&OwnedTensor> for NamedTensor {
    fn from(t: &OwnedTensor) -> Self {
        NamedTensor {
            name: t.name.to_string(),
            shape: t.shape.to_vec(),
            values: t.values.to_vec(),
        }
    }
}

/// What one plugin's parity steps came to.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum ParityOutcome {
    Report {
        losses: Vec<f64>,
        logits: Vec<f32>,
        /// Every weight's movement from the host's weights over the steps ([`Probe::Steps`]),
        /// or its gradient ([`Probe::Gradient`]).
        tensors: Vec<NamedTensor>,
    },
    /// The trainer has no parity steps (or the plugin predates them).
    Unsupported {
        interface: u32,
    },
    Failed {
        message: String,
    },
}

/// What the parent asks one parity worker.
pub struct ParityJob {
    pub manifest: PathBuf,
    pub plugin: String,
    pub steps: u32,
    pub probe: Probe,
    pub out: PathBuf,
}

/// Runs the job and writes its outcome; the exit code is 0 when the outcome was written.
pub fn run(job: &ParityJob) -> anyhow::Result<()> {
    let outcome = steps(job).unwrap_or_else(|e| ParityOutcome::Failed {
        message: format!("{e:#}"),
    });
    let json = serde_json::to_vec(&outcome)?;
    std::fs::write(&job.out, json).with_context(|| format!("cannot write {}", job.out.display()))
}

fn steps(job: &ParityJob) -> anyhow::Result<ParityOutcome> {
    let mut manifest = Manifest::load(&job.manifest)?;
    manifest.init = Init::Host;
    let steps = match job.probe {
        Probe::Steps => job.steps,
        Probe::Gradient => {
            let optimizer = &mut manifest.training.optimizer;
            optimizer.learning_rate = GRADIENT_SCALE;
            optimizer.epsilon = GRADIENT_SCALE;
            1
        }
    };
    for layer in &mut manifest.model {
        if let Layer::Dropout { rate } = layer {
            *rate = 0.0;
        }
    }
    let spec = manifest
        .plugins
        .iter()
        .find(|p| p.name == job.plugin)
        .with_context(|| format!("the manifest has no plugin named `{}`", job.plugin))?;
    let prepared = dataset::prepare(&manifest.dataset)?;
    let (seed, epochs) = (manifest.experiment.seed, manifest.training.epochs);
    let order = plan::sample_order(seed, PARITY_ITERATION, epochs, prepared.train.count);
    let weights = host_weights(&manifest, &prepared, PARITY_ITERATION)?.unwrap_or_default();
    let views = as_tensors(&weights);
    let pairs = option_pairs(spec, &manifest);
    let options = key_values(&pairs);
    let session = build_session(
        &manifest,
        &spec.name,
        &prepared,
        &order,
        &options,
        plan::trainer_seed(seed, PARITY_ITERATION),
        Some(&views),
    );
    let loaded = load::load(&spec.path)?;
    let mut trainer = (loaded.module.new_trainer())(&session)
        .into_result()
        .map_err(|e| anyhow::anyhow!("new_trainer: {e}"))?;
    let Some(answer) = plugin_api::Train::parity(&mut trainer, steps) else {
        return Ok(ParityOutcome::Unsupported {
            interface: loaded.info.interface_version,
        });
    };
    let report = answer.map_err(|e| anyhow::anyhow!("parity steps: {e}"))?;
    let tensors = report
        .weights
        .iter()
        .map(|after| {
            let mut t = NamedTensor::from(after);
            let start = weights.iter().find(|w| w.name.as_str() == t.name);
            if let Some(start) = start.filter(|s| s.values.len() == t.values.len()) {
                t.values = match job.probe {
                    Probe::Steps => movement(&start.values, &t.values),
                    Probe::Gradient => gradient(&start.values, &t.values),
                };
            }
            t
        })
        .collect();
    Ok(ParityOutcome::Report {
        losses: report.losses.to_vec(),
        logits: report.logits.to_vec(),
        tensors,
    })
}

/// How far each weight moved from `before` to `after`; a tensor the plugin renamed or
/// reshaped is left as handed back (by the caller), for the comparison to refuse.
fn movement(before: &[f32], after: &[f32]) -> Vec<f32> {
    before
        .iter()
        .zip(after)
        .map(|(&b, &a)| (f64::from(a) - f64::from(b)) as f32)
        .collect()
}

/// The gradient behind one probe step from `before` to `after` (module docs).
fn gradient(before: &[f32], after: &[f32]) -> Vec<f32> {
    before
        .iter()
        .zip(after)
        .map(|(&b, &a)| {
            let moved = f64::from(b) - f64::from(a);
            (moved / (1.0 - moved.abs() / GRADIENT_SCALE)) as f32
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Adam's first step, as the paper writes it, in f32.
    fn adam_first_step(w: f32, g: f32, lr: f32, eps: f32) -> f32 {
        let (b1, b2) = (0.9f32, 0.999f32);
        let m_hat = (1.0 - b1) * g / (1.0 - b1);
        let v_hat = (1.0 - b2) * g * g / (1.0 - b2);
        w - lr * m_hat / (v_hat.sqrt() + eps)
    }

    #[test]
    fn the_probe_step_gives_back_the_gradient_and_a_small_epsilon_would_not() {
        let before = [0.25f32, -0.125, 0.5, 0.0];
        let g = [0.0625f32, -3e-4, 2e-9, -12.0];
        let s = GRADIENT_SCALE as f32;
        let after: Vec<f32> = before
            .iter()
            .zip(&g)
            .map(|(&w, &g)| adam_first_step(w, g, s, s))
            .collect();
        for (got, want) in gradient(&before, &after).iter().zip(&g) {
            // f32 rounding: the weights after the step and Adam's own arithmetic.
            assert!(
                (got - want).abs() <= 1e-6 * (1.0 + want.abs()),
                "{got} vs {want}"
            );
        }
        // With the study's ε every entry moves by ±lr: the gradient is lost.
        let sign_only: Vec<f32> = before
            .iter()
            .zip(&g)
            .map(|(&w, &g)| adam_first_step(w, g, 1e-3, 1e-8))
            .collect();
        let moved: Vec<f32> = before.iter().zip(&sign_only).map(|(b, a)| b - a).collect();
        assert!((moved[0] - moved[3].abs()).abs() < 1e-6, "{moved:?}");
    }
}
