//! End-to-end campaigns through the real binary: worker processes, runs.csv, failures.

use crate::support::*;

#[test]
fn a_campaign_writes_one_ok_row_per_plugin_that_learns() {
    let dir = temp_dir("campaign-ok");
    let m = manifest(&format!(
        "[[plugin]]\nname = \"spin\"\npath = \"{}\"\n",
        plugin("spin").display()
    ));
    std::fs::write(dir.join("m.toml"), m).unwrap();
    let out = host(&dir, &["run", "m.toml", "--out", "res"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("results: res"), "{}", text(&out));

    let (h, rows) = read_csv(&dir.join("res/runs.csv"));
    for (i, c) in [
        "iteration",
        "order",
        "plugin",
        "framework",
        "status",
        "time_s",
        "energy_j",
        "power_w",
        "edp_js",
        "cpu_time_s",
        "accuracy",
        "loss",
        "meter",
        "error",
    ]
    .iter()
    .enumerate()
    {
        assert_eq!(&h[i], c, "contract column {i}");
    }
    for c in [
        "setup_time_s",
        "setup_energy_j",
        "train_time_s",
        "train_energy_j",
        "eval_time_s",
        "eval_energy_j",
        "epoch1_time_s",
        "epoch2_energy_j",
        "threads",
    ] {
        col(&h, c);
    }
    assert_eq!(rows.len(), 1);
    let row = &rows[0];
    assert_eq!(row[col(&h, "status")], "ok", "{row:?}");
    assert_eq!(row[col(&h, "plugin")], "spin");
    let acc: f64 = row[col(&h, "accuracy")].parse().unwrap();
    assert!(
        acc > 0.5,
        "spin should learn well above chance (0.1): {acc}"
    );
    let time: f64 = row[col(&h, "time_s")].parse().unwrap();
    let train: f64 = row[col(&h, "train_time_s")].parse().unwrap();
    let e1: f64 = row[col(&h, "epoch1_time_s")].parse().unwrap();
    let e2: f64 = row[col(&h, "epoch2_time_s")].parse().unwrap();
    assert!(
        time > 0.0 && train <= time && (e1 + e2 - train).abs() < 1e-9,
        "{time} {train} {e1} {e2}"
    );
    assert!(
        row[col(&h, "meter")].starts_with("estimate"),
        "no RAPL here: the meter must say estimate"
    );
    assert!(dir.join("res/manifest.toml").is_file());

    // Provenance: the plugin file's hash, the energy source, the machine.
    let env: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("res/environment.json")).unwrap())
            .unwrap();
    let sha = joulebench::fsx::sha256_file(&plugin("spin")).unwrap();
    assert_eq!(env["plugins"][0]["sha256"], serde_json::Value::String(sha));
    assert_eq!(env["energy"]["measured"], serde_json::Value::Bool(false));
    assert!(
        env["cpu"]["logical_threads"].as_u64().unwrap_or(0) >= 1,
        "{env}"
    );
}

#[test]
fn every_kind_of_plugin_failure_becomes_a_failed_row_and_the_campaign_goes_on() {
    let dir = temp_dir("campaign-faults");
    let faulty = plugin("faulty");
    let mut plugins = format!(
        "[[plugin]]\nname = \"spin\"\npath = \"{}\"\n",
        plugin("spin").display()
    );
    for (name, fault, phase) in [
        ("panics", "panic", "train"),
        ("aborts", "abort", "train"),
        ("segfaults", "segfault", "eval"),
        ("errs", "error", "setup"),
        ("hangs", "hang", "train"),
    ] {
        plugins.push_str(&format!(
            "\n[[plugin]]\nname = \"{name}\"\npath = \"{}\"\noptions = {{ fault = \"{fault}\", phase = \"{phase}\" }}\n{}",
            faulty.display(),
            if fault == "hang" { "timeout = \"4s\"\n" } else { "" }
        ));
    }
    std::fs::write(dir.join("m.toml"), manifest(&plugins)).unwrap();
    let out = host(&dir, &["run", "m.toml", "--out", "res"]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "some runs failed → exit 1\n{}",
        text(&out)
    );

    let (h, rows) = read_csv(&dir.join("res/runs.csv"));
    assert_eq!(rows.len(), 6, "every run is recorded");
    let by = |name: &str| {
        rows.iter()
            .find(|r| r[col(&h, "plugin")] == name)
            .unwrap_or_else(|| panic!("{name} row"))
    };
    let status = col(&h, "status");
    let error = col(&h, "error");
    assert_eq!(by("spin")[status], "ok");
    for (name, expect) in [
        ("panics", "panicked: deliberate panic in train"),
        ("aborts", "SIGABRT"),
        ("segfaults", "SIGSEGV"),
        ("errs", "deliberate error in setup"),
        ("hangs", "timed out after 4s"),
    ] {
        let row = by(name);
        assert_eq!(row[status], "failed", "{name}: {row:?}");
        assert!(
            row[error].contains(expect),
            "{name}: error `{}` should mention `{expect}`",
            row[error]
        );
    }
    // The segfault happened in eval: setup and training were measured before it.
    assert!(!by("segfaults")[col(&h, "train_time_s")].is_empty());
}

