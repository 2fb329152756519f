//! The layer-shape walk: what each layer of a [`Layer`] list receives and produces, and the
//! shapes of its weights, checked once for everyone (the host's manifest check and every
//! plugin), so that a model one of them refuses is refused by all with the same words.
//!
//! ```
//! use plugin_api::shapes::{ModelShapes, Shape};
//! use plugin_api::{Activation, Layer, Padding};
//!
//! let layers = [
//!     Layer::Conv2d { filters: 8, kernel: 3, padding: Padding::Same, activation: Activation::Relu },
//!     Layer::MaxPool2d { size: 2, stride: 2 },
//!     Layer::Flatten,
//!     Layer::Dense { units: 10, activation: Activation::None },
//! ];
//! let model = ModelShapes::walk(Shape::image(1, 28, 28), &layers)?;
//! assert_eq!(model.layers[1].output, Shape::image(8, 14, 14));
//! let dense = model.layers[3].params.as_ref().expect("dense layers have weights");
//! assert_eq!(dense.weight, [10, 8 * 14 * 14]);
//! assert_eq!(model.layers[3].weight_name(), "3.weight");
//! model.expect_logits(10)?;
//! # Ok::<(), plugin_api::shapes::ModelError>(())
//! ```

use std::fmt;

use crate::report::PluginError;
use crate::session::{Layer, Padding, Session, Tensor};

/// What flows between layers, for one sample (the batch dimension left out).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shape {
    /// `[channels, height, width]`.
    Image {
        channels: usize,
        height: usize,
        width: usize,
    },
    /// A vector, after a flatten or a dense layer.
    Flat(usize),
}

impl Shape {
    pub fn image(channels: usize, height: usize, width: usize) -> Shape {
        Shape::Image {
            channels,
            height,
            width,
        }
    }

    /// Values per sample.
    pub fn len(&self) -> usize {
        match *self {
            Shape::Image {
                channels,
                height,
                width,
            } => channels.saturating_mul(height).saturating_mul(width),
            Shape::Flat(n) => n,
        }
    }

    /// `true` when a sample holds no value at all.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The dimensions, `[channels, height, width]` or `[n]`.
    pub fn dims(&self) -> Vec<usize> {
        match *self {
            Shape::Image {
                channels,
                height,
                width,
            } => vec![channels, height, width],
            Shape::Flat(n) => vec![n],
        }
    }
}

impl fmt::Display for Shape {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Shape::Image {
                channels,
                height,
                width,
            } => write!(f, "{channels}×{height}×{width}"),
            Shape::Flat(n) => write!(f, "{n} values"),
        }
    }
}

/// The trainable tensors of a conv2d or dense layer, in the layouts documented on
/// [`crate::Tensor`] (PyTorch's).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Params {
    /// `[filters, channels, kernel, kernel]` for conv2d, `[units, inputs]` for dense.
    pub weight: Vec<usize>,
    /// The bias's length: `filters` or `units`.
    pub bias: usize,
    /// Inputs each output sums over (`channels × kernel²`, or `inputs`): Glorot's and
    /// LeCun's `fan_in`.
    pub fan_in: usize,
    /// Outputs each input feeds (`filters × kernel²`, or `units`): Glorot's `fan_out`.
    pub fan_out: usize,
}

impl Params {
    /// Values in the weight and the bias together.
    pub fn count(&self) -> u64 {
        let weight = self
            .weight
            .iter()
            .fold(1u64, |n, &d| n.saturating_mul(d as u64));
        weight.saturating_add(self.bias as u64)
    }
}

