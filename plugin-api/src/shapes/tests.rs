//! The walk's shapes, and the models it refuses, each with the words of its message.

use super::*;
use crate::testing::study_model;
use crate::Activation;

fn conv(filters: u32, kernel: u32, padding: Padding) -> Layer {
    Layer::Conv2d {
        filters,
        kernel,
        padding,
        activation: Activation::Relu,
    }
}

fn dense(units: u32) -> Layer {
    Layer::Dense {
        units,
        activation: Activation::None,
    }
}

fn pool(size: u32, stride: u32) -> Layer {
    Layer::MaxPool2d { size, stride }
}

const MNIST: Shape = Shape::Image {
    channels: 1,
    height: 28,
    width: 28,
};

fn error(input: Shape, layers: &[Layer]) -> ModelError {
    ModelShapes::walk(input, layers).expect_err("should be refused")
}

#[test]
fn the_study_model_walks_as_pytorch_counts_it() {
    // manifests/mnist.toml; shapes and the parameter count as torch_cnn.py's model has them.
    let model = ModelShapes::walk(MNIST, &study_model()).unwrap();
    let outputs: Vec<Shape> = model.layers.iter().map(|l| l.output).collect();
    assert_eq!(
        outputs,
        [
            Shape::image(64, 28, 28),
            Shape::image(64, 14, 14),
            Shape::image(128, 14, 14),
            Shape::image(128, 7, 7),
            Shape::Flat(6272),
            Shape::Flat(10),
        ]
    );
    assert_eq!(model.layers[2].input, Shape::image(64, 14, 14));
    let params: Vec<Option<Params>> = model.layers.iter().map(|l| l.params.clone()).collect();
    assert_eq!(
        params[0],
        Some(Params {
            weight: vec![64, 1, 3, 3],
            bias: 64,
            fan_in: 9,
            fan_out: 576
        })
    );
    assert_eq!(
        params[2],
        Some(Params {
            weight: vec![128, 64, 5, 5],
            bias: 128,
            fan_in: 1600,
            fan_out: 3200
        })
    );
    assert_eq!(
        params[5],
        Some(Params {
            weight: vec![10, 6272],
            bias: 10,
            fan_in: 6272,
            fan_out: 10
        })
    );
    assert!(params[1].is_none() && params[3].is_none() && params[4].is_none());
    // 64·9 + 64 + 128·64·25 + 128 + 10·6272 + 10
    assert_eq!(model.parameter_count(), 268_298);
    assert_eq!(model.layers[5].weight_name(), "5.weight");
    assert_eq!(model.layers[5].bias_name(), "5.bias");
    assert_eq!(model.layers[5].number(), 6);
    assert_eq!(model.layers[0].padding, (1, 1));
    assert_eq!(model.layers[2].padding, (2, 2));
    model.expect_logits(10).unwrap();
    assert!(model.expect_logits(7).is_err());
}

#[test]
fn same_padding_keeps_the_size_and_puts_the_odd_row_after() {
    let input = Shape::image(3, 9, 8);
    for (k, padding) in [
        (1, (0, 0)),
        (2, (0, 1)),
        (3, (1, 1)),
        (4, (1, 2)),
        (5, (2, 2)),
    ] {
        let model = ModelShapes::walk(input, &[conv(6, k, Padding::Same)]).unwrap();
        let layer = &model.layers[0];
        assert_eq!(layer.output, Shape::image(6, 9, 8), "kernel {k}");
        assert_eq!(layer.padding, padding, "kernel {k}");
        assert_eq!(
            layer.params.as_ref().unwrap().weight,
            [6, 3, k as usize, k as usize]
        );
    }
}

