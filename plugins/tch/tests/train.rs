//! The tch trainer driven directly (no ABI, no host) on MNIST subsets: it learns, it honours
//! the order, batch size and initial weights, and it refuses what it cannot do with an error.
//!
//! These tests are built only when the plugin is (`-p plugin-tch`): the crate needs libtorch.
//! MNIST comes from `$MNIST_DIR`.

use plugin_api::testing::{expect_refusal, mnist_dir, SessionBuilder};
use plugin_api::{Activation, ErrorKind, KeyValue, Layer, Padding, Tensor, Train};
use plugin_tch::TchTrainer;

fn conv(filters: u32, kernel: u32) -> Layer {
    Layer::Conv2d {
        filters,
        kernel,
        padding: Padding::Same,
        activation: Activation::Relu,
    }
}

fn dense(units: u32) -> Layer {
    Layer::Dense {
        units,
        activation: Activation::None,
    }
}

/// A small CNN with every layer kind: learns MNIST subsets in seconds.
fn small_cnn() -> Vec<Layer> {
    vec![
        conv(8, 3),
        Layer::MaxPool2d { size: 2, stride: 2 },
        Layer::Flatten,
        Layer::Dropout { rate: 0.1 },
        dense(10),
    ]
}

fn mnist(train: usize, test: usize) -> SessionBuilder<'static> {
    let dir = mnist_dir();
    SessionBuilder::mnist(&dir, train, test)
        .unwrap_or_else(|e| panic!("{e} (set MNIST_DIR)"))
        .plugin_name("tch")
        .model(&small_cnn())
}

#[test]
fn loss_falls_on_an_mnist_subset() {
    // 500 images in batches of 32: 15 full batches and a last one of 20.
    let builder = mnist(500, 300).epochs(3);
    let mut trainer = TchTrainer::new(&builder.session()).expect("trainer");
    // Every epoch trains every image once with one loss, a progress call per batch (the
    // partial one included), every test image evaluated, and a fourth epoch is an error.
    let run = builder.run(&mut trainer);
    // A tiny model after 1,500 samples (chance is 0.1); the 3-epoch study on all of MNIST is
    // the real accuracy check.
    run.assert_learned(16, 0.5);
}

#[test]
fn initial_weights_are_used() {
    // All-zero weights make every logit 0: before any training the test loss is exactly
    // ln(10), and argmax picks class 0 for every image.
    let model = [Layer::Flatten, dense(10)];
    let (zeros_w, zeros_b) = (vec![0.0f32; 7840], vec![0.0f32; 10]);
    let weights = [
        Tensor::new("1.weight", &[10, 784], &zeros_w),
        Tensor::new("1.bias", &[10], &zeros_b),
    ];
    let builder = mnist(64, 200).model(&model).initial_weights(&weights);
    let eval = TchTrainer::new(&builder.session())
        .expect("trainer")
        .evaluate()
        .expect("evaluate");
    let zeros = builder.test().labels.iter().filter(|&&l| l == 0).count() as f64 / 200.0;
    assert!((eval.loss - 10f64.ln()).abs() < 1e-6, "loss {}", eval.loss);
    assert!(
        (eval.accuracy - zeros).abs() < 1e-12,
        "{} vs {zeros}",
        eval.accuracy
    );

    // A wrong shape, a missing tensor and a stray one are errors that name the tensor.
    let refusal = |weights: &[Tensor<'_>]| {
        let builder = mnist(8, 8).model(&model).initial_weights(weights);
        expect_refusal(TchTrainer::new(&builder.session())).message
    };
    let transposed = [Tensor::new("1.weight", &[784, 10], &zeros_w), weights[1]];
    assert!(refusal(&transposed).contains("1.weight"));
    assert!(refusal(&weights[1..]).contains("1.weight"));
    let stray = [
        weights[0],
        weights[1],
        Tensor::new("0.weight", &[1], &zeros_b[..1]),
    ];
    assert!(refusal(&stray).contains("0.weight"));
}

