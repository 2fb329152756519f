//! A campaign sharded through a real Slurm: `host slurm --submit` queues a 2-task array of a
//! tiny spin campaign, the test waits for both tasks, merges the shard folders with
//! `host analyze`, and checks that every (iteration, plugin) was measured exactly once.
//!
//! Slurm is found through `SLURM_CONF` (as `scripts/slurm-local start` prints it; `.ci/run`
//! exports it), else `scripts/slurm-local`'s default state folder, else Slurm's own default.
//! When none answers, the test starts `scripts/slurm-local` itself in a folder of its own
//! (root and slurm-wlm needed) and stops those daemons, by PID, when it ends. Only when that
//! is impossible is it skipped with the reason — except under CI (`CI` set), where it fails.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use crate::support::{col, manifest, mnist_dir, plugin, read_csv, root, temp_dir, text, TempDir};

/// How long the array may take, queueing included: generous, the machine may be busy.
const DEADLINE: Duration = Duration::from_secs(900);

/// A Slurm the test can submit to: its configuration file, and the daemons the test started
/// (stopped on drop).
struct Cluster {
    conf: Option<PathBuf>,
    started: Option<TempDir>,
}

impl Drop for Cluster {
    fn drop(&mut self) {
        if let Some(state) = &self.started {
            let _ = slurm_local(state.path(), "stop");
        }
    }
}

impl Cluster {
    /// A Slurm command with this cluster's configuration.
    fn command(&self, program: &str) -> Command {
        let mut cmd = Command::new(program);
        if let Some(conf) = &self.conf {
            cmd.env("SLURM_CONF", conf);
        }
        cmd
    }

    fn answers(&self) -> bool {
        self.command("sinfo")
            .arg("-h")
            .output()
            .is_ok_and(|o| o.status.success())
    }
}

fn slurm_local(state: &Path, action: &str) -> std::io::Result<Output> {
    Command::new(root().join("scripts/slurm-local"))
        .arg(action)
        .env("JOULEBENCH_SLURM_DIR", state)
        .output()
}

/// A reachable Slurm, or why there is none.
fn find_cluster() -> Result<Cluster, String> {
    let local_default = std::env::temp_dir().join("joulebench-slurm/slurm.conf");
    let conf = std::env::var_os("SLURM_CONF")
        .map(PathBuf::from)
        .or_else(|| local_default.is_file().then_some(local_default));
    let given = Cluster {
        conf,
        started: None,
    };
    if given.answers() {
        return Ok(given);
    }
    // Nothing answers: start a single-node Slurm of our own.
    let state = temp_dir("slurm-state");
    let out = slurm_local(state.path(), "start")
        .map_err(|e| format!("scripts/slurm-local cannot run: {e}"))?;
    let started = Cluster {
        conf: Some(state.path().join("slurm.conf")),
        started: Some(state),
    };
    if out.status.success() && started.answers() {
        return Ok(started);
    }
    Err(format!(
        "no Slurm answers (sinfo failed) and scripts/slurm-local start failed: {}",
        text(&out).trim()
    ))
}

/// The cluster, or `None` after saying why the test is skipped (outside CI only).
fn cluster_or_skip(test: &str) -> Option<Cluster> {
    match find_cluster() {
        Ok(c) => Some(c),
        Err(why) if std::env::var_os("CI").is_some_and(|v| v != "0") => {
            panic!("{test}: {why}; CI is set, so Slurm must be there (.ci/run starts it)")
        }
        Err(why) => {
            eprintln!("skipped {test}: {why} (apt-get install slurm-wlm munge; run as root)");
            None
        }
    }
}

/// `host ARGS` with the cluster's configuration and the shared MNIST (the array tasks inherit
/// this environment through sbatch).
fn host_on(cluster: &Cluster, cwd: &Path, args: &[&str]) -> Output {
    let mut cmd = cluster.command(env!("CARGO_BIN_EXE_host"));
    cmd.current_dir(cwd)
        .env("MNIST_DIR", mnist_dir())
        .args(args)
        .output()
        .expect("host runs")
}