#[test]
fn valid_padding_shrinks_by_the_kernel_less_one_and_must_fit() {
    let input = Shape::image(2, 9, 8);
    for (k, h, w) in [(1, 9, 8), (2, 8, 7), (3, 7, 6), (8, 2, 1)] {
        let model = ModelShapes::walk(input, &[conv(5, k, Padding::Valid)]).unwrap();
        assert_eq!(model.layers[0].output, Shape::image(5, h, w), "kernel {k}");
        assert_eq!(model.layers[0].padding, (0, 0));
    }
    let e = error(input, &[conv(5, 9, Padding::Valid)]);
    assert_eq!(e.layer, Some(1));
    assert_eq!(
        e.message,
        "layer 1 (conv2d): a 9×9 kernel with `valid` padding does not fit its 9×8 input"
    );
}

#[test]
fn pooling_that_does_not_divide_drops_the_rest() {
    // floor((size - window) / stride) + 1, no padding.
    for (side, size, stride, out) in [(7, 2, 2, 3), (28, 3, 2, 13), (5, 5, 1, 1), (9, 2, 3, 3)] {
        let input = Shape::image(4, side, side);
        let model = ModelShapes::walk(input, &[pool(size, stride)]).unwrap();
        assert_eq!(
            model.layers[0].output,
            Shape::image(4, out, out),
            "{side} {size}/{stride}"
        );
        assert!(model.layers[0].params.is_none());
    }
    let e = error(MNIST, &[pool(29, 1)]);
    assert_eq!(
        e.message,
        "layer 1 (maxpool2d): a 29×29 window does not fit its 28×28 input"
    );
}

#[test]
fn a_conv_after_flatten_is_an_error_naming_its_layer_from_one() {
    let e = error(
        MNIST,
        &[Layer::Flatten, conv(4, 3, Padding::Same), dense(10)],
    );
    assert_eq!(e.layer, Some(2));
    assert_eq!(
        e.message,
        "layer 2 (conv2d): needs an image, but it comes after a flatten (its input is 784 values)"
    );
    let e = error(MNIST, &[Layer::Flatten, dense(20), pool(2, 2)]);
    assert_eq!(e.layer, Some(3));
    assert!(
        e.message.starts_with("layer 3 (maxpool2d): needs an image"),
        "{e}"
    );
    // As a PluginError it is Unsupported, with the same words.
    let plugin: PluginError = e.clone().into();
    assert_eq!(plugin.kind, crate::ErrorKind::Unsupported);
    assert_eq!(plugin.message.as_str(), e.message);
}

#[test]
fn a_dense_layer_on_an_image_asks_for_a_flatten() {
    let e = error(MNIST, &[conv(2, 3, Padding::Valid), dense(10)]);
    assert_eq!(e.layer, Some(2));
    assert_eq!(
        e.message,
        "layer 2 (dense): gets a 2×26×26 image per sample; add a flatten before it"
    );
}

#[test]
fn zero_sizes_and_bad_rates_are_refused() {
    let cases: [(Vec<Layer>, &str); 7] = [
        (
            vec![conv(0, 3, Padding::Same)],
            "layer 1 (conv2d): `filters` and `kernel` must be at least 1",
        ),
        (
            vec![conv(3, 0, Padding::Same)],
            "layer 1 (conv2d): `filters` and `kernel` must be at least 1",
        ),
        (
            vec![pool(0, 1)],
            "layer 1 (maxpool2d): `size` and `stride` must be at least 1",
        ),
        (
            vec![pool(2, 0)],
            "layer 1 (maxpool2d): `size` and `stride` must be at least 1",
        ),
        (
            vec![Layer::Flatten, dense(0)],
            "layer 2 (dense): `units` must be at least 1",
        ),
        (
            vec![Layer::Dropout { rate: 1.0 }],
            "layer 1 (dropout): `rate` 1 is outside [0, 1)",
        ),
        (
            vec![Layer::Dropout { rate: f32::NAN }],
            "layer 1 (dropout): `rate` NaN is outside [0, 1)",
        ),
    ];
    for (layers, message) in cases {
        assert_eq!(error(MNIST, &layers).message, message);
    }
    let e = error(Shape::image(1, 0, 28), &[]);
    assert_eq!(e.layer, None);
    assert!(
        e.message.contains("every dimension must be at least 1"),
        "{e}"
    );
}

