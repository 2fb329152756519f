//! Physical plausibility of a run's energy totals, judged the same way by `host run` (on the
//! totals its meters measured) and `host analyze` (on every run it reads).
//!
//! Two rules, both pure functions of figures a run already has:
//! - **mean power per domain** (joules ÷ seconds) must not exceed a generous bound: by default
//!   [`super::unwrap::max_power_w`] (1 kW for a CPU package, 1.5 kW per GPU, 500 W for DRAM, …),
//!   overridable per domain ([`PowerBounds`]). No machine we measure comes near these; a figure
//!   above them is a unit mistake or a counter fault, never physics.
//! - **duration against the samples**: the time the samples span must agree with
//!   rows × sample interval within a factor [`DURATION_FACTOR`].
//!
//! A failed check says what is likely wrong, found by trying the unit mistakes seen in real
//! recordings and keeping those that would make the figure plausible: raw RAPL counts (units of
//! 2^-14 J on Intel, 2^-16 J on AMD) or microjoules under a joule header, milliwatts under a
//! watt header, a `Time` column in seconds instead of milliseconds.

use std::collections::BTreeMap;
use std::fmt;

use super::meter::base_name;

/// How far the span of a run's samples may be from rows × sample interval (either way).
pub const DURATION_FACTOR: f64 = 10.0;

/// Below this mean power a corrected figure is no more believable than the wrong one: a unit
/// mistake is only proposed when correcting it lands between this and the domain's bound.
const LOWEST_BELIEVABLE_W: f64 = 0.5;

/// A typical mean draw as a share of the bound (20 W for a 1 kW package bound), to choose between
/// unit mistakes that would all make a figure plausible.
const TYPICAL_SHARE_OF_BOUND: f64 = 50.0;

/// The domain words a bound can be set for (kernel words, as `host meters` prints them).
pub const BOUND_DOMAINS: [&str; 7] = [
    "package",
    "core",
    "uncore",
    "dram",
    "psys",
    "gpu",
    "cpu-estimate",
];

/// Upper bounds of believable mean power per domain, in watts.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PowerBounds {
    overrides: BTreeMap<String, f64>,
}

impl PowerBounds {
    /// Sets the bound of `domain` (a word of [`BOUND_DOMAINS`]).
    pub fn set(&mut self, domain: &str, watts: f64) {
        self.overrides.insert(domain.to_string(), watts);
    }

    /// The bound for a domain given by kernel name (`package-0`, `gpu-1`, `dram`).
    pub fn bound_w(&self, domain: &str) -> f64 {
        self.overrides
            .get(base_name(domain))
            .copied()
            .unwrap_or_else(|| super::unwrap::max_power_w(domain))
    }
}

/// One domain's energy over a run.
#[derive(Debug, Clone, PartialEq)]
pub struct DomainTotal<'a> {
    /// What the user knows it by: a CSV column (`PACKAGE_ENERGY (J)`) or a domain (`package-0`).
    pub label: &'a str,
    /// Kernel domain name or word, which picks the bound (`package-0`, `gpu`, `dram`).
    pub domain: &'a str,
    pub joules: f64,
    /// Integrated from a power column (so a unit mistake is in watts, not joules).
    pub from_power: bool,
}

/// What is known of a run's timing.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Timing {
    /// The run's duration as computed (from `Time`, or the host's clock).
    pub seconds: f64,
    /// Number of samples, when the run was sampled.
    pub rows: Option<usize>,
    /// The typical interval between samples in seconds, as the file states it (`Delta`).
    pub interval_s: Option<f64>,
    /// The first `Time` value as written (milliseconds since the Unix epoch if right).
    pub first_time: Option<f64>,
}

/// A likely cause of an implausible figure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Cause {
    /// `Time` holds seconds, not milliseconds.
    TimeInSeconds,
    /// `Delta` holds seconds, not milliseconds.
    DeltaInSeconds,
    /// Raw RAPL counts in units of 2^-exponent J.
    RawRaplCounts {
        exponent: u32,
    },
    Microjoules,
    MilliwattsAsWatts,
}

impl Cause {
    /// The factor by which the figure is too large, for unit mistakes.
    fn factor(self) -> f64 {
        match self {
            Cause::RawRaplCounts { exponent } => 2f64.powi(exponent as i32),
            Cause::Microjoules => 1e6,
            Cause::MilliwattsAsWatts | Cause::TimeInSeconds => 1e3,
            Cause::DeltaInSeconds => 1e-3,
        }
    }

