//! The session as the Python trainer sees it (plugins/python/README.md): a
//! `types.SimpleNamespace` of plain values, with the data as read-only numpy views of the
//! host's buffers, and each layer with the shapes plugin-api's walk gave it.

use std::ffi::c_char;

use plugin_api::shapes::{LayerShape, ModelShapes};
use plugin_api::{Layer, OptimizerKind, Session};
use pyo3::exceptions::PyValueError;
use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyTuple};

/// A read-only numpy array over `data` without copying it: a read-only `memoryview` of the
/// memory, wrapped by `numpy.frombuffer` (which keeps the view's read-only flag).
///
/// The array borrows the host's buffer: the session outlives the trainer, and the worker
/// process ends after the run, so nothing reads the memory after the host frees it.
fn view<'py, T>(
    py: Python<'py>,
    np: &Bound<'py, PyModule>,
    data: &[T],
    dtype: &str,
    shape: Vec<usize>,
) -> PyResult<Bound<'py, PyAny>> {
    let bytes = std::mem::size_of_val(data);
    // SAFETY: the pointer and length describe `data`, which stays valid for the trainer's
    // life (see above); PyBUF_READ makes the view, and so the array, read-only.
    let memory = unsafe {
        Bound::from_owned_ptr_or_err(
            py,
            ffi::PyMemoryView_FromMemory(
                data.as_ptr() as *mut c_char,
                bytes as ffi::Py_ssize_t,
                ffi::PyBUF_READ,
            ),
        )?
    };
    np.call_method1("frombuffer", (memory, dtype))?
        .call_method1("reshape", (shape,))
}

/// `0.1f32` as `0.1`, not `0.10000000149011612`: the shortest decimal that round-trips.
fn f32_to_f64(x: f32) -> f64 {
    x.to_string().parse().unwrap_or(x as f64)
}

/// One layer as a dict: what the manifest wrote, plus its walked shapes: `input_shape` and
/// `output_shape` per sample (`(c, h, w)` or `(n,)`), and for conv2d and dense layers
/// `weight_shape` and `bias_shape` in the layouts of `Session::initial_weights` (PyTorch's).
fn layer<'py>(py: Python<'py>, walked: &LayerShape) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("kind", walked.layer.kind())?;
    match walked.layer {
        Layer::Conv2d {
            filters,
            kernel,
            padding,
            activation,
        } => {
            d.set_item("filters", filters)?;
            d.set_item("kernel", kernel)?;
            d.set_item("padding", padding.as_str())?;
            d.set_item("activation", activation.as_str())?;
        }
        Layer::MaxPool2d { size, stride } => {
            d.set_item("size", size)?;
            d.set_item("stride", stride)?;
        }
        Layer::Flatten => {}
        Layer::Dropout { rate } => d.set_item("rate", f32_to_f64(rate))?,
        Layer::Dense { units, activation } => {
            d.set_item("units", units)?;
            d.set_item("activation", activation.as_str())?;
        }
    }
    let tuple = |dims: &[usize]| PyTuple::new(py, dims);
    d.set_item("input_shape", tuple(&walked.input.dims())?)?;
    d.set_item("output_shape", tuple(&walked.output.dims())?)?;
    if let Some(params) = &walked.params {
        d.set_item("weight_shape", tuple(&params.weight)?)?;
        d.set_item("bias_shape", tuple(&[params.bias])?)?;
    }
    Ok(d)
}

/// Images as `(count, height, width)` for one channel (MNIST), else
/// `(count, channels, height, width)`; labels as `(count,)`.
fn images<'py>(
    py: Python<'py>,
    np: &Bound<'py, PyModule>,
    set: &plugin_api::Images<'_>,
    name: &str,
) -> PyResult<(Bound<'py, PyAny>, Bound<'py, PyAny>)> {
    let count = set.count as usize;
    let (c, h, w) = (
        set.channels as usize,
        set.height as usize,
        set.width as usize,
    );
    if set.pixels.len() != count * set.image_len() || set.labels.len() != count {
        return Err(PyValueError::new_err(format!(
            "{name}: {} pixels and {} labels for {count} images of {c}x{h}x{w}",
            set.pixels.len(),
            set.labels.len()
        )));
    }
    let shape = if c == 1 {
        vec![count, h, w]
    } else {
        vec![count, c, h, w]
    };
    let pixels = view(py, np, set.pixels.as_slice(), "float32", shape)?;
    let labels = view(py, np, set.labels.as_slice(), "uint8", vec![count])?;
    Ok((pixels, labels))
}

