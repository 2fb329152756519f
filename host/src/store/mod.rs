//! Results on disk: the campaign folder ([`CampaignDir`], the one place that names its files),
//! its lock ([`lock`]), the row of one run ([`record`]) and runs.csv ([`runs_csv`]).
//!
//! ```text
//! results/<campaign>-<UTC time>/  manifest.toml  campaign.json  environment.json  runs.csv  lock
//!                                 environment-resume-<UTC time>.json (one per resume)
//!                                 samples/<iter>-<plugin>[-retry<k>].csv
//!                                 logs/<iter>-<plugin>[-retry<k>].log  analysis/...
//! ```

pub mod lock;
pub mod record;
pub mod runs_csv;

use std::path::{Path, PathBuf};

use anyhow::Context;

/// A campaign's output folder: every file name in it is spelled here.
#[derive(Debug, Clone)]
pub struct CampaignDir {
    root: PathBuf,
}

/// The two files of one run: its energy samples and its worker's log.
#[derive(Debug, Clone, PartialEq)]
pub struct RunFiles {
    pub samples: PathBuf,
    pub log: PathBuf,
}

impl CampaignDir {
    /// Creates `out`, or `results/<name>-<UTC timestamp>` when `out` is `None`.
    /// Refuses a folder that already holds a runs.csv (that is what `--resume` is for).
    pub fn create(out: Option<&Path>, name: &str) -> anyhow::Result<CampaignDir> {
        let root = match out {
            Some(p) => p.to_path_buf(),
            None => PathBuf::from("results").join(format!("{name}-{}", timestamp())),
        };
        let dir = CampaignDir { root };
        dir.refuse_a_campaign()?;
        dir.make_folders()?;
        Ok(dir)
    }

    /// Creates the folder and its samples/ and logs/ if missing (a resume makes them again
    /// when a kill came before they were all made).
    pub fn make_folders(&self) -> anyhow::Result<()> {
        for sub in [self.root.clone(), self.samples_dir(), self.logs_dir()] {
            std::fs::create_dir_all(&sub)
                .with_context(|| format!("cannot create {}", sub.display()))?;
        }
        Ok(())
    }

    /// A usage error when the folder already holds a campaign (its runs.csv): checked again
    /// once the folder is locked, in case another host started one there meanwhile.
    pub fn refuse_a_campaign(&self) -> anyhow::Result<()> {
        if self.runs_csv().exists() {
            return Err(crate::error::usage(format!(
                "{} already holds a campaign (runs.csv); choose another --out, or continue it \
                 with --resume",
                self.root.display()
            )));
        }
        Ok(())
    }

    /// A folder that already holds (or may hold) a campaign; nothing is checked or created.
    pub fn open(root: &Path) -> CampaignDir {
        CampaignDir {
            root: root.to_path_buf(),
        }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn runs_csv(&self) -> PathBuf {
        self.root.join("runs.csv")
    }

    /// The manifest the campaign started with, copied byte for byte.
    pub fn manifest_copy(&self) -> PathBuf {
        self.root.join("manifest.toml")
    }

    /// What the campaign remembers about how it started (plan, seed, plugins, baselines).
    pub fn state_json(&self) -> PathBuf {
        self.root.join("campaign.json")
    }

    /// The lock file: one host at a time in this folder ([`lock::CampaignLock`]).
    pub fn lock_file(&self) -> PathBuf {
        self.root.join("lock")
    }

    /// Where this invocation records the machine: environment.json, unless that file already
    /// holds a record (a resume) — then `environment-resume-<captured_at>.json`, so the
    /// original is kept. An environment.json that is missing, empty or cut short (a full disk,
    /// a crash mid-write) is written again.
    pub fn environment_json(&self, captured_at: &str) -> PathBuf {
        let first = self.root.join("environment.json");
        let whole = std::fs::read(&first)
            .is_ok_and(|bytes| serde_json::from_slice::<serde_json::Value>(&bytes).is_ok());
        if !whole {
            first
        } else {
            self.root.join(format!(
                "environment-resume-{}.json",
                captured_at.replace(':', "")
            ))
        }
    }

    /// Where `host run` writes the analysis of this campaign.
    pub fn analysis(&self) -> PathBuf {
        self.root.join("analysis")
    }

    /// The files of one run: `<iteration>-<plugin>`, and `-retry<k>` for the k-th retry.
    pub fn run_files(&self, iteration: u32, plugin: &str, retry: u32) -> RunFiles {
        let mut stem = format!("{iteration}-{plugin}");
        if retry > 0 {
            stem.push_str(&format!("-retry{retry}"));
        }
        RunFiles {
            samples: self.samples_dir().join(format!("{stem}.csv")),
            log: self.logs_dir().join(format!("{stem}.log")),
        }
    }

    fn samples_dir(&self) -> PathBuf {
        self.root.join("samples")
    }

    fn logs_dir(&self) -> PathBuf {
        self.root.join("logs")
    }
}

/// Now in UTC, e.g. `2024-05-01T120000Z` (colons dropped: they are awkward in file names).
fn timestamp() -> String {
    humantime::format_rfc3339_seconds(std::time::SystemTime::now())
        .to_string()
        .replace(':', "")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_file_of_a_campaign_is_named_here() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = CampaignDir::create(Some(&tmp.path().join("c")), "x").unwrap();
        assert!(dir.root().join("samples").is_dir() && dir.root().join("logs").is_dir());
        let files = dir.run_files(3, "my.plugin", 0);
        assert_eq!(files.samples, dir.root().join("samples/3-my.plugin.csv"));
        assert_eq!(files.log, dir.root().join("logs/3-my.plugin.log"));
        let retry = dir.run_files(3, "spin", 2);
        assert_eq!(retry.log, dir.root().join("logs/3-spin-retry2.log"));

        let first = dir.environment_json("2024-01-01T00:00:00Z");
        assert_eq!(first, dir.root().join("environment.json"));
        std::fs::write(&first, "{}").unwrap();
        let again = dir.environment_json("2024-01-01T00:00:00Z");
        assert_eq!(
            again,
            dir.root()
                .join("environment-resume-2024-01-01T000000Z.json")
        );
        // Emptied by a full disk, or cut short: written again rather than kept.
        for broken in ["", "{\"captured_at\": \"20"] {
            std::fs::write(&first, broken).unwrap();
            assert_eq!(dir.environment_json("2024-01-01T00:00:00Z"), first);
        }
        assert_eq!(dir.lock_file(), dir.root().join("lock"));
        assert_eq!(dir.state_json(), dir.root().join("campaign.json"));

        std::fs::write(dir.runs_csv(), "").unwrap();
        let err = CampaignDir::create(Some(dir.root()), "x").unwrap_err();
        assert!(crate::error::is_usage(&err), "{err:#}");
    }
}
