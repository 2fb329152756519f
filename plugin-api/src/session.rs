//! What the host hands a trainer: the work to do, described so that every plugin does the
//! same work (same model, same hyper-parameters, same data in the same order).

use abi_stable::{
    std_types::{ROption, RSlice, RStr},
    StableAbi,
};

use crate::report::PluginError;
use crate::shapes::{ModelShapes, Shape};

/// Everything a trainer needs. Borrowed from the host for `'a`; a trainer created from a
/// session may keep the slices (they are `Copy`) for as long as it lives.
#[repr(C)]
#[derive(StableAbi, Clone, Copy, Debug)]
pub struct Session<'a> {
    /// The name the manifest gave this plugin entry (`[[plugin]] name`), e.g. `keras`.
    pub plugin_name: RStr<'a>,
    /// The model, input to output. The last `Dense` layer produces logits.
    pub model: RSlice<'a, Layer>,
    pub optimizer: Optimizer,
    /// Epochs the host will ask for in total (it calls `train_epochs(1, ..)` once per epoch).
    pub epochs: u32,
    /// Samples per batch; the last batch of an epoch is smaller when `train.count` is not a
    /// multiple of it, and must be trained on, not dropped.
    pub batch_size: u32,
    pub seed: u64,
    /// Threads the trainer may use for compute (intra-op). 0 never appears: the host resolves
    /// "all" to a number.
    pub threads: u32,
    /// `cpu`, or a device the plugin listed in its `PluginInfo::devices`, e.g. `cuda:0`.
    pub device: RStr<'a>,
    pub data: Dataset<'a>,
    /// The host's sample order: `epochs` consecutive permutations of `0..train.count`.
    /// Epoch `e` (0-based) trains on `order[e*n .. (e+1)*n]`, batch after batch, in that order.
    pub order: RSlice<'a, u32>,
    /// Weights every plugin must start from, when the host supplies them (it does unless the
    /// manifest says `[model] init = "framework"`: [`crate::init`] documents the scheme); else
    /// the plugin initialises from `seed` its framework's own way. Layout: see [`Tensor`].
    pub initial_weights: ROption<RSlice<'a, Tensor<'a>>>,
    /// Free-form key/values from the manifest's `[[plugin]] options`.
    pub options: RSlice<'a, KeyValue<'a>>,
}

impl<'a> Session<'a> {
    /// The value of plugin option `key`, if the manifest set it.
    pub fn option(&self, key: &str) -> Option<&'a str> {
        self.options
            .as_slice()
            .iter()
            .find(|kv| kv.key.as_str() == key)
            .map(|kv| kv.value.as_str())
    }

    /// The sample indices of epoch `epoch` (0-based), or `None` past the last epoch.
    pub fn epoch_order(&self, epoch: u32) -> Option<&'a [u32]> {
        let n = self.data.train.count as usize;
        let start = (epoch as usize).checked_mul(n)?;
        self.order.as_slice().get(start..start.checked_add(n)?)
    }

    /// The model walked from the training images' shape ([`ModelShapes::walk`]), checked to
    /// end in one logit per class: what every plugin builds its layers from. Errors are
    /// [`crate::ErrorKind::Unsupported`] and number layers from 1.
    pub fn model_shapes(&self) -> Result<ModelShapes, PluginError> {
        let train = &self.data.train;
        let input = Shape::image(
            train.channels as usize,
            train.height as usize,
            train.width as usize,
        );
        let model = ModelShapes::walk(input, self.model.as_slice())?;
        model.expect_logits(self.data.classes as usize)?;
        Ok(model)
    }

    /// The data is what it says it is, checked once so a plugin can index it freely: each
    /// set holds `count` images of its size and `count` labels, every label names one of at
    /// least one class, and training and test images have one size.
    pub fn check_data(&self) -> Result<(), PluginError> {
        let data = &self.data;
        if data.classes == 0 {
            return Err(PluginError::failed("the dataset has 0 classes"));
        }
        data.train.check("training", data.classes)?;
        data.test.check("test", data.classes)?;
        let size = |i: &Images<'_>| (i.channels, i.height, i.width);
        if size(&data.train) != size(&data.test) {
            return Err(PluginError::failed(
                "training and test images differ in size",
            ));
        }
        Ok(())
    }
}

