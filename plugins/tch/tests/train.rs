//! The tch trainer driven directly (no ABI, no host) on MNIST subsets: it learns, it honours
//! the order, batch size and initial weights, and it refuses what it cannot do with an error.
//!
//! These tests are built only when the plugin is (`-p plugin-tch`): the crate needs libtorch.

mod common;

use common::{conv, dense, with_progress, with_session, Batches, Fixture};
use plugin_api::{ErrorKind, Layer, PluginError, Train};
use plugin_tch::TchTrainer;

fn new_error(fixture: &Fixture) -> PluginError {
    match with_session(fixture, |s| TchTrainer::new(s).map(|_| ())) {
        Ok(()) => panic!("the trainer accepted {:?}", fixture.model),
        Err(e) => e,
    }
}

#[test]
fn loss_falls_on_an_mnist_subset() {
    // 500 images in batches of 32: 15 full batches and a last one of 20.
    let fixture = Fixture::mnist(500, 300, 3);
    let session = fixture.session();
    let mut trainer = TchTrainer::new(&session).expect("trainer");
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
    // A tiny model after 1,500 samples: ~0.7 here (chance is 0.1); the 3-epoch study on all
    // of MNIST is the real accuracy check.
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
        TchTrainer::new(s)
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
fn refuses_what_it_cannot_build() {
    let mut f = Fixture::mnist(8, 8, 1);
    let cases: Vec<(Vec<Layer>, &str)> = vec![
        (vec![dense(10)], "flatten before it"),
        (
            vec![Layer::Flatten, conv(4, 3), dense(10)],
            "after a flatten",
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
            "outside [0, 1)",
        ),
        (
            vec![Layer::Flatten, Layer::Dropout { rate: f32::NAN }, dense(10)],
            "outside [0, 1)",
        ),
        (vec![conv(0, 3), Layer::Flatten, dense(10)], "at least 1"),
    ];
    for (model, words) in cases {
        f.model = model;
        let err = new_error(&f);
        assert_eq!(err.kind, ErrorKind::Unsupported, "{err}");
        assert!(err.message.contains(words), "{err:?} should say {words:?}");
    }

    f.model = common::small_cnn();
    f.options = vec![("threads_per_core".into(), "2".into())];
    assert!(new_error(&f).message.contains("unknown option"));
    f.options = vec![("eval_batch".into(), "0".into())];
    assert!(new_error(&f).message.contains("eval_batch"));
    f.options.clear();

    f.device = "tpu".into();
    assert_eq!(new_error(&f).kind, ErrorKind::Unsupported);
    if !plugin_tch::devices().contains(&"cuda") {
        f.device = "cuda:0".into();
        assert!(new_error(&f).message.contains("without CUDA"));
    }
    f.device = "cpu".into();

    f.batch_size = 0;
    assert_eq!(new_error(&f).kind, ErrorKind::Unsupported);
    f.batch_size = 32;

    f.train.1[3] = 12; // a label past the 10 classes
    assert!(new_error(&f).message.contains("label 12"));
}
