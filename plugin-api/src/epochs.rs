//! The host's epochs, batch after batch: the part of [`crate::Train::train_epochs`] that is
//! the same in every plugin (where training stands, the epoch's slice of the order, batches
//! including the last partial one, a progress call per batch, the mean loss, the error past
//! the last epoch), so that a plugin writes only its training step ([`BatchStep`]).
//!
//! A trainer keeps an [`Epochs`] beside the state its step needs, and lends the step to it:
//!
//! ```
//! use plugin_api::epochs::{Batch, BatchStep, Epochs};
//! use plugin_api::{PluginError, Progress, TrainReport};
//!
//! struct Counter { seen: u64 }
//!
//! impl BatchStep for Counter {
//!     type Epoch = f64; // the running sum of the loss
//!     fn begin_epoch(&mut self, _order: &[u32]) -> Result<f64, PluginError> { Ok(0.0) }
//!     fn train_batch(&mut self, loss: &mut f64, batch: Batch<'_>) -> Result<(), PluginError> {
//!         self.seen += batch.indices.len() as u64;
//!         *loss += 0.5 * batch.indices.len() as f64; // this batch's loss, summed over samples
//!         Ok(())
//!     }
//!     fn end_epoch(&mut self, loss: f64) -> Result<f64, PluginError> { Ok(loss) }
//! }
//!
//! struct Trainer<'a> { epochs: Epochs<'a>, step: Counter }
//!
//! impl Trainer<'_> {
//!     fn train_epochs(&mut self, n: u32, progress: &Progress<'_>) -> Result<TrainReport, PluginError> {
//!         self.epochs.train(n, progress, &mut self.step)
//!     }
//! }
//! # let builder = plugin_api::testing::SessionBuilder::synthetic(10, 1).batch_size(4).epochs(2);
//! # let session = builder.session();
//! # let mut t = Trainer { epochs: Epochs::new(&session)?, step: Counter { seen: 0 } };
//! # let recorder = plugin_api::testing::Recorder::default();
//! # let report = t.train_epochs(2, &recorder.progress())?;
//! # assert_eq!((report.samples, t.step.seen, report.epoch_losses.to_vec()), (20, 20, vec![0.5, 0.5]));
//! # Ok::<(), PluginError>(())
//! ```

use crate::report::{PluginError, SampleCount, TrainReport};
use crate::session::Session;
use crate::trainer::Progress;

/// What a plugin does per batch; [`Epochs::train`] calls it.
pub trait BatchStep {
    /// What the step keeps while one epoch runs: at least the running sum of the loss (an
    /// `f64`, or a tensor on the plugin's device so that no batch waits for the device to read
    /// it), and whatever it prepares once per epoch.
    type Epoch;

    /// Called before the first batch of an epoch, with the epoch's whole order.
    fn begin_epoch(&mut self, order: &[u32]) -> Result<Self::Epoch, PluginError>;

    /// Trains on one batch (one optimizer step) and adds its loss, summed over its samples,
    /// to `epoch`.
    fn train_batch(&mut self, epoch: &mut Self::Epoch, batch: Batch<'_>)
        -> Result<(), PluginError>;

    /// The epoch's training loss summed over its samples ([`Epochs::train`] divides by their
    /// number).
    fn end_epoch(&mut self, epoch: Self::Epoch) -> Result<f64, PluginError>;
}

/// One batch of the host's order.
#[derive(Clone, Copy, Debug)]
pub struct Batch<'o> {
    /// Where its first sample stands in the epoch's order.
    pub start: usize,
    /// Training-set indices, in the host's order; shorter than the batch size only for the
    /// last batch of an epoch.
    pub indices: &'o [u32],
}

/// Where training stands in the session's epochs. Not `Copy`: a copy would count epochs of
/// its own.
#[derive(Clone, Debug)]
pub struct Epochs<'a> {
    order: &'a [u32],
    samples: usize,
    batch_size: usize,
    epochs: u32,
    done: u32,
}

impl<'a> Epochs<'a> {
    /// Checks, once, what the loop relies on: a batch size of at least 1, and an order of
    /// `epochs` epochs of valid training-set indices.
    pub fn new(session: &Session<'a>) -> Result<Self, PluginError> {
        if session.batch_size == 0 {
            return Err(PluginError::unsupported("batch size 0"));
        }
        let n = session.data.train.count as usize;
        let order = session.order.as_slice();
        if Some(order.len()) != n.checked_mul(session.epochs as usize) {
            return Err(PluginError::failed(format!(
                "the sample order holds {} indices; {} epochs of {n} images need {}",
                order.len(),
                session.epochs,
                n.saturating_mul(session.epochs as usize)
            )));
        }
        if let Some(bad) = order.iter().find(|&&i| i as usize >= n) {
            return Err(PluginError::failed(format!(
                "the sample order names image {bad}, but the training set has {n}"
            )));
        }
        Ok(Epochs {
            order,
            samples: n,
            batch_size: session.batch_size as usize,
            epochs: session.epochs,
            done: 0,
        })
    }

    /// Epochs trained so far; also the 0-based number of the next one.
    pub fn done(&self) -> u32 {
        self.done
    }

