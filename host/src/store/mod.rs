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

/// Replaces `path` with `bytes` atomically: a temporary file beside it (`.<name>.part`) is
/// written and fsynced, then renamed over it, and the folder is fsynced. A crash at any moment
/// leaves either the old file or the new one, never an empty or partial one (campaign.json is
/// saved several times during a campaign and resume needs it; the MNIST cache keeps only whole,
/// verified files).
pub fn write_atomically(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    use std::io::Write;
    let name = path
        .file_name()
        .with_context(|| format!("{} names no file", path.display()))?;
    let tmp = path.with_file_name(format!(".{}.part", name.to_string_lossy()));
    let write = || -> std::io::Result<()> {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)?;
        sync_dir(path.parent().unwrap_or(Path::new(".")))
    };
    write().with_context(|| format!("cannot write {}", path.display()))
}

/// Fsyncs a folder, so that files created or renamed in it survive a crash.
pub(crate) fn sync_dir(dir: &Path) -> std::io::Result<()> {
    let dir = if dir.as_os_str().is_empty() {
        Path::new(".")
    } else {
        dir
    };
    std::fs::File::open(dir)?.sync_all()
}
