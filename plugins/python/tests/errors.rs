//! How the plugin reports what goes wrong, and what the session looks like from Python.
//! Uses .venv/jax only for numpy (the fixtures import no framework).

mod common;

use abi_stable::sabi_trait::TD_Opaque;
use abi_stable::sabi_types::RRef;
use abi_stable::std_types::RResult;
use plugin_api::{ErrorKind, PluginError, ProgressSink_TO};

use common::{fixture, venv_or_skip, Fixture, Recorder};

/// A tiny MNIST session with these options.
fn fixture_with(options: &[(&str, &str)]) -> Fixture {
    Fixture::mnist(100, 50, 2, options)
}

fn new_trainer_error(fx: &Fixture) -> PluginError {
    let kv = fx.key_values();
    let result = plugin_python::new_trainer(&fx.session("probe", &kv));
    match result {
        Ok(_) => panic!("new_trainer should have failed"),
        Err(e) => e,
    }
}

#[test]
fn a_trainer_that_raises_is_reported_with_its_traceback() {
    let Some(venv) = venv_or_skip("jax") else {
        return;
    };
    let fx = fixture_with(&[
        ("trainer", &fixture("raising_trainer.py")),
        ("venv", &venv.to_string_lossy()),
    ]);
    let kv = fx.key_values();
    let mut trainer = plugin_python::new_trainer(&fx.session("raiser", &kv)).expect("builds");
    let recorder = Recorder::default();
    let progress = ProgressSink_TO::from_ptr(RRef::new(&recorder), TD_Opaque);
    let err = match trainer.train_epochs(1, &progress) {
        RResult::ROk(_) => panic!("train_epochs should have failed"),
        RResult::RErr(e) => e,
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
    assert_eq!(*recorder.0.lock().unwrap(), vec![(0, 1, 4), (0, 2, 4)]);
}

#[test]
fn the_session_reaches_python_as_read_only_views_of_the_host_buffers() {
    let Some(venv) = venv_or_skip("jax") else {
        return;
    };
    let fx = fixture_with(&[
        ("trainer", &fixture("probe_trainer.py")),
        ("venv", &venv.to_string_lossy()),
        ("colour", "blue"),
    ]);
    let kv = fx.key_values();
    let trainer = plugin_python::new_trainer(&fx.session("probe", &kv)).expect("builds");
    let info = trainer.run_info();
    let note = |key: &str| {
        info.notes
            .iter()
            .find(|n| n.key.as_str() == key)
            .map(|n| n.value.to_string())
            .unwrap_or_else(|| panic!("no note {key}: {:?}", info.notes))
    };
    assert!(info.framework.as_str().starts_with("probe 1.0"));
    assert_eq!(info.framework_version.as_str(), "1.0");
    // Zero-copy: numpy's data pointers are the host's own buffers.
    assert_eq!(
        note("train_images_ptr"),
        (fx.train_px.as_ptr() as usize).to_string()
    );
    assert_eq!(
        note("train_labels_ptr"),
        (fx.train_lb.as_ptr() as usize).to_string()
    );
    assert_eq!(
        note("test_images_ptr"),
        (fx.test_px.as_ptr() as usize).to_string()
    );
    assert_eq!(note("order_ptr"), (fx.order.as_ptr() as usize).to_string());
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
    assert_eq!(
        note("model"),
        "[{'kind': 'conv2d', 'filters': 64, 'kernel': 3, 'padding': 'same', 'activation': 'relu'}, \
         {'kind': 'maxpool2d', 'size': 2, 'stride': 2}, \
         {'kind': 'conv2d', 'filters': 128, 'kernel': 5, 'padding': 'same', 'activation': 'relu'}, \
         {'kind': 'maxpool2d', 'size': 2, 'stride': 2}, {'kind': 'flatten'}, \
         {'kind': 'dense', 'units': 10, 'activation': 'none'}]"
    );
    assert_eq!(
        note("optimizer"),
        "[('beta1', 0.9), ('beta2', 0.999), ('eps', 1e-08), ('kind', 'adam'), ('lr', 0.001)]"
    );
    assert_eq!(note("plugin"), "probe");
    assert_eq!(note("epochs"), "2");
    assert_eq!(note("batch_size"), "64");
    assert_eq!(note("seed"), common::SEED.to_string());
    assert_eq!(note("threads"), "1");
    assert_eq!(note("device"), "cpu");
    assert_eq!(note("initial_weights"), "None");
    assert!(note("options").contains("('colour', 'blue')"));
    assert!(
        note("python").contains(plugin_python::PYTHON_LIBDIR),
        "{}",
        note("python")
    );
}

#[test]
fn not_implemented_error_means_unsupported() {
    let Some(venv) = venv_or_skip("jax") else {
        return;
    };
    let fx = fixture_with(&[
        ("trainer", &fixture("probe_trainer.py")),
        ("venv", &venv.to_string_lossy()),
        ("refuse", "yes"),
    ]);
    let err = new_trainer_error(&fx);
    assert_eq!(err.kind, ErrorKind::Unsupported, "{err}");
    assert!(
        err.message
            .contains("NotImplementedError: this probe refuses"),
        "{err}"
    );
}

#[test]
fn a_missing_framework_names_the_setup_command() {
    let Some(venv) = venv_or_skip("jax") else {
        return;
    };
    let fx = fixture_with(&[
        ("trainer", &fixture("missing_import.py")),
        ("venv", &venv.to_string_lossy()),
    ]);
    let err = new_trainer_error(&fx);
    assert_eq!(err.kind, ErrorKind::Setup, "{err}");
    assert!(
        err.message.contains("joulebench_no_such_framework"),
        "{err}"
    );
    assert!(err.message.contains("scripts/setup-venvs"), "{err}");
}

#[test]
fn a_missing_venv_names_the_setup_command() {
    let fx = fixture_with(&[
        ("trainer", &fixture("probe_trainer.py")),
        ("venv", "/nonexistent/joulebench/.venv/keras"),
    ]);
    let err = new_trainer_error(&fx);
    assert_eq!(err.kind, ErrorKind::Setup, "{err}");
    assert!(err.message.contains("scripts/setup-venvs"), "{err}");
    assert!(
        err.message.contains("/nonexistent/joulebench/.venv/keras"),
        "{err}"
    );
}

#[test]
fn missing_trainer_option_or_file_is_a_setup_error() {
    let fx = fixture_with(&[]);
    let err = new_trainer_error(&fx);
    assert_eq!(err.kind, ErrorKind::Setup, "{err}");
    assert!(err.message.contains("option `trainer`"), "{err}");

    let fx = fixture_with(&[("trainer", "no/such/trainer.py")]);
    let err = new_trainer_error(&fx);
    assert_eq!(err.kind, ErrorKind::Setup, "{err}");
    assert!(err.message.contains("no/such/trainer.py"), "{err}");
}