/// One layer of a walked model.
#[derive(Clone, Debug, PartialEq)]
pub struct LayerShape {
    /// Position in the layer list, from 0. Weight names use it (`"2.weight"`); messages
    /// number layers from 1 ([`LayerShape::number`]), as a user reads the list.
    pub index: usize,
    pub layer: Layer,
    pub input: Shape,
    pub output: Shape,
    /// The weight and bias of a conv2d or dense layer; `None` for the others.
    pub params: Option<Params>,
    /// Zero rows (and columns) a conv2d adds `(before, after)` its input on each spatial axis:
    /// `same` pads `kernel - 1` in all, the odd one after (as TensorFlow and PyTorch do);
    /// `(0, 0)` for `valid` and for every other layer.
    pub padding: (usize, usize),
}

impl LayerShape {
    /// The layer's number in messages: its position from 1.
    pub fn number(&self) -> usize {
        self.index + 1
    }

    /// `"<index>.weight"`, the name of its weight in `Session::initial_weights`.
    pub fn weight_name(&self) -> String {
        format!("{}.weight", self.index)
    }

    /// `"<index>.bias"`.
    pub fn bias_name(&self) -> String {
        format!("{}.bias", self.index)
    }
}

/// One layer's initial weight and bias, as the session lends them (layouts: [`Params`]).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LayerValues<'w> {
    /// The layer's position in the list, from 0.
    pub index: usize,
    pub weight: &'w [f32],
    pub bias: &'w [f32],
}

/// A layer list walked from its input shape: every layer's shapes, checked.
#[derive(Clone, Debug, PartialEq)]
pub struct ModelShapes {
    pub input: Shape,
    pub layers: Vec<LayerShape>,
}

/// Why a layer list cannot run on its input.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ModelError {
    /// The layer at fault, numbered from 1; `None` when the model as a whole is wrong.
    pub layer: Option<usize>,
    /// The whole sentence, starting `layer N (kind): ` when a layer is at fault.
    pub message: String,
}

impl fmt::Display for ModelError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for ModelError {}

impl From<ModelError> for PluginError {
    fn from(e: ModelError) -> Self {
        PluginError::unsupported(e.message)
    }
}

impl ModelShapes {
    /// Walks `layers` from `input`. Refuses what no framework can run the same way: zero
    /// sizes, a convolution or pooling after a flatten, a dense layer on an image (flatten
    /// first), a window larger than its input, a dropout rate outside `[0, 1)`.
    pub fn walk(input: Shape, layers: &[Layer]) -> Result<ModelShapes, ModelError> {
        if let Shape::Image {
            channels,
            height,
            width,
        } = input
        {
            if channels == 0 || height == 0 || width == 0 {
                return Err(whole(format!(
                    "input images of {input}: every dimension must be at least 1"
                )));
            }
        }
        let mut shape = input;
        let mut walked = Vec::with_capacity(layers.len());
        for (index, layer) in layers.iter().enumerate() {
            let step = layer_shape(index, *layer, shape)?;
            shape = step.output;
            walked.push(step);
        }
        Ok(ModelShapes {
            input,
            layers: walked,
        })
    }

    /// What the last layer produces (the input when there are no layers).
    pub fn output(&self) -> Shape {
        self.layers.last().map_or(self.input, |l| l.output)
    }

    /// Trainable values in all.
    pub fn parameter_count(&self) -> u64 {
        self.layers
            .iter()
            .filter_map(|l| l.params.as_ref())
            .fold(0u64, |n, p| n.saturating_add(p.count()))
    }

