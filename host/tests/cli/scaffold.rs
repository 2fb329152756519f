//! `host new-plugin`: the generated crate builds out of tree as is, its unit tests pass, it
//! passes `host check-plugin`, and its sample manifest runs; the python trainer learns.

use std::path::Path;
use std::process::Command;

use crate::support::*;

/// Runs `cargo ARGS` in `dir` with the shared target folder; panics with its output on failure.
fn cargo(dir: &Path, target: &Path, args: &[&str]) {
    let out = Command::new(env!("CARGO"))
        .current_dir(dir)
        .env("CARGO_TARGET_DIR", target)
        .env_remove("RUSTFLAGS")
        .args(args)
        .output()
        .expect("cargo runs");
    assert!(out.status.success(), "cargo {args:?}:\n{}", text(&out));
}

#[test]
fn a_new_plugin_builds_out_of_tree_passes_its_checks_and_runs() {
    let tmp = temp_dir("new-plugin");
    let out = host(tmp.path(), &["new-plugin", "demo"]);
    assert!(out.status.success(), "{}", text(&out));
    let crate_dir = tmp.join("demo");
    for f in [
        "Cargo.toml",
        "Cargo.lock",
        "src/lib.rs",
        "src/tests.rs",
        "manifest.toml",
    ] {
        assert!(crate_dir.join(f).is_file(), "{f} missing:\n{}", text(&out));
    }
    // A target folder shared by every run of this test (the generated crate is its own
    // workspace, so it would otherwise compile plugin-api and abi_stable afresh each time).
    let target = root().join("target/new-plugin");
    cargo(&crate_dir, &target, &["test", "--quiet"]);
    cargo(&crate_dir, &target, &["build"]);
    // Where the sample manifest looks for it (a release build in a user's hands).
    let lib = crate_dir.join("target/release/libplugin_demo.so");
    std::fs::create_dir_all(lib.parent().unwrap()).unwrap();
    std::fs::copy(target.join("debug/libplugin_demo.so"), &lib).unwrap();

    let out = host(tmp.path(), &["check-plugin", lib.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("PASS"), "{}", text(&out));

    let results = tmp.join("results");
    let out = host(
        tmp.path(),
        &[
            "run",
            "demo/manifest.toml",
            "--iterations",
            "1",
            "--out",
            results.to_str().unwrap(),
        ],
    );
    assert!(out.status.success(), "{}", text(&out));
    let (header, rows) = read_csv(&results.join("runs.csv"));
    assert_eq!(rows.len(), 1, "{}", text(&out));
    assert_eq!(rows[0][col(&header, "status")], "ok", "{}", text(&out));
    assert_eq!(rows[0][col(&header, "plugin")], "demo");
    // The trainer's notes are kept with the run.
    let notes = &rows[0][col(&header, "notes")];
    assert!(
        notes.contains("threads_note=computes on the calling thread only"),
        "{notes}"
    );
}

#[test]
fn a_new_python_trainer_learns_in_the_dev_runner() {
    let python = root().join(".venv/jax/bin/python");
    if !python.is_file() {
        assert!(std::env::var_os("CI").is_none(), "no {}", python.display());
        eprintln!("skipped: no {} (scripts/setup-venvs jax)", python.display());
        return;
    }
    let tmp = temp_dir("new-python");
    let out = host(tmp.path(), &["new-plugin", "mine", "--python"]);
    assert!(out.status.success(), "{}", text(&out));
    let manifest = std::fs::read_to_string(tmp.join("mine/manifest.toml")).unwrap();
    assert!(manifest.contains("trainer = \"mine.py\""), "{manifest}");
    let summary = tmp.join("summary.json");
    let out = Command::new(&python)
        .arg(root().join("plugins/python/dev/run_trainer.py"))
        .arg(tmp.join("mine/mine.py"))
        .args([
            "--train", "300", "--test", "100", "--epochs", "3", "--quiet", "--json",
        ])
        .arg(&summary)
        .env("MNIST_DIR", mnist_dir())
        .output()
        .expect("python runs");
    assert!(out.status.success(), "{}", text(&out));
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&summary).unwrap()).unwrap();
    let loss = |e: usize| summary["epochs"][e]["loss"].as_f64().unwrap();
    assert!(loss(2) < loss(0), "the loss falls: {summary}");
    assert!(
        summary["evaluate"]["accuracy"].as_f64().unwrap() > 0.5,
        "{summary}"
    );
}

/// The ```toml blocks of plugin-api/README.md (the "Writing a plugin" guide), in order.
fn guide_toml_blocks() -> Vec<String> {
    let guide = std::fs::read_to_string(root().join("plugin-api/README.md")).unwrap();
    guide
        .split("```toml\n")
        .skip(1)
        .map(|rest| rest.split("```").next().unwrap().to_string())
        .collect()
}

#[test]
fn the_guides_toml_blocks_are_what_the_scaffold_writes_and_the_host_reads() {
    let blocks = guide_toml_blocks();
    assert_eq!(blocks.len(), 2, "{blocks:?}");
    // The Cargo.toml shown is the template's, key for key (paths aside).
    let shown: toml::Table = blocks[0].parse().unwrap();
    let tmp = temp_dir("guide");
    let out = host(tmp.path(), &["new-plugin", "demo"]);
    assert!(out.status.success(), "{}", text(&out));
    let written: toml::Table = std::fs::read_to_string(tmp.join("demo/Cargo.toml"))
        .unwrap()
        .parse()
        .unwrap();
    for table in [
        "package",
        "workspace",
        "lib",
        "dependencies",
        "dev-dependencies",
    ] {
        let keys = |t: &toml::Table| -> Vec<String> {
            t[table].as_table().unwrap().keys().cloned().collect()
        };
        assert!(written.contains_key(table), "{table}");
        let shown_keys = keys(&shown);
        assert!(
            shown_keys.iter().all(|k| keys(&written).contains(k)),
            "[{table}] {shown_keys:?}"
        );
    }
    assert_eq!(shown["lib"], written["lib"]);
    assert_eq!(shown["package"]["name"], written["package"]["name"]);
    assert_eq!(
        shown["dev-dependencies"]["plugin-api"]["features"],
        written["dev-dependencies"]["plugin-api"]["features"]
    );

    // The manifest table parses, and `{threads}` becomes [training] threads (1 here).
    let text = manifest(&blocks[1]);
    let m = joulebench::manifest::Manifest::parse(&tmp.join("m.toml"), text).unwrap();
    let env = &m.plugins[0].env;
    assert!(
        env.contains(&("RAYON_NUM_THREADS".into(), "1".into())),
        "{env:?}"
    );
}
