//! Merging the shards of one campaign for `host analyze`: a parent folder stands for the shard
//! folders in it; the shards must come from the same manifest and plan, never measure the same
//! (iteration, plugin) twice, and — unless the user allows it — share CPU model and energy
//! meter, since joules from different hardware or counters are not the same quantity.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use anyhow::Context;

use crate::error::usage;
use crate::protocol::campaign::CampaignState;
use crate::store::runs_csv::RunsReader;
use crate::store::CampaignDir;

/// A shard folder and what it says about itself.
struct ShardFolder {
    dir: PathBuf,
    state: CampaignState,
    /// Per machine record (environment.json and one per resume): what measured.
    machines: Vec<Machine>,
}

/// The hardware facts that must agree for joules to be comparable.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Machine {
    cpu_model: String,
    meter: String,
}

/// Replaces every input that is a parent of shard folders (no runs.csv of its own, subfolders
/// holding a sharded campaign.json) by those folders, in shard order.
pub fn expand_inputs(inputs: &[PathBuf]) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for input in inputs {
        match shard_children(input) {
            Some(children) => out.extend(children),
            None => out.push(input.clone()),
        }
    }
    out
}

fn shard_children(dir: &Path) -> Option<Vec<PathBuf>> {
    if !dir.is_dir() || CampaignDir::open(dir).runs_csv().exists() {
        return None;
    }
    let mut found: Vec<(u32, PathBuf)> = std::fs::read_dir(dir)
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter_map(|p| {
            let state = read_state(&p).ok()?;
            Some((state.shard?.index, p))
        })
        .collect();
    found.sort();
    (!found.is_empty()).then(|| found.into_iter().map(|(_, p)| p).collect())
}

/// Checks that the campaign folders among `inputs` can be merged; returns the warnings the
/// report must carry (missing shards, mixed hardware allowed). Nothing to check, and no
/// warning, when no input is a shard.
pub fn check_shards(inputs: &[PathBuf], allow_mixed_hardware: bool) -> anyhow::Result<Vec<String>> {
    let mut folders = Vec::new();
    for dir in inputs
        .iter()
        .filter(|d| CampaignDir::open(d).state_json().is_file())
    {
        folders.push(ShardFolder {
            state: read_state(dir)?,
            machines: machines(dir)?,
            dir: dir.clone(),
        });
    }
    if folders.iter().all(|f| f.state.shard.is_none()) {
        return Ok(Vec::new());
    }
    same_campaign(&folders)?;
    no_run_twice(&folders)?;
    let mut notes = missing_shards(&folders);
    notes.extend(hardware(&folders, allow_mixed_hardware)?);
    Ok(notes)
}

/// Every folder is a shard of the first one's campaign: same manifest, seed, iterations,
/// plugins and shard count, and no shard given twice.
fn same_campaign(folders: &[ShardFolder]) -> anyhow::Result<()> {
    let first = &folders[0];
    let describe = |f: &ShardFolder| {
        let s = &f.state;
        let shard = s
            .shard
            .map_or("a whole campaign".into(), |x| format!("shard {x}"));
        format!(
            "{} ({shard}, manifest sha256 {}…, seed {}, {} iterations, plugins [{}])",
            f.dir.display(),
            &s.manifest_sha256[..s.manifest_sha256.len().min(12)],
            s.seed,
            s.iterations,
            s.plugins.join(", ")
        )
    };
    let mut seen: BTreeMap<u32, &Path> = BTreeMap::new();
    for f in folders {
        let (a, b) = (&first.state, &f.state);
        let same = a.manifest_sha256 == b.manifest_sha256
            && a.seed == b.seed
            && a.iterations == b.iterations
            && a.plugins == b.plugins
            && a.shard.map(|s| s.count) == b.shard.map(|s| s.count);
        if !same {
            return Err(usage(format!(
                "{} is not a shard of the same campaign as {}: they cannot be merged\n  {}\n  {}",
                f.dir.display(),
                first.dir.display(),
                describe(first),
                describe(f)
            )));
        }
        if let Some(s) = b.shard {
            if let Some(other) = seen.insert(s.index, &f.dir) {
                return Err(usage(format!(
                    "shard {s} is given twice: {} and {}",
                    other.display(),
                    f.dir.display()
                )));
            }
        }
    }
    Ok(())
}