    /// The unit the figure would be in: "2^-14 J counts", "µJ", "mW".
    fn unit(self) -> String {
        match self {
            Cause::RawRaplCounts { exponent } => format!("2^-{exponent} J counts"),
            Cause::Microjoules => "µJ".into(),
            Cause::MilliwattsAsWatts => "mW".into(),
            Cause::TimeInSeconds | Cause::DeltaInSeconds => "seconds".into(),
        }
    }

    fn words(self) -> String {
        match self {
            Cause::TimeInSeconds => "Time looks like seconds, not milliseconds".into(),
            Cause::DeltaInSeconds => "Delta looks like seconds, not milliseconds".into(),
            Cause::RawRaplCounts { exponent } => {
                format!("raw RAPL counts (units of 2^-{exponent} J)")
            }
            Cause::Microjoules => "microjoules".into(),
            Cause::MilliwattsAsWatts => "milliwatts".into(),
        }
    }
}

/// Which rule failed.
#[derive(Debug, Clone, PartialEq)]
pub enum Rule {
    /// Mean power above the domain's bound.
    MeanPower {
        label: String,
        watts: f64,
        bound_w: f64,
    },
    /// Span of the samples against rows × interval.
    Duration {
        seconds: f64,
        rows: usize,
        interval_s: f64,
    },
}

/// A total that physics rules out, with what is likely wrong.
#[derive(Debug, Clone, PartialEq)]
pub struct Implausible {
    pub rule: Rule,
    /// Likely causes, most specific first; empty when none fits.
    pub causes: Vec<Cause>,
}

impl Implausible {
    /// The same failure on another run reads the same: rule and causes, no figures.
    pub fn kind(&self) -> String {
        self.head()
    }

    /// The message's first clause: what is likely wrong (no figures, so equal failures match).
    fn head(&self) -> String {
        let time: Vec<Cause> = self
            .causes
            .iter()
            .copied()
            .filter(|c| matches!(c, Cause::TimeInSeconds | Cause::DeltaInSeconds))
            .collect();
        if let Some(c) = time.first() {
            return c.words();
        }
        let from_power = matches!(self.rule, Rule::MeanPower { .. })
            && self.causes.contains(&Cause::MilliwattsAsWatts);
        match (&self.rule, self.causes.is_empty()) {
            (Rule::MeanPower { .. }, false) => {
                let units: Vec<String> = self.causes.iter().map(|c| c.words()).collect();
                let not = if from_power { "watts" } else { "joules" };
                format!("values look like {}, not {not}", units.join(" or "))
            }
            (Rule::MeanPower { .. }, true) => "implausible mean power (cause unknown)".into(),
            (Rule::Duration { .. }, _) => {
                "duration disagrees with the samples (cause unknown)".into()
            }
        }
    }
}

impl fmt::Display for Implausible {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: ", self.head())?;
        match &self.rule {
            Rule::MeanPower {
                label,
                watts,
                bound_w,
            } => {
                write!(
                    f,
                    "{label} gives {} W mean power, above the {} W bound",
                    grouped(*watts),
                    grouped(*bound_w)
                )?;
                let fixes: Vec<String> = self
                    .causes
                    .iter()
                    .filter(|c| !matches!(c, Cause::TimeInSeconds | Cause::DeltaInSeconds))
                    .map(|c| format!("{} W as {}", grouped(watts / c.factor()), c.unit()))
                    .collect();
                if !fixes.is_empty() {
                    write!(f, " ({})", fixes.join("; "))?;
                }
                Ok(())
            }
            Rule::Duration {
                seconds,
                rows,
                interval_s,
            } => write!(
                f,
                "the samples span {} s, but {rows} rows {} ms apart span {} s",
                short(*seconds),
                short(interval_s * 1e3),
                short(rows.saturating_sub(1) as f64 * interval_s)
            ),
        }
    }
}

/// Checks a run: duration first (a wrong clock explains every power figure), then each
/// domain's mean power. `None` when everything is believable.
pub fn check(
    domains: &[DomainTotal],
    timing: &Timing,
    bounds: &PowerBounds,
) -> Option<Implausible> {
    let time_causes = time_causes(timing);
    if let Some(bad) = check_duration(timing, &time_causes) {
        return Some(bad);
    }
    domains
        .iter()
        .find_map(|d| check_power(d, timing, bounds, &time_causes))
}

/// `host run`'s check of one run: every domain its meters measured (kernel names such as
/// `package-0`, `dram`, `gpu-0`, and joules over the run) against the run's duration. The host's
/// own clock needs no duration check, so only mean power is judged.
pub fn check_domains(
    domains: &[(String, f64)],
    seconds: f64,
    bounds: &PowerBounds,
) -> Option<Implausible> {
    let totals: Vec<DomainTotal> = domains
        .iter()
        .map(|(name, joules)| DomainTotal {
            label: name,
            domain: name,
            joules: *joules,
            from_power: false,
        })
        .collect();
    let timing = Timing {
        seconds,
        ..Timing::default()
    };
    check(&totals, &timing, bounds)
}

