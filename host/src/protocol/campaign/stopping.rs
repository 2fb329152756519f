//! Stopping early (`[experiment] stop`): after each recorded run, whether the runs so far
//! reach a look the campaign has not taken; if so the design decides on runs.csv's `ok`
//! rows (read as the analysis reads them, see [`crate::analysis::looks`]), one line per
//! look is printed, campaign.json records the looks, and the campaign stops when every
//! pair is decided or the last look is reached.
//!
//! A look at `n` iterations is taken once every plugin has `n` ok runs — with no failures,
//! right after the last run of iteration `n`; a failed run delays it until a later run (or
//! a retry) of that plugin succeeds. That is the rule [`crate::analysis::sequential::replay`]
//! uses, so the `sequential` step replays a stopped campaign to the same looks.

use super::folder::CampaignState;
use crate::analysis::looks::{values_so_far, LookLog};
use crate::analysis::sequential::{decide, Design};
use crate::store::runs_csv::ExistingRun;
use crate::store::CampaignDir;

/// The design of a campaign and what it has seen so far.
pub struct Stopping<'a> {
    design: &'a Design,
    dir: &'a CampaignDir,
    /// Where the looks are recorded (and saved with the rest of campaign.json).
    state: &'a mut CampaignState,
    /// Plugins in manifest order, and each one's ok rows so far.
    plugins: Vec<String>,
    ok: Vec<usize>,
    /// Rows in runs.csv.
    rows: usize,
}

impl<'a> Stopping<'a> {
    /// Counts the rows already recorded (a resumed campaign's).
    pub fn new(
        design: &'a Design,
        dir: &'a CampaignDir,
        state: &'a mut CampaignState,
        plugins: Vec<String>,
        existing: &[ExistingRun],
    ) -> Self {
        let mut s = Stopping {
            design,
            dir,
            state,
            ok: vec![0; plugins.len()],
            plugins,
            rows: 0,
        };
        for r in existing {
            s.count(&r.plugin, r.ok);
        }
        s
    }

    /// Counts one recorded run.
    pub fn count(&mut self, plugin: &str, ok: bool) {
        self.rows += 1;
        if let Some(i) = self.plugins.iter().position(|p| p == plugin) {
            self.ok[i] += usize::from(ok);
        }
    }

    /// The sentence saying the campaign has stopped, when it has.
    pub fn stopped(&self) -> Option<String> {
        let log = self.state.sequential.as_ref()?;
        log.stopped_at.map(|_| log.sentence())
    }

    /// Takes the looks the runs so far reach and the record lacks: `say` gets one line per
    /// look, campaign.json is saved. True when the campaign should stop.
    pub fn look(&mut self, say: &mut dyn FnMut(String)) -> anyhow::Result<bool> {
        let log = self
            .state
            .sequential
            .get_or_insert_with(|| LookLog::new(self.design));
        if log.stopped_at.is_some() {
            return Ok(true);
        }
        let taken = log.history.len();
        let fewest = self.ok.iter().copied().min().unwrap_or(0);
        if self.design.looks.get(taken).is_none_or(|&n| fewest < n) {
            return Ok(false);
        }
        let values = values_so_far(&self.dir.runs_csv(), &self.design.metric, &self.plugins)?;
        let outcome = decide(self.design, &values);
        log.update(&outcome, self.rows);
        for look in log.history.iter().skip(taken) {
            say(log.line(look));
        }
        let stop = outcome.stop();
        if stop {
            say(format!("stopped: {}", log.sentence()));
        }
        self.state.save(self.dir)?;
        Ok(stop)
    }
}
