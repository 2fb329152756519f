//! The manifest exactly as written: serde types that reject unknown keys. Only the manifest
//! module reads these; `sections.rs` turns them into validated settings.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Deserialize;
use toml::Spanned;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawManifest {
    /// The folder relative paths resolve against, when not the manifest's own (the copy a
    /// campaign folder saves names the original's; see `portable.rs`).
    pub paths_relative_to: Option<Spanned<PathBuf>>,
    pub experiment: RawExperiment,
    pub dataset: Option<RawDataset>,
    pub model: RawModel,
    pub training: RawTraining,
    pub energy: Option<RawEnergy>,
    #[serde(default)]
    pub plugin: Vec<RawPlugin>,
    #[serde(default)]
    pub analysis: Vec<Spanned<toml::Table>>,
    pub report: Option<Spanned<RawReport>>,
}

/// A file of analysis steps and report factors only (`host analyze --pipeline FILE`).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPipeline {
    #[serde(default)]
    pub analysis: Vec<Spanned<toml::Table>>,
    pub report: Option<Spanned<RawReport>>,
}

/// `[report]`: carbon and cost factors (numbers may be written as integers).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawReport {
    pub grid_intensity: Option<Spanned<f64>>,
    pub pue: Option<Spanned<f64>>,
    pub price_per_kwh: Option<Spanned<f64>>,
    pub currency: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawExperiment {
    pub name: Option<String>,
    pub seed: Option<u64>,
    pub iterations: Option<Spanned<u32>>,
    pub warmup: Option<Spanned<String>>,
    pub rest: Option<Spanned<RawRest>>,
    pub idle_baseline: Option<Spanned<String>>,
    pub idle_baseline_after: Option<bool>,
    pub run_timeout: Option<Spanned<String>>,
    pub retry_failed: Option<u32>,
    pub parity: Option<bool>,
    pub stop: Option<Spanned<RawStop>>,
}

/// `stop = { metric = "energy", looks = [5, 10, 20], spending = "obrien-fleming", alpha = 0.05 }`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawStop {
    pub metric: Spanned<String>,
    pub looks: Spanned<Vec<u32>>,
    pub spending: Option<Spanned<String>>,
    pub alpha: Option<Spanned<f64>>,
}

#[derive(Deserialize)]
#[serde(untagged)]
pub enum RawRest {
    Fixed(String),
    UntilIdle(RawUntilIdle),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawUntilIdle {
    pub until_idle: bool,
    pub max: Option<String>,
    pub within: Option<f64>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RawDataset {
    pub name: Option<String>,
    pub dir: Option<PathBuf>,
    pub train_subset: Option<Spanned<usize>>,
    pub test_subset: Option<Spanned<usize>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawModel {
    /// Kept as tables with their positions so that an error in one layer names its line
    /// (serde's tagged enums lose the position); converted in `model.rs`.
    pub layers: Vec<Spanned<toml::Table>>,
    /// `host` (default) or `framework`.
    pub init: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTraining {
    pub epochs: Spanned<u32>,
    pub batch_size: Spanned<u32>,
    pub threads: Option<RawThreads>,
    pub cpus: Option<String>,
    pub device: Option<String>,
    pub optimizer: Option<RawOptimizer>,
}

#[derive(Deserialize)]
#[serde(untagged)]
pub enum RawThreads {
    Count(u32),
    Word(String),
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RawOptimizer {
    pub kind: Option<String>,
    pub learning_rate: Option<f64>,
    pub beta1: Option<f64>,
    pub beta2: Option<f64>,
    pub epsilon: Option<f64>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RawEnergy {
    pub source: Option<Spanned<String>>,
    pub tdp_watts: Option<f64>,
    pub idle_share: Option<f64>,
    pub sample_interval: Option<Spanned<String>>,
    pub powercap_root: Option<PathBuf>,
    pub msr_root: Option<PathBuf>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPlugin {
    pub name: Spanned<String>,
    pub path: PathBuf,
    #[serde(default)]
    pub options: BTreeMap<String, String>,
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    #[serde(default)]
    pub optional: bool,
    pub timeout: Option<Spanned<String>>,
}