/// The whole session as a `types.SimpleNamespace`; `model` is the session's model walked
/// ([`Session::model_shapes`]).
pub fn session_to_python<'py>(
    py: Python<'py>,
    session: &Session<'_>,
    model: &ModelShapes,
) -> PyResult<Bound<'py, PyAny>> {
    let np = py.import("numpy")?;
    let kw = PyDict::new(py);
    kw.set_item("plugin", session.plugin_name.as_str())?;

    let layers = model
        .layers
        .iter()
        .map(|l| layer(py, l))
        .collect::<PyResult<Vec<_>>>()?;
    kw.set_item("model", layers)?;

    kw.set_item("optimizer", optimizer(py, session)?)?;

    kw.set_item("epochs", session.epochs)?;
    kw.set_item("batch_size", session.batch_size)?;
    kw.set_item("seed", session.seed)?;
    // NumPy's, Keras', PyTorch's and JAX's seeding take 32 bits: both halves folded, once here.
    kw.set_item("seed32", (session.seed ^ (session.seed >> 32)) as u32)?;
    kw.set_item("threads", session.threads)?;
    kw.set_item("device", session.device.as_str())?;
    kw.set_item("classes", session.data.classes)?;

    let (train_images, train_labels) = images(py, &np, &session.data.train, "train")?;
    let (test_images, test_labels) = images(py, &np, &session.data.test, "test")?;
    kw.set_item("train_images", train_images)?;
    kw.set_item("train_labels", train_labels)?;
    kw.set_item("test_images", test_images)?;
    kw.set_item("test_labels", test_labels)?;

    let n = session.data.train.count as usize;
    let order = session.order.as_slice();
    if n == 0 || !order.len().is_multiple_of(n) {
        return Err(PyValueError::new_err(format!(
            "the sample order holds {} indices, not a multiple of {n} training images",
            order.len()
        )));
    }
    kw.set_item(
        "order",
        view(py, &np, order, "uint32", vec![order.len() / n, n])?,
    )?;

    kw.set_item("initial_weights", initial_weights(py, &np, session)?)?;

    let options = PyDict::new(py);
    for kv in session.options.as_slice() {
        options.set_item(kv.key.as_str(), kv.value.as_str())?;
    }
    kw.set_item("options", options)?;

    py.import("types")?
        .getattr("SimpleNamespace")?
        .call((), Some(&kw))
}

/// `{"kind": "adam", "lr", "beta1", "beta2", "eps"}`.
fn optimizer<'py>(py: Python<'py>, session: &Session<'_>) -> PyResult<Bound<'py, PyDict>> {
    let o = session.optimizer;
    let opt = PyDict::new(py);
    opt.set_item(
        "kind",
        match o.kind {
            OptimizerKind::Adam => "adam",
        },
    )?;
    opt.set_item("lr", o.learning_rate)?;
    opt.set_item("beta1", o.beta1)?;
    opt.set_item("beta2", o.beta2)?;
    opt.set_item("eps", o.epsilon)?;
    Ok(opt)
}

/// `None`, or `{name: read-only float32 array}` over the host's buffers.
fn initial_weights<'py>(
    py: Python<'py>,
    np: &Bound<'py, PyModule>,
    session: &Session<'_>,
) -> PyResult<Bound<'py, PyAny>> {
    let Some(tensors) = session.initial_weights.into_option() else {
        return Ok(py.None().into_bound(py));
    };
    let weights = PyDict::new(py);
    for t in tensors.as_slice() {
        let shape: Vec<usize> = t.shape.as_slice().iter().map(|&d| d as usize).collect();
        weights.set_item(
            t.name.as_str(),
            view(py, np, t.values.as_slice(), "float32", shape)?,
        )?;
    }
    Ok(weights.into_any())
}
