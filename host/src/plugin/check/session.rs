//! The sessions `host check-plugin` gives a plugin: synthetic digits and a small CNN by
//! default, or a manifest's model, optimizer, threads, options and (the first few hundred
//! images of its) data; three epochs either way, so that learning shows.

use std::path::{Path, PathBuf};

use anyhow::Context;
use plugin_api::shapes::{ModelShapes, Shape};
use plugin_api::testing::{self, OwnedImages, SessionBuilder};
use plugin_api::{KeyValue, Layer, Tensor, MANIFEST_DIR_OPTION};

use crate::dataset::{self, PreparedSplit};
use crate::manifest::Manifest;
use crate::plan;

/// Training images a check uses at most: 200 in batches of 32 is six full batches and a
/// partial one; three epochs make 600 samples.
const TRAIN: usize = 200;
const TEST: usize = 100;
pub const EPOCHS: u32 = 3;

/// Everything a check session is made of, owned.
#[derive(Clone)]
pub struct CheckSetup {
    pub plugin_name: String,
    pub model: Vec<Layer>,
    pub train: OwnedImages,
    pub test: OwnedImages,
    pub batch_size: u32,
    pub threads: u32,
    pub device: String,
    pub optimizer: plugin_api::Optimizer,
    pub seed: u64,
    /// The options, `manifest_dir` included when there is a manifest.
    pub options: Vec<(String, String)>,
    /// Where the data came from, for the printed description.
    pub source: String,
}

impl CheckSetup {
    /// The synthetic session, or the manifest's (for the plugin whose path is `file`), with
    /// `extra` options added over the manifest's.
    pub fn new(
        file: &Path,
        manifest: Option<&Path>,
        extra: &[(String, String)],
    ) -> anyhow::Result<CheckSetup> {
        let mut setup = match manifest {
            None => synthetic(file),
            Some(path) => from_manifest(file, path)?,
        };
        for (key, value) in extra {
            setup.options.retain(|(k, _)| k != key);
            setup.options.push((key.clone(), value.clone()));
        }
        Ok(setup)
    }

    /// A builder over this setup's data; `options` and `weights` are borrowed for its life.
    pub fn builder<'a>(
        &self,
        options: &'a [(String, String)],
        weights: Option<&'a [Tensor<'a>]>,
    ) -> SessionBuilder<'a> {
        let options: Vec<KeyValue<'a>> = options.iter().map(|(k, v)| KeyValue::new(k, v)).collect();
        let builder = SessionBuilder::from_images(self.train.clone(), self.test.clone())
            .plugin_name(&self.plugin_name)
            .model(&self.model)
            .optimizer(self.optimizer)
            .epochs(EPOCHS)
            .batch_size(self.batch_size)
            .seed(self.seed)
            .threads(self.threads)
            .device(&self.device)
            .options(&options);
        match weights {
            Some(w) => builder.initial_weights(w),
            None => builder,
        }
    }

    /// One line per fact, as `host check-plugin` prints them.
    pub fn describe(&self) -> Vec<String> {
        let layers: Vec<String> = self.model.iter().map(describe_layer).collect();
        let options: Vec<String> = self
            .options
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        vec![
            format!("model: {}", layers.join(" → ")),
            format!(
                "data: {} training and {} test images ({}), {EPOCHS} epochs in batches of {}",
                self.train.labels.len(),
                self.test.labels.len(),
                self.source,
                self.batch_size
            ),
            format!(
                "threads: {}, device: {}, seed: {}, Adam lr {}",
                self.threads, self.device, self.seed, self.optimizer.learning_rate
            ),
            format!(
                "options: {}",
                if options.is_empty() {
                    "none".into()
                } else {
                    options.join(", ")
                }
            ),
        ]
    }
}

fn describe_layer(layer: &Layer) -> String {
    match *layer {
        Layer::Conv2d {
            filters, kernel, ..
        } => format!("conv2d {filters}×{kernel}²"),
        Layer::MaxPool2d { size, .. } => format!("maxpool {size}"),
        Layer::Flatten => "flatten".into(),
        Layer::Dropout { rate } => format!("dropout {rate}"),
        Layer::Dense { units, .. } => format!("dense {units}"),
    }
}

/// plugin-api's small CNN (with a dropout) on synthetic digits, one thread.
fn synthetic(file: &Path) -> CheckSetup {
    let builder = SessionBuilder::synthetic(TRAIN, TEST);
    let session = builder.session();
    CheckSetup {
        plugin_name: plugin_stem(file),
        model: testing::small_cnn(),
        train: builder.train().clone(),
        test: builder.test().clone(),
        batch_size: 32,
        threads: 1,
        device: "cpu".into(),
        optimizer: session.optimizer,
        seed: 7,
        options: Vec::new(),
        source: "synthetic digits".into(),
    }
}

