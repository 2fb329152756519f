//! Resuming and retrying: whether a folder holds a campaign this manifest may continue (taking
//! its lock), which runs are recorded, and which failed runs are due for another try.

use std::collections::{BTreeSet, HashMap};
use std::io::ErrorKind;
use std::path::Path;

use super::folder::{CampaignState, Resumed};
use crate::error::usage;
use crate::manifest::Manifest;
use crate::plan::{PlannedRun, Shard};
use crate::shell;
use crate::store::lock::CampaignLock;
use crate::store::runs_csv::ExistingRun;
use crate::store::CampaignDir;

/// One run to do: a planned run, or the k-th retry of a failed one.
#[derive(Debug, Clone, PartialEq)]
pub struct Job {
    pub run: PlannedRun,
    pub retry: u32,
}

/// Checks that `dir` holds a campaign this manifest may continue, and locks it first: two
/// hosts resuming one folder would measure its remaining runs twice. `shard` (`--shard`) is
/// the one a folder killed before its first campaign.json is taken to hold.
pub fn open_for_resume(
    manifest: &Manifest,
    dir: &Path,
    shard: Option<Shard>,
) -> anyhow::Result<Resumed> {
    let campaign = CampaignDir::open(dir);
    let state_path = campaign.state_json();
    if !state_path.exists() && !campaign.manifest_copy().exists() {
        return Err(usage(format!(
            "{}: not a campaign folder to resume (neither {} nor {} is there)",
            dir.display(),
            state_path.display(),
            campaign.manifest_copy().display()
        )));
    }
    let lock = CampaignLock::acquire(&campaign.lock_file())?;
    let state = read_state(&campaign, manifest, shard)?;
    // The plan is rebuilt from it: an edited count must not allocate a plan of billions.
    crate::manifest::bounds::check_iterations(state.iterations)
        .map_err(|e| usage(format!("{}: {e}", state_path.display())))?;
    let saved_path = campaign.manifest_copy();
    let saved = std::fs::read_to_string(&saved_path)
        .map_err(|e| usage(format!("cannot read {} ({e})", saved_path.display())))?;
    let differing = incomparable_sections(&saved, &manifest.text);
    if !differing.is_empty() {
        return Err(usage(format!(
            "{} differs from the manifest this campaign started with ({}) in {}: runs would not be \
             comparable, so the campaign cannot be resumed with it. Resume with the saved copy: \
             host run {} --resume {}",
            manifest.path.display(),
            saved_path.display(),
            differing.join(", "),
            shell::quote_path(&saved_path),
            shell::quote_path(dir)
        )));
    }
    // A campaign started before the host made weights ran with the frameworks' own; the
    // same manifest text now means host weights, which would mix two inits in one campaign.
    if state.init != manifest.init.as_str() {
        return Err(usage(format!(
            "this campaign's runs started from `{}` initial weights, but the manifest now \
             asks for `{}` ([model] init): runs would not be comparable, so it cannot be \
             resumed. Add `init = \"{}\"` to [model], or start a new campaign.",
            state.init,
            manifest.init.as_str(),
            state.init
        )));
    }
    // Same manifest text, but an optional plugin may have been built (or removed) since: the
    // plan's order depends on the plugin list, so runs would line up differently.
    let now: Vec<String> = manifest.plugins.iter().map(|p| p.name.clone()).collect();
    if now != state.plugins {
        return Err(usage(format!(
            "this campaign ran the plugins [{}], but [{}] are available now (an optional plugin \
             was built or removed since): the shuffled plan would differ, so it cannot be \
             resumed. Restore the plugin files it started with, or start a new campaign.",
            state.plugins.join(", "),
            now.join(", ")
        )));
    }
    Ok(Resumed {
        dir: campaign,
        state,
        lock,
    })
}

/// campaign.json; or, when a kill came before it was first saved and nothing was measured yet,
/// the state of a new campaign of `manifest` (the caller checks it against the saved copy).
fn read_state(
    campaign: &CampaignDir,
    manifest: &Manifest,
    shard: Option<Shard>,
) -> anyhow::Result<CampaignState> {
    let path = campaign.state_json();
    match std::fs::read_to_string(&path) {
        Ok(text) => serde_json::from_str(&text)
            .map_err(|e| usage(format!("{}: unreadable ({e})", path.display()))),
        Err(e) if e.kind() == ErrorKind::NotFound && holds_no_runs(&campaign.runs_csv()) => Ok(
            CampaignState::new(manifest, manifest.experiment.iterations, shard),
        ),
        Err(e) => Err(usage(format!(
            "{}: not a campaign folder to resume ({e})",
            path.display()
        ))),
    }
}

/// Whether runs.csv is missing, empty or holds its header only.
fn holds_no_runs(runs_csv: &Path) -> bool {
    match std::fs::read_to_string(runs_csv) {
        Ok(text) => text.lines().filter(|l| !l.trim().is_empty()).count() <= 1,
        Err(e) => e.kind() == ErrorKind::NotFound,
    }
}

