//! The model: the session's layer list, walked and checked by plugin-api
//! ([`ModelShapes`]), turned into a [`Plan`] (the forward pass's ops, which parameters
//! exist), and the parameters themselves as a burn [`Module`] ([`Net`]).
//!
//! The layers are applied with burn's functional ops (`conv2d`, `max_pool2d`, `matmul`) rather
//! than `burn::nn` modules: the plan needs Keras-style `same` padding (the extra row/column goes
//! to the end for even kernels), initial weights in the host's layouts, and seeded
//! initialisation that does not depend on burn's global RNG. Every check that could make a burn
//! op panic (zero sizes, a window larger than its input) happens in the walk, before any op
//! runs, as a `PluginError`.

use burn::module::{Module, Param};
use burn::tensor::activation::{log_softmax, relu};
use burn::tensor::module::{conv2d, max_pool2d};
use burn::tensor::ops::{ConvOptions, MaxPoolOptions};
use burn::tensor::{Device, Distribution, Int, Tensor, TensorData};
use plugin_api::init::OwnedTensor;
use plugin_api::rng::SplitMix64;
use plugin_api::shapes::{LayerShape, LayerValues, ModelShapes, Params, Shape};
use plugin_api::{Activation, Layer, PluginError, Session};

/// Parameters above this many values are refused: far beyond any model in this study, and an
/// allocation that large would abort the worker instead of failing cleanly.
const MAX_PARAMS: u64 = 1 << 28;

/// One step of the forward pass, with everything resolved from the layer list.
#[derive(Clone, Debug)]
enum Op {
    /// `index` into [`Net::convs`]; `padding` is `(begin, end)` per spatial dimension.
    Conv {
        index: usize,
        padding: [(usize, usize); 2],
        relu: bool,
    },
    Pool {
        size: usize,
        stride: usize,
    },
    Flatten,
    Dropout {
        rate: f64,
    },
    /// `index` into [`Net::denses`].
    Dense {
        index: usize,
        relu: bool,
    },
}

/// A layer with parameters: where it sits in the session's list, and its shapes.
#[derive(Clone, Debug)]
struct ParamSpec {
    layer: usize,
    params: Params,
}

/// The checked model: the forward pass as a list of ops, and the parameters it needs
/// (convolutions and dense layers in layer order, as [`Net`] holds them).
#[derive(Clone, Debug)]
pub struct Plan {
    ops: Vec<Op>,
    convs: Vec<ParamSpec>,
    denses: Vec<ParamSpec>,
    /// Trainable values in total.
    pub parameter_count: u64,
}

/// The parameters, in the order the plan's convolution and dense layers appear.
#[derive(Module, Debug)]
pub struct Net {
    convs: Vec<ConvParams>,
    denses: Vec<DenseParams>,
}

/// A convolution's kernel `[filters, channels, k, k]` (burn's layout, the host's too) and bias.
#[derive(Module, Debug)]
pub struct ConvParams {
    weight: Param<Tensor<4>>,
    bias: Param<Tensor<1>>,
}

/// A dense layer's weight, stored `[inputs, units]` so the forward pass is one `x · W`
/// (the host's layout is `[units, inputs]`; it is transposed once, at load).
#[derive(Module, Debug)]
pub struct DenseParams {
    weight: Param<Tensor<2>>,
    bias: Param<Tensor<1>>,
}

impl Plan {
    /// The ops and parameters of a walked model (see [`Session::model_shapes`]).
    pub fn new(model: &ModelShapes) -> Result<Plan, PluginError> {
        let count = model.parameter_count();
        if count > MAX_PARAMS {
            return Err(PluginError::unsupported(format!(
                "the model has {count} parameters; this plugin refuses more than {MAX_PARAMS}"
            )));
        }
        let mut plan = Plan {
            ops: Vec::with_capacity(model.layers.len()),
            convs: Vec::new(),
            denses: Vec::new(),
            parameter_count: count,
        };
        for layer in &model.layers {
            if let Some(op) = plan.op(layer)? {
                plan.ops.push(op);
            }
        }
        Ok(plan)
    }

