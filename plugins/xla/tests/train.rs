//! The xla trainer driven directly (no ABI, no host) through plugin-api's testing kit: it
//! learns on an MNIST subset, it honours the order, batch size and initial weights, and it
//! refuses what it cannot do with an error.
//!
//! These tests are built only when the plugin is (`-p plugin-xla`): the crate needs the PJRT
//! plugin that plugins/xla/setup-pjrt fetches. MNIST comes from `$MNIST_DIR`.

use plugin_api::testing::{expect_refusal, mnist_dir, small_cnn, Recorder, SessionBuilder};
use plugin_api::{Activation, ErrorKind, KeyValue, Layer, Padding, PluginError, Tensor, Train};
use plugin_xla::XlaTrainer;

fn dense10() -> Layer {
    Layer::Dense {
        units: 10,
        activation: Activation::None,
    }
}

/// The first `train` and `test` images of MNIST, sessions named `xla`.
fn mnist<'a>(train: usize, test: usize) -> SessionBuilder<'a> {
    SessionBuilder::mnist(&mnist_dir(), train, test)
        .unwrap_or_else(|e| panic!("{e} (set MNIST_DIR)"))
        .plugin_name("xla")
}

/// Synthetic digits, for what needs no real images.
fn synthetic<'a>(train: usize, test: usize) -> SessionBuilder<'a> {
    SessionBuilder::synthetic(train, test).plugin_name("xla")
}

/// Why `builder`'s session is refused.
fn refusal(builder: &SessionBuilder<'_>) -> PluginError {
    expect_refusal(XlaTrainer::new(&builder.session()))
}

#[test]
fn loss_falls_on_an_mnist_subset() {
    // plugin-api's small CNN (every layer kind) with 8 filters rather than 4, which learn
    // too little from 1,500 samples for the bar below; 500 images in batches of 32: 15 full
    // batches and a last one of 20.
    let mut model = small_cnn();
    if let Layer::Conv2d { filters, .. } = &mut model[0] {
        *filters = 8;
    }
    let builder = mnist(500, 300).model(&model).epochs(3);
    let mut trainer = XlaTrainer::new(&builder.session()).expect("trainer");
    // Every epoch trains every image once with one loss, a progress call per batch (the
    // partial one included), every test image evaluated, and a fourth epoch is an error.
    let run = builder.run(&mut trainer);
    // A tiny model after 1,500 samples (chance is 0.1); the 3-epoch study on all of MNIST is
    // the real accuracy check.
    run.assert_learned(16, 0.5);
    // The CPU-use notes come once per epoch.
    for report in &run.reports {
        let keys: Vec<&str> = report.notes.iter().map(|n| n.key.as_str()).collect();
        assert_eq!(keys, ["cpu_per_wall", "busy_threads"]);
    }
}

#[test]
fn initial_weights_are_used() {
    // All-zero weights make every logit 0: before any training the test loss is exactly
    // ln(10), and argmax picks class 0 for every image.
    let model = [Layer::Flatten, dense10()];
    let (zeros_w, zeros_b) = (vec![0.0f32; 7840], vec![0.0f32; 10]);
    let weights = [
        Tensor::new("1.weight", &[10, 784], &zeros_w),
        Tensor::new("1.bias", &[10], &zeros_b),
    ];
    let builder = mnist(64, 200).model(&model).initial_weights(&weights);
    let mut trainer = XlaTrainer::new(&builder.session()).expect("trainer");
    let notes = trainer.run_info().notes;
    assert!(notes
        .iter()
        .any(|n| n.key.as_str() == "initial_weights" && n.value.as_str() == "host"));
    let eval = trainer.evaluate().expect("evaluate");
    let zeros = builder.test().labels.iter().filter(|&&l| l == 0).count() as f64 / 200.0;
    assert!((eval.loss - 10f64.ln()).abs() < 1e-6, "loss {}", eval.loss);
    assert!(
        (eval.accuracy - zeros).abs() < 1e-12,
        "{} vs {zeros}",
        eval.accuracy
    );

    // A wrong shape, a missing tensor and a stray one are errors that name the tensor.
    let refused = |weights: &[Tensor<'_>]| {
        let e = refusal(&synthetic(8, 8).model(&model).initial_weights(weights));
        assert_eq!(e.kind, ErrorKind::Failed, "{e}");
        e.message.to_string()
    };
    let transposed = [Tensor::new("1.weight", &[784, 10], &zeros_w), weights[1]];
    assert!(refused(&transposed).contains("`1.weight` has shape [784, 10]"));
    assert!(refused(&weights[1..]).contains("no tensor `1.weight`"));
    let stray = [
        weights[0],
        weights[1],
        Tensor::new("0.weight", &[1], &zeros_b[..1]),
    ];
    assert!(refused(&stray).contains("`0.weight`, which no layer"));
    // Right shape, too few values.
    let short = [
        Tensor::new("1.weight", &[10, 784], &zeros_w[1..]),
        weights[1],
    ];
    assert!(refused(&short).contains("7839 values"));
}