/// Duration against rows × interval; only for sampled runs that state their interval.
fn check_duration(timing: &Timing, time_causes: &[Cause]) -> Option<Implausible> {
    let (rows, interval_s) = (timing.rows?, timing.interval_s?);
    if rows < 2 || interval_s <= 0.0 || timing.seconds <= 0.0 {
        return None;
    }
    let expected = (rows - 1) as f64 * interval_s;
    let ratio = timing.seconds / expected;
    if (1.0 / DURATION_FACTOR..=DURATION_FACTOR).contains(&ratio) {
        return None;
    }
    let mut causes: Vec<Cause> = time_causes.to_vec();
    // A span 1000 times too short with a sane interval: Time was written in seconds.
    let near = |x: f64, target: f64| (x / target).log10().abs() < 0.5;
    if causes.is_empty() && near(ratio, 1e-3) {
        causes.push(Cause::TimeInSeconds);
    }
    if causes.is_empty() && near(ratio, 1e3) {
        causes.push(Cause::DeltaInSeconds);
    }
    Some(Implausible {
        rule: Rule::Duration {
            seconds: timing.seconds,
            rows,
            interval_s,
        },
        causes,
    })
}

/// What the clock columns themselves reveal: EnergiBridge writes `Time` in Unix milliseconds
/// (13 digits today) and `Delta` in whole milliseconds.
fn time_causes(timing: &Timing) -> Vec<Cause> {
    let mut causes = Vec::new();
    // Unix seconds from 1973 to 5138 lie in [1e8, 1e11); Unix milliseconds are above 1e11.
    if timing.first_time.is_some_and(|t| (1e8..1e11).contains(&t)) {
        causes.push(Cause::TimeInSeconds);
    }
    if timing.interval_s.is_some_and(|s| s > 0.0 && s < 1e-3) {
        causes.push(Cause::DeltaInSeconds);
    }
    causes
}

fn check_power(
    d: &DomainTotal,
    timing: &Timing,
    bounds: &PowerBounds,
    time_causes: &[Cause],
) -> Option<Implausible> {
    if timing.seconds <= 0.0 || !d.joules.is_finite() {
        return None;
    }
    let watts = d.joules / timing.seconds;
    let bound_w = bounds.bound_w(d.domain);
    if watts <= bound_w {
        return None;
    }
    let causes = if !time_causes.is_empty() {
        time_causes.to_vec()
    } else {
        let candidates: &[Cause] = if d.from_power {
            &[Cause::MilliwattsAsWatts]
        } else {
            &[
                Cause::RawRaplCounts { exponent: 14 },
                Cause::RawRaplCounts { exponent: 16 },
                Cause::Microjoules,
            ]
        };
        // Several mistakes can land in range (raw counts of 2^-14 J and 2^-16 J are 4× apart):
        // propose the one whose corrected power is nearest a typical draw for the domain.
        let typical_w = bound_w / TYPICAL_SHARE_OF_BOUND;
        let distance = |c: &Cause| (watts / c.factor() / typical_w).ln().abs();
        candidates
            .iter()
            .copied()
            .filter(|c| (LOWEST_BELIEVABLE_W..=bound_w).contains(&(watts / c.factor())))
            .min_by(|a, b| distance(a).total_cmp(&distance(b)))
            .into_iter()
            .collect()
    };
    Some(Implausible {
        rule: Rule::MeanPower {
            label: d.label.to_string(),
            watts,
            bound_w,
        },
        causes,
    })
}

/// `217341.2` → `217,341`; small figures keep one decimal.
fn grouped(x: f64) -> String {
    if !x.is_finite() {
        return format!("{x}");
    }
    if x.abs() < 100.0 {
        return format!("{x:.1}");
    }
    let digits = format!("{:.0}", x.abs());
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    if x < 0.0 {
        format!("-{out}")
    } else {
        out
    }
}

