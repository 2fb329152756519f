//! How long will a campaign take? Extrapolated from runs already measured on this machine:
//! earlier campaigns in `results/` that trained the same model with the same batch size and
//! threads give each plugin's setup time, training throughput and evaluation throughput;
//! those scale to this manifest's data sizes and epochs.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::manifest::Manifest;
use crate::plan::PlannedRun;
use crate::store::record::{Phase, RunStatus};
use crate::store::runs_csv::{Column, RunsReader};
use crate::store::CampaignDir;

/// Measured rates of one plugin.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PluginRate {
    pub setup_s: f64,
    /// Training samples per second (samples × epochs / training time).
    pub train_per_s: f64,
    /// Test samples per second.
    pub eval_per_s: f64,
    /// Runs these figures come from.
    pub runs: usize,
}

/// Rates per plugin name, from every comparable campaign under `results`.
pub fn measured_rates(results: &Path, manifest: &Manifest) -> HashMap<String, PluginRate> {
    let mut sums: HashMap<String, RateSums> = HashMap::new();
    for dir in campaign_folders(results) {
        let dir = CampaignDir::open(&dir);
        let Some(old) = comparable_manifest(&dir, manifest) else {
            continue;
        };
        // Unreadable or foreign files are no evidence; the forecast does without them.
        let _ = add_rates(&dir, &old, &mut sums);
    }
    sums.into_iter()
        .map(|(name, s)| {
            let n_f = s.runs as f64;
            let rate = PluginRate {
                setup_s: s.setup_s / n_f,
                train_per_s: s.train_per_s / n_f,
                eval_per_s: s.eval_per_s / n_f,
                runs: s.runs,
            };
            (name, rate)
        })
        .collect()
}

/// The folders under `results` that may hold a campaign: its subfolders, and the subfolders
/// of those without a runs.csv (a sharded campaign's parent, `host slurm --out`).
fn campaign_folders(results: &Path) -> Vec<PathBuf> {
    let children = |dir: &Path| -> Vec<PathBuf> {
        std::fs::read_dir(dir)
            .map(|entries| {
                entries
                    .filter_map(|e| e.ok().map(|e| e.path()))
                    .filter(|p| p.is_dir())
                    .collect()
            })
            .unwrap_or_default()
    };
    let mut found = Vec::new();
    for dir in children(results) {
        if CampaignDir::open(&dir).runs_csv().is_file() {
            found.push(dir);
        } else {
            found.extend(children(&dir));
        }
    }
    found
}

/// Campaign folders under `results` (sorted; shard folders too) whose runs can serve as a pilot for
/// `manifest`: the same manifest (its bytes' SHA-256), or the same model, batch size and
/// threads (as for the rates) and the same plugins.
pub fn comparable_campaigns(results: &Path, manifest: &Manifest) -> Vec<PathBuf> {
    let names = |m: &Manifest| {
        let mut n: Vec<String> = m.plugins.iter().map(|p| p.name.clone()).collect();
        n.sort();
        n
    };
    let mut dirs: Vec<PathBuf> = campaign_folders(results)
        .into_iter()
        .filter(|path| {
            let dir = CampaignDir::open(path);
            dir.runs_csv().is_file()
                && comparable_manifest(&dir, manifest).is_some_and(|old| {
                    old.sha256 == manifest.sha256 || names(&old) == names(manifest)
                })
        })
        .collect();
    dirs.sort();
    dirs
}

/// Sums over runs of one plugin, averaged at the end.
#[derive(Default)]
struct RateSums {
    setup_s: f64,
    train_per_s: f64,
    eval_per_s: f64,
    runs: usize,
}

/// The manifest a campaign folder ran, when it trained the same model with the same batch
/// size and threads as `manifest`.
fn comparable_manifest(dir: &CampaignDir, manifest: &Manifest) -> Option<Manifest> {
    let path = dir.manifest_copy();
    let old = Manifest::parse(&path, std::fs::read_to_string(&path).ok()?).ok()?;
    let comparable = old.model == manifest.model
        && old.training.batch_size == manifest.training.batch_size
        && old.training.threads == manifest.training.threads;
    comparable.then_some(old)
}

