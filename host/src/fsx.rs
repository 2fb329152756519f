//! File helpers several modules need: crash-safe writes and SHA-256 digests.
//!
//! A leaf: it imports nothing from the crate, so the manifest, the dataset, the store and the
//! provenance record can all use it without depending on each other.

use std::io::{Read, Write};
use std::path::Path;

use anyhow::Context;
use sha2::{Digest, Sha256};

/// Replaces `path` with `bytes` atomically: a temporary file beside it (`.<name>.part`) is
/// written and fsynced, then renamed over it, and the folder is fsynced. A crash at any moment
/// leaves either the old file or the new one, never an empty or partial one (campaign.json is
/// saved several times during a campaign and resume needs it; the MNIST cache keeps only whole,
/// verified files). A failed write (a full disk) removes the temporary file.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let name = path
        .file_name()
        .with_context(|| format!("{} names no file", path.display()))?;
    let tmp = path.with_file_name(format!(".{}.part", name.to_string_lossy()));
    let write = || -> std::io::Result<()> {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)?;
        sync_parent(path)
    };
    write()
        .inspect_err(|_| remove_leftover(&tmp))
        .with_context(|| format!("cannot write {}", path.display()))
}

/// As [`write_atomically`], for writers that want a path rather than bytes (plot backends):
/// `write` fills a temporary file beside `path` — `.part-<name>`, so that it keeps the
/// extension a writer may choose its format by — which is then fsynced and renamed over `path`.
/// On any failure the temporary file is removed and `path` is left as it was.
pub fn write_atomically_with(
    path: &Path,
    write: impl FnOnce(&Path) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    let name = path
        .file_name()
        .with_context(|| format!("{} names no file", path.display()))?;
    let tmp = path.with_file_name(format!(".part-{}", name.to_string_lossy()));
    let publish = || -> std::io::Result<()> {
        std::fs::File::open(&tmp)?.sync_all()?;
        std::fs::rename(&tmp, path)?;
        sync_parent(path)
    };
    write(&tmp)
        .and_then(|()| publish().with_context(|| format!("cannot write {}", path.display())))
        .inspect_err(|_| remove_leftover(&tmp))
}

/// Best effort: a temporary file left by a failed write goes (a full disk may refuse even
/// that, and then the hidden `.part` file is all that is left).
fn remove_leftover(tmp: &Path) {
    let _ = std::fs::remove_file(tmp);
}

/// Fsyncs the folder holding `path`, so that a file created or renamed there survives a crash
/// (fsyncing the file saves its bytes, not its name).
pub fn sync_parent(path: &Path) -> std::io::Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    std::fs::File::open(dir)?.sync_all()
}

/// Lower-case hex SHA-256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

/// Lower-case hex SHA-256 of a file's bytes, streamed (plugin libraries can be large).
pub fn sha256_file(path: &Path) -> anyhow::Result<String> {
    let mut file = std::fs::File::open(path).with_context(|| format!("open {}", path.display()))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = match file.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e).with_context(|| format!("read {}", path.display())),
        };
        hasher.update(&buf[..n]);
    }
    Ok(hex(&hasher.finalize()))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digests_match_the_published_test_vectors() {
        // FIPS 180-2's "abc" vector; the empty string's digest.
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(
            sha256_hex(b""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }

    #[test]
    fn an_atomic_write_replaces_the_file_and_leaves_no_part_file() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("state.json");
        write_atomically(&path, b"one").unwrap();
        write_atomically(&path, b"two").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"two");
        assert!(!dir.path().join(".state.json.part").exists());
        assert_eq!(sha256_file(&path).unwrap(), sha256_hex(b"two"));
        let err = write_atomically(&dir.path().join("missing/x"), b"").unwrap_err();
        assert!(format!("{err:#}").contains("cannot write"), "{err:#}");
    }

    #[test]
    fn a_failed_write_through_a_path_keeps_the_old_file_and_no_partial_one() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("plot.png");
        write_atomically_with(&path, |tmp| {
            assert!(tmp.to_string_lossy().ends_with(".png"), "{}", tmp.display());
            Ok(std::fs::write(tmp, b"old")?)
        })
        .unwrap();
        let err = write_atomically_with(&path, |tmp| {
            std::fs::write(tmp, b"half")?;
            anyhow::bail!("the disk filled up")
        })
        .unwrap_err();
        assert!(format!("{err:#}").contains("the disk filled up"), "{err:#}");
        assert_eq!(std::fs::read(&path).unwrap(), b"old");
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("plot.png")]);
    }
}
