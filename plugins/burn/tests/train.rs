//! The burn trainer driven directly (no ABI, no host): it learns a few hundred synthetic
//! images, honours initial weights, and refuses what it cannot do with an error.

use plugin_api::testing::{expect_refusal, SessionBuilder};
use plugin_api::{Activation, ErrorKind, KeyValue, Layer, Padding, Tensor, Train};
use plugin_burn::BurnTrainer;

/// Three epochs of 300 synthetic digits, as this test has always trained them.
fn three_epochs() -> SessionBuilder<'static> {
    SessionBuilder::synthetic(300, 100)
        .epochs(3)
        .learning_rate(3e-3)
        .seed(11)
}

#[test]
fn learns_a_few_hundred_images() {
    let builder = three_epochs();
    let mut trainer = BurnTrainer::new(&builder.session()).expect("trainer");
    assert_eq!(trainer.run_info().threads, 1);
    // Checks samples, losses and progress per epoch, evaluation, and that a fourth epoch is
    // an error; 300 = 9 × 32 + 12: ten batches per epoch, the last one partial.
    let run = builder.run(&mut trainer);
    assert_eq!(run.progress.len(), 30);
    assert_eq!(run.progress.last(), Some(&(2, 10, 10)));
    let losses = run.losses;
    assert!(
        losses[2] < 0.7 * losses[0],
        "the loss should fall over three epochs: {losses:?}"
    );
    assert!(
        run.eval.accuracy > 0.5,
        "accuracy {} (chance is 0.1)",
        run.eval.accuracy
    );
}

#[test]
fn zero_initial_weights_give_uniform_predictions() {
    let conv_w = vec![0.0f32; 4 * 9];
    let conv_b = vec![0.0f32; 4];
    let dense_w = vec![0.0f32; 10 * 4 * 14 * 14];
    let dense_b = vec![0.0f32; 10];
    let weights = [
        Tensor::new("0.weight", &[4, 1, 3, 3], &conv_w),
        Tensor::new("0.bias", &[4], &conv_b),
        Tensor::new("4.weight", &[10, 784], &dense_w),
        Tensor::new("4.bias", &[10], &dense_b),
    ];
    let builder = SessionBuilder::synthetic(40, 30).initial_weights(&weights);
    let mut trainer = BurnTrainer::new(&builder.session()).expect("trainer");
    let eval = trainer.evaluate().expect("evaluates");
    // All logits are 0: every class gets 1/10, so the loss is ln 10 exactly.
    assert!(
        (eval.loss - 10f64.ln()).abs() < 1e-5,
        "loss {} (expected ln 10)",
        eval.loss
    );

    // A wrong shape is an error that names the tensor, and so is one no layer has.
    let mut wrong = weights;
    wrong[2] = Tensor::new("4.weight", &[784, 10], &dense_w);
    let builder = SessionBuilder::synthetic(40, 30).initial_weights(&wrong);
    let err = expect_refusal(BurnTrainer::new(&builder.session()));
    assert!(err.message.contains("4.weight"), "{err}");
    let stray = [
        weights[0],
        weights[1],
        weights[2],
        weights[3],
        Tensor::new("2.weight", &[1], &conv_b[..1]),
    ];
    let builder = SessionBuilder::synthetic(40, 30).initial_weights(&stray);
    let err = expect_refusal(BurnTrainer::new(&builder.session()));
    assert!(err.message.contains("`2.weight`"), "{err}");
}

#[test]
fn refuses_what_it_cannot_do() {
    let typo = [KeyValue::new("no_such_option", "1")];
    let builder = SessionBuilder::synthetic(20, 10).options(&typo);
    let err = expect_refusal(BurnTrainer::new(&builder.session()));
    assert_eq!(err.kind, ErrorKind::Unsupported);
    assert!(err.message.contains("known: eval_batch_size"), "{err}");

    let zero = [KeyValue::new("eval_batch_size", "zero")];
    let builder = SessionBuilder::synthetic(20, 10).options(&zero);
    let err = expect_refusal(BurnTrainer::new(&builder.session()));
    assert!(err.message.contains("eval_batch_size"), "{err}");

    let conv = |filters, padding| Layer::Conv2d {
        filters,
        kernel: 3,
        padding,
        activation: Activation::Relu,
    };
    let dense = |units| Layer::Dense {
        units,
        activation: Activation::None,
    };
    // A convolution after flatten, a window larger than its input, a wrong output size, a
    // dense layer on an image, zero filters: each names its layer, counted from 1.
    let bad_models = [
        (
            vec![Layer::Flatten, conv(2, Padding::Valid)],
            "layer 2 (conv2d)",
        ),
        (
            vec![Layer::MaxPool2d {
                size: 40,
                stride: 1,
            }],
            "layer 1 (maxpool2d)",
        ),
        (vec![Layer::Flatten, dense(7)], "10 classes"),
        (vec![dense(10)], "layer 1 (dense)"),
        (
            vec![conv(0, Padding::Same), Layer::Flatten, dense(10)],
            "layer 1 (conv2d)",
        ),
    ];
    for (model, words) in bad_models {
        let builder = SessionBuilder::synthetic(20, 10).model(&model);
        let err = expect_refusal(BurnTrainer::new(&builder.session()));
        assert_eq!(err.kind, ErrorKind::Unsupported, "{err}");
        assert!(err.message.contains(words), "{err} should say {words:?}");
    }
}

/// From the host's Glorot-uniform weights on a model with two convolutions and a flatten of
/// 4 channels, burn's logits (no step) and first batch's loss agree with plugin-api's naive
/// f64 reference.
#[test]
fn host_weights_agree_with_the_reference() {
    use plugin_api::testing::{mnist_dir, parity_model, reference};

    let base = SessionBuilder::mnist(&mnist_dir(), 200, 100)
        .unwrap_or_else(|e| panic!("{e} (set MNIST_DIR)"))
        .model(&parity_model());
    let agreement =
        reference::with_host_weights(base, 17, |b| reference::agreement(b, BurnTrainer::new));
    println!("{agreement:?}");
    assert!(
        agreement.logits < 1e-4 && agreement.loss < 1e-4,
        "{agreement:?}"
    );
}
