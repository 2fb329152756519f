//! Results on disk: the campaign folder and its files.
//!
//! ```text
//! results/<campaign>-<UTC time>/  manifest.toml  runs.csv  samples/<iter>-<plugin>.csv
//!                                 logs/<iter>-<plugin>.log  analysis/...
//! ```

pub mod record;
pub mod runs_csv;

use std::path::{Path, PathBuf};

use anyhow::Context;

/// A campaign's output folder.
pub struct CampaignDir {
    pub root: PathBuf,
}

impl CampaignDir {
    /// Creates `out`, or `results/<name>-<UTC timestamp>` when `out` is `None`.
    /// Refuses a folder that already holds a runs.csv (that is what `--resume` is for).
    pub fn create(out: Option<&Path>, name: &str) -> anyhow::Result<CampaignDir> {
        let root = match out {
            Some(p) => p.to_path_buf(),
            None => {
                let stamp = humantime::format_rfc3339_seconds(std::time::SystemTime::now())
                    .to_string()
                    .replace(':', "");
                PathBuf::from("results").join(format!("{name}-{stamp}"))
            }
        };
        if root.join("runs.csv").exists() {
            return Err(crate::error::usage(format!(
                "{} already holds a campaign (runs.csv); choose another --out",
                root.display()
            )));
        }
        for sub in ["", "samples", "logs"] {
            let dir = root.join(sub);
            std::fs::create_dir_all(&dir)
                .with_context(|| format!("cannot create {}", dir.display()))?;
        }
        Ok(CampaignDir { root })
    }

    pub fn runs_csv(&self) -> PathBuf {
        self.root.join("runs.csv")
    }
    pub fn manifest_copy(&self) -> PathBuf {
        self.root.join("manifest.toml")
    }
    pub fn samples(&self, stem: &Path) -> PathBuf {
        self.root.join("samples").join(stem).with_extension("csv")
    }
    pub fn log(&self, stem: &Path) -> PathBuf {
        self.root.join("logs").join(stem).with_extension("log")
    }
    pub fn analysis(&self) -> PathBuf {
        self.root.join("analysis")
    }
}
