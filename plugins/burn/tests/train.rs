//! The burn trainer driven directly (no ABI, no host): it learns a few hundred synthetic
//! images, honours initial weights, and refuses what it cannot do with an error.

use abi_stable::sabi_trait::TD_Opaque;
use abi_stable::sabi_types::RRef;
use abi_stable::std_types::{RNone, ROption, RSlice, RStr};
use plugin_api::{
    Activation, Dataset, ErrorKind, Images, KeyValue, Layer, Optimizer, OptimizerKind, Padding,
    ProgressSink, ProgressSink_TO, Session, Tensor, Train,
};
use plugin_burn::BurnTrainer;
use std::sync::Mutex;

const SIDE: usize = 28;

/// Class `c` lights a horizontal band at rows `2c+3..2c+6` over faint noise: learnable from a
/// few hundred samples, but not in one step.
fn synthetic(count: usize, offset: usize) -> (Vec<f32>, Vec<u8>) {
    let mut pixels = vec![0.0f32; count * SIDE * SIDE];
    let mut labels = Vec::with_capacity(count);
    for i in 0..count {
        let class = (i * 7 + offset) % 10;
        labels.push(class as u8);
        let image = &mut pixels[i * SIDE * SIDE..][..SIDE * SIDE];
        for (p, v) in image.iter_mut().enumerate() {
            *v = ((p * 7 + i * 13) % 17) as f32 / 40.0;
        }
        for row in 2 * class + 3..2 * class + 6 {
            for col in 4..24 {
                image[row * SIDE + col] = 1.0;
            }
        }
    }
    (pixels, labels)
}

fn images<'a>(px: &'a [f32], lb: &'a [u8]) -> Images<'a> {
    Images {
        pixels: RSlice::from_slice(px),
        labels: RSlice::from_slice(lb),
        count: lb.len() as u32,
        channels: 1,
        height: SIDE as u32,
        width: SIDE as u32,
    }
}

fn small_cnn() -> Vec<Layer> {
    vec![
        Layer::Conv2d {
            filters: 4,
            kernel: 3,
            padding: Padding::Same,
            activation: Activation::Relu,
        },
        Layer::MaxPool2d { size: 2, stride: 2 },
        Layer::Flatten,
        Layer::Dropout { rate: 0.1 },
        Layer::Dense {
            units: 10,
            activation: Activation::None,
        },
    ]
}

/// Owns everything a session borrows.
struct Fixture {
    model: Vec<Layer>,
    train: (Vec<f32>, Vec<u8>),
    test: (Vec<f32>, Vec<u8>),
    order: Vec<u32>,
    epochs: u32,
}

impl Fixture {
    fn new(train: usize, test: usize, epochs: u32) -> Self {
        // A different permutation each epoch: reversed on odd epochs, rotated by 7 per epoch.
        let mut order = Vec::new();
        for e in 0..epochs as usize {
            order.extend((0..train).map(|i| {
                let i = if e % 2 == 1 { train - 1 - i } else { i };
                ((i + 7 * e) % train) as u32
            }));
        }
        Fixture {
            model: small_cnn(),
            train: synthetic(train, 0),
            test: synthetic(test, 3),
            order,
            epochs,
        }
    }

    fn session<'a>(
        &'a self,
        options: &'a [KeyValue<'a>],
        weights: ROption<RSlice<'a, Tensor<'a>>>,
    ) -> Session<'a> {
        Session {
            plugin_name: RStr::from_str("burn"),
            model: RSlice::from_slice(&self.model),
            optimizer: Optimizer {
                kind: OptimizerKind::Adam,
                learning_rate: 3e-3,
                beta1: 0.9,
                beta2: 0.999,
                epsilon: 1e-8,
            },
            epochs: self.epochs,
            batch_size: 32,
            seed: 11,
            threads: 1,
            device: RStr::from_str("cpu"),
            data: Dataset {
                train: images(&self.train.0, &self.train.1),
                test: images(&self.test.0, &self.test.1),
                classes: 10,
            },
            order: RSlice::from_slice(&self.order),
            initial_weights: weights,
            options: RSlice::from_slice(options),
        }
    }
}

#[derive(Default)]
struct Recorder(Mutex<Vec<(u32, u64, u64)>>);

impl ProgressSink for Recorder {
    fn batch_done(&self, epoch: u32, batch: u64, batches: u64) {
        self.0.lock().unwrap().push((epoch, batch, batches));
    }
}

