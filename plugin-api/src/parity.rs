//! The parity check's side of the contract: `host parity` builds every plugin's trainer from
//! one session (the host's initial weights, dropout rates set to 0) and asks each for a few
//! optimizer steps through [`crate::Train::parity`], then compares what they hand back.
//!
//! What a trainer does when asked for `steps` steps (on a fresh trainer, instead of
//! `train_epochs`): one optimizer step on each of the first `steps` batches of epoch 0's
//! order ([`batches`]), recording each batch's mean loss at the weights *before* its update
//! (the loss whose gradient the step follows); then the logits of the test images
//! [`eval_indices`] (evaluation mode); then its weights, named and laid out as
//! [`crate::Tensor`] documents. A Rust plugin implements [`ParitySteps`] and calls [`run`].
//!
//! The host asks twice, each time of a fresh trainer in a process of its own: once with the
//! manifest's optimizer, and once for one step of the *gradient probe*, whose session's Adam
//! has learning rate = ε = 10⁶ (the step then moves every weight by its gradient). A trainer
//! must use the session's hyper-parameters as they are, without clamping them.

use abi_stable::std_types::RVec;
use abi_stable::StableAbi;

use crate::init::OwnedTensor;
use crate::report::PluginError;
use crate::session::Session;

/// What a trainer hands back from its parity steps.
#[repr(C)]
#[derive(StableAbi, Clone, Debug, Default, PartialEq)]
pub struct ParityReport {
    /// Each step's batch mean loss, before that step's update.
    pub losses: RVec<f64>,
    /// Logits of the [`eval_indices`] test images after the steps, `[images, classes]`
    /// row-major.
    pub logits: RVec<f32>,
    /// Every weight and bias after the steps (names and layouts of [`crate::Tensor`]).
    pub weights: RVec<OwnedTensor>,
}

/// A plugin's model, as far as the parity check needs it.
pub trait ParitySteps {
    /// One optimizer step on the training images `indices`; the batch's mean loss before it.
    fn step(&mut self, indices: &[u32]) -> Result<f64, PluginError>;
    /// Logits of the test images `indices`, `[indices, classes]` row-major, without dropout.
    fn test_logits(&mut self, indices: &[u32]) -> Result<Vec<f32>, PluginError>;
    /// The current weights in the [`crate::Tensor`] layouts.
    fn weights(&mut self) -> Result<Vec<OwnedTensor>, PluginError>;
}

/// The training batches of the first `steps` steps: epoch 0's order in batches.
pub fn batches<'a>(session: &Session<'a>, steps: u32) -> Result<Vec<&'a [u32]>, PluginError> {
    let order = session
        .epoch_order(0)
        .ok_or_else(|| PluginError::failed("the session has no epoch 0 to take batches from"))?;
    let size = session.batch_size.max(1) as usize;
    let batches: Vec<&[u32]> = order.chunks(size).take(steps as usize).collect();
    if batches.len() < steps as usize {
        return Err(PluginError::unsupported(format!(
            "{steps} parity steps need {steps} batches, but epoch 0 has {}",
            batches.len()
        )));
    }
    Ok(batches)
}

/// The fixed evaluation batch: the first `batch_size` test images (fewer if the set is
/// smaller).
pub fn eval_indices(session: &Session<'_>) -> Vec<u32> {
    (0..session.batch_size.min(session.data.test.count)).collect()
}

/// The parity steps of `model` on `session`, as [`crate::Train::parity`] returns them.
pub fn run(
    session: &Session<'_>,
    steps: u32,
    model: &mut impl ParitySteps,
) -> Result<ParityReport, PluginError> {
    let mut losses = RVec::new();
    for indices in batches(session, steps)? {
        losses.push(model.step(indices)?);
    }
    Ok(ParityReport {
        losses,
        logits: model.test_logits(&eval_indices(session))?.into(),
        weights: model.weights()?.into(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::SessionBuilder;

    /// Records the batches it is given; its "loss" is the first index.
    struct Log(Vec<Vec<u32>>);

    impl ParitySteps for Log {
        fn step(&mut self, indices: &[u32]) -> Result<f64, PluginError> {
            self.0.push(indices.to_vec());
            Ok(f64::from(indices[0]))
        }
        fn test_logits(&mut self, indices: &[u32]) -> Result<Vec<f32>, PluginError> {
            Ok(indices.iter().map(|&i| i as f32).collect())
        }
        fn weights(&mut self) -> Result<Vec<OwnedTensor>, PluginError> {
            Ok(vec![OwnedTensor::new("0.bias", vec![1], vec![0.5])])
        }
    }

    #[test]
    fn steps_take_epoch_zeros_first_batches_and_the_first_test_images() {
        let builder = SessionBuilder::synthetic(10, 3).batch_size(4).epochs(2);
        let session = builder.session();
        let order = session.epoch_order(0).unwrap().to_vec();
        let mut log = Log(Vec::new());
        let report = run(&session, 2, &mut log).unwrap();
        assert_eq!(log.0, [order[..4].to_vec(), order[4..8].to_vec()]);
        assert_eq!(report.losses.as_slice(), [order[0] as f64, order[4] as f64]);
        assert_eq!(report.logits.as_slice(), [0.0, 1.0, 2.0]);
        assert_eq!(report.weights.len(), 1);
        let e = run(&session, 4, &mut log).unwrap_err();
        assert!(e.message.contains("epoch 0 has 3"), "{e}");
    }
}
