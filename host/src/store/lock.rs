//! One host at a time per campaign folder: an exclusive advisory lock (`flock`) on the folder's
//! `lock` file, held from opening the folder to the end of its analysis.
//!
//! The kernel releases a `flock` when its holder dies, however it dies, so a lock file left by
//! a killed host is taken over by the next one without any check of ours: its contents (who
//! holds it: PID, host name, start time) are only there to tell a second host whom it waits
//! for. The file is never deleted: a host that removed it on exit could let two others lock two
//! different files of the same name.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, Write};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};

use anyhow::Context;

use crate::error::usage;

/// The folder's lock, held while this value lives.
#[derive(Debug)]
pub struct CampaignLock {
    /// Closing it releases the lock.
    file: File,
    path: PathBuf,
}

impl CampaignLock {
    /// Takes the lock at `path` (created if missing) or, when another host holds it, fails
    /// with a usage error (exit 2) that says who holds it.
    pub fn acquire(path: &Path) -> anyhow::Result<CampaignLock> {
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
            .with_context(|| format!("cannot open the lock file {}", path.display()))?;
        if !try_lock(&file, path)? {
            // A holder without a name has just let go (it empties the file first), or is a
            // child forked with a host's descriptor an instant before its exec: `holder` gave
            // it a moment, so try once more before refusing.
            let who = holder(&mut file);
            if who.is_some() || !try_lock(&file, path)? {
                return Err(usage(format!(
                    "{} is in use by another host: {}. One host at a time per campaign folder; \
                     wait for it to end, or stop it (a killed host's lock is released by itself)",
                    path.parent().unwrap_or(path).display(),
                    who.unwrap_or_else(|| {
                        "a host that has not written its name in the lock file".into()
                    })
                )));
            }
        }
        let me = format!(
            "pid={}\nhost={}\nstarted={}\n",
            std::process::id(),
            hostname(),
            humantime::format_rfc3339_seconds(std::time::SystemTime::now())
        );
        file.set_len(0)
            .and_then(|()| file.write_all(me.as_bytes()))
            .and_then(|()| file.sync_data())
            .with_context(|| format!("cannot write the lock file {}", path.display()))?;
        Ok(CampaignLock {
            file,
            path: path.to_path_buf(),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for CampaignLock {
    /// Empties the file before letting go, so that the next host's name is the only one a
    /// refused host can read there (a killed host's name stays, but then the lock is free).
    fn drop(&mut self) {
        let _ = self.file.set_len(0);
    }
}

/// `host analyze --out DIR`: when DIR is a campaign folder's own `analysis/`, that folder's
/// lock, so that an analysis is not written while a host is still running the campaign (or
/// writing its analysis).
pub fn lock_for_analysis(out: &Path) -> anyhow::Result<Option<CampaignLock>> {
    let campaign = match out.parent() {
        Some(p) if p.as_os_str().is_empty() => Path::new("."),
        Some(p) => p,
        None => return Ok(None),
    };
    let dir = super::CampaignDir::open(campaign);
    if out.file_name() != dir.analysis().file_name() || !dir.state_json().is_file() {
        return Ok(None);
    }
    CampaignLock::acquire(&dir.lock_file()).map(Some)
}

/// Takes the lock without waiting: false when another open file holds it.
fn try_lock(file: &File, path: &Path) -> anyhow::Result<bool> {
    // SAFETY: flock on a descriptor the caller owns.
    if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } == 0 {
        return Ok(true);
    }
    let err = std::io::Error::last_os_error();
    if err.raw_os_error() == Some(libc::EWOULDBLOCK) {
        return Ok(false);
    }
    Err(err).with_context(|| format!("cannot lock {}", path.display()))
}

/// Who the lock file says holds it, on one line; `None` when it names nobody.
fn holder(file: &mut File) -> Option<String> {
    let mut text = String::new();
    // A holder that locked the file an instant ago writes its name next: give it a moment.
    for _ in 0..20 {
        text.clear();
        if file.rewind().is_err() || file.read_to_string(&mut text).is_err() {
            return Some("its lock file is unreadable".into());
        }
        if !text.trim().is_empty() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(25));
    }
    if text.trim().is_empty() {
        return None;
    }
    let field = |key: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(key)?.strip_prefix('='))
            .unwrap_or("?")
            .to_string()
    };
    Some(format!(
        "PID {} on {}, since {}",
        field("pid"),
        field("host"),
        field("started")
    ))
}

/// This machine's name, for the lock file (a shared file system may be locked from several).
fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .unwrap_or_else(|_| "?".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_holder_is_refused_with_who_holds_it_until_the_first_lets_go() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("lock");
        // A stale lock file from a dead host: its contents alone hold nothing.
        std::fs::write(
            &path,
            "pid=999999\nhost=gone\nstarted=2020-01-01T00:00:00Z\n",
        )
        .unwrap();
        let first = CampaignLock::acquire(&path).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(
            text.contains(&format!("pid={}\n", std::process::id())),
            "{text}"
        );
        // flock locks belong to the open file description: a second open in this process
        // conflicts just as another process would.
        let err = CampaignLock::acquire(&path).unwrap_err();
        assert!(crate::error::is_usage(&err), "{err:#}");
        let msg = format!("{err:#}");
        assert!(
            msg.contains(&format!("PID {} on {}", std::process::id(), hostname())),
            "{msg}"
        );
        drop(first);
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            "",
            "no stale name is left"
        );
        let again = CampaignLock::acquire(&path).unwrap();
        assert_eq!(again.path(), path);
    }

    #[test]
    fn an_analysis_into_a_campaign_folder_waits_for_its_host_and_elsewhere_takes_no_lock() {
        let dir = tempfile::tempdir().unwrap();
        let campaign = super::super::CampaignDir::open(dir.path());
        let out = campaign.analysis();
        assert!(
            lock_for_analysis(&out).unwrap().is_none(),
            "not a campaign yet"
        );
        std::fs::write(campaign.state_json(), "{}").unwrap();
        let host = CampaignLock::acquire(&campaign.lock_file()).unwrap();
        let err = lock_for_analysis(&out).unwrap_err();
        assert!(crate::error::is_usage(&err), "{err:#}");
        assert!(
            lock_for_analysis(&dir.path().join("elsewhere"))
                .unwrap()
                .is_none(),
            "another output folder is free"
        );
        drop(host);
        assert!(lock_for_analysis(&out).unwrap().is_some());
    }
}