/// One layer of the model. Spatial layers work on images laid out as
/// `[batch, channels, height, width]` conceptually; a plugin may use any internal layout as
/// long as the function computed is the same.
#[repr(u8)]
#[derive(StableAbi, Clone, Copy, Debug, PartialEq)]
pub enum Layer {
    /// 2-D convolution, stride 1, square kernel.
    Conv2d {
        filters: u32,
        kernel: u32,
        padding: Padding,
        activation: Activation,
    },
    /// Max pooling with a square window.
    MaxPool2d { size: u32, stride: u32 },
    /// Flattens `[channels, height, width]` into one vector (channel-major order).
    Flatten,
    /// Drops each activation with probability `rate` while training; identity at evaluation.
    Dropout { rate: f32 },
    /// Fully connected layer.
    Dense { units: u32, activation: Activation },
}

impl Layer {
    /// The layer's kind as a manifest writes it: `conv2d`, `maxpool2d`, `flatten`, `dropout`,
    /// `dense`.
    pub fn kind(&self) -> &'static str {
        match self {
            Layer::Conv2d { .. } => "conv2d",
            Layer::MaxPool2d { .. } => "maxpool2d",
            Layer::Flatten => "flatten",
            Layer::Dropout { .. } => "dropout",
            Layer::Dense { .. } => "dense",
        }
    }
}

#[repr(u8)]
#[derive(StableAbi, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Padding {
    /// Output has the input's height and width (Keras `same`).
    Same,
    /// No padding (Keras `valid`).
    Valid,
}

impl Padding {
    /// `same` or `valid`, as a manifest writes it.
    pub fn as_str(&self) -> &'static str {
        match self {
            Padding::Same => "same",
            Padding::Valid => "valid",
        }
    }
}

#[repr(u8)]
#[derive(StableAbi, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Activation {
    /// Identity: the layer's output is used as is (logits for the last layer).
    None,
    Relu,
}

impl Activation {
    /// `none` or `relu`, as a manifest writes it.
    pub fn as_str(&self) -> &'static str {
        match self {
            Activation::None => "none",
            Activation::Relu => "relu",
        }
    }
}

/// The optimizer and its hyper-parameters, spelled out so that no framework default leaks in.
#[repr(C)]
#[derive(StableAbi, Clone, Copy, Debug, PartialEq)]
pub struct Optimizer {
    pub kind: OptimizerKind,
    pub learning_rate: f64,
    pub beta1: f64,
    pub beta2: f64,
    pub epsilon: f64,
}

impl Optimizer {
    /// The optimizer's kind is one this crate knows (a new kind is a compile error in the
    /// plugins that match on it, not a silent Adam) and its hyper-parameters are ones Adam can
    /// use: learning rate > 0, betas in [0, 1), epsilon > 0.
    pub fn check_adam(&self) -> Result<(), PluginError> {
        match self.kind {
            OptimizerKind::Adam => {}
        }
        let lr_ok = self.learning_rate.is_finite() && self.learning_rate > 0.0;
        let betas_ok = (0.0..1.0).contains(&self.beta1) && (0.0..1.0).contains(&self.beta2);
        let eps_ok = self.epsilon.is_finite() && self.epsilon > 0.0;
        if lr_ok && betas_ok && eps_ok {
            return Ok(());
        }
        Err(PluginError::unsupported(format!(
            "Adam needs learning_rate > 0, beta1 and beta2 in [0, 1), epsilon > 0; got lr {}, \
             beta1 {}, beta2 {}, epsilon {}",
            self.learning_rate, self.beta1, self.beta2, self.epsilon
        )))
    }
}