/// Top-level manifest sections (or `experiment.<key>`) that differ in a way that changes what
/// is measured. The analysis steps, the report's carbon and cost factors, the number of
/// iterations and the parity preflight may change on resume. `[model] init` is compared
/// through campaign.json instead (a campaign from before it existed has `framework` saved),
/// so that such a campaign resumes once `init = "framework"` is written.
fn incomparable_sections(saved: &str, current: &str) -> Vec<String> {
    let parse = |t: &str| t.parse::<toml::Table>().unwrap_or_default();
    let (mut a, mut b) = (parse(saved), parse(current));
    for table in [&mut a, &mut b] {
        table.remove("analysis");
        table.remove("report");
        // The saved copy names the original's folder; the original need not.
        table.remove(crate::manifest::PATHS_RELATIVE_TO);
        if let Some(toml::Value::Table(e)) = table.get_mut("experiment") {
            e.remove("iterations");
            e.remove("parity");
        }
        if let Some(toml::Value::Table(m)) = table.get_mut("model") {
            m.remove("init");
        }
    }
    let keys: BTreeSet<&String> = a.keys().chain(b.keys()).collect();
    keys.into_iter()
        .filter(|k| a.get(*k) != b.get(*k))
        .map(|k| format!("[{k}]"))
        .collect()
}

/// Which (iteration, plugin) runs exist, which succeeded, and how often each was retried.
#[derive(Default)]
pub struct History {
    /// (iteration, plugin) → (any ok, highest retry number)
    runs: HashMap<(u32, String), (bool, u32)>,
}

impl History {
    pub fn from_rows(rows: &[ExistingRun]) -> Self {
        let mut h = History::default();
        for r in rows {
            let e = h
                .runs
                .entry((r.iteration, r.plugin.clone()))
                .or_insert((false, 0));
            e.0 |= r.ok;
            e.1 = e.1.max(r.retry);
        }
        h
    }

    /// The planned runs not recorded yet, in plan order.
    pub fn to_do(&self, planned: &[PlannedRun], manifest: &Manifest) -> Vec<Job> {
        planned
            .iter()
            .filter(|r| {
                let name = &manifest.plugins[r.plugin].name;
                !self.runs.contains_key(&(r.iteration, name.clone()))
            })
            .map(|r| Job {
                run: r.clone(),
                retry: 0,
            })
            .collect()
    }

    /// Records a finished run (its retry number was counted when it was queued).
    pub fn add(&mut self, iteration: u32, plugin: &str, ok: bool) {
        self.runs
            .entry((iteration, plugin.to_string()))
            .or_insert((false, 0))
            .0 |= ok;
    }

    /// Retries to run now, in plan order: runs with no success and fewer than `max` retries
    /// so far.
    pub fn retries_due(
        &mut self,
        planned: &[PlannedRun],
        manifest: &Manifest,
        max: u32,
    ) -> Vec<Job> {
        let mut jobs = Vec::new();
        for r in planned {
            let name = &manifest.plugins[r.plugin].name;
            if let Some(e) = self.runs.get_mut(&(r.iteration, name.clone())) {
                if !e.0 && e.1 < max {
                    e.1 += 1;
                    jobs.push(Job {
                        run: r.clone(),
                        retry: e.1,
                    });
                }
            }
        }
        jobs
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_measurement_sections_block_a_resume() {
        let a = "[experiment]\niterations = 3\nseed = 1\n[training]\nepochs = 1\n[[analysis]]\nstep = \"clean\"\n";
        let more_iterations = a.replace("iterations = 3", "iterations = 10");
        let other_analysis = a.replace("\"clean\"", "\"describe\"");
        assert!(incomparable_sections(a, &more_iterations).is_empty());
        assert!(incomparable_sections(a, &other_analysis).is_empty());
        let with_report = a.replace(
            "[[analysis]]",
            "[report]\ngrid_intensity = 400\n[[analysis]]",
        );
        let other_report = with_report.replace("400", "50");
        assert!(incomparable_sections(a, &with_report).is_empty());
        assert!(incomparable_sections(&with_report, &other_report).is_empty());
        let other_epochs = a.replace("epochs = 1", "epochs = 2");
        assert_eq!(incomparable_sections(a, &other_epochs), vec!["[training]"]);
        let other_seed = a.replace("seed = 1", "seed = 2");
        assert_eq!(incomparable_sections(a, &other_seed), vec!["[experiment]"]);
        // init is checked against campaign.json instead; the parity preflight measures nothing.
        let with_model = a.replace("[training]", "[model]\nlayers = []\n[training]");
        let with_init = with_model.replace("layers = []", "layers = []\ninit = \"framework\"");
        let with_parity = with_model.replace("seed = 1", "seed = 1\nparity = true");
        assert!(incomparable_sections(&with_model, &with_init).is_empty());
        assert!(incomparable_sections(&with_model, &with_parity).is_empty());
    }
}
