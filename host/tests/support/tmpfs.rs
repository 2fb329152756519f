//! A small tmpfs mounted over a folder, filled to the last byte: a real full disk (ENOSPC) for
//! the tests of what a campaign and its analysis do when they cannot write.
//!
//! Mounting needs root (or CAP_SYS_ADMIN). Without it [`FullDisk::mount`] returns `None` and
//! the test says why it is skipped — except under CI (`CI` set), where the test must run.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

/// A full tmpfs mounted at a folder; unmounted when dropped.
pub struct FullDisk {
    at: PathBuf,
    filler: PathBuf,
}

impl FullDisk {
    /// Mounts a tmpfs of `size` (`64k`, `16m`) at `at` (created if missing) and fills it.
    pub fn mount(at: &Path, size: &str) -> Option<FullDisk> {
        std::fs::create_dir_all(at).expect("mount point");
        let out = Command::new("mount")
            .args([
                "-t",
                "tmpfs",
                "-o",
                &format!("size={size}"),
                "joulebench-full",
            ])
            .arg(at)
            .output();
        let refused = match out {
            Ok(o) if o.status.success() => None,
            Ok(o) => Some(String::from_utf8_lossy(&o.stderr).trim().to_string()),
            Err(e) => Some(e.to_string()),
        };
        if let Some(why) = refused {
            assert!(
                std::env::var_os("CI").is_none(),
                "CI must run the full-disk tests, but mounting a tmpfs failed: {why}"
            );
            eprintln!(
                "SKIPPED: cannot mount a tmpfs to fill ({why}); run as root to test a full disk"
            );
            return None;
        }
        let disk = FullDisk {
            at: at.to_path_buf(),
            filler: at.join("filler"),
        };
        disk.fill();
        Some(disk)
    }

    /// Writes the filler until the disk refuses a byte more.
    pub fn fill(&self) {
        let mut f = std::fs::File::create(&self.filler).expect("filler");
        let block = [0u8; 4096];
        loop {
            if let Err(e) = f.write_all(&block) {
                assert_eq!(e.raw_os_error(), Some(libc::ENOSPC), "{e}");
                break;
            }
        }
        let mut byte = std::fs::OpenOptions::new()
            .append(true)
            .open(&self.filler)
            .expect("filler");
        while byte.write_all(&[0]).is_ok() {}
    }

    /// Frees the space (the disk stays mounted).
    pub fn free(&self) {
        std::fs::remove_file(&self.filler).expect("remove filler");
    }

    /// The files on the disk besides the filler.
    pub fn others(&self) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(&self.at)
            .expect("list")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .filter(|n| n != "filler")
            .collect();
        names.sort();
        names
    }
}

impl Drop for FullDisk {
    fn drop(&mut self) {
        // Lazy: a process still holding a file there does not keep the mount.
        let _ = Command::new("umount").arg("-l").arg(&self.at).status();
    }
}
