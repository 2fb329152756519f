//! `host parity` through the real binary, on spin (softmax regression, which has parity
//! steps when the layer list is flatten + dense): two identical entries agree; one told to use
//! another Adam ε fails, naming the step; a model spin does not train is reported as such.

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
fn a_different_adam_epsilon_fails_naming_the_step() {
    let dir = temp_dir("parity-eps");
    let plugins = spin_entry("a", "") + &spin_entry("b", "adam_epsilon = \"0.1\"");
    let m = dir.write("m.toml", &softmax_manifest(&plugins));
    let out = host(dir.path(), &["parity", m.to_str().unwrap()]);
    let t = text(&out);
    assert_eq!(out.status.code(), Some(1), "{t}");
    // Step 1's loss is computed before any update: the first difference is step 2's.
    assert!(
        t.contains("error: parity: b disagrees with a: the loss of step 2 differs"),
        "{t}"
    );
    let row = t
        .lines()
        .find(|l| l.starts_with("b "))
        .unwrap_or_else(|| panic!("{t}"));
    assert!(row.ends_with("FAIL"), "{row}");
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
    assert!(t.contains("parity over 3 step(s), against a"), "{t}");
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
    assert!(t.contains("b disagrees with a: the loss of step 2"), "{t}");
    assert!(t.contains("the campaign does not start"), "{t}");
    assert!(!results.exists(), "no campaign folder: {t}");
}