/// Three significant digits or so, for durations and intervals.
fn short(x: f64) -> String {
    if x.abs() >= 100.0 {
        grouped(x)
    } else if x.abs() >= 1.0 {
        format!("{x:.2}")
    } else {
        format!("{x:.3}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn package(joules: f64) -> DomainTotal<'static> {
        DomainTotal {
            label: "PACKAGE_ENERGY (J)",
            domain: "package",
            joules,
            from_power: false,
        }
    }

    fn timing(seconds: f64) -> Timing {
        Timing {
            seconds,
            rows: Some((seconds / 0.2) as usize + 1),
            interval_s: Some(0.2),
            first_time: Some(1.7e12),
        }
    }

    #[test]
    fn believable_runs_pass() {
        let b = PowerBounds::default();
        assert_eq!(check(&[package(13.3 * 60.0)], &timing(60.0), &b), None);
        assert_eq!(check(&[package(1000.0 * 60.0)], &timing(60.0), &b), None);
    }

    #[test]
    fn raw_counts_are_named_with_the_corrected_power() {
        let b = PowerBounds::default();
        let bad = check(&[package(217_341.0 * 60.0)], &timing(60.0), &b).expect("implausible");
        let text = bad.to_string();
        assert!(
            text.starts_with("values look like raw RAPL counts (units of 2^-14 J)"),
            "{text}"
        );
        assert!(text.contains("217,341 W mean power"), "{text}");
        assert!(text.contains("(13.3 W as 2^-14 J counts)"), "{text}");
        assert!(
            !text.contains("microjoules"),
            "one cause, the likeliest: {text}"
        );
        // A 13 W package written in microjoules is not taken for raw counts.
        let bad = check(&[package(13.0e6 * 60.0)], &timing(60.0), &b).expect("implausible");
        assert_eq!(bad.kind(), "values look like microjoules, not joules");
    }

    #[test]
    fn bounds_are_per_domain_and_configurable() {
        let mut b = PowerBounds::default();
        let gpu = DomainTotal {
            label: "GPU0_POWER (mWatts)",
            domain: "gpu",
            joules: 1400.0 * 10.0,
            from_power: true,
        };
        assert_eq!(check(std::slice::from_ref(&gpu), &timing(10.0), &b), None);
        b.set("gpu", 1000.0);
        let bad = check(&[gpu], &timing(10.0), &b).expect("over the new bound");
        assert_eq!(bad.kind(), "values look like milliwatts, not watts");
        assert_eq!(b.bound_w("package-1"), 1000.0);
        assert_eq!(b.bound_w("gpu-3"), 1000.0);
    }

    #[test]
    fn time_in_seconds_is_found_from_the_span_or_the_clock() {
        let b = PowerBounds::default();
        // 2,590 rows 200 ms apart span 518 s, but Time (seconds, read as ms) says 0.518 s.
        let t = Timing {
            seconds: 0.518,
            rows: Some(2590),
            interval_s: Some(0.2),
            first_time: Some(1.74e12),
        };
        let bad = check(&[package(13_000.0)], &t, &b).expect("implausible");
        assert!(matches!(bad.rule, Rule::Duration { .. }));
        assert_eq!(bad.kind(), "Time looks like seconds, not milliseconds");
        // Time and Delta both in seconds: the span agrees with the rows, but the clock is
        // Unix seconds and the power is 25 kW.
        let t = Timing {
            seconds: 0.518,
            rows: Some(2590),
            interval_s: Some(0.0002),
            first_time: Some(1.74e9),
        };
        let bad = check(&[package(13_000.0)], &t, &b).expect("implausible");
        assert!(matches!(bad.rule, Rule::MeanPower { .. }), "{bad:?}");
        assert!(
            bad.to_string().starts_with("Time looks like seconds"),
            "{bad}"
        );
    }

    #[test]
    fn host_run_checks_each_measured_domain() {
        let b = PowerBounds::default();
        let ok = [
            ("package-0".to_string(), 40.0 * 100.0),
            ("core".to_string(), 30.0 * 100.0),
            ("gpu-0".to_string(), 1_400.0 * 100.0),
        ];
        assert_eq!(check_domains(&ok, 100.0, &b), None);
        let bad = [
            ("package-0".to_string(), 40.0 * 100.0),
            ("dram".to_string(), 600.0 * 100.0),
        ];
        let found = check_domains(&bad, 100.0, &b).expect("DRAM above 500 W");
        assert!(
            found
                .to_string()
                .ends_with("dram gives 600 W mean power, above the 500 W bound"),
            "{found}"
        );
    }

    #[test]
    fn unknown_causes_say_so() {
        let b = PowerBounds::default();
        let bad = check(&[package(5e12)], &timing(1.0), &b).expect("implausible");
        assert_eq!(bad.kind(), "implausible mean power (cause unknown)");
        let t = Timing {
            seconds: 100.0,
            rows: Some(10),
            interval_s: Some(0.2),
            first_time: None,
        };
        let bad = check(&[package(10.0)], &t, &b).expect("span 55× the rows");
        assert_eq!(
            bad.kind(),
            "duration disagrees with the samples (cause unknown)"
        );
        assert_eq!(grouped(1234567.0), "1,234,567");
    }
}