#[test]
fn the_seed_decides_the_start() {
    let model = [Layer::Flatten, dense10()];
    let weights = |seed: u64| {
        let builder = synthetic(32, 8).model(&model).seed(seed);
        let trainer = XlaTrainer::new(&builder.session()).expect("trainer");
        trainer.weights().expect("weights")
    };
    let (a, again, b) = (weights(1), weights(1), weights(2));
    assert_eq!(a, again, "one seed, one start");
    assert_ne!(a[0].values, b[0].values, "another seed, another start");
    assert_eq!(
        a.iter()
            .map(|t| (t.name.as_str(), t.shape.clone()))
            .collect::<Vec<_>>(),
        [("1.weight", vec![10, 784]), ("1.bias", vec![10])]
    );
    // PyTorch's default: U(-1/√784, 1/√784) for weights and biases.
    let bound = 1.0 / 784f32.sqrt();
    assert!(a.iter().all(|t| t.values.iter().all(|x| x.abs() <= bound)));
    assert!(
        a[0].values.iter().any(|x| x.abs() > 0.9 * bound),
        "spread over the range"
    );
    // Centred, with a uniform's variance b²/3: the 7,840 weights' mean is within 8 standard
    // errors of 0 and their variance within 10 % (about 10 standard errors) of b²/3.
    let w: Vec<f64> = a[0].values.iter().map(|&x| f64::from(x)).collect();
    let n = w.len() as f64;
    let mean = w.iter().sum::<f64>() / n;
    let var = w.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n;
    let b = f64::from(bound);
    assert!(mean.abs() < 8.0 * b / (3.0 * n).sqrt(), "mean {mean}");
    assert!((var / (b * b / 3.0) - 1.0).abs() < 0.1, "variance {var}");
}

#[test]
fn refuses_models_it_cannot_build_naming_the_layer_from_1() {
    let conv = |filters, kernel, padding| Layer::Conv2d {
        filters,
        kernel,
        padding,
        activation: Activation::Relu,
    };
    let cases: Vec<(Vec<Layer>, &str)> = vec![
        (vec![dense10()], "layer 1 (dense): gets a 1×28×28 image"),
        (
            vec![Layer::Flatten, conv(4, 3, Padding::Same), dense10()],
            "layer 2 (conv2d): needs an image, but it comes after a flatten",
        ),
        (
            vec![
                Layer::Flatten,
                Layer::Dense {
                    units: 7,
                    activation: Activation::Relu,
                },
            ],
            "ends with 7 values per sample, but the dataset has 10 classes",
        ),
        (vec![conv(4, 3, Padding::Same)], "10 classes"),
        (vec![], "10 classes"),
        (
            vec![
                Layer::MaxPool2d {
                    size: 29,
                    stride: 1,
                },
                Layer::Flatten,
                dense10(),
            ],
            "layer 1 (maxpool2d): a 29×29 window does not fit its 28×28 input",
        ),
        (
            vec![
                conv(2, 3, Padding::Same),
                conv(2, 29, Padding::Valid),
                Layer::Flatten,
                dense10(),
            ],
            "layer 2 (conv2d): a 29×29 kernel with `valid` padding does not fit",
        ),
        (
            vec![Layer::Flatten, Layer::Dropout { rate: 1.0 }, dense10()],
            "layer 2 (dropout): `rate` 1 is outside [0, 1)",
        ),
        (
            vec![Layer::Flatten, Layer::Dropout { rate: f32::NAN }, dense10()],
            "outside [0, 1)",
        ),
        (
            vec![conv(0, 3, Padding::Same), Layer::Flatten, dense10()],
            "layer 1 (conv2d): `filters` and `kernel` must be at least 1",
        ),
    ];
    for (model, words) in cases {
        let err = refusal(&synthetic(8, 8).model(&model));
        assert_eq!(err.kind, ErrorKind::Unsupported, "{err}");
        assert!(err.message.contains(words), "{err:?} should say {words:?}");
    }
}

