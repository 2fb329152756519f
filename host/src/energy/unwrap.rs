//! Unwrapping one raw energy counter into a monotonic total, and judging each step.
//!
//! RAPL counters are 32 bits wide (powercap exposes them in µJ with `max_energy_range_uj`): on
//! AMD they wrap at 65,536 J, about 27 minutes at 40 W. A reading lower than the previous one is
//! told apart by physics, not by the modulus alone ([`classify_backward`], shared with the
//! analysis of EnergiBridge files): it is a *wrap* when adding the counter's range back gives a
//! step that fits both the bound power and the run's own rate (within [`RATE_FACTOR`]×); a
//! *reset* (driver reload, CPU reset, a replaced fake file) when the new value is small enough to
//! have been counted since a restart from zero; anything else is a glitch.
//!
//! What is done with each case, so that nothing is silently used or dropped:
//! - wrap: the range is added back; no fault.
//! - reset: the counter is taken to have restarted from zero, so its new value is counted, plus
//!   the stretch before the restart at the recent power (interpolated). A `reset` fault
//!   says how many joules were interpolated.
//! - backwards: lower than before, but too high to have been counted since a restart from zero
//!   (a glitch): nothing read is counted, the step is interpolated at the recent power, and a
//!   `backwards` fault says so. Counting a glitch as a restart would add up to a whole range.
//! - a window of reads (at least [`POWER_WINDOW_S`]) whose power exceeds the domain's bound
//!   ([`max_power_w`]): counted, and flagged
//!   `implausible-power`.
//! - a step long enough that a whole extra wrap would still be plausible: counted as read (no
//!   wrap assumed), and flagged `gap`, because whole wraps may be missing.
//!
//! The total is kept in raw units as an integer, so summing millions of steps loses nothing.

use std::time::Instant;

/// Upper bound of believable power per domain (W), by base name. Generous on purpose: the
/// biggest server packages draw ~500 W and the biggest GPUs ~1,200 W; anything above the bound
/// is a counter glitch, not physics. The bound also decides how often the sampler must read:
/// at this power a counter must not wrap twice between two reads.
pub fn max_power_w(domain: &str) -> f64 {
    match super::meter::base_name(domain) {
        "package" | "core" => 1_000.0,
        "uncore" | "dram" => 500.0,
        "psys" => 2_000.0,
        "gpu" => 1_500.0,
        _ => 2_000.0,
    }
}

/// Power is judged over windows at least this long, never over one step: counters advance in
/// steps (RAPL about every millisecond, NVML less often), so two reads a few microseconds apart
/// can straddle a step and show any power at all.
pub const POWER_WINDOW_S: f64 = 0.1;

/// How far a step may exceed the run's own typical step and still be taken as a wrap (or as
/// what a restarted counter counted). Loose enough for a run that speeds up from idle to full
/// load, tight enough that a reset read as a wrap (most of a counter's range in one sample)
/// never passes.
pub const RATE_FACTOR: f64 = 20.0;

/// What a backward step of a cumulative counter is; see [`classify_backward`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum BackwardStep {
    /// The counter passed its modulus: `step` (in the caller's unit) was counted.
    Wrap { step: f64 },
    /// The counter restarted from zero: its value now is what it counted since.
    Reset,
    /// Neither: a glitch, whose energy cannot be known.
    Glitch,
}

/// The largest step believable for one interval: `ceiling` at the bound power, and, when the run's
/// own rate is known, [`RATE_FACTOR`] times the step that rate gives (`expected`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StepLimits {
    pub ceiling: f64,
    pub expected: Option<f64>,
}

impl StepLimits {
    fn largest(&self) -> f64 {
        match self.expected {
            Some(e) => self.ceiling.min(RATE_FACTOR * e),
            None => self.ceiling,
        }
    }
}