#[test]
fn learns_a_few_hundred_images() {
    let fx = Fixture::new(300, 100, 3);
    let mut trainer = BurnTrainer::new(&fx.session(&[], RNone)).expect("trainer");
    assert_eq!(trainer.run_info().threads, 1);
    let recorder = Recorder::default();
    let progress = ProgressSink_TO::from_ptr(RRef::new(&recorder), TD_Opaque);
    let mut losses = Vec::new();
    for _ in 0..3 {
        let report = trainer.train_epochs(1, &progress).expect("epoch trains");
        assert_eq!(report.samples, 300);
        losses.extend(report.epoch_losses.iter().copied());
    }
    // 300 = 9 × 32 + 12: ten batches per epoch, the last one partial.
    let calls = recorder.0.lock().unwrap().clone();
    assert_eq!(calls.len(), 30);
    assert_eq!(calls.last(), Some(&(2, 10, 10)));
    assert!(losses.iter().all(|l| l.is_finite()), "losses {losses:?}");
    assert!(
        losses[2] < 0.7 * losses[0],
        "the loss should fall over three epochs: {losses:?}"
    );
    let eval = trainer.evaluate().expect("evaluates");
    assert_eq!(eval.samples, 100);
    assert!(
        eval.accuracy > 0.5,
        "accuracy {} (chance is 0.1)",
        eval.accuracy
    );
    // The session holds three epochs: a fourth is an error, not a panic.
    let past = trainer.train_epochs(1, &progress).unwrap_err();
    assert_eq!(past.kind, ErrorKind::Failed);
}

#[test]
fn zero_initial_weights_give_uniform_predictions() {
    let fx = Fixture::new(40, 30, 1);
    let conv_w = vec![0.0f32; 4 * 9];
    let conv_b = vec![0.0f32; 4];
    let dense_w = vec![0.0f32; 10 * 4 * 14 * 14];
    let dense_b = vec![0.0f32; 10];
    let tensor = |name: &'static str, shape: &'static [u32], values: &'static [f32]| Tensor {
        name: RStr::from_str(name),
        shape: RSlice::from_slice(shape),
        values: RSlice::from_slice(values),
    };
    // Leaked: the test needs 'static slices for the closure above; a few KB, once.
    let leak = |v: Vec<f32>| -> &'static [f32] { Box::leak(v.into_boxed_slice()) };
    let weights = vec![
        tensor("0.weight", &[4, 1, 3, 3], leak(conv_w)),
        tensor("0.bias", &[4], leak(conv_b)),
        tensor("4.weight", &[10, 784], leak(dense_w)),
        tensor("4.bias", &[10], leak(dense_b)),
    ];
    let session = fx.session(&[], ROption::RSome(RSlice::from_slice(&weights)));
    let mut trainer = BurnTrainer::new(&session).expect("trainer");
    let eval = trainer.evaluate().expect("evaluates");
    // All logits are 0: every class gets 1/10, so the loss is ln 10 exactly.
    assert!(
        (eval.loss - 10f64.ln()).abs() < 1e-5,
        "loss {} (expected ln 10)",
        eval.loss
    );

    // A wrong shape is an error that names the tensor.
    let mut wrong = weights.clone();
    wrong[2] = tensor("4.weight", &[784, 10], wrong[2].values.as_slice());
    let session = fx.session(&[], ROption::RSome(RSlice::from_slice(&wrong)));
    let err = BurnTrainer::new(&session).err().expect("refused");
    assert!(err.message.contains("4.weight"), "{err}");
}

#[test]
fn refuses_what_it_cannot_do() {
    let mut fx = Fixture::new(20, 10, 1);
    let opts = [KeyValue {
        key: RStr::from_str("no_such_option"),
        value: RStr::from_str("1"),
    }];
    let err = BurnTrainer::new(&fx.session(&opts, RNone))
        .err()
        .expect("refused");
    assert_eq!(err.kind, ErrorKind::Unsupported);

    let opts = [KeyValue {
        key: RStr::from_str("eval_batch_size"),
        value: RStr::from_str("zero"),
    }];
    let err = BurnTrainer::new(&fx.session(&opts, RNone))
        .err()
        .expect("refused");
    assert!(err.message.contains("eval_batch_size"), "{err}");

    // A convolution after flatten, a window larger than its input, a wrong output size.
    let bad_models = [
        vec![
            Layer::Flatten,
            Layer::Conv2d {
                filters: 2,
                kernel: 3,
                padding: Padding::Valid,
                activation: Activation::None,
            },
        ],
        vec![Layer::MaxPool2d {
            size: 40,
            stride: 1,
        }],
        vec![
            Layer::Flatten,
            Layer::Dense {
                units: 7,
                activation: Activation::None,
            },
        ],
        vec![Layer::Dense {
            units: 10,
            activation: Activation::None,
        }],
        vec![
            Layer::Conv2d {
                filters: 0,
                kernel: 3,
                padding: Padding::Same,
                activation: Activation::Relu,
            },
            Layer::Flatten,
            Layer::Dense {
                units: 10,
                activation: Activation::None,
            },
        ],
    ];
    for model in bad_models {
        fx.model = model;
        let err = BurnTrainer::new(&fx.session(&[], RNone))
            .err()
            .unwrap_or_else(|| panic!("model {:?} should be refused", fx.model));
        assert_eq!(err.kind, ErrorKind::Unsupported, "{err}");
    }
}
