//! Shards through the binary without Slurm: `--shard` checking and its dry run, the script
//! `host slurm` writes (not submitted), and `host analyze` merging or refusing shard folders.

use std::path::Path;

use crate::support::{host, manifest, plugin, temp_dir, text};

/// Two spin plugins, `iterations` iterations, no warm-up or rests.
fn spins(dir: &Path, iterations: u32) {
    let m = manifest(&format!(
        "[[plugin]]\nname = \"a\"\npath = \"{0}\"\n\n[[plugin]]\nname = \"b\"\npath = \"{0}\"\n",
        plugin("spin").display()
    ))
    .replace(
        "iterations = 1\n",
        &format!("iterations = {iterations}\nwarmup = \"0s\"\n"),
    );
    std::fs::write(dir.join("m.toml"), m).unwrap();
}

#[test]
fn a_shards_dry_run_shows_its_iterations_and_every_shards_wall_time() {
    let dir = temp_dir("shard-dry");
    spins(&dir, 5);
    // 1 s rests: shard 1 (iterations 1, 3, 5: 6 runs) rests 5 times, shard 2 (4 runs) 3 times.
    let m = std::fs::read_to_string(dir.join("m.toml")).unwrap();
    std::fs::write(
        dir.join("m.toml"),
        m.replace("rest = \"0s\"", "rest = \"1s\""),
    )
    .unwrap();
    let out = host(&dir, &["run", "m.toml", "--dry-run", "--shard", "2/2"]);
    let said = text(&out);
    assert!(out.status.success(), "{said}");
    assert!(
        said.contains("shard 2/2: iterations 2, 4 (4 runs)"),
        "{said}"
    );
    assert!(
        said.contains("iteration   4:") && !said.contains("iteration   3:"),
        "{said}"
    );
    assert!(
        said.contains("per-shard wall time: shard 1: ") && said.contains("shard 2: "),
        "{said}"
    );
    assert!(
        said.contains("wall time with 2 shard(s) on 2 node(s)"),
        "{said}"
    );

    for (bad, why) in [
        ("0/2", "numbered from 1"),
        ("3/2", "between 1 and 2"),
        ("2", "expected K/N"),
    ] {
        let out = host(&dir, &["run", "m.toml", "--dry-run", "--shard", bad]);
        assert_eq!(out.status.code(), Some(2), "{bad}: {}", text(&out));
        assert!(text(&out).contains(why), "{bad}: {}", text(&out));
    }
    let out = host(&dir, &["run", "m.toml", "--dry-run", "--shard", "6/6"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        text(&out).contains("use at most 5 shard(s)"),
        "{}",
        text(&out)
    );
}

#[test]
fn host_slurm_writes_an_array_script_and_checks_its_options() {
    let dir = temp_dir("slurm-script");
    spins(&dir, 4);
    let out = host(&dir, &["slurm", "m.toml", "--shards", "2", "--out", "jobs"]);
    let said = text(&out);
    assert!(out.status.success(), "{said}");
    let script = std::fs::read_to_string(dir.join("jobs/joulebench-test.sbatch")).unwrap();
    assert!(script.contains("#SBATCH --array=1-2\n"), "{script}");
    assert!(
        script.contains("#SBATCH --cpus-per-task=1\n"),
        "threads = 1: {script}"
    );
    assert!(script.contains("#SBATCH --exclusive\n"), "{script}");
    assert!(
        script.contains("--shard \"$SLURM_ARRAY_TASK_ID/2\""),
        "{script}"
    );
    assert!(
        said.contains("submit it with: sbatch") && said.contains("host analyze"),
        "{said}"
    );

    let shared = host(
        &dir,
        &[
            "slurm",
            "m.toml",
            "--shards",
            "2",
            "--out",
            "shared",
            "--no-exclusive",
        ],
    );
    assert!(shared.status.success(), "{}", text(&shared));
    assert!(
        String::from_utf8_lossy(&shared.stderr).contains("warning: --no-exclusive"),
        "{}",
        text(&shared)
    );
    let script = std::fs::read_to_string(dir.join("shared/joulebench-test.sbatch")).unwrap();
    assert!(!script.contains("--exclusive\n"), "{script}");

    // A plugin that is not built stops the submission here, not in every task.
    let m = std::fs::read_to_string(dir.join("m.toml")).unwrap();
    std::fs::write(
        dir.join("unbuilt.toml"),
        m.replace("libplugin_spin.so", "libplugin_none.so"),
    )
    .unwrap();
    let out = host(
        &dir,
        &["slurm", "unbuilt.toml", "--shards", "2", "--out", "u"],
    );
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        text(&out).contains("nothing was submitted"),
        "{}",
        text(&out)
    );
    assert!(!dir.join("u/joulebench-test.sbatch").exists());

    for args in [
        &["--shards", "5"][..],
        &["--shards", "2", "--time", "2 hours"][..],
        &["--shards", "2", "--partition", "a;b"][..],
    ] {
        let mut all = vec!["slurm", "m.toml"];
        all.extend_from_slice(args);
        let out = host(&dir, &all);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", text(&out));
    }
}

