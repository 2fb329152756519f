//! The session's layer list as libtorch operations on parameter tensors we own.
//!
//! The model is built from plain `Tensor`s and the fallible `f_*` functions rather than from
//! `tch::nn` modules, because the `nn` helpers unwrap libtorch errors (a panic) and name
//! variables with `.` separators that clash with the session's weight names
//! (`<layer>.weight`). Every shape is checked here, before libtorch sees it, so a model the
//! plugin cannot build is a `PluginError` that names the layer, never a libtorch exception.

use plugin_api::{Activation, Layer, Padding, PluginError, Session};
use std::collections::HashSet;
use tch::{Device, Kind, Tensor};

use crate::TchResult;

/// What flows between layers, per image.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Shape {
    Image { c: i64, h: i64, w: i64 },
    Flat(i64),
}

impl std::fmt::Display for Shape {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Shape::Image { c, h, w } => write!(f, "{c}×{h}×{w}"),
            Shape::Flat(n) => write!(f, "{n} values"),
        }
    }
}

/// A layer as checked, before its parameters exist.
enum Plan {
    Conv { padding: &'static str, relu: bool },
    Pool { size: i64, stride: i64 },
    Flatten,
    Dropout(f64),
    Dense { relu: bool },
}

enum Op {
    Conv {
        weight: Tensor,
        bias: Tensor,
        padding: &'static str,
        relu: bool,
    },
    Pool {
        size: i64,
        stride: i64,
    },
    Flatten,
    Dropout(f64),
    Dense {
        weight: Tensor,
        bias: Tensor,
        relu: bool,
    },
}

/// The model: operations in order, and its trainable tensors (for the optimizer).
pub struct Model {
    ops: Vec<Op>,
    /// `(name, tensor)` in layer order, names as in `Session::initial_weights`.
    params: Vec<(String, Tensor)>,
    /// Trainable values in all, from the planned shapes.
    count: i64,
}

/// The shape of one parameter, before any tensor exists.
struct ParamSpec {
    name: String,
    shape: Vec<i64>,
    /// PyTorch's default init for conv and linear layers, kaiming_uniform(a=√5), reduces to
    /// U(-1/√fan_in, 1/√fan_in) for weights and biases alike; the Python trainers start from
    /// the same distribution.
    bound: f64,
}

fn positive(value: u32, what: &str, index: usize) -> Result<i64, PluginError> {
    if value == 0 {
        Err(PluginError::unsupported(format!(
            "layer {index}: {what} must be at least 1"
        )))
    } else {
        Ok(i64::from(value))
    }
}

impl Model {
    /// Checks the layer list against the data's image shape and class count, then creates the
    /// parameters on `device`: from `session.initial_weights` when given, else from `seed`
    /// (libtorch's global generator, which the caller has seeded).
    pub fn new(session: &Session<'_>, device: Device) -> Result<Model, PluginError> {
        let images = &session.data.train;
        let mut shape = Shape::Image {
            c: i64::from(images.channels),
            h: i64::from(images.height),
            w: i64::from(images.width),
        };
        let mut plan: Vec<(Plan, Vec<ParamSpec>)> = Vec::new();
        for (index, layer) in session.model.as_slice().iter().enumerate() {
            let (step, specs, next) = plan_layer(index, layer, shape)?;
            plan.push((step, specs));
            shape = next;
        }
        let classes = i64::from(session.data.classes);
        if shape != Shape::Flat(classes) {
            return Err(PluginError::unsupported(format!(
                "the model ends with {shape} per image, but the dataset has {classes} classes: \
                 the last layer must be a dense layer with {classes} units"
            )));
        }

        let given = initial_weights(session);
        let mut used = HashSet::new();
        let mut ops = Vec::with_capacity(plan.len());
        let mut params = Vec::new();
        let mut count = 0;
        for (step, specs) in plan {
            let mut made = Vec::with_capacity(specs.len());
            for spec in specs {
                count += spec.shape.iter().product::<i64>();
                let tensor = match given.as_ref() {
                    Some(given) => {
                        let values = given.iter().find(|t| t.name.as_str() == spec.name);
                        let values = values.ok_or_else(|| {
                            PluginError::failed(format!(
                                "the session's initial weights have no tensor `{}`",
                                spec.name
                            ))
                        })?;
                        used.insert(spec.name.clone());
                        from_given(values, &spec)?
                    }
                    None => random(&spec)?,
                };
                // Created on the CPU and moved, so that a seed gives the same start on every
                // device; the move is a no-op on the CPU.
                let mut tensor = tensor.f_to_device(device).tch("moving a parameter")?;
                let _ = tensor
                    .f_requires_grad_(true)
                    .tch("marking a parameter trainable")?;
                made.push(tensor.shallow_clone());
                params.push((spec.name, tensor));
            }
            ops.push(attach(step, made)?);
        }
        if let Some(given) = given {
            if let Some(extra) = given.iter().find(|t| !used.contains(t.name.as_str())) {
                return Err(PluginError::failed(format!(
                    "the session's initial weights name `{}`, which no layer of the model has",
                    extra.name
                )));
            }
        }
        Ok(Model { ops, params, count })
    }