#[test]
fn a_process_left_behind_by_the_plugin_does_not_keep_the_run_open() {
    // The forked child holds the worker's event pipe for an hour; the run must still end when
    // the worker does, as `ok`, instead of waiting for the timeout.
    let dir = temp_dir("campaign-leftover");
    let plugins = format!(
        "[[plugin]]\nname = \"leaves\"\npath = \"{}\"\noptions = {{ fault = \"leftover\" }}\ntimeout = \"2m\"\n",
        plugin("faulty").display()
    );
    std::fs::write(dir.join("m.toml"), manifest(&plugins)).unwrap();
    let out = host(&dir, &["run", "m.toml", "--out", "res"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let (h, rows) = read_csv(&dir.join("res/runs.csv"));
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0][col(&h, "status")], "ok", "{:?}", rows[0]);
}

#[test]
fn a_misspelled_manifest_key_names_the_key_and_its_line() {
    let dir = temp_dir("manifest-typo");
    let m = manifest(&format!(
        "[[plugin]]\nname = \"spin\"\npath = \"{}\"\n",
        plugin("spin").display()
    ))
    .replace("iterations = 1", "iteratons = 1");
    std::fs::write(dir.join("m.toml"), m).unwrap();
    let out = host(&dir, &["run", "m.toml", "--dry-run"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let t = text(&out);
    assert!(t.contains("m.toml:4:") && t.contains("iteratons"), "{t}");
}

#[test]
fn a_dry_run_builds_every_trainer_and_names_an_unknown_option() {
    let dir = temp_dir("dry-run-trainers");
    let spin = plugin("spin");
    let tables = |options: &str| {
        format!(
            "[[plugin]]\nname = \"good\"\npath = \"{0}\"\n\n[[plugin]]\nname = \"typo\"\npath = \"{0}\"\n{options}",
            spin.display()
        )
    };
    std::fs::write(dir.join("m.toml"), manifest(&tables(""))).unwrap();
    let out = host(&dir, &["run", "m.toml", "--dry-run"]);
    let t = text(&out);
    assert!(out.status.success(), "{t}");
    assert!(t.contains("trainers (built once in a worker"), "{t}");
    assert!(
        t.lines()
            .any(|l| l.trim_start().starts_with("typo") && l.contains("1 thread(s)")),
        "{t}"
    );

    let typo = tables("options = { lerning_rate = \"0.1\" }\n");
    std::fs::write(dir.join("m.toml"), manifest(&typo)).unwrap();
    let out = host(&dir, &["run", "m.toml", "--dry-run"]);
    let t = text(&out);
    assert_eq!(out.status.code(), Some(2), "{t}");
    let line = t
        .lines()
        .find(|l| l.contains("plugin `typo`"))
        .unwrap_or_else(|| panic!("the failing plugin is named:\n{t}"));
    assert!(line.contains("lerning_rate"), "{t}");
    assert!(!t.contains("plugin `good`"), "{t}");
    assert!(
        !t.contains("plan (seed"),
        "no plan after a failed build:\n{t}"
    );
}

#[test]
fn a_missing_plugin_file_is_named_before_anything_runs() {
    let dir = temp_dir("missing-plugin");
    std::fs::write(
        dir.join("m.toml"),
        manifest("[[plugin]]\nname = \"ghost\"\npath = \"nowhere/libplugin_ghost.so\"\n"),
    )
    .unwrap();
    let out = host(&dir, &["run", "m.toml", "--out", "res"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        text(&out).contains("nowhere/libplugin_ghost.so: no such file"),
        "{}",
        text(&out)
    );
    assert!(!dir.join("res/runs.csv").exists(), "nothing should start");
}

#[test]
fn corrupt_mnist_is_refused_with_what_is_wrong() {
    let dir = temp_dir("corrupt-mnist");
    let data = dir.join("mnist");
    std::fs::create_dir_all(&data).unwrap();
    for f in std::fs::read_dir(mnist_dir()).unwrap() {
        let f = f.unwrap().path();
        if f.extension().is_some_and(|e| e == "gz") {
            std::fs::copy(&f, data.join(f.file_name().unwrap())).unwrap();
        }
    }
    // Truncate the training labels: the gzip stream ends early.
    let labels = data.join("train-labels-idx1-ubyte.gz");
    let bytes = std::fs::read(&labels).unwrap();
    std::fs::write(&labels, &bytes[..bytes.len() / 2]).unwrap();
    let m = manifest(&format!(
        "[[plugin]]\nname = \"spin\"\npath = \"{}\"\n",
        plugin("spin").display()
    ))
    .replace("train_subset = 300", "train_subset = 300\ndir = \"mnist\"");
    std::fs::write(dir.join("m.toml"), m).unwrap();
    let out = host(&dir, &["run", "m.toml", "--dry-run"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        text(&out).contains("train-labels-idx1-ubyte.gz: not a valid gzip stream"),
        "{}",
        text(&out)
    );
}

#[test]
fn a_plugins_env_table_reaches_its_workers_only() {
    let dir = temp_dir("plugin-env");
    let faulty = plugin("faulty");
    let m = manifest(&format!(
        "[[plugin]]\nname = \"with\"\npath = \"{0}\"\noptions = {{ require_env = \"OMP_WAIT_POLICY=PASSIVE\" }}\nenv = {{ OMP_WAIT_POLICY = \"PASSIVE\" }}\n\n\
         [[plugin]]\nname = \"without\"\npath = \"{0}\"\noptions = {{ require_env = \"OMP_WAIT_POLICY=PASSIVE\" }}\n",
        faulty.display()
    ));
    std::fs::write(dir.join("m.toml"), m).unwrap();
    let out = host(&dir, &["run", "m.toml", "--out", "res"]);
    let (h, rows) = read_csv(&dir.join("res/runs.csv"));
    let status = |name: &str| {
        rows.iter()
            .find(|r| r[col(&h, "plugin")] == name)
            .map(|r| r[col(&h, "status")].clone())
    };
    assert_eq!(status("with").as_deref(), Some("ok"), "{}", text(&out));
    assert_eq!(
        status("without").as_deref(),
        Some("failed"),
        "{}",
        text(&out)
    );
}

#[test]
fn a_missing_optional_plugin_is_skipped_with_a_note() {
    let dir = temp_dir("optional-plugin");
    let m = manifest(&format!(
        "[[plugin]]\nname = \"spin\"\npath = \"{}\"\n\n[[plugin]]\nname = \"later\"\npath = \"not/built/libplugin_later.so\"\noptional = true\n",
        plugin("spin").display()
    ));
    std::fs::write(dir.join("m.toml"), m).unwrap();
    let out = host(&dir, &["run", "m.toml", "--out", "res"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("skipping optional plugin `later`"),
        "{}",
        text(&out)
    );
    let (h, rows) = read_csv(&dir.join("res/runs.csv"));
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0][col(&h, "plugin")], "spin");

    // Built since: resuming would reshuffle the plan, so it is refused.
    std::fs::create_dir_all(dir.join("not/built")).unwrap();
    std::fs::copy(plugin("spin"), dir.join("not/built/libplugin_later.so")).unwrap();
    let out = host(&dir, &["run", "m.toml", "--resume", "res"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        text(&out).contains("[spin]") && text(&out).contains("[spin, later]"),
        "{}",
        text(&out)
    );
}
