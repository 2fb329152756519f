//! Carbon and cost factors declared outside the pipeline — a manifest's `[report]` table or
//! `host analyze`'s flags — and how they reach the `findings` step, which applies them.
//!
//! Each factor has one rule, here, checked wherever it can be written (`[report]`, a flag,
//! the `findings` step's options), so each place names the value in its own words: the key
//! and line of a manifest, the flag of the command line. Nothing is looked up: a factor is
//! what the user declares.

use super::StepSpec;

/// A number the `findings` step turns energy into carbon or cost with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Factor {
    /// gCO2e per kWh of the grid.
    GridIntensity,
    /// Power usage effectiveness of the site (facility energy / IT energy).
    Pue,
    /// Price of one kWh, in the declared currency.
    PricePerKwh,
}

impl Factor {
    /// Its key in `[report]` and among the `findings` step's options.
    pub fn key(self) -> &'static str {
        match self {
            Factor::GridIntensity => "grid_intensity",
            Factor::Pue => "pue",
            Factor::PricePerKwh => "price_per_kwh",
        }
    }

    /// What a value must be, in words ("must be …").
    pub fn rule(self) -> &'static str {
        match self {
            Factor::GridIntensity => "a positive number of gCO2e/kWh",
            Factor::Pue => "at least 1",
            Factor::PricePerKwh => "a number ≥ 0",
        }
    }

    /// Whether `value` meets the rule (never a NaN or an infinity).
    pub fn accepts(self, value: f64) -> bool {
        value.is_finite()
            && match self {
                Factor::GridIntensity => value > 0.0,
                Factor::Pue => value >= 1.0,
                Factor::PricePerKwh => value >= 0.0,
            }
    }

    /// `value`, or "must be <rule>".
    pub fn check(self, value: f64) -> Result<f64, String> {
        if self.accepts(value) {
            Ok(value)
        } else {
            Err(format!("must be {}", self.rule()))
        }
    }

    /// A command-line value: a number that meets the rule.
    pub fn parse(self, text: &str) -> Result<f64, String> {
        let value: f64 = text
            .trim()
            .parse()
            .map_err(|_| format!("`{text}` is not a number; must be {}", self.rule()))?;
        self.check(value)
    }
}

/// The currency's rule: a name to print next to prices ("EUR", "CHF", "US$"), not blank and
/// without control characters.
pub fn check_currency(text: &str) -> Result<String, String> {
    if text.trim().is_empty() || text.chars().any(char::is_control) {
        Err("must be a currency name such as \"EUR\" (not blank, no control characters)".into())
    } else {
        Ok(text.to_string())
    }
}

/// Carbon and cost factors given outside the pipeline (a manifest's `[report]` table or
/// `host analyze` flags): [`apply_factors`] writes them into the `findings` step.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ReportFactors {
    /// gCO2e per kWh.
    pub grid_intensity: Option<f64>,
    pub pue: Option<f64>,
    pub price_per_kwh: Option<f64>,
    pub currency: Option<String>,
}

impl ReportFactors {
    pub fn is_empty(&self) -> bool {
        self == &ReportFactors::default()
    }

    fn numbers(&self) -> [(Factor, Option<f64>); 3] {
        [
            (Factor::GridIntensity, self.grid_intensity),
            (Factor::Pue, self.pue),
            (Factor::PricePerKwh, self.price_per_kwh),
        ]
    }
}

/// Sets the declared factors on every `findings` step of `steps` (overriding what the step
/// says; a factor not declared is left as the step has it), adding a `findings` step after
/// `compare` (or at the end) when there is none. Applied twice, the second set wins where it
/// declares a factor. [`super::validate`] afterwards checks them like any option.
pub fn apply_factors(steps: &mut Vec<StepSpec>, factors: &ReportFactors) {
    if factors.is_empty() {
        return;
    }
    if !steps.iter().any(|s| s.step == "findings") {
        let at = steps
            .iter()
            .position(|s| s.step == "compare")
            .map_or(steps.len(), |i| i + 1);
        steps.insert(at, StepSpec::named("findings"));
    }
    for spec in steps.iter_mut().filter(|s| s.step == "findings") {
        for (factor, value) in factors.numbers() {
            if let Some(v) = value {
                spec.options
                    .insert(factor.key().into(), toml::Value::Float(v));
            }
        }
        if let Some(c) = &factors.currency {
            spec.options
                .insert("currency".into(), toml::Value::String(c.clone()));
        }
    }
}

/// Whether some `findings` step of `steps` has a `pue` or a `currency` but neither a grid
/// intensity nor a price for them to apply to (the step refuses that).
pub fn lacks_a_base(steps: &[StepSpec]) -> bool {
    steps.iter().filter(|s| s.step == "findings").any(|s| {
        let has = |key: &str| s.options.contains_key(key);
        (has(Factor::Pue.key()) || has("currency"))
            && !has(Factor::GridIntensity.key())
            && !has(Factor::PricePerKwh.key())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_rule_refuses_what_it_names() {
        for (factor, good, bad) in [
            (Factor::GridIntensity, [400.0, 0.1], [0.0, -5.0]),
            (Factor::Pue, [1.0, 1.6], [0.99, 0.0]),
            (Factor::PricePerKwh, [0.0, 0.25], [-0.01, -1.0]),
        ] {
            for v in good {
                assert_eq!(factor.check(v), Ok(v), "{factor:?} {v}");
            }
            for v in bad.into_iter().chain([f64::NAN, f64::INFINITY]) {
                let err = factor.check(v).expect_err("refused");
                assert!(err.contains(factor.rule()), "{err}");
            }
        }
        assert_eq!(Factor::Pue.parse(" 1.2 "), Ok(1.2));
        assert!(Factor::Pue
            .parse("one")
            .unwrap_err()
            .contains("not a number"));
        assert!(Factor::GridIntensity.parse("inf").is_err());
        assert!(Factor::GridIntensity.parse("NaN").is_err());
        assert_eq!(check_currency("CHF"), Ok("CHF".into()));
        assert!(check_currency(" ").is_err());
        assert!(check_currency("E\nUR").is_err());
    }

    #[test]
    fn a_later_set_of_factors_wins_only_where_it_declares_one() {
        let mut steps = vec![StepSpec::named("compare")];
        let file = ReportFactors {
            grid_intensity: Some(400.0),
            currency: Some("EUR".into()),
            ..ReportFactors::default()
        };
        let flags = ReportFactors {
            grid_intensity: Some(50.0),
            pue: Some(1.2),
            ..ReportFactors::default()
        };
        apply_factors(&mut steps, &file);
        apply_factors(&mut steps, &flags);
        assert_eq!(steps.len(), 2, "one findings step, not two");
        let o = &steps[1].options;
        assert_eq!(o["grid_intensity"].as_float(), Some(50.0));
        assert_eq!(o["pue"].as_float(), Some(1.2));
        assert_eq!(o["currency"].as_str(), Some("EUR"));
        assert!(!o.contains_key("price_per_kwh"));
        assert!(!lacks_a_base(&steps));
        let mut alone = vec![StepSpec::named("compare")];
        apply_factors(
            &mut alone,
            &ReportFactors {
                currency: Some("CHF".into()),
                ..ReportFactors::default()
            },
        );
        assert!(lacks_a_base(&alone));
    }
}
