//! How the plugin reports what goes wrong, and what the session looks like from Python.
//! Uses .venv/jax only for numpy (the fixtures import no framework).

mod common;

use plugin_api::testing::{expect_refusal, Recorder, SessionBuilder};
use plugin_api::{Activation, ErrorKind, Layer, Padding, PluginError};
use pyo3::prelude::*;
use pyo3::types::PyDict;

use common::{fixture, venv_or_skip};

/// A tiny MNIST session of the study's model.
fn tiny<'a>() -> SessionBuilder<'a> {
    common::mnist(100, 50, 2)
}

fn new_trainer_error(builder: &SessionBuilder<'_>) -> PluginError {
    expect_refusal(plugin_python::new_trainer(&builder.session()))
}

/// `body` gets `session` (else [`tiny`]) set to run fixture trainer `name` in .venv/jax with
/// `extra` options, as plugin `probe`; `None` when the venv is missing (outside CI).
fn with_fixture<R>(
    name: &str,
    session: Option<SessionBuilder<'_>>,
    extra: &[(&str, &str)],
    body: impl FnOnce(SessionBuilder<'_>) -> R,
) -> Option<R> {
    let venv = venv_or_skip("jax")?;
    let (trainer, venv) = (fixture(name), venv.to_string_lossy().into_owned());
    let mut builder = session
        .unwrap_or_else(tiny)
        .plugin_name("probe")
        .option("trainer", &trainer)
        .option("venv", &venv);
    for (key, value) in extra {
        builder = builder.option(key, value);
    }
    Some(body(builder))
}

#[test]
fn a_trainer_that_raises_is_reported_with_its_traceback() {
    let Some((err, calls)) = with_fixture("raising_trainer.py", None, &[], |builder| {
        let mut trainer = plugin_python::new_trainer(&builder.session()).expect("builds");
        let recorder = Recorder::default();
        let err = trainer
            .train_epochs(1, &recorder.progress())
            .expect_err("train_epochs should have failed");
        (err, recorder.calls())
    }) else {
        return;
    };
    let msg = err.message.as_str();
    eprintln!("{msg}");
    assert_eq!(err.kind, ErrorKind::Failed);
    assert!(
        msg.contains("ValueError: deliberate failure in batch 3"),
        "{msg}"
    );
    assert!(msg.contains("Python traceback"), "{msg}");
    assert!(msg.contains("raising_trainer.py"), "{msg}");
    assert!(msg.contains("in _step"), "{msg}");
    // The two batches before the failure were reported.
    assert_eq!(calls, vec![(0, 1, 4), (0, 2, 4)]);
}

/// The notes of the probe trainer (which reports what the session looks like from Python)
/// built over `builder`, and its framework; `None` without .venv/jax (outside CI).
fn probe_notes(builder: SessionBuilder<'_>) -> Option<(Vec<(String, String)>, String)> {
    with_fixture("probe_trainer.py", Some(builder), &[], |builder| {
        let trainer = plugin_python::new_trainer(&builder.session()).expect("builds");
        let info = trainer.run_info();
        let notes = info
            .notes
            .iter()
            .map(|n| (n.key.to_string(), n.value.to_string()))
            .collect();
        (notes, info.framework.to_string())
    })
}

#[test]
fn the_session_reaches_python_as_read_only_views_of_the_host_buffers() {
    let builder = tiny().option("colour", "blue");
    let (train_px, train_lb) = (
        builder.train().pixels.as_ptr(),
        builder.train().labels.as_ptr(),
    );
    let (test_px, order) = (builder.test().pixels.as_ptr(), builder.order().as_ptr());
    let Some((notes, framework)) = probe_notes(builder) else {
        return;
    };
    let note = |key: &str| {
        notes
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.clone())
            .unwrap_or_else(|| panic!("no note {key}: {notes:?}"))
    };
    assert!(framework.starts_with("probe 1.0"), "{framework}");
    // Zero-copy: numpy's data pointers are the host's own buffers.
    assert_eq!(note("train_images_ptr"), (train_px as usize).to_string());
    assert_eq!(note("train_labels_ptr"), (train_lb as usize).to_string());
    assert_eq!(note("test_images_ptr"), (test_px as usize).to_string());
    assert_eq!(note("order_ptr"), (order as usize).to_string());
    for name in [
        "train_images",
        "train_labels",
        "test_images",
        "test_labels",
        "order",
    ] {
        assert_eq!(note(&format!("{name}_writeable")), "False", "{name}");
    }
    assert_eq!(note("train_images_shape"), "100x28x28");
    assert_eq!(note("train_images_dtype"), "float32");
    assert_eq!(note("train_labels_dtype"), "uint8");
    assert_eq!(note("test_images_shape"), "50x28x28");
    assert_eq!(note("order_shape"), "2x100");
    assert_eq!(note("order_dtype"), "uint32");
    // Each layer as the manifest wrote it, with the shapes plugin-api's walk gave it.
    assert_eq!(
        note("model"),
        "[{'kind': 'conv2d', 'filters': 64, 'kernel': 3, 'padding': 'same', 'activation': 'relu', \
         'input_shape': (1, 28, 28), 'output_shape': (64, 28, 28), 'weight_shape': (64, 1, 3, 3), \
         'bias_shape': (64,)}, \
         {'kind': 'maxpool2d', 'size': 2, 'stride': 2, 'input_shape': (64, 28, 28), \
         'output_shape': (64, 14, 14)}, \
         {'kind': 'conv2d', 'filters': 128, 'kernel': 5, 'padding': 'same', 'activation': 'relu', \
         'input_shape': (64, 14, 14), 'output_shape': (128, 14, 14), \
         'weight_shape': (128, 64, 5, 5), 'bias_shape': (128,)}, \
         {'kind': 'maxpool2d', 'size': 2, 'stride': 2, 'input_shape': (128, 14, 14), \
         'output_shape': (128, 7, 7)}, \
         {'kind': 'flatten', 'input_shape': (128, 7, 7), 'output_shape': (6272,)}, \
         {'kind': 'dense', 'units': 10, 'activation': 'none', 'input_shape': (6272,), \
         'output_shape': (10,), 'weight_shape': (10, 6272), 'bias_shape': (10,)}]"
    );
    assert_eq!(
        note("optimizer"),
        "[('beta1', 0.9), ('beta2', 0.999), ('eps', 1e-08), ('kind', 'adam'), ('lr', 0.001)]"
    );
    assert_eq!(note("plugin"), "probe");
    assert_eq!(note("epochs"), "2");
    assert_eq!(note("batch_size"), "64");
    assert_eq!(note("seed"), common::SEED.to_string());
    // 0xdeadbeef ^ 0xcafef00d: the halves folded, as the trainers seed their frameworks.
    assert_eq!(note("seed32"), 0x1453_4ee2u32.to_string());
    assert_eq!(note("threads"), "1");
    assert_eq!(note("device"), "cpu");
    assert_eq!(note("classes"), "10");
    assert_eq!(note("initial_weights"), "None");
    assert!(note("options").contains("('colour', 'blue')"));
    assert!(
        note("python").contains(plugin_python::PYTHON_LIBDIR),
        "{}",
        note("python")
    );
}

