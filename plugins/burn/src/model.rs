//! The model: the session's layer list, checked once into a [`Plan`] (shapes, padding, which
//! parameters exist), and the parameters themselves as a burn [`Module`] ([`Net`]).
//!
//! The layers are applied with burn's functional ops (`conv2d`, `max_pool2d`, `matmul`) rather
//! than `burn::nn` modules: the plan needs Keras-style `same` padding (the extra row/column goes
//! to the end for even kernels), initial weights in the host's layouts, and seeded
//! initialisation that does not depend on burn's global RNG. Every check that could make a burn
//! op panic (zero sizes, a window larger than its input) happens here, as a `PluginError`.

use burn::module::{Module, Param};
use burn::tensor::activation::{log_softmax, relu};
use burn::tensor::module::{conv2d, max_pool2d};
use burn::tensor::ops::{ConvOptions, MaxPoolOptions};
use burn::tensor::{Device, Distribution, Int, Tensor, TensorData};
use plugin_api::abi_stable::std_types::ROption;
use plugin_api::{Activation, Layer, Padding, PluginError, Session};

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

/// A parameterised layer: where it sits in the session's list and its sizes.
#[derive(Clone, Copy, Debug)]
enum ParamSpec {
    Conv {
        layer: usize,
        filters: usize,
        channels: usize,
        kernel: usize,
    },
    Dense {
        layer: usize,
        units: usize,
        inputs: usize,
    },
}

/// The activation shape between layers (batch dimension left out).
#[derive(Clone, Copy, Debug, PartialEq)]
enum Shape {
    Spatial { c: usize, h: usize, w: usize },
    Flat(usize),
}