    /// The op for `layer` (recording its parameters), or `None` when it computes nothing:
    /// a flatten of what is already flat, a dropout of rate 0.
    fn op(&mut self, layer: &LayerShape) -> Result<Option<Op>, PluginError> {
        let relu = |a: Activation| a == Activation::Relu;
        let spec = || -> Result<ParamSpec, PluginError> {
            Ok(ParamSpec {
                layer: layer.index,
                params: layer.params.clone().ok_or_else(broken)?,
            })
        };
        Ok(match layer.layer {
            Layer::Conv2d { activation, .. } => {
                self.convs.push(spec()?);
                Some(Op::Conv {
                    index: self.convs.len() - 1,
                    // Keras' `same`: the extra row/column of an even kernel goes at the end.
                    padding: [layer.padding, layer.padding],
                    relu: relu(activation),
                })
            }
            Layer::MaxPool2d { size, stride } => Some(Op::Pool {
                size: size as usize,
                stride: stride as usize,
            }),
            Layer::Flatten => matches!(layer.input, Shape::Image { .. }).then_some(Op::Flatten),
            Layer::Dropout { rate } => (rate > 0.0).then_some(Op::Dropout { rate: rate as f64 }),
            Layer::Dense { activation, .. } => {
                self.denses.push(spec()?);
                Some(Op::Dense {
                    index: self.denses.len() - 1,
                    relu: relu(activation),
                })
            }
        })
    }

    /// Builds the parameters on `device`: from the session's initial weights when it has them,
    /// else Glorot-uniform kernels and zero biases (Keras' defaults) drawn from the seed, every
    /// convolution's kernel before the dense layers' weights.
    pub fn init(
        &self,
        model: &ModelShapes,
        session: &Session<'_>,
        device: &Device,
    ) -> Result<Net, PluginError> {
        let given = model.initial_weights(session)?;
        let mut rng = SplitMix64::new(session.seed);
        // Both sources are in the host's layout: [filters, channels, k, k], [units, inputs].
        let mut values = |spec: &ParamSpec| -> (Vec<f32>, Vec<f32>) {
            let p = &spec.params;
            match given_for(given.as_deref(), spec.layer) {
                Some(v) => (v.weight.to_vec(), v.bias.to_vec()),
                None => {
                    let count = p.weight.iter().product();
                    (
                        glorot(&mut rng, count, p.fan_in, p.fan_out),
                        vec![0.0; p.bias],
                    )
                }
            }
        };
        let mut convs = Vec::with_capacity(self.convs.len());
        for spec in &self.convs {
            let (weight, bias) = values(spec);
            let shape: [usize; 4] = spec.params.weight[..].try_into().map_err(|_| broken())?;
            convs.push(ConvParams {
                weight: Param::from_data(TensorData::new(weight, shape), device),
                bias: Param::from_data(TensorData::new(bias, [spec.params.bias]), device),
            });
        }
        let mut denses = Vec::with_capacity(self.denses.len());
        for spec in &self.denses {
            let (weight, bias) = values(spec);
            let [units, inputs] = spec.params.weight[..] else {
                return Err(broken());
            };
            denses.push(DenseParams {
                // Transposed to the [inputs, units] layout the forward pass uses.
                weight: Param::from_data(
                    TensorData::new(transpose(&weight, units, inputs), [inputs, units]),
                    device,
                ),
                bias: Param::from_data(TensorData::new(bias, [units]), device),
            });
        }
        Ok(Net { convs, denses })
    }
}

impl Plan {
    /// `net`'s parameters named and laid out as the host's (`Session::initial_weights`):
    /// kernels as they are, dense weights transposed back to `[units, inputs]`.
    pub fn host_weights(&self, net: &Net) -> Result<Vec<OwnedTensor>, PluginError> {
        let floats = |data: TensorData| {
            data.try_to_vec::<f32>()
                .map_err(|e| PluginError::failed(format!("reading a parameter: {e:?}")))
        };
        let mut out = Vec::new();
        let mut push = |spec: &ParamSpec, weight: Vec<f32>, bias: Vec<f32>| {
            let shape = spec.params.weight.iter().map(|&d| d as u32).collect();
            out.push(OwnedTensor::new(
                format!("{}.weight", spec.layer),
                shape,
                weight,
            ));
            let len = vec![spec.params.bias as u32];
            out.push(OwnedTensor::new(format!("{}.bias", spec.layer), len, bias));
        };
        for (spec, p) in self.convs.iter().zip(&net.convs) {
            let weight = floats(p.weight.val().into_data())?;
            push(spec, weight, floats(p.bias.val().into_data())?);
        }
        for (spec, p) in self.denses.iter().zip(&net.denses) {
            let [units, inputs] = spec.params.weight[..] else {
                return Err(broken());
            };
            let stored = floats(p.weight.val().into_data())?;
            let weight = transpose(&stored, inputs, units);
            push(spec, weight, floats(p.bias.val().into_data())?);
        }
        Ok(out)
    }
}

