//! The trainer interface as it crosses the boundary (`#[sabi_trait]` objects), and the plain
//! Rust trait [`Train`] that plugin authors implement instead.

// `#[sabi_trait]` expands to impls that rustc flags as non-local; they are harmless.
#![allow(non_local_definitions)]

use abi_stable::{
    sabi_trait,
    sabi_types::RRef,
    std_types::{RBox, RNone, ROption, RResult},
};

use crate::guard::{catch_panic, catch_panic_or};
use crate::parity::ParityReport;
use crate::report::{EvalReport, PluginError, RunInfo, TrainReport};

/// Where a trainer reports progress; the host draws progress bars from it.
#[sabi_trait]
pub trait ProgressSink {
    /// Called after each batch: `epoch` is 0-based over the whole session, `batch` is the
    /// number of batches done in that epoch (1..=batches).
    fn batch_done(&self, epoch: u32, batch: u64, batches: u64);
}

/// A borrowed progress sink, as passed to [`Trainer::train_epochs`].
pub type Progress<'a> = ProgressSink_TO<'a, RRef<'a, ()>>;

/// A trainer as the host sees it. Build one with [`into_trainer`]; do not implement this
/// trait directly (the wrapper keeps panics from crossing the boundary).
#[sabi_trait]
pub trait Trainer {
    /// The framework and settings in effect.
    fn run_info(&self) -> RunInfo;

    /// Trains `epochs` more epochs, continuing from where the last call stopped.
    fn train_epochs(
        &mut self,
        epochs: u32,
        progress: &Progress<'_>,
    ) -> RResult<TrainReport, PluginError>;

    /// Evaluates on the whole test set, without dropout and without updating weights.
    #[sabi(last_prefix_field)]
    fn evaluate(&mut self) -> RResult<EvalReport, PluginError>;

    /// The parity check's steps ([`crate::parity`]), on a fresh trainer instead of training;
    /// `RNone` when the trainer has none (interface 2; see [`crate::INTERFACE_VERSION`] for
    /// why plugins built against interface 1 must be rebuilt).
    fn parity(&mut self, steps: u32) -> ROption<RResult<ParityReport, PluginError>> {
        let _ = steps;
        RNone
    }
}

/// A boxed trainer that may borrow the session's data for `'a`.
pub type TrainerBox<'a> = Trainer_TO<'a, RBox<()>>;

/// What a plugin author implements: the same three calls with ordinary `Result`s.
/// Panics are allowed to happen (they become `PluginError`s of kind `Panicked`).
pub trait Train {
    fn run_info(&self) -> RunInfo;
    fn train_epochs(
        &mut self,
        epochs: u32,
        progress: &Progress<'_>,
    ) -> Result<TrainReport, PluginError>;
    fn evaluate(&mut self) -> Result<EvalReport, PluginError>;

    /// The parity check's steps ([`crate::parity::run`] does them for a
    /// [`crate::parity::ParitySteps`] model), or `None` (the default) when the plugin has
    /// none: `host parity` then reports it as not supporting the check.
    fn parity(&mut self, steps: u32) -> Option<Result<ParityReport, PluginError>> {
        let _ = steps;
        None
    }
}

/// Wraps a [`Train`] implementation into the boxed trainer `new_trainer` returns. Every call
/// into it runs under `catch_unwind`.
pub fn into_trainer<'a, T: Train + 'a>(trainer: T) -> TrainerBox<'a> {
    Trainer_TO::from_value(Guarded(trainer), abi_stable::sabi_trait::TD_Opaque)
}

/// A boxed trainer is a [`Train`] too, so that code driving trainers (the host, tests,
/// [`crate::testing`]) works the same on a plugin's own type and on what `new_trainer`
/// returned.
impl Train for TrainerBox<'_> {
    fn run_info(&self) -> RunInfo {
        Trainer::run_info(self)
    }

    fn train_epochs(
        &mut self,
        epochs: u32,
        progress: &Progress<'_>,
    ) -> Result<TrainReport, PluginError> {
        Trainer::train_epochs(self, epochs, progress).into_result()
    }

    fn evaluate(&mut self) -> Result<EvalReport, PluginError> {
        Trainer::evaluate(self).into_result()
    }

    fn parity(&mut self, steps: u32) -> Option<Result<ParityReport, PluginError>> {
        Trainer::parity(self, steps)
            .into_option()
            .map(RResult::into_result)
    }
}

struct Guarded<T>(T);

impl<T: Train> Trainer for Guarded<T> {
    fn run_info(&self) -> RunInfo {
        catch_panic_or(|| self.0.run_info(), RunInfo::default())
    }

    fn train_epochs(
        &mut self,
        epochs: u32,
        progress: &Progress<'_>,
    ) -> RResult<TrainReport, PluginError> {
        catch_panic(|| self.0.train_epochs(epochs, progress))
    }

    fn evaluate(&mut self) -> RResult<EvalReport, PluginError> {
        catch_panic(|| self.0.evaluate())
    }

    fn parity(&mut self, steps: u32) -> ROption<RResult<ParityReport, PluginError>> {
        // A panic is an answer too: the plugin has parity steps, and they failed.
        let mut supported = true;
        let result = catch_panic(|| match self.0.parity(steps) {
            Some(result) => result,
            None => {
                supported = false;
                Err(PluginError::unsupported("no parity steps"))
            }
        });
        if supported {
            ROption::RSome(result)
        } else {
            RNone
        }
    }
}