/// Decides what a reading `after` lower than `before` means, all in one unit (joules or raw).
/// With a known `modulus`, a wrap is preferred when its implied step (modulus − before + after)
/// is believable; else a new value small enough to be counted since a restart is a reset; else a
/// glitch. The same rule serves `host run` (online, bound power and recent rate) and the analysis
/// of EnergiBridge files (the run's mean step).
pub fn classify_backward(
    before: f64,
    after: f64,
    modulus: Option<f64>,
    limits: StepLimits,
) -> BackwardStep {
    let largest = limits.largest();
    if let Some(m) = modulus.filter(|m| before < *m) {
        let step = m - before + after;
        if step <= largest {
            return BackwardStep::Wrap { step };
        }
    }
    if after <= largest {
        BackwardStep::Reset
    } else {
        BackwardStep::Glitch
    }
}

/// A step that was not taken at face value; see the module docs.
#[derive(Debug, Clone, PartialEq)]
pub struct Flag {
    /// `reset`, `backwards`, `gap` or `implausible-power`.
    pub kind: &'static str,
    pub detail: String,
}

/// The unwrapping state of one counter.
#[derive(Debug, Clone)]
pub struct Unwrapper {
    scale_j: f64,
    modulus: Option<u64>,
    max_power_w: f64,
    granularity_s: f64,
    last_raw: u64,
    last_at: Instant,
    total_raw: u128,
    /// Joules interpolated across resets (not in `total_raw`, which holds whole raw units).
    interpolated_j: f64,
    window_at: Instant,
    window_start_j: f64,
    /// Mean power of the last closed window, for interpolating across a reset.
    recent_power_w: f64,
}

impl Unwrapper {
    /// `first` is the raw value at open, where the total starts at zero. `granularity_s` is how
    /// long the counter may sit still before it moves (its update period, with room for lateness).
    pub fn new(
        first: u64,
        at: Instant,
        scale_j: f64,
        modulus: Option<u64>,
        max_power_w: f64,
        granularity_s: f64,
    ) -> Self {
        Unwrapper {
            scale_j,
            modulus,
            max_power_w,
            granularity_s,
            last_raw: first,
            last_at: at,
            total_raw: 0,
            interpolated_j: 0.0,
            window_at: at,
            window_start_j: 0.0,
            recent_power_w: 0.0,
        }
    }

    /// Cumulative joules since open.
    pub fn joules(&self) -> f64 {
        self.total_raw as f64 * self.scale_j + self.interpolated_j
    }

    /// Seconds one wrap takes at the bound power: the longest safe time between two reads.
    pub fn wrap_period_at_bound_s(&self) -> Option<f64> {
        self.modulus
            .map(|m| m as f64 * self.scale_j / self.max_power_w)
    }

    /// Takes in a new raw reading made at `at`; a flag when the step was not plain.
    pub fn update(&mut self, raw: u64, at: Instant) -> Option<Flag> {
        let dt = at.saturating_duration_since(self.last_at).as_secs_f64();
        let last = self.last_raw;
        let mut flag = None;
        let counted = if raw >= last {
            raw - last
        } else {
            match self.classify(last, raw, dt) {
                BackwardStep::Wrap { .. } => self.modulus.map_or(0, |m| m - last + raw),
                BackwardStep::Reset => {
                    flag = Some(self.reset(last, raw, dt));
                    raw
                }
                BackwardStep::Glitch => {
                    flag = Some(self.backwards(last, raw, dt));
                    0
                }
            }
        };
        if flag.is_none() {
            flag = self.gap(counted, dt);
        }
        self.total_raw += u128::from(counted);
        self.last_raw = raw;
        self.last_at = at;
        let window_s = at.saturating_duration_since(self.window_at).as_secs_f64();
        if window_s >= POWER_WINDOW_S {
            let joules = self.joules() - self.window_start_j;
            self.recent_power_w = joules / window_s;
            self.window_at = at;
            self.window_start_j = self.joules();
            if self.recent_power_w > self.max_power_w && flag.is_none() {
                flag = Some(Flag {
                    kind: "implausible-power",
                    detail: format!(
                        "{joules:.6} J in {:.1} ms is {:.0} W, above the {:.0} W bound; counted \
                         as read",
                        window_s * 1e3,
                        self.recent_power_w,
                        self.max_power_w
                    ),
                });
            }
        }
        flag
    }

