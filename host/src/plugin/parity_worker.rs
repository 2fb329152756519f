//! `host parity-worker`: one plugin's parity steps in a process of its own (frameworks fix
//! their thread pools and interpreters once per process, as for a measured run). It builds
//! the session of iteration 1 with the host's weights (whatever `[model] init` says: parity
//! needs one start for all) and every dropout rate set to 0, asks the trainer for its parity
//! steps, and writes a [`ParityOutcome`] as JSON to the file the parent named.

use std::path::PathBuf;

use anyhow::Context;
use plugin_api::init::as_tensors;
use plugin_api::Layer;
use serde::{Deserialize, Serialize};

use super::load;
use super::worker::{build_session, host_weights, key_values, option_pairs};
use crate::dataset;
use crate::manifest::Manifest;
use crate::plan::{self, Init};

/// The iteration whose order, trainer seed and weights the parity check uses.
pub const PARITY_ITERATION: u32 = 1;

/// One tensor of the weights a plugin handed back.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct NamedTensor {
    pub name: String,
    pub shape: Vec<u32>,
    pub values: Vec<f32>,
}

/// What one plugin's parity steps came to.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum ParityOutcome {
    Report {
        losses: Vec<f64>,
        logits: Vec<f32>,
        weights: Vec<NamedTensor>,
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
    let Some(answer) = plugin_api::Train::parity(&mut trainer, job.steps) else {
        return Ok(ParityOutcome::Unsupported {
            interface: loaded.info.interface_version,
        });
    };
    let report = answer.map_err(|e| anyhow::anyhow!("parity steps: {e}"))?;
    Ok(ParityOutcome::Report {
        losses: report.losses.to_vec(),
        logits: report.logits.to_vec(),
        weights: report
            .weights
            .iter()
            .map(|t| NamedTensor {
                name: t.name.to_string(),
                shape: t.shape.to_vec(),
                values: t.values.to_vec(),
            })
            .collect(),
    })
}