#[test]
fn refuses_sessions_and_options_it_cannot_use() {
    let with = |pairs: &[KeyValue<'_>]| refusal(&synthetic(8, 8).options(pairs));
    let err = with(&[KeyValue::new("threads_per_core", "2")]);
    assert_eq!(
        err.message.as_str(),
        "unknown option `threads_per_core` for the xla plugin \
         (known: pjrt_plugin, eval_batch_size, maxpool_grad, dump_programs)"
    );
    let err = with(&[KeyValue::new("eval_batch_size", "0")]);
    assert!(err.message.contains("eval_batch_size = \"0\""), "{err}");
    let err = with(&[KeyValue::new("eval_batch", "0")]);
    assert!(err.message.contains("eval_batch = \"0\""), "{err}");
    let err = with(&[KeyValue::new("eval_batch_size", "16777217")]);
    assert!(err.message.contains("at most 16777216"), "{err}");
    let both = [
        KeyValue::new("eval_batch", "5"),
        KeyValue::new("eval_batch_size", "5"),
    ];
    assert!(with(&both).message.contains("keep one"));
    let err = with(&[KeyValue::new("maxpool_grad", "fast")]);
    assert!(err.message.contains("maxpool_grad"), "{err}");
    // A missing PJRT plugin says how to get it (relative paths resolve against manifest_dir).
    let err = with(&[
        KeyValue::new("pjrt_plugin", "nowhere/xla_cpu_pjrt.so"),
        KeyValue::new(plugin_api::MANIFEST_DIR_OPTION, "/tmp/jb-xla-test"),
    ]);
    assert_eq!(err.kind, ErrorKind::Setup, "{err}");
    assert!(
        err.message
            .contains("/tmp/jb-xla-test/nowhere/xla_cpu_pjrt.so")
            && err.message.contains("plugins/xla/setup-pjrt"),
        "{err}"
    );

    let err = refusal(&synthetic(8, 8).device("cuda:0"));
    assert_eq!(err.kind, ErrorKind::Unsupported, "{err}");
    assert!(err.message.contains("CPU client only"), "{err}");
    let err = refusal(&synthetic(8, 8).batch_size(0));
    assert_eq!(err.kind, ErrorKind::Unsupported, "{err}");
    assert_eq!(
        refusal(&synthetic(8, 8).threads(0)).kind,
        ErrorKind::Unsupported
    );
    assert!(refusal(&synthetic(8, 8).learning_rate(f64::NAN))
        .message
        .contains("Adam"));

    let mut builder = synthetic(8, 8);
    builder.train_mut().labels[3] = 12; // a label past the 10 classes
    assert!(refusal(&builder).message.contains("label 12"));
    // An order that names an image the training set does not have.
    let builder = synthetic(8, 8);
    let mut session = builder.session();
    let bad_order = [0u32, 1, 2, 3, 4, 5, 6, 8];
    session.order = bad_order.as_slice().into();
    let err = expect_refusal(XlaTrainer::new(&session));
    assert!(err.message.contains("names image 8"), "{err}");
}

#[test]
fn options_are_spelled_as_in_the_other_plugins_and_the_old_spelling_still_works() {
    let model = [Layer::Flatten, dense10()];
    let note = |trainer: &XlaTrainer<'_>, key: &str| {
        let info = trainer.run_info();
        let found = info.notes.iter().find(|n| n.key.as_str() == key);
        found.map(|n| n.value.to_string())
    };
    let new = [KeyValue::new("eval_batch_size", "7")];
    let builder = synthetic(16, 20).model(&model).options(&new);
    let mut trainer = XlaTrainer::new(&builder.session()).expect("trainer");
    assert_eq!(note(&trainer, "eval_batch_size").as_deref(), Some("7"));
    assert_eq!(note(&trainer, "deprecated_option"), None);
    // 20 test images in batches of 7: two full and a padded one.
    assert_eq!(trainer.evaluate().expect("evaluate").samples, 20);

    let old = [KeyValue::new("eval_batch", "7")];
    let builder = synthetic(16, 20).model(&model).options(&old);
    let trainer = XlaTrainer::new(&builder.session()).expect("trainer");
    assert_eq!(note(&trainer, "eval_batch_size").as_deref(), Some("7"));
    let deprecated = note(&trainer, "deprecated_option").expect("a note on the old spelling");
    assert!(
        deprecated.contains("`eval_batch` is now spelled `eval_batch_size`"),
        "{deprecated}"
    );
}