#[test]
fn refuses_what_it_cannot_build() {
    let cases: Vec<(Vec<Layer>, &str)> = vec![
        (vec![dense(10)], "layer 1 (dense): gets a 1×28×28 image"),
        (
            vec![Layer::Flatten, conv(4, 3), dense(10)],
            "layer 2 (conv2d): needs an image, but it comes after a flatten",
        ),
        (vec![Layer::Flatten, dense(7)], "10 classes"),
        (vec![conv(4, 3)], "10 classes"),
        (vec![], "10 classes"),
        (
            vec![
                Layer::MaxPool2d {
                    size: 29,
                    stride: 1,
                },
                Layer::Flatten,
                dense(10),
            ],
            "does not fit",
        ),
        (
            vec![Layer::Flatten, Layer::Dropout { rate: 1.0 }, dense(10)],
            "layer 2 (dropout): `rate` 1 is outside [0, 1)",
        ),
        (
            vec![Layer::Flatten, Layer::Dropout { rate: f32::NAN }, dense(10)],
            "outside [0, 1)",
        ),
        (vec![conv(0, 3), Layer::Flatten, dense(10)], "at least 1"),
    ];
    for (model, words) in cases {
        let builder = mnist(8, 8).model(&model);
        let err = expect_refusal(TchTrainer::new(&builder.session()));
        assert_eq!(err.kind, ErrorKind::Unsupported, "{err}");
        assert!(err.message.contains(words), "{err:?} should say {words:?}");
    }

    let refusal = |builder: SessionBuilder<'_>| expect_refusal(TchTrainer::new(&builder.session()));
    let typo = [KeyValue::new("threads_per_core", "2")];
    assert!(refusal(mnist(8, 8).options(&typo))
        .message
        .contains("unknown option"));
    let zero = [KeyValue::new("eval_batch_size", "0")];
    assert!(refusal(mnist(8, 8).options(&zero))
        .message
        .contains("eval_batch_size"));
    let old_zero = [KeyValue::new("eval_batch", "0")];
    assert!(refusal(mnist(8, 8).options(&old_zero))
        .message
        .contains("eval_batch = \"0\""));

    assert_eq!(
        refusal(mnist(8, 8).device("tpu")).kind,
        ErrorKind::Unsupported
    );
    if !plugin_tch::devices().contains(&"cuda") {
        let err = refusal(mnist(8, 8).device("cuda:0"));
        assert!(err.message.contains("without CUDA"), "{err}");
    }
    assert_eq!(
        refusal(mnist(8, 8).batch_size(0)).kind,
        ErrorKind::Unsupported
    );

    let mut builder = mnist(8, 8);
    builder.train_mut().labels[3] = 12; // a label past the 10 classes
    assert!(refusal(builder).message.contains("label 12"));
}

#[test]
fn options_are_spelled_as_in_the_other_plugins_and_old_spellings_still_work() {
    let note = |trainer: &TchTrainer<'_>, key: &str| {
        let info = trainer.run_info();
        let found = info.notes.iter().find(|n| n.key.as_str() == key);
        found.map(|n| n.value.to_string())
    };
    let new = [KeyValue::new("eval_batch_size", "7")];
    let builder = mnist(16, 20).options(&new);
    let mut trainer = TchTrainer::new(&builder.session()).expect("trainer");
    assert_eq!(note(&trainer, "eval_batch_size").as_deref(), Some("7"));
    assert_eq!(note(&trainer, "deprecated_option"), None);
    assert_eq!(trainer.evaluate().expect("evaluate").samples, 20);

    let old = [KeyValue::new("eval_batch", "7")];
    let builder = mnist(16, 20).options(&old);
    let trainer = TchTrainer::new(&builder.session()).expect("trainer");
    assert_eq!(note(&trainer, "eval_batch_size").as_deref(), Some("7"));
    let deprecated = note(&trainer, "deprecated_option").expect("a note on the old spelling");
    assert!(
        deprecated.contains("`eval_batch` is now spelled `eval_batch_size`"),
        "{deprecated}"
    );
}

/// From the host's Glorot-uniform weights on a model with two convolutions and a flatten of
/// 4 channels, libtorch's logits (no step) and first batch's loss agree with plugin-api's
/// naive f64 reference.
#[test]
fn host_weights_agree_with_the_reference() {
    use plugin_api::testing::{parity_model, reference};

    let base = mnist(200, 100).model(&parity_model());
    let agreement =
        reference::with_host_weights(base, 17, |b| reference::agreement(b, TchTrainer::new));
    println!("{agreement:?}");
    assert!(
        agreement.logits < 1e-4 && agreement.loss < 1e-4,
        "{agreement:?}"
    );
}
