//! The host's two kinds of failure, which map to the CLI's exit codes:
//! a usage or manifest error (exit 2) and a run-time failure (exit 1).
//!
//! Everything is an `anyhow::Error`; a usage error is one whose chain holds a
//! [`UsageError`]. Build them with [`usage`] so `main` can pick the exit code.

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