#[test]
fn analyze_merges_the_shards_of_one_campaign_and_names_an_odd_one() {
    let dir = temp_dir("shard-merge");
    spins(&dir, 3);
    for k in 1..=2 {
        let shard = format!("{k}/2");
        let out_dir = format!("c/s{k}");
        let out = host(
            &dir,
            &["run", "m.toml", "--shard", &shard, "--out", &out_dir],
        );
        assert!(out.status.success(), "{}", text(&out));
    }
    let merged = host(&dir, &["analyze", "c", "--out", "merged"]);
    assert!(merged.status.success(), "{}", text(&merged));
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("merged/summary.json")).unwrap())
            .unwrap();
    assert_eq!(summary["runs"]["a"]["analysed"], 3, "{}", summary["runs"]);
    assert!(summary["per_node"]
        .as_array()
        .is_some_and(|r| !r.is_empty()));
    let tables = std::fs::read_to_string(dir.join("merged/tables.md")).unwrap();
    assert!(tables.contains("## Per node"), "{tables}");

    // The second shard on another CPU model: refused, then pooled when allowed, with a
    // warning and the per-node medians.
    let env_path = dir.join("c/s2/environment.json");
    let mut env: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&env_path).unwrap()).unwrap();
    env["cpu"]["model"] = "Another CPU 9000".into();
    std::fs::write(&env_path, env.to_string()).unwrap();
    let refused = host(&dir, &["analyze", "c", "--out", "mixed"]);
    assert_eq!(refused.status.code(), Some(2), "{}", text(&refused));
    assert!(
        text(&refused).contains("--allow-mixed-hardware"),
        "{}",
        text(&refused)
    );
    let allowed = host(
        &dir,
        &["analyze", "c", "--out", "mixed", "--allow-mixed-hardware"],
    );
    assert!(allowed.status.success(), "{}", text(&allowed));
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("mixed/summary.json")).unwrap())
            .unwrap();
    let warned = summary["warnings"].as_array().unwrap().iter().any(|w| {
        w.as_str()
            .is_some_and(|w| w.contains("Another CPU 9000") && w.contains("node is a factor"))
    });
    assert!(warned, "{}", summary["warnings"]);
    assert!(summary["per_node"]
        .as_array()
        .is_some_and(|r| !r.is_empty()));

    // One shard again, from another campaign (another seed): refused, naming it.
    let other = std::fs::read_to_string(dir.join("m.toml"))
        .unwrap()
        .replace("seed = 7", "seed = 8");
    std::fs::write(dir.join("other.toml"), other).unwrap();
    let out = host(
        &dir,
        &["run", "other.toml", "--shard", "2/2", "--out", "odd"],
    );
    assert!(out.status.success(), "{}", text(&out));
    let refused = host(&dir, &["analyze", "c/s1", "odd", "--out", "x"]);
    assert_eq!(refused.status.code(), Some(2), "{}", text(&refused));
    assert!(
        text(&refused).contains("odd is not a shard of the same campaign"),
        "{}",
        text(&refused)
    );
    // Shard 1 alone: analysed, with shard 2/2 named as missing.
    let alone = host(&dir, &["analyze", "c/s1", "--out", "alone"]);
    assert!(alone.status.success(), "{}", text(&alone));
    assert!(
        text(&alone).contains("shard 2/2 is missing: iterations 2"),
        "{}",
        text(&alone)
    );
}
