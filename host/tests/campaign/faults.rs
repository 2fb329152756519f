//! Faults around a campaign rather than in its plugins, through the real binary: two hosts on
//! one folder, the host killed with -9 while a plugin's child runs, a full disk under the runs
//! and under the analysis, and folders a kill left half-written.

use crate::support::tmpfs::FullDisk;
use crate::support::*;
use std::collections::BTreeSet;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Two spin plugins (a, b), `iterations` of them, `rest` between runs.
fn two_spins(iterations: u32, rest: &str) -> String {
    let spin = plugin("spin");
    manifest(&format!(
        "[[plugin]]\nname = \"a\"\npath = \"{0}\"\n\n[[plugin]]\nname = \"b\"\npath = \"{0}\"\n",
        spin.display()
    ))
    .replace("iterations = 1\n", &format!("iterations = {iterations}\n"))
    .replace("rest = \"0s\"", &format!("rest = \"{rest}\""))
}

fn spawn_host(dir: &Path, args: &[&str]) -> Child {
    Command::new(env!("CARGO_BIN_EXE_host"))
        .current_dir(dir)
        .env("MNIST_DIR", mnist_dir())
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("host starts")
}

/// runs.csv's (iteration, plugin, status) rows; asserts no (iteration, plugin) is there twice.
fn unique_rows(dir: &Path) -> Vec<(String, String, String)> {
    let (h, rows) = read_csv(&dir.join("runs.csv"));
    let rows: Vec<_> = rows
        .iter()
        .map(|r| {
            (
                r[col(&h, "iteration")].clone(),
                r[col(&h, "plugin")].clone(),
                r[col(&h, "status")].clone(),
            )
        })
        .collect();
    let keys: BTreeSet<_> = rows.iter().map(|r| (&r.0, &r.1)).collect();
    assert_eq!(keys.len(), rows.len(), "a run recorded twice: {rows:?}");
    rows
}

/// Polls `done` every 50 ms until it holds or `limit` passes (a generous bound, not a timing
/// assertion: it only keeps a broken build from hanging the suite).
fn wait_until(limit: Duration, what: &str, mut done: impl FnMut() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(start.elapsed() < limit, "{what}: not within {limit:?}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Whether process `pid` is gone (or a zombie, which runs nothing and only waits to be reaped).
fn is_dead(pid: i32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        // The state follows the command name in parentheses: "pid (comm) S ppid …".
        Ok(stat) => stat
            .rsplit_once(')')
            .is_some_and(|(_, rest)| rest.trim_start().starts_with(['Z', 'X'])),
    }
}

fn parent_of(pid: i32) -> i32 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("stat");
    let (_, rest) = stat.rsplit_once(')').expect("stat format");
    rest.split_whitespace()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .expect("ppid")
}

