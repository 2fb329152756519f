//! The session's model as the programs compute it. plugin-api walks and checks the layer list
//! ([`plugin_api::Session::model_shapes`]: every shape, every parameter, and the refusals, with
//! layers numbered from 1 as in the other plugins); this module restates each walked layer in
//! the programs' terms: its op, and its input and output as XLA holds them. Everything
//! downstream (the StableHLO programs, the weight layouts) reads this plan.

use plugin_api::shapes::{self, LayerShape, ModelShapes};
use plugin_api::{Activation, Layer, PluginError};

/// What flows between layers, per image, as the programs hold it: images as height × width ×
/// channels (XLA's preferred CPU layout), every size an `i64` as StableHLO writes it.
///
/// Not plugin-api's [`shapes::Shape`] (channels first): that one also forgets, after a
/// flatten, which image a vector came from, and the dense weights' layout depends on it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shape {
    Image {
        h: i64,
        w: i64,
        c: i64,
    },
    /// A vector; `from` is the image (h, w, c) it was flattened from, when it was (its order
    /// matters for the host's weight layout, see [`crate::weights`]).
    Flat {
        n: i64,
        from: Option<(i64, i64, i64)>,
    },
}

impl Shape {
    /// Dimensions of a batch of `batch` images, as the programs hold them.
    pub fn dims(&self, batch: i64) -> Vec<i64> {
        match *self {
            Shape::Image { h, w, c } => vec![batch, h, w, c],
            Shape::Flat { n, .. } => vec![batch, n],
        }
    }
}

/// One layer's computation.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Op {
    /// Stride 1; `pad` is (before, after) on each spatial axis.
    Conv {
        filters: i64,
        kernel: i64,
        pad: (i64, i64),
        relu: bool,
    },
    /// Floor mode, no padding.
    Pool {
        size: i64,
        stride: i64,
    },
    Flatten,
    /// `rate` is the probability of dropping; 0 keeps everything.
    Dropout {
        rate: f32,
    },
    Dense {
        units: i64,
        relu: bool,
    },
}

/// One layer as planned.
#[derive(Clone, Debug, PartialEq)]
pub struct Step {
    /// The layer as plugin-api walked it: its index in `Session::model` (weight names use
    /// it), its parameters' host shapes and fan-in.
    pub layer: LayerShape,
    pub op: Op,
    pub input: Shape,
    pub output: Shape,
}

impl Step {
    /// Whether the layer has a weight and a bias.
    pub fn has_params(&self) -> bool {
        self.layer.params.is_some()
    }
}

/// The plan of a walked model (see [`plugin_api::Session::model_shapes`]), layer after layer.
pub fn plan(model: &ModelShapes) -> Result<Vec<Step>, PluginError> {
    let mut input = image_or_flat(model.input, None)?;
    let mut steps = Vec::with_capacity(model.layers.len());
    for layer in &model.layers {
        let op = op(layer)?;
        let output = match (op, input) {
            // A dropout, or a flatten of a vector, passes its input on (with its origin).
            (Op::Dropout { .. }, _) | (Op::Flatten, Shape::Flat { .. }) => input,
            (Op::Flatten, Shape::Image { h, w, c }) => {
                image_or_flat(layer.output, Some((h, w, c)))?
            }
            _ => image_or_flat(layer.output, None)?,
        };
        steps.push(Step {
            layer: layer.clone(),
            op,
            input,
            output,
        });
        input = output;
    }
    Ok(steps)
}

/// A walked layer's op, its sizes as the programs write them.
fn op(layer: &LayerShape) -> Result<Op, PluginError> {
    let relu = |a: Activation| a == Activation::Relu;
    Ok(match layer.layer {
        Layer::Conv2d {
            filters,
            kernel,
            activation,
            ..
        } => Op::Conv {
            filters: i64::from(filters),
            kernel: i64::from(kernel),
            pad: (size(layer.padding.0)?, size(layer.padding.1)?),
            relu: relu(activation),
        },
        Layer::MaxPool2d { size, stride } => Op::Pool {
            size: i64::from(size),
            stride: i64::from(stride),
        },
        Layer::Flatten => Op::Flatten,
        Layer::Dropout { rate } => Op::Dropout { rate },
        Layer::Dense { units, activation } => Op::Dense {
            units: i64::from(units),
            relu: relu(activation),
        },
    })
}

/// plugin-api's shape in the programs' terms; `from` is the origin of a flattened image.
fn image_or_flat(
    shape: shapes::Shape,
    from: Option<(i64, i64, i64)>,
) -> Result<Shape, PluginError> {
    Ok(match shape {
        shapes::Shape::Image {
            channels,
            height,
            width,
        } => Shape::Image {
            h: size(height)?,
            w: size(width)?,
            c: size(channels)?,
        },
        shapes::Shape::Flat(n) => Shape::Flat { n: size(n)?, from },
    })
}

/// A size as StableHLO's `i64`; the walk counted it in `usize`, which can hold more.
fn size(n: usize) -> Result<i64, PluginError> {
    i64::try_from(n).map_err(|_| {
        PluginError::unsupported(format!("a size of {n} values is more than XLA can address"))
    })
}
