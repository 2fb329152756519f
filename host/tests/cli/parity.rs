//! `host parity` through the real binary, on spin (softmax regression, which has parity
//! steps when the layer list is flatten + dense): two identical entries agree; one told to use
//! another Adam ε fails, naming the tensor whose gradient probe differs; a model spin does not
//! train is reported as such.

use crate::support::{host, plugin, temp_dir, text};

/// A manifest training softmax regression with the given `[[plugin]]` tables.
fn softmax_manifest(plugins: &str) -> String {
    format!(
        r#"[experiment]
name = "parity"
seed = 7

[dataset]
train_subset = 300
test_subset = 100

[model]
layers = [{{ kind = "flatten" }}, {{ kind = "dense", units = 10 }}]

[training]
epochs = 1
batch_size = 32
threads = 1

{plugins}
"#
    )
}

fn spin_entry(name: &str, options: &str) -> String {
    format!(
        "[[plugin]]\nname = \"{name}\"\npath = \"{}\"\noptions = {{ {options} }}\n",
        plugin("spin").display()
    )
}

#[test]
fn the_same_plugin_twice_agrees() {
    let dir = temp_dir("parity-same");
    let plugins = spin_entry("a", "") + &spin_entry("b", "");
    let m = dir.write("m.toml", &softmax_manifest(&plugins));
    let out = host(dir.path(), &["parity", m.to_str().unwrap(), "--steps", "2"]);
    let t = text(&out);
    assert!(out.status.success(), "{t}");
    assert!(t.contains("against a"), "{t}");
    let row = t
        .lines()
        .find(|l| l.starts_with("b "))
        .unwrap_or_else(|| panic!("{t}"));
    assert!(row.ends_with("pass"), "{row}");
    assert!(t.contains("every plugin with parity steps agrees"), "{t}");
}

#[test]
fn a_different_adam_epsilon_fails_naming_the_tensor() {
    let dir = temp_dir("parity-eps");
    let plugins = spin_entry("a", "") + &spin_entry("b", "adam_epsilon = \"0.1\"");
    let m = dir.write("m.toml", &softmax_manifest(&plugins));
    let out = host(dir.path(), &["parity", m.to_str().unwrap()]);
    let t = text(&out);
    assert_eq!(out.status.code(), Some(1), "{t}");
    // Step 1's loss is computed before any update; the gradient probe's Adam step (lr = ε =
    // 1e6, which b replaces by its own ε) is the first thing to differ.
    assert!(
        t.contains(
            "error: parity: b disagrees with a: the gradient of `1.weight` on the first batch \
             differs"
        ),
        "{t}"
    );
    let row = t
        .lines()
        .find(|l| l.starts_with("b "))
        .unwrap_or_else(|| panic!("{t}"));
    assert!(row.ends_with("FAIL"), "{row}");
    // The steps with the manifest's ε tell them apart too (from step 2 on).
    let loss: f64 = row
        .split_whitespace()
        .nth(1)
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("{row}"));
    assert!(loss > 1e-4, "{row}");
}

#[test]
fn a_plugin_without_parity_steps_is_named_and_nothing_is_compared() {
    let dir = temp_dir("parity-none");
    let plugins = spin_entry("a", "");
    let text_ = crate::support::manifest(&plugins);
    let m = dir.write("m.toml", &text_);
    let out = host(dir.path(), &["parity", m.to_str().unwrap()]);
    let t = text(&out);
    assert_eq!(out.status.code(), Some(1), "{t}");
    let note = format!(
        "plugin a does not support parity (built against interface {})",
        plugin_api::INTERFACE_VERSION
    );
    assert!(t.contains(&note), "{t}");
    assert!(
        t.contains("no plugin of the manifest has parity steps"),
        "{t}"
    );
}

#[test]
fn a_dry_run_shows_the_parity_table() {
    let dir = temp_dir("parity-dry");
    let plugins = spin_entry("a", "") + &spin_entry("b", "");
    let m = dir.write("m.toml", &softmax_manifest(&plugins));
    let out = host(dir.path(), &["run", m.to_str().unwrap(), "--dry-run"]);
    let t = text(&out);
    assert!(out.status.success(), "{t}");
    assert!(
        t.contains("parity over 3 step(s) and the gradient probe, against a"),
        "{t}"
    );
    assert!(t.contains("plan (seed 7)"), "{t}");
}