#[repr(u8)]
#[derive(StableAbi, Clone, Copy, Debug, PartialEq, Eq)]
pub enum OptimizerKind {
    /// Adam (Kingma & Ba), without decoupled weight decay (not AdamW).
    Adam,
}

/// The training and test sets, loaded once by the host.
#[repr(C)]
#[derive(StableAbi, Clone, Copy, Debug)]
pub struct Dataset<'a> {
    pub train: Images<'a>,
    pub test: Images<'a>,
    /// Number of classes; labels are `0..classes`.
    pub classes: u32,
}

/// A set of images and their labels.
#[repr(C)]
#[derive(StableAbi, Clone, Copy, Debug)]
pub struct Images<'a> {
    /// `count × channels × height × width` values, already scaled to `[0, 1]` by the host,
    /// image after image, row-major within an image.
    pub pixels: RSlice<'a, f32>,
    /// One label per image.
    pub labels: RSlice<'a, u8>,
    pub count: u32,
    pub channels: u32,
    pub height: u32,
    pub width: u32,
}

impl Images<'_> {
    /// Values per image (`channels × height × width`).
    pub fn image_len(&self) -> usize {
        self.channels as usize * self.height as usize * self.width as usize
    }

    /// Sizes agree and every label is below `classes`; `what` names the set in errors.
    fn check(&self, what: &str, classes: u32) -> Result<(), PluginError> {
        let n = self.count as usize;
        let expected = n.checked_mul(self.image_len());
        if expected != Some(self.pixels.len()) || self.labels.len() != n {
            return Err(PluginError::failed(format!(
                "the {what} set says {n} images of {}×{}×{} but holds {} values and {} labels",
                self.channels,
                self.height,
                self.width,
                self.pixels.len(),
                self.labels.len()
            )));
        }
        if self.image_len() == 0 {
            return Err(PluginError::unsupported(format!(
                "the {what} images are empty ({}×{}×{})",
                self.channels, self.height, self.width
            )));
        }
        if let Some(bad) = self.labels.iter().find(|&&l| u32::from(l) >= classes) {
            return Err(PluginError::failed(format!(
                "the {what} set has label {bad}, but the dataset declares {classes} classes"
            )));
        }
        Ok(())
    }
}

/// A named tensor of initial weights. Names are `<layer index>.weight` and `<layer index>.bias`
/// (index into `Session::model`, from 0). Convolution weights are `[out, in, kh, kw]`, dense
/// weights `[out, in]` (PyTorch's layouts), values row-major; plugins transpose as their
/// framework needs.
///
/// The flatten order is part of this layout: [`Layer::Flatten`] is channel-major, so input
/// `c·h·w + y·w + x` of a dense layer after a flatten of a `[c, h, w]` image is channel `c`,
/// row `y`, column `x`. A framework that flattens channels-last (`[h, w, c]`: Keras, JAX, XLA
/// in NHWC) must permute that dense weight's inputs.
/// [`crate::shapes::ModelShapes`] gives every layer's names and shapes.
#[repr(C)]
#[derive(StableAbi, Clone, Copy, Debug)]
pub struct Tensor<'a> {
    pub name: RStr<'a>,
    pub shape: RSlice<'a, u32>,
    pub values: RSlice<'a, f32>,
}

impl<'a> Tensor<'a> {
    pub fn new(name: &'a str, shape: &'a [u32], values: &'a [f32]) -> Self {
        Tensor {
            name: RStr::from_str(name),
            shape: RSlice::from_slice(shape),
            values: RSlice::from_slice(values),
        }
    }
}

/// One `key = "value"` of a plugin's options.
#[repr(C)]
#[derive(StableAbi, Clone, Copy, Debug)]
pub struct KeyValue<'a> {
    pub key: RStr<'a>,
    pub value: RStr<'a>,
}

impl<'a> KeyValue<'a> {
    pub fn new(key: &'a str, value: &'a str) -> Self {
        KeyValue {
            key: RStr::from_str(key),
            value: RStr::from_str(value),
        }
    }
}