/// No (iteration, plugin) is recorded by two shards (retries within one shard are fine).
fn no_run_twice(folders: &[ShardFolder]) -> anyhow::Result<()> {
    let mut owner: BTreeMap<(u32, String), &Path> = BTreeMap::new();
    for f in folders {
        for run in recorded_runs(&f.dir)? {
            if let Some(other) = owner.get(&run).filter(|o| **o != f.dir.as_path()) {
                return Err(usage(format!(
                    "iteration {} of `{}` is in two shards: {} and {}; a run must be measured \
                     once (were the shards started with different --shard numbers?)",
                    run.0,
                    run.1,
                    other.display(),
                    f.dir.display()
                )));
            }
            owner.insert(run, &f.dir);
        }
    }
    Ok(())
}

/// The (iteration, plugin) pairs in a folder's runs.csv.
fn recorded_runs(dir: &Path) -> anyhow::Result<BTreeSet<(u32, String)>> {
    let path = CampaignDir::open(dir).runs_csv();
    let mut reader = RunsReader::open(&path)?;
    let (Some(it), Some(pl)) = (reader.column("iteration"), reader.column("plugin")) else {
        return Err(usage(format!(
            "{}: no iteration or plugin column",
            path.display()
        )));
    };
    let mut runs = BTreeSet::new();
    let mut rec = csv::StringRecord::new();
    while reader
        .read(&mut rec)
        .with_context(|| format!("{}: unreadable row", path.display()))?
    {
        let iteration = rec
            .get(it)
            .and_then(|v| v.trim().parse().ok())
            .ok_or_else(|| {
                usage(format!(
                    "{}: a row without an iteration number",
                    path.display()
                ))
            })?;
        runs.insert((iteration, rec.get(pl).unwrap_or("").trim().to_string()));
    }
    Ok(runs)
}

/// "shard 2/3 is missing (iterations 2, 5, …)" for every shard not given.
fn missing_shards(folders: &[ShardFolder]) -> Vec<String> {
    let Some(count) = folders[0].state.shard.map(|s| s.count) else {
        return Vec::new();
    };
    let given: BTreeSet<u32> = folders
        .iter()
        .filter_map(|f| f.state.shard.map(|s| s.index))
        .collect();
    (1..=count)
        .filter(|k| !given.contains(k))
        .filter_map(|k| crate::plan::Shard::new(k, count).ok())
        .map(|s| {
            let its: Vec<String> = s
                .iterations(folders[0].state.iterations)
                .iter()
                .map(u32::to_string)
                .collect();
            format!(
                "shard {s} is missing: iterations {} are not in this analysis",
                its.join(", ")
            )
        })
        .collect()
}

/// Refuses shards measured by different CPU models or energy meters, unless allowed (then a
/// warning: node is a factor, see the per-node medians).
fn hardware(folders: &[ShardFolder], allow: bool) -> anyhow::Result<Vec<String>> {
    let mut by_machine: BTreeMap<&Machine, Vec<String>> = BTreeMap::new();
    for f in folders {
        for m in &f.machines {
            let names = by_machine.entry(m).or_default();
            let name = f.dir.display().to_string();
            if !names.contains(&name) {
                names.push(name);
            }
        }
    }
    if by_machine.len() < 2 {
        return Ok(Vec::new());
    }
    let kinds: Vec<String> = by_machine
        .iter()
        .map(|(m, dirs)| format!("{} / {}: {}", m.cpu_model, m.meter, dirs.join(", ")))
        .collect();
    if !allow {
        return Err(usage(format!(
            "the shards were measured on different hardware or energy meters, whose joules are \
             not the same quantity:\n  {}\nanalyse them apart, or pass --allow-mixed-hardware \
             to pool them (node then becomes a factor: see the per-node medians)",
            kinds.join("\n  ")
        )));
    }
    Ok(vec![format!(
        "mixed hardware pooled (--allow-mixed-hardware): {}; node is a factor, compare the \
         per-node medians before trusting pooled figures",
        kinds.join("; ")
    )])
}

fn read_state(dir: &Path) -> anyhow::Result<CampaignState> {
    let path = CampaignDir::open(dir).state_json();
    let text = std::fs::read_to_string(&path)
        .map_err(|e| usage(format!("cannot read {} ({e})", path.display())))?;
    serde_json::from_str(&text).map_err(|e| usage(format!("{}: unreadable ({e})", path.display())))
}