#[test]
fn flatten_and_dropout_keep_what_they_get() {
    let layers = [
        Layer::Dropout { rate: 0.0 },
        Layer::Flatten,
        Layer::Flatten,
        Layer::Dropout { rate: 0.5 },
        dense(10),
    ];
    let model = ModelShapes::walk(MNIST, &layers).unwrap();
    let outputs: Vec<Shape> = model.layers.iter().map(|l| l.output).collect();
    assert_eq!(
        outputs,
        [
            MNIST,
            Shape::Flat(784),
            Shape::Flat(784),
            Shape::Flat(784),
            Shape::Flat(10)
        ]
    );
}

#[test]
fn the_output_must_be_one_logit_per_class() {
    let model = ModelShapes::walk(MNIST, &[]).unwrap();
    assert_eq!(model.output(), MNIST);
    let e = model.expect_logits(10).unwrap_err();
    assert_eq!(e.layer, None);
    assert_eq!(
        e.message,
        "the model ends with 1×28×28 per sample, but the dataset has 10 classes: the last \
         layer must be a dense layer with 10 units"
    );
    let model = ModelShapes::walk(MNIST, &[Layer::Flatten, dense(7)]).unwrap();
    assert!(model
        .expect_logits(10)
        .unwrap_err()
        .message
        .contains("ends with 7 values"));
}

#[test]
fn sizes_that_overflow_are_errors_not_panics() {
    let huge = Shape::image(u32::MAX as usize, u32::MAX as usize, u32::MAX as usize);
    let e = error(huge, &[Layer::Flatten]);
    assert!(e.message.starts_with("layer 1 (flatten):"), "{e}");
    let e = error(huge, &[conv(u32::MAX, 2, Padding::Same)]);
    assert!(e.message.contains("more values than can be counted"), "{e}");
}

#[test]
fn initial_weights_are_found_by_name_and_checked_against_the_walk() {
    let layers = [conv(2, 3, Padding::Same), Layer::Flatten, dense(10)];
    let model = ModelShapes::walk(Shape::image(1, 4, 4), &layers).unwrap();
    let (cw, cb, dw, db) = (vec![0.5; 18], vec![0.1; 2], vec![0.2; 320], vec![0.0; 10]);
    let weights = [
        Tensor::new("2.bias", &[10], &db),
        Tensor::new("0.weight", &[2, 1, 3, 3], &cw),
        Tensor::new("0.bias", &[2], &cb),
        Tensor::new("2.weight", &[10, 32], &dw),
    ];
    let values = model.weight_values(&weights).unwrap();
    assert_eq!(values.len(), 2);
    assert_eq!(
        (values[0].index, values[0].weight, values[0].bias),
        (0, &cw[..], &cb[..])
    );
    assert_eq!(
        (values[1].index, values[1].weight, values[1].bias),
        (2, &dw[..], &db[..])
    );

    let mut wrong = weights;
    wrong[3] = Tensor::new("2.weight", &[32, 10], &dw);
    let e = model.weight_values(&wrong).unwrap_err();
    assert_eq!(
        e.message.as_str(),
        "initial weight `2.weight` has shape [32, 10] and 320 values; the model needs [10, 32]"
    );
    let e = model.weight_values(&weights[1..]).unwrap_err();
    assert!(e.message.contains("no tensor `2.bias`"), "{e}");
    let stray = [
        weights[0],
        weights[1],
        weights[2],
        weights[3],
        Tensor::new("1.weight", &[1], &db[..1]),
    ];
    let e = model.weight_values(&stray).unwrap_err();
    assert!(e.message.contains("name `1.weight`, which no layer"), "{e}");
    let short = [
        weights[0],
        weights[1],
        Tensor::new("0.bias", &[2], &cb[..1]),
        weights[3],
    ];
    assert!(model
        .weight_values(&short)
        .unwrap_err()
        .message
        .contains("1 values"));
}