    /// The trainable tensors, in layer order (shallow clones: same storage and gradients).
    pub fn parameters(&self) -> impl Iterator<Item = &Tensor> {
        self.params.iter().map(|(_, t)| t)
    }

    /// Number of trainable values.
    pub fn parameter_count(&self) -> i64 {
        self.count
    }

    /// Logits for a batch `[n, c, h, w]`; dropout is active only when `train`.
    pub fn forward(&self, input: &Tensor, train: bool) -> Result<Tensor, tch::TchError> {
        let mut x = input.shallow_clone();
        for op in &self.ops {
            x = match op {
                Op::Conv {
                    weight,
                    bias,
                    padding,
                    relu,
                } => {
                    let y = x.f_conv2d_padding(weight, Some(bias), [1, 1], padding, [1, 1], 1)?;
                    if *relu {
                        y.f_relu()?
                    } else {
                        y
                    }
                }
                Op::Pool { size, stride } => {
                    x.f_max_pool2d([*size, *size], [*stride, *stride], [0, 0], [1, 1], false)?
                }
                Op::Flatten => x.f_flatten(1, -1)?,
                Op::Dropout(rate) => x.f_dropout(*rate, train)?,
                Op::Dense { weight, bias, relu } => {
                    let y = x.f_linear(weight, Some(bias))?;
                    if *relu {
                        y.f_relu()?
                    } else {
                        y
                    }
                }
            };
        }
        Ok(x)
    }
}

/// One layer: its operation (parameters not yet attached), parameter shapes, output shape.
fn plan_layer(
    index: usize,
    layer: &Layer,
    shape: Shape,
) -> Result<(Plan, Vec<ParamSpec>, Shape), PluginError> {
    let relu = |a: &Activation| match a {
        Activation::None => false,
        Activation::Relu => true,
    };
    match (layer, shape) {
        (
            Layer::Conv2d {
                filters,
                kernel,
                padding,
                activation,
            },
            Shape::Image { c, h, w },
        ) => {
            let filters = positive(*filters, "conv2d filters", index)?;
            let k = positive(*kernel, "conv2d kernel", index)?;
            let (padding, out_h, out_w) = match padding {
                Padding::Same => ("same", h, w),
                Padding::Valid => ("valid", h - k + 1, w - k + 1),
            };
            if out_h < 1 || out_w < 1 {
                return Err(PluginError::unsupported(format!(
                    "layer {index}: a {k}×{k} valid convolution does not fit a {h}×{w} input"
                )));
            }
            let fan_in = c * k * k;
            let bound = 1.0 / (fan_in as f64).sqrt();
            let specs = vec![
                ParamSpec {
                    name: format!("{index}.weight"),
                    shape: vec![filters, c, k, k],
                    bound,
                },
                ParamSpec {
                    name: format!("{index}.bias"),
                    shape: vec![filters],
                    bound,
                },
            ];
            let op = Plan::Conv {
                padding,
                relu: relu(activation),
            };
            let next = Shape::Image {
                c: filters,
                h: out_h,
                w: out_w,
            };
            Ok((op, specs, next))
        }
        (Layer::MaxPool2d { size, stride }, Shape::Image { c, h, w }) => {
            let size = positive(*size, "maxpool2d size", index)?;
            let stride = positive(*stride, "maxpool2d stride", index)?;
            if size > h || size > w {
                return Err(PluginError::unsupported(format!(
                    "layer {index}: a {size}×{size} pooling window does not fit a {h}×{w} input"
                )));
            }
            // Floor mode, no padding: Keras' `valid` pooling and PyTorch's default agree.
            let next = Shape::Image {
                c,
                h: (h - size) / stride + 1,
                w: (w - size) / stride + 1,
            };
            Ok((Plan::Pool { size, stride }, Vec::new(), next))
        }
        (Layer::Conv2d { .. } | Layer::MaxPool2d { .. }, Shape::Flat(_)) => {
            Err(PluginError::unsupported(format!(
                "layer {index}: {} needs an image, but it comes after a flatten",
                kind_name(layer)
            )))
        }
        (Layer::Flatten, Shape::Image { c, h, w }) => {
            Ok((Plan::Flatten, Vec::new(), Shape::Flat(c * h * w)))
        }
        (Layer::Flatten, Shape::Flat(n)) => Ok((Plan::Flatten, Vec::new(), Shape::Flat(n))),
        (Layer::Dropout { rate }, shape) => {
            // NaN fails this test too.
            if !(0.0..1.0).contains(rate) {
                return Err(PluginError::unsupported(format!(
                    "layer {index}: dropout rate {rate} is outside [0, 1)"
                )));
            }
            Ok((Plan::Dropout(f64::from(*rate)), Vec::new(), shape))
        }
        (Layer::Dense { units, activation }, Shape::Flat(inputs)) => {
            let units = positive(*units, "dense units", index)?;
            let bound = 1.0 / (inputs as f64).sqrt();
            let specs = vec![
                ParamSpec {
                    name: format!("{index}.weight"),
                    shape: vec![units, inputs],
                    bound,
                },
                ParamSpec {
                    name: format!("{index}.bias"),
                    shape: vec![units],
                    bound,
                },
            ];
            let op = Plan::Dense {
                relu: relu(activation),
            };
            Ok((op, specs, Shape::Flat(units)))
        }
        (Layer::Dense { .. }, image) => Err(PluginError::unsupported(format!(
            "layer {index}: dense on a {image} image is ambiguous: add a flatten before it"
        ))),
    }
}

fn kind_name(layer: &Layer) -> &'static str {
    match layer {
        Layer::Conv2d { .. } => "conv2d",
        Layer::MaxPool2d { .. } => "maxpool2d",
        Layer::Flatten => "flatten",
        Layer::Dropout { .. } => "dropout",
        Layer::Dense { .. } => "dense",
    }
}

