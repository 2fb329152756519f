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

/// The line of check `name` in check-plugin's output.
fn check_line<'t>(out: &'t str, name: &str) -> &'t str {
    out.lines()
        .find(|l| l.contains(name))
        .unwrap_or_else(|| panic!("no check `{name}` in:\n{out}"))
}

#[test]
fn check_plugin_passes_spin_and_says_what_it_checked() {
    let out = host(&root(), &["check-plugin", plugin("spin").to_str().unwrap()]);
    let t = text(&out);
    assert!(out.status.success(), "{t}");
    assert!(t.contains("PASS"), "{t}");
    // The session is printed, and the behaviour checks ran.
    assert!(
        t.contains("data: 200 training and 100 test images (synthetic digits)"),
        "{t}"
    );
    assert!(t.contains("threads: 1"), "{t}");
    for check in [
        "the loss falls",
        "the same seed gives the same losses",
        "evaluate() is repeatable",
        "an unknown option is refused",
    ] {
        assert!(check_line(&t, check).starts_with("  ok"), "{check}:\n{t}");
    }
    // spin ignores initial weights and says so: skipped, not passed.
    assert!(
        check_line(&t, "initial weights").starts_with("  skip"),
        "{t}"
    );
}

#[test]
fn check_plugin_uses_a_manifests_session() {
    let dir = temp_dir("check-manifest");
    let spin = plugin("spin");
    let with_spin = dir.write(
        "m.toml",
        &manifest(&format!(
            "[[plugin]]\nname = \"mine\"\npath = \"{}\"\n",
            spin.display()
        ))
        .replace("threads = 1", "threads = 2"),
    );
    let out = host(
        &root(),
        &[
            "check-plugin",
            spin.to_str().unwrap(),
            "--manifest",
            with_spin.to_str().unwrap(),
        ],
    );
    let t = text(&out);
    assert!(out.status.success(), "{t}");
    assert!(
        t.contains("model: conv2d 4×3² → maxpool 2 → flatten → dense 10"),
        "{t}"
    );
    assert!(t.contains("threads: 2"), "{t}");
    assert!(
        t.contains("the first images of"),
        "real MNIST from the manifest's dataset:\n{t}"
    );
    assert!(
        check_line(&t, "run_info() reports").contains("2 thread(s)"),
        "{t}"
    );

    // A manifest without this plugin is a usage error naming what it has.
    let other = dir.write(
        "o.toml",
        &manifest("[[plugin]]\nname = \"x\"\npath = \"/nowhere.so\"\n"),
    );
    let out = host(
        &root(),
        &[
            "check-plugin",
            spin.to_str().unwrap(),
            "--manifest",
            other.to_str().unwrap(),
        ],
    );
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("x (/nowhere.so)"), "{}", text(&out));
}

#[test]
fn check_plugin_gives_the_probes_the_manifests_env_with_threads_filled_in() {
    let dir = temp_dir("check-env");
    let faulty = plugin("faulty");
    let table = |env: &str| {
        format!(
            "[[plugin]]\nname = \"f\"\npath = \"{}\"\n\
             options = {{ require_env = \"POOL_SIZE=2\" }}\n{env}",
            faulty.display()
        )
    };
    let built = |env: &str| {
        let m = dir.write(
            "m.toml",
            &manifest(&table(env)).replace("threads = 1", "threads = 2"),
        );
        let out = host(
            &root(),
            &[
                "check-plugin",
                faulty.to_str().unwrap(),
                "--manifest",
                m.to_str().unwrap(),
            ],
        );
        let t = text(&out);
        check_line(&t, "new_trainer() builds a trainer").to_string() + &t
    };
    let with_env = built("env = { POOL_SIZE = \"{threads}\" }\n");
    assert!(with_env.starts_with("  ok"), "{with_env}");
    let without = built("");
    assert!(without.starts_with("  FAIL"), "{without}");
    assert!(
        without.contains("environment POOL_SIZE is None"),
        "{without}"
    );
}

#[test]
fn check_plugin_fails_a_plugin_that_learns_nothing() {
    let out = host(
        &root(),
        &[
            "check-plugin",
            plugin("faulty").to_str().unwrap(),
            "--option",
            "fault=none",
        ],
    );
    let t = text(&out);
    assert_eq!(out.status.code(), Some(1), "{t}");
    assert!(
        check_line(&t, "the loss falls").starts_with("  FAIL"),
        "{t}"
    );
    assert!(
        check_line(&t, "the loss falls").contains("[1.000000, 1.000000, 1.000000]"),
        "{t}"
    );
}

#[test]
fn a_crash_an_abort_or_a_hang_is_a_failed_check_with_its_reason() {
    for (fault, reason) in [
        ("segfault", "SIGSEGV"),
        ("abort", "SIGABRT"),
        ("hang", "no answer within 2s"),
    ] {
        let out = host(
            &root(),
            &[
                "check-plugin",
                plugin("faulty").to_str().unwrap(),
                "--option",
                &format!("fault={fault}"),
                "--timeout",
                "2s",
            ],
        );
        let t = text(&out);
        assert_eq!(out.status.code(), Some(1), "{fault}: {t}");
        let line = check_line(&t, "no crash, abort or hang");
        assert!(line.starts_with("  FAIL"), "{fault}: {t}");
        assert!(
            line.contains("during train_epochs(1) for epoch 1"),
            "{fault}: {t}"
        );
        assert!(line.contains(reason), "{fault}: {t}");
    }
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