    /// The session's initial weights, checked against this model, or `None` when the session
    /// has none: see [`ModelShapes::weight_values`].
    pub fn initial_weights<'w>(
        &self,
        session: &Session<'w>,
    ) -> Result<Option<Vec<LayerValues<'w>>>, PluginError> {
        let given = session.initial_weights.into_option();
        given.map(|w| self.weight_values(w.as_slice())).transpose()
    }

    /// The values in `tensors` of every layer that has parameters, in layer order, checked:
    /// `<index>.weight` and `<index>.bias` are there with the walked shapes and nothing else
    /// is. Errors name the tensor.
    pub fn weight_values<'w>(
        &self,
        tensors: &[Tensor<'w>],
    ) -> Result<Vec<LayerValues<'w>>, PluginError> {
        let find = |name: String, shape: &[usize]| -> Result<&'w [f32], PluginError> {
            let tensor = tensors
                .iter()
                .find(|t| t.name.as_str() == name)
                .ok_or_else(|| {
                    PluginError::failed(format!(
                        "the session's initial weights have no tensor `{name}`"
                    ))
                })?;
            let got: Vec<usize> = tensor.shape.iter().map(|&d| d as usize).collect();
            let count = shape.iter().product::<usize>();
            if got != shape || tensor.values.len() != count {
                return Err(PluginError::failed(format!(
                    "initial weight `{name}` has shape {got:?} and {} values; the model needs \
                     {shape:?}",
                    tensor.values.len()
                )));
            }
            Ok(tensor.values.as_slice())
        };
        let mut values = Vec::new();
        for layer in &self.layers {
            if let Some(params) = &layer.params {
                values.push(LayerValues {
                    index: layer.index,
                    weight: find(layer.weight_name(), &params.weight)?,
                    bias: find(layer.bias_name(), &[params.bias])?,
                });
            }
        }
        if let Some(extra) = tensors.iter().find(|t| {
            let name = t.name.as_str();
            !self
                .layers
                .iter()
                .any(|l| l.params.is_some() && (name == l.weight_name() || name == l.bias_name()))
        }) {
            return Err(PluginError::failed(format!(
                "the session's initial weights name `{}`, which no layer of the model has",
                extra.name
            )));
        }
        Ok(values)
    }

    /// The model ends in one logit per class.
    pub fn expect_logits(&self, classes: usize) -> Result<(), ModelError> {
        let out = self.output();
        if out == Shape::Flat(classes) {
            return Ok(());
        }
        Err(whole(format!(
            "the model ends with {out} per sample, but the dataset has {classes} classes: \
             the last layer must be a dense layer with {classes} units"
        )))
    }
}

fn whole(message: String) -> ModelError {
    ModelError {
        layer: None,
        message,
    }
}

/// An error about layer `index` (0-based), numbered from 1 in its message.
fn at(index: usize, layer: &Layer, what: impl fmt::Display) -> ModelError {
    ModelError {
        layer: Some(index + 1),
        message: format!("layer {} ({}): {what}", index + 1, layer.kind()),
    }
}

fn layer_shape(index: usize, layer: Layer, input: Shape) -> Result<LayerShape, ModelError> {
    let plain = |output| LayerShape {
        index,
        layer,
        input,
        output,
        params: None,
        padding: (0, 0),
    };
    match (layer, input) {
        (Layer::Conv2d { .. } | Layer::MaxPool2d { .. }, Shape::Flat(n)) => Err(at(
            index,
            &layer,
            format!("needs an image, but it comes after a flatten (its input is {n} values)"),
        )),
        (
            Layer::Conv2d {
                filters,
                kernel,
                padding,
                ..
            },
            Shape::Image {
                channels,
                height,
                width,
            },
        ) => {
            let conv = Conv {
                filters: filters as usize,
                kernel: kernel as usize,
                padding,
            };
            conv2d(index, layer, [channels, height, width], conv)
        }
        (
            Layer::MaxPool2d { size, stride },
            Shape::Image {
                channels,
                height,
                width,
            },
        ) => pool(index, &layer, [channels, height, width], size, stride).map(plain),
        (Layer::Flatten, _) => Ok(plain(Shape::Flat(flat_len(index, &layer, input)?))),
        (Layer::Dropout { rate }, _) => {
            // NaN fails this test too.
            if !(0.0..1.0).contains(&rate) {
                return Err(at(
                    index,
                    &layer,
                    format!("`rate` {rate} is outside [0, 1)"),
                ));
            }
            Ok(plain(input))
        }
        (Layer::Dense { .. }, Shape::Image { .. }) => Err(at(
            index,
            &layer,
            format!("gets a {input} image per sample; add a flatten before it"),
        )),
        (Layer::Dense { units, .. }, Shape::Flat(inputs)) => dense(index, layer, inputs, units),
    }
}

