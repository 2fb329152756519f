//! The session's layer list, checked and sized: what each layer computes, on what shape, with
//! which parameters. Everything downstream (the StableHLO programs, the weight layouts) reads
//! this plan and never the raw layer list, so a model this plugin cannot run is refused here
//! with a sentence that names the layer (numbered from 1, as in the manifest).
//!
//! (plugin-api is to gain a shared layer-shape walk; this module is the one place to swap for
//! it.)

use plugin_api::{Activation, Layer, Padding, PluginError, Session};

/// What flows between layers, per image. Images are kept as height × width × channels inside
/// the programs (XLA's preferred CPU layout), whatever the host's layout.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shape {
    Image {
        h: i64,
        w: i64,
        c: i64,
    },
    /// A vector; `from` is the image it was flattened from, when it was (its order matters
    /// for the host's weight layout, see [`crate::weights`]).
    Flat {
        n: i64,
        from: Option<(i64, i64, i64)>,
    },
}

impl Shape {
    /// Values per image.
    pub fn size(&self) -> i64 {
        match *self {
            Shape::Image { h, w, c } => h * w * c,
            Shape::Flat { n, .. } => n,
        }
    }

    /// Dimensions of a batch of `batch` images, as the programs hold them.
    pub fn dims(&self, batch: i64) -> Vec<i64> {
        match *self {
            Shape::Image { h, w, c } => vec![batch, h, w, c],
            Shape::Flat { n, .. } => vec![batch, n],
        }
    }
}

impl std::fmt::Display for Shape {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            // The host's order (channels first), as users write it.
            Shape::Image { h, w, c } => write!(f, "{c}×{h}×{w}"),
            Shape::Flat { n, .. } => write!(f, "{n} values"),
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
    /// 0-based index into `Session::model` (weight names use it).
    pub index: usize,
    pub op: Op,
    pub input: Shape,
    pub output: Shape,
}

impl Step {
    /// Whether the layer has a weight and a bias.
    pub fn has_params(&self) -> bool {
        matches!(self.op, Op::Conv { .. } | Op::Dense { .. })
    }
}

/// Plans `session.model` on the session's images; the model must end with one logit per class.
pub fn plan(session: &Session<'_>) -> Result<Vec<Step>, PluginError> {
    let images = &session.data.train;
    let mut shape = Shape::Image {
        h: i64::from(images.height),
        w: i64::from(images.width),
        c: i64::from(images.channels),
    };
    if shape.size() == 0 {
        return Err(PluginError::unsupported("the training images are empty"));
    }
    let mut steps = Vec::new();
    for (index, layer) in session.model.as_slice().iter().enumerate() {
        let (op, output) = plan_layer(layer, shape).map_err(|why| {
            PluginError::unsupported(format!("layer {} ({}): {why}", index + 1, kind_name(layer)))
        })?;
        steps.push(Step {
            index,
            op,
            input: shape,
            output,
        });
        shape = output;
    }
    let classes = i64::from(session.data.classes);
    if !matches!(shape, Shape::Flat { n, .. } if n == classes) {
        return Err(PluginError::unsupported(format!(
            "the model ends with {shape} per image, but the dataset has {classes} classes: \
             the last layer must be a dense layer with {classes} units"
        )));
    }
    Ok(steps)
}

fn positive(value: u32, what: &str) -> Result<i64, String> {
    if value == 0 {
        Err(format!("{what} must be at least 1"))
    } else {
        Ok(i64::from(value))
    }
}

/// The op and output shape of one layer, or why it cannot follow `shape`.
fn plan_layer(layer: &Layer, shape: Shape) -> Result<(Op, Shape), String> {
    let relu = |a: &Activation| matches!(a, Activation::Relu);
    match (layer, shape) {
        (
            Layer::Conv2d {
                filters,
                kernel,
                padding,
                activation,
            },
            Shape::Image { h, w, .. },
        ) => {
            let filters = positive(*filters, "filters")?;
            let k = positive(*kernel, "kernel")?;
            // `same` pads k-1 in all, the smaller half first (Keras, PyTorch and XLA agree).
            let (pad, out_h, out_w) = match padding {
                Padding::Same => (((k - 1) / 2, k - 1 - (k - 1) / 2), h, w),
                Padding::Valid => ((0, 0), h - k + 1, w - k + 1),
            };
            if out_h < 1 || out_w < 1 {
                return Err(format!(
                    "a {k}×{k} valid convolution does not fit a {h}×{w} input"
                ));
            }
            let op = Op::Conv {
                filters,
                kernel: k,
                pad,
                relu: relu(activation),
            };
            Ok((
                op,
                Shape::Image {
                    h: out_h,
                    w: out_w,
                    c: filters,
                },
            ))
        }
        (Layer::MaxPool2d { size, stride }, Shape::Image { h, w, c }) => {
            let size = positive(*size, "size")?;
            let stride = positive(*stride, "stride")?;
            if size > h || size > w {
                return Err(format!(
                    "a {size}×{size} pooling window does not fit a {h}×{w} input"
                ));
            }
            let out = Shape::Image {
                h: (h - size) / stride + 1,
                w: (w - size) / stride + 1,
                c,
            };
            Ok((Op::Pool { size, stride }, out))
        }
        (Layer::Conv2d { .. } | Layer::MaxPool2d { .. }, Shape::Flat { .. }) => {
            Err("it needs an image, but it comes after a flatten".into())
        }
        (Layer::Flatten, Shape::Image { h, w, c }) => Ok((
            Op::Flatten,
            Shape::Flat {
                n: h * w * c,
                from: Some((h, w, c)),
            },
        )),
        (Layer::Flatten, flat) => Ok((Op::Flatten, flat)),
        (Layer::Dropout { rate }, shape) => {
            // NaN fails this test too.
            if !(0.0..1.0).contains(rate) {
                return Err(format!("rate {rate} is outside [0, 1)"));
            }
            Ok((Op::Dropout { rate: *rate }, shape))
        }
        (Layer::Dense { units, activation }, Shape::Flat { .. }) => {
            let units = positive(*units, "units")?;
            let op = Op::Dense {
                units,
                relu: relu(activation),
            };
            Ok((
                op,
                Shape::Flat {
                    n: units,
                    from: None,
                },
            ))
        }
        (Layer::Dense { .. }, image) => Err(format!(
            "dense on a {image} image is ambiguous: add a flatten before it"
        )),
    }
}

pub fn kind_name(layer: &Layer) -> &'static str {
    match layer {
        Layer::Conv2d { .. } => "conv2d",
        Layer::MaxPool2d { .. } => "maxpool2d",
        Layer::Flatten => "flatten",
        Layer::Dropout { .. } => "dropout",
        Layer::Dense { .. } => "dense",
    }
}
