//! Keeping panics on the plugin's side of the boundary.
//!
//! Unwinding out of an `extern "C"` function aborts the whole process, and a panic hook set by
//! the host does not apply inside the plugin (it has its own copy of std). So every entry point
//! runs its body under `catch_unwind` and turns a panic into a [`PluginError`].

use abi_stable::std_types::RResult;
use std::any::Any;
use std::panic::{catch_unwind, AssertUnwindSafe};

use crate::report::{ErrorKind, PluginError};

/// Runs `body`; an `Err` or a panic becomes `RErr(PluginError)`.
pub fn catch_panic<T>(body: impl FnOnce() -> Result<T, PluginError>) -> RResult<T, PluginError> {
    // AssertUnwindSafe: after a panic the value is only used to report the error; the host
    // ends the worker process after a failed run, so no broken state is reused.
    match catch_unwind(AssertUnwindSafe(body)) {
        Ok(result) => result.into(),
        Err(payload) => RResult::RErr(PluginError::new(
            ErrorKind::Panicked,
            format!("plugin panicked: {}", panic_message(payload.as_ref())),
        )),
    }
}

/// Runs `body`; a panic yields `fallback` (for calls that cannot return an error).
pub fn catch_panic_or<T>(body: impl FnOnce() -> T, fallback: T) -> T {
    catch_unwind(AssertUnwindSafe(body)).unwrap_or(fallback)
}

/// The text of a panic payload (`&str` or `String`), else a placeholder.
pub fn panic_message(payload: &(dyn Any + Send)) -> String {
    if let Some(text) = payload.downcast_ref::<&str>() {
        (*text).to_string()
    } else if let Some(text) = payload.downcast_ref::<String>() {
        text.clone()
    } else {
        "(a panic payload that is not text)".to_string()
    }
}
