//! Python exceptions as `PluginError`s a user can act on.

use plugin_api::{ErrorKind, PluginError};
use pyo3::exceptions::{PyImportError, PyNotImplementedError};
use pyo3::prelude::*;

/// How many traceback lines an error keeps: enough for the failing frames, short enough for
/// a log line and the `error` column of runs.csv.
const TRACEBACK_LINES: usize = 16;

/// `context: ExceptionType: message`, then the last lines of the traceback.
///
/// The kind follows the exception: `NotImplementedError` (the protocol's way to say "this
/// session asks for something I cannot do") is `Unsupported`, `ImportError` is `Setup`,
/// anything else `Failed`.
pub fn python_error(py: Python<'_>, context: &str, err: PyErr) -> PluginError {
    let kind = if err.is_instance_of::<PyNotImplementedError>(py) {
        ErrorKind::Unsupported
    } else if err.is_instance_of::<PyImportError>(py) {
        ErrorKind::Setup
    } else {
        ErrorKind::Failed
    };
    let headline = format!(
        "{}: {}",
        err.get_type(py)
            .name()
            .map(|n| n.to_string())
            .unwrap_or_else(|_| "exception".into()),
        err.value(py)
    );
    let traceback = format_traceback(py, &err).unwrap_or_default();
    let lines: Vec<&str> = traceback.lines().collect();
    let tail = &lines[lines.len().saturating_sub(TRACEBACK_LINES)..];
    let mut message = format!("{context}: {headline}");
    if !tail.is_empty() {
        message.push_str("\nPython traceback (last lines):\n");
        message.push_str(&tail.join("\n"));
    }
    PluginError::new(kind, message)
}

/// The traceback as Python's `traceback` module prints it (chained exceptions included).
fn format_traceback(py: Python<'_>, err: &PyErr) -> PyResult<String> {
    // pyo3 keeps the traceback beside the exception rather than on `__traceback__`, so pass
    // it explicitly (the three-argument form).
    let traceback = err.traceback(py);
    let lines = py.import("traceback")?.call_method1(
        "format_exception",
        (err.get_type(py), err.value(py), traceback),
    )?;
    let text: Vec<String> = lines.extract()?;
    Ok(text.concat())
}