#[test]
fn of_two_concurrent_resumes_one_runs_and_the_other_says_who_holds_the_folder() {
    let dir = temp_dir("lock");
    // Rests keep the first host busy for seconds after it has locked the folder.
    std::fs::write(dir.join("m.toml"), two_spins(3, "2s")).unwrap();
    let out = host(
        &dir,
        &["run", "m.toml", "--out", "res", "--iterations", "1"],
    );
    assert!(out.status.success(), "{}", text(&out));
    let resume = ["run", "m.toml", "--resume", "res", "--iterations", "3"];

    let first = spawn_host(&dir, &resume);
    let first_pid = first.id();
    let lock = dir.join("res/lock");
    let me = format!("pid={first_pid}\n");
    wait_until(Duration::from_secs(60), "the first host locks", || {
        std::fs::read_to_string(&lock).is_ok_and(|t| t.starts_with(&me))
    });
    let second = host(&dir, &resume);
    let first = first.wait_with_output().unwrap();
    assert_eq!(first.status.code(), Some(0), "{}", text(&first));
    assert_eq!(second.status.code(), Some(2), "{}", text(&second));
    let refused = text(&second);
    assert!(
        refused.contains("in use by another host")
            && refused.contains(&format!("PID {first_pid} on ")),
        "{refused}"
    );
    let rows = unique_rows(&dir.join("res"));
    assert_eq!(rows.len(), 6, "{rows:?}");
    assert!(rows.iter().all(|r| r.2 == "ok"), "{rows:?}");

    // Started at the same instant, still one at a time: the other is refused or, coming
    // after the first has finished, finds nothing left to do.
    let out = host(
        &dir,
        &["run", "m.toml", "--resume", "res", "--iterations", "4"],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let (a, b) = (
        spawn_host(
            &dir,
            &["run", "m.toml", "--resume", "res", "--iterations", "6"],
        ),
        spawn_host(
            &dir,
            &["run", "m.toml", "--resume", "res", "--iterations", "6"],
        ),
    );
    let codes: BTreeSet<_> = [a, b]
        .map(|c| c.wait_with_output().unwrap().status.code())
        .into_iter()
        .collect();
    assert!(
        codes.contains(&Some(0)) && codes.is_subset(&[Some(0), Some(2)].into()),
        "{codes:?}"
    );
    assert_eq!(unique_rows(&dir.join("res")).len(), 12);
}

#[test]
fn kill_9_of_the_host_kills_the_process_a_plugin_forked() {
    let dir = temp_dir("orphan");
    let pid_file = dir.join("child.pid");
    let plugins = format!(
        "[[plugin]]\nname = \"orphan\"\npath = \"{}\"\noptions = {{ fault = \"orphan\", pid_file = \"{}\" }}\n",
        plugin("faulty").display(),
        pid_file.display()
    );
    std::fs::write(dir.join("m.toml"), manifest(&plugins)).unwrap();
    let mut host = spawn_host(&dir, &["run", "m.toml", "--out", "res"]);
    wait_until(Duration::from_secs(120), "the plugin forks", || {
        pid_file.exists()
    });
    let child: i32 = std::fs::read_to_string(&pid_file)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    // Whatever happens below, nothing of this test outlives it.
    struct Reap(i32);
    impl Drop for Reap {
        fn drop(&mut self) {
            unsafe { libc::kill(self.0, libc::SIGKILL) };
        }
    }
    let _reap = Reap(child);
    let worker = parent_of(child);
    assert!(!is_dead(child) && !is_dead(worker));
    host.kill().unwrap(); // SIGKILL
    host.wait().unwrap();
    wait_until(
        Duration::from_secs(20),
        "the plugin's child dies with the host",
        || is_dead(child) && is_dead(worker),
    );
}

#[test]
fn a_full_disk_stops_the_campaign_and_the_resume_measures_what_it_could_not() {
    let dir = temp_dir("disk-full");
    std::fs::write(dir.join("m.toml"), two_spins(2, "0s")).unwrap();
    let Some(disk) = FullDisk::mount(&dir.join("res/samples"), "64k") else {
        return;
    };
    let out = host(&dir, &["run", "m.toml", "--out", "res"]);
    let t = text(&out);
    assert_eq!(out.status.code(), Some(1), "{t}");
    assert!(
        t.contains("No space left on device")
            && t.contains("resume with: host run m.toml --resume res"),
        "{t}"
    );
    let rows = unique_rows(&dir.join("res"));
    assert!(
        rows.is_empty(),
        "no run is recorded, failed or not: {rows:?}"
    );

    disk.free();
    let out = host(&dir, &["run", "m.toml", "--resume", "res"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let rows = unique_rows(&dir.join("res"));
    assert_eq!(rows.len(), 4, "{rows:?}");
    assert!(rows.iter().all(|r| r.2 == "ok"), "{rows:?}");
}

#[test]
fn an_analysis_that_cannot_be_written_fails_leaves_no_partial_file_and_a_resume_redoes_it() {
    let dir = temp_dir("analysis-full");
    std::fs::write(dir.join("m.toml"), two_spins(1, "0s")).unwrap();
    let out = host(&dir, &["run", "m.toml", "--out", "res"]);
    assert!(out.status.success(), "{}", text(&out));
    let analysis = dir.join("res/analysis");
    let written: BTreeSet<String> = std::fs::read_dir(&analysis)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        written.contains("summary.json") && written.contains("report.html"),
        "{written:?}"
    );

    // Deleted outputs come back on a resume with nothing left to run.
    for name in ["summary.json", "report.html"] {
        std::fs::remove_file(analysis.join(name)).unwrap();
    }
    let out = host(&dir, &["run", "m.toml", "--resume", "res"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    for name in &written {
        assert!(
            analysis.join(name).is_file(),
            "{name} is back\n{}",
            text(&out)
        );
    }

    std::fs::remove_dir_all(&analysis).unwrap();
    let Some(disk) = FullDisk::mount(&analysis, "16m") else {
        return;
    };
    let out = host(&dir, &["run", "m.toml", "--resume", "res"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("analysis failed"), "{}", text(&out));
    assert_eq!(
        disk.others(),
        Vec::<String>::new(),
        "no partial file is left"
    );

    disk.free();
    let out = host(&dir, &["run", "m.toml", "--resume", "res"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let again: BTreeSet<String> = disk.others().into_iter().collect();
    assert_eq!(again, written);
}

#[test]
fn a_folder_left_before_campaign_json_with_an_empty_environment_json_is_resumed() {
    let dir = temp_dir("half-written");
    std::fs::write(dir.join("m.toml"), two_spins(1, "0s")).unwrap();
    // runs.csv's header as this machine writes it (its columns name the meter's domains).
    let out = host(&dir, &["run", "m.toml", "--out", "model"]);
    assert!(out.status.success(), "{}", text(&out));
    let model = std::fs::read_to_string(dir.join("model/runs.csv")).unwrap();
    let header = model.lines().next().unwrap();
    // What a kill between creating runs.csv and the first campaign.json left, with an
    // environment.json a full disk emptied.
    let res = dir.join("res");
    std::fs::create_dir_all(&res).unwrap();
    std::fs::copy(dir.join("m.toml"), res.join("manifest.toml")).unwrap();
    std::fs::write(res.join("runs.csv"), format!("{header}\n")).unwrap();
    std::fs::write(res.join("environment.json"), "").unwrap();

    let out = host(&dir, &["run", "m.toml", "--resume", "res"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let rows = unique_rows(&res);
    assert_eq!(rows.len(), 2, "{rows:?}");
    assert!(res.join("campaign.json").is_file());
    let env = std::fs::read_to_string(res.join("environment.json")).unwrap();
    let parsed: serde_json::Value =
        serde_json::from_str(&env).expect("environment.json is written whole");
    assert!(parsed.get("captured_at").is_some(), "{env}");
}