/// Only reachable if the plan and the walked model disagree, which [`Plan::new`] prevents.
fn broken() -> PluginError {
    PluginError::failed("internal error: the model plan and its layers disagree")
}

/// The given values of `layer`, when the session gave weights.
fn given_for<'w>(given: Option<&[LayerValues<'w>]>, layer: usize) -> Option<LayerValues<'w>> {
    given?.iter().find(|v| v.index == layer).copied()
}

/// `[rows, cols]` row-major to `[cols, rows]`.
fn transpose(values: &[f32], rows: usize, cols: usize) -> Vec<f32> {
    let mut out = vec![0.0f32; values.len()];
    for (r, row) in values.chunks_exact(cols).enumerate() {
        for (c, &v) in row.iter().enumerate() {
            out[c * rows + r] = v;
        }
    }
    out
}

/// Glorot (Xavier) uniform: `U(-l, l)` with `l = sqrt(6 / (fan_in + fan_out))`.
fn glorot(rng: &mut SplitMix64, count: usize, fan_in: usize, fan_out: usize) -> Vec<f32> {
    let limit = (6.0 / (fan_in + fan_out) as f64).sqrt() as f32;
    (0..count)
        .map(|_| (rng.next_f32() * 2.0 - 1.0) * limit)
        .collect()
}

/// The activation between ops: 4-D until a flatten, 2-D after.
enum Act {
    Spatial(Tensor<4>),
    Flat(Tensor<2>),
}

impl Net {
    /// Logits `[batch, classes]` for `x` `[batch, channels, height, width]`. Dropout is
    /// applied only when `train` is set.
    pub fn forward(
        &self,
        plan: &Plan,
        x: Tensor<4>,
        train: bool,
    ) -> Result<Tensor<2>, PluginError> {
        let mut act = Act::Spatial(x);
        for op in &plan.ops {
            act = match (op, act) {
                (
                    &Op::Conv {
                        index,
                        padding,
                        relu: r,
                    },
                    Act::Spatial(x),
                ) => {
                    let p = self.convs.get(index).ok_or_else(broken)?;
                    let options = ConvOptions::new_with_padding([1, 1], padding, [1, 1], 1);
                    let y = conv2d(x, p.weight.val(), Some(p.bias.val()), options);
                    Act::Spatial(if r { relu(y) } else { y })
                }
                (&Op::Pool { size, stride }, Act::Spatial(x)) => Act::Spatial(max_pool2d(
                    x,
                    MaxPoolOptions::new([size, size]).with_stride([stride, stride]),
                )),
                (Op::Flatten, Act::Spatial(x)) => Act::Flat(x.flatten(1, 3)),
                (&Op::Dropout { rate }, act) if train => match act {
                    Act::Spatial(x) => Act::Spatial(dropout(x, rate)),
                    Act::Flat(x) => Act::Flat(dropout(x, rate)),
                },
                (Op::Dropout { .. }, act) => act,
                (&Op::Dense { index, relu: r }, Act::Flat(x)) => {
                    let p = self.denses.get(index).ok_or_else(broken)?;
                    let y = x.matmul(p.weight.val()) + p.bias.val().unsqueeze::<2>();
                    Act::Flat(if r { relu(y) } else { y })
                }
                _ => return Err(broken()),
            };
        }
        match act {
            Act::Flat(logits) => Ok(logits),
            Act::Spatial(_) => Err(broken()),
        }
    }
}

/// Inverted dropout (as Keras and PyTorch): zero with probability `rate`, scale the rest by
/// `1 / (1 - rate)` so evaluation needs no rescaling. The mask comes from burn's RNG, which
/// the trainer seeds from the session.
fn dropout<const D: usize>(x: Tensor<D>, rate: f64) -> Tensor<D> {
    let keep = 1.0 - rate;
    let mask = x.random_like(Distribution::Bernoulli(keep));
    x * mask / keep
}

/// Mean softmax cross-entropy of `logits` `[batch, classes]` against `labels` `[batch, 1]`.
pub fn cross_entropy(logits: Tensor<2>, labels: Tensor<2, Int>) -> Tensor<1> {
    log_softmax(logits, 1).gather(1, labels).mean().neg()
}