/// Which of the 784 input pixels reached the dense layer in one step on an all-ones image:
/// with zero initial weights Adam's first step moves a weight by ±lr exactly when its input
/// was kept, and leaves it at 0 when dropout zeroed it.
fn kept_pixels(seed: u64, rate: f32) -> Vec<bool> {
    let model = [Layer::Flatten, Layer::Dropout { rate }, dense10()];
    let (zeros_w, zeros_b) = (vec![0.0f32; 7840], vec![0.0f32; 10]);
    let weights = [
        Tensor::new("2.weight", &[10, 784], &zeros_w),
        Tensor::new("2.bias", &[10], &zeros_b),
    ];
    let mut builder = synthetic(1, 1)
        .model(&model)
        .initial_weights(&weights)
        .batch_size(1)
        .seed(seed);
    builder.train_mut().pixels.fill(1.0);
    let mut trainer = XlaTrainer::new(&builder.session()).expect("trainer");
    trainer
        .train_epochs(1, &Recorder::default().progress())
        .expect("train");
    let w = &trainer.weights().expect("weights")[0].values;
    (0..784)
        .map(|i| (0..10).any(|u| w[u * 784 + i] != 0.0))
        .collect()
}

#[test]
fn dropout_keeps_the_expected_share_from_the_seed() {
    for rate in [0.5f32, 0.2] {
        let kept = kept_pixels(11, rate);
        let n = kept.iter().filter(|&&k| k).count() as f64;
        // Binomial(784, 1 - rate): 5 standard deviations either side.
        let (mean, sd) = (
            784.0 * f64::from(1.0 - rate),
            (784.0 * f64::from(rate * (1.0 - rate))).sqrt(),
        );
        assert!(
            (n - mean).abs() < 5.0 * sd,
            "rate {rate}: kept {n} of 784, expected ~{mean}"
        );
        assert_eq!(kept, kept_pixels(11, rate), "one seed, one mask");
        assert_ne!(kept, kept_pixels(12, rate), "another seed, another mask");
    }
    assert!(
        kept_pixels(11, 0.0).iter().all(|&k| k),
        "rate 0 keeps everything"
    );
}

/// From the host's Glorot-uniform weights on a model with two convolutions and a flatten of
/// 4 channels, the programs' logits (no step) and first batch's loss agree with plugin-api's
/// naive f64 reference: layouts (HWIO, the NHWC flatten permutation) and forward pass.
#[test]
fn host_weights_agree_with_the_reference() {
    use plugin_api::testing::{parity_model, reference};

    let base = mnist(200, 100).model(&parity_model());
    let agreement =
        reference::with_host_weights(base, 17, |b| reference::agreement(b, XlaTrainer::new));
    println!("{agreement:?}");
    assert!(
        agreement.logits < 1e-4 && agreement.loss < 1e-4,
        "{agreement:?}"
    );
}
