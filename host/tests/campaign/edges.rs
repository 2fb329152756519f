//! The edges of a campaign through the real binary: absurd sizes refused at load, bare plugin
//! names, the saved manifest copy resumed from anywhere, printed commands that paste back
//! into a shell, panic reasons without backtraces, and failed rows without partial totals.

use crate::support::*;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// Runs the host in `cwd` with `envs` set and, unlike [`host`], no `MNIST_DIR` (the manifest
/// says where the data is) and an empty user cache (nothing found there, nothing downloaded).
fn host_env(cwd: &Path, args: &[&str], envs: &[(&str, &str)]) -> Output {
    let cache = cwd.join(".no-cache");
    Command::new(env!("CARGO_BIN_EXE_host"))
        .current_dir(cwd)
        .env_remove("MNIST_DIR")
        .env("XDG_CACHE_HOME", &cache)
        .envs(envs.iter().copied())
        .args(args)
        .output()
        .expect("host runs")
}

fn spin_manifest(iterations: u32) -> String {
    manifest(&format!(
        "[[plugin]]\nname = \"a\"\npath = \"{0}\"\n\n[[plugin]]\nname = \"b\"\npath = \"{0}\"\n",
        plugin("spin").display()
    ))
    .replace("iterations = 1\n", &format!("iterations = {iterations}\n"))
}

/// The 1-based line of the first line of `text` that starts with `key`.
fn line_of(text: &str, key: &str) -> usize {
    text.lines()
        .position(|l| l.starts_with(key))
        .unwrap_or_else(|| panic!("no {key} in the manifest"))
        + 1
}

#[test]
fn absurd_sizes_are_refused_at_load_naming_the_key_its_line_and_the_limit() {
    let dir = temp_dir("bounds");
    for (from, to, key) in [
        ("iterations = 2", "iterations = 1000000000", "iterations"),
        ("batch_size = 32", "batch_size = 4294967295", "batch_size"),
        ("batch_size = 32", "batch_size = 301", "batch_size"),
        ("epochs = 2", "epochs = 5000", "epochs"),
        ("train_subset = 300", "train_subset = 70000", "train_subset"),
    ] {
        let m = spin_manifest(2).replace(from, to);
        std::fs::write(dir.join("m.toml"), &m).unwrap();
        let out = host(&dir, &["run", "m.toml", "--dry-run"]);
        let t = text(&out);
        assert_eq!(out.status.code(), Some(2), "{to}: {t}");
        let at = format!("m.toml:{}:", line_of(&m, key));
        assert!(t.contains(&at) && t.contains(key), "{to}: {t}");
        assert!(!t.contains("memory allocation"), "{t}");
    }
    // The limits themselves are said.
    let m = spin_manifest(2).replace("iterations = 2", "iterations = 1000000000");
    std::fs::write(dir.join("m.toml"), &m).unwrap();
    assert!(text(&host(&dir, &["run", "m.toml", "--dry-run"])).contains("more than 100000"));
    let m = spin_manifest(2).replace("batch_size = 32", "batch_size = 301");
    std::fs::write(dir.join("m.toml"), &m).unwrap();
    let t = text(&host(&dir, &["run", "m.toml", "--dry-run"]));
    assert!(t.contains("the 300 training images"), "{t}");

    // --iterations is held to the same limit, with the same words.
    std::fs::write(dir.join("m.toml"), spin_manifest(2)).unwrap();
    let out = host(
        &dir,
        &["run", "m.toml", "--dry-run", "--iterations", "1000000000"],
    );
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("more than 100000"), "{}", text(&out));
}