/// Waits until the job has left the queue.
fn wait_for(cluster: &Cluster, job: &str) {
    let start = Instant::now();
    loop {
        let out = cluster
            .command("squeue")
            .args(["-h", "-j", job, "-o", "%i %T"])
            .output()
            .expect("squeue runs");
        let queued = String::from_utf8_lossy(&out.stdout).trim().to_string();
        // squeue fails for a job id it has forgotten: the job is over either way.
        if queued.is_empty() || !out.status.success() {
            return;
        }
        assert!(
            start.elapsed() < DEADLINE,
            "job {job} still queued after {DEADLINE:?}:\n{queued}"
        );
        std::thread::sleep(Duration::from_secs(2));
    }
}

/// One user story end to end — submit, wait, check each shard, merge, check the merge — kept
/// in one function (89 lines) so that it reads in the order a user lives it.
#[test]
fn a_two_shard_array_job_measures_every_run_once_and_merges() {
    let Some(cluster) = cluster_or_skip("a_two_shard_array_job_measures_every_run_once_and_merges")
    else {
        return;
    };
    let dir = temp_dir("slurm");
    let spin = plugin("spin");
    let m = manifest(&format!(
        "[[plugin]]\nname = \"a\"\npath = \"{0}\"\n\n[[plugin]]\nname = \"b\"\npath = \"{0}\"\n",
        spin.display()
    ))
    .replace("iterations = 1\n", "iterations = 5\nwarmup = \"0s\"\n");
    std::fs::write(dir.join("m.toml"), m).unwrap();
    let out = dir.join("array");
    let out_s = out.display().to_string();

    let submitted = host_on(
        &cluster,
        &dir,
        &[
            "slurm", "m.toml", "--shards", "2", "--out", &out_s, "--submit",
        ],
    );
    let said = text(&submitted);
    assert!(submitted.status.success(), "{said}");
    let job = said
        .lines()
        .find_map(|l| l.strip_prefix("submitted job "))
        .unwrap_or_else(|| panic!("no job id in:\n{said}"))
        .trim()
        .to_string();
    assert!(
        said.contains("squeue -j") && said.contains("host analyze"),
        "{said}"
    );
    wait_for(&cluster, &job);

    let shards: Vec<PathBuf> = (1..=2)
        .map(|k| out.join(format!("shard-{k}-of-2")))
        .collect();
    let mut seen: BTreeMap<(u32, String), usize> = BTreeMap::new();
    for (k, shard) in shards.iter().enumerate() {
        let log = std::fs::read_to_string(out.join(format!("slurm-{job}_{}.out", k + 1)))
            .unwrap_or_default();
        assert!(
            shard.join("runs.csv").is_file(),
            "shard {} left no runs.csv; its output:\n{log}",
            k + 1
        );
        let (h, rows) = read_csv(&shard.join("runs.csv"));
        for r in &rows {
            assert_eq!(r[col(&h, "status")], "ok", "{log}");
            assert_eq!(r[col(&h, "shard")], format!("{}/2", k + 1));
            assert!(!r[col(&h, "node")].is_empty());
            let key = (
                r[col(&h, "iteration")].parse().unwrap(),
                r[col(&h, "plugin")].clone(),
            );
            *seen.entry(key).or_default() += 1;
        }
        let env = std::fs::read_to_string(shard.join("environment.json")).unwrap();
        let env: serde_json::Value = serde_json::from_str(&env).unwrap();
        assert_eq!(env["node"]["slurm"]["array_task_id"], format!("{}", k + 1));
    }
    let expected: BTreeMap<(u32, String), usize> = (1..=5)
        .flat_map(|i| ["a", "b"].map(|p| ((i, p.to_string()), 1)))
        .collect();
    assert_eq!(seen, expected, "every (iteration, plugin) exactly once");

    let analysis = out.join("analysis");
    let merged = host_on(
        &cluster,
        &dir,
        &["analyze", &out_s, "--out", &analysis.display().to_string()],
    );
    assert!(merged.status.success(), "{}", text(&merged));
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(analysis.join("summary.json")).unwrap())
            .unwrap();
    for group in ["a", "b"] {
        assert_eq!(summary["runs"][group]["analysed"], 5, "{}", summary["runs"]);
    }
    let per_node = summary["per_node"]
        .as_array()
        .expect("per_node in summary.json");
    assert!(per_node
        .iter()
        .any(|r| r["node"] == "(pooled)" && r["n"] == 5));
}