    /// A drop from `last` to `raw` judged in joules: the ceiling is the bound power over the
    /// interval (plus the counter's granularity); once a window has closed, the recent power
    /// gives the run's own rate.
    fn classify(&self, last: u64, raw: u64, dt: f64) -> BackwardStep {
        let span = dt + self.granularity_s;
        let limits = StepLimits {
            ceiling: self.max_power_w * span,
            expected: (self.recent_power_w > 0.0).then_some(self.recent_power_w * span),
        };
        let j = |x: u64| x as f64 * self.scale_j;
        let modulus = self.modulus.filter(|m| last < *m).map(j);
        classify_backward(j(last), j(raw), modulus, limits)
    }

    /// Neither a wrap nor a restart: the counter went back but not to near zero. Nothing read is
    /// counted; the step is filled in at the recent power, and counting goes on from `raw`.
    fn backwards(&mut self, last: u64, raw: u64, dt: f64) -> Flag {
        let gap_j = self.recent_power_w * dt;
        self.interpolated_j += gap_j;
        Flag {
            kind: "backwards",
            detail: format!(
                "counter went back from {last} to {raw} in {:.1} ms, which neither a wrap nor a \
                 restart from zero explains; counted nothing read and interpolated {gap_j:.6} J \
                 at the recent power ({:.1} W)",
                dt * 1e3,
                self.recent_power_w
            ),
        }
    }

    /// Not a wrap: the counter restarted. Its value now is what it counted since; the time
    /// before the restart is filled in at the recent power, and said so.
    fn reset(&mut self, last: u64, raw: u64, dt: f64) -> Flag {
        let since_restart_j = raw as f64 * self.scale_j;
        let gap_j = (self.recent_power_w * dt - since_restart_j).max(0.0);
        self.interpolated_j += gap_j;
        Flag {
            kind: "reset",
            detail: format!(
                "counter went back from {last} to {raw} in {:.1} ms, which no wrap explains \
                 (range {}); counted {since_restart_j:.6} J since a restart from zero and \
                 interpolated {gap_j:.6} J at the recent power ({:.1} W)",
                dt * 1e3,
                self.modulus
                    .map_or_else(|| "none".to_string(), |m| m.to_string()),
                self.recent_power_w
            ),
        }
    }

