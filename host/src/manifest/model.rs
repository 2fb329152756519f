//! `[model] layers = [...]`: the layer list as written, and its conversion to the ABI's
//! [`Layer`]s, checked by plugin-api's shape walk (the one every plugin runs) on MNIST's
//! images, so a model a plugin would refuse is refused here, with the same words, before
//! anything runs.

use plugin_api::shapes::{ModelShapes, Shape};
use plugin_api::{Activation, Layer, Padding};
use serde::Deserialize;

/// What every layer list starts from: MNIST's images (the one dataset; `[dataset] name` is
/// checked to be `mnist`), and one logit per digit at the end.
const MNIST_INPUT: Shape = Shape::Image {
    channels: 1,
    height: 28,
    width: 28,
};
const MNIST_CLASSES: usize = 10;

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

/// Converts and checks the layer list: known words, then plugin-api's shape walk on MNIST
/// (positive sizes, a flatten before the first dense layer, no convolution or pooling after
/// it, windows that fit, one logit per class at the end), and a dense layer without
/// activation last (its outputs are the logits). Errors number layers from 1 and carry the
/// layer's line.
pub fn layers_from_specs(specs: &[(LayerSpec, usize)]) -> Result<Vec<Layer>, LayerError> {
    let whole = |message: &str| LayerError {
        line: None,
        message: message.into(),
    };
    if specs.is_empty() {
        return Err(whole("`layers` is empty"));
    }
    let layers = specs
        .iter()
        .enumerate()
        .map(|(i, (spec, line))| {
            layer_from_spec(spec).map_err(|msg| LayerError {
                line: Some(*line),
                message: format!("layer {} ({}): {msg}", i + 1, kind_name(spec)),
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let walked = ModelShapes::walk(MNIST_INPUT, &layers).map_err(|e| LayerError {
        line: e
            .layer
            .and_then(|n| specs.get(n - 1))
            .map(|(_, line)| *line),
        message: e.message,
    })?;
    let logits = matches!(
        layers.last(),
        Some(Layer::Dense {
            activation: Activation::None,
            ..
        })
    );
    if !logits {
        return Err(whole(
            "the last layer must be `dense` with no activation: its outputs are the logits \
             of the softmax cross-entropy",
        ));
    }
    walked
        .expect_logits(MNIST_CLASSES)
        .map_err(|e| whole(&e.message))?;
    Ok(layers)
}

/// One layer as the ABI has it: its words checked, `stride` defaulting to `size`.
fn layer_from_spec(spec: &LayerSpec) -> Result<Layer, String> {
    Ok(match spec {
        LayerSpec::Conv2d {
            filters,
            kernel,
            padding,
            activation,
        } => Layer::Conv2d {
            filters: *filters,
            kernel: *kernel,
            padding: parse_padding(padding)?,
            activation: parse_activation(activation)?,
        },
        LayerSpec::Maxpool2d { size, stride } => Layer::MaxPool2d {
            size: *size,
            stride: stride.unwrap_or(*size),
        },
        LayerSpec::Flatten => Layer::Flatten,
        LayerSpec::Dropout { rate } => Layer::Dropout { rate: *rate },
        LayerSpec::Dense { units, activation } => Layer::Dense {
            units: *units,
            activation: parse_activation(activation)?,
        },
    })
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The layer list of a `[model]` table written as `layers`, checked.
    fn check(layers: &str) -> Result<Vec<Layer>, LayerError> {
        let text = format!("layers = [\n{layers}\n]\n");
        let tables = toml::from_str::<Layers>(&text)
            .expect("layer tables")
            .layers;
        let line_of = |offset: usize| text[..offset].matches('\n').count() + 1;
        parse_layer_tables(&tables, line_of).and_then(|specs| layers_from_specs(&specs))
    }

    #[derive(Deserialize)]
    struct Layers {
        layers: Vec<toml::Spanned<toml::Table>>,
    }

    const FLATTEN: &str = "{ kind = \"flatten\" },";
    const DENSE: &str = "{ kind = \"dense\", units = 10 },";

    #[test]
    fn the_walk_refuses_on_mnist_with_the_layer_number_from_one_and_its_line() {
        // (layers, the line named, how the message starts): each refused here, not at run
        // time in a plugin. Line 1 is `layers = [`.
        let cases = [
            (
                format!("{FLATTEN}\n{{ kind = \"conv2d\", filters = 4, kernel = 3 }},\n{DENSE}"),
                Some(3),
                "layer 2 (conv2d): needs an image, but it comes after a flatten",
            ),
            (
                format!("{{ kind = \"dense\", units = 4 }},\n{FLATTEN}\n{DENSE}"),
                Some(2),
                "layer 1 (dense): gets a 1×28×28 image per sample; add a flatten before it",
            ),
            (
                format!("{{ kind = \"conv2d\", filters = 2, kernel = 29 }},\n{FLATTEN}\n{DENSE}"),
                Some(2),
                "layer 1 (conv2d): a 29×29 kernel with `valid` padding does not fit its 28×28",
            ),
            (
                format!("{FLATTEN}\n{{ kind = \"maxpool2d\", size = 30 }},\n{DENSE}"),
                Some(3),
                "layer 2 (maxpool2d): needs an image",
            ),
            (
                format!("{{ kind = \"maxpool2d\", size = 30 }},\n{FLATTEN}\n{DENSE}"),
                Some(2),
                "layer 1 (maxpool2d): a 30×30 window does not fit its 28×28 input",
            ),
            (
                format!("{{ kind = \"dropout\", rate = 1.0 }},\n{FLATTEN}\n{DENSE}"),
                Some(2),
                "layer 1 (dropout): `rate` 1 is outside [0, 1)",
            ),
            (
                format!("{FLATTEN}\n{{ kind = \"dense\", units = 7 }},"),
                None,
                "the model ends with 7 values per sample, but the dataset has 10 classes",
            ),
        ];
        for (layers, line, start) in cases {
            let e = check(&layers).expect_err(&layers);
            assert_eq!(e.line, line, "{layers}");
            assert!(e.message.starts_with(start), "{}", e.message);
        }
    }

    #[test]
    fn the_study_model_passes_and_pooling_stride_defaults_to_its_size() {
        let conv = "{ kind = \"conv2d\", filters = 64, kernel = 3, padding = \"same\", \
                    activation = \"relu\" },";
        let pool = "{ kind = \"maxpool2d\", size = 2 },";
        let layers = check(&format!("{conv}\n{pool}\n{FLATTEN}\n{DENSE}")).expect("valid");
        assert_eq!(layers[1], Layer::MaxPool2d { size: 2, stride: 2 });
    }
}
