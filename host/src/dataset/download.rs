//! Fetching MNIST into the user cache when no folder holds it, from the mirrors that PyTorch
//! and TensorFlow use. Every file is decompressed and checked against the published SHA-256
//! before it is kept, and it is kept by renaming a finished temporary file, so the cache never
//! holds a partial or wrong file.
//!
//! Mirrors: [`DEFAULT_MIRRORS`], or `$JOULEBENCH_MNIST_MIRRORS` (comma-separated base URLs;
//! empty turns downloading off). Tests point it at a loopback server.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{bail, Context};

use super::mnist::{decompress_if_gz, file_in, FILES};
use crate::fsx::{sha256_hex, write_atomically};

/// Base URLs holding `<name>.gz` for the four files.
pub const DEFAULT_MIRRORS: [&str; 2] = [
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
];

/// The environment variable that replaces [`DEFAULT_MIRRORS`].
pub const MIRRORS_ENV: &str = "JOULEBENCH_MNIST_MIRRORS";

/// The largest file is 9.9 MB compressed; anything far bigger is not MNIST.
const MAX_BYTES: u64 = 64 << 20;

/// The mirrors to try, in order.
pub fn mirrors() -> Vec<String> {
    match std::env::var(MIRRORS_ENV) {
        Ok(list) => list
            .split(',')
            .map(str::trim)
            .filter(|m| !m.is_empty())
            .map(String::from)
            .collect(),
        Err(_) => DEFAULT_MIRRORS.iter().map(|m| m.to_string()).collect(),
    }
}

/// Downloads every file `cache` lacks, trying `mirrors` in order for each. Returns `cache`.
/// `progress` hears one line per file fetched.
pub fn fetch_into(
    cache: &Path,
    mirrors: &[String],
    progress: &mut dyn FnMut(&str),
) -> anyhow::Result<PathBuf> {
    if mirrors.is_empty() {
        bail!("downloading is off (${MIRRORS_ENV} is empty)");
    }
    std::fs::create_dir_all(cache)
        .with_context(|| format!("cannot create the cache folder {}", cache.display()))?;
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_connect(Some(Duration::from_secs(15)))
        .timeout_global(Some(Duration::from_secs(300)))
        .user_agent(concat!("joulebench/", env!("CARGO_PKG_VERSION")))
        .build()
        .into();
    for (name, sum) in FILES {
        if file_in(cache, name).is_some() {
            continue;
        }
        let mut failures = Vec::new();
        let mut kept = None;
        for mirror in mirrors {
            let url = format!("{}/{name}.gz", mirror.trim_end_matches('/'));
            match fetch_verified(&agent, &url, sum) {
                Ok(bytes) => {
                    kept = Some((url, bytes));
                    break;
                }
                Err(e) => failures.push(format!("  {url}: {e:#}")),
            }
        }
        let Some((url, bytes)) = kept else {
            bail!(
                "cannot download {name}.gz from any mirror:\n{}",
                failures.join("\n")
            );
        };
        keep(cache, name, &bytes)?;
        progress(&format!(
            "  {name}.gz: {} kB from {url} (SHA-256 verified)",
            bytes.len() / 1000
        ));
    }
    Ok(cache.to_path_buf())
}

/// The file at `url`, if its decompressed bytes have the SHA-256 `sum`.
fn fetch_verified(agent: &ureq::Agent, url: &str, sum: &str) -> anyhow::Result<Vec<u8>> {
    let response = agent.get(url).call()?;
    let mut bytes = Vec::new();
    response
        .into_body()
        .into_with_config()
        .limit(MAX_BYTES)
        .reader()
        .read_to_end(&mut bytes)
        .context("download cut short")?;
    let content = decompress_if_gz(&bytes).with_context(|| format!("{url} is not valid gzip"))?;
    let got = sha256_hex(&content);
    if got != sum {
        bail!("SHA-256 of the decompressed file is {got}, expected {sum}: not the published MNIST");
    }
    Ok(bytes)
}

/// Keeps `<name>.gz` (or `<name>` when the server sent it decompressed), whole or not at all.
fn keep(cache: &Path, name: &str, bytes: &[u8]) -> anyhow::Result<()> {
    let file = if bytes.starts_with(&[0x1f, 0x8b]) {
        format!("{name}.gz")
    } else {
        name.to_string()
    };
    write_atomically(&cache.join(file), bytes)
}
