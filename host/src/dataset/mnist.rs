//! MNIST from its IDX files (raw or gzip), checked before use.
//!
//! Where the files are looked for, in order: the manifest's `dataset.dir`, `$MNIST_DIR`, the
//! user cache (`$XDG_CACHE_HOME/joulebench/mnist` or `~/.cache/joulebench/mnist`). When none
//! holds them and no folder was named (neither `dataset.dir` nor `$MNIST_DIR`), the host
//! downloads them into the cache ([`locate_or_download`], [`super::download`]); workers only
//! ever [`locate`]. A dataset that is still missing is an error that says where we looked and
//! how to fix it.
//!
//! Every file is checked three ways: the IDX magic number and dimensions, the counts (images
//! and labels agree, labels are digits), and the SHA-256 of the decompressed bytes against
//! the published files' sums, so a truncated download or a different dataset never trains.

use std::io::Read;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use flate2::read::GzDecoder;

use crate::fsx::sha256_hex;

/// One split: `count` images of `rows × cols` bytes (0..=255) and their labels.
#[derive(Debug, Clone)]
pub struct Split {
    pub pixels: Vec<u8>,
    pub labels: Vec<u8>,
    pub count: usize,
    pub rows: usize,
    pub cols: usize,
}

#[derive(Debug, Clone)]
pub struct Mnist {
    pub train: Split,
    pub test: Split,
    /// The folder the files came from.
    pub dir: PathBuf,
}

/// The four files, with the SHA-256 of their decompressed contents (from the published set).
pub(crate) const FILES: [(&str, &str); 4] = [
    (
        "train-images-idx3-ubyte",
        "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
    ),
    (
        "train-labels-idx1-ubyte",
        "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
    ),
    (
        "t10k-images-idx3-ubyte",
        "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
    ),
    (
        "t10k-labels-idx1-ubyte",
        "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
    ),
];

/// Whether to compare the files' SHA-256 with the published MNIST sums. Tests turn it off
/// to read small synthetic IDX files through the same code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verify {
    Sha256,
    StructureOnly,
}

/// The folders searched, in order, each with where it came from (for error messages).
pub fn candidate_dirs(manifest_dir: Option<&Path>) -> Vec<(PathBuf, &'static str)> {
    let mut dirs = Vec::new();
    if let Some(d) = manifest_dir {
        dirs.push((d.to_path_buf(), "the manifest's [dataset] dir"));
    }
    if let Some(d) = mnist_dir_env() {
        dirs.push((d, "$MNIST_DIR"));
    }
    if let Some(c) = cache_dir() {
        dirs.push((c, "the user cache"));
    }
    dirs
}

fn mnist_dir_env() -> Option<PathBuf> {
    std::env::var_os("MNIST_DIR")
        .filter(|d| !d.is_empty())
        .map(PathBuf::from)
}

