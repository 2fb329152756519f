//! The machine between runs: the idle baseline (measured at rest), the warm-up (all cores
//! busy before the first measured run), and the rests between runs.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crate::manifest::{Manifest, Rest};
use crate::protocol::idle;
use crate::protocol::progress::CampaignProgress;

/// Measures idle power ("before" the first run or "after" the last). Its counter faults are
/// warned about and added to `faults` (saved in campaign.json). `None` if stopped.
pub fn idle_baseline(
    manifest: &Manifest,
    when: &str,
    stop: &AtomicBool,
    faults: &mut Vec<String>,
) -> anyhow::Result<Option<f64>> {
    let duration = manifest.experiment.idle_baseline;
    println!(
        "idle baseline ({when}): measuring {} with nothing running",
        humantime::format_duration(duration)
    );
    let Some(idle) = idle::measure_idle_power(&manifest.energy, duration, stop)? else {
        return Ok(None);
    };
    for f in &idle.faults {
        println!("warning: idle baseline ({when}): counter fault: {f}");
        faults.push(format!("{when}: {f}"));
    }
    Ok(Some(idle.watts))
}

/// Keeps every allowed core busy for `duration` before the first measured run (the study
/// multiplied large matrices; any steady all-core load brings clocks and temperature to a
/// steady state). Logged, never measured.
pub fn warm_up(duration: Duration, stop: &AtomicBool) {
    if duration.is_zero() {
        return;
    }
    println!(
        "warm-up: {} of all-core load",
        humantime::format_duration(duration)
    );
    let deadline = Instant::now() + duration;
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    std::thread::scope(|s| {
        for _ in 0..cores {
            s.spawn(|| {
                let mut x = 1.0001f64;
                while Instant::now() < deadline && !stop.load(Ordering::Relaxed) {
                    for _ in 0..100_000 {
                        x = (x * 1.000_000_1).sqrt() + 0.5;
                    }
                    std::hint::black_box(x);
                }
            });
        }
    });
}

/// Rests between runs so that heat and power from one run do not leak into the next: a
/// fixed time, or until power is back within a fraction of the idle baseline (at most `max`).
/// Returns how long it rested.
pub fn rest(
    manifest: &Manifest,
    idle_w: Option<f64>,
    stop: &AtomicBool,
    progress: &CampaignProgress,
) -> anyhow::Result<Duration> {
    let started = Instant::now();
    match (&manifest.experiment.rest, idle_w) {
        (Rest::Fixed(d), _) => {
            idle::sleep_unless_stopped(*d, stop);
        }
        (Rest::UntilIdle { max, within }, Some(idle)) => {
            let (_, power) = idle::rest_until_idle(&manifest.energy, idle, *max, *within, stop)?;
            if let Some(p) = power.filter(|p| *p > idle * (1.0 + within)) {
                progress.println(format!(
                    "  rest: power still {p:.2} W after {} (idle {idle:.2} W); going on",
                    humantime::format_duration(*max)
                ));
            }
        }
        // No baseline (interrupted while measuring it): the conservative choice is the maximum.
        (Rest::UntilIdle { max, .. }, None) => {
            idle::sleep_unless_stopped(*max, stop);
        }
    }
    Ok(started.elapsed())
}
