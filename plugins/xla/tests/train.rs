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

#[test]
fn initial_weights_are_used() {
    // All-zero weights make every logit 0: before any training the test loss is exactly
    // ln(10), and argmax picks class 0 for every image.
    let mut fixture = Fixture::mnist(64, 200, 1);
    fixture.model = vec![Layer::Flatten, dense(10)];
    fixture.weights = Some(vec![
        ("1.weight".into(), vec![10, 784], vec![0.0; 7840]),
        ("1.bias".into(), vec![10], vec![0.0; 10]),
    ]);
    let eval = with_session(&fixture, |s| {
        XlaTrainer::new(s)
            .expect("trainer")
            .evaluate()
            .expect("evaluate")
    });
    let zeros = fixture.test.1.iter().filter(|&&l| l == 0).count() as f64 / 200.0;
    assert!((eval.loss - 10f64.ln()).abs() < 1e-6, "loss {}", eval.loss);
    assert!(
        (eval.accuracy - zeros).abs() < 1e-12,
        "{} vs {zeros}",
        eval.accuracy
    );

    // A wrong shape, a missing tensor and a stray one are errors that name the tensor.
    let mut wrong = Fixture::mnist(8, 8, 1);
    wrong.model = fixture.model.clone();
    wrong.weights = Some(vec![
        ("1.weight".into(), vec![784, 10], vec![0.0; 7840]),
        ("1.bias".into(), vec![10], vec![0.0; 10]),
    ]);
    assert!(new_error(&wrong).message.contains("1.weight"));
    wrong.weights = Some(vec![("1.bias".into(), vec![10], vec![0.0; 10])]);
    assert!(new_error(&wrong).message.contains("1.weight"));
    let mut stray = fixture.weights.clone().unwrap();
    stray.push(("0.weight".into(), vec![1], vec![0.0]));
    wrong.weights = Some(stray);
    assert!(new_error(&wrong).message.contains("0.weight"));
}

#[test]
fn the_seed_decides_the_start() {
    let mut fixture = Fixture::mnist(32, 8, 1);
    fixture.model = vec![Layer::Flatten, dense(10)];
    let weights = |seed: u64| {
        let mut session = fixture.session();
        session.seed = seed;
        XlaTrainer::new(&session).unwrap().weights().unwrap()
    };
    let (a, again, b) = (weights(1), weights(1), weights(2));
    assert_eq!(a, again, "one seed, one start");
    assert_ne!(a[0].values, b[0].values, "another seed, another start");
    // PyTorch's default: U(-1/√784, 1/√784) for weights and biases.
    let bound = 1.0 / 784f32.sqrt();
    assert!(a.iter().all(|t| t.values.iter().all(|x| x.abs() <= bound)));
    assert!(
        a[0].values.iter().any(|x| x.abs() > 0.9 * bound),
        "spread over the range"
    );
}

#[test]
fn refuses_what_it_cannot_build() {
    let mut f = Fixture::mnist(8, 8, 1);
    let cases: Vec<(Vec<Layer>, &str)> = vec![
        (vec![dense(10)], "layer 1 (dense): dense on a 1×28×28 image"),
        (
            vec![Layer::Flatten, conv(4, 3), dense(10)],
            "layer 2 (conv2d): it needs an image",
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
            "layer 1 (maxpool2d): a 29×29 pooling window does not fit",
        ),
        (
            vec![Layer::Flatten, Layer::Dropout { rate: 1.0 }, dense(10)],
            "layer 2 (dropout): rate 1 is outside [0, 1)",
        ),
        (
            vec![Layer::Flatten, Layer::Dropout { rate: f32::NAN }, dense(10)],
            "outside [0, 1)",
        ),
        (
            vec![conv(0, 3), Layer::Flatten, dense(10)],
            "layer 1 (conv2d): filters must be at least 1",
        ),
    ];
    for (model, words) in cases {
        f.model = model;
        let err = new_error(&f);
        assert_eq!(err.kind, ErrorKind::Unsupported, "{err}");
        assert!(err.message.contains(words), "{err:?} should say {words:?}");
    }

    f.model = common::small_cnn();
    f.options = vec![("threads_per_core".into(), "2".into())];
    assert!(new_error(&f)
        .message
        .contains("unknown option `threads_per_core`"));
    f.options = vec![("eval_batch".into(), "0".into())];
    assert!(new_error(&f).message.contains("eval_batch"));
    f.options = vec![("maxpool_grad".into(), "fast".into())];
    assert!(new_error(&f).message.contains("maxpool_grad"));
    // A missing PJRT plugin says how to get it (relative paths resolve against manifest_dir).
    f.options = vec![
        ("pjrt_plugin".into(), "nowhere/xla_cpu_pjrt.so".into()),
        (
            plugin_api::MANIFEST_DIR_OPTION.into(),
            "/tmp/jb-xla-test".into(),
        ),
    ];
    let err = new_error(&f);
    assert_eq!(err.kind, ErrorKind::Setup, "{err}");
    assert!(
        err.message
            .contains("/tmp/jb-xla-test/nowhere/xla_cpu_pjrt.so")
            && err.message.contains("plugins/xla/setup-pjrt"),
        "{err}"
    );
    f.options.clear();

    f.device = "cuda:0".into();
    assert_eq!(new_error(&f).kind, ErrorKind::Unsupported);
    f.device = "cpu".into();

    f.batch_size = 0;
    assert_eq!(new_error(&f).kind, ErrorKind::Unsupported);
    f.batch_size = 32;

    f.train.1[3] = 12; // a label past the 10 classes
    assert!(new_error(&f).message.contains("label 12"));
}

/// Which of the 784 input pixels reached the dense layer in one step on an all-ones image:
/// with zero initial weights Adam's first step moves a weight by ±lr exactly when its input
/// was kept, and leaves it at 0 when dropout zeroed it.
fn kept_pixels(seed: u64, rate: f32) -> Vec<bool> {
    let mut f = Fixture::mnist(1, 1, 1);
    f.train.0 = vec![1.0; 784];
    f.batch_size = 1;
    f.order = vec![0];
    f.model = vec![Layer::Flatten, Layer::Dropout { rate }, dense(10)];
    f.weights = Some(vec![
        ("2.weight".into(), vec![10, 784], vec![0.0; 7840]),
        ("2.bias".into(), vec![10], vec![0.0; 10]),
    ]);
    with_session(&f, |s| {
        let mut s = *s;
        s.seed = seed;
        let mut trainer = XlaTrainer::new(&s).expect("trainer");
        with_progress(&Batches::default(), |p| trainer.train_epochs(1, p)).expect("train");
        let w = &trainer.weights().unwrap()[0].values;
        (0..784)
            .map(|i| (0..10).any(|u| w[u * 784 + i] != 0.0))
            .collect()
    })
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
