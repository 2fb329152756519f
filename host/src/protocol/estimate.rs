//! How long will a campaign take? Extrapolated from runs already measured on this machine:
//! earlier campaigns in `results/` that trained the same model with the same batch size and
//! threads give each plugin's setup time, training throughput and evaluation throughput;
//! those scale to this manifest's data sizes and epochs.

use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;

use crate::manifest::Manifest;

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
    let mut sums: HashMap<String, (f64, f64, f64, usize)> = HashMap::new();
    let Ok(entries) = std::fs::read_dir(results) else {
        return HashMap::new();
    };
    for dir in entries.filter_map(|e| e.ok().map(|e| e.path())) {
        let Ok(text) = std::fs::read_to_string(dir.join("manifest.toml")) else {
            continue;
        };
        let Ok(old) = Manifest::parse(&dir.join("manifest.toml"), text) else {
            continue;
        };
        if old.model != manifest.model
            || old.training.batch_size != manifest.training.batch_size
            || old.training.threads != manifest.training.threads
        {
            continue;
        }
        let train_n =
            old.dataset.train_subset.unwrap_or(60_000) as f64 * old.training.epochs as f64;
        let test_n = old.dataset.test_subset.unwrap_or(10_000) as f64;
        let Ok(mut reader) = csv::Reader::from_path(dir.join("runs.csv")) else {
            continue;
        };
        let Ok(header) = reader.headers().cloned() else {
            continue;
        };
        let at = |name: &str| header.iter().position(|h| h == name);
        let (Some(p), Some(st), Some(su), Some(tr), Some(ev)) = (
            at("plugin"),
            at("status"),
            at("setup_time_s"),
            at("train_time_s"),
            at("eval_time_s"),
        ) else {
            continue;
        };
        for rec in reader.records().filter_map(Result::ok) {
            let num = |i: usize| {
                rec.get(i)
                    .and_then(|v| v.parse::<f64>().ok())
                    .filter(|v| *v > 0.0)
            };
            if rec.get(st) != Some("ok") {
                continue;
            }
            if let (Some(setup), Some(train), Some(eval)) = (num(su), num(tr), num(ev)) {
                let e = sums
                    .entry(rec.get(p).unwrap_or("").to_string())
                    .or_default();
                e.0 += setup;
                e.1 += train_n / train;
                e.2 += test_n / eval;
                e.3 += 1;
            }
        }
    }
    sums.into_iter()
        .map(|(name, (s, t, e, n))| {
            let n_f = n as f64;
            (
                name,
                PluginRate {
                    setup_s: s / n_f,
                    train_per_s: t / n_f,
                    eval_per_s: e / n_f,
                    runs: n,
                },
            )
        })
        .collect()
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
        let results = std::env::temp_dir().join(format!("jb-estimate-{}", std::process::id()));
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
        let rates = measured_rates(&results, &quick);
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
        assert!(measured_rates(&results, &other).is_empty());
        let _ = std::fs::remove_dir_all(&results);
    }
}