/// The CPU model and energy meter of every environment record in `dir` (the first run's and
/// one per resume, which may have landed on another node).
fn machines(dir: &Path) -> anyhow::Result<Vec<Machine>> {
    let mut found = BTreeSet::new();
    let entries =
        std::fs::read_dir(dir).with_context(|| format!("cannot list {}", dir.display()))?;
    for path in entries.filter_map(|e| e.ok().map(|e| e.path())) {
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if !(name.starts_with("environment") && name.ends_with(".json")) {
            continue;
        }
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        let env: serde_json::Value = serde_json::from_str(&text)
            .map_err(|e| usage(format!("{}: unreadable ({e})", path.display())))?;
        let field = |ptr: &str| env.pointer(ptr).map(|v| v.to_string()).unwrap_or_default();
        let text_field = |ptr: &str| {
            env.pointer(ptr)
                .and_then(|v| v.as_str())
                .unwrap_or("unknown")
                .to_string()
        };
        found.insert(Machine {
            cpu_model: text_field("/cpu/model"),
            meter: format!(
                "{} {}",
                text_field("/energy/label"),
                field("/energy/domains")
            ),
        });
    }
    Ok(found.into_iter().collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::Shard;

    /// A shard folder `name` under `root`: campaign.json, environment.json, runs.csv rows.
    fn shard(root: &Path, name: &str, k: u32, cpu: &str, runs: &[(u32, &str)]) -> PathBuf {
        let dir = root.join(name);
        std::fs::create_dir_all(&dir).unwrap();
        let state = CampaignState {
            manifest_sha256: "abc".into(),
            iterations: 4,
            shard: Some(Shard::new(k, 3).unwrap()),
            seed: 1,
            plugins: vec!["a".into(), "b".into()],
            host_version: "0".into(),
            init: "host".into(),
            idle_power_w: None,
            idle_power_after_w: None,
            idle_faults: Vec::new(),
            sequential: None,
        };
        std::fs::write(
            dir.join("campaign.json"),
            serde_json::to_string(&state).unwrap(),
        )
        .unwrap();
        let env = serde_json::json!({
            "cpu": { "model": cpu },
            "energy": { "label": "measured: powercap", "domains": ["package-0"] }
        });
        std::fs::write(dir.join("environment.json"), env.to_string()).unwrap();
        let mut csv = String::from("iteration,plugin,status\n");
        for (i, p) in runs {
            csv.push_str(&format!("{i},{p},ok\n"));
        }
        std::fs::write(dir.join("runs.csv"), csv).unwrap();
        dir
    }

    fn edit_state(dir: &Path, edit: impl FnOnce(&mut CampaignState)) {
        let mut state = read_state(dir).unwrap();
        edit(&mut state);
        std::fs::write(
            dir.join("campaign.json"),
            serde_json::to_string(&state).unwrap(),
        )
        .unwrap();
    }

    fn usage_error(result: anyhow::Result<Vec<String>>) -> String {
        let err = result.unwrap_err();
        assert!(crate::error::is_usage(&err), "{err:#}");
        format!("{err:#}")
    }

    #[test]
    fn a_parent_folder_stands_for_its_shards_in_shard_order() {
        let tmp = tempfile::tempdir().unwrap();
        let two = shard(tmp.path(), "b-second", 2, "X", &[(2, "a")]);
        let one = shard(tmp.path(), "z-first", 1, "X", &[(1, "a")]);
        std::fs::write(tmp.path().join("slurm-1_1.out"), "log").unwrap();
        let inputs = expand_inputs(&[tmp.path().to_path_buf(), PathBuf::from("other.csv")]);
        assert_eq!(
            inputs,
            vec![one.clone(), two.clone(), PathBuf::from("other.csv")]
        );
        // A shard folder itself is not expanded.
        assert_eq!(expand_inputs(std::slice::from_ref(&one)), vec![one]);
    }

    #[test]
    fn shards_of_one_campaign_merge_and_missing_ones_are_named() {
        let tmp = tempfile::tempdir().unwrap();
        let a = shard(
            tmp.path(),
            "1",
            1,
            "X",
            &[(1, "a"), (1, "b"), (1, "b"), (4, "a")],
        );
        let b = shard(tmp.path(), "2", 2, "X", &[(2, "a"), (2, "b")]);
        let notes = check_shards(&[a, b], false).unwrap();
        assert_eq!(
            notes,
            ["shard 3/3 is missing: iterations 3 are not in this analysis"]
        );
    }

    #[test]
    fn another_campaign_is_refused_naming_the_odd_folder() {
        let tmp = tempfile::tempdir().unwrap();
        let a = shard(tmp.path(), "1", 1, "X", &[(1, "a")]);
        let b = shard(tmp.path(), "odd", 2, "X", &[(2, "a")]);
        edit_state(&b, |s| s.manifest_sha256 = "def".into());
        let msg = usage_error(check_shards(&[a.clone(), b.clone()], false));
        assert!(
            msg.contains(&format!(
                "{} is not a shard of the same campaign",
                b.display()
            )),
            "{msg}"
        );
        edit_state(&b, |s| {
            s.manifest_sha256 = "abc".into();
            s.seed = 2;
        });
        let msg = usage_error(check_shards(&[a.clone(), b.clone()], false));
        assert!(msg.contains("seed 2"), "{msg}");
        edit_state(&b, |s| {
            s.seed = 1;
            s.shard = Some(Shard::new(1, 3).unwrap());
        });
        let msg = usage_error(check_shards(&[a, b], false));
        assert!(msg.contains("shard 1/3 is given twice"), "{msg}");
    }

    #[test]
    fn a_run_in_two_shards_is_refused() {
        let tmp = tempfile::tempdir().unwrap();
        let a = shard(tmp.path(), "1", 1, "X", &[(1, "a"), (4, "b")]);
        let b = shard(tmp.path(), "2", 2, "X", &[(2, "a"), (4, "b")]);
        let msg = usage_error(check_shards(&[a, b], false));
        assert!(msg.contains("iteration 4 of `b` is in two shards"), "{msg}");
    }

    #[test]
    fn mixed_cpus_are_refused_unless_allowed_then_warned() {
        let tmp = tempfile::tempdir().unwrap();
        let a = shard(tmp.path(), "1", 1, "EPYC", &[(1, "a")]);
        let b = shard(tmp.path(), "2", 2, "Xeon", &[(2, "a")]);
        let c = shard(tmp.path(), "3", 3, "EPYC", &[(3, "a")]);
        let inputs = [a, b, c];
        let msg = usage_error(check_shards(&inputs, false));
        assert!(
            msg.contains("--allow-mixed-hardware") && msg.contains("Xeon"),
            "{msg}"
        );
        let notes = check_shards(&inputs, true).unwrap();
        assert_eq!(notes.len(), 1, "{notes:?}");
        assert!(notes[0].contains("node is a factor"), "{}", notes[0]);

        // Another energy meter is as different as another CPU.
        let tmp = tempfile::tempdir().unwrap();
        let a = shard(tmp.path(), "1", 1, "EPYC", &[(1, "a")]);
        let b = shard(tmp.path(), "2", 2, "EPYC", &[(2, "a")]);
        let env = serde_json::json!({
            "cpu": { "model": "EPYC" },
            "energy": { "label": "estimate: cpu-time model", "domains": ["cpu-estimate"] }
        });
        std::fs::write(b.join("environment-resume-x.json"), env.to_string()).unwrap();
        let msg = usage_error(check_shards(&[a, b], false));
        assert!(msg.contains("estimate: cpu-time model"), "{msg}");
    }

    #[test]
    fn whole_campaigns_are_not_checked_as_shards() {
        let tmp = tempfile::tempdir().unwrap();
        let a = shard(tmp.path(), "1", 1, "EPYC", &[(1, "a")]);
        let b = shard(tmp.path(), "2", 2, "Xeon", &[(1, "a")]);
        for dir in [&a, &b] {
            edit_state(dir, |s| s.shard = None);
        }
        assert!(check_shards(&[a.clone(), b.clone()], false)
            .unwrap()
            .is_empty());
        // A shard among whole campaigns is an odd one.
        edit_state(&b, |s| s.shard = Some(Shard::new(2, 3).unwrap()));
        let msg = usage_error(check_shards(&[a, b], false));
        assert!(msg.contains("a whole campaign"), "{msg}");
    }
}