    /// Trains `epochs` more epochs with `step`, continuing where the last call stopped: one
    /// `begin_epoch`, a `train_batch` and a progress call per batch, one `end_epoch`. Past
    /// the session's last epoch it returns an error and trains nothing.
    pub fn train<S: BatchStep>(
        &mut self,
        epochs: u32,
        progress: &Progress<'_>,
        step: &mut S,
    ) -> Result<TrainReport, PluginError> {
        let mut report = TrainReport::default();
        for _ in 0..epochs {
            let order = self.next_order()?;
            let batches = order.len().div_ceil(self.batch_size) as u64;
            let mut epoch = step.begin_epoch(order)?;
            for (b, indices) in order.chunks(self.batch_size).enumerate() {
                let batch = Batch {
                    start: b * self.batch_size,
                    indices,
                };
                step.train_batch(&mut epoch, batch)?;
                progress.batch_done(self.done, b as u64 + 1, batches);
            }
            let loss = step.end_epoch(epoch)?;
            self.done += 1;
            report.samples += order.len() as SampleCount;
            report.epoch_losses.push(loss / order.len().max(1) as f64);
        }
        Ok(report)
    }

    fn next_order(&self) -> Result<&'a [u32], PluginError> {
        if self.done >= self.epochs {
            return Err(PluginError::failed(format!(
                "asked to train epoch {} but the session has {}",
                self.done + 1,
                self.epochs
            )));
        }
        let start = self.done as usize * self.samples;
        Ok(&self.order[start..start + self.samples])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{Recorder, SessionBuilder};
    use crate::ErrorKind;

    /// Records every call; the loss of a batch is the sum of its indices.
    #[derive(Default)]
    struct Log {
        calls: Vec<String>,
        fail_at: Option<usize>,
    }

    impl BatchStep for Log {
        type Epoch = f64;
        fn begin_epoch(&mut self, order: &[u32]) -> Result<f64, PluginError> {
            self.calls.push(format!("begin {}", order.len()));
            Ok(0.0)
        }
        fn train_batch(&mut self, sum: &mut f64, batch: Batch<'_>) -> Result<(), PluginError> {
            if self.fail_at == Some(batch.start) {
                return Err(PluginError::failed("step failed"));
            }
            self.calls
                .push(format!("{}:{:?}", batch.start, batch.indices));
            *sum += batch.indices.iter().map(|&i| f64::from(i)).sum::<f64>();
            Ok(())
        }
        fn end_epoch(&mut self, sum: f64) -> Result<f64, PluginError> {
            self.calls.push("end".into());
            Ok(sum)
        }
    }

    #[test]
    fn batches_follow_the_order_with_the_last_one_partial() {
        let builder = SessionBuilder::synthetic(5, 1).epochs(2).batch_size(2);
        let session = builder.session();
        let order = session.order.as_slice().to_vec();
        let mut epochs = Epochs::new(&session).unwrap();
        let (recorder, mut log) = (Recorder::default(), Log::default());
        let report = epochs.train(2, &recorder.progress(), &mut log).unwrap();
        assert_eq!(epochs.done(), 2);
        assert_eq!(report.samples, 10);
        let expected: Vec<String> = order
            .chunks(5)
            .flat_map(|e| {
                let mut calls = vec!["begin 5".to_string()];
                calls.extend(
                    e.chunks(2)
                        .enumerate()
                        .map(|(b, c)| format!("{}:{c:?}", 2 * b)),
                );
                calls.push("end".into());
                calls
            })
            .collect();
        assert_eq!(log.calls, expected);
        // Every index is 0..5 once per epoch: the mean "loss" is (0+1+2+3+4)/5.
        assert_eq!(report.epoch_losses.to_vec(), vec![2.0, 2.0]);
        let calls = recorder.calls();
        assert_eq!(
            calls,
            [
                (0, 1, 3),
                (0, 2, 3),
                (0, 3, 3),
                (1, 1, 3),
                (1, 2, 3),
                (1, 3, 3)
            ]
        );
    }

    #[test]
    fn past_the_last_epoch_is_an_error_and_a_failed_step_is_not_counted() {
        let builder = SessionBuilder::synthetic(4, 1).epochs(1).batch_size(3);
        let session = builder.session();
        let mut epochs = Epochs::new(&session).unwrap();
        let recorder = Recorder::default();
        let mut log = Log {
            fail_at: Some(3),
            ..Log::default()
        };
        let e = epochs.train(1, &recorder.progress(), &mut log).unwrap_err();
        assert_eq!(e.message.as_str(), "step failed");
        assert_eq!(epochs.done(), 0);
        log.fail_at = None;
        epochs.train(1, &recorder.progress(), &mut log).unwrap();
        let e = epochs.train(1, &recorder.progress(), &mut log).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Failed);
        assert_eq!(
            e.message.as_str(),
            "asked to train epoch 2 but the session has 1"
        );
    }

    #[test]
    fn a_bad_order_or_batch_size_is_refused_up_front() {
        let builder = SessionBuilder::synthetic(4, 1).epochs(2);
        let mut session = builder.session();
        let short = [0u32, 1, 2, 3];
        session.order = short.as_slice().into();
        let e = Epochs::new(&session).unwrap_err();
        assert!(e.message.contains("2 epochs of 4 images need 8"), "{e}");
        let wrong = [0u32, 1, 2, 3, 0, 1, 2, 4];
        session.order = wrong.as_slice().into();
        let e = Epochs::new(&session).unwrap_err();
        assert!(e.message.contains("names image 4"), "{e}");
        let mut session = builder.session();
        session.batch_size = 0;
        assert_eq!(
            Epochs::new(&session).unwrap_err().kind,
            ErrorKind::Unsupported
        );
    }
}
