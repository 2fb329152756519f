//! `host plugins` and `host check-plugin`, including a plugin built against a changed ABI.

use crate::support::*;
use std::process::Command;

#[test]
fn plugins_lists_the_built_plugins() {
    let dir = plugins_dir();
    let out = host(&root(), &["plugins", dir.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out));
    let t = text(&out);
    assert!(
        t.lines()
            .any(|l| l.starts_with("spin") && l.contains(" ok ")),
        "{t}"
    );
    assert!(
        t.lines()
            .any(|l| l.starts_with("faulty") && l.contains(" ok ")),
        "{t}"
    );
}

#[test]
fn check_plugin_passes_spin() {
    let out = host(&root(), &["check-plugin", plugin("spin").to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("PASS"), "{}", text(&out));
}

#[test]
fn check_plugin_fails_a_plugin_that_errors() {
    let out = host(
        &root(),
        &[
            "check-plugin",
            plugin("faulty").to_str().unwrap(),
            "--option",
            "fault=error",
        ],
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        text(&out).contains("deliberate error in train"),
        "{}",
        text(&out)
    );
}

#[test]
fn a_plugin_built_against_a_changed_interface_is_refused_in_three_lines() {
    // Its own target dir: the feature changes plugin-api itself.
    let target = root().join("target/abi-skew");
    let status = Command::new(env!("CARGO"))
        .current_dir(root())
        .args([
            "build",
            "-p",
            "plugin-faulty",
            "--features",
            "abi-skew",
            "--target-dir",
        ])
        .arg(&target)
        .status()
        .expect("cargo runs");
    assert!(status.success());
    let skewed = target.join("debug/libplugin_faulty.so");
    let out = host(&root(), &["plugins", skewed.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let t = text(&out);
    assert!(
        t.contains("TrainReport.samples") && t.contains("expects u64, plugin has u32"),
        "{t}"
    );
    assert!(t.trim().lines().count() <= 3, "summary must be short:\n{t}");

    let out = host(&root(), &["check-plugin", skewed.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out).contains("TrainReport.samples"), "{}", text(&out));
}

#[test]
fn non_plugins_and_missing_files_get_one_clear_sentence() {
    let dir = temp_dir("not-plugins");
    let fake = dir.join("libplugin_fake.so");
    std::fs::write(&fake, b"not an ELF file").unwrap();
    let out = host(&root(), &["plugins", fake.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out).contains("cannot be opened as a shared library"),
        "{}",
        text(&out)
    );

    let out = host(
        &root(),
        &["check-plugin", dir.join("absent.so").to_str().unwrap()],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out).contains("no such file"), "{}", text(&out));
}
