//! The machine at rest: its idle power (the baseline that runs' dynamic energy is measured
//! against) and resting between runs until power is back near that baseline.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crate::energy::{EnergyConfig, EnergyMonitor};

/// An idle power measurement, with whatever the counters did wrong meanwhile.
#[derive(Debug, Clone, PartialEq)]
pub struct IdlePower {
    /// Mean power (W) of the meter's counted domains.
    pub watts: f64,
    /// Counter faults seen while measuring (`domain kind: detail`): every run's dynamic energy
    /// rests on this baseline, so they are reported, never dropped.
    pub faults: Vec<String>,
}

/// Idle power over `duration` with nothing else of ours running. Returns `None` when
/// interrupted.
pub fn measure_idle_power(
    cfg: &EnergyConfig,
    duration: Duration,
    stop: &AtomicBool,
) -> anyhow::Result<Option<IdlePower>> {
    let monitor = EnergyMonitor::start(cfg, None)?;
    let in_total: Vec<bool> = monitor.domains().iter().map(|d| d.in_total).collect();
    let first = monitor.snapshot()?;
    if !sleep_unless_stopped(duration, stop) {
        monitor.stop()?;
        return Ok(None);
    }
    let last = monitor.snapshot()?;
    let faults = monitor
        .stop()?
        .into_iter()
        .map(|f| format!("{} {}: {}", f.domain, f.kind, f.detail))
        .collect();
    let seconds = last.elapsed.saturating_sub(first.elapsed).as_secs_f64();
    let joules = monitor_total(&last.joules, &first.joules, &in_total);
    Ok((seconds > 0.0).then(|| IdlePower {
        watts: joules / seconds,
        faults,
    }))
}

/// Rests until the power over a one-second window is within `within` (a fraction) of
/// `baseline_w`, or until `max`. Returns how long it rested and the last window's power.
pub fn rest_until_idle(
    cfg: &EnergyConfig,
    baseline_w: f64,
    max: Duration,
    within: f64,
    stop: &AtomicBool,
) -> anyhow::Result<(Duration, Option<f64>)> {
    let started = Instant::now();
    let monitor = EnergyMonitor::start(cfg, None)?;
    let in_total: Vec<bool> = monitor.domains().iter().map(|d| d.in_total).collect();
    let limit = baseline_w * (1.0 + within);
    let mut last_power = None;
    let mut previous = monitor.snapshot()?;
    while started.elapsed() < max {
        let window = Duration::from_secs(1).min(max.saturating_sub(started.elapsed()));
        if window.is_zero() || !sleep_unless_stopped(window, stop) {
            break;
        }
        let now = monitor.snapshot()?;
        let seconds = now.elapsed.saturating_sub(previous.elapsed).as_secs_f64();
        if seconds > 0.0 {
            let power = monitor_total(&now.joules, &previous.joules, &in_total) / seconds;
            last_power = Some(power);
            if power <= limit {
                break;
            }
        }
        previous = now;
    }
    monitor.stop()?;
    Ok((started.elapsed(), last_power))
}

fn monitor_total(now: &[f64], before: &[f64], in_total: &[bool]) -> f64 {
    now.iter()
        .zip(before)
        .zip(in_total)
        .filter(|(_, counted)| **counted)
        .map(|((n, b), _)| n - b)
        .sum()
}

/// Sleeps in short steps; false if `stop` was raised.
pub fn sleep_unless_stopped(duration: Duration, stop: &AtomicBool) -> bool {
    let deadline = Instant::now() + duration;
    while Instant::now() < deadline {
        if stop.load(Ordering::SeqCst) {
            return false;
        }
        std::thread::sleep(
            Duration::from_millis(50).min(deadline.saturating_duration_since(Instant::now())),
        );
    }
    !stop.load(Ordering::SeqCst)
}