    /// Flags a step so long that one more whole wrap would still be believable.
    fn gap(&self, counted: u64, dt: f64) -> Option<Flag> {
        let m = self.modulus?;
        let one_more_j = (counted as f64 + m as f64) * self.scale_j;
        (one_more_j <= self.max_power_w * dt).then(|| Flag {
            kind: "gap",
            detail: format!(
                "{:.1} ms between reads is longer than one wrap at the {:.0} W bound ({:.1} ms); \
                 whole wraps may be missing",
                dt * 1e3,
                self.max_power_w,
                m as f64 * self.scale_j / self.max_power_w * 1e3
            ),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn at(base: Instant, ms: u64) -> Instant {
        base + Duration::from_millis(ms)
    }

    fn unwrapper(first: u64, t0: Instant) -> Unwrapper {
        // 1 µJ units, range 100 J, 1000 W bound, 5 ms granularity.
        Unwrapper::new(first, t0, 1e-6, Some(100_000_000), 1000.0, 0.005)
    }

    #[test]
    fn backward_steps_are_told_apart_by_the_runs_own_rate() {
        let rate = |typical: f64| StepLimits {
            ceiling: f64::INFINITY,
            expected: Some(typical),
        };
        // A real AMD wrap: 8 J per sample, the counter passes 2^16 J.
        assert_eq!(
            classify_backward(65_530.0, 2.0, Some(65_536.0), rate(8.0)),
            BackwardStep::Wrap { step: 8.0 }
        );
        // A reset read as a wrap would add 1.25 MJ in one sample of a ~1 J/sample run.
        let m = 4_194_304.0;
        assert_eq!(
            classify_backward(2_940_000.0, 5.0, Some(m), rate(1.0)),
            BackwardStep::Reset
        );
        // Neither: lower, but far from zero.
        assert_eq!(
            classify_backward(2_940_000.0, 2_000_000.0, Some(m), rate(1.0)),
            BackwardStep::Glitch
        );
        // No modulus: only a reset or a glitch; no rate known: the ceiling alone decides.
        assert_eq!(
            classify_backward(100.0, 3.0, None, rate(1.0)),
            BackwardStep::Reset
        );
        let bound_only = StepLimits {
            ceiling: 50.0,
            expected: None,
        };
        assert_eq!(
            classify_backward(90.0, 30.0, Some(100.0), bound_only),
            BackwardStep::Wrap { step: 40.0 }
        );
    }

    #[test]
    fn wrap_is_added_back() {
        let t0 = Instant::now();
        let mut u = unwrapper(99_000_000, t0);
        assert_eq!(u.update(1_000_000, at(t0, 10)), None);
        assert!((u.joules() - 2.0).abs() < 1e-9);
    }

    #[test]
    fn reset_is_flagged_and_interpolated() {
        let t0 = Instant::now();
        let mut u = unwrapper(0, t0);
        assert_eq!(u.update(40_000_000, at(t0, 100)), None); // 400 W over a full window
        let flag = u.update(42_000_000, at(t0, 105));
        assert_eq!(flag, None);
        let flag = u.update(2_000_000, at(t0, 115)); // restarted 5 ms ago
        assert_eq!(flag.map(|f| f.kind), Some("reset"));
        assert!((u.joules() - 46.0).abs() < 1e-6, "{}", u.joules());
    }

    #[test]
    fn a_small_step_back_is_a_glitch_not_a_restart() {
        let t0 = Instant::now();
        let mut u = unwrapper(0, t0);
        assert_eq!(u.update(10_000_000, at(t0, 100)), None); // 100 W over a full window
        assert_eq!(u.update(15_000_000, at(t0, 150)), None);
        assert_eq!(u.update(20_000_000, at(t0, 200)), None);
        // 1 mJ lower 10 ms later: 19.999 J cannot have been counted since a restart (15 J at
        // most, at the bound), nor is it a wrap.
        let flag = u.update(19_999_000, at(t0, 210));
        assert_eq!(flag.map(|f| f.kind), Some("backwards"));
        // The 10 ms are filled in at the recent 100 W, and counting goes on from there.
        assert!((u.joules() - 21.0).abs() < 1e-6, "{}", u.joules());
        assert_eq!(u.update(20_999_000, at(t0, 220)), None);
        assert!((u.joules() - 22.0).abs() < 1e-6, "{}", u.joules());
    }

    #[test]
    fn implausible_reset_and_gap() {
        let t0 = Instant::now();
        let mut u = unwrapper(0, t0);
        // One quick step is not judged alone...
        assert_eq!(u.update(2_000_000, at(t0, 1)), None);
        assert_eq!(u.update(20_000_000, at(t0, 100)), None);
        assert_eq!(u.update(99_000_000, at(t0, 150)), None);
        // ...a window is: a believable wrap, but 130 J in 100 ms.
        let flag = u.update(50_000_000, at(t0, 200));
        assert_eq!(flag.map(|f| f.kind), Some("implausible-power"));
        let flag = u.update(10_000_000, at(t0, 210));
        assert_eq!(flag.map(|f| f.kind), Some("reset"));
        let flag = u.update(11_000_000, at(t0, 10_210));
        assert_eq!(flag.map(|f| f.kind), Some("gap"));
        assert!(u.joules() >= 150.0 + 11.0);
    }
}
