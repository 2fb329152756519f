//! What a plugin hands back: who it is, what training and evaluation produced, and errors.

use abi_stable::{
    std_types::{RString, RVec},
    StableAbi,
};
use std::fmt;

/// Static facts about a plugin file, available before any session exists.
#[repr(C)]
#[derive(StableAbi, Clone, Debug)]
pub struct PluginInfo {
    /// Short name, e.g. `spin`, `burn`, `python`.
    pub name: RString,
    /// Framework name, e.g. `burn`; a plugin that serves several frameworks says so here and
    /// names the actual one in [`RunInfo`].
    pub framework: RString,
    pub framework_version: RString,
    /// Devices it can train on, e.g. `["cpu"]` or `["cpu", "cuda"]`.
    pub devices: RVec<RString>,
    /// Must equal [`crate::INTERFACE_VERSION`] of the host; set it with that constant.
    pub interface_version: u32,
}

/// Facts about one trainer once it exists: the framework actually used and the settings that
/// took effect (which may differ from what the session asked for).
#[repr(C)]
#[derive(StableAbi, Clone, Debug, Default)]
pub struct RunInfo {
    /// e.g. `tensorflow 2.21.0 / keras 3.15.1`.
    pub framework: RString,
    pub framework_version: RString,
    /// Compute (intra-op) threads in effect.
    pub threads: u32,
    /// Anything else worth recording, e.g. `interop_threads = 1`.
    pub notes: RVec<Note>,
}

/// The type of [`TrainReport::samples`]: u64, or u32 in the host's abi-skew test build.
#[cfg(not(feature = "abi-skew-for-tests"))]
pub(crate) type SampleCount = u64;
#[cfg(feature = "abi-skew-for-tests")]
pub(crate) type SampleCount = u32;

/// What one `train_epochs` call did.
#[repr(C)]
#[derive(StableAbi, Clone, Debug, Default)]
pub struct TrainReport {
    /// Samples trained on in this call (every epoch counts every sample once).
    #[cfg(not(feature = "abi-skew-for-tests"))]
    pub samples: u64,
    #[cfg(feature = "abi-skew-for-tests")]
    pub samples: u32,
    /// Mean training loss of each epoch of this call, in order.
    pub epoch_losses: RVec<f64>,
    pub notes: RVec<Note>,
}

/// What one `evaluate` call measured on the test set.
#[repr(C)]
#[derive(StableAbi, Clone, Debug, Default)]
pub struct EvalReport {
    /// Fraction of test samples classified correctly, in `[0, 1]`.
    pub accuracy: f64,
    /// Mean softmax cross-entropy over the test set.
    pub loss: f64,
    pub samples: u64,
    pub notes: RVec<Note>,
}

/// A free-form key/value that a plugin wants recorded.
#[repr(C)]
#[derive(StableAbi, Clone, Debug, PartialEq, Eq)]
pub struct Note {
    pub key: RString,
    pub value: RString,
}

impl Note {
    pub fn new(key: impl Into<String>, value: impl ToString) -> Self {
        Note {
            key: RString::from(key.into()),
            value: RString::from(value.to_string()),
        }
    }
}

/// An error returned by a plugin. `Display` shows the message.
#[repr(C)]
#[derive(StableAbi, Clone, Debug, PartialEq, Eq)]
pub struct PluginError {
    pub kind: ErrorKind,
    pub message: RString,
}

/// Why a plugin call failed, so the host can word its report.
#[repr(u8)]
#[derive(StableAbi, Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorKind {
    /// The session asks for something this plugin cannot do (a layer kind, a device).
    Unsupported,
    /// The plugin's own setup is wrong (a missing library, environment, file).
    Setup,
    /// Training or evaluation failed.
    Failed,
    /// The plugin panicked; the message is the panic's.
    Panicked,
}

impl PluginError {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        PluginError {
            kind,
            message: RString::from(message.into()),
        }
    }
    pub fn unsupported(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Unsupported, message)
    }
    pub fn setup(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Setup, message)
    }
    pub fn failed(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Failed, message)
    }
}

impl fmt::Display for PluginError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.message.as_str())
    }
}

impl std::error::Error for PluginError {}
