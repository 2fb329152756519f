//! The worker's lifeline to the host: when the host dies — even by `kill -9` — the worker's
//! whole process group dies with it, the plugin's own children included.
//!
//! Why a pipe and not the usual tools:
//! - `PR_SET_PDEATHSIG` reaches the worker only, never what the plugin forked (a framework's
//!   helper processes, a Python multiprocessing pool): those would be reparented to PID 1 and
//!   go on burning energy into the next measurements.
//! - A child subreaper (`PR_SET_CHILD_SUBREAPER`) in the host dies with the host; in the
//!   worker it dies with the worker. Neither is left to clean up after a `kill -9`.
//! - The host is the only writer of a pipe whose read end is the worker's stdin, and never
//!   writes to it. The kernel closes the write end whatever kills the host, so a thread of the
//!   worker blocked reading it wakes up to end-of-file and kills the worker's process group
//!   (`kill(0, SIGKILL)`: the worker is its group's leader, see the supervisor), the worker
//!   itself last. That needs no signal handler a plugin could replace.
//!
//! The worker takes the pipe off fd 0 at once (a close-on-exec copy, /dev/null in its place),
//! so that plugin code reading or closing its stdin cannot cut the line, and programs the
//! plugin starts do not inherit it.

use std::fs::File;
use std::io::Read;
use std::os::fd::FromRawFd;

use anyhow::{bail, Context};

/// Watches stdin, which must be the host's pipe: on its end (the host died) the worker's
/// process group is killed. Returns once the watching thread runs.
pub fn watch_stdin() -> anyhow::Result<()> {
    let pipe = take_stdin()?;
    std::thread::Builder::new()
        .name("host-lifeline".into())
        .spawn(move || wait_for_end(pipe))
        .context("cannot start the thread that watches the host")?;
    Ok(())
}

/// A close-on-exec copy of fd 0, with /dev/null put in its place.
fn take_stdin() -> anyhow::Result<File> {
    // SAFETY: fcntl/open/dup2 on the process's own descriptors; the copy is owned by the File
    // from here on, and fd 0 stays a valid descriptor (/dev/null) for whoever reads it.
    unsafe {
        let copy = libc::fcntl(0, libc::F_DUPFD_CLOEXEC, 3);
        if copy < 0 {
            bail!("dup(stdin) failed: {}", std::io::Error::last_os_error());
        }
        let null = libc::open(c"/dev/null".as_ptr(), libc::O_RDONLY | libc::O_CLOEXEC);
        if null >= 0 {
            libc::dup2(null, 0);
            libc::close(null);
        }
        Ok(File::from_raw_fd(copy))
    }
}

/// Blocks until the host's end of the pipe closes, then kills the process group.
fn wait_for_end(mut pipe: File) {
    let mut buf = [0u8; 64];
    loop {
        match pipe.read(&mut buf) {
            // The host writes nothing; were it to, it is still alive.
            Ok(n) if n > 0 => continue,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            // End of file (the host is gone) or an error (the line is cut): either way no one
            // is left to stop this run.
            _ => break,
        }
    }
    // SAFETY: signals this process's own group, which the host made for this worker alone.
    unsafe { libc::kill(0, libc::SIGKILL) };
}
