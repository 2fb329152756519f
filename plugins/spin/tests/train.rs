//! spin driven directly (no ABI, no host) through the host's steps: it learns synthetic
//! digits, and refuses what it cannot do with an error.

use plugin_api::testing::{expect_refusal, SessionBuilder};
use plugin_api::{ErrorKind, KeyValue};
use plugin_spin::Spin;

#[test]
fn learns_synthetic_digits() {
    // 300 = 9 × 32 + 12: ten batches per epoch, the last one partial.
    let builder = SessionBuilder::synthetic(300, 100)
        .epochs(3)
        .learning_rate(3e-3)
        .threads(2);
    let mut trainer = Spin::new(&builder.session()).expect("trainer");
    let run = builder.run(&mut trainer);
    assert_eq!(run.progress.len(), 30);
    assert!(
        run.losses[2] < 0.7 * run.losses[0],
        "the loss should fall over three epochs: {:?}",
        run.losses
    );
    assert!(run.eval.accuracy > 0.5, "accuracy {}", run.eval.accuracy);
}

#[test]
fn the_seed_fixes_the_result_and_threads_do_not_change_it_much() {
    let losses = |seed, threads| {
        let builder = SessionBuilder::synthetic(64, 10)
            .seed(seed)
            .threads(threads);
        let mut trainer = Spin::new(&builder.session()).expect("trainer");
        builder.run(&mut trainer).losses[0]
    };
    assert_eq!(losses(5, 1), losses(5, 1));
    assert_ne!(losses(5, 1), losses(6, 1));
    assert!((losses(5, 1) - losses(5, 3)).abs() < 1e-5);
}

#[test]
fn refuses_options_devices_and_bad_data() {
    let kv = [KeyValue::new("eval_batch_size", "10")];
    let builder = SessionBuilder::synthetic(8, 4).options(&kv);
    let e = expect_refusal(Spin::new(&builder.session()));
    assert_eq!(e.kind, ErrorKind::Unsupported);
    assert!(e.message.contains("`eval_batch_size`"), "{e}");
    let builder = SessionBuilder::synthetic(8, 4).device("cuda:0");
    assert_eq!(
        expect_refusal(Spin::new(&builder.session())).kind,
        ErrorKind::Unsupported
    );
    let mut builder = SessionBuilder::synthetic(8, 4);
    builder.train_mut().labels[2] = 10;
    let e = expect_refusal(Spin::new(&builder.session()));
    assert!(e.message.contains("label 10"), "{e}");
}

/// With softmax regression as its layer list, spin starts from the host's weights and its
/// parity answers agree with plugin-api's f64 reference; with any other list it has none.
#[test]
fn softmax_regression_loads_host_weights_and_agrees_with_the_reference() {
    use plugin_api::testing::reference;
    use plugin_api::{Activation, Layer, Train};

    let model = [
        Layer::Flatten,
        Layer::Dense {
            units: 10,
            activation: Activation::None,
        },
    ];
    let base = SessionBuilder::synthetic(64, 40).model(&model);
    let agreement = reference::with_host_weights(base, 3, |b| reference::agreement(b, Spin::new));
    assert!(
        agreement.logits < 1e-5 && agreement.loss < 1e-5,
        "{agreement:?}"
    );

    let other = SessionBuilder::synthetic(64, 40);
    let mut trainer = Spin::new(&other.session()).unwrap();
    assert!(
        trainer.parity(1).is_none(),
        "the small CNN is not what spin trains"
    );
}
