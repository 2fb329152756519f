//! The hand-written StableHLO against JAX: two Adam steps and an evaluation on tiny models,
//! compared with what JAX's autodiff and optax.adam computed for the same weights and data
//! (tests/fixtures/steps.json, made by tests/fixtures/generate.py in the JAX venv).
//!
//! The fixture's model is written in the host's layouts (NCHW, OIHW, channel-major flatten);
//! the plugin's programs run NHWC with permuted weights. Agreement therefore also checks the
//! layout conversions, the padding and masking of a partial batch (4 samples in a batch of 5),
//! and both max-pool gradients.

use plugin_api::testing::{OwnedImages, SessionBuilder};
use plugin_api::{Activation, Layer, Optimizer, OptimizerKind, Padding, Tensor};
use plugin_xla::XlaTrainer;
use serde_json::Value;

/// A JSON array of numbers, each read by `each`.
fn array<T>(v: &Value, each: impl Fn(&Value) -> T) -> Vec<T> {
    v.as_array().unwrap().iter().map(each).collect()
}

fn floats(v: &Value) -> Vec<f32> {
    array(v, |x| x.as_f64().unwrap() as f32)
}

fn ints(v: &Value) -> Vec<u32> {
    array(v, |x| x.as_u64().unwrap() as u32)
}

fn layer(v: &Value) -> Layer {
    let relu = |v: &Value| match v["activation"].as_str() {
        Some("relu") => Activation::Relu,
        _ => Activation::None,
    };
    let int = |k: &str| v[k].as_u64().unwrap() as u32;
    match v["kind"].as_str().unwrap() {
        "conv2d" => Layer::Conv2d {
            filters: int("filters"),
            kernel: int("kernel"),
            padding: match v["padding"].as_str() {
                Some("same") => Padding::Same,
                _ => Padding::Valid,
            },
            activation: relu(v),
        },
        "maxpool2d" => Layer::MaxPool2d {
            size: int("size"),
            stride: int("stride"),
        },
        "flatten" => Layer::Flatten,
        "dropout" => Layer::Dropout {
            rate: v["rate"].as_f64().unwrap() as f32,
        },
        "dense" => Layer::Dense {
            units: int("units"),
            activation: relu(v),
        },
        other => panic!("fixture layer {other}"),
    }
}

struct Tensors(Vec<(String, Vec<u32>, Vec<f32>)>);

impl Tensors {
    fn read(v: &Value) -> Tensors {
        Tensors(
            v.as_array()
                .unwrap()
                .iter()
                .map(|t| {
                    (
                        t["name"].as_str().unwrap().to_string(),
                        ints(&t["shape"]),
                        floats(&t["values"]),
                    )
                })
                .collect(),
        )
    }
}

fn close(got: f64, want: f64, what: &str) {
    let tol = 1e-5 + 1e-4 * want.abs();
    assert!(
        (got - want).abs() <= tol,
        "{what}: got {got}, JAX {want} (|diff| {:e})",
        (got - want).abs()
    );
}

fn images(x: Vec<f32>, y: Vec<u8>, image: &[u32]) -> OwnedImages {
    OwnedImages {
        pixels: x,
        labels: y,
        channels: image[0],
        height: image[1],
        width: image[2],
    }
}

fn run_case(case: &Value, maxpool_grad: &str) {
    let name = case["name"].as_str().unwrap();
    let what = format!("{name}, maxpool_grad = {maxpool_grad}");
    let model: Vec<Layer> = case["layers"]
        .as_array()
        .unwrap()
        .iter()
        .map(layer)
        .collect();
    let image = ints(&case["image"]);
    let (train_x, test_x) = (floats(&case["train_x"]), floats(&case["test_x"]));
    let labels = |k: &str| -> Vec<u8> { ints(&case[k]).into_iter().map(|l| l as u8).collect() };
    let (train_y, test_y) = (labels("train_y"), labels("test_y"));
    let order = ints(&case["order"]);
    let initial = Tensors::read(&case["initial"]);
    let weights: Vec<Tensor<'_>> = initial
        .0
        .iter()
        .map(|(n, s, v)| Tensor::new(n, s, v))
        .collect();
    let opt = &case["optimizer"];
    let test_count = test_y.len();
    let builder = SessionBuilder::from_images(
        images(train_x, train_y, &image),
        images(test_x, test_y, &image),
    )
    .plugin_name("xla")
    .model(&model)
    .optimizer(Optimizer {
        kind: OptimizerKind::Adam,
        learning_rate: opt["learning_rate"].as_f64().unwrap(),
        beta1: opt["beta1"].as_f64().unwrap(),
        beta2: opt["beta2"].as_f64().unwrap(),
        epsilon: opt["epsilon"].as_f64().unwrap(),
    })
    .epochs(2)
    .batch_size(case["batch_size"].as_u64().unwrap() as u32)
    .seed(1)
    .classes(case["classes"].as_u64().unwrap() as u32)
    .initial_weights(&weights)
    .option("maxpool_grad", maxpool_grad);
    // JAX trained in the fixture's order, not the one the builder draws from the seed.
    let mut session = builder.session();
    session.order = order.as_slice().into();

    let mut trainer = XlaTrainer::new(&session).expect("trainer");
    // Before training the weights read back exactly as given (the layout round trip).
    let start = trainer.weights().unwrap();
    assert_eq!(start.len(), initial.0.len());
    for (name, _, want) in &initial.0 {
        let got = &start.iter().find(|t| &t.name == name).unwrap().values;
        assert_eq!(got, want, "{what}: {name} before training");
    }
    // Two epochs, the evaluation, and a third epoch refused, as the host would call them.
    let run = builder.run(&mut trainer);
    let losses = run.losses;
    for (e, (got, want)) in losses.iter().zip(floats(&case["epoch_losses"])).enumerate() {
        close(
            *got,
            f64::from(want),
            &format!("{what}: epoch {} loss", e + 1),
        );
    }
    let want = Tensors::read(&case["final"]);
    let got = trainer.weights().unwrap();
    let mut compared = 0;
    for (name, shape, values) in &want.0 {
        let tensor = got.iter().find(|t| &t.name == name).unwrap();
        let got_values = &tensor.values;
        let got_shape: Vec<u32> = tensor.shape.iter().map(|&d| d as u32).collect();
        assert_eq!(&got_shape, shape, "{what}: {name} shape");
        for (i, (g, w)) in got_values.iter().zip(values).enumerate() {
            close(
                f64::from(*g),
                f64::from(*w),
                &format!("{what}: {name}[{i}] after 2 steps"),
            );
            compared += 1;
        }
    }
    assert_eq!(got.len(), want.0.len(), "{what}: tensor count");
    assert!(compared > 50, "{what}: compared only {compared} values");
    close(
        run.eval.loss,
        case["eval_loss"].as_f64().unwrap(),
        &format!("{what}: eval loss"),
    );
    let correct = case["eval_correct"].as_f64().unwrap();
    assert_eq!(
        run.eval.accuracy,
        correct / test_count as f64,
        "{what}: accuracy"
    );
}

#[test]
fn two_adam_steps_match_jax() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/steps.json");
    let fixture: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let cases = fixture["cases"].as_array().unwrap();
    assert_eq!(cases.len(), 2);
    for case in cases {
        run_case(case, "mask");
        run_case(case, "scatter");
    }
}