/// Adds the rates of every `ok` run in `dir`'s runs.csv that has all three phase times.
fn add_rates(
    dir: &CampaignDir,
    old: &Manifest,
    sums: &mut HashMap<String, RateSums>,
) -> anyhow::Result<()> {
    let train_n = old.dataset.train_subset.unwrap_or(60_000) as f64 * old.training.epochs as f64;
    let test_n = old.dataset.test_subset.unwrap_or(10_000) as f64;
    let mut reader = RunsReader::open(&dir.runs_csv())?;
    let at = |c: Column| reader.column(&c.name());
    let (Some(p), Some(st), Some(su), Some(tr), Some(ev)) = (
        at(Column::Plugin),
        at(Column::Status),
        at(Column::PhaseTime(Phase::Setup)),
        at(Column::PhaseTime(Phase::Train)),
        at(Column::PhaseTime(Phase::Eval)),
    ) else {
        return Ok(());
    };
    let mut rec = csv::StringRecord::new();
    loop {
        match reader.read(&mut rec) {
            Ok(true) => {}
            Ok(false) => break,
            // A malformed row is skipped; a file that cannot be read ends it.
            Err(e) if e.is_io_error() => break,
            Err(_) => continue,
        }
        let num = |i: usize| {
            rec.get(i)
                .and_then(|v| v.parse::<f64>().ok())
                .filter(|v| *v > 0.0)
        };
        if rec.get(st).and_then(RunStatus::from_cell) != Some(RunStatus::Ok) {
            continue;
        }
        if let (Some(setup), Some(train), Some(eval)) = (num(su), num(tr), num(ev)) {
            let e = sums
                .entry(rec.get(p).unwrap_or("").to_string())
                .or_default();
            e.setup_s += setup;
            e.train_per_s += train_n / train;
            e.eval_per_s += test_n / eval;
            e.runs += 1;
        }
    }
    Ok(())
}

/// Expected duration of one run of a plugin under `manifest`, from its measured rate.
pub fn run_duration(manifest: &Manifest, rate: &PluginRate) -> Duration {
    let train_n =
        manifest.dataset.train_subset.unwrap_or(60_000) as f64 * manifest.training.epochs as f64;
    let test_n = manifest.dataset.test_subset.unwrap_or(10_000) as f64;
    let secs = rate.setup_s + train_n / rate.train_per_s + test_n / rate.eval_per_s;
    Duration::from_secs_f64(secs.max(0.0))
}

/// Warm-up, idle baselines (before, and after when asked) and the rests between `runs` runs,
/// each at its longest: what a campaign (or one shard of it) spends besides running.
pub fn overhead(manifest: &Manifest, runs: usize) -> Duration {
    let e = &manifest.experiment;
    let baselines = if e.idle_baseline_after { 2 } else { 1 };
    let rests = u32::try_from(runs.saturating_sub(1)).unwrap_or(u32::MAX);
    // Saturating: durations a manifest may hold must not overflow the sum.
    e.warmup
        .saturating_add(e.idle_baseline.saturating_mul(baselines))
        .saturating_add(e.rest.longest().saturating_mul(rests))
}

/// The expected duration of some runs: the overhead plus each run's expected time; plugins
/// without a measured rate count zero and are named in `unknown`.
#[derive(Debug, Clone, PartialEq)]
pub struct Estimate {
    pub total: Duration,
    pub unknown: Vec<String>,
}

/// How long `planned` (a campaign's or a shard's runs) should take from start to end.
pub fn campaign_duration(
    manifest: &Manifest,
    planned: &[PlannedRun],
    rates: &HashMap<String, PluginRate>,
) -> Estimate {
    let mut total = overhead(manifest, planned.len());
    let mut unknown = Vec::new();
    for r in planned {
        let name = &manifest.plugins[r.plugin].name;
        match rates.get(name) {
            Some(rate) => total = total.saturating_add(run_duration(manifest, rate)),
            None if !unknown.contains(name) => unknown.push(name.clone()),
            None => {}
        }
    }
    Estimate { total, unknown }
}

