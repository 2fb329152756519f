//! The session as the Python trainer sees it (plugins/python/README.md): a
//! `types.SimpleNamespace` of plain values, with the data as read-only numpy views of the
//! host's buffers.

use std::ffi::c_char;

use plugin_api::{Activation, Layer, OptimizerKind, Padding, Session};
use pyo3::exceptions::PyValueError;
use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::types::PyDict;

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

fn activation(a: Activation) -> &'static str {
    match a {
        Activation::None => "none",
        Activation::Relu => "relu",
    }
}

fn padding(p: Padding) -> &'static str {
    match p {
        Padding::Same => "same",
        Padding::Valid => "valid",
    }
}

/// `0.1f32` as `0.1`, not `0.10000000149011612`: the shortest decimal that round-trips.
fn f32_to_f64(x: f32) -> f64 {
    x.to_string().parse().unwrap_or(x as f64)
}

fn layer<'py>(py: Python<'py>, layer: &Layer) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    match *layer {
        Layer::Conv2d {
            filters,
            kernel,
            padding: p,
            activation: a,
        } => {
            d.set_item("kind", "conv2d")?;
            d.set_item("filters", filters)?;
            d.set_item("kernel", kernel)?;
            d.set_item("padding", padding(p))?;
            d.set_item("activation", activation(a))?;
        }
        Layer::MaxPool2d { size, stride } => {
            d.set_item("kind", "maxpool2d")?;
            d.set_item("size", size)?;
            d.set_item("stride", stride)?;
        }
        Layer::Flatten => d.set_item("kind", "flatten")?,
        Layer::Dropout { rate } => {
            d.set_item("kind", "dropout")?;
            d.set_item("rate", f32_to_f64(rate))?;
        }
        Layer::Dense {
            units,
            activation: a,
        } => {
            d.set_item("kind", "dense")?;
            d.set_item("units", units)?;
            d.set_item("activation", activation(a))?;
        }
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

/// The whole session as a `types.SimpleNamespace`.
pub fn session_to_python<'py>(
    py: Python<'py>,
    session: &Session<'_>,
) -> PyResult<Bound<'py, PyAny>> {
    let np = py.import("numpy")?;
    let kw = PyDict::new(py);
    kw.set_item("plugin", session.plugin_name.as_str())?;

    let layers = session
        .model
        .as_slice()
        .iter()
        .map(|l| layer(py, l))
        .collect::<PyResult<Vec<_>>>()?;
    kw.set_item("model", layers)?;

    let opt = PyDict::new(py);
    opt.set_item(
        "kind",
        match session.optimizer.kind {
            OptimizerKind::Adam => "adam",
        },
    )?;
    opt.set_item("lr", session.optimizer.learning_rate)?;
    opt.set_item("beta1", session.optimizer.beta1)?;
    opt.set_item("beta2", session.optimizer.beta2)?;
    opt.set_item("eps", session.optimizer.epsilon)?;
    kw.set_item("optimizer", opt)?;

    kw.set_item("epochs", session.epochs)?;
    kw.set_item("batch_size", session.batch_size)?;
    kw.set_item("seed", session.seed)?;
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

    match session.initial_weights.as_ref().into_option() {
        None => kw.set_item("initial_weights", py.None())?,
        Some(tensors) => {
            let weights = PyDict::new(py);
            for t in tensors.as_slice() {
                let shape: Vec<usize> = t.shape.as_slice().iter().map(|&d| d as usize).collect();
                weights.set_item(
                    t.name.as_str(),
                    view(py, &np, t.values.as_slice(), "float32", shape)?,
                )?;
            }
            kw.set_item("initial_weights", weights)?;
        }
    }

    let options = PyDict::new(py);
    for kv in session.options.as_slice() {
        options.set_item(kv.key.as_str(), kv.value.as_str())?;
    }
    kw.set_item("options", options)?;

    py.import("types")?
        .getattr("SimpleNamespace")?
        .call((), Some(&kw))
}
