//! `[model] layers = [...]`: the layer list as written, and its conversion to the ABI's
//! [`Layer`]s with shape checks.

use plugin_api::{Activation, Layer, Padding};
use serde::Deserialize;

/// One layer as written in the manifest, e.g.
/// `{ kind = "conv2d", filters = 64, kernel = 3, padding = "same", activation = "relu" }`.
#[derive(Deserialize, Debug, Clone)]
#[serde(tag = "kind", rename_all = "lowercase", deny_unknown_fields)]
pub enum LayerSpec {
    Conv2d {
        filters: u32,
        kernel: u32,
        #[serde(default = "default_padding")]
        padding: String,
        #[serde(default = "default_activation")]
        activation: String,
    },
    Maxpool2d {
        size: u32,
        stride: Option<u32>,
    },
    Flatten,
    Dropout {
        rate: f32,
    },
    Dense {
        units: u32,
        #[serde(default = "default_activation")]
        activation: String,
    },
}

fn default_padding() -> String {
    "valid".into()
}

fn default_activation() -> String {
    "none".into()
}

/// Reads each layer table into a [`LayerSpec`]; errors name the layer's line via `line_of`.
pub fn parse_layer_tables(
    tables: &[toml::Spanned<toml::Table>],
    line_of: impl Fn(usize) -> usize,
) -> Result<Vec<(LayerSpec, usize)>, LayerError> {
    tables
        .iter()
        .enumerate()
        .map(|(i, t)| {
            let line = line_of(t.span().start);
            LayerSpec::deserialize(toml::Value::Table(t.get_ref().clone()))
                .map(|spec| (spec, line))
                .map_err(|e| LayerError {
                    line: Some(line),
                    message: format!("layer {}: {}", i + 1, e.message().trim_end()),
                })
        })
        .collect()
}

/// Converts and checks the layer list: known words, positive sizes, a flatten before the
/// first dense layer, a dense layer last (its outputs are the logits).
pub fn layers_from_specs(specs: &[(LayerSpec, usize)]) -> Result<Vec<Layer>, LayerError> {
    let whole = |message: &str| LayerError {
        line: None,
        message: message.into(),
    };
    if specs.is_empty() {
        return Err(whole("`layers` is empty"));
    }
    let mut layers = Vec::with_capacity(specs.len());
    let mut flat = false;
    for (i, (spec, line)) in specs.iter().enumerate() {
        let at = |msg: String| LayerError {
            line: Some(*line),
            message: format!("layer {} ({}): {msg}", i + 1, kind_name(spec)),
        };
        let layer = match spec {
            LayerSpec::Conv2d {
                filters,
                kernel,
                padding,
                activation,
            } => {
                if flat {
                    return Err(at("a convolution cannot follow flatten or dense".into()));
                }
                if *filters == 0 || *kernel == 0 {
                    return Err(at("`filters` and `kernel` must be at least 1".into()));
                }
                Layer::Conv2d {
                    filters: *filters,
                    kernel: *kernel,
                    padding: parse_padding(padding).map_err(at)?,
                    activation: parse_activation(activation).map_err(at)?,
                }
            }
            LayerSpec::Maxpool2d { size, stride } => {
                if flat {
                    return Err(at("pooling cannot follow flatten or dense".into()));
                }
                let stride = stride.unwrap_or(*size);
                if *size == 0 || stride == 0 {
                    return Err(at("`size` and `stride` must be at least 1".into()));
                }
                Layer::MaxPool2d {
                    size: *size,
                    stride,
                }
            }
            LayerSpec::Flatten => {
                flat = true;
                Layer::Flatten
            }
            LayerSpec::Dropout { rate } => {
                if !(0.0..1.0).contains(rate) {
                    return Err(at(format!("`rate` must be in [0, 1), got {rate}")));
                }
                Layer::Dropout { rate: *rate }
            }
            LayerSpec::Dense { units, activation } => {
                if !flat {
                    return Err(at("put a flatten layer before the first dense layer".into()));
                }
                if *units == 0 {
                    return Err(at("`units` must be at least 1".into()));
                }
                Layer::Dense {
                    units: *units,
                    activation: parse_activation(activation).map_err(at)?,
                }
            }
        };
        layers.push(layer);
    }
    match layers.last() {
        Some(Layer::Dense {
            activation: Activation::None,
            ..
        }) => Ok(layers),
        _ => Err(whole(
            "the last layer must be `dense` with no activation: its outputs are the logits \
             of the softmax cross-entropy",
        )),
    }
}

/// A problem in the layer list, with the line of the layer when there is one.
#[derive(Debug)]
pub struct LayerError {
    pub line: Option<usize>,
    pub message: String,
}

fn kind_name(spec: &LayerSpec) -> &'static str {
    match spec {
        LayerSpec::Conv2d { .. } => "conv2d",
        LayerSpec::Maxpool2d { .. } => "maxpool2d",
        LayerSpec::Flatten => "flatten",
        LayerSpec::Dropout { .. } => "dropout",
        LayerSpec::Dense { .. } => "dense",
    }
}

fn parse_padding(word: &str) -> Result<Padding, String> {
    match word {
        "same" => Ok(Padding::Same),
        "valid" => Ok(Padding::Valid),
        other => Err(format!(
            "padding `{other}` is not known; use \"same\" or \"valid\""
        )),
    }
}

fn parse_activation(word: &str) -> Result<Activation, String> {
    match word {
        "relu" => Ok(Activation::Relu),
        "none" | "linear" => Ok(Activation::None),
        other => Err(format!(
            "activation `{other}` is not known; use \"relu\" or \"none\""
        )),
    }
}