#[cfg(test)]
mod tests {
    use super::*;

    const QUICK: &str = include_str!("../../../manifests/quick.toml");

    #[test]
    fn rates_from_a_quick_campaign_scale_to_a_larger_one() {
        let tmp = tempfile::tempdir().unwrap();
        let results = tmp.path();
        let campaign = results.join("quick-1");
        std::fs::create_dir_all(&campaign).unwrap();
        std::fs::write(campaign.join("manifest.toml"), QUICK).unwrap();
        // quick: 500 training images × 1 epoch, 1000 test images.
        std::fs::write(
            campaign.join("runs.csv"),
            "plugin,status,setup_time_s,train_time_s,eval_time_s\n\
             a,ok,1,2,0.5\n\
             a,ok,3,2,0.5\n\
             a,failed,,,\n",
        )
        .unwrap();
        let quick = Manifest::parse(&campaign.join("manifest.toml"), QUICK.into()).unwrap();
        let rates = measured_rates(results, &quick);
        let a = &rates["a"];
        assert_eq!(
            (a.runs, a.setup_s, a.train_per_s, a.eval_per_s),
            (2, 2.0, 250.0, 2000.0)
        );

        // Ten times the data and three epochs: 2 s setup + 15000/250 s + 10000/2000 s.
        let bigger = QUICK
            .replace("train_subset = 500", "train_subset = 5000")
            .replace("test_subset = 1000", "test_subset = 10000")
            .replace("epochs = 1", "epochs = 3");
        let bigger = Manifest::parse(Path::new("m.toml"), bigger).unwrap();
        assert_eq!(run_duration(&bigger, a), Duration::from_secs(67));

        // A different model is not comparable.
        let other = Manifest::parse(
            Path::new("m.toml"),
            QUICK.replace("filters = 64", "filters = 32"),
        )
        .unwrap();
        assert!(measured_rates(results, &other).is_empty());
    }

    #[test]
    fn shards_of_a_campaign_under_one_parent_count_and_split_the_wall_time() {
        let tmp = tempfile::tempdir().unwrap();
        let shard = tmp.path().join("quick-slurm/shard-1");
        std::fs::create_dir_all(&shard).unwrap();
        std::fs::write(shard.join("manifest.toml"), QUICK).unwrap();
        std::fs::write(
            shard.join("runs.csv"),
            "plugin,status,setup_time_s,train_time_s,eval_time_s\nburn,ok,1,2,0.5\n",
        )
        .unwrap();
        // Only burn, no rests: every run takes 1 + 500/250 + 1000/2000 = 3.5 s.
        let text = QUICK.replace("rest = \"2s\"", "rest = \"0s\"");
        let quick = Manifest::parse(&shard.join("manifest.toml"), text).unwrap();
        let rates = measured_rates(tmp.path(), &quick);
        assert_eq!(rates["burn"].runs, 1);

        let burn = quick.plugins.iter().position(|p| p.name == "burn").unwrap();
        let whole = crate::plan::plan(42, 5, quick.plugins.len());
        let burns: Vec<PlannedRun> = whole.into_iter().filter(|r| r.plugin == burn).collect();
        let all = campaign_duration(&quick, &burns, &rates);
        assert_eq!(
            (all.total, all.unknown.len()),
            (Duration::from_secs_f64(17.5), 0)
        );
        let first = crate::plan::Shard::new(1, 2).unwrap().select(&burns);
        let first = campaign_duration(&quick, &first, &rates);
        assert_eq!(
            first.total,
            Duration::from_secs_f64(3.0 * 3.5),
            "iterations 1, 3, 5"
        );

        let other = campaign_duration(
            &quick,
            &crate::plan::plan(42, 1, quick.plugins.len()),
            &rates,
        );
        assert!(other.unknown.contains(&"keras".to_string()), "{other:?}");
    }
}
