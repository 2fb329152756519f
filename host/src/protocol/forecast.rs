//! How long will a campaign take? Extrapolated from runs already measured on this machine:
//! earlier campaigns in `results/` that trained the same model with the same batch size and
//! threads give each plugin's setup time, training throughput and evaluation throughput;
//! those scale to this manifest's data sizes and epochs.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::manifest::Manifest;
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
    let Ok(entries) = std::fs::read_dir(results) else {
        return HashMap::new();
    };
    for dir in entries.filter_map(|e| e.ok().map(|e| e.path())) {
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

/// Campaign folders under `results` (sorted) whose runs can serve as a pilot for
/// `manifest`: the same manifest (its bytes' SHA-256), or the same model, batch size and
/// threads (as for the rates) and the same plugins.
pub fn comparable_campaigns(results: &Path, manifest: &Manifest) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(results) else {
        return Vec::new();
    };
    let names = |m: &Manifest| {
        let mut n: Vec<String> = m.plugins.iter().map(|p| p.name.clone()).collect();
        n.sort();
        n
    };
    let mut dirs: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
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
}