/// A conv2d layer's sizes.
struct Conv {
    filters: usize,
    kernel: usize,
    padding: Padding,
}

/// A conv2d layer (stride 1) on a `[channels, height, width]` input.
fn conv2d(
    index: usize,
    layer: Layer,
    [channels, height, width]: [usize; 3],
    conv: Conv,
) -> Result<LayerShape, ModelError> {
    let (filters, k, padding) = (conv.filters, conv.kernel, conv.padding);
    if filters == 0 || k == 0 {
        return Err(at(
            index,
            &layer,
            "`filters` and `kernel` must be at least 1",
        ));
    }
    let (pad, height_out, width_out) = match padding {
        Padding::Same => {
            let before = (k - 1) / 2;
            ((before, k - 1 - before), height, width)
        }
        Padding::Valid => {
            if k > height || k > width {
                return Err(at(
                    index,
                    &layer,
                    format!(
                        "a {k}×{k} kernel with `valid` padding does not fit its {height}×{width} input"
                    ),
                ));
            }
            ((0, 0), height - k + 1, width - k + 1)
        }
    };
    let too_big = || {
        at(
            index,
            &layer,
            "its weights hold more values than can be counted",
        )
    };
    let fan_in = mul(&[channels, k, k]).ok_or_else(too_big)?;
    let fan_out = mul(&[filters, k, k]).ok_or_else(too_big)?;
    mul(&[filters, fan_in]).ok_or_else(too_big)?;
    Ok(LayerShape {
        index,
        layer,
        input: Shape::image(channels, height, width),
        output: Shape::image(filters, height_out, width_out),
        params: Some(Params {
            weight: vec![filters, channels, k, k],
            bias: filters,
            fan_in,
            fan_out,
        }),
        padding: pad,
    })
}

/// Max pooling: no padding, floor division (Keras' `valid` pooling, PyTorch's default).
fn pool(
    index: usize,
    layer: &Layer,
    [channels, height, width]: [usize; 3],
    size: u32,
    stride: u32,
) -> Result<Shape, ModelError> {
    let (size, stride) = (size as usize, stride as usize);
    if size == 0 || stride == 0 {
        return Err(at(index, layer, "`size` and `stride` must be at least 1"));
    }
    if size > height || size > width {
        return Err(at(
            index,
            layer,
            format!("a {size}×{size} window does not fit its {height}×{width} input"),
        ));
    }
    Ok(Shape::image(
        channels,
        (height - size) / stride + 1,
        (width - size) / stride + 1,
    ))
}

/// Channel-major flattening; a flat input stays as it is.
fn flat_len(index: usize, layer: &Layer, input: Shape) -> Result<usize, ModelError> {
    match input {
        Shape::Flat(n) => Ok(n),
        Shape::Image {
            channels,
            height,
            width,
        } => mul(&[channels, height, width])
            .ok_or_else(|| at(index, layer, format!("{input} values cannot be counted"))),
    }
}

fn dense(index: usize, layer: Layer, inputs: usize, units: u32) -> Result<LayerShape, ModelError> {
    let units = units as usize;
    if units == 0 {
        return Err(at(index, &layer, "`units` must be at least 1"));
    }
    mul(&[units, inputs]).ok_or_else(|| {
        at(
            index,
            &layer,
            "its weight holds more values than can be counted",
        )
    })?;
    Ok(LayerShape {
        index,
        layer,
        input: Shape::Flat(inputs),
        output: Shape::Flat(units),
        params: Some(Params {
            weight: vec![units, inputs],
            bias: units,
            fan_in: inputs,
            fan_out: units,
        }),
        padding: (0, 0),
    })
}

fn mul(factors: &[usize]) -> Option<usize> {
    factors.iter().try_fold(1usize, |n, &f| n.checked_mul(f))
}

#[cfg(test)]
mod tests;
