//! The training data (MNIST), loaded once per worker and shaped for the plugin ABI. Named
//! `dataset` after the manifest section it serves; `analysis::data` is the analysis's tidy table.

pub mod download;
pub mod mnist;

use anyhow::bail;

use crate::manifest::DatasetSpec;

/// Images as the ABI hands them to plugins: `f32` in `[0, 1]`, scaled once here so that every
/// framework trains on identical numbers.
#[derive(Debug, Clone)]
pub struct PreparedSplit {
    pub pixels: Vec<f32>,
    pub labels: Vec<u8>,
    pub count: usize,
    pub rows: usize,
    pub cols: usize,
}

#[derive(Debug, Clone)]
pub struct PreparedData {
    pub train: PreparedSplit,
    pub test: PreparedSplit,
    pub classes: u32,
}

/// Locates, verifies and prepares MNIST as the manifest asks (subsets take the first N).
pub fn prepare(spec: &DatasetSpec) -> anyhow::Result<PreparedData> {
    let dir = mnist::locate(spec.dir.as_deref())?;
    let data = mnist::load(&dir, mnist::Verify::Sha256)?;
    Ok(PreparedData {
        train: prepare_split(&data.train, spec.train_subset, "train_subset")?,
        test: prepare_split(&data.test, spec.test_subset, "test_subset")?,
        classes: 10,
    })
}

pub fn prepare_split(
    split: &mnist::Split,
    subset: Option<usize>,
    key: &str,
) -> anyhow::Result<PreparedSplit> {
    let count = match subset {
        Some(n) if n > split.count => {
            bail!(
                "[dataset] {key} = {n} but the split holds only {} images",
                split.count
            )
        }
        Some(n) => n,
        None => split.count,
    };
    let len = count * split.rows * split.cols;
    Ok(PreparedSplit {
        pixels: split.pixels[..len]
            .iter()
            .map(|&p| f32::from(p) / 255.0)
            .collect(),
        labels: split.labels[..count].to_vec(),
        count,
        rows: split.rows,
        cols: split.cols,
    })
}