#[test]
fn the_dev_tools_walk_layers_as_the_plugin_does() {
    let conv = |filters, kernel, padding| Layer::Conv2d {
        filters,
        kernel,
        padding,
        activation: Activation::Relu,
    };
    // Odd and even kernels, `same` and `valid`, pooling that does not divide, dropout.
    let models = [
        plugin_api::testing::study_model(),
        vec![
            conv(3, 4, Padding::Valid),
            Layer::MaxPool2d { size: 3, stride: 2 },
            conv(5, 2, Padding::Same),
            Layer::Dropout { rate: 0.25 },
            Layer::Flatten,
            Layer::Dense {
                units: 16,
                activation: Activation::Relu,
            },
            Layer::Dense {
                units: 10,
                activation: Activation::None,
            },
        ],
    ];
    let runner = common::repo_root().join("plugins/python/dev/layer_shapes.py");
    for model in models {
        let Some((notes, _)) = probe_notes(tiny().model(&model)) else {
            return;
        };
        let plugin_model = notes
            .iter()
            .find(|(k, _)| k == "model")
            .map(|(_, v)| v.clone())
            .expect("a model note");
        // The dev tools' walk (layer_shapes.py) of the same layers, without the plugin's
        // shapes, in the plugin's own (already initialised) interpreter.
        let agree = Python::attach(|py| -> PyResult<bool> {
            let vars = PyDict::new(py);
            vars.set_item("path", runner.to_string_lossy().into_owned())?;
            vars.set_item("plugin_model", &plugin_model)?;
            py.run(
                c"import ast, importlib.util
spec = importlib.util.spec_from_file_location('layer_shapes', path)
runner = importlib.util.module_from_spec(spec)
spec.loader.exec_module(runner)
given = ast.literal_eval(plugin_model)
bare = [{k: v for k, v in d.items() if not k.endswith('_shape')} for d in given]
agree = runner.walk(bare, (1, 28, 28)) == given
",
                Some(&vars),
                None,
            )?;
            vars.get_item("agree")?.expect("set").extract()
        })
        .expect("the dev runner's walk runs");
        assert!(agree, "layer_shapes.py's shapes differ from {plugin_model}");
    }
}

