//! The session's layer list as libtorch operations on parameter tensors we own.
//!
//! The model is built from plain `Tensor`s and the fallible `f_*` functions rather than from
//! `tch::nn` modules, because the `nn` helpers unwrap libtorch errors (a panic) and name
//! variables with `.` separators that clash with the session's weight names
//! (`<layer>.weight`). Every shape is checked by plugin-api's walk
//! ([`plugin_api::shapes`]) before libtorch sees it, so a model the plugin cannot build is a
//! `PluginError` that names the layer, never a libtorch exception.

use plugin_api::shapes::{LayerShape, LayerValues, Params};
use plugin_api::{Activation, Layer, PluginError, Session};
use tch::{Device, Kind, Tensor};

use crate::TchResult;

enum Op {
    Conv {
        weight: Tensor,
        bias: Tensor,
        /// libtorch's own `same`/`valid`: for an even kernel, `same` puts the extra row and
        /// column after, as the walk documents.
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
    /// Trainable values in all, from the walked shapes.
    count: u64,
}

impl Model {
    /// Walks the layer list from the data's image shape (checking it ends in one logit per
    /// class), then creates the parameters on `device`: from `session.initial_weights` when
    /// given, else from `seed` (libtorch's global generator, which the caller has seeded).
    pub fn new(session: &Session<'_>, device: Device) -> Result<Model, PluginError> {
        let shapes = session.model_shapes()?;
        let given = shapes.initial_weights(session)?;
        let mut model = Model {
            ops: Vec::with_capacity(shapes.layers.len()),
            params: Vec::new(),
            count: shapes.parameter_count(),
        };
        for layer in &shapes.layers {
            let values = given
                .as_deref()
                .and_then(|g| g.iter().find(|v| v.index == layer.index));
            let op = model.op(layer, values, device)?;
            model.ops.push(op);
        }
        Ok(model)
    }

    /// The operation of one walked layer, with its parameters created on `device`.
    fn op(
        &mut self,
        layer: &LayerShape,
        given: Option<&LayerValues<'_>>,
        device: Device,
    ) -> Result<Op, PluginError> {
        let relu = |a: Activation| a == Activation::Relu;
        Ok(match layer.layer {
            Layer::Conv2d {
                padding,
                activation,
                ..
            } => {
                let (weight, bias) = self.layer_params(layer, given, device)?;
                Op::Conv {
                    weight,
                    bias,
                    padding: padding.as_str(),
                    relu: relu(activation),
                }
            }
            Layer::MaxPool2d { size, stride } => Op::Pool {
                size: i64::from(size),
                stride: i64::from(stride),
            },
            // Flattening what is already flat is a no-op in libtorch too.
            Layer::Flatten => Op::Flatten,
            Layer::Dropout { rate } => Op::Dropout(f64::from(rate)),
            Layer::Dense { activation, .. } => {
                let (weight, bias) = self.layer_params(layer, given, device)?;
                Op::Dense {
                    weight,
                    bias,
                    relu: relu(activation),
                }
            }
        })
    }

    /// The weight and bias of a conv2d or dense layer, kept for the optimizer too.
    fn layer_params(
        &mut self,
        layer: &LayerShape,
        given: Option<&LayerValues<'_>>,
        device: Device,
    ) -> Result<(Tensor, Tensor), PluginError> {
        let params = layer.params.as_ref().ok_or_else(|| {
            PluginError::failed("internal: a conv2d or dense layer without parameters")
        })?;
        let weight_shape: Vec<i64> = params.weight.iter().map(|&d| d as i64).collect();
        let bias_shape = [params.bias as i64];
        let (weight, bias) = match given {
            Some(values) => (
                from_values(values.weight, &weight_shape)?,
                from_values(values.bias, &bias_shape)?,
            ),
            None => (random(&weight_shape, params)?, random(&bias_shape, params)?),
        };
        let weight = self.keep(layer.weight_name(), weight, device)?;
        let bias = self.keep(layer.bias_name(), bias, device)?;
        Ok((weight, bias))
    }

    /// Moves a parameter to `device`, marks it trainable and records it under `name`.
    fn keep(
        &mut self,
        name: String,
        tensor: Tensor,
        device: Device,
    ) -> Result<Tensor, PluginError> {
        // Created on the CPU and moved, so that a seed gives the same start on every device;
        // the move is a no-op on the CPU.
        let mut tensor = tensor.f_to_device(device).tch("moving a parameter")?;
        let _ = tensor
            .f_requires_grad_(true)
            .tch("marking a parameter trainable")?;
        self.params.push((name, tensor.shallow_clone()));
        Ok(tensor)
    }

    /// The trainable tensors, in layer order (shallow clones: same storage and gradients).
    pub fn parameters(&self) -> impl Iterator<Item = &Tensor> {
        self.params.iter().map(|(_, t)| t)
    }

    /// The trainable tensors with their names (`Session::initial_weights`' names and
    /// layouts: libtorch's own).
    pub fn named_parameters(&self) -> impl Iterator<Item = (&str, &Tensor)> {
        self.params.iter().map(|(n, t)| (n.as_str(), t))
    }

    /// Number of trainable values.
    pub fn parameter_count(&self) -> u64 {
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

/// PyTorch's default init for conv and linear layers, kaiming_uniform(a=√5), reduces to
/// U(-1/√fan_in, 1/√fan_in) for weights and biases alike; the Python trainers start from
/// the same distribution.
fn random(shape: &[i64], params: &Params) -> Result<Tensor, PluginError> {
    let bound = 1.0 / (params.fan_in as f64).sqrt();
    let mut t = Tensor::f_empty(shape, (Kind::Float, Device::Cpu)).tch("allocating a parameter")?;
    let _ = t
        .f_uniform_(-bound, bound)
        .tch("initialising a parameter")?;
    Ok(t)
}

/// A copy of given values (checked against the walked shape by plugin-api).
fn from_values(values: &[f32], shape: &[i64]) -> Result<Tensor, PluginError> {
    // A copy on purpose: parameters are updated in place, and the host's buffer is read-only.
    Tensor::f_from_slice(values)
        .and_then(|t| t.f_reshape(shape))
        .tch("copying an initial weight")
}
