//! What the user sees while a campaign runs: on a terminal, a campaign bar (runs done, ETA
//! from measured run durations, current plugin) above a run bar (epoch, batches) fed by the
//! plugin's progress callback; elsewhere (CI, `| tee`), plain log lines.

use std::io::IsTerminal;
use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::plugin::events::{Event, Phase};

pub struct CampaignProgress {
    tty: bool,
    multi: MultiProgress,
    campaign: ProgressBar,
    run: Option<ProgressBar>,
    epochs: u32,
    /// Wall time of every finished run, for the ETA.
    durations: Vec<Duration>,
    rest: Duration,
}

impl CampaignProgress {
    pub fn new(total_runs: u64, done: u64, epochs: u32, rest: Duration) -> Self {
        let tty = std::io::stdout().is_terminal();
        let multi = MultiProgress::with_draw_target(if tty {
            ProgressDrawTarget::stdout()
        } else {
            ProgressDrawTarget::hidden()
        });
        let campaign = multi.add(ProgressBar::new(total_runs));
        campaign.set_style(
            ProgressStyle::with_template("{prefix:.bold} [{bar:30}] {pos}/{len} runs · {msg}")
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
        );
        campaign.set_prefix("campaign");
        campaign.set_position(done);
        CampaignProgress {
            tty,
            multi,
            campaign,
            run: None,
            epochs,
            durations: Vec::new(),
            rest,
        }
    }

    /// Prints a line above the bars (or plainly when there are none).
    pub fn println(&self, line: impl AsRef<str>) {
        if self.tty {
            let _ = self.multi.println(line.as_ref());
        } else {
            println!("{}", line.as_ref());
        }
    }

    pub fn start_run(&mut self, label: &str) {
        self.campaign
            .set_message(format!("{} · {label}", self.eta_text()));
        if self.tty {
            let bar = self.multi.add(ProgressBar::new(1));
            bar.set_style(
                ProgressStyle::with_template("  {prefix} [{bar:30}] {msg}")
                    .unwrap_or_else(|_| ProgressStyle::default_bar())
                    .progress_chars("=> "),
            );
            bar.set_prefix(label.to_string());
            bar.set_message("setup");
            bar.enable_steady_tick(Duration::from_millis(250));
            self.run = Some(bar);
        }
    }

    pub fn on_event(&mut self, event: &Event) {
        match event {
            Event::Progress {
                epoch,
                batch,
                batches,
            } => {
                if let Some(bar) = &self.run {
                    bar.set_length(*batches);
                    bar.set_position(*batch);
                    bar.set_message(format!(
                        "epoch {}/{} · batch {batch}/{batches}",
                        epoch + 1,
                        self.epochs
                    ));
                }
            }
            Event::PhaseStart {
                phase: Phase::Eval, ..
            } => {
                if let Some(bar) = &self.run {
                    bar.set_message("evaluating");
                }
            }
            Event::Trained { epoch, loss, .. } => self.println(format!(
                "  epoch {epoch}/{}: loss {}",
                self.epochs,
                loss.map(|l| format!("{l:.4}"))
                    .unwrap_or_else(|| "-".into())
            )),
            _ => {}
        }
    }

    pub fn finish_run(&mut self, wall: Duration) {
        if let Some(bar) = self.run.take() {
            bar.finish_and_clear();
            self.multi.remove(&bar);
        }
        self.durations.push(wall);
        self.campaign.inc(1);
        self.campaign.set_message(self.eta_text());
    }

    pub fn finish(&self) {
        self.campaign.finish_and_clear();
    }

    /// Remaining runs × mean measured run time, plus the rests between them.
    fn eta_text(&self) -> String {
        let remaining = self
            .campaign
            .length()
            .unwrap_or(0)
            .saturating_sub(self.campaign.position());
        if self.durations.is_empty() {
            return "ETA after the first run".into();
        }
        let mean = self.durations.iter().sum::<Duration>() / self.durations.len() as u32;
        let eta = (mean + self.rest) * remaining as u32;
        format!(
            "ETA {}",
            humantime::format_duration(Duration::from_secs(eta.as_secs()))
        )
    }
}
