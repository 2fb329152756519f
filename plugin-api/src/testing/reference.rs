//! A plain reference forward pass: the layer list computed naively in `f64` on the
//! [`crate::Tensor`] layouts (NCHW, channel-major flatten, `same` padding placed as
//! [`crate::shapes::LayerShape::padding`] says), with no framework involved. A plugin's test
//! compares its logits and first-batch loss from given weights against it, which checks its
//! weight loading (layouts, the flatten permutation) and its forward pass.

use crate::report::PluginError;
use crate::shapes::{LayerShape, ModelShapes, Shape};
use crate::testing::SessionBuilder;
use crate::{parity, Activation, Images, Layer, Session, Tensor, Train};

/// The logits of images `indices` of `images`, `[indices, classes]` row-major.
pub fn logits(
    model: &ModelShapes,
    weights: &[Tensor<'_>],
    images: &Images<'_>,
    indices: &[u32],
) -> Vec<f64> {
    let len = images.image_len();
    let pixels = images.pixels.as_slice();
    let mut out = Vec::new();
    for &i in indices {
        let start = i as usize * len;
        let mut x: Vec<f64> = pixels[start..start + len]
            .iter()
            .map(|&p| p as f64)
            .collect();
        for layer in &model.layers {
            x = forward(layer, weights, &x);
        }
        out.extend(x);
    }
    out
}

/// Mean softmax cross-entropy of `logits` (`[labels, classes]`) against `labels`, through
/// log-sum-exp.
pub fn mean_loss(logits: &[f64], labels: &[u8]) -> f64 {
    let classes = logits.len() / labels.len().max(1);
    let total: f64 = logits
        .chunks(classes)
        .zip(labels)
        .map(|(row, &label)| {
            let max = row.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
            let lse = max + row.iter().map(|v| (v - max).exp()).sum::<f64>().ln();
            lse - row[label as usize]
        })
        .sum();
    total / labels.len().max(1) as f64
}

fn tensor<'w>(weights: &[Tensor<'w>], name: &str) -> &'w [f32] {
    weights
        .iter()
        .find(|t| t.name.as_str() == name)
        .map(|t| t.values.as_slice())
        .unwrap_or_else(|| panic!("the reference needs weight `{name}`"))
}

fn activate(x: f64, activation: Activation) -> f64 {
    match activation {
        Activation::None => x,
        Activation::Relu => x.max(0.0),
    }
}