/// The operation of a planned layer, with the parameters created for it (weight, bias).
fn attach(step: Plan, made: Vec<Tensor>) -> Result<Op, PluginError> {
    let mut made = made.into_iter();
    let mut pair = || match (made.next(), made.next()) {
        (Some(weight), Some(bias)) => Ok((weight, bias)),
        // Unreachable: plan_layer gives conv and dense layers exactly two parameters.
        _ => Err(PluginError::failed("internal: a layer lost its parameters")),
    };
    Ok(match step {
        Plan::Conv { padding, relu } => {
            let (weight, bias) = pair()?;
            Op::Conv {
                weight,
                bias,
                padding,
                relu,
            }
        }
        Plan::Dense { relu } => {
            let (weight, bias) = pair()?;
            Op::Dense { weight, bias, relu }
        }
        Plan::Pool { size, stride } => Op::Pool { size, stride },
        Plan::Flatten => Op::Flatten,
        Plan::Dropout(rate) => Op::Dropout(rate),
    })
}

fn initial_weights<'a>(session: &Session<'a>) -> Option<&'a [plugin_api::Tensor<'a>]> {
    session.initial_weights.into_option().map(|w| w.as_slice())
}

fn random(spec: &ParamSpec) -> Result<Tensor, PluginError> {
    let mut t = Tensor::f_empty(spec.shape.as_slice(), (Kind::Float, Device::Cpu))
        .tch("allocating a parameter")?;
    let _ = t
        .f_uniform_(-spec.bound, spec.bound)
        .tch("initialising a parameter")?;
    Ok(t)
}

fn from_given(given: &plugin_api::Tensor<'_>, spec: &ParamSpec) -> Result<Tensor, PluginError> {
    let shape: Vec<i64> = given.shape.iter().map(|&d| i64::from(d)).collect();
    let count: i64 = shape.iter().product();
    if shape != spec.shape || count != given.values.len() as i64 {
        return Err(PluginError::failed(format!(
            "initial weight `{}` has shape {:?} and {} values; the model needs shape {:?}",
            spec.name,
            shape,
            given.values.len(),
            spec.shape
        )));
    }
    // A copy on purpose: parameters are updated in place, and the host's buffer is read-only.
    Tensor::f_from_slice(given.values.as_slice())
        .and_then(|t| t.f_reshape(shape.as_slice()))
        .tch("copying an initial weight")
}