#[test]
fn the_parity_preflight_refuses_to_start_a_disagreeing_campaign() {
    let dir = temp_dir("parity-preflight");
    let plugins = spin_entry("a", "") + &spin_entry("b", "adam_epsilon = \"0.1\"");
    let text_ = softmax_manifest(&plugins).replace("seed = 7", "seed = 7\nparity = true");
    let m = dir.write("m.toml", &text_);
    let results = dir.path().join("results");
    let out = host(
        dir.path(),
        &[
            "run",
            m.to_str().unwrap(),
            "--out",
            results.to_str().unwrap(),
        ],
    );
    let t = text(&out);
    assert_eq!(out.status.code(), Some(1), "{t}");
    assert!(
        t.contains("b disagrees with a: the gradient of `1.weight`"),
        "{t}"
    );
    assert!(t.contains("the campaign does not start"), "{t}");
    assert!(!results.exists(), "no campaign folder: {t}");
}

/// The python plugin, built for this test's profile (as the test plugins are).
fn python_plugin() -> std::path::PathBuf {
    let dir = crate::support::plugins_dir();
    let mut cmd = std::process::Command::new(env!("CARGO"));
    cmd.current_dir(crate::support::root())
        .args(["build", "-p", "plugin-python"]);
    if dir.ends_with("release") {
        cmd.arg("--release");
    }
    assert!(
        cmd.status().expect("cargo runs").success(),
        "building plugin-python failed"
    );
    dir.join("libplugin_python.so")
}

/// Keras, PyTorch and JAX from the host's weights: a small convnet with both kinks the
/// comparison must tolerate (ReLU, max-pool) passes, through the gradient probe too (which a
/// trainer that clamped the session's learning rate or ε would fail).
#[test]
fn keras_torch_and_jax_agree_from_host_weights() {
    let root = crate::support::root();
    let venvs: Vec<_> = ["keras", "torch", "jax"]
        .iter()
        .map(|name| (name, root.join(".venv").join(name)))
        .collect();
    if let Some((_, missing)) = venvs.iter().find(|(_, v)| !v.join("bin/python").is_file()) {
        assert!(std::env::var_os("CI").is_none(), "no {}", missing.display());
        eprintln!("skipped: no {} (scripts/setup-venvs)", missing.display());
        return;
    }
    let library = python_plugin();
    let entries: String = venvs
        .iter()
        .map(|(name, venv)| {
            let trainer = root.join(format!("plugins/python/trainers/{name}_cnn.py"));
            format!(
                "[[plugin]]\nname = \"{name}\"\npath = \"{}\"\noptions = {{ trainer = \"{}\", \
                 venv = \"{}\" }}\n",
                library.display(),
                trainer.display(),
                venv.display()
            )
        })
        .collect();
    let manifest = softmax_manifest(&entries).replace(
        r#"layers = [{ kind = "flatten" }, { kind = "dense", units = 10 }]"#,
        r#"layers = [
  { kind = "conv2d", filters = 8, kernel = 3, padding = "same", activation = "relu" },
  { kind = "maxpool2d", size = 2, stride = 2 },
  { kind = "conv2d", filters = 8, kernel = 5, padding = "same", activation = "relu" },
  { kind = "maxpool2d", size = 2, stride = 2 },
  { kind = "flatten" },
  { kind = "dense", units = 10 },
]"#,
    );
    let dir = temp_dir("parity-frameworks");
    let m = dir.write("m.toml", &manifest);
    let out = host(dir.path(), &["parity", m.to_str().unwrap(), "--tensors"]);
    let t = text(&out);
    assert!(out.status.success(), "{t}");
    for name in ["torch", "jax"] {
        let row = t
            .lines()
            .find(|l| l.starts_with(&format!("{name} ")) && l.ends_with("pass"))
            .unwrap_or_else(|| panic!("no passing row for {name}: {t}"));
        eprintln!("{row}");
    }
    // Every tensor of every compared plugin is listed, gradient and movement.
    assert_eq!(
        t.lines().filter(|l| l.contains(" 2.weight ")).count(),
        2,
        "{t}"
    );
}