/// `$XDG_CACHE_HOME/joulebench/mnist`, else `~/.cache/joulebench/mnist`.
pub fn cache_dir() -> Option<PathBuf> {
    std::env::var_os("XDG_CACHE_HOME")
        .filter(|d| !d.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .map(|c| c.join("joulebench").join("mnist"))
}

/// As [`locate`]; when no folder holds the files and none was named (a named folder that
/// lacks them is the user's mistake to hear about, not to route around), downloads them into
/// the user cache. `progress` hears what is being fetched.
pub fn locate_or_download(
    manifest_dir: Option<&Path>,
    progress: &mut dyn FnMut(&str),
) -> anyhow::Result<PathBuf> {
    let not_found = match locate(manifest_dir) {
        Ok(dir) => return Ok(dir),
        Err(e) => e,
    };
    let (None, None, Some(cache)) = (manifest_dir, mnist_dir_env(), cache_dir()) else {
        return Err(not_found);
    };
    let mirrors = super::download::mirrors();
    if mirrors.is_empty() {
        return Err(not_found);
    }
    progress(&format!(
        "MNIST not found; downloading it into {} (mirrors: {})",
        cache.display(),
        mirrors.join(", ")
    ));
    super::download::fetch_into(&cache, &mirrors, progress)
        .map_err(|e| anyhow::anyhow!("{not_found:#}\nDownloading it failed too: {e:#}"))
}

/// Finds the first folder that holds all four files (raw or .gz).
pub fn locate(manifest_dir: Option<&Path>) -> anyhow::Result<PathBuf> {
    let candidates = candidate_dirs(manifest_dir);
    for (dir, _) in &candidates {
        if FILES.iter().all(|(name, _)| file_in(dir, name).is_some()) {
            return Ok(dir.clone());
        }
    }
    let looked: Vec<String> = candidates
        .iter()
        .map(|(d, why)| format!("  {} ({why})", d.display()))
        .collect();
    bail!(
        "MNIST not found. Looked for {} (raw or .gz) in:\n{}\nFix: set [dataset] dir in the manifest, \
         or MNIST_DIR=/path/to/mnist, or copy the four files into the cache folder above.",
        FILES.map(|(n, _)| n).join(", "),
        looked.join("\n")
    )
}

/// Loads and checks all four files from `dir`.
pub fn load(dir: &Path, verify: Verify) -> anyhow::Result<Mnist> {
    let read = |i: usize| -> anyhow::Result<Vec<u8>> {
        let (name, sum) = FILES[i];
        let path = file_in(dir, name)
            .with_context(|| format!("{name} (or {name}.gz) is missing from {}", dir.display()))?;
        let bytes = read_maybe_gz(&path)?;
        if verify == Verify::Sha256 {
            let got = sha256_hex(&bytes);
            if got != sum {
                bail!(
                    "{}: SHA-256 of the decompressed file is {got}, expected {sum}: \
                     the file is corrupt, truncated or not the published MNIST",
                    path.display()
                );
            }
        }
        Ok(bytes)
    };
    let split = |images: usize, labels: usize| -> anyhow::Result<Split> {
        let (i_name, l_name) = (FILES[images].0, FILES[labels].0);
        let (count, rows, cols, pixels) = parse_images(&read(images)?)
            .with_context(|| format!("{i_name} in {}", dir.display()))?;
        let labels = parse_labels(&read(labels)?)
            .with_context(|| format!("{l_name} in {}", dir.display()))?;
        if labels.len() != count {
            bail!(
                "{i_name} holds {count} images but {l_name} holds {} labels",
                labels.len()
            );
        }
        Ok(Split {
            pixels,
            labels,
            count,
            rows,
            cols,
        })
    };
    Ok(Mnist {
        train: split(0, 1)?,
        test: split(2, 3)?,
        dir: dir.to_path_buf(),
    })
}

pub(crate) fn file_in(dir: &Path, name: &str) -> Option<PathBuf> {
    [dir.join(name), dir.join(format!("{name}.gz"))]
        .into_iter()
        .find(|p| p.is_file())
}

fn read_maybe_gz(path: &Path) -> anyhow::Result<Vec<u8>> {
    let raw = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    decompress_if_gz(&raw).with_context(|| format!("{}", path.display()))
}

/// The bytes themselves, or what they inflate to when they are gzip (magic 1f 8b).
pub(crate) fn decompress_if_gz(raw: &[u8]) -> anyhow::Result<Vec<u8>> {
    if !raw.starts_with(&[0x1f, 0x8b]) {
        return Ok(raw.to_vec());
    }
    let mut out = Vec::with_capacity(raw.len() * 4);
    GzDecoder::new(raw)
        .read_to_end(&mut out)
        .context("not a valid gzip stream (truncated?)")?;
    Ok(out)
}

fn be_u32(bytes: &[u8], at: usize) -> anyhow::Result<u32> {
    bytes
        .get(at..at + 4)
        .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
        .with_context(|| format!("file ends at byte {} inside its header", bytes.len()))
}

/// IDX3 of unsigned bytes: magic 0x00000803, count, rows, cols, then the pixels.
pub fn parse_images(bytes: &[u8]) -> anyhow::Result<(usize, usize, usize, Vec<u8>)> {
    let magic = be_u32(bytes, 0)?;
    if magic != 0x0803 {
        bail!(
            "magic number {magic:#010x}, expected 0x00000803 (IDX, unsigned bytes, 3 dimensions)"
        );
    }
    let (count, rows, cols) = (
        be_u32(bytes, 4)? as usize,
        be_u32(bytes, 8)? as usize,
        be_u32(bytes, 12)? as usize,
    );
    if rows == 0 || cols == 0 || rows > 4096 || cols > 4096 {
        bail!("implausible image size {rows}×{cols}");
    }
    let expected = count
        .checked_mul(rows * cols)
        .context("image count overflows")?;
    let body = &bytes[16..];
    if body.len() != expected {
        bail!(
            "header says {count} images of {rows}×{cols} ({expected} bytes) but the file holds {} bytes \
             of pixels: truncated or corrupt",
            body.len()
        );
    }
    Ok((count, rows, cols, body.to_vec()))
}

/// IDX1 of unsigned bytes: magic 0x00000801, count, then the labels (digits 0..=9).
pub fn parse_labels(bytes: &[u8]) -> anyhow::Result<Vec<u8>> {
    let magic = be_u32(bytes, 0)?;
    if magic != 0x0801 {
        bail!("magic number {magic:#010x}, expected 0x00000801 (IDX, unsigned bytes, 1 dimension)");
    }
    let count = be_u32(bytes, 4)? as usize;
    let body = &bytes[8..];
    if body.len() != count {
        bail!(
            "header says {count} labels but the file holds {}: truncated or corrupt",
            body.len()
        );
    }
    if let Some(pos) = body.iter().position(|&l| l > 9) {
        bail!("label {} at index {pos} is not a digit 0-9", body[pos]);
    }
    Ok(body.to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn idx_images(count: u32, rows: u32, cols: u32, body_len: usize) -> Vec<u8> {
        let mut b = vec![0, 0, 8, 3];
        for v in [count, rows, cols] {
            b.extend_from_slice(&v.to_be_bytes());
        }
        b.extend(std::iter::repeat_n(7u8, body_len));
        b
    }

    #[test]
    fn parses_a_well_formed_image_file() {
        let (n, r, c, px) = parse_images(&idx_images(2, 3, 4, 24)).expect("valid");
        assert_eq!((n, r, c, px.len()), (2, 3, 4, 24));
    }

    #[test]
    fn refuses_truncated_and_wrong_magic() {
        let err = parse_images(&idx_images(2, 3, 4, 23))
            .unwrap_err()
            .to_string();
        assert!(err.contains("truncated"), "{err}");
        let mut bad = idx_images(1, 1, 1, 1);
        bad[3] = 1;
        let err = parse_images(&bad).unwrap_err().to_string();
        assert!(err.contains("magic number"), "{err}");
        let err = parse_images(&[0, 0, 8]).unwrap_err().to_string();
        assert!(err.contains("header"), "{err}");
    }

    #[test]
    fn refuses_labels_that_are_not_digits() {
        let mut b = vec![0, 0, 8, 1, 0, 0, 0, 2];
        b.extend([3, 12]);
        let err = parse_labels(&b).unwrap_err().to_string();
        assert!(err.contains("not a digit"), "{err}");
    }
}
