//! The xla trainer driven directly (no ABI, no host) on MNIST subsets: it learns, it honours
//! the order, batch size and initial weights, and it refuses what it cannot do with an error.
//!
//! These tests are built only when the plugin is (`-p plugin-xla`): the crate needs the PJRT
//! plugin that plugins/xla/setup-pjrt fetches.

mod common;

use common::{conv, dense, with_progress, with_session, Batches, Fixture};
use plugin_api::{ErrorKind, Layer, PluginError, Train};
use plugin_xla::XlaTrainer;

fn new_error(fixture: &Fixture) -> PluginError {
    match with_session(fixture, |s| XlaTrainer::new(s).map(|_| ())) {
        Ok(()) => panic!("the trainer accepted {:?}", fixture.model),
        Err(e) => e,
    }
}

#[test]
fn loss_falls_on_an_mnist_subset() {
    // 500 images in batches of 32: 15 full batches and a last one of 20.
    let fixture = Fixture::mnist(500, 300, 3);
    let session = fixture.session();
    let mut trainer = XlaTrainer::new(&session).expect("trainer");
    let batches = Batches::default();
    let mut losses = Vec::new();
    for epoch in 0..3 {
        let report = with_progress(&batches, |p| trainer.train_epochs(1, p)).expect("train");
        assert_eq!(report.samples, 500, "epoch {epoch} trains every image once");
        assert_eq!(report.epoch_losses.len(), 1);
        losses.push(report.epoch_losses[0]);
    }
    let eval = trainer.evaluate().expect("evaluate");
    println!("losses {losses:?}, test accuracy {:.3}", eval.accuracy);

    assert!(
        losses.iter().all(|l| l.is_finite() && *l > 0.0),
        "{losses:?}"
    );
    assert!(losses[0] < 10f64.ln(), "epoch 1 beats chance: {losses:?}");
    assert!(losses[1] < losses[0] && losses[2] < losses[1], "{losses:?}");
    assert_eq!(eval.samples, 300);
    // A tiny model after 1,500 samples (chance is 0.1); the 3-epoch study on all of MNIST is
    // the real accuracy check.
    assert!(eval.accuracy > 0.5, "accuracy {}", eval.accuracy);
    assert!(
        eval.loss.is_finite() && eval.loss < losses[0],
        "loss {}",
        eval.loss
    );

    let calls = batches.0.lock().unwrap().clone();
    assert_eq!(
        calls.len(),
        3 * 16,
        "16 batches per epoch, the partial one included"
    );
    assert_eq!(calls[15], (0, 16, 16));
    assert_eq!(calls[47], (2, 16, 16));

    // Past the session's last epoch: an error, not a panic or a silent extra epoch.
    let err = with_progress(&batches, |p| trainer.train_epochs(1, p)).unwrap_err();
    assert_eq!(err.kind, ErrorKind::Failed, "{err}");
}
