//! Shared by the integration tests: MNIST subsets, sessions, progress recording.
//!
//! Each framework's test lives in its own file, hence its own process: one embedded
//! interpreter serves one venv, and TensorFlow, PyTorch and XLA fix their thread pools once
//! per process.

#![allow(dead_code)] // each test binary uses a different part of this module

use std::path::{Path, PathBuf};

use plugin_api::testing::{mnist_dir, study_model, SessionBuilder};

/// The repository root (this crate is `plugins/python`).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// `.venv/<name>` at the repo root, or `None` (after saying why) when it is missing outside
/// CI; under CI (`CI` set) a missing venv fails the test: .ci/run must create them.
pub fn venv_or_skip(name: &str) -> Option<PathBuf> {
    let venv = repo_root().join(".venv").join(name);
    if venv.join("pyvenv.cfg").is_file() {
        return Some(venv);
    }
    let msg = format!(
        "{} is missing: run scripts/setup-venvs {name}",
        venv.display()
    );
    if std::env::var_os("CI").is_some() {
        panic!("{msg}");
    }
    eprintln!("skipped: {msg}");
    None
}

pub fn trainer_file(name: &str) -> String {
    repo_root()
        .join("plugins/python/trainers")
        .join(name)
        .to_string_lossy()
        .into_owned()
}

pub fn fixture(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
        .to_string_lossy()
        .into_owned()
}

/// The session seed: a full 64-bit one, as the host derives them (frameworks that take 32
/// bits must fold it).
pub const SEED: u64 = 0xdead_beef_cafe_f00d;

/// The study's model (manifests/mnist.toml) on the first `train` and `test` MNIST images
/// (from `$MNIST_DIR`), `epochs` epochs in batches of 64, as the host would lend them.
pub fn mnist<'a>(train: usize, test: usize, epochs: u32) -> SessionBuilder<'a> {
    let dir = mnist_dir();
    SessionBuilder::mnist(&dir, train, test)
        .unwrap_or_else(|e| panic!("{e} (set MNIST_DIR)"))
        .model(&study_model())
        .epochs(epochs)
        .batch_size(64)
        .seed(SEED)
}

/// Trains the study's model on an MNIST subset for two epochs with one thread, through the
/// plugin's own entry point, and checks what a user would: the loss falls, accuracy is well
/// above chance, progress covers every batch, and the thread setting took effect.
pub fn learns(plugin: &str, trainer: &str, framework_prefix: &str, thread_note: &str) {
    let Some(venv) = venv_or_skip(plugin) else {
        return;
    };
    let (train, test, epochs) = (1500, 1000, 2);
    let (trainer_path, venv) = (trainer_file(trainer), venv.to_string_lossy().into_owned());
    let builder = mnist(train, test, epochs)
        .plugin_name(plugin)
        .option("trainer", &trainer_path)
        .option("venv", &venv);
    let mut trainer = match plugin_python::new_trainer(&builder.session()) {
        Ok(t) => t,
        Err(e) => panic!("new_trainer: {e}"),
    };

    let info = trainer.run_info();
    eprintln!(
        "{} | threads {} | {:?}",
        info.framework, info.threads, info.notes
    );
    assert!(
        info.framework.as_str().starts_with(framework_prefix),
        "framework {}",
        info.framework
    );
    assert_eq!(info.threads, 1, "threads in effect");
    let note = |key: &str| {
        info.notes
            .iter()
            .find(|n| n.key.as_str() == key)
            .map(|n| n.value.to_string())
    };
    assert_eq!(
        note(thread_note).as_deref(),
        Some("1"),
        "note {thread_note}"
    );
    let python = note("python").unwrap_or_default();
    assert!(
        python.contains(plugin_python::PYTHON_LIBDIR),
        "libpython should come from {}: {python}",
        plugin_python::PYTHON_LIBDIR
    );

    // Every epoch trains every sample once with one loss and a progress call per batch (the
    // partial last one included), evaluation covers the test set, a third epoch is an error.
    let run = builder.run(&mut trainer);
    let (losses, eval) = (run.losses, run.eval);
    eprintln!(
        "losses {losses:?}, accuracy {}, test loss {}",
        eval.accuracy, eval.loss
    );
    assert_eq!(run.progress.len(), 2 * train.div_ceil(64));
    assert!(losses[1] < losses[0], "loss should fall: {losses:?}");
    assert!(
        losses[0] < 2.3,
        "first epoch should learn something: {losses:?}"
    );
    assert!(
        eval.accuracy > 0.6,
        "accuracy {} (chance: 0.1)",
        eval.accuracy
    );
    assert!(
        eval.loss.is_finite() && eval.loss < 1.5,
        "test loss {}",
        eval.loss
    );
}

/// Builds the trainer from the host's Glorot-uniform weights on a model with two
/// convolutions and a flatten of 4 channels, and checks its logits (no step) and its first
/// batch's loss against plugin-api's naive f64 reference: so the layouts, the flatten
/// permutation and the forward pass agree with the contract, within f32 rounding.
pub fn agrees_with_the_reference(plugin: &str, trainer: &str) {
    use plugin_api::testing::{parity_model, reference};

    let Some(venv) = venv_or_skip(plugin) else {
        return;
    };
    let (trainer_path, venv) = (trainer_file(trainer), venv.to_string_lossy().into_owned());
    let base = mnist(200, 100, 1)
        .model(&parity_model())
        .plugin_name(plugin)
        .option("trainer", &trainer_path)
        .option("venv", &venv);
    let agreement = reference::with_host_weights(base, 17, |b| {
        reference::agreement(b, plugin_python::new_trainer)
    });
    eprintln!("{plugin}: {agreement:?}");
    assert!(agreement.logits < 1e-4, "logits differ: {agreement:?}");
    assert!(
        agreement.loss < 1e-4,
        "first-batch loss differs: {agreement:?}"
    );
}