#[test]
fn a_model_no_framework_can_run_is_refused_before_python_starts() {
    // No venv needed: the walk refuses it first, naming the layer from 1.
    let model = [
        Layer::Flatten,
        Layer::Conv2d {
            filters: 2,
            kernel: 3,
            padding: Padding::Same,
            activation: Activation::None,
        },
    ];
    let builder = tiny().model(&model).option("trainer", "no/such/trainer.py");
    let err = new_trainer_error(&builder);
    assert_eq!(err.kind, ErrorKind::Unsupported, "{err}");
    assert!(
        err.message.starts_with("layer 2 (conv2d): needs an image"),
        "{err}"
    );
}

#[test]
fn a_trainer_that_declares_its_options_gets_unknown_keys_refused() {
    let refused = |b: SessionBuilder<'_>| new_trainer_error(&b);
    let Some(err) = with_fixture("probe_trainer.py", None, &[("flavour", "mint")], refused) else {
        return;
    };
    assert_eq!(err.kind, ErrorKind::Unsupported, "{err}");
    assert_eq!(
        err.message.as_str(),
        "unknown option `flavour` for the probe plugin (known: trainer, venv, colour, refuse)"
    );
}

#[test]
fn not_implemented_error_means_unsupported() {
    let refused = |b: SessionBuilder<'_>| new_trainer_error(&b);
    let Some(err) = with_fixture("probe_trainer.py", None, &[("refuse", "yes")], refused) else {
        return;
    };
    assert_eq!(err.kind, ErrorKind::Unsupported, "{err}");
    assert!(
        err.message
            .contains("NotImplementedError: this probe refuses"),
        "{err}"
    );
}

#[test]
fn a_missing_framework_names_the_setup_command() {
    let refused = |b: SessionBuilder<'_>| new_trainer_error(&b);
    let Some(err) = with_fixture("missing_import.py", None, &[], refused) else {
        return;
    };
    assert_eq!(err.kind, ErrorKind::Setup, "{err}");
    assert!(
        err.message.contains("joulebench_no_such_framework"),
        "{err}"
    );
    assert!(err.message.contains("scripts/setup-venvs"), "{err}");
}

#[test]
fn a_missing_venv_names_the_setup_command() {
    let trainer = fixture("probe_trainer.py");
    let builder = tiny()
        .option("trainer", &trainer)
        .option("venv", "/nonexistent/joulebench/.venv/keras");
    let err = new_trainer_error(&builder);
    assert_eq!(err.kind, ErrorKind::Setup, "{err}");
    assert!(err.message.contains("scripts/setup-venvs"), "{err}");
    assert!(
        err.message.contains("/nonexistent/joulebench/.venv/keras"),
        "{err}"
    );
}

#[test]
fn missing_trainer_option_or_file_is_a_setup_error() {
    let err = new_trainer_error(&tiny());
    assert_eq!(err.kind, ErrorKind::Setup, "{err}");
    assert!(err.message.contains("option `trainer`"), "{err}");

    let err = new_trainer_error(&tiny().option("trainer", "no/such/trainer.py"));
    assert_eq!(err.kind, ErrorKind::Setup, "{err}");
    assert!(err.message.contains("no/such/trainer.py"), "{err}");
}
