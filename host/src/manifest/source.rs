//! Where a manifest's text came from, so that every error names the file and, where it can,
//! the line: one context shared by every section's parser.

use std::ops::Range;
use std::path::Path;
use std::time::Duration;

use toml::Spanned;

use super::duration::parse_duration;
use crate::error::usage;

/// A manifest's path and text, for error messages.
#[derive(Clone, Copy)]
pub(super) struct Source<'a> {
    pub path: &'a Path,
    pub text: &'a str,
}

impl Source<'_> {
    /// `path:line`, or `path` when the line is unknown.
    pub fn here(&self, line: Option<usize>) -> String {
        match line {
            Some(l) => format!("{}:{l}", self.path.display()),
            None => self.path.display().to_string(),
        }
    }

    /// The 1-based line where `span` starts.
    pub fn line(&self, span: Range<usize>) -> Option<usize> {
        Some(line_at(self.text, span.start))
    }

    /// A usage error (exit 2) at `line`: "path:line: message".
    pub fn error(&self, line: Option<usize>, message: impl std::fmt::Display) -> anyhow::Error {
        usage(format!("{}: {message}", self.here(line)))
    }

    /// A duration written under `key`, or `default` when absent.
    pub fn duration(
        &self,
        value: &Option<Spanned<String>>,
        key: &str,
        default: Duration,
    ) -> anyhow::Result<Duration> {
        match value {
            None => Ok(default),
            Some(v) => parse_duration(v.get_ref())
                .map_err(|err| self.error(self.line(v.span()), format!("`{key}`: {err}"))),
        }
    }

    /// Reads `T` from the whole text; a TOML error names line and column and shows the line.
    pub fn deserialize<T: serde::de::DeserializeOwned>(&self) -> anyhow::Result<T> {
        toml::from_str(self.text).map_err(|e| usage(self.toml_error(&e)))
    }

    /// "path:line:col: message", plus the offending line.
    fn toml_error(&self, err: &toml::de::Error) -> String {
        let message = err.message().trim_end();
        let Some(span) = err.span() else {
            return format!("{}: {message}", self.path.display());
        };
        let text = self.text;
        let line = line_at(text, span.start);
        let line_start = text[..span.start.min(text.len())]
            .rfind('\n')
            .map_or(0, |i| i + 1);
        let column = span.start.saturating_sub(line_start) + 1;
        let source_line = text.lines().nth(line - 1).unwrap_or("").trim_end();
        format!(
            "{}:{line}:{column}: {message}\n    {line} | {source_line}",
            self.path.display()
        )
    }
}

/// 1-based line number of byte offset `offset` in `text`.
pub(super) fn line_at(text: &str, offset: usize) -> usize {
    text.as_bytes()[..offset.min(text.len())]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}