/// `libplugin_NAME.so` → `NAME`.
fn plugin_stem(file: &Path) -> String {
    let stem = file.file_stem().map(|s| s.to_string_lossy().into_owned());
    let stem = stem.unwrap_or_default();
    stem.strip_prefix("libplugin_").unwrap_or(&stem).to_string()
}

/// The manifest's settings for the plugin at `file`, on its first images.
fn from_manifest(file: &Path, path: &Path) -> anyhow::Result<CheckSetup> {
    let manifest = Manifest::load(path)?;
    let wanted = std::fs::canonicalize(file).unwrap_or_else(|_| file.to_path_buf());
    let same = |p: &PathBuf| std::fs::canonicalize(p).is_ok_and(|p| p == wanted);
    let spec = match manifest.plugins.iter().find(|p| same(&p.path)) {
        Some(spec) => spec,
        None => {
            let names: Vec<String> = manifest
                .plugins
                .iter()
                .map(|p| format!("{} ({})", p.name, p.path.display()))
                .collect();
            return Err(crate::error::usage(format!(
                "{}: no [[plugin]] names {} (it has: {})",
                path.display(),
                file.display(),
                names.join(", ")
            )));
        }
    };
    let prepared = dataset::prepare(&manifest.dataset)?;
    let manifest_dir = std::fs::canonicalize(path)
        .ok()
        .and_then(|p| p.parent().map(|d| d.to_string_lossy().into_owned()))
        .context("the manifest's folder")?;
    let mut options = spec.options.clone();
    if !options.iter().any(|(k, _)| k == MANIFEST_DIR_OPTION) {
        options.push((MANIFEST_DIR_OPTION.into(), manifest_dir));
    }
    let t = &manifest.training;
    Ok(CheckSetup {
        plugin_name: spec.name.clone(),
        model: manifest.model.clone(),
        train: first(&prepared.train, TRAIN),
        test: first(&prepared.test, TEST),
        batch_size: t.batch_size,
        threads: t.threads,
        device: t.device.clone(),
        optimizer: t.optimizer,
        seed: plan::trainer_seed(manifest.experiment.seed, 1),
        options,
        source: format!("the first images of {}'s dataset", path.display()),
    })
}

/// The first `n` images of a prepared split.
fn first(split: &PreparedSplit, n: usize) -> OwnedImages {
    let n = n.min(split.count);
    let len = split.rows * split.cols;
    OwnedImages {
        pixels: split.pixels[..n * len].to_vec(),
        labels: split.labels[..n].to_vec(),
        channels: 1,
        height: split.rows as u32,
        width: split.cols as u32,
    }
}

/// Initial weights for `model` on `setup`'s images, named and shaped as the session
/// documents: uniform in ±1/√fan_in, from a seed of their own. `None` when the model cannot
/// be walked (the plugin will say why).
pub struct OwnedWeights {
    names: Vec<String>,
    shapes: Vec<Vec<u32>>,
    values: Vec<Vec<f32>>,
}

impl OwnedWeights {
    pub fn new(setup: &CheckSetup) -> Option<OwnedWeights> {
        let input = Shape::image(1, setup.train.height as usize, setup.train.width as usize);
        let shapes = ModelShapes::walk(input, &setup.model).ok()?;
        let mut rng = plugin_api::rng::SplitMix64::new(0x005e_ed0f_c4ec);
        let mut w = OwnedWeights {
            names: vec![],
            shapes: vec![],
            values: vec![],
        };
        for layer in &shapes.layers {
            let Some(p) = &layer.params else { continue };
            let bound = 1.0 / (p.fan_in.max(1) as f32).sqrt();
            let mut tensor = |name: String, shape: Vec<usize>| {
                let len = shape.iter().product();
                w.names.push(name);
                w.shapes.push(shape.iter().map(|&d| d as u32).collect());
                w.values.push(
                    (0..len)
                        .map(|_| (rng.next_f32() * 2.0 - 1.0) * bound)
                        .collect(),
                );
            };
            tensor(layer.weight_name(), p.weight.clone());
            tensor(layer.bias_name(), vec![p.bias]);
        }
        Some(w)
    }

    pub fn tensors(&self) -> Vec<Tensor<'_>> {
        (0..self.names.len())
            .map(|i| Tensor::new(&self.names[i], &self.shapes[i], &self.values[i]))
            .collect()
    }
}