/// The checked model: the forward pass as a list of ops, and the parameters it needs.
#[derive(Clone, Debug)]
pub struct Plan {
    ops: Vec<Op>,
    params: Vec<ParamSpec>,
    input: [usize; 3],
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

fn to_usize(value: u32) -> usize {
    // u32 always fits in usize on the 32/64-bit targets this plugin builds for.
    value as usize
}

impl Plan {
    /// Checks `layers` against an input of `[channels, height, width]` and `classes` outputs.
    pub fn new(layers: &[Layer], input: [usize; 3], classes: usize) -> Result<Plan, PluginError> {
        let [c, h, w] = input;
        if c == 0 || h == 0 || w == 0 {
            return Err(PluginError::unsupported(format!(
                "input images of {c}×{h}×{w} values: every dimension must be at least 1"
            )));
        }
        let mut shape = Shape::Spatial { c, h, w };
        let mut ops = Vec::with_capacity(layers.len());
        let mut params = Vec::new();
        let (mut convs, mut denses) = (0usize, 0usize);
        let mut parameter_count = 0u64;
        for (i, layer) in layers.iter().enumerate() {
            let n = i + 1; // layers are numbered from 1 in messages, as a user reads the list
            match *layer {
                Layer::Conv2d {
                    filters,
                    kernel,
                    padding,
                    activation,
                } => {
                    let Shape::Spatial { c, h, w } = shape else {
                        return Err(PluginError::unsupported(format!(
                            "layer {n} (conv2d) comes after a flatten or dense layer; \
                             convolutions need a [channels, height, width] input"
                        )));
                    };
                    let (filters, k) = (to_usize(filters), to_usize(kernel));
                    if filters == 0 || k == 0 {
                        return Err(PluginError::unsupported(format!(
                            "layer {n} (conv2d): filters ({filters}) and kernel ({k}) must be at least 1"
                        )));
                    }
                    let (pad, out_h, out_w) = match padding {
                        // Stride 1: `same` pads k-1 in total, the odd one at the end (as
                        // TensorFlow/Keras do), so the output keeps the input's size.
                        Padding::Same => {
                            let begin = (k - 1) / 2;
                            ((begin, k - 1 - begin), h, w)
                        }
                        Padding::Valid => {
                            if k > h || k > w {
                                return Err(PluginError::unsupported(format!(
                                    "layer {n} (conv2d): a {k}×{k} kernel with `valid` padding \
                                     does not fit its {h}×{w} input"
                                )));
                            }
                            ((0, 0), h - k + 1, w - k + 1)
                        }
                    };
                    parameter_count += (filters as u64) * (c as u64) * (k as u64).pow(2);
                    parameter_count += filters as u64;
                    params.push(ParamSpec::Conv {
                        layer: i,
                        filters,
                        channels: c,
                        kernel: k,
                    });
                    ops.push(Op::Conv {
                        index: convs,
                        padding: [pad, pad],
                        relu: activation == Activation::Relu,
                    });
                    convs += 1;
                    shape = Shape::Spatial {
                        c: filters,
                        h: out_h,
                        w: out_w,
                    };
                }
                Layer::MaxPool2d { size, stride } => {
                    let Shape::Spatial { c, h, w } = shape else {
                        return Err(PluginError::unsupported(format!(
                            "layer {n} (maxpool2d) comes after a flatten or dense layer"
                        )));
                    };
                    let (size, stride) = (to_usize(size), to_usize(stride));
                    if size == 0 || stride == 0 {
                        return Err(PluginError::unsupported(format!(
                            "layer {n} (maxpool2d): size ({size}) and stride ({stride}) must be at least 1"
                        )));
                    }
                    if size > h || size > w {
                        return Err(PluginError::unsupported(format!(
                            "layer {n} (maxpool2d): a {size}×{size} window does not fit its {h}×{w} input"
                        )));
                    }
                    // No padding, floor division: Keras' default `valid` pooling.
                    shape = Shape::Spatial {
                        c,
                        h: (h - size) / stride + 1,
                        w: (w - size) / stride + 1,
                    };
                    ops.push(Op::Pool { size, stride });
                }
                Layer::Flatten => {
                    if let Shape::Spatial { c, h, w } = shape {
                        shape = Shape::Flat(c * h * w);
                        ops.push(Op::Flatten);
                    } // already flat: nothing to do
                }
                Layer::Dropout { rate } => {
                    if !(0.0..1.0).contains(&rate) {
                        return Err(PluginError::unsupported(format!(
                            "layer {n} (dropout): rate {rate} is outside [0, 1)"
                        )));
                    }
                    if rate > 0.0 {
                        ops.push(Op::Dropout { rate: rate as f64 });
                    }
                }
                Layer::Dense { units, activation } => {
                    let Shape::Flat(inputs) = shape else {
                        return Err(PluginError::unsupported(format!(
                            "layer {n} (dense) gets a [channels, height, width] input; \
                             this plugin needs a flatten layer before it"
                        )));
                    };
                    let units = to_usize(units);
                    if units == 0 {
                        return Err(PluginError::unsupported(format!(
                            "layer {n} (dense): units must be at least 1"
                        )));
                    }
                    parameter_count += (units as u64) * (inputs as u64 + 1);
                    params.push(ParamSpec::Dense {
                        layer: i,
                        units,
                        inputs,
                    });
                    ops.push(Op::Dense {
                        index: denses,
                        relu: activation == Activation::Relu,
                    });
                    denses += 1;
                    shape = Shape::Flat(units);
                }
            }
            if parameter_count > MAX_PARAMS {
                return Err(PluginError::unsupported(format!(
                    "the model has more than {MAX_PARAMS} parameters by layer {n}"
                )));
            }
        }
        if shape != Shape::Flat(classes) {
            return Err(PluginError::unsupported(format!(
                "the model must end in a dense layer with {classes} units (one logit per class); \
                 it ends with shape {shape:?}"
            )));
        }
        Ok(Plan {
            ops,
            params,
            input,
            parameter_count,
        })
    }

    /// The input shape `[channels, height, width]`.
    pub fn input(&self) -> [usize; 3] {
        self.input
    }

