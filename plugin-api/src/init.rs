//! Host-made initial weights: one documented scheme, so that every plugin of a campaign starts
//! from the same numbers instead of its framework's own initialiser.
//!
//! The scheme ([`SCHEME`]): for every conv2d and dense layer in list order, the weight is
//! Glorot-uniform (`U(-l, l)` with `l = sqrt(6 / (fan_in + fan_out))`, fans as
//! [`Params`](crate::shapes::Params) gives them: Keras' convention for convolutions) and the
//! bias is zero. Values are drawn from one [`SplitMix64`] seeded with the weights' seed, layer
//! after layer, each weight in its [`Tensor`](crate::Tensor) layout's row-major order
//! (`[out, in, kh, kw]`, `[out, in]`); each value is `(2u - 1) · l` for `u` =
//! [`SplitMix64::next_f32`]. Biases draw nothing.
//!
//! It lives here, not in the host, so that tests and plugins can make the very weights the
//! host hands out (a plugin's test of its weight loading compares against them).
//!
//! ```
//! use plugin_api::init::glorot_uniform;
//! use plugin_api::shapes::{ModelShapes, Shape};
//! use plugin_api::{Activation, Layer};
//!
//! let layers = [Layer::Flatten, Layer::Dense { units: 10, activation: Activation::None }];
//! let model = ModelShapes::walk(Shape::image(1, 28, 28), &layers)?;
//! let weights = glorot_uniform(&model, 7);
//! assert_eq!(weights[0].name.as_str(), "1.weight");
//! let limit = (6.0f32 / (784.0 + 10.0)).sqrt();
//! assert!(weights[0].values.iter().all(|v| v.abs() <= limit));
//! assert!(weights[1].values.iter().all(|&v| v == 0.0));
//! # Ok::<(), plugin_api::shapes::ModelError>(())
//! ```

use abi_stable::std_types::{RString, RVec};
use abi_stable::StableAbi;

use crate::rng::SplitMix64;
use crate::session::Tensor;
use crate::shapes::ModelShapes;

/// The scheme's name, as runs.csv and campaign.json record it.
pub const SCHEME: &str = "glorot-uniform";

/// A tensor that owns its values: what the host generates, and what a plugin hands back
/// (the parity check's updated weights). Named and laid out as [`Tensor`] documents.
#[repr(C)]
#[derive(StableAbi, Clone, Debug, PartialEq)]
pub struct OwnedTensor {
    pub name: RString,
    pub shape: RVec<u32>,
    pub values: RVec<f32>,
}

impl OwnedTensor {
    pub fn new(name: impl Into<String>, shape: Vec<u32>, values: Vec<f32>) -> Self {
        OwnedTensor {
            name: RString::from(name.into()),
            shape: shape.into(),
            values: values.into(),
        }
    }

    /// A borrowed view, as a [`crate::Session`] lends weights.
    pub fn as_tensor(&self) -> Tensor<'_> {
        Tensor::new(
            self.name.as_str(),
            self.shape.as_slice(),
            self.values.as_slice(),
        )
    }
}

/// Views of `tensors`, for `Session::initial_weights`.
pub fn as_tensors(tensors: &[OwnedTensor]) -> Vec<Tensor<'_>> {
    tensors.iter().map(OwnedTensor::as_tensor).collect()
}

/// The weights of `model` under [`SCHEME`] from `seed`: `<i>.weight` then `<i>.bias` for each
/// layer with parameters, in layer order.
pub fn glorot_uniform(model: &ModelShapes, seed: u64) -> Vec<OwnedTensor> {
    let mut rng = SplitMix64::new(seed);
    let mut tensors = Vec::new();
    for layer in &model.layers {
        let Some(params) = &layer.params else {
            continue;
        };
        let limit = (6.0 / (params.fan_in + params.fan_out) as f64).sqrt() as f32;
        let count: usize = params.weight.iter().product();
        let weight = (0..count)
            .map(|_| (2.0 * rng.next_f32() - 1.0) * limit)
            .collect();
        let shape = params.weight.iter().map(|&d| d as u32).collect();
        tensors.push(OwnedTensor::new(layer.weight_name(), shape, weight));
        tensors.push(OwnedTensor::new(
            layer.bias_name(),
            vec![params.bias as u32],
            vec![0.0; params.bias],
        ));
    }
    tensors
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::shapes::Shape;
    use crate::{Activation, Layer, Padding};

    fn model() -> ModelShapes {
        let layers = [
            Layer::Conv2d {
                filters: 4,
                kernel: 3,
                padding: Padding::Same,
                activation: Activation::Relu,
            },
            Layer::MaxPool2d { size: 2, stride: 2 },
            Layer::Flatten,
            Layer::Dense {
                units: 10,
                activation: Activation::None,
            },
        ];
        ModelShapes::walk(Shape::image(1, 8, 8), &layers).expect("a valid model")
    }

    #[test]
    fn weights_follow_the_walk_and_pass_its_check() {
        let m = model();
        let w = glorot_uniform(&m, 1);
        let names: Vec<&str> = w.iter().map(|t| t.name.as_str()).collect();
        assert_eq!(names, ["0.weight", "0.bias", "3.weight", "3.bias"]);
        assert_eq!(w[0].shape.as_slice(), [4, 1, 3, 3]);
        assert_eq!(w[2].shape.as_slice(), [10, 64]);
        let values = m
            .weight_values(&as_tensors(&w))
            .expect("the walk accepts them");
        assert_eq!(values.len(), 2);
    }

    /// The scheme recomputed here from its documentation, independently of the loop above.
    #[test]
    fn values_are_the_documented_draws() {
        let w = glorot_uniform(&model(), 99);
        let mut rng = SplitMix64::new(99);
        let conv_limit = (6.0f64 / (9.0 + 36.0)).sqrt() as f32;
        for &v in w[0].values.iter() {
            assert_eq!(v, (2.0 * rng.next_f32() - 1.0) * conv_limit);
        }
        let dense_limit = (6.0f64 / (64.0 + 10.0)).sqrt() as f32;
        assert_eq!(w[2].values[0], (2.0 * rng.next_f32() - 1.0) * dense_limit);
        assert!(w[1]
            .values
            .iter()
            .chain(w[3].values.iter())
            .all(|&b| b == 0.0));
    }

    #[test]
    fn uniform_within_the_limit_and_seeded() {
        let w = glorot_uniform(&model(), 5);
        let limit = (6.0f64 / 74.0).sqrt() as f32;
        let dense = w[2].values.as_slice();
        assert!(dense.iter().all(|v| v.abs() <= limit));
        // Mean near 0 and variance near l²/3 (640 draws: loose bounds).
        let n = dense.len() as f64;
        let mean = dense.iter().map(|&v| v as f64).sum::<f64>() / n;
        let var = dense
            .iter()
            .map(|&v| (v as f64 - mean).powi(2))
            .sum::<f64>()
            / n;
        assert!(mean.abs() < 0.05 * limit as f64, "mean {mean}");
        let expected = (limit as f64).powi(2) / 3.0;
        assert!(
            (var / expected - 1.0).abs() < 0.2,
            "var {var} vs {expected}"
        );
        assert_eq!(w, glorot_uniform(&model(), 5));
        assert_ne!(w, glorot_uniform(&model(), 6));
    }
}
