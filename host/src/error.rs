//! The host's two kinds of failure, which map to the CLI's exit codes:
//! a usage or manifest error (exit 2) and a run-time failure (exit 1).
//!
//! Everything is an `anyhow::Error`; a usage error is one whose chain holds a
//! [`UsageError`]. Build them with [`usage`] so `main` can pick the exit code.
//!
//! A run-time failure may be a fault of the machine rather than of what runs on it — a full
//! disk, a read-only file system, a missing permission: [`environment_fault`] recognises those,
//! so that a campaign stops and leaves the run to do instead of recording it as failed.

use std::fmt;

/// Bad input from the user: a manifest typo, a bad flag, an unknown analysis step.
#[derive(Debug)]
pub struct UsageError(pub String);

impl fmt::Display for UsageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UsageError {}

/// An `anyhow::Error` that `main` reports with exit status 2.
pub fn usage(message: impl Into<String>) -> anyhow::Error {
    anyhow::Error::new(UsageError(message.into()))
}

/// True when `err` (or anything in its chain) is a usage error.
pub fn is_usage(err: &anyhow::Error) -> bool {
    err.chain().any(|cause| cause.is::<UsageError>())
}

/// A fault of the machine a campaign runs on: no plugin is to blame, and the same run
/// succeeds once the cause is fixed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EnvironmentFault {
    /// ENOSPC.
    NoSpace,
    /// EDQUOT.
    QuotaExceeded,
    /// EROFS.
    ReadOnly,
    /// EACCES or EPERM.
    Permission,
}

impl fmt::Display for EnvironmentFault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            EnvironmentFault::NoSpace => "the disk is full",
            EnvironmentFault::QuotaExceeded => "the disk quota is exceeded",
            EnvironmentFault::ReadOnly => "the file system is read-only",
            EnvironmentFault::Permission => "permission denied",
        })
    }
}

/// The environment fault behind `err`: the first OS error in its chain that is one.
pub fn environment_fault(err: &anyhow::Error) -> Option<EnvironmentFault> {
    err.chain()
        .filter_map(|cause| cause.downcast_ref::<std::io::Error>())
        .find_map(|io| match io.raw_os_error()? {
            libc::ENOSPC => Some(EnvironmentFault::NoSpace),
            libc::EDQUOT => Some(EnvironmentFault::QuotaExceeded),
            libc::EROFS => Some(EnvironmentFault::ReadOnly),
            libc::EACCES | libc::EPERM => Some(EnvironmentFault::Permission),
            _ => None,
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use anyhow::Context;

    #[test]
    fn an_os_error_deep_in_the_chain_is_classified_and_others_are_not() {
        let full: anyhow::Result<()> =
            Err(std::io::Error::from_raw_os_error(libc::ENOSPC)).context("writing samples/1-a.csv");
        let err = full.context("the energy sampler").unwrap_err();
        assert_eq!(environment_fault(&err), Some(EnvironmentFault::NoSpace));
        for (code, fault) in [
            (libc::EDQUOT, EnvironmentFault::QuotaExceeded),
            (libc::EROFS, EnvironmentFault::ReadOnly),
            (libc::EACCES, EnvironmentFault::Permission),
            (libc::EPERM, EnvironmentFault::Permission),
        ] {
            let err = anyhow::Error::new(std::io::Error::from_raw_os_error(code));
            assert_eq!(environment_fault(&err), Some(fault), "errno {code}");
        }
        let missing = anyhow::Error::new(std::io::Error::from_raw_os_error(libc::ENOENT));
        assert_eq!(environment_fault(&missing), None);
        assert_eq!(
            environment_fault(&anyhow::anyhow!("No space left on device")),
            None
        );
    }
}