fn forward(layer: &LayerShape, weights: &[Tensor<'_>], x: &[f64]) -> Vec<f64> {
    let (w, b) = match layer.params {
        Some(_) => (
            tensor(weights, &layer.weight_name()),
            tensor(weights, &layer.bias_name()),
        ),
        None => (&[][..], &[][..]),
    };
    let dims = |s: Shape| match s {
        Shape::Image {
            channels,
            height,
            width,
        } => (channels, height, width),
        Shape::Flat(n) => (n, 1, 1),
    };
    let (c, h, wd) = dims(layer.input);
    let (oc, oh, ow) = dims(layer.output);
    match layer.layer {
        Layer::Conv2d {
            kernel, activation, ..
        } => {
            let k = kernel as usize;
            let before = layer.padding.0 as isize;
            let mut out = vec![0.0; oc * oh * ow];
            for f in 0..oc {
                for y in 0..oh {
                    for xx in 0..ow {
                        let mut sum = b[f] as f64;
                        for ch in 0..c {
                            for i in 0..k {
                                for j in 0..k {
                                    let (sy, sx) = (
                                        y as isize + i as isize - before,
                                        xx as isize + j as isize - before,
                                    );
                                    if sy < 0 || sx < 0 || sy >= h as isize || sx >= wd as isize {
                                        continue;
                                    }
                                    let v = x[(ch * h + sy as usize) * wd + sx as usize];
                                    sum += w[((f * c + ch) * k + i) * k + j] as f64 * v;
                                }
                            }
                        }
                        out[(f * oh + y) * ow + xx] = activate(sum, activation);
                    }
                }
            }
            out
        }
        Layer::MaxPool2d { size, stride } => {
            let (size, stride) = (size as usize, stride as usize);
            let mut out = vec![f64::NEG_INFINITY; oc * oh * ow];
            for ch in 0..oc {
                for y in 0..oh {
                    for xx in 0..ow {
                        let o = &mut out[(ch * oh + y) * ow + xx];
                        for i in 0..size {
                            for j in 0..size {
                                *o = o.max(x[(ch * h + y * stride + i) * wd + xx * stride + j]);
                            }
                        }
                    }
                }
            }
            out
        }
        Layer::Flatten | Layer::Dropout { .. } => x.to_vec(),
        Layer::Dense { activation, .. } => (0..oc)
            .map(|u| {
                let row = &w[u * c..(u + 1) * c];
                let sum: f64 = row.iter().zip(x).map(|(&a, &v)| a as f64 * v).sum();
                activate(sum + b[u] as f64, activation)
            })
            .collect(),
    }
}

/// How far a trainer's answers from the session's initial weights are from [`logits`] and
/// [`mean_loss`], relative to the reference's largest logit (and to its loss).
#[derive(Clone, Copy, Debug)]
pub struct Agreement {
    pub logits: f64,
    pub loss: f64,
}

/// Builds two fresh trainers with `build` from `builder`'s session (which must carry initial
/// weights) and compares, against the reference: the logits of [`parity::eval_indices`] with
/// no step taken, and the first batch's loss before the first step. Panics when the trainer
/// has no parity steps.
pub fn agreement<'s, T: Train>(
    builder: &'s SessionBuilder<'_>,
    build: impl Fn(&Session<'s>) -> Result<T, PluginError>,
) -> Agreement {
    let session = builder.session();
    let weights = session
        .initial_weights
        .into_option()
        .expect("the session needs initial weights")
        .as_slice();
    let model = session.model_shapes().expect("a valid model");
    let answer = |steps| {
        let mut trainer = build(&session).unwrap_or_else(|e| panic!("new_trainer: {e}"));
        match trainer.parity(steps) {
            Some(Ok(report)) => report,
            Some(Err(e)) => panic!("parity steps failed: {e}"),
            None => panic!("the trainer has no parity steps"),
        }
    };
    let eval = parity::eval_indices(&session);
    let expected = logits(&model, weights, &session.data.test, &eval);
    let got = answer(0).logits;
    let scale = expected.iter().fold(1e-6f64, |m, v| m.max(v.abs()));
    let logits_diff = expected
        .iter()
        .zip(got.iter())
        .map(|(e, &g)| (e - g as f64).abs())
        .fold(
            if got.len() == expected.len() {
                0.0
            } else {
                f64::INFINITY
            },
            f64::max,
        );

    let batch = parity::batches(&session, 1).expect("one batch")[0];
    let labels: Vec<u8> = batch
        .iter()
        .map(|&i| session.data.train.labels[i as usize])
        .collect();
    let expected_loss = mean_loss(
        &logits(&model, weights, &session.data.train, batch),
        &labels,
    );
    let got_loss = answer(1).losses[0];
    Agreement {
        logits: logits_diff / scale,
        loss: (got_loss - expected_loss).abs() / expected_loss.abs().max(1e-6),
    }
}

/// `base` with the host's Glorot-uniform weights (drawn with `seed`) for its model, handed to
/// `check`: how each plugin's tests call [`agreement`] (the trainers borrow the session, so the
/// builder is lent rather than returned).
pub fn with_host_weights<R>(
    base: SessionBuilder<'_>,
    seed: u64,
    check: impl FnOnce(&SessionBuilder<'_>) -> R,
) -> R {
    let shapes = base.session().model_shapes().expect("a valid model");
    let weights = crate::init::glorot_uniform(&shapes, seed);
    let views = crate::init::as_tensors(&weights);
    check(&base.initial_weights(&views))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::init::{glorot_uniform, OwnedTensor};
    use crate::Padding;

    /// One 1×3×3 image, one 2×2 `same` convolution (padding after only) of ones, flatten,
    /// dense: every number worked out by hand.
    #[test]
    fn a_tiny_model_computes_what_hand_arithmetic_says() {
        let layers = [
            Layer::Conv2d {
                filters: 1,
                kernel: 2,
                padding: Padding::Same,
                activation: Activation::Relu,
            },
            Layer::Flatten,
            Layer::Dense {
                units: 2,
                activation: Activation::None,
            },
        ];
        let model = ModelShapes::walk(Shape::image(1, 3, 3), &layers).unwrap();
        let weights = vec![
            OwnedTensor::new("0.weight", vec![1, 1, 2, 2], vec![1.0; 4]),
            OwnedTensor::new("0.bias", vec![1], vec![-1.0]),
            OwnedTensor::new(
                "2.weight",
                vec![2, 9],
                [vec![1.0; 9], vec![0.0; 9]].concat(),
            ),
            OwnedTensor::new("2.bias", vec![2], vec![0.0, 0.5]),
        ];
        let pixels: Vec<f32> = (1..=9).map(|v| v as f32).collect();
        let images = Images {
            pixels: pixels.as_slice().into(),
            labels: [0u8].as_slice().into(),
            count: 1,
            channels: 1,
            height: 3,
            width: 3,
        };
        // 2×2 windows with the zero row and column after: 12 16 9 / 24 28 15 / 15 17 9, minus 1.
        let conv_sum = 11 + 15 + 8 + 23 + 27 + 14 + 14 + 16 + 8;
        let got = logits(&model, &crate::init::as_tensors(&weights), &images, &[0]);
        assert_eq!(got, [conv_sum as f64, 0.5]);
        let loss = mean_loss(&got, &[1]);
        let expected = (got[0].exp() + got[1].exp()).ln() - got[1];
        assert!((loss - expected).abs() < 1e-9 * expected.abs().max(1.0));
    }

    #[test]
    fn glorot_weights_on_digits_give_finite_losses_near_chance() {
        let builder = SessionBuilder::synthetic(8, 4);
        let session = builder.session();
        let model = session.model_shapes().unwrap();
        let weights = glorot_uniform(&model, 3);
        let indices: Vec<u32> = (0..8).collect();
        let views = crate::init::as_tensors(&weights);
        let l = logits(&model, &views, &session.data.train, &indices);
        let loss = mean_loss(&l, session.data.train.labels.as_slice());
        assert!(loss.is_finite() && (0.5..10.0).contains(&loss), "{loss}");
    }
}