#[test]
fn a_long_plan_is_printed_in_summary() {
    let dir = temp_dir("long-plan");
    std::fs::write(dir.join("m.toml"), spin_manifest(20_000)).unwrap();
    let out = host(&dir, &["run", "m.toml", "--dry-run"]);
    assert!(out.status.success(), "{}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let plan: Vec<&str> = stdout
        .lines()
        .filter(|l| l.trim_start().starts_with("iteration"))
        .collect();
    assert_eq!(plan.len(), 6, "three at each end:\n{stdout}");
    assert!(plan[0].contains("iteration   1:") && plan[5].contains("iteration 20000:"));
    assert!(stdout.contains("19994 more iterations"), "{stdout}");
    assert!(stdout.lines().count() < 40, "{stdout}");
    // A short plan is printed whole.
    std::fs::write(dir.join("m.toml"), spin_manifest(50)).unwrap();
    let out = host(&dir, &["run", "m.toml", "--dry-run"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let whole = stdout.lines().filter(|l| l.contains("iteration ")).count();
    assert_eq!(whole, 50, "{stdout}");
}

#[test]
fn a_bare_plugin_name_is_looked_for_beside_the_manifest_never_on_the_library_path() {
    let dir = temp_dir("bare-name");
    let m = spin_manifest(1).replace(
        &format!("\"{}\"", plugin("spin").display()),
        "\"libplugin_spin.so\"",
    );
    assert!(m.contains("path = \"libplugin_spin.so\""), "{m}");
    // Beside the manifest: found, from the manifest's folder or from above it.
    let beside = dir.join("beside");
    std::fs::create_dir_all(&beside).unwrap();
    std::fs::copy(plugin("spin"), beside.join("libplugin_spin.so")).unwrap();
    std::fs::write(beside.join("m.toml"), &m).unwrap();
    let out = host(&beside, &["run", "m.toml", "--dry-run"]);
    assert!(out.status.success(), "{}", text(&out));
    let out = host(&dir, &["run", "beside/m.toml", "--dry-run"]);
    assert!(out.status.success(), "{}", text(&out));
    // On the command line, against the current folder.
    let out = host(&beside, &["plugins", "libplugin_spin.so"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains(" ok "), "{}", text(&out));

    // Only on LD_LIBRARY_PATH: not found, named by its absolute path.
    let elsewhere = dir.join("elsewhere");
    std::fs::create_dir_all(&elsewhere).unwrap();
    std::fs::write(elsewhere.join("m.toml"), &m).unwrap();
    let library_path = plugins_dir().display().to_string();
    let mnist = mnist_dir().display().to_string();
    let envs = [
        ("LD_LIBRARY_PATH", library_path.as_str()),
        ("MNIST_DIR", mnist.as_str()),
    ];
    let out = host_env(&elsewhere, &["run", "m.toml", "--dry-run"], &envs);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let absolute = std::fs::canonicalize(&elsewhere)
        .unwrap()
        .join("libplugin_spin.so");
    let expected = format!("{}: no such file", absolute.display());
    assert!(text(&out).contains(&expected), "{expected}\n{}", text(&out));
    let out = host_env(&elsewhere, &["check-plugin", "libplugin_spin.so"], &envs);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains(&expected), "{}", text(&out));
}

/// A project with relative paths: manifests/m.toml names ../plugins/libplugin_spin.so and
/// ../data/mnist. Returns the project folder.
fn relative_project(dir: &Path) -> PathBuf {
    let project = dir.join("project");
    for sub in ["manifests", "plugins", "data"] {
        std::fs::create_dir_all(project.join(sub)).unwrap();
    }
    std::fs::copy(plugin("spin"), project.join("plugins/libplugin_spin.so")).unwrap();
    std::os::unix::fs::symlink(mnist_dir(), project.join("data/mnist")).unwrap();
    let m = manifest(
        "# relative paths, as the shipped manifests have\n[[plugin]]\nname = \"spin\"\n\
         path = \"../plugins/libplugin_spin.so\"\n",
    )
    .replace(
        "train_subset = 300",
        "train_subset = 300\ndir = \"../data/mnist\"",
    );
    std::fs::write(project.join("manifests/m.toml"), m).unwrap();
    project
}

fn ok_iterations(results: &Path) -> Vec<String> {
    let (h, rows) = read_csv(&results.join("runs.csv"));
    let mut ok: Vec<String> = rows
        .iter()
        .filter(|r| r[col(&h, "status")] == "ok")
        .map(|r| r[col(&h, "iteration")].clone())
        .collect();
    ok.sort();
    ok
}

/// `command` as `sh -c` runs it, with `host` standing for the binary under test (and, as in
/// [`host_env`], no MNIST_DIR unless `envs` sets it).
fn through_sh(cwd: &Path, command: &str, envs: &[(&str, &str)]) -> Output {
    Command::new("sh")
        .current_dir(cwd)
        .env("HOST", env!("CARGO_BIN_EXE_host"))
        .env_remove("MNIST_DIR")
        .env("XDG_CACHE_HOME", cwd.join(".no-cache"))
        .envs(envs.iter().copied())
        .arg("-c")
        .arg(format!("host() {{ \"$HOST\" \"$@\"; }}; {command}"))
        .output()
        .expect("sh runs")
}

/// The rest of the line of `text` after `marker`.
fn after<'t>(text: &'t str, marker: &str) -> &'t str {
    let start = text
        .find(marker)
        .unwrap_or_else(|| panic!("no `{marker}` in:\n{text}"))
        + marker.len();
    text[start..].lines().next().unwrap_or("").trim()
}

#[test]
fn the_saved_manifest_copy_resumes_from_anywhere_with_the_printed_command() {
    let dir = temp_dir("saved-copy");
    let project = relative_project(&dir);
    let results = "my results/it's one";
    let out = host_env(
        &project,
        &["run", "manifests/m.toml", "--out", results],
        &[],
    );
    assert!(out.status.success(), "{}", text(&out));
    let folder = project.join(results);
    assert_eq!(ok_iterations(&folder), ["1"]);

    // A changed manifest is refused, with the command that resumes with the saved copy:
    // quoted, it runs as printed through a shell.
    let m = project.join("manifests/m.toml");
    let text0 = std::fs::read_to_string(&m).unwrap();
    std::fs::write(&m, text0.replace("seed = 7", "seed = 8")).unwrap();
    let out = host_env(
        &project,
        &[
            "run",
            "manifests/m.toml",
            "--resume",
            results,
            "--iterations",
            "2",
        ],
        &[],
    );
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let command = after(&text(&out), "Resume with the saved copy: ").to_string();
    assert!(command.starts_with("host run '"), "{command}");
    let out = through_sh(&project, &format!("{command} --iterations 2"), &[]);
    assert!(out.status.success(), "{command}\n{}", text(&out));
    assert_eq!(ok_iterations(&folder), ["1", "2"]);

    // From inside the results folder too: the copy's relative paths still name the project's.
    let out = host_env(
        &folder,
        &["run", "manifest.toml", "--resume", ".", "--iterations", "3"],
        &[],
    );
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(ok_iterations(&folder), ["1", "2", "3"]);
    // The copy keeps the manifest's text, comments and all.
    let copy = std::fs::read_to_string(folder.join("manifest.toml")).unwrap();
    assert!(copy.ends_with(&text0), "{copy}");

    // campaign.json's count is held to the manifest's bound too (the plan is rebuilt from it).
    let state = folder.join("campaign.json");
    let json = std::fs::read_to_string(&state).unwrap();
    std::fs::write(
        &state,
        json.replace("\"iterations\": 3", "\"iterations\": 1000000000"),
    )
    .unwrap();
    let out = host_env(&folder, &["run", "manifest.toml", "--resume", "."], &[]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        text(&out).contains("campaign.json") && text(&out).contains("more than 100000"),
        "{}",
        text(&out)
    );
}

#[test]
fn the_resume_command_printed_on_ctrl_c_is_quoted() {
    let dir = temp_dir("sigint-quoted");
    std::fs::write(dir.join("m 1.toml"), spin_manifest(3)).unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_host"))
        .current_dir(&dir)
        .env("MNIST_DIR", mnist_dir())
        .args(["run", "m 1.toml", "--out", "res $HOME"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("host starts");
    let csv = dir.join("res $HOME/runs.csv");
    let start = Instant::now();
    while std::fs::read_to_string(&csv).map_or(0, |t| t.lines().count()) < 2 {
        assert!(start.elapsed() < Duration::from_secs(120), "no row yet");
        std::thread::sleep(Duration::from_millis(50));
    }
    // SAFETY: signalling our own child.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(130), "{}", text(&out));
    let command = after(&text(&out), "resume with: ").to_string();
    assert_eq!(command, "host run 'm 1.toml' --resume 'res $HOME'");
    let mnist = mnist_dir().display().to_string();
    let out = through_sh(&dir, &command, &[("MNIST_DIR", &mnist)]);
    assert!(out.status.success(), "{command}\n{}", text(&out));
    assert_eq!(ok_iterations(&dir.join("res $HOME")).len(), 6);
}

#[test]
fn a_panic_under_rust_backtrace_is_one_line_and_failed_rows_hold_no_partial_totals() {
    let dir = temp_dir("panic-reason");
    let faulty = plugin("faulty");
    let mut plugins = String::new();
    for (name, fault) in [
        ("unwinds", "panic"),
        ("aborts", "panic_abort"),
        ("errs", "error"),
    ] {
        plugins.push_str(&format!(
            "[[plugin]]\nname = \"{name}\"\npath = \"{}\"\noptions = {{ fault = \"{fault}\", phase = \"train\" }}\n\n",
            faulty.display()
        ));
    }
    std::fs::write(dir.join("m.toml"), manifest(&plugins)).unwrap();
    let mnist = mnist_dir().display().to_string();
    let out = host_env(
        &dir,
        &["run", "m.toml", "--out", "res"],
        &[("RUST_BACKTRACE", "1"), ("MNIST_DIR", &mnist)],
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let (h, rows) = read_csv(&dir.join("res/runs.csv"));
    assert_eq!(rows.len(), 3);
    let row = |name: &str| {
        rows.iter()
            .find(|r| r[col(&h, "plugin")] == name)
            .unwrap_or_else(|| panic!("{name} row"))
    };
    for (name, expect) in [
        ("unwinds", "plugin panicked: deliberate panic in train"),
        ("aborts", "panicked at plugins/faulty/src/lib.rs:"),
    ] {
        let error = &row(name)[col(&h, "error")];
        assert!(error.contains(expect), "{name}: {error}");
        assert!(
            !error.contains("backtrace") && !error.contains("0x") && !error.contains("_start"),
            "{name}: {error}"
        );
        assert!(error.len() < 300, "{name}: {error}");
    }
    let aborted = &row("aborts")[col(&h, "error")];
    assert!(
        aborted.contains("deliberate panic in a callback"),
        "{aborted}"
    );
    // The backtrace is kept in the run's log.
    let log = std::fs::read_to_string(dir.join("res/logs/1-aborts.log")).unwrap();
    assert!(log.contains("stack backtrace"), "{log}");

    // Setup completed before each failure: its own columns hold it; the whole-run figures,
    // which would cover setup only, are empty.
    for name in ["unwinds", "aborts", "errs"] {
        let r = row(name);
        assert_eq!(r[col(&h, "status")], "failed");
        assert!(!r[col(&h, "setup_time_s")].is_empty(), "{name}: {r:?}");
        for empty in ["time_s", "energy_j", "power_w", "edp_js", "cpu_time_s"] {
            assert_eq!(r[col(&h, empty)], "", "{name}: {empty} in {r:?}");
        }
    }
}