    /// Builds the parameters on `device`: from the session's initial weights when it has them,
    /// else Glorot-uniform kernels and zero biases (Keras' defaults) drawn from the seed.
    pub fn init(&self, session: &Session<'_>, device: &Device) -> Result<Net, PluginError> {
        let mut rng = SplitMix64(session.seed);
        let mut convs = Vec::new();
        let mut denses = Vec::new();
        for spec in &self.params {
            match *spec {
                ParamSpec::Conv {
                    layer,
                    filters,
                    channels,
                    kernel,
                } => {
                    let wshape = [filters, channels, kernel, kernel];
                    let (weight, bias) = match given(session, layer, &wshape, filters)? {
                        Some((w, b)) => (w, b),
                        None => {
                            let fan_in = channels * kernel * kernel;
                            let fan_out = filters * kernel * kernel;
                            let w = glorot(&mut rng, wshape.iter().product(), fan_in, fan_out);
                            (w, vec![0.0; filters])
                        }
                    };
                    convs.push(ConvParams {
                        weight: Param::from_data(TensorData::new(weight, wshape), device),
                        bias: Param::from_data(TensorData::new(bias, [filters]), device),
                    });
                }
                ParamSpec::Dense {
                    layer,
                    units,
                    inputs,
                } => {
                    // Both sources are produced in the host's [units, inputs] layout, then
                    // transposed to the [inputs, units] layout the forward pass uses.
                    let (weight, bias) = match given(session, layer, &[units, inputs], units)? {
                        Some((w, b)) => (w, b),
                        None => (
                            glorot(&mut rng, units * inputs, inputs, units),
                            vec![0.0; units],
                        ),
                    };
                    let mut transposed = vec![0.0f32; weight.len()];
                    for (u, row) in weight.chunks_exact(inputs).enumerate() {
                        for (i, &v) in row.iter().enumerate() {
                            transposed[i * units + u] = v;
                        }
                    }
                    denses.push(DenseParams {
                        weight: Param::from_data(
                            TensorData::new(transposed, [inputs, units]),
                            device,
                        ),
                        bias: Param::from_data(TensorData::new(bias, [units]), device),
                    });
                }
            }
        }
        Ok(Net { convs, denses })
    }
}

/// A layer's weight and bias values, in the host's layout.
type WeightAndBias = (Vec<f32>, Vec<f32>);

/// The session's initial weight and bias for `layer`, checked against the expected shapes;
/// `None` when the session supplies no weights at all.
fn given(
    session: &Session<'_>,
    layer: usize,
    weight_shape: &[usize],
    bias_len: usize,
) -> Result<Option<WeightAndBias>, PluginError> {
    let ROption::RSome(tensors) = session.initial_weights else {
        return Ok(None);
    };
    let find = |suffix: &str, shape: &[usize]| -> Result<Vec<f32>, PluginError> {
        let name = format!("{layer}.{suffix}");
        let t = tensors
            .as_slice()
            .iter()
            .find(|t| t.name.as_str() == name)
            .ok_or_else(|| {
                PluginError::failed(format!(
                    "the session's initial weights have no tensor `{name}`"
                ))
            })?;
        let got: Vec<usize> = t.shape.as_slice().iter().map(|&d| to_usize(d)).collect();
        let count: usize = shape.iter().product();
        if got != shape || t.values.len() != count {
            return Err(PluginError::failed(format!(
                "initial weight `{name}` has shape {got:?} and {} values; the model needs {shape:?}",
                t.values.len()
            )));
        }
        Ok(t.values.as_slice().to_vec())
    };
    Ok(Some((
        find("weight", weight_shape)?,
        find("bias", &[bias_len])?,
    )))
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
        // Only reachable if the plan and the parameters disagree, which `Plan::init` prevents.
        let broken =
            || PluginError::failed("internal error: the model plan and its layers disagree");
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

/// SplitMix64: small and well mixed; enough for reproducible initial weights.
pub struct SplitMix64(pub u64);

impl SplitMix64 {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `[0, 1)`, 24 bits of precision.
    fn next_f32(&mut self) -> f32 {
        (self.next_u64() >> 40) as f32 / (1u64 << 24) as f32
    }
}
